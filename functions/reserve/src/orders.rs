//! The private contract: reserve a batch of orders' stock, settle a batch of cancels and
//! payments (`normalize`, typed by `orderhub_core::intake`), commit a parcel's units on
//! dispatch (`dispatch`). Callers retry freely: every call is idempotent in the core
//! (per order for reserve, per `op_id` for commit/release).

use chrono::Utc;
use orderhub_core::intake::{
    ReserveBatch, ReserveDecision, ReserveVerdict, SettleBatch, SettleReport,
};
use orderhub_core::order::OrderId;
use orderhub_core::stock::{
    BatchOrder, ReservationLedger, ReserveOutcome, ReserveRequest, ReserveStatus, SettleRequest,
    StockError,
};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use serde::Deserialize;
use spin_sdk::http::{Request, Response};

use crate::{body, stock_error};

/// The op id a release without one gets: an order is cancelled (or fully refunded)
/// at most once, so every redelivery of that event is the same operation.
const CANCEL_OP: &str = "order-cancelled";

/// `POST /reserve-batch`: one decision per order, in order. The orders whose lines all
/// map go to the ledger as one batch (first come first served, counters touched once
/// per SKU@warehouse, paid orders written confirmed); a store error leaves the orders
/// it did not decide undecided (the catch-up job forwards them again).
pub fn reserve_batch(req: &Request) -> Result<Response, ApiError> {
    let ReserveBatch { orders } = body(req, "reserve_batch")?;
    let store = Bucket::open("stock")?;
    let ledger = ReservationLedger::new(&store);
    // A line normalize could not map to our SKU is already an `unknown_sku` exception on
    // the order (customer service fixes the mapping): nothing can be held for it.
    let mut batch = Vec::with_capacity(orders.len());
    let mut in_batch = Vec::with_capacity(orders.len());
    for order in &orders {
        match ReserveRequest::for_order(order) {
            Ok(request) => {
                in_batch.push(Some(batch.len()));
                batch.push(BatchOrder {
                    request,
                    // A paid order's hold must outlive the merge window and dispatch:
                    // only unpaid holds expire.
                    confirm: order.status().is_paid(),
                });
            }
            Err(_) => in_batch.push(None),
        }
    }
    let mut answers: Vec<Option<Result<ReserveOutcome, StockError>>> = ledger
        .reserve_batch(&batch, Utc::now())
        .into_iter()
        .map(Some)
        .collect();
    let decisions: Vec<ReserveDecision> = orders
        .iter()
        .zip(in_batch)
        .map(|(order, at)| ReserveDecision {
            order_id: order.id.clone(),
            verdict: match at.and_then(|i| answers.get_mut(i)).and_then(Option::take) {
                Some(answer) => verdict(answer),
                None => ReserveVerdict::Unmapped,
            },
        })
        .collect();
    Ok(json(200, &decisions))
}

fn verdict(answer: Result<ReserveOutcome, StockError>) -> ReserveVerdict {
    match answer {
        Ok(outcome) => {
            let units = outcome.reserved_units();
            match (outcome.status(), outcome.exception) {
                (ReserveStatus::OutOfStock, Some(exception)) => {
                    ReserveVerdict::Refused { exception }
                }
                (_, exception) => ReserveVerdict::Held { units, exception },
            }
        }
        // A SKU the ledger does not stock: keep the order, flag it for restock.
        Err(e) => match e.as_order_exception() {
            Some(exception) => ReserveVerdict::Refused { exception },
            None => ReserveVerdict::Undecided {
                code: e.code().into(),
                message: e.to_string(),
            },
        },
    }
}

/// `POST /settle-batch`: cancels and full refunds give everything still held back,
/// partial refunds the units of the lines they name (never more than still held);
/// payments and acceptances confirm the hold (it no longer expires). An order that
/// never reserved has nothing to settle. Idempotent per order.
pub fn settle_batch(req: &Request) -> Result<Response, ApiError> {
    let SettleBatch {
        releases,
        partial,
        confirms,
    } = body(req, "settle_batch")?;
    let store = Bucket::open("stock")?;
    let ledger = ReservationLedger::new(&store);
    let mut report = SettleReport::default();
    for order in &releases {
        let request = SettleRequest {
            op_id: CANCEL_OP.into(),
            lines: None,
        };
        match ledger.release(order, &request, Utc::now()) {
            Ok(_) => report.released += 1,
            Err(StockError::UnknownReservation(_)) => {}
            Err(e) => report.errors.push(format!("release {order}: {e}")),
        }
    }
    for p in &partial {
        let request = SettleRequest {
            op_id: p.op_id.clone(),
            lines: Some(p.lines.clone()),
        };
        match ledger.release(&p.order_id, &request, Utc::now()) {
            Ok(_) => report.released += 1,
            Err(StockError::UnknownReservation(_)) => {}
            Err(e) => report.errors.push(format!("refund {}: {e}", p.order_id)),
        }
    }
    for order in &confirms {
        match ledger.confirm(order) {
            Ok(_) => report.confirmed += 1,
            Err(StockError::UnknownReservation(_)) => {}
            Err(e) => report.errors.push(format!("confirm {order}: {e}")),
        }
    }
    Ok(json(200, &report))
}

/// Runs a reserve and answers with the reservation, and `exception` when short.
pub(crate) fn reserve_request(request: &ReserveRequest) -> Result<Response, ApiError> {
    let store = Bucket::open("stock")?;
    let ledger = ReservationLedger::new(&store);
    let outcome = ledger.reserve(request, Utc::now()).map_err(stock_error)?;
    Ok(json(200, &answer(&ledger, &outcome)?))
}

fn answer(
    ledger: &ReservationLedger<'_, Bucket>,
    outcome: &ReserveOutcome,
) -> Result<serde_json::Value, ApiError> {
    // A replay may describe units that were since committed or released: say where
    // they are now. A fresh reservation is exactly what was just granted.
    let view = if outcome.replayed {
        ledger
            .reservation(&outcome.reservation.order)
            .map_err(stock_error)?
    } else {
        None
    };
    Ok(serde_json::json!({
        "order_id": outcome.reservation.order,
        "status": outcome.status(),
        "reserved_units": outcome.reserved_units(),
        "replayed": outcome.replayed,
        "reservation": outcome.reservation,
        "view": view,
        "exception": outcome.exception,
    }))
}

#[derive(Deserialize)]
struct Settle {
    order_id: OrderId,
    #[serde(default)]
    op_id: Option<String>,
    #[serde(default)]
    lines: Option<Vec<orderhub_core::stock::SettleLine>>,
}

impl Settle {
    fn request(self, default_op: Option<&str>) -> Result<(OrderId, SettleRequest), ApiError> {
        let op_id = self
            .op_id
            .or_else(|| default_op.map(str::to_string))
            .filter(|op| !op.is_empty())
            .ok_or_else(|| ApiError::bad_request("missing_op_id", "`op_id` is required"))?;
        Ok((
            self.order_id,
            SettleRequest {
                op_id,
                lines: self.lines,
            },
        ))
    }
}

/// Cancel or full refund by an operator: gives back everything still held (or the
/// lines named). An order that never reserved anything answers 404
/// `unknown_reservation`.
pub fn release(req: &Request) -> Result<Response, ApiError> {
    let (order, request) = body::<Settle>(req, "release")?.request(Some(CANCEL_OP))?;
    let store = Bucket::open("stock")?;
    let outcome = ReservationLedger::new(&store)
        .release(&order, &request, Utc::now())
        .map_err(stock_error)?;
    Ok(json(200, &outcome))
}

/// Dispatch ships units: `op_id` (the parcel id) is required so a retry is not a
/// second shipment.
pub fn commit(req: &Request) -> Result<Response, ApiError> {
    let (order, request) = body::<Settle>(req, "commit")?.request(None)?;
    let store = Bucket::open("stock")?;
    let outcome = ReservationLedger::new(&store)
        .commit(&order, &request, Utc::now())
        .map_err(stock_error)?;
    Ok(json(200, &outcome))
}
