//! Amounts beyond what `Decimal` can sum: every importer refuses them with the line and
//! column (a 422 through the route), where an unchecked `+` used to panic (a trap, a 500).

use rust_decimal_macros::dec;

use super::fixtures::*;
use super::*;

/// `Decimal::MAX`: two of these in one column overflowed the importers' running totals.
const HUGE: &str = "79228162514264337593543950335";
/// What the fixtures print for a placeholder amount, replaced by [`HUGE`] in the text
/// (they print two decimals, which `Decimal::MAX` has no room for).
const PLACEHOLDER: &str = "1000000000000000.00";

fn out_of_range(err: &ImportError, line: u64, column: &str) {
    assert_eq!(
        (err.line, err.column.as_deref()),
        (line, Some(column)),
        "{err}"
    );
    match &err.kind {
        ImportErrorKind::MalformedAmount { reason, .. } => {
            assert!(reason.contains("out of range"), "{reason}")
        }
        other => panic!("not an out-of-range amount: {other:?}"),
    }
}

#[test]
fn wechat_rows_of_huge_amounts_are_refused() {
    let huge: rust_decimal::Decimal = PLACEHOLDER.parse().unwrap();
    let mut bill = format!("{WX_HEADER}\r\n");
    for id in ["A1", "A2"] {
        let mut row = WxRow::pay("2026-11-24 09:15:02", id, huge);
        row.fee = dec!(0);
        bill.push_str(&wx_detail(&row));
        bill.push_str("\r\n");
    }
    bill.push_str("总交易单数,应结订单总金额\r\n`2,`0\r\n");
    let bill = bill.replace(PLACEHOLDER, HUGE);
    let err = import_chunks(WechatBillParser::new(), [bill.as_bytes()]).unwrap_err();
    out_of_range(&err, 2, "应结订单金额");
    // The bound itself is a valid amount.
    let ok = WxRow::pay("2026-11-24 09:15:02", "A1", dec!(1000000000000.00));
    let lines = import_chunks(WechatBillParser::new(), [wechat_bill(&[ok]).as_bytes()]).unwrap();
    assert_eq!(
        lines[0].amounts.get(Component::Paid),
        Some(dec!(1000000000000.00))
    );
}

#[test]
fn alipay_rows_of_huge_amounts_are_refused_in_csv_and_zip() {
    let huge: rust_decimal::Decimal = PLACEHOLDER.parse().unwrap();
    let row = |id: &str| AliRow {
        trade_no: format!("2026112422001{id}"),
        merchant_order_id: id.into(),
        refund: false,
        time: "2026-11-24 11:00:00".into(),
        amount: huge,
        refund_batch: String::new(),
    };
    let mut csv = String::from("#支付宝业务明细查询\r\n");
    csv.push_str(ALI_HEADER);
    csv.push_str("\r\n");
    for id in ["B1", "B2"] {
        csv.push_str(&ali_detail(&row(id)));
        csv.push_str("\r\n");
    }
    csv.push_str(END_OF_DETAIL);
    csv.push_str("\r\n#交易合计：2笔，商家实收共0.00元，商家优惠共0.00元\r\n");
    let bytes = gbk(&csv.replace(PLACEHOLDER, HUGE));
    let err = import_chunks(AlipayCsvParser::new(), [bytes.as_slice()]).unwrap_err();
    out_of_range(&err, 3, "订单金额（元）");
    let err = import_alipay_zip(&alipay_zip(&bytes), 64).unwrap_err();
    out_of_range(&err, 3, "订单金额（元）");
}

#[test]
fn platform_statement_rows_of_huge_amounts_are_refused() {
    let header = "订单号,账单日期,订单状态,商品总价,美团补贴,商家活动支出,配送费,打包费,佣金,退款金额,商家应收金额,备注";
    let row = |id: &str| format!("{id},2026-11-24,已完成,{HUGE},0,0,0,0,0,0,0,");
    let csv = format!(
        "{header}\r\n{}\r\n{}\r\n合计,,,0,0,0,0,0,0,0,0,\r\n",
        row("1"),
        row("2")
    );
    let parser = StatementParser::new(statement_mappings::meituan()).unwrap();
    let err = import_chunks(parser, [gbk(&csv).as_slice()]).unwrap_err();
    out_of_range(&err, 2, "商品总价");

    // Fen: an i64 of fen is within `Decimal` but far beyond the bound.
    let line = |id: u32, goods: &str| {
        format!("{{\"orderId\":\"{id}\",\"billDate\":\"2026-11-24\",\"goodsAmount\":{goods},\"settleAmount\":0}}\n")
    };
    let json = format!(
        "{}{}",
        line(1, "9223372036854775807"),
        line(2, "9223372036854775807")
    );
    let parser = StatementParser::new(statement_mappings::eleme_json()).unwrap();
    let err = import_chunks(parser, [json.as_bytes()]).unwrap_err();
    out_of_range(&err, 1, "goodsAmount");
    // Yuan as JSON numbers go through `yuan_from_json`, bounded the same way.
    let mut yuan = statement_mappings::eleme_json();
    yuan.amount_format = AmountFormat::Yuan;
    let json = format!("{}{}", line(1, HUGE), line(2, HUGE));
    let err = import_chunks(StatementParser::new(yuan).unwrap(), [json.as_bytes()]).unwrap_err();
    out_of_range(&err, 1, "goodsAmount");
}

#[test]
fn pos_shifts_and_groupbuy_settlements_of_huge_amounts_are_refused() {
    let shift = |id: &str, gross: &str, cash: &str| {
        format!(
            r#"{{"store_id":"S1","shift_id":"{id}","business_date":"2026-11-24","opened_at":"2026-11-24 08:00:00","closed_at":"2026-11-24 16:00:00","order_count":2,"gross_sales":"{gross}","discounts":"0","refunds":"0","net_sales":"1.00","tenders":{{"cash":"{cash}","wechat":"{cash}"}}}}"#
        )
    };
    let two = format!("{}\n{}\n", shift("A", HUGE, "0"), shift("B", HUGE, "0"));
    let err = import_chunks(pos_shift_parser(), [two.as_bytes()]).unwrap_err();
    out_of_range(&err, 1, "gross_sales");
    let tenders = shift("A", "1.00", HUGE);
    let err = import_chunks(pos_shift_parser(), [tenders.as_bytes()]).unwrap_err();
    out_of_range(&err, 1, "tenders.cash");

    let order = |id: &str| {
        format!(r#"{{"order_id":"{id}","goods":"{HUGE}","refund":"0","commission":"0"}}"#)
    };
    let doc = format!(
        r#"{{"settlement_id":"GB","leader_id":"L7","business_date":"2026-11-24","orders":[{},{}],"total_goods":"0","total_refund":"0","total_commission":"0"}}"#,
        order("G1"),
        order("G2")
    );
    let err = import_chunks(groupbuy_settlement_parser(), [doc.as_bytes()]).unwrap_err();
    out_of_range(&err, 1, "orders[0].goods");
}
