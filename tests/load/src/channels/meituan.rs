//! Meituan Waimai: form parameters posted to one URL per topic, signed over the full
//! URL (`sig`), `detail` and `extras` as JSON strings, yuan amounts.

use serde_json::json;

use super::{channel_order_id, sign, Channel, Ctx, Expect, Webhook};
use crate::catalog::{yuan, yuan_number, PRODUCTS};
use crate::door;
use crate::mix::OrderSpec;

const APP_ID: &str = "6789";
const ACK: &str = r#"{"data":"ok"}"#;
/// Per line: one box at 0.50.
const BOX_FEN: i64 = 50;

pub fn order(ctx: &Ctx, o: &OrderSpec, at_ms: i64) -> Webhook {
    let c = ctx.customer(o);
    let home = door::home(c);
    let id = channel_order_id(ctx.run, Channel::Meituan, o.seq);
    let goods = o.goods_fen();
    let packaging = BOX_FEN * o.lines.len() as i64;
    let shipping = if goods >= 5900 { 0 } else { 500 };
    // 满40减5, split as the platform does: 2.00 Meituan, 3.00 the merchant.
    let discount = if goods >= 4000 { 500 } else { 0 };
    let detail: Vec<_> = o
        .lines
        .iter()
        .map(|l| {
            let p = &PRODUCTS[l.product];
            json!({
                "app_food_code": ctx.run.channel_sku(Channel::Meituan, p),
                "food_name": p.name, "quantity": l.quantity,
                "price": yuan_number(i64::from(p.price_fen)),
                "box_num": 1, "box_price": yuan_number(BOX_FEN), "unit": "份"
            })
        })
        .collect();
    let extras: Vec<_> = (discount > 0)
        .then(|| {
            json!({"act_detail_id": 10, "reduce_fee": 5.0, "mt_charge": 2.0, "poi_charge": 3.0,
                   "remark": "满40减5", "type": 2})
        })
        .into_iter()
        .collect();
    let weight: u32 = o
        .lines
        .iter()
        .map(|l| PRODUCTS[l.product].weight_g * l.quantity)
        .sum();
    let secs = (at_ms / 1000).to_string();
    let params = vec![
        ("app_id", APP_ID.to_string()),
        ("timestamp", secs.clone()),
        ("order_id", id.clone()),
        ("wm_order_id_view", id),
        ("app_poi_code", ctx.run.store()),
        ("recipient_name", door::name(c)),
        ("recipient_address", home.full()),
        ("recipient_phone", ctx.run.phone(o.customer)),
        ("total", yuan(goods + packaging + shipping - discount)),
        ("original_price", yuan(goods + packaging + shipping)),
        ("shipping_fee", yuan(shipping)),
        ("caution", "请放门口".to_string()),
        ("ctime", secs.clone()),
        ("utime", secs),
        ("delivery_time", "0".to_string()),
        ("latitude", micro_degrees(home.lat)),
        ("longitude", micro_degrees(home.lng)),
        ("day_seq", (o.seq % 10_000).to_string()),
        ("total_weight", weight.to_string()),
        ("status", "2".to_string()),
        // 1 is cash on delivery: the order is not paid yet.
        ("pay_type", if o.paid { "2" } else { "1" }.to_string()),
        ("detail", serde_json::Value::from(detail).to_string()),
        ("extras", serde_json::Value::from(extras).to_string()),
    ];
    signed(ctx, "/webhooks/meituan/order", params)
}

pub fn cancel(ctx: &Ctx, o: &OrderSpec, at_ms: i64) -> Webhook {
    let params = vec![
        ("app_id", APP_ID.to_string()),
        ("timestamp", (at_ms / 1000).to_string()),
        (
            "order_id",
            channel_order_id(ctx.run, Channel::Meituan, o.seq),
        ),
        ("reason_code", "1002".to_string()),
        ("reason", "用户取消".to_string()),
    ];
    signed(ctx, "/webhooks/meituan/cancel", params)
}

/// GCJ-02 degrees × 10^6 as an integer, as Meituan sends coordinates.
fn micro_degrees(deg: f64) -> String {
    format!("{}", (deg * 1e6).round() as i64)
}

fn signed(ctx: &Ctx, path: &str, mut params: Vec<(&'static str, String)>) -> Webhook {
    let url = format!("{}{path}", ctx.base_url);
    let sig = sign::meituan(&url, &params, &Channel::Meituan.secret());
    params.push(("sig", sig));
    Webhook {
        path: path.to_string(),
        content_type: "application/x-www-form-urlencoded",
        body: form_encode(&params).into_bytes(),
        sign_at_send: None,
        expect: Expect::Exact(ACK),
    }
}

/// `application/x-www-form-urlencoded`: every byte but unreserved ones as `%XX`.
fn form_encode(params: &[(&str, String)]) -> String {
    let pct = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    };
    params
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}
