//! The access check every component makes the same way: [`admit`], called by
//! [`crate::serve`] before a request body is read. It asks the core's route table
//! (`orderhub_core::access::routes`) who may call the route, verifies the bearer token,
//! counts failures per source, and answers 401/403/404/429 itself; a handler runs only
//! for a caller the table admits, and reads who that is with [`caller`].
//!
//! Where the core says a console session cookie counts (`access::session::cookie_use`:
//! the console's pages and data, logout) and no `authorization` header is sent, the
//! cookie's session token is the credential; a state-changing request with it must come
//! from the app's own origin (403 `cross_origin_refused` otherwise).
//!
//! Variables (per component, from the application's): `auth_keys` (`kid:secret,…`, the
//! token signing keys, first signs), `auth_mode` (`dev` accepts the static
//! `admin_token`/`job_token`/`rider_token` too; anything else, or unset, is strict),
//! `auth_fail_limit` (failures per source and minute before 429).
//!
//! No token, key or personal data ever goes into an answer or a log line.

use std::cell::RefCell;

use orderhub_core::access::routes::{self, Decision};
use orderhub_core::access::session::{self, CookieUse};
use orderhub_core::access::{throttle, token, AuthError, KeyRing, Principal, Role};
use orderhub_core::store::KeyValue;
use spin_sdk::http::{IncomingRequest, Response};

use crate::kv::Bucket;
use crate::respond::{error, ApiError};

thread_local! {
    /// The admitted caller of the request this instance serves (one per instance).
    static CALLER: RefCell<Option<Principal>> = const { RefCell::new(None) };
    /// When the admitted caller's bearer token expires (`None`: a static dev token or
    /// a session cookie).
    static EXPIRES: RefCell<Option<i64>> = const { RefCell::new(None) };
}

/// When the admitted caller's bearer token expires, if it came with one that does.
pub fn caller_expires() -> Option<i64> {
    EXPIRES.with(|e| *e.borrow())
}

/// Who is calling, for handlers whose answer depends on it (personal-data views).
/// `None` on open routes (webhooks, `/health`, private routes).
pub fn caller() -> Option<Principal> {
    CALLER.with(|c| c.borrow().clone())
}

/// Whether the app runs in development mode (`auth_mode = "dev"`).
pub fn dev_mode() -> bool {
    spin_sdk::variables::get("auth_mode").is_ok_and(|m| m == "dev")
}

/// The wall clock in Unix seconds (the core reads none; the shells pass it in).
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn header(req: &IncomingRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .first()
        .and_then(|v| String::from_utf8(v.clone()).ok())
}

/// Admit `req` or answer for it. Remembers the caller for [`caller`].
pub fn admit(req: &IncomingRequest) -> Result<(), Response> {
    let method = req.method().to_string();
    let path_and_query = req.path_with_query().unwrap_or_default();
    let path = path_and_query.split('?').next().unwrap_or_default();
    let rule = match routes::decide(&method, path) {
        Decision::Open => return Ok(()),
        Decision::Unknown => {
            return Err(error(
                404,
                "no_route",
                &format!("no route for {method} {path}"),
            ))
        }
        Decision::NeedsCredential(rule) => rule,
    };
    let now = now_secs();
    let source = header(req, "spin-client-addr").unwrap_or_default();
    let key = throttle::failure_key(&source, now);
    let limit = spin_sdk::variables::get("auth_fail_limit")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(throttle::DEFAULT_FAILURES_PER_MINUTE);
    let store = Bucket::open("auth").map_err(|e| {
        ApiError::new(500, "auth_not_configured", format!("store `auth`: {e}")).into_response()
    })?;
    let failures = store
        .increment(&key, 0)
        .map_err(|e| ApiError::store(e).into_response())?;
    if throttle::blocked(failures, limit) {
        return Err(too_many(now));
    }
    let authorization = header(req, "authorization");
    let cookie_use = session::cookie_use(&method, path);
    let session_token = header(req, "cookie")
        .as_deref()
        .and_then(session::from_cookie_header)
        .map(str::to_string);
    let presented = match (&authorization, cookie_use, session_token) {
        (None, CookieUse::Read | CookieUse::Change, Some(cookie)) => {
            if cookie_use == CookieUse::Change
                && !session::same_origin(
                    header(req, "origin").as_deref(),
                    &header(req, "spin-full-url").unwrap_or_default(),
                )
            {
                return Err(error(
                    403,
                    "cross_origin_refused",
                    "a request changing state with the session cookie must come from this app's own pages (Origin)",
                ));
            }
            authenticate_session(&cookie, now).map(|p| (p, None))
        }
        _ => authenticate(authorization.as_deref(), now),
    };
    let (principal, expires) = match presented {
        Ok(p) => p,
        Err(e) => {
            if e.status() == 401 {
                // Best effort: a store hiccup must not turn a 401 into something else.
                let _ = store.increment(&key, 1);
            }
            return Err(error(e.status(), e.code(), &e.to_string()));
        }
    };
    if !routes::permits(&rule, path, &principal) {
        return Err(error(
            403,
            "forbidden",
            &format!(
                "role `{}` may not call {method} {}",
                principal.role, rule.pattern
            ),
        ));
    }
    CALLER.with(|c| *c.borrow_mut() = Some(principal));
    EXPIRES.with(|e| *e.borrow_mut() = expires);
    Ok(())
}

fn too_many(now: i64) -> Response {
    let mut resp = error(
        429,
        "too_many_auth_failures",
        "too many failed authentications from this source; try again later",
    );
    resp.set_header("retry-after", throttle::retry_after(now).to_string());
    resp
}

/// The principal `authorization` names, with its token's expiry: a signed token, or in
/// development mode one of the static tokens this component has (no expiry).
fn authenticate(
    authorization: Option<&str>,
    now: i64,
) -> Result<(Principal, Option<i64>), AuthError> {
    let presented = authorization
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::Missing)?;
    if let Some(role) = static_token_role(presented) {
        if !dev_mode() {
            return Err(AuthError::StaticTokenRefused);
        }
        return Ok((
            Principal {
                subject: format!("dev-static-{role}"),
                role,
            },
            None,
        ));
    }
    token::verify_expiring(presented, &key_ring()?, now).map(|(p, exp)| (p, Some(exp)))
}

/// The principal of a session cookie's token.
fn authenticate_session(cookie: &str, now: i64) -> Result<Principal, AuthError> {
    token::verify_session(cookie, &key_ring()?, now)
}

/// The signing keys (`auth_keys`); the first signs.
pub fn key_ring() -> Result<KeyRing, AuthError> {
    let spec = spin_sdk::variables::get("auth_keys")
        .map_err(|e| AuthError::NotConfigured(format!("variable `auth_keys`: {e}")))?;
    KeyRing::parse(&spec)
}

/// The role of the static token `presented` equals, among those this component has.
fn static_token_role(presented: &str) -> Option<Role> {
    [
        ("admin_token", Role::Admin),
        ("job_token", Role::Scheduler),
        ("rider_token", Role::AnyRider),
    ]
    .into_iter()
    .find_map(|(variable, role)| {
        let expected = spin_sdk::variables::get(variable).ok()?;
        (!expected.is_empty() && constant_time_eq(presented.as_bytes(), expected.as_bytes()))
            .then_some(role)
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"ab"));
    }
}
