//! Which orders touched a channel's business day: the index reconciliation reads
//! instead of scanning every order (at 10^6 orders a scan per run is too slow).
//!
//! An order is listed under every business day one of its money events fell on (placed,
//! paid, refunded), so "the orders of D-1..D+1 plus those refunded on D" is the union of
//! three lists. Layout in the `orders` store, slots handed out by `increment` as in the
//! order book (no compare-and-swap): `day/{channel}/{date}/seq` and
//! `day/{channel}/{date}/idx/{n}` — order ids.
//!
//! The order book lists an order when a part of it first reaches a day (it knows from
//! the fold before and after, `order::batch`), with the index slots in the same batch
//! write as the part: one `increment` per (channel, day) per batch. Readers skip slots
//! never written and de-duplicate ids.

use std::collections::HashSet;

use chrono::NaiveDate;

use super::{ChannelId, EventKind, Order, OrderEvent, OrderId};
use crate::store::{KeyValue, StoreError};

/// Whether an event moves money, so its day is one the order must be reconciled on.
fn moves_money(e: &OrderEvent) -> bool {
    matches!(
        e.kind,
        EventKind::Created | EventKind::Paid | EventKind::Refunded { .. }
    )
}

fn local_day(at: chrono::DateTime<chrono::Utc>, utc_offset_minutes: i32) -> NaiveDate {
    (at.naive_utc() + chrono::Duration::minutes(i64::from(utc_offset_minutes))).date()
}

/// The business days an order's money events fall on (placed, paid, refunded), in its
/// own source time zone, sorted and distinct.
pub fn order_days(order: &Order) -> Vec<NaiveDate> {
    let offset = order.source_utc_offset_minutes;
    let mut days: Vec<NaiveDate> = std::iter::once(local_day(order.placed_at, offset))
        .chain(
            order
                .history
                .iter()
                .filter(|e| moves_money(e))
                .map(|e| local_day(e.at, offset)),
        )
        .collect();
    days.sort();
    days.dedup();
    days
}

fn seq_key(channel: &ChannelId, day: NaiveDate) -> String {
    format!("day/{channel}/{day}/seq")
}

/// Slots for `orders` under (`channel`, `day`): one `increment` for all of them; the
/// writes are returned for the caller's batch write (the order book's, so an order's
/// part and its index entries land together or not at all). A slot handed out but never
/// written is skipped by readers.
pub(crate) fn allocate<S: KeyValue>(
    store: &S,
    channel: &ChannelId,
    day: NaiveDate,
    orders: &[OrderId],
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    if orders.is_empty() {
        return Ok(Vec::new());
    }
    let k = i64::try_from(orders.len()).unwrap_or(i64::MAX);
    let top = store.increment(&seq_key(channel, day), k)?;
    Ok(orders
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let n = top - k + 1 + i as i64;
            (
                format!("day/{channel}/{day}/idx/{n}"),
                id.0.as_bytes().to_vec(),
            )
        })
        .collect())
}

/// Order ids listed under (`channel`, `day`), each once, in listing order.
pub fn orders_on_day<S: KeyValue>(
    store: &S,
    channel: &ChannelId,
    day: NaiveDate,
) -> Result<Vec<OrderId>, StoreError> {
    const PAGE: i64 = 1000;
    let n = store.increment(&seq_key(channel, day), 0)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut from = 1;
    while from <= n {
        let to = (from + PAGE - 1).min(n);
        let keys: Vec<String> = (from..=to)
            .map(|i| format!("day/{channel}/{day}/idx/{i}"))
            .collect();
        for bytes in store.get_many(&keys)?.into_iter().flatten() {
            if let Ok(id) = String::from_utf8(bytes) {
                if seen.insert(id.clone()) {
                    out.push(OrderId(id));
                }
            }
        }
        from = to + 1;
    }
    Ok(out)
}

/// The ids listed on any of `days`, each once.
pub fn orders_on_days<S: KeyValue>(
    store: &S,
    channel: &ChannelId,
    days: impl IntoIterator<Item = NaiveDate>,
) -> Result<Vec<OrderId>, StoreError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for day in days {
        for id in orders_on_day(store, channel, day)? {
            if seen.insert(id.0.clone()) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelEvent;
    use crate::order::{book, EventSource};
    use crate::store::MemoryStore;

    fn list(s: &MemoryStore, ch: &ChannelId, day: NaiveDate, ids: &[OrderId]) {
        s.set_many(&allocate(s, ch, day, ids).unwrap()).unwrap();
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn an_order_is_listed_once_per_day_and_channel() {
        let s = MemoryStore::new();
        let ch = ChannelId::new("app");
        let other = ChannelId::new("meituan");
        let a = OrderId("app-A1".into());
        let b = OrderId("app-B2".into());
        list(&s, &ch, d("2026-11-24"), std::slice::from_ref(&a));
        // A second listing (the order book's rare race) reads as one.
        list(&s, &ch, d("2026-11-24"), &[a.clone(), b.clone()]);
        list(&s, &ch, d("2026-11-25"), std::slice::from_ref(&a));
        // A slot handed out and never written (its writer died) is skipped.
        allocate(&s, &ch, d("2026-11-24"), std::slice::from_ref(&a)).unwrap();
        assert_eq!(
            orders_on_day(&s, &ch, d("2026-11-24")).unwrap(),
            vec![a.clone(), b.clone()]
        );
        assert_eq!(orders_on_day(&s, &other, d("2026-11-24")).unwrap(), vec![]);
        assert_eq!(
            orders_on_days(&s, &ch, [d("2026-11-23"), d("2026-11-24"), d("2026-11-25")]).unwrap(),
            vec![a, b]
        );
    }

    fn at(s: i64) -> chrono::DateTime<chrono::Utc> {
        // 2025-11-25 00:00 in Shanghai, plus `s` seconds.
        chrono::DateTime::from_timestamp(1_764_000_000 + s, 0).unwrap()
    }

    fn ev(key: &str, kind: EventKind, s: i64) -> OrderEvent {
        OrderEvent {
            key: key.into(),
            kind,
            at: at(s),
            source: EventSource::Channel(ChannelId::new("app")),
        }
    }

    /// Placed at 23:59 on the 24th, paid at 00:01 on the 25th (Shanghai).
    fn straddler() -> Order {
        serde_json::from_value(serde_json::json!({
            "id": "app-A1", "channel": "app", "channel_order_id": "A1", "store_id": null,
            "customer": {"channel_user_id": null, "name": null, "phone": null,
                         "customer_key": "app:order:A1"},
            "fulfilment": {"kind": "delivery", "address": null},
            "lines": [],
            "money": {"currency": "CNY", "goods": "0", "discounts": [], "delivery_fee": "0",
                      "packaging_fee": "0", "paid": "0"},
            "promised": {"asap": true, "start": null, "end": null},
            "buyer_note": null, "placed_at": at(-60),
            "source_time_zone": "Asia/Shanghai", "source_utc_offset_minutes": 480,
            "history": [ev("created", EventKind::Created, -60), ev("paid", EventKind::Paid, 60),
                        ev("accepted", EventKind::Accepted, 3 * 86_400)],
            "exceptions": []
        }))
        .unwrap()
    }

    #[test]
    fn orders_are_listed_on_every_day_money_moved() {
        let s = MemoryStore::new();
        let order = straddler();
        assert_eq!(order_days(&order), vec![d("2025-11-24"), d("2025-11-25")]);
        let refund = ChannelEvent::Event {
            order_id: order.id.clone(),
            channel_order_id: "A1".into(),
            event: ev(
                "refund:r1",
                EventKind::Refunded {
                    amount: rust_decimal::Decimal::ONE,
                    full: false,
                    lines: Vec::new(),
                },
                2 * 86_400,
            ),
        };
        let accepted = ChannelEvent::Event {
            order_id: order.id.clone(),
            channel_order_id: "A1".into(),
            event: ev("accepted", EventKind::Accepted, 5 * 86_400),
        };
        let events = vec![
            ChannelEvent::Order {
                order: Box::new(order),
            },
            refund,
            accepted,
        ];
        book::apply(&s, &events).unwrap();
        book::apply(&s, &events).unwrap();
        let ch = ChannelId::new("app");
        let listed = |day| orders_on_day(&s, &ch, d(day)).unwrap().len();
        assert_eq!(listed("2025-11-24"), 1);
        assert_eq!(listed("2025-11-25"), 1);
        assert_eq!(listed("2025-11-26"), 0);
        assert_eq!(listed("2025-11-27"), 1, "the refund's day");
        assert_eq!(listed("2025-11-30"), 0, "acceptance moves no money");
    }

    #[test]
    fn pages_beyond_one_batch() {
        let s = MemoryStore::new();
        let ch = ChannelId::new("pos");
        let ids: Vec<OrderId> = (0..2500).map(|i| OrderId(format!("pos-{i}"))).collect();
        list(&s, &ch, d("2026-11-24"), &ids);
        let ids = orders_on_day(&s, &ch, d("2026-11-24")).unwrap();
        assert_eq!(ids.len(), 2500);
        assert_eq!(ids[2499].0, "pos-2499");
    }
}
