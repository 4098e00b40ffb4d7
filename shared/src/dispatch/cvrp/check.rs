//! Independent check of a CVRP solution: every customer exactly once, capacity, cost.

use super::instance::{CvrpInstance, CvrpSolution};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CvrpViolation {
    UnknownNode(usize),
    Missing(usize),
    Repeated(usize),
    OverCapacity { route: usize, load: i64 },
    WrongCost { claimed: i64, actual: i64 },
}

pub fn check_solution(inst: &CvrpInstance, sol: &CvrpSolution) -> Vec<CvrpViolation> {
    let mut out = Vec::new();
    let n = inst.demand.len();
    let mut seen = vec![0u32; n];
    let mut total = 0i64;
    for (k, route) in sol.routes.iter().enumerate() {
        let mut load = 0;
        let mut prev = 0usize;
        for &c in route {
            if c == 0 || c >= n {
                out.push(CvrpViolation::UnknownNode(c));
                continue;
            }
            seen[c] += 1;
            load += inst.demand[c];
            let (a, b) = (inst.coords[prev], inst.coords[c]);
            total += (a.0 - b.0).hypot(a.1 - b.1).round() as i64;
            prev = c;
        }
        if !route.is_empty() {
            let (a, b) = (inst.coords[prev], inst.coords[0]);
            total += (a.0 - b.0).hypot(a.1 - b.1).round() as i64;
        }
        if load > inst.capacity {
            out.push(CvrpViolation::OverCapacity { route: k, load });
        }
    }
    for (c, &count) in seen.iter().enumerate().skip(1) {
        match count {
            0 => out.push(CvrpViolation::Missing(c)),
            1 => {}
            _ => out.push(CvrpViolation::Repeated(c)),
        }
    }
    if total != sol.cost {
        out.push(CvrpViolation::WrongCost {
            claimed: sol.cost,
            actual: total,
        });
    }
    out
}
