use std::cell::Cell;

use chrono::NaiveDate;
use proptest::prelude::*;

use super::*;
use crate::merge::fixtures::{at, home, order};
use crate::order::{book, day_index, EventSource};
use crate::store::MemoryStore;

fn channel_event(id: &OrderId, key: &str, kind: EventKind, min: i64) -> ChannelEvent {
    ChannelEvent::Event {
        order_id: id.clone(),
        channel_order_id: id.0.clone(),
        event: OrderEvent {
            key: key.into(),
            kind,
            at: at(min),
            source: EventSource::Channel(ChannelId::new("app")),
        },
    }
}

/// Every push two orders get: the order, its payment, delivery and a refund (a day
/// later, so a new business day), and a cancelled third order whose cancel comes first.
fn pushes() -> Vec<ChannelEvent> {
    let a = order("app", "A", "phone:1", home(), 0);
    let b = order("app", "B", "phone:2", home(), 1);
    let c = order("app", "C", "phone:3", home(), 2);
    vec![
        channel_event(&c.id, "cancelled", EventKind::Cancelled { reason: None }, 3),
        ChannelEvent::Order {
            order: Box::new(a.clone()),
        },
        ChannelEvent::Order {
            order: Box::new(b.clone()),
        },
        channel_event(&a.id, "paid", EventKind::Paid, 2),
        channel_event(&a.id, "delivered", EventKind::Delivered, 40),
        channel_event(&b.id, "completed", EventKind::Completed, 50),
        channel_event(
            &b.id,
            "refund:1",
            EventKind::Refunded {
                amount: rust_decimal::Decimal::ONE,
                full: false,
                lines: Vec::new(),
            },
            24 * 60,
        ),
        ChannelEvent::Order {
            order: Box::new(c.clone()),
        },
    ]
}

fn ids() -> Vec<OrderId> {
    ["A", "B", "C"]
        .iter()
        .map(|n| order("app", n, "", home(), 0).id)
        .collect()
}

fn totals(deltas: &stats::Deltas) -> BTreeMap<Metric, i64> {
    let mut out = BTreeMap::new();
    for ((_, _, metric), n) in deltas {
        *out.entry(*metric).or_insert(0) += n;
    }
    out
}

fn listed_days(s: &MemoryStore) -> Vec<(NaiveDate, usize)> {
    let ch = ChannelId::new("app");
    let first = stats::business_day(at(0), 480);
    (0..3)
        .map(|d| {
            let day = first + chrono::Duration::days(d);
            (day, day_index::orders_on_day(s, &ch, day).unwrap().len())
        })
        .collect()
}

proptest! {
    /// However the pushes arrive (any order, duplicated, cut into any batches), the
    /// book ends the same as pushing them one by one in order, every order is listed
    /// once, and every metric counts once per order.
    #[test]
    fn any_batching_arrival_order_and_duplication_gives_the_same_book(
        shuffled in Just(pushes()).prop_shuffle(),
        dups in proptest::collection::vec(0usize..8, 0..6),
        cuts in proptest::collection::vec(1usize..5, 1..8),
    ) {
        let reference = MemoryStore::new();
        for p in pushes() {
            book::apply(&reference, &[p]).unwrap();
        }
        let s = MemoryStore::new();
        let mut all = shuffled.clone();
        for d in dups { all.push(shuffled[d].clone()); }
        let mut counted = stats::Deltas::new();
        let mut rest: &[ChannelEvent] = &all;
        let mut cut = cuts.iter().cycle();
        while !rest.is_empty() {
            let n = (*cut.next().unwrap()).min(rest.len());
            let batch: Vec<&[ChannelEvent]> = rest[..n].chunks(1).collect();
            let done = apply_batch(&s, &batch).unwrap();
            for (k, v) in done.stats { *counted.entry(k).or_insert(0) += v; }
            rest = &rest[n..];
        }
        prop_assert_eq!(book::get_orders(&s, &ids()).unwrap(), book::get_orders(&reference, &ids()).unwrap());
        let mut listed = book::list_order_ids(&s, 0, 100).unwrap();
        listed.sort();
        prop_assert_eq!(listed, ids());
        prop_assert_eq!(book::list_order_ids(&s, 0, 100).unwrap().len(), s.increment("orders/seq", 0).unwrap() as usize);
        let expected = BTreeMap::from([(Metric::Ordered, 3), (Metric::Delivered, 2), (Metric::Cancelled, 1)]);
        prop_assert_eq!(totals(&counted), expected);
        prop_assert_eq!(listed_days(&s), listed_days(&reference));
    }
}

#[test]
fn the_batch_returns_the_orders_as_stored() {
    let s = MemoryStore::new();
    let all = pushes();
    let batch: Vec<&[ChannelEvent]> = all.chunks(2).collect();
    let done = apply_batch(&s, &batch).unwrap();
    let stored = book::get_orders(&s, &ids()).unwrap();
    assert_eq!(done.orders.values().cloned().collect::<Vec<_>>(), stored);
    assert_eq!(done.listed, 3);
    assert_eq!(done.touched.len(), 3);
    let (first, _) = listed_days(&s)[0];
    assert_eq!(
        listed_days(&s)[1],
        (first.succ_opt().unwrap(), 1),
        "B's refund day"
    );
}

/// A store whose batch write fails once: the process died before it.
struct DiesBeforeTheWrite<'a> {
    inner: &'a MemoryStore,
    armed: Cell<bool>,
}

impl KeyValue for DiesBeforeTheWrite<'_> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key)
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.inner.increment(key, delta)
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if self.armed.replace(false) {
            return Err(StoreError::Backend("killed".into()));
        }
        self.inner.set_many(entries)
    }
}

#[test]
fn a_batch_that_died_before_its_write_is_redone_whole_by_the_redelivery() {
    let s = MemoryStore::new();
    let all = pushes();
    let batch: Vec<&[ChannelEvent]> = all.chunks(1).collect();
    let dying = DiesBeforeTheWrite {
        inner: &s,
        armed: Cell::new(true),
    };
    assert!(apply_batch(&dying, &batch).is_err());
    assert!(
        book::get_orders(&s, &ids()).unwrap().is_empty(),
        "holes only"
    );
    let done = apply_batch(&s, &batch).unwrap();
    assert_eq!(done.listed, 3);
    assert_eq!(
        totals(&done.stats),
        BTreeMap::from([
            (Metric::Ordered, 3),
            (Metric::Delivered, 2),
            (Metric::Cancelled, 1)
        ])
    );
    assert_eq!(book::list_order_ids(&s, 0, 10).unwrap().len(), 3);
    // And once more: nothing new.
    let again = apply_batch(&s, &batch).unwrap();
    assert_eq!((again.listed, again.new_events), (0, 0));
    assert!(again.stats.is_empty());
}

#[test]
fn an_exception_flagged_at_normalization_counts_with_its_order() {
    let s = MemoryStore::new();
    let mut o = order("app", "X", "phone:9", home(), 0);
    o.exceptions.push(crate::order::OrderException::new(
        crate::order::ExceptionCode::UnknownSku,
        "line 1",
    ));
    let push = [ChannelEvent::Order { order: Box::new(o) }];
    let done = apply_batch(&s, &[&push]).unwrap();
    assert_eq!(
        totals(&done.stats),
        BTreeMap::from([(Metric::Ordered, 1), (Metric::Exception, 1)])
    );
    assert!(apply_batch(&s, &[&push]).unwrap().stats.is_empty());
}

#[test]
fn first_seen_are_the_orders_no_one_applied_before() {
    let s = MemoryStore::new();
    let all = pushes();
    // C's cancel comes first: its order is not first seen when its copy arrives.
    let cancel_first: Vec<&[ChannelEvent]> = vec![&all[0..1]];
    let done = apply_batch(&s, &cancel_first).unwrap();
    assert_eq!(
        done.first_seen.len(),
        1,
        "the cancel's order id took slot 1"
    );
    let rest: Vec<&[ChannelEvent]> = all[1..].chunks(1).collect();
    let done = apply_batch(&s, &rest).unwrap();
    let [a, b, c] = [&ids()[0], &ids()[1], &ids()[2]];
    assert!(done.first_seen.contains(a) && done.first_seen.contains(b));
    assert!(!done.first_seen.contains(c));
    // Redelivered: nothing is first seen.
    assert!(apply_batch(&s, &rest).unwrap().first_seen.is_empty());
    // A batch that died before its write leaves its slots taken: its redo is not first.
    let fresh = order("app", "D", "phone:4", home(), 5);
    let push = [ChannelEvent::Order {
        order: Box::new(fresh.clone()),
    }];
    let dying = DiesBeforeTheWrite {
        inner: &s,
        armed: Cell::new(true),
    };
    assert!(apply_batch(&dying, &[&push]).is_err());
    assert!(!apply_batch(&s, &[&push])
        .unwrap()
        .first_seen
        .contains(&fresh.id));
}
