//! Batch reserve: many orders in one pass, the counters touched once per SKU@warehouse.
//!
//! A single reserve costs a dozen store calls or more (its own catalog load, intent,
//! increment-then-check per line and warehouse, journal slot, expiry slot, confirm). A
//! batch pays per order only its attempt ticket (and a record read when the ticket says
//! an attempt came before), and per place of the whole batch three calls:
//!
//! 1. `reserved += D`, D the batch's demand there (every line that may draw from it);
//! 2. a read of `on_hand` (after the journal slots are claimed, see below);
//! 3. `reserved -= D - used`, the units no order was given (its answer is also the
//!    fresh `reserved` the journal's sellable figures need).
//!
//! # Why it stays exact
//! It is `counters::take` with the batch as one caller: the value before our increment
//! is everything granted to earlier callers plus their not-yet-returned excess, so the
//! batch may use `clamp(on_hand - safety - before, 0, D)` units, read after its own
//! increment; those units fit under on hand whoever races (never an oversell). They
//! are then shared among the batch's orders in memory (`allocate`), first come first
//! served, under each channel's rules exactly as single reserves one after another
//! would have been against that bound; what is left goes back in one increment.
//! The batch's excess (demand at a warehouse a line did not end up using, units of a
//! refused order) sits in `reserved` only between steps 1 and 3: like any caller's
//! excess it can make a concurrent caller's refusal spurious, never an oversell.
//!
//! # Crashes and idempotency
//! One intent for the batch (places = union) is filed in the intent index before the
//! first counter moves, so `repair` finds a dead batch and undoes it as a whole like a
//! dead single reserve. Each order's attempt gets a copy of it at its own
//! `{attempt base}:try:{g}` (in the same write), so a retry of one order of a dead batch
//! takes its attempt over (`intent::take_over`) exactly as from a dead single reserve.
//! The last write holds every record, the journal entries, the expiry slots, and the
//! batch intent and its copies marked done: nothing of a batch is visible half done.
//! A paid order's record is written confirmed (`Reservation::confirmed`): nobody can
//! have raced on its fate before the record existed, so no `fate` counter is touched
//! and it is never filed for expiry.
//!
//! # Journal
//! One increment claims a slot per order (an order refused gets an entry without
//! changes, so no slot stays a hole). The slots are claimed after step 1 and before
//! steps 2 and 3: every change of ours that makes stock *less* available precedes the
//! claim and the reads follow it, so the sellable figures carried by the last entry
//! (version = its slot) reflect every change journalled before it. Our give-back
//! happens after the claim; an entry with a later slot that read before it shows less
//! stock than there is (conservative) until the next change of that SKU.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::order::{OrderId, SkuId};
use crate::store::KeyValue;

use super::allocate::{allocate, put_back, Granted, Pools, Wanted};
use super::counters::read;
use super::error::{StockError, StockResult};
use super::expiry::bucket_of;
use super::intent::{self, OpIntent, OpKind, Place};
use super::journal::{self, LevelChange, SellableUpdate, StockEvent, StockEventKind};
use super::keys;
use super::ledger::{decode, to_bytes, ReservationLedger};
use super::model::{
    Allocation, ChannelPolicy, Reservation, ReserveRequest, ReserveStatus, SkuStock, StockCatalog,
    MAX_HOLD_SECONDS,
};
use super::reserve::{check_lines, shortage_exception, Attempt, ReserveOutcome};
use super::settle::{claim_fate, Fate};
use super::strategy::{builtin, Candidate, WarehouseStrategy};

/// One order of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchOrder {
    pub request: ReserveRequest,
    /// Paid or accepted: the hold must not expire. A fresh reservation is written
    /// confirmed; a replayed one is confirmed as by [`ReservationLedger::confirm`].
    #[serde(default)]
    pub confirm: bool,
}

/// An order that drew its attempt ticket and runs in this batch.
struct Runner<'a> {
    index: usize,
    request: &'a ReserveRequest,
    confirm: bool,
    refusals: u32,
    generation: u32,
    policy: ChannelPolicy,
    strategy: &'static dyn WarehouseStrategy,
    /// Every place this order may draw from.
    places: Vec<Place>,
}

type Answers = Vec<Option<StockResult<ReserveOutcome>>>;

impl<S: KeyValue> ReservationLedger<'_, S> {
    /// Reserves a batch of orders under their channels' policies, in order (first come
    /// first served). One answer per order, in order: exactly what [`Self::reserve`]
    /// would answer (an order already decided is replayed from its record), except that
    /// a store failure fails every order not yet decided (retry them). An order listed
    /// twice is decided once; its second answer is the first's, as a replay.
    pub fn reserve_batch(
        &self,
        orders: &[BatchOrder],
        now: DateTime<Utc>,
    ) -> Vec<StockResult<ReserveOutcome>> {
        let mut answers: Answers = vec![None; orders.len()];
        let mut first_of: BTreeMap<&OrderId, usize> = BTreeMap::new();
        let mut repeats = Vec::new();
        let mut fresh = Vec::new();
        for (i, order) in orders.iter().enumerate() {
            match first_of.get(&order.request.order) {
                Some(&first) => repeats.push((i, first)),
                None => {
                    first_of.insert(&order.request.order, i);
                    match check_lines(&order.request) {
                        Ok(()) => fresh.push(i),
                        Err(e) => answers[i] = Some(Err(e)),
                    }
                }
            }
        }
        if let Err(e) = self.run_batch(orders, &fresh, now, &mut answers) {
            for answer in answers.iter_mut().filter(|a| a.is_none()) {
                *answer = Some(Err(e.clone()));
            }
        }
        for (i, first) in repeats {
            answers[i] = answers[first].clone().map(|a| {
                a.map(|outcome| ReserveOutcome {
                    replayed: true,
                    ..outcome
                })
            });
        }
        answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(StockError::InFlight(String::new()))))
            .collect()
    }

    fn run_batch(
        &self,
        orders: &[BatchOrder],
        fresh: &[usize],
        now: DateTime<Utc>,
        answers: &mut Answers,
    ) -> StockResult<()> {
        if fresh.is_empty() {
            return Ok(());
        }
        let mut skus: Vec<&SkuId> = fresh
            .iter()
            .flat_map(|&i| orders[i].request.lines.iter().map(|l| &l.sku))
            .collect();
        skus.sort();
        skus.dedup();
        let (catalog, items) = self.load_batch(&skus)?;
        let mut ready = Vec::new();
        for &i in fresh {
            let request = &orders[i].request;
            if let Some(line) = request.lines.iter().find(|l| !items.contains_key(&l.sku)) {
                answers[i] = Some(Err(StockError::unknown_sku(&line.sku)));
                continue;
            }
            let policy = catalog.policy(&request.channel);
            let named = policy.warehouses.iter().flatten();
            if let Some(wh) = named.into_iter().find(|w| catalog.warehouse(w).is_none()) {
                answers[i] = Some(Err(StockError::unknown_warehouse(wh)));
                continue;
            }
            ready.push((i, policy));
        }
        let runners = self.claim_batch(orders, ready, &catalog, now, answers)?;
        if runners.is_empty() {
            return Ok(());
        }
        self.hold_batch(&runners, &catalog, &items, now, answers)
    }

    /// The catalog and every SKU of the batch in one read; a SKU not defined is absent.
    fn load_batch(
        &self,
        skus: &[&SkuId],
    ) -> StockResult<(StockCatalog, BTreeMap<SkuId, SkuStock>)> {
        let mut wanted = vec![keys::CATALOG.to_string()];
        wanted.extend(skus.iter().map(|sku| keys::sku(sku)));
        let values = self.store.get_many(&wanted)?;
        let at = |i: usize| (wanted[i].as_str(), values.get(i).and_then(Option::as_ref));
        let catalog: StockCatalog = decode(at(0))?.unwrap_or_default();
        let mut items = BTreeMap::new();
        for (i, sku) in skus.iter().enumerate() {
            if let Some(item) = decode::<SkuStock>(at(i + 1))? {
                items.insert((*sku).clone(), item);
            }
        }
        Ok((catalog, items))
    }

    /// Draws every order's attempt ticket; reads the records of those whose ticket says
    /// an attempt came before (one `get_many`), and settles them as a single reserve
    /// would (`reserve::after_ticket`: replay, take over a dead attempt, or in flight).
    fn claim_batch<'a>(
        &self,
        orders: &'a [BatchOrder],
        ready: Vec<(usize, ChannelPolicy)>,
        catalog: &StockCatalog,
        now: DateTime<Utc>,
        answers: &mut Answers,
    ) -> StockResult<Vec<Runner<'a>>> {
        let mut tickets = Vec::with_capacity(ready.len());
        for (i, _) in &ready {
            let claim = keys::claim(&orders[*i].request.order);
            tickets.push(self.store.increment(&claim, 1)?);
        }
        // Ticket 1: the counter was 0, so no attempt ever proceeded and there is no
        // record (a proceeding caller never gives its ticket back).
        let again: Vec<String> = ready
            .iter()
            .zip(&tickets)
            .filter(|(_, &t)| t != 1)
            .map(|((i, _), _)| keys::reservation(&orders[*i].request.order))
            .collect();
        let mut records = if again.is_empty() {
            Vec::new()
        } else {
            self.store.get_many(&again)?
        }
        .into_iter();
        let mut runners = Vec::new();
        for ((i, policy), ticket) in ready.into_iter().zip(tickets) {
            let order = &orders[i];
            let attempt = if ticket == 1 {
                Ok(Attempt::Proceed {
                    refusals: 0,
                    generation: 0,
                })
            } else {
                let key = keys::reservation(&order.request.order);
                let bytes = records.next().flatten();
                match decode::<Reservation>((&key, bytes.as_ref())) {
                    Ok(prior) => self.after_ticket(&order.request, prior, ticket, now),
                    // An unreadable record: a store fault, and the ticket is not ours.
                    Err(e) => self
                        .store
                        .increment(&keys::claim(&order.request.order), -1)
                        .map_err(StockError::from)
                        .and(Err(e)),
                }
            };
            match attempt {
                Ok(Attempt::Proceed {
                    refusals,
                    generation,
                }) => runners.push(Runner {
                    index: i,
                    request: &order.request,
                    confirm: order.confirm,
                    refusals,
                    generation,
                    strategy: builtin(policy.strategy),
                    places: places_of(&order.request, &policy, catalog),
                    policy,
                }),
                Ok(Attempt::Replay(reservation)) => {
                    answers[i] = Some(self.replay(*reservation, order.confirm));
                }
                Err(e) => answers[i] = Some(Err(e)),
            }
        }
        Ok(runners)
    }

    /// An order decided before: its record, confirmed now if it is paid.
    fn replay(&self, reservation: Reservation, confirm: bool) -> StockResult<ReserveOutcome> {
        let held = reservation.allocations.iter().any(|a| a.quantity > 0);
        if confirm && held && !reservation.confirmed {
            // Who won does not change the answer: an expired hold shows in its view.
            claim_fate(self.store, &reservation, Fate::Confirmed)?;
        }
        let exception = shortage_exception(&reservation.shortages);
        Ok(ReserveOutcome {
            reservation,
            replayed: true,
            exception,
        })
    }

    /// Everything after the tickets: intent, counters, allocation, one last write.
    fn hold_batch(
        &self,
        runners: &[Runner<'_>],
        catalog: &StockCatalog,
        items: &BTreeMap<SkuId, SkuStock>,
        now: DateTime<Utc>,
        answers: &mut Answers,
    ) -> StockResult<()> {
        let runners: Vec<&Runner<'_>> = runners.iter().collect();
        let union: BTreeSet<Place> = runners.iter().flat_map(|r| r.places.clone()).collect();
        let (intent, copies) = self.register_batch(&runners, &union, now)?;
        let ranked = self.rank(&runners, catalog, items, &union)?;
        // Step 1: the batch's demand per place, added to `reserved`.
        let mut demand: BTreeMap<Place, i64> = BTreeMap::new();
        for (r, lines) in runners.iter().zip(&ranked) {
            for (line, warehouses) in r.request.lines.iter().zip(lines) {
                for wh in warehouses {
                    *demand.entry(Place::new(&line.sku, wh)).or_insert(0) += line.quantity;
                }
            }
        }
        let mut before = BTreeMap::new();
        for (place, &d) in &demand {
            let after = self
                .store
                .increment(&keys::reserved(&place.sku, &place.warehouse), d)?;
            before.insert(place.clone(), after - d);
        }
        // The journal slots: after every change that makes stock less available,
        // before the reads (see the module doc).
        let count = i64::try_from(runners.len()).unwrap_or(i64::MAX);
        let last_seq = self.store.increment(keys::LOG_LEN, count)?;
        // Step 2: what fits under on hand minus safety stock is the batch's to share.
        let mut on_hand = BTreeMap::new();
        let mut pools: Pools = BTreeMap::new();
        for (place, &d) in &demand {
            let oh = read(self.store, &keys::on_hand(&place.sku, &place.warehouse))?;
            let safety = items
                .get(&place.sku)
                .map_or(0, |item| item.safety_at(&place.warehouse));
            pools.insert(place.clone(), (oh - safety - before[place]).clamp(0, d));
            on_hand.insert(place.clone(), oh);
        }
        let granted_pools = pools.clone();
        let wanted: Vec<Wanted<'_>> = runners
            .iter()
            .zip(ranked)
            .map(|(r, ranked)| Wanted {
                request: r.request,
                policy: &r.policy,
                ranked,
            })
            .collect();
        let mut granted = allocate(&wanted, &mut pools);
        // A takeover whose predecessor's units may still count as reserved until the
        // recount: a shortage may be only those units. Like a single reserve, it gives
        // its units back and answers in flight rather than record a refusal.
        let mut dropped = vec![false; runners.len()];
        for (k, r) in runners.iter().enumerate() {
            if r.generation > 0 && !granted[k].shortages.is_empty() && self.any_dirty(&r.places)? {
                put_back(&granted[k], &mut pools);
                granted[k] = Granted::default();
                dropped[k] = true;
            }
        }
        // Step 3: give back what nobody was given; the answer is `reserved` now.
        let mut reserved_now = BTreeMap::new();
        for (place, &d) in &demand {
            let used = granted_pools[place] - pools[place];
            let now_reserved = self
                .store
                .increment(&keys::reserved(&place.sku, &place.warehouse), -(d - used))?;
            reserved_now.insert(place.clone(), now_reserved);
        }
        let levels = (&on_hand, &reserved_now);
        let sellable = self.sellable_after(catalog, items, &granted, levels, last_seq)?;
        let mut writes = Vec::new();
        let mut records = Vec::new();
        let mut to_expire: BTreeMap<i64, Vec<OrderId>> = BTreeMap::new();
        let first_seq = last_seq - count + 1;
        for (k, (r, g)) in runners.iter().zip(granted).enumerate() {
            let seq = first_seq + i64::try_from(k).unwrap_or(0);
            let changes = changes_of(&g);
            let last = k + 1 == runners.len();
            let event = StockEvent {
                seq,
                at: now,
                kind: StockEventKind::Reserve,
                order: Some(r.request.order.clone()),
                reference: None,
                changes,
                sellable: if last { sellable.clone() } else { Vec::new() },
            };
            writes.push(journal::event_entry(&event)?);
            if dropped[k] {
                writes.push(copies[k].undone()?);
                answers[r.index] = Some(Err(StockError::InFlight(r.request.order.0.clone())));
                continue;
            }
            let reservation = record_of(r, g, now);
            if reservation.status != ReserveStatus::OutOfStock && !reservation.confirmed {
                to_expire
                    .entry(bucket_of(reservation.expires_at))
                    .or_default()
                    .push(r.request.order.clone());
            }
            writes.push((keys::reservation(&r.request.order), to_bytes(&reservation)?));
            writes.push(copies[k].done(Vec::new())?);
            records.push((r.index, reservation));
        }
        // One slot range per expiry minute (a channel's hold decides the minute).
        for (bucket, due) in to_expire {
            let n = i64::try_from(due.len()).unwrap_or(i64::MAX);
            let last = self.store.increment(&keys::expiry_len(bucket), n)?;
            for (slot, order) in (last - n + 1..).zip(due) {
                writes.push((keys::expiry_slot(bucket, slot), order.0.into_bytes()));
            }
        }
        intent::finish(self.store, writes, intent.done(Vec::new())?)?;
        for (i, reservation) in records {
            let exception = shortage_exception(&reservation.shortages);
            answers[i] = Some(Ok(ReserveOutcome {
                reservation,
                replayed: false,
                exception,
            }));
        }
        Ok(())
    }

    /// Files the batch's intent (places = union) and, in the same write, a copy at each
    /// order's attempt so its retry can take over a dead batch. Two store calls.
    fn register_batch(
        &self,
        runners: &[&Runner<'_>],
        union: &BTreeSet<Place>,
        now: DateTime<Utc>,
    ) -> StockResult<(OpIntent, Vec<OpIntent>)> {
        let copies: Vec<OpIntent> = runners
            .iter()
            .map(|r| {
                OpIntent::running(
                    OpKind::Reserve,
                    keys::op_try(
                        &keys::attempt_base(&r.request.order, r.refusals),
                        r.generation,
                    ),
                    Some(&r.request.order),
                    r.refusals,
                    r.generation,
                    r.places.clone(),
                    now,
                    self.lease_seconds,
                )
            })
            .collect();
        let mut extra = Vec::with_capacity(copies.len());
        for copy in &copies {
            extra.push((copy.key.clone(), to_bytes(copy)?));
        }
        // No key: the index slot names it (`stock:ops:{minute}:{slot}:op`).
        let mut batch = OpIntent::running(
            OpKind::Reserve,
            String::new(),
            None,
            0,
            0,
            union.iter().cloned().collect(),
            now,
            self.lease_seconds,
        );
        intent::register(self.store, &mut batch, extra)?;
        Ok((batch, copies))
    }

    /// Per order, per line, the warehouses to try in order. Strategies that rank by
    /// stock read each place's levels once for the whole batch.
    fn rank(
        &self,
        runners: &[&Runner<'_>],
        catalog: &StockCatalog,
        items: &BTreeMap<SkuId, SkuStock>,
        union: &BTreeSet<Place>,
    ) -> StockResult<Vec<Vec<Vec<super::model::WarehouseId>>>> {
        let mut free: BTreeMap<&Place, i64> = BTreeMap::new();
        if runners.iter().any(|r| r.strategy.needs_levels()) {
            for place in union {
                let on_hand = read(self.store, &keys::on_hand(&place.sku, &place.warehouse))?;
                let reserved = read(self.store, &keys::reserved(&place.sku, &place.warehouse))?;
                let safety = items
                    .get(&place.sku)
                    .map_or(0, |item| item.safety_at(&place.warehouse));
                free.insert(place, (on_hand - reserved - safety).max(0));
            }
        }
        Ok(runners
            .iter()
            .map(|r| {
                r.request
                    .lines
                    .iter()
                    .map(|line| {
                        let candidates = catalog
                            .warehouses
                            .iter()
                            .filter(|w| r.policy.sells_from(&w.id))
                            .map(|w| Candidate {
                                warehouse: w,
                                available: r
                                    .strategy
                                    .needs_levels()
                                    .then(|| free.get(&Place::new(&line.sku, &w.id)).copied())
                                    .flatten(),
                            })
                            .collect();
                        r.strategy
                            .rank(candidates, r.request.deliver_to)
                            .into_iter()
                            .map(|c| c.warehouse.id.clone())
                            .collect()
                    })
                    .collect()
            })
            .collect())
    }

    /// Sellable figures of every SKU the batch holds units of, from the counters read
    /// after the journal slots were claimed (other warehouses of the SKU read now).
    fn sellable_after(
        &self,
        catalog: &StockCatalog,
        items: &BTreeMap<SkuId, SkuStock>,
        granted: &[Granted],
        (on_hand, reserved): (&BTreeMap<Place, i64>, &BTreeMap<Place, i64>),
        version: i64,
    ) -> StockResult<Vec<SellableUpdate>> {
        if catalog.channels.is_empty() {
            return Ok(Vec::new());
        }
        let touched: BTreeSet<&SkuId> = granted
            .iter()
            .flat_map(|g| g.allocations.iter().map(|a| &a.sku))
            .collect();
        let mut updates = Vec::new();
        for sku in touched {
            let Some(item) = items.get(sku) else { continue };
            let mut levels = Vec::with_capacity(catalog.warehouses.len());
            for wh in &catalog.warehouses {
                let place = Place::new(sku, &wh.id);
                let known = on_hand.get(&place).zip(reserved.get(&place));
                levels.push(match known {
                    Some((&oh, &rs)) => (oh, rs),
                    None => (
                        read(self.store, &keys::on_hand(sku, &wh.id))?,
                        read(self.store, &keys::reserved(sku, &wh.id))?,
                    ),
                });
            }
            updates.push(SellableUpdate {
                sku: sku.clone(),
                version,
                channels: journal::sellable_of(catalog, item, &levels),
            });
        }
        Ok(updates)
    }
}

/// Every SKU@warehouse an order may draw from.
pub(super) fn places_of(
    request: &ReserveRequest,
    policy: &ChannelPolicy,
    catalog: &StockCatalog,
) -> Vec<Place> {
    let places: BTreeSet<Place> = request
        .lines
        .iter()
        .flat_map(|line| {
            catalog
                .warehouses
                .iter()
                .filter(|w| policy.sells_from(&w.id))
                .map(|w| Place::new(&line.sku, &w.id))
        })
        .collect();
    places.into_iter().collect()
}

fn changes_of(granted: &Granted) -> Vec<LevelChange> {
    reserved_changes(&granted.allocations)
}

/// The journal's level changes of a reservation's allocations.
pub(super) fn reserved_changes(allocations: &[Allocation]) -> Vec<LevelChange> {
    allocations
        .iter()
        .map(|a| LevelChange {
            sku: a.sku.clone(),
            warehouse: a.warehouse.clone(),
            on_hand: 0,
            reserved: a.quantity,
            shipped: 0,
        })
        .collect()
}

fn record_of(r: &Runner<'_>, g: Granted, now: DateTime<Utc>) -> Reservation {
    let status = match (g.allocations.is_empty(), g.shortages.is_empty()) {
        (true, _) => ReserveStatus::OutOfStock,
        (false, true) => ReserveStatus::Reserved,
        (false, false) => ReserveStatus::PartiallyReserved,
    };
    Reservation {
        order: r.request.order.clone(),
        channel: r.request.channel.clone(),
        status,
        attempt: r.refusals,
        refusals: r.refusals + u32::from(status == ReserveStatus::OutOfStock),
        lines: r.request.lines.clone(),
        confirmed: r.confirm && status != ReserveStatus::OutOfStock,
        allocations: g.allocations,
        shortages: g.shortages,
        created_at: now,
        expires_at: now
            .checked_add_signed(Duration::seconds(
                r.policy.hold_seconds.clamp(1, MAX_HOLD_SECONDS),
            ))
            .unwrap_or(now),
    }
}
