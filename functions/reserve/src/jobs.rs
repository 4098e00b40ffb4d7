//! `/jobs/stock/expire`: fired every minute by the scheduler; gives back the units of
//! reservations nobody confirmed in time. Bounded per call so one run stays short; the
//! core keeps a cursor, so a truncated sweep continues on the next tick.

use chrono::Utc;
use orderhub_core::stock::ReservationLedger;
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use spin_sdk::http::{Request, Response};

use crate::stock_error;

const MAX_PER_SWEEP: usize = 500;

pub fn expire(_req: &Request) -> Result<Response, ApiError> {
    let store = Bucket::open("stock")?;
    let report = ReservationLedger::new(&store)
        .sweep_expired(Utc::now(), MAX_PER_SWEEP)
        .map_err(stock_error)?;
    Ok(json(200, &report))
}
