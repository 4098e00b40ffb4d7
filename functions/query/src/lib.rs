//! `query` component: the read side. Instances in spin.toml: `query` (/orders/...),
//! `dashboard` (/dashboard/...), `health` (/health).
//!
//! Reads only: it never writes a store but the audit trail (a cs read of an order) and
//! the failed-authentication counters, so it can be scaled freely. The console's login
//! (`POST /dashboard/session`) is stateless: the session is a signed cookie.

mod dashboard;
mod health;
mod orders;

use orderhub_shell::{finish, health};
use spin_sdk::http::{IncomingRequest, Params, Request, Response, Router};
use spin_sdk::http_component;

#[http_component]
async fn handle(incoming: IncomingRequest) -> Response {
    orderhub_shell::serve(incoming, orderhub_core::limits::API_BODY_MAX, route).await
}

async fn route(req: Request) -> Response {
    let mut router = Router::new();
    router.get_async("/health", |_: Request, _: Params| health::whole_app());
    router.get("/orders/health", |_: Request, _: Params| health("query"));
    router.get("/orders", |req: Request, _: Params| {
        finish(orders::list(&req))
    });
    router.get("/orders/:id", |_: Request, p: Params| {
        finish(orders::one(p.get("id").unwrap_or_default()))
    });
    router.get("/orders/:id/history", |_: Request, p: Params| {
        finish(orders::history(p.get("id").unwrap_or_default()))
    });
    router.get("/dashboard/health", |_: Request, _: Params| health("query"));
    router.get("/dashboard", |_: Request, _: Params| dashboard::page());
    router.get("/dashboard/", |_: Request, _: Params| dashboard::page());
    router.get("/dashboard/api/stats", |req: Request, _: Params| {
        finish(dashboard::stats_json(&req))
    });
    router.get("/dashboard/login", |_: Request, _: Params| {
        dashboard::login_page()
    });
    router.get("/dashboard/app.js", |_: Request, _: Params| {
        dashboard::app_js()
    });
    router.get("/dashboard/login.js", |_: Request, _: Params| {
        dashboard::login_js()
    });
    router.get("/dashboard/style.css", |_: Request, _: Params| {
        dashboard::style_css()
    });
    router.post("/dashboard/session", |req: Request, _: Params| {
        finish(dashboard::login(&req))
    });
    router.delete("/dashboard/session", |req: Request, _: Params| {
        dashboard::logout(&req)
    });
    router.handle_async(req).await
}
