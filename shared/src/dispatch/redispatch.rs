//! A rider who rejects work or goes offline gives back what they have not picked up.

use super::model::{ParcelId, Problem, RiderId, StopKind};

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
