//! Scheduled stock jobs, each fired every minute and bounded per call so one run stays
//! short (the core keeps a cursor, so a truncated run continues on the next tick):
//!
//! - `/jobs/stock/expire` gives back the units of reservations nobody confirmed in time;
//! - `/jobs/stock/repair` undoes operations whose instance died mid-way (killed,
//!   evicted) and recounts the counters they touched once nothing is in flight there.

use chrono::Utc;
use orderhub_core::stock::ReservationLedger;
use orderhub_shell::kv::Bucket;
use orderhub_shell::{json, ApiError};
use spin_sdk::http::{Request, Response};

use crate::stock_error;

const MAX_PER_SWEEP: usize = 500;
/// Intents one repair run looks at: those filed in the last two to three minutes
/// (read a minute at a time), so this is about the operations of that long.
const MAX_PER_REPAIR: usize = 5_000;

pub fn expire(_req: &Request) -> Result<Response, ApiError> {
    let store = Bucket::open("stock")?;
    let report = ReservationLedger::new(&store)
        .sweep_expired(Utc::now(), MAX_PER_SWEEP)
        .map_err(stock_error)?;
    Ok(json(200, &report))
}

pub fn repair(_req: &Request) -> Result<Response, ApiError> {
    let store = Bucket::open("stock")?;
    let report = ReservationLedger::new(&store)
        .repair(Utc::now(), MAX_PER_REPAIR)
        .map_err(stock_error)?;
    Ok(json(200, &report))
}
