//! The dispatch vocabulary: riders, parcels, the stops of a route.
//!
//! Times are plain integers ([`Time`]): seconds in the service, but the core only needs
//! the unit to agree with the [`TravelModel`](super::TravelModel) it is given (the meal
//! delivery benchmark runs in whole minutes).

use serde::{Deserialize, Serialize};

use super::error::DispatchError;

/// A point in time or a duration, in the unit of the travel model (seconds in the service).
pub type Time = i64;

/// Points in time the service accepts: ±2^40 s, about 34,800 years either side of 1970.
/// Any real timestamp fits, and a route's sums of such values stay far from i64's limits.
pub const TIME_LIMIT: Time = 1 << 40;
/// Longest pickup or drop-off service the service accepts: two days, so anything the
/// merge step's pickup settings allow (up to a day and a minute) always passes.
pub const SERVICE_LIMIT: Time = 2 * 86_400;
/// Largest weight (g), volume (ml) or parcel count: 2^40 g is a million tonnes.
pub const LOAD_LIMIT: i64 = 1 << 40;

fn in_range(
    item: &dyn Fn() -> String,
    field: &'static str,
    value: i64,
    min: i64,
    max: i64,
) -> Result<(), DispatchError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(DispatchError::OutOfRange {
            item: item(),
            field,
            value,
            min,
            max,
        })
    }
}

/// A point in time within ±[`TIME_LIMIT`].
pub fn check_time(
    item: &dyn Fn() -> String,
    field: &'static str,
    t: Time,
) -> Result<(), DispatchError> {
    in_range(item, field, t, -TIME_LIMIT, TIME_LIMIT)
}

/// Every component of a size or capacity within 0..=[`LOAD_LIMIT`]; `fields` names them
/// (weight, volume, parcels).
pub fn check_load(
    item: &dyn Fn() -> String,
    fields: [&'static str; 3],
    load: &Load,
) -> Result<(), DispatchError> {
    in_range(item, fields[0], load.weight_g, 0, LOAD_LIMIT)?;
    in_range(item, fields[1], load.volume_ml, 0, LOAD_LIMIT)?;
    in_range(item, fields[2], load.parcels, 0, LOAD_LIMIT)
}

/// A location. For the service `y` is latitude and `x` longitude (GCJ-02 degrees, as the
/// channels send them); for planar benchmarks both are metres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    pub fn planar(x: f64, y: f64) -> Self {
        Self { x, y }
    }

    pub fn geo(lat: f64, lng: f64) -> Self {
        Self { x: lng, y: lat }
    }

    pub fn lat(&self) -> f64 {
        self.y
    }

    pub fn lng(&self) -> f64 {
        self.x
    }

    pub fn is_finite(&self) -> bool {
        self.x.is_finite() && self.y.is_finite()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RiderId(pub String);

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ParcelId(pub String);

impl std::fmt::Display for RiderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for ParcelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The temperature a parcel must travel at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColdChain {
    #[default]
    Ambient,
    Chilled,
    Frozen,
}

/// What a rider's equipment allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Capabilities {
    /// An insulated box: enough for chilled goods.
    pub insulated: bool,
    /// A freezer box: frozen goods, and chilled goods too.
    pub freezer: bool,
}

impl Capabilities {
    pub fn can_carry(&self, cold: ColdChain) -> bool {
        match cold {
            ColdChain::Ambient => true,
            ColdChain::Chilled => self.insulated || self.freezer,
            ColdChain::Frozen => self.freezer,
        }
    }
}

/// Weight, volume and parcel count: a parcel's size or a rider's capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Load {
    pub weight_g: i64,
    pub volume_ml: i64,
    pub parcels: i64,
}

impl Load {
    pub fn new(weight_g: i64, volume_ml: i64, parcels: i64) -> Self {
        Self {
            weight_g,
            volume_ml,
            parcels,
        }
    }

    /// A single parcel of the given weight and volume.
    pub fn parcel(weight_g: i64, volume_ml: i64) -> Self {
        Self::new(weight_g, volume_ml, 1)
    }

    pub fn fits_within(&self, capacity: &Load) -> bool {
        self.weight_g <= capacity.weight_g
            && self.volume_ml <= capacity.volume_ml
            && self.parcels <= capacity.parcels
    }

    /// Saturating: a saturated load exceeds every capacity the service accepts, so it
    /// can only make a route infeasible, never wrap into a small one.
    pub fn plus(&self, other: &Load) -> Load {
        Load::new(
            self.weight_g.saturating_add(other.weight_g),
            self.volume_ml.saturating_add(other.volume_ml),
            self.parcels.saturating_add(other.parcels),
        )
    }

    pub fn minus(&self, other: &Load) -> Load {
        Load::new(
            self.weight_g.saturating_sub(other.weight_g),
            self.volume_ml.saturating_sub(other.volume_ml),
            self.parcels.saturating_sub(other.parcels),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    Pickup,
    Dropoff,
}

/// One visit of a route: pick a parcel up or drop it off.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stop {
    pub parcel: ParcelId,
    pub kind: StopKind,
}

impl Stop {
    pub fn pickup(parcel: &ParcelId) -> Self {
        Self {
            parcel: parcel.clone(),
            kind: StopKind::Pickup,
        }
    }

    pub fn dropoff(parcel: &ParcelId) -> Self {
        Self {
            parcel: parcel.clone(),
            kind: StopKind::Dropoff,
        }
    }
}

/// A rider as the fleet reports them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rider {
    pub id: RiderId,
    pub position: Point,
    /// When `position` was reported; an old report makes the rider stale.
    pub position_at: Time,
    /// When the rider can start from `position` (after the stop in progress).
    pub free_at: Time,
    /// Pickups must happen by then (drop-offs too unless the config allows otherwise).
    pub shift_end: Time,
    pub capacity: Load,
    pub capabilities: Capabilities,
    /// Offline riders get nothing new; their open work is re-dispatched.
    pub online: bool,
    /// Parcels already picked up: only their drop-off is left.
    pub onboard: Vec<ParcelId>,
    /// Committed stops the rider will do first, in this order.
    pub route: Vec<Stop>,
    /// Parcels already delivered this shift: counts toward the balance of load.
    #[serde(default)]
    pub delivered_today: i64,
}

/// A parcel of an order, ready (or about to be) at a store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parcel {
    pub id: ParcelId,
    /// `None` when the store's coordinates are missing.
    pub pickup: Option<Point>,
    /// `None` when the customer's address was never geocoded.
    pub dropoff: Option<Point>,
    pub ready_at: Time,
    pub promised_at: Time,
    pub size: Load,
    pub cold_chain: ColdChain,
    pub zone: Option<String>,
    /// Service at the store; half before the handover, half after.
    pub pickup_service: Time,
    /// Service at the door; half before the handover, half after.
    pub dropoff_service: Time,
    /// Riders who rejected it: never offered to them again.
    #[serde(default)]
    pub declined_by: Vec<RiderId>,
}

impl Parcel {
    /// The ranges the service accepts (the solver itself saturates instead): times
    /// within ±[`TIME_LIMIT`], services within 0..=[`SERVICE_LIMIT`], sizes within
    /// 0..=[`LOAD_LIMIT`].
    pub fn check_ranges(&self) -> Result<(), DispatchError> {
        let item = || format!("parcel `{}`", self.id);
        check_time(&item, "ready_at", self.ready_at)?;
        check_time(&item, "promised_at", self.promised_at)?;
        in_range(
            &item,
            "pickup_service",
            self.pickup_service,
            0,
            SERVICE_LIMIT,
        )?;
        in_range(
            &item,
            "dropoff_service",
            self.dropoff_service,
            0,
            SERVICE_LIMIT,
        )?;
        check_load(
            &item,
            ["size.weight_g", "size.volume_ml", "size.parcels"],
            &self.size,
        )
    }
}

impl Rider {
    /// The ranges the service accepts, as for [`Parcel::check_ranges`].
    pub fn check_ranges(&self) -> Result<(), DispatchError> {
        let item = || format!("rider `{}`", self.id);
        check_time(&item, "position_at", self.position_at)?;
        check_time(&item, "free_at", self.free_at)?;
        check_time(&item, "shift_end", self.shift_end)?;
        in_range(
            &item,
            "delivered_today",
            self.delivered_today,
            0,
            LOAD_LIMIT,
        )?;
        check_load(
            &item,
            [
                "capacity.weight_g",
                "capacity.volume_ml",
                "capacity.parcels",
            ],
            &self.capacity,
        )
    }
}

/// The instant of a service's handover, counted from arrival: the first half of it.
pub fn service_before(service: Time) -> Time {
    service / 2
}

/// Service left after the handover.
pub fn service_after(service: Time) -> Time {
    service - service / 2
}

/// Everything one dispatch call looks at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub now: Time,
    pub riders: Vec<Rider>,
    /// Open parcels plus every parcel a rider's `onboard` or `route` names.
    pub parcels: Vec<Parcel>,
}
