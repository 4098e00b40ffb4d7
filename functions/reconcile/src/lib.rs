//! `reconcile` component: Nightly reconciliation of channel statements and payment bills against our records; T+1 settlement.
//!
//! Instances in spin.toml: reconcile (/reconcile/...), reconcile-jobs (/jobs/reconcile/...). Same shape as every component: parse, call the core,
//! apply its effects, answer.

use orderhub_shell::{auth, finish, health, ApiError};
use spin_sdk::http::{Params, Request, Response, Router};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    let mut router = Router::new();
    router.get("/health", |_: Request, _: Params| health("reconcile"));
    router.get("/jobs/reconcile/health", |_: Request, _: Params| {
        health("reconcile")
    });
    router.post("/jobs/reconcile/nightly", |req: Request, _: Params| {
        finish(auth::require_bearer(&req, "job_token").and_then(|()| {
            Err::<Response, _>(ApiError::new(
                501,
                "not_implemented",
                "/jobs/reconcile/nightly arrives with its issue",
            ))
        }))
    });
    router.get("/reconcile/health", |_: Request, _: Params| {
        health("reconcile")
    });
    router.post("/reconcile/run", |req: Request, _: Params| {
        finish(auth::require_bearer(&req, "admin_token").and_then(|()| {
            Err::<Response, _>(ApiError::new(
                501,
                "not_implemented",
                "/reconcile/run arrives with its issue",
            ))
        }))
    });
    router.handle(req)
}
