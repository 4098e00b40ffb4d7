//! Channel configuration: one JSON document per channel instance.
//!
//! A built-in channel needs only its id (and the secret, which the shell keeps):
//! [`ChannelConfig::builtin`] fills every knob with the platform's default. Every knob
//! known to vary between deployments or SDK versions (value encodings, windows,
//! acknowledgement bodies, the URL Meituan signs) is a field, so changing it is a
//! configuration change, not a rebuild. A `configured` channel adds a
//! [`ConfiguredMapping`] and needs no code at all (see `docs/channels.md`).

use serde::{Deserialize, Serialize};

use super::configured::ConfiguredMapping;
use super::sku::SkuMap;
use crate::order::ChannelId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Meituan,
    Eleme,
    App,
    MiniProgram,
    Pos,
    GroupBuy,
    /// A JSON channel described entirely by its [`ConfiguredMapping`].
    Configured,
}

impl ChannelKind {
    /// The kind a built-in channel id names ("meituan", "eleme", "app", "miniprogram",
    /// "pos", "groupbuy"); `None` for any other id.
    pub fn from_builtin_id(id: &str) -> Option<Self> {
        Some(match id {
            "meituan" => ChannelKind::Meituan,
            "eleme" => ChannelKind::Eleme,
            "app" => ChannelKind::App,
            "miniprogram" => ChannelKind::MiniProgram,
            "pos" => ChannelKind::Pos,
            "groupbuy" => ChannelKind::GroupBuy,
            _ => return None,
        })
    }
}

/// How Ele.me's signature encodes each envelope value before concatenation. SDKs
/// disagree, and a platform-side change here silently breaks every signature, so it is
/// configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElemeValueEncoding {
    /// Strings as-is, numbers as their decimal text: `type=10`, `message={"id":…}`.
    Raw,
    /// Every value JSON-encoded first, which quotes strings: `message="{\"id\":…}"`.
    Json,
}

/// The signature schemes orderhub verifies. A configured channel picks one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum SignatureScheme {
    /// `md5_lower(url + "?" + sorted k=v joined by & (excluding the signature param) +
    /// secret)` over the query and form (or top-level JSON) parameters.
    MeituanMd5 {
        /// The URL exactly as registered with the platform (scheme, host, path). Behind a
        /// proxy the URL the shell sees differs, so this overrides it when set.
        #[serde(default)]
        signed_url: Option<String>,
        #[serde(default = "default_sig_param")]
        signature_param: String,
        /// Parameter holding the 10-digit epoch seconds used for freshness.
        #[serde(default = "default_timestamp_param")]
        timestamp_param: String,
    },
    /// `md5_upper(sorted key=value concatenated (every top-level field but the
    /// signature) + secret)` over a JSON envelope.
    ElemeMd5 {
        encoding: ElemeValueEncoding,
        #[serde(default = "default_eleme_signature_field")]
        signature_field: String,
        /// Envelope field holding epoch milliseconds used for freshness.
        #[serde(default = "default_timestamp_param")]
        timestamp_field: String,
    },
    /// `hex(hmac_sha256(secret, timestamp + "." + body))` in a header, with the epoch
    /// seconds timestamp in another header.
    HmacSha256Header {
        #[serde(default = "default_timestamp_header")]
        timestamp_header: String,
        #[serde(default = "default_signature_header")]
        signature_header: String,
        /// Version prefix of the header value (`v1=`); several comma-separated values
        /// are accepted so a secret can be rotated.
        #[serde(default = "default_signature_prefix")]
        prefix: String,
    },
}

fn default_sig_param() -> String {
    "sig".into()
}
fn default_timestamp_param() -> String {
    "timestamp".into()
}
fn default_eleme_signature_field() -> String {
    "signature".into()
}
fn default_timestamp_header() -> String {
    "x-orderhub-timestamp".into()
}
fn default_signature_header() -> String {
    "x-orderhub-signature".into()
}
fn default_signature_prefix() -> String {
    "v1=".into()
}

/// Requests admitted per channel: at most `limit` in any `window_seconds` (see
/// [`super::IngestGate`] for the scheme).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub limit: u32,
    pub window_seconds: u32,
}

/// The success acknowledgement a channel expects. Errors use the same content type;
/// `error_body` may contain `{code}` and `{message}` (JSON-escaped when substituted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckTemplate {
    #[serde(default = "default_ack_status")]
    pub status: u16,
    #[serde(default = "default_content_type")]
    pub content_type: String,
    pub body: String,
    #[serde(default = "default_error_body")]
    pub error_body: String,
}

fn default_ack_status() -> u16 {
    200
}
fn default_content_type() -> String {
    "application/json".into()
}
fn default_error_body() -> String {
    r#"{"error":"{code}","message":"{message}"}"#.into()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelConfig {
    pub id: ChannelId,
    pub kind: ChannelKind,
    pub signature: SignatureScheme,
    /// Bodies above this are refused (413) before anything is parsed.
    pub max_body_bytes: usize,
    /// Maximum age (and future skew) of the signed timestamp. `None` skips the check:
    /// the default for Meituan and Ele.me, which retry the *identical* signed request
    /// for hours when an acknowledgement is lost (idempotency handles those).
    pub freshness_seconds: Option<u32>,
    /// Reject a second delivery of the same signature within this window (our own
    /// channels sign every attempt afresh). `None` disables it (platforms re-send the
    /// identical request).
    pub replay_window_seconds: Option<u32>,
    pub rate_limit: RateLimit,
    /// How long an idempotency claim holds before a redelivery may process again.
    pub idempotency_lease_seconds: u32,
    pub ack: AckTemplate,
    /// IANA zone of the channel's local times and its UTC offset in minutes (the
    /// platforms here are all in mainland China: no daylight saving).
    pub time_zone: String,
    pub utc_offset_minutes: i32,
    pub currency: String,
    /// Quantities above this are flagged as impossible.
    pub max_line_quantity: u32,
    /// A configured channel's field mapping (required for `kind: configured`).
    pub mapping: Option<ConfiguredMapping>,
    /// SKU table carried by the config (a configured channel's own mapping); consulted
    /// before the [`SkuMap`] the normalize step is given.
    pub sku_map: Option<SkuMap>,
}

/// The wire form: everything but `id` may be omitted and then takes the kind's default.
#[derive(Deserialize)]
struct RawChannelConfig {
    id: ChannelId,
    kind: Option<ChannelKind>,
    signature: Option<SignatureScheme>,
    max_body_bytes: Option<usize>,
    #[serde(default, deserialize_with = "explicit_option")]
    freshness_seconds: Option<Option<u32>>,
    #[serde(default, deserialize_with = "explicit_option")]
    replay_window_seconds: Option<Option<u32>>,
    rate_limit: Option<RateLimit>,
    idempotency_lease_seconds: Option<u32>,
    ack: Option<AckTemplate>,
    time_zone: Option<String>,
    utc_offset_minutes: Option<i32>,
    currency: Option<String>,
    max_line_quantity: Option<u32>,
    mapping: Option<ConfiguredMapping>,
    sku_map: Option<SkuMap>,
}

/// Distinguishes an absent field (take the default) from an explicit `null` (disable).
fn explicit_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl<'de> Deserialize<'de> for ChannelConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawChannelConfig::deserialize(d)?;
        let kind = match raw
            .kind
            .or_else(|| ChannelKind::from_builtin_id(raw.id.as_str()))
        {
            Some(kind) => kind,
            None => {
                return Err(serde::de::Error::custom(
                    "`kind` is required for a channel that is not built in",
                ))
            }
        };
        if kind == ChannelKind::Configured && raw.mapping.is_none() {
            return Err(serde::de::Error::custom(
                "a configured channel needs a `mapping`",
            ));
        }
        if raw.max_body_bytes > Some(crate::limits::WEBHOOK_BODY_MAX) {
            return Err(serde::de::Error::custom(format!(
                "`max_body_bytes` is at most {} (the webhook edge reads no more)",
                crate::limits::WEBHOOK_BODY_MAX
            )));
        }
        let base = ChannelConfig::with_kind(raw.id, kind);
        Ok(ChannelConfig {
            signature: raw.signature.unwrap_or(base.signature),
            max_body_bytes: raw.max_body_bytes.unwrap_or(base.max_body_bytes),
            freshness_seconds: raw.freshness_seconds.unwrap_or(base.freshness_seconds),
            replay_window_seconds: raw
                .replay_window_seconds
                .unwrap_or(base.replay_window_seconds),
            rate_limit: raw.rate_limit.unwrap_or(base.rate_limit),
            idempotency_lease_seconds: raw
                .idempotency_lease_seconds
                .unwrap_or(base.idempotency_lease_seconds),
            ack: raw.ack.unwrap_or(base.ack),
            time_zone: raw.time_zone.unwrap_or(base.time_zone),
            utc_offset_minutes: raw.utc_offset_minutes.unwrap_or(base.utc_offset_minutes),
            currency: raw.currency.unwrap_or(base.currency),
            max_line_quantity: raw.max_line_quantity.unwrap_or(base.max_line_quantity),
            mapping: raw.mapping,
            sku_map: raw.sku_map,
            ..base
        })
    }
}

/// Our own channels' success body: which orders the push touched.
const OWN_ACK: &str = r#"{"status":"ok","result":"{result}","orders":{orders}}"#;

fn own_hmac() -> SignatureScheme {
    SignatureScheme::HmacSha256Header {
        timestamp_header: default_timestamp_header(),
        signature_header: default_signature_header(),
        prefix: default_signature_prefix(),
    }
}

impl ChannelConfig {
    /// The defaults of a built-in channel id ("meituan", "eleme", "app", "miniprogram",
    /// "pos", "groupbuy"); `None` for any other id.
    pub fn builtin(id: &str) -> Option<Self> {
        ChannelKind::from_builtin_id(id).map(|kind| Self::with_kind(ChannelId::new(id), kind))
    }

    /// A channel instance of a built-in kind under its own id (a second Meituan store
    /// account, say) with that kind's defaults.
    pub fn with_kind(id: ChannelId, kind: ChannelKind) -> Self {
        let own_ack = |body: &str| AckTemplate {
            status: 200,
            content_type: default_content_type(),
            body: body.into(),
            error_body: default_error_body(),
        };
        let (signature, freshness, replay, ack, max_body) = match kind {
            ChannelKind::Meituan => (
                SignatureScheme::MeituanMd5 {
                    signed_url: None,
                    signature_param: default_sig_param(),
                    timestamp_param: default_timestamp_param(),
                },
                None,
                None,
                AckTemplate {
                    status: 200,
                    content_type: default_content_type(),
                    body: r#"{"data":"ok"}"#.into(),
                    error_body: r#"{"data":"ng","error":{"code":"{code}","msg":"{message}"}}"#
                        .into(),
                },
                256 * 1024,
            ),
            ChannelKind::Eleme => (
                SignatureScheme::ElemeMd5 {
                    encoding: ElemeValueEncoding::Raw,
                    signature_field: default_eleme_signature_field(),
                    timestamp_field: default_timestamp_param(),
                },
                None,
                None,
                AckTemplate {
                    status: 200,
                    content_type: default_content_type(),
                    body: r#"{"message":"ok"}"#.into(),
                    error_body: r#"{"message":"error","code":"{code}","detail":"{message}"}"#
                        .into(),
                },
                256 * 1024,
            ),
            // Batches carry a whole shift / a leader's whole day: larger bodies.
            ChannelKind::Pos | ChannelKind::GroupBuy => (
                own_hmac(),
                Some(300),
                Some(300),
                own_ack(OWN_ACK),
                4 * 1024 * 1024,
            ),
            ChannelKind::App | ChannelKind::MiniProgram | ChannelKind::Configured => (
                own_hmac(),
                Some(300),
                Some(300),
                own_ack(OWN_ACK),
                256 * 1024,
            ),
        };
        ChannelConfig {
            id,
            kind,
            signature,
            max_body_bytes: max_body,
            freshness_seconds: freshness,
            replay_window_seconds: replay,
            rate_limit: RateLimit {
                limit: 600,
                window_seconds: 10,
            },
            idempotency_lease_seconds: 60,
            ack,
            time_zone: "Asia/Shanghai".into(),
            utc_offset_minutes: 480,
            currency: "CNY".into(),
            max_line_quantity: 999,
            mapping: None,
            sku_map: None,
        }
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_needs_only_the_id() {
        let mt = ChannelConfig::builtin("meituan").unwrap();
        assert_eq!(mt.kind, ChannelKind::Meituan);
        assert_eq!(mt.ack.body, r#"{"data":"ok"}"#);
        assert!(ChannelConfig::builtin("dingdong").is_none());
        let parsed = ChannelConfig::from_json(r#"{"id":"eleme"}"#).unwrap();
        assert_eq!(parsed, ChannelConfig::builtin("eleme").unwrap());
    }

    #[test]
    fn every_builtin_round_trips_through_json() {
        for id in ["meituan", "eleme", "app", "miniprogram", "pos", "groupbuy"] {
            let c = ChannelConfig::builtin(id).unwrap();
            let text = serde_json::to_string(&c).unwrap();
            assert_eq!(ChannelConfig::from_json(&text).unwrap(), c, "{id}");
        }
    }

    #[test]
    fn knobs_override_and_null_disables() {
        let c = ChannelConfig::from_json(
            r#"{"id":"app","replay_window_seconds":null,"freshness_seconds":60,
                "signature":{"scheme":"eleme_md5","encoding":"json"}}"#,
        )
        .unwrap();
        assert_eq!(c.replay_window_seconds, None);
        assert_eq!(c.freshness_seconds, Some(60));
        assert!(matches!(
            c.signature,
            SignatureScheme::ElemeMd5 {
                encoding: ElemeValueEncoding::Json,
                ..
            }
        ));
        assert!(ChannelConfig::from_json(r#"{"id":"x"}"#).is_err());
        assert!(ChannelConfig::from_json(r#"{"id":"x","kind":"configured"}"#).is_err());
    }
}
