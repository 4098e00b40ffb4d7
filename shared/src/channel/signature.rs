//! The signature schemes, as pure functions of the signed material (public so that
//! clients, tests and tools can sign requests the way orderhub verifies them). Comparison is
//! constant-time so a forger learns nothing from response timing.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

use super::config::ElemeValueEncoding;

/// Meituan: `md5_lower(url + "?" + k1=v1&k2=v2… (sorted by key, signature param
/// excluded, values decoded) + secret)`.
pub fn meituan_md5(
    url: &str,
    params: &BTreeMap<String, String>,
    signature_param: &str,
    secret: &str,
) -> String {
    let mut hasher = Md5::new();
    hasher.update(url.as_bytes());
    hasher.update(b"?");
    let mut first = true;
    for (k, v) in params.iter().filter(|(k, _)| k.as_str() != signature_param) {
        if !first {
            hasher.update(b"&");
        }
        first = false;
        hasher.update(k.as_bytes());
        hasher.update(b"=");
        hasher.update(v.as_bytes());
    }
    hasher.update(secret.as_bytes());
    hex::encode(hasher.finalize())
}

/// Ele.me: `md5_upper(k1=v1k2=v2… (sorted by key, signature field excluded) + secret)`,
/// each value encoded per `encoding`.
pub fn eleme_md5(
    envelope: &serde_json::Map<String, serde_json::Value>,
    signature_field: &str,
    encoding: ElemeValueEncoding,
    secret: &str,
) -> String {
    let sorted: BTreeMap<&String, &serde_json::Value> = envelope
        .iter()
        .filter(|(k, _)| k.as_str() != signature_field)
        .collect();
    let mut hasher = Md5::new();
    for (k, v) in sorted {
        hasher.update(k.as_bytes());
        hasher.update(b"=");
        match (encoding, v) {
            (ElemeValueEncoding::Raw, serde_json::Value::String(s)) => hasher.update(s.as_bytes()),
            (ElemeValueEncoding::Raw, serde_json::Value::Null) => {}
            (ElemeValueEncoding::Raw, other) | (ElemeValueEncoding::Json, other) => {
                hasher.update(other.to_string().as_bytes())
            }
        }
    }
    hasher.update(secret.as_bytes());
    hex::encode_upper(hasher.finalize())
}

/// Our own channels: `hex(hmac_sha256(secret, timestamp + "." + body))`.
pub fn hmac_sha256(secret: &str, timestamp: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Equality that takes the same time wherever the first difference is.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        // The primitive against RFC 4231 test case 2; the channel vectors live in the
        // adapters' tests.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(hmac_sha256("k", "1", b"x").len(), 64);
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
