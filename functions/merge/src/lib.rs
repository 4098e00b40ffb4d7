//! `merge` component: offer orders to their customer's merge group, close due windows,
//! split released groups into parcels, and manage the rule set.
//!
//! Released groups go on to dispatch: each delivered group's parcels are posted to
//! `http://dispatch.spin.internal/parcels` (`orderhub_core::merge::handoff`).
//!
//! Instances in spin.toml: `merge` (private: `POST /offer-batch`, called by normalize),
//! `merge-jobs` (`/jobs/merge/...`, job token) and `merge-admin` (`/admin/merge/...`,
//! admin token). Same shape as every component: parse, call the core, apply its
//! effects, answer. The decisions live in `orderhub_core::merge`.

use chrono::Utc;
use orderhub_core::intake::{OfferAnswer, OfferBatch};
use orderhub_core::merge::{self, handoff, GroupDelivery, MergeError, ReleasedGroup};
use orderhub_core::order::{book, Order, OrderId};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{finish, health, json, ApiError};
use spin_sdk::http::{IncomingRequest, Method, Params, Request, Response, Router};
use spin_sdk::http_component;

mod admin;

#[http_component]
async fn handle(incoming: IncomingRequest) -> Response {
    orderhub_shell::serve(incoming, orderhub_core::limits::INTERNAL_BODY_MAX, route).await
}

async fn route(req: Request) -> Response {
    let mut router = Router::new();
    router.get("/health", |_: Request, _: Params| health("merge"));
    router.post_async("/offer-batch", |req: Request, _: Params| async move {
        finish(offer_batch(&req).await)
    });
    router.get("/jobs/merge/health", |_: Request, _: Params| {
        health("merge")
    });
    router.post_async(
        "/jobs/merge/close-windows",
        |_: Request, _: Params| async move { finish(close_windows().await) },
    );
    admin::routes(&mut router);
    router.handle_async(req).await
}

pub(crate) fn merge_error(e: MergeError) -> ApiError {
    match e {
        MergeError::Store(e) => ApiError::store(e),
        MergeError::Corrupt(msg) => ApiError::new(500, "merge_state_corrupt", msg),
    }
}

/// `POST /offer-batch`: offer each order in turn (idempotent per order: a repeated
/// offer answers the first decision), then deliver every group the batch released.
async fn offer_batch(req: &Request) -> Result<Response, ApiError> {
    let OfferBatch {
        orders,
        never_offered,
    } = serde_json::from_slice(req.body())
        .map_err(|e| ApiError::bad_request("unreadable_offer_batch", e.to_string()))?;
    let store = Bucket::open("merge")?;
    let rules = merge::load_rules(&store).map_err(merge_error)?;
    let mut released = Vec::new();
    let offered = merge::offer_batch_recorded(&store, &rules, &orders, &never_offered, Utc::now())
        .map_err(merge_error)?;
    let answers: Vec<OfferAnswer> = orders
        .iter()
        .zip(offered)
        .map(|(order, offered)| match offered {
            Ok(offered) => {
                released.extend(offered.released);
                OfferAnswer {
                    order_id: order.id.clone(),
                    decision: Some(offered.decision),
                    error: None,
                }
            }
            Err(e) => OfferAnswer {
                order_id: order.id.clone(),
                decision: None,
                error: Some(e.to_string()),
            },
        })
        .collect();
    // The batch's orders are the book's current fold: delivery need not read them.
    deliver_all(&store, &released, &orders).await?;
    Ok(json(200, &answers))
}

/// Close due windows and deliver what they release; then retry handing over groups
/// that were delivered but never reached dispatch (a crash or an outage in between).
async fn close_windows() -> Result<Response, ApiError> {
    let store = Bucket::open("merge")?;
    let rules = merge::load_rules(&store).map_err(merge_error)?;
    let released = merge::close_due(&store, &rules, Utc::now()).map_err(merge_error)?;
    let delivered = deliver_all(&store, &released, &[]).await?;
    let mut retried = Vec::new();
    for gid in handoff::pending(&store, RETRY_PER_RUN, Utc::now()).map_err(merge_error)? {
        if let Some(view) = merge::group_view(&store, &gid).map_err(merge_error)? {
            let parcels = hand_over(&store, &view.delivery, &[]).await?;
            retried.push(serde_json::json!({ "group_id": gid, "parcels_handed_over": parcels }));
        }
    }
    Ok(json(
        200,
        &serde_json::json!({ "released": delivered, "handover_retried": retried }),
    ))
}

/// Groups retried per job run: bounded so one run stays well inside a request's time.
const RETRY_PER_RUN: usize = 50;

/// Deliver released groups (history, split, record) and hand their parcels to
/// dispatch; a summary per group. `in_hand`: orders the caller holds as the book has
/// them (not read again).
async fn deliver_all(
    store: &Bucket,
    groups: &[ReleasedGroup],
    in_hand: &[Order],
) -> Result<Vec<serde_json::Value>, ApiError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let orders = Bucket::open("orders")?;
    let limits = merge::load_limits(store).map_err(merge_error)?;
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let d =
            merge::deliver(store, &orders, &limits, g, in_hand, Utc::now()).map_err(merge_error)?;
        let handed_over = hand_over(store, &d.delivery, &d.members).await?;
        out.push(serde_json::json!({
            "group_id": g.group_id,
            "reason": g.reason,
            "orders": g.members.iter().map(|m| m.order_id.clone()).collect::<Vec<_>>(),
            "parcels": d.delivery.plan.as_ref().map(|p| p.parcels.len()),
            "parcels_handed_over": handed_over,
            "split_errors": d.delivery.split_errors,
            "first_delivery": d.first,
        }));
    }
    Ok(out)
}

/// Post a delivered group's parcels to dispatch's private `/parcels`; marks the group
/// handed over when dispatch took them. `None`: dispatch did not answer 200 (the
/// close-windows job tries again). `known`: members already read (the delivery's).
async fn hand_over(
    store: &Bucket,
    delivery: &GroupDelivery,
    known: &[Order],
) -> Result<Option<usize>, ApiError> {
    let gid = &delivery.group.group_id;
    if handoff::is_handed_over(store, gid).map_err(merge_error)? {
        return Ok(Some(0));
    }
    let orders = Bucket::open("orders")?;
    let ids: Vec<OrderId> = delivery
        .group
        .members
        .iter()
        .map(|m| m.order_id.clone())
        .collect();
    let loaded = book::orders_with(&orders, &ids, known)?;
    let stores: Vec<&str> = loaded
        .iter()
        .filter_map(|o| o.store_id.as_deref())
        .collect();
    let points = handoff::load_pickups_for(store, &stores).map_err(merge_error)?;
    let ready = handoff::ready_parcels(delivery, &loaded, &points);
    if !ready.is_empty() {
        let body = serde_json::to_vec(&ready)
            .map_err(|e| ApiError::new(500, "parcels_unserializable", e.to_string()))?;
        let req = spin_sdk::http::Request::builder()
            .method(Method::Post)
            .uri("http://dispatch.spin.internal/parcels")
            .header("content-type", "application/json")
            .body(body)
            .build();
        match spin_sdk::http::send::<_, Response>(req).await {
            Ok(resp) if *resp.status() == 200 => {}
            Ok(resp) => {
                eprintln!(
                    "merge: dispatch took group {gid}'s parcels with {}",
                    resp.status()
                );
                return Ok(None);
            }
            Err(e) => {
                eprintln!("merge: dispatch unreachable for group {gid}: {e}");
                return Ok(None);
            }
        }
    }
    handoff::mark_handed_over(store, gid).map_err(merge_error)?;
    Ok(Some(ready.len()))
}
