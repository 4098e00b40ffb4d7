//! Calls between components over local service chaining (`*.spin.internal`), typed on
//! both ends by the contracts in `orderhub_core::intake`.

use serde::de::DeserializeOwned;
use serde::Serialize;
use spin_sdk::http::{Method, Request, Response};

/// POST `body` as JSON to `url` and read a `T` from a 200 answer; any other outcome is
/// an error message (logged by the caller, retried by the next run).
pub async fn post<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> Result<T, String> {
    let bytes = serde_json::to_vec(body).map_err(|e| format!("{url}: unserializable: {e}"))?;
    let req = Request::builder()
        .method(Method::Post)
        .uri(url)
        .header("content-type", "application/json")
        .body(bytes)
        .build();
    let resp: Response = spin_sdk::http::send(req)
        .await
        .map_err(|e| format!("{url} unreachable: {e}"))?;
    if *resp.status() != 200 {
        return Err(format!(
            "{url} answered {}: {}",
            resp.status(),
            String::from_utf8_lossy(resp.body())
        ));
    }
    serde_json::from_slice(resp.body()).map_err(|e| format!("{url} answered unreadably: {e}"))
}
