//! The solver's indexed view of a [`Problem`] and its schedule arithmetic. Hot loops use
//! indices, never ids; everything here is private to the solver (the checker in
//! `check.rs` recomputes schedules its own way on purpose).
//!
//! Time arithmetic saturates: the service checks ranges where data enters
//! (`state.rs`), but `dispatch` is also called directly, and a request-derived value
//! must never trap (debug) or wrap into a plausible-looking time (release wasm).

use std::collections::BTreeMap;

use super::config::DispatchConfig;
use super::error::DispatchError;
use super::model::{
    service_after, service_before, ColdChain, Load, ParcelId, Point, Problem, StopKind, Time,
};
use super::travel::TravelModel;

/// One stop of a route in index form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Node {
    pub parcel: u32,
    pub pickup: bool,
}

impl Node {
    pub fn pickup(p: usize) -> Self {
        Self {
            parcel: p as u32,
            pickup: true,
        }
    }
    pub fn dropoff(p: usize) -> Self {
        Self {
            parcel: p as u32,
            pickup: false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ParcelInfo {
    pub pickup: Point,
    pub dropoff: Point,
    pub ready: Time,
    pub promised: Time,
    pub pick_before: Time,
    pub pick_after: Time,
    pub drop_before: Time,
    pub drop_after: Time,
    pub size: Load,
    pub cold: ColdChain,
    /// Both coordinates present and finite.
    pub locatable: bool,
}

/// Why a route cannot be driven as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Infeasible {
    Capacity,
    ShiftEnd,
    /// A pickup from a second site while parcels from another are still on board.
    OneSitePerTrip,
}

/// The pickup group in progress: consecutive pickups at one site share one service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site {
    pub at: Point,
    pub arrived: Time,
    pub handover: Time,
}

/// The state of a rider part-way through a route.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor {
    pub t: Time,
    pub pos: Point,
    pub load: Load,
    pub lateness: Time,
    pub travel: Time,
    /// Parcels this rider handles: delivered earlier today, on board, and planned.
    pub parcels: i64,
    /// Parcels in the box right now (sizes may be zero, so `load` cannot tell).
    pub onboard: i64,
    pub site: Option<Site>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct StopTimes {
    pub arrive: Time,
    pub handover: Time,
    pub depart: Time,
}

pub(crate) struct RiderInfo {
    pub capacity: Load,
    pub caps: super::model::Capabilities,
    pub shift_end: Time,
    /// Online with a fresh position.
    pub accepts_new: bool,
    pub stale: bool,
    /// Committed stops, in order; never reordered.
    pub fixed: Vec<Node>,
    /// Where the rider starts from: before the committed stops.
    pub origin: Cursor,
    /// After the committed stops; `None` when the committed route is already infeasible
    /// (then nothing new is added to it).
    pub start: Option<Cursor>,
}

pub(crate) struct Ctx<'a> {
    pub travel: &'a dyn TravelModel,
    pub cfg: &'a DispatchConfig,
    pub now: Time,
    pub parcels: Vec<ParcelInfo>,
    pub riders: Vec<RiderInfo>,
    /// Parcels nobody has yet: the ones to dispatch.
    pub open: Vec<usize>,
    pub index: BTreeMap<ParcelId, usize>,
    /// Per parcel, riders (by index) who rejected it.
    pub declined: Vec<Vec<usize>>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        problem: &Problem,
        cfg: &'a DispatchConfig,
        travel: &'a dyn TravelModel,
    ) -> Result<Self, DispatchError> {
        let mut index = BTreeMap::new();
        for (i, p) in problem.parcels.iter().enumerate() {
            if index.insert(p.id.clone(), i).is_some() {
                return Err(DispatchError::DuplicateParcel(p.id.clone()));
            }
        }
        let mut rider_ids = std::collections::BTreeSet::new();
        for r in &problem.riders {
            if !rider_ids.insert(r.id.clone()) {
                return Err(DispatchError::DuplicateRider(r.id.clone()));
            }
        }
        let parcels: Vec<ParcelInfo> = problem
            .parcels
            .iter()
            .map(|p| {
                let locatable = matches!((p.pickup, p.dropoff), (Some(a), Some(b)) if a.is_finite() && b.is_finite());
                let origin = Point::planar(0.0, 0.0);
                ParcelInfo {
                    pickup: p.pickup.unwrap_or(origin),
                    dropoff: p.dropoff.unwrap_or(origin),
                    ready: p.ready_at,
                    promised: p.promised_at,
                    pick_before: service_before(p.pickup_service),
                    pick_after: service_after(p.pickup_service),
                    drop_before: service_before(p.dropoff_service),
                    drop_after: service_after(p.dropoff_service),
                    size: p.size,
                    cold: p.cold_chain,
                    locatable,
                }
            })
            .collect();
        let mut taken = vec![false; parcels.len()];
        let mut ctx = Ctx {
            travel,
            cfg,
            now: problem.now,
            parcels,
            riders: Vec::with_capacity(problem.riders.len()),
            open: Vec::new(),
            index,
            declined: problem
                .parcels
                .iter()
                .map(|p| {
                    p.declined_by
                        .iter()
                        .filter_map(|id| problem.riders.iter().position(|r| &r.id == id))
                        .collect()
                })
                .collect(),
        };
        for r in &problem.riders {
            let lookup = |id: &ParcelId| {
                ctx.index
                    .get(id)
                    .copied()
                    .ok_or_else(|| DispatchError::UnknownParcel {
                        rider: r.id.clone(),
                        parcel: id.clone(),
                    })
            };
            let mut load = Load::default();
            let mut onboard = Vec::new();
            for id in &r.onboard {
                let p = lookup(id)?;
                if std::mem::replace(&mut taken[p], true) {
                    return Err(DispatchError::ParcelHeldTwice(id.clone()));
                }
                load = load.plus(&ctx.parcels[p].size);
                onboard.push(p);
            }
            let mut fixed = Vec::with_capacity(r.route.len());
            let mut picked: Vec<usize> = Vec::new();
            for s in &r.route {
                let p = lookup(&s.parcel)?;
                match s.kind {
                    StopKind::Pickup => {
                        if std::mem::replace(&mut taken[p], true) {
                            return Err(DispatchError::ParcelHeldTwice(s.parcel.clone()));
                        }
                        picked.push(p);
                        fixed.push(Node::pickup(p));
                    }
                    StopKind::Dropoff => {
                        let known = onboard.contains(&p) || picked.contains(&p);
                        let dropped = fixed.iter().any(|n| n.parcel as usize == p && !n.pickup);
                        if !known || dropped {
                            return Err(DispatchError::DropoffWithoutPickup {
                                rider: r.id.clone(),
                                parcel: s.parcel.clone(),
                            });
                        }
                        fixed.push(Node::dropoff(p));
                    }
                }
                if !ctx.parcels[p].locatable {
                    return Err(DispatchError::CommittedWithoutCoordinates(s.parcel.clone()));
                }
            }
            for &p in onboard.iter().chain(picked.iter()) {
                if !fixed.iter().any(|n| n.parcel as usize == p && !n.pickup) {
                    return Err(DispatchError::MissingDropoff {
                        rider: r.id.clone(),
                        parcel: problem.parcels[p].id.clone(),
                    });
                }
            }
            let stale = problem.now.saturating_sub(r.position_at) > cfg.stale_after;
            let origin = Cursor {
                t: r.free_at.max(problem.now),
                pos: r.position,
                load,
                lateness: 0,
                travel: 0,
                parcels: (onboard.len() as i64).saturating_add(r.delivered_today),
                onboard: onboard.len() as i64,
                site: None,
            };
            let mut info = RiderInfo {
                capacity: r.capacity,
                caps: r.capabilities,
                shift_end: r.shift_end,
                accepts_new: r.online && !stale && r.position.is_finite(),
                stale,
                fixed,
                origin,
                start: None,
            };
            let mut cur = origin;
            let mut ok = true;
            for &n in &info.fixed {
                if ctx.step(&info, &mut cur, n).is_err() {
                    ok = false;
                    break;
                }
            }
            info.start = ok.then_some(cur);
            ctx.riders.push(info);
        }
        ctx.open = (0..ctx.parcels.len()).filter(|&p| !taken[p]).collect();
        Ok(ctx)
    }

    /// Where stop `n` happens.
    pub fn location(&self, n: Node) -> Point {
        let p = &self.parcels[n.parcel as usize];
        if n.pickup {
            p.pickup
        } else {
            p.dropoff
        }
    }

    /// Advance `cur` through one stop.
    pub fn step(&self, r: &RiderInfo, cur: &mut Cursor, n: Node) -> Result<StopTimes, Infeasible> {
        let tt = self.travel.travel(cur.pos, self.location(n));
        self.step_tt(r, cur, n, tt)
    }

    /// [`Ctx::step`] with the travel time from `cur.pos` already known: insertion
    /// evaluates many sequences over the same few legs, and travel is the costly part.
    pub fn step_tt(
        &self,
        r: &RiderInfo,
        cur: &mut Cursor,
        n: Node,
        tt: Time,
    ) -> Result<StopTimes, Infeasible> {
        match self.advance(r, cur, n, tt) {
            (times, None) => Ok(times),
            (_, Some(e)) => Err(e),
        }
    }

    /// Advance through one stop whatever happens, reporting the first rule it breaks:
    /// a committed route that no longer fits is still shown to the operator in full.
    pub fn advance(
        &self,
        r: &RiderInfo,
        cur: &mut Cursor,
        n: Node,
        tt: Time,
    ) -> (StopTimes, Option<Infeasible>) {
        let p = &self.parcels[n.parcel as usize];
        let mut broken = None;
        if n.pickup {
            let same_site = cur.site.filter(|s| s.at == p.pickup);
            if self.cfg.one_site_per_trip && cur.onboard > 0 && same_site.is_none() {
                broken = Some(Infeasible::OneSitePerTrip);
            }
            let (arrive, handover) = match same_site {
                Some(s) => (
                    s.arrived,
                    s.handover
                        .max(p.ready)
                        .max(s.arrived.saturating_add(p.pick_before)),
                ),
                None => {
                    cur.travel = cur.travel.saturating_add(tt);
                    let arrive = cur.t.saturating_add(tt);
                    (arrive, arrive.saturating_add(p.pick_before).max(p.ready))
                }
            };
            if handover > r.shift_end {
                broken = broken.or(Some(Infeasible::ShiftEnd));
            }
            cur.load = cur.load.plus(&p.size);
            if !cur.load.fits_within(&r.capacity) {
                broken = broken.or(Some(Infeasible::Capacity));
            }
            cur.parcels = cur.parcels.saturating_add(1);
            cur.onboard = cur.onboard.saturating_add(1);
            cur.pos = p.pickup;
            cur.t = handover.saturating_add(p.pick_after);
            cur.site = Some(Site {
                at: p.pickup,
                arrived: arrive,
                handover,
            });
            (
                StopTimes {
                    arrive,
                    handover,
                    depart: cur.t,
                },
                broken,
            )
        } else {
            cur.travel = cur.travel.saturating_add(tt);
            let arrive = cur.t.saturating_add(tt);
            let handover = arrive.saturating_add(p.drop_before);
            if !self.cfg.drops_after_shift_end && handover > r.shift_end {
                broken = Some(Infeasible::ShiftEnd);
            }
            let late = handover.saturating_sub(p.promised).max(0);
            cur.lateness = cur.lateness.saturating_add(late);
            cur.load = cur.load.minus(&p.size);
            cur.onboard -= 1;
            cur.pos = p.dropoff;
            cur.t = handover.saturating_add(p.drop_after);
            cur.site = None;
            (
                StopTimes {
                    arrive,
                    handover,
                    depart: cur.t,
                },
                broken,
            )
        }
    }

    /// The rider's state after the committed stops and then `nodes`.
    pub fn run(&self, r: usize, nodes: &[Node]) -> Result<Cursor, Infeasible> {
        let rider = &self.riders[r];
        let mut cur = rider.start.ok_or(Infeasible::ShiftEnd)?;
        for &n in nodes {
            self.step(rider, &mut cur, n)?;
        }
        Ok(cur)
    }

    pub fn cost(&self, cur: &Cursor) -> f64 {
        let w = &self.cfg.weights;
        w.lateness * cur.lateness as f64
            + w.travel * cur.travel as f64
            + w.balance * cur.parcels.saturating_mul(cur.parcels) as f64
    }

    /// Whether rider `r` may be given open parcel `p` at all (before routing).
    pub fn eligible(&self, r: usize, p: usize) -> bool {
        let rider = &self.riders[r];
        let parcel = &self.parcels[p];
        rider.accepts_new
            && rider.start.is_some()
            && rider.caps.can_carry(parcel.cold)
            && parcel.size.fits_within(&rider.capacity)
            && !self.declined[p].contains(&r)
    }
}
