//! What an operator can tune.

use serde::{Deserialize, Serialize};

use super::model::{Point, Time};

/// Objective weights. Lateness comes first by weight, not lexicographically, so an
/// operator can trade a little lateness for a lot of travel if they choose.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    /// Per unit of time a drop-off is later than promised.
    pub lateness: f64,
    /// Per unit of time spent travelling.
    pub travel: f64,
    /// Per square of the number of parcels on a rider's route: spreads work out.
    pub balance: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            lateness: 10.0,
            travel: 1.0,
            balance: 30.0,
        }
    }
}

/// A rectangle (min/max in each coordinate); a point outside is a bad address.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServiceArea {
    pub min: Point,
    pub max: Point,
}

impl ServiceArea {
    pub fn contains(&self, p: Point) -> bool {
        p.x >= self.min.x && p.x <= self.max.x && p.y >= self.min.y && p.y <= self.max.y
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DispatchConfig {
    pub weights: Weights,
    pub seed: u64,
    /// A rider whose position is older than this gets no new parcels.
    pub stale_after: Time,
    pub service_area: Option<ServiceArea>,
    /// A parcel that cannot reach its customer by `promised_at + max_lateness` even with a
    /// rider waiting at the store is impossible; `None` means lateness is only a cost.
    pub max_lateness: Option<Time>,
    /// Drop-offs may finish after the shift ends (pickups never may).
    pub drops_after_shift_end: bool,
    /// A rider carries parcels from one pickup site at a time (picks them all up, then
    /// drops them all off), as in meal delivery; otherwise routes interleave freely.
    pub one_site_per_trip: bool,
    /// Riders considered per parcel, nearest first; 0 considers every rider.
    pub candidate_riders: usize,
    /// Default improvement budget for callers that use wall time.
    pub budget_millis: u64,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            weights: Weights::default(),
            seed: 1,
            stale_after: 180,
            service_area: None,
            max_lateness: None,
            drops_after_shift_end: false,
            one_site_per_trip: false,
            candidate_riders: 12,
            budget_millis: 50,
        }
    }
}
