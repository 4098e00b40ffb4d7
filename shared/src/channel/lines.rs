//! Turning an adapter's raw reading into a normalized [`Order`]: SKU mapping, quantity
//! checks, the money invariant, the missing-address rule, and the first history
//! entries. Every adapter ends here, so the rules are the same for every channel and
//! bad values become exceptions, never errors.

use chrono::{DateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::config::ChannelConfig;
use super::sku::SkuMap;
use crate::order::{
    Customer, EventKind, EventSource, ExceptionCode, Fulfilment, Order, OrderEvent, OrderException,
    OrderId, OrderLine, OrderMoney, PromisedWindow, RefundedLine, TemperatureZone,
};

/// A line as the channel sent it, before mapping and checks.
#[derive(Debug, Clone, Default)]
pub struct RawLine {
    pub channel_sku: String,
    pub name: String,
    /// `None` when the channel sent none or an unreadable one.
    pub quantity: Option<Decimal>,
    pub unit_price: Decimal,
    pub unit_weight_g: Option<u32>,
    pub unit_volume_cm3: Option<u32>,
    pub zone: Option<TemperatureZone>,
}

/// Where a platform's item object keeps the fields every platform sends: the SKU (first
/// field present wins: merchant codes map best), the name, and the fixed `quantity`,
/// `price` (yuan) and `weight` (grams). An unreadable quantity or weight is left for the
/// line checks to flag; an unreadable price is an error, as money must be exact.
pub struct PlatformItem<'a> {
    pub sku_fields: &'a [&'a str],
    pub name_field: &'a str,
}

impl PlatformItem<'_> {
    pub fn read(
        &self,
        item: &serde_json::Value,
        field: impl Fn(&str) -> String,
    ) -> Result<RawLine, super::error::NormalizeError> {
        use super::json::{opt_decimal, opt_i64, opt_text, yuan_or_zero};
        Ok(RawLine {
            channel_sku: self
                .sku_fields
                .iter()
                .find_map(|f| opt_text(item.get(*f)))
                .unwrap_or_default(),
            name: opt_text(item.get(self.name_field)).unwrap_or_default(),
            quantity: opt_decimal(item.get("quantity"), &field("quantity"))
                .ok()
                .flatten(),
            unit_price: yuan_or_zero(item.get("price"), &field("price"))?,
            unit_weight_g: opt_i64(item.get("weight"), &field("weight"))
                .ok()
                .flatten()
                .and_then(|w| u32::try_from(w).ok()),
            ..RawLine::default()
        })
    }
}

/// The goods a partial refund names (Meituan `food`, Ele.me `goodsList`, our own
/// `refund.lines`): each item's SKU code (first field present wins, as for order lines)
/// and its refunded count (first field present). An item without a code or with a
/// count that is not a positive whole number is refused: the platform sends it again.
pub fn refunded_lines(
    items: &[serde_json::Value],
    sku_fields: &[&str],
    count_fields: &[&str],
    field: &str,
) -> Result<Vec<RefundedLine>, super::error::NormalizeError> {
    use super::error::NormalizeError;
    use super::json::{opt_i64, opt_text};
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let channel_sku = sku_fields
                .iter()
                .find_map(|f| opt_text(item.get(*f)))
                .ok_or_else(|| {
                    NormalizeError::MissingField(format!("{field}[{i}].{}", sku_fields[0]))
                })?;
            let name = count_fields.iter().find(|f| item.get(**f).is_some());
            let count_field = format!("{field}[{i}].{}", name.unwrap_or(&count_fields[0]));
            let count = match name {
                Some(f) => opt_i64(item.get(*f), &count_field)?,
                None => None,
            };
            let quantity = count
                .and_then(|c| u32::try_from(c).ok())
                .filter(|&c| c > 0)
                .ok_or_else(|| {
                    NormalizeError::invalid(&count_field, "expected a positive count")
                })?;
            Ok(RefundedLine {
                channel_sku,
                quantity,
            })
        })
        .collect()
}

pub fn build_lines(
    cfg: &ChannelConfig,
    sku_map: &SkuMap,
    raw: Vec<RawLine>,
    exceptions: &mut Vec<OrderException>,
) -> Vec<OrderLine> {
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let entry = cfg
                .sku_map
                .as_ref()
                .and_then(|m| m.get(&r.channel_sku))
                .or_else(|| sku_map.get(&r.channel_sku));
            if entry.is_none() {
                exceptions.push(unknown_sku(line_no, &r.channel_sku));
            }
            let quantity = checked_quantity(line_no, r.quantity, cfg.max_line_quantity, exceptions);
            if r.unit_price.is_sign_negative() && !r.unit_price.is_zero() {
                exceptions.push(OrderException::new(
                    ExceptionCode::MoneyMismatch,
                    format!("line {line_no}: negative unit price {}", r.unit_price),
                ));
            }
            OrderLine {
                line_no,
                channel_sku: r.channel_sku,
                sku: entry.map(|e| e.sku.clone()),
                name: r.name,
                quantity,
                unit_price: r.unit_price,
                // The catalogue is the better source; the payload's own figure otherwise.
                unit_weight_g: entry
                    .map(|e| e.unit_weight_g)
                    .filter(|w| *w > 0)
                    .or(r.unit_weight_g)
                    .unwrap_or(0),
                unit_volume_cm3: entry
                    .map(|e| e.unit_volume_cm3)
                    .filter(|v| *v > 0)
                    .or(r.unit_volume_cm3)
                    .unwrap_or(0),
                zone: entry
                    .map(|e| e.zone)
                    .or(r.zone)
                    .unwrap_or(TemperatureZone::Ambient),
            }
        })
        .collect()
}

fn unknown_sku(line_no: u32, channel_sku: &str) -> OrderException {
    OrderException::new(
        ExceptionCode::UnknownSku,
        format!("line {line_no}: channel SKU `{channel_sku}` unknown"),
    )
}

/// Map an order normalized without the channel's stored SKU map (the webhook's, so the
/// map is read once per drain batch instead of once per push): each line still
/// unmapped is looked up in `map` and, if found, gets what [`build_lines`] would have
/// given it, and its unknown-SKU exception goes. The result equals normalizing with
/// `map` in the first place (a property test checks it per channel).
pub fn map_skus(order: &mut Order, map: &SkuMap) {
    let mut mapped = Vec::new();
    for line in order.lines.iter_mut().filter(|l| l.sku.is_none()) {
        let Some(entry) = map.get(&line.channel_sku) else {
            continue;
        };
        line.sku = Some(entry.sku.clone());
        if entry.unit_weight_g > 0 {
            line.unit_weight_g = entry.unit_weight_g;
        }
        if entry.unit_volume_cm3 > 0 {
            line.unit_volume_cm3 = entry.unit_volume_cm3;
        }
        line.zone = entry.zone;
        mapped.push(unknown_sku(line.line_no, &line.channel_sku));
    }
    if mapped.is_empty() {
        return;
    }
    order.exceptions.retain(|e| !mapped.contains(e));
    if !order
        .exceptions
        .iter()
        .any(|e| e.code == ExceptionCode::UnknownSku)
    {
        let key = format!("exception:{}", exception_slug(ExceptionCode::UnknownSku));
        order.history.retain(|e| e.key != key);
    }
}

/// A whole positive count within the channel's limit; anything else is kept as the
/// nearest representable count (0 for missing/negative) and flagged.
fn checked_quantity(
    line_no: u32,
    q: Option<Decimal>,
    max: u32,
    exceptions: &mut Vec<OrderException>,
) -> u32 {
    let flag = |exceptions: &mut Vec<OrderException>, why: String| {
        exceptions.push(OrderException::new(
            ExceptionCode::ImpossibleQuantity,
            format!("line {line_no}: {why}"),
        ));
    };
    let Some(q) = q else {
        flag(exceptions, "quantity missing or unreadable".into());
        return 0;
    };
    if q <= Decimal::ZERO {
        flag(exceptions, format!("quantity {q} is not positive"));
        return 0;
    }
    if q.fract() != Decimal::ZERO {
        flag(exceptions, format!("quantity {q} is not a whole number"));
    }
    let whole = q.trunc().to_u32().unwrap_or(u32::MAX);
    if whole > max {
        flag(
            exceptions,
            format!("quantity {q} exceeds the channel's limit of {max}"),
        );
    }
    whole
}

/// Everything an adapter read, ready to assemble.
pub struct OrderParts {
    pub channel_order_id: String,
    pub store_id: Option<String>,
    pub customer: Customer,
    pub fulfilment: Fulfilment,
    pub lines: Vec<OrderLine>,
    pub money: OrderMoney,
    pub promised: PromisedWindow,
    pub buyer_note: Option<String>,
    pub placed_at: DateTime<Utc>,
    /// History entries the payload itself implies (created, paid, accepted …), each
    /// with its de-duplication key.
    pub events: Vec<(String, EventKind, DateTime<Utc>)>,
    pub exceptions: Vec<OrderException>,
}

pub fn assemble(cfg: &ChannelConfig, mut parts: OrderParts) -> Order {
    let money = &parts.money;
    if money.expected_paid() != money.paid {
        parts.exceptions.push(OrderException::new(
            ExceptionCode::MoneyMismatch,
            format!(
                "goods {} - discounts {} + delivery {} + packaging {} = {} but paid {}",
                money.goods,
                money.discount_total(),
                money.delivery_fee,
                money.packaging_fee,
                money.expected_paid(),
                money.paid
            ),
        ));
    }
    if matches!(parts.fulfilment, Fulfilment::Delivery { address: None }) {
        parts.exceptions.push(OrderException::new(
            ExceptionCode::MissingAddress,
            "delivery order without an address",
        ));
    }
    let source = EventSource::Channel(cfg.id.clone());
    let mut history: Vec<OrderEvent> = parts
        .events
        .into_iter()
        .map(|(key, kind, at)| OrderEvent {
            key,
            kind,
            at,
            source: source.clone(),
        })
        .collect();
    let mut codes: Vec<ExceptionCode> = parts.exceptions.iter().map(|e| e.code).collect();
    codes.sort();
    codes.dedup();
    history.extend(codes.into_iter().map(|code| OrderEvent {
        key: format!("exception:{}", exception_slug(code)),
        kind: EventKind::Exception { code },
        at: parts.placed_at,
        source: source.clone(),
    }));
    Order {
        id: OrderId::for_channel_order(&cfg.id, &parts.channel_order_id),
        channel: cfg.id.clone(),
        channel_order_id: parts.channel_order_id,
        store_id: parts.store_id,
        customer: parts.customer,
        fulfilment: parts.fulfilment,
        lines: parts.lines,
        money: parts.money,
        promised: parts.promised,
        buyer_note: parts.buyer_note.filter(|n| !n.trim().is_empty()),
        placed_at: parts.placed_at,
        source_time_zone: cfg.time_zone.clone(),
        source_utc_offset_minutes: cfg.utc_offset_minutes,
        history,
        exceptions: parts.exceptions,
    }
}

fn exception_slug(code: ExceptionCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{code:?}"))
}

/// Σ line amounts.
pub fn goods_total(lines: &[OrderLine]) -> Decimal {
    lines.iter().map(OrderLine::amount).sum()
}
