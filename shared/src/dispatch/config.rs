//! What an operator can tune, and the checks a stored configuration passes first.
//!
//! The service keeps one [`DispatchConfig`] in its store (`PUT /admin/dispatch/config`);
//! [`parse_config`] is the only way in, so a stored configuration is always one the
//! solver can run with: weights finite, durations within a day, the service area a real
//! rectangle of GCJ-02 degrees.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

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
#[serde(default)]
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
    /// The service's tick gives a stale rider's not-yet-picked parcels back to the board
    /// after this many `stale_after`s without a position; 0 never does. (Staleness alone
    /// only stops new work: a rider in a tunnel should not lose the route at once.)
    pub release_stale_after: u32,
    /// Minutes east of UTC of the business day `delivered_today` counts in (480 =
    /// Asia/Shanghai, the day the dashboard and reconciliation use).
    pub utc_offset_minutes: i32,
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
            release_stale_after: 3,
            utc_offset_minutes: 480,
        }
    }
}

impl DispatchConfig {
    /// The business day (days since 1970-01-01 in the configured zone) of `t`, Unix seconds.
    pub fn business_day(&self, t: Time) -> i64 {
        t.saturating_add(i64::from(self.utc_offset_minutes) * 60)
            .div_euclid(86_400)
    }

    /// How long a rider may stay silent before the tick releases its unpicked parcels;
    /// `None` when it never does.
    pub fn release_after(&self) -> Option<Time> {
        (self.release_stale_after > 0).then(|| {
            self.stale_after
                .saturating_mul(i64::from(self.release_stale_after))
        })
    }

    /// The range checks [`parse_config`] applies after reading the fields.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, w) in [
            ("weights.lateness", self.weights.lateness),
            ("weights.travel", self.weights.travel),
            ("weights.balance", self.weights.balance),
        ] {
            // A weight above this turns a day of lateness into more than f64 holds exactly.
            if !(w.is_finite() && (0.0..=MAX_WEIGHT).contains(&w)) {
                return Err(out_of_range(field, "a number from 0 to 1000000"));
            }
        }
        if !(1..=DAY).contains(&self.stale_after) {
            return Err(out_of_range("stale_after", "1 to 86400 seconds"));
        }
        if let Some(m) = self.max_lateness {
            if !(0..=DAY).contains(&m) {
                return Err(out_of_range("max_lateness", "null or 0 to 86400 seconds"));
            }
        }
        if let Some(area) = &self.service_area {
            for (field, p) in [
                ("service_area.min", area.min),
                ("service_area.max", area.max),
            ] {
                if !(p.x.is_finite() && (-180.0..=180.0).contains(&p.x)) {
                    return Err(out_of_range(field, "x a longitude from -180 to 180"));
                }
                if !(p.y.is_finite() && (-90.0..=90.0).contains(&p.y)) {
                    return Err(out_of_range(field, "y a latitude from -90 to 90"));
                }
            }
            if area.min.x > area.max.x || area.min.y > area.max.y {
                return Err(ConfigError::EmptyArea);
            }
        }
        if self.candidate_riders > MAX_CANDIDATES {
            return Err(out_of_range("candidate_riders", "0 (every rider) to 10000"));
        }
        // The budget runs inside a request: keep it well under any gateway timeout.
        if !(1..=MAX_BUDGET_MS).contains(&self.budget_millis) {
            return Err(out_of_range("budget_millis", "1 to 5000"));
        }
        if self.release_stale_after > MAX_RELEASE_MULTIPLE {
            return Err(out_of_range("release_stale_after", "0 (never) to 1000"));
        }
        // The zones of the world run from UTC-12 to UTC+14.
        if !(-720..=840).contains(&self.utc_offset_minutes) {
            return Err(out_of_range("utc_offset_minutes", "-720 to 840"));
        }
        Ok(())
    }
}

const DAY: Time = 86_400;
const MAX_WEIGHT: f64 = 1_000_000.0;
const MAX_CANDIDATES: usize = 10_000;
const MAX_BUDGET_MS: u64 = 5_000;
const MAX_RELEASE_MULTIPLE: u32 = 1_000;

/// Why a configuration was refused; every variant names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("the configuration is not a JSON object: {0}")]
    NotAnObject(String),
    #[error("unknown field `{0}`")]
    UnknownField(String),
    #[error("`{field}`: {message}")]
    WrongType { field: String, message: String },
    #[error("`{field}` must be {expected}")]
    OutOfRange {
        field: String,
        expected: &'static str,
    },
    #[error("`service_area`: min must not exceed max in x or y")]
    EmptyArea,
}

impl ConfigError {
    /// The machine code of the 400 answer.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::NotAnObject(_) => "unreadable_config",
            ConfigError::UnknownField(_) => "unknown_field",
            ConfigError::WrongType { .. } => "wrong_type",
            ConfigError::OutOfRange { .. } => "out_of_range",
            ConfigError::EmptyArea => "empty_service_area",
        }
    }

    /// The field at fault, dotted (`weights.travel`); `$` for the whole document.
    pub fn field(&self) -> &str {
        match self {
            ConfigError::NotAnObject(_) => "$",
            ConfigError::UnknownField(f)
            | ConfigError::WrongType { field: f, .. }
            | ConfigError::OutOfRange { field: f, .. } => f,
            ConfigError::EmptyArea => "service_area",
        }
    }
}

fn out_of_range(field: &str, expected: &'static str) -> ConfigError {
    ConfigError::OutOfRange {
        field: field.to_string(),
        expected,
    }
}

/// Read and check a configuration. Absent fields take their defaults (a PUT replaces
/// the whole configuration); unknown fields are refused, since a misspelt weight would
/// otherwise be silently ignored.
pub fn parse_config(json: &[u8]) -> Result<DispatchConfig, ConfigError> {
    let value: Value =
        serde_json::from_slice(json).map_err(|e| ConfigError::NotAnObject(e.to_string()))?;
    let Value::Object(fields) = value else {
        return Err(ConfigError::NotAnObject("expected an object".into()));
    };
    let mut cfg = DispatchConfig::default();
    for (key, v) in &fields {
        match key.as_str() {
            "weights" => cfg.weights = weights(v)?,
            "seed" => cfg.seed = typed(key, v)?,
            "stale_after" => cfg.stale_after = typed(key, v)?,
            "service_area" => cfg.service_area = service_area(v)?,
            "max_lateness" => cfg.max_lateness = typed(key, v)?,
            "drops_after_shift_end" => cfg.drops_after_shift_end = typed(key, v)?,
            "one_site_per_trip" => cfg.one_site_per_trip = typed(key, v)?,
            "candidate_riders" => cfg.candidate_riders = typed(key, v)?,
            "budget_millis" => cfg.budget_millis = typed(key, v)?,
            "release_stale_after" => cfg.release_stale_after = typed(key, v)?,
            "utc_offset_minutes" => cfg.utc_offset_minutes = typed(key, v)?,
            other => return Err(ConfigError::UnknownField(other.to_string())),
        }
    }
    cfg.validate()?;
    Ok(cfg)
}

fn typed<T: serde::de::DeserializeOwned>(field: &str, v: &Value) -> Result<T, ConfigError> {
    serde_json::from_value(v.clone()).map_err(|e| ConfigError::WrongType {
        field: field.to_string(),
        message: e.to_string(),
    })
}

/// The members of a nested object, refusing names outside `known`.
fn object<'v>(
    field: &str,
    v: &'v Value,
    known: &[&str],
) -> Result<&'v Map<String, Value>, ConfigError> {
    let Value::Object(m) = v else {
        return Err(ConfigError::WrongType {
            field: field.to_string(),
            message: "expected an object".into(),
        });
    };
    match m.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ConfigError::UnknownField(format!("{field}.{k}"))),
        None => Ok(m),
    }
}

fn weights(v: &Value) -> Result<Weights, ConfigError> {
    let m = object("weights", v, &["lateness", "travel", "balance"])?;
    let mut w = Weights::default();
    for (k, x) in m {
        let field = format!("weights.{k}");
        let n: f64 = typed(&field, x)?;
        match k.as_str() {
            "lateness" => w.lateness = n,
            "travel" => w.travel = n,
            _ => w.balance = n,
        }
    }
    Ok(w)
}

fn service_area(v: &Value) -> Result<Option<ServiceArea>, ConfigError> {
    if v.is_null() {
        return Ok(None);
    }
    let m = object("service_area", v, &["min", "max"])?;
    let corner = |name: &str| -> Result<Point, ConfigError> {
        let field = format!("service_area.{name}");
        let missing = || ConfigError::WrongType {
            field: field.clone(),
            message: "required: {\"x\": lng, \"y\": lat}".into(),
        };
        let c = object(&field, m.get(name).ok_or_else(missing)?, &["x", "y"])?;
        let coord = |axis: &str| -> Result<f64, ConfigError> {
            let f = format!("{field}.{axis}");
            typed(&f, c.get(axis).ok_or_else(missing)?)
        };
        Ok(Point::planar(coord("x")?, coord("y")?))
    };
    Ok(Some(ServiceArea {
        min: corner("min")?,
        max: corner("max")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(json: &str) -> ConfigError {
        match parse_config(json.as_bytes()) {
            Err(e) => e,
            Ok(c) => panic!("accepted {json}: {c:?}"),
        }
    }

    #[test]
    fn empty_object_is_the_default_and_a_full_one_round_trips() {
        assert_eq!(parse_config(b"{}").unwrap(), DispatchConfig::default());
        let cfg = DispatchConfig {
            weights: Weights {
                lateness: 5.0,
                travel: 2.0,
                balance: 0.0,
            },
            seed: u64::MAX,
            stale_after: 600,
            service_area: Some(ServiceArea {
                min: Point::geo(31.0, 121.0),
                max: Point::geo(31.5, 121.9),
            }),
            max_lateness: Some(1_800),
            drops_after_shift_end: true,
            one_site_per_trip: true,
            candidate_riders: 0,
            budget_millis: 200,
            release_stale_after: 0,
            utc_offset_minutes: -300,
        };
        let json = serde_json::to_vec(&cfg).unwrap();
        assert_eq!(parse_config(&json).unwrap(), cfg);
    }

    #[test]
    fn partial_weights_keep_the_other_defaults() {
        let cfg = parse_config(br#"{"weights": {"travel": 3}}"#).unwrap();
        assert_eq!(cfg.weights.travel, 3.0);
        assert_eq!(cfg.weights.lateness, Weights::default().lateness);
    }

    #[test]
    fn every_refusal_names_its_field_and_code() {
        let cases = [
            ("[]", "unreadable_config", "$"),
            ("{", "unreadable_config", "$"),
            (r#"{"stale_afte": 10}"#, "unknown_field", "stale_afte"),
            (
                r#"{"weights": {"speed": 1}}"#,
                "unknown_field",
                "weights.speed",
            ),
            (r#"{"weights": 3}"#, "wrong_type", "weights"),
            (
                r#"{"weights": {"travel": "x"}}"#,
                "wrong_type",
                "weights.travel",
            ),
            (
                r#"{"weights": {"travel": -1}}"#,
                "out_of_range",
                "weights.travel",
            ),
            (
                r#"{"weights": {"balance": 1e300}}"#,
                "out_of_range",
                "weights.balance",
            ),
            (r#"{"seed": -1}"#, "wrong_type", "seed"),
            (r#"{"stale_after": 0}"#, "out_of_range", "stale_after"),
            (
                r#"{"stale_after": 9223372036854775807}"#,
                "out_of_range",
                "stale_after",
            ),
            (r#"{"stale_after": 1e30}"#, "wrong_type", "stale_after"),
            (r#"{"max_lateness": -5}"#, "out_of_range", "max_lateness"),
            (r#"{"budget_millis": 0}"#, "out_of_range", "budget_millis"),
            (
                r#"{"candidate_riders": 100000}"#,
                "out_of_range",
                "candidate_riders",
            ),
            (
                r#"{"release_stale_after": 5000}"#,
                "out_of_range",
                "release_stale_after",
            ),
            (
                r#"{"utc_offset_minutes": 2000}"#,
                "out_of_range",
                "utc_offset_minutes",
            ),
            (
                r#"{"one_site_per_trip": 1}"#,
                "wrong_type",
                "one_site_per_trip",
            ),
            (
                r#"{"service_area": {"min": {"x": 121, "y": 31}}}"#,
                "wrong_type",
                "service_area.max",
            ),
            (
                r#"{"service_area": {"min": {"x": 121, "y": 31}, "max": {"x": 122, "y": 95}}}"#,
                "out_of_range",
                "service_area.max",
            ),
            (
                r#"{"service_area": {"min": {"x": 122, "y": 31}, "max": {"x": 121, "y": 32}}}"#,
                "empty_service_area",
                "service_area",
            ),
            (
                r#"{"service_area": {"min": {"x": 121, "y": 31, "z": 0}, "max": {"x": 122, "y": 32}}}"#,
                "unknown_field",
                "service_area.min.z",
            ),
        ];
        for (json, code, field) in cases {
            let e = refused(json);
            assert_eq!((e.code(), e.field()), (code, field), "{json}: {e}");
        }
    }

    #[test]
    fn business_day_turns_at_local_midnight() {
        let cfg = DispatchConfig::default();
        // 2025-11-24 15:59:59 UTC is 23:59:59 in Shanghai; a second later is the 25th.
        let t = 1_764_000_000 - (1_764_000_000 % 86_400) + 16 * 3_600 - 1;
        assert_eq!(cfg.business_day(t) + 1, cfg.business_day(t + 1));
        assert_eq!(cfg.business_day(i64::MAX), i64::MAX / 86_400);
    }
}
