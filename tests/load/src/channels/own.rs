//! Our own app and WeChat mini-program: one JSON event per push, HMAC-signed in a
//! header at send time.

use serde_json::{json, Value};

use super::{channel_order_id, orderhub_id, rfc3339, Channel, Ctx, Expect, Webhook};
use crate::catalog::{yuan, PRODUCTS};
use crate::door;
use crate::mix::OrderSpec;

const PACKAGING_FEN: i64 = 100;

/// `order.created`.
pub fn order(ctx: &Ctx, channel: Channel, o: &OrderSpec, at_ms: i64) -> Webhook {
    let c = ctx.customer(o);
    let id = channel_order_id(ctx.run, channel, o.seq);
    let goods = o.goods_fen();
    let delivery = if goods >= 5900 { 0 } else { 500 };
    // 满50减8, funded by us.
    let discounts: Vec<Value> = (goods >= 5000)
        .then(|| json!({"funder": "merchant", "label": "满50减8", "amount": "8.00"}))
        .into_iter()
        .collect();
    let discount = if discounts.is_empty() { 0 } else { 800 };
    let when = rfc3339(at_ms);
    let mut order = json!({
        "id": id, "store_id": ctx.run.store(),
        "customer": customer(ctx, channel, o),
        "fulfilment": {"type": "delivery", "address": door::home(c).parts()},
        "lines": lines(ctx, channel, o),
        "money": {"currency": "CNY", "delivery_fee": yuan(delivery),
                  "packaging_fee": yuan(PACKAGING_FEN), "discounts": discounts,
                  "paid": yuan(goods + delivery + PACKAGING_FEN - discount)},
        "promised": {"asap": true},
        "note": "放门口",
        "placed_at": when,
    });
    // Pay-later orders carry no payment time; the app sends `order.paid` when it comes.
    if o.paid {
        order["paid_at"] = json!(when);
    }
    let body = json!({
        "event": "order.created", "event_id": format!("evt-{id}"),
        "occurred_at": when, "order": order
    });
    signed_at_send(ctx, channel, &body, &[o.seq])
}

/// `order.cancelled`.
pub fn cancel(ctx: &Ctx, channel: Channel, o: &OrderSpec, at_ms: i64) -> Webhook {
    let id = channel_order_id(ctx.run, channel, o.seq);
    let body = json!({
        "event": "order.cancelled", "event_id": format!("evt-{id}-cancel"),
        "occurred_at": rfc3339(at_ms), "order_id": id, "reason": "用户取消"
    });
    signed_at_send(ctx, channel, &body, &[o.seq])
}

/// The app knows its customers by user id, the mini-program by WeChat unionid.
fn customer(ctx: &Ctx, channel: Channel, o: &OrderSpec) -> Value {
    let (t, n) = (&ctx.run.token, o.customer);
    let name = door::name(ctx.customer(o));
    let phone = ctx.run.phone(n);
    match channel {
        Channel::MiniProgram => {
            json!({"openid": format!("o{t}-{n}"), "unionid": format!("un{t}-{n}"),
                                       "name": name, "phone": phone})
        }
        _ => json!({"user_id": format!("u{t}-{n}"), "name": name, "phone": phone}),
    }
}

/// `[{"sku", "name", "quantity", "unit_price"}]` in the channel's own codes, as our own
/// channels and the till send lines.
pub fn lines(ctx: &Ctx, channel: Channel, o: &OrderSpec) -> Vec<Value> {
    o.lines
        .iter()
        .map(|l| {
            let p = &PRODUCTS[l.product];
            json!({"sku": ctx.run.channel_sku(channel, p), "name": p.name,
                   "quantity": l.quantity, "unit_price": yuan(i64::from(p.price_fen))})
        })
        .collect()
}

/// A push of our own API: the body now, the signature when it is sent; accepted, it
/// names exactly these orders.
pub fn signed_at_send(ctx: &Ctx, channel: Channel, body: &Value, seqs: &[u64]) -> Webhook {
    let path = match channel {
        Channel::Pos => "/webhooks/pos/sales".to_string(),
        Channel::GroupBuy => "/webhooks/groupbuy/batches".to_string(),
        _ => format!("/webhooks/{channel}/orders"),
    };
    Webhook {
        path,
        content_type: "application/json",
        body: body.to_string().into_bytes(),
        sign_at_send: Some(channel.secret()),
        expect: Expect::Own {
            orders: seqs
                .iter()
                .map(|s| orderhub_id(ctx.run, channel, *s))
                .collect(),
        },
    }
}
