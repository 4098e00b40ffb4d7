//! Intake: the inbox between a webhook's acknowledgement and the pipeline.
//!
//! A webhook verifies, normalizes (pure: it needs the answer's order ids and must refuse
//! bad input in the platform's format), passes the gates, and writes the push's events
//! to the inbox with **one batched write** ([`enter`]); then it answers. Acknowledged
//! means durable: everything after the answer can die and be redone.
//!
//! The inbox is cut into ticks of [`TICK_MS`]: a push goes into the tick of its arrival,
//! at the slot an `increment` of the tick's length gave it. The writer of slot 1 drains
//! the tick once it is over ([`drain_due`]): it claims the tick ([`claim`], an
//! `increment` per lease period, so any number of instances or replicas drain
//! concurrently and never the same tick twice at once) and runs the whole tick through
//! the pipeline as one batch. A scheduled sweep ([`sweep`]) is the safety net: it finds
//! ticks whose drainer died, slots written after their tick was drained, and drains them.
//! Every pipeline step is idempotent per order, so a tick drained twice costs work,
//! never correctness. Key layout: [`keys`].
//!
//! Why ticks, not a queue head: a head counter claimed ahead of the tail hands out slots
//! nobody has written yet (and may never write), and per-slot claims cost a write per
//! order. A tick is claimed once, after it is closed, by one `increment`.

mod contract;
mod drain;
mod inbox;
pub mod keys;
mod plan;
mod sweep;

pub use contract::{
    DrainReport, DrainRequest, IntakeStatus, OfferAnswer, OfferBatch, PartialRelease, ReserveBatch,
    ReserveDecision, ReserveVerdict, SettleBatch, SettleReport, TickStatus,
};
pub use drain::{claim, finish, reread_missing, Claimed, DrainMark, TickBatch};
pub use inbox::{drain_due, enter, prepare_batch, tick_of, Entered, InboxItem, TICK_MS};
pub use plan::{after_reserve, plan_batch, AfterReserve, BatchPlan};
pub use sweep::{status, sweep, tick_status, SweepPlan};

/// After this long, a slot allocated but never written belongs to a writer that died
/// before its write: its client got no acknowledgement, so nothing is lost by giving up.
pub const WRITER_LEASE_MS: i64 = 30_000;
/// A tick's drainer holds its claim for this long; then the sweep may claim it again.
pub const DRAIN_LEASE_MS: i64 = 30_000;

/// Test fixture: an empty POS push with dedupe key `key`, entered into `store` at `when`.
#[cfg(test)]
pub(crate) fn enter_test_push(
    store: &crate::store::MemoryStore,
    key: &str,
    when: chrono::DateTime<chrono::Utc>,
) -> Entered {
    use crate::channel::{ChannelConfig, Payload, VerifiedPush};
    use crate::order::ChannelId;
    let cfg = ChannelConfig::builtin("pos").expect("built in");
    let push = VerifiedPush {
        channel: ChannelId("pos".into()),
        path: "/".into(),
        payload: Payload::Json(serde_json::json!({})),
        received_at: when,
        signed_at: None,
        dedupe_key: key.into(),
        replay_key: None,
    };
    let item = InboxItem {
        channel: ChannelId("pos".into()),
        utc_offset_minutes: 0,
        acked_at: when,
        events: Vec::new(),
        skus_unmapped: true,
    };
    enter(store, &cfg, &push, &item, when).expect("entered")
}
