use proptest::prelude::*;
use rust_decimal_macros::dec;

use super::*;
use crate::merge::fixtures;
use crate::order::{Discount, ExceptionCode, TemperatureZone};

fn line(n: u32, price: Decimal, q: u32) -> PriceLine {
    PriceLine {
        line_no: n,
        unit_price: price,
        quantity: q,
        unit_weight_g: 500,
    }
}

fn tiers(t: &[(Decimal, Decimal)], mode: ThresholdMode) -> ThresholdDiscount {
    ThresholdDiscount {
        id: "mj".into(),
        funder: Funder::Merchant,
        tiers: t
            .iter()
            .map(|(o, m)| ThresholdTier {
                over: *o,
                minus: *m,
            })
            .collect(),
        mode,
    }
}

fn fixed(id: &str, a: Decimal, funder: Funder) -> Coupon {
    Coupon {
        id: id.into(),
        funder,
        kind: CouponKind::Fixed { amount: a },
        min_spend: None,
    }
}

fn assert_consistent(b: &PriceBreakdown) {
    let nets: Decimal = b.lines.iter().map(|l| l.net).sum();
    assert_eq!(nets + b.delivery_fee + b.packaging_fee, b.total);
    assert_eq!(b.goods - b.merchant_discount - b.platform_discount, nets);
    assert_eq!(
        b.lines.iter().map(|l| l.merchant_discount).sum::<Decimal>(),
        b.merchant_discount
    );
    assert_eq!(
        b.lines.iter().map(|l| l.platform_discount).sum::<Decimal>(),
        b.platform_discount
    );
    for l in &b.lines {
        assert_eq!(l.amount - l.merchant_discount - l.platform_discount, l.net);
        assert!(l.net >= Decimal::ZERO);
    }
}

#[test]
fn table_of_discount_and_fee_rules() {
    let best = tiers(
        &[(dec!(99), dec!(20)), (dec!(199), dec!(50))],
        ThresholdMode::BestTier,
    );
    let multiple = tiers(
        &[(dec!(99), dec!(20))],
        ThresholdMode::PerMultiple { max_times: Some(2) },
    );
    let pct = Coupon {
        id: "p".into(),
        funder: Funder::Platform,
        kind: CouponKind::Percent {
            percent_off: dec!(15),
            cap: Some(dec!(10)),
        },
        min_spend: None,
    };
    let pct_small = Coupon {
        id: "p".into(),
        funder: Funder::Platform,
        kind: CouponKind::Percent {
            percent_off: dec!(10),
            cap: Some(dec!(10)),
        },
        min_spend: None,
    };
    let min_spend = Coupon {
        min_spend: Some(dec!(50)),
        ..fixed("m", dec!(5), Funder::Merchant)
    };
    let delivery = DeliveryFeeRule {
        base: dec!(5),
        free_over: Some(dec!(59)),
        included_weight_g: 3000,
        surcharge_per_step: dec!(2),
        step_g: 1000,
    };
    let rules = |t: Vec<ThresholdDiscount>| PricingRules {
        thresholds: t,
        ..PricingRules::default()
    };
    // (name, lines, coupons, rules, expected discount total, expected total)
    #[allow(clippy::type_complexity)]
    let cases: Vec<(
        &str,
        Vec<PriceLine>,
        Vec<Coupon>,
        PricingRules,
        Decimal,
        Decimal,
    )> = vec![
        (
            "no discounts",
            vec![line(1, dec!(10.50), 2)],
            vec![],
            rules(vec![]),
            dec!(0),
            dec!(21.00),
        ),
        (
            "满减 below threshold",
            vec![line(1, dec!(98.99), 1)],
            vec![],
            rules(vec![best.clone()]),
            dec!(0),
            dec!(98.99),
        ),
        (
            "满减 first tier",
            vec![line(1, dec!(99), 1)],
            vec![],
            rules(vec![best.clone()]),
            dec!(20),
            dec!(79),
        ),
        (
            "满减 best tier",
            vec![line(1, dec!(100), 2)],
            vec![],
            rules(vec![best.clone()]),
            dec!(50),
            dec!(150),
        ),
        (
            "满减 per multiple",
            vec![line(1, dec!(100), 2)],
            vec![],
            rules(vec![multiple.clone()]),
            dec!(40),
            dec!(160),
        ),
        (
            "满减 per multiple capped",
            vec![line(1, dec!(100), 5)],
            vec![],
            rules(vec![multiple.clone()]),
            dec!(40),
            dec!(460),
        ),
        (
            "fixed coupon",
            vec![line(1, dec!(30), 1)],
            vec![fixed("f", dec!(5), Funder::Merchant)],
            rules(vec![]),
            dec!(5),
            dec!(25),
        ),
        (
            "fixed coupon capped by goods",
            vec![line(1, dec!(3), 1)],
            vec![fixed("f", dec!(5), Funder::Merchant)],
            rules(vec![]),
            dec!(3),
            dec!(0),
        ),
        (
            "percent coupon capped",
            vec![line(1, dec!(100), 1)],
            vec![pct.clone()],
            rules(vec![]),
            dec!(10),
            dec!(90),
        ),
        (
            "percent coupon under cap",
            vec![line(1, dec!(33.33), 1)],
            vec![pct_small.clone()],
            rules(vec![]),
            dec!(3.33),
            dec!(30.00),
        ),
        (
            "min spend not met after 满减",
            vec![line(1, dec!(60), 1)],
            vec![min_spend.clone()],
            rules(vec![tiers(
                &[(dec!(59), dec!(15))],
                ThresholdMode::BestTier,
            )]),
            dec!(15),
            dec!(45),
        ),
        (
            "min spend met",
            vec![line(1, dec!(60), 1)],
            vec![min_spend.clone()],
            rules(vec![]),
            dec!(5),
            dec!(55),
        ),
        (
            "delivery base",
            vec![line(1, dec!(20), 1)],
            vec![],
            PricingRules {
                delivery: delivery.clone(),
                ..PricingRules::default()
            },
            dec!(0),
            dec!(25),
        ),
        (
            "delivery free over",
            vec![line(1, dec!(60), 1)],
            vec![],
            PricingRules {
                delivery: delivery.clone(),
                ..PricingRules::default()
            },
            dec!(0),
            dec!(60),
        ),
        // 8 × 500 g = 4 kg: one started kilo over 3 kg → +2, base waived.
        (
            "delivery weight surcharge",
            vec![line(1, dec!(10), 8)],
            vec![],
            PricingRules {
                delivery: delivery.clone(),
                ..PricingRules::default()
            },
            dec!(0),
            dec!(82),
        ),
        (
            "packaging",
            vec![line(1, dec!(10), 3)],
            vec![],
            PricingRules {
                packaging: PackagingRule {
                    per_order: dec!(1),
                    per_unit: dec!(0.5),
                },
                ..PricingRules::default()
            },
            dec!(0),
            dec!(32.5),
        ),
    ];
    for (name, lines, coupons, rules, disc, total) in cases {
        let b = price(&lines, &coupons, &rules).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            b.merchant_discount + b.platform_discount,
            disc,
            "{name}: {b:?}"
        );
        assert_eq!(b.total, total, "{name}: {b:?}");
        assert_consistent(&b);
    }
}

#[test]
fn funders_are_kept_apart_down_to_lines() {
    let lines = vec![line(1, dec!(30), 1), line(2, dec!(70), 1)];
    let coupons = vec![
        fixed("merchant", dec!(10), Funder::Merchant),
        fixed("platform", dec!(5), Funder::Platform),
    ];
    let b = price(&lines, &coupons, &PricingRules::default()).unwrap();
    assert_eq!(
        (b.merchant_discount, b.platform_discount),
        (dec!(10), dec!(5))
    );
    assert_eq!(b.lines[0].merchant_discount, dec!(3));
    assert_eq!(b.lines[1].merchant_discount, dec!(7));
    assert_eq!(
        b.lines[0].platform_discount + b.lines[1].platform_discount,
        dec!(5)
    );
    assert_consistent(&b);
}

#[test]
fn rounding_remainder_goes_to_largest_remainder_then_lowest_line() {
    // 1.00 over three equal lines: 0.34 to line 1 (tie, lowest number), 0.33 to the others.
    let lines = [(1, dec!(1)), (2, dec!(1)), (3, dec!(1))];
    assert_eq!(
        allocate(&lines, dec!(1)).unwrap(),
        vec![dec!(0.34), dec!(0.33), dec!(0.33)]
    );
    // 0.10 over 1.00 / 2.00: exact 0.0333… / 0.0666… → 0.03 / 0.07 (largest remainder).
    assert_eq!(
        allocate(&[(1, dec!(1)), (2, dec!(2))], dec!(0.10)).unwrap(),
        vec![dec!(0.03), dec!(0.07)]
    );
    assert!(allocate(&[(1, dec!(1))], dec!(2)).is_err());
}

#[test]
fn invalid_rules_are_errors_not_guesses() {
    let bad_pct = Coupon {
        id: "x".into(),
        funder: Funder::Merchant,
        kind: CouponKind::Percent {
            percent_off: dec!(150),
            cap: None,
        },
        min_spend: None,
    };
    assert!(price(
        &[line(1, dec!(10), 1)],
        &[bad_pct],
        &PricingRules::default()
    )
    .is_err());
    assert!(price(
        &[line(1, dec!(10), 1)],
        &[fixed("f", dec!(0.001), Funder::Merchant)],
        &PricingRules::default()
    )
    .is_err());
    let two_tiers = tiers(
        &[(dec!(10), dec!(1)), (dec!(20), dec!(3))],
        ThresholdMode::PerMultiple { max_times: None },
    );
    assert!(price(
        &[line(1, dec!(10), 1)],
        &[],
        &PricingRules {
            thresholds: vec![two_tiers],
            ..PricingRules::default()
        }
    )
    .is_err());
}

#[test]
fn platform_figures_are_compared_not_replaced() {
    let mut o = fixtures::order("meituan", "M1", "c1", fixtures::home(), 0);
    o.lines = vec![
        fixtures::line(
            1,
            "milk",
            2,
            dec!(12.50),
            1000,
            1000,
            TemperatureZone::Chilled,
        ),
        fixtures::line(2, "bread", 1, dec!(8), 300, 900, TemperatureZone::Ambient),
    ];
    o.money.goods = dec!(33);
    o.money.discounts = vec![Discount {
        funder: Funder::Platform,
        label: "红包".into(),
        amount: dec!(3),
    }];
    o.money.paid = dec!(30);
    let coupons = vec![fixed("红包", dec!(3), Funder::Platform)];
    let rules = PricingRules::default();
    let ours = price_order(&o, &coupons, &rules).unwrap();
    assert_eq!(compare_with_platform(&o, &ours, rules.tolerance), None);
    let mut drifted = o.clone();
    drifted.money.paid = dec!(29.50);
    let e = compare_with_platform(&drifted, &ours, rules.tolerance).unwrap();
    assert_eq!(e.code, ExceptionCode::PriceMismatch);
    assert!(e.detail.contains("paid"), "{}", e.detail);
    assert_eq!(
        drifted.money.paid,
        dec!(29.50),
        "the platform's figure is kept"
    );
    // The platform's own discount allocated to lines, for a single-line refund.
    let lines = allocate_reported(&o).unwrap();
    assert_eq!(
        lines.iter().map(|l| l.platform_discount).sum::<Decimal>(),
        dec!(3)
    );
    assert_eq!(lines[0].net + lines[1].net, dec!(30));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn line_totals_always_sum_to_the_order_total(
        prices in prop::collection::vec((1i64..100_000, 1u32..20), 1..12),
        fixed_fen in prop::collection::vec((0i64..20_000, any::<bool>()), 0..4),
        pct in prop::option::of((1i64..100, prop::option::of(1i64..5_000))),
        tier in prop::option::of((100i64..20_000, 1i64..5_000, any::<bool>())),
        fee in 0i64..1_000,
        pack in 0i64..200,
    ) {
        let lines: Vec<PriceLine> = prices.iter().enumerate().map(|(i, (p, q))| line(i as u32 + 1, Decimal::new(*p, 2), *q)).collect();
        let mut coupons: Vec<Coupon> = fixed_fen.iter().enumerate().map(|(i, (f, plat))| fixed(&format!("f{i}"), Decimal::new(*f, 2), if *plat { Funder::Platform } else { Funder::Merchant })).collect();
        if let Some((p, cap)) = pct {
            coupons.push(Coupon { id: "pct".into(), funder: Funder::Platform, kind: CouponKind::Percent { percent_off: Decimal::from(p), cap: cap.map(|c| Decimal::new(c, 2)) }, min_spend: None });
        }
        let thresholds = tier.map(|(over, minus, multiple)| tiers(&[(Decimal::new(over, 2), Decimal::new(minus, 2))], if multiple { ThresholdMode::PerMultiple { max_times: None } } else { ThresholdMode::BestTier })).into_iter().collect();
        let rules = PricingRules {
            thresholds,
            delivery: DeliveryFeeRule { base: Decimal::new(fee, 2), free_over: Some(dec!(88)), included_weight_g: 2000, surcharge_per_step: dec!(1.5), step_g: 1000 },
            packaging: PackagingRule { per_order: Decimal::new(pack, 2), per_unit: dec!(0.1) },
            tolerance: dec!(0.01),
        };
        let b = price(&lines, &coupons, &rules).unwrap();
        assert_consistent(&b);
        let applied: Decimal = b.discounts.iter().map(|d| d.amount).sum();
        prop_assert_eq!(applied, b.merchant_discount + b.platform_discount);
        prop_assert!(applied <= b.goods);
        for l in &b.lines {
            prop_assert_eq!(l.net.scale() <= 2, true);
        }
    }
}
