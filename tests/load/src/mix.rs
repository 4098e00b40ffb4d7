//! What is sent: a seeded, realistic mix of pushes over the order slots of a
//! [`crate::schedule::Profile`].
//!
//! Every slot is one new order. Channels are drawn by market share; POS and
//! group-buying carry several orders per push (a till's batch, a leader's batch), so one
//! such push takes as many slots. On top of the orders, as platforms behave:
//!
//! - repeat customers: a share of orders comes from someone who ordered within the last
//!   30 minutes, to the same door (what merge is for);
//! - duplicates: a share of pushes is sent again a moment later (a lost or slow
//!   acknowledgement makes the platform redeliver);
//! - cancels: a share of orders is cancelled a little later by its own channel.
//!
//! The plan is a pure function of the seed and the slots: the same seed gives the same
//! pushes, bodies aside from run ids and wall-clock times.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::catalog::PRODUCTS;
use crate::channels::Channel;
use crate::door::{COMMUNITY_COUNT, SURNAME_COUNT};

/// The knobs of the mix. The defaults are the issue's: 10–20 % repeat customers,
/// ~5 % duplicates, ~3 % cancels.
#[derive(Debug, Clone, PartialEq)]
pub struct MixConfig {
    /// Relative share of new orders per channel.
    pub channel_weights: [(Channel, u32); 6],
    /// Chance that an order's customer is one who ordered within `repeat_window`.
    pub repeat: f64,
    pub repeat_window: Duration,
    /// Chance that a push of new orders is delivered again, 0.5–5 s later.
    pub duplicate: f64,
    /// Chance that an order is cancelled by its channel, 1 s–10 min after it was sent.
    pub cancel: f64,
    /// Chance that an order of a channel that takes unpaid orders (cash on delivery,
    /// pay later) is unpaid.
    pub unpaid: f64,
    /// Share of POS sales that are delivered rather than taken away.
    pub pos_delivery: f64,
}

impl Default for MixConfig {
    fn default() -> Self {
        Self {
            channel_weights: [
                (Channel::Meituan, 34),
                (Channel::Eleme, 24),
                (Channel::App, 16),
                (Channel::MiniProgram, 12),
                (Channel::Pos, 8),
                (Channel::GroupBuy, 6),
            ],
            repeat: 0.15,
            repeat_window: Duration::from_secs(30 * 60),
            duplicate: 0.05,
            cancel: 0.03,
            unpaid: 0.12,
            pos_delivery: 0.3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub community: usize,
    pub building: u32,
    pub room: u32,
    pub surname: usize,
    pub female: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fulfilment {
    /// To the customer's door.
    Delivery,
    /// Bought at the till and taken away (POS): complete at once, never reserved.
    TakeAway,
    /// Collected at the community's pickup point (group-buying).
    Pickup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// Index into [`PRODUCTS`].
    pub product: usize,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderSpec {
    /// Run-unique order number (ids are made from it).
    pub seq: u64,
    pub customer: usize,
    pub lines: Vec<Line>,
    pub paid: bool,
    /// The customer ordered before within the repeat window.
    pub repeat: bool,
    pub fulfilment: Fulfilment,
}

impl OrderSpec {
    pub fn goods_fen(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| i64::from(PRODUCTS[l.product].price_fen) * i64::from(l.quantity))
            .sum()
    }

    /// Whether reserve and merge see this order (a take-away sale is complete at once).
    pub fn enters_pipeline(&self) -> bool {
        self.fulfilment != Fulfilment::TakeAway
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PushKind {
    /// New orders: one, or a batch (POS, group-buying).
    Orders(Vec<OrderSpec>),
    /// Push `of` delivered again.
    Duplicate { of: usize },
    /// Cancel order `order` of push `of` (same channel).
    Cancel { of: usize, order: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedPush {
    /// Due time, from the start of the run.
    pub at: Duration,
    pub channel: Channel,
    pub kind: PushKind,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// In due order.
    pub pushes: Vec<PlannedPush>,
    pub customers: Vec<Customer>,
}

impl Plan {
    /// The seeded mix over these order slots (sorted, from [`crate::schedule`]).
    pub fn generate(seed: u64, cfg: &MixConfig, slots: &[Duration]) -> Plan {
        Planner::new(seed, cfg).run(slots)
    }

    pub fn orders(&self) -> impl Iterator<Item = (usize, &OrderSpec)> {
        self.pushes
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match &p.kind {
                PushKind::Orders(orders) => Some(orders.iter().map(move |o| (i, o))),
                _ => None,
            })
            .flatten()
    }

    /// The order a cancel names.
    pub fn cancelled_order(&self, of: usize, order: usize) -> &OrderSpec {
        match &self.pushes[of].kind {
            PushKind::Orders(orders) => &orders[order],
            _ => unreachable!("a cancel always names a push of orders"),
        }
    }
}

/// Bounds on how long after a push its duplicate and a cancel come.
const DUPLICATE_AFTER: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(5));
const CANCEL_AFTER: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(600));

struct Planner<'a> {
    cfg: &'a MixConfig,
    rng: ChaCha8Rng,
    channels: WeightedIndex<u32>,
    products: WeightedIndex<u32>,
    plan: Plan,
    next_seq: u64,
    /// (when, customer) of recent orders, oldest first: everyone, and per community.
    recent: VecDeque<(Duration, usize)>,
    recent_in: Vec<VecDeque<(Duration, usize)>>,
    /// Per channel, oldest first: (when, push) of pushes of orders and
    /// (when, push, order) of their orders, for duplicates and cancels to pick from.
    pushes_of: [Vec<(Duration, usize)>; 6],
    orders_of: [Vec<(Duration, usize, usize)>; 6],
    cancelled: HashSet<(usize, usize)>,
}

impl<'a> Planner<'a> {
    fn new(seed: u64, cfg: &'a MixConfig) -> Self {
        let weights = |w: &[u32]| WeightedIndex::new(w.to_vec()).expect("positive weights");
        Planner {
            cfg,
            rng: ChaCha8Rng::seed_from_u64(seed),
            channels: weights(&cfg.channel_weights.map(|(_, w)| w)),
            products: weights(&PRODUCTS.map(|p| p.weight)),
            plan: Plan::default(),
            next_seq: 1,
            recent: VecDeque::new(),
            recent_in: vec![VecDeque::new(); COMMUNITY_COUNT],
            pushes_of: Default::default(),
            orders_of: Default::default(),
            cancelled: HashSet::new(),
        }
    }

    fn run(mut self, slots: &[Duration]) -> Plan {
        let mut i = 0;
        while i < slots.len() {
            let at = slots[i];
            let channel = self.cfg.channel_weights[self.channels.sample(&mut self.rng)].0;
            let batch = match channel {
                Channel::Pos => self.rng.random_range(1..=3),
                Channel::GroupBuy => self.rng.random_range(2..=4),
                _ => 1,
            }
            .min(slots.len() - i);
            self.orders(at, channel, batch);
            i += batch;
        }
        self.plan
    }

    fn orders(&mut self, at: Duration, channel: Channel, count: usize) {
        // A leader's batch is one community's members.
        let community =
            (channel == Channel::GroupBuy).then(|| self.rng.random_range(0..COMMUNITY_COUNT));
        let orders: Vec<OrderSpec> = (0..count)
            .map(|_| self.order(at, channel, community))
            .collect();
        let index = self.plan.pushes.len();
        let ch = channel.index();
        self.pushes_of[ch].push((at, index));
        self.orders_of[ch].extend((0..count).map(|k| (at, index, k)));
        self.plan.pushes.push(PlannedPush {
            at,
            channel,
            kind: PushKind::Orders(orders),
        });

        if self.rng.random_bool(self.cfg.duplicate) {
            if let Some(of) = self.pick_push(channel, at) {
                self.extra(at, channel, PushKind::Duplicate { of });
            }
        }
        for _ in 0..count {
            if self.rng.random_bool(self.cfg.cancel) {
                if let Some((of, order)) = self.pick_order(channel, at) {
                    self.cancelled.insert((of, order));
                    self.extra(at, channel, PushKind::Cancel { of, order });
                }
            }
        }
    }

    fn extra(&mut self, at: Duration, channel: Channel, kind: PushKind) {
        self.plan.pushes.push(PlannedPush { at, channel, kind });
    }

    fn order(&mut self, at: Duration, channel: Channel, community: Option<usize>) -> OrderSpec {
        let (customer, repeat) = self.customer(at, community);
        let fulfilment = match channel {
            Channel::GroupBuy => Fulfilment::Pickup,
            Channel::Pos if !self.rng.random_bool(self.cfg.pos_delivery) => Fulfilment::TakeAway,
            _ => Fulfilment::Delivery,
        };
        let paid = !(channel.takes_unpaid() && self.rng.random_bool(self.cfg.unpaid));
        let seq = self.next_seq;
        self.next_seq += 1;
        OrderSpec {
            seq,
            customer,
            lines: self.lines(),
            paid,
            repeat,
            fulfilment,
        }
    }

    /// 1–5 distinct products, popular ones more often; mostly one of each.
    fn lines(&mut self) -> Vec<Line> {
        const COUNT_WEIGHTS: [u32; 5] = [30, 28, 20, 13, 9];
        const QUANTITY_WEIGHTS: [u32; 3] = [70, 22, 8];
        let count = 1 + WeightedIndex::new(COUNT_WEIGHTS)
            .expect("positive")
            .sample(&mut self.rng);
        let quantities = WeightedIndex::new(QUANTITY_WEIGHTS).expect("positive");
        let mut lines: Vec<Line> = Vec::with_capacity(count);
        while lines.len() < count {
            let product = self.products.sample(&mut self.rng);
            if lines.iter().any(|l| l.product == product) {
                continue;
            }
            lines.push(Line {
                product,
                quantity: 1 + quantities.sample(&mut self.rng) as u32,
            });
        }
        lines
    }

    /// A returning customer (someone who ordered within the window; for a leader's
    /// batch, from the same community) or a new one.
    fn customer(&mut self, at: Duration, community: Option<usize>) -> (usize, bool) {
        let horizon = at.saturating_sub(self.cfg.repeat_window);
        let pool = match community {
            Some(c) => &mut self.recent_in[c],
            None => &mut self.recent,
        };
        while pool.front().is_some_and(|(t, _)| *t < horizon) {
            pool.pop_front();
        }
        let returning = if self.rng.random_bool(self.cfg.repeat) && !pool.is_empty() {
            let k = self.rng.random_range(0..pool.len());
            Some(pool[k].1)
        } else {
            None
        };
        let customer = returning.unwrap_or_else(|| self.new_customer(community));
        let home = self.plan.customers[customer].community;
        self.recent.push_back((at, customer));
        self.recent_in[home].push_back((at, customer));
        (customer, returning.is_some())
    }

    fn new_customer(&mut self, community: Option<usize>) -> usize {
        let community = community.unwrap_or_else(|| self.rng.random_range(0..COMMUNITY_COUNT));
        let customer = Customer {
            community,
            building: self.rng.random_range(1..=24),
            room: 100 * self.rng.random_range(1..=28) + self.rng.random_range(1..=4),
            surname: self.rng.random_range(0..SURNAME_COUNT),
            female: self.rng.random_bool(0.6),
        };
        self.plan.customers.push(customer);
        self.plan.customers.len() - 1
    }

    /// An earlier push of orders of this channel, sent 0.5–5 s before `at`.
    fn pick_push(&mut self, channel: Channel, at: Duration) -> Option<usize> {
        let list = &self.pushes_of[channel.index()];
        let (from, to) = window(list, |e| e.0, at, DUPLICATE_AFTER);
        (from < to).then(|| list[self.rng.random_range(from..to)].1)
    }

    /// An earlier, not yet cancelled order of this channel, sent 1 s–10 min before `at`.
    fn pick_order(&mut self, channel: Channel, at: Duration) -> Option<(usize, usize)> {
        let list = &self.orders_of[channel.index()];
        let (from, to) = window(list, |e| e.0, at, CANCEL_AFTER);
        // A few tries: nearly every candidate is still uncancelled.
        for _ in 0..8 {
            if from >= to {
                return None;
            }
            let (_, of, order) = list[self.rng.random_range(from..to)];
            if !self.cancelled.contains(&(of, order)) {
                return Some((of, order));
            }
        }
        None
    }
}

/// The index range of `list` (sorted by time) sent between `after.1` and `after.0`
/// before `at`.
fn window<T>(
    list: &[T],
    time: impl Fn(&T) -> Duration,
    at: Duration,
    after: (Duration, Duration),
) -> (usize, usize) {
    let latest = at.saturating_sub(after.0);
    let earliest = at.saturating_sub(after.1);
    let from = list.partition_point(|e| time(e) < earliest);
    let to = if at < after.0 {
        0
    } else {
        list.partition_point(|e| time(e) <= latest)
    };
    (from, to.max(from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Profile;

    fn slots(rate: f64, secs: u64) -> Vec<Duration> {
        Profile {
            rate,
            duration: Duration::from_secs(secs),
            burst: None,
            curve: None,
        }
        .slots()
    }

    fn plan(seed: u64) -> Plan {
        Plan::generate(seed, &MixConfig::default(), &slots(200.0, 100))
    }

    #[test]
    fn the_same_seed_gives_the_same_plan_and_another_seed_another() {
        let s = slots(50.0, 20);
        let a = Plan::generate(7, &MixConfig::default(), &s);
        assert_eq!(a, Plan::generate(7, &MixConfig::default(), &s));
        assert_ne!(a, Plan::generate(8, &MixConfig::default(), &s));
    }

    #[test]
    fn every_slot_is_one_order_and_pushes_are_in_due_order() {
        let s = slots(200.0, 100);
        let p = plan(1);
        assert_eq!(p.orders().count(), s.len());
        assert!(p.pushes.windows(2).all(|w| w[0].at <= w[1].at));
        let seqs: HashSet<u64> = p.orders().map(|(_, o)| o.seq).collect();
        assert_eq!(seqs.len(), s.len(), "order numbers are unique");
    }

    #[test]
    fn proportions_are_as_configured() {
        let p = plan(42);
        let orders: Vec<&OrderSpec> = p.orders().map(|(_, o)| o).collect();
        let n = orders.len() as f64;
        let order_pushes = p
            .pushes
            .iter()
            .filter(|x| matches!(x.kind, PushKind::Orders(_)))
            .count() as f64;
        let count =
            |f: &dyn Fn(&PushKind) -> bool| p.pushes.iter().filter(|x| f(&x.kind)).count() as f64;
        let repeat = orders.iter().filter(|o| o.repeat).count() as f64 / n;
        let dups = count(&|k| matches!(k, PushKind::Duplicate { .. })) / order_pushes;
        let cancels = count(&|k| matches!(k, PushKind::Cancel { .. })) / n;
        let unpaid = orders.iter().filter(|o| !o.paid).count() as f64 / n;
        assert!((0.10..=0.20).contains(&repeat), "repeat {repeat}");
        assert!((0.04..=0.06).contains(&dups), "duplicates {dups}");
        assert!((0.02..=0.04).contains(&cancels), "cancels {cancels}");
        assert!((0.05..=0.15).contains(&unpaid), "unpaid {unpaid}");
        for k in 1..=5 {
            let share = orders.iter().filter(|o| o.lines.len() == k).count() as f64 / n;
            assert!(share > 0.05, "{k} lines: {share}");
        }
        assert!(orders.iter().all(|o| (1..=5).contains(&o.lines.len())));
        // Order shares follow the weights times the mean batch (POS 2, group-buying 3).
        let batch = |c: Channel| match c {
            Channel::Pos => 2.0,
            Channel::GroupBuy => 3.0,
            _ => 1.0,
        };
        let weights = MixConfig::default().channel_weights;
        let norm: f64 = weights.iter().map(|(c, w)| f64::from(*w) * batch(*c)).sum();
        for (channel, weight) in weights {
            let of_channel: usize = p
                .pushes
                .iter()
                .filter(|x| x.channel == channel)
                .map(|x| match &x.kind {
                    PushKind::Orders(o) => o.len(),
                    _ => 0,
                })
                .sum();
            let share = of_channel as f64 / n;
            let want = f64::from(weight) * batch(channel) / norm;
            assert!((share - want).abs() < 0.02, "{channel}: {share} vs {want}");
        }
    }

    #[test]
    fn repeats_return_to_the_same_door_within_the_window() {
        let p = plan(3);
        let mut last_seen = std::collections::HashMap::new();
        for push in &p.pushes {
            if let PushKind::Orders(orders) = &push.kind {
                for o in orders {
                    if o.repeat {
                        let before: Duration = *last_seen.get(&o.customer).expect("seen before");
                        assert!(push.at - before <= Duration::from_secs(1800));
                    }
                    last_seen.insert(o.customer, push.at);
                }
            }
        }
        let distinct = last_seen.len() as f64 / p.orders().count() as f64;
        assert!(distinct > 0.75, "distinct customers {distinct}");
    }

    #[test]
    fn duplicates_and_cancels_name_earlier_pushes_of_their_channel() {
        let p = plan(5);
        let mut cancelled = HashSet::new();
        for push in &p.pushes {
            match push.kind {
                PushKind::Duplicate { of } => {
                    let original = &p.pushes[of];
                    assert_eq!(original.channel, push.channel);
                    assert!(matches!(original.kind, PushKind::Orders(_)));
                    let gap = push.at - original.at;
                    assert!(gap >= DUPLICATE_AFTER.0 && gap <= DUPLICATE_AFTER.1);
                }
                PushKind::Cancel { of, order } => {
                    assert_eq!(p.pushes[of].channel, push.channel);
                    assert!(push.at - p.pushes[of].at >= CANCEL_AFTER.0);
                    assert!(cancelled.insert((of, order)), "cancelled twice");
                    let _ = p.cancelled_order(of, order);
                }
                PushKind::Orders(_) => {}
            }
        }
    }

    #[test]
    fn batches_are_one_community_and_only_some_channels_are_unpaid() {
        let p = plan(9);
        for push in &p.pushes {
            let PushKind::Orders(orders) = &push.kind else {
                continue;
            };
            if push.channel == Channel::GroupBuy {
                let c = p.customers[orders[0].customer].community;
                assert!(orders
                    .iter()
                    .all(|o| p.customers[o.customer].community == c));
                assert!(orders.iter().all(|o| o.fulfilment == Fulfilment::Pickup));
            }
            if !push.channel.takes_unpaid() {
                assert!(orders.iter().all(|o| o.paid));
            }
        }
    }

    #[test]
    fn window_bounds() {
        let list: Vec<Duration> = (0..10).map(Duration::from_secs).collect();
        let w = |at: u64| {
            window(
                &list,
                |d| *d,
                Duration::from_secs(at),
                (Duration::from_secs(1), Duration::from_secs(3)),
            )
        };
        assert_eq!(w(5), (2, 5)); // 2 s, 3 s, 4 s
        assert_eq!(w(0), (0, 0));
        assert_eq!(w(20), (10, 10));
    }
}
