//! Store POS: a shift's sales uploaded in one batch (or a single sale as a batch of
//! one), signed like our own API (`x-orderhub-signature`, see [`super::own`]).
//!
//! ```json
//! {
//!   "batch_id": "S001-2026-11-25-shift-2",
//!   "store_id": "S001",
//!   "sales": [{
//!     "receipt_no": "R000123",           // unique within the store
//!     "sold_at": "2026-11-25T18:03:11+08:00",
//!     "lines": [{"sku": "6901234567890", "name": "鸡蛋 10 枚", "quantity": 1, "unit_price": "12.80"}],
//!     "discounts": [{"funder": "merchant", "label": "会员价", "amount": "1.00"}],
//!     "delivery_fee": "0", "packaging_fee": "0.20", "paid": "12.00",
//!     "member": {"id": "M-77", "name": "赵六", "phone": "13900001111"},
//!     "fulfilment": {"type": "take_away"},   // or {"type": "delivery", "address": {…}, "promised": {…}}
//!     "note": "…",
//!     "void": false                        // a voided sale is cancelled
//!   }]
//! }
//! ```
//!
//! Every sale is already paid. A sale taken away is complete the moment it is sold; a
//! sale to deliver is accepted and goes on to dispatch. Each sale is its own order
//! (`pos-{store}:{receipt}`), idempotent on its own, so re-uploading a batch that
//! overlaps an earlier one adds nothing twice.

use serde_json::Value;

use super::customer::{customer, parse_phone};
use super::error::NormalizeError;
use super::json::{array, opt_text, req_text, req_yuan, yuan_or_zero};
use super::lines::{assemble, build_lines, goods_total, OrderParts};
use super::normalize::{ChannelEvent, Ctx};
use super::request::Payload;
use super::schema;
use crate::order::{EventKind, Fulfilment, OrderMoney, PromisedWindow};

pub(crate) fn normalize(ctx: &Ctx) -> Result<Vec<ChannelEvent>, NormalizeError> {
    let Payload::Json(batch @ Value::Object(_)) = &ctx.push.payload else {
        return Err(NormalizeError::UnexpectedShape(
            "expected a POS batch object".into(),
        ));
    };
    let store_id = req_text(batch, "store_id")?;
    let sales = array(batch.get("sales"), "sales")?;
    if sales.is_empty() {
        return Err(NormalizeError::MissingField("sales".into()));
    }
    sales
        .iter()
        .enumerate()
        .map(|(i, sale)| sale_order(ctx, &store_id, sale, &format!("sales[{i}]")))
        .collect()
}

fn sale_order(
    ctx: &Ctx,
    store_id: &str,
    sale: &Value,
    at: &str,
) -> Result<ChannelEvent, NormalizeError> {
    let cfg = ctx.cfg;
    let field = |name: &str| format!("{at}.{name}");
    let receipt = req_text(sale, "receipt_no")
        .map_err(|_| NormalizeError::MissingField(field("receipt_no")))?;
    let mut exceptions = Vec::new();
    let lines = build_lines(
        cfg,
        ctx.sku_map,
        schema::lines(sale.get("lines"), &field("lines"))?,
        &mut exceptions,
    );
    let money = OrderMoney {
        currency: cfg.currency.clone(),
        goods: goods_total(&lines),
        discounts: schema::discounts(sale.get("discounts"), &field("discounts"))?,
        delivery_fee: yuan_or_zero(sale.get("delivery_fee"), &field("delivery_fee"))?,
        packaging_fee: yuan_or_zero(sale.get("packaging_fee"), &field("packaging_fee"))?,
        paid: req_yuan(sale, "paid").map_err(|_| NormalizeError::MissingField(field("paid")))?,
    };
    let sold_at = schema::time(cfg, sale.get("sold_at"), &field("sold_at"))?
        .unwrap_or_else(|| ctx.fallback_time());

    let f = sale.get("fulfilment").cloned().unwrap_or(Value::Null);
    let delivery = match opt_text(f.get("type")).as_deref() {
        None | Some("take_away") | Some("in_store") => false,
        Some("delivery") => true,
        Some(other) => {
            return Err(NormalizeError::invalid(
                field("fulfilment.type"),
                format!("`{other}`"),
            ))
        }
    };
    let (fulfilment, promised, home) = if delivery {
        let addr = schema::address(
            f.get("address"),
            &field("fulfilment.address"),
            &mut exceptions,
        )?;
        let promised = schema::promised(cfg, f.get("promised"), &field("fulfilment.promised"))?;
        (
            Fulfilment::Delivery {
                address: addr.clone(),
            },
            promised,
            addr,
        )
    } else {
        let window = PromisedWindow {
            asap: false,
            start: Some(sold_at),
            end: Some(sold_at),
        };
        (
            Fulfilment::InStore {
                store_id: store_id.to_string(),
            },
            window,
            None,
        )
    };

    let member = sale.get("member").cloned().unwrap_or(Value::Null);
    let phone = opt_text(member.get("phone"))
        .or_else(|| opt_text(f.get("phone")))
        .and_then(|p| parse_phone(&p));
    let channel_order_id = format!("{store_id}:{receipt}");
    let customer = customer(
        &cfg.id,
        opt_text(member.get("id")),
        opt_text(member.get("name")),
        phone,
        home.as_ref(),
        &channel_order_id,
    );

    let mut events = vec![
        ("created".to_string(), EventKind::Created, sold_at),
        ("paid".to_string(), EventKind::Paid, sold_at),
    ];
    events.push(if delivery {
        ("accepted".to_string(), EventKind::Accepted, sold_at)
    } else {
        ("completed".to_string(), EventKind::Completed, sold_at)
    });
    if sale.get("void").and_then(Value::as_bool).unwrap_or(false) {
        events.push((
            "cancelled".into(),
            EventKind::Cancelled {
                reason: Some("voided at the till".into()),
            },
            sold_at,
        ));
    }
    let order = assemble(
        cfg,
        OrderParts {
            channel_order_id,
            store_id: Some(store_id.to_string()),
            customer,
            fulfilment,
            lines,
            money,
            promised,
            buyer_note: opt_text(sale.get("note")),
            placed_at: sold_at,
            events,
            exceptions,
        },
    );
    Ok(ChannelEvent::Order {
        order: Box::new(order),
    })
}
