//! After an order is stored, the next steps: reserve its stock and offer it to its
//! customer's merge group, each a private component reached over `*.spin.internal`.
//!
//! Contract (the receiving components implement it):
//! - `POST http://reserve.spin.internal/reserve` with the `Order` as JSON → 200 with a
//!   JSON object; an `exception` field (an `OrderException`) means the order is short
//!   of stock. Idempotent per order.
//! - `POST http://reserve.spin.internal/release` with `{"order_id": …}` on a cancel or a
//!   full refund. Idempotent.
//! - `POST http://merge.spin.internal/offer` with the `Order` as JSON → 200 with the merge
//!   decision. Idempotent per order.
//!
//! Both are best effort here: the order is already stored, so a failed step must not
//! fail the webhook (the platform would retry a push that did arrive). Each step's
//! scheduled job catches up on orders it has not seen, from the order book's index.

use orderhub_core::channel::ChannelEvent;
use orderhub_core::order::{EventKind, OrderException};
use spin_sdk::http::{Method, Request, Response};

/// What the next steps said, for the log and for recording stock exceptions.
pub struct StepReport {
    pub exceptions: Vec<(orderhub_core::order::OrderId, OrderException)>,
}

pub async fn run(events: &[ChannelEvent]) -> StepReport {
    let mut report = StepReport {
        exceptions: Vec::new(),
    };
    for ev in events {
        match ev {
            ChannelEvent::Order { order } => {
                let body = match serde_json::to_vec(order) {
                    Ok(b) => b,
                    Err(_) => continue,
                };
                if !order.status().is_terminal() {
                    if let Some(answer) =
                        post("http://reserve.spin.internal/reserve", body.clone()).await
                    {
                        if let Some(exc) = answer
                            .get("exception")
                            .and_then(|e| serde_json::from_value::<OrderException>(e.clone()).ok())
                        {
                            report.exceptions.push((order.id.clone(), exc));
                        }
                    }
                    post("http://merge.spin.internal/offer", body).await;
                }
            }
            ChannelEvent::Event {
                order_id, event, ..
            } => {
                if matches!(
                    event.kind,
                    EventKind::Cancelled { .. } | EventKind::Refunded { full: true, .. }
                ) {
                    let body = serde_json::json!({ "order_id": order_id })
                        .to_string()
                        .into_bytes();
                    post("http://reserve.spin.internal/release", body).await;
                }
            }
            ChannelEvent::Notice(_) => {}
        }
    }
    report
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
