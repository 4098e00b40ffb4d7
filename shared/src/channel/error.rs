//! Why a push is refused. Each error has an HTTP status and a stable machine-readable
//! code: the code is the API (channels and dashboards match on it), the message is for
//! people.

use thiserror::Error;

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IngestError {
    #[error("method {0} not allowed: pushes are POST")]
    MethodNotAllowed(String),
    #[error("body of {actual} bytes exceeds the limit of {limit}")]
    BodyTooLarge { limit: usize, actual: usize },
    #[error("body is not valid UTF-8 (first bad byte at {0})")]
    InvalidUtf8(usize),
    #[error("content type `{0}` is not accepted here")]
    UnsupportedContentType(String),
    #[error("body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("field `{field}` should hold a JSON document but does not: {detail}")]
    MalformedEmbeddedJson { field: String, detail: String },
    #[error("required field `{0}` is missing")]
    MissingField(String),
    #[error("field `{field}` is invalid: {detail}")]
    InvalidField { field: String, detail: String },
    #[error("no signature was sent (`{0}`)")]
    MissingSignature(String),
    #[error("signature does not match")]
    BadSignature,
    #[error("signed timestamp `{0}` is missing or unreadable")]
    MissingTimestamp(String),
    #[error("signed timestamp is {age_seconds} s away from now; the window is {window_seconds} s")]
    StaleTimestamp {
        age_seconds: i64,
        window_seconds: u32,
    },
    #[error("this signed request was already received")]
    Replayed,
    #[error("rate limit reached; retry after {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error("the same push is being processed; retry after {retry_after_seconds} s")]
    InProgress { retry_after_seconds: u64 },
    #[error("no push topic at `{0}`")]
    UnknownTopic(String),
    #[error("store unavailable: {0}")]
    Store(#[from] StoreError),
}

impl IngestError {
    pub fn http_status(&self) -> u16 {
        match self {
            IngestError::MethodNotAllowed(_) => 405,
            IngestError::BodyTooLarge { .. } => 413,
            IngestError::UnsupportedContentType(_) => 415,
            IngestError::InvalidUtf8(_)
            | IngestError::MalformedJson(_)
            | IngestError::MalformedEmbeddedJson { .. }
            | IngestError::MissingField(_)
            | IngestError::InvalidField { .. }
            | IngestError::MissingTimestamp(_) => 400,
            IngestError::MissingSignature(_)
            | IngestError::BadSignature
            | IngestError::StaleTimestamp { .. } => 401,
            IngestError::Replayed | IngestError::InProgress { .. } => 409,
            IngestError::RateLimited { .. } => 429,
            IngestError::UnknownTopic(_) => 404,
            IngestError::Store(_) => 503,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            IngestError::MethodNotAllowed(_) => "method_not_allowed",
            IngestError::BodyTooLarge { .. } => "body_too_large",
            IngestError::InvalidUtf8(_) => "invalid_utf8",
            IngestError::UnsupportedContentType(_) => "unsupported_content_type",
            IngestError::MalformedJson(_) => "malformed_json",
            IngestError::MalformedEmbeddedJson { .. } => "malformed_embedded_json",
            IngestError::MissingField(_) => "missing_field",
            IngestError::InvalidField { .. } => "invalid_field",
            IngestError::MissingSignature(_) => "missing_signature",
            IngestError::BadSignature => "bad_signature",
            IngestError::MissingTimestamp(_) => "missing_timestamp",
            IngestError::StaleTimestamp { .. } => "stale_timestamp",
            IngestError::Replayed => "replayed",
            IngestError::RateLimited { .. } => "rate_limited",
            IngestError::InProgress { .. } => "in_progress",
            IngestError::UnknownTopic(_) => "unknown_topic",
            IngestError::Store(_) => "store_unavailable",
        }
    }

    /// The human-readable reason (the machine-readable one is [`code`](Self::code)).
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// Seconds for a `Retry-After` header, when the refusal is temporary.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            IngestError::RateLimited {
                retry_after_seconds,
            }
            | IngestError::InProgress {
                retry_after_seconds,
            } => Some(*retry_after_seconds),
            IngestError::Store(_) => Some(1),
            _ => None,
        }
    }
}

/// A verified push that still cannot be turned into orders: its structure is wrong
/// (no order id, a field of the wrong type). Bad *values* (unknown SKU, money that does
/// not add up) are never errors: they become exceptions on a kept order.
/// Serde, because normalize runs in its own component and ingest turns its refusal into
/// the channel's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Error, serde::Serialize, serde::Deserialize)]
pub enum NormalizeError {
    #[error("required field `{0}` is missing")]
    MissingField(String),
    #[error("field `{field}` is invalid: {detail}")]
    InvalidField { field: String, detail: String },
    #[error("field `{field}` should hold a JSON document but does not: {detail}")]
    MalformedEmbeddedJson { field: String, detail: String },
    #[error("payload is not in the shape this channel sends: {0}")]
    UnexpectedShape(String),
    #[error("no push topic `{0}` for this channel")]
    UnknownTopic(String),
    #[error("the serialized push is unreadable: {0}")]
    UnreadablePush(String),
}

impl NormalizeError {
    pub fn http_status(&self) -> u16 {
        match self {
            NormalizeError::UnknownTopic(_) => 404,
            NormalizeError::MalformedEmbeddedJson { .. } | NormalizeError::UnreadablePush(_) => 400,
            _ => 422,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            NormalizeError::MissingField(_) => "missing_field",
            NormalizeError::InvalidField { .. } => "invalid_field",
            NormalizeError::MalformedEmbeddedJson { .. } => "malformed_embedded_json",
            NormalizeError::UnexpectedShape(_) => "unexpected_shape",
            NormalizeError::UnknownTopic(_) => "unknown_topic",
            NormalizeError::UnreadablePush(_) => "unreadable_push",
        }
    }

    pub fn message(&self) -> String {
        self.to_string()
    }

    pub(crate) fn invalid(field: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        NormalizeError::InvalidField {
            field: field.into(),
            detail: detail.to_string(),
        }
    }
}

impl From<NormalizeError> for IngestError {
    /// Ingest runs the envelope checks of normalize early so the channel hears of a
    /// structural error in its own acknowledgement.
    fn from(e: NormalizeError) -> Self {
        match e {
            NormalizeError::MissingField(f) => IngestError::MissingField(f),
            NormalizeError::InvalidField { field, detail } => {
                IngestError::InvalidField { field, detail }
            }
            NormalizeError::MalformedEmbeddedJson { field, detail } => {
                IngestError::MalformedEmbeddedJson { field, detail }
            }
            NormalizeError::UnexpectedShape(d) => IngestError::InvalidField {
                field: "/".into(),
                detail: d,
            },
            NormalizeError::UnknownTopic(t) => IngestError::UnknownTopic(t),
            NormalizeError::UnreadablePush(d) => IngestError::MalformedJson(d),
        }
    }
}
