//! Repair: undoing operations that died mid-way and recounting the counters they may
//! have left off. See `intent` for why dead operations are undone, never finished.
//!
//! Two grains, each corrected only when nothing is in flight on it:
//!
//! - **an attempt's allocation counters** (`out`, shipped per allocation): exactly the
//!   units the attempt's *done* settle/expire operations moved (their intents say how
//!   many). Giving units back to a hold first raises `reserved` by as many (the dead
//!   operation may have lowered it already; if it had not, `reserved` is now too high,
//!   which is safe and fixed by the next step). Run inline by the next operation on the
//!   attempt (a retry), and by [`ReservationLedger::repair`].
//! - **a SKU@warehouse's counters** (`on_hand`, `reserved`, `shipped`): the sum of the
//!   journal's deltas for it (every finished operation journals exactly what it did,
//!   in the batch that marks it done; a dead one journals nothing), kept as a running
//!   checkpoint so each recount reads only the journal since the last one. Run by
//!   [`ReservationLedger::repair`] for SKU@warehouses a dead operation touched
//!   (`recount`).
//!
//! "Nothing in flight" is checked, not assumed: every operation files its intent in the
//! intent index before its first effect, so a recount reads the index, then the
//! counters and the records, then the index again; an operation that filed in between
//! (in a new slot, or in one it had claimed but not written at the first read) may
//! have moved a counter before it was read, and the recount is skipped. One whose slot
//! is still empty at the second read has done nothing yet, and corrections are
//! increments, so its effects stay whole. An intent read done must mean its journal
//! entry can be read too, and a named slot that its intent can be: a reader may see a
//! batch land one entry at a time, so an operation's last batch writes its intent done
//! last (`intent::finish`) and filing writes the intent before the slot naming it
//! (`intent::register`). Corrections that make stock look less available go first. The
//! same holds for an attempt's list of operations.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::order::OrderId;
use crate::store::KeyValue;

use super::counters::read;
use super::error::StockResult;
use super::expiry::{bucket_of, BUCKET_SECONDS};
use super::intent::{exclusive, leave, load_many, mark_dirty, OpIntent, OpKind, OpState, Place};
use super::keys;
use super::ledger::ReservationLedger;
use super::model::Reservation;

/// Intent-index minutes behind the cursor looked at again (instance clocks may
/// disagree by up to the lease, which is under a minute), and where the very first
/// repair starts. Every run reads the intents of the minutes from there to now.
const RESCAN_BUCKETS: i64 = 1;
const FIRST_LOOKBACK_BUCKETS: i64 = 6 * 60;
const MAX_BUCKETS_PER_RUN: i64 = 12 * 60;
/// An index slot claimed but never written (its writer died in between, before any
/// effect) is ignored after this long.
pub(super) const ABANDONED_AFTER_SECONDS: i64 = 300;

/// An operation repair found dead and undid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoneOp {
    pub kind: OpKind,
    pub key: String,
    pub order: Option<OrderId>,
    pub started_at: DateTime<Utc>,
}

/// One counter repair changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterFix {
    /// `sku@warehouse`, or `order/attempt.allocation` for an allocation counter.
    pub place: String,
    /// `on_hand`, `reserved`, `shipped`, `out` or `allocation_shipped`.
    pub counter: String,
    pub old: i64,
    pub new: i64,
}

/// What one [`ReservationLedger::repair`] run did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RepairReport {
    /// Intents looked at.
    pub examined: usize,
    /// Operations found running past their lease.
    pub dead: usize,
    /// Of those, undone by this run (their callers redo them on retry).
    pub undone: Vec<UndoneOp>,
    pub corrected: Vec<CounterFix>,
    /// Dead operations and SKU@warehouses left for a later run: something was in flight
    /// on them, or another repairer held them.
    pub skipped_busy: Vec<String>,
    /// First intent-index minute to look at next time.
    pub cursor: i64,
    /// The budget ran out: no recount this run (in-flight work may not all be known).
    pub truncated: bool,
}

/// Whether an attempt's allocation counters could be put right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AttemptRepair {
    /// No dead operation on the attempt.
    Clean,
    Repaired,
    /// Something else is in flight on it, or another repairer holds it.
    Busy,
}

/// Index slots: the intent key in each (if written) and the intent (if readable).
pub(super) type IndexSlots = (Vec<Option<String>>, Vec<Option<OpIntent>>);

/// The index minutes one run looked at: how many slots each had, and which of those
/// were still empty (claimed by an operation that had not written its intent yet).
pub(super) struct IndexSeen {
    pub lens: BTreeMap<i64, i64>,
    pub empty: Vec<(i64, i64)>,
}

impl<S: KeyValue> ReservationLedger<'_, S> {
    /// Finds operations that died mid-way (intent running past its lease), undoes
    /// them, and recounts the SKU@warehouses they touched once nothing is in flight on
    /// them. Looks at no more than `max_intents` intents; a cursor carries on next run.
    /// Safe to run on any number of instances at once and beside live traffic.
    pub fn repair(&self, now: DateTime<Utc>, max_intents: usize) -> StockResult<RepairReport> {
        let mut report = RepairReport::default();
        let current = bucket_of(now);
        let cursor: Option<i64> = self.store.get_json(keys::OP_CURSOR)?;
        let start = cursor.map_or(current - FIRST_LOOKBACK_BUCKETS, |c| c - RESCAN_BUCKETS);
        // One minute ahead: an instance whose clock runs ahead files there.
        let end = current + 1;
        let mut seen = IndexSeen {
            lens: BTreeMap::new(),
            empty: Vec::new(),
        };
        let mut busy: BTreeSet<Place> = BTreeSet::new();
        let mut first_unsettled: Option<i64> = None;
        let mut bucket = start;
        while bucket <= end {
            if report.examined >= max_intents || bucket - start >= MAX_BUCKETS_PER_RUN {
                report.truncated = true;
                break;
            }
            let settled = self.repair_bucket(bucket, now, &mut seen, &mut busy, &mut report)?;
            if !settled && first_unsettled.is_none() {
                first_unsettled = Some(bucket);
            }
            bucket += 1;
        }
        // Never past the minute of operations that may still be running.
        let live_from = bucket_of(now - Duration::seconds(self.lease_seconds));
        let next = first_unsettled.unwrap_or(bucket).min(live_from);
        if cursor != Some(next) {
            self.store.set_json(keys::OP_CURSOR, &next)?;
        }
        report.cursor = next;
        if !report.truncated {
            self.recount_places(now, &busy, &seen, &mut report)?;
        }
        Ok(report)
    }

    /// Handles one index minute; whether every intent in it is past handling.
    fn repair_bucket(
        &self,
        bucket: i64,
        now: DateTime<Utc>,
        seen: &mut IndexSeen,
        busy: &mut BTreeSet<Place>,
        report: &mut RepairReport,
    ) -> StockResult<bool> {
        let len = read(self.store, &keys::op_index_len(bucket))?;
        seen.lens.insert(bucket, len);
        if len == 0 {
            return Ok(true);
        }
        let (names, intents) = self.index_slots(bucket, 1, len)?;
        let abandoned = now.timestamp() - (bucket + 1) * BUCKET_SECONDS > ABANDONED_AFTER_SECONDS;
        let mut settled = true;
        for (slot, (name, intent)) in (1..).zip(names.iter().zip(intents)) {
            let Some(intent) = intent else {
                // An empty slot: its writer is between claiming and writing (no effect
                // yet), or died there. Looked at again before any recount.
                if name.is_none() {
                    seen.empty.push((bucket, slot));
                }
                settled &= name.is_some() || abandoned;
                continue;
            };
            report.examined += 1;
            if intent.is_live(now) {
                busy.extend(intent.places.iter().cloned());
                settled = false;
            } else if intent.is_dead(now) {
                report.dead += 1;
                if !self.undo_dead(&intent, now, None, report)? {
                    busy.extend(intent.places.iter().cloned());
                    report.skipped_busy.push(intent.key.clone());
                    settled = false;
                }
            }
        }
        Ok(settled)
    }

    /// Index slots `from..=to` of a minute: the intent key in each, and the intent.
    pub(super) fn index_slots(&self, bucket: i64, from: i64, to: i64) -> StockResult<IndexSlots> {
        if to < from {
            return Ok((Vec::new(), Vec::new()));
        }
        let slots: Vec<String> = (from..=to)
            .map(|slot| keys::op_index_slot(bucket, slot))
            .collect();
        let names: Vec<Option<String>> = self
            .store
            .get_many(&slots)?
            .into_iter()
            .map(|b| b.and_then(|bytes| String::from_utf8(bytes).ok()))
            .collect();
        let present: Vec<String> = names.iter().flatten().cloned().collect();
        let mut loaded = load_many(self.store, &present)?.into_iter();
        let intents = names
            .iter()
            .map(|n| n.as_ref().and_then(|_| loaded.next().flatten()))
            .collect();
        Ok((names, intents))
    }

    /// Discards a dead operation (see `intent`). False when it cannot be done now
    /// (its attempt has other operations in flight): try again later. `own` is the
    /// intent of the caller's own operation, not yet started, which does not count as
    /// in flight.
    pub(super) fn undo_dead(
        &self,
        dead: &OpIntent,
        now: DateTime<Utc>,
        own: Option<&str>,
        report: &mut RepairReport,
    ) -> StockResult<bool> {
        match dead.kind {
            OpKind::Reserve | OpKind::Adjust => {
                mark_dirty(self.store, &dead.places, now)?;
                // A receipt's units may be on hand with no journal entry: take them off
                // (once) so a redo cannot count them twice before the recount.
                let undo_ticket = format!("{}:undo", dead.key);
                if dead.on_hand_added > 0 && self.store.increment(&undo_ticket, 1)? == 1 {
                    for place in &dead.places {
                        let key = keys::on_hand(&place.sku, &place.warehouse);
                        let new = self.store.increment(&key, -dead.on_hand_added)?;
                        report.corrected.push(CounterFix {
                            place: place.name(),
                            counter: "on_hand".into(),
                            old: new + dead.on_hand_added,
                            new,
                        });
                    }
                }
                let (key, bytes) = dead.undone()?;
                self.store.set(&key, &bytes)?;
                report.undone.push(undone_op(dead));
                Ok(true)
            }
            OpKind::Commit | OpKind::Release | OpKind::Expire => {
                let Some(order) = &dead.order else {
                    return Ok(true);
                };
                Ok(self.repair_attempt(order, dead.attempt, now, own, report)?
                    != AttemptRepair::Busy)
            }
        }
    }

    /// Puts an attempt's allocation counters back to what its done operations moved and
    /// marks its dead operations undone (see the module doc).
    pub(super) fn repair_attempt(
        &self,
        order: &OrderId,
        attempt: u32,
        now: DateTime<Utc>,
        own: Option<&str>,
        report: &mut RepairReport,
    ) -> StockResult<AttemptRepair> {
        let len_key = keys::attempt_ops_len(order, attempt);
        let len = read(self.store, &len_key)?;
        let slots: Vec<String> = (1..=len)
            .map(|k| keys::attempt_op(order, attempt, k))
            .collect();
        let found = if slots.is_empty() {
            Vec::new()
        } else {
            self.store.get_many(&slots)?
        };
        // Slots claimed by operations that have not written their intent yet: looked
        // at again after the counters are read.
        let empty: Vec<String> = slots
            .iter()
            .zip(&found)
            .filter(|(_, name)| name.is_none())
            .map(|(slot, _)| slot.clone())
            .collect();
        let names: Vec<String> = found
            .into_iter()
            .flatten()
            .filter_map(|b| String::from_utf8(b).ok())
            .collect();
        let intents: Vec<OpIntent> = load_many(self.store, &names)?
            .into_iter()
            .flatten()
            .filter(|i| Some(i.key.as_str()) != own)
            .collect();
        let dead: Vec<&OpIntent> = intents.iter().filter(|i| i.is_dead(now)).collect();
        if dead.is_empty() {
            return Ok(AttemptRepair::Clean);
        }
        if intents.iter().any(|i| i.is_live(now)) {
            return Ok(AttemptRepair::Busy);
        }
        let reservation: Option<Reservation> = self.store.get_json(&keys::reservation(order))?;
        let allocations = reservation
            .filter(|r| r.attempt == attempt)
            .map(|r| r.allocations)
            .unwrap_or_default();
        let section = keys::attempt_fix(order, attempt);
        if !exclusive(self.store, &section, now, self.lease_seconds)? {
            return Ok(AttemptRepair::Busy);
        }
        let seen = (len, empty.as_slice());
        let repaired = self.fix_attempt(order, attempt, seen, &allocations, &intents, now, report);
        leave(self.store, &section, now, self.lease_seconds)?;
        repaired
    }

    /// [`Self::repair_attempt`] inside its exclusive section.
    #[allow(clippy::too_many_arguments)]
    fn fix_attempt(
        &self,
        order: &OrderId,
        attempt: u32,
        (len, empty): (i64, &[String]),
        allocations: &[super::model::Allocation],
        intents: &[OpIntent],
        now: DateTime<Utc>,
        report: &mut RepairReport,
    ) -> StockResult<AttemptRepair> {
        let len_key = keys::attempt_ops_len(order, attempt);
        let dead: Vec<&OpIntent> = intents.iter().filter(|i| i.is_dead(now)).collect();
        let places: Vec<Place> = allocations
            .iter()
            .map(|a| Place::new(&a.sku, &a.warehouse))
            .collect();
        mark_dirty(self.store, &places, now)?;
        let mut truth = vec![(0i64, 0i64); allocations.len()];
        for done in intents.iter().filter(|i| i.state == OpState::Done) {
            for m in &done.moved {
                if let Some(t) = truth.get_mut(m.index) {
                    t.0 += m.out;
                    t.1 += m.shipped;
                }
            }
        }
        let mut observed = Vec::with_capacity(allocations.len());
        for index in 0..allocations.len() {
            observed.push((
                read(self.store, &keys::alloc_out(order, attempt, index))?,
                read(self.store, &keys::alloc_shipped(order, attempt, index))?,
            ));
        }
        // Another operation filed since the first read (in a new slot, or in one that
        // was empty then) may have moved what we read.
        if read(self.store, &len_key)? != len
            || (!empty.is_empty() && self.store.get_many(empty)?.iter().any(Option::is_some))
        {
            return Ok(AttemptRepair::Busy);
        }
        for (index, a) in allocations.iter().enumerate() {
            let (out, shipped) = observed[index];
            let (true_out, true_shipped) = truth[index];
            let name = format!("{}/{attempt}.{index}", order.0);
            let back_to_hold = out - true_out;
            if back_to_hold > 0 {
                let reserved = keys::reserved(&a.sku, &a.warehouse);
                let new = self.store.increment(&reserved, back_to_hold)?;
                report.corrected.push(fix(
                    &Place::new(&a.sku, &a.warehouse).name(),
                    "reserved",
                    new - back_to_hold,
                    new,
                ));
            }
            if back_to_hold != 0 {
                self.store
                    .increment(&keys::alloc_out(order, attempt, index), -back_to_hold)?;
                report.corrected.push(fix(&name, "out", out, true_out));
            }
            if shipped != true_shipped {
                self.store.increment(
                    &keys::alloc_shipped(order, attempt, index),
                    true_shipped - shipped,
                )?;
                report
                    .corrected
                    .push(fix(&name, "allocation_shipped", shipped, true_shipped));
            }
        }
        let mut writes = Vec::with_capacity(dead.len());
        for d in &dead {
            writes.push(d.undone()?);
            report.undone.push(undone_op(d));
        }
        self.store.set_many(&writes)?;
        Ok(AttemptRepair::Repaired)
    }
}

pub(super) fn fix(place: &str, counter: &str, old: i64, new: i64) -> CounterFix {
    CounterFix {
        place: place.to_string(),
        counter: counter.to_string(),
        old,
        new,
    }
}

fn undone_op(intent: &OpIntent) -> UndoneOp {
    UndoneOp {
        kind: intent.kind,
        key: intent.key.clone(),
        order: intent.order.clone(),
        started_at: intent.started_at,
    }
}
