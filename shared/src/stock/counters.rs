//! Increment-then-check: the one primitive every bounded counter in the ledger uses.

use crate::store::KeyValue;

use super::error::StockResult;

/// Reads a counter (never `get` one: backends encode counters differently).
pub(super) fn read<S: KeyValue + ?Sized>(store: &S, key: &str) -> StockResult<i64> {
    Ok(store.increment(key, 0)?)
}

/// Adds `want` to the counter at `key`, then keeps only what fits under the bound
/// `limit` (evaluated *after* the increment, so it sees every write that preceded ours)
/// and gives the rest back. Returns the units kept.
///
/// Why this is exact without CAS: the value before our increment is everything granted
/// to earlier callers plus their not-yet-returned excess. Excess only exists once the
/// grants already reached the bound, so a caller is never refused units that nobody
/// holds, unless the bound moved down or earlier grants were rolled back in the
/// meantime (then it may be refused spuriously, never over-granted). All-or-nothing
/// callers roll back grants, so their refusals are re-checked a few times against a
/// fresh read before they count.
pub(super) fn take<S: KeyValue + ?Sized>(
    store: &S,
    key: &str,
    want: i64,
    all_or_nothing: bool,
    limit: impl Fn() -> StockResult<i64>,
) -> StockResult<i64> {
    const RECHECKS: usize = 3;
    if want <= 0 {
        return Ok(0);
    }
    for attempt in 0..=RECHECKS {
        let after = store.increment(key, want)?;
        let bound = match limit() {
            Ok(bound) => bound,
            Err(e) => {
                // Nobody was told yes: return everything before failing.
                store.increment(key, -want)?;
                return Err(e);
            }
        };
        let before = after - want;
        let mut kept = (bound - before).clamp(0, want);
        if all_or_nothing && kept < want {
            kept = 0;
        }
        if kept < want {
            store.increment(key, -(want - kept))?;
        }
        if kept == want || !all_or_nothing || attempt == RECHECKS {
            return Ok(kept);
        }
        // Refused: was it only someone else's transient excess?
        if limit()? - read(store, key)? < want {
            return Ok(0);
        }
    }
    Ok(0)
}

/// `take` against a bound known beforehand (an allocation's quantity).
pub(super) fn take_within<S: KeyValue + ?Sized>(
    store: &S,
    key: &str,
    want: i64,
    bound: i64,
) -> StockResult<i64> {
    take(store, key, want, false, || Ok(bound))
}
