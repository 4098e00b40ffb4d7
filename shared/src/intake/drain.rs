//! Out of the inbox: claim a closed tick, read its items, mark how far it was drained.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::inbox::{drain_due, InboxItem, TICK_MS};
use super::{keys, DRAIN_LEASE_MS, WRITER_LEASE_MS};
use crate::store::{KeyValue, StoreError};

/// How far a tick was drained: every slot up to `upto` except `missing` (allocated, not
/// written when the drainer looked). Written by the claim holder only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainMark {
    pub upto: i64,
    pub missing: Vec<i64>,
    /// Slots never written, given up after [`WRITER_LEASE_MS`](super::WRITER_LEASE_MS).
    #[serde(default)]
    pub abandoned: Vec<i64>,
    /// Drains finished so far: the next drain claims under the next generation, so a
    /// slot written late is drained at once, not after the claim's lease period.
    #[serde(default)]
    pub generation: u32,
}

impl DrainMark {
    /// Slots still to drain when `allocated` were allocated.
    pub fn pending(&self, allocated: i64) -> i64 {
        (allocated - self.upto).max(0) + i64::try_from(self.missing.len()).unwrap_or(i64::MAX)
    }
}

/// A claimed tick's items, in slot order.
#[derive(Debug, Clone, PartialEq)]
pub struct TickBatch {
    pub tick: i64,
    pub upto: i64,
    pub items: Vec<(i64, InboxItem)>,
    pub missing: Vec<i64>,
    /// Slots whose stored value does not parse (a bug, never a panic): logged, skipped.
    pub unreadable: Vec<(i64, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Claimed {
    Mine(TickBatch),
    /// The tick is not over yet.
    NotDue,
    /// Another drainer holds it in this lease period.
    Busy,
    /// Nothing left to drain.
    Drained,
}

/// Claim `tick` for this lease period and read what is left to drain in it.
pub fn claim<S: KeyValue>(store: &S, tick: i64, now: DateTime<Utc>) -> Result<Claimed, StoreError> {
    if now < drain_due(tick) {
        return Ok(Claimed::NotDue);
    }
    let allocated = store.increment(&keys::tick_len(tick), 0)?;
    let mark: DrainMark = read_mark(store, tick)?;
    if mark.pending(allocated) == 0 {
        return Ok(Claimed::Drained);
    }
    let period = now.timestamp_millis().div_euclid(DRAIN_LEASE_MS);
    if store.increment(&keys::claim(tick, mark.generation, period), 1)? > 1 {
        return Ok(Claimed::Busy);
    }
    let slots: Vec<i64> = mark
        .missing
        .iter()
        .copied()
        .chain(mark.upto + 1..=allocated)
        .collect();
    let mut batch = TickBatch {
        tick,
        upto: allocated,
        items: Vec::new(),
        missing: Vec::new(),
        unreadable: Vec::new(),
    };
    read_slots(store, &mut batch, &slots)?;
    Ok(Claimed::Mine(batch))
}

/// Read the batch's missing slots again (a writer between its slot and its write); the
/// ones found are added to `batch.items`.
pub fn reread_missing<S: KeyValue>(store: &S, batch: &mut TickBatch) -> Result<(), StoreError> {
    let slots = std::mem::take(&mut batch.missing);
    read_slots(store, batch, &slots)?;
    batch.items.sort_by_key(|(slot, _)| *slot);
    Ok(())
}

fn read_slots<S: KeyValue>(
    store: &S,
    batch: &mut TickBatch,
    slots: &[i64],
) -> Result<(), StoreError> {
    let keys: Vec<String> = slots.iter().map(|s| keys::item(batch.tick, *s)).collect();
    for (slot, value) in slots.iter().zip(store.get_many(&keys)?) {
        match value.map(|bytes| serde_json::from_slice::<InboxItem>(&bytes)) {
            None => batch.missing.push(*slot),
            Some(Ok(item)) => batch.items.push((*slot, item)),
            Some(Err(e)) => batch.unreadable.push((*slot, e.to_string())),
        }
    }
    Ok(())
}

/// Record that `drained` items of the batch went through the pipeline (every slot up
/// to `batch.upto` but `batch.missing`), then delete those items: the order book holds
/// what they said, and an inbox that kept every push would keep the customer's
/// personal data past its erasure. Missing slots stay to drain, until their writer is
/// surely dead; unreadable ones stay for whoever investigates. A drainer killed between
/// its mark and the delete leaves items no drain reads again.
pub fn finish<S: KeyValue>(
    store: &S,
    batch: &TickBatch,
    drained: usize,
    now: DateTime<Utc>,
) -> Result<DrainMark, StoreError> {
    let mut mark = read_mark(store, batch.tick)?;
    let done: Vec<String> = mark
        .missing
        .iter()
        .copied()
        .chain(mark.upto + 1..=batch.upto)
        .filter(|slot| !batch.missing.contains(slot))
        .filter(|slot| !batch.unreadable.iter().any(|(s, _)| s == slot))
        .map(|slot| keys::item(batch.tick, slot))
        .collect();
    mark.generation += 1;
    let writers_dead = now.timestamp_millis() - (batch.tick + 1) * TICK_MS > WRITER_LEASE_MS;
    mark.upto = mark.upto.max(batch.upto);
    if writers_dead {
        mark.abandoned.extend(batch.missing.iter().copied());
        mark.missing.clear();
    } else {
        mark.missing = batch.missing.clone();
    }
    store.set_json(&keys::done(batch.tick), &mark)?;
    store.increment(keys::DRAINED, i64::try_from(drained).unwrap_or(i64::MAX))?;
    store.delete_many(&done)?;
    Ok(mark)
}

pub(super) fn read_mark<S: KeyValue>(store: &S, tick: i64) -> Result<DrainMark, StoreError> {
    Ok(store.get_json(&keys::done(tick))?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::{tick_of, Entered};
    use crate::store::MemoryStore;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    fn put(store: &MemoryStore, n: usize, when: DateTime<Utc>) -> i64 {
        let mut tick = 0;
        for i in 0..n {
            let key = format!("d{i}-{}", when.timestamp_millis());
            let Entered::Written { tick: t, .. } =
                crate::intake::enter_test_push(store, &key, when)
            else {
                panic!("written")
            };
            tick = t;
        }
        tick
    }

    #[test]
    fn a_tick_is_claimed_once_per_period_and_drained_once() {
        let store = MemoryStore::new();
        let tick = put(&store, 3, at(10));
        assert_eq!(claim(&store, tick, at(20)), Ok(Claimed::NotDue));
        let due = drain_due(tick);
        let Claimed::Mine(batch) = claim(&store, tick, due).unwrap() else {
            panic!("first claim")
        };
        assert_eq!(batch.items.len(), 3);
        assert_eq!(claim(&store, tick, due), Ok(Claimed::Busy));
        finish(&store, &batch, 3, due).unwrap();
        // The drained items are deleted with the mark: the book keeps what they said.
        for slot in 1..=3 {
            assert_eq!(store.get(&keys::item(tick, slot)).unwrap(), None);
        }
        // Drained: a later period finds nothing left.
        let later = due + chrono::Duration::milliseconds(DRAIN_LEASE_MS);
        assert_eq!(claim(&store, tick, later), Ok(Claimed::Drained));
        assert_eq!(store.increment(keys::DRAINED, 0), Ok(3));
    }

    #[test]
    fn a_slot_written_late_is_drained_by_a_later_claim_and_a_dead_writer_given_up() {
        let store = MemoryStore::new();
        let tick = put(&store, 1, at(10));
        // A writer took slot 2 and has not written yet; another took slot 3 and died.
        store.increment(&keys::tick_len(tick), 2).unwrap();
        let due = drain_due(tick);
        let Claimed::Mine(batch) = claim(&store, tick, due).unwrap() else {
            panic!()
        };
        assert_eq!(batch.missing, vec![2, 3]);
        let first = store.get(&keys::item(tick, 1)).unwrap().unwrap();
        finish(&store, &batch, 1, due).unwrap();
        // The drained item is gone (the book has it); the late writer now writes.
        assert_eq!(store.get(&keys::item(tick, 1)).unwrap(), None);
        store.set(&keys::item(tick, 2), &first).unwrap();
        // The next generation claims at once, in the same lease period.
        let Claimed::Mine(batch) = claim(&store, tick, due).unwrap() else {
            panic!("the late slot is pending")
        };
        let slots: Vec<i64> = batch.items.iter().map(|(s, _)| *s).collect();
        assert_eq!(slots, vec![2]);
        assert_eq!(batch.missing, vec![3]);
        finish(&store, &batch, 1, due).unwrap();
        assert_eq!(store.get(&keys::item(tick, 2)).unwrap(), None);
        let later = at(10) + chrono::Duration::milliseconds(WRITER_LEASE_MS + 1000);
        let Claimed::Mine(batch) = claim(&store, tick, later).unwrap() else {
            panic!("the dead writer's slot is pending")
        };
        assert!(batch.items.is_empty());
        let mark = finish(&store, &batch, 0, later).unwrap();
        assert_eq!(mark.abandoned, vec![3]);
        assert_eq!(mark.pending(3), 0);
        assert_eq!(tick_of(at(10)), tick);
    }
}
