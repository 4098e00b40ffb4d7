//! Importers on bills in the real layouts: records, chunking, and every bad-file class.

use proptest::prelude::*;
use rust_decimal_macros::dec;

use super::fixtures::*;
use super::*;

fn wx_rows() -> Vec<WxRow> {
    vec![
        WxRow::pay("2026-11-24 09:15:02", "A1", dec!(30.00)),
        WxRow::pay("2026-11-24 10:01:44", "A2", dec!(12.50)),
        WxRow::refund("2026-11-24 18:20:00", "A1", "50300001", dec!(5.00)),
    ]
}

fn wechat(bytes: &[u8]) -> Result<Vec<BillLine>, ImportError> {
    import_chunks(WechatBillParser::new(), [bytes])
}

#[test]
fn wechat_bill_yields_payments_and_refunds() {
    let lines = wechat(wechat_bill(&wx_rows()).as_bytes()).unwrap();
    assert_eq!(lines.len(), 3);
    let a1 = &lines[0];
    assert_eq!(a1.line, 2);
    assert_eq!(a1.kind, LineKind::Payment);
    assert_eq!(a1.keys.merchant_order_id.as_deref(), Some("A1"));
    assert_eq!(a1.keys.transaction_id.as_deref(), Some("42000A1"));
    assert_eq!(a1.amounts.get(Component::Paid), Some(dec!(30.00)));
    assert_eq!(a1.amounts.get(Component::Fee), Some(dec!(0.18)));
    assert_eq!(a1.amounts.get(Component::Settled), Some(dec!(29.82)));
    assert_eq!(a1.occurred_at, Some(local("2026-11-24 09:15:02")));
    let r = &lines[2];
    assert_eq!(r.kind, LineKind::Refund);
    assert_eq!(r.keys.refund_id.as_deref(), Some("50300001"));
    assert_eq!(r.amounts.get(Component::Refund), Some(dec!(5.00)));
    assert_eq!(r.amounts.get(Component::Settled), Some(dec!(-4.97)));
}

#[test]
fn wechat_missing_column_names_it() {
    let bill = wechat_bill(&wx_rows()).replace(",商户订单号,", ",商户单号,");
    let err = wechat(bill.as_bytes()).unwrap_err();
    assert_eq!(err.line, 1);
    assert_eq!(err.column.as_deref(), Some("商户订单号"));
    assert_eq!(
        err.kind,
        ImportErrorKind::MissingColumn {
            column: "商户订单号".into()
        }
    );
}

#[test]
fn wechat_malformed_amount_names_line_and_column() {
    let bill = wechat_bill(&wx_rows()).replacen("`12.50", "`12.5O", 1);
    let err = wechat(bill.as_bytes()).unwrap_err();
    assert_eq!((err.line, err.column.as_deref()), (3, Some("应结订单金额")));
    assert!(
        matches!(err.kind, ImportErrorKind::MalformedAmount { ref value, .. } if value == "12.5O")
    );
    let bill = wechat_bill(&wx_rows()).replacen("`30.00", "`30.001", 1);
    let err = wechat(bill.as_bytes()).unwrap_err();
    assert_eq!((err.line, err.column.as_deref()), (2, Some("应结订单金额")));
}

#[test]
fn wechat_summary_disagreeing_with_details_is_refused() {
    let bill = wechat_bill(&wx_rows());
    let bad = bill.replace("`3,`42.50,", "`3,`42.60,");
    assert_ne!(bad, bill);
    let err = wechat(bad.as_bytes()).unwrap_err();
    assert_eq!(
        (err.line, err.column.as_deref()),
        (6, Some("应结订单总金额"))
    );
    assert_eq!(
        err.kind,
        ImportErrorKind::SummaryMismatch {
            field: "应结订单总金额".into(),
            declared: "42.60".into(),
            computed: "42.50".into()
        }
    );
    let bad = bill.replace("`3,`42.50,", "`4,`42.50,");
    let err = wechat(bad.as_bytes()).unwrap_err();
    assert_eq!((err.line, err.column.as_deref()), (6, Some("总交易单数")));
}

#[test]
fn wechat_truncated_before_summary_is_refused() {
    let bill = wechat_bill(&wx_rows());
    let cut = bill.find("总交易单数").unwrap();
    let err = wechat(&bill.as_bytes()[..cut]).unwrap_err();
    assert_eq!(err.kind, ImportErrorKind::MissingSummary);
    assert_eq!(err.line, 5);
}

#[test]
fn wechat_in_gbk_is_a_wrong_encoding_on_line_one() {
    let err = wechat(&gbk(&wechat_bill(&wx_rows()))).unwrap_err();
    assert_eq!(err.line, 1);
    assert_eq!(
        err.kind,
        ImportErrorKind::WrongEncoding {
            expected: "UTF-8".into()
        }
    );
}

#[test]
fn wechat_unknown_state_is_named() {
    let bill = wechat_bill(&wx_rows()).replacen("`SUCCESS", "`PAID", 1);
    let err = wechat(bill.as_bytes()).unwrap_err();
    assert_eq!((err.line, err.column.as_deref()), (2, Some("交易状态")));
}

fn ali_rows() -> Vec<AliRow> {
    let row = |no: &str, id: &str, refund: bool, amount| AliRow {
        trade_no: format!("2026112422001{no}"),
        merchant_order_id: id.into(),
        refund,
        time: "2026-11-24 11:00:00".into(),
        amount,
        refund_batch: if refund {
            format!("RF{id}")
        } else {
            String::new()
        },
    };
    vec![
        row("01", "B1", false, dec!(18.80)),
        row("02", "B2", false, dec!(40.00)),
        row("01", "B1", true, dec!(8.80)),
    ]
}

#[test]
fn alipay_zip_in_gbk_yields_records() {
    let zip = alipay_zip(&gbk(&alipay_csv(&ali_rows())));
    let lines = import_alipay_zip(&zip, 7).unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0].line, 6);
    assert_eq!(lines[0].keys.merchant_order_id.as_deref(), Some("B1"));
    assert_eq!(
        lines[0].keys.transaction_id.as_deref(),
        Some("202611242200101")
    );
    assert_eq!(lines[0].amounts.get(Component::Paid), Some(dec!(18.80)));
    assert_eq!(lines[0].amounts.get(Component::Fee), Some(dec!(0.11)));
    assert_eq!(lines[0].amounts.get(Component::Settled), Some(dec!(18.69)));
    assert_eq!(lines[2].kind, LineKind::Refund);
    assert_eq!(lines[2].keys.refund_id.as_deref(), Some("RFB1"));
    assert_eq!(lines[2].amounts.get(Component::Refund), Some(dec!(8.80)));
}

#[test]
fn alipay_truncated_zip_is_refused() {
    let zip = alipay_zip(&gbk(&alipay_csv(&ali_rows())));
    for keep in [zip.len() - 10, zip.len() / 2, 30] {
        let err = import_alipay_zip(&zip[..keep], 64).unwrap_err();
        assert!(
            matches!(err.kind, ImportErrorKind::TruncatedArchive { .. }),
            "{err}"
        );
    }
    // Corrupt compressed data inside an intact archive: caught by inflate or the CRC.
    let mut bad = zip.clone();
    let csv_at = bad.len() / 2;
    bad[csv_at] ^= 0xFF;
    let err = import_alipay_zip(&bad, 64).unwrap_err();
    assert!(matches!(
        err.kind,
        ImportErrorKind::TruncatedArchive { .. } | ImportErrorKind::WrongEncoding { .. }
    ));
}

#[test]
fn alipay_in_utf8_is_a_wrong_encoding() {
    let zip = alipay_zip(alipay_csv(&ali_rows()).as_bytes());
    let err = import_alipay_zip(&zip, 64).unwrap_err();
    assert_eq!(
        err.kind,
        ImportErrorKind::WrongEncoding {
            expected: "GBK".into()
        }
    );
    assert_eq!(err.line, 1);
}

#[test]
fn alipay_summary_mismatch_and_missing_marker() {
    let csv = alipay_csv(&ali_rows()).replace("商家实收共58.80元", "商家实收共58.90元");
    let err = import_alipay_zip(&alipay_zip(&gbk(&csv)), 64).unwrap_err();
    assert_eq!((err.line, err.column.as_deref()), (10, Some("商家实收")));
    assert!(matches!(err.kind, ImportErrorKind::SummaryMismatch { .. }));
    let csv = alipay_csv(&ali_rows()).replace("#交易合计：2笔", "#交易合计：3笔");
    let err = import_alipay_zip(&alipay_zip(&gbk(&csv)), 64).unwrap_err();
    assert_eq!(
        (err.line, err.column.as_deref()),
        (10, Some("交易合计笔数"))
    );
    let csv = alipay_csv(&ali_rows()).replace(END_OF_DETAIL, "");
    let err = import_alipay_zip(&alipay_zip(&gbk(&csv)), 64).unwrap_err();
    assert_eq!(err.line, 10);
}

#[test]
fn alipay_malformed_amount_and_missing_column() {
    let csv = alipay_csv(&ali_rows()).replacen(",40.00,40.00,", ",40.00,4O.00,", 1);
    let err = import_alipay_zip(&alipay_zip(&gbk(&csv)), 64).unwrap_err();
    assert_eq!(
        (err.line, err.column.as_deref()),
        (7, Some("商家实收（元）"))
    );
    let csv = alipay_csv(&ali_rows()).replace("服务费（元）", "手续费（元）");
    let err = import_alipay_zip(&alipay_zip(&gbk(&csv)), 64).unwrap_err();
    assert_eq!((err.line, err.column.as_deref()), (5, Some("服务费（元）")));
    assert_eq!(
        err.kind,
        ImportErrorKind::MissingColumn {
            column: "服务费（元）".into()
        }
    );
}

#[test]
fn alipay_zip_without_a_bill_is_refused() {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file("readme.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.finish().unwrap();
    }
    let err = import_alipay_zip(&buf.into_inner(), 64).unwrap_err();
    assert_eq!(err.kind, ImportErrorKind::NoBillInArchive);
}

const MEITUAN_HEADER: &str = "订单号,账单日期,订单状态,商品总价,美团补贴,商家活动支出,配送费,打包费,佣金,退款金额,商家应收金额,备注";

fn meituan_csv(rows: &[&str], total: &str) -> Vec<u8> {
    let mut s = format!("{MEITUAN_HEADER}\r\n");
    for r in rows {
        s.push_str(r);
        s.push_str("\r\n");
    }
    s.push_str(total);
    s.push_str("\r\n");
    gbk(&s)
}

fn meituan(bytes: &[u8]) -> Result<Vec<BillLine>, ImportError> {
    import_chunks(
        StatementParser::new(statement_mappings::meituan()).unwrap(),
        [bytes],
    )
}

#[test]
fn meituan_statement_reads_through_its_mapping() {
    let bytes = meituan_csv(
        &[
            "27061900338318,2026-11-24,已完成,50.00,5.00,3.00,4.00,1.00,4.20,0.00,47.80,",
            "27061900338319,2026-11-24,已完成,0.00,0,0,0,0,0,6.00,-6.00,",
        ],
        "合计,,,50.00,5.00,3.00,4.00,1.00,4.20,6.00,41.80,",
    );
    let lines = meituan(&bytes).unwrap();
    assert_eq!(lines.len(), 2);
    let l = &lines[0];
    assert_eq!(l.keys.channel_order_id.as_deref(), Some("27061900338318"));
    assert_eq!(l.business_date, Some(day("2026-11-24")));
    assert_eq!(l.amounts.get(Component::Goods), Some(dec!(50.00)));
    assert_eq!(l.amounts.get(Component::PlatformDiscount), Some(dec!(5.00)));
    assert_eq!(l.amounts.get(Component::MerchantDiscount), Some(dec!(3.00)));
    assert_eq!(l.amounts.get(Component::Commission), Some(dec!(4.20)));
    assert_eq!(l.amounts.get(Component::Settled), Some(dec!(47.80)));
    assert_eq!(lines[1].kind, LineKind::Refund);

    let bad = meituan_csv(
        &["27061900338318,2026-11-24,已完成,50.00,5.00,3.00,4.00,1.00,4.20,0.00,47.80,"],
        "合计,,,50.00,5.00,3.00,4.00,1.00,4.20,0.00,47.70,",
    );
    let err = meituan(&bad).unwrap_err();
    assert_eq!((err.line, err.column.as_deref()), (3, Some("商家应收金额")));
    let bad = meituan_csv(
        &["27061900338318,24/11/2026,已完成,50.00,5.00,3.00,4.00,1.00,4.20,0.00,47.80,"],
        "合计,,,50.00,5.00,3.00,4.00,1.00,4.20,0.00,47.80,",
    );
    let err = meituan(&bad).unwrap_err();
    assert_eq!((err.line, err.column.as_deref()), (2, Some("账单日期")));
    let err = meituan(&bad[..bad.len() - 40]).unwrap_err();
    assert_eq!(err.line, 2);
    let no_total = gbk(&format!(
        "{MEITUAN_HEADER}\r\n27061900338318,2026-11-24,已完成,50,0,0,0,0,0,0,50,\r\n"
    ));
    assert_eq!(
        meituan(&no_total).unwrap_err(),
        ImportError::at(3, ImportErrorKind::MissingSummary)
    );
    let short = gbk(&format!(
        "{MEITUAN_HEADER}\r\n27061900338318,2026-11-24\r\n"
    ));
    let err = meituan(&short).unwrap_err();
    assert_eq!(
        err,
        ImportError::at(
            2,
            ImportErrorKind::FieldCount {
                expected: 12,
                found: 2
            }
        )
    );
}

#[test]
fn eleme_json_lines_in_fen() {
    let text = "{\"orderId\":\"3001\",\"billDate\":\"2026-11-24\",\"orderStatus\":\"SETTLED\",\"goodsAmount\":5000,\"platformSubsidy\":300,\"merchantSubsidy\":200,\"deliveryFee\":500,\"packageFee\":100,\"commission\":420,\"refundAmount\":0,\"settleAmount\":4980}\n{\"orderId\":3002,\"billDate\":\"2026-11-24\",\"goodsAmount\":\"12.5\",\"settleAmount\":1250}\n";
    let parse = |t: &str| {
        import_chunks(
            StatementParser::new(statement_mappings::eleme_json()).unwrap(),
            [t.as_bytes()],
        )
    };
    let err = parse(text).unwrap_err();
    assert_eq!((err.line, err.column.as_deref()), (2, Some("goodsAmount")));
    let lines = parse(&text.replace("\"12.5\"", "1250")).unwrap();
    assert_eq!(lines[0].amounts.get(Component::Settled), Some(dec!(49.80)));
    assert_eq!(
        lines[0].amounts.get(Component::PlatformDiscount),
        Some(dec!(3.00))
    );
    assert_eq!(lines[1].keys.channel_order_id.as_deref(), Some("3002"));
    let err = parse("{\"orderId\":\"1\",\"settleAmount\":1}\n").unwrap_err();
    assert_eq!((err.line, err.column.as_deref()), (1, Some("billDate")));
    let err = parse("{\"orderId\":\"1\",\n").unwrap_err();
    assert!(matches!(err.kind, ImportErrorKind::MalformedRecord { .. }));
}

#[test]
fn mappings_round_trip_as_configuration() {
    for m in [
        statement_mappings::meituan(),
        statement_mappings::eleme(),
        statement_mappings::eleme_json(),
    ] {
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<StatementMapping>(&json).unwrap(), m);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_chunking_gives_the_same_wechat_records(cuts in proptest::collection::vec(0usize..2000, 0..12)) {
        let bill = wechat_bill(&wx_rows());
        let whole = wechat(bill.as_bytes()).unwrap();
        let chunks = chunks_at(bill.as_bytes(), &cuts);
        let split = import_chunks(WechatBillParser::new(), chunks.iter().map(Vec::as_slice)).unwrap();
        prop_assert_eq!(split, whole);
    }

    #[test]
    fn any_chunking_gives_the_same_alipay_records(cuts in proptest::collection::vec(0usize..3000, 0..12), inflate_chunk in 1usize..300) {
        let csv = gbk(&alipay_csv(&ali_rows()));
        let whole = import_chunks(AlipayCsvParser::new(), [csv.as_slice()]).unwrap();
        let chunks = chunks_at(&csv, &cuts);
        let split = import_chunks(AlipayCsvParser::new(), chunks.iter().map(Vec::as_slice)).unwrap();
        prop_assert_eq!(&split, &whole);
        prop_assert_eq!(import_alipay_zip(&alipay_zip(&csv), inflate_chunk).unwrap(), whole);
    }

    #[test]
    fn any_chunking_gives_the_same_statement_records(cuts in proptest::collection::vec(0usize..400, 0..12)) {
        let bytes = meituan_csv(
            &["27061900338318,2026-11-24,已完成,50.00,5.00,3.00,4.00,1.00,4.20,0.00,47.80,"],
            "合计,,,50.00,5.00,3.00,4.00,1.00,4.20,0.00,47.80,",
        );
        let whole = meituan(&bytes).unwrap();
        let chunks = chunks_at(&bytes, &cuts);
        let split = import_chunks(StatementParser::new(statement_mappings::meituan()).unwrap(), chunks.iter().map(Vec::as_slice)).unwrap();
        prop_assert_eq!(split, whole);
    }
}

#[test]
fn statement_kind_picks_the_importer_and_round_trips_as_config() {
    let wx = StatementKind::WechatPay
        .import(wechat_bill(&wx_rows()).as_bytes(), 5)
        .unwrap();
    assert_eq!(wx, wechat(wechat_bill(&wx_rows()).as_bytes()).unwrap());
    let zip = alipay_zip(&gbk(&alipay_csv(&ali_rows())));
    assert_eq!(StatementKind::AlipayZip.import(&zip, 100).unwrap().len(), 3);
    assert!(StatementKind::AlipayZip
        .streaming_parser()
        .unwrap()
        .is_none());
    let kind = StatementKind::Platform {
        mapping: statement_mappings::eleme(),
    };
    let json = serde_json::to_string(&kind).unwrap();
    assert_eq!(serde_json::from_str::<StatementKind>(&json).unwrap(), kind);
    assert_eq!(kind.source(), StatementSource::PlatformStatement);
}

#[test]
fn statement_preamble_and_comments_are_configuration() {
    let mut mapping = statement_mappings::eleme();
    mapping.preamble_lines = 2;
    mapping.comment_prefix = Some("#".into());
    let text = "饿了么商户对账单\n门店：一号店\n订单编号,账单日期,订单状态,商品金额,平台补贴,商户补贴,配送费,餐盒费,平台服务费,退款金额,结算金额\n# 导出说明\n3001,2026-11-24,已完成,50.00,3.00,2.00,5.00,1.00,4.20,0,49.80\n";
    let lines = import_chunks(
        StatementParser::new(mapping.clone()).unwrap(),
        [text.as_bytes()],
    )
    .unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].line, 5);
    mapping.preamble_lines = 1;
    let err = import_chunks(StatementParser::new(mapping).unwrap(), [text.as_bytes()]).unwrap_err();
    assert_eq!(err.line, 2);
    assert!(matches!(err.kind, ImportErrorKind::MissingColumn { .. }));
}

#[test]
fn statement_in_the_wrong_encoding_is_named() {
    let utf8 = format!("{MEITUAN_HEADER}\r\n");
    let err = meituan(utf8.as_bytes()).unwrap_err();
    assert_eq!(
        err,
        ImportError::at(
            1,
            ImportErrorKind::WrongEncoding {
                expected: "GBK".into()
            }
        )
    );
    let text = "订单编号,账单日期,订单状态,商品金额,平台补贴,商户补贴,配送费,餐盒费,平台服务费,退款金额,结算金额\n";
    let err = import_chunks(
        StatementParser::new(statement_mappings::eleme()).unwrap(),
        [gbk(text).as_slice()],
    )
    .unwrap_err();
    assert_eq!(
        err,
        ImportError::at(
            1,
            ImportErrorKind::WrongEncoding {
                expected: "UTF-8".into()
            }
        )
    );
}

#[test]
fn wechat_bill_with_bom_lf_and_trailing_blank_lines() {
    let bill = format!(
        "\u{feff}{}\n\n",
        wechat_bill(&wx_rows()).replace("\r\n", "\n")
    );
    assert_eq!(
        wechat(bill.as_bytes()).unwrap(),
        wechat(wechat_bill(&wx_rows()).as_bytes()).unwrap()
    );
}

/// Writes the `bills` fuzz target's seeds (`fuzz/seeds/bills/`): one well-formed bill
/// per importer, in the target's framing (kind byte, chunk-size byte, bill bytes).
/// `cargo test -p orderhub-core write_bill_fuzz_seeds -- --ignored`
#[test]
#[ignore = "writes files under fuzz/seeds; run by hand when the importers change"]
fn write_bill_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/bills");
    std::fs::create_dir_all(&dir).unwrap();
    let meituan = meituan_csv(
        &["27061900338318,2026-11-24,已完成,50.00,5.00,3.00,4.00,1.00,4.20,0.00,47.80,"],
        "合计,,,50.00,5.00,3.00,4.00,1.00,4.20,0.00,47.80,",
    );
    let eleme_json = b"{\"orderId\":\"3001\",\"billDate\":\"2026-11-24\",\"orderStatus\":\"SETTLED\",\"goodsAmount\":5000,\"platformSubsidy\":300,\"merchantSubsidy\":200,\"deliveryFee\":500,\"packageFee\":100,\"commission\":420,\"refundAmount\":0,\"settleAmount\":4980}\n".to_vec();
    let pos = br#"{"store_id":"S1","shift_id":"S1-A","business_date":"2026-11-24","opened_at":"2026-11-24 08:00:00","closed_at":"2026-11-24 16:00:00","order_count":2,"gross_sales":"30.00","discounts":"1.00","refunds":"0.00","net_sales":"29.00","tenders":{"cash":"9.00","wechat":"20.00"}}"#.to_vec();
    let groupbuy = br#"{"settlement_id":"GB-L7","leader_id":"L7","business_date":"2026-11-24","orders":[{"order_id":"G1","goods":"39.90","refund":"0.00","commission":"3.99"}],"total_goods":"39.90","total_refund":"0.00","total_commission":"3.99"}"#.to_vec();
    let ali_csv = gbk(&alipay_csv(&ali_rows()));
    // Kind numbers follow the target's `kind_of`.
    let seeds: [(&str, u8, Vec<u8>); 7] = [
        ("wechat", 0, wechat_bill(&wx_rows()).into_bytes()),
        ("alipay_zip", 1, alipay_zip(&ali_csv)),
        ("alipay_csv", 2, ali_csv),
        ("meituan", 3, meituan),
        ("eleme_json", 5, eleme_json),
        ("pos_shift", 6, pos),
        ("groupbuy", 7, groupbuy),
    ];
    for (name, kind, bill) in seeds {
        let mut framed = vec![kind, 37];
        framed.extend_from_slice(&bill);
        std::fs::write(dir.join(name), framed).unwrap();
    }
}
