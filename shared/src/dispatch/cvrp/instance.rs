//! VRPLIB instances (EUC_2D, distances rounded to the nearest integer).

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CvrpError {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("bad number `{0}`")]
    BadNumber(String),
    #[error("demand {demand} of customer {customer} exceeds the capacity {capacity}")]
    DemandOverCapacity {
        customer: usize,
        demand: i64,
        capacity: i64,
    },
    #[error("{0} must be an integer in 0..={MAX_QUANTITY} (capacity at least 1)")]
    QuantityOutOfRange(&'static str),
    #[error("coordinate of node {0} is not a finite number within ±{MAX_COORD}")]
    CoordinateOutOfRange(usize),
    #[error("more than {max} nodes")]
    TooLarge { max: usize },
    #[error("no customer besides the depot")]
    NoCustomers,
}

/// Bounds that keep every load and route cost sum far inside `i64`: the solver adds
/// demands and rounded distances without overflow checks.
pub const MAX_QUANTITY: i64 = 1_000_000_000;
pub const MAX_COORD: f64 = 1e7;

/// Node 0 is the depot; 1..n are customers.
#[derive(Debug, Clone)]
pub struct CvrpInstance {
    pub name: String,
    pub capacity: i64,
    pub demand: Vec<i64>,
    pub coords: Vec<(f64, f64)>,
    dist: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvrpSolution {
    /// Customers of each route, depot left implicit at both ends.
    pub routes: Vec<Vec<usize>>,
    pub cost: i64,
}

impl CvrpInstance {
    pub fn new(
        name: String,
        capacity: i64,
        coords: Vec<(f64, f64)>,
        demand: Vec<i64>,
    ) -> Result<Self, CvrpError> {
        if coords.is_empty() || coords.len() != demand.len() {
            return Err(CvrpError::Missing("matching coordinates and demands"));
        }
        if coords.len() < 2 {
            return Err(CvrpError::NoCustomers);
        }
        if !(1..=MAX_QUANTITY).contains(&capacity) {
            return Err(CvrpError::QuantityOutOfRange("CAPACITY"));
        }
        if demand.iter().any(|d| !(0..=MAX_QUANTITY).contains(d)) {
            return Err(CvrpError::QuantityOutOfRange("demand"));
        }
        let in_range = |v: f64| v.is_finite() && v.abs() <= MAX_COORD;
        if let Some(node) = coords
            .iter()
            .position(|&(x, y)| !in_range(x) || !in_range(y))
        {
            return Err(CvrpError::CoordinateOutOfRange(node));
        }
        for (customer, &d) in demand.iter().enumerate() {
            if d > capacity {
                return Err(CvrpError::DemandOverCapacity {
                    customer,
                    demand: d,
                    capacity,
                });
            }
        }
        let n = coords.len();
        let mut dist = vec![0; n * n];
        for i in 0..n {
            for j in 0..n {
                let (a, b) = (coords[i], coords[j]);
                dist[i * n + j] = ((a.0 - b.0).hypot(a.1 - b.1)).round() as i64;
            }
        }
        Ok(Self {
            name,
            capacity,
            demand,
            coords,
            dist,
        })
    }

    /// Nodes including the depot.
    pub fn len(&self) -> usize {
        self.demand.len()
    }

    pub fn is_empty(&self) -> bool {
        self.demand.len() <= 1
    }

    #[inline]
    pub fn d(&self, a: usize, b: usize) -> i64 {
        self.dist[a * self.demand.len() + b]
    }

    pub fn route_cost(&self, route: &[usize]) -> i64 {
        let mut prev = 0;
        let mut c = 0;
        for &x in route {
            c += self.d(prev, x);
            prev = x;
        }
        c + self.d(prev, 0)
    }

    /// Parse the VRPLIB text of an instance (depot listed first, as in the X set).
    pub fn from_vrplib(text: &str) -> Result<Self, CvrpError> {
        Self::from_vrplib_at_most(text, usize::MAX)
    }

    /// [`from_vrplib`](Self::from_vrplib) refusing more than `max_nodes` nodes before the
    /// distance matrix (n² entries) is built: what a request-sized memory can afford.
    pub fn from_vrplib_at_most(text: &str, max_nodes: usize) -> Result<Self, CvrpError> {
        let mut name = String::new();
        let mut capacity = None;
        let mut dimension = None;
        let mut coords = Vec::new();
        let mut demand = Vec::new();
        let mut section = "";
        let num = |s: &str| {
            s.parse::<f64>()
                .map_err(|_| CvrpError::BadNumber(s.to_string()))
        };
        // Quantities are integers; `as i64` would silently truncate `2.5` or saturate `1e30`.
        let whole = |s: &str, what: &'static str| {
            let v = num(s)?;
            if v.fract() != 0.0 || !(-1e15..=1e15).contains(&v) {
                return Err(CvrpError::QuantityOutOfRange(what));
            }
            Ok(v as i64)
        };
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line == "EOF" {
                continue;
            }
            if let Some((key, value)) = line.split_once(':') {
                let (key, value) = (key.trim(), value.trim());
                match key {
                    "NAME" => name = value.to_string(),
                    "CAPACITY" => capacity = Some(whole(value, "CAPACITY")?),
                    "DIMENSION" => dimension = Some(whole(value, "DIMENSION")?),
                    _ => {}
                }
                continue;
            }
            if line.ends_with("SECTION") {
                section = if line.starts_with("NODE_COORD") {
                    "coord"
                } else if line.starts_with("DEMAND") {
                    "demand"
                } else {
                    "other"
                };
                continue;
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            match (section, f.as_slice()) {
                ("coord", [_, x, y]) => coords.push((num(x)?, num(y)?)),
                ("demand", [_, d]) => demand.push(whole(d, "demand")?),
                _ => {}
            }
            if coords.len().max(demand.len()) > max_nodes {
                return Err(CvrpError::TooLarge { max: max_nodes });
            }
        }
        let capacity = capacity.ok_or(CvrpError::Missing("CAPACITY"))?;
        if dimension.is_some_and(|n| usize::try_from(n) != Ok(coords.len())) {
            return Err(CvrpError::Missing("all NODE_COORD_SECTION rows"));
        }
        Self::new(name, capacity, coords, demand)
    }
}

/// The `Cost` line of a VRPLIB `.sol` file.
pub fn parse_solution_cost(text: &str) -> Option<i64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Cost"))
        .and_then(|c| c.trim().parse::<f64>().ok())
        .map(|c| c.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TINY: &str = "NAME : tiny\nTYPE : CVRP\nDIMENSION : 4\nEDGE_WEIGHT_TYPE : EUC_2D\n\
        CAPACITY : 10\nNODE_COORD_SECTION\n1 0 0\n2 3 4\n3 -3 4\n4 0 -5\n\
        DEMAND_SECTION\n1 0\n2 4\n3 5\n4 6\nDEPOT_SECTION\n1\n-1\nEOF\n";

    #[test]
    fn parses_a_vrplib_instance_with_rounded_distances() {
        let inst = CvrpInstance::from_vrplib(TINY).unwrap();
        assert_eq!(inst.name, "tiny");
        assert_eq!((inst.len(), inst.capacity), (4, 10));
        assert_eq!(inst.demand, vec![0, 4, 5, 6]);
        assert_eq!((inst.d(0, 1), inst.d(1, 2), inst.d(3, 0)), (5, 6, 5));
        assert_eq!(inst.route_cost(&[1, 2]), 5 + 6 + 5);
    }

    #[test]
    fn refuses_bad_input_with_a_typed_error() {
        let swap = |from: &str, to: &str| TINY.replacen(from, to, 1);
        let cases = [
            (swap("CAPACITY : 10", ""), CvrpError::Missing("CAPACITY")),
            (
                swap("CAPACITY : 10", "CAPACITY : ten"),
                CvrpError::BadNumber("ten".into()),
            ),
            (
                swap("CAPACITY : 10", "CAPACITY : 2.5"),
                CvrpError::QuantityOutOfRange("CAPACITY"),
            ),
            (
                swap("CAPACITY : 10", "CAPACITY : 0"),
                CvrpError::QuantityOutOfRange("CAPACITY"),
            ),
            (
                swap("CAPACITY : 10", "CAPACITY : 1e30"),
                CvrpError::QuantityOutOfRange("CAPACITY"),
            ),
            (
                swap("3 5\n", "3 -5\n"),
                CvrpError::QuantityOutOfRange("demand"),
            ),
            (
                swap("3 5\n", "3 50\n"),
                CvrpError::DemandOverCapacity {
                    customer: 2,
                    demand: 50,
                    capacity: 10,
                },
            ),
            (swap("2 3 4", "2 inf 4"), CvrpError::CoordinateOutOfRange(1)),
            (swap("2 3 4", "2 NaN 4"), CvrpError::CoordinateOutOfRange(1)),
            (
                swap("2 3 4", "2 3e300 4"),
                CvrpError::CoordinateOutOfRange(1),
            ),
            (
                swap("DIMENSION : 4", "DIMENSION : 5"),
                CvrpError::Missing("all NODE_COORD_SECTION rows"),
            ),
            (
                swap("4 6\n", ""),
                CvrpError::Missing("matching coordinates and demands"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                CvrpInstance::from_vrplib(&text).unwrap_err(),
                want,
                "{text}"
            );
        }
        let one = "CAPACITY : 5\nNODE_COORD_SECTION\n1 0 0\n2 1 1\nDEMAND_SECTION\n1 0\n2 5\n";
        let inst = CvrpInstance::from_vrplib(one).unwrap();
        let sol = super::super::solve(
            &inst,
            &Default::default(),
            &mut crate::dispatch::Iterations::new(5),
        );
        assert_eq!(sol.routes, vec![vec![1]]);
        let depot_only = "CAPACITY : 5\nNODE_COORD_SECTION\n1 0 0\nDEMAND_SECTION\n1 0\n";
        assert_eq!(
            CvrpInstance::from_vrplib(depot_only).unwrap_err(),
            CvrpError::NoCustomers
        );
        assert_eq!(
            CvrpInstance::from_vrplib("").unwrap_err(),
            CvrpError::Missing("CAPACITY")
        );
    }

    #[test]
    fn stops_reading_past_the_node_limit() {
        assert!(CvrpInstance::from_vrplib_at_most(TINY, 4).is_ok());
        assert_eq!(
            CvrpInstance::from_vrplib_at_most(TINY, 3).unwrap_err(),
            CvrpError::TooLarge { max: 3 }
        );
    }

    proptest! {
        /// Whatever the text, parsing answers (an instance or an error) and never panics.
        #[test]
        fn any_text_parses_or_errs(lines in proptest::collection::vec(
            prop_oneof![
                Just("CAPACITY : 7".to_string()),
                Just("NODE_COORD_SECTION".to_string()),
                Just("DEMAND_SECTION".to_string()),
                "[0-9]{1,2} -?[0-9]{1,4}(\\.[0-9])? -?[0-9]{1,4}",
                "[0-9]{1,2} -?[0-9e.]{1,3}",
                "[ -~]{0,12}",
            ],
            0..30,
        )) {
            // Whatever parses, the solver can solve (down to a single customer).
            if let Ok(inst) = CvrpInstance::from_vrplib_at_most(&lines.join("\n"), 50) {
                let params = super::super::HgsParams::default();
                let sol = super::super::solve(&inst, &params, &mut crate::dispatch::Iterations::new(3));
                prop_assert!(super::super::check_solution(&inst, &sol).is_empty());
            }
        }
    }
}
