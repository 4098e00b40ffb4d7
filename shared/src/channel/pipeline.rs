//! The two shells' whole jobs as one call each, so a Spin component is only I/O:
//! build the request, call, write the answer.

use thiserror::Error;

use super::ack::{acknowledgement, Ack, Outcome};
use super::config::ChannelConfig;
use super::error::NormalizeError;
use super::gate::{Admission, IngestGate};
use super::normalize::normalize_json;
use super::request::{verify, InboundRequest, VerifiedPush};
use super::sku::SkuMap;
use crate::order::book::{self, Applied};
use crate::store::{KeyValue, StoreError};

/// The ingest step: verify, rate limit, replay, idempotency claim, then `forward`
/// (which sends the push to normalize and reports what happened), then complete or
/// give back the claim, and the acknowledgement in the channel's format. `forward`
/// should return [`Outcome::Accepted`], [`Outcome::Invalid`] or
/// [`Outcome::Unavailable`]; only `Accepted` marks the push done.
pub fn ingest<S: KeyValue>(
    cfg: &ChannelConfig,
    secret: &str,
    req: &InboundRequest,
    store: &S,
    forward: impl FnOnce(&VerifiedPush) -> Outcome,
) -> Ack {
    let outcome = match verify(cfg, secret, req) {
        Err(e) => Outcome::Refused(e),
        Ok(push) => {
            let gate = IngestGate::new(store, cfg);
            match gate.admit(&push, req.received_at) {
                Err(e) => Outcome::Refused(e),
                Ok(Admission::AlreadyDone) => Outcome::Duplicate,
                Ok(Admission::Proceed(claim)) => {
                    let outcome = forward(&push);
                    let settled = match outcome {
                        Outcome::Accepted { .. } => gate.complete(claim),
                        _ => gate.abandon(claim),
                    };
                    match settled {
                        Ok(()) => outcome,
                        // Processed but not marked done: a redelivery will process again
                        // (idempotently), so a retryable answer is the honest one.
                        Err(e) => Outcome::Unavailable {
                            message: e.to_string(),
                        },
                    }
                }
            }
        }
    };
    acknowledgement(cfg, &outcome)
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NormalizeFailure {
    #[error(transparent)]
    Invalid(#[from] NormalizeError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NormalizeFailure {
    /// For the normalize component's HTTP answer to ingest.
    pub fn http_status(&self) -> u16 {
        match self {
            NormalizeFailure::Invalid(e) => e.http_status(),
            NormalizeFailure::Store(_) => 503,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            NormalizeFailure::Invalid(e) => e.code(),
            NormalizeFailure::Store(_) => "store_unavailable",
        }
    }
}

/// The normalize step: the serialized push in, its orders and events applied to the
/// `orders` store (idempotently).
pub fn normalize_and_apply<S: KeyValue>(
    cfg: &ChannelConfig,
    sku_map: &SkuMap,
    push_json: &[u8],
    store: &S,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Applied, NormalizeFailure> {
    let events = normalize_json(cfg, sku_map, push_json, now)?;
    Ok(book::apply(store, &events)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::OrderId;
    use crate::store::MemoryStore;
    use chrono::{DateTime, Utc};
    use md5::{Digest, Md5};

    #[test]
    fn shells_in_two_calls() {
        let cfg = ChannelConfig::builtin("meituan").unwrap();
        let url = "https://hub.example.com/webhooks/meituan/status";
        let literal = format!("{url}?order_id=77&status=4timestamp-less-secret");
        let sig = hex::encode(Md5::digest(literal.as_bytes()));
        let body = format!("order_id=77&status=4&sig={sig}");
        let at = DateTime::<Utc>::from_timestamp(1_764_043_200, 0).unwrap();
        let req = InboundRequest {
            method: "POST",
            full_url: url,
            path: "/webhooks/meituan/status",
            query: "",
            headers: &[],
            content_type: Some("application/x-www-form-urlencoded"),
            body: body.as_bytes(),
            received_at: at,
        };
        let (ingest_store, orders) = (MemoryStore::new(), MemoryStore::new());
        let forward = |push: &VerifiedPush| match normalize_and_apply(
            &cfg,
            &SkuMap::new(),
            &push.to_json(),
            &orders,
            at,
        ) {
            Ok(applied) => Outcome::Accepted {
                orders: applied.orders,
            },
            Err(NormalizeFailure::Invalid(e)) => Outcome::Invalid(e),
            Err(e) => Outcome::Unavailable {
                message: e.to_string(),
            },
        };
        // A failing downstream gives the claim back: the redelivery processes.
        let down = ingest(&cfg, "timestamp-less-secret", &req, &ingest_store, |_| {
            Outcome::Unavailable {
                message: "down".into(),
            }
        });
        assert_eq!((down.status, down.retry_after_seconds), (503, Some(1)));
        let ack = ingest(&cfg, "timestamp-less-secret", &req, &ingest_store, forward);
        assert_eq!(
            (ack.status, ack.body.as_slice()),
            (200, &br#"{"data":"ok"}"#[..])
        );
        let again = ingest(&cfg, "timestamp-less-secret", &req, &ingest_store, |_| {
            panic!("must not reprocess")
        });
        assert_eq!(again.body, br#"{"data":"ok"}"#);
        assert_eq!(
            book::history(&orders, &OrderId("meituan-77".into()))
                .unwrap()
                .len(),
            1
        );
        let bad = ingest(&cfg, "wrong", &req, &ingest_store, |_| {
            panic!("must not forward")
        });
        assert_eq!(bad.status, 401);
    }
}
