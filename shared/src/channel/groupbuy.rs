//! Community group-buying (社区团购): one batch per group leader (团长), each line a
//! member's order collected at the leader's pickup point, never delivered home.
//! Signed like our own API (see [`super::own`]).
//!
//! ```json
//! {
//!   "batch_id": "GB-2026-11-25-L88",
//!   "store_id": "S001",                          // the store that fulfils the batch
//!   "leader": {"id": "L88", "name": "王阿姨", "phone": "13900002222"},
//!   "pickup_point": {"id": "PP-12", "name": "幸福小区 3 号门",
//!                    "address": {"province": "上海市", "city": "上海市", "district": "闵行区",
//!                                "detail": "幸福路 88 弄 3 号门", "lat": 31.11, "lng": 121.38}},
//!   "pickup_window": {"start": "2026-11-26T16:00:00+08:00", "end": "2026-11-26T20:00:00+08:00"},
//!   "orders": [{
//!     "member_order_id": "GB-M-10001",
//!     "member": {"id": "U-501", "name": "陈七", "phone": "13700003333"},
//!     "placed_at": "2026-11-25T21:14:00+08:00",
//!     "lines": [{"sku": "GB-EGG-30", "name": "土鸡蛋 30 枚", "quantity": 1, "unit_price": "29.90"}],
//!     "discounts": [{"funder": "platform", "label": "团购价补贴", "amount": "5.00"}],
//!     "paid": "24.90",
//!     "note": "…",
//!     "cancelled": false
//!   }]
//! }
//! ```
//!
//! A member order's customer is the member (real phone, else member id), never the
//! pickup point's address, which many members share.

use serde_json::Value;

use super::customer::{customer, parse_phone};
use super::error::NormalizeError;
use super::json::{array, opt_text, req_text, req_yuan};
use super::lines::{assemble, build_lines, goods_total, OrderParts};
use super::normalize::{ChannelEvent, Ctx};
use super::request::Payload;
use super::schema;
use crate::order::{Address, EventKind, Fulfilment, OrderMoney, PromisedWindow};

pub(crate) fn normalize(ctx: &Ctx) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let Payload::Json(batch @ Value::Object(_)) = &ctx.push.payload else {
        return Err(NormalizeError::UnexpectedShape(
            "expected a group-buying batch object".into(),
        ));
    };
    let leader = schema::object(batch.get("leader"), "leader")?;
    // A batch is one leader's; the order model has no leader field (the pickup point
    // stands for it), so the id is checked, not kept.
    req_text(leader, "id").map_err(|_| NormalizeError::MissingField("leader.id".into()))?;
    let point = schema::object(batch.get("pickup_point"), "pickup_point")?;
    let point_id = req_text(point, "id")
        .map_err(|_| NormalizeError::MissingField("pickup_point.id".into()))?;
    let mut point_exceptions = Vec::new();
    let point_address = schema::address(
        point.get("address"),
        "pickup_point.address",
        &mut point_exceptions,
    )?;
    let window = schema::promised(ctx.cfg, batch.get("pickup_window"), "pickup_window")?;
    let orders = array(batch.get("orders"), "orders")?;
    if orders.is_empty() {
        return Err(NormalizeError::MissingField("orders".into()));
    }
    let shared = Shared {
        store_id: opt_text(batch.get("store_id")),
        point_id,
        point_name: opt_text(point.get("name")),
        point_address,
        window,
    };
    orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut exceptions = point_exceptions.clone();
            member_order(ctx, &shared, o, &format!("orders[{i}]"), &mut exceptions)
        })
        .collect()
}

struct Shared {
    store_id: Option<String>,
    point_id: String,
    point_name: Option<String>,
    point_address: Option<Address>,
    window: PromisedWindow,
}

fn member_order(
    ctx: &Ctx,
    shared: &Shared,
    o: &Value,
    at: &str,
    exceptions: &mut Vec<crate::order::OrderException>,
) -> Result<ChannelEvent, NormalizeError> {
    let cfg = ctx.cfg;
    let field = |name: &str| format!("{at}.{name}");
    let id = req_text(o, "member_order_id")
        .map_err(|_| NormalizeError::MissingField(field("member_order_id")))?;
    let lines = build_lines(
        cfg,
        ctx.sku_map,
        schema::lines(o.get("lines"), &field("lines"))?,
        exceptions,
    );
    let money = OrderMoney {
        currency: cfg.currency.clone(),
        goods: goods_total(&lines),
        discounts: schema::discounts(o.get("discounts"), &field("discounts"))?,
        delivery_fee: rust_decimal::Decimal::ZERO,
        packaging_fee: rust_decimal::Decimal::ZERO,
        paid: req_yuan(o, "paid").map_err(|_| NormalizeError::MissingField(field("paid")))?,
    };
    let member = o.get("member").cloned().unwrap_or(Value::Null);
    let phone = opt_text(member.get("phone")).and_then(|p| parse_phone(&p));
    let customer = customer(
        &cfg.id,
        opt_text(member.get("id")),
        opt_text(member.get("name")),
        phone,
        None,
        &id,
    );
    let placed_at = schema::time(cfg, o.get("placed_at"), &field("placed_at"))?
        .unwrap_or_else(|| ctx.fallback_time());
    let mut events = vec![
        ("created".to_string(), EventKind::Created, placed_at),
        ("paid".to_string(), EventKind::Paid, placed_at),
        // The leader's batch is the merchant's acceptance of every member order in it.
        (
            "accepted".to_string(),
            EventKind::Accepted,
            ctx.fallback_time().max(placed_at),
        ),
    ];
    if o.get("cancelled").and_then(Value::as_bool).unwrap_or(false) {
        events.push((
            "cancelled".into(),
            EventKind::Cancelled {
                reason: opt_text(o.get("cancel_reason")),
            },
            ctx.fallback_time(),
        ));
    }
    let order = assemble(
        cfg,
        OrderParts {
            channel_order_id: id,
            store_id: shared.store_id.clone(),
            customer,
            fulfilment: Fulfilment::PickupPoint {
                point_id: shared.point_id.clone(),
                name: shared.point_name.clone(),
                address: shared.point_address.clone(),
            },
            lines,
            money,
            promised: shared.window.clone(),
            buyer_note: opt_text(o.get("note")),
            placed_at,
            events,
            exceptions: std::mem::take(exceptions),
        },
    );
    Ok(ChannelEvent::Order {
        order: Box::new(order),
    })
}
