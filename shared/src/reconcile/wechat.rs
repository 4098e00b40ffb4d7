//! WeChat Pay trade bill (对账单): UTF-8 CSV, every value prefixed with a backtick so
//! spreadsheets keep long ids as text; header, detail rows, then a summary header row
//! (总交易单数, 应结订单总金额, …) and one row of totals, which must agree with the
//! detail rows or the whole bill is refused.

use rust_decimal::Decimal;

use super::error::{ImportError, ImportErrorKind};
use super::import::{BillParser, LineImporter};
use super::record::{Amounts, BillLine, BillStatus, Component, LineKeys, LineKind};
use super::row::{find_columns, Column, Row};
use super::text::{split_csv, LineSplitter, TextEncoding};

const PREFIX: Option<char> = Some('`');
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// The detail columns CHANNELS.md lists; all must be in the header (more may be).
const DETAIL_COLUMNS: [&str; 18] = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "微信订单号",
    "商户订单号",
    "交易类型",
    "交易状态",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "退款状态",
    "商品名称",
    "手续费",
    "费率",
    "订单金额",
];
const SUMMARY_FIRST: &str = "总交易单数";

struct Detail {
    width: usize,
    time: Column,
    transaction_id: Column,
    merchant_order_id: Column,
    state: Column,
    settlement: Column,
    voucher: Column,
    refund_id: Column,
    merchant_refund_id: Column,
    refund: Column,
    fee: Column,
    order_amount: Column,
}

/// Running sums of the detail rows, for the summary check.
#[derive(Default)]
struct Sums {
    rows: u64,
    settlement: Decimal,
    voucher: Decimal,
    refund: Decimal,
    fee: Decimal,
    order_amount: Decimal,
}

enum State {
    Header,
    Detail(Box<Detail>),
    /// Summary header seen: the names of the totals in the next row.
    SummaryValues {
        names: Vec<String>,
        line: u64,
    },
    Done,
}

pub struct WechatBillParser {
    lines: LineSplitter,
    state: State,
    sums: Sums,
}

impl Default for WechatBillParser {
    fn default() -> Self {
        Self::new()
    }
}

impl WechatBillParser {
    pub fn new() -> Self {
        Self {
            lines: LineSplitter::new(),
            state: State::Header,
            sums: Sums::default(),
        }
    }

    fn line(&mut self, no: u64, bytes: &[u8], out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        let text = TextEncoding::Utf8.decode(no, bytes)?;
        if text.trim().is_empty() {
            return Ok(());
        }
        let fields = split_csv(&text, ',')
            .map_err(|detail| ImportError::at(no, ImportErrorKind::MalformedRecord { detail }))?;
        let row = Row {
            line: no,
            fields,
            prefix: PREFIX,
        };
        match &mut self.state {
            State::Header => {
                let c = find_columns(&row.fields, &DETAIL_COLUMNS, no, PREFIX)?;
                let width = row.fields.len();
                let col = |i: usize| c[i].clone();
                self.state = State::Detail(Box::new(Detail {
                    width,
                    time: col(0),
                    transaction_id: col(3),
                    merchant_order_id: col(4),
                    state: col(6),
                    settlement: col(8),
                    voucher: col(9),
                    refund_id: col(10),
                    merchant_refund_id: col(11),
                    refund: col(12),
                    fee: col(15),
                    order_amount: col(17),
                }));
                Ok(())
            }
            State::Detail(d) => {
                let first = row
                    .fields
                    .first()
                    .map(|f| f.trim().trim_start_matches('`'))
                    .unwrap_or("");
                if first == SUMMARY_FIRST {
                    let names = (0..row.fields.len())
                        .map(|i| {
                            row.text(&Column {
                                index: i,
                                name: String::new(),
                            })
                            .to_string()
                        })
                        .collect();
                    self.state = State::SummaryValues { names, line: no };
                    return Ok(());
                }
                out.push(detail_line(d, &row, &mut self.sums)?);
                Ok(())
            }
            State::SummaryValues { names, .. } => {
                let names = std::mem::take(names);
                self.check_summary(&names, &row)?;
                self.state = State::Done;
                Ok(())
            }
            State::Done => Err(ImportError::at(
                no,
                ImportErrorKind::MalformedRecord {
                    detail: "text after the summary rows".to_string(),
                },
            )),
        }
    }

    fn check_summary(&self, names: &[String], row: &Row<'_>) -> Result<(), ImportError> {
        for (index, name) in names.iter().enumerate() {
            let col = Column {
                index,
                name: name.clone(),
            };
            let computed = match name.as_str() {
                "总交易单数" => {
                    let text = row.text(&col);
                    let declared: u64 = text.parse().map_err(|_| {
                        ImportError::in_column(
                            row.line,
                            name,
                            ImportErrorKind::UnknownValue {
                                value: text.to_string(),
                            },
                        )
                    })?;
                    if declared != self.sums.rows {
                        return Err(ImportError::summary(
                            row.line,
                            name,
                            declared,
                            self.sums.rows,
                        ));
                    }
                    continue;
                }
                "应结订单总金额" => self.sums.settlement,
                "退款总金额" => self.sums.refund,
                "手续费总金额" => self.sums.fee,
                "订单总金额" => self.sums.order_amount,
                "代金券总金额" => self.sums.voucher,
                // Totals of columns this importer does not read (充值券退款总金额, …).
                _ => continue,
            };
            let declared = row.yuan(&col)?;
            if declared != computed {
                return Err(ImportError::summary(row.line, name, declared, computed));
            }
        }
        Ok(())
    }
}

fn detail_line(d: &Detail, row: &Row<'_>, sums: &mut Sums) -> Result<BillLine, ImportError> {
    row.check_width(d.width)?;
    let occurred_at = row.datetime(&d.time, TIME_FORMAT)?;
    let state = row.text(&d.state).to_string();
    let settlement = row.yuan(&d.settlement)?;
    let voucher = row.yuan(&d.voucher)?;
    let refund = row.yuan(&d.refund)?;
    let fee = row.yuan(&d.fee)?;
    let order_amount = row.yuan(&d.order_amount)?;
    let keys = LineKeys {
        channel_order_id: None,
        merchant_order_id: row.opt_text(&d.merchant_order_id),
        transaction_id: row.opt_text(&d.transaction_id),
        refund_id: row
            .opt_text(&d.refund_id)
            .or_else(|| row.opt_text(&d.merchant_refund_id)),
    };
    if keys.merchant_order_id.is_none() && keys.transaction_id.is_none() {
        return Err(ImportError::in_column(
            row.line,
            &d.merchant_order_id.name,
            ImportErrorKind::EmptyValue,
        ));
    }
    // Each amount is at most 10^12 in magnitude (`parse_yuan`), so the per-line
    // differences below cannot overflow.
    let (kind, status, amounts) = match state.as_str() {
        "SUCCESS" => (
            LineKind::Payment,
            BillStatus::Settled,
            Amounts::default()
                .with(Component::Paid, order_amount)
                .with(Component::Settled, settlement - fee)
                .with(Component::Fee, fee),
        ),
        "REFUND" => (
            LineKind::Refund,
            BillStatus::Refunded,
            Amounts::default()
                .with(Component::Refund, refund)
                .with(Component::Settled, -refund - fee)
                .with(Component::Fee, fee),
        ),
        // 已撤销: the payment was reversed before it settled.
        "REVOKED" | "CLOSED" => (LineKind::Payment, BillStatus::Cancelled, Amounts::default()),
        other => {
            return Err(ImportError::in_column(
                row.line,
                &d.state.name,
                ImportErrorKind::UnknownValue {
                    value: other.to_string(),
                },
            ))
        }
    };
    sums.rows += 1;
    let add = |total: &mut Decimal, v: Decimal, col: &Column| {
        ImportError::add_to_total(total, v, row.line, &col.name)
    };
    add(&mut sums.settlement, settlement, &d.settlement)?;
    add(&mut sums.voucher, voucher, &d.voucher)?;
    add(&mut sums.refund, refund, &d.refund)?;
    add(&mut sums.fee, fee, &d.fee)?;
    add(&mut sums.order_amount, order_amount, &d.order_amount)?;
    Ok(BillLine {
        line: row.line,
        kind,
        keys,
        status,
        occurred_at: Some(occurred_at),
        business_date: None,
        amounts,
    })
}

impl LineImporter for WechatBillParser {
    fn splitter(&mut self) -> &mut LineSplitter {
        &mut self.lines
    }
    fn on_line(
        &mut self,
        no: u64,
        bytes: &[u8],
        out: &mut Vec<BillLine>,
    ) -> Result<(), ImportError> {
        self.line(no, bytes, out)
    }
}

impl BillParser for WechatBillParser {
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        self.feed_lines(chunk, out)
    }

    fn finish(&mut self, out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        let last = self.finish_lines(out)?;
        match &self.state {
            State::Done => Ok(()),
            State::Header => Err(ImportError::at(last + 1, ImportErrorKind::MissingHeader)),
            State::SummaryValues { line, .. } => {
                Err(ImportError::at(line + 1, ImportErrorKind::MissingSummary))
            }
            State::Detail(_) => Err(ImportError::at(last + 1, ImportErrorKind::MissingSummary)),
        }
    }
}
