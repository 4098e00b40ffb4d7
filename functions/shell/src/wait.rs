//! Waiting on a writer that holds a claim (a catalog or SKU-map change serialized per
//! version by `store::update_json`): how long a request keeps trying before 409.

use std::time::{Duration, SystemTime};

/// 25 ms at a time, at most 30 s; `false` once the time is up (then answer 409
/// `in_flight`: retry).
pub fn patience() -> impl FnMut() -> bool {
    let start = SystemTime::now();
    move || {
        std::thread::sleep(Duration::from_millis(25));
        start.elapsed().is_ok_and(|e| e < Duration::from_secs(30))
    }
}
