//! Community group-buying: a leader's batch of member orders for the community's
//! pickup point, signed like our own API. A cancelled member order is sent again in a
//! batch of its own with `cancelled: true`.

use serde_json::{json, Value};

use super::own::{lines, signed_at_send};
use super::{channel_order_id, rfc3339, Channel, Ctx, Webhook};
use crate::catalog::yuan;
use crate::door;
use crate::mix::{OrderSpec, PushKind};

pub fn batch(ctx: &Ctx, push: usize, orders: &[OrderSpec], at_ms: i64) -> Webhook {
    let members: Vec<Value> = orders.iter().map(|o| member_order(ctx, o, at_ms)).collect();
    let seqs: Vec<u64> = orders.iter().map(|o| o.seq).collect();
    upload(
        ctx,
        format!("B{push}"),
        community(ctx, orders),
        members,
        at_ms,
        &seqs,
    )
}

/// Member order `o` of batch `of`, cancelled (a batch of its own).
pub fn cancel(ctx: &Ctx, push: usize, of: usize, o: &OrderSpec) -> Webhook {
    let placed_ms = ctx.at_ms(of);
    let mut cancelled = member_order(ctx, o, placed_ms);
    cancelled["cancelled"] = json!(true);
    cancelled["cancel_reason"] = json!("团员取消");
    let PushKind::Orders(batch) = &ctx.plan.pushes[of].kind else {
        unreachable!("a cancel names a batch of orders")
    };
    upload(
        ctx,
        format!("C{push}"),
        community(ctx, batch),
        vec![cancelled],
        placed_ms,
        &[o.seq],
    )
}

/// A batch is one community's (see the mix): its leader and pickup point.
fn community(ctx: &Ctx, orders: &[OrderSpec]) -> usize {
    ctx.customer(&orders[0]).community
}

fn member_order(ctx: &Ctx, o: &OrderSpec, placed_ms: i64) -> Value {
    let goods = o.goods_fen();
    // The platform's group price subsidy: 3.00 on 20.00 or more.
    let subsidy = if goods >= 2000 { 300 } else { 0 };
    json!({
        "member_order_id": channel_order_id(ctx.run, Channel::GroupBuy, o.seq),
        "member": {"id": format!("U{}-{}", ctx.run.token, o.customer),
                   "name": door::name(ctx.customer(o)), "phone": ctx.run.phone(o.customer)},
        "placed_at": rfc3339(placed_ms),
        "lines": lines(ctx, Channel::GroupBuy, o),
        "discounts": if subsidy > 0 {
            json!([{"funder": "platform", "label": "团购价补贴", "amount": yuan(subsidy)}])
        } else {
            json!([])
        },
        "paid": yuan(goods - subsidy),
    })
}

fn upload(
    ctx: &Ctx,
    batch: String,
    community: usize,
    orders: Vec<Value>,
    at_ms: i64,
    seqs: &[u64],
) -> Webhook {
    let t = &ctx.run.token;
    let (point, point_name) = door::pickup_point(community);
    // Collected the next afternoon, 16:00-20:00 after the batch closes.
    let day_ms = 86_400_000;
    let body = json!({
        "batch_id": format!("GB{t}-{batch}"), "store_id": ctx.run.store(),
        "leader": {"id": format!("L{t}-{community}"), "name": "团长", "phone": "13900002222"},
        "pickup_point": {"id": format!("PP{t}-{community}"), "name": point_name,
                         "address": point.parts()},
        "pickup_window": {"start": rfc3339(at_ms + day_ms - 4 * 3_600_000),
                          "end": rfc3339(at_ms + day_ms)},
        "orders": orders
    });
    signed_at_send(ctx, Channel::GroupBuy, &body, seqs)
}
