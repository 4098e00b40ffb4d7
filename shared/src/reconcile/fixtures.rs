//! Test fixtures: orders and bills in the real layouts, built in code.

use std::io::Write;

use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use rust_decimal::Decimal;

use super::alipay::END_OF_DETAIL;
use crate::order::*;

pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn utc_of_shanghai(s: &str) -> chrono::DateTime<Utc> {
    Utc.from_utc_datetime(&(local(s) - chrono::Duration::hours(8)))
}

fn ev(key: &str, kind: EventKind, at: &str) -> OrderEvent {
    OrderEvent {
        key: key.to_string(),
        kind,
        at: utc_of_shanghai(at),
        source: EventSource::Channel(ChannelId::new("test")),
    }
}

/// An order paid at `paid_at` (Shanghai local time) with the given money parts.
#[derive(Clone)]
pub struct OrderSpec {
    pub channel: &'static str,
    pub id: String,
    pub paid_at: String,
    pub goods: Decimal,
    pub merchant_discount: Decimal,
    pub platform_discount: Decimal,
    pub delivery: Decimal,
    pub packaging: Decimal,
    pub cancelled: bool,
    pub refunds: Vec<(String, Decimal)>,
}

impl OrderSpec {
    pub fn new(channel: &'static str, id: &str, paid_at: &str, goods: Decimal) -> Self {
        Self {
            channel,
            id: id.to_string(),
            paid_at: paid_at.to_string(),
            goods,
            merchant_discount: Decimal::ZERO,
            platform_discount: Decimal::ZERO,
            delivery: Decimal::ZERO,
            packaging: Decimal::ZERO,
            cancelled: false,
            refunds: Vec::new(),
        }
    }
    pub fn fees(mut self, delivery: Decimal, packaging: Decimal) -> Self {
        self.delivery = delivery;
        self.packaging = packaging;
        self
    }
    pub fn discounts(mut self, merchant: Decimal, platform: Decimal) -> Self {
        self.merchant_discount = merchant;
        self.platform_discount = platform;
        self
    }
    pub fn cancelled(mut self) -> Self {
        self.cancelled = true;
        self
    }
    pub fn refund(mut self, at: &str, amount: Decimal) -> Self {
        self.refunds.push((at.to_string(), amount));
        self
    }
    pub fn paid(&self) -> Decimal {
        self.goods - self.merchant_discount - self.platform_discount
            + self.delivery
            + self.packaging
    }

    pub fn order(&self) -> Order {
        let channel = ChannelId::new(self.channel);
        let mut history = vec![
            ev("created", EventKind::Created, &self.paid_at),
            ev("paid", EventKind::Paid, &self.paid_at),
            ev("completed", EventKind::Completed, &self.paid_at),
        ];
        if self.cancelled {
            history.push(ev(
                "cancel",
                EventKind::Cancelled { reason: None },
                &self.paid_at,
            ));
        }
        for (i, (at, amount)) in self.refunds.iter().enumerate() {
            history.push(ev(
                &format!("refund{i}"),
                EventKind::Refunded {
                    amount: *amount,
                    full: false,
                    lines: Vec::new(),
                },
                at,
            ));
        }
        let mut discounts = Vec::new();
        if !self.merchant_discount.is_zero() {
            discounts.push(Discount {
                funder: Funder::Merchant,
                label: "满减".into(),
                amount: self.merchant_discount,
            });
        }
        if !self.platform_discount.is_zero() {
            discounts.push(Discount {
                funder: Funder::Platform,
                label: "平台券".into(),
                amount: self.platform_discount,
            });
        }
        Order {
            id: OrderId::for_channel_order(&channel, &self.id),
            channel,
            channel_order_id: self.id.clone(),
            store_id: Some("S1".into()),
            customer: Customer {
                channel_user_id: None,
                name: None,
                phone: None,
                customer_key: "c".into(),
            },
            fulfilment: Fulfilment::Delivery { address: None },
            lines: Vec::new(),
            money: OrderMoney {
                currency: "CNY".into(),
                goods: self.goods,
                discounts,
                delivery_fee: self.delivery,
                packaging_fee: self.packaging,
                paid: self.paid(),
            },
            promised: PromisedWindow {
                asap: true,
                start: None,
                end: None,
            },
            buyer_note: None,
            placed_at: utc_of_shanghai(&self.paid_at),
            source_time_zone: "Asia/Shanghai".into(),
            source_utc_offset_minutes: 480,
            history,
            exceptions: Vec::new(),
        }
    }
}

/// One WeChat Pay detail row.
#[derive(Clone)]
pub struct WxRow {
    pub time: String,
    pub transaction_id: String,
    pub merchant_order_id: String,
    pub state: &'static str,
    pub order_amount: Decimal,
    pub refund_id: String,
    pub refund: Decimal,
    pub fee: Decimal,
}

impl WxRow {
    pub fn pay(time: &str, merchant_order_id: &str, amount: Decimal) -> Self {
        Self {
            time: time.into(),
            transaction_id: format!("42000{merchant_order_id}"),
            merchant_order_id: merchant_order_id.into(),
            state: "SUCCESS",
            order_amount: amount,
            refund_id: String::new(),
            refund: Decimal::ZERO,
            fee: (amount * Decimal::new(6, 3)).round_dp(2),
        }
    }
    pub fn refund(time: &str, merchant_order_id: &str, refund_id: &str, amount: Decimal) -> Self {
        Self {
            time: time.into(),
            transaction_id: format!("42000{merchant_order_id}"),
            merchant_order_id: merchant_order_id.into(),
            state: "REFUND",
            order_amount: Decimal::ZERO,
            refund_id: refund_id.into(),
            refund: amount,
            fee: -(amount * Decimal::new(6, 3)).round_dp(2),
        }
    }
}

pub const WX_HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注";

pub fn wx_detail(r: &WxRow) -> String {
    let refund_status = if r.state == "REFUND" { "SUCCESS" } else { "" };
    let fields = [
        r.time.clone(),
        "wx8888888888888888".into(),
        "1900000109".into(),
        "0".into(),
        "".into(),
        r.transaction_id.clone(),
        r.merchant_order_id.clone(),
        "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into(),
        "JSAPI".into(),
        r.state.into(),
        "CMB_DEBIT".into(),
        "CNY".into(),
        format!("{:.2}", r.order_amount),
        "0.00".into(),
        r.refund_id.clone(),
        if r.refund_id.is_empty() {
            String::new()
        } else {
            format!("M{}", r.refund_id)
        },
        format!("{:.2}", r.refund),
        "0.00".into(),
        if r.state == "REFUND" {
            "ORIGINAL".into()
        } else {
            String::new()
        },
        refund_status.into(),
        "生鲜订单".into(),
        "".into(),
        format!("{:.5}", r.fee),
        "0.60%".into(),
        format!("{:.2}", r.order_amount),
        format!("{:.2}", r.refund),
        "".into(),
    ];
    fields
        .iter()
        .map(|f| format!("`{f}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A whole WeChat bill with a correct summary.
pub fn wechat_bill(rows: &[WxRow]) -> String {
    let mut s = String::from(WX_HEADER);
    s.push_str("\r\n");
    for r in rows {
        s.push_str(&wx_detail(r));
        s.push_str("\r\n");
    }
    let sum = |f: fn(&WxRow) -> Decimal| rows.iter().map(f).sum::<Decimal>();
    s.push_str("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n");
    s.push_str(&format!(
        "`{},`{:.2},`{:.2},`0.00,`{:.5},`{:.2},`{:.2}\r\n",
        rows.len(),
        sum(|r| r.order_amount),
        sum(|r| r.refund),
        sum(|r| r.fee),
        sum(|r| r.order_amount),
        sum(|r| r.refund),
    ));
    s
}

/// One Alipay detail row.
#[derive(Clone)]
pub struct AliRow {
    pub trade_no: String,
    pub merchant_order_id: String,
    pub refund: bool,
    pub time: String,
    pub amount: Decimal,
    pub refund_batch: String,
}

pub const ALI_HEADER: &str = "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注";

pub fn ali_detail(r: &AliRow) -> String {
    let sign = if r.refund {
        Decimal::NEGATIVE_ONE
    } else {
        Decimal::ONE
    };
    let fee = -(r.amount * Decimal::new(6, 3)).round_dp(2) * sign;
    format!(
        "{}\t,{}\t,{},生鲜订单,{},{},S001,一号店,,,ali***@example.com,{:.2},{:.2},0.00,0.00,0.00,0.00,0.00,,0.00,0.00,{}\t,{:.2},0.00,",
        r.trade_no,
        r.merchant_order_id,
        if r.refund { "退款" } else { "交易" },
        r.time,
        r.time,
        r.amount * sign,
        r.amount * sign,
        r.refund_batch,
        fee,
    )
}

pub fn alipay_csv(rows: &[AliRow]) -> String {
    let mut s = String::from("#支付宝业务明细查询\r\n#账号：[20881234567890120156]\r\n#起始日期：[2026年11月24日 00:00:00]   终止日期：[2026年11月25日 00:00:00]\r\n#-----------------------------------------业务明细列表----------------------------------------\r\n");
    s.push_str(ALI_HEADER);
    s.push_str("\r\n");
    for r in rows {
        s.push_str(&ali_detail(r));
        s.push_str("\r\n");
    }
    s.push_str(END_OF_DETAIL);
    s.push_str("\r\n");
    let (t, f): (Vec<&AliRow>, Vec<&AliRow>) = rows.iter().partition(|r| !r.refund);
    let sum = |v: &[&AliRow]| v.iter().map(|r| r.amount).sum::<Decimal>();
    s.push_str(&format!(
        "#交易合计：{}笔，商家实收共{:.2}元，商家优惠共0.00元\r\n",
        t.len(),
        sum(&t)
    ));
    s.push_str(&format!(
        "#退款合计：{}笔，商家实收退款共{:.2}元，商家优惠退款共0.00元\r\n",
        f.len(),
        -sum(&f)
    ));
    s.push_str("#导出时间：[2026年11月25日 10:12:34]\r\n");
    s
}

pub fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

/// The zip Alipay serves: the detail CSV and the summary CSV, names in GBK.
pub fn alipay_zip(csv_gbk: &[u8]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("20881234567890120156_20261124_业务明细(汇总).csv", opts)
            .unwrap();
        zip.write_all(&gbk("#支付宝业务汇总查询\r\n")).unwrap();
        zip.start_file("20881234567890120156_20261124_业务明细.csv", opts)
            .unwrap();
        zip.write_all(csv_gbk).unwrap();
        zip.finish().unwrap();
    }
    buf.into_inner()
}

/// Split `bytes` at the given cut points (clamped, sorted).
pub fn chunks_at(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut prev = 0;
    for c in cuts {
        out.push(bytes[prev..c].to_vec());
        prev = c;
    }
    out.push(bytes[prev..].to_vec());
    out
}
