//! Ele.me: one URL, a JSON envelope (`requestId`, `type`, `appId`, `message`,
//! `shopId`, `timestamp`, `signature`, `userId`) whose `message` is a JSON document in
//! a string. `type` says what it is: 10 new order, 12 status change, 14/15/17
//! cancelled, 18 completed, 30 refund, 60 delivery status, 71 self-delivery status,
//! 100 authorisation revoked. Times inside `message` are local wall-clock text
//! (Asia/Shanghai) or epoch seconds; amounts are yuan numbers.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::address;
use super::customer::{customer, parse_phone};
use super::error::NormalizeError;
use super::json::{array, embedded, opt_i64, opt_text, req_yuan, yuan_or_zero};
use super::lines::{assemble, build_lines, goods_total, refunded_lines, OrderParts, PlatformItem};
use super::normalize::{ChannelEvent, ChannelNotice, Ctx};
use super::request::Payload;
use super::time::{from_epoch_auto, from_text};
use crate::order::{
    Discount, EventKind, ExceptionCode, Fulfilment, Funder, GeoPoint, OrderException, OrderMoney,
    PromisedWindow,
};

pub(crate) fn normalize(ctx: &Ctx) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let Payload::Json(envelope @ Value::Object(_)) = &ctx.push.payload else {
        return Err(NormalizeError::UnexpectedShape(
            "expected the Ele.me JSON envelope".into(),
        ));
    };
    let push_type = opt_i64(envelope.get("type"), "type")?
        .ok_or_else(|| NormalizeError::MissingField("type".into()))?;
    let message = embedded(envelope.get("message"), "message")?
        .ok_or_else(|| NormalizeError::MissingField("message".into()))?;
    if !message.is_object() {
        return Err(NormalizeError::MalformedEmbeddedJson {
            field: "message".into(),
            detail: "expected an object".into(),
        });
    }
    match push_type {
        10 => new_order(ctx, &message).map(|o| vec![o]),
        12 => status_change(ctx, &message),
        14 | 15 | 17 => simple(
            ctx,
            &message,
            "cancelled",
            EventKind::Cancelled {
                reason: cancel_reason(&message),
            },
        ),
        18 => simple(ctx, &message, "completed", EventKind::Completed),
        30 => refund(ctx, &message),
        60 => delivery(ctx, &message, "delivery"),
        71 => delivery(ctx, &message, "self_delivery"),
        100 => Ok(vec![notice(
            ctx,
            envelope,
            &message,
            "authorization_revoked",
        )]),
        other => match order_id(&message) {
            // A type orderhub does not act on is still recorded, never refused: the
            // platform would retry a refusal forever.
            Ok(_) => simple(
                ctx,
                &message,
                &format!("type:{other}"),
                EventKind::ChannelStatus {
                    code: format!("type:{other}"),
                },
            ),
            Err(_) => Ok(vec![notice(
                ctx,
                envelope,
                &message,
                &format!("type:{other}"),
            )]),
        },
    }
}

fn order_id(m: &Value) -> Result<String, NormalizeError> {
    opt_text(m.get("orderId"))
        .or_else(|| opt_text(m.get("id")))
        .ok_or_else(|| NormalizeError::MissingField("message.orderId".into()))
}

/// Local wall-clock text or epoch seconds/milliseconds.
fn time_of(ctx: &Ctx, v: Option<&Value>) -> Option<DateTime<Utc>> {
    match v? {
        Value::Number(_) => opt_i64(v, "time").ok().flatten().and_then(from_epoch_auto),
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(n) => from_epoch_auto(n),
            Err(_) => from_text(s, ctx.cfg.utc_offset_minutes),
        },
        _ => None,
    }
}

fn event_time(ctx: &Ctx, m: &Value) -> DateTime<Utc> {
    ["updateTime", "updateAt", "cancelOrderCreatedAt", "time"]
        .iter()
        .find_map(|f| time_of(ctx, m.get(*f)))
        .unwrap_or_else(|| ctx.fallback_time())
}

fn simple(
    ctx: &Ctx,
    m: &Value,
    key: &str,
    kind: EventKind,
) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let id = order_id(m)?;
    Ok(vec![ctx.event(
        &id,
        key.to_string(),
        kind,
        event_time(ctx, m),
    )])
}

fn cancel_reason(m: &Value) -> Option<String> {
    opt_text(m.get("reason")).or_else(|| opt_text(m.get("cancelOrderDescription")))
}

/// Type 12: `state` valid (merchant accepted), settled (completed), invalid
/// (cancelled), refunding; anything else is kept as a channel status.
fn status_change(ctx: &Ctx, m: &Value) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let state = opt_text(m.get("state")).unwrap_or_default();
    let (key, kind) = match state.as_str() {
        "valid" => ("accepted".to_string(), EventKind::Accepted),
        "settled" => ("completed".into(), EventKind::Completed),
        "invalid" => (
            "cancelled".into(),
            EventKind::Cancelled {
                reason: cancel_reason(m),
            },
        ),
        "refunding" => (
            "refund:requested".into(),
            EventKind::RefundRequested {
                reason: cancel_reason(m),
            },
        ),
        other => (
            format!("status:{other}"),
            EventKind::ChannelStatus {
                code: other.to_string(),
            },
        ),
    };
    simple(ctx, m, &key, kind)
}

/// Type 30: `refundStatus` applied / successful / failed / rejected; `refundType`
/// normal (whole order) or part.
fn refund(ctx: &Ctx, m: &Value) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let status = opt_text(m.get("refundStatus")).unwrap_or_else(|| "applied".into());
    let full = opt_text(m.get("refundType")).is_none_or(|t| t != "part");
    let amount = yuan_or_zero(
        m.get("refundAmount").or_else(|| m.get("totalPrice")),
        "message.refundAmount",
    )?;
    let refund_id = opt_text(m.get("refundId")).unwrap_or_else(|| {
        if full {
            "full".into()
        } else {
            format!("part:{amount}")
        }
    });
    // A partial refund names its goods in `goodsList`.
    let lines = refunded_lines(
        array(m.get("goodsList"), "message.goodsList")?,
        &["extendCode", "skuId", "id"],
        &["quantity", "count"],
        "message.goodsList",
    )?;
    let kind = match status.as_str() {
        "applied" => EventKind::RefundRequested {
            reason: opt_text(m.get("reason")),
        },
        "successful" => EventKind::Refunded {
            amount,
            full,
            lines,
        },
        other => EventKind::ChannelStatus {
            code: format!("refund:{other}"),
        },
    };
    simple(ctx, m, &format!("refund:{refund_id}:{status}"), kind)
}

/// Types 60 and 71: the rider's progress. Keys are shared between the two so a
/// platform rider and a self-delivery report of the same fact make one entry.
fn delivery(ctx: &Ctx, m: &Value, prefix: &str) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let state = opt_text(m.get("state")).unwrap_or_default();
    let (key, kind) = match state.as_str() {
        "delivering" => ("picked_up".to_string(), EventKind::PickedUp),
        "completed" => ("delivered".into(), EventKind::Delivered),
        other => {
            let code = format!("{prefix}:{other}");
            (code.clone(), EventKind::ChannelStatus { code })
        }
    };
    simple(ctx, m, &key, kind)
}

fn notice(ctx: &Ctx, envelope: &Value, m: &Value, kind: &str) -> ChannelEvent {
    ChannelEvent::Notice(ChannelNotice {
        channel: ctx.cfg.id.clone(),
        kind: kind.to_string(),
        store_id: opt_text(m.get("shopId")).or_else(|| opt_text(envelope.get("shopId"))),
        detail: m.to_string(),
        at: event_time(ctx, m),
    })
}

fn new_order(ctx: &Ctx, m: &Value) -> Result<ChannelEvent, NormalizeError> {
    let cfg = ctx.cfg;
    let id = order_id(m)?;
    let mut exceptions = Vec::new();

    let mut raw_lines = Vec::new();
    for (g, group) in array(m.get("groups"), "message.groups")?.iter().enumerate() {
        for (i, item) in array(group.get("items"), &format!("message.groups[{g}].items"))?
            .iter()
            .enumerate()
        {
            let field = |name: &str| format!("message.groups[{g}].items[{i}].{name}");
            // The merchant's own code (`extendCode`) maps best; Ele.me's ids otherwise.
            let item_fields = PlatformItem {
                sku_fields: &["extendCode", "skuId", "id"],
                name_field: "name",
            };
            raw_lines.push(item_fields.read(item, field)?);
        }
    }
    let lines = build_lines(cfg, ctx.sku_map, raw_lines, &mut exceptions);

    let mut discounts = Vec::new();
    for (i, act) in array(m.get("orderActivities"), "message.orderActivities")?
        .iter()
        .enumerate()
    {
        let label = opt_text(act.get("name")).unwrap_or_else(|| format!("activity {i}"));
        // Ele.me reports discounts as negative amounts.
        let amount = yuan_or_zero(act.get("amount"), "orderActivities.amount")?.abs();
        let platform = yuan_or_zero(act.get("elemePart"), "orderActivities.elemePart")?.abs();
        let merchant =
            yuan_or_zero(act.get("restaurantPart"), "orderActivities.restaurantPart")?.abs();
        let parts = if platform.is_zero() && merchant.is_zero() {
            vec![(Funder::Merchant, amount)]
        } else {
            vec![(Funder::Platform, platform), (Funder::Merchant, merchant)]
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
    let delivery_fee = yuan_or_zero(m.get("deliverFee"), "message.deliverFee")?;
    let packaging_fee = yuan_or_zero(m.get("packageFee"), "message.packageFee")?;
    let paid = req_yuan(m, "totalPrice")?;
    let money = OrderMoney {
        currency: cfg.currency.clone(),
        goods,
        discounts,
        delivery_fee,
        packaging_fee,
        paid,
    };

    let location = geo(m, &mut exceptions);
    let addr = opt_text(m.get("address"))
        .or_else(|| opt_text(m.get("deliveryPoiAddress")))
        .and_then(|a| address::from_free_text(&a, location));
    let phone = m
        .get("phoneList")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().find_map(|p| p.as_str().and_then(parse_phone)))
        .or_else(|| opt_text(m.get("phone")).and_then(|p| parse_phone(&p)));
    let customer = customer(
        &cfg.id,
        opt_text(m.get("userId")),
        opt_text(m.get("consignee")),
        phone,
        addr.as_ref(),
        &id,
    );

    let placed_at = time_of(ctx, m.get("createdAt"))
        .or_else(|| time_of(ctx, m.get("activeAt")))
        .unwrap_or(ctx.now);
    let promised = match time_of(ctx, m.get("deliverTime")) {
        None => PromisedWindow {
            asap: true,
            start: None,
            end: None,
        },
        Some(end) => PromisedWindow {
            asap: false,
            start: end.checked_sub_signed(Duration::minutes(30)),
            end: Some(end),
        },
    };
    let mut events = vec![("created".to_string(), EventKind::Created, placed_at)];
    if m.get("onlinePaid").and_then(Value::as_bool).unwrap_or(true) {
        events.push((
            "paid".into(),
            EventKind::Paid,
            time_of(ctx, m.get("activeAt")).unwrap_or(placed_at),
        ));
    }
    if opt_text(m.get("status")).as_deref() == Some("valid") {
        events.push(("accepted".into(), EventKind::Accepted, placed_at));
    }

    let order = assemble(
        cfg,
        OrderParts {
            channel_order_id: id,
            store_id: opt_text(m.get("shopId")).or_else(|| opt_text(m.get("openId"))),
            customer,
            fulfilment: Fulfilment::Delivery { address: addr },
            lines,
            money,
            promised,
            buyer_note: opt_text(m.get("description")),
            placed_at,
            events,
            exceptions,
        },
    );
    Ok(ChannelEvent::Order {
        order: Box::new(order),
    })
}

/// `deliveryGeo`: `"lng,lat"` in GCJ-02 degrees.
fn geo(m: &Value, exceptions: &mut Vec<OrderException>) -> Option<GeoPoint> {
    let text = opt_text(m.get("deliveryGeo"))?;
    let parsed = text.split_once(',').and_then(|(lng, lat)| {
        let lng: Decimal = lng.trim().parse().ok()?;
        let lat: Decimal = lat.trim().parse().ok()?;
        Some((
            lat.to_string().parse::<f64>().ok()?,
            lng.to_string().parse::<f64>().ok()?,
        ))
    });
    match parsed {
        Some((lat, lng)) if super::geo::is_plausible(lat, lng) => Some(GeoPoint { lat, lng }),
        _ => {
            exceptions.push(OrderException::new(
                ExceptionCode::BadAddress,
                format!("deliveryGeo `{text}` unreadable"),
            ));
            None
        }
    }
}

#[cfg(test)]
#[path = "eleme_tests.rs"]
mod tests;
