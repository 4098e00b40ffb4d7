//! `privacy` component. Instance `audit-admin` (`/admin/audit`, admin): `GET
//! /admin/audit[?cursor=N&limit=M]` pages through the audit trail
//! (`orderhub_core::access::audit`), oldest first; the answer's `next_cursor` asks for
//! the next page. Instance `privacy-jobs` (`/jobs/privacy/...`, scheduler or
//! admin): `POST /jobs/privacy/erase` irreversibly masks the personal data of orders
//! finished (delivered, completed, cancelled, fully refunded) more than
//! `personal_data_retention_days` ago (`orderhub_core::access::erasure`). Idempotent:
//! a repeated or doubled run erases nothing twice.
//!
//! `?as_of=<RFC 3339>` runs it as if it were that time, so a test can move the clock
//! forward without waiting; only in development mode (`auth_mode = "dev"`), since in
//! production it would erase data early.
//!
//! Same shape as every component: parse, call the core, apply its effects, answer.

use chrono::{DateTime, Duration, Utc};
use orderhub_core::access::{audit, erasure};
use orderhub_core::order::ChannelId;
use orderhub_shell::kv::Bucket;
use orderhub_shell::{finish, health, json, ApiError};
use spin_sdk::http::{IncomingRequest, Params, Request, Response, Router};
use spin_sdk::http_component;

/// Retention when the variable is unset: 30 days after an order finished.
const DEFAULT_RETENTION_DAYS: i64 = 30;
/// How long after being placed an order may finish and still be found.
const DEFAULT_LOOKBACK_DAYS: i64 = 31;

#[http_component]
async fn handle(incoming: IncomingRequest) -> Response {
    orderhub_shell::serve(incoming, orderhub_core::limits::API_BODY_MAX, route).await
}

async fn route(req: Request) -> Response {
    let mut router = Router::new();
    router.get("/health", |_: Request, _: Params| health("privacy"));
    router.get("/jobs/privacy/health", |_: Request, _: Params| {
        health("privacy")
    });
    router.post("/jobs/privacy/erase", |req: Request, _: Params| {
        finish(erase(&req))
    });
    router.get("/admin/audit", |req: Request, _: Params| {
        finish(audit_page(&req))
    });
    router.handle_async(req).await
}

fn days_variable(name: &str, default: i64) -> Result<i64, ApiError> {
    match spin_sdk::variables::get(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|d| (0..=3650).contains(d))
            .ok_or_else(|| {
                ApiError::new(
                    500,
                    "bad_configuration",
                    format!("variable `{name}` must be a number of days 0..=3650"),
                )
            }),
        _ => Ok(default),
    }
}

fn erase(req: &Request) -> Result<Response, ApiError> {
    let now = match orderhub_shell::query_param(req.query(), "as_of") {
        None => Utc::now(),
        Some(_) if !orderhub_shell::auth::dev_mode() => {
            return Err(ApiError::bad_request(
                "as_of_dev_only",
                "`as_of` moves the erasure clock and is accepted only in development mode",
            ))
        }
        Some(v) => DateTime::parse_from_rfc3339(&v.replace("%3A", ":").replace("%2B", "+"))
            .map_err(|e| {
                ApiError::bad_request("bad_query", format!("`as_of` is not RFC 3339: {e}"))
            })?
            .with_timezone(&Utc),
    };
    let retention = Duration::days(days_variable(
        "personal_data_retention_days",
        DEFAULT_RETENTION_DAYS,
    )?);
    let channels: Vec<ChannelId> = spin_sdk::variables::get("channels")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(ChannelId::new)
        .collect();
    let store = Bucket::open("orders")?;
    let merge = Bucket::open("merge")?;
    let dispatch = Bucket::open("dispatch")?;
    let report = erasure::erase_due(
        &store,
        &merge,
        &dispatch,
        &channels,
        now,
        retention,
        DEFAULT_LOOKBACK_DAYS,
    )?;
    Ok(json(
        200,
        &serde_json::json!({
            "as_of": now,
            "retention_days": retention.num_days(),
            "report": report,
        }),
    ))
}

fn audit_page(req: &Request) -> Result<Response, ApiError> {
    let number = |name: &str, default: u64| -> Result<u64, ApiError> {
        orderhub_shell::query_param(req.query(), name).map_or(Ok(default), |v| {
            v.parse().map_err(|_| {
                ApiError::bad_request(
                    "bad_query",
                    format!("`{name}` must be a whole number, got `{v}`"),
                )
            })
        })
    };
    let cursor = number("cursor", 1)?;
    let limit = number("limit", 100)?;
    let store = Bucket::open(orderhub_shell::audit::STORE)?;
    Ok(json(200, &audit::page(&store, cursor, limit)?))
}
