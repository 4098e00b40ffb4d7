//! `GET`/`PUT /admin/dispatch/config[?station=S]` (admin token): the dispatch
//! configuration every run, tick and explanation at a station uses. Without `station`,
//! the app-wide one (the default station's, which every station without its own
//! uses). A PUT replaces it whole (absent fields take their defaults) after the core's
//! checks; a refusal is a 400 naming the field at fault.

use orderhub_core::dispatch::{parse_config, state};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use spin_sdk::http::Response;

use crate::run::station_of_query;

/// The configuration the station runs with (its own, else the app-wide one, else the
/// default).
pub fn get_config(query: &str) -> Result<Response, ApiError> {
    let station = station_of_query(query)?;
    let store = Bucket::open("dispatch")?;
    Ok(json(200, &state::load_config_at(&store, &station)?))
}

pub fn put_config(query: &str, body: &[u8]) -> Result<Response, ApiError> {
    let station = station_of_query(query)?;
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
    state::save_config_at(&store, &station, &config)?;
    Ok(json(200, &config))
}
