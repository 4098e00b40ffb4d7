//! `normalize` component (private): a verified push → unified orders and events in the
//! `orders` store, idempotently (the order book keys every event), plus the dashboard's
//! counters. Reached only from the ingest instances over `*.spin.internal`.

use chrono::Utc;
use orderhub_core::channel::{catalog, normalize, ChannelEvent, VerifiedPush};
use orderhub_core::order::{book, day_index, EventKind, EventSource};
use orderhub_core::stats::{self, Metric};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{finish, health, json, ApiError};
use spin_sdk::http::{IncomingRequest, Params, Request, Response, Router};
use spin_sdk::http_component;

mod admin;
mod pipeline;

fn admin(req: &Request) -> Result<(), ApiError> {
    orderhub_shell::auth::require_bearer(req, "admin_token")
}

#[http_component]
async fn handle(incoming: IncomingRequest) -> Response {
    orderhub_shell::serve(incoming, orderhub_core::limits::INTERNAL_BODY_MAX, route).await
}

async fn route(req: Request) -> Response {
    let mut router = Router::new();
    router.get("/health", |_: Request, _: Params| health("normalize"));
    router.post_async("/push", |req: Request, _: Params| async move {
        finish(push(&req).await)
    });
    // The `pipeline-jobs` instance: forward again what reserve or merge missed.
    router.get("/jobs/pipeline/health", |_: Request, _: Params| {
        health("normalize")
    });
    router.post_async(
        "/jobs/pipeline/catch-up",
        |req: Request, _: Params| async move {
            match orderhub_shell::auth::require_bearer(&req, "job_token") {
                Ok(()) => finish(catch_up().await),
                Err(e) => finish(Err(e)),
            }
        },
    );
    // The `channels-admin` instance: channel configs and SKU maps in the catalog.
    router.get("/admin/channels/health", |_: Request, _: Params| {
        health("normalize")
    });
    router.get("/admin/channels/:id", |req: Request, p: Params| {
        finish(admin(&req).and_then(|()| admin::get_config(p.get("id").unwrap_or_default())))
    });
    router.put("/admin/channels/:id", |req: Request, p: Params| {
        finish(
            admin(&req)
                .and_then(|()| admin::put_config(p.get("id").unwrap_or_default(), req.body())),
        )
    });
    router.delete("/admin/channels/:id", |req: Request, p: Params| {
        finish(admin(&req).and_then(|()| admin::delete_config(p.get("id").unwrap_or_default())))
    });
    router.put("/admin/channels/:id/skus", |req: Request, p: Params| {
        finish(
            admin(&req).and_then(|()| admin::put_skus(p.get("id").unwrap_or_default(), req.body())),
        )
    });
    router.put(
        "/admin/channels/:id/skus/:code",
        |req: Request, p: Params| {
            let (id, code) = (
                p.get("id").unwrap_or_default(),
                p.get("code").unwrap_or_default(),
            );
            finish(admin(&req).and_then(|()| admin::put_sku(id, code, req.body())))
        },
    );
    router.get(
        "/admin/channels/:id/stores/:store/pricing",
        |req: Request, p: Params| {
            let (id, store) = (
                p.get("id").unwrap_or_default(),
                p.get("store").unwrap_or_default(),
            );
            finish(admin(&req).and_then(|()| admin::get_store_pricing(id, store)))
        },
    );
    router.put(
        "/admin/channels/:id/stores/:store/pricing",
        |req: Request, p: Params| {
            let (id, store) = (
                p.get("id").unwrap_or_default(),
                p.get("store").unwrap_or_default(),
            );
            finish(admin(&req).and_then(|()| admin::put_store_pricing(id, store, req.body())))
        },
    );
    router.get("/admin/channels/:id/pricing", |req: Request, p: Params| {
        finish(admin(&req).and_then(|()| admin::get_pricing(p.get("id").unwrap_or_default())))
    });
    router.put("/admin/channels/:id/pricing", |req: Request, p: Params| {
        finish(
            admin(&req)
                .and_then(|()| admin::put_pricing(p.get("id").unwrap_or_default(), req.body())),
        )
    });
    router.handle_async(req).await
}

async fn catch_up() -> Result<Response, ApiError> {
    let orders = Bucket::open("orders")?;
    let backlog = pipeline::catch_up(&orders).await?;
    Ok(json(200, &backlog))
}

async fn push(req: &Request) -> Result<Response, ApiError> {
    let push: VerifiedPush = serde_json::from_slice(req.body())
        .map_err(|e| ApiError::bad_request("unreadable_push", e.to_string()))?;
    let catalog_store = Bucket::open("catalog")?;
    let channel = push.channel.as_str();
    let cfg = catalog::load_config(&catalog_store, channel)
        .map_err(|e| ApiError::new(500, "channel_not_configured", e.to_string()))?;
    let skus = catalog::load_sku_map(&catalog_store, channel)
        .map_err(|e| ApiError::new(500, "channel_not_configured", e.to_string()))?;

    let mut events = match normalize(&cfg, &skus, &push, Utc::now()) {
        Ok(events) => events,
        // The typed error travels back to ingest, which answers the channel with it.
        Err(e) => return Ok(json(e.http_status(), &e)),
    };
    // Each order by its store's own pricing rules, else the channel's (if any).
    catalog::flag_price_mismatches(&catalog_store, channel, &mut events)
        .map_err(|e| ApiError::new(500, "channel_not_configured", e.to_string()))?;
    let orders = Bucket::open("orders")?;
    let applied = book::apply(&orders, &events)?;
    // Reconciliation reads orders by (channel, business day), not by scanning them all.
    day_index::index_events(&orders, &events, cfg.utc_offset_minutes)?;
    record_stats(&orders, cfg.utc_offset_minutes, &events)?;
    pipeline::run(&orders, &events).await?;
    Ok(json(200, &applied))
}

/// Count what the dashboard shows. Idempotent per (order, metric), so redeliveries and
/// repeated events count once.
fn record_stats(store: &Bucket, offset: i32, events: &[ChannelEvent]) -> Result<(), ApiError> {
    for ev in events {
        match ev {
            ChannelEvent::Order { order } => {
                let day = stats::business_day(order.placed_at, order.source_utc_offset_minutes);
                stats::record(store, day, &order.channel, &order.id, Metric::Ordered)?;
                if order.is_exception() {
                    stats::record(store, day, &order.channel, &order.id, Metric::Exception)?;
                }
            }
            ChannelEvent::Event {
                order_id, event, ..
            } => {
                let metric = match event.kind {
                    EventKind::Delivered | EventKind::Completed => Metric::Delivered,
                    EventKind::Cancelled { .. } | EventKind::Refunded { full: true, .. } => {
                        Metric::Cancelled
                    }
                    _ => continue,
                };
                let channel = match &event.source {
                    EventSource::Channel(c) => c.clone(),
                    _ => continue,
                };
                let day = stats::business_day(event.at, offset);
                stats::record(store, day, &channel, order_id, metric)?;
            }
            ChannelEvent::Notice(_) => {}
        }
    }
    Ok(())
}
