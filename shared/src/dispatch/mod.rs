//! Dispatch: choose a rider for every ready parcel and the order of each rider's
//! pickups and drop-offs.
//!
//! Entry points: [`dispatch`] (construction by regret insertion, then large
//! neighbourhood search until the caller's [`Budget`] runs out), [`explain`] (why rider A
//! and not rider B), [`release_rider`] / [`reject_parcels`] (re-dispatch), and [`check`],
//! the independent feasibility checker. [`cvrp`] is the static capacitated routing solver
//! measured against the public benchmarks.
//!
//! Architecture invariant: no clock, no threads, no I/O. Time budgets come in as a
//! [`Budget`] the shell builds on its own clock; randomness comes from the config's seed,
//! so a call is reproducible with an [`Iterations`] budget.

mod budget;
mod check;
mod config;
mod context;
pub mod cvrp;
mod error;
mod explain;
mod insertion;
mod model;
mod plan;
mod redispatch;
mod rng;
mod screen;
mod search;
pub mod state;
mod station;
mod travel;

pub use budget::{Budget, Counted, Deadline, Iterations};
pub use check::{check, Violation};
pub use config::{parse_config, ConfigError, DispatchConfig, ServiceArea, Weights};
pub use context::Infeasible;
pub use error::DispatchError;
pub use explain::{explain, ExplainError, Explanation, Refusal, RiderOption};
pub use model::{
    check_load, check_time, service_after, service_before, Capabilities, ColdChain, Load, Parcel,
    ParcelId, Point, Problem, Rider, RiderId, Stop, StopKind, Time, LOAD_LIMIT, SERVICE_LIMIT,
    TIME_LIMIT,
};
pub use plan::{
    commit_plan, dispatch, Assignment, Plan, PlannedStop, RoutePlan, ScoreBreakdown, Unassigned,
};
pub use redispatch::{reject_parcels, release_rider, release_silent, Released, SilentRelease};
pub use rng::SplitMix64;
pub use screen::Unassignable;
pub use station::{BadStation, Station};
pub use travel::{haversine_metres, Euclidean, Haversine, TravelModel};

#[cfg(test)]
mod tests;
