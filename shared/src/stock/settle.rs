//! What happens to held units: confirm, commit (ship), release (cancel/refund), expire.
//!
//! Every allocation has an `out` counter: units that left the hold, for whatever reason.
//! Commit, release and expire all take units from it by increment-then-check against
//! the allocation's quantity, so together they can never take more than was held and
//! each unit leaves exactly once, whoever races. Confirm and expire race on a `fate`
//! counter instead (see [`claim_fate`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::order::OrderId;
use crate::store::KeyValue;

use super::counters::{read, take_within};
use super::error::{StockError, StockResult};
use super::intent::{self, take_over, Moved, OpIntent, OpKind, Place, Takeover};
use super::journal::{self, LevelChange, StockEventKind};
use super::keys;
use super::ledger::{to_bytes, ReservationLedger};
use super::model::{Reservation, ReserveStatus};
use super::repair::{AttemptRepair, RepairReport};

/// Units of one line to commit or release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleLine {
    pub line_no: u32,
    pub quantity: i64,
}

/// A commit or release. `op_id` makes it idempotent: a retry with the same id is
/// answered from the first one's stored result (e.g. the parcel id for a dispatch, the
/// refund id for a refund); while the first is still running, or if it died, the
/// answer is `in_flight` (409). `lines: None` means everything still held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleRequest {
    pub op_id: String,
    #[serde(default)]
    pub lines: Option<Vec<SettleLine>>,
}

impl SettleRequest {
    pub fn everything(op_id: impl Into<String>) -> Self {
        Self {
            op_id: op_id.into(),
            lines: None,
        }
    }
    pub fn lines(op_id: impl Into<String>, lines: &[(u32, i64)]) -> Self {
        let lines = lines
            .iter()
            .map(|&(line_no, quantity)| SettleLine { line_no, quantity })
            .collect();
        Self {
            op_id: op_id.into(),
            lines: Some(lines),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettleKind {
    Commit,
    Release,
}

impl SettleKind {
    fn as_str(self) -> &'static str {
        match self {
            SettleKind::Commit => "commit",
            SettleKind::Release => "release",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettledLine {
    pub line_no: u32,
    /// `None` when the request said "everything still held".
    pub requested: Option<i64>,
    pub settled: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleOutcome {
    pub order: OrderId,
    pub kind: SettleKind,
    pub op_id: String,
    pub lines: Vec<SettledLine>,
    /// A commit that lost to expiry settles nothing.
    pub expired: bool,
    pub replayed: bool,
}

impl SettleOutcome {
    pub fn units(&self) -> i64 {
        self.lines.iter().map(|l| l.settled).sum()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    Confirmed,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpireOutcome {
    /// This call (or an earlier one) expired it; `released` units went back now.
    Expired {
        released: i64,
    },
    /// Confirmed first: holds until committed or released.
    Confirmed,
    NotDue,
    /// Refused at reserve time: nothing was ever held.
    NothingHeld,
}

const CONFIRM: i64 = 1;
const EXPIRE: i64 = 1 << 32;

/// Confirm adds 1 and expire adds 2^32 to one counter; the value *before* one's own
/// increment says who came first: none → we win; only confirms → confirmed; only
/// expires → expired. Both kinds before us is ambiguous, so the winner's name is also
/// written (a plain value, always the same name); until that lands the answer is "in
/// flight". Two callers write it: the winner, and the first caller of the losing kind,
/// whose increment is the one that makes the counter ambiguous. The second write is
/// what keeps a winner killed between its increment and its write from leaving every
/// later caller in flight forever; only both of them killed in that gap still would.
pub(super) fn claim_fate<S: KeyValue>(
    store: &S,
    reservation: &Reservation,
    mine: Fate,
) -> StockResult<Fate> {
    if reservation.confirmed {
        return Ok(Fate::Confirmed);
    }
    let delta = match mine {
        Fate::Confirmed => CONFIRM,
        Fate::Expired => EXPIRE,
    };
    let before =
        store.increment(&keys::fate(&reservation.order, reservation.attempt), delta)? - delta;
    fate_from(store, reservation, before, Some(mine))
}

/// Who won, from a fate counter value; `mine` if this caller is the one who made it so.
fn fate_from<S: KeyValue>(
    store: &S,
    reservation: &Reservation,
    before: i64,
    mine: Option<Fate>,
) -> StockResult<Fate> {
    let (confirms, expires) = (before & (EXPIRE - 1), before >> 32);
    let winner_key = keys::fate_winner(&reservation.order, reservation.attempt);
    let settled = match (confirms, expires, mine) {
        (0, 0, Some(mine)) => mine,
        (_, 0, _) => Fate::Confirmed,
        (0, _, _) => Fate::Expired,
        _ => {
            return store
                .get_json(&winner_key)?
                .ok_or_else(|| StockError::InFlight(reservation.order.0.clone()))
        }
    };
    let first_of_its_kind = match mine {
        Some(Fate::Confirmed) => confirms == 0,
        Some(Fate::Expired) => expires == 0,
        None => false,
    };
    if first_of_its_kind {
        store.set_json(&winner_key, &settled)?;
    }
    Ok(settled)
}

/// The settled fate, if any, without taking part in the race.
pub(super) fn current_fate<S: KeyValue>(
    store: &S,
    reservation: &Reservation,
) -> StockResult<Option<Fate>> {
    if reservation.confirmed {
        return Ok(Some(Fate::Confirmed));
    }
    let value = read(store, &keys::fate(&reservation.order, reservation.attempt))?;
    if value == 0 {
        return Ok(None);
    }
    // `value` includes the winner's own increment; treat it as "before" of a later caller.
    fate_from(store, reservation, value, None).map(Some)
}

impl<S: KeyValue> ReservationLedger<'_, S> {
    fn reservation_record(&self, order: &OrderId) -> StockResult<Reservation> {
        self.store
            .get_json(&keys::reservation(order))?
            .ok_or_else(|| StockError::unknown_reservation(order))
    }

    /// Marks the order confirmed (paid/accepted): expiry no longer applies. Returns who
    /// won if expiry got there first.
    pub fn confirm(&self, order: &OrderId) -> StockResult<Fate> {
        let reservation = self.reservation_record(order)?;
        claim_fate(self.store, &reservation, Fate::Confirmed)
    }

    /// Ships units: reserved → shipped, on hand goes down. Implies confirm; loses to an
    /// expiry that came first.
    pub fn commit(
        &self,
        order: &OrderId,
        request: &SettleRequest,
        now: DateTime<Utc>,
    ) -> StockResult<SettleOutcome> {
        self.settle(SettleKind::Commit, order, request, now)
    }

    /// Gives held units back (cancel, refund, shortage after partial commit).
    pub fn release(
        &self,
        order: &OrderId,
        request: &SettleRequest,
        now: DateTime<Utc>,
    ) -> StockResult<SettleOutcome> {
        self.settle(SettleKind::Release, order, request, now)
    }

    fn settle(
        &self,
        kind: SettleKind,
        order: &OrderId,
        request: &SettleRequest,
        now: DateTime<Utc>,
    ) -> StockResult<SettleOutcome> {
        let reservation = self.reservation_record(order)?;
        validate_lines(order, &reservation, request)?;
        let ticket = keys::op_ticket(order, reservation.attempt, kind.as_str(), &request.op_id);
        let result_key = keys::op_result(order, reservation.attempt, kind.as_str(), &request.op_id);
        let replay = |first: Option<SettleOutcome>| match first {
            Some(first) => Ok(SettleOutcome {
                replayed: true,
                ..first
            }),
            None => Err(StockError::InFlight(order.0.clone())),
        };
        let generation = if self.store.increment(&ticket, 1)? > 1 {
            if let Some(first) = self.store.get_json::<SettleOutcome>(&result_key)? {
                return replay(Some(first));
            }
            // A dead runner's effects are undone by the attempt check below.
            match take_over(self.store, &ticket, now, self.lease_seconds)? {
                Takeover::Run { generation, .. } => generation,
                Takeover::Finished => return replay(self.store.get_json(&result_key)?),
                Takeover::InFlight => return Err(StockError::InFlight(order.0.clone())),
            }
        } else {
            0
        };
        let kind_of = match kind {
            SettleKind::Commit => OpKind::Commit,
            SettleKind::Release => OpKind::Release,
        };
        let intent = self.begin_on_attempt(
            kind_of,
            &reservation,
            keys::op_try(&ticket, generation),
            generation,
            now,
        )?;
        let mut skus: Vec<_> = reservation.allocations.iter().map(|a| &a.sku).collect();
        skus.sort();
        skus.dedup();
        let loaded = self.load(&skus, None)?;
        let expired = kind == SettleKind::Commit
            && reservation.status != ReserveStatus::OutOfStock
            && claim_fate(self.store, &reservation, Fate::Confirmed)? == Fate::Expired;
        let wanted: Vec<(u32, Option<i64>)> = match &request.lines {
            Some(lines) => lines
                .iter()
                .map(|l| (l.line_no, Some(l.quantity)))
                .collect(),
            None => {
                let mut all: Vec<u32> = reservation.allocations.iter().map(|a| a.line_no).collect();
                all.dedup();
                all.into_iter().map(|line_no| (line_no, None)).collect()
            }
        };
        let mut lines = Vec::new();
        let mut changes = Vec::new();
        let mut moved = Vec::new();
        for (line_no, requested) in wanted {
            let mut remaining = if expired {
                0
            } else {
                requested.unwrap_or(i64::MAX)
            };
            let mut settled = 0;
            for (index, a) in reservation
                .allocations
                .iter()
                .enumerate()
                .filter(|(_, a)| a.line_no == line_no)
            {
                if remaining == 0 {
                    break;
                }
                let out = keys::alloc_out(order, reservation.attempt, index);
                let got = take_within(self.store, &out, remaining.min(a.quantity), a.quantity)?;
                if got == 0 {
                    continue;
                }
                changes.push(self.move_units(kind, order, reservation.attempt, index, a, got)?);
                moved.push(Moved {
                    index,
                    out: got,
                    shipped: if kind == SettleKind::Commit { got } else { 0 },
                });
                remaining -= got;
                settled += got;
            }
            lines.push(SettledLine {
                line_no,
                requested,
                settled,
            });
        }
        let outcome = SettleOutcome {
            order: order.clone(),
            kind,
            op_id: request.op_id.clone(),
            lines,
            expired,
            replayed: false,
        };
        let event_kind = match kind {
            SettleKind::Commit => StockEventKind::Commit,
            SettleKind::Release => StockEventKind::Release,
        };
        let event = journal::record(
            self.store,
            &loaded.catalog,
            &loaded.items,
            event_kind,
            Some(order),
            Some(&request.op_id),
            changes,
            now,
        )?;
        let mut writes = vec![(result_key, to_bytes(&outcome)?)];
        if let Some(event) = &event {
            writes.push(journal::event_entry(event)?);
        }
        intent::finish(self.store, writes, intent.done(moved)?)?;
        Ok(outcome)
    }

    /// Applies units already taken from an allocation's `out` counter to the stock
    /// counters. Commit lowers on hand *before* reserved: in between, a concurrent
    /// reserve sees less stock and more reserved (conservative); the other order would
    /// let it promise units that are leaving.
    fn move_units(
        &self,
        kind: SettleKind,
        order: &OrderId,
        refusals: u32,
        index: usize,
        a: &super::model::Allocation,
        units: i64,
    ) -> StockResult<LevelChange> {
        let mut change = LevelChange {
            sku: a.sku.clone(),
            warehouse: a.warehouse.clone(),
            on_hand: 0,
            reserved: -units,
            shipped: 0,
        };
        if kind == SettleKind::Commit {
            self.store
                .increment(&keys::on_hand(&a.sku, &a.warehouse), -units)?;
            self.store
                .increment(&keys::reserved(&a.sku, &a.warehouse), -units)?;
            self.store
                .increment(&keys::shipped(&a.sku, &a.warehouse), units)?;
            self.store
                .increment(&keys::alloc_shipped(order, refusals, index), units)?;
            change.on_hand = -units;
            change.shipped = units;
        } else {
            self.store
                .increment(&keys::reserved(&a.sku, &a.warehouse), -units)?;
        }
        Ok(change)
    }

    /// Expires the reservation if its hold ran out and nobody confirmed it first.
    /// Idempotent; safe to race with confirm, commit, release and other sweeps.
    pub fn expire(&self, order: &OrderId, now: DateTime<Utc>) -> StockResult<ExpireOutcome> {
        let reservation = self.reservation_record(order)?;
        if reservation.status == ReserveStatus::OutOfStock {
            return Ok(ExpireOutcome::NothingHeld);
        }
        if now < reservation.expires_at {
            return Ok(ExpireOutcome::NotDue);
        }
        if claim_fate(self.store, &reservation, Fate::Expired)? == Fate::Confirmed {
            return Ok(ExpireOutcome::Confirmed);
        }
        let k = self
            .store
            .increment(&keys::attempt_ops_len(order, reservation.attempt), 1)?;
        let intent = self.begin_at_slot(
            OpKind::Expire,
            &reservation,
            keys::expire_intent(order, reservation.attempt, k),
            0,
            k,
            now,
        )?;
        let mut changes = Vec::new();
        let mut moved = Vec::new();
        let mut released = 0;
        for (index, a) in reservation.allocations.iter().enumerate() {
            let out = keys::alloc_out(order, reservation.attempt, index);
            let got = take_within(self.store, &out, a.quantity, a.quantity)?;
            if got > 0 {
                changes.push(self.move_units(
                    SettleKind::Release,
                    order,
                    reservation.attempt,
                    index,
                    a,
                    got,
                )?);
                moved.push(Moved {
                    index,
                    out: got,
                    shipped: 0,
                });
                released += got;
            }
        }
        let mut writes = Vec::new();
        if !changes.is_empty() {
            let mut skus: Vec<_> = reservation.allocations.iter().map(|a| &a.sku).collect();
            skus.sort();
            skus.dedup();
            let loaded = self.load(&skus, None)?;
            let event = journal::record(
                self.store,
                &loaded.catalog,
                &loaded.items,
                StockEventKind::Expire,
                Some(order),
                None,
                changes,
                now,
            )?;
            if let Some(event) = &event {
                writes.push(journal::event_entry(event)?);
            }
        }
        intent::finish(self.store, writes, intent.done(moved)?)?;
        Ok(ExpireOutcome::Expired { released })
    }

    /// Files a settle's intent as the next operation on its attempt, before any effect.
    fn begin_on_attempt(
        &self,
        kind: OpKind,
        reservation: &Reservation,
        key: String,
        generation: u32,
        now: DateTime<Utc>,
    ) -> StockResult<OpIntent> {
        let k = self.store.increment(
            &keys::attempt_ops_len(&reservation.order, reservation.attempt),
            1,
        )?;
        self.begin_at_slot(kind, reservation, key, generation, k, now)
    }

    /// Files the intent of the `k`-th operation on an attempt. An earlier operation on
    /// it may have died after taking units from the hold: those go back first (or,
    /// when that cannot be done now, this operation gives up with `in_flight` having
    /// done nothing, and a retry takes it over).
    fn begin_at_slot(
        &self,
        kind: OpKind,
        reservation: &Reservation,
        key: String,
        generation: u32,
        k: i64,
        now: DateTime<Utc>,
    ) -> StockResult<OpIntent> {
        let order = &reservation.order;
        let places = reservation
            .allocations
            .iter()
            .map(|a| Place::new(&a.sku, &a.warehouse))
            .collect();
        let mut intent = OpIntent::running(
            kind,
            key,
            Some(order),
            reservation.attempt,
            generation,
            places,
            now,
            self.lease_seconds,
        );
        let slot = (
            keys::attempt_op(order, reservation.attempt, k),
            intent.key.clone().into_bytes(),
        );
        intent::register(self.store, &mut intent, vec![slot])?;
        if k > 1 {
            let repaired = self.repair_attempt(
                order,
                reservation.attempt,
                now,
                Some(&intent.key),
                &mut RepairReport::default(),
            )?;
            if repaired == AttemptRepair::Busy {
                let (key, bytes) = intent.undone()?;
                self.store.set(&key, &bytes)?;
                return Err(StockError::InFlight(order.0.clone()));
            }
        }
        Ok(intent)
    }
}

fn validate_lines(
    order: &OrderId,
    reservation: &Reservation,
    request: &SettleRequest,
) -> StockResult<()> {
    let Some(lines) = &request.lines else {
        return Ok(());
    };
    let mut seen = std::collections::BTreeSet::new();
    for line in lines {
        super::reserve::check_line(&mut seen, line.line_no, line.quantity)?;
        let known = reservation.lines.iter().any(|l| l.line_no == line.line_no);
        if !known {
            return Err(StockError::UnknownLine {
                order: order.0.clone(),
                line_no: line.line_no,
            });
        }
    }
    Ok(())
}
