//! What a dispatch call returns, and the call itself.

use serde::{Deserialize, Serialize};

use super::budget::Budget;
use super::config::DispatchConfig;
use super::context::{Ctx, Node};
use super::error::DispatchError;
use super::insertion::{candidates, regret_insert, Solution};
use super::model::{ParcelId, Problem, RiderId, StopKind, Time};
use super::rng::SplitMix64;
use super::screen::{screen, Unassignable};
use super::search::improve;
use super::travel::TravelModel;

/// The parts of the objective, so an operator can see what a choice cost.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ScoreBreakdown {
    /// Time past the promise, summed over drop-offs.
    pub lateness: Time,
    pub travel: Time,
    /// Square of the rider's parcels today (delivered, on board and planned).
    pub load_squared: i64,
    /// The weighted sum the search minimised.
    pub total: f64,
}

impl ScoreBreakdown {
    pub fn minus(&self, other: &ScoreBreakdown) -> ScoreBreakdown {
        ScoreBreakdown {
            lateness: self.lateness.saturating_sub(other.lateness),
            travel: self.travel.saturating_sub(other.travel),
            load_squared: self.load_squared.saturating_sub(other.load_squared),
            total: self.total - other.total,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedStop {
    pub parcel: ParcelId,
    pub kind: StopKind,
    pub arrive_at: Time,
    /// Pickup or hand-to-customer instant.
    pub handover_at: Time,
    pub depart_at: Time,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutePlan {
    pub rider: RiderId,
    /// Committed stops first, unchanged, then the new ones.
    pub stops: Vec<PlannedStop>,
}

/// One open parcel given to a rider, with what it adds to the rider's route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub parcel: ParcelId,
    pub rider: RiderId,
    pub pickup_at: Time,
    pub dropoff_at: Time,
    pub lateness: Time,
    /// Route with the parcel minus route without it.
    pub marginal: ScoreBreakdown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unassigned {
    pub parcel: ParcelId,
    pub reason: Unassignable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub routes: Vec<RoutePlan>,
    pub assignments: Vec<Assignment>,
    pub unassigned: Vec<Unassigned>,
    /// Riders whose position report is too old to give them new work.
    pub stale_riders: Vec<RiderId>,
    /// Riders whose committed stops no longer fit their shift or box: shown in full,
    /// given nothing new, for an operator to sort out.
    pub broken_routes: Vec<RiderId>,
    pub score: ScoreBreakdown,
    /// Improvement steps the budget allowed.
    pub iterations: u64,
}

impl Plan {
    /// The exceptions to raise, one per parcel no rider can take for good (parcels that
    /// only wait for a free rider raise none).
    pub fn exceptions(&self) -> Vec<(ParcelId, crate::order::OrderException)> {
        self.unassigned
            .iter()
            .filter_map(|u| {
                u.reason
                    .to_exception(&u.parcel)
                    .map(|e| (u.parcel.clone(), e))
            })
            .collect()
    }
}

/// Make the plan's routes the riders' committed routes (what the shell stores after
/// notifying riders); the next call then routes only parcels still open.
pub fn commit_plan(problem: &mut Problem, plan: &Plan) {
    for route in &plan.routes {
        if let Some(rider) = problem.riders.iter_mut().find(|r| r.id == route.rider) {
            rider.route = route
                .stops
                .iter()
                .map(|s| super::model::Stop {
                    parcel: s.parcel.clone(),
                    kind: s.kind,
                })
                .collect();
        }
    }
}

/// Assign every open parcel of `problem` to a rider and order each rider's stops.
pub fn dispatch(
    problem: &Problem,
    config: &DispatchConfig,
    travel: &dyn TravelModel,
    budget: &mut dyn Budget,
) -> Result<Plan, DispatchError> {
    let ctx = Ctx::new(problem, config, travel)?;
    let mut rng = SplitMix64::new(config.seed);
    let (routable, mut rejected) = screen(&ctx);
    let cands = candidates(&ctx, &routable);
    let mut sol = Solution::empty(&ctx);
    let left = regret_insert(&ctx, &mut sol, &routable, &cands);
    let outcome = improve(&ctx, sol, left, &routable, &cands, budget, &mut rng);
    for &p in &outcome.unassigned {
        rejected.push((p, Unassignable::AllRidersBusy));
    }
    rejected.sort_by_key(|(p, _)| *p);
    Ok(build_plan(
        &ctx,
        problem,
        &outcome.solution,
        rejected,
        outcome.iterations,
    ))
}

pub(crate) fn breakdown(ctx: &Ctx, c: &super::context::Cursor) -> ScoreBreakdown {
    ScoreBreakdown {
        lateness: c.lateness,
        travel: c.travel,
        load_squared: c.parcels.saturating_mul(c.parcels),
        total: ctx.cost(c),
    }
}

fn build_plan(
    ctx: &Ctx,
    problem: &Problem,
    sol: &Solution,
    rejected: Vec<(usize, Unassignable)>,
    iterations: u64,
) -> Plan {
    let mut routes = Vec::with_capacity(problem.riders.len());
    let mut assignments = Vec::new();
    let mut score = ScoreBreakdown::default();
    for (r, rider) in problem.riders.iter().enumerate() {
        let info = &ctx.riders[r];
        let mut cur = info.origin;
        let mut stops = Vec::new();
        let all: Vec<Node> = info
            .fixed
            .iter()
            .chain(sol.routes[r].iter())
            .copied()
            .collect();
        for &n in &all {
            let tt = ctx.travel.travel(cur.pos, ctx.location(n));
            let (times, _) = ctx.advance(info, &mut cur, n, tt);
            stops.push(PlannedStop {
                parcel: problem.parcels[n.parcel as usize].id.clone(),
                kind: if n.pickup {
                    StopKind::Pickup
                } else {
                    StopKind::Dropoff
                },
                arrive_at: times.arrive,
                handover_at: times.handover,
                depart_at: times.depart,
            });
        }
        let whole = breakdown(ctx, &cur);
        score.lateness = score.lateness.saturating_add(whole.lateness);
        score.travel = score.travel.saturating_add(whole.travel);
        score.load_squared = score.load_squared.saturating_add(whole.load_squared);
        score.total += whole.total;
        for n in sol.routes[r].iter().filter(|n| n.pickup) {
            let p = n.parcel as usize;
            let id = &problem.parcels[p].id;
            let find = |kind| stops.iter().find(|s| &s.parcel == id && s.kind == kind);
            let (Some(pick), Some(drop)) = (find(StopKind::Pickup), find(StopKind::Dropoff)) else {
                continue;
            };
            let without: Vec<Node> = sol.routes[r]
                .iter()
                .copied()
                .filter(|m| m.parcel as usize != p)
                .collect();
            let marginal = match ctx.run(r, &without) {
                Ok(c) => whole.minus(&breakdown(ctx, &c)),
                Err(_) => whole,
            };
            assignments.push(Assignment {
                parcel: id.clone(),
                rider: rider.id.clone(),
                pickup_at: pick.handover_at,
                dropoff_at: drop.handover_at,
                lateness: drop
                    .handover_at
                    .saturating_sub(problem.parcels[p].promised_at)
                    .max(0),
                marginal,
            });
        }
        routes.push(RoutePlan {
            rider: rider.id.clone(),
            stops,
        });
    }
    let unassigned = rejected
        .into_iter()
        .map(|(p, reason)| Unassigned {
            parcel: problem.parcels[p].id.clone(),
            reason,
        })
        .collect();
    let stale_riders = problem
        .riders
        .iter()
        .zip(&ctx.riders)
        .filter(|(_, i)| i.stale)
        .map(|(r, _)| r.id.clone())
        .collect();
    let broken_routes = problem
        .riders
        .iter()
        .zip(&ctx.riders)
        .filter(|(_, i)| i.start.is_none())
        .map(|(r, _)| r.id.clone())
        .collect();
    Plan {
        routes,
        assignments,
        unassigned,
        stale_riders,
        broken_routes,
        score,
        iterations,
    }
}
