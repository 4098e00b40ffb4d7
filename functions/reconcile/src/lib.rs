//! `reconcile` component: statements and payment bills against our records; T+1
//! settlement. Instances: `reconcile` (`/reconcile/...`, bearer `admin_token`) and
//! `reconcile-jobs` (`/jobs/reconcile/...`, bearer `job_token`).
//!
//! Routes:
//! - `POST /reconcile/uploads` `{channel, business_date, statement: {"kind": …}, total_chunks}`
//!   → 201 upload status with `upload_id`;
//! - `PUT /reconcile/uploads/{id}/chunks/{index}` raw bytes (≤ 1 MiB) → 201 stored,
//!   200 already had (same bytes), 409 other bytes under that index; the chunk that
//!   completes the upload imports it first: a bad bill is 422 `bad_bill` (and stays so
//!   on retries), and the day's earlier statement stays in force;
//! - `GET /reconcile/uploads/{id}` → status (`missing` chunks, `complete`, `statement_id`);
//! - `POST /reconcile/runs` `{channel, date}` → the run's effect and report summary;
//! - `GET /reconcile/reports/{channel}/{date}` (JSON; `?format=csv` differences,
//!   `?format=summary_csv`);
//! - `GET /reconcile/settlements/{channel}/{date}` → the T+1 settlement summary;
//! - `POST /reconcile/fetches` `{channel, business_date, statement}` → fetch the bill from
//!   `{bill_source_url}/{channel}/{business_date}` (component variable; its host must be
//!   in `allowed_outbound_hosts`), store it as a completed upload (201 status);
//! - `POST /jobs/reconcile/nightly[?date=YYYY-MM-DD]` → every channel with a completed
//!   bill for the day (default: the previous business day in Asia/Shanghai).
//!
//! A bad bill is a 422 naming line and column; nothing is stored from it.

use chrono::{NaiveDate, Utc};
use orderhub_core::order::ChannelId;
use orderhub_core::reconcile::{
    self as rc, BillStoreError, ChunkOutcome, RunOutcome, UploadError, UploadSpec,
};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{finish, health, json, ApiError};
use serde::Deserialize;
use spin_sdk::http::{IncomingRequest, Params, Request, Response, Router};
use spin_sdk::http_component;

mod fetch;

#[http_component]
async fn handle(incoming: IncomingRequest) -> Response {
    orderhub_shell::serve(incoming, orderhub_core::limits::RECONCILE_BODY_MAX, route).await
}

async fn route(req: Request) -> Response {
    if req.path() == "/reconcile/fetches" && *req.method() == spin_sdk::http::Method::Post {
        return finish(fetch::fetch(&req).await);
    }
    let mut router = Router::new();
    router.get("/health", |_: Request, _: Params| health("reconcile"));
    router.get("/reconcile/health", |_: Request, _: Params| {
        health("reconcile")
    });
    router.get("/jobs/reconcile/health", |_: Request, _: Params| {
        health("reconcile")
    });
    router.post("/jobs/reconcile/nightly", |req: Request, _: Params| {
        finish(nightly(&req))
    });
    router.post("/reconcile/uploads", |req: Request, _: Params| {
        finish(create_upload(&req))
    });
    router.put(
        "/reconcile/uploads/:id/chunks/:index",
        |req: Request, p: Params| finish(put_chunk(&req, &p)),
    );
    router.get("/reconcile/uploads/:id", |_: Request, p: Params| {
        finish(upload_status(param(&p, "id")))
    });
    router.post("/reconcile/runs", |req: Request, _: Params| {
        finish(run(&req))
    });
    router.get(
        "/reconcile/reports/:channel/:date",
        |req: Request, p: Params| finish(report(&req, &p)),
    );
    router.get(
        "/reconcile/settlements/:channel/:date",
        |_: Request, p: Params| finish(settlement(&p)),
    );
    router.handle(req)
}

fn param<'a>(p: &'a Params, name: &str) -> &'a str {
    p.get(name).unwrap_or_default()
}

pub(crate) fn body<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    serde_json::from_slice(req.body()).map_err(|e| ApiError::bad_request("bad_body", e.to_string()))
}

fn date(s: &str) -> Result<NaiveDate, ApiError> {
    s.parse()
        .map_err(|_| ApiError::bad_request("bad_date", format!("`{s}` is not YYYY-MM-DD")))
}

fn query<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Every core error as an answer. A bad bill carries where it is bad.
pub(crate) fn refuse(e: BillStoreError) -> Response {
    let (status, code) = match &e {
        BillStoreError::UnknownUpload(_) => (404, "unknown_upload"),
        BillStoreError::NoBill { .. } => (404, "no_bill"),
        BillStoreError::BadChunkCount { .. } => (400, "bad_chunk_count"),
        BillStoreError::Upload(UploadError::ConflictingChunk { .. }) => (409, "conflicting_chunk"),
        BillStoreError::Upload(UploadError::ChunkTooLarge { .. }) => (413, "chunk_too_large"),
        BillStoreError::Upload(UploadError::Incomplete { .. }) => (409, "upload_incomplete"),
        BillStoreError::Upload(UploadError::OutOfRange { .. }) => (400, "chunk_out_of_range"),
        BillStoreError::Import(ie) => {
            let body = serde_json::json!({ "error": {
                "code": "bad_bill", "message": ie.to_string(),
                "line": ie.line, "column": ie.column, "detail": ie.kind,
            }});
            return json(422, &body);
        }
        BillStoreError::Corrupt(_) => (500, "stored_data_unreadable"),
        BillStoreError::Store(_) => (503, "store_unavailable"),
    };
    ApiError::new(status, code, e.to_string()).into_response()
}

fn create_upload(req: &Request) -> Result<Response, ApiError> {
    let spec: UploadSpec = body(req)?;
    let store = Bucket::open("reconcile")?;
    Ok(match rc::create_upload(&store, &spec) {
        Ok(status) => json(201, &status),
        Err(e) => refuse(e),
    })
}

fn put_chunk(req: &Request, p: &Params) -> Result<Response, ApiError> {
    let index: u32 = param(p, "index")
        .parse()
        .map_err(|_| ApiError::bad_request("bad_index", "chunk index must be a number"))?;
    let store = Bucket::open("reconcile")?;
    Ok(
        match rc::put_chunk(&store, param(p, "id"), index, req.body()) {
            Ok((outcome, status)) => {
                let code = if outcome == ChunkOutcome::Stored {
                    201
                } else {
                    200
                };
                json(
                    code,
                    &serde_json::json!({ "outcome": outcome, "upload": status }),
                )
            }
            Err(e) => refuse(e),
        },
    )
}

fn upload_status(id: &str) -> Result<Response, ApiError> {
    let store = Bucket::open("reconcile")?;
    Ok(match rc::upload_status(&store, id) {
        Ok(status) => json(200, &status),
        Err(e) => refuse(e),
    })
}

#[derive(Deserialize)]
struct RunRequest {
    channel: ChannelId,
    date: NaiveDate,
}

/// What a run answers: the effect and the summary; the full report is one GET away.
fn run_summary(o: &RunOutcome) -> serde_json::Value {
    serde_json::json!({
        "channel": o.report.channel,
        "date": o.report.business_date,
        "effect": o.effect,
        "statement_id": o.report.statement_id,
        "summary": o.report.summary,
        "differences": o.report.differences.len(),
        "supersedes": o.report.supersedes,
    })
}

fn run(req: &Request) -> Result<Response, ApiError> {
    let RunRequest { channel, date } = body(req)?;
    let (bills, orders) = (Bucket::open("reconcile")?, Bucket::open("orders")?);
    Ok(match rc::run_day(&bills, &orders, &channel, date) {
        Ok(outcome) => json(200, &run_summary(&outcome)),
        Err(e) => refuse(e),
    })
}

fn nightly(req: &Request) -> Result<Response, ApiError> {
    let day = match query(req, "date") {
        Some(d) => date(d)?,
        None => rc::previous_business_day(Utc::now(), rc::DEFAULT_UTC_OFFSET_MINUTES),
    };
    let (bills, orders) = (Bucket::open("reconcile")?, Bucket::open("orders")?);
    let mut runs = Vec::new();
    for channel in rc::channels_with_bill(&bills, day)? {
        // One channel's bad bill does not stop the others; its error is in the answer.
        runs.push(match rc::run_day(&bills, &orders, &channel, day) {
            Ok(outcome) => run_summary(&outcome),
            Err(BillStoreError::Store(e)) => return Err(e.into()),
            Err(e) => {
                let r = refuse(e);
                let detail: serde_json::Value =
                    serde_json::from_slice(r.body()).unwrap_or_default();
                serde_json::json!({ "channel": channel, "date": day, "status": r.status(), "error": detail["error"] })
            }
        });
    }
    Ok(json(200, &serde_json::json!({ "date": day, "runs": runs })))
}

fn stored(p: &Params) -> Result<rc::Report, ApiError> {
    let channel = ChannelId::new(param(p, "channel"));
    let day = date(param(p, "date"))?;
    let bills = Bucket::open("reconcile")?;
    rc::stored_report(&bills, &channel, day)?.ok_or_else(|| {
        ApiError::not_found("no_report", format!("no report for `{channel}` on {day}"))
    })
}

fn report(req: &Request, p: &Params) -> Result<Response, ApiError> {
    let report = stored(p)?;
    let (content_type, text) = match query(req, "format") {
        None | Some("json") => ("application/json", report.to_json()),
        Some("csv") => ("text/csv; charset=utf-8", report.to_csv()),
        Some("summary_csv") => ("text/csv; charset=utf-8", report.summary_csv()),
        Some(other) => {
            return Err(ApiError::bad_request(
                "bad_format",
                format!("`{other}`: json, csv or summary_csv"),
            ))
        }
    };
    Ok(Response::builder()
        .status(200)
        .header("content-type", content_type)
        .body(text)
        .build())
}

fn settlement(p: &Params) -> Result<Response, ApiError> {
    let report = stored(p)?;
    Ok(json(
        200,
        &serde_json::json!({
            "channel": report.channel,
            "date": report.business_date,
            "statement_id": report.statement_id,
            "settlement": report.settlement,
        }),
    ))
}
