//! Status history: the ground truth of an order's state.
//!
//! Events are appended, never edited. They may arrive out of order (a cancel before
//! the create, Meituan status 8 before 4), so the current status is *derived*: a
//! terminal event (cancelled, fully refunded) wins over any progress, and otherwise the
//! furthest progress seen wins, whatever order the events came in.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::ChannelId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum EventSource {
    Channel(ChannelId),
    /// An orderhub component ("merge", "dispatch", …).
    Component(String),
    Operator(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    Created,
    Paid,
    /// The merchant (or the platform on its behalf) accepted the order.
    Accepted,
    Merged {
        group_id: String,
    },
    Reserved,
    Dispatched {
        rider_id: String,
        parcel_id: String,
    },
    PickedUp,
    Delivered,
    Completed,
    Cancelled {
        reason: Option<String>,
    },
    RefundRequested {
        reason: Option<String>,
    },
    /// `full` when the whole order was refunded; a partial refund keeps the order alive.
    /// `lines`: the goods a partial refund gives back, when the platform names them
    /// (their held units go back to stock; a money-only refund names none).
    Refunded {
        amount: Decimal,
        full: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        lines: Vec<RefundedLine>,
    },
    /// A channel status orderhub records but does not act on (kept verbatim).
    ChannelStatus {
        code: String,
    },
    Exception {
        code: super::ExceptionCode,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// Identity of the event for de-duplication: the same push redelivered has the same
    /// key, so one distinct event yields one history entry.
    pub key: String,
    #[serde(flatten)]
    pub kind: EventKind,
    /// When it happened at the source (UTC).
    pub at: DateTime<Utc>,
    pub source: EventSource,
}

/// Units of one of the order's goods a partial refund gives back, by the channel's SKU
/// code as the order carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundedLine {
    pub channel_sku: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Only non-progress events so far (e.g. a status push before the order itself).
    Unknown,
    Created,
    Paid,
    Accepted,
    Merged,
    Reserved,
    Dispatched,
    PickedUp,
    Delivered,
    Completed,
    Cancelled,
    Refunded,
}

impl OrderStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, OrderStatus::Cancelled | OrderStatus::Refunded)
    }

    /// The customer has paid (or the channel has committed to the sale): a stock hold
    /// for it is confirmed and must not expire.
    pub fn is_paid(self) -> bool {
        !matches!(
            self,
            OrderStatus::Unknown
                | OrderStatus::Created
                | OrderStatus::Cancelled
                | OrderStatus::Refunded
        )
    }
}

fn progress(kind: &EventKind) -> Option<OrderStatus> {
    Some(match kind {
        EventKind::Created => OrderStatus::Created,
        EventKind::Paid => OrderStatus::Paid,
        EventKind::Accepted => OrderStatus::Accepted,
        EventKind::Merged { .. } => OrderStatus::Merged,
        EventKind::Reserved => OrderStatus::Reserved,
        EventKind::Dispatched { .. } => OrderStatus::Dispatched,
        EventKind::PickedUp => OrderStatus::PickedUp,
        EventKind::Delivered => OrderStatus::Delivered,
        EventKind::Completed => OrderStatus::Completed,
        EventKind::Cancelled { .. } => OrderStatus::Cancelled,
        EventKind::Refunded { full: true, .. } => OrderStatus::Refunded,
        EventKind::Refunded { full: false, .. }
        | EventKind::RefundRequested { .. }
        | EventKind::ChannelStatus { .. }
        | EventKind::Exception { .. } => return None,
    })
}

/// The current status, independent of the order the events arrived in.
pub fn derive_status(history: &[OrderEvent]) -> OrderStatus {
    let mut best = OrderStatus::Unknown;
    for status in history.iter().filter_map(|e| progress(&e.kind)) {
        best = match (best.is_terminal(), status.is_terminal()) {
            (true, false) => best,
            (false, true) => status,
            _ => best.max(status),
        };
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ev(kind: EventKind) -> OrderEvent {
        OrderEvent {
            key: format!("{kind:?}"),
            kind,
            at: DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap(),
            source: EventSource::Channel(ChannelId::new("meituan")),
        }
    }

    #[test]
    fn cancel_before_create_stays_cancelled() {
        let h = vec![
            ev(EventKind::Cancelled { reason: None }),
            ev(EventKind::Created),
            ev(EventKind::Accepted),
        ];
        assert_eq!(derive_status(&h), OrderStatus::Cancelled);
    }

    #[test]
    fn completed_before_accepted_is_completed() {
        let h = vec![
            ev(EventKind::Created),
            ev(EventKind::Completed),
            ev(EventKind::Accepted),
        ];
        assert_eq!(derive_status(&h), OrderStatus::Completed);
    }

    #[test]
    fn partial_refund_does_not_end_the_order() {
        let h = vec![
            ev(EventKind::Created),
            ev(EventKind::Refunded {
                amount: Decimal::ONE,
                full: false,
                lines: Vec::new(),
            }),
        ];
        assert_eq!(derive_status(&h), OrderStatus::Created);
        assert_eq!(derive_status(&[]), OrderStatus::Unknown);
    }

    proptest! {
        #[test]
        fn status_is_independent_of_arrival_order(perm in Just(vec![
            EventKind::Created, EventKind::Paid, EventKind::Accepted, EventKind::Delivered,
            EventKind::ChannelStatus { code: "2".into() },
        ]).prop_shuffle(), cancel in any::<bool>()) {
            let mut h: Vec<OrderEvent> = perm.into_iter().map(ev).collect();
            let sorted = { let mut s = h.clone(); s.sort_by_key(|e| e.key.clone()); s };
            if cancel { h.push(ev(EventKind::Cancelled { reason: None })); }
            let expected = if cancel { OrderStatus::Cancelled } else { OrderStatus::Delivered };
            prop_assert_eq!(derive_status(&h), expected);
            if !cancel { prop_assert_eq!(derive_status(&sorted), expected); }
        }
    }
}
