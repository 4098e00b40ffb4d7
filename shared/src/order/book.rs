//! The order book: normalized orders and their histories in the `orders` store.
//!
//! Ground truth is an append-only list of *parts* per order, never one record per order
//! rewritten in place: the store has no compare-and-swap, so a read-modify-write of a
//! shared record would lose one of two concurrent writers. Every part has exactly one
//! writer, who got its slot from `increment`. Layout (`{id}` is the order id):
//!
//! - `order/{id}/seq` — slots handed out so far;
//! - `order/{id}/p/{n}` — part `n`: the order's copy without history (when the push
//!   carried one), the events new to the book, and exception details recorded after
//!   normalization;
//! - `orders/seq`, `orders/idx/{n}` — the list of order ids in arrival order.
//!
//! Reading folds the parts in slot order: the latest copy, every event key once with
//! the content of its lowest slot (first writer wins), the latest detail per exception
//! code. A slot handed out but never written (its writer died before its batch write,
//! or had nothing new to say) is a hole readers skip.
//!
//! Why this shape: a first push of an order costs one `increment` and a share of one
//! batch `set_many` ([`super::batch`]), and the writer needs no read-back (it has the
//! order in hand). A later writer reads the parts below its slot, so it writes only what
//! is new and knows exactly what its part changed (the order listed for the first time,
//! a business day or a dashboard metric first reached). A writer that dies before its
//! batch write leaves holes only, and the redelivery does the same work again. The one
//! race: two writers of one order whose slots overlap in time each see the other's slot
//! as a hole, so both may take their content as new: an order listed twice (readers
//! de-duplicate) or a metric counted twice. Two copies of one order drained at the same
//! moment need two deliveries of it within one tick's drain, which intake's duplicate
//! check makes rare.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use super::{EventKind, EventSource, ExceptionCode, Order, OrderEvent, OrderException, OrderId};
use crate::channel::ChannelEvent;
use crate::store::{KeyValue, StoreError};

pub use super::batch::{apply_batch, BatchApplied};

/// What applying a push changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Orders the push created, replaced or added events to, in push order.
    pub orders: Vec<OrderId>,
    /// Events recorded for the first time (redeliveries add none).
    pub new_events: usize,
}

/// Apply one push's events (see [`apply_batch`] for many, and for the dashboard counts
/// this drops). Idempotent: applying the same events again changes nothing.
pub fn apply<S: KeyValue>(store: &S, events: &[ChannelEvent]) -> Result<Applied, StoreError> {
    let done = apply_batch(store, &[events])?;
    Ok(Applied {
        orders: done.touched,
        new_events: done.new_events,
    })
}

/// One part of an order (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Part {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<Order>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<OrderEvent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<OrderException>,
}

impl Part {
    pub fn is_empty(&self) -> bool {
        self.copy.is_none() && self.events.is_empty() && self.exceptions.is_empty()
    }
}

/// Parts folded in slot order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Folded {
    pub copy: Option<Order>,
    events: Vec<OrderEvent>,
    keys: HashSet<String>,
    later: Vec<OrderException>,
}

impl Folded {
    pub fn add(&mut self, part: Part) {
        if let Some(copy) = part.copy {
            self.copy = Some(copy);
        }
        for e in part.events {
            if self.keys.insert(e.key.clone()) {
                self.events.push(e);
            }
        }
        for x in part.exceptions {
            match self.later.iter_mut().find(|l| l.code == x.code) {
                Some(l) => *l = x,
                None => self.later.push(x),
            }
        }
    }

    pub fn has_event(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    pub fn later_exception(&self, code: ExceptionCode) -> Option<&OrderException> {
        self.later.iter().find(|l| l.code == code)
    }

    /// The history, sorted by time (ties by key, so the result is deterministic).
    pub fn history(&self) -> Vec<OrderEvent> {
        let mut events = self.events.clone();
        events.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.key.cmp(&b.key)));
        events
    }

    /// The order with its history and every exception, those found at normalization
    /// and those recorded later; `None` until its copy has arrived.
    pub fn order(&self) -> Option<Order> {
        let mut order = self.copy.clone()?;
        order.history = self.history();
        for later in &self.later {
            if !order.exceptions.iter().any(|e| e.code == later.code) {
                order.exceptions.push(later.clone());
            }
        }
        Some(order)
    }
}

pub(crate) fn seq_key(id: &OrderId) -> String {
    format!("order/{id}/seq")
}

pub(crate) fn part_key(id: &OrderId, slot: i64) -> String {
    format!("order/{id}/p/{slot}")
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(e.to_string()))
}

/// Fold slots `1..=upto` of each order, in one batch read.
pub(crate) fn read_folded<S: KeyValue>(
    store: &S,
    wanted: &[(OrderId, i64)],
) -> Result<Vec<Folded>, StoreError> {
    let mut keys = Vec::new();
    let mut owner = Vec::new();
    for (i, (id, upto)) in wanted.iter().enumerate() {
        for slot in 1..=*upto {
            keys.push(part_key(id, slot));
            owner.push(i);
        }
    }
    let mut folded = vec![Folded::default(); wanted.len()];
    for (bytes, &i) in store.get_many(&keys)?.into_iter().zip(&owner) {
        if let Some(bytes) = bytes {
            let part: Part = serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Backend(format!("stored order part unreadable: {e}")))?;
            folded[i].add(part);
        }
    }
    Ok(folded)
}

/// Everything recorded for `id` so far, without writing (a read of an unknown id, e.g.
/// the public query route, must not create keys: `increment(k, 0)` would).
fn fold_one<S: KeyValue>(store: &S, id: &OrderId) -> Result<Folded, StoreError> {
    let seq = seq_key(id);
    if !store.exists(&seq)? {
        return Ok(Folded::default());
    }
    let n = store.increment(&seq, 0)?;
    Ok(read_folded(store, &[(id.clone(), n)])?
        .pop()
        .unwrap_or_default())
}

/// Append what of `events` and `exceptions` the book does not have yet as one part;
/// how many events were new. Reads first, so a repeat writes nothing.
fn append_new<S: KeyValue>(
    store: &S,
    id: &OrderId,
    events: &[&OrderEvent],
    exceptions: &[&OrderException],
) -> Result<usize, StoreError> {
    let seq = seq_key(id);
    let known = store.increment(&seq, 0)?;
    let before = read_folded(store, &[(id.clone(), known)])?
        .pop()
        .unwrap_or_default();
    let mut part = Part::default();
    let mut keys = HashSet::new();
    for e in events {
        if !before.has_event(&e.key) && keys.insert(e.key.as_str()) {
            part.events.push((*e).clone());
        }
    }
    for x in exceptions {
        if before.later_exception(x.code) != Some(*x) {
            part.exceptions.push((*x).clone());
        }
    }
    if part.is_empty() {
        return Ok(0);
    }
    let slot = store.increment(&seq, 1)?;
    store.set(&part_key(id, slot), &to_json(&part)?)?;
    Ok(part.events.len())
}

/// Record one event; `true` when it was new to the book.
pub fn record_event<S: KeyValue>(
    store: &S,
    id: &OrderId,
    event: &OrderEvent,
) -> Result<bool, StoreError> {
    Ok(append_new(store, id, &[event], &[])? == 1)
}

/// The history recorded for an order id, whether or not the order itself has
/// arrived, sorted by time (ties by key, so the result is deterministic).
pub fn history<S: KeyValue>(store: &S, id: &OrderId) -> Result<Vec<OrderEvent>, StoreError> {
    Ok(fold_one(store, id)?.history())
}

/// Record an exception found after normalization (out of stock, no capable rider …):
/// its detail (one per code; the latest detail wins) and an `Exception` event in the
/// history (once per code), in one part. Idempotent; `true` when the event was new.
pub fn record_exception<S: KeyValue>(
    store: &S,
    id: &OrderId,
    exception: &OrderException,
    at: DateTime<Utc>,
    source: EventSource,
) -> Result<bool, StoreError> {
    let event = exception_event(exception, at, source);
    Ok(append_new(store, id, &[&event], &[exception])? == 1)
}

/// Record many orders' exceptions (as [`record_exception`]) without reading first: one
/// `increment` per order and one batch write. For the pipeline, which records each
/// order's reserve verdict once per forwarding; a repeat (a forwarding retried) adds a
/// part that readers fold away, so the answer is the same, at the cost of the space.
pub fn append_exceptions<S: KeyValue>(
    store: &S,
    exceptions: &[(OrderId, OrderException)],
    at: DateTime<Utc>,
    source: EventSource,
) -> Result<(), StoreError> {
    append_parts(
        store,
        exceptions.iter().map(|(id, exception)| {
            let part = Part {
                copy: None,
                events: vec![exception_event(exception, at, source.clone())],
                exceptions: vec![exception.clone()],
            };
            (id, part)
        }),
    )
}

/// Record one event on each of many orders without reading first (as
/// [`append_exceptions`]: a repeat costs space, never a second history entry).
pub fn append_events<S: KeyValue>(
    store: &S,
    events: &[(OrderId, OrderEvent)],
) -> Result<(), StoreError> {
    append_parts(
        store,
        events.iter().map(|(id, event)| {
            let part = Part {
                events: vec![event.clone()],
                ..Part::default()
            };
            (id, part)
        }),
    )
}

fn append_parts<'a, S: KeyValue>(
    store: &S,
    parts: impl Iterator<Item = (&'a OrderId, Part)>,
) -> Result<(), StoreError> {
    let mut writes = Vec::new();
    for (id, part) in parts {
        let slot = store.increment(&seq_key(id), 1)?;
        writes.push((part_key(id, slot), to_json(&part)?));
    }
    if writes.is_empty() {
        return Ok(());
    }
    store.set_many(&writes)
}

fn exception_event(
    exception: &OrderException,
    at: DateTime<Utc>,
    source: EventSource,
) -> OrderEvent {
    OrderEvent {
        key: format!("exception:{}", exception.code.slug()),
        kind: EventKind::Exception {
            code: exception.code,
        },
        at,
        source,
    }
}

/// The order with its full history and every exception, those found at normalization
/// and those recorded later; `None` until the order itself has arrived (its early
/// events are kept meanwhile).
pub fn get_order<S: KeyValue>(store: &S, id: &OrderId) -> Result<Option<Order>, StoreError> {
    Ok(fold_one(store, id)?.order())
}

/// Many orders with their histories: one `increment(_, 0)` per id for its slot count,
/// then one `get_many` for every part of the batch. Same result as [`get_order`] per
/// id (orders whose copy has not arrived are skipped), in order.
pub fn get_orders<S: KeyValue>(store: &S, ids: &[OrderId]) -> Result<Vec<Order>, StoreError> {
    let mut wanted = Vec::with_capacity(ids.len());
    for id in ids {
        wanted.push((id.clone(), store.increment(&seq_key(id), 0)?));
    }
    Ok(read_folded(store, &wanted)?
        .iter()
        .filter_map(Folded::order)
        .collect())
}

/// The orders `ids` names, in that order: those in `in_hand` (a caller that already
/// holds the current fold) as they are, the rest read in one [`get_orders`] batch.
/// Orders neither in hand nor in the book are left out.
pub fn orders_with<S: KeyValue>(
    store: &S,
    ids: &[OrderId],
    in_hand: &[Order],
) -> Result<Vec<Order>, StoreError> {
    let held = |id: &OrderId| in_hand.iter().find(|o| &o.id == id);
    let unknown: Vec<OrderId> = ids
        .iter()
        .filter(|id| held(id).is_none())
        .cloned()
        .collect();
    let mut read = get_orders(store, &unknown)?;
    Ok(ids
        .iter()
        .filter_map(|id| match held(id) {
            Some(order) => Some(order.clone()),
            None => read
                .iter()
                .position(|o| &o.id == id)
                .map(|at| read.swap_remove(at)),
        })
        .collect())
}

/// What [`append_events`] followed by a read would give for an order in hand: the event
/// folded into its history as the book folds it (once per key, sorted by time then key).
pub fn with_event(mut order: Order, event: &OrderEvent) -> Order {
    let mut folded = Folded::default();
    folded.add(Part {
        events: std::mem::take(&mut order.history),
        ..Part::default()
    });
    folded.add(Part {
        events: vec![event.clone()],
        ..Part::default()
    });
    order.history = folded.history();
    order
}

/// Order ids in arrival order: `limit` list positions from position `from` (0-based),
/// each id once (a rare race lists an order twice: see the module doc).
pub fn list_order_ids<S: KeyValue>(
    store: &S,
    from: usize,
    limit: usize,
) -> Result<Vec<OrderId>, StoreError> {
    let n = usize::try_from(store.increment(ORDERS_SEQ, 0)?).unwrap_or(0);
    let keys: Vec<String> = (from + 1..=n.min(from.saturating_add(limit)))
        .map(|i| list_key(i as i64))
        .collect();
    let mut seen = HashSet::new();
    Ok(store
        .get_many(&keys)?
        .into_iter()
        .flatten()
        .filter_map(|b| String::from_utf8(b).ok())
        .filter(|id| seen.insert(id.clone()))
        .map(OrderId)
        .collect())
}

/// Replace every stored copy of an order (its history stays as it is) by `order`'s:
/// the personal-data erasure (`access::erasure`) rewrites finished orders this way, so
/// no earlier copy keeps what the latest one dropped. The one place a part is rewritten
/// rather than appended: erasure is the only writer of a finished order's old parts.
pub fn replace_copy<S: KeyValue>(store: &S, order: &Order) -> Result<(), StoreError> {
    let mut copy = order.clone();
    copy.history.clear();
    let n = store.increment(&seq_key(&order.id), 0)?;
    let keys: Vec<String> = (1..=n).map(|slot| part_key(&order.id, slot)).collect();
    let found = store.get_many(&keys)?;
    let mut writes = Vec::new();
    for (key, bytes) in keys.into_iter().zip(found) {
        let Some(bytes) = bytes else { continue };
        let mut part: Part = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::Backend(format!("stored order part unreadable: {e}")))?;
        if part.copy.is_some() {
            part.copy = Some(copy.clone());
            writes.push((key, to_json(&part)?));
        }
    }
    if writes.is_empty() {
        return Ok(());
    }
    store.set_many(&writes)
}

pub(crate) const ORDERS_SEQ: &str = "orders/seq";

pub(crate) fn list_key(n: i64) -> String {
    format!("orders/idx/{n}")
}

#[cfg(test)]
#[path = "book_tests.rs"]
mod tests;
