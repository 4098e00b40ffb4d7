//! `reserve` component: Stock reservation ledger: reserve, release, commit, expire, adjust; never oversell.
//!
//! Instances in spin.toml: reserve (private), stock-jobs (/jobs/stock/...), stock-admin (/admin/stock/...). Same shape as every component: parse, call the core,
//! apply its effects, answer.

use orderhub_shell::{auth, finish, health, ApiError};
use spin_sdk::http::{Params, Request, Response, Router};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    let mut router = Router::new();
    router.get("/health", |_: Request, _: Params| health("reserve"));
    router.get("/jobs/stock/health", |_: Request, _: Params| {
        health("reserve")
    });
    router.post("/jobs/stock/expire", |req: Request, _: Params| {
        finish(auth::require_bearer(&req, "job_token").and_then(|()| {
            Err::<Response, _>(ApiError::new(
                501,
                "not_implemented",
                "/jobs/stock/expire arrives with its issue",
            ))
        }))
    });
    router.get("/admin/stock/health", |_: Request, _: Params| {
        health("reserve")
    });
    router.post("/admin/stock/adjust", |req: Request, _: Params| {
        finish(auth::require_bearer(&req, "admin_token").and_then(|()| {
            Err::<Response, _>(ApiError::new(
                501,
                "not_implemented",
                "/admin/stock/adjust arrives with its issue",
            ))
        }))
    });
    router.handle(req)
}
