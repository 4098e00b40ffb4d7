//! Fetch a bill from the platform's configured URL and store it as a completed upload,
//! so the run that follows is the same as for an uploaded bill.
//!
//! The body is read as a stream and refused past [`MAX_FETCH_BYTES`]; it is held whole
//! until stored (the upload's chunk count is fixed when it is created). Larger bills go
//! through the chunked upload.

use futures::StreamExt;
use orderhub_core::reconcile::{self as rc, UploadSpec, MAX_CHUNK_BYTES};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use spin_sdk::http::{IncomingResponse, Method, Request, Response};

const MAX_FETCH_BYTES: usize = 64 << 20;

pub async fn fetch(req: &Request) -> Result<Response, ApiError> {
    let mut spec: UploadSpec = crate::body(req)?;
    let base = spin_sdk::variables::get("bill_source_url").unwrap_or_default();
    if base.is_empty() {
        return Err(ApiError::new(
            409,
            "fetch_not_configured",
            "no `bill_source_url` is configured for this component",
        ));
    }
    let url = format!(
        "{}/{}/{}",
        base.trim_end_matches('/'),
        spec.channel,
        spec.business_date
    );
    let outbound = Request::builder().method(Method::Get).uri(&url).build();
    let unreachable = |m: String| ApiError::new(502, "bill_source_unreachable", m);
    let resp: IncomingResponse = spin_sdk::http::send(outbound)
        .await
        .map_err(|e| unreachable(format!("{url}: {e}")))?;
    if resp.status() != 200 {
        return Err(unreachable(format!("{url} answered {}", resp.status())));
    }
    let mut bytes = Vec::new();
    let mut stream = resp.take_body_stream();
    while let Some(part) = stream.next().await {
        let part = part.map_err(|e| unreachable(format!("{url}: {e}")))?;
        if bytes.len() + part.len() > MAX_FETCH_BYTES {
            return Err(ApiError::new(
                413,
                "bill_too_large_to_fetch",
                format!("more than {MAX_FETCH_BYTES} bytes: upload it in chunks"),
            ));
        }
        bytes.extend_from_slice(&part);
    }
    let chunk = usize::try_from(MAX_CHUNK_BYTES).unwrap_or(usize::MAX);
    spec.total_chunks = u32::try_from(bytes.len().div_ceil(chunk).max(1)).unwrap_or(u32::MAX);
    let store = Bucket::open("reconcile")?;
    let created = match rc::create_upload(&store, &spec) {
        Ok(s) => s,
        Err(e) => return Ok(crate::refuse(e)),
    };
    let mut status = created;
    let parts: Vec<&[u8]> = if bytes.is_empty() {
        vec![&[]]
    } else {
        bytes.chunks(chunk).collect()
    };
    for (i, part) in parts.into_iter().enumerate() {
        match rc::put_chunk(&store, &status.upload_id, i as u32, part) {
            Ok((_, s)) => status = s,
            Err(e) => return Ok(crate::refuse(e)),
        }
    }
    Ok(json(201, &status))
}
