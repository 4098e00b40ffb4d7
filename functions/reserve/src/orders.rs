//! The private contract: reserve an order's stock, release it on cancel/refund, commit
//! it on dispatch. Callers (`normalize`, `dispatch`) retry freely: every call is
//! idempotent in the core (per order for reserve, per `op_id` for commit/release).

use chrono::Utc;
use orderhub_core::order::{Order, OrderId};
use orderhub_core::stock::{ReservationLedger, ReserveOutcome, ReserveRequest, SettleRequest};
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use serde::Deserialize;
use spin_sdk::http::{Request, Response};

use crate::{body, stock_error};

/// The op id a release without one gets: an order is cancelled (or fully refunded)
/// at most once, so every redelivery of that event is the same operation.
const CANCEL_OP: &str = "order-cancelled";

pub fn reserve(req: &Request) -> Result<Response, ApiError> {
    let order: Order = body(req, "order")?;
    // A line normalize could not map to our SKU is already an `unknown_sku` exception on
    // the order (customer service fixes the mapping): nothing can be held for it, and the
    // step is done, so the pipeline does not retry it.
    let Some(request) = ReserveRequest::for_order(&order).ok() else {
        return Ok(json(
            200,
            &serde_json::json!({
                "order_id": order.id,
                "status": "unmapped_lines",
                "reserved_units": 0,
            }),
        ));
    };
    let store = Bucket::open("stock")?;
    let ledger = ReservationLedger::new(&store);
    match ledger.reserve(&request, Utc::now()) {
        Ok(outcome) => {
            // A paid order's hold must outlive the merge window and dispatch: only
            // unpaid holds expire.
            if order.status().is_paid() && outcome.reserved_units() > 0 {
                ledger.confirm(&order.id).map_err(stock_error)?;
            }
            Ok(json(200, &answer(&ledger, &outcome)?))
        }
        // A SKU the ledger does not stock: keep the order, flag it for restock.
        Err(e) => match e.as_order_exception() {
            Some(exception) => Ok(json(
                200,
                &serde_json::json!({
                    "order_id": order.id,
                    "status": "not_stocked",
                    "reserved_units": 0,
                    "exception": exception,
                }),
            )),
            None => Err(stock_error(e)),
        },
    }
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

#[derive(Deserialize)]
struct Confirm {
    order_id: OrderId,
}

/// Payment (or the channel's acceptance) arrived after the order: its hold no longer
/// expires. Answers who won if the expiry sweep got there first (`expired`: the units
/// went back and the order must reserve again). Idempotent.
pub fn confirm(req: &Request) -> Result<Response, ApiError> {
    let Confirm { order_id } = body(req, "confirm")?;
    let store = Bucket::open("stock")?;
    let fate = ReservationLedger::new(&store)
        .confirm(&order_id)
        .map_err(stock_error)?;
    Ok(json(
        200,
        &serde_json::json!({ "order_id": order_id, "fate": fate }),
    ))
}

/// Cancel or full refund: gives back everything still held. An order that never
/// reserved anything answers 404 `unknown_reservation` (normalize ignores it).
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
