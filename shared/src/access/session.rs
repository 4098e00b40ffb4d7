//! The console's browser login: a cookie session, and the headers every page is
//! answered with.
//!
//! A browser cannot send a bearer token by itself, so `POST /dashboard/session`, called
//! with one (`Authorization: Bearer …`, pasted once into the login page; in development
//! mode a static dev token works too), answers with a cookie holding a *session token*:
//! a JWT like the bearer tokens, signed with the same keys, marked `typ:
//! orderhub-session` so neither kind passes for the other ([`super::token::verify_session`]),
//! living [`LIFETIME_SECS`] at most and never longer than the token it was exchanged
//! for. The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's
//! page sends it), `Secure` when the app is reached over https, and scoped to
//! `/dashboard`.
//!
//! The shell accepts the cookie only where [`cookie_use`] says: reading the console's
//! pages and data, and logging out. A state-changing request carrying it must also come
//! from the app's own origin ([`same_origin`]: the `Origin` header, which browsers send
//! on every non-GET request), the CSRF defence on top of `SameSite=Strict`.

/// The cookie's name.
pub const COOKIE: &str = "orderhub_session";
/// The path the cookie is sent for.
pub const COOKIE_PATH: &str = "/dashboard";
/// A session's longest life: one shift.
pub const LIFETIME_SECS: i64 = 8 * 3600;
/// The JWT `typ` of a session token.
pub const TOKEN_TYPE: &str = "orderhub-session";

/// Every answer's Content-Security-Policy: scripts, styles and data from the app's
/// own origin only (no inline script or style, no eval), no plugins, no framing, forms
/// posting only to the app.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
base-uri 'none'; frame-ancestors 'none'";

/// The headers every answer carries (HTML pages need them; on JSON they cost nothing).
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
];

/// What a session cookie may stand for on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieUse {
    /// Nothing: the route wants a bearer token.
    Refused,
    /// A read of the console (its pages and their data).
    Read,
    /// A state-changing request of the console (logging out): same origin only.
    Change,
}

/// Where the cookie counts as a credential.
pub fn cookie_use(method: &str, path: &str) -> CookieUse {
    let method = method.to_ascii_uppercase();
    match (method.as_str(), path) {
        ("GET", "/dashboard" | "/dashboard/" | "/dashboard/api/stats" | "/dashboard/app.js") => {
            CookieUse::Read
        }
        ("DELETE", "/dashboard/session") => CookieUse::Change,
        _ => CookieUse::Refused,
    }
}

/// The session token in a `Cookie` header, if any.
pub fn from_cookie_header(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` of a session token living `max_age` seconds.
pub fn set_cookie(token: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{COOKIE}={token}; Path={COOKIE_PATH}; Max-Age={}; HttpOnly; SameSite=Strict{}",
        max_age.max(0),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` that removes the session cookie (logout).
pub fn clear_cookie(secure: bool) -> String {
    set_cookie("", 0, secure)
}

/// How long a session exchanged at `now` for a credential expiring at `expires` (none
/// for a development static token) lives.
pub fn lifetime(now: i64, expires: Option<i64>) -> i64 {
    expires.map_or(LIFETIME_SECS, |exp| (exp - now).clamp(0, LIFETIME_SECS))
}

/// `https://host:port` of a full URL (`spin-full-url`), lower-cased; `None` if it is not
/// an absolute http(s) URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// Whether the request came from the app's own pages: its `Origin` header names the
/// origin of the URL it was sent to. No `Origin` is refused (every browser sends it on
/// a state-changing request).
pub fn same_origin(origin_header: Option<&str>, full_url: &str) -> bool {
    match (origin_header.map(str::trim), origin_of(full_url)) {
        (Some(origin), Some(own)) => origin.eq_ignore_ascii_case(&own),
        _ => false,
    }
}

/// Whether the cookie gets `Secure`: the app was reached over https (directly, or
/// through a proxy that says so in `x-forwarded-proto`).
pub fn secure(full_url: &str, forwarded_proto: Option<&str>) -> bool {
    full_url.to_ascii_lowercase().starts_with("https://")
        || forwarded_proto.is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_reads_the_console_and_logs_out_and_nothing_else() {
        assert_eq!(cookie_use("GET", "/dashboard/"), CookieUse::Read);
        assert_eq!(cookie_use("GET", "/dashboard/api/stats"), CookieUse::Read);
        assert_eq!(cookie_use("GET", "/dashboard/app.js"), CookieUse::Read);
        assert_eq!(
            cookie_use("DELETE", "/dashboard/session"),
            CookieUse::Change
        );
        for (method, path) in [
            ("POST", "/dashboard/session"),
            ("GET", "/orders/meituan-1"),
            ("PUT", "/admin/merge/rules"),
            ("POST", "/dashboard/api/stats"),
            ("GET", "/admin/audit"),
        ] {
            assert_eq!(
                cookie_use(method, path),
                CookieUse::Refused,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_https() {
        let c = set_cookie("t.o.k", 3600, true);
        assert_eq!(
            c,
            "orderhub_session=t.o.k; Path=/dashboard; Max-Age=3600; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!set_cookie("t", 1, false).contains("Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
        assert!(secure("https://a.example/dashboard", None));
        assert!(secure("http://10.0.0.1/dashboard", Some("https")));
        assert!(!secure("http://127.0.0.1:3000/dashboard", None));
    }

    #[test]
    fn the_session_token_is_found_among_other_cookies() {
        assert_eq!(
            from_cookie_header("a=1; orderhub_session=x.y.z; b=2"),
            Some("x.y.z")
        );
        assert_eq!(from_cookie_header("orderhub_sessionx=1"), None);
        assert_eq!(from_cookie_header("orderhub_session="), None);
        assert_eq!(from_cookie_header(""), None);
    }

    #[test]
    fn a_session_never_outlives_the_credential_it_was_exchanged_for() {
        assert_eq!(lifetime(1000, None), LIFETIME_SECS);
        assert_eq!(lifetime(1000, Some(1600)), 600);
        assert_eq!(lifetime(1000, Some(1000 + 48 * 3600)), LIFETIME_SECS);
        assert_eq!(lifetime(1000, Some(900)), 0);
    }

    #[test]
    fn only_the_apps_own_origin_may_change_state_with_the_cookie() {
        let url = "http://127.0.0.1:3000/dashboard/session";
        assert!(same_origin(Some("http://127.0.0.1:3000"), url));
        assert!(!same_origin(Some("http://evil.example"), url));
        assert!(!same_origin(Some("http://127.0.0.1:3001"), url));
        assert!(!same_origin(Some("null"), url));
        assert!(!same_origin(None, url));
        assert!(!same_origin(Some("http://127.0.0.1:3000"), "not a url"));
        assert_eq!(
            origin_of("HTTPS://App.Example:8443/x?y").as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(origin_of("http://user@evil/x"), None);
    }

    #[test]
    fn every_answer_forbids_inline_script_and_framing() {
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-eval"));
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self'"));
        let names: Vec<&str> = SECURITY_HEADERS.iter().map(|(n, _)| *n).collect();
        for needed in [
            "content-security-policy",
            "x-content-type-options",
            "referrer-policy",
        ] {
            assert!(names.contains(&needed), "{needed}");
        }
    }
}
