//! Readers for the pieces of orderhub's own JSON schema, shared by the app,
//! mini-program, POS and group-buying channels (see [`super::own`] for the schema).
//! Money is decimal yuan (string or number), times are RFC 3339 (or zone-less local
//! time in the channel's offset, or epoch seconds/milliseconds).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::address;
use super::config::ChannelConfig;
use super::error::NormalizeError;
use super::geo;
use super::json::{array, opt_decimal, opt_i64, opt_text, yuan_or_zero};
use super::lines::RawLine;
use super::time::{from_epoch_auto, from_text};
use crate::order::{
    Address, Discount, ExceptionCode, Funder, GeoPoint, OrderException, PromisedWindow,
    TemperatureZone,
};

pub fn time(
    cfg: &ChannelConfig,
    v: Option<&Value>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, NormalizeError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(_)) => Ok(opt_i64(v, field)?.and_then(from_epoch_auto)),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(n) => Ok(from_epoch_auto(n)),
            Err(_) => from_text(s, cfg.utc_offset_minutes)
                .map(Some)
                .ok_or_else(|| NormalizeError::invalid(field, format!("`{s}` is not a time"))),
        },
        Some(_) => Err(NormalizeError::invalid(field, "expected a time")),
    }
}

/// `{"province","city","district","detail","lat","lng","datum"}`; `datum` is
/// `gcj02` (default), `wgs84` or `bd09`, converted to GCJ-02. A one-string address may
/// come as `"full"`.
pub fn address(
    v: Option<&Value>,
    field: &str,
    exceptions: &mut Vec<OrderException>,
) -> Result<Option<Address>, NormalizeError> {
    let Some(obj) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    if let Value::String(full) = obj {
        return Ok(address::from_free_text(full, None));
    }
    if !obj.is_object() {
        return Err(NormalizeError::invalid(field, "expected an address object"));
    }
    let location = location(obj, field, exceptions)?;
    if let Some(full) = opt_text(obj.get("full")) {
        return Ok(address::from_free_text(&full, location));
    }
    Ok(address::from_parts(
        opt_text(obj.get("province")),
        opt_text(obj.get("city")),
        opt_text(obj.get("district")),
        &opt_text(obj.get("detail")).unwrap_or_default(),
        location,
    ))
}

fn location(
    obj: &Value,
    field: &str,
    exceptions: &mut Vec<OrderException>,
) -> Result<Option<GeoPoint>, NormalizeError> {
    let lat = opt_decimal(obj.get("lat"), &format!("{field}.lat"))?;
    let lng = opt_decimal(obj.get("lng"), &format!("{field}.lng"))?;
    let (Some(lat), Some(lng)) = (lat, lng) else {
        return Ok(None);
    };
    let (Ok(lat), Ok(lng)) = (
        lat.to_string().parse::<f64>(),
        lng.to_string().parse::<f64>(),
    ) else {
        return Ok(None);
    };
    let datum = opt_text(obj.get("datum"))
        .unwrap_or_else(|| "gcj02".into())
        .to_ascii_lowercase();
    to_gcj02(lat, lng, &datum, field, exceptions)
}

/// A coordinate in a named datum, as GCJ-02; implausible points are flagged.
pub fn to_gcj02(
    lat: f64,
    lng: f64,
    datum: &str,
    field: &str,
    exceptions: &mut Vec<OrderException>,
) -> Result<Option<GeoPoint>, NormalizeError> {
    if !geo::is_plausible(lat, lng) {
        exceptions.push(OrderException::new(
            ExceptionCode::BadAddress,
            format!("{field}: coordinates {lat},{lng} implausible"),
        ));
        return Ok(None);
    }
    Ok(Some(match datum {
        "gcj02" | "gcj-02" => GeoPoint { lat, lng },
        "wgs84" | "wgs-84" => geo::wgs84_to_gcj02(lat, lng),
        "bd09" | "bd-09" => geo::bd09_to_gcj02(lat, lng),
        other => {
            return Err(NormalizeError::invalid(
                format!("{field}.datum"),
                format!("unknown datum `{other}`"),
            ))
        }
    }))
}

/// `[{"sku","name","quantity","unit_price","unit_weight_g","unit_volume_cm3","zone"}]`.
pub fn lines(v: Option<&Value>, field: &str) -> Result<Vec<RawLine>, NormalizeError> {
    array(v, field)?
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let f = |name: &str| format!("{field}[{i}].{name}");
            let zone = match opt_text(l.get("zone")).as_deref() {
                None => None,
                Some("ambient") => Some(TemperatureZone::Ambient),
                Some("chilled") => Some(TemperatureZone::Chilled),
                Some("frozen") => Some(TemperatureZone::Frozen),
                Some(other) => {
                    return Err(NormalizeError::invalid(
                        f("zone"),
                        format!("unknown zone `{other}`"),
                    ))
                }
            };
            let small = |name: &str| -> Result<Option<u32>, NormalizeError> {
                Ok(opt_i64(l.get(name), &f(name))?.and_then(|n| u32::try_from(n).ok()))
            };
            Ok(RawLine {
                channel_sku: opt_text(l.get("sku")).unwrap_or_default(),
                name: opt_text(l.get("name")).unwrap_or_default(),
                quantity: opt_decimal(l.get("quantity"), &f("quantity"))
                    .ok()
                    .flatten(),
                unit_price: yuan_or_zero(l.get("unit_price"), &f("unit_price"))?,
                unit_weight_g: small("unit_weight_g")?,
                unit_volume_cm3: small("unit_volume_cm3")?,
                zone,
            })
        })
        .collect()
}

/// `[{"funder": "merchant"|"platform", "label", "amount"}]`.
pub fn discounts(v: Option<&Value>, field: &str) -> Result<Vec<Discount>, NormalizeError> {
    array(v, field)?
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let funder = match opt_text(d.get("funder")).as_deref() {
                None | Some("merchant") => Funder::Merchant,
                Some("platform") => Funder::Platform,
                Some(other) => {
                    return Err(NormalizeError::invalid(
                        format!("{field}[{i}].funder"),
                        format!("`{other}`"),
                    ))
                }
            };
            Ok(Discount {
                funder,
                label: opt_text(d.get("label")).unwrap_or_else(|| format!("discount {}", i + 1)),
                amount: yuan_or_zero(d.get("amount"), &format!("{field}[{i}].amount"))?,
            })
        })
        .collect()
}

/// `{"asap": bool, "start", "end"}`; absent means as soon as possible.
pub fn promised(
    cfg: &ChannelConfig,
    v: Option<&Value>,
    field: &str,
) -> Result<PromisedWindow, NormalizeError> {
    let Some(p) = v.filter(|v| v.is_object()) else {
        return Ok(PromisedWindow {
            asap: true,
            start: None,
            end: None,
        });
    };
    let start = time(cfg, p.get("start"), &format!("{field}.start"))?;
    let end = time(cfg, p.get("end"), &format!("{field}.end"))?;
    let asap = p
        .get("asap")
        .and_then(Value::as_bool)
        .unwrap_or(end.is_none());
    Ok(PromisedWindow { asap, start, end })
}

/// An object field, or an error naming it.
pub fn object<'a>(v: Option<&'a Value>, field: &str) -> Result<&'a Value, NormalizeError> {
    match v {
        Some(o @ Value::Object(_)) => Ok(o),
        None | Some(Value::Null) => Err(NormalizeError::MissingField(field.to_string())),
        Some(_) => Err(NormalizeError::invalid(field, "expected an object")),
    }
}
