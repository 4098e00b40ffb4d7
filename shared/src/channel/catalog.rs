//! Where a channel's configuration and SKU mapping come from: the `catalog` store,
//! written through the admin API, falling back to the built-in defaults of the six
//! channels. A stored config overrides the built-in one, so a deployment can change a
//! platform's signature encoding or acknowledgement without a rebuild, and a new
//! JSON channel exists as soon as its config is stored.
//!
//! Keys: `channel/{id}` (a [`ChannelConfig`] as JSON), `skus/{id}` (a [`SkuMap`],
//! changed one writer at a time: `skus/{id}/version` and `skus/{id}/claim/{v}`,
//! [`update_json`], so operators setting different SKUs at once never lose one and a
//! push still reads one key), `pricing/{id}` (the channel's `PricingRules`, optional)
//! and `pricing/{id}/store/{store}` (one store's own rules on that channel, optional,
//! a key of its own).

use super::config::ChannelConfig;
use super::sku::{SkuEntry, SkuMap};
use super::ChannelEvent;
use crate::pricing::PricingRules;
use crate::store::{key_part, update_json, KeyValue, StoreError, UpdateError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("no channel `{0}`: not built in and no configuration stored")]
    UnknownChannel(String),
    #[error("stored configuration of channel `{id}` is invalid: {detail}")]
    InvalidConfig { id: String, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another change of the same value kept it busy for as long as the caller waited.
    #[error("`{0}` is being changed by another request: try again")]
    Busy(String),
}

impl From<UpdateError> for CatalogError {
    fn from(e: UpdateError) -> Self {
        match e {
            UpdateError::Store(s) => CatalogError::Store(s),
            UpdateError::Busy(key) => CatalogError::Busy(key),
            UpdateError::Corrupt(key, detail) => CatalogError::InvalidConfig { id: key, detail },
        }
    }
}

fn config_key(id: &str) -> String {
    format!("channel/{id}")
}

fn skus_key(id: &str) -> String {
    format!("skus/{id}")
}

fn pricing_key(id: &str) -> String {
    format!("pricing/{id}")
}

fn store_pricing_key(id: &str, store_id: &str) -> String {
    format!("pricing/{id}/store/{}", key_part(store_id))
}

fn read_rules(
    store: &impl KeyValue,
    id: &str,
    key: &str,
) -> Result<Option<PricingRules>, CatalogError> {
    match store.get(key)? {
        None => Ok(None),
        Some(bytes) => crate::pricing::parse_rules(&String::from_utf8_lossy(&bytes))
            .map(Some)
            .map_err(|errs| CatalogError::InvalidConfig {
                id: id.to_string(),
                detail: format!("pricing rules: {}", errs.join("; ")),
            }),
    }
}

fn write_rules(
    store: &impl KeyValue,
    key: &str,
    json: &str,
) -> Result<Result<PricingRules, Vec<String>>, CatalogError> {
    match crate::pricing::parse_rules(json) {
        Ok(rules) => {
            store.set(key, json.as_bytes())?;
            Ok(Ok(rules))
        }
        Err(errors) => Ok(Err(errors)),
    }
}

/// The channel's pricing rules, when an operator stored some: orders of that channel
/// are then checked against the one calculation (`pricing::check_platform_order`).
pub fn load_pricing(store: &impl KeyValue, id: &str) -> Result<Option<PricingRules>, CatalogError> {
    read_rules(store, id, &pricing_key(id))
}

/// Validate and store a channel's pricing rules; the errors, with paths, otherwise.
pub fn put_pricing(
    store: &impl KeyValue,
    id: &str,
    json: &str,
) -> Result<Result<PricingRules, Vec<String>>, CatalogError> {
    write_rules(store, &pricing_key(id), json)
}

/// One store's own pricing rules on the channel (its own 满减 tiers, delivery and
/// packaging fees, as the platforms let each shop set), if it has some.
pub fn load_store_pricing(
    store: &impl KeyValue,
    id: &str,
    store_id: &str,
) -> Result<Option<PricingRules>, CatalogError> {
    read_rules(store, id, &store_pricing_key(id, store_id))
}

/// Validate and store one store's pricing rules on the channel.
pub fn put_store_pricing(
    store: &impl KeyValue,
    id: &str,
    store_id: &str,
    json: &str,
) -> Result<Result<PricingRules, Vec<String>>, CatalogError> {
    if store_id.is_empty() || store_id.len() > 128 {
        return Ok(Err(vec!["$: a store code is 1 to 128 bytes".to_string()]));
    }
    write_rules(store, &store_pricing_key(id, store_id), json)
}

/// The rules an order of `store_id` on the channel is priced by: the store's own, else
/// the channel's, else none.
pub fn pricing_for(
    store: &impl KeyValue,
    id: &str,
    store_id: Option<&str>,
) -> Result<Option<PricingRules>, CatalogError> {
    if let Some(s) = store_id {
        if let Some(rules) = load_store_pricing(store, id, s)? {
            return Ok(Some(rules));
        }
    }
    load_pricing(store, id)
}

/// Re-price every order among `events` by the rules of its store on the channel
/// ([`pricing_for`]), flagging a disagreement with the platform's figures as a
/// `price_mismatch` exception (kept, never dropped). Orders with no rules are left as
/// they are.
pub fn flag_price_mismatches(
    store: &impl KeyValue,
    id: &str,
    events: &mut [ChannelEvent],
) -> Result<(), CatalogError> {
    flag_price_mismatches_cached(store, id, events, &mut PricingCache::default())
}

/// The pricing rules already read, per channel and per (channel, store), absent ones
/// included. Most stores have no rules of their own and most channels none at all, so
/// without it every order costs two `get`s of keys that are not there; a drain batch
/// that keeps one cache for all its items reads each (channel, store) once. The rules
/// are then those of the moment the batch first needed them: a change an operator
/// makes during a batch applies from the next one.
#[derive(Debug, Default, Clone)]
pub struct PricingCache {
    channels: std::collections::HashMap<String, Option<PricingRules>>,
    stores: std::collections::HashMap<(String, String), Option<PricingRules>>,
}

impl PricingCache {
    /// [`pricing_for`], each key read at most once per cache.
    pub fn rules_for(
        &mut self,
        store: &impl KeyValue,
        id: &str,
        store_id: Option<&str>,
    ) -> Result<Option<PricingRules>, CatalogError> {
        if let Some(s) = store_id {
            let key = (id.to_string(), s.to_string());
            let own = match self.stores.get(&key) {
                Some(known) => known.clone(),
                None => {
                    let read = load_store_pricing(store, id, s)?;
                    self.stores.insert(key, read.clone());
                    read
                }
            };
            if own.is_some() {
                return Ok(own);
            }
        }
        if let Some(known) = self.channels.get(id) {
            return Ok(known.clone());
        }
        let read = load_pricing(store, id)?;
        self.channels.insert(id.to_string(), read.clone());
        Ok(read)
    }
}

/// Channels' SKU maps read at most once per cache (one per drain batch, like
/// [`PricingCache`]).
#[derive(Debug, Default, Clone)]
pub struct SkuMapCache {
    maps: std::collections::HashMap<String, SkuMap>,
}

impl SkuMapCache {
    /// [`load_sku_map`], each channel read at most once per cache.
    pub fn map_for(&mut self, store: &impl KeyValue, id: &str) -> Result<&SkuMap, CatalogError> {
        use std::collections::hash_map::Entry;
        Ok(match self.maps.entry(id.to_string()) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(slot) => slot.insert(load_sku_map(store, id)?),
        })
    }
}

/// [`flag_price_mismatches`] with rules read through `cache`: one cache for a whole
/// drain batch reads each (channel, store)'s rules once instead of once per order.
pub fn flag_price_mismatches_cached(
    store: &impl KeyValue,
    id: &str,
    events: &mut [ChannelEvent],
    cache: &mut PricingCache,
) -> Result<(), CatalogError> {
    for ev in events.iter_mut() {
        let ChannelEvent::Order { order } = ev else {
            continue;
        };
        let Some(rules) = cache.rules_for(store, id, order.store_id.as_deref())? else {
            continue;
        };
        crate::pricing::flag_price_mismatches(std::slice::from_mut(ev), &rules);
    }
    Ok(())
}

/// The channel's effective configuration.
pub fn load_config(store: &impl KeyValue, id: &str) -> Result<ChannelConfig, CatalogError> {
    match store.get(&config_key(id))? {
        Some(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            ChannelConfig::from_json(&text).map_err(|e| CatalogError::InvalidConfig {
                id: id.to_string(),
                detail: e.to_string(),
            })
        }
        None => {
            ChannelConfig::builtin(id).ok_or_else(|| CatalogError::UnknownChannel(id.to_string()))
        }
    }
}

/// Validate and store a channel's configuration (its `id` must match `id`).
pub fn put_config(
    store: &impl KeyValue,
    id: &str,
    json: &[u8],
) -> Result<ChannelConfig, CatalogError> {
    let invalid = |detail: String| CatalogError::InvalidConfig {
        id: id.to_string(),
        detail,
    };
    let text = std::str::from_utf8(json).map_err(|e| invalid(e.to_string()))?;
    let cfg = ChannelConfig::from_json(text).map_err(|e| invalid(e.to_string()))?;
    if cfg.id.as_str() != id {
        return Err(invalid(format!(
            "config id `{}` does not match the route's `{id}`",
            cfg.id
        )));
    }
    store.set(&config_key(id), text.as_bytes())?;
    Ok(cfg)
}

/// Remove a channel's stored configuration: a built-in channel is back to its built-in
/// one, a configured channel is unknown again (its pushes are refused). Its SKU map and
/// pricing rules stay for a later configuration. Whether one was stored.
pub fn delete_config(store: &impl KeyValue, id: &str) -> Result<bool, CatalogError> {
    let had = store.exists(&config_key(id))?;
    if had {
        store.delete(&config_key(id))?;
    }
    Ok(had)
}

/// The channel's SKU mapping; empty when none is stored (every line then becomes an
/// `unknown_sku` exception on a kept order, never a dropped one).
pub fn load_sku_map(store: &impl KeyValue, id: &str) -> Result<SkuMap, CatalogError> {
    match store.get(&skus_key(id))? {
        None => Ok(SkuMap::new()),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| CatalogError::InvalidConfig {
            id: id.to_string(),
            detail: format!("SKU map: {e}"),
        }),
    }
}

/// Change the channel's SKU map, serialized with every other change of it
/// ([`update_json`]); `pause` waits while another is written (`false`: give up, Busy).
fn change_sku_map(
    store: &impl KeyValue,
    id: &str,
    mut change: impl FnMut(SkuMap) -> SkuMap,
    pause: &mut dyn FnMut() -> bool,
) -> Result<SkuMap, CatalogError> {
    update_json(
        store,
        &skus_key(id),
        |current: Option<SkuMap>| Ok::<_, CatalogError>(change(current.unwrap_or_default())),
        pause,
    )?
}

/// Replace the channel's whole SKU mapping.
pub fn put_sku_map(
    store: &impl KeyValue,
    id: &str,
    json: &[u8],
    pause: &mut dyn FnMut() -> bool,
) -> Result<SkuMap, CatalogError> {
    let map: SkuMap = serde_json::from_slice(json).map_err(|e| CatalogError::InvalidConfig {
        id: id.to_string(),
        detail: format!("SKU map: {e}"),
    })?;
    change_sku_map(store, id, |_| map.clone(), pause)
}

/// Add or replace one SKU of the channel's mapping, leaving the others as they are.
pub fn put_sku_entry(
    store: &impl KeyValue,
    id: &str,
    channel_sku: &str,
    json: &[u8],
    pause: &mut dyn FnMut() -> bool,
) -> Result<SkuEntry, CatalogError> {
    let invalid = |detail: String| CatalogError::InvalidConfig {
        id: id.to_string(),
        detail,
    };
    let code = channel_sku.trim();
    if code.is_empty() || code.len() > 128 {
        return Err(invalid("a channel SKU code is 1 to 128 bytes".into()));
    }
    let entry: SkuEntry =
        serde_json::from_slice(json).map_err(|e| invalid(format!("SKU `{code}`: {e}")))?;
    change_sku_map(
        store,
        id,
        |mut map| {
            map.entries.insert(code.to_string(), entry.clone());
            map
        },
        pause,
    )?;
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn built_in_channels_need_no_stored_config() {
        let s = MemoryStore::new();
        assert_eq!(load_config(&s, "meituan").unwrap().id.as_str(), "meituan");
        assert_eq!(
            load_config(&s, "nope"),
            Err(CatalogError::UnknownChannel("nope".into()))
        );
    }

    #[test]
    fn stored_config_overrides_and_is_validated() {
        let s = MemoryStore::new();
        let cfg = put_config(&s, "meituan", br#"{"id":"meituan","max_body_bytes":1024}"#).unwrap();
        assert_eq!(cfg.max_body_bytes, 1024);
        assert_eq!(load_config(&s, "meituan").unwrap().max_body_bytes, 1024);
        // Above what the webhook edge reads: refused, not silently capped.
        let too_big = format!(
            r#"{{"id":"meituan","max_body_bytes":{}}}"#,
            crate::limits::WEBHOOK_BODY_MAX + 1
        );
        assert!(matches!(
            put_config(&s, "meituan", too_big.as_bytes()),
            Err(CatalogError::InvalidConfig { .. })
        ));
        assert!(matches!(
            put_config(&s, "eleme", br#"{"id":"meituan"}"#),
            Err(CatalogError::InvalidConfig { .. })
        ));
        assert!(matches!(
            put_config(&s, "x", b"{"),
            Err(CatalogError::InvalidConfig { .. })
        ));
    }

    #[test]
    fn a_deleted_config_falls_back_to_the_built_in_or_nothing() {
        let s = MemoryStore::new();
        assert!(!delete_config(&s, "meituan").unwrap());
        put_config(&s, "meituan", br#"{"id":"meituan","max_body_bytes":1024}"#).unwrap();
        assert!(delete_config(&s, "meituan").unwrap());
        assert_ne!(load_config(&s, "meituan").unwrap().max_body_bytes, 1024);
        assert!(!delete_config(&s, "meituan").unwrap());
    }

    #[test]
    fn sku_entries_set_one_at_a_time_leave_the_others() {
        let s = MemoryStore::new();
        let go = &mut || true;
        put_sku_map(
            &s,
            "meituan",
            br#"{"MT-1":{"sku":"SKU-1"},"MT-2":{"sku":"SKU-2"}}"#,
            go,
        )
        .unwrap();
        put_sku_entry(
            &s,
            "meituan",
            "MT-3",
            br#"{"sku":"SKU-3","zone":"frozen"}"#,
            go,
        )
        .unwrap();
        put_sku_entry(&s, "meituan", " MT-1 ", br#"{"sku":"SKU-1B"}"#, go).unwrap();
        put_sku_entry(&s, "eleme", "MT-9", br#"{"sku":"SKU-9"}"#, go).unwrap();
        let map = load_sku_map(&s, "meituan").unwrap();
        let skus: Vec<(&str, &str)> = map
            .entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.sku.0.as_str()))
            .collect();
        assert_eq!(
            skus,
            vec![("MT-1", "SKU-1B"), ("MT-2", "SKU-2"), ("MT-3", "SKU-3")]
        );
        assert!(put_sku_entry(&s, "meituan", "MT-4", b"{}", go).is_err());
        assert!(put_sku_entry(&s, "meituan", " ", br#"{"sku":"X"}"#, go).is_err());
        // Replacing the whole map replaces the entries set on their own too.
        put_sku_map(&s, "meituan", br#"{"MT-5":{"sku":"SKU-5"}}"#, go).unwrap();
        let map = load_sku_map(&s, "meituan").unwrap();
        assert_eq!(map.entries.keys().collect::<Vec<_>>(), vec!["MT-5"]);
        assert_eq!(load_sku_map(&s, "eleme").unwrap().entries.len(), 1);
    }

    /// Pricing rules with only a delivery base fee, as the admin API takes them.
    fn pricing_rules_json(base: &str) -> String {
        format!(
            r#"{{"thresholds": [], "delivery": {{"base": "{base}", "free_over": null,
                 "included_weight_g": 0, "surcharge_per_step": "0", "step_g": 1000}},
                 "packaging": {{"per_order": "0", "per_unit": "0"}}, "tolerance": "0.01"}}"#
        )
    }

    #[test]
    fn a_store_prices_by_its_own_rules_else_the_channels() {
        use crate::merge::fixtures::{home, order};
        let s = MemoryStore::new();
        let rules = pricing_rules_json;
        assert_eq!(pricing_for(&s, "app", Some("store-1")).unwrap(), None);
        put_pricing(&s, "app", &rules("5")).unwrap().unwrap();
        put_store_pricing(&s, "app", "store-2", &rules("4"))
            .unwrap()
            .unwrap();
        assert!(put_store_pricing(&s, "app", "store-2", "{")
            .unwrap()
            .is_err());
        assert!(put_store_pricing(&s, "app", "", &rules("4"))
            .unwrap()
            .is_err());
        let base = |store: Option<&str>| {
            pricing_for(&s, "app", store)
                .unwrap()
                .unwrap()
                .delivery
                .base
                .to_string()
        };
        assert_eq!(base(Some("store-1")), "5");
        assert_eq!(base(Some("store-2")), "4");
        assert_eq!(base(None), "5");
        assert!(load_store_pricing(&s, "app", "store-1").unwrap().is_none());

        // Each order is checked against its own store's rules.
        let mut o = order("app", "A1", "phone:13800000000", home(), 0);
        o.money.delivery_fee = rust_decimal_macros::dec!(5);
        o.money.paid += o.money.delivery_fee;
        let mut events = vec![
            ChannelEvent::Order {
                order: Box::new(o.clone()),
            },
            ChannelEvent::Order {
                order: Box::new(crate::order::Order {
                    store_id: Some("store-2".into()),
                    ..o
                }),
            },
        ];
        flag_price_mismatches(&s, "app", &mut events).unwrap();
        let flagged: Vec<bool> = events
            .iter()
            .map(|e| match e {
                ChannelEvent::Order { order } => order
                    .exceptions
                    .iter()
                    .any(|x| x.code == crate::order::ExceptionCode::PriceMismatch),
                _ => false,
            })
            .collect();
        assert_eq!(
            flagged,
            vec![false, true],
            "store-2 charges 4 for delivery, the order 5"
        );
    }

    #[test]
    fn sku_maps_round_trip() {
        let s = MemoryStore::new();
        assert!(load_sku_map(&s, "meituan").unwrap().entries.is_empty());
        put_sku_map(
            &s,
            "meituan",
            br#"{"MT-1":{"sku":"SKU-1","zone":"chilled","unit_weight_g":500}}"#,
            &mut || true,
        )
        .unwrap();
        assert_eq!(
            load_sku_map(&s, "meituan")
                .unwrap()
                .get("MT-1")
                .unwrap()
                .sku
                .0,
            "SKU-1"
        );
        assert!(put_sku_map(&s, "meituan", b"[1]", &mut || true).is_err());
    }

    #[test]
    fn a_cache_answers_as_pricing_for_and_reads_each_key_once() {
        let s = MemoryStore::new();
        let rules = pricing_rules_json;
        let stores = [Some("store-1"), Some("store-2"), None];
        let mut cache = PricingCache::default();
        for st in stores {
            assert_eq!(cache.rules_for(&s, "app", st).unwrap(), None);
        }
        put_pricing(&s, "app", &rules("5")).unwrap().unwrap();
        put_store_pricing(&s, "app", "store-2", &rules("4"))
            .unwrap()
            .unwrap();
        // A cache is a snapshot: the one above still answers what it read.
        assert_eq!(cache.rules_for(&s, "app", Some("store-2")).unwrap(), None);
        let mut fresh = PricingCache::default();
        for st in stores {
            assert_eq!(
                fresh.rules_for(&s, "app", st).unwrap(),
                pricing_for(&s, "app", st).unwrap()
            );
        }
        // Everything it needs is in the cache now: an empty store answers the same.
        let empty = MemoryStore::new();
        for st in stores {
            assert_eq!(
                fresh.rules_for(&empty, "app", st).unwrap(),
                pricing_for(&s, "app", st).unwrap()
            );
        }
    }
}
