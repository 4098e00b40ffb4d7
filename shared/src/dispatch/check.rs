//! An independent feasibility checker: it re-derives every schedule from the problem and
//! the plan's stop order alone, sharing no code with the solver, and lists every rule a
//! plan breaks. Benchmarks and property tests run it on every solution.

use std::collections::{BTreeMap, BTreeSet};

use super::config::DispatchConfig;
use super::model::{Parcel, ParcelId, Point, Problem, Rider, RiderId, StopKind, Time};
use super::plan::Plan;
use super::travel::TravelModel;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    UnknownRider(RiderId),
    RiderRoutedTwice(RiderId),
    UnknownParcel(ParcelId),
    /// An open parcel neither assigned nor reported unassigned.
    ParcelLost(ParcelId),
    /// Assigned twice, on two routes, or both assigned and reported unassigned.
    ParcelDuplicated(ParcelId),
    CommittedStopsChanged(RiderId),
    DropoffBeforePickup(ParcelId),
    PickupWithoutDropoff(ParcelId),
    DropoffWithoutPickup(ParcelId),
    ColdChain {
        rider: RiderId,
        parcel: ParcelId,
    },
    NewWorkForUnavailableRider {
        rider: RiderId,
        parcel: ParcelId,
    },
    OverCapacity {
        rider: RiderId,
        at: ParcelId,
    },
    PickupBeforeReady(ParcelId),
    AfterShiftEnd {
        rider: RiderId,
        at: ParcelId,
    },
    OneSitePerTrip {
        rider: RiderId,
        at: ParcelId,
    },
    /// The plan's times differ from what the travel model and the service rules give.
    WrongTimes {
        rider: RiderId,
        at: ParcelId,
    },
    AssignmentMismatch(ParcelId),
}

/// Every violation of `plan` for `problem`; empty means feasible.
pub fn check(
    problem: &Problem,
    config: &DispatchConfig,
    travel: &dyn TravelModel,
    plan: &Plan,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let parcels: BTreeMap<&ParcelId, &Parcel> =
        problem.parcels.iter().map(|p| (&p.id, p)).collect();
    let riders: BTreeMap<&RiderId, &Rider> = problem.riders.iter().map(|r| (&r.id, r)).collect();
    let held: BTreeSet<&ParcelId> = problem
        .riders
        .iter()
        .flat_map(|r| r.onboard.iter().chain(r.route.iter().map(|s| &s.parcel)))
        .collect();

    // Each open parcel is accounted for exactly once.
    let mut seen: BTreeMap<&ParcelId, usize> = BTreeMap::new();
    for id in plan
        .assignments
        .iter()
        .map(|a| &a.parcel)
        .chain(plan.unassigned.iter().map(|u| &u.parcel))
    {
        if !parcels.contains_key(id) {
            out.push(Violation::UnknownParcel(id.clone()));
        }
        *seen.entry(id).or_default() += 1;
    }
    for p in &problem.parcels {
        let n = seen.get(&p.id).copied().unwrap_or(0);
        if held.contains(&p.id) {
            if n > 0 {
                out.push(Violation::ParcelDuplicated(p.id.clone()));
            }
        } else if n == 0 {
            out.push(Violation::ParcelLost(p.id.clone()));
        } else if n > 1 {
            out.push(Violation::ParcelDuplicated(p.id.clone()));
        }
    }

    let mut routed: BTreeSet<&RiderId> = BTreeSet::new();
    let mut on_routes: BTreeMap<&ParcelId, &RiderId> = BTreeMap::new();
    for route in &plan.routes {
        let Some(rider) = riders.get(&route.rider) else {
            out.push(Violation::UnknownRider(route.rider.clone()));
            continue;
        };
        if !routed.insert(&route.rider) {
            out.push(Violation::RiderRoutedTwice(route.rider.clone()));
        }
        let committed = rider.route.len();
        let prefix_same = route.stops.len() >= committed
            && route
                .stops
                .iter()
                .zip(&rider.route)
                .all(|(a, b)| a.parcel == b.parcel && a.kind == b.kind);
        if !prefix_same {
            out.push(Violation::CommittedStopsChanged(rider.id.clone()));
        }
        let mut picked: BTreeSet<&ParcelId> = rider.onboard.iter().collect();
        let mut dropped: BTreeSet<&ParcelId> = BTreeSet::new();
        let mut load = (0i64, 0i64, 0i64);
        for id in &rider.onboard {
            if let Some(p) = parcels.get(id) {
                load = (
                    load.0.saturating_add(p.size.weight_g),
                    load.1.saturating_add(p.size.volume_ml),
                    load.2 + 1,
                );
            }
        }
        let available =
            rider.online && problem.now.saturating_sub(rider.position_at) <= config.stale_after;
        let mut t = rider.free_at.max(problem.now);
        let mut pos: Point = rider.position;
        // The pickup group at one site: (site, arrival, latest handover).
        let mut group: Option<(Point, Time, Time)> = None;
        for (k, stop) in route.stops.iter().enumerate() {
            let Some(p) = parcels.get(&stop.parcel) else {
                out.push(Violation::UnknownParcel(stop.parcel.clone()));
                continue;
            };
            let rid = rider.id.clone();
            if k >= committed && !held.contains(&p.id) {
                if let Some(other) = on_routes.insert(&p.id, &rider.id) {
                    if other != &rider.id {
                        out.push(Violation::ParcelDuplicated(p.id.clone()));
                    }
                }
                if stop.kind == StopKind::Pickup && !available {
                    out.push(Violation::NewWorkForUnavailableRider {
                        rider: rid.clone(),
                        parcel: p.id.clone(),
                    });
                }
            }
            if !rider.capabilities.can_carry(p.cold_chain) {
                out.push(Violation::ColdChain {
                    rider: rid.clone(),
                    parcel: p.id.clone(),
                });
            }
            let (Some(at_store), Some(at_door)) = (p.pickup, p.dropoff) else {
                out.push(Violation::WrongTimes {
                    rider: rid.clone(),
                    at: p.id.clone(),
                });
                continue;
            };
            let (arrive, handover, depart);
            match stop.kind {
                StopKind::Pickup => {
                    if !picked.insert(&p.id) {
                        out.push(Violation::ParcelDuplicated(p.id.clone()));
                    }
                    let half_in = p.pickup_service / 2;
                    let half_out = p.pickup_service.saturating_sub(half_in);
                    let continuing = matches!(group, Some((site, _, _)) if site == at_store);
                    if config.one_site_per_trip && load.2 > 0 && !continuing {
                        out.push(Violation::OneSitePerTrip {
                            rider: rid.clone(),
                            at: p.id.clone(),
                        });
                    }
                    if let (true, Some((_, a, h))) = (continuing, group) {
                        arrive = a;
                        handover = h.max(p.ready_at).max(a.saturating_add(half_in));
                    } else {
                        arrive = t.saturating_add(travel.travel(pos, at_store));
                        handover = arrive.saturating_add(half_in).max(p.ready_at);
                    }
                    depart = handover.saturating_add(half_out);
                    group = Some((at_store, arrive, handover));
                    pos = at_store;
                    load = (
                        load.0.saturating_add(p.size.weight_g),
                        load.1.saturating_add(p.size.volume_ml),
                        load.2 + 1,
                    );
                    let cap = &rider.capacity;
                    if load.0 > cap.weight_g || load.1 > cap.volume_ml || load.2 > cap.parcels {
                        out.push(Violation::OverCapacity {
                            rider: rid.clone(),
                            at: p.id.clone(),
                        });
                    }
                    if handover < p.ready_at {
                        out.push(Violation::PickupBeforeReady(p.id.clone()));
                    }
                    if handover > rider.shift_end {
                        out.push(Violation::AfterShiftEnd {
                            rider: rid.clone(),
                            at: p.id.clone(),
                        });
                    }
                }
                StopKind::Dropoff => {
                    if !picked.contains(&p.id) {
                        out.push(Violation::DropoffBeforePickup(p.id.clone()));
                    }
                    if !dropped.insert(&p.id) {
                        out.push(Violation::ParcelDuplicated(p.id.clone()));
                    }
                    let half_in = p.dropoff_service / 2;
                    arrive = t.saturating_add(travel.travel(pos, at_door));
                    handover = arrive.saturating_add(half_in);
                    depart = handover.saturating_add(p.dropoff_service.saturating_sub(half_in));
                    group = None;
                    pos = at_door;
                    load = (
                        load.0.saturating_sub(p.size.weight_g),
                        load.1.saturating_sub(p.size.volume_ml),
                        load.2 - 1,
                    );
                    if !config.drops_after_shift_end && handover > rider.shift_end {
                        out.push(Violation::AfterShiftEnd {
                            rider: rid.clone(),
                            at: p.id.clone(),
                        });
                    }
                }
            }
            if (arrive, handover, depart) != (stop.arrive_at, stop.handover_at, stop.depart_at) {
                out.push(Violation::WrongTimes {
                    rider: rid.clone(),
                    at: p.id.clone(),
                });
            }
            t = depart;
        }
        for id in &picked {
            if !dropped.contains(id) {
                out.push(Violation::PickupWithoutDropoff((*id).clone()));
            }
        }
        for id in &dropped {
            if !picked.contains(id) {
                out.push(Violation::DropoffWithoutPickup((*id).clone()));
            }
        }
        for a in plan.assignments.iter().filter(|a| a.rider == rider.id) {
            let handover = |kind| {
                route
                    .stops
                    .iter()
                    .find(|s| s.parcel == a.parcel && s.kind == kind)
                    .map(|s| s.handover_at)
            };
            if handover(StopKind::Pickup) != Some(a.pickup_at)
                || handover(StopKind::Dropoff) != Some(a.dropoff_at)
            {
                out.push(Violation::AssignmentMismatch(a.parcel.clone()));
            }
        }
    }
    for a in &plan.assignments {
        if on_routes.get(&a.parcel) != Some(&&a.rider) {
            out.push(Violation::AssignmentMismatch(a.parcel.clone()));
        }
    }
    for id in on_routes.keys() {
        if !plan.assignments.iter().any(|a| &a.parcel == *id) {
            out.push(Violation::AssignmentMismatch((*id).clone()));
        }
    }
    for r in &problem.riders {
        if (!r.route.is_empty() || !r.onboard.is_empty()) && !routed.contains(&r.id) {
            out.push(Violation::CommittedStopsChanged(r.id.clone()));
        }
    }
    out
}
