//! `merge` component: Merge a customer's orders into one delivery within a window; split groups into parcels; close due windows.
//!
//! Instances in spin.toml: merge (private), merge-jobs (/jobs/merge/...), merge-admin (/admin/merge/...). Same shape as every component: parse, call the core,
//! apply its effects, answer.

use orderhub_shell::{auth, finish, health, ApiError};
use spin_sdk::http::{Params, Request, Response, Router};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    let mut router = Router::new();
    router.get("/health", |_: Request, _: Params| health("merge"));
    router.get("/jobs/merge/health", |_: Request, _: Params| {
        health("merge")
    });
    router.post("/jobs/merge/close-windows", |req: Request, _: Params| {
        finish(auth::require_bearer(&req, "job_token").and_then(|()| {
            Err::<Response, _>(ApiError::new(
                501,
                "not_implemented",
                "/jobs/merge/close-windows arrives with its issue",
            ))
        }))
    });
    router.get("/admin/merge/health", |_: Request, _: Params| {
        health("merge")
    });
    router.post("/admin/merge/rules/validate", |req: Request, _: Params| {
        finish(auth::require_bearer(&req, "admin_token").and_then(|()| {
            Err::<Response, _>(ApiError::new(
                501,
                "not_implemented",
                "/admin/merge/rules/validate arrives with its issue",
            ))
        }))
    });
    router.handle(req)
}
