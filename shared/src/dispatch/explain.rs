//! Why rider A and not rider B: the operator's question, answered from the plan.

use serde::{Deserialize, Serialize};

use super::config::DispatchConfig;
use super::context::{Ctx, Infeasible, Node};
use super::error::DispatchError;
use super::insertion::best_insertion;
use super::model::{ParcelId, Problem, RiderId, StopKind};
use super::plan::{breakdown, Plan, ScoreBreakdown};
use super::travel::TravelModel;

/// What giving the parcel to one rider costs, or why that rider cannot take it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RiderOption {
    /// The plan gives the parcel to this rider; `marginal` is what it adds to the route.
    Chosen {
        marginal: ScoreBreakdown,
    },
    /// The best place the parcel would fit on this rider's planned route.
    Possible {
        marginal: ScoreBreakdown,
    },
    Impossible {
        why: Refusal,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    Offline,
    StalePosition,
    WrongBox,
    TooLarge,
    Capacity,
    ShiftEnd,
    OneSitePerTrip,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    pub parcel: ParcelId,
    pub a: (RiderId, RiderOption),
    pub b: (RiderId, RiderOption),
    /// One sentence for the operator.
    pub verdict: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    #[error(transparent)]
    Problem(#[from] DispatchError),
    #[error("unknown parcel `{0}`")]
    UnknownParcel(ParcelId),
    #[error("unknown rider `{0}`")]
    UnknownRider(RiderId),
}

/// Compare riders `a` and `b` for `parcel` against `plan` (as returned for `problem`).
pub fn explain(
    problem: &Problem,
    config: &DispatchConfig,
    travel: &dyn TravelModel,
    plan: &Plan,
    parcel: &ParcelId,
    a: &RiderId,
    b: &RiderId,
) -> Result<Explanation, ExplainError> {
    let ctx = Ctx::new(problem, config, travel)?;
    let p = *ctx
        .index
        .get(parcel)
        .ok_or_else(|| ExplainError::UnknownParcel(parcel.clone()))?;
    let option_a = option(&ctx, problem, plan, p, a)?;
    let option_b = option(&ctx, problem, plan, p, b)?;
    let verdict = verdict(a, &option_a, b, &option_b, &config.weights);
    Ok(Explanation {
        parcel: parcel.clone(),
        a: (a.clone(), option_a),
        b: (b.clone(), option_b),
        verdict,
    })
}

fn option(
    ctx: &Ctx,
    problem: &Problem,
    plan: &Plan,
    p: usize,
    rider: &RiderId,
) -> Result<RiderOption, ExplainError> {
    let r = problem
        .riders
        .iter()
        .position(|x| &x.id == rider)
        .ok_or_else(|| ExplainError::UnknownRider(rider.clone()))?;
    let id = &problem.parcels[p].id;
    if let Some(asg) = plan
        .assignments
        .iter()
        .find(|x| &x.parcel == id && &x.rider == rider)
    {
        return Ok(RiderOption::Chosen {
            marginal: asg.marginal,
        });
    }
    let info = &ctx.riders[r];
    let parcel = &ctx.parcels[p];
    let refuse = |why| Ok(RiderOption::Impossible { why });
    if !problem.riders[r].online {
        return refuse(Refusal::Offline);
    }
    if info.stale {
        return refuse(Refusal::StalePosition);
    }
    if !info.caps.can_carry(parcel.cold) {
        return refuse(Refusal::WrongBox);
    }
    if !parcel.size.fits_within(&info.capacity) {
        return refuse(Refusal::TooLarge);
    }
    // The rider's planned new stops, minus the parcel if someone else has it.
    let nodes: Vec<Node> = plan
        .routes
        .iter()
        .find(|rp| &rp.rider == rider)
        .map(|rp| {
            rp.stops
                .iter()
                .skip(info.fixed.len())
                .filter_map(|s| {
                    let q = *ctx.index.get(&s.parcel)?;
                    Some(Node {
                        parcel: q as u32,
                        pickup: s.kind == StopKind::Pickup,
                    })
                })
                .filter(|n| n.parcel as usize != p)
                .collect()
        })
        .unwrap_or_default();
    let base = match ctx.run(r, &nodes) {
        Ok(c) => c,
        Err(_) => return refuse(Refusal::ShiftEnd),
    };
    match best_insertion(ctx, r, &nodes, ctx.cost(&base), p) {
        Ok(ins) => {
            let mut with = nodes.clone();
            ins.apply(&mut with, p);
            let after = ctx
                .run(r, &with)
                .map_err(|_| ExplainError::UnknownParcel(id.clone()))?;
            Ok(RiderOption::Possible {
                marginal: breakdown(ctx, &after).minus(&breakdown(ctx, &base)),
            })
        }
        Err(e) => refuse(match e {
            Infeasible::Capacity => Refusal::Capacity,
            Infeasible::ShiftEnd => Refusal::ShiftEnd,
            Infeasible::OneSitePerTrip => Refusal::OneSitePerTrip,
        }),
    }
}

fn verdict(
    a: &RiderId,
    oa: &RiderOption,
    b: &RiderId,
    ob: &RiderOption,
    w: &super::config::Weights,
) -> String {
    let cost = |o: &RiderOption| match o {
        RiderOption::Chosen { marginal } | RiderOption::Possible { marginal } => Some(*marginal),
        RiderOption::Impossible { .. } => None,
    };
    match (cost(oa), cost(ob)) {
        (_, None) => match ob {
            RiderOption::Impossible { why } => format!("{b} cannot take it: {why:?}"),
            _ => format!("{b} cannot take it"),
        },
        (None, Some(_)) => match oa {
            RiderOption::Impossible { why } => format!("{a} cannot take it ({why:?}); {b} can"),
            _ => format!("{a} cannot take it; {b} can"),
        },
        (Some(x), Some(y)) => {
            let (cheaper, dearer, lo, hi) = if x.total <= y.total {
                (a, b, x, y)
            } else {
                (b, a, y, x)
            };
            let d_late = w.lateness * hi.lateness.saturating_sub(lo.lateness) as f64;
            let d_travel = w.travel * hi.travel.saturating_sub(lo.travel) as f64;
            let d_balance = w.balance * hi.load_squared.saturating_sub(lo.load_squared) as f64;
            let (what, by) = [
                ("lateness", d_late),
                ("travel", d_travel),
                ("load balance", d_balance),
            ]
            .into_iter()
            .fold(
                ("lateness", f64::MIN),
                |acc, x| if x.1 > acc.1 { x } else { acc },
            );
            format!(
                "{cheaper} adds {:.0} to the objective, {dearer} {:.0}; mostly {what} ({by:.0}): lateness {} vs {}, travel {} vs {}",
                lo.total, hi.total, lo.lateness, hi.lateness, lo.travel, hi.travel
            )
        }
    }
}
