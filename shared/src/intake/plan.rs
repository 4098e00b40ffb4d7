//! What a drained batch does next, decided here and carried out by the shell.

use std::collections::{BTreeMap, BTreeSet};

use super::contract::{PartialRelease, ReserveDecision, SettleBatch};
use crate::channel::ChannelEvent;
use crate::order::{EventKind, Order, OrderException, OrderId};
use crate::stock::refund_release;

/// The steps after a batch was applied to the order book.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchPlan {
    /// Orders to reserve (then offer to merge), as the book holds them after the whole
    /// batch, each once, in arrival order.
    pub reserve: Vec<Order>,
    /// Terminal orders (cancelled or refunded before they were reserved): nothing more.
    pub settled: Vec<OrderId>,
    pub settle: SettleBatch,
}

/// Each step sees the order as the book holds it after the batch, not a push's own
/// copy: an order whose cancel came in the same batch (or before it) is terminal and
/// is neither reserved nor merged. `book` holds the orders the batch's `Order` events
/// name (absent: not stored, nothing to do).
pub fn plan_batch(events: &[ChannelEvent], book: &BTreeMap<OrderId, Order>) -> BatchPlan {
    let mut plan = BatchPlan::default();
    let mut seen = BTreeSet::new();
    for ev in events {
        match ev {
            ChannelEvent::Order { order } => {
                let Some(stored) = book.get(&order.id) else {
                    continue;
                };
                if !seen.insert(order.id.clone()) {
                    continue;
                }
                if stored.status().is_terminal() {
                    plan.settled.push(order.id.clone());
                } else {
                    plan.reserve.push(stored.clone());
                }
            }
            ChannelEvent::Event {
                order_id, event, ..
            } => match &event.kind {
                EventKind::Cancelled { .. } | EventKind::Refunded { full: true, .. } => {
                    push_once(&mut plan.settle.releases, order_id);
                }
                EventKind::Refunded {
                    full: false, lines, ..
                } => {
                    // The goods a partial refund names, matched to the order's lines; an
                    // order not stored yet has reserved nothing to give back.
                    let release = book
                        .get(order_id)
                        .map(|order| refund_release(order, lines))
                        .unwrap_or_default();
                    let op_id = event.key.clone();
                    let seen = plan
                        .settle
                        .partial
                        .iter()
                        .any(|p| p.op_id == op_id && &p.order_id == order_id);
                    if !release.is_empty() && !seen {
                        plan.settle.partial.push(PartialRelease {
                            order_id: order_id.clone(),
                            op_id,
                            lines: release,
                        });
                    }
                }
                EventKind::Paid | EventKind::Accepted => {
                    push_once(&mut plan.settle.confirms, order_id);
                }
                _ => {}
            },
            ChannelEvent::Notice(_) => {}
        }
    }
    // Reserve confirms a paid order's hold itself; a release wins over a confirm.
    let reserved: BTreeSet<&OrderId> = plan.reserve.iter().map(|o| &o.id).collect();
    let releases: BTreeSet<OrderId> = plan.settle.releases.iter().cloned().collect();
    plan.settle
        .confirms
        .retain(|id| !reserved.contains(id) && !releases.contains(id));
    plan
}

fn push_once(list: &mut Vec<OrderId>, id: &OrderId) {
    if !list.contains(id) {
        list.push(id.clone());
    }
}

/// What follows reserve's decisions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AfterReserve {
    /// Orders to offer to merge, carrying reserve's exception: merge keeps a short
    /// order out of other customers' parcels. Only orders with a decision: an order
    /// without one is never merged or dispatched.
    pub offer: Vec<Order>,
    /// Exceptions to record on orders (shortage, SKU not stocked).
    pub exceptions: Vec<(OrderId, OrderException)>,
    /// Orders reserve did not decide on (left to the catch-up job).
    pub undecided: Vec<OrderId>,
}

pub fn after_reserve(orders: &[Order], decisions: &[ReserveDecision]) -> AfterReserve {
    let by_id: BTreeMap<&OrderId, &ReserveDecision> =
        decisions.iter().map(|d| (&d.order_id, d)).collect();
    let mut out = AfterReserve::default();
    for order in orders {
        let Some(decision) = by_id.get(&order.id).filter(|d| d.verdict.is_decided()) else {
            out.undecided.push(order.id.clone());
            continue;
        };
        let mut order = order.clone();
        if let Some(exc) = decision.verdict.exception() {
            out.exceptions.push((order.id.clone(), exc.clone()));
            if !order.exceptions.iter().any(|e| e.code == exc.code) {
                order.exceptions.push(exc.clone());
            }
        }
        out.offer.push(order);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::ReserveVerdict;
    use crate::merge::fixtures::{address, at, order};
    use crate::order::{EventSource, ExceptionCode, OrderEvent};

    fn event(id: &OrderId, kind: EventKind) -> ChannelEvent {
        ChannelEvent::Event {
            order_id: id.clone(),
            channel_order_id: id.0.clone(),
            event: OrderEvent {
                key: format!("{}-{kind:?}", id.0),
                kind,
                at: at(1),
                source: EventSource::Channel(crate::order::ChannelId::new("meituan")),
            },
        }
    }

    fn book(orders: &[&Order]) -> BTreeMap<OrderId, Order> {
        orders
            .iter()
            .map(|o| (o.id.clone(), (*o).clone()))
            .collect()
    }

    #[test]
    fn an_order_cancelled_in_its_batch_is_not_reserved_and_its_payment_is_not_confirmed_twice() {
        let live = order("meituan", "1", "c1", address("d1", 31.2, 121.5), 0);
        let mut cancelled = order("meituan", "2", "c2", address("d2", 31.2, 121.5), 0);
        let cancel = event(&cancelled.id, EventKind::Cancelled { reason: None });
        if let ChannelEvent::Event { event, .. } = &cancel {
            cancelled.history.push(event.clone());
        }
        let earlier = crate::order::OrderId("meituan-0".into());
        let events = vec![
            ChannelEvent::Order {
                order: Box::new(live.clone()),
            },
            ChannelEvent::Order {
                order: Box::new(live.clone()),
            },
            ChannelEvent::Order {
                order: Box::new(cancelled.clone()),
            },
            cancel,
            event(&live.id, EventKind::Paid),
            event(&earlier, EventKind::Paid),
        ];
        let plan = plan_batch(&events, &book(&[&live, &cancelled]));
        assert_eq!(plan.reserve, vec![live.clone()]);
        assert_eq!(plan.settled, vec![cancelled.id.clone()]);
        assert_eq!(plan.settle.releases, vec![cancelled.id.clone()]);
        assert_eq!(plan.settle.confirms, vec![earlier]);
    }

    #[test]
    fn a_partial_refund_releases_the_goods_it_names_once_per_refund() {
        let o = order("meituan", "p", "c1", address("d1", 31.2, 121.5), 0);
        let absent = crate::order::OrderId("meituan-absent".into());
        let partial = |id: &OrderId, lines: Vec<crate::order::RefundedLine>| {
            event(
                id,
                EventKind::Refunded {
                    amount: rust_decimal::Decimal::ONE,
                    full: false,
                    lines,
                },
            )
        };
        let apple = vec![crate::order::RefundedLine {
            channel_sku: o.lines[0].channel_sku.clone(),
            quantity: 1,
        }];
        let refund = partial(&o.id, apple.clone());
        let events = vec![
            refund.clone(),
            refund.clone(),
            partial(&o.id, Vec::new()),
            partial(&absent, apple),
        ];
        let plan = plan_batch(&events, &book(&[&o]));
        let ChannelEvent::Event { event: ev, .. } = &refund else {
            unreachable!()
        };
        assert_eq!(
            plan.settle.partial,
            vec![PartialRelease {
                order_id: o.id.clone(),
                op_id: ev.key.clone(),
                lines: vec![crate::stock::SettleLine {
                    line_no: 1,
                    quantity: 1
                }],
            }],
            "one release per refund, none for a money-only refund or an order not stored"
        );
        assert!(plan.settle.releases.is_empty() && plan.reserve.is_empty());
    }

    #[test]
    fn only_decided_orders_are_offered_and_a_shortage_travels_with_the_order() {
        let a = order("meituan", "a", "c1", address("d1", 31.2, 121.5), 0);
        let b = order("meituan", "b", "c2", address("d2", 31.2, 121.5), 0);
        let c = order("meituan", "c", "c3", address("d3", 31.2, 121.5), 0);
        let short = OrderException::new(ExceptionCode::OutOfStock, "line 1 short");
        let decisions = vec![
            ReserveDecision {
                order_id: a.id.clone(),
                verdict: ReserveVerdict::Refused {
                    exception: short.clone(),
                },
            },
            ReserveDecision {
                order_id: b.id.clone(),
                verdict: ReserveVerdict::Undecided {
                    code: "in_flight".into(),
                    message: "another attempt".into(),
                },
            },
        ];
        let next = after_reserve(&[a.clone(), b.clone(), c.clone()], &decisions);
        assert_eq!(next.offer.len(), 1);
        assert_eq!(next.offer[0].id, a.id);
        assert_eq!(next.offer[0].exceptions, vec![short.clone()]);
        assert_eq!(next.exceptions, vec![(a.id.clone(), short)]);
        assert_eq!(next.undecided, vec![b.id, c.id]);
    }
}
