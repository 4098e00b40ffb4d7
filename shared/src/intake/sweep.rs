//! The safety net: find ticks the drainers left, and the backlog the console shows.

use chrono::{DateTime, Duration, Utc};

use super::contract::{IntakeStatus, TickStatus};
use super::drain::read_mark;
use super::inbox::{tick_of, TICK_MS};
use super::{keys, WRITER_LEASE_MS};
use crate::store::{KeyValue, StoreError};

/// A tick is the sweep's only once its own drainer had time to finish it.
const SETTLE_MS: i64 = 2_000;
/// Where a sweep starts the very first time.
const FIRST_LOOKBACK_MS: i64 = 10 * 60_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepPlan {
    /// Ticks with slots still to drain, oldest first.
    pub due: Vec<i64>,
    pub scanned: usize,
    pub cursor: i64,
}

/// Ticks to drain, scanning at most `max_scan` ticks from the cursor; moves the cursor
/// over the closed ticks that need nothing more. Only the sweep writes the cursor.
pub fn sweep<S: KeyValue>(
    store: &S,
    now: DateTime<Utc>,
    max_scan: usize,
) -> Result<SweepPlan, StoreError> {
    let from = cursor(store, now)?;
    let last = tick_of(now - Duration::milliseconds(SETTLE_MS));
    let closed_before = tick_of(now - Duration::milliseconds(WRITER_LEASE_MS)) - 1;
    let scan = scan(store, from, last, max_scan)?;
    let mut next = scan.end + 1;
    let mut due = Vec::new();
    for t in scan.ticks {
        if t.allocated > t.drained {
            due.push(t.tick);
            next = next.min(t.tick);
        }
    }
    let cursor = next.min(closed_before + 1).max(from);
    if cursor != from {
        store.set(keys::CURSOR, cursor.to_string().as_bytes())?;
    }
    Ok(SweepPlan {
        due,
        scanned: scan.scanned,
        cursor,
    })
}

/// Pushes acknowledged and not yet drained, from the sweep's cursor to now.
pub fn status<S: KeyValue>(
    store: &S,
    now: DateTime<Utc>,
    max_scan: usize,
) -> Result<IntakeStatus, StoreError> {
    let from = cursor(store, now)?;
    let scan = scan(store, from, tick_of(now), max_scan)?;
    let mut backlog = 0u64;
    let mut oldest = None;
    for t in &scan.ticks {
        let pending = u64::try_from(t.allocated - t.drained).unwrap_or(0);
        if pending > 0 {
            backlog += pending;
            oldest.get_or_insert(t.tick);
        }
    }
    let drained = u64::try_from(store.increment(keys::DRAINED, 0)?).unwrap_or(0);
    Ok(IntakeStatus {
        acknowledged: drained + backlog,
        drained,
        backlog,
        oldest_waiting_ms: oldest
            .map(|tick| u64::try_from(now.timestamp_millis() - tick * TICK_MS).unwrap_or(0)),
    })
}

/// One tick's slots, allocated and drained.
pub fn tick_status<S: KeyValue>(store: &S, tick: i64) -> Result<TickStatus, StoreError> {
    if store.get(&keys::open(tick))?.is_none() {
        return Ok(TickStatus {
            tick,
            ..TickStatus::default()
        });
    }
    let allocated = store.increment(&keys::tick_len(tick), 0)?;
    let mark = read_mark(store, tick)?;
    Ok(TickStatus {
        tick,
        allocated,
        drained: allocated - mark.pending(allocated),
    })
}

fn cursor<S: KeyValue>(store: &S, now: DateTime<Utc>) -> Result<i64, StoreError> {
    Ok(store
        .get(keys::CURSOR)?
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| tick_of(now - Duration::milliseconds(FIRST_LOOKBACK_MS))))
}

struct Scan {
    ticks: Vec<TickStatus>,
    scanned: usize,
    end: i64,
}

/// The open ticks in `from..=last` (at most `max_scan` looked at): one read per tick for
/// the open marker, then the length and mark of the open ones.
fn scan<S: KeyValue>(store: &S, from: i64, last: i64, max_scan: usize) -> Result<Scan, StoreError> {
    let span = i64::try_from(max_scan).unwrap_or(i64::MAX).max(1);
    let end = last.min(from.saturating_add(span - 1));
    if end < from {
        return Ok(Scan {
            ticks: Vec::new(),
            scanned: 0,
            end: from - 1,
        });
    }
    let ticks: Vec<i64> = (from..=end).collect();
    let opens = store.get_many(&ticks.iter().map(|t| keys::open(*t)).collect::<Vec<_>>())?;
    let mut out = Vec::new();
    for (tick, open) in ticks.iter().zip(opens) {
        if open.is_some() {
            out.push(tick_status(store, *tick)?);
        }
    }
    Ok(Scan {
        ticks: out,
        scanned: ticks.len(),
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::{claim, drain_due, finish, Claimed};
    use crate::store::MemoryStore;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    fn put(store: &MemoryStore, key: &str, when: DateTime<Utc>) -> i64 {
        crate::intake::enter_test_push(store, key, when);
        tick_of(when)
    }

    #[test]
    fn the_sweep_finds_undrained_ticks_and_the_status_counts_them() {
        let store = MemoryStore::new();
        let a = put(&store, "a", at(0));
        let b = put(&store, "b", at(1_000));
        put(&store, "b2", at(1_010));
        // `a` was drained by its writer; `b`'s writer died before draining.
        let Claimed::Mine(batch) = claim(&store, a, drain_due(a)).unwrap() else {
            panic!()
        };
        finish(&store, &batch, 1, drain_due(a)).unwrap();
        let now = at(5_000);
        let st = status(&store, now, 10_000).unwrap();
        assert_eq!((st.acknowledged, st.drained, st.backlog), (3, 1, 2));
        assert_eq!(st.oldest_waiting_ms, Some(4_000));
        let plan = sweep(&store, now, 10_000).unwrap();
        assert_eq!(plan.due, vec![b]);
        // The cursor never passes an undrained tick.
        assert!(plan.cursor <= b);
        let Claimed::Mine(batch) = claim(&store, b, now).unwrap() else {
            panic!()
        };
        finish(&store, &batch, 2, now).unwrap();
        let later = at(WRITER_LEASE_MS + 10_000);
        let plan = sweep(&store, later, 10_000).unwrap();
        assert!(plan.due.is_empty());
        assert!(plan.cursor > b, "{plan:?}");
        assert_eq!(status(&store, later, 10_000).unwrap().backlog, 0);
    }
}
