//! Cheapest insertion of a parcel's pickup and drop-off into a route, and regret
//! construction over many parcels.

use super::context::{Ctx, Cursor, Infeasible, Node};
use super::model::Time;

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
    let n = nodes.len();
    let pick = Node::pickup(p);
    let drop = Node::dropoff(p);
    let (at_pick, at_drop) = (ctx.location(pick), ctx.location(drop));
    let tt = |a, b| ctx.travel.travel(a, b);
    // Every leg a candidate sequence can use, computed once: O(n) travel calls instead
    // of O(n^3).
    let locs: Vec<_> = nodes.iter().map(|&m| ctx.location(m)).collect();
    let before = |k: usize| if k == 0 { start.pos } else { locs[k - 1] };
    let next: Vec<Time> = (0..n).map(|k| tt(before(k), locs[k])).collect();
    let to_pick: Vec<Time> = (0..=n).map(|k| tt(before(k), at_pick)).collect();
    let from_pick: Vec<Time> = locs.iter().map(|&l| tt(at_pick, l)).collect();
    let to_drop: Vec<Time> = locs.iter().map(|&l| tt(l, at_drop)).collect();
    let from_drop: Vec<Time> = locs.iter().map(|&l| tt(at_drop, l)).collect();
    let pick_to_drop = tt(at_pick, at_drop);

    let mut prefix: Vec<Cursor> = Vec::with_capacity(n + 1);
    prefix.push(start);
    for (k, &m) in nodes.iter().enumerate() {
        let mut c = prefix[k];
        if ctx.step_tt(rider, &mut c, m, next[k]).is_err() {
            break;
        }
        prefix.push(c);
    }
    let mut best: Option<Insertion> = None;
    let mut why = Infeasible::ShiftEnd;
    for (i, at) in prefix.iter().enumerate() {
        let mut mid = *at;
        if let Err(e) = ctx.step_tt(rider, &mut mid, pick, to_pick[i]) {
            why = e;
            continue;
        }
        // `mid` is after the pickup and nodes[i..j].
        for j in i..=n {
            let mut c = mid;
            let into_drop = if j == i { pick_to_drop } else { to_drop[j - 1] };
            let mut ok = ctx.step_tt(rider, &mut c, drop, into_drop);
            for k in j..n {
                if ok.is_err() {
                    break;
                }
                let leg = if k == j { from_drop[k] } else { next[k] };
                ok = ctx.step_tt(rider, &mut c, nodes[k], leg);
            }
            match ok {
                Ok(_) => {
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
            if j < n {
                let leg = if j == i { from_pick[j] } else { next[j] };
                if let Err(e) = ctx.step_tt(rider, &mut mid, nodes[j], leg) {
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
                Some((
                    s.t.saturating_add(ctx.travel.travel(s.pos, info.pickup)),
                    r as u32,
                ))
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

/// Best and second-best insertion cost of one parcel over its candidate riders.
#[derive(Debug, Clone, Copy)]
struct Summary {
    best: f64,
    second: f64,
    /// Index into the parcel's candidate list; `usize::MAX` when nothing fits.
    k: usize,
}

fn summarise(row: &[Option<Insertion>]) -> Summary {
    let mut s = Summary {
        best: f64::INFINITY,
        second: f64::INFINITY,
        k: usize::MAX,
    };
    for (k, ins) in row.iter().enumerate() {
        if let Some(ins) = ins {
            if ins.delta < s.best {
                s.second = s.best;
                s.best = ins.delta;
                s.k = k;
            } else if ins.delta < s.second {
                s.second = ins.delta;
            }
        }
    }
    s
}

/// Insert every parcel of `pending` by regret-2: the parcel that would lose most by not
/// getting its best rider goes first. Returns the parcels no rider could take.
pub(crate) fn regret_insert(
    ctx: &Ctx,
    sol: &mut Solution,
    pending: &[usize],
    cands: &[Vec<u32>],
) -> Vec<usize> {
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
    let mut summary: Vec<Summary> = table.iter().map(|row| summarise(row)).collect();
    let mut open = vec![true; pending.len()];
    // Which (slot, k) entries each rider appears in, so an insertion refreshes only those.
    let mut watchers: Vec<Vec<(u32, u32)>> = vec![Vec::new(); ctx.riders.len()];
    for (slot, &p) in pending.iter().enumerate() {
        for (k, &r) in cands[p].iter().enumerate() {
            watchers[r as usize].push((slot as u32, k as u32));
        }
    }
    loop {
        let mut pick: Option<(f64, usize)> = None;
        for (slot, s) in summary.iter().enumerate() {
            if !open[slot] || s.k == usize::MAX {
                continue;
            }
            let regret = if s.second.is_finite() {
                s.second - s.best
            } else {
                UNASSIGNED_PENALTY
            };
            if pick.is_none_or(|(g, _)| regret > g) {
                pick = Some((regret, slot));
            }
        }
        let Some((_, slot)) = pick else { break };
        open[slot] = false;
        let p = pending[slot];
        let k = summary[slot].k;
        let r = cands[p][k] as usize;
        let Some(ins) = table[slot][k] else { break };
        ins.apply(&mut sol.routes[r], p);
        sol.cost[r] += ins.delta;
        sol.rider_of[p] = Some(r as u32);
        for &(s, k) in &watchers[r] {
            let (s, k) = (s as usize, k as usize);
            if open[s] {
                table[s][k] = best_insertion(ctx, r, &sol.routes[r], sol.cost[r], pending[s]).ok();
                summary[s] = summarise(&table[s]);
            }
        }
    }
    pending
        .iter()
        .zip(&open)
        .filter(|(_, o)| **o)
        .map(|(p, _)| *p)
        .collect()
}
