//! Dispatch stations (站点 / 前置仓): the unit real dispatch works in. Each station has
//! its own riders, its own board of parcels, its own runs and (optionally) its own
//! configuration; a run at one station never looks at another's riders or parcels.
//!
//! A parcel belongs to the station of the store it is picked up at (the merge step's
//! pickup table names it, `merge::handoff::PickupPoint::station`); a rider to the
//! station its reports name. Anything that names none is at the [`Station::DEFAULT`]
//! station, whose keys are the board's original ones, so a deployment that never names
//! a station runs exactly as before.

use serde::{Deserialize, Serialize};

/// A station id: 1 to 64 ASCII letters, digits, `_`, `-` or `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Station(String);

/// Why a station id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("station id `{0}` is not 1 to 64 ASCII letters, digits, `_`, `-` or `.`")]
pub struct BadStation(pub String);

impl Station {
    /// The station of riders and parcels that name none.
    pub const DEFAULT: &'static str = "default";

    pub fn parse(id: &str) -> Result<Self, BadStation> {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if ok {
            Ok(Self(id.to_string()))
        } else {
            Err(BadStation(id.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_default(&self) -> bool {
        self.0 == Self::DEFAULT
    }

    /// `key` in this station's part of the dispatch store: the key itself at the
    /// default station, `station/{id}/{key}` elsewhere.
    pub fn key(&self, key: &str) -> String {
        if self.is_default() {
            key.to_string()
        } else {
            format!("station/{}/{key}", self.0)
        }
    }

    /// The station a `?station=` query names (the default when absent or empty).
    pub fn from_query(query: &str) -> Result<Self, BadStation> {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "station")
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty())
            .map_or_else(|| Ok(Self::default()), Self::parse)
    }
}

impl Default for Station {
    fn default() -> Self {
        Self(Self::DEFAULT.to_string())
    }
}

impl std::fmt::Display for Station {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Station {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        Self::parse(&id).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_key_safe_and_the_default_keeps_the_old_keys() {
        assert!(Station::parse("pudong-01.a_b").is_ok());
        for bad in ["", "a/b", "a b", "站点", &"x".repeat(65)] {
            assert!(Station::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Station::default().key("config"), "config");
        assert_eq!(
            Station::parse("s1").unwrap().key("riders/seq"),
            "station/s1/riders/seq"
        );
    }

    #[test]
    fn the_query_names_the_station_or_leaves_the_default() {
        assert!(Station::from_query("").unwrap().is_default());
        assert!(Station::from_query("station=").unwrap().is_default());
        assert_eq!(
            Station::from_query("a=1&station=s9").unwrap().as_str(),
            "s9"
        );
        assert!(Station::from_query("station=a%2Fb").is_err());
    }

    #[test]
    fn json_is_a_checked_string() {
        let s: Station = serde_json::from_str(r#""s1""#).unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""s1""#);
        assert!(serde_json::from_str::<Station>(r#""a/b""#).is_err());
    }
}
