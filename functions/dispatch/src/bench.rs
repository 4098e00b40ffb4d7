//! `POST /admin/dispatch/cvrp?budget_ms=&seed=` (admin token): the core's static CVRP
//! solver on a VRPLIB instance posted as the body, with the budget measured inside the
//! component. It exists so the routing benchmark (issue 6, `scripts/bench-cvrp-compare`)
//! can measure the solver where it runs in production, in wasm behind the host, beside
//! the native build. Stateless: no store, no effects.
//!
//! Answer: `{instance, customers, budget_ms, seed, cost, vehicles, routes, feasible,
//! violations, iterations, elapsed_ms, parse_ms}`; `routes` list node indices with the
//! depot as 0 (a VRPLIB node id minus one), `feasible` and `violations` are the core's
//! independent `check_solution`, `iterations` the offspring the search made, and
//! `elapsed_ms` the solve alone.

use std::time::Instant;

use orderhub_core::dispatch::cvrp::{check_solution, solve, CvrpError, CvrpInstance, HgsParams};
use orderhub_core::dispatch::{Counted, Deadline};
use orderhub_shell::{json, ApiError};
use spin_sdk::http::{Request, Response};

/// The largest Uchoa X instance (1,000 customers and the depot) and a little room; the
/// n² distance matrix of this many nodes is 8 MB, well inside an instance's memory.
const MAX_NODES: usize = 1_002;
/// Well under any request timeout a deployment would set.
const MAX_BUDGET_MS: u64 = 10_000;
const DEFAULT_BUDGET_MS: u64 = 50;

pub fn cvrp(req: &Request) -> Result<Response, ApiError> {
    let budget_ms = param(req.query(), "budget_ms")?.unwrap_or(DEFAULT_BUDGET_MS);
    if budget_ms > MAX_BUDGET_MS {
        return Err(ApiError::bad_request(
            "bad_parameter",
            format!("`budget_ms` at most {MAX_BUDGET_MS}"),
        ));
    }
    let seed = param(req.query(), "seed")?.unwrap_or(HgsParams::default().seed);
    let text = std::str::from_utf8(req.body())
        .map_err(|e| ApiError::bad_request("not_utf8", format!("body: {e}")))?;

    let started = Instant::now();
    let inst = CvrpInstance::from_vrplib_at_most(text, MAX_NODES).map_err(instance_error)?;
    let parse_ms = millis(started);

    let clock = Instant::now();
    let mut budget = Counted::new(Deadline::after_millis(
        move || clock.elapsed().as_micros() as u64,
        budget_ms,
    ));
    let params = HgsParams {
        seed,
        ..HgsParams::default()
    };
    let found = solve(&inst, &params, &mut budget);
    let elapsed_ms = millis(clock);
    let violations: Vec<String> = check_solution(&inst, &found)
        .iter()
        .map(|v| format!("{v:?}"))
        .collect();
    Ok(json(
        200,
        &serde_json::json!({
            "instance": inst.name,
            "customers": inst.len() - 1,
            "budget_ms": budget_ms,
            "seed": seed,
            "cost": found.cost,
            "vehicles": found.routes.len(),
            "routes": found.routes,
            "feasible": violations.is_empty(),
            "violations": violations,
            "iterations": budget.steps(),
            "elapsed_ms": elapsed_ms,
            "parse_ms": parse_ms,
        }),
    ))
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// A non-negative integer query parameter; absent is `None`, unreadable is a 400.
fn param(query: &str, name: &str) -> Result<Option<u64>, ApiError> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| {
            v.parse().map_err(|_| {
                ApiError::bad_request(
                    "bad_parameter",
                    format!("`{name}` must be a non-negative integer"),
                )
            })
        })
        .transpose()
}

fn instance_error(e: CvrpError) -> ApiError {
    let code = match e {
        CvrpError::Missing(_) => "missing_field",
        CvrpError::BadNumber(_) => "bad_number",
        CvrpError::DemandOverCapacity { .. } => "demand_over_capacity",
        CvrpError::QuantityOutOfRange(_) => "quantity_out_of_range",
        CvrpError::CoordinateOutOfRange(_) => "coordinate_out_of_range",
        CvrpError::TooLarge { .. } => "instance_too_large",
        CvrpError::NoCustomers => "no_customers",
    };
    ApiError::bad_request(code, e.to_string())
}
