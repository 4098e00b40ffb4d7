//! Improvement by large neighbourhood search: remove a few related parcels, reinsert them
//! by regret, keep the result when it is no worse. Pickup-and-delivery routes with time
//! windows are where ruin-and-recreate beats edge exchanges, and it needs no extra
//! move code per constraint.

use super::budget::Budget;
use super::context::{Ctx, Node};
use super::insertion::{regret_insert, Solution};
use super::rng::SplitMix64;

/// Nearest other open parcels by pickup then drop-off distance (planar in the point's
/// own units: good enough to rank neighbours).
fn neighbours(ctx: &Ctx, open: &[usize], keep: usize) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); ctx.parcels.len()];
    for &p in open {
        let a = &ctx.parcels[p];
        // Squared distances rank the same and skip a square root per pair.
        let mut list: Vec<(f64, u32)> = open
            .iter()
            .filter(|&&q| q != p)
            .map(|&q| {
                let b = &ctx.parcels[q];
                let d = (a.pickup.x - b.pickup.x).powi(2)
                    + (a.pickup.y - b.pickup.y).powi(2)
                    + (a.dropoff.x - b.dropoff.x).powi(2)
                    + (a.dropoff.y - b.dropoff.y).powi(2);
                (d, q as u32)
            })
            .collect();
        let by_distance = |x: &(f64, u32), y: &(f64, u32)| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1));
        if list.len() > keep {
            list.select_nth_unstable_by(keep, by_distance);
            list.truncate(keep);
        }
        list.sort_unstable_by(by_distance);
        out[p] = list.into_iter().map(|(_, q)| q).collect();
    }
    out
}

pub(crate) struct Outcome {
    pub solution: Solution,
    pub unassigned: Vec<usize>,
    pub iterations: u64,
}

pub(crate) fn improve(
    ctx: &Ctx,
    start: Solution,
    start_unassigned: Vec<usize>,
    routable: &[usize],
    cands: &[Vec<u32>],
    budget: &mut dyn Budget,
    rng: &mut SplitMix64,
) -> Outcome {
    let near = neighbours(ctx, routable, 24);
    let mut cur = start;
    let mut cur_unassigned = start_unassigned;
    let mut cur_total = cur.total(cur_unassigned.len());
    let mut best = cur.clone();
    let mut best_unassigned = cur_unassigned.clone();
    let mut best_total = cur_total;
    let mut iterations = 0u64;
    if routable.is_empty() {
        return Outcome {
            solution: best,
            unassigned: best_unassigned,
            iterations,
        };
    }
    while !budget.exhausted() {
        iterations += 1;
        let removed = ruin(&cur, routable, &near, rng);
        let mut trial = cur.clone();
        for &p in &removed {
            trial.remove(ctx, p);
        }
        let mut pending: Vec<usize> = removed;
        pending.extend(cur_unassigned.iter().copied());
        pending.sort_unstable();
        pending.dedup();
        let left = regret_insert(ctx, &mut trial, &pending, cands);
        let total = trial.total(left.len());
        // Equal-cost moves are accepted so the search can walk across plateaus.
        if total <= cur_total + 1e-9 {
            cur = trial;
            cur_unassigned = left;
            cur_total = total;
            if cur_total < best_total - 1e-9 {
                best = cur.clone();
                best_unassigned = cur_unassigned.clone();
                best_total = cur_total;
            }
        }
    }
    Outcome {
        solution: best,
        unassigned: best_unassigned,
        iterations,
    }
}

/// Pick parcels to take out: a random one and its neighbours, or one rider's whole new
/// route (which lets work move to idle riders).
fn ruin(sol: &Solution, routable: &[usize], near: &[Vec<u32>], rng: &mut SplitMix64) -> Vec<usize> {
    let assigned: Vec<usize> = routable
        .iter()
        .copied()
        .filter(|&p| sol.rider_of[p].is_some())
        .collect();
    if assigned.is_empty() {
        return Vec::new();
    }
    let seed = assigned[rng.below(assigned.len())];
    if rng.below(4) == 0 {
        let r = sol.rider_of[seed].map(|r| r as usize).unwrap_or(0);
        return parcels_of(&sol.routes[r]);
    }
    let max = (assigned.len() / 4).clamp(1, 12);
    let k = 1 + rng.below(max);
    let mut out = vec![seed];
    for &q in &near[seed] {
        if out.len() >= k {
            break;
        }
        let q = q as usize;
        // Skip a few neighbours at random so repeated ruins differ.
        if sol.rider_of[q].is_some() && rng.below(4) != 0 {
            out.push(q);
        }
    }
    out
}

fn parcels_of(nodes: &[Node]) -> Vec<usize> {
    nodes
        .iter()
        .filter(|n| n.pickup)
        .map(|n| n.parcel as usize)
        .collect()
}
