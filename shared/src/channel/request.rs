//! Step 1 of ingest, pure: from the raw request to a [`VerifiedPush`] or a precise
//! refusal. Checks run cheapest first and nothing is parsed past the envelope before
//! the signature holds, except what the signature itself is computed over.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config::{ChannelConfig, SignatureScheme};
use super::error::IngestError;
use super::signature;
use super::sku::SkuMap;
use super::time;
use crate::order::ChannelId;

/// The request as the shell received it. Header names are lower case.
#[derive(Debug, Clone, Copy)]
pub struct InboundRequest<'a> {
    pub method: &'a str,
    /// Scheme, host, path and query as the client called it.
    pub full_url: &'a str,
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    pub headers: &'a [(String, String)],
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    pub received_at: DateTime<Utc>,
}

impl InboundRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The push's content after verification, as data the normalize step can take across
/// the component boundary (it is serde).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", content = "data", rename_all = "snake_case")]
pub enum Payload {
    /// Flat parameters (query + form, or a flat JSON object's scalars as text): Meituan.
    Params(BTreeMap<String, String>),
    /// A JSON document (exact numbers: `serde_json` runs with `arbitrary_precision`).
    Json(serde_json::Value),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiedPush {
    pub channel: ChannelId,
    /// Request path: the push topic of channels that use one URL per topic (Meituan).
    pub path: String,
    pub payload: Payload,
    pub received_at: DateTime<Utc>,
    /// The signed timestamp, when the scheme has one.
    pub signed_at: Option<DateTime<Utc>>,
    /// Identity of the push for the idempotency gate: the same content redelivered
    /// (even re-signed, with a new timestamp) has the same key.
    pub dedupe_key: String,
    /// Identity of this exact signed request for the replay gate (channels with a
    /// replay window only).
    pub replay_key: Option<String>,
}

impl VerifiedPush {
    pub fn to_json(&self) -> Vec<u8> {
        // A tree of strings, numbers and maps always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Verify a push: method, size, UTF-8, content type, envelope, signature, freshness,
/// then the structural checks of the channel's adapter (so the channel hears of a
/// malformed embedded document in its acknowledgement, not silence).
pub fn verify(
    cfg: &ChannelConfig,
    secret: &str,
    req: &InboundRequest,
) -> Result<VerifiedPush, IngestError> {
    if !req.method.eq_ignore_ascii_case("POST") {
        return Err(IngestError::MethodNotAllowed(req.method.to_string()));
    }
    if req.body.len() > cfg.max_body_bytes {
        return Err(IngestError::BodyTooLarge {
            limit: cfg.max_body_bytes,
            actual: req.body.len(),
        });
    }
    let text =
        std::str::from_utf8(req.body).map_err(|e| IngestError::InvalidUtf8(e.valid_up_to()))?;
    let media = MediaType::of(req.content_type)?;

    let (payload, signed_at, replay_key) = match &cfg.signature {
        SignatureScheme::MeituanMd5 {
            signed_url,
            signature_param,
            timestamp_param,
        } => {
            let params = flat_params(req.query, text, media)?;
            let given = params
                .get(signature_param)
                .ok_or_else(|| IngestError::MissingSignature(signature_param.clone()))?;
            let url = signed_url
                .as_deref()
                .unwrap_or_else(|| strip_query(req.full_url));
            let expected = signature::meituan_md5(url, &params, signature_param, secret);
            if !signature::constant_time_eq(
                given.trim().to_ascii_lowercase().as_bytes(),
                expected.as_bytes(),
            ) {
                return Err(IngestError::BadSignature);
            }
            let signed_at = params
                .get(timestamp_param)
                .and_then(|t| t.trim().parse().ok())
                .and_then(time::from_epoch_auto);
            (Payload::Params(params), signed_at, Some(expected))
        }
        SignatureScheme::ElemeMd5 {
            encoding,
            signature_field,
            timestamp_field,
        } => {
            media.require_json()?;
            let value = parse_json(text)?;
            let envelope = value
                .as_object()
                .ok_or_else(|| IngestError::MalformedJson("expected a JSON object".into()))?;
            let given = envelope
                .get(signature_field)
                .and_then(|v| v.as_str())
                .ok_or_else(|| IngestError::MissingSignature(signature_field.clone()))?;
            let expected = signature::eleme_md5(envelope, signature_field, *encoding, secret);
            if !signature::constant_time_eq(
                given.trim().to_ascii_uppercase().as_bytes(),
                expected.as_bytes(),
            ) {
                return Err(IngestError::BadSignature);
            }
            let signed_at = super::json::opt_i64(envelope.get(timestamp_field), timestamp_field)
                .ok()
                .flatten()
                .and_then(time::from_epoch_auto);
            (Payload::Json(value), signed_at, Some(expected))
        }
        SignatureScheme::HmacSha256Header {
            timestamp_header,
            signature_header,
            prefix,
        } => {
            media.require_json()?;
            let ts_text = req
                .header(timestamp_header)
                .map(str::trim)
                .unwrap_or_default();
            let sig_header = req
                .header(signature_header)
                .ok_or_else(|| IngestError::MissingSignature(signature_header.clone()))?;
            let expected = signature::hmac_sha256(secret, ts_text, req.body);
            let matches = sig_header
                .split(',')
                .filter_map(|part| part.trim().strip_prefix(prefix.as_str()))
                .any(|hex| {
                    signature::constant_time_eq(
                        hex.trim().to_ascii_lowercase().as_bytes(),
                        expected.as_bytes(),
                    )
                });
            if !matches {
                return Err(IngestError::BadSignature);
            }
            let signed_at = ts_text
                .parse::<i64>()
                .ok()
                .and_then(time::from_epoch_auto)
                .ok_or_else(|| IngestError::MissingTimestamp(timestamp_header.clone()))?;
            (
                Payload::Json(parse_json(text)?),
                Some(signed_at),
                Some(expected),
            )
        }
    };

    if let Some(window) = cfg.freshness_seconds {
        let at = signed_at
            .ok_or_else(|| IngestError::MissingTimestamp(timestamp_name(&cfg.signature).into()))?;
        let age = (req.received_at - at).num_seconds();
        if age.unsigned_abs() > u64::from(window) {
            return Err(IngestError::StaleTimestamp {
                age_seconds: age,
                window_seconds: window,
            });
        }
    }

    let dedupe_key = dedupe_key(cfg, req.path, &payload);
    let push = VerifiedPush {
        channel: cfg.id.clone(),
        path: req.path.to_string(),
        payload,
        received_at: req.received_at,
        signed_at,
        dedupe_key,
        replay_key: cfg.replay_window_seconds.and(replay_key),
    };
    // Structural checks (embedded JSON, required ids) with the real adapter: a push
    // that cannot be normalized is refused here, before anything is claimed or stored.
    super::normalize::normalize(cfg, &SkuMap::default(), &push, req.received_at)?;
    Ok(push)
}

fn timestamp_name(scheme: &SignatureScheme) -> &str {
    match scheme {
        SignatureScheme::MeituanMd5 {
            timestamp_param, ..
        } => timestamp_param,
        SignatureScheme::ElemeMd5 {
            timestamp_field, ..
        } => timestamp_field,
        SignatureScheme::HmacSha256Header {
            timestamp_header, ..
        } => timestamp_header,
    }
}

fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn parse_json(text: &str) -> Result<serde_json::Value, IngestError> {
    serde_json::from_str(text).map_err(|e| IngestError::MalformedJson(e.to_string()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaType {
    Json,
    Form,
    /// No content type: acceptable only for an empty body.
    None,
}

impl MediaType {
    fn of(content_type: Option<&str>) -> Result<Self, IngestError> {
        let Some(ct) = content_type.map(str::trim).filter(|c| !c.is_empty()) else {
            return Ok(MediaType::None);
        };
        let mut parts = ct.split(';');
        let essence = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        for param in parts {
            let (k, v) = param.split_once('=').unwrap_or((param, ""));
            let v = v.trim().trim_matches('"');
            if k.trim().eq_ignore_ascii_case("charset")
                && !v.eq_ignore_ascii_case("utf-8")
                && !v.eq_ignore_ascii_case("utf8")
            {
                return Err(IngestError::UnsupportedContentType(ct.to_string()));
            }
        }
        match essence.as_str() {
            "application/json" | "text/json" => Ok(MediaType::Json),
            e if e.starts_with("application/") && e.ends_with("+json") => Ok(MediaType::Json),
            "application/x-www-form-urlencoded" => Ok(MediaType::Form),
            _ => Err(IngestError::UnsupportedContentType(ct.to_string())),
        }
    }

    fn require_json(self) -> Result<(), IngestError> {
        match self {
            MediaType::Json => Ok(()),
            MediaType::Form => Err(IngestError::UnsupportedContentType(
                "application/x-www-form-urlencoded".into(),
            )),
            MediaType::None => Err(IngestError::UnsupportedContentType("(none)".into())),
        }
    }
}

/// Query parameters plus the body's: form fields, or a flat JSON object's members
/// (scalars as their text, nested documents as JSON text). Body values win.
fn flat_params(
    query: &str,
    body: &str,
    media: MediaType,
) -> Result<BTreeMap<String, String>, IngestError> {
    let mut params: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    match media {
        MediaType::Form => params.extend(form_urlencoded::parse(body.as_bytes()).into_owned()),
        MediaType::Json => {
            let value = parse_json(body)?;
            let obj = value
                .as_object()
                .ok_or_else(|| IngestError::MalformedJson("expected a JSON object".into()))?;
            for (k, v) in obj {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                params.insert(k.clone(), text);
            }
        }
        MediaType::None if body.trim().is_empty() => {}
        MediaType::None => return Err(IngestError::UnsupportedContentType("(none)".into())),
    }
    Ok(params)
}

/// `"{channel}:{sha256(path + canonical content)[..32]}"` where the canonical content
/// leaves out what changes between deliveries of the same push: the signature and
/// its timestamp (and Ele.me's per-delivery request id). JSON objects serialize with
/// sorted keys, so the form is canonical.
fn dedupe_key(cfg: &ChannelConfig, path: &str, payload: &Payload) -> String {
    let mut hasher = Sha256::new();
    hasher.update(path.trim_end_matches('/').as_bytes());
    hasher.update([0]);
    match (payload, &cfg.signature) {
        (
            Payload::Params(params),
            SignatureScheme::MeituanMd5 {
                signature_param,
                timestamp_param,
                ..
            },
        ) => {
            for (k, v) in params
                .iter()
                .filter(|(k, _)| *k != signature_param && *k != timestamp_param)
            {
                hasher.update(k.as_bytes());
                hasher.update([0]);
                hasher.update(v.as_bytes());
                hasher.update([0]);
            }
        }
        (Payload::Params(params), _) => {
            hasher.update(serde_json::to_vec(params).unwrap_or_default())
        }
        (
            Payload::Json(serde_json::Value::Object(obj)),
            SignatureScheme::ElemeMd5 {
                signature_field,
                timestamp_field,
                ..
            },
        ) => {
            let stable: BTreeMap<&String, &serde_json::Value> = obj
                .iter()
                .filter(|(k, _)| {
                    *k != signature_field && *k != timestamp_field && k.as_str() != "requestId"
                })
                .collect();
            hasher.update(serde_json::to_vec(&stable).unwrap_or_default());
        }
        (Payload::Json(value), _) => hasher.update(serde_json::to_vec(value).unwrap_or_default()),
    }
    let digest = hex::encode(hasher.finalize());
    format!("{}:{}", cfg.id, &digest[..32])
}
