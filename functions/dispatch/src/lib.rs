//! `dispatch` component: Assign parcels to riders and order their routes; rider state.
//!
//! Instances in spin.toml: dispatch (private), dispatch-jobs (/jobs/dispatch/...), riders (/riders/...). Same shape as every component: parse, call the core,
//! apply its effects, answer.

use orderhub_shell::{auth, finish, health, ApiError};
use spin_sdk::http::{Params, Request, Response, Router};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    let mut router = Router::new();
    router.get("/health", |_: Request, _: Params| health("dispatch"));
    router.get("/jobs/dispatch/health", |_: Request, _: Params| {
        health("dispatch")
    });
    router.post("/jobs/dispatch/tick", |req: Request, _: Params| {
        finish(auth::require_bearer(&req, "job_token").and_then(|()| {
            Err::<Response, _>(ApiError::new(
                501,
                "not_implemented",
                "/jobs/dispatch/tick arrives with its issue",
            ))
        }))
    });
    router.get("/riders/health", |_: Request, _: Params| health("dispatch"));
    router.post("/riders/report", |req: Request, _: Params| {
        finish(auth::require_bearer(&req, "rider_token").and_then(|()| {
            Err::<Response, _>(ApiError::new(
                501,
                "not_implemented",
                "/riders/report arrives with its issue",
            ))
        }))
    });
    router.handle(req)
}
