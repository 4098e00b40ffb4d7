//! Reserve: all-or-nothing (or partial) holds across ranked warehouses, idempotent per order.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::order::{ExceptionCode, OrderException, SkuId};
use crate::store::KeyValue;

use super::allocate::allocation;
use super::counters::{read, take};
use super::error::{StockError, StockResult};
use super::expiry;
use super::intent::{self, take_over, OpIntent, OpKind, Place, Takeover};
use super::journal::{self, StockEventKind};
use super::keys;
use super::ledger::{to_bytes, Loaded, ReservationLedger};
use super::model::{
    Allocation, ChannelPolicy, Reservation, ReserveLine, ReserveRequest, ReserveStatus, Shortage,
    SkuStock, StockCatalog, WarehouseId, MAX_HOLD_SECONDS, MAX_LINE_UNITS,
};
use super::repair::RepairReport;
use super::strategy::{builtin, Candidate, WarehouseStrategy};

/// What reserve answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReserveOutcome {
    pub reservation: Reservation,
    /// True when this was a retry answered from the stored record (nothing changed; the
    /// request's lines are not compared). Where the units are now: `reservation()`.
    pub replayed: bool,
    /// Set when some line is short: the shell stores it on the order (routed to restock).
    pub exception: Option<OrderException>,
}

impl ReserveOutcome {
    pub fn status(&self) -> ReserveStatus {
        self.reservation.status
    }
    pub fn reserved_units(&self) -> i64 {
        self.reservation
            .allocations
            .iter()
            .map(|a| a.quantity)
            .sum()
    }
}

impl<S: KeyValue> ReservationLedger<'_, S> {
    /// Reserves an order's lines under its channel's configured policy and strategy.
    pub fn reserve(
        &self,
        request: &ReserveRequest,
        now: DateTime<Utc>,
    ) -> StockResult<ReserveOutcome> {
        let loaded = self.validate_and_load(request)?;
        let policy = loaded.catalog.policy(&request.channel);
        self.reserve_loaded(request, loaded, &policy, builtin(policy.strategy), now)
    }

    /// Reserves with an explicit policy and warehouse strategy.
    pub fn reserve_with(
        &self,
        request: &ReserveRequest,
        policy: &ChannelPolicy,
        strategy: &dyn WarehouseStrategy,
        now: DateTime<Utc>,
    ) -> StockResult<ReserveOutcome> {
        let loaded = self.validate_and_load(request)?;
        self.reserve_loaded(request, loaded, policy, strategy, now)
    }

    fn validate_and_load(&self, request: &ReserveRequest) -> StockResult<Loaded> {
        check_lines(request)?;
        let mut skus: Vec<&SkuId> = request.lines.iter().map(|l| &l.sku).collect();
        skus.sort();
        skus.dedup();
        self.load(&skus, Some(&request.order))
    }

    fn reserve_loaded(
        &self,
        request: &ReserveRequest,
        loaded: Loaded,
        policy: &ChannelPolicy,
        strategy: &dyn WarehouseStrategy,
        now: DateTime<Utc>,
    ) -> StockResult<ReserveOutcome> {
        let named = policy.warehouses.iter().flatten();
        if let Some(unknown) = named
            .into_iter()
            .find(|wh| loaded.catalog.warehouse(wh).is_none())
        {
            return Err(StockError::unknown_warehouse(unknown));
        }
        let (refusals, generation) = match self.claim_attempt(request, loaded.prior, now)? {
            Attempt::Proceed {
                refusals,
                generation,
            } => (refusals, generation),
            Attempt::Replay(reservation) => {
                let exception = shortage_exception(&reservation.shortages);
                return Ok(ReserveOutcome {
                    reservation: *reservation,
                    replayed: true,
                    exception,
                });
            }
        };
        let Loaded { catalog, items, .. } = loaded;
        // Before the first unit is taken: what this attempt may touch, so a repair can
        // find it should this process die.
        let places = super::batch::places_of(request, policy, &catalog);
        let mut intent = OpIntent::running(
            OpKind::Reserve,
            keys::op_try(&keys::attempt_base(&request.order, refusals), generation),
            Some(&request.order),
            refusals,
            generation,
            places,
            now,
            self.lease_seconds,
        );
        intent::register(self.store, &mut intent, Vec::new())?;
        let mut allocations = Vec::new();
        let mut shortages = Vec::new();
        for line in &request.lines {
            let item = items
                .get(&line.sku)
                .ok_or_else(|| StockError::unknown_sku(&line.sku))?;
            let taken = self.take_line(line, item, &catalog, policy, strategy, request)?;
            let got: i64 = taken.iter().map(|a| a.quantity).sum();
            if got < line.quantity {
                shortages.push(Shortage {
                    line_no: line.line_no,
                    sku: line.sku.clone(),
                    requested: line.quantity,
                    available: got,
                    short: line.quantity - got,
                });
            }
            allocations.extend(taken);
        }
        if !shortages.is_empty() && generation > 0 && self.any_dirty(&intent.places)? {
            // An earlier runner of this attempt died, and its units may still be
            // counted as reserved until repair recounts them: a shortage now may be
            // only those units. Give back ours (exactly: we know what we took) and
            // let the caller retry once repair has run, rather than refuse the order.
            for a in &allocations {
                self.store
                    .increment(&keys::reserved(&a.sku, &a.warehouse), -a.quantity)?;
            }
            let (key, bytes) = intent.undone()?;
            self.store.set(&key, &bytes)?;
            return Err(StockError::InFlight(request.order.0.clone()));
        }
        let keep = shortages.is_empty() || (policy.accept_partial && !allocations.is_empty());
        if !keep {
            for a in &allocations {
                self.store
                    .increment(&keys::reserved(&a.sku, &a.warehouse), -a.quantity)?;
            }
            allocations.clear();
        }
        let status = match (allocations.is_empty(), shortages.is_empty()) {
            (true, _) => ReserveStatus::OutOfStock,
            (false, true) => ReserveStatus::Reserved,
            (false, false) => ReserveStatus::PartiallyReserved,
        };
        let reservation = Reservation {
            order: request.order.clone(),
            channel: request.channel.clone(),
            status,
            attempt: refusals,
            refusals: refusals + u32::from(status == ReserveStatus::OutOfStock),
            lines: request.lines.clone(),
            allocations,
            shortages,
            created_at: now,
            confirmed: false,
            expires_at: now
                .checked_add_signed(Duration::seconds(
                    policy.hold_seconds.clamp(1, MAX_HOLD_SECONDS),
                ))
                .unwrap_or(now),
        };
        let changes = super::batch::reserved_changes(&reservation.allocations);
        let event = journal::record(
            self.store,
            &catalog,
            &items,
            StockEventKind::Reserve,
            Some(&request.order),
            None,
            changes,
            now,
        )?;
        let mut writes = vec![(keys::reservation(&request.order), to_bytes(&reservation)?)];
        if status != ReserveStatus::OutOfStock {
            writes.push(expiry::register(
                self.store,
                &request.order,
                reservation.expires_at,
            )?);
        }
        if let Some(event) = &event {
            writes.push(journal::event_entry(event)?);
        }
        // The record goes in the same batch as the expiry slot and after the counters:
        // a sweep that finds the slot finds the record. The journal entry and the
        // intent marked done go with it: a repair that finds the intent still running
        // finds no journal entry of it, and the intent goes last, so one that finds it
        // done finds the entry (`intent::finish`).
        intent::finish(self.store, writes, intent.done(Vec::new())?)?;
        let exception = shortage_exception(&reservation.shortages);
        Ok(ReserveOutcome {
            reservation,
            replayed: false,
            exception,
        })
    }

    /// Attempt tickets make reserve idempotent per order without CAS. A caller
    /// proceeds only with ticket `refusals + 1`, `refusals` being the refused attempts
    /// recorded so far; everyone else gives its ticket back. The counter therefore never
    /// drops below a proceeding caller's ticket while it works, no two callers proceed
    /// with one ticket, and ticket k+1 proceeds only once attempt k wrote its refusal.
    /// A held reservation is answered from its record. An attempt whose runner died
    /// (no record one lease after it started) is undone and taken over by the first
    /// caller to claim it (`intent::take_over`).
    fn claim_attempt(
        &self,
        request: &ReserveRequest,
        prior: Option<Reservation>,
        now: DateTime<Utc>,
    ) -> StockResult<Attempt> {
        let claim = keys::claim(&request.order);
        if let Some(prior) = &prior {
            if prior.status != ReserveStatus::OutOfStock {
                return Ok(Attempt::Replay(Box::new(prior.clone())));
            }
        }
        let ticket = self.store.increment(&claim, 1)?;
        self.after_ticket(request, prior, ticket, now)
    }

    /// The rest of [`Self::claim_attempt`] once `ticket` is drawn and `prior` (the
    /// record, read before or after the draw) is known. A batch draws first and reads
    /// the record only when the ticket says an attempt came before (ticket > 1).
    pub(super) fn after_ticket(
        &self,
        request: &ReserveRequest,
        prior: Option<Reservation>,
        ticket: i64,
        now: DateTime<Utc>,
    ) -> StockResult<Attempt> {
        let claim = keys::claim(&request.order);
        if let Some(prior) = &prior {
            if prior.status != ReserveStatus::OutOfStock {
                self.store.increment(&claim, -1)?;
                return Ok(Attempt::Replay(Box::new(prior.clone())));
            }
        }
        let refusals = prior.as_ref().map_or(0, |p| p.refusals);
        if ticket == i64::from(refusals) + 1 {
            return Ok(Attempt::Proceed {
                refusals,
                generation: 0,
            });
        }
        self.store.increment(&claim, -1)?;
        // The attempt in flight may have finished since we loaded `prior`.
        let finished = |done: Option<Reservation>| match done {
            Some(done) if done.status != ReserveStatus::OutOfStock || done.refusals > refusals => {
                Ok(Attempt::Replay(Box::new(done)))
            }
            _ => Err(StockError::InFlight(request.order.0.clone())),
        };
        let record = keys::reservation(&request.order);
        if let Ok(attempt) = finished(self.store.get_json::<Reservation>(&record)?) {
            return Ok(attempt);
        }
        let base = keys::attempt_base(&request.order, refusals);
        match take_over(self.store, &base, now, self.lease_seconds)? {
            Takeover::Run { generation, dead } => {
                if let Some(dead) = dead {
                    self.undo_dead(&dead, now, None, &mut RepairReport::default())?;
                }
                Ok(Attempt::Proceed {
                    refusals,
                    generation,
                })
            }
            Takeover::Finished => finished(self.store.get_json::<Reservation>(&record)?),
            Takeover::InFlight => Err(StockError::InFlight(request.order.0.clone())),
        }
    }

    /// Whether repair still has to recount any of `places` (a dead operation touched
    /// it since the last recount).
    pub(super) fn any_dirty(&self, places: &[Place]) -> StockResult<bool> {
        for place in places {
            let name = place.name();
            let marks = read(self.store, &keys::place_dirty(&name))?;
            let clean: i64 = self.store.get_json(&keys::place_clean(&name))?.unwrap_or(0);
            if marks > clean {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Takes one line's units from the ranked warehouses by increment-then-check.
    fn take_line(
        &self,
        line: &ReserveLine,
        item: &SkuStock,
        catalog: &StockCatalog,
        policy: &ChannelPolicy,
        strategy: &dyn WarehouseStrategy,
        request: &ReserveRequest,
    ) -> StockResult<Vec<Allocation>> {
        let mut candidates = Vec::new();
        for wh in catalog
            .warehouses
            .iter()
            .filter(|w| policy.sells_from(&w.id))
        {
            let available = if strategy.needs_levels() {
                let on_hand = read(self.store, &keys::on_hand(&line.sku, &wh.id))?;
                let reserved = read(self.store, &keys::reserved(&line.sku, &wh.id))?;
                Some((on_hand - reserved - item.safety_at(&wh.id)).max(0))
            } else {
                None
            };
            candidates.push(Candidate {
                warehouse: wh,
                available,
            });
        }
        let ranked = strategy.rank(candidates, request.deliver_to);
        let mut taken = Vec::new();
        let mut remaining = line.quantity;
        // Unsplit lines first look for one warehouse with everything; split lines (and
        // unsplit partial ones, from a single warehouse) then take what each one has.
        if !policy.allow_split {
            for c in &ranked {
                let got = self.take_at(line, item, &c.warehouse.id, remaining, true)?;
                if got > 0 {
                    taken.push(allocation(line, &c.warehouse.id, got));
                    return Ok(taken);
                }
            }
            if !policy.accept_partial {
                return Ok(taken);
            }
        }
        for c in &ranked {
            if remaining == 0 {
                break;
            }
            let got = self.take_at(line, item, &c.warehouse.id, remaining, false)?;
            if got > 0 {
                taken.push(allocation(line, &c.warehouse.id, got));
                remaining -= got;
                if !policy.allow_split {
                    break;
                }
            }
        }
        Ok(taken)
    }

    fn take_at(
        &self,
        line: &ReserveLine,
        item: &SkuStock,
        warehouse: &WarehouseId,
        want: i64,
        all_or_nothing: bool,
    ) -> StockResult<i64> {
        let reserved = keys::reserved(&line.sku, warehouse);
        let on_hand = keys::on_hand(&line.sku, warehouse);
        let safety = item.safety_at(warehouse);
        take(self.store, &reserved, want, all_or_nothing, || {
            Ok(read(self.store, &on_hand)? - safety)
        })
    }
}

pub(super) enum Attempt {
    Proceed { refusals: u32, generation: u32 },
    Replay(Box<Reservation>),
}

/// The checks every reserve makes before touching the store: lines present, quantities
/// in range, line numbers unique.
pub(super) fn check_lines(request: &ReserveRequest) -> StockResult<()> {
    if request.lines.is_empty() {
        return Err(StockError::EmptyOrder);
    }
    let mut seen = BTreeSet::new();
    for line in &request.lines {
        check_line(&mut seen, line.line_no, line.quantity)?;
    }
    Ok(())
}

/// One line of a reserve or a settle: quantity in range, line number not seen before.
pub(super) fn check_line(seen: &mut BTreeSet<u32>, line_no: u32, quantity: i64) -> StockResult<()> {
    if !(1..=MAX_LINE_UNITS).contains(&quantity) {
        return Err(StockError::BadQuantity { line_no, quantity });
    }
    if !seen.insert(line_no) {
        return Err(StockError::DuplicateLine(line_no));
    }
    Ok(())
}

/// The exception a short order carries: which lines, how short.
pub fn shortage_exception(shortages: &[Shortage]) -> Option<OrderException> {
    if shortages.is_empty() {
        return None;
    }
    let detail = shortages
        .iter()
        .map(|s| {
            format!(
                "line {} (SKU `{}`): {} requested, {} available, {} short",
                s.line_no, s.sku.0, s.requested, s.available, s.short
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some(OrderException::new(ExceptionCode::OutOfStock, detail))
}
