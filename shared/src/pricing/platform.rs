//! A channel's pricing rules as stored configuration, and the check of a platform
//! order's own figures against the one calculation.
//!
//! What we can recompute: goods from the line prices, our threshold discounts (满减,
//! the configured tiers), the delivery and packaging fees. What we cannot: the
//! platform's own coupons and activities, which the push names only by label and
//! amount. So every discount on the order whose label is not one of our thresholds'
//! ids goes into the calculation as a fixed coupon with its funder, and everything
//! else is ours. A difference beyond the rules' tolerance in any figure is a
//! `price_mismatch` exception on the order (the order is kept, as always).

use rust_decimal::Decimal;

use super::{compare_with_platform, price_order, Coupon, CouponKind, PricingRules, ThresholdMode};
use crate::order::{ExceptionCode, Order, OrderException};

/// Larger than any real grocery rule; bounds every product and sum the calculation
/// makes far below `Decimal`'s range.
const MAX_RULE_YUAN: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// Parse and check a channel's pricing rules; every problem with its JSON path.
pub fn parse_rules(json: &str) -> Result<PricingRules, Vec<String>> {
    let rules: PricingRules = serde_json::from_str(json).map_err(|e| vec![format!("$: {e}")])?;
    let mut errors = Vec::new();
    let mut amount = |path: String, v: Decimal| {
        if v.is_sign_negative() && !v.is_zero() {
            errors.push(format!("{path}: {v} is negative"));
        } else if v > MAX_RULE_YUAN {
            errors.push(format!("{path}: {v} is over {MAX_RULE_YUAN} yuan"));
        } else if crate::money::to_fen(v).is_none() {
            errors.push(format!("{path}: {v} is finer than a fen"));
        }
    };
    for (i, t) in rules.thresholds.iter().enumerate() {
        for (j, tier) in t.tiers.iter().enumerate() {
            amount(format!("$.thresholds[{i}].tiers[{j}].over"), tier.over);
            amount(format!("$.thresholds[{i}].tiers[{j}].minus"), tier.minus);
        }
    }
    let d = &rules.delivery;
    amount("$.delivery.base".into(), d.base);
    if let Some(free) = d.free_over {
        amount("$.delivery.free_over".into(), free);
    }
    amount("$.delivery.surcharge_per_step".into(), d.surcharge_per_step);
    amount("$.packaging.per_order".into(), rules.packaging.per_order);
    amount("$.packaging.per_unit".into(), rules.packaging.per_unit);
    amount("$.tolerance".into(), rules.tolerance);
    for (i, t) in rules.thresholds.iter().enumerate() {
        if t.tiers.is_empty() {
            errors.push(format!("$.thresholds[{i}].tiers: no tier"));
        }
        if t.tiers.iter().any(|tier| tier.over <= Decimal::ZERO) {
            errors.push(format!(
                "$.thresholds[{i}].tiers: a threshold must be positive"
            ));
        }
        if matches!(t.mode, ThresholdMode::PerMultiple { .. }) && t.tiers.len() != 1 {
            errors.push(format!(
                "$.thresholds[{i}].mode: per_multiple needs exactly one tier"
            ));
        }
    }
    if d.step_g == 0 && !d.surcharge_per_step.is_zero() {
        errors.push("$.delivery.step_g: must be positive with a surcharge".into());
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

/// `Some(price_mismatch)` when the platform's figures differ from ours beyond the
/// tolerance, or when the order cannot be priced at all (say why, never guess).
pub fn check_platform_order(order: &Order, rules: &PricingRules) -> Option<OrderException> {
    let ours_ids: Vec<&str> = rules.thresholds.iter().map(|t| t.id.as_str()).collect();
    let coupons: Vec<Coupon> = order
        .money
        .discounts
        .iter()
        .filter(|d| !ours_ids.contains(&d.label.as_str()))
        .map(|d| Coupon {
            id: d.label.clone(),
            funder: d.funder,
            kind: CouponKind::Fixed { amount: d.amount },
            min_spend: None,
        })
        .collect();
    match price_order(order, &coupons, rules) {
        Ok(ours) => compare_with_platform(order, &ours, rules.tolerance),
        Err(e) => Some(OrderException::new(
            ExceptionCode::PriceMismatch,
            format!("cannot price the order under the channel's rules: {e}"),
        )),
    }
}

/// Check every order of a push under its channel's rules; a mismatch is kept on the
/// order as an exception before it is stored.
pub fn flag_price_mismatches(events: &mut [crate::channel::ChannelEvent], rules: &PricingRules) {
    for ev in events {
        if let crate::channel::ChannelEvent::Order { order } = ev {
            if let Some(exc) = check_platform_order(order, rules) {
                if !order.exceptions.iter().any(|e| e.code == exc.code) {
                    order.exceptions.push(exc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::fixtures::{home, order};
    use crate::order::{Discount, Funder};
    use rust_decimal_macros::dec;

    fn rules() -> PricingRules {
        parse_rules(
            r#"{"thresholds": [{"id": "mj-99-20", "funder": "merchant",
                 "tiers": [{"over": "99", "minus": "20"}], "mode": "best_tier"}],
                "delivery": {"base": "5", "free_over": "59", "included_weight_g": 3000,
                             "surcharge_per_step": "2", "step_g": 1000},
                "packaging": {"per_order": "1", "per_unit": "0"},
                "tolerance": "0.01"}"#,
        )
        .unwrap()
    }

    /// Ten apples at 11.00 (110 goods, over 99 minus 20 → 90), a platform coupon of 3,
    /// free delivery over 59, packaging 1: the customer pays 88.
    fn platform_order(paid: Decimal, merchant_discount: Decimal) -> Order {
        let mut o = order("meituan", "M1", "phone:1", home(), 0);
        o.lines[0].quantity = 10;
        o.lines[0].unit_price = dec!(11.00);
        o.lines[0].unit_weight_g = 200;
        o.money.goods = dec!(110.00);
        o.money.discounts = vec![
            Discount {
                funder: Funder::Merchant,
                label: "mj-99-20".into(),
                amount: merchant_discount,
            },
            Discount {
                funder: Funder::Platform,
                label: "美团红包".into(),
                amount: dec!(3.00),
            },
        ];
        o.money.delivery_fee = dec!(0);
        o.money.packaging_fee = dec!(1.00);
        o.money.paid = paid;
        o
    }

    #[test]
    fn agreeing_figures_raise_nothing() {
        assert_eq!(
            check_platform_order(&platform_order(dec!(88.00), dec!(20.00)), &rules()),
            None
        );
    }

    #[test]
    fn a_wrongly_applied_threshold_is_a_price_mismatch_naming_the_figures() {
        let e = check_platform_order(&platform_order(dec!(78.00), dec!(30.00)), &rules()).unwrap();
        assert_eq!(e.code, ExceptionCode::PriceMismatch);
        assert!(e.detail.contains("merchant discount"), "{}", e.detail);
        assert!(e.detail.contains("paid"), "{}", e.detail);
    }

    #[test]
    fn within_tolerance_is_not_an_exception() {
        let mut r = rules();
        r.tolerance = dec!(0.05);
        assert_eq!(
            check_platform_order(&platform_order(dec!(88.04), dec!(20.00)), &r),
            None
        );
        assert!(check_platform_order(&platform_order(dec!(88.06), dec!(20.00)), &r).is_some());
    }

    #[test]
    fn bad_rules_are_refused_with_paths() {
        let errs = parse_rules(
            r#"{"thresholds": [{"id": "x", "funder": "merchant", "tiers": [{"over": "0", "minus": "-1"}], "mode": "best_tier"}],
                "delivery": {"base": "5", "free_over": null, "included_weight_g": 0, "surcharge_per_step": "2", "step_g": 0},
                "packaging": {"per_order": "0.001", "per_unit": "0"}, "tolerance": "0.01"}"#,
        )
        .unwrap_err();
        let all = errs.join("\n");
        for path in [
            "$.thresholds[0].tiers[0].minus",
            "$.packaging.per_order",
            "$.thresholds[0].tiers: a threshold must be positive",
            "$.delivery.step_g",
        ] {
            assert!(all.contains(path), "{path} missing from\n{all}");
        }
        assert!(parse_rules("{").is_err());
        let huge = r#"{"thresholds": [], "delivery": {"base": "100000000000", "free_over": null, "included_weight_g": 0, "surcharge_per_step": "0", "step_g": 1000}, "packaging": {"per_order": "0", "per_unit": "0"}, "tolerance": "0.01"}"#;
        assert!(parse_rules(huge).unwrap_err()[0].contains("$.delivery.base"));
    }
}
