//! The pure decision: may this order join that open group? Rules first (ordered, first
//! match decides), then the hard invariants, which no rule set can switch off.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::rules::{Condition, RuleAction, RuleSet, HARD_MAX_METRES};
use crate::order::{
    ChannelId, ExceptionCode, GeoPoint, Order, OrderId, OrderStatus, TemperatureZone,
};

/// `customer_key` of an erased member (the same as an erased order's).
pub const ERASED_KEY: &str = "erased";

/// What the merger keeps of an order: enough to evaluate every condition against it
/// later, small enough to store in a group's membership slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberView {
    pub order_id: OrderId,
    pub channel: ChannelId,
    pub customer_key: String,
    /// Who the order is for, as merge tells customers apart: the phone's mask
    /// (`phone~138****1234`, the same for a real number and the platform's privacy
    /// number of it) when there is a phone, else `customer_key`. Empty in views stored
    /// before it existed: [`MemberView::identity`] falls back to `customer_key`.
    #[serde(default)]
    pub identity: String,
    /// The real phone number, when the channel sent one: two different real numbers
    /// are two customers, whatever their masks.
    #[serde(default)]
    pub phone: Option<String>,
    /// `None` for orders without a delivery address (pickup, in-store, missing).
    pub merge_key: Option<String>,
    pub location: Option<GeoPoint>,
    pub store_id: Option<String>,
    pub placed_at: DateTime<Utc>,
    pub promised_asap: bool,
    pub promised_start: Option<DateTime<Utc>>,
    pub promised_end: Option<DateTime<Utc>>,
    pub zones: Vec<TemperatureZone>,
    pub exceptions: Vec<ExceptionCode>,
    pub pickup: bool,
    pub dispatched: bool,
    /// Cancelled or fully refunded before it was merged.
    #[serde(default)]
    pub cancelled: bool,
    /// Grouping zone for priors (district, else store).
    pub area: Option<String>,
}

impl MemberView {
    /// The view with the personal data of a finished order erased (see
    /// `access::erasure`): the customer key, the real phone, the address key and the
    /// coordinates go; the phone's mask (`identity`), the district and the rest stay.
    pub fn erased(&self) -> Self {
        let masked = |identity: &str| identity.starts_with("phone~");
        Self {
            customer_key: ERASED_KEY.into(),
            identity: if masked(&self.identity) {
                self.identity.clone()
            } else {
                ERASED_KEY.into()
            },
            phone: None,
            merge_key: None,
            location: None,
            ..self.clone()
        }
    }

    pub fn of(order: &Order) -> Self {
        let address = order.delivery_address();
        let mut zones: Vec<TemperatureZone> = order.lines.iter().map(|l| l.zone).collect();
        zones.sort();
        zones.dedup();
        let status = order.status();
        Self {
            order_id: order.id.clone(),
            channel: order.channel.clone(),
            customer_key: order.customer.customer_key.clone(),
            identity: order
                .customer
                .phone
                .as_ref()
                .and_then(|p| crate::channel::customer::phone_mask(&p.number))
                .map(|m| format!("phone~{m}"))
                .unwrap_or_else(|| order.customer.customer_key.clone()),
            phone: order
                .customer
                .phone
                .as_ref()
                .filter(|p| !p.is_privacy)
                .map(|p| p.number.clone()),
            merge_key: address
                .map(|a| a.merge_key.clone())
                .filter(|k| !k.is_empty()),
            location: address.and_then(|a| a.location),
            store_id: order.store_id.clone(),
            placed_at: order.placed_at,
            promised_asap: order.promised.asap,
            promised_start: order.promised.start,
            promised_end: order.promised.end,
            zones,
            exceptions: order.exceptions.iter().map(|e| e.code).collect(),
            pickup: !matches!(order.fulfilment, crate::order::Fulfilment::Delivery { .. }),
            dispatched: status >= OrderStatus::Dispatched && !status.is_terminal(),
            cancelled: status.is_terminal(),
            area: address
                .and_then(|a| a.district.clone())
                .or_else(|| order.store_id.clone()),
        }
    }

    /// Who the order is for, as merge tells customers apart (see the field).
    pub fn identity(&self) -> &str {
        if self.identity.is_empty() {
            &self.customer_key
        } else {
            &self.identity
        }
    }

    /// Same customer: the same identity, and not two different real phone numbers.
    pub fn same_customer(&self, other: &MemberView) -> bool {
        let different_phones = matches!((&self.phone, &other.phone), (Some(a), Some(b)) if a != b);
        self.identity() == other.identity() && !different_phones
    }

    /// The latest moment this order may still wait in an open group.
    pub fn latest_close(&self, rules: &RuleSet) -> DateTime<Utc> {
        let w = &rules.window;
        let end = self
            .promised_end
            .unwrap_or(self.placed_at + minutes(w.asap_promise_minutes));
        end - minutes(w.lead_minutes)
    }
}

pub(crate) fn minutes(m: u32) -> Duration {
    Duration::minutes(i64::from(m))
}

/// How an offer ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MergeOutcome {
    /// Joined an open group that already had members.
    Joined { group_id: String },
    /// Opened a new group and waits in it.
    Opened { group_id: String },
    /// Never merges (excluded, or refused by every open group and no lane left): its
    /// own group, released at once.
    Alone { group_id: String },
    /// The same order was offered before: the first decision stands.
    AlreadyPlaced { group_id: String },
}

impl MergeOutcome {
    pub fn group_id(&self) -> &str {
        match self {
            MergeOutcome::Joined { group_id }
            | MergeOutcome::Opened { group_id }
            | MergeOutcome::Alone { group_id }
            | MergeOutcome::AlreadyPlaced { group_id } => group_id,
        }
    }
}

/// An explainable decision: which rule joined or refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeDecision {
    pub order_id: OrderId,
    pub outcome: MergeOutcome,
    /// The rule that decided (`"hard:<invariant>"` for a hard invariant,
    /// `"default"` when no rule matched, `"idempotent"` for a retry).
    pub rule_id: String,
    pub reason: String,
}

/// The verdict of the rules on one (candidate, group) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub join: bool,
    pub rule_id: String,
    pub reason: String,
}

impl Verdict {
    fn refuse(rule_id: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            join: false,
            rule_id: rule_id.into(),
            reason: reason.into(),
        }
    }
}

/// Whether `candidate` may enter a group at all (exclusions, hard and by rule).
/// `Some(verdict)` means: it never merges.
pub fn exclusion(rules: &RuleSet, candidate: &MemberView) -> Option<Verdict> {
    if candidate.pickup || candidate.merge_key.is_none() {
        return Some(Verdict::refuse(
            "hard:delivery-address",
            "not a delivery order with an address: never merged",
        ));
    }
    if candidate.identity().trim().is_empty() {
        return Some(Verdict::refuse(
            "hard:no-customer",
            "no customer key: cannot tell whose order it is",
        ));
    }
    if candidate.cancelled {
        return Some(Verdict::refuse(
            "hard:cancelled",
            "cancelled or refunded: nothing to deliver",
        ));
    }
    if candidate.dispatched {
        return Some(Verdict::refuse(
            "hard:dispatched",
            "already dispatched: its parcel is gone",
        ));
    }
    for rule in rules
        .rules
        .iter()
        .filter(|r| r.action == RuleAction::Refuse)
    {
        if !rule.when.is_empty()
            && rule
                .when
                .iter()
                .all(|c| is_candidate_only(c) && holds(c, rules, candidate, &[]))
        {
            return Some(Verdict::refuse(
                &rule.id,
                format!("refused by `{}` ({})", rule.id, describe(&rule.when)),
            ));
        }
    }
    None
}

/// Conditions that, once true of the candidate alone, stay true whatever group it
/// would meet: a refuse rule made of them means the order can never merge, so it is
/// released at once instead of waiting out a window for nothing.
fn is_candidate_only(c: &Condition) -> bool {
    matches!(
        c,
        Condition::IsPickup
            | Condition::HasException { .. }
            | Condition::AlreadyDispatched
            | Condition::ChannelDenied { .. }
    )
}

/// Evaluate the rules for `candidate` against an open group's `members` (non-empty).
/// `window` is the group's window in minutes (adaptive or default).
pub fn evaluate(
    rules: &RuleSet,
    candidate: &MemberView,
    members: &[MemberView],
    window_minutes: u32,
) -> Verdict {
    if let Some(v) = exclusion(rules, candidate) {
        return v;
    }
    let ctx = Ctx { window_minutes };
    let mut verdict = Verdict::refuse("default", "no rule matched");
    for rule in &rules.rules {
        if rule
            .when
            .iter()
            .all(|c| holds_in(c, rules, candidate, members, &ctx))
        {
            verdict = match rule.action {
                RuleAction::Join => Verdict {
                    join: true,
                    rule_id: rule.id.clone(),
                    reason: format!("joined by `{}` ({})", rule.id, describe(&rule.when)),
                },
                RuleAction::Refuse => Verdict::refuse(
                    &rule.id,
                    format!("refused by `{}` ({})", rule.id, describe(&rule.when)),
                ),
            };
            break;
        }
    }
    if verdict.join {
        if let Some(broken) = hard_invariant(candidate, members) {
            return broken;
        }
    }
    verdict
}

/// The invariants no rule set can switch off: same customer, same address.
pub fn hard_invariant(candidate: &MemberView, members: &[MemberView]) -> Option<Verdict> {
    for m in members {
        if !m.same_customer(candidate) {
            return Some(Verdict::refuse(
                "hard:same-customer",
                format!("different customer than {}", m.order_id),
            ));
        }
        if !same_address(candidate, m, Some(HARD_MAX_METRES)) {
            return Some(Verdict::refuse(
                "hard:same-address",
                format!("different address than {}", m.order_id),
            ));
        }
        if m.order_id == candidate.order_id {
            return Some(Verdict::refuse("hard:once", "already a member"));
        }
    }
    None
}

struct Ctx {
    window_minutes: u32,
}

fn holds(c: &Condition, rules: &RuleSet, cand: &MemberView, members: &[MemberView]) -> bool {
    holds_in(
        c,
        rules,
        cand,
        members,
        &Ctx {
            window_minutes: rules.window.default_minutes,
        },
    )
}

fn holds_in(
    c: &Condition,
    _rules: &RuleSet,
    cand: &MemberView,
    members: &[MemberView],
    ctx: &Ctx,
) -> bool {
    match c {
        Condition::SameCustomer => members.iter().all(|m| m.same_customer(cand)),
        Condition::SameAddress { within_metres } => members
            .iter()
            .all(|m| same_address(cand, m, *within_metres)),
        Condition::WithinWindow { minutes: m } => {
            let window = minutes(m.unwrap_or(ctx.window_minutes));
            match members.iter().map(|m| m.placed_at).min() {
                Some(first) => (cand.placed_at - first).abs() <= window,
                None => true,
            }
        }
        Condition::SameStore => members.iter().all(|m| m.store_id == cand.store_id),
        Condition::SamePromisedSlot { tolerance_minutes } => members
            .iter()
            .all(|m| same_slot(cand, m, minutes(*tolerance_minutes))),
        Condition::ChannelsAllowed { channels } => std::iter::once(cand)
            .chain(members)
            .all(|m| channels.contains(&m.channel)),
        Condition::ChannelDenied { channels } => std::iter::once(cand)
            .chain(members)
            .any(|m| channels.contains(&m.channel)),
        Condition::ColdChainCompatible { compatible } => {
            let zones: Vec<TemperatureZone> = std::iter::once(cand)
                .chain(members)
                .flat_map(|m| m.zones.iter().copied())
                .collect();
            zones.iter().all(|a| {
                zones.iter().all(|b| {
                    a == b
                        || compatible
                            .iter()
                            .any(|[x, y]| (x == a && y == b) || (x == b && y == a))
                })
            })
        }
        Condition::IsPickup => cand.pickup,
        Condition::HasException { codes } => match codes {
            None => !cand.exceptions.is_empty(),
            Some(codes) => cand.exceptions.iter().any(|e| codes.contains(e)),
        },
        Condition::AlreadyDispatched => cand.dispatched,
    }
}

fn same_slot(a: &MemberView, b: &MemberView, tol: Duration) -> bool {
    let close = |x: Option<DateTime<Utc>>, y: Option<DateTime<Utc>>| match (x, y) {
        (Some(x), Some(y)) => (x - y).abs() <= tol,
        (None, None) => true,
        _ => false,
    };
    if a.promised_asap && b.promised_asap && a.promised_end.is_none() && b.promised_end.is_none() {
        return true;
    }
    a.promised_asap == b.promised_asap
        && close(a.promised_start, b.promised_start)
        && close(a.promised_end, b.promised_end)
}

/// Same `merge_key`, or (when a distance is given) both located within it.
pub fn same_address(a: &MemberView, b: &MemberView, within_metres: Option<u32>) -> bool {
    match (&a.merge_key, &b.merge_key) {
        (Some(x), Some(y)) if x == y => true,
        (Some(_), Some(_)) => match (within_metres, a.location, b.location) {
            (Some(max), Some(p), Some(q)) => haversine_m(p, q) <= f64::from(max),
            _ => false,
        },
        _ => false,
    }
}

/// Great-circle distance in metres. On GCJ-02 the offset is smooth over a city, so for
/// distances of a few hundred metres it is as good as on WGS-84.
pub fn haversine_m(p: GeoPoint, q: GeoPoint) -> f64 {
    const R: f64 = 6_371_008.8;
    let (la1, la2) = (p.lat.to_radians(), q.lat.to_radians());
    let dla = la2 - la1;
    let dln = (q.lng - p.lng).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dln / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

fn describe(conds: &[Condition]) -> String {
    if conds.is_empty() {
        return "always".into();
    }
    conds
        .iter()
        .map(Condition::name)
        .collect::<Vec<_>>()
        .join(" ∧ ")
}
