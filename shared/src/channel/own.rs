//! Our own app and WeChat mini-program: orderhub's own order API.
//!
//! Every request is signed `x-orderhub-signature: v1=hex(hmac_sha256(secret,
//! timestamp + "." + body))` with `x-orderhub-timestamp: <epoch seconds>`; a client
//! signs every attempt afresh (the replay window refuses a re-sent signature, the
//! idempotency gate makes the re-signed retry harmless). The body is one event:
//!
//! ```json
//! {
//!   "event": "order.created",          // see below
//!   "event_id": "evt_8f14e45f",        // unique per event; retries reuse it
//!   "occurred_at": "2026-11-25T12:00:00+08:00",
//!   "order": {                          // order.created / order.updated
//!     "id": "A1001", "store_id": "S001",
//!     "customer": {"user_id": "u-42", "openid": "oAbc", "unionid": "uAbc",
//!                  "name": "王五", "phone": "13800000000"},
//!     "fulfilment": {"type": "delivery",            // or "pickup_point" / "in_store"
//!                    "address": {"province": "上海市", "city": "上海市",
//!                                "district": "徐汇区", "detail": "漕溪北路 1 号",
//!                                "lat": 31.19, "lng": 121.43, "datum": "wgs84"},
//!                    "point_id": "PP-1", "name": "…", "store_id": "S001"},
//!     "lines": [{"sku": "APP-APPLE", "name": "苹果", "quantity": 2,
//!                "unit_price": "12.50", "unit_weight_g": 500, "zone": "chilled"}],
//!     "money": {"currency": "CNY", "delivery_fee": "5.00", "packaging_fee": "1.00",
//!               "discounts": [{"funder": "merchant", "label": "新人券", "amount": "3.00"}],
//!               "paid": "28.00"},
//!     "promised": {"asap": false, "start": "…", "end": "…"},
//!     "note": "放门口", "placed_at": "…", "paid_at": "…"
//!   },
//!   "order_id": "A1001",                // every other event
//!   "reason": "…",                      // order.cancelled / order.refund_requested
//!   "refund": {"id": "rf1", "amount": "12.50", "full": false}   // order.refunded
//! }
//! ```
//!
//! Events: `order.created`, `order.updated`, `order.paid`, `order.accepted`,
//! `order.picked_up`, `order.delivered`, `order.completed`, `order.cancelled`,
//! `order.refund_requested`, `order.refunded`. Money is decimal yuan (string or
//! number, never finer than a fen); times RFC 3339 (or epoch seconds/ms); `datum`
//! defaults to `gcj02`. The app identifies customers by `user_id`, the mini-program
//! by WeChat `unionid` (one person across our WeChat apps), else `openid`.

use serde_json::Value;

use super::config::ChannelKind;
use super::customer::{customer, parse_phone};
use super::error::NormalizeError;
use super::json::{array, opt_text, req_text, req_yuan, yuan_or_zero};
use super::lines::{assemble, build_lines, goods_total, refunded_lines, OrderParts};
use super::normalize::{ChannelEvent, Ctx};
use super::request::Payload;
use super::schema;
use crate::order::{EventKind, Fulfilment, OrderMoney};

pub(crate) fn normalize(ctx: &Ctx) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let Payload::Json(body @ Value::Object(_)) = &ctx.push.payload else {
        return Err(NormalizeError::UnexpectedShape(
            "expected a JSON object".into(),
        ));
    };
    let event = req_text(body, "event")?;
    let at = schema::time(ctx.cfg, body.get("occurred_at"), "occurred_at")?
        .unwrap_or_else(|| ctx.fallback_time());
    if matches!(event.as_str(), "order.created" | "order.updated") {
        return order(ctx, schema::object(body.get("order"), "order")?, at).map(|o| vec![o]);
    }
    let order_id = req_text(body, "order_id")?;
    let event_id = opt_text(body.get("event_id"));
    let reason = opt_text(body.get("reason"));
    let (key, kind) = match event.as_str() {
        "order.paid" => ("paid".to_string(), EventKind::Paid),
        "order.accepted" => ("accepted".into(), EventKind::Accepted),
        "order.picked_up" => ("picked_up".into(), EventKind::PickedUp),
        "order.delivered" => ("delivered".into(), EventKind::Delivered),
        "order.completed" => ("completed".into(), EventKind::Completed),
        "order.cancelled" => ("cancelled".into(), EventKind::Cancelled { reason }),
        "order.refund_requested" => (
            format!("refund:{}:requested", event_id.as_deref().unwrap_or("-")),
            EventKind::RefundRequested { reason },
        ),
        "order.refunded" => {
            let refund = schema::object(body.get("refund"), "refund")?;
            let id = opt_text(refund.get("id"))
                .or(event_id)
                .unwrap_or_else(|| "-".into());
            let amount = req_yuan(refund, "amount").map_err(|e| prefix(e, "refund."))?;
            let full = refund.get("full").and_then(Value::as_bool).unwrap_or(false);
            let lines = refunded_lines(
                array(refund.get("lines"), "refund.lines")?,
                &["sku"],
                &["quantity"],
                "refund.lines",
            )?;
            (
                format!("refund:{id}"),
                EventKind::Refunded {
                    amount,
                    full,
                    lines,
                },
            )
        }
        other => return Err(NormalizeError::UnknownTopic(other.to_string())),
    };
    Ok(vec![ctx.event(&order_id, key, kind, at)])
}

fn prefix(e: NormalizeError, p: &str) -> NormalizeError {
    match e {
        NormalizeError::MissingField(f) => NormalizeError::MissingField(format!("{p}{f}")),
        NormalizeError::InvalidField { field, detail } => NormalizeError::InvalidField {
            field: format!("{p}{field}"),
            detail,
        },
        other => other,
    }
}

fn order(
    ctx: &Ctx,
    o: &Value,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<ChannelEvent, NormalizeError> {
    let cfg = ctx.cfg;
    let id = req_text(o, "id").map_err(|e| prefix(e, "order."))?;
    let mut exceptions = Vec::new();
    let raw = schema::lines(o.get("lines"), "order.lines")?;
    let lines = build_lines(cfg, ctx.sku_map, raw, &mut exceptions);

    let money_obj = o.get("money").cloned().unwrap_or(Value::Null);
    let money = OrderMoney {
        currency: opt_text(money_obj.get("currency")).unwrap_or_else(|| cfg.currency.clone()),
        goods: goods_total(&lines),
        discounts: schema::discounts(money_obj.get("discounts"), "order.money.discounts")?,
        delivery_fee: yuan_or_zero(money_obj.get("delivery_fee"), "order.money.delivery_fee")?,
        packaging_fee: yuan_or_zero(money_obj.get("packaging_fee"), "order.money.packaging_fee")?,
        paid: req_yuan(&money_obj, "paid").map_err(|e| prefix(e, "order.money."))?,
    };

    let f = o.get("fulfilment").cloned().unwrap_or(Value::Null);
    let addr = schema::address(
        f.get("address"),
        "order.fulfilment.address",
        &mut exceptions,
    )?;
    let fulfilment = match opt_text(f.get("type")).as_deref() {
        None | Some("delivery") => Fulfilment::Delivery {
            address: addr.clone(),
        },
        Some("pickup_point") => Fulfilment::PickupPoint {
            point_id: req_text(&f, "point_id").map_err(|e| prefix(e, "order.fulfilment."))?,
            name: opt_text(f.get("name")),
            address: addr.clone(),
        },
        Some("in_store") => Fulfilment::InStore {
            store_id: opt_text(f.get("store_id"))
                .or_else(|| opt_text(o.get("store_id")))
                .unwrap_or_default(),
        },
        Some(other) => {
            return Err(NormalizeError::invalid(
                "order.fulfilment.type",
                format!("`{other}`"),
            ))
        }
    };

    let c = o.get("customer").cloned().unwrap_or(Value::Null);
    let user_id = match cfg.kind {
        ChannelKind::MiniProgram => {
            opt_text(c.get("unionid")).or_else(|| opt_text(c.get("openid")))
        }
        _ => opt_text(c.get("user_id")),
    };
    let phone = opt_text(c.get("phone")).and_then(|p| parse_phone(&p));
    // Only a delivery address says where the customer lives.
    let home = matches!(fulfilment, Fulfilment::Delivery { .. })
        .then_some(addr.as_ref())
        .flatten();
    let customer = customer(&cfg.id, user_id, opt_text(c.get("name")), phone, home, &id);

    let placed_at = schema::time(cfg, o.get("placed_at"), "order.placed_at")?.unwrap_or(at);
    let mut events = vec![("created".to_string(), EventKind::Created, placed_at)];
    if let Some(paid_at) = schema::time(cfg, o.get("paid_at"), "order.paid_at")? {
        events.push(("paid".into(), EventKind::Paid, paid_at));
    }
    let order = assemble(
        cfg,
        OrderParts {
            channel_order_id: id,
            store_id: opt_text(o.get("store_id")),
            customer,
            fulfilment,
            lines,
            money,
            promised: schema::promised(cfg, o.get("promised"), "order.promised")?,
            buyer_note: opt_text(o.get("note")),
            placed_at,
            events,
            exceptions,
        },
    );
    Ok(ChannelEvent::Order {
        order: Box::new(order),
    })
}

#[cfg(test)]
#[path = "own_tests.rs"]
mod tests;
