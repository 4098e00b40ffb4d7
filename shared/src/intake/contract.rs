//! The typed contracts between the components the batch pipeline chains: each side
//! (de)serializes these types, never ad-hoc JSON.
//!
//! - ingest → `POST http://normalize.spin.internal/drain`: [`DrainRequest`] →
//!   [`DrainReport`].
//! - normalize → `POST http://reserve.spin.internal/reserve-batch`: [`ReserveBatch`] →
//!   `Vec<`[`ReserveDecision`]`>`, one per order, in order.
//! - normalize → `POST http://reserve.spin.internal/settle-batch`: [`SettleBatch`] →
//!   [`SettleReport`].
//! - normalize → `POST http://merge.spin.internal/offer-batch`: [`OfferBatch`] →
//!   `Vec<`[`OfferAnswer`]`>`.
//! - `GET /jobs/pipeline/intake` → [`IntakeStatus`]; `?tick=` → [`TickStatus`].

use serde::{Deserialize, Serialize};

use crate::merge::MergeDecision;
use crate::order::{Order, OrderException, OrderId};
use crate::stock::SettleLine;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainRequest {
    pub tick: i64,
}

/// What one drain call did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainReport {
    pub tick: i64,
    /// Another drainer holds the tick, or it is not over yet: nothing done.
    pub skipped: Option<String>,
    /// Inbox items run through the pipeline.
    pub items: usize,
    /// Orders sent to reserve / offered to merge.
    pub reserved: usize,
    pub offered: usize,
    /// Slots allocated but not written yet (left for the sweep).
    pub missing: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReserveBatch {
    pub orders: Vec<Order>,
}

/// Reserve's decision for one order of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveDecision {
    pub order_id: OrderId,
    pub verdict: ReserveVerdict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReserveVerdict {
    /// Every unit held (or part of them: `exception` says which lines are short).
    Held {
        units: i64,
        exception: Option<OrderException>,
    },
    /// Nothing could be held: short of stock, or a SKU the ledger does not stock.
    Refused { exception: OrderException },
    /// A line normalize could not map to our SKU: already an exception on the order,
    /// nothing to hold, nothing to retry.
    Unmapped,
    /// No decision (a store error, another attempt in flight): the order is not offered
    /// to merge; the catch-up job forwards it again.
    Undecided { code: String, message: String },
}

impl ReserveVerdict {
    pub fn is_decided(&self) -> bool {
        !matches!(self, ReserveVerdict::Undecided { .. })
    }
    pub fn exception(&self) -> Option<&OrderException> {
        match self {
            ReserveVerdict::Held { exception, .. } => exception.as_ref(),
            ReserveVerdict::Refused { exception } => Some(exception),
            _ => None,
        }
    }
}

/// Cancels and full refunds give their holds back; partial refunds give back the units
/// of the goods they name; payments and acceptances confirm holds (a confirmed hold
/// never expires).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleBatch {
    pub releases: Vec<OrderId>,
    #[serde(default)]
    pub partial: Vec<PartialRelease>,
    pub confirms: Vec<OrderId>,
}

impl SettleBatch {
    pub fn is_empty(&self) -> bool {
        self.releases.is_empty() && self.partial.is_empty() && self.confirms.is_empty()
    }
}

/// One partial refund's release: `op_id` is the refund event's key, so a redelivered
/// refund is the same operation and releases nothing twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialRelease {
    pub order_id: OrderId,
    pub op_id: String,
    pub lines: Vec<SettleLine>,
}

/// What a settle batch did; errors name the order (an order that never reserved is not
/// one: nothing to release).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettleReport {
    pub released: usize,
    pub confirmed: usize,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfferBatch {
    pub orders: Vec<Order>,
    /// Orders the book saw for the first time in this batch (`book::apply_batch`'s
    /// `first_seen`): never offered before, so merge skips looking up a placement.
    #[serde(default)]
    pub never_offered: Vec<OrderId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferAnswer {
    pub order_id: OrderId,
    /// `None`: merge could not decide now (the catch-up job offers it again).
    pub decision: Option<MergeDecision>,
    pub error: Option<String>,
}

/// The intake's backlog: pushes acknowledged but not yet through the pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeStatus {
    pub acknowledged: u64,
    pub drained: u64,
    pub backlog: u64,
    pub oldest_waiting_ms: Option<u64>,
}

/// One tick: slots allocated and drained so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickStatus {
    pub tick: i64,
    pub allocated: i64,
    pub drained: i64,
}
