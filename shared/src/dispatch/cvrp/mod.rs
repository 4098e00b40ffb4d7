//! Static capacitated vehicle routing, solved by a hybrid genetic search in the style of
//! HGS-CVRP (Vidal 2022) and PyVRP: giant-tour split, order crossover, granular local
//! search (relocate, swap, 2-opt, 2-opt*) under a capacity penalty that adapts to keep
//! about a fifth of offspring feasible, and a population ranked by cost and diversity.
//!
//! It is what the benchmarks measure against the Uchoa X instances; the same budget and
//! seed rules as [`dispatch`](super::dispatch) apply (no clock, no threads).

mod check;
mod genetic;
mod instance;
mod local_search;

pub use check::{check_solution, CvrpViolation};
pub use genetic::{solve, HgsParams};
pub use instance::{parse_solution_cost, CvrpError, CvrpInstance, CvrpSolution};
