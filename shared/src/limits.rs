//! How much of a request body a component reads before it refuses with 413.
//!
//! Spin (v3.6.3) puts no limit on request bodies: a component that reads the whole body
//! before looking at it can be made to buffer gigabytes. Every component therefore reads
//! its body through the shell's capped reader with one of these ceilings, and the
//! domain's own finer limits (a channel's `max_body_bytes`, a bill chunk's 1 MiB) apply
//! after it.

/// Channel webhooks: the largest default of any channel (POS shift and group-buying
/// batches, 4 MiB). A configured channel cannot raise its own limit above this.
pub const WEBHOOK_BODY_MAX: usize = 4 << 20;

/// Bill uploads: one chunk is at most [`crate::reconcile::MAX_CHUNK_BYTES`]
/// (1 MiB); the ceiling leaves room so a slightly larger chunk still gets the
/// reconcile-specific `chunk_too_large` answer rather than the generic one.
pub const RECONCILE_BODY_MAX: usize = 2 << 20;

/// Everything else: admin configurations, rider reports, job calls, internal hand-overs
/// between components (an order, a batch of parcels, a CVRP instance).
pub const API_BODY_MAX: usize = 1 << 20;

/// Internal routes reached only by local service chaining carry what our own components
/// send (an order as the book holds it, a delivered group's parcels): bounded by the
/// webhook ceiling they came from, with room for what normalize adds to it.
pub const INTERNAL_BODY_MAX: usize = 2 * WEBHOOK_BODY_MAX;

// An internal call carries what a webhook brought and more.
const _: () = assert!(INTERNAL_BODY_MAX > WEBHOOK_BODY_MAX);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_hold_what_the_domain_limits_allow() {
        assert!(RECONCILE_BODY_MAX as u64 > crate::reconcile::MAX_CHUNK_BYTES);
    }
}
