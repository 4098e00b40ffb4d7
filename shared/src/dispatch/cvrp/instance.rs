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
}

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
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line == "EOF" {
                continue;
            }
            if let Some((key, value)) = line.split_once(':') {
                let (key, value) = (key.trim(), value.trim());
                match key {
                    "NAME" => name = value.to_string(),
                    "CAPACITY" => capacity = Some(num(value)? as i64),
                    "DIMENSION" => dimension = Some(num(value)? as usize),
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
                ("demand", [_, d]) => demand.push(num(d)? as i64),
                _ => {}
            }
        }
        let capacity = capacity.ok_or(CvrpError::Missing("CAPACITY"))?;
        if dimension.is_some_and(|n| n != coords.len()) {
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
