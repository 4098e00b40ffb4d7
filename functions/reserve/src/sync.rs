//! Stock pushed to the platforms (issue 15): the I/O of the sender whose decisions are
//! `orderhub_core::stock::sync`.
//!
//! - `POST /jobs/stock/sync/{channel}` (scheduler, every minute): one run — claim the
//!   channel, drain its outbox, send each call the core built, record what the platform
//!   answered, back off on failure.
//! - `GET /jobs/stock/sync/{channel}`: the channel's sync lag and failures.
//! - `PUT` / `GET /admin/stock/sync/{channel}`: its configuration.
//!
//! `?as_of=<RFC 3339>` (development mode only) runs the job as if it were that time, so
//! a test moves past a backoff without sleeping.

use chrono::{DateTime, Utc};
use orderhub_core::channel::catalog::load_sku_map;
use orderhub_core::order::ChannelId;
use orderhub_core::stock::drain_outbox;
use orderhub_core::stock::sync::{
    classify, codes_by_sku, load_sync_config, outbox_cursor, plan_push, put_sync_config,
    start_sync, stock_call, sync_status, CallVerdict, PlatformCall, PushAnswer, SyncConfig,
    SyncRun, SyncStart,
};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{invalid, json, ApiError};
use spin_sdk::http::{Method, Params, Request, Response};

use crate::{body, stock_error};

/// Journal entries one outbox read covers.
const DRAIN_ENTRIES: usize = 500;

fn channel(params: &Params) -> Result<ChannelId, ApiError> {
    params
        .get("channel")
        .filter(|c| !c.is_empty())
        .map(ChannelId::new)
        .ok_or_else(|| ApiError::bad_request("missing_channel", "the path names no channel"))
}

/// The job's clock: real time, or `as_of` moved along with real time.
fn clock(req: &Request) -> Result<impl Fn() -> DateTime<Utc>, ApiError> {
    let offset = match orderhub_shell::query_param(req.query(), "as_of") {
        None => chrono::Duration::zero(),
        Some(_) if !orderhub_shell::auth::dev_mode() => {
            return Err(ApiError::bad_request(
                "as_of_dev_only",
                "`as_of` moves the job's clock and is accepted only in development mode",
            ))
        }
        Some(v) => {
            let at = DateTime::parse_from_rfc3339(&v.replace("%3A", ":").replace("%2B", "+"))
                .map_err(|e| {
                    ApiError::bad_request("bad_query", format!("`as_of` is not RFC 3339: {e}"))
                })?;
            at.with_timezone(&Utc) - Utc::now()
        }
    };
    Ok(move || Utc::now() + offset)
}

pub fn put_config(req: &Request, params: &Params) -> Result<Response, ApiError> {
    let channel = channel(params)?;
    let config: SyncConfig = body(req, "sync_config")?;
    let problems = config.problems();
    if !problems.is_empty() {
        return Ok(invalid("invalid_sync_config", "sync config", &problems));
    }
    let store = Bucket::open("stock")?;
    put_sync_config(&store, &channel, &config).map_err(stock_error)?;
    Ok(json(200, &config))
}

pub fn get_config(_: &Request, params: &Params) -> Result<Response, ApiError> {
    let channel = channel(params)?;
    let store = Bucket::open("stock")?;
    match load_sync_config(&store, &channel).map_err(stock_error)? {
        Some(config) => Ok(json(200, &config)),
        None => Err(not_configured(&channel)),
    }
}

fn not_configured(channel: &ChannelId) -> ApiError {
    ApiError::not_found(
        "sync_not_configured",
        format!(
            "no stock sync for `{}`: PUT /admin/stock/sync/{}",
            channel.0, channel.0
        ),
    )
}

pub fn status(req: &Request, params: &Params) -> Result<Response, ApiError> {
    let channel = channel(params)?;
    let now = clock(req)?();
    let store = Bucket::open("stock")?;
    let status = sync_status(&store, &channel, now).map_err(stock_error)?;
    Ok(json(200, &status))
}

/// What one run did.
#[derive(serde::Serialize, Default)]
struct RunReport {
    channel: String,
    /// `ran`, `busy` (another run holds the channel), `waiting` (backing off) or
    /// `not_configured`.
    outcome: &'static str,
    calls: usize,
    items_pushed: usize,
    unmapped: usize,
    /// Why the run stopped before the outbox was empty, if it did.
    stopped: Option<String>,
    next_attempt_at: Option<DateTime<Utc>>,
}

pub async fn run(req: Request, params: Params) -> Response {
    orderhub_shell::finish(run_inner(&req, &params).await)
}

async fn run_inner(req: &Request, params: &Params) -> Result<Response, ApiError> {
    let channel = channel(params)?;
    let now = clock(req)?;
    let store = Bucket::open("stock")?;
    let mut report = RunReport {
        channel: channel.0.clone(),
        ..RunReport::default()
    };
    // The schedule fires for every platform channel; one not set up has nothing to do.
    let Some(config) = load_sync_config(&store, &channel).map_err(stock_error)? else {
        report.outcome = "not_configured";
        return Ok(json(200, &report));
    };
    let secret = spin_sdk::variables::get(config.platform.secret_variable()).unwrap_or_default();
    if secret.is_empty() {
        return Err(ApiError::new(
            409,
            "sync_secret_missing",
            format!(
                "the `{}` variable is not set for this component",
                config.platform.secret_variable()
            ),
        ));
    }
    let catalog = Bucket::open("catalog")?;
    let codes = codes_by_sku(
        &load_sku_map(&catalog, &config.sku_table(&channel).0)
            .map_err(|e| ApiError::new(500, "sku_table_unreadable", e.to_string()))?,
    );
    let mut run = match start_sync(&store, &channel, now()).map_err(stock_error)? {
        SyncStart::Run(run) => run,
        SyncStart::Busy => {
            report.outcome = "busy";
            return Ok(json(200, &report));
        }
        SyncStart::Waiting { until, .. } => {
            report.outcome = "waiting";
            report.next_attempt_at = Some(until);
            return Ok(json(200, &report));
        }
    };
    report.outcome = "ran";
    let result = push_all(
        &store,
        &config,
        &secret,
        &codes,
        &mut run,
        &now,
        &mut report,
    )
    .await;
    run.finish(&store).map_err(stock_error)?;
    result?;
    Ok(json(200, &report))
}

async fn push_all(
    store: &Bucket,
    config: &SyncConfig,
    secret: &str,
    codes: &std::collections::BTreeMap<orderhub_core::order::SkuId, Vec<String>>,
    run: &mut SyncRun,
    now: &impl Fn() -> DateTime<Utc>,
    report: &mut RunReport,
) -> Result<(), ApiError> {
    let channel = run.channel.clone();
    loop {
        let cursor = outbox_cursor(store, &channel).map_err(stock_error)?;
        let batch = drain_outbox(store, &channel, DRAIN_ENTRIES, now()).map_err(stock_error)?;
        if batch.updates.is_empty() && batch.next_cursor == cursor {
            return Ok(());
        }
        let plan = plan_push(&batch.updates, codes, config.batch_size);
        report.unmapped += plan.unmapped.len();
        for call in &plan.calls {
            match run.may_call(store, config, now()).map_err(stock_error)? {
                CallVerdict::Go => {}
                other => {
                    report.stopped = Some(format!("{other:?}"));
                    return Ok(());
                }
            }
            let request_id = format!("{}-{}-{}", channel.0, call[0].version, report.calls);
            let built = stock_call(config, secret, call, now(), &request_id);
            report.calls += 1;
            let answer = send(config, &built)
                .await
                .unwrap_or_else(|detail| PushAnswer::Failed { detail });
            if answer != PushAnswer::Accepted {
                let until = run
                    .failed(store, config, &answer, now())
                    .map_err(stock_error)?;
                report.stopped = Some(answer.describe());
                report.next_attempt_at = Some(until);
                return Ok(());
            }
            run.pushed(store, call, now()).map_err(stock_error)?;
            report.items_pushed += call.len();
        }
        run.caught_up(store, &batch).map_err(stock_error)?;
    }
}

/// Sends one call and judges the answer; a transport error is the `Err` text.
async fn send(config: &SyncConfig, call: &PlatformCall) -> Result<PushAnswer, String> {
    let request = Request::builder()
        .method(Method::Post)
        .uri(&call.url)
        .header("content-type", &call.content_type)
        .body(call.body.clone())
        .build();
    let response: Response = spin_sdk::http::send(request)
        .await
        .map_err(|e| format!("{} unreachable: {e}", call.url))?;
    let retry_after = response
        .header("retry-after")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    Ok(classify(
        config,
        *response.status(),
        retry_after.as_deref(),
        response.body(),
    ))
}
