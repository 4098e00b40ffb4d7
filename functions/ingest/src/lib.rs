//! `ingest` component: one instance per channel (`ingest-meituan`, `ingest-eleme`, …),
//! each with its own route, `channel` id and `channel_secret`.
//!
//! verify (core, pure) → normalize (core, pure: bad input is refused in the platform's
//! format, and the answer names the orders) → rate limit, replay, duplicate, and the
//! one durable write into the inbox (`orderhub_core::intake::enter`) → acknowledge in
//! the platform's format. Acknowledged means durable. The writer of a tick's first slot
//! then, after its answer went out, waits for the tick to close and asks normalize to
//! drain it (`POST http://normalize.spin.internal/drain`): the pipeline runs in batches
//! off the request path, and the scheduled sweep catches whatever a crash left.

use std::time::{Duration, UNIX_EPOCH};

use chrono::Utc;
use orderhub_core::channel::{
    acknowledgement, catalog, normalize_unmapped, verify, Ack, ChannelConfig, ChannelKind,
    InboundRequest, Outcome,
};
use orderhub_core::intake::{self, DrainReport, DrainRequest, Entered, InboxItem};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{early, finish, health, ApiError};
use spin_sdk::http::{IncomingRequest, Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
async fn handle(incoming: IncomingRequest, outparam: ResponseOutparam) {
    let limit = orderhub_core::limits::WEBHOOK_BODY_MAX;
    let (resp, drain) = match orderhub_shell::body::read(incoming, limit).await {
        Ok(req) => route(req).await,
        Err(e) => (e.into_response(), None),
    };
    early::send_now(outparam, resp).await;
    if let Some(tick) = drain {
        drain_when_closed(tick).await;
    }
}

async fn route(req: Request) -> (Response, Option<i64>) {
    if *req.method() == Method::Get && req.path().ends_with("/health") {
        return (health("ingest"), None);
    }
    match ingest(req).await {
        Ok((resp, drain)) => (resp, drain),
        Err(e) => (finish(Err(e)), None),
    }
}

async fn ingest(req: Request) -> Result<(Response, Option<i64>), ApiError> {
    let (channel, secret) = channel_and_secret(&req)?;
    let catalog_store = Bucket::open("catalog")?;
    let cfg = catalog::load_config(&catalog_store, &channel).map_err(|e| match e {
        catalog::CatalogError::UnknownChannel(_) => {
            ApiError::not_found("unknown_channel", e.to_string())
        }
        _ => ApiError::new(500, "channel_not_configured", e.to_string()),
    })?;

    let headers: Vec<(String, String)> = req
        .headers()
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let full_url = req
        .header("spin-full-url")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| req.uri().to_string());
    let method = req.method().to_string();
    let now = Utc::now();
    let inbound = InboundRequest {
        method: &method,
        full_url: &full_url,
        path: req.path(),
        query: req.query(),
        headers: &headers,
        content_type: req.header("content-type").and_then(|v| v.as_str()),
        body: req.body(),
        received_at: now,
    };

    let push = match verify(&cfg, &secret, &inbound) {
        Ok(push) => push,
        Err(e) => return Ok((answer(&cfg, &Outcome::Refused(e)), None)),
    };
    // The SKU map is applied by the drain, once per batch (a read less per push).
    let events = match normalize_unmapped(&cfg, &push, now) {
        Ok(events) => events,
        Err(e) => return Ok((answer(&cfg, &Outcome::Invalid(e)), None)),
    };
    let item = InboxItem {
        channel: push.channel.clone(),
        utc_offset_minutes: cfg.utc_offset_minutes,
        acked_at: now,
        events,
        skus_unmapped: true,
    };
    let store = Bucket::open("ingest")?;
    let (outcome, entered) = match intake::enter(&store, &cfg, &push, &item, now) {
        Ok(entered @ Entered::Written { .. }) => (
            Outcome::Accepted {
                orders: item.order_ids(),
            },
            Some(entered),
        ),
        Ok(Entered::Duplicate) => (Outcome::Duplicate, None),
        Err(e) => (Outcome::Refused(e), None),
    };
    let mut resp = answer(&cfg, &outcome);
    if let Some(Entered::Written { tick, slot }) = &entered {
        // Where the push waits: lets a caller (the e2e suite, an operator) follow it.
        resp.set_header("x-orderhub-intake", format!("{tick}/{slot}"));
    }
    Ok((resp, entered.and_then(|e| e.drains())))
}

/// After the answer: wait for the tick to close, then have it drained. A failure here
/// loses nothing (the push is in the inbox; the sweep drains it), so it is only logged.
async fn drain_when_closed(tick: i64) {
    let due = intake::drain_due(tick);
    let due_ms = u64::try_from(due.timestamp_millis()).unwrap_or(0);
    early::sleep_until(UNIX_EPOCH + Duration::from_millis(due_ms));
    let result: Result<DrainReport, String> = orderhub_shell::internal::post(
        "http://normalize.spin.internal/drain",
        &DrainRequest { tick },
    )
    .await;
    if let Err(e) = result {
        eprintln!("ingest: tick {tick} not drained now (the sweep will): {e}");
    }
}

fn answer(cfg: &ChannelConfig, outcome: &Outcome) -> Response {
    let Ack {
        status,
        content_type,
        body,
        retry_after_seconds,
    } = acknowledgement(cfg, outcome);
    let mut builder = Response::builder();
    builder.status(status).header("content-type", content_type);
    if let Some(seconds) = retry_after_seconds {
        builder.header("retry-after", seconds.to_string());
    }
    builder.body(body).build()
}

/// Which channel this request is for, and its secret. A built-in channel's instance names
/// its channel in the `channel` variable; the `ingest-ext` instance (`channel =
/// "from-path"`) serves every channel added by configuration at
/// `/webhooks/ext/{channel}/...`, with secrets from the `channel_secrets` JSON map
/// (a secret variable, so adding a channel is configuration, not code).
fn channel_and_secret(req: &Request) -> Result<(String, String), ApiError> {
    let channel = variable("channel")?;
    if channel != "from-path" {
        return Ok((channel, variable("channel_secret")?));
    }
    let id = req
        .path()
        .strip_prefix("/webhooks/ext/")
        .and_then(|rest| rest.split('/').next())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            ApiError::not_found("unknown_channel", "expected /webhooks/ext/{channel}/...")
        })?;
    if ChannelKind::from_builtin_id(id).is_some() {
        return Err(ApiError::not_found(
            "unknown_channel",
            format!("`{id}` is built in: use /webhooks/{id}/..."),
        ));
    }
    let secrets: std::collections::HashMap<String, String> =
        serde_json::from_str(&variable("channel_secrets")?).map_err(|e| {
            ApiError::new(
                500,
                "channel_not_configured",
                format!("`channel_secrets` is not a JSON map: {e}"),
            )
        })?;
    let secret = secrets.get(id).cloned().ok_or_else(|| {
        ApiError::not_found("unknown_channel", format!("no secret for channel `{id}`"))
    })?;
    Ok((id.to_string(), secret))
}

fn variable(name: &str) -> Result<String, ApiError> {
    spin_sdk::variables::get(name)
        .map_err(|e| ApiError::new(500, "variable_missing", format!("`{name}`: {e}")))
}
