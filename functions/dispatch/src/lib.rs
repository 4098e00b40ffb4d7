//! `dispatch` component: assign ready parcels to riders and order their routes; rider
//! state.
//!
//! Instances in spin.toml:
//! - `dispatch` (private): `POST /parcels`, parcels ready for dispatch from the merge step.
//! - `dispatch-jobs` (`/jobs/dispatch/...`, job token): `POST /jobs/dispatch/tick`, the
//!   rolling re-optimisation of open parcels, and `POST /jobs/dispatch/parcels`, the
//!   operator's manual entry point (same body and answer as the private `/parcels`).
//! - `riders` (`/riders/...`, rider token): reports, accept/reject, a rider's state and
//!   route, and `GET /riders/explain?parcel=&a=&b=` (why rider A and not rider B).
//! - `dispatch-admin` (`/admin/dispatch/...`, admin token, store `dispatch` only):
//!   `GET`/`PUT /admin/dispatch/config`, the stored dispatch configuration
//!   (`admin.rs`), and `POST /admin/dispatch/cvrp`, the static-routing benchmark's
//!   solver run (`bench.rs`).
//!
//! Same shape as every component: parse, call the core, apply its effects, answer.

use orderhub_shell::{finish, health};
use spin_sdk::http::{IncomingRequest, Params, Request, Response, Router};
use spin_sdk::http_component;

mod admin;
mod bench;
mod clock;
mod riders;
mod run;

#[http_component]
async fn handle(incoming: IncomingRequest) -> Response {
    orderhub_shell::serve(incoming, orderhub_core::limits::INTERNAL_BODY_MAX, route).await
}

async fn route(req: Request) -> Response {
    let mut router = Router::new();
    router.get("/health", |_: Request, _: Params| health("dispatch"));
    router.post_async("/parcels", |req: Request, _: Params| async move {
        finish(run::ready_parcels(req.body()).await)
    });

    router.get("/jobs/dispatch/health", |_: Request, _: Params| {
        health("dispatch")
    });
    router.post_async(
        "/jobs/dispatch/tick",
        |req: Request, _: Params| async move { finish(run::tick(req.query()).await) },
    );
    router.post_async(
        "/jobs/dispatch/parcels",
        |req: Request, _: Params| async move { finish(run::ready_parcels(req.body()).await) },
    );

    router.post("/admin/dispatch/cvrp", |req: Request, _: Params| {
        finish(bench::cvrp(&req))
    });
    router.get("/admin/dispatch/config", |req: Request, _: Params| {
        finish(admin::get_config(req.query()))
    });
    router.put("/admin/dispatch/config", |req: Request, _: Params| {
        finish(admin::put_config(req.query(), req.body()))
    });

    router.get("/riders/health", |_: Request, _: Params| health("dispatch"));
    router.get("/riders/explain", |req: Request, _: Params| {
        finish(riders::explain(req.query()))
    });
    router.get("/riders/:id", |_: Request, p: Params| {
        finish(riders::show(p.get("id").unwrap_or_default()))
    });
    router.post_async("/riders/:id/report", |req: Request, p: Params| async move {
        let id = p.get("id").unwrap_or_default().to_string();
        finish(riders::report(&id, req.body()).await)
    });
    router.post_async("/riders/:id/reject", |req: Request, p: Params| async move {
        let id = p.get("id").unwrap_or_default().to_string();
        finish(riders::reject(&id, req.body()).await)
    });
    router.post("/riders/:id/accept", |req: Request, p: Params| {
        finish(riders::accept(p.get("id").unwrap_or_default(), req.body()))
    });
    router.handle_async(req).await
}
