//! The merger's semantics in memory, single-threaded: same rules, same lanes, same
//! windows as [`super::window`], without a store. Used by the benchmark and the
//! adaptive-window simulation; a shell with one long-lived process could use it too.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use chrono::{DateTime, Utc};

use super::adaptive::AdaptiveModel;
use super::decide::{
    evaluate, exclusion, minutes, MemberView, MergeDecision, MergeOutcome, Verdict,
};
use super::rules::RuleSet;
use super::{ReleaseReason, ReleasedGroup};
use crate::order::OrderId;

struct OpenGroup {
    id: u64,
    members: Vec<MemberView>,
    opened_at: DateTime<Utc>,
    window: u32,
    close_at: DateTime<Utc>,
}

/// A retry of the same order later than this is treated as a new offer.
pub const RETRY_HORIZON_HOURS: i64 = 24;

pub struct Merger {
    rules: RuleSet,
    adaptive: AdaptiveModel,
    lanes: HashMap<String, Vec<Option<OpenGroup>>>,
    /// Open group id → (customer, lane).
    index: HashMap<u64, (String, usize)>,
    /// Orders offered within the retry horizon (idempotency), oldest first in `placed_fifo`.
    placed: HashMap<OrderId, String>,
    placed_fifo: VecDeque<(DateTime<Utc>, OrderId)>,
    due: BinaryHeap<Reverse<(DateTime<Utc>, u64)>>,
    next_id: u64,
}

impl Merger {
    pub fn new(rules: RuleSet) -> Self {
        Self {
            rules,
            adaptive: AdaptiveModel::default(),
            lanes: HashMap::new(),
            index: HashMap::new(),
            placed: HashMap::new(),
            placed_fifo: VecDeque::new(),
            due: BinaryHeap::new(),
            next_id: 0,
        }
    }

    pub fn open_groups(&self) -> usize {
        self.index.len()
    }

    /// Offer an order at `now`; returns the decision and any group released at once.
    /// Idempotent within [`RETRY_HORIZON_HOURS`].
    pub fn offer(
        &mut self,
        view: MemberView,
        now: DateTime<Utc>,
    ) -> (MergeDecision, Vec<ReleasedGroup>) {
        let id = view.order_id.clone();
        let (d, released) = self.place(view, now);
        if !matches!(d.outcome, MergeOutcome::AlreadyPlaced { .. }) {
            self.placed.insert(id, d.outcome.group_id().to_string());
        }
        (d, released)
    }

    fn place(
        &mut self,
        view: MemberView,
        now: DateTime<Utc>,
    ) -> (MergeDecision, Vec<ReleasedGroup>) {
        let decided = |view: &MemberView, outcome, rule_id: &str, reason: String| MergeDecision {
            order_id: view.order_id.clone(),
            outcome,
            rule_id: rule_id.to_string(),
            reason,
        };
        if let Some(group_id) = self.placed.get(&view.order_id) {
            let d = decided(
                &view,
                MergeOutcome::AlreadyPlaced {
                    group_id: group_id.clone(),
                },
                "idempotent",
                "offered before".into(),
            );
            return (d, Vec::new());
        }
        self.placed_fifo.push_back((now, view.order_id.clone()));
        // Forget offers older than the retry horizon: memory stays proportional to
        // recent traffic, not to all history.
        while let Some((at, _)) = self.placed_fifo.front() {
            if now - *at <= chrono::Duration::hours(RETRY_HORIZON_HOURS) {
                break;
            }
            if let Some((_, id)) = self.placed_fifo.pop_front() {
                self.placed.remove(&id);
            }
        }
        if let Some(v) = exclusion(&self.rules, &view) {
            return self.alone(view, now, v, ReleaseReason::NeverMerges);
        }
        let window = if self.rules.adaptive.enabled {
            let w = self.adaptive.window_for(
                view.identity(),
                view.area.as_deref(),
                &self.rules.window,
                &self.rules.adaptive,
            );
            self.adaptive.observe(
                view.identity(),
                view.area.as_deref(),
                view.placed_at,
                self.rules.window.max_minutes,
            );
            w
        } else {
            self.rules.window.default_minutes
        };
        let latest_close = view.latest_close(&self.rules);
        let max_lanes = self.rules.max_lanes as usize;
        let lanes = self.lanes.entry(view.identity().to_string()).or_default();
        if lanes.len() < max_lanes {
            lanes.resize_with(max_lanes, || None);
        }
        let mut refusal: Option<Verdict> = None;
        let mut free_lane = None;
        let mut joined: Option<(u64, bool, MergeDecision)> = None;
        for (lane, slot) in lanes.iter_mut().enumerate() {
            let Some(group) = slot else {
                free_lane = free_lane.or(Some(lane));
                continue;
            };
            let v = evaluate(&self.rules, &view, &group.members, group.window);
            if !v.join {
                refusal = Some(v);
                continue;
            }
            let d = decided(
                &view,
                MergeOutcome::Joined {
                    group_id: format!("m{}", group.id),
                },
                &v.rule_id,
                v.reason,
            );
            group.members.push(view.clone());
            if latest_close < group.close_at {
                group.close_at = latest_close;
                self.due.push(Reverse((latest_close, group.id)));
            }
            joined = Some((group.id, group.close_at <= now, d));
            break;
        }
        if let Some((id, due_now, d)) = joined {
            let released = if due_now {
                self.release_id(id, ReleaseReason::PromiseCannotWait, now)
            } else {
                Vec::new()
            };
            return (d, released);
        }
        let Some(lane) = free_lane else {
            let v = refusal.unwrap_or(Verdict {
                join: false,
                rule_id: "lanes".into(),
                reason: "every lane is busy".into(),
            });
            return self.alone(view, now, v, ReleaseReason::Refused);
        };
        let id = self.next_id;
        self.next_id += 1;
        let close_at = latest_close.min(now + minutes(window));
        let d = decided(
            &view,
            MergeOutcome::Opened {
                group_id: format!("m{id}"),
            },
            "open",
            format!("opened with a {window}-minute window"),
        );
        let customer = view.identity().to_string();
        lanes[lane] = Some(OpenGroup {
            id,
            members: vec![view],
            opened_at: now,
            window,
            close_at,
        });
        self.index.insert(id, (customer, lane));
        if close_at <= now {
            let released = self.release_id(id, ReleaseReason::PromiseCannotWait, now);
            return (d, released);
        }
        self.due.push(Reverse((close_at, id)));
        (d, Vec::new())
    }

    fn lookup(&self, id: u64) -> Option<&OpenGroup> {
        let (c, l) = self.index.get(&id)?;
        self.lanes.get(c)?.get(*l)?.as_ref()
    }

    fn release_id(
        &mut self,
        id: u64,
        reason: ReleaseReason,
        now: DateTime<Utc>,
    ) -> Vec<ReleasedGroup> {
        let Some((c, l)) = self.index.remove(&id) else {
            return Vec::new();
        };
        let Some(lanes) = self.lanes.get_mut(&c) else {
            return Vec::new();
        };
        let Some(group) = lanes.get_mut(l).and_then(Option::take) else {
            return Vec::new();
        };
        if lanes.iter().all(Option::is_none) {
            // Idle customers cost nothing.
            self.lanes.remove(&c);
        }
        vec![ReleasedGroup {
            group_id: format!("m{}", group.id),
            members: group.members,
            opened_at: group.opened_at,
            released_at: now,
            reason,
        }]
    }

    fn alone(
        &mut self,
        view: MemberView,
        now: DateTime<Utc>,
        v: Verdict,
        reason: ReleaseReason,
    ) -> (MergeDecision, Vec<ReleasedGroup>) {
        let group_id = format!("alone.{}", view.order_id);
        let d = MergeDecision {
            order_id: view.order_id.clone(),
            outcome: MergeOutcome::Alone {
                group_id: group_id.clone(),
            },
            rule_id: v.rule_id,
            reason: v.reason,
        };
        (
            d,
            vec![ReleasedGroup {
                group_id,
                members: vec![view],
                opened_at: now,
                released_at: now,
                reason,
            }],
        )
    }

    /// Release every group due at `now`.
    pub fn close_due(&mut self, now: DateTime<Utc>) -> Vec<ReleasedGroup> {
        let mut out = Vec::new();
        while let Some(Reverse((at, id))) = self.due.peek().copied() {
            if at > now {
                break;
            }
            self.due.pop();
            if self.lookup(id).is_some_and(|g| g.close_at == at) {
                out.extend(self.release_id(id, ReleaseReason::WindowClosed, at));
            }
        }
        out
    }

    /// Release everything still open (end of a simulation).
    pub fn drain(&mut self, now: DateTime<Utc>) -> Vec<ReleasedGroup> {
        let ids: Vec<u64> = self.index.keys().copied().collect();
        ids.into_iter()
            .flat_map(|id| self.release_id(id, ReleaseReason::WindowClosed, now))
            .collect()
    }
}
