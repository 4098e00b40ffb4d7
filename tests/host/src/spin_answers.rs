//! The answers Spin's HTTP trigger makes itself, byte for byte as
//! `crates/trigger-http/src/server.rs` (Spin v3.6.3) builds them: an empty
//! 404 when no route matches (`not_found`), an empty 500 when the component
//! traps, sets an error or never responds (`internal_error(None, ..)`), and
//! the `/.well-known/spin/` routes it serves before the app's own. No
//! content-type on any but `info`; hyper adds `content-length` and `date`.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use serde::Serialize;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::manifest::AppManifest;

/// Spin's `WELL_KNOWN_PREFIX` (`crates/routes/src/lib.rs`).
pub const WELL_KNOWN_PREFIX: &str = "/.well-known/spin/";

fn with_body(
    status: http::StatusCode,
    body: HyperOutgoingBody,
) -> http::Response<HyperOutgoingBody> {
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    resp
}

fn empty(status: http::StatusCode) -> http::Response<HyperOutgoingBody> {
    with_body(
        status,
        Empty::new().map_err(|never| match never {}).boxed_unsync(),
    )
}

fn full(bytes: impl Into<Bytes>) -> HyperOutgoingBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// No route matches the path: 404, empty body.
pub fn not_found() -> http::Response<HyperOutgoingBody> {
    empty(http::StatusCode::NOT_FOUND)
}

/// The component failed: 500, empty body (the reason goes to the log only).
pub fn internal_error() -> http::Response<HyperOutgoingBody> {
    empty(http::StatusCode::INTERNAL_SERVER_ERROR)
}

/// Spin's `AppInfo` (`crates/http/src/app_info.rs`).
#[derive(Serialize)]
struct AppInfo<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
}

/// A path under [`WELL_KNOWN_PREFIX`]: `health` answers `OK`, `info` the
/// app's name and version as pretty JSON, anything else 404.
pub fn well_known(rest: &str, app: &AppManifest) -> http::Response<HyperOutgoingBody> {
    match rest {
        "health" => with_body(http::StatusCode::OK, full(&b"OK"[..])),
        "info" => {
            let info = AppInfo {
                name: &app.name,
                version: app.version.as_deref(),
            };
            let body = serde_json::to_vec_pretty(&info).unwrap_or_default();
            let mut resp = with_body(http::StatusCode::OK, full(body));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            resp
        }
        _ => not_found(),
    }
}
