//! Field access over channel JSON with the error the channel should hear. Channels
//! send numbers as strings and strings as numbers freely, so scalar readers accept both.

use rust_decimal::Decimal;
use serde_json::Value;

use super::error::NormalizeError;
use crate::money;

/// A scalar as text: strings as-is, numbers as their exact wire text, booleans as
/// `true`/`false`; `None` for null, absent, arrays and objects.
pub fn scalar_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Non-empty trimmed text.
pub fn opt_text(v: Option<&Value>) -> Option<String> {
    scalar_text(v)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

pub fn req_text(obj: &Value, field: &str) -> Result<String, NormalizeError> {
    opt_text(obj.get(field)).ok_or_else(|| NormalizeError::MissingField(field.to_string()))
}

/// An integer sent as a number or a numeric string; `None` when absent or empty.
pub fn opt_i64(v: Option<&Value>, field: &str) -> Result<Option<i64>, NormalizeError> {
    match opt_text(v) {
        None => Ok(None),
        Some(t) => t
            .parse::<i64>()
            .map(Some)
            .map_err(|_| NormalizeError::invalid(field, format!("`{t}` is not an integer"))),
    }
}

/// A decimal (quantity, coordinate) without floats: `None` when absent or empty.
pub fn opt_decimal(v: Option<&Value>, field: &str) -> Result<Option<Decimal>, NormalizeError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(value) => {
            let text = scalar_text(Some(value))
                .ok_or_else(|| NormalizeError::invalid(field, "not a number"))?;
            let t = text.trim();
            Decimal::from_str_exact(t)
                .or_else(|_| Decimal::from_scientific(t))
                .map(Some)
                .map_err(|_| NormalizeError::invalid(field, format!("`{t}` is not a number")))
        }
    }
}

/// No order amount comes near a trillion yuan; refusing larger ones keeps every sum
/// and product of the order's money far from `Decimal`'s overflow.
const MAX_YUAN: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0); // 10^12

/// A money amount within ±10^12 yuan.
pub fn bounded(amount: Decimal, field: &str) -> Result<Decimal, NormalizeError> {
    if amount.abs() > MAX_YUAN {
        return Err(NormalizeError::invalid(
            field,
            format!("amount {amount} is out of range"),
        ));
    }
    Ok(amount)
}

/// A yuan amount; absent means zero (platforms omit zero fees).
pub fn yuan_or_zero(v: Option<&Value>, field: &str) -> Result<Decimal, NormalizeError> {
    match v {
        None | Some(Value::Null) => Ok(Decimal::ZERO),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Decimal::ZERO),
        Some(value) => money::yuan_from_json(value)
            .map_err(|e| NormalizeError::invalid(field, e))
            .and_then(|d| bounded(d, field)),
    }
}

/// A required yuan amount.
pub fn req_yuan(obj: &Value, field: &str) -> Result<Decimal, NormalizeError> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(NormalizeError::MissingField(field.to_string())),
        Some(v) => money::yuan_from_json(v)
            .map_err(|e| NormalizeError::invalid(field, e))
            .and_then(|d| bounded(d, field)),
    }
}

/// A field that is a JSON document inside a string (Meituan `detail`, Ele.me
/// `message`); an already-decoded array/object is accepted as is.
pub fn embedded(v: Option<&Value>, field: &str) -> Result<Option<Value>, NormalizeError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            serde_json::from_str(s)
                .map(Some)
                .map_err(|e| NormalizeError::MalformedEmbeddedJson {
                    field: field.to_string(),
                    detail: e.to_string(),
                })
        }
        Some(other @ (Value::Array(_) | Value::Object(_))) => Ok(Some(other.clone())),
        Some(_) => Err(NormalizeError::MalformedEmbeddedJson {
            field: field.to_string(),
            detail: "expected a JSON document in a string".into(),
        }),
    }
}

pub fn array<'a>(v: Option<&'a Value>, field: &str) -> Result<&'a [Value], NormalizeError> {
    match v {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(NormalizeError::invalid(field, "expected an array")),
    }
}
