//! `query` component: the read side. Instances in spin.toml: `query` (/orders/...),
//! `dashboard` (/dashboard/...), `health` (/health).
//!
//! Reads only: it never writes a store, so it can be scaled and cached freely.

mod dashboard;
mod health;

use orderhub_shell::{finish, health};
use spin_sdk::http::{Params, Request, Response, Router};
use spin_sdk::http_component;

#[http_component]
async fn handle(req: Request) -> Response {
    let mut router = Router::new();
    router.get_async("/health", |_: Request, _: Params| health::whole_app());
    router.get("/orders/health", |_: Request, _: Params| health("query"));
    router.get("/dashboard/health", |_: Request, _: Params| health("query"));
    router.get("/dashboard", |_: Request, _: Params| dashboard::page());
    router.get("/dashboard/", |_: Request, _: Params| dashboard::page());
    router.get("/dashboard/api/stats", |req: Request, _: Params| {
        finish(dashboard::stats_json(&req))
    });
    router.handle_async(req).await
}
