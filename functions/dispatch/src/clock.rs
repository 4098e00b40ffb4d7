//! The wall clock the core never reads itself (spin-sdk has no `Instant`; wasi's
//! clocks back `SystemTime`).

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Dispatch time: Unix seconds, the unit of parcels' and riders' times.
pub fn now_secs() -> i64 {
    (now_micros() / 1_000_000) as i64
}
