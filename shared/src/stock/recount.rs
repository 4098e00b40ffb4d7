//! The exact step of repair for one SKU@warehouse: its counters recounted from the
//! journal at quiescence (see `repair` for why this is exact and when it runs), and
//! the list of places waiting for it.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::store::KeyValue;

use super::counters::read;
use super::error::StockResult;
use super::intent::{exclusive, leave, list_dirty, load_many, DirtyMark, Place};
use super::journal::StockEvent;
use super::keys;
use super::ledger::{to_bytes, ReservationLedger};
use super::repair::{fix, IndexSeen, RepairReport, ABANDONED_AFTER_SECONDS};

/// Journal entries read per batch during a recount.
const JOURNAL_PAGE: i64 = 256;

/// Counter totals of the journal entries for one SKU@warehouse up to `upto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
struct Checkpoint {
    upto: i64,
    on_hand: i64,
    reserved: i64,
    shipped: i64,
}

impl<S: KeyValue> ReservationLedger<'_, S> {
    /// Recounts, from the journal, every marked SKU@warehouse nothing is in flight on.
    pub(super) fn recount_places(
        &self,
        now: DateTime<Utc>,
        busy: &BTreeSet<Place>,
        seen: &IndexSeen,
        report: &mut RepairReport,
    ) -> StockResult<()> {
        let (names, next_cursor) = self.dirty_marks(now)?;
        // Places left for later are listed again before the cursor moves past them.
        let mut again = BTreeSet::new();
        let mut due = Vec::new();
        for name in names {
            let marks = read(self.store, &keys::place_dirty(&name))?;
            let clean: i64 = self.store.get_json(&keys::place_clean(&name))?.unwrap_or(0);
            let Some(place) = Place::parse(&name) else {
                continue;
            };
            if marks <= clean {
                continue;
            }
            if busy.contains(&place)
                || !exclusive(self.store, &keys::place_run(&name), now, self.lease_seconds)?
            {
                report.skipped_busy.push(name.clone());
                again.insert(name);
                continue;
            }
            let base: Checkpoint = self
                .store
                .get_json(&keys::place_base(&name))?
                .unwrap_or_default();
            due.push((name, place, marks, base));
        }
        if !due.is_empty() {
            self.recount(now, due, seen, &mut again, report)?;
        }
        for name in &again {
            list_dirty(self.store, name, now)?;
        }
        if next_cursor.1 != next_cursor.0 {
            self.store.set_json(keys::DIRTY_CURSOR, &next_cursor.1)?;
        }
        Ok(())
    }

    /// The places marked since the cursor, and (cursor, where it may move to): past
    /// every mark read, stopping at a slot not yet written unless it is abandoned (a
    /// mark written after it is older than `ABANDONED_AFTER_SECONDS`).
    fn dirty_marks(&self, now: DateTime<Utc>) -> StockResult<(BTreeSet<String>, (i64, i64))> {
        let cursor: i64 = self.store.get_json(keys::DIRTY_CURSOR)?.unwrap_or(0);
        let len = read(self.store, keys::DIRTY_LEN)?;
        let mut marks: Vec<Option<DirtyMark>> = Vec::new();
        let mut n = cursor + 1;
        while n <= len {
            let last = (n + JOURNAL_PAGE - 1).min(len);
            let slots: Vec<String> = (n..=last).map(keys::dirty_slot).collect();
            marks.extend(
                self.store
                    .get_many(&slots)?
                    .into_iter()
                    .map(|b| b.and_then(|bytes| serde_json::from_slice(&bytes).ok())),
            );
            n = last + 1;
        }
        let abandoned_before = now - Duration::seconds(ABANDONED_AFTER_SECONDS);
        // Every written mark counts now; the cursor waits at a young hole (its writer
        // may be about to fill it).
        let names = marks.iter().flatten().map(|m| m.place.clone()).collect();
        let mut next = cursor;
        for (i, mark) in marks.iter().enumerate() {
            if mark.is_none() {
                let abandoned = marks[i + 1..]
                    .iter()
                    .flatten()
                    .any(|later| later.at <= abandoned_before);
                if !abandoned {
                    break;
                }
            }
            next = cursor + 1 + i as i64;
        }
        Ok((names, (cursor, next)))
    }

    /// Recounts `due` places from the journal (see the module doc).
    fn recount(
        &self,
        now: DateTime<Utc>,
        due: Vec<(String, Place, i64, Checkpoint)>,
        seen: &IndexSeen,
        again: &mut BTreeSet<String>,
        report: &mut RepairReport,
    ) -> StockResult<()> {
        let upto = read(self.store, keys::LOG_LEN)?;
        let mut observed = Vec::with_capacity(due.len());
        for (_, place, _, _) in &due {
            observed.push(Checkpoint {
                upto,
                on_hand: read(self.store, &keys::on_hand(&place.sku, &place.warehouse))?,
                reserved: read(self.store, &keys::reserved(&place.sku, &place.warehouse))?,
                shipped: read(self.store, &keys::shipped(&place.sku, &place.warehouse))?,
            });
        }
        let mut truth: Vec<Checkpoint> = due.iter().map(|(_, _, _, base)| *base).collect();
        let from = due.iter().map(|(_, _, _, b)| b.upto).min().unwrap_or(0) + 1;
        let mut seq = from;
        while seq <= upto {
            let last = (seq + JOURNAL_PAGE - 1).min(upto);
            let slots: Vec<String> = (seq..=last).map(keys::log_entry).collect();
            for bytes in self.store.get_many(&slots)?.into_iter().flatten() {
                let Ok(event) = serde_json::from_slice::<StockEvent>(&bytes) else {
                    continue;
                };
                for (i, (_, place, _, base)) in due.iter().enumerate() {
                    if event.seq <= base.upto {
                        continue;
                    }
                    for c in &event.changes {
                        if c.sku == place.sku && c.warehouse == place.warehouse {
                            truth[i].on_hand += c.on_hand;
                            truth[i].reserved += c.reserved;
                            truth[i].shipped += c.shipped;
                        }
                    }
                }
            }
            seq = last + 1;
        }
        let moved = self.filed_since(seen)?;
        for (i, (name, place, marks, _)) in due.iter().enumerate() {
            let finished = self.finish_recount(
                name,
                place,
                *marks,
                observed[i],
                truth[i],
                upto,
                &moved,
                report,
            );
            leave(self.store, &keys::place_run(name), now, self.lease_seconds)?;
            if !finished? {
                again.insert(name.clone());
            }
        }
        Ok(())
    }

    /// Applies one place's recount unless an operation filed on it meanwhile.
    #[allow(clippy::too_many_arguments)]
    fn finish_recount(
        &self,
        name: &str,
        place: &Place,
        marks: i64,
        observed: Checkpoint,
        truth: Checkpoint,
        upto: i64,
        moved: &BTreeSet<Place>,
        report: &mut RepairReport,
    ) -> StockResult<bool> {
        if moved.contains(place) {
            report.skipped_busy.push(name.to_string());
            return Ok(false);
        }
        let new = Checkpoint { upto, ..truth };
        self.correct(place, observed, new, report)?;
        // `clean` = the marks this recount covers: a mark made since calls for another.
        self.store.set_many(&[
            (keys::place_base(name), to_bytes(&new)?),
            (keys::place_clean(name), to_bytes(&marks)?),
        ])?;
        Ok(true)
    }

    /// Places named by intents filed in the looked-at index minutes since `seen`: in
    /// slots claimed since, or claimed before but empty then. (A slot still empty now
    /// belongs to an operation that has not started its effects.)
    fn filed_since(&self, seen: &IndexSeen) -> StockResult<BTreeSet<Place>> {
        let mut places = BTreeSet::new();
        if !seen.empty.is_empty() {
            let slots: Vec<String> = seen
                .empty
                .iter()
                .map(|&(bucket, slot)| keys::op_index_slot(bucket, slot))
                .collect();
            let names: Vec<String> = self
                .store
                .get_many(&slots)?
                .into_iter()
                .flatten()
                .filter_map(|b| String::from_utf8(b).ok())
                .collect();
            for intent in load_many(self.store, &names)?.into_iter().flatten() {
                places.extend(intent.places);
            }
        }
        for (&bucket, &len) in &seen.lens {
            let now_len = read(self.store, &keys::op_index_len(bucket))?;
            let (_, intents) = self.index_slots(bucket, len + 1, now_len)?;
            for intent in intents.into_iter().flatten() {
                places.extend(intent.places);
            }
        }
        Ok(places)
    }

    /// Moves one place's counters from `old` to `new`, the changes that make stock
    /// look less available first.
    fn correct(
        &self,
        place: &Place,
        old: Checkpoint,
        new: Checkpoint,
        report: &mut RepairReport,
    ) -> StockResult<()> {
        let (sku, wh) = (&place.sku, &place.warehouse);
        let steps = [
            (
                new.on_hand < old.on_hand,
                keys::on_hand(sku, wh),
                "on_hand",
                old.on_hand,
                new.on_hand,
            ),
            (
                new.reserved > old.reserved,
                keys::reserved(sku, wh),
                "reserved",
                old.reserved,
                new.reserved,
            ),
            (
                true,
                keys::shipped(sku, wh),
                "shipped",
                old.shipped,
                new.shipped,
            ),
            (
                new.reserved < old.reserved,
                keys::reserved(sku, wh),
                "reserved",
                old.reserved,
                new.reserved,
            ),
            (
                new.on_hand > old.on_hand,
                keys::on_hand(sku, wh),
                "on_hand",
                old.on_hand,
                new.on_hand,
            ),
        ];
        for (applies, key, counter, was, should) in steps {
            if applies && was != should {
                self.store.increment(&key, should - was)?;
                report
                    .corrected
                    .push(fix(&place.name(), counter, was, should));
            }
        }
        Ok(())
    }
}
