//! The answer to the channel, in the channel's own format. Platforms retry anything
//! but their exact success body, so success (and an already-processed duplicate) must
//! be byte-exact, and every refusal must *not* look like success.

use serde::{Deserialize, Serialize};

use super::config::ChannelConfig;
use super::error::{IngestError, NormalizeError};
use crate::order::OrderId;

/// How handling a push ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Processed now; the orders it created or touched.
    Accepted { orders: Vec<OrderId> },
    /// Processed before (idempotency gate): acknowledged without processing.
    Duplicate,
    /// Refused by verification or a gate.
    Refused(IngestError),
    /// Verified but not normalizable.
    Invalid(NormalizeError),
    /// The shell failed downstream (normalize unreachable, store down): retryable.
    Unavailable { message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// For a `Retry-After` header.
    pub retry_after_seconds: Option<u64>,
}

/// Build the acknowledgement. Success templates may use `{result}` (`accepted` or
/// `duplicate`) and `{orders}` (a JSON array of order ids); error templates `{code}`
/// and `{message}`.
pub fn acknowledgement(cfg: &ChannelConfig, outcome: &Outcome) -> Ack {
    let template = &cfg.ack;
    let (status, body, retry_after_seconds) = match outcome {
        Outcome::Accepted { orders } => (
            template.status,
            success_body(&template.body, "accepted", orders),
            None,
        ),
        Outcome::Duplicate => (
            template.status,
            success_body(&template.body, "duplicate", &[]),
            None,
        ),
        Outcome::Refused(e) => (
            e.http_status(),
            error_body(&template.error_body, e.code(), &e.to_string()),
            e.retry_after_seconds(),
        ),
        Outcome::Invalid(e) => (
            e.http_status(),
            error_body(&template.error_body, e.code(), &e.to_string()),
            None,
        ),
        Outcome::Unavailable { message } => (
            503,
            error_body(&template.error_body, "unavailable", message),
            Some(1),
        ),
    };
    Ack {
        status,
        content_type: template.content_type.clone(),
        body: body.into_bytes(),
        retry_after_seconds,
    }
}

fn success_body(template: &str, result: &str, orders: &[OrderId]) -> String {
    let ids: Vec<&str> = orders.iter().map(OrderId::as_str).collect();
    let orders_json = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
    template
        .replace("{result}", result)
        .replace("{orders}", &orders_json)
}

fn error_body(template: &str, code: &str, message: &str) -> String {
    template
        .replace("{code}", &json_escape(code))
        .replace("{message}", &json_escape(message))
}

/// The inside of a JSON string literal.
fn json_escape(text: &str) -> String {
    let quoted = serde_json::Value::String(text.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_success_bodies_are_exact() {
        let mt = ChannelConfig::builtin("meituan").unwrap();
        let ok = acknowledgement(
            &mt,
            &Outcome::Accepted {
                orders: vec![OrderId("meituan-1".into())],
            },
        );
        assert_eq!(
            (ok.status, ok.body.as_slice()),
            (200, &br#"{"data":"ok"}"#[..])
        );
        assert_eq!(
            acknowledgement(&mt, &Outcome::Duplicate).body,
            br#"{"data":"ok"}"#
        );
        let el = ChannelConfig::builtin("eleme").unwrap();
        assert_eq!(
            acknowledgement(&el, &Outcome::Duplicate).body,
            br#"{"message":"ok"}"#
        );
    }

    #[test]
    fn own_channels_list_orders_and_errors_are_json() {
        let app = ChannelConfig::builtin("app").unwrap();
        let ok = acknowledgement(
            &app,
            &Outcome::Accepted {
                orders: vec![OrderId("app-A1".into())],
            },
        );
        let v: serde_json::Value = serde_json::from_slice(&ok.body).unwrap();
        assert_eq!(v["orders"][0], "app-A1");
        assert_eq!(v["result"], "accepted");
        let err = acknowledgement(
            &app,
            &Outcome::Refused(IngestError::RateLimited {
                retry_after_seconds: 3,
            }),
        );
        assert_eq!((err.status, err.retry_after_seconds), (429, Some(3)));
        let v: serde_json::Value = serde_json::from_slice(&err.body).unwrap();
        assert_eq!(v["error"], "rate_limited");
        let mt = ChannelConfig::builtin("meituan").unwrap();
        let bad = acknowledgement(&mt, &Outcome::Refused(IngestError::BadSignature));
        assert_eq!(bad.status, 401);
        let v: serde_json::Value = serde_json::from_slice(&bad.body).unwrap();
        assert_eq!(
            (v["data"].as_str(), v["error"]["code"].as_str()),
            (Some("ng"), Some("bad_signature"))
        );
    }
}
