//! One price calculation for every channel (价格与优惠).
//!
//! Order of application, each step on what the previous left:
//! 1. line amounts (`unit_price × quantity`, to the fen) and goods = their sum;
//! 2. threshold discounts (满减) on the goods: the best applicable tier, or per
//!    multiple of the threshold when configured;
//! 3. coupons in the order given, on what remains (minimum spend checked there):
//!    fixed amounts and percentages with a cap;
//! 4. delivery fee: base, waived at or over `free_over` (on goods after discounts),
//!    plus a surcharge per started weight step over the included weight (never waived);
//! 5. packaging fee: per order plus per unit.
//!
//! Every order-level discount is then allocated to lines (proportional to what each
//! line still carries, to the fen, largest remainder first, ties by line number), so a
//! single line can be refunded and line totals always sum to the order's. Merchant- and
//! platform-funded amounts are kept apart at every level ([`Funder`]).
//!
//! Money is `Decimal` throughout; allocation runs in whole fen (`i64`/`i128`).

mod allocate;
mod compare;
mod platform;

pub use allocate::{allocate, allocate_reported};
pub use compare::compare_with_platform;
pub use platform::{check_platform_order, flag_price_mismatches, parse_rules};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::money::{round_fen, to_fen};
use crate::order::{Funder, Order};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PricingError {
    #[error("line {line_no}: {what}")]
    BadLine { line_no: u32, what: String },
    #[error("discount `{id}`: {what}")]
    BadDiscount { id: String, what: String },
    #[error("{0}")]
    BadRule(String),
    #[error("amount {0} out of range")]
    OutOfRange(Decimal),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceLine {
    pub line_no: u32,
    pub unit_price: Decimal,
    pub quantity: u32,
    pub unit_weight_g: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CouponKind {
    Fixed {
        amount: Decimal,
    },
    /// `percent_off` in percent (15 = 15% off), at most `cap` yuan.
    Percent {
        percent_off: Decimal,
        cap: Option<Decimal>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    pub id: String,
    pub funder: Funder,
    pub kind: CouponKind,
    #[serde(default)]
    pub min_spend: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdTier {
    /// Goods at or over this amount qualify ("over 99 …").
    pub over: Decimal,
    /// "… minus 20".
    pub minus: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMode {
    /// The best applicable tier.
    BestTier,
    /// Every full multiple of the (single) tier counts: over 99 minus 20 → 200 minus 40.
    PerMultiple { max_times: Option<u32> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdDiscount {
    pub id: String,
    pub funder: Funder,
    pub tiers: Vec<ThresholdTier>,
    pub mode: ThresholdMode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryFeeRule {
    pub base: Decimal,
    pub free_over: Option<Decimal>,
    pub included_weight_g: u64,
    pub surcharge_per_step: Decimal,
    pub step_g: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PackagingRule {
    pub per_order: Decimal,
    pub per_unit: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricingRules {
    pub thresholds: Vec<ThresholdDiscount>,
    pub delivery: DeliveryFeeRule,
    pub packaging: PackagingRule,
    /// Largest difference from a platform's own figures that is not an exception.
    pub tolerance: Decimal,
}

impl Default for PricingRules {
    fn default() -> Self {
        Self {
            thresholds: Vec::new(),
            delivery: DeliveryFeeRule {
                base: Decimal::ZERO,
                free_over: None,
                included_weight_g: 0,
                surcharge_per_step: Decimal::ZERO,
                step_g: 1000,
            },
            packaging: PackagingRule::default(),
            tolerance: Decimal::new(1, 2),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedDiscount {
    pub id: String,
    pub funder: Funder,
    pub amount: Decimal,
}

/// One line's share: `net = amount - merchant_discount - platform_discount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinePrice {
    pub line_no: u32,
    pub amount: Decimal,
    pub merchant_discount: Decimal,
    pub platform_discount: Decimal,
    pub net: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceBreakdown {
    pub goods: Decimal,
    pub discounts: Vec<AppliedDiscount>,
    pub merchant_discount: Decimal,
    pub platform_discount: Decimal,
    pub delivery_fee: Decimal,
    pub packaging_fee: Decimal,
    /// What the customer pays: `Σ line net + delivery_fee + packaging_fee`.
    pub total: Decimal,
    pub lines: Vec<LinePrice>,
}

/// Price lines with coupons under `rules`.
pub fn price(
    lines: &[PriceLine],
    coupons: &[Coupon],
    rules: &PricingRules,
) -> Result<PriceBreakdown, PricingError> {
    let mut amounts = Vec::with_capacity(lines.len());
    for l in lines {
        if l.unit_price.is_sign_negative() && !l.unit_price.is_zero() {
            return Err(PricingError::BadLine {
                line_no: l.line_no,
                what: format!("negative unit price {}", l.unit_price),
            });
        }
        let amount = l
            .unit_price
            .checked_mul(Decimal::from(l.quantity))
            .ok_or(PricingError::OutOfRange(l.unit_price))?;
        amounts.push((l.line_no, round_fen(amount)));
    }
    let goods: Decimal = amounts.iter().map(|(_, a)| *a).sum();
    let mut discounts = Vec::new();
    let mut remaining = goods;
    for t in &rules.thresholds {
        let amount = threshold_amount(t, goods)?.min(remaining);
        if amount > Decimal::ZERO {
            remaining -= amount;
            discounts.push(AppliedDiscount {
                id: t.id.clone(),
                funder: t.funder,
                amount,
            });
        }
    }
    for c in coupons {
        if c.min_spend.is_some_and(|m| remaining < m) {
            continue;
        }
        let amount = coupon_amount(c, remaining)?.min(remaining);
        if amount > Decimal::ZERO {
            remaining -= amount;
            discounts.push(AppliedDiscount {
                id: c.id.clone(),
                funder: c.funder,
                amount,
            });
        }
    }
    let weight: u64 = lines
        .iter()
        .map(|l| u64::from(l.unit_weight_g) * u64::from(l.quantity))
        .sum();
    let units: u64 = lines.iter().map(|l| u64::from(l.quantity)).sum();
    let delivery_fee = delivery_fee(&rules.delivery, remaining, weight)?;
    let packaging_fee =
        round_fen(rules.packaging.per_order + rules.packaging.per_unit * Decimal::from(units));
    let line_prices = allocate::allocate_discounts(&amounts, &discounts)?;
    let net: Decimal = line_prices.iter().map(|l| l.net).sum();
    let by = |f: Funder| {
        discounts
            .iter()
            .filter(|d| d.funder == f)
            .map(|d| d.amount)
            .sum()
    };
    Ok(PriceBreakdown {
        goods,
        merchant_discount: by(Funder::Merchant),
        platform_discount: by(Funder::Platform),
        discounts,
        delivery_fee,
        packaging_fee,
        total: net + delivery_fee + packaging_fee,
        lines: line_prices,
    })
}

/// Price an order's lines (channel-independent: the order's own money is not used).
pub fn price_order(
    order: &Order,
    coupons: &[Coupon],
    rules: &PricingRules,
) -> Result<PriceBreakdown, PricingError> {
    let lines: Vec<PriceLine> = order
        .lines
        .iter()
        .map(|l| PriceLine {
            line_no: l.line_no,
            unit_price: l.unit_price,
            quantity: l.quantity,
            unit_weight_g: l.unit_weight_g,
        })
        .collect();
    price(&lines, coupons, rules)
}

fn fen_exact(id: &str, d: Decimal) -> Result<Decimal, PricingError> {
    if d.is_sign_negative() && !d.is_zero() {
        return Err(PricingError::BadDiscount {
            id: id.into(),
            what: format!("negative amount {d}"),
        });
    }
    to_fen(d)
        .map(|_| d)
        .ok_or_else(|| PricingError::BadDiscount {
            id: id.into(),
            what: format!("{d} is finer than a fen"),
        })
}

fn threshold_amount(t: &ThresholdDiscount, goods: Decimal) -> Result<Decimal, PricingError> {
    for tier in &t.tiers {
        fen_exact(&t.id, tier.minus)?;
        if tier.over <= Decimal::ZERO {
            return Err(PricingError::BadDiscount {
                id: t.id.clone(),
                what: "a tier threshold must be positive".into(),
            });
        }
    }
    Ok(match t.mode {
        ThresholdMode::BestTier => t
            .tiers
            .iter()
            .filter(|tier| goods >= tier.over)
            .map(|tier| tier.minus)
            .max()
            .unwrap_or(Decimal::ZERO),
        ThresholdMode::PerMultiple { max_times } => {
            let [tier] = t.tiers.as_slice() else {
                return Err(PricingError::BadDiscount {
                    id: t.id.clone(),
                    what: "per-multiple needs exactly one tier".into(),
                });
            };
            let mut times = (goods / tier.over).floor();
            if let Some(max) = max_times {
                times = times.min(Decimal::from(max));
            }
            times * tier.minus
        }
    })
}

fn coupon_amount(c: &Coupon, base: Decimal) -> Result<Decimal, PricingError> {
    match &c.kind {
        CouponKind::Fixed { amount } => fen_exact(&c.id, *amount),
        CouponKind::Percent { percent_off, cap } => {
            if *percent_off <= Decimal::ZERO || *percent_off > Decimal::ONE_HUNDRED {
                return Err(PricingError::BadDiscount {
                    id: c.id.clone(),
                    what: format!("percent_off {percent_off} is not in (0, 100]"),
                });
            }
            let off = round_fen(base * *percent_off / Decimal::ONE_HUNDRED);
            Ok(match cap {
                Some(cap) => off.min(fen_exact(&c.id, *cap)?),
                None => off,
            })
        }
    }
}

fn delivery_fee(
    rule: &DeliveryFeeRule,
    after_discounts: Decimal,
    weight_g: u64,
) -> Result<Decimal, PricingError> {
    let base = match rule.free_over {
        Some(free) if after_discounts >= free => Decimal::ZERO,
        _ => rule.base,
    };
    let over = weight_g.saturating_sub(rule.included_weight_g);
    let steps = if over == 0 {
        0
    } else if rule.step_g == 0 {
        return Err(PricingError::BadRule(
            "delivery step_g must be positive".into(),
        ));
    } else {
        over.div_ceil(rule.step_g)
    };
    Ok(round_fen(
        base + rule.surcharge_per_step * Decimal::from(steps),
    ))
}

#[cfg(test)]
mod tests;
