//! Shared driver: every target runs the input through the real ingest path (verify,
//! signed correctly where the scheme allows it, so the fuzzer gets past the
//! signature) and through normalize + the order book directly, and requires only
//! that nothing panics.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use orderhub_core::channel::{normalize, verify, ChannelConfig, InboundRequest, Payload, SkuMap, VerifiedPush};
use orderhub_core::order::book;
use orderhub_core::store::MemoryStore;
use sha2::Sha256;

pub const SECRET: &str = "fuzz-secret";

pub fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_764_043_200, 0).unwrap_or_default()
}

/// Verify an unsigned/garbage request (must refuse cleanly), then normalize the same
/// content as if verified, then apply and read back.
pub fn drive(cfg: &ChannelConfig, path: &str, content_type: &str, body: &[u8], payload: Option<Payload>) {
    let headers = hmac_headers(body);
    let req = InboundRequest {
        method: "POST",
        full_url: "https://fuzz.example.com",
        path,
        query: "",
        headers: &headers,
        content_type: Some(content_type),
        body,
        received_at: now(),
    };
    if let Ok(push) = verify(cfg, SECRET, &req) {
        apply(cfg, &push);
    }
    if let Some(payload) = payload {
        let push = VerifiedPush {
            channel: cfg.id.clone(),
            path: path.to_string(),
            payload,
            received_at: now(),
            signed_at: None,
            dedupe_key: "fuzz".into(),
            replay_key: None,
        };
        apply(cfg, &push);
    }
}

fn apply(cfg: &ChannelConfig, push: &VerifiedPush) {
    let Ok(events) = normalize(cfg, &SkuMap::default(), push, now()) else { return };
    let store = MemoryStore::new();
    if book::apply(&store, &events).is_ok() {
        for id in events.iter().filter_map(|e| e.order_id()) {
            let _ = book::get_order(&store, id);
        }
    }
    // The normalized events must survive the component boundary.
    let wire = serde_json::to_vec(&events).unwrap_or_default();
    let _: Result<Vec<orderhub_core::channel::ChannelEvent>, _> = serde_json::from_slice(&wire);
}

fn hmac_headers(body: &[u8]) -> Vec<(String, String)> {
    let ts = now().timestamp().to_string();
    let mut mac = match Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let sig = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    vec![("x-orderhub-timestamp".into(), ts), ("x-orderhub-signature".into(), sig)]
}

pub fn json_payload(body: &[u8]) -> Option<Payload> {
    serde_json::from_slice(body).ok().map(Payload::Json)
}
