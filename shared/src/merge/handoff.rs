//! From a delivered group to dispatch: one [`ReadyParcel`] per split parcel, and the
//! queue that makes sure every delivered group reaches dispatch at least once.
//!
//! Where a parcel is picked up is the store's business, not the order's: the channels
//! send a store code (`app_poi_code`, `shopId`), so the merge store keeps a table of
//! [`PickupPoints`] (location, preparation time and dispatch station per store code),
//! set by an operator. A store missing from it leaves the parcel without a pickup
//! point; dispatch then flags it `bad_address` (missing coordinates) for customer
//! service instead of guessing.
//!
//! **One key per store.** Each store's [`PickupPoint`] is its own key
//! (`merge/config/pickup/{store}`, listed once in the `merge/config/pickups` index), so
//! operators of different stores setting theirs at once never overwrite each other
//! ([`install_pickup`]); the table key (`merge/config/pickups`) keeps the timing
//! defaults. Replacing the whole table ([`install_pickups`]) rewrites both. A table
//! stored before per-store keys existed still counts: its stores are read under the
//! per-store keys.
//!
//! **At least once, no CAS.** [`super::deliver`] queues the group before it stores the
//! delivery (`merge/handoff/n` hands out slots by `increment`; a claim counter per group
//! keeps it to one slot). The shell posts the parcels and then marks the group handed
//! over; the close-windows job retries queued groups that are not marked, so a crash or
//! a dispatch outage between the two only delays a parcel. Dispatch takes a repeated
//! parcel as the same parcel (keyed by its id).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::delivery::GroupDelivery;
use super::MergeError;
use crate::dispatch::state::{ParcelContent, ReadyParcel};
use crate::dispatch::Station;
use crate::dispatch::{ColdChain, Load, Parcel, ParcelId, Point, Time};
use crate::order::{Order, OrderId, TemperatureZone};
use crate::store::{index_once, indexed, key_part, KeyValue};

const K_PICKUPS: &str = "merge/config/pickups";
/// Index family of the stores with their own pickup key.
const K_PICKUP_STORES: &str = "merge/config/pickups";
const K_QUEUE_LEN: &str = "merge/handoff/n";
const K_QUEUE_CURSOR: &str = "merge/handoff/cursor";

fn k_slot(n: i64) -> String {
    format!("merge/handoff/slot/{n}")
}
fn k_queued(group_id: &str) -> String {
    format!("merge/handoff/queued/{group_id}")
}
fn k_done(group_id: &str) -> String {
    format!("merge/handoff/done/{group_id}")
}
fn k_pickup(store_id: &str) -> String {
    format!("merge/config/pickup/{}", key_part(store_id))
}

/// One store's pickup point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PickupPoint {
    /// GCJ-02 degrees, like every stored coordinate.
    pub lat: f64,
    pub lng: f64,
    /// Minutes from release to the parcel being ready at the counter; `None`: the
    /// table's default.
    #[serde(default)]
    pub prep_minutes: Option<u32>,
    /// The dispatch station whose riders carry this store's parcels
    /// ([`crate::dispatch::Station`]); `None`: the default station.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station: Option<String>,
}

impl PickupPoint {
    /// The station this store's parcels go to.
    pub fn station(&self) -> Station {
        self.station
            .as_deref()
            .and_then(|s| Station::parse(s).ok())
            .unwrap_or_default()
    }
}

/// The pickup table and the handover's timing defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PickupPoints {
    /// By the order's `store_id`.
    #[serde(default)]
    pub stores: BTreeMap<String, PickupPoint>,
    #[serde(default = "default_prep")]
    pub default_prep_minutes: u32,
    /// The promise of an order that gave none (ASAP): placed + this.
    #[serde(default = "default_asap")]
    pub asap_promise_minutes: u32,
    #[serde(default = "default_pickup_service")]
    pub pickup_service_seconds: u32,
    #[serde(default = "default_dropoff_service")]
    pub dropoff_service_seconds: u32,
}

fn default_prep() -> u32 {
    10
}
fn default_asap() -> u32 {
    60
}
fn default_pickup_service() -> u32 {
    120
}
fn default_dropoff_service() -> u32 {
    180
}

impl Default for PickupPoints {
    fn default() -> Self {
        Self {
            stores: BTreeMap::new(),
            default_prep_minutes: default_prep(),
            asap_promise_minutes: default_asap(),
            pickup_service_seconds: default_pickup_service(),
            dropoff_service_seconds: default_dropoff_service(),
        }
    }
}

/// Why a pickup table was refused: every problem, with its JSON path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PickupError {
    pub path: String,
    pub message: String,
}

/// Preparation and promises longer than a day are typing errors, not plans.
const MAX_MINUTES: u32 = 24 * 60;

/// Longest store code kept (a longer one is a typing error).
const MAX_STORE_ID: usize = 128;

/// Every problem of one store's entry, with paths under `path` (`$.stores.{id}` in a
/// table, `$` alone).
fn check_point(path: &str, id: &str, p: &PickupPoint, errors: &mut Vec<PickupError>) {
    if id.is_empty() || id.len() > MAX_STORE_ID {
        errors.push(PickupError {
            path: path.to_string(),
            message: format!("a store code is 1 to {MAX_STORE_ID} bytes"),
        });
    }
    let valid = p.lat.is_finite()
        && p.lng.is_finite()
        && (-90.0..=90.0).contains(&p.lat)
        && (-180.0..=180.0).contains(&p.lng);
    if !valid {
        errors.push(PickupError {
            path: path.to_string(),
            message: format!("({}, {}) is not a latitude/longitude", p.lat, p.lng),
        });
    }
    if p.prep_minutes.is_some_and(|m| m > MAX_MINUTES) {
        errors.push(PickupError {
            path: format!("{path}.prep_minutes"),
            message: format!("more than {MAX_MINUTES} minutes"),
        });
    }
    if let Some(Err(e)) = p.station.as_deref().map(Station::parse) {
        errors.push(PickupError {
            path: format!("{path}.station"),
            message: e.to_string(),
        });
    }
}

/// Parse and check one store's pickup point (`PUT /admin/merge/pickups/{store}`).
pub fn parse_pickup(store_id: &str, json: &str) -> Result<PickupPoint, Vec<PickupError>> {
    let point: PickupPoint = serde_json::from_str(json).map_err(|e| {
        vec![PickupError {
            path: "$".into(),
            message: e.to_string(),
        }]
    })?;
    let mut errors = Vec::new();
    check_point("$", store_id, &point, &mut errors);
    if errors.is_empty() {
        Ok(point)
    } else {
        Err(errors)
    }
}

/// Parse and check a pickup table.
pub fn parse_pickups(json: &str) -> Result<PickupPoints, Vec<PickupError>> {
    let points: PickupPoints = serde_json::from_str(json).map_err(|e| {
        vec![PickupError {
            path: "$".into(),
            message: e.to_string(),
        }]
    })?;
    let mut errors = Vec::new();
    for (id, p) in &points.stores {
        check_point(&format!("$.stores.{id}"), id, p, &mut errors);
    }
    for (field, v) in [
        ("default_prep_minutes", points.default_prep_minutes),
        ("asap_promise_minutes", points.asap_promise_minutes),
        ("pickup_service_seconds", points.pickup_service_seconds / 60),
        (
            "dropoff_service_seconds",
            points.dropoff_service_seconds / 60,
        ),
    ] {
        if v > MAX_MINUTES {
            errors.push(PickupError {
                path: format!("$.{field}"),
                message: format!("more than {MAX_MINUTES} minutes"),
            });
        }
    }
    if errors.is_empty() {
        Ok(points)
    } else {
        Err(errors)
    }
}

/// The table key: timing defaults, and the stores of a table stored before per-store
/// keys existed.
fn load_table(merge: &impl KeyValue) -> Result<PickupPoints, MergeError> {
    match merge.get(K_PICKUPS)? {
        None => Ok(PickupPoints::default()),
        Some(bytes) => parse_pickups(&String::from_utf8_lossy(&bytes)).map_err(|errs| {
            let all: Vec<String> = errs.iter().map(ToString::to_string).collect();
            MergeError::Corrupt(format!("stored pickup points: {}", all.join("; ")))
        }),
    }
}

/// The per-store entries of `stores` that exist (a key holding `null` was removed).
fn load_entries(
    merge: &impl KeyValue,
    stores: &[String],
) -> Result<Vec<(String, Option<PickupPoint>)>, MergeError> {
    let keys: Vec<String> = stores.iter().map(|s| k_pickup(s)).collect();
    let mut out = Vec::new();
    for (store, bytes) in stores.iter().zip(merge.get_many(&keys)?) {
        let Some(bytes) = bytes else { continue };
        let point: Option<PickupPoint> = serde_json::from_slice(&bytes)
            .map_err(|e| MergeError::Corrupt(format!("stored pickup point of `{store}`: {e}")))?;
        out.push((store.clone(), point));
    }
    Ok(out)
}

/// The whole table: defaults, and every store's pickup point.
pub fn load_pickups(merge: &impl KeyValue) -> Result<PickupPoints, MergeError> {
    let mut table = load_table(merge)?;
    for (store, point) in load_entries(merge, &indexed(merge, K_PICKUP_STORES)?)? {
        match point {
            Some(p) => table.stores.insert(store, p),
            None => table.stores.remove(&store),
        };
    }
    Ok(table)
}

/// The defaults and the pickup points of `stores` only: what one hand-over needs,
/// without reading every store's entry.
pub fn load_pickups_for(
    merge: &impl KeyValue,
    stores: &[&str],
) -> Result<PickupPoints, MergeError> {
    let mut table = load_table(merge)?;
    table.stores.retain(|id, _| stores.contains(&id.as_str()));
    let wanted: Vec<String> = stores.iter().map(|s| s.to_string()).collect();
    for (store, point) in load_entries(merge, &wanted)? {
        match point {
            Some(p) => table.stores.insert(store, p),
            None => table.stores.remove(&store),
        };
    }
    Ok(table)
}

/// One store's pickup point, if it has one.
pub fn load_pickup(merge: &impl KeyValue, store: &str) -> Result<Option<PickupPoint>, MergeError> {
    Ok(load_pickups_for(merge, &[store])?.stores.remove(store))
}

/// Validate and store a whole pickup table: it replaces the defaults and every store's
/// entry (a store missing from it no longer has a pickup point).
pub fn install_pickups(
    merge: &impl KeyValue,
    json: &str,
) -> Result<Result<PickupPoints, Vec<PickupError>>, MergeError> {
    let points = match parse_pickups(json) {
        Ok(points) => points,
        Err(errors) => return Ok(Err(errors)),
    };
    let mut writes = Vec::new();
    for store in indexed(merge, K_PICKUP_STORES)? {
        if !points.stores.contains_key(&store) {
            writes.push((k_pickup(&store), b"null".to_vec()));
        }
    }
    for (store, point) in &points.stores {
        index_once(merge, K_PICKUP_STORES, store)?;
        writes.push((k_pickup(store), to_json(&Some(point))?));
    }
    let defaults = PickupPoints {
        stores: BTreeMap::new(),
        ..points.clone()
    };
    writes.push((K_PICKUPS.to_string(), to_json(&defaults)?));
    merge.set_many(&writes)?;
    Ok(Ok(points))
}

/// Validate and store one store's pickup point, leaving every other store's as it is.
pub fn install_pickup(
    merge: &impl KeyValue,
    store: &str,
    json: &str,
) -> Result<Result<PickupPoint, Vec<PickupError>>, MergeError> {
    let point = match parse_pickup(store, json) {
        Ok(point) => point,
        Err(errors) => return Ok(Err(errors)),
    };
    index_once(merge, K_PICKUP_STORES, store)?;
    merge.set(&k_pickup(store), &to_json(&Some(&point))?)?;
    Ok(Ok(point))
}

/// Remove one store's pickup point; whether it had one.
pub fn remove_pickup(merge: &impl KeyValue, store: &str) -> Result<bool, MergeError> {
    let had = load_pickup(merge, store)?.is_some();
    if had {
        index_once(merge, K_PICKUP_STORES, store)?;
        merge.set(&k_pickup(store), b"null")?;
    }
    Ok(had)
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, MergeError> {
    serde_json::to_vec(value).map_err(|e| MergeError::Corrupt(e.to_string()))
}

/// The parcels of a delivered group as dispatch takes them. `orders` are the group's
/// orders as the book holds them. Orders that no rider carries (collected at a pickup
/// point or in store), cancelled orders and orders held by an exception (unknown SKU,
/// out of stock, …: [`crate::order::ExceptionCode::holds_delivery`]) are left out; a
/// parcel left with no order is not handed over. A group whose split failed hands over nothing: its orders carry the
/// split's exception.
pub fn ready_parcels(
    delivery: &GroupDelivery,
    orders: &[Order],
    points: &PickupPoints,
) -> Vec<ReadyParcel> {
    let Some(plan) = &delivery.plan else {
        return Vec::new();
    };
    let by_id: BTreeMap<&OrderId, &Order> = orders.iter().map(|o| (&o.id, o)).collect();
    let released = delivery.group.released_at;
    let mut out = Vec::new();
    for p in &plan.parcels {
        let members: Vec<&Order> = p
            .orders
            .iter()
            .filter_map(|id| by_id.get(id).copied())
            .filter(|o| o.delivery_address().is_some() && !o.status().is_terminal())
            .filter(|o| !o.exceptions.iter().any(|e| e.code.holds_delivery()))
            .collect();
        let Some(first) = members.first() else {
            continue;
        };
        let store = first.store_id.as_deref().and_then(|s| points.stores.get(s));
        let prep = store
            .and_then(|s| s.prep_minutes)
            .unwrap_or(points.default_prep_minutes);
        let dropoff = members
            .iter()
            .find_map(|o| o.delivery_address().and_then(|a| a.location))
            .map(|g| Point::geo(g.lat, g.lng));
        let promised = members
            .iter()
            .map(|o| promise_of(o, points.asap_promise_minutes))
            .min()
            .unwrap_or(released);
        let order_ids: Vec<OrderId> = members.iter().map(|o| o.id.clone()).collect();
        let lines: Vec<ParcelContent> = p
            .lines
            .iter()
            .filter(|l| order_ids.contains(&l.order_id))
            .map(|l| ParcelContent {
                order_id: l.order_id.clone(),
                line_no: l.line_no,
                quantity: l.quantity,
            })
            .collect();
        out.push(ReadyParcel {
            parcel: Parcel {
                id: ParcelId(p.parcel_id.clone()),
                pickup: store.map(|s| Point::geo(s.lat, s.lng)),
                dropoff,
                ready_at: secs(released + Duration::minutes(i64::from(prep))),
                promised_at: secs(promised),
                size: Load::new(
                    i64::try_from(p.weight_g).unwrap_or(i64::MAX),
                    i64::try_from(p.volume_cm3).unwrap_or(i64::MAX),
                    1,
                ),
                cold_chain: cold_chain(p.zone),
                zone: first.delivery_address().and_then(|a| a.district.clone()),
                pickup_service: Time::from(points.pickup_service_seconds),
                dropoff_service: Time::from(points.dropoff_service_seconds),
                declined_by: Vec::new(),
            },
            order_ids,
            lines,
            station: store.map(PickupPoint::station).unwrap_or_default(),
        });
    }
    out
}

/// The latest acceptable arrival: the window's end, else its start, else placed + ASAP.
fn promise_of(order: &Order, asap_minutes: u32) -> DateTime<Utc> {
    let w = &order.promised;
    w.end
        .or(w.start)
        .unwrap_or(order.placed_at + Duration::minutes(i64::from(asap_minutes)))
}

fn secs(t: DateTime<Utc>) -> Time {
    t.timestamp()
}

fn cold_chain(zone: TemperatureZone) -> ColdChain {
    match zone {
        TemperatureZone::Ambient => ColdChain::Ambient,
        TemperatureZone::Chilled => ColdChain::Chilled,
        TemperatureZone::Frozen => ColdChain::Frozen,
    }
}

/// Queue a group for handover, once per group id.
pub fn queue(merge: &impl KeyValue, group_id: &str) -> Result<(), MergeError> {
    if merge.increment(&k_queued(group_id), 1)? == 1 {
        let n = merge.increment(K_QUEUE_LEN, 1)?;
        merge.set(&k_slot(n), group_id.as_bytes())?;
    }
    Ok(())
}

/// Dispatch has the group's parcels.
pub fn mark_handed_over(merge: &impl KeyValue, group_id: &str) -> Result<(), MergeError> {
    merge.increment(&k_done(group_id), 1)?;
    Ok(())
}

pub fn is_handed_over(merge: &impl KeyValue, group_id: &str) -> Result<bool, MergeError> {
    // Only `mark_handed_over` creates the key, so its presence is the answer: a read,
    // where `increment(k, 0)` would be a write transaction on every check.
    Ok(merge.exists(&k_done(group_id))?)
}

/// Queued groups not yet handed over, oldest first, at most `max`.
///
/// Also moves the cursor past the handed-over prefix so the scan stays short
/// ([`crate::store::advance_cursor`]: no queued group is ever skipped). A slot claimed
/// but not yet written (a writer in flight) stops the prefix: it is looked at again.
pub fn pending(
    merge: &impl KeyValue,
    max: usize,
    now: DateTime<Utc>,
) -> Result<Vec<String>, MergeError> {
    let len = merge.increment(K_QUEUE_LEN, 0)?;
    let cursor = merge.increment(K_QUEUE_CURSOR, 0)?;
    let mut out = Vec::new();
    let mut advance = 0;
    let mut prefix_done = true;
    for n in cursor + 1..=len {
        if out.len() >= max {
            break;
        }
        let Some(bytes) = merge.get(&k_slot(n))? else {
            prefix_done = false;
            continue;
        };
        let gid = String::from_utf8_lossy(&bytes).into_owned();
        if is_handed_over(merge, &gid)? {
            if prefix_done {
                advance += 1;
            }
        } else {
            prefix_done = false;
            out.push(gid);
        }
    }
    crate::store::advance_cursor(merge, K_QUEUE_CURSOR, cursor, advance, now.timestamp())?;
    Ok(out)
}

#[cfg(test)]
mod tests;
