//! `GET`/`PUT /admin/dispatch/config` (admin token): the dispatch configuration every
//! run, tick and explanation uses. A PUT replaces it whole (absent fields take their
//! defaults) after the core's checks; a refusal is a 400 naming the field at fault.

use orderhub_core::dispatch::{parse_config, state};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use spin_sdk::http::Response;

/// The stored configuration, or the default when none was stored.
pub fn get_config() -> Result<Response, ApiError> {
    let store = Bucket::open("dispatch")?;
    Ok(json(200, &state::load_config(&store)?))
}

pub fn put_config(body: &[u8]) -> Result<Response, ApiError> {
    let config = match parse_config(body) {
        Ok(c) => c,
        // The shared error shape plus `field`, so a client can point at the input.
        Err(e) => {
            return Ok(json(
                400,
                &serde_json::json!({
                    "error": { "code": e.code(), "message": e.to_string(), "field": e.field() }
                }),
            ))
        }
    };
    let store = Bucket::open("dispatch")?;
    state::save_config(&store, &config)?;
    Ok(json(200, &config))
}
