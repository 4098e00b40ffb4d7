//! The dispatch board kept in a key-value store: riders as they last reported, parcels
//! ready for dispatch, and the last plan. Increment-only indexes, no compare-and-swap
//! (like the order book): a rider or parcel is indexed once, its record overwritten.
//!
//! Keys: `rider/{id}` (a [`Rider`]), `parcel/{id}` (a [`BoardParcel`]), `riders/seq` +
//! `riders/idx/{n}`, `parcels/seq` + `parcels/idx/{n}`, `plan/last` (a [`Plan`]) and
//! `plan/problem` (the [`Problem`] it was made for).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::model::{
    Capabilities, Load, Parcel, ParcelId, Point, Problem, Rider, RiderId, StopKind, Time,
};
use super::plan::{commit_plan, Plan};
use super::redispatch::{reject_parcels, release_rider, Released};
use crate::order::OrderId;
use crate::store::{KeyValue, StoreError};

/// A parcel as the merge step hands it over: the core's [`Parcel`] JSON, with an
/// optional `order_ids` field beside its own, so dispatch can record on the orders.
///
/// (De)serialized by hand through `serde_json::Value`: `#[serde(flatten)]` buffers
/// numbers as maps under serde_json's `arbitrary_precision`, which the workspace enables.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyParcel {
    pub parcel: Parcel,
    pub order_ids: Vec<OrderId>,
}

impl Serialize for ReadyParcel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut v = serde_json::to_value(&self.parcel).map_err(S::Error::custom)?;
        if let Some(o) = v.as_object_mut() {
            let ids = serde_json::to_value(&self.order_ids).map_err(S::Error::custom)?;
            o.insert("order_ids".into(), ids);
        }
        v.serialize(s)
    }
}

impl<'de> Deserialize<'de> for ReadyParcel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut v = serde_json::Value::deserialize(d)?;
        let order_ids = match v.as_object_mut().and_then(|o| o.remove("order_ids")) {
            Some(ids) => serde_json::from_value(ids).map_err(D::Error::custom)?,
            None => Vec::new(),
        };
        let parcel = serde_json::from_value(v).map_err(D::Error::custom)?;
        Ok(Self { parcel, order_ids })
    }
}

/// A parcel on the board and who has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardParcel {
    pub ready: ReadyParcel,
    /// `None` while open: the next dispatch call routes it.
    #[serde(default)]
    pub rider: Option<RiderId>,
}

/// What a rider app reports; absent fields keep their last value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RiderReport {
    /// `x` = longitude, `y` = latitude.
    pub position: Option<Point>,
    pub shift_end: Option<Time>,
    pub capacity: Option<Load>,
    pub capabilities: Option<Capabilities>,
    pub online: Option<bool>,
    /// When the rider can take new work; defaults to the report time.
    pub free_at: Option<Time>,
    /// Parcels picked up since the last report: only their drop-off is left.
    #[serde(default)]
    pub picked_up: Vec<ParcelId>,
    /// Parcels handed to the customer since the last report: off the board for good.
    #[serde(default)]
    pub delivered: Vec<ParcelId>,
}

#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rider `{0}` has never reported a position")]
    NoPosition(RiderId),
    #[error("unknown rider `{0}`")]
    UnknownRider(RiderId),
}

fn rider_key(id: &RiderId) -> String {
    format!("rider/{id}")
}

fn parcel_key(id: &ParcelId) -> String {
    format!("parcel/{id}")
}

/// Index `id` once under `family` (`riders` / `parcels`); repeated calls are harmless.
fn index_once<S: KeyValue>(store: &S, family: &str, id: &str) -> Result<(), StoreError> {
    if store.increment(&format!("{family}/claim/{id}"), 1)? == 1 {
        let n = store.increment(&format!("{family}/seq"), 1)?;
        store.set(&format!("{family}/idx/{n}"), id.as_bytes())?;
    }
    Ok(())
}

fn indexed_ids<S: KeyValue>(store: &S, family: &str) -> Result<Vec<String>, StoreError> {
    let n = store.increment(&format!("{family}/seq"), 0)?;
    let slots: Vec<String> = (1..=n).map(|i| format!("{family}/idx/{i}")).collect();
    let mut seen = HashSet::new();
    Ok(store
        .get_many(&slots)?
        .into_iter()
        .flatten()
        .filter_map(|b| String::from_utf8(b).ok())
        .filter(|id| seen.insert(id.clone()))
        .collect())
}

fn load_all<S: KeyValue, T: serde::de::DeserializeOwned>(
    store: &S,
    keys: Vec<String>,
) -> Result<Vec<T>, StoreError> {
    store
        .get_many(&keys)?
        .into_iter()
        .flatten()
        .map(|b| {
            serde_json::from_slice(&b)
                .map_err(|e| StoreError::Backend(format!("stored board entry unreadable: {e}")))
        })
        .collect()
}

pub fn get_rider<S: KeyValue>(store: &S, id: &RiderId) -> Result<Option<Rider>, StoreError> {
    store.get_json(&rider_key(id))
}

pub fn riders<S: KeyValue>(store: &S) -> Result<Vec<Rider>, StoreError> {
    let keys = indexed_ids(store, "riders")?
        .into_iter()
        .map(|id| rider_key(&RiderId(id)))
        .collect();
    load_all(store, keys)
}

pub fn parcels<S: KeyValue>(store: &S) -> Result<Vec<BoardParcel>, StoreError> {
    let keys = indexed_ids(store, "parcels")?
        .into_iter()
        .map(|id| parcel_key(&ParcelId(id)))
        .collect();
    load_all(store, keys)
}

/// Apply a rider's report at `now`. A rider's first report must carry a position.
pub fn report_rider<S: KeyValue>(
    store: &S,
    id: &RiderId,
    report: &RiderReport,
    now: Time,
) -> Result<(Rider, Progress), BoardError> {
    let mut rider = match get_rider(store, id)? {
        Some(r) => r,
        None => Rider {
            id: id.clone(),
            position: report
                .position
                .ok_or_else(|| BoardError::NoPosition(id.clone()))?,
            position_at: now,
            free_at: now,
            shift_end: now,
            capacity: Load::new(0, 0, 0),
            capabilities: Capabilities::default(),
            online: true,
            onboard: Vec::new(),
            route: Vec::new(),
            delivered_today: 0,
        },
    };
    if let Some(p) = report.position {
        rider.position = p;
        rider.position_at = now;
    }
    rider.free_at = report.free_at.unwrap_or(now.max(rider.free_at));
    if let Some(v) = report.shift_end {
        rider.shift_end = v;
    }
    if let Some(v) = report.capacity {
        rider.capacity = v;
    }
    if let Some(v) = report.capabilities {
        rider.capabilities = v;
    }
    if let Some(v) = report.online {
        rider.online = v;
    }
    let done = progress(&mut rider, &report.picked_up, &report.delivered);
    store.set_json(&rider_key(id), &rider)?;
    index_once(store, "riders", &id.0)?;
    Ok((rider, done))
}

/// What a report changed on the rider's route.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub picked_up: Vec<ParcelId>,
    pub delivered: Vec<ParcelId>,
}

/// Apply pickups and deliveries to the rider's committed route. Only the rider's own
/// stops count: a report naming someone else's parcel changes nothing.
fn progress(rider: &mut Rider, picked_up: &[ParcelId], delivered: &[ParcelId]) -> Progress {
    let mut done = Progress::default();
    for p in picked_up {
        let had = rider.route.len();
        rider
            .route
            .retain(|s| !(s.kind == StopKind::Pickup && &s.parcel == p));
        if rider.route.len() < had && !rider.onboard.contains(p) {
            rider.onboard.push(p.clone());
            done.picked_up.push(p.clone());
        }
    }
    for p in delivered {
        let on_route = rider.route.iter().any(|s| &s.parcel == p);
        if rider.onboard.contains(p) || on_route {
            rider.route.retain(|s| &s.parcel != p);
            rider.onboard.retain(|o| o != p);
            rider.delivered_today += 1;
            done.delivered.push(p.clone());
        }
    }
    done
}

/// The orders a parcel on the board carries (empty for an unknown parcel).
pub fn orders_of<S: KeyValue>(store: &S, parcel: &ParcelId) -> Result<Vec<OrderId>, StoreError> {
    Ok(store
        .get_json::<BoardParcel>(&parcel_key(parcel))?
        .map(|b| b.ready.order_ids)
        .unwrap_or_default())
}

/// Put ready parcels on the board, open. A parcel already assigned keeps its rider (a
/// redelivered hand-over must not take it away).
pub fn add_parcels<S: KeyValue>(store: &S, ready: &[ReadyParcel]) -> Result<(), StoreError> {
    for r in ready {
        let key = parcel_key(&r.parcel.id);
        let rider = store
            .get_json::<BoardParcel>(&key)?
            .and_then(|existing| existing.rider);
        store.set_json(
            &key,
            &BoardParcel {
                ready: r.clone(),
                rider,
            },
        )?;
        index_once(store, "parcels", &r.parcel.id.0)?;
    }
    Ok(())
}

/// The board as a dispatch problem at `now`: every rider and every parcel either open or
/// still on some rider's route.
pub fn problem<S: KeyValue>(
    store: &S,
    now: Time,
) -> Result<(Problem, Vec<BoardParcel>), StoreError> {
    let riders = riders(store)?;
    let board = parcels(store)?;
    let on_routes: HashSet<&ParcelId> = riders
        .iter()
        .flat_map(|r| r.route.iter().map(|s| &s.parcel).chain(r.onboard.iter()))
        .collect();
    let parcels = board
        .iter()
        .filter(|b| b.rider.is_none() || on_routes.contains(&b.ready.parcel.id))
        .map(|b| b.ready.parcel.clone())
        .collect();
    let problem = Problem {
        now,
        riders,
        parcels,
    };
    Ok((problem, board))
}

/// Store a plan: riders' committed routes, each assigned parcel's rider, and the plan
/// itself (for explanations and the rider view).
pub fn save_plan<S: KeyValue>(
    store: &S,
    problem: &mut Problem,
    board: &[BoardParcel],
    plan: &Plan,
) -> Result<(), StoreError> {
    // Explanations replay the plan against the problem it was made for.
    store.set_json("plan/problem", &*problem)?;
    commit_plan(problem, plan);
    for rider in &problem.riders {
        store.set_json(&rider_key(&rider.id), rider)?;
    }
    for a in &plan.assignments {
        if let Some(b) = board.iter().find(|b| b.ready.parcel.id == a.parcel) {
            let mut b = b.clone();
            b.rider = Some(a.rider.clone());
            if let Some(p) = problem.parcels.iter().find(|p| p.id == a.parcel) {
                b.ready.parcel.declined_by = p.declined_by.clone();
            }
            store.set_json(&parcel_key(&a.parcel), &b)?;
        }
    }
    store.set_json("plan/last", plan)
}

/// The last plan and the problem it was made for.
pub fn last_plan<S: KeyValue>(store: &S) -> Result<Option<(Plan, Problem)>, StoreError> {
    let plan: Option<Plan> = store.get_json("plan/last")?;
    let problem: Option<Problem> = store.get_json("plan/problem")?;
    Ok(plan.zip(problem))
}

/// A rider goes offline (`parcels` = `None`) or rejects some parcels: they go back to
/// the open pool (rejected ones never to this rider again). Returns what was released;
/// the caller re-dispatches.
pub fn release<S: KeyValue>(
    store: &S,
    problem: &mut Problem,
    rider: &RiderId,
    parcels: Option<&[ParcelId]>,
) -> Result<Released, BoardError> {
    if !problem.riders.iter().any(|r| &r.id == rider) {
        return Err(BoardError::UnknownRider(rider.clone()));
    }
    let released = match parcels {
        None => release_rider(problem, rider),
        Some(ps) => reject_parcels(problem, rider, ps),
    };
    if let Some(r) = problem.riders.iter().find(|r| &r.id == rider) {
        store.set_json(&rider_key(rider), r)?;
    }
    for id in &released.reopened {
        let key = parcel_key(id);
        if let Some(mut b) = store.get_json::<BoardParcel>(&key)? {
            b.rider = None;
            if let Some(p) = problem.parcels.iter().find(|p| &p.id == id) {
                b.ready.parcel.declined_by = p.declined_by.clone();
            }
            store.set_json(&key, &b)?;
        }
    }
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::{dispatch, ColdChain, DispatchConfig, Haversine, Iterations};
    use crate::store::MemoryStore;

    fn report(lat: f64, lng: f64, freezer: bool) -> RiderReport {
        RiderReport {
            position: Some(Point::geo(lat, lng)),
            shift_end: Some(10_000),
            capacity: Some(Load::new(20_000, 100_000, 10)),
            capabilities: Some(Capabilities {
                insulated: true,
                freezer,
            }),
            online: Some(true),
            ..RiderReport::default()
        }
    }

    fn ready(id: &str, cold: ColdChain) -> ReadyParcel {
        ReadyParcel {
            parcel: Parcel {
                id: ParcelId(id.into()),
                pickup: Some(Point::geo(31.23, 121.47)),
                dropoff: Some(Point::geo(31.24, 121.48)),
                ready_at: 0,
                promised_at: 3_000,
                size: Load::parcel(1_000, 2_000),
                cold_chain: cold,
                zone: None,
                pickup_service: 60,
                dropoff_service: 60,
                declined_by: Vec::new(),
            },
            order_ids: vec![OrderId(format!("o-{id}"))],
        }
    }

    #[test]
    fn a_plain_parcel_reads_as_ready_with_no_orders() {
        let p = ready("p1", ColdChain::Chilled);
        let plain = serde_json::to_string(&p.parcel).unwrap();
        let back: ReadyParcel = serde_json::from_str(&plain).unwrap();
        assert_eq!(back.parcel, p.parcel);
        assert!(back.order_ids.is_empty());
        let full: ReadyParcel = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(full, p);
    }

    fn run(store: &MemoryStore, now: Time) -> Plan {
        let (mut problem, board) = problem(store, now).unwrap();
        let plan = dispatch(
            &problem,
            &DispatchConfig::default(),
            &Haversine::default(),
            &mut Iterations::new(50),
        )
        .unwrap();
        save_plan(store, &mut problem, &board, &plan).unwrap();
        plan
    }

    #[test]
    fn first_report_needs_a_position() {
        let s = MemoryStore::new();
        let r = report_rider(&s, &RiderId("r".into()), &RiderReport::default(), 0);
        assert!(matches!(r, Err(BoardError::NoPosition(_))));
    }

    #[test]
    fn assigned_parcels_leave_the_open_pool_and_offline_returns_them() {
        let s = MemoryStore::new();
        let a = RiderId("a".into());
        let b = RiderId("b".into());
        report_rider(&s, &a, &report(31.23, 121.47, true), 0).unwrap();
        report_rider(&s, &b, &report(31.23, 121.47, false), 0).unwrap();
        add_parcels(
            &s,
            &[
                ready("p1", ColdChain::Frozen),
                ready("p2", ColdChain::Ambient),
            ],
        )
        .unwrap();
        let plan = run(&s, 10);
        assert_eq!(plan.assignments.len(), 2);
        let p1 = plan
            .assignments
            .iter()
            .find(|x| x.parcel.0 == "p1")
            .unwrap();
        assert_eq!(p1.rider, a);
        // A second run re-plans nothing new: both parcels sit on committed routes.
        let again = run(&s, 20);
        assert!(again.unassigned.is_empty());

        let (mut pb, _) = problem(&s, 30).unwrap();
        let holder = plan
            .assignments
            .iter()
            .find(|x| x.parcel.0 == "p2")
            .unwrap()
            .rider
            .clone();
        let released = release(&s, &mut pb, &holder, None).unwrap();
        assert!(released.reopened.iter().any(|p| p.0 == "p2"));
        let after = run(&s, 40);
        let p2 = after
            .routes
            .iter()
            .find(|r| r.stops.iter().any(|st| st.parcel.0 == "p2"));
        assert_ne!(p2.map(|r| r.rider.clone()), Some(holder.clone()));
        assert!(!get_rider(&s, &holder).unwrap().unwrap().online);
    }

    #[test]
    fn pickups_and_deliveries_move_parcels_off_the_board() {
        let s = MemoryStore::new();
        let a = RiderId("a".into());
        report_rider(&s, &a, &report(31.23, 121.47, true), 0).unwrap();
        add_parcels(
            &s,
            &[
                ready("p1", ColdChain::Ambient),
                ready("p2", ColdChain::Ambient),
            ],
        )
        .unwrap();
        run(&s, 10);
        let picked = RiderReport {
            picked_up: vec![ParcelId("p1".into()), ParcelId("zz".into())],
            ..RiderReport::default()
        };
        let (r, done) = report_rider(&s, &a, &picked, 20).unwrap();
        assert_eq!(done.picked_up, vec![ParcelId("p1".into())]);
        assert_eq!(r.onboard, vec![ParcelId("p1".into())]);
        assert!(!r
            .route
            .iter()
            .any(|st| st.parcel.0 == "p1" && st.kind == StopKind::Pickup));
        let delivered = RiderReport {
            delivered: vec![ParcelId("p1".into()), ParcelId("zz".into())],
            ..RiderReport::default()
        };
        let (r, done) = report_rider(&s, &a, &delivered, 30).unwrap();
        assert_eq!(done.delivered, vec![ParcelId("p1".into())]);
        assert_eq!(orders_of(&s, &ParcelId("p1".into())).unwrap().len(), 1);
        assert!(r.onboard.is_empty());
        assert_eq!(r.delivered_today, 1);
        let (pb, _) = problem(&s, 40).unwrap();
        let ids: Vec<&str> = pb.parcels.iter().map(|p| p.id.0.as_str()).collect();
        assert_eq!(ids, vec!["p2"]);
        // The next call plans around the delivered parcel and keeps p2 where it is.
        let plan = run(&s, 50);
        assert!(plan.unassigned.is_empty() && plan.assignments.is_empty());
    }

    #[test]
    fn re_adding_an_assigned_parcel_keeps_its_rider() {
        let s = MemoryStore::new();
        report_rider(&s, &RiderId("a".into()), &report(31.23, 121.47, true), 0).unwrap();
        add_parcels(&s, &[ready("p1", ColdChain::Ambient)]).unwrap();
        run(&s, 10);
        add_parcels(&s, &[ready("p1", ColdChain::Ambient)]).unwrap();
        let b = parcels(&s).unwrap();
        assert_eq!(b[0].rider, Some(RiderId("a".into())));
    }
}
