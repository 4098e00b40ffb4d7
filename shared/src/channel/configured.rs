//! A channel added by configuration alone: a [`ConfiguredMapping`] of JSON pointers
//! (RFC 6901) into the payload, with value converters, read by this one generic
//! adapter. Signature scheme, acknowledgement and SKU table are ordinary
//! [`super::ChannelConfig`] fields. Worked example: `docs/channels.md` and the
//! `dingdong` test below.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::address;
use super::customer::{customer, parse_phone};
use super::error::NormalizeError;
use super::json::{array, bounded, embedded, opt_decimal, opt_i64, opt_text, scalar_text};
use super::lines::{assemble, build_lines, goods_total, OrderParts, RawLine};
use super::normalize::{ChannelEvent, Ctx};
use super::request::Payload;
use super::schema::to_gcj02;
use super::time::{from_epoch_auto, from_epoch_millis, from_epoch_seconds, from_text};
use crate::money;
use crate::order::{
    Discount, EventKind, Fulfilment, Funder, GeoPoint, OrderException, OrderMoney, PromisedWindow,
};

/// A JSON pointer (`/data/orderNo`); `""` is the whole document.
pub type FieldPath = String;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// Epoch seconds (number or numeric string).
    EpochS,
    /// Epoch milliseconds.
    EpochMs,
    /// RFC 3339 with offset.
    Rfc3339,
    /// Wall-clock text without a zone, in the channel's `utc_offset_minutes`.
    Local,
    /// Any of the above, told apart by shape.
    Auto,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeField {
    pub path: FieldPath,
    #[serde(default = "auto")]
    pub format: TimeFormat,
}

fn auto() -> TimeFormat {
    TimeFormat::Auto
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoneyUnit {
    /// Decimal yuan (`12.50`).
    Yuan,
    /// Integer fen (`1250`).
    Fen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Datum {
    Gcj02,
    Wgs84,
    Bd09,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoordinateMapping {
    pub lat: FieldPath,
    pub lng: FieldPath,
    /// The payload's value is degrees × `scale` (Meituan-style 1000000); default 1.
    #[serde(default = "one")]
    pub scale: u32,
    pub datum: Datum,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressMapping {
    /// The whole address as one string (split like Meituan's), or the parts below.
    pub full: Option<FieldPath>,
    pub province: Option<FieldPath>,
    pub city: Option<FieldPath>,
    pub district: Option<FieldPath>,
    pub detail: Option<FieldPath>,
    pub coordinates: Option<CoordinateMapping>,
}

/// Lines: an array in the order; per-line paths are relative to each element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinesMapping {
    pub path: FieldPath,
    pub sku: FieldPath,
    pub name: Option<FieldPath>,
    pub quantity: FieldPath,
    pub unit_price: FieldPath,
    pub unit_weight_g: Option<FieldPath>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountMapping {
    pub path: FieldPath,
    pub funder: Funder,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoneyMapping {
    pub unit: MoneyUnit,
    pub paid: FieldPath,
    pub delivery_fee: Option<FieldPath>,
    pub packaging_fee: Option<FieldPath>,
    #[serde(default)]
    pub discounts: Vec<DiscountMapping>,
}

/// What a value of the event-type field means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappedEvent {
    /// The payload carries the order itself (new or updated).
    Order,
    Paid,
    Accepted,
    PickedUp,
    Delivered,
    Completed,
    Cancelled,
    RefundRequested,
    Refunded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMapping {
    /// Pointer from the document root.
    pub path: FieldPath,
    pub values: BTreeMap<String, MappedEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfiguredMapping {
    /// String fields holding JSON documents, decoded before anything is read.
    #[serde(default)]
    pub embedded_json: Vec<FieldPath>,
    /// Absent: every push is an order. Unmapped values are recorded as channel statuses.
    pub event: Option<EventMapping>,
    /// An array of orders (a batch); absent: one order at `order_root`.
    pub orders: Option<FieldPath>,
    #[serde(default)]
    pub order_root: FieldPath,
    // Paths below are relative to the order object.
    pub order_id: FieldPath,
    pub store_id: Option<FieldPath>,
    pub placed_at: TimeField,
    /// When a status event happened (else the signed timestamp, else receipt).
    pub event_at: Option<TimeField>,
    pub user_id: Option<FieldPath>,
    pub customer_name: Option<FieldPath>,
    pub phone: Option<FieldPath>,
    pub address: Option<AddressMapping>,
    pub lines: LinesMapping,
    pub money: MoneyMapping,
    pub promised_start: Option<TimeField>,
    pub promised_end: Option<TimeField>,
    pub note: Option<FieldPath>,
    pub reason: Option<FieldPath>,
    pub refund_amount: Option<FieldPath>,
}

pub(crate) fn normalize(ctx: &Ctx) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let mapping = ctx
        .cfg
        .mapping
        .as_ref()
        .ok_or_else(|| NormalizeError::MissingField("config.mapping".into()))?;
    let mut root = match &ctx.push.payload {
        Payload::Json(v) => v.clone(),
        Payload::Params(p) => Value::Object(
            p.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
    };
    for path in &mapping.embedded_json {
        if let Some(slot) = root.pointer_mut(path) {
            if let Some(decoded) = embedded(Some(slot), path)? {
                *slot = decoded;
            }
        }
    }
    let event = match &mapping.event {
        None => Ok(MappedEvent::Order),
        Some(em) => {
            let value = scalar_text(root.pointer(&em.path))
                .ok_or_else(|| NormalizeError::MissingField(em.path.clone()))?;
            em.values.get(&value).copied().ok_or(value)
        }
    };
    let order_objects: Vec<&Value> = match &mapping.orders {
        Some(path) if event == Ok(MappedEvent::Order) => {
            array(root.pointer(path), path)?.iter().collect()
        }
        _ => vec![root
            .pointer(&mapping.order_root)
            .ok_or_else(|| NormalizeError::MissingField(mapping.order_root.clone()))?],
    };
    let reader = Reader { ctx, mapping };
    order_objects
        .into_iter()
        .map(|o| reader.read(o, &event))
        .collect()
}

struct Reader<'a> {
    ctx: &'a Ctx<'a>,
    mapping: &'a ConfiguredMapping,
}

impl Reader<'_> {
    fn text(&self, o: &Value, path: Option<&FieldPath>) -> Option<String> {
        path.and_then(|p| opt_text(o.pointer(p)))
    }

    fn money(&self, o: &Value, path: &str) -> Result<Decimal, NormalizeError> {
        match o.pointer(path) {
            None | Some(Value::Null) => Ok(Decimal::ZERO),
            Some(v) => match self.mapping.money.unit {
                MoneyUnit::Yuan => {
                    money::yuan_from_json(v).map_err(|e| NormalizeError::invalid(path, e))
                }
                MoneyUnit::Fen => opt_i64(Some(v), path)?
                    .map(money::from_fen)
                    .ok_or_else(|| NormalizeError::invalid(path, "no amount")),
            }
            .and_then(|d| bounded(d, path)),
        }
    }

    fn time(
        &self,
        o: &Value,
        field: &TimeField,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, NormalizeError> {
        let Some(v) = o.pointer(&field.path).filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let text = scalar_text(Some(v))
            .ok_or_else(|| NormalizeError::invalid(&field.path, "expected a time"))?;
        let t = text.trim();
        let int = || t.parse::<i64>().ok();
        let offset = self.ctx.cfg.utc_offset_minutes;
        let parsed = match field.format {
            TimeFormat::EpochS => int().and_then(from_epoch_seconds),
            TimeFormat::EpochMs => int().and_then(from_epoch_millis),
            TimeFormat::Rfc3339 => chrono::DateTime::parse_from_rfc3339(t)
                .ok()
                .map(|d| d.to_utc()),
            TimeFormat::Local => from_text(t, offset),
            TimeFormat::Auto => int()
                .and_then(from_epoch_auto)
                .or_else(|| from_text(t, offset)),
        };
        parsed.map(Some).ok_or_else(|| {
            NormalizeError::invalid(
                &field.path,
                format!("`{t}` is not a {:?} time", field.format),
            )
        })
    }

    fn read(
        &self,
        o: &Value,
        event: &Result<MappedEvent, String>,
    ) -> Result<ChannelEvent, NormalizeError> {
        let m = self.mapping;
        let id = self
            .text(o, Some(&m.order_id))
            .ok_or_else(|| NormalizeError::MissingField(m.order_id.clone()))?;
        let at = match &m.event_at {
            Some(f) => self.time(o, f)?,
            None => None,
        }
        .unwrap_or_else(|| self.ctx.fallback_time());
        let reason = self.text(o, m.reason.as_ref());
        let (key, kind) = match event {
            Ok(MappedEvent::Order) => return self.order(o, id),
            Ok(MappedEvent::Paid) => ("paid".to_string(), EventKind::Paid),
            Ok(MappedEvent::Accepted) => ("accepted".into(), EventKind::Accepted),
            Ok(MappedEvent::PickedUp) => ("picked_up".into(), EventKind::PickedUp),
            Ok(MappedEvent::Delivered) => ("delivered".into(), EventKind::Delivered),
            Ok(MappedEvent::Completed) => ("completed".into(), EventKind::Completed),
            Ok(MappedEvent::Cancelled) => ("cancelled".into(), EventKind::Cancelled { reason }),
            Ok(MappedEvent::RefundRequested) => (
                "refund:requested".into(),
                EventKind::RefundRequested { reason },
            ),
            Ok(MappedEvent::Refunded) => {
                let amount = match &m.refund_amount {
                    Some(p) => self.money(o, p)?,
                    None => Decimal::ZERO,
                };
                (
                    format!("refund:{amount}"),
                    EventKind::Refunded {
                        amount,
                        full: m.refund_amount.is_none(),
                        lines: Vec::new(),
                    },
                )
            }
            Err(unmapped) => (
                format!("status:{unmapped}"),
                EventKind::ChannelStatus {
                    code: unmapped.clone(),
                },
            ),
        };
        Ok(self.ctx.event(&id, key, kind, at))
    }

    fn order(&self, o: &Value, id: String) -> Result<ChannelEvent, NormalizeError> {
        let (ctx, m) = (self.ctx, self.mapping);
        let mut exceptions = Vec::new();
        let lm = &m.lines;
        let raw: Vec<RawLine> = array(o.pointer(&lm.path), &lm.path)?
            .iter()
            .map(|l| {
                Ok(RawLine {
                    channel_sku: self.text(l, Some(&lm.sku)).unwrap_or_default(),
                    name: self.text(l, lm.name.as_ref()).unwrap_or_default(),
                    quantity: opt_decimal(l.pointer(&lm.quantity), &lm.quantity)
                        .ok()
                        .flatten(),
                    unit_price: self.money(l, &lm.unit_price)?,
                    unit_weight_g: lm
                        .unit_weight_g
                        .as_ref()
                        .and_then(|p| opt_i64(l.pointer(p), p).ok().flatten())
                        .and_then(|w| u32::try_from(w).ok()),
                    ..RawLine::default()
                })
            })
            .collect::<Result<_, NormalizeError>>()?;
        let lines = build_lines(ctx.cfg, ctx.sku_map, raw, &mut exceptions);
        let mm = &m.money;
        let opt_money =
            |p: &Option<FieldPath>| p.as_ref().map_or(Ok(Decimal::ZERO), |p| self.money(o, p));
        let mut discounts = Vec::new();
        for d in &mm.discounts {
            let amount = self.money(o, &d.path)?.abs();
            if !amount.is_zero() {
                discounts.push(Discount {
                    funder: d.funder,
                    label: d.label.clone(),
                    amount,
                });
            }
        }
        if o.pointer(&mm.paid).is_none_or(Value::is_null) {
            return Err(NormalizeError::MissingField(mm.paid.clone()));
        }
        let money = OrderMoney {
            currency: ctx.cfg.currency.clone(),
            goods: goods_total(&lines),
            discounts,
            delivery_fee: opt_money(&mm.delivery_fee)?,
            packaging_fee: opt_money(&mm.packaging_fee)?,
            paid: self.money(o, &mm.paid)?,
        };
        let addr = match &m.address {
            None => None,
            Some(am) => {
                let location = self.location(o, am.coordinates.as_ref(), &mut exceptions)?;
                match self.text(o, am.full.as_ref()) {
                    Some(full) => address::from_free_text(&full, location),
                    None => address::from_parts(
                        self.text(o, am.province.as_ref()),
                        self.text(o, am.city.as_ref()),
                        self.text(o, am.district.as_ref()),
                        &self.text(o, am.detail.as_ref()).unwrap_or_default(),
                        location,
                    ),
                }
            }
        };
        let phone = self.text(o, m.phone.as_ref()).and_then(|p| parse_phone(&p));
        let customer = customer(
            &ctx.cfg.id,
            self.text(o, m.user_id.as_ref()),
            self.text(o, m.customer_name.as_ref()),
            phone,
            addr.as_ref(),
            &id,
        );
        let placed_at = self
            .time(o, &m.placed_at)?
            .unwrap_or_else(|| ctx.fallback_time());
        let start = m
            .promised_start
            .as_ref()
            .map(|f| self.time(o, f))
            .transpose()?
            .flatten();
        let end = m
            .promised_end
            .as_ref()
            .map(|f| self.time(o, f))
            .transpose()?
            .flatten();
        let order = assemble(
            ctx.cfg,
            OrderParts {
                channel_order_id: id,
                store_id: self.text(o, m.store_id.as_ref()),
                customer,
                fulfilment: Fulfilment::Delivery { address: addr },
                lines,
                money,
                promised: PromisedWindow {
                    asap: end.is_none(),
                    start,
                    end,
                },
                buyer_note: self.text(o, m.note.as_ref()),
                placed_at,
                events: vec![
                    ("created".into(), EventKind::Created, placed_at),
                    ("paid".into(), EventKind::Paid, placed_at),
                ],
                exceptions,
            },
        );
        Ok(ChannelEvent::Order {
            order: Box::new(order),
        })
    }

    fn location(
        &self,
        o: &Value,
        cm: Option<&CoordinateMapping>,
        exceptions: &mut Vec<OrderException>,
    ) -> Result<Option<GeoPoint>, NormalizeError> {
        let Some(cm) = cm else { return Ok(None) };
        let lat = opt_decimal(o.pointer(&cm.lat), &cm.lat)?;
        let lng = opt_decimal(o.pointer(&cm.lng), &cm.lng)?;
        let (Some(lat), Some(lng)) = (lat, lng) else {
            return Ok(None);
        };
        let scale = Decimal::from(cm.scale.max(1));
        let degrees = |d: Decimal| {
            d.checked_div(scale)
                .and_then(|x| x.to_string().parse::<f64>().ok())
        };
        let (Some(lat), Some(lng)) = (degrees(lat), degrees(lng)) else {
            return Ok(None);
        };
        let datum = match cm.datum {
            Datum::Gcj02 => "gcj02",
            Datum::Wgs84 => "wgs84",
            Datum::Bd09 => "bd09",
        };
        to_gcj02(lat, lng, datum, &cm.lat, exceptions)
    }
}

#[cfg(test)]
#[path = "configured_tests.rs"]
mod tests;
