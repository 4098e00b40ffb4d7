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
use orderhub_core::dispatch::state::ReadyParcel;
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
    let mut views = Vec::new();
    for gid in handoff::pending(&store, RETRY_PER_RUN, Utc::now()).map_err(merge_error)? {
        if let Some(view) = merge::group_view(&store, &gid).map_err(merge_error)? {
            views.push(view.delivery);
        }
    }
    let orders = Bucket::open("orders")?;
    let mut retry = Vec::with_capacity(views.len());
    for delivery in &views {
        retry.push((delivery, book::get_orders(&orders, &member_ids(delivery))?));
    }
    let handed = hand_over(&store, &retry).await?;
    let retried: Vec<serde_json::Value> = views
        .iter()
        .zip(handed)
        .map(|(d, parcels)| {
            serde_json::json!({ "group_id": d.group.group_id, "parcels_handed_over": parcels })
        })
        .collect();
    Ok(json(
        200,
        &serde_json::json!({ "released": delivered, "handover_retried": retried }),
    ))
}

/// Groups retried per job run: bounded so one run stays well inside a request's time.
const RETRY_PER_RUN: usize = 50;

fn member_ids(delivery: &GroupDelivery) -> Vec<OrderId> {
    delivery
        .group
        .members
        .iter()
        .map(|m| m.order_id.clone())
        .collect()
}

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
    let mut delivered = Vec::with_capacity(groups.len());
    for g in groups {
        delivered.push(
            merge::deliver(store, &orders, &limits, g, in_hand, Utc::now()).map_err(merge_error)?,
        );
    }
    let mut handing = Vec::with_capacity(delivered.len());
    for d in &delivered {
        // A repeated release comes without its members: read them.
        let members = book::orders_with(&orders, &member_ids(&d.delivery), &d.members)?;
        handing.push((&d.delivery, members));
    }
    let handed = hand_over(store, &handing).await?;
    Ok(groups
        .iter()
        .zip(&delivered)
        .zip(handed)
        .map(|((g, d), handed_over)| {
            serde_json::json!({
                "group_id": g.group_id,
                "reason": g.reason,
                "orders": g.members.iter().map(|m| m.order_id.clone()).collect::<Vec<_>>(),
                "parcels": d.delivery.plan.as_ref().map(|p| p.parcels.len()),
                "parcels_handed_over": handed_over,
                "split_errors": d.delivery.split_errors,
                "first_delivery": d.first,
            })
        })
        .collect())
}

/// Post delivered groups' parcels to dispatch's private `/parcels` in one call (the
/// pickup table read once for all) and mark the groups handed over when dispatch took
/// them. Per group: parcels handed over, or `None` when dispatch did not answer 200
/// (the close-windows job tries again).
async fn hand_over(
    store: &Bucket,
    groups: &[(&GroupDelivery, Vec<Order>)],
) -> Result<Vec<Option<usize>>, ApiError> {
    let mut due = Vec::with_capacity(groups.len());
    for (delivery, _) in groups {
        due.push(!handoff::is_handed_over(store, &delivery.group.group_id).map_err(merge_error)?);
    }
    let stores: Vec<&str> = groups
        .iter()
        .zip(&due)
        .filter(|(_, due)| **due)
        .flat_map(|((_, members), _)| members.iter().filter_map(|o| o.store_id.as_deref()))
        .collect();
    if !due.contains(&true) {
        return Ok(vec![Some(0); groups.len()]);
    }
    let points = handoff::load_pickups_for(store, &stores).map_err(merge_error)?;
    let ready: Vec<Vec<ReadyParcel>> = groups
        .iter()
        .zip(&due)
        .map(|((delivery, members), due)| match due {
            true => handoff::ready_parcels(delivery, members, &points),
            false => Vec::new(),
        })
        .collect();
    let all: Vec<&ReadyParcel> = ready.iter().flatten().collect();
    if !all.is_empty() {
        let body = serde_json::to_vec(&all)
            .map_err(|e| ApiError::new(500, "parcels_unserializable", e.to_string()))?;
        let req = spin_sdk::http::Request::builder()
            .method(Method::Post)
            .uri("http://dispatch.spin.internal/parcels")
            .header("content-type", "application/json")
            .body(body)
            .build();
        let refused = match spin_sdk::http::send::<_, Response>(req).await {
            Ok(resp) if *resp.status() == 200 => None,
            Ok(resp) => Some(format!("answered {}", resp.status())),
            Err(e) => Some(format!("unreachable: {e}")),
        };
        if let Some(why) = refused {
            eprintln!("merge: dispatch {why} for {} parcels", all.len());
            return Ok(groups
                .iter()
                .zip(&due)
                .map(|(_, due)| (!due).then_some(0))
                .collect());
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (((delivery, _), due), parcels) in groups.iter().zip(&due).zip(&ready) {
        if *due {
            handoff::mark_handed_over(store, &delivery.group.group_id).map_err(merge_error)?;
            out.push(Some(parcels.len()));
        } else {
            out.push(Some(0));
        }
    }
    Ok(out)
}
