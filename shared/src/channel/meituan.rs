//! Meituan Waimai / Shangou: one URL per push topic under `/webhooks/meituan/`
//! (`order`, `status`, `cancel`, `refund`, `partrefund`), flat parameters with
//! `detail` and `extras` as JSON strings, yuan amounts, GCJ-02 × 10^6 coordinates,
//! epoch-second times in Asia/Shanghai, privacy phone numbers.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::address;
use super::customer::{customer, parse_phone};
use super::error::NormalizeError;
use super::json::{
    array, bounded, embedded, opt_decimal, opt_i64, opt_text, req_text, req_yuan, yuan_or_zero,
};
use super::lines::{assemble, build_lines, goods_total, refunded_lines, OrderParts, PlatformItem};
use super::normalize::{ChannelEvent, Ctx};
use super::request::Payload;
use super::time::from_epoch_auto;
use crate::order::{
    Discount, EventKind, ExceptionCode, Fulfilment, Funder, GeoPoint, OrderException, OrderMoney,
    PromisedWindow,
};

pub(crate) fn normalize(ctx: &Ctx) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let obj = match &ctx.push.payload {
        Payload::Params(params) => Value::Object(
            params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
        Payload::Json(v @ Value::Object(_)) => v.clone(),
        Payload::Json(_) => {
            return Err(NormalizeError::UnexpectedShape(
                "expected flat parameters".into(),
            ))
        }
    };
    match ctx.path_topic() {
        "order" => order_push(ctx, &obj).map(|o| vec![o]),
        "status" => status_push(ctx, &obj),
        "cancel" => cancel_push(ctx, &obj),
        "refund" => refund_push(ctx, &obj, true),
        "partrefund" | "part_refund" | "partial_refund" => refund_push(ctx, &obj, false),
        other => Err(NormalizeError::UnknownTopic(other.to_string())),
    }
}

/// Meituan status codes: 1 submitted, 2 pushed to the merchant, 4 merchant confirmed,
/// 8 completed, 9 cancelled. Keys are shared with the cancel push, so a status-9 push
/// and a cancel push for the same order make one history entry.
fn status_event(code: &str) -> (String, EventKind) {
    match code {
        "4" => ("accepted".into(), EventKind::Accepted),
        "8" => ("completed".into(), EventKind::Completed),
        "9" => ("cancelled".into(), EventKind::Cancelled { reason: None }),
        other => (
            format!("status:{other}"),
            EventKind::ChannelStatus {
                code: other.to_string(),
            },
        ),
    }
}

fn order_id(obj: &Value) -> Result<String, NormalizeError> {
    req_text(obj, "order_id").or_else(|_| req_text(obj, "wm_order_id_view"))
}

/// When the event happened: `utime`, else the signed `timestamp`, else receipt.
fn event_time(ctx: &Ctx, obj: &Value) -> DateTime<Utc> {
    ["utime", "timestamp"]
        .iter()
        .find_map(|f| {
            opt_i64(obj.get(*f), f)
                .ok()
                .flatten()
                .and_then(from_epoch_auto)
        })
        .unwrap_or_else(|| ctx.fallback_time())
}

fn order_push(ctx: &Ctx, obj: &Value) -> Result<ChannelEvent, NormalizeError> {
    let cfg = ctx.cfg;
    let id = order_id(obj)?;
    let mut exceptions = Vec::new();

    let detail = embedded(obj.get("detail"), "detail")?;
    let extras = embedded(obj.get("extras"), "extras")?;
    let mut packaging = Decimal::ZERO;
    let mut raw_lines = Vec::new();
    for (i, item) in array(detail.as_ref(), "detail")?.iter().enumerate() {
        let field = |name: &str| format!("detail[{i}].{name}");
        let box_num = opt_decimal(item.get("box_num"), &field("box_num"))?.unwrap_or_default();
        let box_price = yuan_or_zero(item.get("box_price"), &field("box_price"))?;
        packaging = box_num
            .checked_mul(box_price)
            .and_then(|fee| packaging.checked_add(fee))
            .ok_or_else(|| {
                NormalizeError::invalid(field("box_num"), "packaging fee out of range")
            })?;
        // Each factor may be in range while their product is not: bound the fee like
        // every other amount, so later sums cannot overflow.
        packaging = bounded(packaging, &field("box_num"))?;
        let item_fields = PlatformItem {
            sku_fields: &["app_food_code", "sku_id"],
            name_field: "food_name",
        };
        raw_lines.push(item_fields.read(item, field)?);
    }
    let lines = build_lines(cfg, ctx.sku_map, raw_lines, &mut exceptions);

    let mut discounts = Vec::new();
    for (i, act) in array(extras.as_ref(), "extras")?.iter().enumerate() {
        let label = opt_text(act.get("remark"))
            .or_else(|| opt_text(act.get("type")))
            .unwrap_or_else(|| format!("extras[{i}]"));
        let mt = yuan_or_zero(act.get("mt_charge"), "extras.mt_charge")?;
        let poi = yuan_or_zero(act.get("poi_charge"), "extras.poi_charge")?;
        let reduce = yuan_or_zero(act.get("reduce_fee"), "extras.reduce_fee")?;
        // The split says who funds it; without a split the merchant does.
        let parts = if mt.is_zero() && poi.is_zero() {
            vec![(Funder::Merchant, reduce)]
        } else {
            vec![(Funder::Platform, mt), (Funder::Merchant, poi)]
        };
        discounts.extend(parts.into_iter().filter(|(_, a)| !a.is_zero()).map(
            |(funder, amount)| Discount {
                funder,
                label: label.clone(),
                amount,
            },
        ));
    }

    let goods = goods_total(&lines);
    let delivery_fee = yuan_or_zero(obj.get("shipping_fee"), "shipping_fee")?;
    let paid = req_yuan(obj, "total")?;
    if let Some(original) = opt_decimal(obj.get("original_price"), "original_price")
        .ok()
        .flatten()
    {
        let parts_sum = goods + packaging + delivery_fee;
        if original != parts_sum {
            exceptions.push(OrderException::new(
                ExceptionCode::MoneyMismatch,
                format!("original_price {original} but lines + packaging + shipping = {parts_sum}"),
            ));
        }
    }
    let money = OrderMoney {
        currency: cfg.currency.clone(),
        goods,
        discounts,
        delivery_fee,
        packaging_fee: packaging,
        paid,
    };

    let location = coordinate(obj, &mut exceptions);
    let addr =
        opt_text(obj.get("recipient_address")).and_then(|a| address::from_free_text(&a, location));
    let phone = opt_text(obj.get("recipient_phone")).and_then(|p| parse_phone(&p));
    let user_id = opt_text(obj.get("user_id")).or_else(|| opt_text(obj.get("open_uid")));
    let customer = customer(
        &cfg.id,
        user_id,
        opt_text(obj.get("recipient_name")),
        phone,
        addr.as_ref(),
        &id,
    );

    if opt_text(obj.get("incmp_code")).as_deref() == Some("-1") {
        let modules = opt_text(obj.get("incmp_modules")).unwrap_or_default();
        exceptions.push(OrderException::new(
            ExceptionCode::IncompleteData,
            format!("Meituan marked the order data incomplete (incmp_code -1) {modules}")
                .trim_end()
                .to_string(),
        ));
    }

    let placed_at = opt_i64(obj.get("ctime"), "ctime")
        .ok()
        .flatten()
        .and_then(from_epoch_auto)
        .unwrap_or(ctx.now);
    let promised = match opt_i64(obj.get("delivery_time"), "delivery_time")
        .ok()
        .flatten()
    {
        None | Some(0) => PromisedWindow {
            asap: true,
            start: None,
            end: None,
        },
        Some(t) => {
            let end = from_epoch_auto(t);
            // A booked delivery time is a point; dispatch works to a window ending there.
            PromisedWindow {
                asap: end.is_none(),
                start: end.and_then(|e| e.checked_sub_signed(Duration::minutes(30))),
                end,
            }
        }
    };

    let mut events = vec![("created".to_string(), EventKind::Created, placed_at)];
    // pay_type 1 is cash on delivery: not paid yet.
    if opt_text(obj.get("pay_type")).as_deref() != Some("1") {
        events.push(("paid".into(), EventKind::Paid, placed_at));
    }
    if let Some(code) = opt_text(obj.get("status")) {
        let (key, kind) = status_event(&code);
        if !matches!(code.as_str(), "1" | "2") {
            events.push((key, kind, event_time(ctx, obj)));
        }
    }

    let order = assemble(
        cfg,
        OrderParts {
            channel_order_id: id,
            store_id: opt_text(obj.get("app_poi_code")),
            customer,
            fulfilment: Fulfilment::Delivery { address: addr },
            lines,
            money,
            promised,
            buyer_note: opt_text(obj.get("caution")),
            placed_at,
            events,
            exceptions,
        },
    );
    Ok(ChannelEvent::Order {
        order: Box::new(order),
    })
}

/// GCJ-02 × 10^6 integers; absent or zero means unknown, nonsense is flagged.
fn coordinate(obj: &Value, exceptions: &mut Vec<OrderException>) -> Option<GeoPoint> {
    let lat = opt_decimal(obj.get("latitude"), "latitude");
    let lng = opt_decimal(obj.get("longitude"), "longitude");
    let (Ok(Some(lat)), Ok(Some(lng))) = (lat, lng) else {
        if obj.get("latitude").is_some() || obj.get("longitude").is_some() {
            exceptions.push(OrderException::new(
                ExceptionCode::BadAddress,
                "unreadable latitude/longitude",
            ));
        }
        return None;
    };
    if lat.is_zero() && lng.is_zero() {
        return None;
    }
    let scale = Decimal::from(1_000_000);
    let to_f64 = |d: Decimal| (d / scale).to_string().parse::<f64>().ok();
    match (to_f64(lat), to_f64(lng)) {
        (Some(lat), Some(lng)) if super::geo::is_plausible(lat, lng) => Some(GeoPoint { lat, lng }),
        _ => {
            exceptions.push(OrderException::new(
                ExceptionCode::BadAddress,
                format!("coordinates {lat},{lng} are not on Earth"),
            ));
            None
        }
    }
}

fn status_push(ctx: &Ctx, obj: &Value) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let id = order_id(obj)?;
    let code = req_text(obj, "status")?;
    let (key, kind) = status_event(&code);
    Ok(vec![ctx.event(&id, key, kind, event_time(ctx, obj))])
}

fn cancel_push(ctx: &Ctx, obj: &Value) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let id = order_id(obj)?;
    let reason = match (
        opt_text(obj.get("reason_code")),
        opt_text(obj.get("reason")),
    ) {
        (Some(code), Some(text)) => Some(format!("{code}: {text}")),
        (code, text) => text.or(code),
    };
    Ok(vec![ctx.event(
        &id,
        "cancelled".into(),
        EventKind::Cancelled { reason },
        event_time(ctx, obj),
    )])
}

/// `notify_type`: apply, agree, reject, cancelRefund, cancelRefundComplaint.
fn refund_push(ctx: &Ctx, obj: &Value, full: bool) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let id = order_id(obj)?;
    let notify = opt_text(obj.get("notify_type")).unwrap_or_else(|| "apply".into());
    let amount = yuan_or_zero(
        obj.get("money").or_else(|| obj.get("refund_money")),
        "money",
    )?;
    let refund_id = opt_text(obj.get("refund_id")).unwrap_or_else(|| {
        if full {
            "full".into()
        } else {
            format!("part:{amount}")
        }
    });
    let reason = opt_text(obj.get("reason"));
    // A partial refund names its goods in `food` (a JSON string, like `detail`).
    let food = embedded(obj.get("food"), "food")?;
    let lines = refunded_lines(
        array(food.as_ref(), "food")?,
        &["app_food_code", "sku_id"],
        &["count", "quantity"],
        "food",
    )?;
    let kind = match notify.as_str() {
        "apply" => EventKind::RefundRequested { reason },
        "agree" => EventKind::Refunded {
            amount,
            full,
            lines,
        },
        other => EventKind::ChannelStatus {
            code: format!("refund:{other}"),
        },
    };
    Ok(vec![ctx.event(
        &id,
        format!("refund:{refund_id}:{notify}"),
        kind,
        event_time(ctx, obj),
    )])
}

#[cfg(test)]
#[path = "meituan_tests.rs"]
mod tests;
