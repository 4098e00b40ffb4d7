//! The ledger handle and its configuration (catalog, SKUs, levels).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::order::{ChannelId, SkuId};
use crate::store::{update_json, KeyValue, UpdateError};

use super::counters::read;
use super::error::{StockError, StockResult};
use super::journal;
use super::keys;
use super::model::{
    ChannelPolicy, Reservation, SkuStock, StockCatalog, StockLevel, Warehouse, WarehouseId,
    MAX_HOLD_SECONDS,
};

/// The stock ledger over one key-value bucket. Holds nothing but the store handle:
/// every instance of every component can make one per request.
pub struct ReservationLedger<'s, S: KeyValue> {
    pub(super) store: &'s S,
    /// Seconds after which a still-running operation counts as dead (see `intent`).
    pub(super) lease_seconds: i64,
}

/// The config a reserve needs, read in one batch.
pub(super) struct Loaded {
    pub catalog: StockCatalog,
    pub items: BTreeMap<SkuId, SkuStock>,
    pub prior: Option<Reservation>,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id
            .chars()
            .any(|c| c == ':' || c == '@' || c.is_whitespace())
}

impl<'s, S: KeyValue> ReservationLedger<'s, S> {
    pub fn new(store: &'s S) -> Self {
        Self {
            store,
            lease_seconds: super::intent::DEFAULT_LEASE_SECONDS,
        }
    }

    /// A ledger whose operations count as dead `seconds` after they started (at least
    /// 1). Every instance on one store must use the same lease.
    pub fn with_lease(store: &'s S, seconds: i64) -> Self {
        Self {
            store,
            lease_seconds: seconds.max(1),
        }
    }

    pub fn catalog(&self) -> StockResult<StockCatalog> {
        Ok(self.store.get_json(keys::CATALOG)?.unwrap_or_default())
    }

    /// Change the catalog by `change`, serialized with every other change of it
    /// ([`update_json`]: no change is lost when operators edit at once, and reserves
    /// still read one key). `pause` waits a moment when another change is being written
    /// (the shell sleeps; `false` gives up with [`StockError::InFlight`]).
    fn change_catalog(
        &self,
        change: impl FnMut(StockCatalog) -> StockResult<StockCatalog>,
        pause: &mut dyn FnMut() -> bool,
    ) -> StockResult<StockCatalog> {
        let mut change = change;
        match update_json(
            self.store,
            keys::CATALOG,
            |current: Option<StockCatalog>| change(current.unwrap_or_default()),
            pause,
        ) {
            Ok(result) => result,
            Err(UpdateError::Store(e)) => Err(StockError::Store(e)),
            Err(UpdateError::Busy(key)) => Err(StockError::InFlight(key)),
            Err(e @ UpdateError::Corrupt(..)) => Err(StockError::Store(
                crate::store::StoreError::Backend(e.to_string()),
            )),
        }
    }

    /// Replaces the stock configuration (admin). Validated first; nothing is written on
    /// error.
    pub fn put_catalog(
        &self,
        catalog: &StockCatalog,
        pause: &mut dyn FnMut() -> bool,
    ) -> StockResult<()> {
        check_catalog(catalog)?;
        self.change_catalog(|_| Ok(catalog.clone()), pause)?;
        Ok(())
    }

    /// Adds a warehouse or replaces the one with its id, leaving every other warehouse
    /// and every channel policy as it is.
    pub fn put_warehouse(
        &self,
        warehouse: &Warehouse,
        pause: &mut dyn FnMut() -> bool,
    ) -> StockResult<StockCatalog> {
        check_warehouse(warehouse)?;
        self.change_catalog(
            |mut catalog| {
                match catalog.warehouses.iter_mut().find(|w| w.id == warehouse.id) {
                    Some(existing) => *existing = warehouse.clone(),
                    None => catalog.warehouses.push(warehouse.clone()),
                }
                Ok(catalog)
            },
            pause,
        )
    }

    /// Sets one channel's policy, leaving the other channels and the warehouses as they
    /// are. The warehouses it names must exist.
    pub fn put_channel_policy(
        &self,
        channel: &ChannelId,
        policy: &ChannelPolicy,
        pause: &mut dyn FnMut() -> bool,
    ) -> StockResult<StockCatalog> {
        if channel.0.is_empty() || channel.0.len() > 64 {
            return Err(StockError::InvalidCatalog(
                "a channel id is 1 to 64 bytes".to_string(),
            ));
        }
        self.change_catalog(
            |mut catalog| {
                check_policy(channel, policy, |wh| catalog.warehouse(wh).is_some())?;
                catalog.channels.insert(channel.clone(), policy.clone());
                Ok(catalog)
            },
            pause,
        )
    }

    /// Registers a SKU (or replaces its safety stock). A SKU must be defined before it
    /// can be adjusted or reserved.
    pub fn define_sku(&self, item: &SkuStock) -> StockResult<()> {
        if !valid_id(&item.sku.0) {
            return Err(StockError::InvalidCatalog(format!(
                "SKU id `{}` is not key-safe",
                item.sku.0
            )));
        }
        let catalog = self.catalog()?;
        if let Some(wh) = item
            .safety
            .keys()
            .find(|wh| catalog.warehouse(wh).is_none())
        {
            return Err(StockError::unknown_warehouse(wh));
        }
        Ok(self.store.set_json(&keys::sku(&item.sku), item)?)
    }

    pub fn sku(&self, sku: &SkuId) -> StockResult<Option<SkuStock>> {
        Ok(self.store.get_json(&keys::sku(sku))?)
    }

    /// Current counters of one (SKU, warehouse).
    pub fn level(&self, sku: &SkuId, warehouse: &WarehouseId) -> StockResult<StockLevel> {
        let item = self.sku(sku)?.ok_or_else(|| StockError::unknown_sku(sku))?;
        if self.catalog()?.warehouse(warehouse).is_none() {
            return Err(StockError::unknown_warehouse(warehouse));
        }
        Ok(StockLevel {
            on_hand: read(self.store, &keys::on_hand(sku, warehouse))?,
            reserved: read(self.store, &keys::reserved(sku, warehouse))?,
            shipped: read(self.store, &keys::shipped(sku, warehouse))?,
            safety: item.safety_at(warehouse),
        })
    }

    /// Each synced channel's sellable quantity of `sku` right now.
    pub fn sellable(&self, sku: &SkuId) -> StockResult<BTreeMap<crate::order::ChannelId, u64>> {
        let item = self.sku(sku)?.ok_or_else(|| StockError::unknown_sku(sku))?;
        journal::sellable_now(self.store, &self.catalog()?, &item)
    }

    /// Catalog, the SKUs' settings and (optionally) an order's reservation, in one read.
    pub(super) fn load(
        &self,
        skus: &[&SkuId],
        order: Option<&crate::order::OrderId>,
    ) -> StockResult<Loaded> {
        let mut wanted: Vec<String> = vec![keys::CATALOG.to_string()];
        wanted.extend(order.map(keys::reservation));
        let first_sku = wanted.len();
        wanted.extend(skus.iter().map(|sku| keys::sku(sku)));
        let values = self.store.get_many(&wanted)?;
        let at = |i: usize| (wanted[i].as_str(), values.get(i).and_then(Option::as_ref));
        let catalog: StockCatalog = decode(at(0))?.unwrap_or_default();
        let prior: Option<Reservation> = match order {
            Some(_) => decode(at(1))?,
            None => None,
        };
        let mut items = BTreeMap::new();
        for (i, sku) in skus.iter().enumerate() {
            let item: SkuStock =
                decode(at(first_sku + i))?.ok_or_else(|| StockError::unknown_sku(sku))?;
            items.insert((*sku).clone(), item);
        }
        Ok(Loaded {
            catalog,
            items,
            prior,
        })
    }
}

/// Warehouse ids key-safe and listed once; channel policies consistent with them.
fn check_catalog(catalog: &StockCatalog) -> StockResult<()> {
    let mut ids = BTreeSet::new();
    for wh in &catalog.warehouses {
        check_warehouse(wh)?;
        if !ids.insert(&wh.id) {
            return Err(StockError::InvalidCatalog(format!(
                "warehouse `{}` listed twice",
                wh.id
            )));
        }
    }
    for (channel, policy) in &catalog.channels {
        check_policy(channel, policy, |wh| ids.contains(wh))?;
    }
    Ok(())
}

fn check_warehouse(wh: &Warehouse) -> StockResult<()> {
    if valid_id(&wh.id.0) {
        Ok(())
    } else {
        Err(StockError::InvalidCatalog(format!(
            "warehouse id `{}` is not key-safe",
            wh.id
        )))
    }
}

/// A channel policy names only warehouses `known` says exist, shares at most 100% and
/// holds 1 s to 7 days.
fn check_policy(
    channel: &ChannelId,
    policy: &ChannelPolicy,
    known: impl Fn(&WarehouseId) -> bool,
) -> StockResult<()> {
    let named = policy
        .warehouses
        .iter()
        .flatten()
        .chain(policy.shares.keys());
    if let Some(wh) = named.into_iter().find(|wh| !known(wh)) {
        return Err(StockError::unknown_warehouse(wh));
    }
    if policy.shares.values().any(|s| s.ratio_bp > 10_000) {
        return Err(StockError::InvalidCatalog(format!(
            "channel `{channel}`: ratio above 100%"
        )));
    }
    if !(1..=MAX_HOLD_SECONDS).contains(&policy.hold_seconds) {
        return Err(StockError::InvalidCatalog(format!(
            "channel `{channel}`: hold must be 1 s to 7 days"
        )));
    }
    Ok(())
}

/// A stored JSON value; one that does not parse is a store fault (503), not bad input.
pub(super) fn decode<T: serde::de::DeserializeOwned>(
    (key, bytes): (&str, Option<&Vec<u8>>),
) -> StockResult<Option<T>> {
    bytes
        .map(|b| serde_json::from_slice(b))
        .transpose()
        .map_err(|e| StockError::Store(crate::store::StoreError::Backend(format!("`{key}`: {e}"))))
}

pub(super) fn to_bytes<T: Serialize>(value: &T) -> StockResult<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| StockError::Store(crate::store::StoreError::Backend(e.to_string())))
}
