//! `--max-body-bytes`: a request-body limit of the host's own. Spin has
//! none, so it is off unless asked for; when on, an over-limit body is a 413
//! with a JSON error (an answer Spin never gives).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiBody;

/// How much of an over-limit body of unknown length is read and dropped before the 413.
const DRAIN_BYTES: u64 = 1024 * 1024;

fn json_error(
    status: http::StatusCode,
    code: &str,
    message: &str,
) -> http::Response<HyperOutgoingBody> {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    let mut resp = http::Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

/// 413 for bodies over `max`: by `content-length` up front, or while
/// buffering a body of unknown length.
pub async fn limit_body(
    req: http::Request<WasiBody>,
    max: usize,
) -> Result<http::Request<WasiBody>, http::Response<HyperOutgoingBody>> {
    let max = max as u64;
    let too_large = || {
        json_error(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("request body exceeds {max} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > max => Err(too_large()),
        Some(_) => Ok(req),
        None => {
            let (parts, mut body) = req.into_parts();
            let mut bytes = Vec::new();
            let mut seen: u64 = 0;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| {
                    json_error(
                        http::StatusCode::BAD_REQUEST,
                        "bad_request",
                        &format!("cannot read request body: {e}"),
                    )
                })?;
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                seen += data.len() as u64;
                if seen <= max {
                    bytes.extend_from_slice(&data);
                } else if seen > max + DRAIN_BYTES {
                    break;
                }
            }
            if seen > max {
                // Read (and dropped) up to DRAIN_BYTES past the limit before
                // answering: closing on unread data makes the kernel reset the
                // connection, and the client could lose the 413 itself.
                return Err(too_large());
            }
            Ok(http::Request::from_parts(
                parts,
                Full::new(Bytes::from(bytes))
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            ))
        }
    }
}
