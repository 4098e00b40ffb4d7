//! Ele.me: one URL, a JSON envelope whose `message` is a JSON document in a string,
//! signed over the other envelope fields (`signature`, MD5 upper case).

use serde_json::{json, Value};

use super::{channel_order_id, local_text, sign, Channel, Ctx, Expect, Webhook};
use crate::catalog::{yuan_number, PRODUCTS};
use crate::door;
use crate::mix::OrderSpec;

const ACK: &str = r#"{"message":"ok"}"#;
const SHOP_ID: i64 = 170_000_123;
const PACKAGE_FEN: i64 = 100;
const DELIVER_FEN: i64 = 400;

/// Type 10, a new order.
pub fn order(ctx: &Ctx, push: usize, o: &OrderSpec, at_ms: i64) -> Webhook {
    let c = ctx.customer(o);
    let home = door::home(c);
    let id = channel_order_id(ctx.run, Channel::Eleme, o.seq);
    let goods = o.goods_fen();
    // 满30减6: 2.00 Ele.me, 4.00 the shop (reported as negative amounts).
    let discount = if goods >= 3000 { 600 } else { 0 };
    let items: Vec<Value> = o
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let p = &PRODUCTS[l.product];
            let price = i64::from(p.price_fen);
            json!({
                "id": i + 1, "skuId": 200_000 + l.product, "name": p.name,
                "price": yuan_number(price), "quantity": l.quantity,
                "total": yuan_number(price * i64::from(l.quantity)),
                "extendCode": ctx.run.channel_sku(Channel::Eleme, p)
            })
        })
        .collect();
    let activities: Vec<Value> = (discount > 0)
        .then(|| json!({"name": "满30减6", "amount": -6.0, "elemePart": -2.0, "restaurantPart": -4.0}))
        .into_iter()
        .collect();
    let message = json!({
        "id": id, "orderId": id,
        "address": home.full(),
        "createdAt": local_text(at_ms), "activeAt": local_text(at_ms),
        "deliverFee": yuan_number(DELIVER_FEN), "deliverTime": null, "description": "不要辣",
        "groups": [{"name": "1号篮子", "type": "normal", "items": items}],
        "phoneList": [ctx.run.phone(o.customer)], "shopId": SHOP_ID,
        "userId": 10_000_000 + o.customer, "consignee": door::name(c),
        "deliveryGeo": format!("{},{}", home.lng, home.lat),
        "totalPrice": yuan_number(goods + PACKAGE_FEN + DELIVER_FEN - discount),
        "originalPrice": yuan_number(goods + PACKAGE_FEN + DELIVER_FEN),
        "packageFee": yuan_number(PACKAGE_FEN),
        // Cash on delivery is an unpaid order.
        "onlinePaid": o.paid, "status": "unprocessed",
        "orderActivities": activities
    });
    envelope(ctx, push, 10, &message, at_ms)
}

/// Type 14, the order was cancelled.
pub fn cancel(ctx: &Ctx, push: usize, o: &OrderSpec, at_ms: i64) -> Webhook {
    let message = json!({
        "orderId": channel_order_id(ctx.run, Channel::Eleme, o.seq),
        "reason": "用户取消", "updateTime": at_ms / 1000
    });
    envelope(ctx, push, 14, &message, at_ms)
}

fn envelope(ctx: &Ctx, push: usize, push_type: i64, message: &Value, at_ms: i64) -> Webhook {
    let mut env = serde_json::Map::new();
    env.insert(
        "requestId".into(),
        json!(format!("req-{}-{push}", ctx.run.token)),
    );
    env.insert("type".into(), json!(push_type));
    env.insert("appId".into(), json!(12_345_678));
    env.insert("message".into(), json!(message.to_string()));
    env.insert("shopId".into(), json!(SHOP_ID));
    env.insert("timestamp".into(), json!(at_ms));
    env.insert("userId".into(), json!(336_699));
    let signature = sign::eleme(&env, &Channel::Eleme.secret());
    env.insert("signature".into(), json!(signature));
    Webhook {
        path: "/webhooks/eleme/order".into(),
        content_type: "application/json",
        body: Value::Object(env).to_string().into_bytes(),
        sign_at_send: None,
        expect: Expect::Exact(ACK),
    }
}
