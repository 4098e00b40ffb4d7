//! What the ledger reasons about: warehouses, per-SKU settings, channel policies and
//! reservations. Everything here is plain data (JSON in the store); the counters that
//! change under concurrency are not in these structs but in their own keys (see `keys`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::order::{ChannelId, GeoPoint, Order, OrderId, SkuId};

use super::error::StockError;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WarehouseId(pub String);

impl WarehouseId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for WarehouseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warehouse {
    pub id: WarehouseId,
    #[serde(default)]
    pub name: String,
    /// Used by the nearest-warehouse strategy; a warehouse without one ranks last there.
    #[serde(default)]
    pub location: Option<GeoPoint>,
    /// Lower is preferred by the priority strategy.
    #[serde(default)]
    pub priority: i32,
}

/// A channel's share of one warehouse's available stock: `ratio_bp` basis points
/// (10,000 = all of it), then at most `cap` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelShare {
    #[serde(default = "full_ratio")]
    pub ratio_bp: u32,
    #[serde(default)]
    pub cap: Option<u64>,
}

fn full_ratio() -> u32 {
    10_000
}

impl Default for ChannelShare {
    fn default() -> Self {
        Self {
            ratio_bp: full_ratio(),
            cap: None,
        }
    }
}

impl ChannelShare {
    /// What a channel is shown of `available` units (never more than `available`).
    pub fn view(&self, available: u64) -> u64 {
        let ratio = u64::from(self.ratio_bp.min(10_000));
        let shared = (u128::from(available) * u128::from(ratio) / 10_000) as u64;
        self.cap.map_or(shared, |cap| shared.min(cap))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// Warehouses by configured `priority`, then id.
    #[default]
    Priority,
    /// Most available units first.
    MostStock,
    /// Closest to the delivery point first.
    Nearest,
}

/// How one channel reserves and what it is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelPolicy {
    /// Keep what could be reserved when some lines are short (else all-or-nothing).
    #[serde(default)]
    pub accept_partial: bool,
    /// One line may be served from several warehouses.
    #[serde(default)]
    pub allow_split: bool,
    #[serde(default)]
    pub strategy: StrategyKind,
    /// How long a reservation is held unless confirmed or committed.
    #[serde(default = "default_hold")]
    pub hold_seconds: i64,
    /// Warehouses this channel sells from; `None` = all.
    #[serde(default)]
    pub warehouses: Option<Vec<WarehouseId>>,
    /// Per-warehouse share for the sellable view; absent = the whole available stock.
    #[serde(default)]
    pub shares: BTreeMap<WarehouseId, ChannelShare>,
}

fn default_hold() -> i64 {
    15 * 60
}

impl Default for ChannelPolicy {
    fn default() -> Self {
        Self {
            accept_partial: false,
            allow_split: false,
            strategy: StrategyKind::default(),
            hold_seconds: default_hold(),
            warehouses: None,
            shares: BTreeMap::new(),
        }
    }
}

impl ChannelPolicy {
    pub fn sells_from(&self, warehouse: &WarehouseId) -> bool {
        self.warehouses
            .as_ref()
            .is_none_or(|list| list.contains(warehouse))
    }
}

/// The stock configuration: written by the admin route, read by every operation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StockCatalog {
    pub warehouses: Vec<Warehouse>,
    /// Channels whose sellable quantity is synced out; also their reserve policy.
    #[serde(default)]
    pub channels: BTreeMap<ChannelId, ChannelPolicy>,
}

impl StockCatalog {
    pub fn warehouse(&self, id: &WarehouseId) -> Option<&Warehouse> {
        self.warehouses.iter().find(|w| &w.id == id)
    }
    pub fn policy(&self, channel: &ChannelId) -> ChannelPolicy {
        self.channels.get(channel).cloned().unwrap_or_default()
    }
}

/// Per-SKU settings. A SKU is known to the ledger iff this record exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuStock {
    pub sku: SkuId,
    /// Units per warehouse never promised to anyone (display damage, shrinkage buffer).
    #[serde(default)]
    pub safety: BTreeMap<WarehouseId, u64>,
}

impl SkuStock {
    pub fn new(sku: SkuId) -> Self {
        Self {
            sku,
            safety: BTreeMap::new(),
        }
    }
    pub fn safety_at(&self, warehouse: &WarehouseId) -> i64 {
        self.safety
            .get(warehouse)
            .map_or(0, |s| i64::try_from(*s).unwrap_or(i64::MAX))
    }
}

/// Counter values for one (SKU, warehouse), as read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StockLevel {
    pub on_hand: i64,
    pub reserved: i64,
    pub shipped: i64,
    pub safety: i64,
}

impl StockLevel {
    /// Units that can still be promised.
    pub fn available(&self) -> i64 {
        (self.on_hand - self.safety - self.reserved).max(0)
    }
}

/// Longest hold a channel may configure (a week).
pub const MAX_HOLD_SECONDS: i64 = 7 * 24 * 3600;
/// Most units one order line may ask for; more is a data error, not demand.
pub const MAX_LINE_UNITS: i64 = 1_000_000;
/// Most units one stock counter may hold or one adjustment may move.
pub const MAX_STOCK_UNITS: i64 = 1_000_000_000_000;

/// One line of a reserve request, as the shell parsed it (signed so that a negative
/// quantity is reported, not wrapped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveLine {
    pub line_no: u32,
    pub sku: SkuId,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReserveRequest {
    pub order: OrderId,
    pub channel: ChannelId,
    pub lines: Vec<ReserveLine>,
    /// Delivery point, for the nearest-warehouse strategy.
    #[serde(default)]
    pub deliver_to: Option<GeoPoint>,
}

impl ReserveRequest {
    /// The reserve request for a unified order: every line with its mapped SKU, the
    /// delivery point for the nearest-warehouse strategy. A line whose channel SKU was
    /// never mapped cannot be reserved (`UnknownSku` naming the channel SKU).
    pub fn for_order(order: &Order) -> Result<Self, StockError> {
        let lines = order
            .lines
            .iter()
            .map(|line| {
                let sku = line
                    .sku
                    .clone()
                    .ok_or_else(|| StockError::UnknownSku(line.channel_sku.clone()))?;
                Ok(ReserveLine {
                    line_no: line.line_no,
                    sku,
                    quantity: i64::from(line.quantity),
                })
            })
            .collect::<Result<Vec<_>, StockError>>()?;
        Ok(Self {
            order: order.id.clone(),
            channel: order.channel.clone(),
            lines,
            deliver_to: order.delivery_address().and_then(|a| a.location),
        })
    }
}

/// Units of one order line held in one warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub line_no: u32,
    pub sku: SkuId,
    pub warehouse: WarehouseId,
    pub quantity: i64,
}

/// A line that could not be (fully) reserved: the reason an order goes to restock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortage {
    pub line_no: u32,
    pub sku: SkuId,
    pub requested: i64,
    /// What could be reserved (kept only under a partial policy).
    pub available: i64,
    pub short: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReserveStatus {
    Reserved,
    PartiallyReserved,
    OutOfStock,
}

/// The stored result of an order's latest reserve attempt. Only the caller that claimed
/// the attempt writes it (once; a later attempt, allowed only after a refusal, replaces
/// it), so nobody races on it. What happens to the units afterwards lives in
/// per-allocation counters (see [`ReservationView`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    pub order: OrderId,
    pub channel: ChannelId,
    pub status: ReserveStatus,
    /// Which attempt this is (0 = first); names the attempt's own counters.
    pub attempt: u32,
    /// Refused attempts up to and including this one (see `reserve::claim_attempt`).
    pub refusals: u32,
    /// The lines as requested.
    pub lines: Vec<ReserveLine>,
    pub allocations: Vec<Allocation>,
    pub shortages: Vec<Shortage>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Written confirmed (a paid order reserved in a batch): the fate race is settled
    /// at creation, before anyone could read the record, so no `fate` counter is needed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirmed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    /// Some units still held.
    Held,
    /// Nothing held; some units shipped.
    Committed,
    /// Nothing held or shipped: cancelled, refunded or refused.
    Released,
    /// The hold ran out before confirmation.
    Expired,
}

/// Where each allocation's units are now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationView {
    pub allocation: Allocation,
    pub held: i64,
    pub committed: i64,
    /// Released, refunded or expired.
    pub released: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReservationView {
    pub reservation: Reservation,
    pub state: ReservationState,
    pub confirmed: bool,
    pub allocations: Vec<AllocationView>,
}

impl ReservationView {
    pub fn held(&self) -> i64 {
        self.allocations.iter().map(|a| a.held).sum()
    }
}
