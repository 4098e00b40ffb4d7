//! Reconcile 1,000,000 WeChat Pay bill lines against 1,000,000 orders, natively.
//! The bill is written to a temporary file first (untimed), then streamed through the
//! importer in 64 KiB chunks (never held whole); orders are built one at a time and
//! turned into `OurRecord`s. 1% of the lines are off by a fen, 0.1% of the orders are
//! missing from the bill and replaced by foreign lines.
//! Prints import, conversion and matching times (median of runs) and peak RSS (VmHWM).
//!
//!     cargo bench -p orderhub-core --bench reconcile [-- N RUNS]

use std::io::{Read, Write};
use std::time::Instant;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use orderhub_core::money::{from_fen, Decimal};
use orderhub_core::order::*;
use orderhub_core::reconcile::*;

const HEADER: &str = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n";

fn amount_fen(i: u64) -> i64 {
    (500 + (i * 7919) % 20_000) as i64
}

/// Every 100th line's amount is off by a fen; every 1000th order is missing from the
/// bill and replaced by a foreign one.
fn bill_amount_fen(i: u64) -> i64 {
    amount_fen(i) + i64::from(i % 100 == 7)
}

/// Write the bill to a file once (not timed), 64 KiB at a time.
fn write_bill(n: u64, day: NaiveDate, path: &std::path::Path) -> u64 {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut written = 0u64;
    let mut buf = String::with_capacity(80 * 1024);
    buf.push_str(HEADER);
    let (mut settle, mut fee_sum) = (Decimal::ZERO, Decimal::ZERO);
    for i in 0..n {
        let id = if i % 1000 == 3 {
            format!("F{i:09}")
        } else {
            format!("A{i:09}")
        };
        let amount = from_fen(bill_amount_fen(i));
        let fee = from_fen(bill_amount_fen(i) * 6 / 1000);
        settle += amount;
        fee_sum += fee;
        let secs = i * 86_000 / n;
        let t = day.and_hms_opt(0, 0, 0).unwrap() + Duration::seconds(secs as i64 + 1);
        buf.push_str(&format!(
            "`{},`wx88,`1900000109,`0,`,`4200{id},`{id},`o1,`JSAPI,`SUCCESS,`CMB,`CNY,`{amount:.2},`0.00,`,`,`0.00,`0.00,`,`,`生鲜,`,`{fee:.2},`0.60%,`{amount:.2},`0.00,`\r\n",
            t.format("%Y-%m-%d %H:%M:%S")
        ));
        if buf.len() >= 64 * 1024 {
            file.write_all(buf.as_bytes()).unwrap();
            written += buf.len() as u64;
            buf.clear();
        }
    }
    buf.push_str("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n");
    buf.push_str(&format!(
        "`{n},`{settle:.2},`0.00,`0.00,`{fee_sum:.2},`{settle:.2},`0.00\r\n"
    ));
    file.write_all(buf.as_bytes()).unwrap();
    written + buf.len() as u64
}

/// Stream the bill file through the importer in 64 KiB chunks.
fn import_bill(path: &std::path::Path, n: u64) -> Vec<BillLine> {
    let mut parser = WechatBillParser::new();
    let mut out = Vec::with_capacity(n as usize);
    let mut file = std::fs::File::open(path).unwrap();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut chunk).unwrap();
        if read == 0 {
            break;
        }
        parser.feed(&chunk[..read], &mut out).unwrap();
    }
    parser.finish(&mut out).unwrap();
    out
}

fn order(i: u64, day: NaiveDate) -> Order {
    let channel = ChannelId::new("app");
    let id = format!("A{i:09}");
    let local =
        day.and_hms_opt(0, 0, 0).unwrap() + Duration::seconds((i * 86_000 / 1_000_000) as i64);
    let at = Utc.from_utc_datetime(&(local - Duration::hours(8)));
    let goods = from_fen(amount_fen(i));
    Order {
        id: OrderId::for_channel_order(&channel, &id),
        channel: channel.clone(),
        channel_order_id: id,
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
            goods,
            discounts: Vec::new(),
            delivery_fee: Decimal::ZERO,
            packaging_fee: Decimal::ZERO,
            paid: goods,
        },
        promised: PromisedWindow {
            asap: true,
            start: None,
            end: None,
        },
        buyer_note: None,
        placed_at: at,
        source_time_zone: "Asia/Shanghai".into(),
        source_utc_offset_minutes: 480,
        history: vec![OrderEvent {
            key: "paid".into(),
            kind: EventKind::Paid,
            at,
            source: EventSource::Channel(channel),
        }],
        exceptions: Vec::new(),
    }
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(1_000_000);
    let runs = args.get(1).copied().unwrap_or(3);
    let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let (mut t_import, mut t_ours, mut t_match) = (Vec::new(), Vec::new(), Vec::new());
    let path = std::env::temp_dir().join(format!(
        "orderhub-reconcile-bench-{}.csv",
        std::process::id()
    ));
    let bytes = write_bill(n, day, &path);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let bill = import_bill(&path, n);
        t_import.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let ours: Vec<OurRecord> = (0..n)
            .map(|i| OurRecord::from_order(&order(i, day)))
            .collect();
        t_ours.push(t.elapsed().as_secs_f64());
        let req = ReconcileRequest {
            channel: ChannelId::new("app"),
            business_date: day,
            source: StatementSource::WechatPay,
            statement_id: "bench".into(),
        };
        let t = Instant::now();
        let report = reconcile_day(
            &req,
            DayBills {
                day: &bill,
                ..DayBills::default()
            },
            ours,
        );
        t_match.push(t.elapsed().as_secs_f64());
        last = Some(report);
    }
    let _ = std::fs::remove_file(&path);
    let report = last.unwrap();
    println!("reconcile bench: {n} bill lines vs {n} orders, {runs} runs (median)");
    println!("  bill file: {:.1} MiB", bytes as f64 / 1_048_576.0);
    println!(
        "  import (stream, 64 KiB chunks): {:.3} s",
        median(t_import)
    );
    println!("  orders -> OurRecord:            {:.3} s", median(t_ours));
    println!("  match + report:                 {:.3} s", median(t_match));
    println!("  differences: {:?}", report.summary.differences);
    println!("  peak RSS (VmHWM): {} MiB", vm_hwm_kib() / 1024);
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("  load average while measured: {}", load.trim());
    }
}
