//! Step 2, pure: a verified push → orders and order events in the unified model.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::config::{ChannelConfig, ChannelKind};
use super::error::NormalizeError;
use super::request::VerifiedPush;
use super::sku::SkuMap;
use super::{configured, eleme, groupbuy, meituan, own, pos};
use crate::order::{ChannelId, EventKind, EventSource, Order, OrderEvent, OrderId};

/// What one push means for orderhub.
/// Externally tagged on purpose: an internally tagged enum would buffer its content,
/// which loses exact numbers under `serde_json`'s `arbitrary_precision`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelEvent {
    /// A new order, or a newer full copy of one (history starts with what the payload
    /// implies: created, paid, accepted …).
    Order { order: Box<Order> },
    /// Something that happened to an order, which may not have arrived yet.
    Event {
        order_id: OrderId,
        channel_order_id: String,
        event: OrderEvent,
    },
    /// A channel-level message that concerns no order (Ele.me authorisation revoked).
    Notice(ChannelNotice),
}

impl ChannelEvent {
    pub fn order_id(&self) -> Option<&OrderId> {
        match self {
            ChannelEvent::Order { order } => Some(&order.id),
            ChannelEvent::Event { order_id, .. } => Some(order_id),
            ChannelEvent::Notice(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelNotice {
    pub channel: ChannelId,
    /// `authorization_revoked`, …
    pub kind: String,
    pub store_id: Option<String>,
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// Normalize a verified push. `now` stands in for times the push does not carry.
pub fn normalize(
    cfg: &ChannelConfig,
    sku_map: &SkuMap,
    push: &VerifiedPush,
    now: DateTime<Utc>,
) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let ctx = Ctx {
        cfg,
        sku_map,
        push,
        now,
    };
    match cfg.kind {
        ChannelKind::Meituan => meituan::normalize(&ctx),
        ChannelKind::Eleme => eleme::normalize(&ctx),
        ChannelKind::App | ChannelKind::MiniProgram => own::normalize(&ctx),
        ChannelKind::Pos => pos::normalize(&ctx),
        ChannelKind::GroupBuy => groupbuy::normalize(&ctx),
        ChannelKind::Configured => configured::normalize(&ctx),
    }
}

/// [`normalize`] without the channel's stored SKU map (lines its configuration does
/// not map stay unmapped, flagged unknown): what the webhook keeps in the inbox, so it
/// reads no SKU map; the drain then applies the map once per batch ([`map_skus`]).
pub fn normalize_unmapped(
    cfg: &ChannelConfig,
    push: &VerifiedPush,
    now: DateTime<Utc>,
) -> Result<Vec<ChannelEvent>, NormalizeError> {
    normalize(cfg, &SkuMap::new(), push, now)
}

/// Maps the unmapped lines of every order in `events` with `map`: with
/// [`normalize_unmapped`], the same events as [`normalize`] with `map`.
pub fn map_skus(events: &mut [ChannelEvent], map: &SkuMap) {
    for event in events {
        if let ChannelEvent::Order { order } = event {
            super::lines::map_skus(order, map);
        }
    }
}

/// [`normalize`] over the serialized push the ingest component forwarded.
pub fn normalize_json(
    cfg: &ChannelConfig,
    sku_map: &SkuMap,
    push_json: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let push: VerifiedPush = serde_json::from_slice(push_json)
        .map_err(|e| NormalizeError::UnreadablePush(e.to_string()))?;
    normalize(cfg, sku_map, &push, now)
}

/// What every adapter gets.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a ChannelConfig,
    pub sku_map: &'a SkuMap,
    pub push: &'a VerifiedPush,
    pub now: DateTime<Utc>,
}

impl Ctx<'_> {
    /// The best time for an event the payload does not date: the signed timestamp,
    /// else when it was received.
    pub fn fallback_time(&self) -> DateTime<Utc> {
        self.push.signed_at.unwrap_or(self.push.received_at)
    }

    pub fn event(
        &self,
        channel_order_id: &str,
        key: String,
        kind: EventKind,
        at: DateTime<Utc>,
    ) -> ChannelEvent {
        ChannelEvent::Event {
            order_id: OrderId::for_channel_order(&self.cfg.id, channel_order_id),
            channel_order_id: channel_order_id.to_string(),
            event: OrderEvent {
                key,
                kind,
                at,
                source: EventSource::Channel(self.cfg.id.clone()),
            },
        }
    }

    /// The last non-empty path segment (`/webhooks/meituan/status` → `status`).
    pub fn path_topic(&self) -> &str {
        self.push
            .path
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .rsplit('/')
            .find(|s| !s.is_empty())
            .unwrap_or("")
    }
}

/// Test support: a strategy for SKU maps over `codes` (each mapped or not, any zone,
/// weights and volumes including 0 = "not in the catalogue"), and the check that
/// mapping later gives what mapping at once does.
#[cfg(test)]
pub(crate) mod deferred_mapping {
    use proptest::prelude::*;

    use super::*;
    use crate::channel::{SkuEntry, VerifiedPush};
    use crate::order::{SkuId, TemperatureZone};

    pub fn maps(codes: &'static [&'static str]) -> impl Strategy<Value = SkuMap> {
        let entry = (
            0u8..3,
            prop_oneof![Just(0u32), 1u32..3_000],
            prop_oneof![Just(0u32), 1u32..5_000],
        )
            .prop_map(|(zone, unit_weight_g, unit_volume_cm3)| SkuEntry {
                sku: SkuId(format!("SKU-{zone}-{unit_weight_g}")),
                zone: [
                    TemperatureZone::Ambient,
                    TemperatureZone::Chilled,
                    TemperatureZone::Frozen,
                ][usize::from(zone)],
                unit_weight_g,
                unit_volume_cm3,
            });
        proptest::collection::vec(proptest::option::of(entry), codes.len()).prop_map(
            move |entries| {
                codes
                    .iter()
                    .zip(entries)
                    .filter_map(|(code, e)| e.map(|e| (*code, e)))
                    .fold(SkuMap::new(), |map, (code, e)| map.with(code, e))
            },
        )
    }

    pub fn assert_same(cfg: &ChannelConfig, push: &VerifiedPush, map: &SkuMap, now: DateTime<Utc>) {
        let at_once = normalize(cfg, map, push, now).unwrap();
        let mut later = normalize_unmapped(cfg, push, now).unwrap();
        map_skus(&mut later, map);
        assert_eq!(later, at_once);
    }
}
