//! Store POS: a till's batch of sales (each its own order), signed like our own API. A
//! voided sale is the same sale uploaded again with `void: true`.

use serde_json::{json, Value};

use super::own::{lines, signed_at_send};
use super::{rfc3339, Channel, Ctx, Webhook};
use crate::catalog::yuan;
use crate::door;
use crate::mix::{Fulfilment, OrderSpec};

const DELIVERY_FEN: i64 = 600;

pub fn batch(ctx: &Ctx, push: usize, orders: &[OrderSpec], at_ms: i64) -> Webhook {
    let sales: Vec<Value> = orders.iter().map(|o| sale(ctx, o, at_ms)).collect();
    let seqs: Vec<u64> = orders.iter().map(|o| o.seq).collect();
    upload(ctx, format!("B{push}"), sales, &seqs)
}

/// The sale sold at `sold_ms`, voided at the till later (a batch of its own).
pub fn void(ctx: &Ctx, push: usize, o: &OrderSpec, sold_ms: i64) -> Webhook {
    let mut voided = sale(ctx, o, sold_ms);
    voided["void"] = json!(true);
    upload(ctx, format!("V{push}"), vec![voided], &[o.seq])
}

fn sale(ctx: &Ctx, o: &OrderSpec, sold_ms: i64) -> Value {
    let c = ctx.customer(o);
    let goods = o.goods_fen();
    // Members pay 2.00 less on 30.00 or more.
    let member_discount = if goods >= 3000 { 200 } else { 0 };
    let mut sale = json!({
        "receipt_no": format!("R{}", o.seq), "sold_at": rfc3339(sold_ms),
        "lines": lines(ctx, Channel::Pos, o),
        "discounts": if member_discount > 0 {
            json!([{"funder": "merchant", "label": "会员价", "amount": yuan(member_discount)}])
        } else {
            json!([])
        },
        "member": {"id": format!("M{}-{}", ctx.run.token, o.customer), "name": door::name(c),
                   "phone": ctx.run.phone(o.customer)},
        "fulfilment": {"type": "take_away"},
        "paid": yuan(goods - member_discount),
    });
    if o.fulfilment == Fulfilment::Delivery {
        let home = door::home(c);
        sale["fulfilment"] = json!({
            "type": "delivery",
            "address": {"full": home.full(), "lat": home.lat, "lng": home.lng},
            "promised": {"end": rfc3339(sold_ms + 3_600_000)}
        });
        sale["delivery_fee"] = json!(yuan(DELIVERY_FEN));
        sale["paid"] = json!(yuan(goods - member_discount + DELIVERY_FEN));
    }
    sale
}

fn upload(ctx: &Ctx, batch: String, sales: Vec<Value>, seqs: &[u64]) -> Webhook {
    let store = ctx.run.store();
    let body = json!({"batch_id": format!("{store}-{batch}"), "store_id": store, "sales": sales});
    signed_at_send(ctx, Channel::Pos, &body, seqs)
}
