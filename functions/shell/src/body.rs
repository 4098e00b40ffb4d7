//! Reading a request body with a ceiling.
//!
//! spin-sdk's `Request` conversion reads the whole body before the handler sees it, and
//! Spin itself has no body limit, so a component taking `Request` can be made to buffer
//! any amount. Every component takes the raw `IncomingRequest` instead and reads it
//! here: nothing past the ceiling is kept, whether the length was declared or the body
//! streamed, and the client gets 413 with the usual error object.

use std::future::Future;

use futures::TryStreamExt;
use orderhub_core::access::audit::AuditKind;
use orderhub_core::access::session;
use spin_sdk::http::{IncomingRequest, Request, Response};

use crate::respond::ApiError;

/// Admit the caller (`crate::auth::admit`: the route table, the token, the failure
/// count), then read `incoming` into a `Request` (at most `max_bytes` of body) and hand
/// it to `handler`; answer 401/403/404/429, or 413 (or 400 for a broken body stream),
/// without calling it otherwise. A request the audit trail covers is recorded once
/// answered (`crate::audit`). Every answer carries the core's security headers
/// (`access::session::SECURITY_HEADERS`: a strict Content-Security-Policy, nosniff, no
/// referrer, no framing).
pub async fn serve<F, Fut>(incoming: IncomingRequest, max_bytes: usize, handler: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let mut resp = admit_and_handle(incoming, max_bytes, handler).await;
    for (name, value) in session::SECURITY_HEADERS {
        resp.set_header(*name, *value);
    }
    resp
}

async fn admit_and_handle<F, Fut>(
    incoming: IncomingRequest,
    max_bytes: usize,
    handler: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    if let Err(refused) = crate::auth::admit(&incoming) {
        return refused;
    }
    let audited = crate::audit::classify(&incoming);
    match read(incoming, max_bytes).await {
        Ok(req) => match audited {
            None => handler(req).await,
            Some(audited) => {
                let body = match audited.1.kind {
                    AuditKind::ConfigChange => req.body().to_vec(),
                    AuditKind::PersonalDataRead => Vec::new(),
                };
                let resp = handler(req).await;
                crate::audit::record(&audited, &body, resp)
            }
        },
        Err(e) => e.into_response(),
    }
}

/// How much of a refused body is still read (and thrown away) before the 413 goes out.
/// A server that answers and closes while the client is still sending resets the
/// connection, and the client may never see the answer; reading on up to this bound
/// lets an ordinary oversized upload get its 413, while memory stays flat (nothing is
/// kept) and a client sending gigabytes is cut off anyway.
const DRAIN_MAX: usize = 32 << 20;

/// The request with its body, or the error to answer instead.
pub async fn read(incoming: IncomingRequest, max_bytes: usize) -> Result<Request, ApiError> {
    let declared = incoming
        .headers()
        .get("content-length")
        .first()
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut builder = Request::builder();
    builder
        .method(incoming.method())
        .uri(incoming.uri())
        .headers(incoming.headers());
    let mut body = Vec::new();
    let mut refused = declared.is_some_and(|len| len > max_bytes as u64);
    let mut seen = 0usize;
    let mut stream = incoming.into_body_stream();
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| ApiError::bad_request("bad_body", e.to_debug_string()))?
    {
        seen = seen.saturating_add(chunk.len());
        refused |= seen > max_bytes;
        if refused {
            body = Vec::new();
            if seen > DRAIN_MAX {
                break;
            }
        } else {
            body.extend_from_slice(&chunk);
        }
    }
    if refused {
        return Err(too_large(max_bytes));
    }
    Ok(builder.body(body).build())
}

fn too_large(max_bytes: usize) -> ApiError {
    ApiError::new(
        413,
        "body_too_large",
        format!("the request body is larger than this route accepts ({max_bytes} bytes)"),
    )
}
