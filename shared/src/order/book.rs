//! The order book: normalized orders and their histories in the `orders` store.
//!
//! Ground truth is one key per event, never one blob per order, because the store has
//! no compare-and-swap: a read-modify-write of a shared history would lose one of two
//! concurrent writers. Layout (`{id}` is the order id, `{ek}` the escaped event key):
//!
//! - `order/{id}` — the order's latest full copy *without* history (set; a newer push
//!   of the same order simply replaces it);
//! - `order/{id}/ev/{ek}` — one event;
//! - `order/{id}/ev-claim/{ek}` — counter electing the first writer of that event;
//! - `order/{id}/seq` and `order/{id}/idx/{n}` — an append-only index of event keys,
//!   slots handed out by `increment`;
//! - `order/{id}/ev-indexed/{ek}` — marker that the event made it into the index;
//! - `orders/seq`, `orders/idx/{n}`, `order/{id}/listed` — the list of order ids.
//!
//! Reading assembles: the copy plus every indexed event, de-duplicated by key. An
//! event may arrive before its order (kept, folded in when the order comes); a
//! writer that dies between claim and index is repaired by the next delivery (no
//! `ev-indexed` marker yet → index again; a duplicate slot is harmless, reads
//! de-duplicate). So: one history entry per distinct event key, whatever the arrival
//! order or concurrency, and nothing lost.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use chrono::{DateTime, Utc};

use super::{EventKind, EventSource, ExceptionCode, Order, OrderEvent, OrderException, OrderId};
use crate::channel::ChannelEvent;
use crate::store::{KeyValue, StoreError};

/// What applying a push changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Orders the push created, replaced or added events to, in push order.
    pub orders: Vec<OrderId>,
    /// Events recorded for the first time (redeliveries add none).
    pub new_events: usize,
}

/// Apply a push's events. Idempotent: applying the same events again changes nothing.
///
/// Per order the writes of one push go out as one `set_many` (one MSET / one
/// transaction), after the increments that elect first writers and hand out slots: a
/// first push of an order with two events costs two claims, one `listed` claim, one
/// `orders/seq` and one `order/{id}/seq` increment and that one batch write.
pub fn apply<S: KeyValue>(store: &S, events: &[ChannelEvent]) -> Result<Applied, StoreError> {
    let mut applied = Applied::default();
    for ev in events {
        match ev {
            ChannelEvent::Order { order } => {
                let mut copy = order.clone();
                copy.history.clear();
                let mut extra = vec![(format!("order/{}", order.id), to_json(&copy)?)];
                // List the order once. The listing slot is written in the same batch as
                // the copy, so a listed order's copy is there (or both are missing: a
                // crash before the batch, which a redelivery repairs for the copy).
                if store.increment(&format!("order/{}/listed", order.id), 1)? == 1 {
                    let n = store.increment("orders/seq", 1)?;
                    extra.push((
                        format!("orders/idx/{n}"),
                        order.id.as_str().as_bytes().to_vec(),
                    ));
                }
                let history: Vec<&OrderEvent> = order.history.iter().collect();
                applied.new_events += record_events(store, &order.id, &history, extra)?;
                note(&mut applied.orders, &order.id);
            }
            ChannelEvent::Event {
                order_id, event, ..
            } => {
                applied.new_events += record_events(store, order_id, &[event], Vec::new())?;
                note(&mut applied.orders, order_id);
            }
            ChannelEvent::Notice(n) => {
                // Notices are rare (authorisation revoked): kept under a stable key so a
                // redelivery overwrites rather than repeats.
                let key = format!(
                    "notice/{}/{}/{}",
                    n.channel,
                    n.kind,
                    n.at.timestamp_millis()
                );
                store.set_json(&key, n)?;
            }
        }
    }
    Ok(applied)
}

fn note(ids: &mut Vec<OrderId>, id: &OrderId) {
    if !ids.contains(id) {
        ids.push(id.clone());
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(e.to_string()))
}

/// Record one event; `true` when this call was its first writer.
pub fn record_event<S: KeyValue>(
    store: &S,
    id: &OrderId,
    event: &OrderEvent,
) -> Result<bool, StoreError> {
    Ok(record_events(store, id, &[event], Vec::new())? == 1)
}

/// Record events of one order, then write `extra` (the order's copy, an exception's
/// detail …) in the same batch, before the events; how many events this call was the
/// first writer of.
///
/// Round trips: one claim `increment` per event, one `increment` of `order/{id}/seq`
/// for all the slots the call needs (a slot range `top-k+1..=top`), one `set_many` with
/// every body, index slot and `ev-indexed` marker (in that order, so a marker is never
/// ahead of its slot and a slot never ahead of its body). A repeat costs the claim and
/// one `exists` of the marker per event.
///
/// Crash safety is the single-event argument: a writer that dies after its claims and
/// before the batch leaves claims without markers, and the next delivery (claim > 1, no
/// marker) writes the body if absent and indexes it; slots handed out but never written
/// are skipped by readers. First writer wins the content: a repairer writes the body
/// only when absent (two deliveries of one key racing within one round trip may both
/// write it, as before).
fn record_events<S: KeyValue>(
    store: &S,
    id: &OrderId,
    events: &[&OrderEvent],
    extra: Vec<(String, Vec<u8>)>,
) -> Result<usize, StoreError> {
    let mut first_writes = 0;
    let mut seen = HashSet::new();
    // (escaped key, body to write if any)
    let mut to_index: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    for event in events {
        let ek = event_key(&event.key);
        // A key twice in one call: the first occurrence is recorded, the later ones are
        // repeats (as they were when each was recorded in turn).
        if !seen.insert(ek.clone()) {
            continue;
        }
        let body_key = format!("order/{id}/ev/{ek}");
        let first = store.increment(&format!("order/{id}/ev-claim/{ek}"), 1)? == 1;
        if first {
            // First writer wins the content (a later push with the same key, e.g. a
            // cancel after a status-9, does not overwrite the reason first recorded).
            first_writes += 1;
            to_index.push((ek, Some(to_json(event)?)));
        } else {
            if store.exists(&format!("order/{id}/ev-indexed/{ek}"))? {
                continue;
            }
            // The first writer is in flight or died before indexing: make sure the
            // event is there and indexed. A duplicate index slot is harmless.
            let body = if store.exists(&body_key)? {
                None
            } else {
                Some(to_json(event)?)
            };
            to_index.push((ek, body));
        }
    }
    let mut writes = extra;
    if !to_index.is_empty() {
        let k = i64::try_from(to_index.len()).unwrap_or(i64::MAX);
        let top = store.increment(&format!("order/{id}/seq"), k)?;
        let mut slots = Vec::with_capacity(to_index.len());
        let mut markers = Vec::with_capacity(to_index.len());
        for (i, (ek, body)) in to_index.into_iter().enumerate() {
            let slot = top - k + 1 + i as i64;
            if let Some(body) = body {
                writes.push((format!("order/{id}/ev/{ek}"), body));
            }
            slots.push((format!("order/{id}/idx/{slot}"), ek.as_bytes().to_vec()));
            markers.push((
                format!("order/{id}/ev-indexed/{ek}"),
                slot.to_string().into_bytes(),
            ));
        }
        writes.extend(slots);
        writes.extend(markers);
    }
    if !writes.is_empty() {
        store.set_many(&writes)?;
    }
    Ok(first_writes)
}

/// The history recorded for an order id, whether or not the order itself has
/// arrived, sorted by time (ties by key, so the result is deterministic).
pub fn history<S: KeyValue>(store: &S, id: &OrderId) -> Result<Vec<OrderEvent>, StoreError> {
    // `increment(k, 0)` creates the key: a read of an unknown id (the public query
    // route) must not write, so look first.
    let seq = format!("order/{id}/seq");
    if !store.exists(&seq)? {
        return Ok(Vec::new());
    }
    let n = store.increment(&seq, 0)?;
    if n <= 0 {
        return Ok(Vec::new());
    }
    let slots: Vec<String> = (1..=n).map(|i| format!("order/{id}/idx/{i}")).collect();
    let mut seen = HashSet::new();
    let body_keys: Vec<String> = store
        .get_many(&slots)?
        .into_iter()
        .flatten()
        .filter_map(|bytes| String::from_utf8(bytes).ok())
        .filter(|ek| seen.insert(ek.clone()))
        .map(|ek| format!("order/{id}/ev/{ek}"))
        .collect();
    let mut events: Vec<OrderEvent> = store
        .get_many(&body_keys)?
        .into_iter()
        .flatten()
        .map(|bytes| {
            serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Backend(format!("stored event unreadable: {e}")))
        })
        .collect::<Result<_, _>>()?;
    events.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.key.cmp(&b.key)));
    Ok(events)
}

/// Record an exception found after normalization (out of stock, no capable rider …):
/// its detail under `order/{id}/exc/{code}` (one per code; the latest detail wins) and
/// an `Exception` event in the history (once per code). Idempotent.
pub fn record_exception<S: KeyValue>(
    store: &S,
    id: &OrderId,
    exception: &OrderException,
    at: DateTime<Utc>,
    source: EventSource,
) -> Result<bool, StoreError> {
    let slug = exception.code.slug();
    let event = OrderEvent {
        key: format!("exception:{slug}"),
        kind: EventKind::Exception {
            code: exception.code,
        },
        at,
        source,
    };
    // The detail goes first in the event's own batch write: whenever the `Exception`
    // event is readable its detail is too, which is what lets readers look up only the
    // details of the codes the history names ([`fold_later_exceptions`]).
    let detail = vec![(format!("order/{id}/exc/{slug}"), to_json(exception)?)];
    Ok(record_events(store, id, &[&event], detail)? == 1)
}

/// The order with its full history and every exception, those found at normalization
/// and those recorded later; `None` until the order itself has arrived (its early
/// events are kept meanwhile).
pub fn get_order<S: KeyValue>(store: &S, id: &OrderId) -> Result<Option<Order>, StoreError> {
    let Some(mut order) = store.get_json::<Order>(&format!("order/{id}"))? else {
        return Ok(None);
    };
    order.history = history(store, id)?;
    fold_later_exceptions(store, std::slice::from_mut(&mut order))?;
    Ok(Some(order))
}

/// Add the exceptions recorded after normalization ([`record_exception`]) to each
/// order, in one batch read. Only the codes its history has an `Exception` event for
/// are read: [`record_exception`] writes the detail with (and before) the event, so a
/// code without the event has no detail to find, and an order without later exceptions
/// costs no read at all (it used to cost one `get` per [`ExceptionCode`]). The history
/// must be loaded first.
fn fold_later_exceptions<S: KeyValue>(store: &S, orders: &mut [Order]) -> Result<(), StoreError> {
    let mut keys = Vec::new();
    let mut owner = Vec::new();
    for (i, o) in orders.iter().enumerate() {
        let mut codes: Vec<ExceptionCode> = Vec::new();
        for e in &o.history {
            if let EventKind::Exception { code } = e.kind {
                if !codes.contains(&code) {
                    codes.push(code);
                }
            }
        }
        for c in codes {
            keys.push(format!("order/{}/exc/{}", o.id, c.slug()));
            owner.push(i);
        }
    }
    if keys.is_empty() {
        return Ok(());
    }
    let found = store.get_many(&keys)?;
    for (bytes, &i) in found.into_iter().zip(&owner) {
        let Some(later) = bytes.and_then(|b| serde_json::from_slice::<OrderException>(&b).ok())
        else {
            continue;
        };
        let order = &mut orders[i];
        if !order.exceptions.iter().any(|e| e.code == later.code) {
            order.exceptions.push(later);
        }
    }
    Ok(())
}

/// Many orders with their histories, in batches: one `get_many` for the copies, one
/// `increment(_, 0)` per order for its event count, then one `get_many` for every
/// index slot and one for every event body of the batch, then the details of the
/// exceptions recorded later, for the codes the histories name. Same result as
/// [`get_order`] per id (absent orders are skipped), in far fewer store round trips.
pub fn get_orders<S: KeyValue>(store: &S, ids: &[OrderId]) -> Result<Vec<Order>, StoreError> {
    let unreadable =
        |e: serde_json::Error| StoreError::Backend(format!("stored order unreadable: {e}"));
    let copy_keys: Vec<String> = ids.iter().map(|id| format!("order/{id}")).collect();
    let mut orders: Vec<Order> = Vec::with_capacity(ids.len());
    for bytes in store.get_many(&copy_keys)?.into_iter().flatten() {
        orders.push(serde_json::from_slice(&bytes).map_err(unreadable)?);
    }
    let mut slot_keys = Vec::new();
    let mut slot_owner = Vec::new();
    for (i, o) in orders.iter().enumerate() {
        let n = store.increment(&format!("order/{}/seq", o.id), 0)?;
        for k in 1..=n {
            slot_keys.push(format!("order/{}/idx/{k}", o.id));
            slot_owner.push(i);
        }
    }
    let mut seen = HashSet::new();
    let mut body_keys = Vec::new();
    let mut body_owner = Vec::new();
    for (bytes, &i) in store.get_many(&slot_keys)?.into_iter().zip(&slot_owner) {
        let Some(ek) = bytes.and_then(|b| String::from_utf8(b).ok()) else {
            continue;
        };
        if seen.insert((i, ek.clone())) {
            body_keys.push(format!("order/{}/ev/{ek}", orders[i].id));
            body_owner.push(i);
        }
    }
    for (bytes, &i) in store.get_many(&body_keys)?.into_iter().zip(&body_owner) {
        if let Some(bytes) = bytes {
            let event: OrderEvent = serde_json::from_slice(&bytes)
                .map_err(|e| StoreError::Backend(format!("stored event unreadable: {e}")))?;
            orders[i].history.push(event);
        }
    }
    for o in &mut orders {
        o.history
            .sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.key.cmp(&b.key)));
    }
    fold_later_exceptions(store, &mut orders)?;
    Ok(orders)
}

/// Order ids in arrival order: `limit` ids from position `from` (0-based).
pub fn list_order_ids<S: KeyValue>(
    store: &S,
    from: usize,
    limit: usize,
) -> Result<Vec<OrderId>, StoreError> {
    let n = usize::try_from(store.increment("orders/seq", 0)?).unwrap_or(0);
    let keys: Vec<String> = (from + 1..=n.min(from.saturating_add(limit)))
        .map(|i| format!("orders/idx/{i}"))
        .collect();
    Ok(store
        .get_many(&keys)?
        .into_iter()
        .flatten()
        .filter_map(|b| String::from_utf8(b).ok())
        .map(OrderId)
        .collect())
}

/// Event keys as store-key parts: safe characters kept, others escaped, long keys
/// hashed (backends cap key length).
fn event_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > 96 {
        let digest = hex::encode(Sha256::digest(key.as_bytes()));
        out = format!("h:{}", &digest[..40]);
    }
    out
}

#[cfg(test)]
#[path = "book_tests.rs"]
mod tests;

/// Replace an order's stored copy (without its history, which stays as it is): the
/// personal-data erasure (`access::erasure`) rewrites finished orders this way.
pub fn replace_copy<S: KeyValue>(store: &S, order: &Order) -> Result<(), StoreError> {
    let mut copy = order.clone();
    copy.history.clear();
    store.set(&format!("order/{}", order.id), &to_json(&copy)?)
}
