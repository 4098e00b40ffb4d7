//! Answers. Every error a component returns has the same shape:
//! `{"error": {"code": "<machine_code>", "message": "<for a human>"}}` with a fitting
//! status, so a client can branch on `code` and a person can read `message`.

use serde::Serialize;
use spin_sdk::http::Response;

/// An error on its way to becoming a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(404, code, message)
    }
    /// A store failure: the client may retry, nothing was decided.
    pub fn store(e: orderhub_core::store::StoreError) -> Self {
        Self::new(503, "store_unavailable", e.to_string())
    }
    pub fn into_response(self) -> Response {
        error(self.status, &self.code, &self.message)
    }
}

impl From<orderhub_core::store::StoreError> for ApiError {
    fn from(e: orderhub_core::store::StoreError) -> Self {
        Self::store(e)
    }
}

pub fn json<T: Serialize>(status: u16, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(bytes)
            .build(),
        Err(e) => error(500, "serialize_failed", &e.to_string()),
    }
}

pub fn error(status: u16, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

/// 422 for a configuration refused by the core's validation: the usual error object
/// (`code`, and `message` counting the problems in `what`) plus `errors`, every problem
/// as the core described it (with its JSON path), so an operator fixes them all at once.
pub fn invalid<E: Serialize>(code: &str, what: &str, errors: &[E]) -> Response {
    json(
        422,
        &serde_json::json!({
            "error": {
                "code": code,
                "message": format!("{} error(s) in the {what}", errors.len()),
            },
            "errors": errors,
        }),
    )
}

/// Turn a handler's result into a response.
pub fn finish(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(ApiError::into_response)
}

/// The health answer every component gives on `GET .../health`.
pub fn health(component: &str) -> Response {
    json(
        200,
        &serde_json::json!({ "component": component, "status": "ok" }),
    )
}
