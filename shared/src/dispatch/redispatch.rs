//! A rider who rejects work, goes offline or stays silent too long gives back what they
//! have not picked up.

use serde::{Deserialize, Serialize};

use super::config::DispatchConfig;
use super::model::{ParcelId, Problem, Rider, RiderId, StopKind, Time};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Released {
    /// Back in the open pool: the next dispatch call reassigns them.
    pub reopened: Vec<ParcelId>,
    /// Already in the rider's box: only the rider can deliver them; escalate.
    pub stranded: Vec<ParcelId>,
}

/// The rider goes offline: their not-yet-picked parcels are reopened.
pub fn release_rider(problem: &mut Problem, rider: &RiderId) -> Released {
    let Some(r) = problem.riders.iter_mut().find(|r| &r.id == rider) else {
        return Released::default();
    };
    r.online = false;
    release_pickups(r)
}

/// Take every not-yet-picked parcel off `r`'s route (pickup and drop-off).
fn release_pickups(r: &mut Rider) -> Released {
    let reopened: Vec<ParcelId> = r
        .route
        .iter()
        .filter(|s| s.kind == StopKind::Pickup)
        .map(|s| s.parcel.clone())
        .collect();
    r.route.retain(|s| !reopened.contains(&s.parcel));
    Released {
        reopened,
        stranded: r.onboard.clone(),
    }
}

/// Why a silent rider's parcels went back to the board: kept in the store and in the
/// tick's answer, so an operator can see who lost what and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilentRelease {
    pub rider: RiderId,
    /// The rider's last position report.
    pub position_at: Time,
    /// How long the rider had been silent at the release.
    pub silent_for: Time,
    /// `release_stale_after × stale_after`: the silence that triggers a release.
    pub limit: Time,
    /// Back on the board, not offered to anyone yet.
    pub reopened: Vec<ParcelId>,
    /// Already in the rider's box: only the rider can deliver them; escalate.
    pub stranded: Vec<ParcelId>,
}

/// Riders silent for longer than [`DispatchConfig::release_after`] give back their
/// not-yet-picked parcels (staleness alone only stops new work). The riders stay as they
/// are otherwise: a rider who reports again simply gets new work. Riders with nothing
/// to give back are not listed.
pub fn release_silent(problem: &mut Problem, config: &DispatchConfig) -> Vec<SilentRelease> {
    let Some(limit) = config.release_after() else {
        return Vec::new();
    };
    let now = problem.now;
    problem
        .riders
        .iter_mut()
        .filter_map(|r| {
            let silent_for = now.saturating_sub(r.position_at);
            if silent_for <= limit || !r.route.iter().any(|s| s.kind == StopKind::Pickup) {
                return None;
            }
            let Released { reopened, stranded } = release_pickups(r);
            Some(SilentRelease {
                rider: r.id.clone(),
                position_at: r.position_at,
                silent_for,
                limit,
                reopened,
                stranded,
            })
        })
        .collect()
}

/// The rider rejects some parcels (not yet picked up): they are reopened, the rider stays on.
pub fn reject_parcels(problem: &mut Problem, rider: &RiderId, parcels: &[ParcelId]) -> Released {
    let Some(r) = problem.riders.iter_mut().find(|r| &r.id == rider) else {
        return Released::default();
    };
    let reopened: Vec<ParcelId> = r
        .route
        .iter()
        .filter(|s| s.kind == StopKind::Pickup && parcels.contains(&s.parcel))
        .map(|s| s.parcel.clone())
        .collect();
    r.route.retain(|s| !reopened.contains(&s.parcel));
    let stranded: Vec<ParcelId> = parcels
        .iter()
        .filter(|p| r.onboard.contains(p))
        .cloned()
        .collect();
    for p in problem
        .parcels
        .iter_mut()
        .filter(|p| reopened.contains(&p.id))
    {
        p.declined_by.push(rider.clone());
    }
    Released { reopened, stranded }
}
