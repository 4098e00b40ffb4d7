//! The edge every orderhub component shares.
//!
//! A component is always the same four steps (see ARCHITECTURE.md): parse the request,
//! call the core, apply the effects the core decided, answer. This crate holds the
//! pieces of steps 1, 3 and 4 that are the same everywhere: the key-value store behind
//! the core's [`orderhub_core::store::KeyValue`] trait, JSON answers and errors, request
//! bodies read with a ceiling, and the access check every route goes through (`auth`:
//! the core's route table, signed bearer tokens, failures rate-limited per source; `audit`: appending the audit trail's entries the
//! core decides on). It makes no domain decision.

pub mod audit;
pub mod auth;
pub mod body;
pub mod early;
pub mod internal;
pub mod kv;
pub mod respond;
pub mod wait;

pub use body::serve;
pub use respond::{error, json, ApiError};
pub use respond::{finish, health, invalid};

/// The raw value of the first `name=value` pair in a query string (not percent-decoded:
/// the callers' values are dates, times and numbers).
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
