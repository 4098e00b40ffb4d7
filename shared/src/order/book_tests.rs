use std::sync::Arc;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::channel::ChannelEvent;
use crate::order::{
    ChannelId, Customer, EventKind, EventSource, Fulfilment, OrderMoney, OrderStatus,
    PromisedWindow,
};
use crate::store::MemoryStore;

fn t(s: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_764_000_000 + s, 0).unwrap()
}

fn ev(key: &str, kind: EventKind, at: i64) -> OrderEvent {
    OrderEvent {
        key: key.into(),
        kind,
        at: t(at),
        source: EventSource::Channel(ChannelId::new("meituan")),
    }
}

fn id() -> OrderId {
    OrderId::for_channel_order(&ChannelId::new("meituan"), "1001")
}

fn order() -> Order {
    Order {
        id: id(),
        channel: ChannelId::new("meituan"),
        channel_order_id: "1001".into(),
        store_id: None,
        customer: Customer {
            channel_user_id: None,
            name: None,
            phone: None,
            customer_key: "meituan:order:1001".into(),
        },
        fulfilment: Fulfilment::Delivery { address: None },
        lines: vec![],
        money: OrderMoney {
            currency: "CNY".into(),
            goods: Decimal::ZERO,
            discounts: vec![],
            delivery_fee: Decimal::ZERO,
            packaging_fee: Decimal::ZERO,
            paid: Decimal::ZERO,
        },
        promised: PromisedWindow {
            asap: true,
            start: None,
            end: None,
        },
        buyer_note: None,
        placed_at: t(0),
        source_time_zone: "Asia/Shanghai".into(),
        source_utc_offset_minutes: 480,
        history: vec![
            ev("created", EventKind::Created, 0),
            ev("paid", EventKind::Paid, 0),
        ],
        exceptions: vec![],
    }
}

fn order_push() -> ChannelEvent {
    ChannelEvent::Order {
        order: Box::new(order()),
    }
}

fn event_push(e: OrderEvent) -> ChannelEvent {
    ChannelEvent::Event {
        order_id: id(),
        channel_order_id: "1001".into(),
        event: e,
    }
}

fn all_pushes() -> Vec<ChannelEvent> {
    vec![
        order_push(),
        event_push(ev("accepted", EventKind::Accepted, 10)),
        event_push(ev(
            "status:2",
            EventKind::ChannelStatus { code: "2".into() },
            5,
        )),
        event_push(ev("completed", EventKind::Completed, 30)),
        event_push(ev(
            "refund:r1:apply",
            EventKind::RefundRequested { reason: None },
            40,
        )),
    ]
}

#[test]
fn events_before_their_order_are_kept_and_folded_in() {
    let store = MemoryStore::new();
    apply(
        &store,
        &[event_push(ev(
            "cancelled",
            EventKind::Cancelled {
                reason: Some("user".into()),
            },
            20,
        ))],
    )
    .unwrap();
    assert_eq!(get_order(&store, &id()).unwrap(), None);
    assert_eq!(history(&store, &id()).unwrap().len(), 1);
    apply(&store, &[order_push()]).unwrap();
    let o = get_order(&store, &id()).unwrap().unwrap();
    assert_eq!(o.history.len(), 3);
    assert_eq!(o.status(), OrderStatus::Cancelled);
}

#[test]
fn first_writer_of_an_event_key_keeps_its_content() {
    let store = MemoryStore::new();
    let with_reason = ev(
        "cancelled",
        EventKind::Cancelled {
            reason: Some("out of stock".into()),
        },
        20,
    );
    let without = ev("cancelled", EventKind::Cancelled { reason: None }, 21);
    assert_eq!(
        apply(&store, &[event_push(with_reason.clone())])
            .unwrap()
            .new_events,
        1
    );
    assert_eq!(apply(&store, &[event_push(without)]).unwrap().new_events, 0);
    assert_eq!(history(&store, &id()).unwrap(), vec![with_reason]);
}

#[test]
fn a_writer_that_died_after_taking_its_slot_leaves_a_hole_the_redelivery_passes() {
    let store = MemoryStore::new();
    let e = ev("accepted", EventKind::Accepted, 10);
    // A crash right after the slot was handed out: the counter moved, nothing written.
    store.increment(&seq_key(&id()), 1).unwrap();
    assert!(history(&store, &id()).unwrap().is_empty());
    assert_eq!(
        apply(&store, &[event_push(e.clone())]).unwrap().new_events,
        1
    );
    assert_eq!(history(&store, &id()).unwrap(), vec![e]);
    apply(&store, &[order_push()]).unwrap();
    assert_eq!(list_order_ids(&store, 0, 10).unwrap(), vec![id()]);
}

#[test]
fn concurrent_duplicate_and_distinct_events_lose_nothing() {
    let store = Arc::new(MemoryStore::new());
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut pushes = all_pushes();
                pushes.rotate_left(i % 5);
                for _ in 0..5 {
                    for p in &pushes {
                        apply(&*store, std::slice::from_ref(p)).unwrap();
                    }
                }
                // Distinct events from each thread, written concurrently.
                apply(
                    &*store,
                    &[event_push(ev(
                        &format!("status:x{i}"),
                        EventKind::ChannelStatus {
                            code: format!("x{i}"),
                        },
                        50,
                    ))],
                )
                .unwrap();
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    let o = get_order(&*store, &id()).unwrap().unwrap();
    let mut keys: Vec<_> = o.history.iter().map(|e| e.key.clone()).collect();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n, "one history entry per distinct key");
    assert_eq!(n, 2 + 4 + 8);
    assert_eq!(o.status(), OrderStatus::Completed);
    assert_eq!(list_order_ids(&*store, 0, 10).unwrap(), vec![id()]);
}

proptest! {
    #[test]
    fn any_arrival_order_and_duplication_gives_the_same_order(
        order_of in Just(all_pushes()).prop_shuffle(),
        dups in proptest::collection::vec(0usize..5, 0..6),
    ) {
        let store = MemoryStore::new();
        let mut pushes = order_of.clone();
        for d in dups { pushes.push(order_of[d].clone()); }
        for p in &pushes {
            apply(&store, std::slice::from_ref(p)).unwrap();
        }
        let o = get_order(&store, &id()).unwrap().unwrap();
        let keys: Vec<_> = o.history.iter().map(|e| e.key.as_str()).collect();
        prop_assert_eq!(keys, vec!["created", "paid", "status:2", "accepted", "completed", "refund:r1:apply"]);
        prop_assert_eq!(o.status(), OrderStatus::Completed);
    }
}

#[test]
fn later_exceptions_fold_into_the_order_once() {
    use crate::order::{EventSource, ExceptionCode, OrderException};
    let store = MemoryStore::new();
    let order = order();
    apply(
        &store,
        &[ChannelEvent::Order {
            order: Box::new(order.clone()),
        }],
    )
    .unwrap();
    let exc = OrderException::new(ExceptionCode::OutOfStock, "line 1: SKU-1 short by 2");
    let at = order.placed_at;
    let src = EventSource::Component("reserve".into());
    assert!(record_exception(&store, &order.id, &exc, at, src.clone()).unwrap());
    assert!(!record_exception(&store, &order.id, &exc, at, src).unwrap());
    let got = get_order(&store, &order.id).unwrap().unwrap();
    assert_eq!(
        got.exceptions
            .iter()
            .filter(|e| e.code == ExceptionCode::OutOfStock)
            .count(),
        1
    );
    assert_eq!(
        got.history
            .iter()
            .filter(|e| e.key == "exception:out_of_stock")
            .count(),
        1
    );
}

#[test]
fn get_orders_in_batch_equals_get_order_one_by_one() {
    let store = MemoryStore::new();
    apply(&store, &all_pushes()).unwrap();
    let mut other = order();
    other.id = OrderId::for_channel_order(&ChannelId::new("meituan"), "1002");
    other.channel_order_id = "1002".into();
    apply(
        &store,
        &[ChannelEvent::Order {
            order: Box::new(other.clone()),
        }],
    )
    .unwrap();
    let missing = OrderId("meituan-none".into());
    let ids = vec![id(), missing, other.id.clone()];
    let batch = get_orders(&store, &ids).unwrap();
    let one_by_one: Vec<Order> = ids
        .iter()
        .filter_map(|i| get_order(&store, i).unwrap())
        .collect();
    assert_eq!(batch.len(), 2);
    assert_eq!(batch, one_by_one);
}

#[test]
fn a_key_twice_in_one_push_is_recorded_once_with_its_first_content() {
    let s = MemoryStore::new();
    let mut o = order();
    o.history = vec![
        ev("status", EventKind::Accepted, 1),
        ev("status", EventKind::Delivered, 2),
        ev("paid", EventKind::Paid, 3),
    ];
    let applied = apply(
        &s,
        &[ChannelEvent::Order {
            order: Box::new(o.clone()),
        }],
    )
    .unwrap();
    assert_eq!(applied.new_events, 2);
    let got = get_order(&s, &o.id).unwrap().unwrap();
    let kinds: Vec<_> = got.history.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(kinds, vec![EventKind::Accepted, EventKind::Paid]);
}

#[test]
fn an_exception_whose_writer_died_is_recorded_with_its_detail_by_the_retry() {
    let s = MemoryStore::new();
    apply(&s, &[order_push()]).unwrap();
    // Took its slot, then died before writing: neither detail nor event is there.
    s.increment(&seq_key(&id()), 1).unwrap();
    let short = OrderException::new(ExceptionCode::OutOfStock, "line 1 short");
    let source = EventSource::Component("reserve".into());
    assert!(record_exception(&s, &id(), &short, t(9), source).unwrap());
    let got = get_order(&s, &id()).unwrap().unwrap();
    assert!(got
        .exceptions
        .iter()
        .any(|e| e.code == ExceptionCode::OutOfStock));
    assert!(got.history.iter().any(|e| e.kind
        == EventKind::Exception {
            code: ExceptionCode::OutOfStock
        }));
}

#[test]
fn exceptions_appended_twice_read_as_recorded_once() {
    let s = MemoryStore::new();
    apply(&s, &[order_push()]).unwrap();
    let short = OrderException::new(ExceptionCode::OutOfStock, "line 1 short");
    let source = EventSource::Component("reserve".into());
    let batch = vec![(id(), short.clone())];
    append_exceptions(&s, &batch, t(9), source.clone()).unwrap();
    let once = get_order(&s, &id()).unwrap().unwrap();
    append_exceptions(&s, &batch, t(10), source.clone()).unwrap();
    assert_eq!(get_order(&s, &id()).unwrap().unwrap(), once);
    assert_eq!(once.exceptions, vec![short.clone()]);
    // And the checked path sees it there already.
    assert!(!record_exception(&s, &id(), &short, t(11), source).unwrap());
}

#[test]
fn replacing_the_copy_leaves_no_earlier_copy_behind() {
    let s = MemoryStore::new();
    let mut first = order();
    first.customer.phone = Some(crate::order::Phone {
        number: "13800001234".into(),
        extension: None,
        is_privacy: false,
    });
    let mut second = first.clone();
    second.buyer_note = Some("ring twice".into());
    for o in [&first, &second] {
        apply(
            &s,
            &[ChannelEvent::Order {
                order: Box::new(o.clone()),
            }],
        )
        .unwrap();
    }
    let mut erased = get_order(&s, &id()).unwrap().unwrap();
    erased.customer.phone = None;
    replace_copy(&s, &erased).unwrap();
    assert_eq!(get_order(&s, &id()).unwrap().unwrap(), erased);
    let n = s.increment(&seq_key(&id()), 0).unwrap();
    assert_eq!(n, 2, "two parts with a copy each");
    for slot in 1..=n {
        let raw = s.get(&part_key(&id(), slot)).unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("13800001234"));
    }
}
