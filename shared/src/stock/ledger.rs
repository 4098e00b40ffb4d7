//! The ledger handle and its configuration (catalog, SKUs, levels).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::order::{ChannelId, SkuId};
use crate::store::{index_once, KeyValue};

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
        Self { store }
    }

    /// The effective stock configuration: the stored catalog with every warehouse and
    /// channel policy set one at a time since ([`Self::put_warehouse`],
    /// [`Self::put_channel_policy`]).
    pub fn catalog(&self) -> StockResult<StockCatalog> {
        let names = self.entry_names()?;
        let mut wanted = vec![keys::CATALOG.to_string()];
        wanted.extend(names.iter().map(|n| keys::catalog_entry(n)));
        let values = self.store.get_many(&wanted)?;
        let at = |i: usize| (wanted[i].as_str(), values.get(i).and_then(Option::as_ref));
        let mut catalog: StockCatalog = decode(at(0))?.unwrap_or_default();
        for (i, name) in names.iter().enumerate() {
            apply_entry(&mut catalog, name, at(1 + i))?;
        }
        Ok(catalog)
    }

    /// The names of the catalog entries set one at a time (`wh:{id}`, `ch:{channel}`).
    fn entry_names(&self) -> StockResult<Vec<String>> {
        Ok(crate::store::indexed(self.store, keys::CATALOG_ENTRIES)?)
    }

    /// Replaces the whole stock configuration (admin), warehouses and channel policies
    /// set one at a time included. Validated first; nothing is written on error.
    pub fn put_catalog(&self, catalog: &StockCatalog) -> StockResult<()> {
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
        let mut writes = vec![(keys::CATALOG.to_string(), to_bytes(catalog)?)];
        for name in self.entry_names()? {
            writes.push((keys::catalog_entry(&name), b"null".to_vec()));
        }
        Ok(self.store.set_many(&writes)?)
    }

    /// Adds a warehouse or replaces the one with its id, leaving every other warehouse
    /// and policy as it is: operators of different warehouses may set theirs at once
    /// (each is its own key, no read-modify-write).
    pub fn put_warehouse(&self, warehouse: &Warehouse) -> StockResult<()> {
        check_warehouse(warehouse)?;
        let name = format!("wh:{}", warehouse.id);
        index_once(self.store, keys::CATALOG_ENTRIES, &name)?;
        Ok(self
            .store
            .set_json(&keys::catalog_entry(&name), &Some(warehouse))?)
    }

    /// Sets one channel's policy, leaving the others and the warehouses as they are.
    /// The warehouses it names must exist.
    pub fn put_channel_policy(
        &self,
        channel: &ChannelId,
        policy: &ChannelPolicy,
    ) -> StockResult<()> {
        if channel.0.is_empty() || channel.0.len() > 64 {
            return Err(StockError::InvalidCatalog(
                "a channel id is 1 to 64 bytes".to_string(),
            ));
        }
        let catalog = self.catalog()?;
        check_policy(channel, policy, |wh| catalog.warehouse(wh).is_some())?;
        let name = format!("ch:{}", channel.0);
        index_once(self.store, keys::CATALOG_ENTRIES, &name)?;
        Ok(self
            .store
            .set_json(&keys::catalog_entry(&name), &Some(policy))?)
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

    /// Catalog, the SKUs' settings and (optionally) an order's reservation, in one read
    /// (after the list of catalog entries set one at a time).
    pub(super) fn load(
        &self,
        skus: &[&SkuId],
        order: Option<&crate::order::OrderId>,
    ) -> StockResult<Loaded> {
        let names = self.entry_names()?;
        let mut wanted: Vec<String> = vec![keys::CATALOG.to_string()];
        wanted.extend(order.map(keys::reservation));
        let first_sku = wanted.len();
        wanted.extend(skus.iter().map(|sku| keys::sku(sku)));
        let first_entry = wanted.len();
        wanted.extend(names.iter().map(|n| keys::catalog_entry(n)));
        let values = self.store.get_many(&wanted)?;
        let at = |i: usize| (wanted[i].as_str(), values.get(i).and_then(Option::as_ref));
        let mut catalog: StockCatalog = decode(at(0))?.unwrap_or_default();
        for (i, name) in names.iter().enumerate() {
            apply_entry(&mut catalog, name, at(first_entry + i))?;
        }
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

/// Lay one entry set on its own over the stored catalog: a warehouse replaces the one
/// with its id (or joins the list), a policy its channel's; `null` (the catalog was
/// replaced since) changes nothing.
fn apply_entry(
    catalog: &mut StockCatalog,
    name: &str,
    value: (&str, Option<&Vec<u8>>),
) -> StockResult<()> {
    if let Some(id) = name.strip_prefix("wh:") {
        let Some(wh) = decode::<Option<Warehouse>>(value)?.flatten() else {
            return Ok(());
        };
        debug_assert_eq!(wh.id.0, id);
        match catalog.warehouses.iter_mut().find(|w| w.id == wh.id) {
            Some(existing) => *existing = wh,
            None => catalog.warehouses.push(wh),
        }
    } else if let Some(channel) = name.strip_prefix("ch:") {
        if let Some(policy) = decode::<Option<ChannelPolicy>>(value)?.flatten() {
            catalog.channels.insert(ChannelId::new(channel), policy);
        }
    }
    Ok(())
}

/// A stored JSON value; one that does not parse is a store fault (503), not bad input.
fn decode<T: serde::de::DeserializeOwned>(
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
