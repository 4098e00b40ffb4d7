//! Whole reconciliations on fixture bills with seeded differences of every class: the
//! report must find exactly those and nothing else.

use std::collections::BTreeSet;

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::fixtures::*;
use super::*;
use crate::order::ChannelId;

type Found = (DifferenceClass, String, Subject, Option<Component>);

fn found(report: &Report) -> BTreeSet<Found> {
    report
        .differences
        .iter()
        .map(|d| (d.class, d.key.clone(), d.subject, d.component))
        .collect()
}

fn f(class: DifferenceClass, key: &str, subject: Subject, c: Option<Component>) -> Found {
    (class, key.to_string(), subject, c)
}

fn request(channel: &str, source: StatementSource, id: &str) -> ReconcileRequest {
    ReconcileRequest {
        channel: ChannelId::new(channel),
        business_date: day("2026-11-24"),
        source,
        statement_id: id.to_string(),
    }
}

fn app_orders() -> Vec<OrderSpec> {
    let o = |id: &str, at: &str, goods| OrderSpec::new("app", id, at, goods);
    vec![
        o("A1", "2026-11-24 09:00:00", dec!(30.00)),
        o("A2", "2026-11-24 09:10:00", dec!(25.00)),
        o("A3", "2026-11-24 09:20:00", dec!(11.00)),
        o("A4", "2026-11-24 09:30:00", dec!(9.90)).cancelled(),
        o("A5", "2026-11-24 09:40:00", dec!(19.90)),
        o("A6", "2026-11-24 23:59:30", dec!(66.00)),
        o("A7", "2026-11-23 23:58:00", dec!(7.00)),
        o("A8", "2026-11-24 08:00:00", dec!(40.00)).refund("2026-11-24 15:00:00", dec!(10.00)),
        o("A9", "2026-11-24 08:30:00", dec!(12.00)).refund("2026-11-24 16:00:00", dec!(3.00)),
        o("A10", "2026-11-24 10:30:00", dec!(15.00)),
        o("A11", "2026-11-24 11:00:00", dec!(5.00)).cancelled(),
        o("A12", "2026-11-23 12:00:00", dec!(8.00)),
        o("A13", "2026-11-23 23:59:00", dec!(9.00)),
    ]
}

fn wx_day_rows() -> Vec<WxRow> {
    let p = WxRow::pay;
    vec![
        p("2026-11-24 09:00:01", "A1", dec!(30.00)),
        p("2026-11-24 09:10:01", "A2", dec!(24.00)),
        p("2026-11-24 09:15:00", "X9", dec!(3.00)),
        p("2026-11-24 09:30:01", "A4", dec!(9.90)),
        p("2026-11-24 09:40:01", "A5", dec!(19.90)),
        p("2026-11-24 09:40:01", "A5", dec!(19.90)),
        WxRow::refund("2026-11-24 12:00:00", "R404", "50300404", dec!(4.00)),
        p("2026-11-24 00:00:10", "A7", dec!(7.00)),
        p("2026-11-24 08:00:01", "A8", dec!(40.00)),
        WxRow::refund("2026-11-24 15:00:05", "A8", "50300008", dec!(8.00)),
        p("2026-11-24 08:30:01", "A9", dec!(12.00)),
        p("2026-11-24 10:30:01", "A10", dec!(15.00)),
        WxRow::refund("2026-11-24 17:00:00", "A10", "50300010", dec!(2.00)),
        p("2026-11-24 00:00:30", "A13", dec!(9.50)),
    ]
}

fn ours_of(specs: &[OrderSpec]) -> Vec<OurRecord> {
    specs
        .iter()
        .map(|s| OurRecord::from_order(&s.order()))
        .collect()
}

fn wechat_report(rows: &[WxRow], statement_id: &str, ours: Vec<OurRecord>) -> Report {
    let day_bill = import_chunks(WechatBillParser::new(), [wechat_bill(rows).as_bytes()]).unwrap();
    let next = wechat_bill(&[WxRow::pay("2026-11-25 00:00:02", "A6", dec!(66.00))]);
    let next_bill = import_chunks(WechatBillParser::new(), [next.as_bytes()]).unwrap();
    let bills = DayBills {
        day: &day_bill,
        previous_day: &[],
        next_day: &next_bill,
    };
    reconcile_day(
        &request("app", StatementSource::WechatPay, statement_id),
        bills,
        ours,
    )
}

#[test]
fn wechat_day_finds_exactly_the_seeded_differences() {
    use DifferenceClass::*;
    let report = wechat_report(&wx_day_rows(), "wx-1", ours_of(&app_orders()));
    let expected: BTreeSet<Found> = [
        f(
            AmountMismatch,
            "A2",
            Subject::Payment,
            Some(Component::Paid),
        ),
        f(MissingInBill, "A3", Subject::Payment, None),
        f(MissingInOurs, "X9", Subject::Payment, None),
        f(StatusMismatch, "A4", Subject::Payment, None),
        f(DuplicateLine, "A5", Subject::Payment, None),
        f(RefundWithoutOrder, "R404", Subject::Refund, None),
        f(CrossDay, "A6", Subject::Payment, None),
        f(CrossDay, "A7", Subject::Payment, None),
        f(CrossDay, "A13", Subject::Payment, None),
        f(
            AmountMismatch,
            "A13",
            Subject::Payment,
            Some(Component::Paid),
        ),
        f(
            AmountMismatch,
            "A8",
            Subject::Refund,
            Some(Component::Refund),
        ),
        f(
            MissingInBill,
            "A9",
            Subject::Refund,
            Some(Component::Refund),
        ),
        f(MissingInOurs, "A10", Subject::Refund, None),
    ]
    .into_iter()
    .collect();
    assert_eq!(found(&report), expected);
    assert_eq!(report.differences.len(), expected.len());

    let get = |class, key: &str| {
        report
            .differences
            .iter()
            .find(|d| d.class == class && d.key == key)
            .unwrap()
    };
    let a2 = get(AmountMismatch, "A2");
    assert_eq!(
        (a2.ours.as_deref(), a2.theirs.as_deref()),
        (Some("25.00"), Some("24.00"))
    );
    assert_eq!(a2.bill_lines, vec![3]);
    assert_eq!(a2.keys.transaction_id.as_deref(), Some("42000A2"));
    let a4 = get(StatusMismatch, "A4");
    assert_eq!(
        (a4.ours.as_deref(), a4.theirs.as_deref()),
        (Some("cancelled"), Some("settled"))
    );
    assert_eq!(get(DuplicateLine, "A5").bill_lines, vec![6, 7]);
    assert_eq!(get(CrossDay, "A6").other_date, Some(day("2026-11-25")));
    assert_eq!(get(CrossDay, "A7").other_date, Some(day("2026-11-23")));
    let a8 = get(AmountMismatch, "A8");
    assert_eq!(
        (a8.ours.as_deref(), a8.theirs.as_deref()),
        (Some("10.00"), Some("8.00"))
    );

    let s = &report.summary;
    assert_eq!(s.theirs.payments, 11);
    assert_eq!(s.theirs.refunds, 3);
    assert_eq!(
        s.ours.payments, 10,
        "orders paid on the day, A7 and A12 are the day before"
    );
    assert_eq!(s.ours.refunds, 2);
    assert_eq!(s.ours.totals.get(Component::Refund), Some(dec!(13.00)));
    assert_eq!(s.theirs.totals.get(Component::Paid), Some(dec!(190.20)));
    assert_eq!(s.differences.values().sum::<u64>(), 13);
    assert_eq!(s.differences.get(&CrossDay), Some(&3));
}

#[test]
fn an_order_passed_twice_is_one_order() {
    let mut ours = ours_of(&app_orders());
    ours.extend(ours_of(&app_orders()[..4]));
    let twice = wechat_report(&wx_day_rows(), "wx-1", ours);
    assert_eq!(
        twice,
        wechat_report(&wx_day_rows(), "wx-1", ours_of(&app_orders()))
    );
}

#[test]
fn the_report_is_deterministic_whatever_the_input_order() {
    let a = wechat_report(&wx_day_rows(), "wx-1", ours_of(&app_orders()));
    let mut reversed = ours_of(&app_orders());
    reversed.reverse();
    let b = wechat_report(&wx_day_rows(), "wx-1", reversed);
    assert_eq!(a.to_json(), b.to_json());
    assert_eq!(a.to_csv(), b.to_csv());
    let back: Report = serde_json::from_str(&a.to_json()).unwrap();
    assert_eq!(back, a);
    let csv = a.to_csv();
    assert_eq!(csv.lines().count(), 14);
    let summary = a.summary_csv();
    assert!(
        summary.contains("app,2026-11-24,count,payments,10,11\n"),
        "{summary}"
    );
    assert!(summary.contains("app,2026-11-24,differences,cross_day,3,\n"));
    assert_eq!(summary, b.summary_csv());
    assert!(csv.lines().any(
        |l| l.starts_with("app,2026-11-24,amount_mismatch,A2,payment,paid,25.00,24.00,app-A2,")
    ));
}

#[test]
fn a_corrected_statement_supersedes_and_the_changes_are_listed() {
    let old = wechat_report(&wx_day_rows(), "wx-1", ours_of(&app_orders()));
    let mut rows = wx_day_rows();
    rows[1].order_amount = dec!(25.00); // A2 corrected
    rows.remove(2); // X9 withdrawn
    rows.push(WxRow::pay("2026-11-24 09:20:01", "A3", dec!(11.50))); // A3 now listed, wrongly
    let new = wechat_report(&rows, "wx-2", ours_of(&app_orders()));
    let changes = diff_reports(&old, &new);
    assert_eq!(
        (
            changes.old_statement_id.as_str(),
            changes.new_statement_id.as_str()
        ),
        ("wx-1", "wx-2")
    );
    let keys = |v: &[Difference]| {
        v.iter()
            .map(|d| (d.class, d.key.clone()))
            .collect::<Vec<_>>()
    };
    use DifferenceClass::*;
    assert_eq!(
        keys(&changes.resolved),
        vec![
            (MissingInOurs, "X9".into()),
            (MissingInBill, "A3".into()),
            (AmountMismatch, "A2".into())
        ]
    );
    assert_eq!(keys(&changes.appeared), vec![(AmountMismatch, "A3".into())]);
    assert!(changes.changed.is_empty());
    assert!(changes.their_totals_changed.contains_key(&Component::Paid));
    assert!(diff_reports(&new, &new).is_empty());
}

#[test]
fn alipay_day_through_zip_and_gbk() {
    use DifferenceClass::*;
    let row = |no: &str, id: &str, refund: bool, amount, time: &str| AliRow {
        trade_no: format!("20261124220010{no}"),
        merchant_order_id: id.into(),
        refund,
        time: time.into(),
        amount,
        refund_batch: if refund {
            format!("RF{id}{no}")
        } else {
            String::new()
        },
    };
    let rows = vec![
        row("01", "B1", false, dec!(18.80), "2026-11-24 10:00:00"),
        row("02", "B2", false, dec!(41.00), "2026-11-24 10:05:00"),
        row("03", "B3", false, dec!(9.00), "2026-11-24 10:06:00"),
        row("03", "B3", false, dec!(9.00), "2026-11-24 10:06:00"),
        row("04", "Z1", false, dec!(5.00), "2026-11-24 10:07:00"),
        row("05", "NOPE", true, dec!(6.00), "2026-11-24 10:08:00"),
        row("01", "B1", true, dec!(8.80), "2026-11-24 19:00:00"),
    ];
    let lines = import_alipay_zip(&alipay_zip(&gbk(&alipay_csv(&rows))), 4096).unwrap();
    let o = |id: &str, at: &str, goods| OrderSpec::new("miniprogram", id, at, goods);
    let ours = ours_of(&[
        o("B1", "2026-11-24 09:59:58", dec!(18.80)).refund("2026-11-24 19:00:00", dec!(8.80)),
        o("B2", "2026-11-24 10:04:58", dec!(40.00)),
        o("B3", "2026-11-24 10:05:58", dec!(9.00)),
        o("B4", "2026-11-24 10:09:00", dec!(3.00)),
    ]);
    let report = reconcile_day(
        &request("miniprogram", StatementSource::Alipay, "ali-1"),
        DayBills {
            day: &lines,
            ..DayBills::default()
        },
        ours,
    );
    let expected: BTreeSet<Found> = [
        f(
            AmountMismatch,
            "B2",
            Subject::Payment,
            Some(Component::Paid),
        ),
        f(DuplicateLine, "B3", Subject::Payment, None),
        f(MissingInOurs, "Z1", Subject::Payment, None),
        f(RefundWithoutOrder, "NOPE", Subject::Refund, None),
        f(MissingInBill, "B4", Subject::Payment, None),
    ]
    .into_iter()
    .collect();
    assert_eq!(found(&report), expected);
    assert_eq!(report.differences.len(), expected.len());
}

/// One Meituan statement row.
struct Mt {
    id: &'static str,
    status: &'static str,
    goods: Decimal,
    platform: Decimal,
    merchant: Decimal,
    delivery: Decimal,
    packaging: Decimal,
    commission: Decimal,
    refund: Decimal,
    settled: Decimal,
}

fn mt(id: &'static str, s: &OrderSpec, commission: Decimal, refund: Decimal) -> Mt {
    Mt {
        id,
        status: "已完成",
        goods: s.goods,
        platform: s.platform_discount,
        merchant: s.merchant_discount,
        delivery: s.delivery,
        packaging: s.packaging,
        commission,
        refund,
        settled: s.goods - s.merchant_discount + s.delivery + s.packaging - commission - refund,
    }
}

/// A row whose columns were changed, settled again by its own columns: a platform's
/// line adds up (one that does not is a commission difference, see M8).
fn resettled(mut r: Mt) -> Mt {
    r.settled = r.goods - r.merchant + r.delivery + r.packaging - r.commission - r.refund;
    r
}

fn meituan_statement(rows: &[Mt]) -> Vec<u8> {
    let mut s = String::from("订单号,账单日期,订单状态,商品总价,美团补贴,商家活动支出,配送费,打包费,佣金,退款金额,商家应收金额\r\n");
    let line = |id: &str, date: &str, st: &str, v: [Decimal; 8]| {
        let nums: Vec<String> = v.iter().map(|d| format!("{d:.2}")).collect();
        format!("{id},{date},{st},{}\r\n", nums.join(","))
    };
    let vals = |r: &Mt| {
        [
            r.goods,
            r.platform,
            r.merchant,
            r.delivery,
            r.packaging,
            r.commission,
            r.refund,
            r.settled,
        ]
    };
    let mut total = [Decimal::ZERO; 8];
    for r in rows {
        s.push_str(&line(r.id, "2026-11-24", r.status, vals(r)));
        for (t, v) in total.iter_mut().zip(vals(r)) {
            *t += v;
        }
    }
    s.push_str(&line("合计", "", "", total));
    gbk(&s)
}

#[test]
fn meituan_statement_classifies_every_component() {
    use DifferenceClass::*;
    let o = |id: &str, goods| {
        OrderSpec::new("meituan", id, "2026-11-24 12:00:00", goods)
            .discounts(dec!(3.00), dec!(5.00))
            .fees(dec!(4.00), dec!(1.00))
    };
    let specs: Vec<OrderSpec> = vec![
        o("M1", dec!(50.00)),
        o("M2", dec!(60.00)),
        o("M3", dec!(50.00)),
        o("M4", dec!(50.00)),
        o("M5", dec!(50.00)),
        o("M6", dec!(50.00)),
        o("M7", dec!(50.00)).refund("2026-11-24 13:00:00", dec!(5.00)),
        o("M8", dec!(50.00)),
        o("M9", dec!(50.00)),
        o("M10", dec!(50.00)).cancelled(),
        o("M11", dec!(50.00)),
        OrderSpec::new("meituan", "M15", "2026-11-23 23:50:00", dec!(20.00)),
        // Earlier orders refunded today: one with its refund line, one without.
        OrderSpec::new("meituan", "M16", "2026-11-20 12:00:00", dec!(30.00))
            .refund("2026-11-24 09:00:00", dec!(7.00)),
        OrderSpec::new("meituan", "M17", "2026-11-20 12:00:00", dec!(30.00))
            .refund("2026-11-24 09:00:00", dec!(2.00)),
    ];
    let c = dec!(4.20);
    let by = |id: &str| specs.iter().find(|s| s.id == id).unwrap();
    let mut rows = vec![mt("M1", by("M1"), c, Decimal::ZERO)];
    let mut r = mt("M2", by("M2"), c, Decimal::ZERO);
    r.goods = dec!(61.00);
    rows.push(resettled(r));
    let mut r = mt("M3", by("M3"), c, Decimal::ZERO);
    r.merchant = dec!(2.00);
    rows.push(resettled(r));
    let mut r = mt("M4", by("M4"), c, Decimal::ZERO);
    r.platform = dec!(6.00);
    rows.push(r);
    let mut r = mt("M5", by("M5"), c, Decimal::ZERO);
    r.delivery = dec!(3.50);
    rows.push(resettled(r));
    let mut r = mt("M6", by("M6"), c, Decimal::ZERO);
    r.packaging = dec!(0.00);
    rows.push(resettled(r));
    rows.push(mt("M7", by("M7"), c, dec!(4.00)));
    let mut r = mt("M8", by("M8"), c, Decimal::ZERO);
    r.settled -= dec!(0.10);
    rows.push(r);
    let mut r = mt("M9", by("M9"), c, Decimal::ZERO);
    r.status = "已取消";
    rows.push(r);
    rows.push(mt("M10", by("M10"), c, Decimal::ZERO));
    rows.push(mt("M12", &o("M12", dec!(10.00)), c, Decimal::ZERO));
    rows.push(mt("M1", by("M1"), c, Decimal::ZERO));
    let mut r = mt(
        "M14",
        &OrderSpec::new("meituan", "M14", "2026-11-24 12:00:00", Decimal::ZERO),
        Decimal::ZERO,
        dec!(6.00),
    );
    r.settled = dec!(-6.00);
    rows.push(r);
    rows.push(mt("M15", by("M15"), c, Decimal::ZERO));
    let mut r = mt(
        "M16",
        &OrderSpec::new("meituan", "M16", "2026-11-24 12:00:00", Decimal::ZERO),
        Decimal::ZERO,
        dec!(7.00),
    );
    r.settled = dec!(-7.00);
    rows.push(r);

    let bytes = meituan_statement(&rows);
    let parser = StatementParser::new(statement_mappings::meituan()).unwrap();
    let lines = import_chunks(parser, bytes.chunks(13)).unwrap();
    let report = reconcile_day(
        &request("meituan", StatementSource::PlatformStatement, "mt-1"),
        DayBills {
            day: &lines,
            ..DayBills::default()
        },
        ours_of(&specs),
    );
    let am = |k: &str, c| f(AmountMismatch, k, Subject::Payment, Some(c));
    let expected: BTreeSet<Found> = [
        am("M2", Component::Goods),
        am("M3", Component::MerchantDiscount),
        am("M4", Component::PlatformDiscount),
        am("M5", Component::DeliveryFee),
        am("M6", Component::PackagingFee),
        am("M7", Component::Refund),
        // Its settled amount is 0.10 short of its own columns: put down to commission.
        am("M8", Component::Commission),
        f(StatusMismatch, "M9", Subject::Payment, None),
        f(StatusMismatch, "M10", Subject::Payment, None),
        f(MissingInBill, "M11", Subject::Payment, None),
        f(MissingInOurs, "M12", Subject::Payment, None),
        f(DuplicateLine, "M1", Subject::Payment, None),
        f(RefundWithoutOrder, "M14", Subject::Refund, None),
        f(CrossDay, "M15", Subject::Payment, None),
        f(
            MissingInBill,
            "M17",
            Subject::Refund,
            Some(Component::Refund),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(found(&report), expected);
    assert_eq!(report.differences.len(), expected.len());
    let m9 = report.differences.iter().find(|d| d.key == "M9").unwrap();
    assert_eq!(
        (m9.ours.as_deref(), m9.theirs.as_deref()),
        (Some("completed"), Some("cancelled"))
    );
    let m8 = report.differences.iter().find(|d| d.key == "M8").unwrap();
    assert_eq!(
        (m8.ours.as_deref(), m8.theirs.as_deref()),
        (Some("4.30"), Some("4.20"))
    );

    // T+1: ours from our orders, fees and commission as the platform charged them.
    let st = &report.settlement;
    assert_eq!(st.gross_sales, dec!(560.00));
    assert_eq!(st.merchant_funded_discounts, dec!(33.00));
    assert_eq!(st.platform_funded_discounts, dec!(55.00));
    assert_eq!(st.commission, c * Decimal::from(13));
    assert_eq!(st.refunds, dec!(14.00));
    assert_eq!(
        st.net_receivable,
        dec!(560.00) - dec!(33.00) + dec!(44.00) + dec!(11.00) - st.commission - dec!(14.00)
    );
    assert_eq!(
        st.platform_settled,
        report.summary.theirs.totals.or_zero(Component::Settled)
    );
    assert_eq!(st.difference, st.platform_settled - st.net_receivable);
}

fn arb_amounts() -> impl Strategy<Value = Amounts> {
    proptest::collection::vec((0usize..10, -100_000i64..100_000), 0..6).prop_map(|parts| {
        parts.into_iter().fold(Amounts::default(), |a, (c, fen)| {
            a.with(Component::ALL[c], crate::money::from_fen(fen))
        })
    })
}

proptest! {
    #[test]
    fn each_sides_totals_are_the_sum_of_its_lines(
        bill in proptest::collection::vec((0u8..30, any::<bool>(), arb_amounts()), 0..40),
        ours in proptest::collection::vec((0u8..30, -1i64..=1, arb_amounts(), proptest::collection::vec((-1i64..=1, 0i64..10_000), 0..3)), 0..40),
    ) {
        let d = day("2026-11-24");
        let lines: Vec<BillLine> = bill.iter().enumerate().map(|(i, (id, refund, amounts))| BillLine {
            line: i as u64 + 2,
            kind: if *refund { LineKind::Refund } else { LineKind::Payment },
            keys: LineKeys { merchant_order_id: Some(format!("O{id}")), ..LineKeys::default() },
            status: BillStatus::Settled,
            occurred_at: None,
            business_date: None,
            amounts: *amounts,
        }).collect();
        // Distinct orders (the matcher merges repeats of one order; tested elsewhere).
        let mut seen = std::collections::HashSet::new();
        let records: Vec<OurRecord> = ours.iter().filter(|o| seen.insert(o.0)).map(|(id, shift, amounts, refunds)| {
            let spec = OrderSpec::new("app", &format!("O{id}"), "2026-11-24 12:00:00", Decimal::ZERO);
            let mut r = OurRecord::from_order(&spec.order());
            r.business_date = d + chrono::Duration::days(*shift);
            r.amounts = *amounts;
            r.refunds = refunds.iter().map(|(s, fen)| OurRefund {
                at_local: local("2026-11-24 12:00:00"),
                business_date: d + chrono::Duration::days(*s),
                amount: crate::money::from_fen(*fen),
            }).collect();
            r
        }).collect();
        for source in [StatementSource::WechatPay, StatementSource::PlatformStatement] {
            let report = reconcile_day(&request("app", source, "p"), DayBills { day: &lines, ..DayBills::default() }, records.clone());
            let mut theirs = Amounts::default();
            lines.iter().for_each(|l| theirs.add(&l.amounts));
            prop_assert_eq!(report.summary.theirs.totals, theirs);
            prop_assert_eq!(report.summary.theirs.payments + report.summary.theirs.refunds, lines.len() as u64);
            let mut mine = Amounts::default();
            records.iter().filter(|r| r.business_date == d).for_each(|r| mine.add(&r.amounts));
            let day_refunds: Vec<Decimal> = records.iter().flat_map(|r| r.refunds.iter()).filter(|x| x.business_date == d).map(|x| x.amount).collect();
            if !day_refunds.is_empty() {
                mine.set(Component::Refund, mine.or_zero(Component::Refund) + day_refunds.iter().sum::<Decimal>());
            }
            prop_assert_eq!(report.summary.ours.totals, mine);
            prop_assert_eq!(report.summary.ours.refunds, day_refunds.len() as u64);
            prop_assert_eq!(report.summary.differences.values().sum::<u64>(), report.differences.len() as u64);
        }
    }
}

/// What a generated order's bill line does, and the difference it must produce.
#[derive(Debug, Clone, Copy)]
enum Fate {
    Clean,
    AmountOff,
    NotInBill,
    ForeignLine,
    Duplicated,
    CancelledHereSettled,
    PaidAtMidnightSettledNextDay,
    PaidYesterdaySettledToday,
    RefundDiffers,
    RefundNotInBill,
    RefundNotOurs,
    RefundForNoOrder,
}

fn arb_fate() -> impl Strategy<Value = Fate> {
    use Fate::*;
    proptest::sample::select(vec![
        Clean,
        AmountOff,
        NotInBill,
        ForeignLine,
        Duplicated,
        CancelledHereSettled,
        PaidAtMidnightSettledNextDay,
        PaidYesterdaySettledToday,
        RefundDiffers,
        RefundNotInBill,
        RefundNotOurs,
        RefundForNoOrder,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any mix of seeded differences, in any bill order, chunked anyhow: the report
    /// finds exactly the seeded ones.
    #[test]
    fn generated_days_report_exactly_what_was_seeded(
        fates in proptest::collection::vec((arb_fate(), 1i64..50_000), 0..40),
        shuffle_seed in any::<u64>(),
        chunk in 1usize..4096,
    ) {
        use DifferenceClass::*;
        let mut specs = Vec::new();
        let mut rows = Vec::new();
        let mut next_rows = Vec::new();
        let mut expected = BTreeSet::new();
        for (i, (fate, fen)) in fates.iter().enumerate() {
            let id = format!("G{i}");
            let amount = crate::money::from_fen(*fen);
            let at = format!("2026-11-24 {:02}:{:02}:00", 1 + i % 20, i % 60);
            let spec = OrderSpec::new("app", &id, &at, amount);
            let pay = WxRow::pay(&at, &id, amount);
            match fate {
                Fate::Clean => { specs.push(spec); rows.push(pay); }
                Fate::AmountOff => {
                    specs.push(spec);
                    rows.push(WxRow::pay(&at, &id, amount + dec!(0.01)));
                    expected.insert(f(AmountMismatch, &id, Subject::Payment, Some(Component::Paid)));
                }
                Fate::NotInBill => {
                    specs.push(spec);
                    expected.insert(f(MissingInBill, &id, Subject::Payment, None));
                }
                Fate::ForeignLine => {
                    rows.push(pay);
                    expected.insert(f(MissingInOurs, &id, Subject::Payment, None));
                }
                Fate::Duplicated => {
                    specs.push(spec);
                    rows.push(pay.clone());
                    rows.push(pay);
                    expected.insert(f(DuplicateLine, &id, Subject::Payment, None));
                }
                Fate::CancelledHereSettled => {
                    specs.push(spec.cancelled());
                    rows.push(pay);
                    expected.insert(f(StatusMismatch, &id, Subject::Payment, None));
                }
                Fate::PaidAtMidnightSettledNextDay => {
                    specs.push(OrderSpec::new("app", &id, "2026-11-24 23:59:59", amount));
                    next_rows.push(WxRow::pay("2026-11-25 00:00:01", &id, amount));
                    expected.insert(f(CrossDay, &id, Subject::Payment, None));
                }
                Fate::PaidYesterdaySettledToday => {
                    specs.push(OrderSpec::new("app", &id, "2026-11-23 23:59:59", amount));
                    rows.push(WxRow::pay("2026-11-24 00:00:01", &id, amount));
                    expected.insert(f(CrossDay, &id, Subject::Payment, None));
                }
                Fate::RefundDiffers => {
                    specs.push(spec.refund("2026-11-24 22:00:00", amount));
                    rows.push(pay);
                    rows.push(WxRow::refund("2026-11-24 22:00:00", &id, &format!("R{i}"), amount + dec!(0.01)));
                    expected.insert(f(AmountMismatch, &id, Subject::Refund, Some(Component::Refund)));
                }
                Fate::RefundNotInBill => {
                    specs.push(spec.refund("2026-11-24 22:00:00", amount));
                    rows.push(pay);
                    expected.insert(f(MissingInBill, &id, Subject::Refund, Some(Component::Refund)));
                }
                Fate::RefundNotOurs => {
                    specs.push(spec);
                    rows.push(pay);
                    rows.push(WxRow::refund("2026-11-24 22:00:00", &id, &format!("R{i}"), amount));
                    expected.insert(f(MissingInOurs, &id, Subject::Refund, None));
                }
                Fate::RefundForNoOrder => {
                    rows.push(WxRow::refund("2026-11-24 22:00:00", &id, &format!("R{i}"), amount));
                    expected.insert(f(RefundWithoutOrder, &id, Subject::Refund, None));
                }
            }
        }
        // Shuffle the bill (keeping a duplicate's copies apart is irrelevant).
        let mut state = shuffle_seed | 1;
        for i in (1..rows.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            rows.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let bill = wechat_bill(&rows);
        let day_lines = import_chunks(WechatBillParser::new(), bill.as_bytes().chunks(chunk)).unwrap();
        let next_lines = import_chunks(WechatBillParser::new(), [wechat_bill(&next_rows).as_bytes()]).unwrap();
        let report = reconcile_day(
            &request("app", StatementSource::WechatPay, "gen"),
            DayBills { day: &day_lines, previous_day: &[], next_day: &next_lines },
            ours_of(&specs),
        );
        prop_assert_eq!(found(&report), expected);
        prop_assert_eq!(report.differences.len(), found(&report).len());
    }
}

/// A refund-only Meituan line (no goods, a refund, settled negative) for an earlier
/// order refunded on the day.
fn mt_refund(id: &'static str, refund: Decimal) -> Mt {
    let spec = OrderSpec::new("meituan", id, "2026-11-24 12:00:00", Decimal::ZERO);
    let mut r = mt(id, &spec, Decimal::ZERO, refund);
    r.settled = -refund;
    r
}

fn meituan_report(rows: &[Mt], specs: &[OrderSpec], options: MatchOptions) -> Report {
    let bytes = meituan_statement(rows);
    let parser = StatementParser::new(statement_mappings::meituan()).unwrap();
    let lines = import_chunks(parser, [bytes.as_slice()]).unwrap();
    reconcile_day_with(
        &request("meituan", StatementSource::PlatformStatement, "mt"),
        DayBills {
            day: &lines,
            ..DayBills::default()
        },
        ours_of(specs),
        options,
    )
}

/// Platform refund lines carry no refund id: the same refund listed twice is a
/// duplicate (by order, amounts and date), not a doubled amount; two different refunds
/// of one order still add up.
#[test]
fn a_refund_line_without_id_listed_twice_is_a_duplicate() {
    let earlier = |id: &str| OrderSpec::new("meituan", id, "2026-11-20 12:00:00", dec!(30.00));
    let specs = vec![
        earlier("M16").refund("2026-11-24 09:00:00", dec!(7.00)),
        earlier("M17")
            .refund("2026-11-24 09:00:00", dec!(2.00))
            .refund("2026-11-24 10:00:00", dec!(3.00)),
    ];
    let rows = [
        mt_refund("M16", dec!(7.00)),
        mt_refund("M17", dec!(2.00)),
        mt_refund("M16", dec!(7.00)),
        mt_refund("M17", dec!(3.00)),
    ];
    let report = meituan_report(&rows, &specs, MatchOptions::default());
    let expected: BTreeSet<Found> = [f(
        DifferenceClass::DuplicateLine,
        "M16",
        Subject::Refund,
        None,
    )]
    .into_iter()
    .collect();
    assert_eq!(found(&report), expected, "{}", report.to_json());
    assert_eq!(report.differences.len(), 1);
    assert_eq!(report.differences[0].bill_lines, vec![2, 4]);
}

/// With a contracted rate, a commission more than a fen off rate × goods is a
/// commission difference (ours: what the rate gives); within a fen is rounding.
#[test]
fn a_commission_off_the_contracted_rate_is_a_difference() {
    let o = |id: &str| OrderSpec::new("meituan", id, "2026-11-24 12:00:00", dec!(50.00));
    let specs = vec![o("C1"), o("C2"), o("C3")];
    let rows = [
        mt("C1", &specs[0], dec!(4.00), Decimal::ZERO),
        mt("C2", &specs[1], dec!(4.01), Decimal::ZERO),
        mt("C3", &specs[2], dec!(4.50), Decimal::ZERO),
    ];
    let rate = MatchOptions {
        commission_rate: Some(dec!(0.08)),
    };
    let report = meituan_report(&rows, &specs, rate);
    assert_eq!(
        found(&report),
        [f(
            DifferenceClass::AmountMismatch,
            "C3",
            Subject::Payment,
            Some(Component::Commission)
        )]
        .into_iter()
        .collect::<BTreeSet<Found>>(),
        "{}",
        report.to_json()
    );
    let c3 = &report.differences[0];
    assert_eq!(
        (c3.ours.as_deref(), c3.theirs.as_deref()),
        (Some("4.00"), Some("4.50"))
    );
    // Without a rate the lines add up by their own columns: nothing to question.
    let report = meituan_report(&rows, &specs, MatchOptions::default());
    assert!(report.differences.is_empty(), "{}", report.to_json());
}

#[test]
fn a_commission_rate_outside_zero_to_one_is_refused_with_the_mapping() {
    let mut mapping = statement_mappings::meituan();
    mapping.commission_rate = Some(dec!(1.5));
    let err = StatementParser::new(mapping.clone()).err().unwrap();
    assert_eq!(err.column.as_deref(), Some("commission_rate"));
    mapping.commission_rate = Some(dec!(0.08));
    let json = serde_json::to_value(&mapping).unwrap();
    assert_eq!(json["commission_rate"], serde_json::json!("0.08"));
    assert!(StatementParser::new(mapping).is_ok());
    let shipped = serde_json::to_value(statement_mappings::meituan()).unwrap();
    assert!(shipped.get("commission_rate").is_none());
}
