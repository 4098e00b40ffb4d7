//! `merge` component: offer orders to their customer's merge group, close due windows,
//! split released groups into parcels, and manage the rule set.
//!
//! Instances in spin.toml: `merge` (private: `POST /offer`, called by normalize),
//! `merge-jobs` (`/jobs/merge/...`, job token) and `merge-admin` (`/admin/merge/...`,
//! admin token). Same shape as every component: parse, call the core, apply its
//! effects, answer. The decisions live in `orderhub_core::merge`.

use chrono::Utc;
use orderhub_core::merge::{self, MergeError, ReleasedGroup};
use orderhub_core::order::Order;
use orderhub_shell::kv::Bucket;
use orderhub_shell::{auth, finish, health, json, ApiError};
use spin_sdk::http::{Params, Request, Response, Router};
use spin_sdk::http_component;

mod admin;

#[http_component]
fn handle(req: Request) -> Response {
    let mut router = Router::new();
    router.get("/health", |_: Request, _: Params| health("merge"));
    router.post("/offer", |req: Request, _: Params| finish(offer(&req)));
    router.get("/jobs/merge/health", |_: Request, _: Params| {
        health("merge")
    });
    router.post("/jobs/merge/close-windows", |req: Request, _: Params| {
        finish(auth::require_bearer(&req, "job_token").and_then(|()| close_windows()))
    });
    admin::routes(&mut router);
    router.handle(req)
}

pub(crate) fn merge_error(e: MergeError) -> ApiError {
    match e {
        MergeError::Store(e) => ApiError::store(e),
        MergeError::Corrupt(msg) => ApiError::new(500, "merge_state_corrupt", msg),
    }
}

/// Idempotent per order: a repeated offer answers the first decision.
fn offer(req: &Request) -> Result<Response, ApiError> {
    let order: Order = serde_json::from_slice(req.body())
        .map_err(|e| ApiError::bad_request("unreadable_order", e.to_string()))?;
    let store = Bucket::open("merge")?;
    let rules = merge::load_rules(&store).map_err(merge_error)?;
    let offered = merge::offer_recorded(&store, &rules, &order, Utc::now()).map_err(merge_error)?;
    let delivered = deliver_all(&store, &offered.released)?;
    Ok(json(
        200,
        &serde_json::json!({
            "decision": offered.decision,
            "released": delivered,
        }),
    ))
}

fn close_windows() -> Result<Response, ApiError> {
    let store = Bucket::open("merge")?;
    let rules = merge::load_rules(&store).map_err(merge_error)?;
    let released = merge::close_due(&store, &rules, Utc::now()).map_err(merge_error)?;
    let delivered = deliver_all(&store, &released)?;
    Ok(json(200, &serde_json::json!({ "released": delivered })))
}

/// Deliver released groups (history, split, record); a summary per group.
fn deliver_all(
    store: &Bucket,
    groups: &[ReleasedGroup],
) -> Result<Vec<serde_json::Value>, ApiError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let orders = Bucket::open("orders")?;
    let limits = merge::load_limits(store).map_err(merge_error)?;
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let d = merge::deliver(store, &orders, &limits, g, Utc::now()).map_err(merge_error)?;
        out.push(serde_json::json!({
            "group_id": g.group_id,
            "reason": g.reason,
            "orders": g.members.iter().map(|m| m.order_id.clone()).collect::<Vec<_>>(),
            "parcels": d.delivery.plan.as_ref().map(|p| p.parcels.len()),
            "split_errors": d.delivery.split_errors,
            "first_delivery": d.first,
        }));
    }
    Ok(out)
}
