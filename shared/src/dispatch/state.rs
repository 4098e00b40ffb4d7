//! The dispatch board kept in a key-value store: riders as they last reported, parcels
//! ready for dispatch, the riders' committed routes and the last plan. Increment-only
//! indexes, no compare-and-swap (like the order book): a rider or parcel is indexed
//! once, its record overwritten.
//!
//! **One writer per key.** A rider's own record (`rider/{id}`: position, shift, box,
//! what is on board, today's deliveries) is written only by that rider's reports; its
//! committed route (`route/{id}`) only by dispatch runs. A dispatch run works from a
//! snapshot, so if it wrote the rider record it would overwrite a position or pickup
//! reported meanwhile; instead the rider the solver sees is *derived* at read time
//! ([`problem`]): the route minus what the rider has since picked up or delivered.
//!
//! **Stations.** The board is partitioned by [`Station`]: a run reads one station's
//! riders and parcels and writes that station's plan; riders and parcels name their
//! station (a parcel keeps the station it was first handed to; a rider moves only with
//! nothing on its route or on board). Station-scoped keys (`K` below) are the plain key
//! at the default station and `station/{id}/K` elsewhere ([`Station::key`]).
//!
//! Keys, per station: `config` (the [`DispatchConfig`]; a station without its own uses
//! the default station's, the app-wide one), `riders/seq` + `riders/idx/{n}`,
//! `parcels/seq` + `parcels/idx/{n}`, `parcels/cursor` (index positions at or below it
//! are all delivered: the board is read from there, so a run costs what is live, not
//! every parcel ever seen), `plan/last` (a [`Plan`]), `plan/problem` and `plan/config`
//! (the [`Problem`] and config it was made with). Global (ids are unique across
//! stations): `rider/{id}` (a [`RiderRecord`], naming its station), `route/{id}`
//! (committed [`Stop`]s), `parcel/{id}` (a [`BoardParcel`], naming its station),
//! `delivered/{parcel}` (the rider who delivered it), `silent/{rider}/{position_at}` (a
//! [`SilentRelease`]), `stations/seq` + `stations/idx/{n}` (every station ever used,
//! for the all-stations tick).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::config::DispatchConfig;
use super::error::DispatchError;
use super::model::{
    check_load, check_time, Capabilities, Load, Parcel, ParcelId, Point, Problem, Rider, RiderId,
    Stop, StopKind, Time,
};
use super::plan::{commit_plan, Plan};
use super::redispatch::{reject_parcels, release_rider, release_silent, Released, SilentRelease};
pub use super::station::{BadStation, Station};
use crate::order::OrderId;
use crate::store::{index_once, indexed, KeyValue, StoreError};

/// A parcel as the merge step hands it over: the core's [`Parcel`] JSON, with optional
/// `order_ids` and `lines` fields beside its own, so dispatch can record on the orders
/// and commit exactly the units this parcel carries.
///
/// (De)serialized by hand through `serde_json::Value`: `#[serde(flatten)]` buffers
/// numbers as maps under serde_json's `arbitrary_precision`, which the workspace enables.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyParcel {
    pub parcel: Parcel,
    pub order_ids: Vec<OrderId>,
    /// The order lines (and units of each) in this parcel; empty: the whole orders
    /// (a parcel entered by hand).
    pub lines: Vec<ParcelContent>,
    /// The station whose riders carry it (JSON `station`; absent: the default).
    pub station: Station,
}

/// Units of one order line in a parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParcelContent {
    pub order_id: OrderId,
    pub line_no: u32,
    pub quantity: u32,
}

impl Serialize for ReadyParcel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut v = serde_json::to_value(&self.parcel).map_err(S::Error::custom)?;
        if let Some(o) = v.as_object_mut() {
            let ids = serde_json::to_value(&self.order_ids).map_err(S::Error::custom)?;
            o.insert("order_ids".into(), ids);
            if !self.lines.is_empty() {
                let lines = serde_json::to_value(&self.lines).map_err(S::Error::custom)?;
                o.insert("lines".into(), lines);
            }
            if !self.station.is_default() {
                o.insert("station".into(), self.station.as_str().into());
            }
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
        let lines = match v.as_object_mut().and_then(|o| o.remove("lines")) {
            Some(lines) => serde_json::from_value(lines).map_err(D::Error::custom)?,
            None => Vec::new(),
        };
        let station = match v.as_object_mut().and_then(|o| o.remove("station")) {
            Some(serde_json::Value::Null) | None => Station::default(),
            Some(s) => serde_json::from_value(s).map_err(D::Error::custom)?,
        };
        let parcel = serde_json::from_value(v).map_err(D::Error::custom)?;
        Ok(Self {
            parcel,
            order_ids,
            lines,
            station,
        })
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
    /// The station the rider works at; absent: where it was (the default at first).
    #[serde(default)]
    pub station: Option<Station>,
}

impl RiderReport {
    /// The ranges the service accepts (see [`Rider::check_ranges`]).
    pub fn check_ranges(&self, rider: &RiderId) -> Result<(), DispatchError> {
        let item = || format!("rider `{rider}`");
        if let Some(t) = self.shift_end {
            check_time(&item, "shift_end", t)?;
        }
        if let Some(t) = self.free_at {
            check_time(&item, "free_at", t)?;
        }
        if let Some(c) = &self.capacity {
            check_load(
                &item,
                [
                    "capacity.weight_g",
                    "capacity.volume_ml",
                    "capacity.parcels",
                ],
                c,
            )?;
        }
        Ok(())
    }
}

/// What a rider's reports established: written only by that rider's reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiderRecord {
    pub id: RiderId,
    pub position: Point,
    pub position_at: Time,
    pub free_at: Time,
    pub shift_end: Time,
    pub capacity: Load,
    pub capabilities: Capabilities,
    pub online: bool,
    /// Picked up and not yet delivered.
    #[serde(default)]
    pub onboard: Vec<ParcelId>,
    /// The business day `delivered_today` counts (see [`DispatchConfig::business_day`]):
    /// kept with the count, so a new day starts from zero without anyone resetting it.
    #[serde(default)]
    pub delivered_day: i64,
    #[serde(default)]
    pub delivered_today: i64,
    #[serde(default)]
    pub station: Station,
}

impl RiderRecord {
    /// Deliveries on the business day of `now`.
    pub fn delivered_on(&self, config: &DispatchConfig, now: Time) -> i64 {
        if self.delivered_day == config.business_day(now) {
            self.delivered_today
        } else {
            0
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rider `{0}` has never reported a position")]
    NoPosition(RiderId),
    #[error("unknown rider `{0}`")]
    UnknownRider(RiderId),
    /// A parcel or report out of the accepted ranges; nothing of the request was stored.
    #[error(transparent)]
    Invalid(#[from] DispatchError),
    /// A rider may change station only with nothing on its route or on board.
    #[error("rider `{rider}` still has parcels at station `{station}`: deliver or hand them back before moving")]
    Busy { rider: RiderId, station: Station },
}

const CONFIG_KEY: &str = "config";

fn rider_key(id: &RiderId) -> String {
    format!("rider/{id}")
}

fn route_key(id: &RiderId) -> String {
    format!("route/{id}")
}

fn parcel_key(id: &ParcelId) -> String {
    format!("parcel/{id}")
}

fn delivered_key(id: &ParcelId) -> String {
    format!("delivered/{id}")
}

/// The stored configuration of the default station (the app-wide one), or the default
/// when none was ever stored.
pub fn load_config<S: KeyValue>(store: &S) -> Result<DispatchConfig, StoreError> {
    load_config_at(store, &Station::default())
}

/// The configuration runs at `station` use: its own, else the app-wide one (the
/// default station's), else the default.
pub fn load_config_at<S: KeyValue>(
    store: &S,
    station: &Station,
) -> Result<DispatchConfig, StoreError> {
    if let Some(own) = store.get_json(&station.key(CONFIG_KEY))? {
        return Ok(own);
    }
    if station.is_default() {
        return Ok(DispatchConfig::default());
    }
    load_config(store)
}

/// Store a configuration [`parse_config`](super::parse_config) accepted. Plain set: the
/// admin route is its only writer, and the last PUT wins.
pub fn save_config<S: KeyValue>(store: &S, config: &DispatchConfig) -> Result<(), StoreError> {
    save_config_at(store, &Station::default(), config)
}

/// [`save_config`] for one station (the default station's is the app-wide one).
pub fn save_config_at<S: KeyValue>(
    store: &S,
    station: &Station,
    config: &DispatchConfig,
) -> Result<(), StoreError> {
    register_station(store, station)?;
    store.set_json(&station.key(CONFIG_KEY), config)
}

fn register_station<S: KeyValue>(store: &S, station: &Station) -> Result<(), StoreError> {
    if station.is_default() {
        return Ok(());
    }
    index_once(store, "stations", station.as_str())
}

/// Every station that ever had a rider, a parcel or a config: the default first.
pub fn stations<S: KeyValue>(store: &S) -> Result<Vec<Station>, StoreError> {
    let mut out = vec![Station::default()];
    out.extend(
        indexed(store, "stations")?
            .iter()
            .filter_map(|id| Station::parse(id).ok())
            .filter(|s| !s.is_default()),
    );
    Ok(out)
}

/// The station a parcel on the board belongs to (`None`: not on any board).
pub fn station_of_parcel<S: KeyValue>(
    store: &S,
    parcel: &ParcelId,
) -> Result<Option<Station>, StoreError> {
    Ok(store
        .get_json::<BoardParcel>(&parcel_key(parcel))?
        .map(|b| b.ready.station))
}

/// The station a rider works at (the default for a rider never seen).
pub fn rider_station<S: KeyValue>(store: &S, id: &RiderId) -> Result<Station, StoreError> {
    report_station(store, id, &RiderReport::default())
}

/// The station a rider's report puts it at: the one it names, else the rider's current
/// one, else the default (a first report naming none).
pub fn report_station<S: KeyValue>(
    store: &S,
    id: &RiderId,
    report: &RiderReport,
) -> Result<Station, StoreError> {
    if let Some(s) = &report.station {
        return Ok(s.clone());
    }
    Ok(store
        .get_json::<RiderRecord>(&rider_key(id))?
        .map(|r| r.station)
        .unwrap_or_default())
}

fn load_all<S: KeyValue, T: serde::de::DeserializeOwned>(
    store: &S,
    keys: &[String],
) -> Result<Vec<Option<T>>, StoreError> {
    store
        .get_many(keys)?
        .into_iter()
        .map(|b| {
            b.map(|b| {
                serde_json::from_slice(&b)
                    .map_err(|e| StoreError::Backend(format!("stored board entry unreadable: {e}")))
            })
            .transpose()
        })
        .collect()
}

/// The riders working at `station` (a rider that moved on is listed in its old
/// station's index too, and skipped there).
fn records<S: KeyValue>(
    store: &S,
    station: &Station,
) -> Result<Vec<(RiderRecord, Vec<Stop>)>, StoreError> {
    let ids: Vec<RiderId> = indexed(store, &station.key("riders"))?
        .into_iter()
        .map(RiderId)
        .collect();
    let recs: Vec<Option<RiderRecord>> =
        load_all(store, &ids.iter().map(rider_key).collect::<Vec<_>>())?;
    let routes: Vec<Option<Vec<Stop>>> =
        load_all(store, &ids.iter().map(route_key).collect::<Vec<_>>())?;
    Ok(recs
        .into_iter()
        .zip(routes)
        .filter_map(|(rec, route)| Some((rec?, route.unwrap_or_default())))
        .filter(|(rec, _)| &rec.station == station)
        .collect())
}

/// The default station's live board.
pub fn parcels<S: KeyValue>(store: &S) -> Result<Vec<BoardParcel>, StoreError> {
    Ok(live_parcels(store, &Station::default())?.parcels)
}

const K_PARCELS_CURSOR: &str = "parcels/cursor";

/// The board from the cursor on, with each parcel's index position.
struct LiveParcels {
    station: Station,
    cursor: i64,
    /// Index position of each entry of `parcels`.
    positions: Vec<i64>,
    parcels: Vec<BoardParcel>,
}

fn live_parcels<S: KeyValue>(store: &S, station: &Station) -> Result<LiveParcels, StoreError> {
    let cursor = store.increment(&station.key(K_PARCELS_CURSOR), 0)?;
    let n = store.increment(&station.key("parcels/seq"), 0)?;
    let slots: Vec<String> = (cursor + 1..=n)
        .map(|i| station.key(&format!("parcels/idx/{i}")))
        .collect();
    let mut seen = HashSet::new();
    let mut positions = Vec::new();
    let mut keys = Vec::new();
    for (pos, id) in (cursor + 1..=n).zip(store.get_many(&slots)?) {
        let Some(id) = id.and_then(|b| String::from_utf8(b).ok()) else {
            continue;
        };
        if seen.insert(id.clone()) {
            positions.push(pos);
            keys.push(parcel_key(&ParcelId(id)));
        }
    }
    let mut kept_positions = Vec::new();
    let mut parcels = Vec::new();
    for (pos, b) in positions
        .into_iter()
        .zip(load_all::<_, BoardParcel>(store, &keys)?)
    {
        if let Some(b) = b {
            kept_positions.push(pos);
            parcels.push(b);
        }
    }
    Ok(LiveParcels {
        station: station.clone(),
        cursor,
        positions: kept_positions,
        parcels,
    })
}

/// Move the board's cursor past the prefix of delivered parcels
/// ([`crate::store::advance_cursor`]); a position not yet written (an `add_parcels` in
/// flight) ends the prefix.
fn advance_board_cursor<S: KeyValue>(
    store: &S,
    live: &LiveParcels,
    done: &HashSet<ParcelId>,
    now: Time,
) -> Result<(), StoreError> {
    let mut next = live.cursor;
    for (pos, b) in live.positions.iter().zip(&live.parcels) {
        if *pos != next + 1 || !done.contains(&b.ready.parcel.id) {
            break;
        }
        next = *pos;
    }
    crate::store::advance_cursor(
        store,
        &live.station.key(K_PARCELS_CURSOR),
        live.cursor,
        next - live.cursor,
        now,
    )?;
    Ok(())
}

/// Decimal places a delivered parcel's drop-off keeps once its order's personal data
/// is erased: 0.01° is about a kilometre, a district's grain.
const ERASED_DROPOFF_DECIMALS: i32 = 2;

/// Erasure of a finished order (`access::erasure`): the drop-offs of those of `ids`
/// riders reported delivered are cut to about a kilometre (the door is personal data;
/// the district still serves analytics). Parcels not delivered keep theirs: a live
/// parcel must still be routed. Idempotent; returns how many were cut now.
pub fn coarsen_delivered_dropoffs<S: KeyValue>(
    store: &S,
    ids: &[ParcelId],
) -> Result<usize, StoreError> {
    let refs: Vec<&ParcelId> = ids.iter().collect();
    let done = delivered(store, &refs)?;
    let scale = 10f64.powi(ERASED_DROPOFF_DECIMALS);
    let coarse = |v: f64| (v * scale).round() / scale;
    let mut writes = Vec::new();
    for id in ids.iter().filter(|id| done.contains(*id)) {
        let key = parcel_key(id);
        let Some(mut b) = store.get_json::<BoardParcel>(&key)? else {
            continue;
        };
        let Some(point) = b.ready.parcel.dropoff else {
            continue;
        };
        let cut = Point::planar(coarse(point.x), coarse(point.y));
        if cut != point {
            b.ready.parcel.dropoff = Some(cut);
            let bytes = serde_json::to_vec(&b).map_err(|e| StoreError::Backend(e.to_string()))?;
            writes.push((key, bytes));
        }
    }
    store.set_many(&writes)?;
    Ok(writes.len())
}

/// Which of `ids` riders have reported delivered.
fn delivered<S: KeyValue>(store: &S, ids: &[&ParcelId]) -> Result<HashSet<ParcelId>, StoreError> {
    let keys: Vec<String> = ids.iter().map(|p| delivered_key(p)).collect();
    Ok(store
        .get_many(&keys)?
        .into_iter()
        .zip(ids)
        .filter(|(v, _)| v.is_some())
        .map(|(_, p)| (*p).clone())
        .collect())
}

/// The rider the solver sees: the rider's record with the committed route, minus what
/// the rider has picked up or delivered since dispatch wrote the route.
///
/// - a delivered parcel leaves the route and the box;
/// - a picked-up parcel keeps only its drop-off (appended if the route has none, e.g.
///   the pickup raced with a release);
/// - a parcel in someone else's box leaves this route;
/// - a drop-off with no pickup before it and nothing on board is dropped;
/// - stops of parcels not on the board (`known`) are dropped: nothing can be planned
///   for them.
fn derive(
    rec: &RiderRecord,
    route: &[Stop],
    delivered: &HashSet<ParcelId>,
    boxed_by: &HashMap<&ParcelId, &RiderId>,
    known: &dyn Fn(&ParcelId) -> bool,
    config: &DispatchConfig,
    now: Time,
) -> Rider {
    let onboard: Vec<ParcelId> = rec
        .onboard
        .iter()
        .filter(|p| !delivered.contains(*p) && known(p))
        .cloned()
        .collect();
    let mut picked: HashSet<&ParcelId> = HashSet::new();
    let mut stops: Vec<Stop> = Vec::with_capacity(route.len());
    for s in route {
        let p = &s.parcel;
        let elsewhere = boxed_by.get(p).is_some_and(|r| *r != &rec.id);
        if delivered.contains(p) || elsewhere || !known(p) {
            continue;
        }
        let keep = match s.kind {
            StopKind::Pickup => !onboard.contains(p) && picked.insert(p),
            StopKind::Dropoff => {
                (onboard.contains(p) || picked.contains(p))
                    && !stops
                        .iter()
                        .any(|t| &t.parcel == p && t.kind == StopKind::Dropoff)
            }
        };
        if keep {
            stops.push(s.clone());
        }
    }
    for p in &onboard {
        if !stops.iter().any(|s| &s.parcel == p) {
            stops.push(Stop::dropoff(p));
        }
    }
    Rider {
        id: rec.id.clone(),
        position: rec.position,
        position_at: rec.position_at,
        free_at: rec.free_at,
        shift_end: rec.shift_end,
        capacity: rec.capacity,
        capabilities: rec.capabilities,
        online: rec.online,
        onboard,
        route: stops,
        delivered_today: rec.delivered_on(config, now),
    }
}

/// One rider as the solver would see it now (its own box decides; other riders' boxes
/// are not consulted).
pub fn get_rider<S: KeyValue>(
    store: &S,
    id: &RiderId,
    config: &DispatchConfig,
    now: Time,
) -> Result<Option<Rider>, StoreError> {
    let Some(rec) = store.get_json::<RiderRecord>(&rider_key(id))? else {
        return Ok(None);
    };
    let route: Vec<Stop> = store.get_json(&route_key(id))?.unwrap_or_default();
    let ids: Vec<&ParcelId> = route
        .iter()
        .map(|s| &s.parcel)
        .chain(&rec.onboard)
        .collect();
    let done = delivered(store, &ids)?;
    Ok(Some(derive(
        &rec,
        &route,
        &done,
        &HashMap::new(),
        &|_| true,
        config,
        now,
    )))
}

/// Apply a rider's report at `now`; `config` is that of the station the report puts
/// the rider at ([`report_station`]). A rider's first report must carry a position. A
/// report naming another station moves the rider there, if it has nothing on its
/// route or on board ([`BoardError::Busy`] otherwise, nothing stored). Writes only the
/// rider's own keys, so a dispatch run going on meanwhile loses nothing of it.
pub fn report_rider<S: KeyValue>(
    store: &S,
    id: &RiderId,
    report: &RiderReport,
    config: &DispatchConfig,
    now: Time,
) -> Result<(Rider, Progress), BoardError> {
    report.check_ranges(id)?;
    let existing = store.get_json::<RiderRecord>(&rider_key(id))?;
    if let (Some(rec), Some(to)) = (&existing, &report.station) {
        if &rec.station != to {
            let now_there = get_rider(store, id, config, now)?;
            if now_there.is_some_and(|r| !r.route.is_empty() || !r.onboard.is_empty()) {
                return Err(BoardError::Busy {
                    rider: id.clone(),
                    station: rec.station.clone(),
                });
            }
        }
    }
    let mut rec = match existing {
        Some(r) => r,
        None => RiderRecord {
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
            delivered_day: config.business_day(now),
            delivered_today: 0,
            station: Station::default(),
        },
    };
    if let Some(s) = &report.station {
        rec.station = s.clone();
    }
    if let Some(p) = report.position {
        rec.position = p;
        rec.position_at = now;
    }
    rec.free_at = report.free_at.unwrap_or(now.max(rec.free_at));
    if let Some(v) = report.shift_end {
        rec.shift_end = v;
    }
    if let Some(v) = report.capacity {
        rec.capacity = v;
    }
    if let Some(v) = report.capabilities {
        rec.capabilities = v;
    }
    if let Some(v) = report.online {
        rec.online = v;
    }
    let route: Vec<Stop> = store.get_json(&route_key(id))?.unwrap_or_default();
    let done = progress(store, &mut rec, &route, report, config, now)?;
    store.set_json(&rider_key(id), &rec)?;
    // Every report (a listing an earlier report died before is made now).
    register_station(store, &rec.station)?;
    index_once(store, &rec.station.key("riders"), &id.0)?;
    let rider = get_rider(store, id, config, now)?.ok_or(BoardError::UnknownRider(id.clone()))?;
    Ok((rider, done))
}

/// What a report changed on the rider's route.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    pub picked_up: Vec<ParcelId>,
    pub delivered: Vec<ParcelId>,
}

/// Apply pickups and deliveries. Only the rider's own parcels count (on its committed
/// route or in its box): a report naming someone else's parcel changes nothing. A
/// delivery counts once, even if reported again before dispatch re-plans.
fn progress<S: KeyValue>(
    store: &S,
    rec: &mut RiderRecord,
    route: &[Stop],
    report: &RiderReport,
    config: &DispatchConfig,
    now: Time,
) -> Result<Progress, StoreError> {
    let mut done = Progress::default();
    let ids: Vec<&ParcelId> = report.picked_up.iter().chain(&report.delivered).collect();
    let already = delivered(store, &ids)?;
    for p in &report.picked_up {
        let planned = route
            .iter()
            .any(|s| s.kind == StopKind::Pickup && &s.parcel == p);
        if planned && !rec.onboard.contains(p) && !already.contains(p) {
            rec.onboard.push(p.clone());
            done.picked_up.push(p.clone());
        }
    }
    let today = config.business_day(now);
    for p in &report.delivered {
        let mine = rec.onboard.contains(p) || route.iter().any(|s| &s.parcel == p);
        if !mine || already.contains(p) || done.delivered.contains(p) {
            continue;
        }
        store.set(&delivered_key(p), rec.id.0.as_bytes())?;
        rec.onboard.retain(|o| o != p);
        if rec.delivered_day != today {
            rec.delivered_day = today;
            rec.delivered_today = 0;
        }
        rec.delivered_today = rec.delivered_today.saturating_add(1);
        done.delivered.push(p.clone());
    }
    Ok(done)
}

/// The orders a parcel on the board carries (empty for an unknown parcel).
pub fn orders_of<S: KeyValue>(store: &S, parcel: &ParcelId) -> Result<Vec<OrderId>, StoreError> {
    Ok(store
        .get_json::<BoardParcel>(&parcel_key(parcel))?
        .map(|b| b.ready.order_ids)
        .unwrap_or_default())
}

/// Put ready parcels on the boards of their stations, open; returns the stations they
/// are at, each once, in first-seen order. A parcel already on a board keeps its rider
/// (a redelivered hand-over must not take it away) and its station. Every parcel is
/// range-checked first: one out of range refuses the whole batch, before anything is
/// stored.
pub fn add_parcels<S: KeyValue>(
    store: &S,
    ready: &[ReadyParcel],
) -> Result<Vec<Station>, BoardError> {
    for r in ready {
        r.parcel.check_ranges()?;
    }
    let mut stations: Vec<Station> = Vec::new();
    for r in ready {
        let key = parcel_key(&r.parcel.id);
        let existing = store.get_json::<BoardParcel>(&key)?;
        let station = existing
            .as_ref()
            .map_or_else(|| r.station.clone(), |e| e.ready.station.clone());
        let mut ready = r.clone();
        ready.station = station.clone();
        store.set_json(
            &key,
            &BoardParcel {
                ready,
                rider: existing.and_then(|e| e.rider),
            },
        )?;
        if !stations.contains(&station) {
            register_station(store, &station)?;
            stations.push(station.clone());
        }
        index_once(store, &station.key("parcels"), &r.parcel.id.0)?;
    }
    Ok(stations)
}

/// The default station's board as a dispatch problem ([`problem_at`]).
pub fn problem<S: KeyValue>(
    store: &S,
    now: Time,
    config: &DispatchConfig,
) -> Result<(Problem, Vec<BoardParcel>), StoreError> {
    problem_at(store, &Station::default(), now, config)
}

/// `station`'s board as a dispatch problem at `now`: every rider working there
/// (derived, see [`derive`]) and every parcel either open or still on some rider's
/// route, delivered ones excepted.
pub fn problem_at<S: KeyValue>(
    store: &S,
    station: &Station,
    now: Time,
    config: &DispatchConfig,
) -> Result<(Problem, Vec<BoardParcel>), StoreError> {
    let recs = records(store, station)?;
    let live = live_parcels(store, station)?;
    let ids: Vec<&ParcelId> = live.parcels.iter().map(|b| &b.ready.parcel.id).collect();
    let done = delivered(store, &ids)?;
    advance_board_cursor(store, &live, &done, now)?;
    let board = live.parcels;
    let on_board: HashSet<&ParcelId> = board.iter().map(|b| &b.ready.parcel.id).collect();
    let boxed_by: HashMap<&ParcelId, &RiderId> = recs
        .iter()
        .flat_map(|(rec, _)| rec.onboard.iter().map(move |p| (p, &rec.id)))
        .collect();
    let known = |p: &ParcelId| on_board.contains(p);
    let riders: Vec<Rider> = recs
        .iter()
        .map(|(rec, route)| derive(rec, route, &done, &boxed_by, &known, config, now))
        .collect();
    let on_routes: HashSet<&ParcelId> = riders
        .iter()
        .flat_map(|r| r.route.iter().map(|s| &s.parcel).chain(r.onboard.iter()))
        .collect();
    let parcels = board
        .iter()
        .filter(|b| !done.contains(&b.ready.parcel.id))
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

/// [`save_plan_at`] the default station.
pub fn save_plan<S: KeyValue>(
    store: &S,
    problem: &mut Problem,
    board: &[BoardParcel],
    plan: &Plan,
    config: &DispatchConfig,
) -> Result<(), StoreError> {
    save_plan_at(store, &Station::default(), problem, board, plan, config)
}

/// Store a plan made for `station`: riders' committed routes, each assigned parcel's
/// rider, and the plan itself with the problem and config it was made with (for
/// explanations and the rider view). Rider records are not touched: they belong to the
/// riders' reports.
pub fn save_plan_at<S: KeyValue>(
    store: &S,
    station: &Station,
    problem: &mut Problem,
    board: &[BoardParcel],
    plan: &Plan,
    config: &DispatchConfig,
) -> Result<(), StoreError> {
    // Explanations replay the plan against the problem it was made for.
    store.set_json(&station.key("plan/problem"), &*problem)?;
    store.set_json(&station.key("plan/config"), config)?;
    commit_plan(problem, plan);
    for rider in &problem.riders {
        store.set_json(&route_key(&rider.id), &rider.route)?;
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
    store.set_json(&station.key("plan/last"), plan)
}

/// The last plan, with the problem and config it was made for.
#[derive(Debug, Clone, PartialEq)]
pub struct LastPlan {
    pub plan: Plan,
    pub problem: Problem,
    pub config: DispatchConfig,
}

/// The default station's last plan ([`last_plan_at`]).
pub fn last_plan<S: KeyValue>(store: &S) -> Result<Option<LastPlan>, StoreError> {
    last_plan_at(store, &Station::default())
}

/// `station`'s last plan; a plan stored before configs were stored replays with the
/// current one.
pub fn last_plan_at<S: KeyValue>(
    store: &S,
    station: &Station,
) -> Result<Option<LastPlan>, StoreError> {
    let plan: Option<Plan> = store.get_json(&station.key("plan/last"))?;
    let problem: Option<Problem> = store.get_json(&station.key("plan/problem"))?;
    let Some((plan, problem)) = plan.zip(problem) else {
        return Ok(None);
    };
    let config = match store.get_json(&station.key("plan/config"))? {
        Some(c) => c,
        None => load_config_at(store, station)?,
    };
    Ok(Some(LastPlan {
        plan,
        problem,
        config,
    }))
}

/// Write back what a release changed: the riders' routes and the reopened parcels.
fn store_release<S: KeyValue>(
    store: &S,
    problem: &Problem,
    riders: &[&RiderId],
    reopened: &[ParcelId],
) -> Result<(), StoreError> {
    for id in riders {
        if let Some(r) = problem.riders.iter().find(|r| &r.id == *id) {
            store.set_json(&route_key(id), &r.route)?;
        }
    }
    for id in reopened {
        let key = parcel_key(id);
        if let Some(mut b) = store.get_json::<BoardParcel>(&key)? {
            b.rider = None;
            if let Some(p) = problem.parcels.iter().find(|p| &p.id == id) {
                b.ready.parcel.declined_by = p.declined_by.clone();
            }
            store.set_json(&key, &b)?;
        }
    }
    Ok(())
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
    store_release(store, problem, &[rider], &released.reopened)?;
    Ok(released)
}

/// The tick's release of silent riders ([`release_silent`]): their unpicked parcels go
/// back to the board, and each release is kept under `silent/{rider}/{position_at}`
/// (one record per silence: a rider who stays silent is released once).
pub fn release_silent_riders<S: KeyValue>(
    store: &S,
    problem: &mut Problem,
    config: &DispatchConfig,
) -> Result<Vec<SilentRelease>, StoreError> {
    let released = release_silent(problem, config);
    for r in &released {
        store_release(store, problem, &[&r.rider], &r.reopened)?;
        store.set_json(&format!("silent/{}/{}", r.rider, r.position_at), r)?;
    }
    Ok(released)
}

/// What the tick released for `rider` during its silence since `position_at`.
pub fn silent_release<S: KeyValue>(
    store: &S,
    rider: &RiderId,
    position_at: Time,
) -> Result<Option<SilentRelease>, StoreError> {
    store.get_json(&format!("silent/{rider}/{position_at}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::{dispatch, ColdChain, DispatchConfig, Haversine, Iterations};
    use crate::store::MemoryStore;

    fn cfg() -> DispatchConfig {
        DispatchConfig::default()
    }

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
            lines: Vec::new(),
            station: Station::default(),
        }
    }

    fn rid(s: &str) -> RiderId {
        RiderId(s.into())
    }

    fn pid(s: &str) -> ParcelId {
        ParcelId(s.into())
    }

    fn rep(s: &MemoryStore, id: &str, r: &RiderReport, now: Time) -> (Rider, Progress) {
        report_rider(s, &rid(id), r, &cfg(), now).unwrap()
    }

    fn rider(s: &MemoryStore, id: &str, now: Time) -> Rider {
        get_rider(s, &rid(id), &cfg(), now).unwrap().unwrap()
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

    /// The snapshot half of a dispatch run: what the shell reads before the solver.
    fn plan_for(store: &MemoryStore, now: Time) -> (Problem, Vec<BoardParcel>, Plan) {
        let (problem, board) = problem(store, now, &cfg()).unwrap();
        let plan = dispatch(
            &problem,
            &cfg(),
            &Haversine::default(),
            &mut Iterations::new(50),
        )
        .unwrap();
        (problem, board, plan)
    }

    fn run(store: &MemoryStore, now: Time) -> Plan {
        let (mut problem, board, plan) = plan_for(store, now);
        save_plan(store, &mut problem, &board, &plan, &cfg()).unwrap();
        plan
    }

    #[test]
    fn config_is_the_default_until_one_is_stored() {
        let s = MemoryStore::new();
        assert_eq!(load_config(&s).unwrap(), DispatchConfig::default());
        let c = DispatchConfig {
            max_lateness: Some(600),
            ..DispatchConfig::default()
        };
        save_config(&s, &c).unwrap();
        assert_eq!(load_config(&s).unwrap(), c);
    }

    #[test]
    fn first_report_needs_a_position() {
        let s = MemoryStore::new();
        let r = report_rider(&s, &rid("r"), &RiderReport::default(), &cfg(), 0);
        assert!(matches!(r, Err(BoardError::NoPosition(_))));
    }

    #[test]
    fn extreme_parcels_are_refused_whole_batch_and_nothing_is_stored() {
        let s = MemoryStore::new();
        type Spoil = fn(&mut Parcel);
        let cases: [(&str, Spoil); 6] = [
            ("promised_at", |p| p.promised_at = i64::MIN),
            ("ready_at", |p| p.ready_at = i64::MAX),
            ("size.weight_g", |p| p.size.weight_g = i64::MAX),
            ("size.volume_ml", |p| p.size.volume_ml = -1),
            ("size.parcels", |p| p.size.parcels = i64::MIN),
            ("pickup_service", |p| p.pickup_service = -60),
        ];
        for (field, spoil) in cases {
            let mut bad = ready("bad", ColdChain::Ambient);
            spoil(&mut bad.parcel);
            let err = add_parcels(&s, &[ready("fine", ColdChain::Ambient), bad]).unwrap_err();
            match err {
                BoardError::Invalid(e @ DispatchError::OutOfRange { .. }) => {
                    assert_eq!(e.code(), "value_out_of_range");
                    assert!(e.to_string().contains(field), "{field}: {e}");
                    assert!(e.to_string().contains("parcel `bad`"), "{e}");
                }
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(parcels(&s).unwrap().is_empty());
    }

    #[test]
    fn extreme_rider_reports_are_refused_and_change_nothing() {
        let s = MemoryStore::new();
        rep(&s, "a", &report(31.23, 121.47, false), 0);
        let spoilt = [
            RiderReport {
                free_at: Some(i64::MAX),
                ..RiderReport::default()
            },
            RiderReport {
                shift_end: Some(i64::MIN),
                ..RiderReport::default()
            },
            RiderReport {
                capacity: Some(Load::new(1, i64::MAX, 1)),
                ..RiderReport::default()
            },
        ];
        for r in &spoilt {
            let e = report_rider(&s, &rid("a"), r, &cfg(), 5).unwrap_err();
            assert!(matches!(e, BoardError::Invalid(_)), "{e:?}");
        }
        assert_eq!(rider(&s, "a", 5).shift_end, 10_000);
        assert_eq!(rider(&s, "a", 5).free_at, 0);
    }

    #[test]
    fn assigned_parcels_leave_the_open_pool_and_offline_returns_them() {
        let s = MemoryStore::new();
        let a = rid("a");
        rep(&s, "a", &report(31.23, 121.47, true), 0);
        rep(&s, "b", &report(31.23, 121.47, false), 0);
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

        let holder = plan
            .assignments
            .iter()
            .find(|x| x.parcel.0 == "p2")
            .unwrap()
            .rider
            .clone();
        let off = RiderReport {
            online: Some(false),
            ..RiderReport::default()
        };
        rep(&s, &holder.0, &off, 30);
        let (mut pb, _) = problem(&s, 30, &cfg()).unwrap();
        let released = release(&s, &mut pb, &holder, None).unwrap();
        assert!(released.reopened.iter().any(|p| p.0 == "p2"));
        let after = run(&s, 40);
        let p2 = after
            .routes
            .iter()
            .find(|r| r.stops.iter().any(|st| st.parcel.0 == "p2"));
        assert_ne!(p2.map(|r| r.rider.clone()), Some(holder.clone()));
        assert!(!rider(&s, &holder.0, 40).online);
    }

    #[test]
    fn pickups_and_deliveries_move_parcels_off_the_board() {
        let s = MemoryStore::new();
        rep(&s, "a", &report(31.23, 121.47, true), 0);
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
            picked_up: vec![pid("p1"), pid("zz")],
            ..RiderReport::default()
        };
        let (r, done) = rep(&s, "a", &picked, 20);
        assert_eq!(done.picked_up, vec![pid("p1")]);
        assert_eq!(r.onboard, vec![pid("p1")]);
        assert!(!r
            .route
            .iter()
            .any(|st| st.parcel.0 == "p1" && st.kind == StopKind::Pickup));
        let delivered = RiderReport {
            delivered: vec![pid("p1"), pid("zz")],
            ..RiderReport::default()
        };
        let (r, done) = rep(&s, "a", &delivered, 30);
        assert_eq!(done.delivered, vec![pid("p1")]);
        assert_eq!(orders_of(&s, &pid("p1")).unwrap().len(), 1);
        assert!(r.onboard.is_empty());
        assert_eq!(r.delivered_today, 1);
        // Reported again before dispatch re-plans: counted once.
        let (r, done) = rep(&s, "a", &delivered, 31);
        assert!(done.delivered.is_empty());
        assert_eq!(r.delivered_today, 1);
        let (pb, _) = problem(&s, 40, &cfg()).unwrap();
        let ids: Vec<&str> = pb.parcels.iter().map(|p| p.id.0.as_str()).collect();
        assert_eq!(ids, vec!["p2"]);
        // p1 was the first indexed and is delivered: later runs start after it.
        assert_eq!(s.increment(K_PARCELS_CURSOR, 0).unwrap(), 1);
        assert_eq!(parcels(&s).unwrap().len(), 1);
        // The next call plans around the delivered parcel and keeps p2 where it is.
        let plan = run(&s, 50);
        assert!(plan.unassigned.is_empty() && plan.assignments.is_empty());
    }

    #[test]
    fn a_report_made_while_dispatch_runs_is_not_lost() {
        let s = MemoryStore::new();
        rep(&s, "a", &report(31.23, 121.47, true), 0);
        add_parcels(&s, &[ready("p1", ColdChain::Ambient)]).unwrap();
        run(&s, 10);
        add_parcels(&s, &[ready("p2", ColdChain::Ambient)]).unwrap();
        // A run reads the board (p1 still to pick up), then the rider reports a pickup,
        // a new position and a delivery of nothing, then the run stores its plan.
        let (mut snapshot, board, plan) = plan_for(&s, 20);
        let moved = RiderReport {
            position: Some(Point::geo(31.235, 121.475)),
            picked_up: vec![pid("p1")],
            ..RiderReport::default()
        };
        rep(&s, "a", &moved, 21);
        save_plan(&s, &mut snapshot, &board, &plan, &cfg()).unwrap();
        let a = rider(&s, "a", 22);
        assert_eq!(a.position, Point::geo(31.235, 121.475));
        assert_eq!(a.position_at, 21);
        assert_eq!(a.onboard, vec![pid("p1")]);
        assert!(!a
            .route
            .iter()
            .any(|st| st.parcel == pid("p1") && st.kind == StopKind::Pickup));
        assert!(a.route.contains(&Stop::dropoff(&pid("p1"))));
        // The next run sees the same, and plans from it.
        let next = run(&s, 30);
        assert!(next.unassigned.is_empty(), "{next:?}");

        // The same with a delivery landing between snapshot and save.
        let (mut snapshot, board, plan) = plan_for(&s, 40);
        let done = RiderReport {
            delivered: vec![pid("p1")],
            ..RiderReport::default()
        };
        rep(&s, "a", &done, 41);
        save_plan(&s, &mut snapshot, &board, &plan, &cfg()).unwrap();
        let a = rider(&s, "a", 42);
        assert!(a.onboard.is_empty());
        assert!(!a.route.iter().any(|st| st.parcel == pid("p1")));
        assert_eq!(a.delivered_today, 1);
        let (pb, _) = problem(&s, 43, &cfg()).unwrap();
        assert!(!pb.parcels.iter().any(|p| p.id == pid("p1")));
    }

    #[test]
    fn a_pickup_racing_a_release_keeps_the_parcel_with_whoever_has_it() {
        let s = MemoryStore::new();
        rep(&s, "a", &report(31.23, 121.47, false), 0);
        add_parcels(&s, &[ready("p1", ColdChain::Ambient)]).unwrap();
        run(&s, 10);
        rep(&s, "b", &report(31.23, 121.47, false), 15);
        // "a" rejects p1 and it goes to "b"; meanwhile "a" had already picked it up.
        let (mut pb, _) = problem(&s, 20, &cfg()).unwrap();
        let picked = RiderReport {
            picked_up: vec![pid("p1")],
            ..RiderReport::default()
        };
        rep(&s, "a", &picked, 20);
        release(&s, &mut pb, &rid("a"), Some(&[pid("p1")])).unwrap();
        let plan = run(&s, 21);
        assert!(plan.unassigned.is_empty(), "{plan:?}");
        let (pb, _) = problem(&s, 22, &cfg()).unwrap();
        let a = pb.riders.iter().find(|r| r.id == rid("a")).unwrap();
        let b = pb.riders.iter().find(|r| r.id == rid("b")).unwrap();
        assert_eq!(a.onboard, vec![pid("p1")]);
        assert_eq!(a.route, vec![Stop::dropoff(&pid("p1"))]);
        assert!(!b.route.iter().any(|st| st.parcel == pid("p1")), "{b:?}");
        run(&s, 23);
    }

    #[test]
    fn a_silent_rider_gives_back_unpicked_parcels_after_k_times_stale_after() {
        let s = MemoryStore::new();
        let c = cfg();
        rep(&s, "a", &report(31.23, 121.47, false), 0);
        add_parcels(
            &s,
            &[
                ready("p1", ColdChain::Ambient),
                ready("p2", ColdChain::Ambient),
            ],
        )
        .unwrap();
        run(&s, 10);
        rep(
            &s,
            "a",
            &RiderReport {
                picked_up: vec![pid("p1")],
                ..RiderReport::default()
            },
            20,
        );
        let limit = c.release_after().unwrap();
        assert_eq!(limit, 3 * 180);
        // Stale (no new work) but not yet silent long enough: keeps its route.
        let (mut pb, _) = problem(&s, limit, &c).unwrap();
        assert!(release_silent_riders(&s, &mut pb, &c).unwrap().is_empty());
        // A fresh rider appears; "a" stays silent past the limit.
        let now = limit + 1;
        rep(&s, "b", &report(31.23, 121.47, false), now);
        let (mut pb, board) = problem(&s, now, &c).unwrap();
        let released = release_silent_riders(&s, &mut pb, &c).unwrap();
        assert_eq!(released.len(), 1);
        let r = &released[0];
        assert_eq!((r.rider.clone(), r.position_at), (rid("a"), 0));
        assert_eq!((r.silent_for, r.limit), (now, limit));
        assert_eq!(r.reopened, vec![pid("p2")]);
        assert_eq!(r.stranded, vec![pid("p1")]);
        assert_eq!(silent_release(&s, &rid("a"), 0).unwrap().as_ref(), Some(r));
        let plan = dispatch(&pb, &c, &Haversine::default(), &mut Iterations::new(20)).unwrap();
        assert_eq!(plan.assignments.len(), 1);
        assert_eq!(plan.assignments[0].rider, rid("b"));
        save_plan(&s, &mut pb, &board, &plan, &c).unwrap();
        // "a" still holds p1 and must deliver it; nothing else is released later.
        let a = rider(&s, "a", now + 10);
        assert_eq!(a.onboard, vec![pid("p1")]);
        assert_eq!(a.route, vec![Stop::dropoff(&pid("p1"))]);
        let (mut pb, _) = problem(&s, now + 100, &c).unwrap();
        assert!(release_silent_riders(&s, &mut pb, &c).unwrap().is_empty());

        // 0 turns the release off.
        let never = DispatchConfig {
            release_stale_after: 0,
            ..cfg()
        };
        assert_eq!(never.release_after(), None);
    }

    #[test]
    fn erasure_cuts_delivered_drop_offs_only() {
        let s = MemoryStore::new();
        let at = 1_763_996_400;
        rep(
            &s,
            "a",
            &RiderReport {
                shift_end: Some(at + 86_400),
                ..report(31.23, 121.47, false)
            },
            at,
        );
        // Doors to the metre, as geocoders give them.
        let at_the_door = |id: &str| {
            let mut r = ready(id, ColdChain::Ambient);
            r.parcel.dropoff = Some(Point::geo(31.234_567, 121.487_654));
            r
        };
        add_parcels(&s, &[at_the_door("p1")]).unwrap();
        add_parcels(&s, &[at_the_door("p2")]).unwrap();
        run(&s, at);
        let r = RiderReport {
            delivered: vec![pid("p1")],
            ..RiderReport::default()
        };
        rep(&s, "a", &r, at + 600);
        let dropoff = |p: &str| {
            s.get_json::<BoardParcel>(&parcel_key(&pid(p)))
                .unwrap()
                .unwrap()
                .ready
                .parcel
                .dropoff
        };
        let live_before = dropoff("p2");
        let ids = [pid("p1"), pid("p2")];
        assert_eq!(coarsen_delivered_dropoffs(&s, &ids).unwrap(), 1);
        assert_eq!(dropoff("p1"), Some(Point::geo(31.23, 121.49)));
        assert_eq!(dropoff("p2"), live_before, "a live parcel keeps its door");
        assert_eq!(
            coarsen_delivered_dropoffs(&s, &ids).unwrap(),
            0,
            "idempotent"
        );
    }

    #[test]
    fn deliveries_count_per_business_day() {
        let s = MemoryStore::new();
        let c = cfg();
        // 2025-11-24 23:00 in Shanghai (15:00 UTC).
        let evening = 1_763_996_400;
        rep(
            &s,
            "a",
            &RiderReport {
                shift_end: Some(evening + 86_400),
                ..report(31.23, 121.47, false)
            },
            evening,
        );
        add_parcels(&s, &[ready("p1", ColdChain::Ambient)]).unwrap();
        add_parcels(&s, &[ready("p2", ColdChain::Ambient)]).unwrap();
        run(&s, evening);
        let deliver = |p: &str, at: Time| {
            let r = RiderReport {
                delivered: vec![pid(p)],
                ..RiderReport::default()
            };
            rep(&s, "a", &r, at).0
        };
        assert_eq!(deliver("p1", evening + 600).delivered_today, 1);
        // Past local midnight the count reads zero even before the next delivery...
        let after_midnight = evening + 3_600 + 60;
        assert_eq!(c.business_day(after_midnight), c.business_day(evening) + 1);
        assert_eq!(rider(&s, "a", after_midnight).delivered_today, 0);
        let (pb, _) = problem(&s, after_midnight, &c).unwrap();
        assert_eq!(pb.riders[0].delivered_today, 0);
        // ...and the next delivery starts the new day at one.
        assert_eq!(deliver("p2", after_midnight).delivered_today, 1);
    }

    fn at(station: &str, mut r: ReadyParcel) -> ReadyParcel {
        r.station = Station::parse(station).unwrap();
        r
    }

    fn in_station(station: &str, r: RiderReport) -> RiderReport {
        RiderReport {
            station: Some(Station::parse(station).unwrap()),
            ..r
        }
    }

    #[test]
    fn stations_plan_apart_with_their_own_riders_parcels_plans_and_configs() {
        let s = MemoryStore::new();
        let (east, west) = (
            Station::parse("east").unwrap(),
            Station::parse("west").unwrap(),
        );
        rep(
            &s,
            "e1",
            &in_station("east", report(31.23, 121.47, true)),
            0,
        );
        rep(
            &s,
            "w1",
            &in_station("west", report(31.23, 121.47, true)),
            0,
        );
        rep(&s, "d1", &report(31.23, 121.47, true), 0);
        let added = add_parcels(
            &s,
            &[
                at("east", ready("pe", ColdChain::Ambient)),
                at("west", ready("pw", ColdChain::Ambient)),
                at("east", ready("pe2", ColdChain::Ambient)),
            ],
        )
        .unwrap();
        assert_eq!(added, vec![east.clone(), west.clone()]);
        assert_eq!(
            stations(&s).unwrap(),
            vec![Station::default(), east.clone(), west.clone()]
        );
        assert_eq!(
            station_of_parcel(&s, &pid("pw")).unwrap(),
            Some(west.clone())
        );
        assert_eq!(station_of_parcel(&s, &pid("zz")).unwrap(), None);

        // A station's run sees only its own riders and parcels.
        let (pb, board) = problem_at(&s, &east, 10, &cfg()).unwrap();
        let riders: Vec<&str> = pb.riders.iter().map(|r| r.id.0.as_str()).collect();
        let mut parcels: Vec<&str> = pb.parcels.iter().map(|p| p.id.0.as_str()).collect();
        parcels.sort();
        assert_eq!(riders, vec!["e1"]);
        assert_eq!(parcels, vec!["pe", "pe2"]);
        let mut pb = pb;
        let plan = dispatch(&pb, &cfg(), &Haversine::default(), &mut Iterations::new(20)).unwrap();
        assert!(plan.assignments.iter().all(|a| a.rider == rid("e1")));
        save_plan_at(&s, &east, &mut pb, &board, &plan, &cfg()).unwrap();
        assert!(last_plan_at(&s, &east).unwrap().is_some());
        assert!(last_plan_at(&s, &west).unwrap().is_none());
        assert!(last_plan(&s).unwrap().is_none());
        // The default station keeps the original keys and sees none of it.
        let (pb, _) = problem(&s, 10, &cfg()).unwrap();
        assert_eq!(pb.riders.len(), 1);
        assert!(pb.parcels.is_empty());
        assert!(s.get("station/east/riders/seq").unwrap().is_some());

        // Configs: a station's own, else the app-wide one, else the default.
        assert_eq!(
            load_config_at(&s, &west).unwrap(),
            DispatchConfig::default()
        );
        let wide = DispatchConfig {
            stale_after: 60,
            ..DispatchConfig::default()
        };
        save_config(&s, &wide).unwrap();
        assert_eq!(load_config_at(&s, &west).unwrap(), wide);
        let own = DispatchConfig {
            stale_after: 5,
            ..DispatchConfig::default()
        };
        save_config_at(&s, &west, &own).unwrap();
        assert_eq!(load_config_at(&s, &west).unwrap(), own);
        assert_eq!(load_config_at(&s, &east).unwrap(), wide);
        assert_eq!(load_config(&s).unwrap(), wide);
    }

    #[test]
    fn a_rider_moves_station_only_with_nothing_to_do() {
        let s = MemoryStore::new();
        let (east, west) = (
            Station::parse("east").unwrap(),
            Station::parse("west").unwrap(),
        );
        rep(&s, "r", &in_station("east", report(31.23, 121.47, true)), 0);
        assert_eq!(
            report_station(&s, &rid("r"), &RiderReport::default()).unwrap(),
            east
        );
        add_parcels(&s, &[at("east", ready("p1", ColdChain::Ambient))]).unwrap();
        let (mut pb, board) = problem_at(&s, &east, 10, &cfg()).unwrap();
        let plan = dispatch(&pb, &cfg(), &Haversine::default(), &mut Iterations::new(20)).unwrap();
        save_plan_at(&s, &east, &mut pb, &board, &plan, &cfg()).unwrap();
        let move_west = in_station("west", RiderReport::default());
        let err = report_rider(&s, &rid("r"), &move_west, &cfg(), 20).unwrap_err();
        assert!(
            matches!(err, BoardError::Busy { ref station, .. } if *station == east),
            "{err:?}"
        );
        assert_eq!(rider_record(&s, "r").station, east);
        // Delivered: free to move, and only the new station lists it.
        let done = RiderReport {
            delivered: vec![pid("p1")],
            ..RiderReport::default()
        };
        rep(&s, "r", &done, 30);
        rep(&s, "r", &move_west, 40);
        assert_eq!(rider_record(&s, "r").station, west);
        assert!(problem_at(&s, &east, 50, &cfg())
            .unwrap()
            .0
            .riders
            .is_empty());
        assert_eq!(problem_at(&s, &west, 50, &cfg()).unwrap().0.riders.len(), 1);
        // A parcel handed over again keeps the station it was first given to.
        add_parcels(&s, &[at("west", ready("p1", ColdChain::Ambient))]).unwrap();
        assert_eq!(station_of_parcel(&s, &pid("p1")).unwrap(), Some(east));
    }

    fn rider_record(s: &MemoryStore, id: &str) -> RiderRecord {
        s.get_json(&rider_key(&rid(id))).unwrap().unwrap()
    }

    #[test]
    fn re_adding_an_assigned_parcel_keeps_its_rider() {
        let s = MemoryStore::new();
        rep(&s, "a", &report(31.23, 121.47, true), 0);
        add_parcels(&s, &[ready("p1", ColdChain::Ambient)]).unwrap();
        run(&s, 10);
        add_parcels(&s, &[ready("p1", ColdChain::Ambient)]).unwrap();
        let b = parcels(&s).unwrap();
        assert_eq!(b[0].rider, Some(rid("a")));
    }
}
