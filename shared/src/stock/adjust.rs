//! On-hand changes from outside: WMS receipts and write-offs, stocktakes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::order::SkuId;
use crate::store::KeyValue;

use super::counters::{read, take};
use super::error::{StockError, StockResult};
use super::intent::{self, take_over, OpIntent, OpKind, Place, Takeover};
use super::journal::{self, LevelChange, StockEventKind};
use super::keys;
use super::ledger::{to_bytes, ReservationLedger};
use super::model::{StockLevel, WarehouseId, MAX_STOCK_UNITS};
use super::repair::RepairReport;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Adjustment {
    /// Stocktake: on hand is now this many.
    Set(i64),
    /// Receipt (+) or write-off (−).
    Delta(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustRequest {
    pub sku: SkuId,
    pub warehouse: WarehouseId,
    pub change: Adjustment,
    pub reason: String,
    /// WMS document id: a retry of the same line (reference, SKU, warehouse) is
    /// answered, not re-applied; other lines of the document apply on their own.
    #[serde(default)]
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustOutcome {
    pub sku: SkuId,
    pub warehouse: WarehouseId,
    /// What the request asked to add (for `Set`, relative to on hand when read).
    pub requested: i64,
    /// What was added to on hand.
    pub applied: i64,
    /// Units of a decrease refused because they are reserved: release orders first.
    pub held_back: i64,
    pub level: StockLevel,
    pub replayed: bool,
    /// The audit journal entry of this change (`GET /admin/stock/audit?from=`); `None`
    /// when it moved nothing.
    #[serde(default)]
    pub seq: Option<i64>,
}

impl<S: KeyValue> ReservationLedger<'_, S> {
    /// Changes on hand and journals it. On hand never goes below reserved: a decrease
    /// goes through the reserve primitive (increment `reserved`, then check against on
    /// hand) and then leaves like a commit (on hand, then reserved), so it inherits
    /// both proofs; units that are promised to orders are held back, not written off.
    pub fn adjust(
        &self,
        request: &AdjustRequest,
        now: DateTime<Utc>,
    ) -> StockResult<AdjustOutcome> {
        match request.change {
            Adjustment::Set(target) if target < 0 => return Err(StockError::NegativeStock(target)),
            Adjustment::Delta(0) => return Err(StockError::ZeroAdjustment),
            Adjustment::Set(units) | Adjustment::Delta(units) if units.abs() > MAX_STOCK_UNITS => {
                return Err(StockError::TooManyUnits(units))
            }
            _ => {}
        }
        let loaded = self.load(&[&request.sku], None)?;
        if loaded.catalog.warehouse(&request.warehouse).is_none() {
            return Err(StockError::unknown_warehouse(&request.warehouse));
        }
        let (result_key, intent_key, generation) = match &request.reference {
            Some(reference) => {
                let ticket = keys::adjust_ticket(reference, &request.sku, &request.warehouse);
                let result_key = keys::adjust_result(reference, &request.sku, &request.warehouse);
                let replay = |first: Option<AdjustOutcome>| match first {
                    Some(first) => Ok(AdjustOutcome {
                        replayed: true,
                        ..first
                    }),
                    None => Err(StockError::InFlight(reference.clone())),
                };
                let generation = if self.store.increment(&ticket, 1)? > 1 {
                    if let Some(first) = self.store.get_json::<AdjustOutcome>(&result_key)? {
                        return replay(Some(first));
                    }
                    match take_over(self.store, &ticket, now, self.lease_seconds)? {
                        Takeover::Run { generation, dead } => {
                            if let Some(dead) = dead {
                                self.undo_dead(&dead, now, None, &mut RepairReport::default())?;
                            }
                            generation
                        }
                        Takeover::Finished => return replay(self.store.get_json(&result_key)?),
                        Takeover::InFlight => return Err(StockError::InFlight(reference.clone())),
                    }
                } else {
                    0
                };
                (
                    Some(result_key),
                    keys::op_try(&ticket, generation),
                    generation,
                )
            }
            // No name to retry by: the intent is named after its index slot.
            None => (None, String::new(), 0),
        };
        let on_hand_key = keys::on_hand(&request.sku, &request.warehouse);
        let reserved_key = keys::reserved(&request.sku, &request.warehouse);
        // `Set` becomes a delta from what we read: a commit racing a stocktake still
        // counts, and the journal holds the delta actually applied.
        let requested = match request.change {
            Adjustment::Set(target) => target - read(self.store, &on_hand_key)?,
            Adjustment::Delta(delta) => delta,
        };
        let mut intent = OpIntent::running(
            OpKind::Adjust,
            intent_key,
            None,
            0,
            generation,
            vec![Place::new(&request.sku, &request.warehouse)],
            now,
            self.lease_seconds,
        );
        intent.on_hand_added = requested.max(0);
        intent::register(self.store, &mut intent, Vec::new())?;
        let applied = if requested >= 0 {
            self.store.increment(&on_hand_key, requested)?;
            requested
        } else {
            // A write-off is a reservation shipped to nowhere: take the units as
            // reserved (bounded by on hand, safety stock included), then remove them
            // like a commit does, on hand first.
            let units = take(self.store, &reserved_key, -requested, false, || {
                read(self.store, &on_hand_key)
            })?;
            if units > 0 {
                self.store.increment(&on_hand_key, -units)?;
                self.store.increment(&reserved_key, -units)?;
            }
            -units
        };
        let held_back = applied - requested;
        let item = loaded
            .items
            .get(&request.sku)
            .ok_or_else(|| StockError::unknown_sku(&request.sku))?;
        let change = LevelChange {
            sku: request.sku.clone(),
            warehouse: request.warehouse.clone(),
            on_hand: applied,
            reserved: 0,
            shipped: 0,
        };
        let reference = match &request.reference {
            Some(reference) => format!("{} [{reference}]", request.reason),
            None => request.reason.clone(),
        };
        let event = journal::record(
            self.store,
            &loaded.catalog,
            &loaded.items,
            StockEventKind::Adjust,
            None,
            Some(&reference),
            vec![change],
            now,
        )?;
        let level = StockLevel {
            on_hand: read(self.store, &on_hand_key)?,
            reserved: read(self.store, &reserved_key)?,
            shipped: read(self.store, &keys::shipped(&request.sku, &request.warehouse))?,
            safety: item.safety_at(&request.warehouse),
        };
        let outcome = AdjustOutcome {
            sku: request.sku.clone(),
            warehouse: request.warehouse.clone(),
            requested,
            applied,
            held_back,
            level,
            replayed: false,
            seq: event.as_ref().map(|e| e.seq),
        };
        let mut writes = Vec::new();
        if let Some(key) = result_key {
            writes.push((key, to_bytes(&outcome)?));
        }
        if let Some(event) = &event {
            writes.push(journal::event_entry(event)?);
        }
        intent::finish(self.store, writes, intent.done(Vec::new())?)?;
        Ok(outcome)
    }
}
