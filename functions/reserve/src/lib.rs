//! `reserve` component: the stock reservation ledger behind three instances.
//!
//! - `reserve` (private, reached over `reserve.spin.internal`): `POST /reserve-batch`
//!   and `POST /settle-batch` (normalize; typed by `orderhub_core::intake`), `POST
//!   /commit` with `{"order_id", "op_id", "lines"?}` (dispatch).
//! - `stock-jobs` (`/jobs/stock/...`, job token): `POST /jobs/stock/expire`,
//!   `POST /jobs/stock/repair`, `POST /jobs/stock/sync/{channel}` (stock pushed to the
//!   platform, see `sync`), `GET /jobs/stock/sync/{channel}` (its lag).
//! - `stock-admin` (`/admin/stock/...`, admin token): catalog, SKUs, WMS adjustments,
//!   reads, the channel outbox, and a direct reserve (see `admin::reserve`).
//!
//! Same shape as every component: parse, call `orderhub_core::stock`, answer. All
//! coordination lives in the core's ledger (increment-only counters), so any number of
//! instances on any number of hosts may run these handlers at once.

use orderhub_core::stock::StockError;
use orderhub_shell::{finish, health, ApiError};
use serde::de::DeserializeOwned;
use spin_sdk::http::{IncomingRequest, Params, Request, Response, Router};
use spin_sdk::http_component;

mod admin;
mod jobs;
mod orders;
mod sync;

/// The core's typed refusal as an answer: its own status and machine code.
pub(crate) fn stock_error(e: StockError) -> ApiError {
    ApiError::new(e.http_status(), e.code(), e.to_string())
}

/// A JSON body, or 400 naming what did not parse (nothing has been touched yet).
pub(crate) fn body<T: DeserializeOwned>(req: &Request, what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(req.body())
        .map_err(|e| ApiError::bad_request(&format!("unreadable_{what}"), e.to_string()))
}

fn admin_route(
    router: &mut Router,
    method: &str,
    path: &str,
    handler: fn(&Request, &Params) -> Result<Response, ApiError>,
) {
    let guarded = move |req: Request, params: Params| finish(handler(&req, &params));
    match method {
        "GET" => router.get(path, guarded),
        "PUT" => router.put(path, guarded),
        _ => router.post(path, guarded),
    }
}

#[http_component]
async fn handle(incoming: IncomingRequest) -> Response {
    orderhub_shell::serve(
        incoming,
        orderhub_core::limits::INTERNAL_BODY_MAX,
        |req| async move { route(req).await },
    )
    .await
}

async fn route(req: Request) -> Response {
    let mut router = Router::new();
    router.get("/health", |_: Request, _: Params| health("reserve"));
    router.post("/reserve-batch", |req: Request, _: Params| {
        finish(orders::reserve_batch(&req))
    });
    router.post("/settle-batch", |req: Request, _: Params| {
        finish(orders::settle_batch(&req))
    });
    router.post("/commit", |req: Request, _: Params| {
        finish(orders::commit(&req))
    });

    router.get("/jobs/stock/health", |_: Request, _: Params| {
        health("reserve")
    });
    router.post("/jobs/stock/expire", |req: Request, _: Params| {
        finish(jobs::expire(&req))
    });
    router.post("/jobs/stock/repair", |req: Request, _: Params| {
        finish(jobs::repair(&req))
    });
    router.post_async("/jobs/stock/sync/:channel", sync::run);
    router.get("/jobs/stock/sync/:channel", |req: Request, p: Params| {
        finish(sync::status(&req, &p))
    });

    router.get("/admin/stock/health", |_: Request, _: Params| {
        health("reserve")
    });
    admin_route(
        &mut router,
        "GET",
        "/admin/stock/catalog",
        admin::get_catalog,
    );
    admin_route(
        &mut router,
        "PUT",
        "/admin/stock/catalog",
        admin::put_catalog,
    );
    admin_route(
        &mut router,
        "PUT",
        "/admin/stock/warehouses/:warehouse",
        admin::put_warehouse,
    );
    admin_route(
        &mut router,
        "PUT",
        "/admin/stock/channels/:channel",
        admin::put_channel_policy,
    );
    admin_route(
        &mut router,
        "PUT",
        "/admin/stock/skus/:sku",
        admin::define_sku,
    );
    admin_route(&mut router, "POST", "/admin/stock/adjust", admin::adjust);
    admin_route(&mut router, "POST", "/admin/stock/reserve", admin::reserve);
    admin_route(&mut router, "POST", "/admin/stock/commit", admin::commit);
    admin_route(&mut router, "POST", "/admin/stock/release", admin::release);
    admin_route(
        &mut router,
        "GET",
        "/admin/stock/levels/:sku/:warehouse",
        admin::level,
    );
    admin_route(
        &mut router,
        "GET",
        "/admin/stock/sellable/:sku",
        admin::sellable,
    );
    admin_route(
        &mut router,
        "GET",
        "/admin/stock/reservations/:order",
        admin::reservation,
    );
    admin_route(&mut router, "GET", "/admin/stock/audit", admin::audit);
    admin_route(
        &mut router,
        "PUT",
        "/admin/stock/sync/:channel",
        sync::put_config,
    );
    admin_route(
        &mut router,
        "GET",
        "/admin/stock/sync/:channel",
        sync::get_config,
    );
    admin_route(
        &mut router,
        "POST",
        "/admin/stock/outbox/:channel/drain",
        admin::drain,
    );
    admin_route(
        &mut router,
        "POST",
        "/admin/stock/outbox/:channel/ack",
        admin::ack,
    );
    router.handle_async(req).await
}
