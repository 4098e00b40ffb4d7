//! `/admin/channels/{id}`: a channel's configuration and SKU mapping, validated by the
//! core before they are stored. A new JSON channel is added here, with no code and no
//! rebuild (see docs/channels.md).

use orderhub_core::channel::catalog::{self, CatalogError};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use spin_sdk::http::Response;

fn to_api(e: CatalogError) -> ApiError {
    match e {
        CatalogError::UnknownChannel(_) => ApiError::not_found("unknown_channel", e.to_string()),
        CatalogError::InvalidConfig { .. } => {
            ApiError::new(422, "invalid_channel_config", e.to_string())
        }
        CatalogError::Store(s) => ApiError::store(s),
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

pub fn put_skus(id: &str, body: &[u8]) -> Result<Response, ApiError> {
    let store = Bucket::open("catalog")?;
    let map = catalog::put_sku_map(&store, id, body).map_err(to_api)?;
    Ok(json(
        200,
        &serde_json::json!({ "channel": id, "skus": map.entries.len() }),
    ))
}
