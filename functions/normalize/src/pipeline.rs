//! After an order is stored, the next steps: reserve its stock and offer it to its
//! customer's merge group, each a private component reached over `*.spin.internal`.
//!
//! Contract (the receiving components implement it):
//! - `POST http://reserve.spin.internal/reserve` with the `Order` as JSON → 200 with a
//!   JSON object; an `exception` field (an `OrderException`) means the order is short
//!   of stock. Idempotent per order.
//! - `POST http://reserve.spin.internal/release` with `{"order_id": …}` on a cancel or a
//!   full refund; `/confirm` with the same body on payment or acceptance. Idempotent.
//! - `POST http://merge.spin.internal/offer` with the `Order` as JSON → 200 with the merge
//!   decision. Idempotent per order.
//!
//! Both are best effort here: the order is already stored, so a failed step must not
//! fail the webhook (the platform would retry a push that did arrive). An order is marked
//! forwarded once both answered; the catch-up job (`/jobs/pipeline/catch-up`, on a
//! schedule) forwards again what is not (`orderhub_core::order::forwarding`).

use chrono::Utc;
use orderhub_core::channel::ChannelEvent;
use orderhub_core::order::{
    book, forwarding, EventKind, EventSource, Order, OrderException, OrderId,
};
use orderhub_shell::kv::Bucket;
use orderhub_shell::ApiError;
use spin_sdk::http::{Method, Request, Response};

/// Run the next steps for every order and event of one push, after it was stored.
///
/// Each step sees the order as the book holds it after this push, not the push's own
/// copy: an order that arrives after its own cancel is terminal there and is neither
/// reserved nor merged, and a paid order's reservation is confirmed.
pub async fn run(orders: &Bucket, events: &[ChannelEvent]) -> Result<(), ApiError> {
    for ev in events {
        match ev {
            ChannelEvent::Order { order } => {
                let Some(stored) = book::get_order(orders, &order.id)? else {
                    continue;
                };
                forward_order(orders, stored).await?;
            }
            ChannelEvent::Event {
                order_id, event, ..
            } => match event.kind {
                EventKind::Cancelled { .. } | EventKind::Refunded { full: true, .. } => {
                    post("http://reserve.spin.internal/release", order_ref(order_id)).await;
                }
                EventKind::Paid | EventKind::Accepted => {
                    post("http://reserve.spin.internal/confirm", order_ref(order_id)).await;
                }
                _ => {}
            },
            ChannelEvent::Notice(_) => {}
        }
    }
    Ok(())
}

/// Reserve, record a shortage on the order, then offer it to merge: merge sees the
/// exception and keeps a short order out of other customers' parcels' way.
async fn forward_order(orders: &Bucket, mut order: Order) -> Result<(), ApiError> {
    if order.status().is_terminal() {
        forwarding::mark_forwarded(orders, &order.id)?;
        return Ok(());
    }
    let Ok(body) = serde_json::to_vec(&order) else {
        return Ok(());
    };
    let answer = post("http://reserve.spin.internal/reserve", body).await;
    let reserved = answer.is_some();
    if let Some(answer) = answer {
        if let Some(exc) = answer
            .get("exception")
            .and_then(|e| serde_json::from_value::<OrderException>(e.clone()).ok())
        {
            book::record_exception(
                orders,
                &order.id,
                &exc,
                Utc::now(),
                EventSource::Component("reserve".into()),
            )?;
            if !order.exceptions.iter().any(|e| e.code == exc.code) {
                order.exceptions.push(exc);
            }
        }
    }
    let Ok(body) = serde_json::to_vec(&order) else {
        return Ok(());
    };
    if post("http://merge.spin.internal/offer", body)
        .await
        .is_some()
        && reserved
    {
        forwarding::mark_forwarded(orders, &order.id)?;
    }
    Ok(())
}

/// How many orders one catch-up run forwards again, and how far it looks: bounded so a
/// run stays well inside a request's time.
const CATCH_UP_MAX: usize = 50;
const CATCH_UP_SCAN: usize = 1000;

/// `POST /jobs/pipeline/catch-up`: forward again every stored order that reserve or
/// merge never answered for (they were down, or normalize died in between).
pub async fn catch_up(orders: &Bucket) -> Result<forwarding::Backlog, ApiError> {
    let backlog = forwarding::backlog(
        orders,
        CATCH_UP_MAX,
        CATCH_UP_SCAN,
        chrono::Duration::minutes(2),
        Utc::now(),
    )?;
    for id in &backlog.orders {
        if let Some(order) = book::get_order(orders, id)? {
            forward_order(orders, order).await?;
        }
    }
    Ok(backlog)
}

fn order_ref(id: &OrderId) -> Vec<u8> {
    serde_json::json!({ "order_id": id })
        .to_string()
        .into_bytes()
}

async fn post(url: &str, body: Vec<u8>) -> Option<serde_json::Value> {
    let req = Request::builder()
        .method(Method::Post)
        .uri(url)
        .header("content-type", "application/json")
        .body(body)
        .build();
    match spin_sdk::http::send::<_, Response>(req).await {
        Ok(resp) if *resp.status() == 200 => serde_json::from_slice(resp.body()).ok(),
        Ok(resp) => {
            eprintln!("normalize: {url} answered {}", resp.status());
            None
        }
        Err(e) => {
            eprintln!("normalize: {url} unreachable: {e}");
            None
        }
    }
}
