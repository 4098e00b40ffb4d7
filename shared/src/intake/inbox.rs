//! Into the inbox: the webhook's one durable write.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::keys;
use crate::channel::catalog::{
    flag_price_mismatches_cached, CatalogError, PricingCache, SkuMapCache,
};
use crate::channel::{
    map_skus, ChannelConfig, ChannelEvent, IngestError, IngestGate, VerifiedPush,
};
use crate::order::{ChannelId, OrderId};
use crate::store::KeyValue;

/// Length of one inbox tick: the batch a drainer takes at once. Short enough that an
/// order waits little for its batch at low traffic, long enough that a peak's batches
/// are big (1,400 orders/s → about 140 per tick).
pub const TICK_MS: i64 = 100;
/// How long after its tick ends a tick is drained: slots allocated at the very end of
/// the tick get this long to be written.
const DRAIN_GRACE_MS: i64 = 100;

/// What the webhook wrote: the push's events as normalized at acknowledgement time, so
/// the drain applies exactly what the platform was told was accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxItem {
    pub channel: ChannelId,
    /// The channel's business-day offset (day index, dashboard).
    pub utc_offset_minutes: i32,
    pub acked_at: DateTime<Utc>,
    pub events: Vec<ChannelEvent>,
    /// The events were normalized without the channel's stored SKU map
    /// ([`normalize_unmapped`](crate::channel::normalize_unmapped)): the drain maps
    /// them. Items written before the webhook stopped reading the map say `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skus_unmapped: bool,
}

/// The batch's events ready for the book: each item's orders mapped with its channel's
/// SKU map (if the webhook left them unmapped) and checked against the pricing rules,
/// every map and rule set read once for the whole batch.
pub fn prepare_batch(
    catalog: &impl KeyValue,
    items: &[InboxItem],
) -> Result<Vec<Vec<ChannelEvent>>, CatalogError> {
    let mut skus = SkuMapCache::default();
    let mut pricing = PricingCache::default();
    let mut pushes = Vec::with_capacity(items.len());
    for item in items {
        let channel = item.channel.as_str();
        let mut events = item.events.clone();
        if item.skus_unmapped {
            map_skus(&mut events, skus.map_for(catalog, channel)?);
        }
        // Each order by its store's own pricing rules, else the channel's (if any).
        flag_price_mismatches_cached(catalog, channel, &mut events, &mut pricing)?;
        pushes.push(events);
    }
    Ok(pushes)
}

impl InboxItem {
    /// The orders the push created or touched, for the acknowledgement.
    pub fn order_ids(&self) -> Vec<OrderId> {
        let mut ids: Vec<OrderId> = Vec::new();
        for id in self.events.iter().filter_map(ChannelEvent::order_id) {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        ids
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entered {
    /// Durable at (`tick`, `slot`). The writer of slot 1 drains the tick.
    Written { tick: i64, slot: i64 },
    /// Acknowledged before: answer success, write nothing.
    Duplicate,
}

impl Entered {
    /// The tick this caller must drain once [`drain_due`], if any.
    pub fn drains(&self) -> Option<i64> {
        match self {
            Entered::Written { tick, slot: 1 } => Some(*tick),
            _ => None,
        }
    }
}

pub fn tick_of(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis().div_euclid(TICK_MS)
}

/// When `tick` may be drained.
pub fn drain_due(tick: i64) -> DateTime<Utc> {
    let end_ms = (tick + 1).saturating_mul(TICK_MS);
    DateTime::<Utc>::from_timestamp_millis(end_ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
        + Duration::milliseconds(DRAIN_GRACE_MS)
}

/// The gates, then the one durable write. Replay and duplicate are reads; the rate limit
/// and the slot are one `increment` each; the item, the acknowledged marker, the replay
/// marker and the tick's open marker go in one `set_many` (one transaction on SQLite,
/// one MSET on Redis). Three writes in all, whatever the channel.
///
/// Two copies of one push racing past the duplicate check are both written and both
/// acknowledged (each is durable when answered); the order book is idempotent, so the
/// drain applies the push once. A copy arriving after the first was written is answered
/// [`Entered::Duplicate`] at once. Gates in this order: a replay or a duplicate never
/// costs rate-limit capacity.
pub fn enter<S: KeyValue>(
    store: &S,
    cfg: &ChannelConfig,
    push: &VerifiedPush,
    item: &InboxItem,
    now: DateTime<Utc>,
) -> Result<Entered, IngestError> {
    let replay = match (cfg.replay_window_seconds, &push.replay_key) {
        (Some(_), Some(signature)) => Some(keys::replay(cfg.id.as_str(), signature)),
        _ => None,
    };
    if let Some(key) = &replay {
        if store.get(key)?.is_some() {
            return Err(IngestError::Replayed);
        }
    }
    let acknowledged = keys::acknowledged(&push.dedupe_key);
    if store.get(&acknowledged)?.is_some() {
        return Ok(Entered::Duplicate);
    }
    IngestGate::new(store, cfg).check_rate(now)?;
    let tick = tick_of(now);
    let slot = store.increment(&keys::tick_len(tick), 1)?;
    let bytes = serde_json::to_vec(item)
        .map_err(|e| IngestError::Store(crate::store::StoreError::Backend(e.to_string())))?;
    let mut writes = vec![
        (keys::item(tick, slot), bytes),
        (acknowledged, format!("{tick}/{slot}").into_bytes()),
        (keys::open(tick), b"1".to_vec()),
    ];
    if let Some(key) = replay {
        writes.push((key, b"1".to_vec()));
    }
    store.set_many(&writes)?;
    Ok(Entered::Written { tick, slot })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn push(dedupe: &str, replay: Option<&str>) -> VerifiedPush {
        VerifiedPush {
            channel: ChannelId("app".into()),
            path: "/webhooks/app/orders".into(),
            payload: crate::channel::Payload::Json(serde_json::json!({})),
            received_at: at(0),
            signed_at: None,
            dedupe_key: dedupe.into(),
            replay_key: replay.map(str::to_string),
        }
    }

    fn item() -> InboxItem {
        InboxItem {
            channel: ChannelId("app".into()),
            utc_offset_minutes: 480,
            acked_at: at(0),
            events: Vec::new(),
            skus_unmapped: true,
        }
    }

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    /// Counts every call, and the writes among them.
    struct Counting<'a>(&'a MemoryStore, std::cell::Cell<(usize, usize)>);
    impl KeyValue for Counting<'_> {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, crate::store::StoreError> {
            let (c, w) = self.1.get();
            self.1.set((c + 1, w));
            self.0.get(key)
        }
        fn set(&self, key: &str, value: &[u8]) -> Result<(), crate::store::StoreError> {
            let (c, w) = self.1.get();
            self.1.set((c + 1, w + 1));
            self.0.set(key, value)
        }
        fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), crate::store::StoreError> {
            let (c, w) = self.1.get();
            self.1.set((c + 1, w + 1));
            self.0.set_many(entries)
        }
        fn delete(&self, key: &str) -> Result<(), crate::store::StoreError> {
            self.0.delete(key)
        }
        fn increment(&self, key: &str, delta: i64) -> Result<i64, crate::store::StoreError> {
            let (c, w) = self.1.get();
            self.1.set((c + 1, w + usize::from(delta != 0)));
            self.0.increment(key, delta)
        }
    }

    #[test]
    fn a_push_is_written_once_in_three_writes_and_its_copies_are_duplicates() {
        let mem = MemoryStore::new();
        let store = Counting(&mem, Default::default());
        let cfg = ChannelConfig::builtin("app").unwrap();
        let first = enter(&store, &cfg, &push("k1", Some("sig1")), &item(), at(5)).unwrap();
        let (_, writes) = store.1.get();
        assert_eq!(writes, 3, "rate limit, slot, one set_many");
        assert_eq!(first.drains(), Some(tick_of(at(5))));
        // The same signed request again is a replay; re-signed, a duplicate.
        assert_eq!(
            enter(&store, &cfg, &push("k1", Some("sig1")), &item(), at(6)),
            Err(IngestError::Replayed)
        );
        assert_eq!(
            enter(&store, &cfg, &push("k1", Some("sig2")), &item(), at(7)),
            Ok(Entered::Duplicate)
        );
        // Another push in the same tick takes the next slot and does not drain.
        let second = enter(&store, &cfg, &push("k2", None), &item(), at(8)).unwrap();
        assert_eq!(
            second,
            Entered::Written {
                tick: tick_of(at(8)),
                slot: 2
            }
        );
        assert_eq!(second.drains(), None);
        let stored: InboxItem = mem
            .get_json(&keys::item(tick_of(at(5)), 1))
            .unwrap()
            .unwrap();
        assert_eq!(stored, item());
    }

    #[test]
    fn a_tick_is_drained_after_it_ends() {
        let tick = tick_of(at(0));
        assert!(drain_due(tick) > at(0));
        assert_eq!(tick_of(drain_due(tick)), tick + 2);
    }
}
