//! Which stored orders have been through the steps after normalize (reserve, merge).
//!
//! normalize forwards an order right after storing it, best effort: if reserve or merge
//! is down then, the order is stored but nowhere else. So normalize marks an order
//! *forwarded* once both steps answered, and a scheduled catch-up job walks the order
//! book's arrival index ([`backlog`]) and forwards again what is not marked. Both steps
//! are idempotent per order, so forwarding twice is harmless; not forwarding would lose
//! the order for dispatch.
//!
//! Keys (in the orders store): `order/{id}/forwarded` (a marker, written in one batch
//! for all the orders of a drain: only its presence counts), `forwarding/cursor`
//! (counter: index positions below it are all forwarded or settled) and
//! `forwarding/cursor/advance/{value}/{hour}` (who may move the cursor from that value,
//! `store::advance_cursor`).

use chrono::{DateTime, Utc};

use super::{book, OrderId};
use crate::store::{advance_cursor, KeyValue, StoreError};

const K_CURSOR: &str = "forwarding/cursor";

fn k_forwarded(id: &OrderId) -> String {
    format!("order/{id}/forwarded")
}

/// Both steps answered for this order.
pub fn mark_forwarded(store: &impl KeyValue, id: &OrderId) -> Result<(), StoreError> {
    mark_all_forwarded(store, std::slice::from_ref(id))
}

/// Both steps answered for these orders: one batch write.
pub fn mark_all_forwarded(store: &impl KeyValue, ids: &[OrderId]) -> Result<(), StoreError> {
    let marks: Vec<(String, Vec<u8>)> = ids
        .iter()
        .map(|id| (k_forwarded(id), b"1".to_vec()))
        .collect();
    if marks.is_empty() {
        return Ok(());
    }
    store.set_many(&marks)
}

pub fn is_forwarded(store: &impl KeyValue, id: &OrderId) -> Result<bool, StoreError> {
    // Only the marks above create the key: its presence is the answer, read-only.
    store.exists(&k_forwarded(id))
}

/// One catch-up scan.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Backlog {
    /// Orders to forward again, oldest first.
    pub orders: Vec<OrderId>,
    /// Index positions looked at.
    pub scanned: usize,
    /// Where the cursor now stands.
    pub cursor: i64,
}

/// Orders not yet forwarded, at most `max`, looking at no more than `max_scan` index
/// positions. An order is left alone while it is younger than `grace` (normalize may
/// still be forwarding it); a terminal one (cancelled, refunded) needs nothing.
///
/// The cursor moves past the prefix of positions that need nothing more
/// ([`crate::store::advance_cursor`]: no position is skipped). An order that keeps failing holds the cursor, not the scan: later orders
/// are still found, up to `max_scan` positions on.
pub fn backlog(
    store: &impl KeyValue,
    max: usize,
    max_scan: usize,
    grace: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<Backlog, StoreError> {
    let cursor = store.increment(K_CURSOR, 0)?;
    let from = usize::try_from(cursor).unwrap_or(0);
    let ids = book::list_order_ids(store, from, max_scan)?;
    let mut out = Backlog {
        scanned: ids.len(),
        cursor,
        ..Backlog::default()
    };
    let mut settled_prefix = 0i64;
    let mut in_prefix = true;
    for id in ids {
        let settled = if is_forwarded(store, &id)? {
            true
        } else {
            match book::get_order(store, &id)? {
                // Indexed but its copy not yet written: a writer in flight.
                None => false,
                Some(order) if order.status().is_terminal() => true,
                Some(order) => {
                    if order.placed_at + grace <= now && out.orders.len() < max {
                        out.orders.push(order.id);
                    }
                    false
                }
            }
        };
        if settled && in_prefix {
            settled_prefix += 1;
        } else {
            in_prefix = false;
        }
    }
    if let Some(moved) = advance_cursor(store, K_CURSOR, cursor, settled_prefix, now.timestamp())? {
        out.cursor = moved;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelEvent;
    use crate::merge::fixtures::{at, home, order};
    use crate::order::{EventKind, EventSource, OrderEvent};
    use crate::store::MemoryStore;
    use chrono::Duration;

    fn store_orders(store: &MemoryStore, ids: &[&str]) -> Vec<OrderId> {
        let orders: Vec<_> = ids
            .iter()
            .map(|id| order("app", id, "phone:1", home(), 0))
            .collect();
        let events: Vec<ChannelEvent> = orders
            .iter()
            .map(|o| ChannelEvent::Order {
                order: Box::new(o.clone()),
            })
            .collect();
        book::apply(store, &events).unwrap();
        orders.into_iter().map(|o| o.id).collect()
    }

    #[test]
    fn unforwarded_orders_come_back_until_marked_and_the_cursor_follows() {
        let store = MemoryStore::new();
        let ids = store_orders(&store, &["A", "B", "C"]);
        let grace = Duration::minutes(2);
        // Too young: normalize may still be on it.
        assert!(backlog(&store, 10, 100, grace, at(1))
            .unwrap()
            .orders
            .is_empty());
        let b = backlog(&store, 10, 100, grace, at(5)).unwrap();
        assert_eq!(b.orders, ids);
        assert_eq!(b.cursor, 0);

        mark_forwarded(&store, &ids[0]).unwrap();
        let b = backlog(&store, 10, 100, grace, at(5)).unwrap();
        assert_eq!(b.orders, ids[1..].to_vec());
        assert_eq!(b.cursor, 1, "the forwarded prefix is passed");

        // B is cancelled: nothing to forward, and it no longer holds the cursor.
        let cancel = OrderEvent {
            key: "cancel".into(),
            kind: EventKind::Cancelled { reason: None },
            at: at(3),
            source: EventSource::Component("test".into()),
        };
        book::record_event(&store, &ids[1], &cancel).unwrap();
        let b = backlog(&store, 10, 100, grace, at(6)).unwrap();
        assert_eq!(b.orders, vec![ids[2].clone()]);
        assert_eq!(b.cursor, 2);
        mark_forwarded(&store, &ids[2]).unwrap();
        let b = backlog(&store, 10, 100, grace, at(7)).unwrap();
        assert!(b.orders.is_empty());
        assert_eq!(b.cursor, 3);
    }

    #[test]
    fn a_stuck_order_holds_the_cursor_but_not_the_scan_and_max_bounds_the_answer() {
        let store = MemoryStore::new();
        let ids = store_orders(&store, &["A", "B", "C", "D"]);
        for id in &ids[1..] {
            mark_forwarded(&store, id).unwrap();
        }
        let b = backlog(&store, 10, 100, Duration::zero(), at(10)).unwrap();
        assert_eq!((b.orders.clone(), b.cursor), (vec![ids[0].clone()], 0));
        let e = store_orders(&store, &["E", "F"]);
        let b = backlog(&store, 1, 100, Duration::zero(), at(10)).unwrap();
        assert_eq!(b.orders, vec![ids[0].clone()], "at most `max`");
        let b = backlog(&store, 10, 100, Duration::zero(), at(10)).unwrap();
        assert_eq!(b.orders, vec![ids[0].clone(), e[0].clone(), e[1].clone()]);
        let b = backlog(&store, 10, 3, Duration::zero(), at(10)).unwrap();
        assert_eq!(
            (b.scanned, b.orders.len()),
            (3, 1),
            "at most `max_scan` positions"
        );
    }

    #[test]
    fn two_scanners_from_one_cursor_move_it_once() {
        let store = MemoryStore::new();
        let ids = store_orders(&store, &["A", "B"]);
        for id in &ids {
            mark_forwarded(&store, id).unwrap();
        }
        // The second scanner read the same cursor value (0) in the same hour: its claim
        // is second, so it does not move the cursor again.
        backlog(&store, 10, 100, Duration::zero(), at(10)).unwrap();
        store.increment(K_CURSOR, -2).unwrap();
        let b = backlog(&store, 10, 100, Duration::zero(), at(11)).unwrap();
        assert_eq!(b.cursor, 0);
    }
}
