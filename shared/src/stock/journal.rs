//! The stock journal: one append-only log that is both the audit trail (every change,
//! with its deltas) and the outbox of sellable quantities the channel components drain.
//!
//! Slots are allocated with `increment`, so two writers never share one and no entry
//! is lost. The slot is claimed *after* the change and *before* the counters are read,
//! so its number is also the value's version: a higher slot was read later and so
//! reflects at least every change a lower one did. Slot order is not write order (a slow
//! writer can fill slot 7 after slot 8 was written), so drainers keep the highest
//! version per (channel, SKU) and drop anything older than what they already pushed.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::order::{ChannelId, OrderId, SkuId};
use crate::store::KeyValue;

use super::counters::read;
use super::error::StockResult;
use super::keys;
use super::model::{SkuStock, StockCatalog, WarehouseId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockEventKind {
    Reserve,
    Release,
    Commit,
    Expire,
    Adjust,
}

/// Counter deltas one operation applied to one (SKU, warehouse).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelChange {
    pub sku: SkuId,
    pub warehouse: WarehouseId,
    pub on_hand: i64,
    pub reserved: i64,
    pub shipped: i64,
}

/// Each synced channel's sellable quantity of one SKU, as of `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellableUpdate {
    pub sku: SkuId,
    pub version: i64,
    pub channels: BTreeMap<ChannelId, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockEvent {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub kind: StockEventKind,
    pub order: Option<OrderId>,
    /// Adjustment reason / WMS reference, settle request id.
    pub reference: Option<String>,
    pub changes: Vec<LevelChange>,
    pub sellable: Vec<SellableUpdate>,
}

/// Per channel, what it is shown of one SKU right now (sum over the warehouses it sells
/// from of its share of `on_hand - reserved - safety`).
pub fn sellable_now<S: KeyValue + ?Sized>(
    store: &S,
    catalog: &StockCatalog,
    item: &SkuStock,
) -> StockResult<BTreeMap<ChannelId, u64>> {
    let mut levels = Vec::with_capacity(catalog.warehouses.len());
    for wh in &catalog.warehouses {
        let on_hand = read(store, &keys::on_hand(&item.sku, &wh.id))?;
        let reserved = read(store, &keys::reserved(&item.sku, &wh.id))?;
        levels.push((on_hand, reserved));
    }
    Ok(sellable_of(catalog, item, &levels))
}

/// [`sellable_now`] from counters already read: `levels[i]` is (on hand, reserved) at
/// `catalog.warehouses[i]`.
pub(super) fn sellable_of(
    catalog: &StockCatalog,
    item: &SkuStock,
    levels: &[(i64, i64)],
) -> BTreeMap<ChannelId, u64> {
    let available: Vec<(&WarehouseId, u64)> = catalog
        .warehouses
        .iter()
        .zip(levels)
        .map(|(wh, &(on_hand, reserved))| {
            let free = (on_hand - reserved - item.safety_at(&wh.id)).max(0);
            (&wh.id, u64::try_from(free).unwrap_or(0))
        })
        .collect();
    catalog
        .channels
        .iter()
        .map(|(channel, policy)| {
            let total = available
                .iter()
                .filter(|(wh, _)| policy.sells_from(wh))
                .map(|(wh, free)| {
                    policy
                        .shares
                        .get(*wh)
                        .copied()
                        .unwrap_or_default()
                        .view(*free)
                })
                .sum();
            (channel.clone(), total)
        })
        .collect()
}

/// Builds the event for a change that already happened, with fresh sellable values for
/// every SKU it touched, and claims its journal slot; the caller writes it with
/// [`event_entry`] in its own batch. A change that moved nothing is not journalled.
#[allow(clippy::too_many_arguments)]
pub(super) fn record<S: KeyValue + ?Sized>(
    store: &S,
    catalog: &StockCatalog,
    items: &BTreeMap<SkuId, SkuStock>,
    kind: StockEventKind,
    order: Option<&OrderId>,
    reference: Option<&str>,
    changes: Vec<LevelChange>,
    now: DateTime<Utc>,
) -> StockResult<Option<StockEvent>> {
    let changes: Vec<LevelChange> = changes
        .into_iter()
        .filter(|c| c.on_hand != 0 || c.reserved != 0 || c.shipped != 0)
        .collect();
    if changes.is_empty() {
        return Ok(None);
    }
    // The slot number doubles as the version: taken after the change, before the reads.
    let seq = store.increment(keys::LOG_LEN, 1)?;
    let mut sellable = Vec::new();
    if !catalog.channels.is_empty() {
        let mut skus: Vec<&SkuId> = changes.iter().map(|c| &c.sku).collect();
        skus.sort();
        skus.dedup();
        for sku in skus {
            let Some(item) = items.get(sku) else { continue };
            let channels = sellable_now(store, catalog, item)?;
            sellable.push(SellableUpdate {
                sku: sku.clone(),
                version: seq,
                channels,
            });
        }
    }
    let event = StockEvent {
        seq,
        at: now,
        kind,
        order: order.cloned(),
        reference: reference.map(str::to_string),
        changes,
        sellable,
    };
    Ok(Some(event))
}

/// The key and bytes that store `event` in its slot.
pub(super) fn event_entry(event: &StockEvent) -> StockResult<(String, Vec<u8>)> {
    let bytes =
        serde_json::to_vec(event).map_err(|e| crate::store::StoreError::Backend(e.to_string()))?;
    Ok((keys::log_entry(event.seq), bytes))
}

/// Journal entries from `from_seq` (1-based), at most `limit`; holes (a writer still
/// between its slot and its write) are skipped.
pub fn audit_log<S: KeyValue>(
    store: &S,
    from_seq: i64,
    limit: usize,
) -> StockResult<Vec<StockEvent>> {
    let len = read(store, keys::LOG_LEN)?;
    let from = from_seq.max(1);
    let to = len.min(from.saturating_add(i64::try_from(limit).unwrap_or(i64::MAX)) - 1);
    if to < from {
        return Ok(Vec::new());
    }
    let slots: Vec<String> = (from..=to).map(keys::log_entry).collect();
    let mut events = Vec::new();
    for bytes in store.get_many(&slots)?.into_iter().flatten() {
        if let Ok(event) = serde_json::from_slice::<StockEvent>(&bytes) {
            events.push(event);
        }
    }
    Ok(events)
}

/// The journal entries from `from_seq`, at most `limit` slots, that changed `sku`
/// ([`audit_log`] filtered: the page is the same journal range, so a caller pages by
/// `seq` as without a filter).
pub fn audit_log_of<S: KeyValue>(
    store: &S,
    sku: &SkuId,
    from_seq: i64,
    limit: usize,
) -> StockResult<Vec<StockEvent>> {
    let mut events = audit_log(store, from_seq, limit)?;
    events.retain(|e| e.changes.iter().any(|c| &c.sku == sku));
    Ok(events)
}

/// One SKU's sellable quantity to push to a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStock {
    pub sku: SkuId,
    pub sellable: u64,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxBatch {
    pub channel: ChannelId,
    /// Newest value per SKU in the drained range that the channel has not been sent yet.
    pub updates: Vec<ChannelStock>,
    /// Journal position to store with [`ack_outbox`] once `updates` were pushed.
    pub next_cursor: i64,
}

/// A slot claimed but still empty after this long is taken as abandoned (its writer
/// died between `increment` and `set`) and skipped; younger holes stop the drain so a
/// slow writer's value is not passed over.
pub const HOLE_GRACE_SECONDS: i64 = 60;

/// What a channel should push next. Read-only: call [`ack_outbox`] after pushing.
pub fn drain_outbox<S: KeyValue>(
    store: &S,
    channel: &ChannelId,
    max_entries: usize,
    now: DateTime<Utc>,
) -> StockResult<OutboxBatch> {
    let cursor: i64 = store.get_json(&keys::outbox_cursor(channel))?.unwrap_or(0);
    let len = read(store, keys::LOG_LEN)?;
    let to = len.min(cursor.saturating_add(i64::try_from(max_entries).unwrap_or(i64::MAX)));
    let slots: Vec<String> = ((cursor + 1)..=to).map(keys::log_entry).collect();
    let entries: Vec<Option<StockEvent>> = store
        .get_many(&slots)?
        .into_iter()
        .map(|b| b.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
        .collect();
    let grace = now - Duration::seconds(HOLE_GRACE_SECONDS);
    let mut next_cursor = cursor;
    let mut newest: BTreeMap<SkuId, ChannelStock> = BTreeMap::new();
    for (i, entry) in entries.iter().enumerate() {
        match entry {
            Some(event) => {
                for update in &event.sellable {
                    let Some(&sellable) = update.channels.get(channel) else {
                        continue;
                    };
                    let keep = newest
                        .get(&update.sku)
                        .is_none_or(|seen| seen.version < update.version);
                    if keep {
                        let value = ChannelStock {
                            sku: update.sku.clone(),
                            sellable,
                            version: update.version,
                        };
                        newest.insert(update.sku.clone(), value);
                    }
                }
            }
            None => {
                let abandoned = entries[i + 1..]
                    .iter()
                    .flatten()
                    .any(|later| later.at <= grace);
                if !abandoned {
                    break;
                }
            }
        }
        next_cursor = cursor + 1 + i as i64;
    }
    let pushed_keys: Vec<String> = newest
        .keys()
        .map(|sku| keys::outbox_pushed(channel, sku))
        .collect();
    let pushed = store.get_many(&pushed_keys)?;
    let updates = newest
        .into_values()
        .zip(pushed)
        .filter(|(update, pushed)| {
            let last: Option<i64> = pushed.as_ref().and_then(|b| serde_json::from_slice(b).ok());
            last.is_none_or(|v| v < update.version)
        })
        .map(|(update, _)| update)
        .collect();
    Ok(OutboxBatch {
        channel: channel.clone(),
        updates,
        next_cursor,
    })
}

/// Records that `batch` was pushed. Assumes one drainer per channel at a time (the
/// channel's scheduled job): two overlapping drainers could push an older value after
/// a newer one.
pub fn ack_outbox<S: KeyValue>(store: &S, batch: &OutboxBatch) -> StockResult<()> {
    let mut entries: Vec<(String, Vec<u8>)> = Vec::with_capacity(batch.updates.len() + 1);
    for update in &batch.updates {
        entries.push((
            keys::outbox_pushed(&batch.channel, &update.sku),
            update.version.to_string().into_bytes(),
        ));
    }
    entries.push((
        keys::outbox_cursor(&batch.channel),
        batch.next_cursor.to_string().into_bytes(),
    ));
    Ok(store.set_many(&entries)?)
}
