#![no_main]
//! The VRPLIB reader behind `POST /admin/dispatch/cvrp` and the CVRP benchmark: any
//! text either parses into an instance the solver can take or is a typed error. A parsed
//! instance is solved for a few iterations and the result must pass the checker.
use libfuzzer_sys::fuzz_target;
use orderhub_core::dispatch::cvrp::{check_solution, solve, CvrpInstance, HgsParams};
use orderhub_core::dispatch::Iterations;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = orderhub_core::dispatch::cvrp::parse_solution_cost(text);
    let Ok(inst) = CvrpInstance::from_vrplib_at_most(text, 64) else { return };
    let mut budget = Iterations::new(20);
    let sol = solve(&inst, &HgsParams::default(), &mut budget);
    let violations = check_solution(&inst, &sol);
    assert!(violations.is_empty(), "{violations:?}");
});
