//! What happens to a released group: each member's history says `Merged`, the members'
//! lines are split into parcels, and the result is kept (one record per group id) for
//! dispatch and for operators. Also the configuration the merge component stores: the
//! rule set and the parcel limits, with their defaults when none is stored.
//!
//! A group may be released twice (a closer's takeover, see [`super::window`]); the
//! delivery record is claimed with an increment so the second delivery returns the
//! first record instead of splitting again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::window::{offer_deferring, Dues};
use super::{
    validate, MergeDecision, MergeError, MergeOutcome, Offered, ReleasedGroup, RuleError, RuleSet,
};
use crate::order::{
    book, EventKind, EventSource, ExceptionCode, Order, OrderEvent, OrderException, OrderId,
};
use crate::split::{split_group, ParcelLimits, SplitError, SplitItem, SplitPlan};
use crate::store::KeyValue;

const K_RULES: &str = "merge/config/rules";
const K_LIMITS: &str = "merge/config/parcel-limits";

pub(super) fn k_delivery(group_id: &str) -> String {
    format!("merge/delivery/{group_id}")
}
fn k_delivery_claim(group_id: &str) -> String {
    format!("merge/delivery-claim/{group_id}")
}
fn k_decision(id: &OrderId) -> String {
    format!("merge/decision/{id}")
}

/// A released group with its parcels: what dispatch picks up and operators read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupDelivery {
    pub group: ReleasedGroup,
    /// `None` when some line fits no parcel (see `split_errors`).
    pub plan: Option<SplitPlan>,
    /// Why the split failed, one message per line that fits no parcel.
    pub split_errors: Vec<String>,
    /// Members whose order is not in the order book (never expected; kept visible).
    pub missing_orders: Vec<OrderId>,
    pub delivered_at: DateTime<Utc>,
}

/// The delivery and whether this call made it (`false`: a repeated release).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivered {
    pub delivery: GroupDelivery,
    pub first: bool,
    /// The members as this call saw them (with their `Merged` event), for the handoff
    /// to reuse instead of reading them again; empty for a repeated release.
    #[serde(skip)]
    pub members: Vec<Order>,
}

/// A group as an operator sees it: the delivery and each member's merge decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupView {
    #[serde(flatten)]
    pub delivery: GroupDelivery,
    pub decisions: Vec<MergeDecision>,
}

/// Record the `Merged` events, split and keep the result. Idempotent per group id.
/// `in_hand`: members the caller holds as the book has them (the orders of the offer
/// batch that released the group): they are not read back.
pub fn deliver(
    merge: &impl KeyValue,
    orders: &impl KeyValue,
    limits: &ParcelLimits,
    group: &ReleasedGroup,
    in_hand: &[Order],
    now: DateTime<Utc>,
) -> Result<Delivered, MergeError> {
    let key = k_delivery(&group.group_id);
    if let Some(existing) = merge.get_json::<GroupDelivery>(&key)? {
        return Ok(Delivered {
            delivery: existing,
            first: false,
            members: Vec::new(),
        });
    }
    // Two deliveries racing both get here; both write the same events (keyed, so
    // recorded once) and compute the same split; the claim only decides who reports
    // `first`.
    let first = merge.increment(&k_delivery_claim(&group.group_id), 1)? == 1;
    // The `Merged` events without a read each (a repeat folds away); members in hand
    // get the event folded in, the others are read back in one batch.
    let event = OrderEvent {
        key: format!("merge:{}", group.group_id),
        kind: EventKind::Merged {
            group_id: group.group_id.clone(),
        },
        at: group.released_at,
        source: EventSource::Component("merge".into()),
    };
    let ids: Vec<OrderId> = group.members.iter().map(|m| m.order_id.clone()).collect();
    let merged: Vec<(OrderId, OrderEvent)> =
        ids.iter().map(|id| (id.clone(), event.clone())).collect();
    book::append_events(orders, &merged)?;
    let in_hand: Vec<Order> = in_hand
        .iter()
        .filter(|o| ids.contains(&o.id))
        .map(|o| book::with_event(o.clone(), &event))
        .collect();
    let loaded = book::orders_with(orders, &ids, &in_hand)?;
    let missing_orders: Vec<OrderId> = ids
        .into_iter()
        .filter(|id| !loaded.iter().any(|o| &o.id == id))
        .collect();
    let (plan, split_errors) =
        match split_group(&group.group_id, &SplitItem::of_orders(&loaded), limits) {
            Ok(p) => (Some(p), Vec::new()),
            Err(errors) => {
                // Nothing of the group can leave: each order with a line that fits no
                // parcel goes to customer service with that line named.
                for e in &errors {
                    if let SplitError::TooBig { order_id, .. } = e {
                        let exception =
                            OrderException::new(ExceptionCode::ParcelTooLarge, e.to_string());
                        book::record_exception(
                            orders,
                            order_id,
                            &exception,
                            now,
                            EventSource::Component("merge".into()),
                        )?;
                    }
                }
                (None, errors.iter().map(SplitError::to_string).collect())
            }
        };
    let delivery = GroupDelivery {
        group: group.clone(),
        plan,
        split_errors,
        missing_orders,
        delivered_at: now,
    };
    // Queued before it is stored: whatever is stored as delivered reaches dispatch.
    super::handoff::queue(merge, &group.group_id)?;
    merge.set_json(&key, &delivery)?;
    Ok(Delivered {
        delivery,
        first,
        members: loaded,
    })
}

/// Offer an order and keep its decision. A repeated offer (a redelivered push) still
/// goes through [`offer`] (it repairs a placement interrupted by a crash) but answers
/// the decision first recorded, so the caller sees the same rule and reason each time.
///
/// Round trips beyond [`offer`]: none for a new placement (its decision goes into the
/// batch's one write, [`offer_batch_recorded`]); one `get` (plus its share of that
/// write when none was kept) for a repeat. A new placement means [`offer`] found no
/// placement record, and a decision is only ever kept after its placement record is
/// written (placement records are never removed), so there is no earlier decision to
/// look for: only a duplicate offer running at the same moment could have kept one.
pub fn offer_recorded(
    merge: &impl KeyValue,
    rules: &RuleSet,
    order: &Order,
    now: DateTime<Utc>,
) -> Result<Offered, MergeError> {
    offer_batch_recorded(merge, rules, std::slice::from_ref(order), &[], now)?
        .pop()
        .unwrap_or_else(|| Err(MergeError::Corrupt("a batch of one gave no answer".into())))
}

/// [`offer_recorded`] for a batch of orders, in order: the groups they open or join go
/// on the due index together and the decisions are kept in one batch write, so a batch
/// costs a few round trips more than its placements. One answer per order; an error
/// on one order does not stop the others. `never_offered`: orders the caller knows were
/// never offered (see [`offer_deferring`]).
pub fn offer_batch_recorded(
    merge: &impl KeyValue,
    rules: &RuleSet,
    orders: &[Order],
    never_offered: &[OrderId],
    now: DateTime<Utc>,
) -> Result<Vec<Result<Offered, MergeError>>, MergeError> {
    let mut dues = Dues::default();
    let mut answers = Vec::with_capacity(orders.len());
    let mut decisions = Vec::new();
    for order in orders {
        let fresh = never_offered.contains(&order.id);
        let answer =
            offer_deferring(merge, rules, order, now, &mut dues, fresh).and_then(|mut offered| {
                if matches!(offered.decision.outcome, MergeOutcome::AlreadyPlaced { .. }) {
                    if let Some(first) = decision_of(merge, &order.id)? {
                        if first.outcome.group_id() == offered.decision.outcome.group_id() {
                            offered.decision = first;
                        }
                        return Ok(offered);
                    }
                }
                decisions.push((
                    k_decision(&order.id),
                    serde_json::to_vec(&offered.decision)
                        .map_err(|e| MergeError::Corrupt(e.to_string()))?,
                ));
                Ok(offered)
            });
        answers.push(answer);
    }
    dues.index(merge, now)?;
    if !decisions.is_empty() {
        merge.set_many(&decisions)?;
    }
    Ok(answers)
}

/// Keep an order's merge decision for the group view (the first one stands).
pub fn record_decision(merge: &impl KeyValue, decision: &MergeDecision) -> Result<(), MergeError> {
    let key = k_decision(&decision.order_id);
    if !merge.exists(&key)? {
        merge.set_json(&key, decision)?;
    }
    Ok(())
}

/// The decision recorded for an order, if it was offered.
pub fn decision_of(
    merge: &impl KeyValue,
    id: &OrderId,
) -> Result<Option<MergeDecision>, MergeError> {
    Ok(merge.get_json(&k_decision(id))?)
}

/// A delivered group with its members' decisions; `None` before delivery.
pub fn group_view(merge: &impl KeyValue, group_id: &str) -> Result<Option<GroupView>, MergeError> {
    let Some(delivery) = merge.get_json::<GroupDelivery>(&k_delivery(group_id))? else {
        return Ok(None);
    };
    let mut decisions = Vec::new();
    for m in &delivery.group.members {
        if let Some(d) = merge.get_json::<MergeDecision>(&k_decision(&m.order_id))? {
            decisions.push(d);
        }
    }
    Ok(Some(GroupView {
        delivery,
        decisions,
    }))
}

/// The stored rule set, or the default. A stored set was validated when installed; it
/// is validated again here so a hand-edited store cannot bypass the checks.
pub fn load_rules(merge: &impl KeyValue) -> Result<RuleSet, MergeError> {
    match merge.get(K_RULES)? {
        None => Ok(RuleSet::default()),
        Some(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            validate(&text).map_err(|errs| {
                let all: Vec<String> = errs.iter().map(ToString::to_string).collect();
                MergeError::Corrupt(format!("stored rule set: {}", all.join("; ")))
            })
        }
    }
}

/// Validate and install a rule set; returns it parsed, or every error.
pub fn install_rules(
    merge: &impl KeyValue,
    json: &str,
) -> Result<Result<RuleSet, Vec<RuleError>>, MergeError> {
    match validate(json) {
        Ok(rules) => {
            merge.set(K_RULES, json.as_bytes())?;
            Ok(Ok(rules))
        }
        Err(errors) => Ok(Err(errors)),
    }
}

/// Why parcel limits were refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsError {
    pub message: String,
}

/// Parse parcel limits; zero limits are refused (nothing could be packed).
pub fn parse_limits(json: &str) -> Result<ParcelLimits, LimitsError> {
    let limits: ParcelLimits = serde_json::from_str(json).map_err(|e| LimitsError {
        message: e.to_string(),
    })?;
    if limits.max_weight_g == 0 || limits.max_volume_cm3 == 0 {
        return Err(LimitsError {
            message: "max_weight_g and max_volume_cm3 must be positive".into(),
        });
    }
    Ok(limits)
}

pub fn load_limits(merge: &impl KeyValue) -> Result<ParcelLimits, MergeError> {
    match merge.get(K_LIMITS)? {
        None => Ok(ParcelLimits::default()),
        Some(bytes) => parse_limits(&String::from_utf8_lossy(&bytes))
            .map_err(|e| MergeError::Corrupt(format!("stored parcel limits: {}", e.message))),
    }
}

pub fn install_limits(merge: &impl KeyValue, limits: &ParcelLimits) -> Result<(), MergeError> {
    merge.set_json(K_LIMITS, limits)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::fixtures::{at, home, order};
    use crate::merge::{close_due, offer};
    use crate::order::book;
    use crate::store::MemoryStore;

    fn store_order(orders: &MemoryStore, o: &crate::order::Order) {
        let ev = crate::channel::ChannelEvent::Order {
            order: Box::new(o.clone()),
        };
        book::apply(orders, &[ev]).unwrap();
    }

    #[test]
    fn a_batch_of_offers_decides_as_one_by_one_and_indexes_its_groups() {
        let rules = RuleSet::default();
        let orders = vec![
            order("app", "A", "c1", home(), 0),
            order("meituan", "B", "c1", home(), 1),
            order(
                "app",
                "C",
                "c2",
                crate::merge::fixtures::address("上海市徐汇区漕溪北路1号", 31.19, 121.43),
                2,
            ),
        ];
        let (batched, single) = (MemoryStore::new(), MemoryStore::new());
        // New to the book, so never offered: no placement lookups.
        let fresh: Vec<OrderId> = orders.iter().map(|o| o.id.clone()).collect();
        let answers = offer_batch_recorded(&batched, &rules, &orders, &fresh, at(0)).unwrap();
        let decisions: Vec<MergeDecision> =
            answers.into_iter().map(|a| a.unwrap().decision).collect();
        let one_by_one: Vec<MergeDecision> = orders
            .iter()
            .map(|o| offer_recorded(&single, &rules, o, at(0)).unwrap().decision)
            .collect();
        assert_eq!(decisions, one_by_one);
        for o in &orders {
            assert_eq!(
                decision_of(&batched, &o.id).unwrap(),
                decision_of(&single, &o.id).unwrap()
            );
        }
        // Offered again: the first decisions stand.
        let again = offer_batch_recorded(&batched, &rules, &orders, &[], at(1)).unwrap();
        for (a, first) in again.into_iter().zip(&decisions) {
            assert_eq!(&a.unwrap().decision, first);
        }
        // Both groups are on the due index: the closer releases them.
        let mut released: Vec<_> = close_due(&batched, &rules, at(200))
            .unwrap()
            .into_iter()
            .map(|g| g.members.len())
            .collect();
        released.sort();
        assert_eq!(released, vec![1, 2]);
    }

    #[test]
    fn members_in_hand_give_the_same_delivery_and_members_as_reading_them_back() {
        let rules = RuleSet::default();
        let a = order("app", "A", "c1", home(), 0);
        let b = order("meituan", "B", "c1", home(), 3);
        let run = |in_hand: &[Order]| {
            let (merge, orders) = (MemoryStore::new(), MemoryStore::new());
            for o in [&a, &b] {
                store_order(&orders, o);
                let offered = offer(&merge, &rules, o, at(0)).unwrap();
                record_decision(&merge, &offered.decision).unwrap();
            }
            let released = close_due(&merge, &rules, at(200)).unwrap();
            let d = deliver(
                &merge,
                &orders,
                &ParcelLimits::default(),
                &released[0],
                in_hand,
                at(200),
            )
            .unwrap();
            let ids = [a.id.clone(), b.id.clone()];
            (d, book::get_orders(&orders, &ids).unwrap())
        };
        let (read_back, _) = run(&[]);
        // One member in hand (as an offer batch holds it), one read.
        let (half, stored) = run(std::slice::from_ref(&b));
        assert_eq!(half.delivery, read_back.delivery);
        assert_eq!(half.members, read_back.members);
        assert_eq!(
            half.members, stored,
            "in hand + Merged = what the book folds"
        );
        let (both, _) = run(&[a.clone(), b.clone()]);
        assert_eq!(both.members, read_back.members);
    }

    #[test]
    fn a_released_group_is_delivered_once_with_merged_history_and_parcels() {
        let (merge, orders) = (MemoryStore::new(), MemoryStore::new());
        let rules = RuleSet::default();
        let a = order("app", "A", "c1", home(), 0);
        let b = order("meituan", "B", "c1", home(), 3);
        for o in [&a, &b] {
            store_order(&orders, o);
            let offered = offer(&merge, &rules, o, at(0)).unwrap();
            record_decision(&merge, &offered.decision).unwrap();
        }
        let released = close_due(&merge, &rules, at(200)).unwrap();
        assert_eq!(released.len(), 1);
        let g = &released[0];
        let d = deliver(&merge, &orders, &ParcelLimits::default(), g, &[], at(200)).unwrap();
        assert!(d.first);
        let plan = d.delivery.plan.clone().unwrap();
        let served: std::collections::BTreeSet<_> =
            plan.parcels.iter().flat_map(|p| p.orders.clone()).collect();
        assert_eq!(served.len(), 2);
        // What erasure hands to dispatch: each order's own parcels.
        for o in [&a, &b] {
            let own: Vec<String> = plan
                .parcels
                .iter()
                .filter(|p| p.orders.contains(&o.id))
                .map(|p| p.parcel_id.clone())
                .collect();
            assert!(!own.is_empty());
            assert_eq!(crate::merge::parcels_of(&merge, &o.id).unwrap(), own);
        }
        for o in [&a, &b] {
            let h = book::history(&orders, &o.id).unwrap();
            let merged = h
                .iter()
                .filter(|e| matches!(&e.kind, EventKind::Merged { group_id } if *group_id == g.group_id))
                .count();
            assert_eq!(merged, 1);
        }
        // A second release of the same group: same record, no second Merged event.
        let again = deliver(&merge, &orders, &ParcelLimits::default(), g, &[], at(201)).unwrap();
        assert!(!again.first);
        assert_eq!(again.delivery, d.delivery);
        let h = book::history(&orders, &a.id).unwrap();
        assert_eq!(
            h.iter()
                .filter(|e| matches!(e.kind, EventKind::Merged { .. }))
                .count(),
            1
        );
        let view = group_view(&merge, &g.group_id).unwrap().unwrap();
        assert_eq!(view.decisions.len(), 2);
        let first = decision_of(&merge, &a.id).unwrap().unwrap();
        assert_eq!(first.outcome.group_id(), g.group_id);
        assert!(view
            .decisions
            .iter()
            .any(|d| matches!(d.outcome, MergeOutcome::Joined { .. })));
    }

    #[test]
    fn a_repeated_offer_answers_the_first_decision() {
        let merge = MemoryStore::new();
        let rules = RuleSet::default();
        let a = order("app", "A", "c1", home(), 0);
        let b = order("meituan", "B", "c1", home(), 3);
        offer_recorded(&merge, &rules, &a, at(0)).unwrap();
        let first = offer_recorded(&merge, &rules, &b, at(3)).unwrap().decision;
        assert!(matches!(first.outcome, MergeOutcome::Joined { .. }));
        let again = offer_recorded(&merge, &rules, &b, at(4)).unwrap().decision;
        assert_eq!(again, first);
        assert_eq!(decision_of(&merge, &b.id).unwrap(), Some(first));
    }

    #[test]
    fn a_line_too_big_for_any_parcel_is_reported_not_packed() {
        let (merge, orders) = (MemoryStore::new(), MemoryStore::new());
        let rules = RuleSet::default();
        let a = order("app", "A", "c1", home(), 0);
        store_order(&orders, &a);
        offer(&merge, &rules, &a, at(0)).unwrap();
        let g = close_due(&merge, &rules, at(200)).unwrap().remove(0);
        let tiny = ParcelLimits {
            max_weight_g: 1,
            ..ParcelLimits::default()
        };
        let d = deliver(&merge, &orders, &tiny, &g, &[], at(200)).unwrap();
        assert!(d.delivery.plan.is_none());
        assert!(!d.delivery.split_errors.is_empty());
    }

    #[test]
    fn configuration_defaults_then_installs_validated() {
        let merge = MemoryStore::new();
        assert_eq!(load_rules(&merge).unwrap(), RuleSet::default());
        assert_eq!(load_limits(&merge).unwrap(), ParcelLimits::default());
        let bad = install_rules(&merge, r#"{"window": {"default_minutes": -1}, "x": 1}"#).unwrap();
        assert!(bad.unwrap_err().len() >= 2);
        assert_eq!(load_rules(&merge).unwrap(), RuleSet::default());
        let mut good = serde_json::to_value(RuleSet::default()).unwrap();
        good["window"]["default_minutes"] = 1.into();
        good["window"]["min_minutes"] = 0.into();
        let set = install_rules(&merge, &good.to_string()).unwrap().unwrap();
        assert_eq!(set.window.default_minutes, 1);
        assert_eq!(load_rules(&merge).unwrap(), set);
        assert!(parse_limits(r#"{"max_weight_g": 0, "max_volume_cm3": 5}"#).is_err());
        let l = parse_limits(r#"{"max_weight_g": 5000, "max_volume_cm3": 9000}"#).unwrap();
        install_limits(&merge, &l).unwrap();
        assert_eq!(load_limits(&merge).unwrap(), l);
    }
}
