//! Granular local search over routes: each customer tries moves only with its nearest
//! neighbours (the "granular" neighbourhood of HGS), first improvement, until no move
//! improves. Capacity excess is allowed at a price so the search can cross infeasible
//! ground.

use super::instance::CvrpInstance;
use crate::dispatch::rng::SplitMix64;

pub(crate) struct LocalSearch<'a> {
    inst: &'a CvrpInstance,
    neighbours: Vec<Vec<usize>>,
    /// Price of one unit of load over capacity.
    pub penalty: f64,
    routes: Vec<Vec<usize>>,
    route_of: Vec<usize>,
    pos_of: Vec<usize>,
    load: Vec<i64>,
    /// Load up to and including each position.
    prefix: Vec<Vec<i64>>,
    /// Move counter when each route last changed, and when each customer was last
    /// tried: pairs of routes unchanged since are skipped (HGS's "when last modified").
    changed: Vec<u64>,
    tried: Vec<u64>,
    clock: u64,
}

const EPS: f64 = 1e-6;

impl<'a> LocalSearch<'a> {
    pub fn new(inst: &'a CvrpInstance, granularity: usize) -> Self {
        let n = inst.len();
        let neighbours = (0..n)
            .map(|u| {
                if u == 0 {
                    return Vec::new();
                }
                let mut v: Vec<usize> = (1..n).filter(|&v| v != u).collect();
                v.sort_by_key(|&v| (inst.d(u, v), v));
                v.truncate(granularity);
                v
            })
            .collect();
        Self {
            inst,
            neighbours,
            penalty: 1.0,
            routes: Vec::new(),
            route_of: vec![0; n],
            pos_of: vec![0; n],
            load: Vec::new(),
            prefix: Vec::new(),
            changed: Vec::new(),
            tried: vec![0; n],
            clock: 0,
        }
    }

    fn pen(&self, load: i64) -> f64 {
        (load - self.inst.capacity).max(0) as f64 * self.penalty
    }

    fn refresh(&mut self, r: usize) {
        self.clock += 1;
        self.changed[r] = self.clock;
        let mut acc = 0;
        let route = &self.routes[r];
        let prefix = &mut self.prefix[r];
        prefix.clear();
        for (i, &c) in route.iter().enumerate() {
            acc += self.inst.demand[c];
            prefix.push(acc);
            self.route_of[c] = r;
            self.pos_of[c] = i;
        }
        self.load[r] = acc;
    }

    fn pred(&self, c: usize) -> usize {
        let p = self.pos_of[c];
        if p == 0 {
            0
        } else {
            self.routes[self.route_of[c]][p - 1]
        }
    }

    fn succ(&self, c: usize) -> usize {
        let r = &self.routes[self.route_of[c]];
        r.get(self.pos_of[c] + 1).copied().unwrap_or(0)
    }

    /// Improve `routes` in place; returns them with empty routes dropped.
    pub fn run(&mut self, routes: Vec<Vec<usize>>, rng: &mut SplitMix64) -> Vec<Vec<usize>> {
        self.routes = routes;
        self.routes.push(Vec::new()); // always somewhere to open a new route
        self.load = vec![0; self.routes.len()];
        self.prefix = vec![Vec::new(); self.routes.len()];
        self.changed = vec![0; self.routes.len()];
        self.clock += 1;
        let started = self.clock;
        for r in 0..self.routes.len() {
            self.refresh(r);
        }
        let mut order: Vec<usize> = (1..self.inst.len()).collect();
        rng.shuffle(&mut order);
        for list in self.neighbours.iter_mut() {
            rng.shuffle(list);
        }
        let mut improved = true;
        let mut rounds = 0;
        while improved && rounds < 1_000 {
            improved = false;
            rounds += 1;
            for &u in &order {
                let last = self.tried[u].max(started);
                self.tried[u] = self.clock;
                for k in 0..self.neighbours[u].len() {
                    let v = self.neighbours[u][k];
                    let (ru, rv) = (self.route_of[u], self.route_of[v]);
                    if rounds > 1 && self.changed[ru].max(self.changed[rv]) <= last {
                        continue;
                    }
                    if self.relocate(u, v, true)
                        || self.relocate(u, v, false)
                        || self.swap(u, v)
                        || self.two_opt(u, v)
                    {
                        improved = true;
                    }
                }
                if self.open_route_for(u) {
                    improved = true;
                }
            }
        }
        std::mem::take(&mut self.routes)
            .into_iter()
            .filter(|r| !r.is_empty())
            .collect()
    }

    /// Move `u` right after (`after`) or right before `v`.
    fn relocate(&mut self, u: usize, v: usize, after: bool) -> bool {
        let d = |a, b| self.inst.d(a, b);
        let (ru, rv) = (self.route_of[u], self.route_of[v]);
        let (pu, su) = (self.pred(u), self.succ(u));
        let (a, b) = if after {
            (v, self.succ(v))
        } else {
            (self.pred(v), v)
        };
        if a == u || b == u {
            return false;
        }
        let removed = d(pu, u) + d(u, su) - d(pu, su);
        let added = d(a, u) + d(u, b) - d(a, b);
        let mut delta = (added - removed) as f64;
        if ru != rv {
            let q = self.inst.demand[u];
            delta += self.pen(self.load[ru] - q) - self.pen(self.load[ru])
                + self.pen(self.load[rv] + q)
                - self.pen(self.load[rv]);
        }
        if delta > -EPS {
            return false;
        }
        self.routes[ru].remove(self.pos_of[u]);
        if ru == rv {
            self.refresh(ru);
        }
        let at = if after {
            self.pos_of[v] + 1
        } else {
            self.pos_of[v]
        };
        self.routes[rv].insert(at, u);
        self.refresh(ru);
        self.refresh(rv);
        true
    }

    fn swap(&mut self, u: usize, v: usize) -> bool {
        let d = |a, b| self.inst.d(a, b);
        let (ru, rv) = (self.route_of[u], self.route_of[v]);
        let (pu, su, pv, sv) = (self.pred(u), self.succ(u), self.pred(v), self.succ(v));
        if su == v || sv == u {
            return false;
        }
        let mut delta =
            (d(pu, v) + d(v, su) + d(pv, u) + d(u, sv) - d(pu, u) - d(u, su) - d(pv, v) - d(v, sv))
                as f64;
        if ru != rv {
            let (qu, qv) = (self.inst.demand[u], self.inst.demand[v]);
            delta += self.pen(self.load[ru] - qu + qv) - self.pen(self.load[ru])
                + self.pen(self.load[rv] - qv + qu)
                - self.pen(self.load[rv]);
        }
        if delta > -EPS {
            return false;
        }
        let (iu, iv) = (self.pos_of[u], self.pos_of[v]);
        self.routes[ru][iu] = v;
        self.routes[rv][iv] = u;
        self.refresh(ru);
        self.refresh(rv);
        true
    }

    /// 2-opt inside a route, 2-opt* (both reconnections) between routes.
    fn two_opt(&mut self, u: usize, v: usize) -> bool {
        let d = |a, b| self.inst.d(a, b);
        let (ru, rv) = (self.route_of[u], self.route_of[v]);
        let (su, sv) = (self.succ(u), self.succ(v));
        if ru == rv {
            let (x, y) = if self.pos_of[u] < self.pos_of[v] {
                (u, v)
            } else {
                (v, u)
            };
            let (sx, sy) = (self.succ(x), self.succ(y));
            if sx == y {
                return false;
            }
            let delta = d(x, y) + d(sx, sy) - d(x, sx) - d(y, sy);
            if delta >= 0 {
                return false;
            }
            let (i, j) = (self.pos_of[x] + 1, self.pos_of[y]);
            self.routes[ru][i..=j].reverse();
            self.refresh(ru);
            return true;
        }
        let (iu, iv) = (self.pos_of[u], self.pos_of[v]);
        let (lu, lv) = (self.prefix[ru][iu], self.prefix[rv][iv]);
        let (tu, tv) = (self.load[ru] - lu, self.load[rv] - lv);
        let before = self.pen(self.load[ru]) + self.pen(self.load[rv]);
        // Tails exchanged: u → sv, v → su.
        let tails = (d(u, sv) + d(v, su) - d(u, su) - d(v, sv)) as f64
            + self.pen(lu + tv)
            + self.pen(lv + tu)
            - before;
        // Heads joined: u → v (v's head reversed), su → sv.
        let heads = (d(u, v) + d(su, sv) - d(u, su) - d(v, sv)) as f64
            + self.pen(lu + lv)
            + self.pen(tu + tv)
            - before;
        if tails < -EPS && tails <= heads {
            let tail_u: Vec<usize> = self.routes[ru].split_off(iu + 1);
            let tail_v: Vec<usize> = self.routes[rv].split_off(iv + 1);
            self.routes[ru].extend(tail_v);
            self.routes[rv].extend(tail_u);
        } else if heads < -EPS {
            let tail_u: Vec<usize> = self.routes[ru].split_off(iu + 1);
            let tail_v: Vec<usize> = self.routes[rv].split_off(iv + 1);
            let mut head_v = std::mem::take(&mut self.routes[rv]);
            head_v.reverse();
            self.routes[ru].extend(head_v);
            let mut rest = tail_u;
            rest.reverse();
            rest.extend(tail_v);
            self.routes[rv] = rest;
        } else {
            return false;
        }
        self.refresh(ru);
        self.refresh(rv);
        true
    }

    fn open_route_for(&mut self, u: usize) -> bool {
        let ru = self.route_of[u];
        if self.routes[ru].len() == 1 {
            return false;
        }
        // The last route is kept empty: `run` starts with one and each use adds another.
        let re = self.routes.len() - 1;
        if !self.routes[re].is_empty() {
            return false;
        }
        let d = |a, b| self.inst.d(a, b);
        let (pu, su) = (self.pred(u), self.succ(u));
        let q = self.inst.demand[u];
        let delta = (2 * d(0, u) - (d(pu, u) + d(u, su) - d(pu, su))) as f64
            + self.pen(self.load[ru] - q)
            - self.pen(self.load[ru])
            + self.pen(q);
        if delta > -EPS {
            return false;
        }
        self.routes[ru].remove(self.pos_of[u]);
        self.routes[re].push(u);
        self.refresh(ru);
        self.refresh(re);
        self.routes.push(Vec::new());
        self.load.push(0);
        self.prefix.push(Vec::new());
        self.changed.push(self.clock);
        true
    }
}
