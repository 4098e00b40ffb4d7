//! Seeded synthetic order histories and a replay through the in-memory [`Merger`]:
//! the evidence for the adaptive window (test and benchmark print the same figures).

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

use super::decide::MemberView;
use super::memory::Merger;
use super::rules::RuleSet;
use crate::order::*;

/// splitmix64: small, seedable, good enough for synthetic data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// A customer's re-order habit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Habit {
    /// Almost never orders twice in a row.
    Loner,
    /// Often adds a second order within minutes.
    Quick,
    /// Often remembers something 35–50 minutes later.
    Slow,
}

#[derive(Debug, Clone)]
pub struct SynthOrder {
    pub customer: u32,
    pub habit: Habit,
    pub placed_at: DateTime<Utc>,
    pub promise_minutes: u32,
}

pub fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_764_000_000, 0).unwrap_or_default()
}

/// Every customer has a session on about half the days; a session may have a
/// follow-up order according to the habit. Promises are 45 or 90 minutes.
pub fn synthetic_history(seed: u64, customers: u32, days: u32) -> Vec<SynthOrder> {
    let mut rng = Rng::new(seed);
    let habits: Vec<Habit> = (0..customers)
        .map(|_| match rng.below(10) {
            0..=4 => Habit::Loner,
            5..=7 => Habit::Quick,
            _ => Habit::Slow,
        })
        .collect();
    let mut out = Vec::new();
    for day in 0..days {
        for (c, &habit) in habits.iter().enumerate() {
            if !rng.chance(0.5) {
                continue;
            }
            let start = epoch()
                + Duration::days(i64::from(day))
                + Duration::minutes(rng.below(12 * 60) as i64 + 8 * 60);
            let promise = if rng.chance(0.3) { 45 } else { 90 };
            out.push(SynthOrder {
                customer: c as u32,
                habit,
                placed_at: start,
                promise_minutes: promise,
            });
            let follow = match habit {
                Habit::Loner => rng.chance(0.03).then(|| rng.below(20) + 2),
                Habit::Quick => rng.chance(0.7).then(|| rng.below(13) + 2),
                Habit::Slow => rng.chance(0.7).then(|| rng.below(16) + 35),
            };
            if let Some(gap) = follow {
                let promise = if rng.chance(0.3) { 45 } else { 90 };
                out.push(SynthOrder {
                    customer: c as u32,
                    habit,
                    placed_at: start + Duration::minutes(gap as i64),
                    promise_minutes: promise,
                });
            }
        }
    }
    out.sort_by_key(|o| (o.placed_at, o.customer));
    out
}

/// A delivery order for a synthetic customer (one address per customer), with
/// `lines` random lines across temperature zones.
pub fn synth_order(
    rng: &mut Rng,
    seq: u64,
    customer: u32,
    placed_at: DateTime<Utc>,
    promise_minutes: u32,
    lines: u32,
) -> Order {
    let channels = ["app", "meituan", "eleme", "miniprogram"];
    let ch = ChannelId::new(channels[rng.below(channels.len() as u64) as usize]);
    let merge_key = format!("addr-{customer}");
    let lat = 31.0 + f64::from(customer % 1000) * 0.001;
    let lng = 121.0 + f64::from(customer / 1000) * 0.001;
    let order_lines: Vec<OrderLine> = (1..=lines)
        .map(|n| {
            let zone = match rng.below(6) {
                0 => TemperatureZone::Frozen,
                1 | 2 => TemperatureZone::Chilled,
                _ => TemperatureZone::Ambient,
            };
            OrderLine {
                line_no: n,
                channel_sku: format!("sku-{}", rng.below(500)),
                sku: None,
                name: String::new(),
                quantity: rng.below(4) as u32 + 1,
                unit_price: Decimal::new(rng.below(5000) as i64 + 100, 2),
                unit_weight_g: rng.below(2500) as u32 + 50,
                unit_volume_cm3: rng.below(4000) as u32 + 100,
                zone,
            }
        })
        .collect();
    let goods: Decimal = order_lines.iter().map(OrderLine::amount).sum();
    Order {
        id: OrderId::for_channel_order(&ch, &seq.to_string()),
        channel: ch,
        channel_order_id: seq.to_string(),
        store_id: Some("store-1".into()),
        customer: Customer {
            channel_user_id: None,
            name: None,
            phone: None,
            customer_key: format!("phone:{customer}"),
        },
        fulfilment: Fulfilment::Delivery {
            address: Some(Address {
                province: None,
                city: None,
                district: Some(format!("d{}", customer % 16)),
                detail: merge_key.clone(),
                location: Some(GeoPoint { lat, lng }),
                merge_key,
            }),
        },
        lines: order_lines,
        money: OrderMoney {
            currency: "CNY".into(),
            goods,
            discounts: vec![],
            delivery_fee: Decimal::ZERO,
            packaging_fee: Decimal::ZERO,
            paid: goods,
        },
        promised: PromisedWindow {
            asap: false,
            start: None,
            end: Some(placed_at + Duration::minutes(i64::from(promise_minutes))),
        },
        buyer_note: None,
        placed_at,
        source_time_zone: "Asia/Shanghai".into(),
        source_utc_offset_minutes: 480,
        history: vec![],
        exceptions: vec![],
    }
}

/// Figures from one replay.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimReport {
    pub orders: usize,
    pub parcels: usize,
    /// Groups released after a member's latest allowed close (must be 0).
    pub promise_violations: usize,
    /// Mean minutes a single-order group of a `Loner` waited before release.
    pub loner_mean_hold_min: f64,
    /// Orders of `Slow` customers that shared a group.
    pub slow_orders_merged: usize,
}

/// Replay `history` through a [`Merger`] with `rules`, closing due windows before
/// each arrival.
pub fn replay(rules: &RuleSet, history: &[SynthOrder]) -> SimReport {
    let mut merger = Merger::new(rules.clone());
    let mut rng = Rng::new(7);
    let mut released = Vec::new();
    let mut habits = std::collections::HashMap::new();
    for (i, o) in history.iter().enumerate() {
        released.extend(merger.close_due(o.placed_at));
        let order = synth_order(
            &mut rng,
            i as u64,
            o.customer,
            o.placed_at,
            o.promise_minutes,
            1,
        );
        habits.insert(order.customer.customer_key.clone(), o.habit);
        let (_, now_released) = merger.offer(MemberView::of(&order), o.placed_at);
        released.extend(now_released);
    }
    let end = history
        .last()
        .map(|o| o.placed_at + Duration::days(1))
        .unwrap_or_else(epoch);
    released.extend(merger.close_due(end));
    let mut report = SimReport {
        orders: history.len(),
        parcels: released.len(),
        ..SimReport::default()
    };
    let (mut hold_sum, mut hold_n) = (0.0, 0usize);
    for g in &released {
        if g.members
            .iter()
            .any(|m| g.released_at > m.latest_close(rules))
        {
            report.promise_violations += 1;
        }
        let habit = g
            .members
            .first()
            .and_then(|m| habits.get(&m.customer_key))
            .copied();
        if g.members.len() == 1 && habit == Some(Habit::Loner) {
            hold_sum += (g.released_at - g.members[0].placed_at).num_seconds() as f64 / 60.0;
            hold_n += 1;
        }
        if g.members.len() > 1 && habit == Some(Habit::Slow) {
            report.slow_orders_merged += g.members.len();
        }
    }
    report.loner_mean_hold_min = if hold_n == 0 {
        0.0
    } else {
        hold_sum / hold_n as f64
    };
    report
}
