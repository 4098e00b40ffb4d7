//! `normalize` component: the batch pipeline behind the intake inbox.
//!
//! - `normalize` (private): `POST /drain` with a `DrainRequest` (the tick whose first
//!   writer asks, over `*.spin.internal`): claim the tick, apply its items to the order
//!   book (idempotently: the book keys every event), index them by business day, count
//!   the dashboard, then reserve, record shortages and offer to merge, as one batch per
//!   step (`pipeline`).
//! - `pipeline-jobs` (`/jobs/pipeline/...`, job token): `POST catch-up`, the scheduled
//!   safety net (ticks nobody drained, orders reserve or merge never answered for), and
//!   `GET intake` (the backlog; `?tick=` one tick), `POST refetch/{channel}` (incomplete
//!   orders fetched again from the platform, see `refetch`).
//! - `channels-admin`: channel configs, SKU maps, pricing (`admin`).

use orderhub_shell::{finish, health};
use spin_sdk::http::{IncomingRequest, Params, Request, Response, Router};
use spin_sdk::http_component;

mod admin;
mod drain;
mod pipeline;
mod refetch;

#[http_component]
async fn handle(incoming: IncomingRequest) -> Response {
    orderhub_shell::serve(incoming, orderhub_core::limits::INTERNAL_BODY_MAX, route).await
}

async fn route(req: Request) -> Response {
    let mut router = Router::new();
    router.get("/health", |_: Request, _: Params| health("normalize"));
    router.post_async("/drain", |req: Request, _: Params| async move {
        finish(drain::drain(&req).await)
    });
    // The `pipeline-jobs` instance: forward again what reserve or merge missed.
    router.get("/jobs/pipeline/health", |_: Request, _: Params| {
        health("normalize")
    });
    router.post_async(
        "/jobs/pipeline/catch-up",
        |_: Request, _: Params| async move { finish(drain::catch_up().await) },
    );
    router.get("/jobs/pipeline/intake", |req: Request, _: Params| {
        finish(drain::intake(&req))
    });
    router.post_async(
        "/jobs/pipeline/refetch/:channel",
        |_: Request, p: Params| async move {
            finish(refetch::run(p.get("channel").unwrap_or_default()).await)
        },
    );
    // The `channels-admin` instance: channel configs and SKU maps in the catalog.
    router.get("/admin/channels/health", |_: Request, _: Params| {
        health("normalize")
    });
    router.get("/admin/channels/:id", |_: Request, p: Params| {
        finish(admin::get_config(p.get("id").unwrap_or_default()))
    });
    router.put("/admin/channels/:id", |req: Request, p: Params| {
        finish(admin::put_config(
            p.get("id").unwrap_or_default(),
            req.body(),
        ))
    });
    router.delete("/admin/channels/:id", |_: Request, p: Params| {
        finish(admin::delete_config(p.get("id").unwrap_or_default()))
    });
    router.put("/admin/channels/:id/skus", |req: Request, p: Params| {
        finish(admin::put_skus(p.get("id").unwrap_or_default(), req.body()))
    });
    router.put(
        "/admin/channels/:id/skus/:code",
        |req: Request, p: Params| {
            let (id, code) = (
                p.get("id").unwrap_or_default(),
                p.get("code").unwrap_or_default(),
            );
            finish(admin::put_sku(id, code, req.body()))
        },
    );
    router.get(
        "/admin/channels/:id/stores/:store/pricing",
        |_: Request, p: Params| {
            let (id, store) = (
                p.get("id").unwrap_or_default(),
                p.get("store").unwrap_or_default(),
            );
            finish(admin::get_store_pricing(id, store))
        },
    );
    router.put(
        "/admin/channels/:id/stores/:store/pricing",
        |req: Request, p: Params| {
            let (id, store) = (
                p.get("id").unwrap_or_default(),
                p.get("store").unwrap_or_default(),
            );
            finish(admin::put_store_pricing(id, store, req.body()))
        },
    );
    router.get("/admin/channels/:id/refetch", |_: Request, p: Params| {
        finish(refetch::get_config(p.get("id").unwrap_or_default()))
    });
    router.put("/admin/channels/:id/refetch", |req: Request, p: Params| {
        finish(refetch::put_config(
            p.get("id").unwrap_or_default(),
            req.body(),
        ))
    });
    router.get("/admin/channels/:id/pricing", |_: Request, p: Params| {
        finish(admin::get_pricing(p.get("id").unwrap_or_default()))
    });
    router.put("/admin/channels/:id/pricing", |req: Request, p: Params| {
        finish(admin::put_pricing(
            p.get("id").unwrap_or_default(),
            req.body(),
        ))
    });
    router.handle_async(req).await
}
