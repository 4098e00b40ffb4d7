//! Signed, expiring bearer tokens: JWTs (RFC 7519) signed with HMAC-SHA256 by
//! `jsonwebtoken`, naming a subject and a [`Role`].
//!
//! Keys come from one Spin variable, `auth_keys` = `kid:secret[,kid:secret…]`: the first
//! key signs (the token CLI), every listed key verifies, and a token names its key in
//! the JWT header's `kid`. Rotation without downtime: add the new key second, deploy,
//! move it first (new tokens use it), deploy, drop the old one once its tokens expired.
//!
//! The expiry is checked here against the `now` the shell passes in (the core reads no
//! clock), so `jsonwebtoken`'s own clock-based checks are switched off.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::role::{Principal, Role};
use super::session;

/// Shortest secret accepted: 256 bits, the size of the HMAC-SHA256 output.
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest lifetime a person's token may claim (`exp - iat`): a leaked one dies within a day.
pub const MAX_LIFETIME_SECS: i64 = 24 * 3600;
/// Longest lifetime of the scheduler's token: it sits in the CronJobs' Secret and is
/// issued again at each key rotation.
pub const MAX_SCHEDULER_LIFETIME_SECS: i64 = 90 * 24 * 3600;

/// The longest lifetime a token for `role` may have.
pub fn max_lifetime(role: &Role) -> i64 {
    match role {
        Role::Scheduler => MAX_SCHEDULER_LIFETIME_SECS,
        _ => MAX_LIFETIME_SECS,
    }
}
/// How far in the future `iat` may be (clocks of issuer and app disagree a little).
pub const CLOCK_SKEW_SECS: i64 = 60;
/// The `iss` every orderhub token carries.
pub const ISSUER: &str = "orderhub";

/// The claims of an orderhub token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub role: Role,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds (exclusive).
    pub exp: i64,
}

/// Why a credential was refused. The messages never repeat the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("authorization: Bearer <token> required")]
    Missing,
    #[error("the bearer token is malformed or its signature does not verify")]
    BadToken,
    #[error("the bearer token names no key this app knows (`kid`)")]
    UnknownKey,
    #[error("the bearer token has expired")]
    Expired,
    #[error(
        "the bearer token is not valid yet, or claims a longer lifetime than its role may have"
    )]
    BadLifetime,
    #[error("static tokens are accepted only in development mode (auth_mode = \"dev\")")]
    StaticTokenRefused,
    #[error("auth is not configured: {0}")]
    NotConfigured(String),
}

impl AuthError {
    /// The machine-readable code of the error answer.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing_token",
            AuthError::BadToken => "bad_token",
            AuthError::UnknownKey => "unknown_key",
            AuthError::Expired => "token_expired",
            AuthError::BadLifetime => "bad_token_lifetime",
            AuthError::StaticTokenRefused => "static_token_refused",
            AuthError::NotConfigured(_) => "auth_not_configured",
        }
    }
    /// 401 for a credential's fault, 500 for the app's.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::NotConfigured(_) => 500,
            _ => 401,
        }
    }
}

/// One signing key: its id (the JWT `kid`) and secret.
#[derive(Clone)]
pub struct Key {
    pub kid: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({}, <secret>)", self.kid)
    }
}

/// The keys tokens are verified with; the first signs.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<Key>,
}

impl KeyRing {
    /// Parse `kid:secret[,kid:secret…]` (whitespace around entries ignored). Every kid
    /// is 1–32 of `A-Z a-z 0-9 _ -`, distinct; every secret at least
    /// [`MIN_SECRET_BYTES`] bytes. Errors name the entry by position, never its secret.
    pub fn parse(spec: &str) -> Result<KeyRing, AuthError> {
        let mut keys: Vec<Key> = Vec::new();
        for (i, entry) in spec.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let bad =
                |why: &str| AuthError::NotConfigured(format!("auth_keys entry {}: {why}", i + 1));
            let (kid, secret) = entry
                .split_once(':')
                .ok_or_else(|| bad("expected kid:secret"))?;
            let kid_ok = !kid.is_empty()
                && kid.len() <= 32
                && kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
            if !kid_ok {
                return Err(bad("the kid must be 1-32 of A-Z a-z 0-9 _ -"));
            }
            if secret.len() < MIN_SECRET_BYTES {
                return Err(bad("the secret must be at least 32 bytes"));
            }
            if keys.iter().any(|k| k.kid == kid) {
                return Err(bad("duplicate kid"));
            }
            keys.push(Key {
                kid: kid.to_string(),
                secret: secret.as_bytes().to_vec(),
            });
        }
        if keys.is_empty() {
            return Err(AuthError::NotConfigured("auth_keys is empty".into()));
        }
        Ok(KeyRing { keys })
    }

    pub fn signing_key(&self) -> &Key {
        &self.keys[0]
    }

    fn find(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

/// Sign `principal` as a token valid from `now` for `lifetime_secs` with `key`.
pub fn issue(
    principal: &Principal,
    now: i64,
    lifetime_secs: i64,
    key: &Key,
) -> Result<String, AuthError> {
    if !(1..=max_lifetime(&principal.role)).contains(&lifetime_secs) {
        return Err(AuthError::BadLifetime);
    }
    sign(principal, now, lifetime_secs, key, None)
}

/// Sign a console session for `principal` (`access::session`): a token like [`issue`]'s
/// but typed [`session::TOKEN_TYPE`], so it is accepted only from the session cookie,
/// living at most [`session::LIFETIME_SECS`].
pub fn issue_session(
    principal: &Principal,
    now: i64,
    lifetime_secs: i64,
    key: &Key,
) -> Result<String, AuthError> {
    if !(1..=session::LIFETIME_SECS).contains(&lifetime_secs) {
        return Err(AuthError::BadLifetime);
    }
    sign(
        principal,
        now,
        lifetime_secs,
        key,
        Some(session::TOKEN_TYPE),
    )
}

fn sign(
    principal: &Principal,
    now: i64,
    lifetime_secs: i64,
    key: &Key,
    typ: Option<&str>,
) -> Result<String, AuthError> {
    if principal.role == Role::AnyRider {
        return Err(AuthError::NotConfigured(
            "the any-rider role exists only for the development static token".into(),
        ));
    }
    let claims = Claims {
        iss: ISSUER.into(),
        sub: principal.subject.clone(),
        role: principal.role.clone(),
        iat: now,
        exp: now + lifetime_secs,
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    if let Some(typ) = typ {
        header.typ = Some(typ.into());
    }
    let signing = EncodingKey::from_secret(&key.secret)
        .map_err(|e| AuthError::NotConfigured(format!("signing key: {e}")))?;
    jsonwebtoken::encode(&header, &claims, &signing)
        .map_err(|e| AuthError::NotConfigured(format!("signing failed: {e}")))
}

/// The principal a token names, if its signature verifies with the key its `kid`
/// names, it is HS256, issued by orderhub, unexpired at `now` and its lifetime is at
/// most [`max_lifetime`] of its role. A session token is refused here: it is a
/// credential only in the session cookie ([`verify_session`]).
pub fn verify(token: &str, keys: &KeyRing, now: i64) -> Result<Principal, AuthError> {
    verify_expiring(token, keys, now).map(|(p, _)| p)
}

/// [`verify`], with the token's expiry (Unix seconds).
pub fn verify_expiring(
    token: &str,
    keys: &KeyRing,
    now: i64,
) -> Result<(Principal, i64), AuthError> {
    check(token, keys, now, false)
}

/// The principal of a session token (from the session cookie); a bearer token is
/// refused here.
pub fn verify_session(token: &str, keys: &KeyRing, now: i64) -> Result<Principal, AuthError> {
    check(token, keys, now, true).map(|(p, _)| p)
}

fn check(
    token: &str,
    keys: &KeyRing,
    now: i64,
    session: bool,
) -> Result<(Principal, i64), AuthError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::BadToken)?;
    if header.alg != Algorithm::HS256
        || (header.typ.as_deref() == Some(session::TOKEN_TYPE)) != session
    {
        return Err(AuthError::BadToken);
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keys.find(kid))
        .ok_or(AuthError::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims.clear();
    validation.set_issuer(&[ISSUER]);
    let decoding = DecodingKey::from_secret(&key.secret)
        .map_err(|e| AuthError::NotConfigured(format!("verification key: {e}")))?;
    let data = jsonwebtoken::decode::<Claims>(token, &decoding, &validation)
        .map_err(|_| AuthError::BadToken)?;
    let c = data.claims;
    let longest = if session {
        session::LIFETIME_SECS
    } else {
        max_lifetime(&c.role)
    };
    if c.iat > now + CLOCK_SKEW_SECS || c.exp - c.iat > longest || c.exp <= c.iat {
        return Err(AuthError::BadLifetime);
    }
    if now >= c.exp {
        return Err(AuthError::Expired);
    }
    Ok((
        Principal {
            subject: c.sub,
            role: c.role,
        },
        c.exp,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "k1:0123456789abcdef0123456789abcdef";
    const B: &str = "k2:fedcba9876543210fedcba9876543210";
    const NOW: i64 = 1_800_000_000;

    fn cs() -> Principal {
        Principal {
            subject: "alice".into(),
            role: Role::Cs,
        }
    }

    #[test]
    fn a_token_verifies_with_its_key_until_it_expires() {
        let ring = KeyRing::parse(A).unwrap();
        let t = issue(&cs(), NOW, 600, ring.signing_key()).unwrap();
        assert_eq!(verify(&t, &ring, NOW), Ok(cs()));
        assert_eq!(verify(&t, &ring, NOW + 599), Ok(cs()));
        assert_eq!(verify(&t, &ring, NOW + 600), Err(AuthError::Expired));
    }

    #[test]
    fn two_keys_are_valid_at_once_for_rotation() {
        let old = KeyRing::parse(A).unwrap();
        let rotating = KeyRing::parse(&format!("{B},{A}")).unwrap();
        let by_old = issue(&cs(), NOW, 600, old.signing_key()).unwrap();
        let by_new = issue(&cs(), NOW, 600, rotating.signing_key()).unwrap();
        assert_eq!(rotating.signing_key().kid, "k2");
        assert_eq!(verify(&by_old, &rotating, NOW), Ok(cs()));
        assert_eq!(verify(&by_new, &rotating, NOW), Ok(cs()));
        // After the old key is dropped its tokens are refused.
        let after = KeyRing::parse(B).unwrap();
        assert_eq!(verify(&by_old, &after, NOW), Err(AuthError::UnknownKey));
    }

    #[test]
    fn forged_and_tampered_tokens_are_refused() {
        let ring = KeyRing::parse(A).unwrap();
        // Same kid, another secret: the signature does not verify.
        let forger = KeyRing::parse("k1:this-is-not-the-real-secret-at-all!").unwrap();
        let forged = issue(&cs(), NOW, 600, forger.signing_key()).unwrap();
        assert_eq!(verify(&forged, &ring, NOW), Err(AuthError::BadToken));
        // A payload edited to claim admin keeps the old signature.
        let t = issue(&cs(), NOW, 600, ring.signing_key()).unwrap();
        let parts: Vec<&str> = t.split('.').collect();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = String::from_utf8(b64.decode(parts[1]).unwrap()).unwrap();
        let edited = b64.encode(payload.replace("\"cs\"", "\"admin\""));
        let tampered = format!("{}.{}.{}", parts[0], edited, parts[2]);
        assert_eq!(verify(&tampered, &ring, NOW), Err(AuthError::BadToken));
        assert_eq!(verify("not.a.jwt", &ring, NOW), Err(AuthError::BadToken));
        assert_eq!(verify("", &ring, NOW), Err(AuthError::BadToken));
        // alg=none is never accepted.
        let none = format!(
            "{}.{}.",
            b64.encode(r#"{"alg":"none","typ":"JWT","kid":"k1"}"#),
            parts[1]
        );
        assert!(verify(&none, &ring, NOW).is_err());
    }

    #[test]
    fn lifetimes_are_bounded() {
        let ring = KeyRing::parse(A).unwrap();
        assert_eq!(
            issue(&cs(), NOW, MAX_LIFETIME_SECS + 1, ring.signing_key()),
            Err(AuthError::BadLifetime)
        );
        let scheduler = Principal {
            subject: "cron".into(),
            role: Role::Scheduler,
        };
        assert!(issue(
            &scheduler,
            NOW,
            MAX_SCHEDULER_LIFETIME_SECS,
            ring.signing_key()
        )
        .is_ok());
        let t = issue(&cs(), NOW + 3600, 600, ring.signing_key()).unwrap();
        assert_eq!(verify(&t, &ring, NOW), Err(AuthError::BadLifetime));
    }

    #[test]
    fn key_specs_are_checked_without_echoing_secrets() {
        for bad in [
            "",
            "k1",
            "k1:short",
            "bad kid:0123456789abcdef0123456789abcdef",
        ] {
            let e = KeyRing::parse(bad).unwrap_err();
            assert_eq!(e.code(), "auth_not_configured", "{bad}");
            assert!(!e.to_string().contains("short"), "{e}");
        }
        let dup = format!("{A},{A}");
        assert!(KeyRing::parse(&dup).is_err());
        assert!(!format!("{:?}", KeyRing::parse(A).unwrap()).contains("0123456789abcdef"));
    }

    #[test]
    fn session_and_bearer_tokens_never_pass_for_each_other() {
        let ring = KeyRing::parse(A).unwrap();
        let bearer = issue(&cs(), NOW, 600, ring.signing_key()).unwrap();
        let session = issue_session(&cs(), NOW, 600, ring.signing_key()).unwrap();
        assert_eq!(verify_session(&session, &ring, NOW), Ok(cs()));
        assert_eq!(verify(&session, &ring, NOW), Err(AuthError::BadToken));
        assert_eq!(
            verify_session(&bearer, &ring, NOW),
            Err(AuthError::BadToken)
        );
        assert_eq!(verify_expiring(&bearer, &ring, NOW), Ok((cs(), NOW + 600)));
        assert_eq!(
            verify_session(&session, &ring, NOW + 600),
            Err(AuthError::Expired)
        );
        assert_eq!(
            issue_session(&cs(), NOW, session::LIFETIME_SECS + 1, ring.signing_key()),
            Err(AuthError::BadLifetime)
        );
    }
}
