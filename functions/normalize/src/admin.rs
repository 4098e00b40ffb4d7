//! `/admin/channels/{id}`: a channel's configuration, SKU mapping and pricing rules,
//! validated by the core before they are stored. A new JSON channel is added here, with no code and no
//! rebuild (see docs/channels.md).

use orderhub_core::channel::catalog::{self, CatalogError};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{invalid, json, ApiError};
use spin_sdk::http::Response;

fn to_api(e: CatalogError) -> ApiError {
    match e {
        CatalogError::UnknownChannel(_) => ApiError::not_found("unknown_channel", e.to_string()),
        CatalogError::InvalidConfig { .. } => {
            ApiError::new(422, "invalid_channel_config", e.to_string())
        }
        CatalogError::Store(s) => ApiError::store(s),
        CatalogError::Busy(_) => ApiError::new(409, "in_flight", e.to_string()),
    }
}

pub fn get_config(id: &str) -> Result<Response, ApiError> {
    let store = Bucket::open("catalog")?;
    let cfg = catalog::load_config(&store, id).map_err(to_api)?;
    Ok(json(200, &cfg))
}

pub fn put_config(id: &str, body: &[u8]) -> Result<Response, ApiError> {
    let store = Bucket::open("catalog")?;
    let cfg = catalog::put_config(&store, id, body).map_err(to_api)?;
    Ok(json(200, &cfg))
}

/// `DELETE /admin/channels/{id}`: the stored configuration goes (a built-in channel
/// keeps its built-in one, a configured channel is unknown again).
pub fn delete_config(id: &str) -> Result<Response, ApiError> {
    let store = Bucket::open("catalog")?;
    if catalog::delete_config(&store, id).map_err(to_api)? {
        Ok(json(
            200,
            &serde_json::json!({ "channel": id, "removed": true }),
        ))
    } else {
        Err(ApiError::not_found(
            "no_stored_config",
            format!("channel `{id}` has no stored configuration"),
        ))
    }
}

pub fn put_skus(id: &str, body: &[u8]) -> Result<Response, ApiError> {
    let store = Bucket::open("catalog")?;
    let map = catalog::put_sku_map(&store, id, body, &mut orderhub_shell::wait::patience())
        .map_err(to_api)?;
    Ok(json(
        200,
        &serde_json::json!({ "channel": id, "skus": map.entries.len() }),
    ))
}

/// `PUT /admin/channels/{id}/skus/{code}`: one SKU of the channel's mapping, the
/// others left as they are.
pub fn put_sku(id: &str, code: &str, body: &[u8]) -> Result<Response, ApiError> {
    let store = Bucket::open("catalog")?;
    let entry = catalog::put_sku_entry(
        &store,
        id,
        code,
        body,
        &mut orderhub_shell::wait::patience(),
    )
    .map_err(to_api)?;
    Ok(json(
        200,
        &serde_json::json!({ "channel": id, "code": code.trim(), "entry": entry }),
    ))
}

/// A store's own pricing rules on the channel (404 when it prices by the channel's).
pub fn get_store_pricing(id: &str, store_id: &str) -> Result<Response, ApiError> {
    let store = Bucket::open("catalog")?;
    match catalog::load_store_pricing(&store, id, store_id).map_err(to_api)? {
        Some(rules) => Ok(json(200, &rules)),
        None => Err(ApiError::not_found(
            "no_pricing_rules",
            format!("store `{store_id}` has no rules of its own on channel `{id}`"),
        )),
    }
}

/// Store one store's pricing rules on the channel (validated; errors with JSON paths).
pub fn put_store_pricing(id: &str, store_id: &str, body: &[u8]) -> Result<Response, ApiError> {
    let text =
        std::str::from_utf8(body).map_err(|e| ApiError::bad_request("not_utf8", e.to_string()))?;
    let store = Bucket::open("catalog")?;
    match catalog::put_store_pricing(&store, id, store_id, text).map_err(to_api)? {
        Ok(rules) => Ok(json(200, &rules)),
        Err(errors) => Ok(invalid("invalid_pricing_rules", "pricing rules", &errors)),
    }
}

pub fn get_pricing(id: &str) -> Result<Response, ApiError> {
    let store = Bucket::open("catalog")?;
    match catalog::load_pricing(&store, id).map_err(to_api)? {
        Some(rules) => Ok(json(200, &rules)),
        None => Err(ApiError::not_found(
            "no_pricing_rules",
            format!("channel `{id}` has no pricing rules: its orders are not re-priced"),
        )),
    }
}

/// Store a channel's pricing rules (validated; every error with its JSON path).
pub fn put_pricing(id: &str, body: &[u8]) -> Result<Response, ApiError> {
    let text =
        std::str::from_utf8(body).map_err(|e| ApiError::bad_request("not_utf8", e.to_string()))?;
    let store = Bucket::open("catalog")?;
    match catalog::put_pricing(&store, id, text).map_err(to_api)? {
        Ok(rules) => Ok(json(200, &rules)),
        Err(errors) => Ok(invalid("invalid_pricing_rules", "pricing rules", &errors)),
    }
}
