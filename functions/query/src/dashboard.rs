//! The live dashboard: per-channel volume, fulfilment rate and exception rate for a
//! business day. `GET /dashboard/` is a page whose script (`app.js`) polls `GET
//! /dashboard/api/stats`; a browser logs in at `GET /dashboard/login`, which exchanges a
//! bearer token for a session cookie (`POST /dashboard/session`, `access::session`).
//! The pages are static files (`functions/query/console/`), scripts and styles served
//! apart so the Content-Security-Policy allows no inline script.

use orderhub_core::access::{session, token, AuthError};
use orderhub_core::order::ChannelId;
use orderhub_core::stats;
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use spin_sdk::http::{Request, Response};

/// Business days are Shanghai dates unless a channel says otherwise.
const DEFAULT_OFFSET_MINUTES: i32 = 480;

pub fn stats_json(req: &Request) -> Result<Response, ApiError> {
    let day = match orderhub_shell::query_param(req.query(), "day") {
        Some(text) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            ApiError::bad_request("bad_day", format!("`day` must be YYYY-MM-DD, got `{text}`"))
        })?,
        None => stats::business_day(chrono::Utc::now(), DEFAULT_OFFSET_MINUTES),
    };
    let channels = spin_sdk::variables::get("channels").unwrap_or_default();
    let store = Bucket::open("orders")?;
    let mut rows = Vec::new();
    for ch in channels.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        rows.push(stats::read(&store, day, &ChannelId::new(ch))?);
    }
    Ok(json(
        200,
        &serde_json::json!({ "day": day, "channels": rows }),
    ))
}

/// A static file of the console (`functions/query/console/`).
fn file(content_type: &str, body: &'static str) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", content_type)
        .header("cache-control", "no-store")
        .body(body)
        .build()
}

/// `GET /dashboard/`: the page; its script (`app.js`) polls the stats.
pub fn page() -> Response {
    file(
        "text/html; charset=utf-8",
        include_str!("../console/dashboard.html"),
    )
}

/// `GET /dashboard/login`: paste a token once, get the session cookie.
pub fn login_page() -> Response {
    file(
        "text/html; charset=utf-8",
        include_str!("../console/login.html"),
    )
}

pub fn app_js() -> Response {
    file(
        "text/javascript; charset=utf-8",
        include_str!("../console/app.js"),
    )
}

pub fn login_js() -> Response {
    file(
        "text/javascript; charset=utf-8",
        include_str!("../console/login.js"),
    )
}

pub fn style_css() -> Response {
    file(
        "text/css; charset=utf-8",
        include_str!("../console/style.css"),
    )
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.header(name)
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

fn secure(req: &Request) -> bool {
    session::secure(
        &header(req, "spin-full-url").unwrap_or_default(),
        header(req, "x-forwarded-proto").as_deref(),
    )
}

/// `POST /dashboard/session` with a bearer token (the route table admitted it): a
/// session cookie for the same principal, living no longer than that token.
pub fn login(req: &Request) -> Result<Response, ApiError> {
    let who = orderhub_shell::auth::caller().ok_or_else(|| {
        ApiError::new(
            401,
            "missing_token",
            "authorization: Bearer <token> required",
        )
    })?;
    let now = orderhub_shell::auth::now_secs();
    let lifetime = session::lifetime(now, orderhub_shell::auth::caller_expires());
    let auth = |e: AuthError| ApiError::new(e.status(), e.code(), e.to_string());
    let keys = orderhub_shell::auth::key_ring().map_err(auth)?;
    let token = token::issue_session(&who, now, lifetime, keys.signing_key()).map_err(auth)?;
    let mut resp = json(
        200,
        &serde_json::json!({
            "subject": who.subject, "role": who.role, "expires_at": now + lifetime,
        }),
    );
    resp.set_header(
        "set-cookie",
        session::set_cookie(&token, lifetime, secure(req)),
    );
    resp.set_header("cache-control", "no-store");
    Ok(resp)
}

/// `DELETE /dashboard/session`: the cookie removed (logout).
pub fn logout(req: &Request) -> Response {
    let mut resp = json(200, &serde_json::json!({ "logged_out": true }));
    resp.set_header("set-cookie", session::clear_cookie(secure(req)));
    resp
}
