//! Applying a batch of pushes to the order book in a handful of round trips.
//!
//! One `increment` per order of the batch hands out its part slot; a later push of an
//! order reads the parts below its slot (one batch `get_many`); then one `increment` of
//! the order list and one per (channel, business day) for the index slots the batch
//! fills; then ONE `set_many` with every part, list slot and day-index slot. What the
//! batch changed is known exactly from the fold before and after each part, so nothing
//! needs a claim of its own: an order is listed when its first copy arrives, listed
//! under each business day it newly touches, and counted on the dashboard for each
//! metric it newly reaches (those counts are returned, for the caller to add after
//! the write). A crash before the `set_many` leaves holes only (see [`super::book`]);
//! a crash after it and before the counts are added loses those counts (the
//! dashboard's, never an order or an index entry).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;

use super::book::{self, list_key, part_key, read_folded, seq_key, to_json, Folded, Part};
use super::day_index::{self, order_days};
use super::{ChannelId, EventKind, EventSource, Order, OrderEvent, OrderId};
use crate::channel::ChannelEvent;
use crate::stats::{self, Metric};
use crate::store::{KeyValue, StoreError};

/// What a batch changed.
#[derive(Debug, Clone, Default)]
pub struct BatchApplied {
    /// Every order the batch touched whose copy has arrived, as it stands after the
    /// batch (no read-back needed).
    pub orders: BTreeMap<OrderId, Order>,
    /// Orders the batch touched, in push order (with or without a copy).
    pub touched: Vec<OrderId>,
    /// Events recorded for the first time.
    pub new_events: usize,
    /// Orders listed for the first time.
    pub listed: usize,
    /// Orders whose part took slot 1: no one ever applied them before, so no step after
    /// the book (reserve, merge) can have seen them yet.
    pub first_seen: BTreeSet<OrderId>,
    /// Dashboard counts first reached: add them with [`stats::add`] after this returns.
    pub stats: stats::Deltas,
}

/// What the batch brings for one order.
struct Pending {
    id: OrderId,
    copy: Option<Order>,
    events: Vec<OrderEvent>,
    keys: HashSet<String>,
}

impl Pending {
    fn add_events<'e>(&mut self, events: impl IntoIterator<Item = &'e OrderEvent>) {
        for e in events {
            // A key twice in the batch: the first occurrence is the one recorded.
            if self.keys.insert(e.key.clone()) {
                self.events.push(e.clone());
            }
        }
    }
}

/// Apply a batch of pushes, each a push's events (see the module doc). Idempotent:
/// applying the same pushes again writes nothing new and counts nothing.
pub fn apply_batch<S: KeyValue>(
    store: &S,
    pushes: &[&[ChannelEvent]],
) -> Result<BatchApplied, StoreError> {
    let mut pending: Vec<Pending> = Vec::new();
    let mut position: HashMap<OrderId, usize> = HashMap::new();
    let mut writes: Vec<(String, Vec<u8>)> = Vec::new();
    for push in pushes {
        for ev in *push {
            let (id, copy, events): (&OrderId, Option<&Order>, &[OrderEvent]) = match ev {
                ChannelEvent::Order { order } => (&order.id, Some(order), &order.history),
                ChannelEvent::Event {
                    order_id, event, ..
                } => (order_id, None, std::slice::from_ref(event)),
                ChannelEvent::Notice(n) => {
                    // Rare (authorisation revoked): a stable key, so a redelivery
                    // overwrites rather than repeats.
                    let key = format!(
                        "notice/{}/{}/{}",
                        n.channel,
                        n.kind,
                        n.at.timestamp_millis()
                    );
                    writes.push((key, to_json(n)?));
                    continue;
                }
            };
            let at = *position.entry(id.clone()).or_insert_with(|| {
                pending.push(Pending {
                    id: id.clone(),
                    copy: None,
                    events: Vec::new(),
                    keys: HashSet::new(),
                });
                pending.len() - 1
            });
            let p = &mut pending[at];
            if let Some(order) = copy {
                // The latest copy of the batch wins, as a later push would.
                let mut copy = order.clone();
                copy.history.clear();
                p.copy = Some(copy);
            }
            p.add_events(events);
        }
    }

    // Slots, then what is already there below them.
    let mut slots = Vec::with_capacity(pending.len());
    for p in &pending {
        slots.push(store.increment(&seq_key(&p.id), 1)?);
    }
    let earlier: Vec<(OrderId, i64)> = pending
        .iter()
        .zip(&slots)
        .filter(|(_, &slot)| slot > 1)
        .map(|(p, &slot)| (p.id.clone(), slot - 1))
        .collect();
    let mut before_of = read_folded(store, &earlier)?.into_iter();

    let mut done = BatchApplied::default();
    let mut to_list: Vec<OrderId> = Vec::new();
    let mut day_entries: BTreeMap<(ChannelId, NaiveDate), Vec<OrderId>> = BTreeMap::new();
    for (p, &slot) in pending.into_iter().zip(&slots) {
        let before = if slot > 1 {
            before_of.next().unwrap_or_default()
        } else {
            Folded::default()
        };
        let part = Part {
            copy: p.copy.filter(|c| before.copy.as_ref() != Some(c)),
            events: p
                .events
                .into_iter()
                .filter(|e| !before.has_event(&e.key))
                .collect(),
            exceptions: Vec::new(),
        };
        done.touched.push(p.id.clone());
        if slot == 1 {
            done.first_seen.insert(p.id.clone());
        }
        done.new_events += part.events.len();
        if !part.is_empty() {
            writes.push((part_key(&p.id, slot), to_json(&part)?));
        }
        let old = before.order();
        let new_events = part.events.clone();
        let mut after = before;
        after.add(part);
        if let Some(order) = after.order() {
            if old.is_none() {
                to_list.push(order.id.clone());
            }
            let known: Vec<NaiveDate> = old.as_ref().map(order_days).unwrap_or_default();
            for day in order_days(&order) {
                if !known.contains(&day) {
                    day_entries
                        .entry((order.channel.clone(), day))
                        .or_default()
                        .push(order.id.clone());
                }
            }
            count_reached(&mut done.stats, old.as_ref(), &order, &new_events);
            done.orders.insert(order.id.clone(), order);
        }
        // Events ahead of their order are listed and counted when its copy arrives
        // (its history holds them then), at the order's own business days.
    }

    if !to_list.is_empty() {
        let k = i64::try_from(to_list.len()).unwrap_or(i64::MAX);
        let top = store.increment(book::ORDERS_SEQ, k)?;
        for (i, id) in to_list.iter().enumerate() {
            writes.push((list_key(top - k + 1 + i as i64), id.0.as_bytes().to_vec()));
        }
        done.listed = to_list.len();
    }
    for ((channel, day), ids) in &day_entries {
        writes.extend(day_index::allocate(store, channel, *day, ids)?);
    }
    if !writes.is_empty() {
        store.set_many(&writes)?;
    }
    Ok(done)
}

/// The dashboard metric an event reaches, if any.
fn metric_of(kind: &EventKind) -> Option<Metric> {
    match kind {
        EventKind::Delivered | EventKind::Completed => Some(Metric::Delivered),
        EventKind::Cancelled { .. } | EventKind::Refunded { full: true, .. } => {
            Some(Metric::Cancelled)
        }
        _ => None,
    }
}

/// Count what `order` newly reached with this part: `Ordered` (and `Exception`, for an
/// order normalization flagged) when its first copy arrives; `Delivered`/`Cancelled`
/// when a channel's event first says so.
fn count_reached(
    deltas: &mut stats::Deltas,
    old: Option<&Order>,
    order: &Order,
    new_events: &[OrderEvent],
) {
    let offset = order.source_utc_offset_minutes;
    let mut add = |day, channel: &ChannelId, metric| {
        *deltas.entry((day, channel.clone(), metric)).or_insert(0) += 1;
    };
    let first_copy = old.is_none();
    if first_copy {
        let day = stats::business_day(order.placed_at, offset);
        add(day, &order.channel, Metric::Ordered);
        if order.is_exception() {
            add(day, &order.channel, Metric::Exception);
        }
    }
    // On the first copy every channel event of the history is new to the count (some
    // came before their order); later, only this part's.
    let fresh: Vec<&OrderEvent> = if first_copy {
        order.history.iter().collect()
    } else {
        new_events.iter().collect()
    };
    let had = |metric: Metric| {
        old.is_some_and(|o| {
            o.history
                .iter()
                .any(|e| counted_channel(e).is_some() && metric_of(&e.kind) == Some(metric))
        })
    };
    let mut counted = Vec::new();
    for e in fresh {
        let (Some(metric), Some(channel)) = (metric_of(&e.kind), counted_channel(e)) else {
            continue;
        };
        if !had(metric) && !counted.contains(&metric) {
            counted.push(metric);
            add(stats::business_day(e.at, offset), channel, metric);
        }
    }
}

/// Only a channel's own word counts on the dashboard (a rider's "delivered" is ours).
fn counted_channel(e: &OrderEvent) -> Option<&ChannelId> {
    match &e.source {
        EventSource::Channel(c) => Some(c),
        _ => None,
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
