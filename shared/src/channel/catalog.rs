//! Where a channel's configuration and SKU mapping come from: the `catalog` store,
//! written through the admin API, falling back to the built-in defaults of the six
//! channels. A stored config overrides the built-in one, so a deployment can change a
//! platform's signature encoding or acknowledgement without a rebuild, and a new
//! JSON channel exists as soon as its config is stored.
//!
//! Keys: `channel/{id}` (a [`ChannelConfig`] as JSON), `skus/{id}` (a [`SkuMap`]),
//! `pricing/{id}` (the channel's `PricingRules`, optional).

use super::config::ChannelConfig;
use super::sku::SkuMap;
use crate::store::{KeyValue, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("no channel `{0}`: not built in and no configuration stored")]
    UnknownChannel(String),
    #[error("stored configuration of channel `{id}` is invalid: {detail}")]
    InvalidConfig { id: String, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
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

/// The channel's pricing rules, when an operator stored some: orders of that channel
/// are then checked against the one calculation (`pricing::check_platform_order`).
pub fn load_pricing(
    store: &impl KeyValue,
    id: &str,
) -> Result<Option<crate::pricing::PricingRules>, CatalogError> {
    match store.get(&pricing_key(id))? {
        None => Ok(None),
        Some(bytes) => crate::pricing::parse_rules(&String::from_utf8_lossy(&bytes))
            .map(Some)
            .map_err(|errs| CatalogError::InvalidConfig {
                id: id.to_string(),
                detail: format!("pricing rules: {}", errs.join("; ")),
            }),
    }
}

/// Validate and store a channel's pricing rules; the errors, with paths, otherwise.
pub fn put_pricing(
    store: &impl KeyValue,
    id: &str,
    json: &str,
) -> Result<Result<crate::pricing::PricingRules, Vec<String>>, CatalogError> {
    match crate::pricing::parse_rules(json) {
        Ok(rules) => {
            store.set(&pricing_key(id), json.as_bytes())?;
            Ok(Ok(rules))
        }
        Err(errors) => Ok(Err(errors)),
    }
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

pub fn put_sku_map(store: &impl KeyValue, id: &str, json: &[u8]) -> Result<SkuMap, CatalogError> {
    let map: SkuMap = serde_json::from_slice(json).map_err(|e| CatalogError::InvalidConfig {
        id: id.to_string(),
        detail: format!("SKU map: {e}"),
    })?;
    let bytes = serde_json::to_vec(&map)
        .map_err(|e| CatalogError::Store(StoreError::Backend(e.to_string())))?;
    store.set(&skus_key(id), &bytes)?;
    Ok(map)
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
    fn sku_maps_round_trip() {
        let s = MemoryStore::new();
        assert!(load_sku_map(&s, "meituan").unwrap().entries.is_empty());
        put_sku_map(
            &s,
            "meituan",
            br#"{"MT-1":{"sku":"SKU-1","zone":"chilled","unit_weight_g":500}}"#,
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
        assert!(put_sku_map(&s, "meituan", b"[1]").is_err());
    }
}
