//! Each platform's signature, computed here from its spelled-out rule (see
//! `../shared/CHANNELS.md` and `docs/channels.md`), never with the core's code: a load
//! run then also checks that orderhub verifies what the platforms really send.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

/// Meituan `sig`: MD5, lowercase hex, of `url + "?" + k=v&k=v… (sorted by key, `sig`
/// excluded, values as sent before form encoding) + secret`.
pub fn meituan(url_without_query: &str, params: &[(&str, String)], secret: &str) -> String {
    let mut sorted: Vec<&(&str, String)> = params.iter().filter(|(k, _)| *k != "sig").collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let joined: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let text = format!("{url_without_query}?{}{secret}", joined.join("&"));
    hex::encode(Md5::digest(text.as_bytes()))
}

/// Ele.me `signature`: MD5, UPPERCASE hex, of the other envelope fields sorted by key,
/// each as `key=value` (strings raw, numbers as written), concatenated with no
/// separator, then the secret.
pub fn eleme(envelope: &serde_json::Map<String, serde_json::Value>, secret: &str) -> String {
    let mut keys: Vec<&String> = envelope.keys().filter(|k| *k != "signature").collect();
    keys.sort();
    let mut text = String::new();
    for k in keys {
        match &envelope[k] {
            serde_json::Value::String(s) => text.push_str(&format!("{k}={s}")),
            other => text.push_str(&format!("{k}={other}")),
        }
    }
    text.push_str(secret);
    hex::encode_upper(Md5::digest(text.as_bytes()))
}

/// Our own channels' header value: `v1=hex(hmac_sha256(secret, timestamp + "." + body))`.
pub fn own(secret: &str, timestamp: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    //! Known vectors, computed outside Rust from the spelled-out strings:
    //! `printf '%s' "<text>" | md5sum` and
    //! `printf '%s' "<ts>.<body>" | openssl dgst -sha256 -hmac <secret>`.
    use super::*;

    #[test]
    fn meituan_known_vector() {
        // md5("http://127.0.0.1:3000/webhooks/meituan/order?app_id=6789&order_id=42&timestamp=1700000000dev-meituan-secret")
        let params = vec![
            ("timestamp", "1700000000".to_string()),
            ("order_id", "42".to_string()),
            ("app_id", "6789".to_string()),
            ("sig", "ignored".to_string()),
        ];
        assert_eq!(
            meituan(
                "http://127.0.0.1:3000/webhooks/meituan/order",
                &params,
                "dev-meituan-secret"
            ),
            "46d9d615e50b6498e40d4fb083a74865"
        );
    }

    #[test]
    fn eleme_known_vector() {
        // md5("appId=12345678message={\"orderId\":\"1\"}requestId=r1shopId=170000123timestamp=1700000000000type=10userId=336699dev-eleme-secret"), upper
        let env = serde_json::json!({
            "requestId": "r1", "type": 10, "appId": 12345678,
            "message": "{\"orderId\":\"1\"}", "shopId": 170000123,
            "timestamp": 1_700_000_000_000i64, "userId": 336699, "signature": "x"
        });
        assert_eq!(
            eleme(env.as_object().unwrap(), "dev-eleme-secret"),
            "91D8DCD805E029DC3C7961972108F216"
        );
    }

    #[test]
    fn own_known_vector() {
        // hmac_sha256("dev-app-secret", "1700000000.{\"event\":\"order.paid\"}")
        assert_eq!(
            own("dev-app-secret", "1700000000", br#"{"event":"order.paid"}"#),
            "v1=347acb61c9ea51ae5ed5834b82a7116e90f1a3f57d3611fafba3b6b237992d6b"
        );
    }
}
