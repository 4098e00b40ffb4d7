//! Order merging (订单合并): orders of one customer for one address, placed close
//! together, wait in an open group and leave for dispatch as one.
//!
//! - [`rules`]: the rule set as data and [`validate`], which explains every error.
//! - [`decide`]: the pure decision (rules in order, first match decides; then the hard
//!   invariants: same customer, same address), returning an explainable verdict.
//! - [`window`]: the windowed merger over a [`crate::store::KeyValue`] — what the Spin
//!   component calls ([`offer`], [`close_due`]).
//! - [`memory`]: the same semantics in memory, single-threaded (benchmark, simulation).
//! - [`adaptive`]: the per-customer window from merge history.
//!
//! # Concurrency without compare-and-swap
//!
//! The store's only atomic operation is `increment`. Orders of one customer share an
//! *anchor* (a hash of the order's merge identity, [`MemberView::identity`]) with
//! `max_lanes` lanes; each lane holds at most one open group at a time, its *epoch*. Everything that must be decided once is
//! decided by an increment:
//!
//! - **Membership**: an order claims slot `n = increment(slots(group), 1)`. Two
//!   instances offering orders of the same customer at once get different slots of the
//!   *same* group, never two groups: the group is the lane's current epoch, and epochs
//!   only advance when a group is sealed.
//! - **Sealing**: a closer adds `SEAL` (2⁴⁰) to the slot counter. The value it gets
//!   back says how many members were claimed before the seal; any claim that returns a
//!   number above `SEAL` came after it, so that order is not a member and moves on to
//!   the next epoch. Exactly one closer sees a value below `2·SEAL`: it records the
//!   count and advances the lane's epoch hint (a hint only: offers walk past sealed
//!   epochs by reading their counters).
//! - **Evaluation order**: slot order. Each order checks the rules against every
//!   member it can read before and after claiming; a member still being written (claimed,
//!   not stored) cannot be checked, so the closer re-validates the whole group in slot
//!   order at release and lets any member that fails leave as its own group. That is
//!   what makes "never two addresses or two customers in one group" unconditional.
//! - **Idempotency**: an order's placement record (`merge/o/{id}`) is written with its
//!   slot; an offer that finds it returns the first decision. The placement record is
//!   the truth: a closer counts a slot as a member only if the record points back at it,
//!   so a duplicate offer that raced the first lands in exactly one released group.
//! - **No lost orders**: after writing its slot an order *commits* it with
//!   `increment(slot_claim, 1)`; at release the closer adds `2²⁰` to every slot's claim
//!   counter. Whoever comes first decides: writer first → a member (its slot is already
//!   written, so the closer reads it); closer first → not a member, and the writer, seeing
//!   the closer's mark, places the order again (next epoch). A closer first waits a grace
//!   period for slots claimed but not yet written, so this re-placement is rare. An
//!   order whose writer died before committing was never acknowledged: the pipeline
//!   retries it and it is placed afresh.
//! - **One release**: a release-claim counter lets one closer release a sealed group.
//!   If that closer dies, another takes over after twice the grace period and may
//!   deliver the group again — same id, same members (dispatch dedups by group id).
//! - **Windows**: each member indexes its group in a per-minute due bucket (slot
//!   counters again); [`close_due`] scans buckets from its cursor (re-scanning a few
//!   minutes behind it for slow writers) and closes what is due. An order whose promise
//!   cannot wait closes its group inside [`offer`]. A sealed group is never reopened: a
//!   late order lands in the next epoch.
//!
//! Known limits: per-customer statistics for the adaptive window are read-modify-write
//! (last writer wins under a same-customer race: a lost observation, not a lost order).

pub mod adaptive;
pub mod decide;
pub mod delivery;
pub mod handoff;
pub mod memory;
pub mod rules;
pub mod simulate;
pub mod window;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;

pub use decide::{evaluate, MemberView, MergeDecision, MergeOutcome, Verdict};
pub use delivery::{
    decision_of, deliver, group_view, install_limits, install_rules, load_limits, load_rules,
    offer_batch_recorded, offer_recorded, parse_limits, record_decision, Delivered, GroupDelivery,
    GroupView, LimitsError,
};
pub use memory::Merger;
pub use rules::{
    validate, AdaptiveConfig, Condition, MergeRule, RuleAction, RuleError, RuleSet, WindowConfig,
};
pub use window::{
    close_due, erase_member, offer, offer_deferring, parcels_of, released_group_of, Dues, Offered,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MergeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("merge state is corrupt: {0}")]
    Corrupt(String),
}

/// Why a group left for dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseReason {
    WindowClosed,
    /// A member's promise left no time to wait.
    PromiseCannotWait,
    /// An excluded order (pickup, exception, dispatched …): never merged.
    NeverMerges,
    /// Refused by every open group it could join.
    Refused,
}

/// A group handed to split and dispatch. Members keep their offer order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleasedGroup {
    pub group_id: String,
    pub members: Vec<MemberView>,
    pub opened_at: DateTime<Utc>,
    pub released_at: DateTime<Utc>,
    pub reason: ReleaseReason,
}
