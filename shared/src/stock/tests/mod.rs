//! Ledger tests. Shared fixtures here; scenarios, the model property test and the
//! real-thread races in their own files.

mod batch;
mod concurrency;
mod cost;
mod crash;
mod faults;
mod input;
mod interleave;
mod model;
mod scenarios;
mod sync;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};

use crate::order::{ChannelId, GeoPoint, OrderId, SkuId};
use crate::store::{KeyValue, MemoryStore};

use super::*;

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0)
        .single()
        .unwrap_or_default()
}

pub(super) fn sku(id: &str) -> SkuId {
    SkuId(id.to_string())
}

pub(super) fn wh(id: &str) -> WarehouseId {
    WarehouseId::new(id)
}

pub(super) fn order(id: &str) -> OrderId {
    OrderId(id.to_string())
}

pub(super) fn channel(id: &str) -> ChannelId {
    ChannelId::new(id)
}

pub(super) const SHANGHAI: GeoPoint = GeoPoint {
    lat: 31.23,
    lng: 121.47,
};
pub(super) const BEIJING: GeoPoint = GeoPoint {
    lat: 39.90,
    lng: 116.40,
};

/// Two warehouses (`sh` preferred, `bj`); channels: `app` (all-or-nothing, whole view),
/// `meituan` (half of `sh` capped at 30, nothing from `bj`), `pos` (partial + split),
/// `near` (split, nearest first).
pub(super) fn catalog() -> StockCatalog {
    let mut channels = BTreeMap::new();
    channels.insert(channel("app"), ChannelPolicy::default());
    let mut meituan = ChannelPolicy {
        warehouses: Some(vec![wh("sh")]),
        ..ChannelPolicy::default()
    };
    meituan.shares.insert(
        wh("sh"),
        ChannelShare {
            ratio_bp: 5_000,
            cap: Some(30),
        },
    );
    channels.insert(channel("meituan"), meituan);
    channels.insert(
        channel("pos"),
        ChannelPolicy {
            accept_partial: true,
            allow_split: true,
            ..ChannelPolicy::default()
        },
    );
    channels.insert(
        channel("near"),
        ChannelPolicy {
            allow_split: true,
            strategy: StrategyKind::Nearest,
            ..ChannelPolicy::default()
        },
    );
    StockCatalog {
        warehouses: vec![
            Warehouse {
                id: wh("sh"),
                name: "Shanghai".into(),
                location: Some(SHANGHAI),
                priority: 1,
            },
            Warehouse {
                id: wh("bj"),
                name: "Beijing".into(),
                location: Some(BEIJING),
                priority: 2,
            },
        ],
        channels,
    }
}

/// The catalog, SKUs defined, and on hand set per (sku, warehouse).
pub(super) fn setup<'s, S: KeyValue>(
    store: &'s S,
    stock: &[(&str, &str, i64)],
) -> ReservationLedger<'s, S> {
    let ledger = ReservationLedger::new(store);
    ledger.put_catalog(&catalog(), &mut || true).unwrap();
    let mut skus: Vec<&str> = stock.iter().map(|(s, _, _)| *s).collect();
    skus.dedup();
    for s in skus {
        ledger.define_sku(&SkuStock::new(sku(s))).unwrap();
    }
    for (s, w, qty) in stock {
        let request = AdjustRequest {
            sku: sku(s),
            warehouse: wh(w),
            change: Adjustment::Set(*qty),
            reason: "opening stock".into(),
            reference: None,
        };
        ledger.adjust(&request, t0()).unwrap();
    }
    ledger
}

pub(super) fn request(order_id: &str, via: &str, lines: &[(u32, &str, i64)]) -> ReserveRequest {
    ReserveRequest {
        order: order(order_id),
        channel: channel(via),
        lines: lines
            .iter()
            .map(|&(line_no, s, quantity)| ReserveLine {
                line_no,
                sku: sku(s),
                quantity,
            })
            .collect(),
        deliver_to: None,
    }
}

pub(super) fn level<S: KeyValue>(
    ledger: &ReservationLedger<'_, S>,
    s: &str,
    w: &str,
) -> StockLevel {
    ledger.level(&sku(s), &wh(w)).unwrap()
}

/// Every stock key and its bytes: "nothing changed" means this is equal before and after.
pub(super) fn snapshot(store: &MemoryStore) -> Vec<(String, Option<Vec<u8>>)> {
    store
        .keys_with_prefix("stock:")
        .into_iter()
        .map(|k| (k.clone(), store.get(&k).unwrap()))
        .collect()
}
