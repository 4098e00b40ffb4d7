//! Cheapest insertion of a parcel's pickup and drop-off into a route, and regret
//! construction over many parcels.

use super::context::{Ctx, Cursor, Infeasible, Node};

/// Where to put a parcel on a route and what it costs there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Insertion {
    pub delta: f64,
    /// Position of the pickup in the route before insertion.
    pub pickup_at: usize,
    /// Position of the drop-off in the route before insertion (`>= pickup_at`).
    pub dropoff_at: usize,
}

impl Insertion {
    pub fn apply(&self, nodes: &mut Vec<Node>, p: usize) {
        nodes.insert(self.dropoff_at, Node::dropoff(p));
        nodes.insert(self.pickup_at, Node::pickup(p));
    }
}

/// The cheapest feasible insertion of `p` into rider `r`'s new stops, given the route's
/// current cost; or the first reason every position failed.
pub(crate) fn best_insertion(
    ctx: &Ctx,
    r: usize,
    nodes: &[Node],
    base_cost: f64,
    p: usize,
) -> Result<Insertion, Infeasible> {
    let rider = &ctx.riders[r];
    let start = rider.start.ok_or(Infeasible::ShiftEnd)?;
    let mut prefix: Vec<Cursor> = Vec::with_capacity(nodes.len() + 1);
    prefix.push(start);
    for &n in nodes {
        let mut c = prefix[prefix.len() - 1];
        if ctx.step(rider, &mut c, n).is_err() {
            break;
        }
        prefix.push(c);
    }
    let pick = Node::pickup(p);
    let drop = Node::dropoff(p);
    let mut best: Option<Insertion> = None;
    let mut why = Infeasible::ShiftEnd;
    for (i, at) in prefix.iter().enumerate() {
        let mut mid = *at;
        if let Err(e) = ctx.step(rider, &mut mid, pick) {
            why = e;
            continue;
        }
        for j in i..=nodes.len() {
            let mut c = mid;
            let tail_ok = ctx.step(rider, &mut c, drop).and_then(|_| {
                nodes[j..]
                    .iter()
                    .try_for_each(|&n| ctx.step(rider, &mut c, n).map(|_| ()))
            });
            match tail_ok {
                Ok(()) => {
                    let delta = ctx.cost(&c) - base_cost;
                    if best.is_none_or(|b| delta < b.delta - 1e-9) {
                        best = Some(Insertion {
                            delta,
                            pickup_at: i,
                            dropoff_at: j,
                        });
                    }
                }
                Err(e) => why = e,
            }
            if j < nodes.len() {
                if let Err(e) = ctx.step(rider, &mut mid, nodes[j]) {
                    why = e;
                    break;
                }
            }
        }
    }
    best.ok_or(why)
}

/// The routes being built: new stops per rider on top of the committed ones.
#[derive(Debug, Clone)]
pub(crate) struct Solution {
    pub routes: Vec<Vec<Node>>,
    pub cost: Vec<f64>,
    /// Rider of each parcel (open parcels only are ever set).
    pub rider_of: Vec<Option<u32>>,
}

impl Solution {
    pub fn empty(ctx: &Ctx) -> Self {
        let cost = (0..ctx.riders.len())
            .map(|r| ctx.riders[r].start.map(|c| ctx.cost(&c)).unwrap_or(0.0))
            .collect();
        Self {
            routes: vec![Vec::new(); ctx.riders.len()],
            cost,
            rider_of: vec![None; ctx.parcels.len()],
        }
    }

    pub fn total(&self, unassigned: usize) -> f64 {
        self.cost.iter().sum::<f64>() + UNASSIGNED_PENALTY * unassigned as f64
    }

    /// Take `p` off its route; the route's cost is recomputed.
    pub fn remove(&mut self, ctx: &Ctx, p: usize) {
        if let Some(r) = self.rider_of[p].take() {
            let r = r as usize;
            self.routes[r].retain(|n| n.parcel as usize != p);
            self.cost[r] = route_cost(ctx, r, &self.routes[r]);
        }
    }
}

/// Dominates every other term: an assignable parcel is always assigned.
pub(crate) const UNASSIGNED_PENALTY: f64 = 1e12;

/// Cost of a route; removing a stop can break it when rounded travel times violate the
/// triangle inequality, and then the route is priced as if it were unassigned work.
pub(crate) fn route_cost(ctx: &Ctx, r: usize, nodes: &[Node]) -> f64 {
    match ctx.run(r, nodes) {
        Ok(c) => ctx.cost(&c),
        Err(_) => UNASSIGNED_PENALTY,
    }
}

/// Riders to try for each parcel, nearest first, at most `candidate_riders` of them.
pub(crate) fn candidates(ctx: &Ctx, parcels: &[usize]) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); ctx.parcels.len()];
    for &p in parcels {
        let info = &ctx.parcels[p];
        let mut list: Vec<(i64, u32)> = (0..ctx.riders.len())
            .filter(|&r| ctx.eligible(r, p))
            .filter_map(|r| {
                let s = ctx.riders[r].start?;
                Some((s.t + ctx.travel.travel(s.pos, info.pickup), r as u32))
            })
            .collect();
        list.sort_unstable();
        let k = if ctx.cfg.candidate_riders == 0 {
            list.len()
        } else {
            ctx.cfg.candidate_riders
        };
        list.truncate(k);
        out[p] = list.into_iter().map(|(_, r)| r).collect();
    }
    out
}

/// Insert every parcel of `pending` by regret-2: the parcel that would lose most by not
/// getting its best rider goes first. Returns the parcels no rider could take.
pub(crate) fn regret_insert(
    ctx: &Ctx,
    sol: &mut Solution,
    pending: &[usize],
    cands: &[Vec<u32>],
) -> Vec<usize> {
    let mut pending: Vec<usize> = pending.to_vec();
    let mut table: Vec<Vec<Option<Insertion>>> = pending
        .iter()
        .map(|&p| {
            cands[p]
                .iter()
                .map(|&r| {
                    let r = r as usize;
                    best_insertion(ctx, r, &sol.routes[r], sol.cost[r], p).ok()
                })
                .collect()
        })
        .collect();
    loop {
        let mut pick: Option<(f64, usize, usize)> = None; // (regret, slot in pending, cand k)
        for (slot, row) in table.iter().enumerate() {
            let (mut b1, mut b2, mut k1) = (f64::INFINITY, f64::INFINITY, usize::MAX);
            for (k, ins) in row.iter().enumerate() {
                if let Some(ins) = ins {
                    if ins.delta < b1 {
                        b2 = b1;
                        b1 = ins.delta;
                        k1 = k;
                    } else if ins.delta < b2 {
                        b2 = ins.delta;
                    }
                }
            }
            if k1 == usize::MAX {
                continue;
            }
            let regret = if b2.is_finite() {
                b2 - b1
            } else {
                UNASSIGNED_PENALTY
            };
            if pick.is_none_or(|(g, _, _)| regret > g) {
                pick = Some((regret, slot, k1));
            }
        }
        let Some((_, slot, k)) = pick else { break };
        let p = pending.swap_remove(slot);
        let row = table.swap_remove(slot);
        let r = cands[p][k] as usize;
        let Some(ins) = row[k] else { break };
        ins.apply(&mut sol.routes[r], p);
        sol.cost[r] += ins.delta;
        sol.rider_of[p] = Some(r as u32);
        for (q, row) in pending.iter().zip(table.iter_mut()) {
            if let Some(k) = cands[*q].iter().position(|&c| c as usize == r) {
                row[k] = best_insertion(ctx, r, &sol.routes[r], sol.cost[r], *q).ok();
            }
        }
    }
    pending
}
