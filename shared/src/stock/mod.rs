//! Stock that never oversells: a reservation ledger on key-value `increment` alone.
//!
//! Many component instances (each request a fresh process with no memory) reserve,
//! ship and adjust the same SKUs at once; every bit of coordination goes through the
//! store. The store has no usable compare-and-swap (broken on Spin's Redis backend,
//! unsafe on absent keys on SQLite: see `store.rs`), so the ledger uses only
//! `increment` for anything two callers may touch, and plain get/set for values exactly
//! one caller writes (a reservation record, a journal slot, a stored result).
//!
//! # The counters and why they stay exact
//! Per (SKU, warehouse) three counters: `on_hand`, `reserved`, `shipped`. Every path:
//!
//! - **reserve** adds `q` to `reserved` first, *then* reads `on_hand`, and keeps only
//!   what fits under `on_hand - safety` (value before its own increment counted as
//!   taken), giving the rest back at once (`counters::take`). A caller is answered only
//!   after that; so `reserved` may be transiently above what is granted, but the units
//!   anyone is told "yes" for always fit under on hand. All-or-nothing orders give back
//!   the lines already taken when one line is short.
//! - **commit** takes units from the allocation's `out` counter (bounded by the
//!   allocation, so a unit leaves its hold once), then lowers `on_hand` *before*
//!   `reserved` and raises `shipped`: mid-way, reserve sees less stock and more reserved,
//!   never the reverse.
//! - **release / expire** take units from `out`, then lower `reserved`: only frees stock.
//! - **adjust**: an increase just adds to `on_hand`. A decrease is a reservation
//!   shipped to nowhere: `take` on `reserved` bounded by `on_hand`, then the commit
//!   steps; units promised to orders are held back (reported), never written off.
//!
//! Hence at quiescence `0 <= reserved <= on_hand` (reserved is the sum of granted,
//! not-yet-left units; each grant fit under on hand when made; on hand only drops by
//! commits of reserved units or by checked decreases), the sum of units still held by
//! live reservations equals `reserved`, and `shipped + on_hand = initial + adjustments`.
//! Mid-flight nobody is ever told yes for units beyond on hand minus safety stock.
//!
//! - **batch reserve** (`batch`): the same with the whole batch as one caller: per
//!   (SKU, warehouse) `reserved += demand`, one read of on hand, the units that fit
//!   shared among the batch's orders in memory first come first served (`allocate`),
//!   one give-back of the rest. Per order only its attempt ticket; one intent, one
//!   journal slot range and one final batch of writes for all.
//!
//! # Idempotency and races between transitions
//! - reserve: attempt tickets per order (`reserve::claim_attempt`); a retry of a held
//!   reservation is answered from its record, a refused one may be tried again.
//! - commit/release: a ticket per `(order, kind, op_id)`; the first caller performs it
//!   and stores the result, retries get it back.
//! - batch: each order keeps its own ticket and attempt (a copy of the batch's intent
//!   sits at the attempt, so a retry takes over a dead batch); a paid order is written
//!   confirmed (`Reservation::confirmed`): its fate is settled before anyone can read it.
//! - confirm vs expire: one `fate` counter, +1 for confirm, +2^32 for expire; the value
//!   before your own increment says who was first (`settle::claim_fate`). Commit
//!   confirms first, so an expiry racing a dispatch loses or wins as a whole.
//!
//! # Crashes
//! A process killed mid-operation (kill -9, eviction) leaves a prefix of its store
//! calls done, the last one possibly half known. Every counter-changing operation
//! writes an intent record before its first effect and marks it done in its last batch,
//! with its journal entry (`intent`). After a lease (30 s) a still-running intent is
//! dead: its caller's retry takes the operation over (no `in_flight` forever), and
//! [`ReservationLedger::repair`] (scheduled every minute) undoes it. Undoing is
//! conservative at once (a crash may make stock look less available for a while, never
//! more) and exact at quiescence: allocation counters are recounted from the done
//! operations' intents, and each touched SKU@warehouse from the journal, only when
//! nothing is in flight on it (`repair`).
//!
//! # Known limits
//! A receipt killed after adding its units to on hand leaves them sellable, unjournalled,
//! until its lease runs out and it is undone (they are physically there; a WMS that
//! never retries loses them from the ledger). A recount needs a quiet moment on its
//! SKU@warehouse: under traffic that never pauses for a whole repair run, a dead
//! operation's units stay counted as reserved (refusals, never oversells). A refusal
//! can be spurious while another caller's excess is not yet given back (re-checked a
//! few times before it counts); it is never an oversell. A batch's excess (demand at
//! every warehouse a line may use, units of a refused order) sits in `reserved` between
//! its increment and its give-back, a few store calls, and is not re-checked: a
//! concurrent refusal can be spurious for that long.
//!
//! See `keys` for the key layout, `journal` for the audit log / channel outbox.
//! The claims above are tested at three grains: `tests/model.rs` (random sequences of
//! every operation, invariants after each), `tests/interleave.rs` (concurrent calls
//! under generated schedules of individual store operations, reproducible and shrunk)
//! and `tests/concurrency.rs` (64 real threads, with and without injected delays);
//! crash repair in `tests/crash.rs` (every kill point of one operation, both ways the
//! call in progress may have gone, then repair and retry); batch reserve in
//! `tests/batch.rs` (answers equal to single reserves in order, every kill point,
//! batches racing, round trips counted).

mod adjust;
mod allocate;
mod batch;
mod counters;
mod error;
mod expiry;
mod intent;
mod journal;
pub mod keys;
mod ledger;
mod model;
mod recount;
mod refund;
mod repair;
mod reserve;
mod settle;
mod strategy;
pub mod sync;
mod view;

pub use adjust::{AdjustOutcome, AdjustRequest, Adjustment};
pub use batch::BatchOrder;
pub use error::{StockError, StockResult};
pub use expiry::{bucket_of, SweepReport, BUCKET_SECONDS};
pub use intent::{Moved, OpIntent, OpKind, OpState, Place, DEFAULT_LEASE_SECONDS};
pub use journal::{
    ack_outbox, audit_log, audit_log_of, drain_outbox, sellable_now, ChannelStock, LevelChange,
    OutboxBatch, SellableUpdate, StockEvent, StockEventKind, HOLE_GRACE_SECONDS,
};
pub use ledger::ReservationLedger;
pub use model::{
    Allocation, AllocationView, ChannelPolicy, ChannelShare, Reservation, ReservationState,
    ReservationView, ReserveLine, ReserveRequest, ReserveStatus, Shortage, SkuStock, StockCatalog,
    StockLevel, StrategyKind, Warehouse, WarehouseId, MAX_HOLD_SECONDS, MAX_LINE_UNITS,
    MAX_STOCK_UNITS,
};
pub use refund::refund_release;
pub use repair::{CounterFix, RepairReport, UndoneOp};
pub use reserve::{shortage_exception, ReserveOutcome};
pub use settle::{
    ExpireOutcome, Fate, SettleKind, SettleLine, SettleOutcome, SettleRequest, SettledLine,
};
pub use strategy::{
    builtin, distance_m, Candidate, MostStock, Nearest, PriorityOrder, WarehouseStrategy,
};

#[cfg(test)]
mod tests;
