//! The genetic half of HGS: giant tours, split, order crossover, and a population that
//! keeps both good and different solutions.

use super::instance::{CvrpInstance, CvrpSolution};
use super::local_search::LocalSearch;
use crate::dispatch::budget::Budget;
use crate::dispatch::rng::SplitMix64;

#[derive(Debug, Clone, Copy)]
pub struct HgsParams {
    pub seed: u64,
    /// Neighbours per customer in the local search.
    pub granularity: usize,
    /// Population kept after survivor selection, and offspring before it.
    pub min_population: usize,
    pub generation: usize,
    /// Closest individuals averaged for the diversity measure.
    pub close: usize,
    pub elite: usize,
    /// Share of feasible offspring the penalty aims for.
    pub target_feasible: f64,
}

impl Default for HgsParams {
    /// HGS-CVRP's published defaults.
    fn default() -> Self {
        Self {
            seed: 1,
            granularity: 20,
            min_population: 25,
            generation: 40,
            close: 5,
            elite: 4,
            target_feasible: 0.2,
        }
    }
}

#[derive(Clone)]
struct Individual {
    routes: Vec<Vec<usize>>,
    cost: i64,
    succ: Vec<usize>,
    pred: Vec<usize>,
}

impl Individual {
    fn new(inst: &CvrpInstance, routes: Vec<Vec<usize>>) -> Self {
        let n = inst.len();
        let (mut succ, mut pred) = (vec![0; n], vec![0; n]);
        for r in &routes {
            for (i, &c) in r.iter().enumerate() {
                pred[c] = if i == 0 { 0 } else { r[i - 1] };
                succ[c] = r.get(i + 1).copied().unwrap_or(0);
            }
        }
        let cost = routes.iter().map(|r| inst.route_cost(r)).sum();
        Self {
            routes,
            cost,
            succ,
            pred,
        }
    }

    fn feasible(&self, inst: &CvrpInstance) -> bool {
        self.routes
            .iter()
            .all(|r| r.iter().map(|&c| inst.demand[c]).sum::<i64>() <= inst.capacity)
    }

    fn giant_tour(&self) -> Vec<usize> {
        self.routes.concat()
    }

    /// Broken-pairs distance: share of customers whose neighbours differ.
    fn distance(&self, other: &Individual) -> f64 {
        let n = self.succ.len();
        let broken = (1..n)
            .filter(|&c| {
                let (s, p) = (self.succ[c], self.pred[c]);
                !((s == other.succ[c] || s == other.pred[c])
                    && (p == other.pred[c] || p == other.succ[c]))
            })
            .count();
        broken as f64 / (n - 1).max(1) as f64
    }
}

/// Cut a giant tour into routes optimally (Bellman on the tour order), loads up to
/// 1.5× capacity allowed at the current penalty.
fn split(inst: &CvrpInstance, tour: &[usize], penalty: f64) -> Vec<Vec<usize>> {
    let n = tour.len();
    let q = inst.capacity;
    let mut best = vec![f64::INFINITY; n + 1];
    let mut from = vec![0usize; n + 1];
    best[0] = 0.0;
    for i in 0..n {
        if !best[i].is_finite() {
            continue;
        }
        let mut load = 0;
        let mut dist = 0;
        for j in i..n {
            load += inst.demand[tour[j]];
            if j > i && load > q + q / 2 {
                break;
            }
            dist += if j == i {
                inst.d(0, tour[j])
            } else {
                inst.d(tour[j - 1], tour[j])
            };
            let cost =
                best[i] + (dist + inst.d(tour[j], 0)) as f64 + (load - q).max(0) as f64 * penalty;
            if cost < best[j + 1] {
                best[j + 1] = cost;
                from[j + 1] = i;
            }
        }
    }
    let mut routes = Vec::new();
    let mut j = n;
    while j > 0 {
        let i = from[j];
        routes.push(tour[i..j].to_vec());
        j = i;
    }
    routes.reverse();
    routes
}

/// Order crossover: a slice of one parent, the rest in the other parent's order.
fn crossover(a: &[usize], b: &[usize], rng: &mut SplitMix64) -> Vec<usize> {
    let n = a.len();
    if n < 2 {
        return a.to_vec();
    }
    let (mut i, mut j) = (rng.below(n), rng.below(n));
    if i > j {
        std::mem::swap(&mut i, &mut j);
    }
    let mut taken = vec![false; n + 1];
    let mut child = vec![usize::MAX; n];
    for k in i..=j {
        child[k] = a[k];
        if let Some(t) = taken.get_mut(a[k]) {
            *t = true;
        }
    }
    let mut pos = (j + 1) % n;
    for k in 0..n {
        let c = b[(j + 1 + k) % n];
        if taken.get(c).copied().unwrap_or(true) {
            continue;
        }
        child[pos] = c;
        pos = (pos + 1) % n;
    }
    child
}

/// Individuals of one kind (feasible or not) with their pairwise distances cached:
/// ranking by diversity is asked for at every parent selection.
#[derive(Default)]
struct SubPopulation {
    members: Vec<Individual>,
    dist: Vec<Vec<f64>>,
}

impl SubPopulation {
    fn add(&mut self, ind: Individual, p: &HgsParams) {
        let row: Vec<f64> = self.members.iter().map(|m| ind.distance(m)).collect();
        for (r, &d) in self.dist.iter_mut().zip(&row) {
            r.push(d);
        }
        let mut row = row;
        row.push(0.0);
        self.dist.push(row);
        self.members.push(ind);
        if self.members.len() >= p.min_population + p.generation {
            self.select_survivors(p);
        }
    }

    fn remove(&mut self, i: usize) {
        self.members.swap_remove(i);
        self.dist.swap_remove(i);
        for r in &mut self.dist {
            r.swap_remove(i);
        }
    }

    /// HGS's biased fitness: rank by cost plus rank by distance to the closest others
    /// (lower is better).
    fn fitness(&self, p: &HgsParams) -> Vec<f64> {
        let m = self.members.len();
        if m <= 1 {
            return vec![0.0; m];
        }
        let diversity: Vec<f64> = (0..m)
            .map(|i| {
                let mut d: Vec<f64> = (0..m)
                    .filter(|&j| j != i)
                    .map(|j| self.dist[i][j])
                    .collect();
                d.sort_by(f64::total_cmp);
                let k = p.close.min(d.len()).max(1);
                d[..k].iter().sum::<f64>() / k as f64
            })
            .collect();
        let mut by_cost: Vec<usize> = (0..m).collect();
        by_cost.sort_by_key(|&i| (self.members[i].cost, i));
        let mut by_div: Vec<usize> = (0..m).collect();
        by_div.sort_by(|&x, &y| diversity[y].total_cmp(&diversity[x]).then(x.cmp(&y)));
        let mut fit = vec![0.0; m];
        let elite_weight = 1.0 - p.elite as f64 / m as f64;
        for (rank, &i) in by_cost.iter().enumerate() {
            fit[i] += rank as f64 / (m - 1) as f64;
        }
        for (rank, &i) in by_div.iter().enumerate() {
            fit[i] += elite_weight * rank as f64 / (m - 1) as f64;
        }
        fit
    }

    fn select_survivors(&mut self, p: &HgsParams) {
        while self.members.len() > p.min_population {
            // Clones go first, then the worst biased fitness.
            let m = self.members.len();
            let clone = (1..m).find(|&i| (0..i).any(|j| self.dist[i][j] == 0.0));
            let worst = clone.unwrap_or_else(|| {
                let fit = self.fitness(p);
                (0..m)
                    .max_by(|&x, &y| fit[x].total_cmp(&fit[y]).then(x.cmp(&y)))
                    .unwrap_or(0)
            });
            self.remove(worst);
        }
    }
}

struct Population {
    feasible: SubPopulation,
    infeasible: SubPopulation,
}

impl Population {
    /// Two parents by binary tournaments on biased fitness.
    fn parents(&self, p: &HgsParams, rng: &mut SplitMix64) -> Option<(&Individual, &Individual)> {
        let all: Vec<&Individual> = self
            .feasible
            .members
            .iter()
            .chain(self.infeasible.members.iter())
            .collect();
        if all.len() < 2 {
            return None;
        }
        let fit: Vec<f64> = self
            .feasible
            .fitness(p)
            .into_iter()
            .chain(self.infeasible.fitness(p))
            .collect();
        let pick = |rng: &mut SplitMix64| {
            let (a, b) = (rng.below(all.len()), rng.below(all.len()));
            if fit[a] <= fit[b] {
                a
            } else {
                b
            }
        };
        let a = pick(rng);
        let b = pick(rng);
        Some((all[a], all[b]))
    }
}

/// Hybrid genetic search until `budget` is exhausted; always returns a feasible solution.
pub fn solve(inst: &CvrpInstance, params: &HgsParams, budget: &mut dyn Budget) -> CvrpSolution {
    let mut rng = SplitMix64::new(params.seed);
    let mut ls = LocalSearch::new(inst, params.granularity);
    let max_dist = (0..inst.len())
        .flat_map(|i| (0..inst.len()).map(move |j| (i, j)))
        .map(|(i, j)| inst.d(i, j))
        .max()
        .unwrap_or(1);
    let max_demand = inst.demand.iter().copied().max().unwrap_or(1).max(1);
    ls.penalty = (max_dist as f64 / max_demand as f64).clamp(0.1, 1000.0);
    let customers: Vec<usize> = (1..inst.len()).collect();

    // A safe answer before any search: one route per customer.
    let mut best = Individual::new(inst, customers.iter().map(|&c| vec![c]).collect());
    let mut pop = Population {
        feasible: SubPopulation::default(),
        infeasible: SubPopulation::default(),
    };
    let mut recent_feasible: Vec<bool> = Vec::new();
    let mut made = 0usize;
    let initial = 4 * params.min_population;

    loop {
        if budget.exhausted() {
            break;
        }
        let tour = match pop.parents(params, &mut rng) {
            Some((a, b)) if made >= initial => {
                crossover(&a.giant_tour(), &b.giant_tour(), &mut rng)
            }
            _ => {
                let mut t = customers.clone();
                rng.shuffle(&mut t);
                t
            }
        };
        made += 1;
        let routes = ls.run(split(inst, &tour, ls.penalty), &mut rng);
        let mut child = Individual::new(inst, routes);
        let feasible = child.feasible(inst);
        recent_feasible.push(feasible);
        if !feasible {
            pop.infeasible.add(child.clone(), params);
            // Repair half of the infeasible offspring with a stiffer penalty, as HGS does
            // (all of them while nothing feasible is known).
            if rng.below(2) == 0 || pop.feasible.members.is_empty() {
                let saved = ls.penalty;
                for stiffer in [10.0, 100.0] {
                    ls.penalty = saved * stiffer;
                    let repaired = ls.run(child.routes.clone(), &mut rng);
                    child = Individual::new(inst, repaired);
                    if child.feasible(inst) {
                        break;
                    }
                }
                ls.penalty = saved;
            }
        }
        if child.feasible(inst) {
            if child.cost < best.cost {
                best = child.clone();
            }
            pop.feasible.add(child, params);
        }
        if recent_feasible.len() >= 20 {
            let share = recent_feasible.iter().filter(|&&f| f).count() as f64
                / recent_feasible.len() as f64;
            if share < params.target_feasible - 0.05 {
                ls.penalty = (ls.penalty * 1.2).min(100_000.0);
            } else if share > params.target_feasible + 0.05 {
                ls.penalty = (ls.penalty * 0.85).max(0.1);
            }
            recent_feasible.clear();
        }
    }
    CvrpSolution {
        cost: best.cost,
        routes: best.routes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::budget::Iterations;
    use crate::dispatch::cvrp::check_solution;

    fn ring(n: usize) -> CvrpInstance {
        let coords = (0..n)
            .map(|i| {
                let a = i as f64 / n as f64 * std::f64::consts::TAU;
                if i == 0 {
                    (0.0, 0.0)
                } else {
                    (1000.0 * a.cos(), 1000.0 * a.sin())
                }
            })
            .collect();
        let demand = (0..n)
            .map(|i| if i == 0 { 0 } else { 1 + (i % 7) as i64 })
            .collect();
        CvrpInstance::new("ring".into(), 20, coords, demand).unwrap()
    }

    #[test]
    fn split_respects_order_and_covers_every_customer() {
        let inst = ring(30);
        let tour: Vec<usize> = (1..30).collect();
        let routes = split(&inst, &tour, 1e6);
        assert_eq!(routes.concat(), tour);
        assert!(routes
            .iter()
            .all(|r| r.iter().map(|&c| inst.demand[c]).sum::<i64>() <= 20));
    }

    #[test]
    fn crossover_is_a_permutation() {
        let mut rng = SplitMix64::new(3);
        let a: Vec<usize> = (1..40).collect();
        let mut b = a.clone();
        rng.shuffle(&mut b);
        let mut c = crossover(&a, &b, &mut rng);
        c.sort_unstable();
        assert_eq!(c, a);
    }

    #[test]
    fn solve_returns_a_checked_feasible_solution_and_search_helps() {
        let inst = ring(60);
        let quick = solve(&inst, &HgsParams::default(), &mut Iterations::new(1));
        let longer = solve(&inst, &HgsParams::default(), &mut Iterations::new(150));
        assert!(check_solution(&inst, &quick).is_empty());
        assert!(
            check_solution(&inst, &longer).is_empty(),
            "{:?}",
            check_solution(&inst, &longer)
        );
        assert!(longer.cost <= quick.cost);
    }
}
