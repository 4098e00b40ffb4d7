//! Alipay bill (业务明细): a zip holding GBK CSV. `#` comment lines before the header,
//! detail rows, the end-of-detail marker, then `#交易合计：…` / `#退款合计：…` summary
//! comments that must agree with the detail rows.
//!
//! The zip's central directory is at its end, so the archive is taken whole (the
//! assembled upload); the CSV inside is inflated and parsed in fixed-size chunks.

use std::io::Read;

use rust_decimal::Decimal;

use super::error::{ImportError, ImportErrorKind};
use super::import::{BillParser, LineImporter};
use super::record::{Amounts, BillLine, BillStatus, Component, LineKeys, LineKind};
use super::row::{find_columns, Column, Row};
use super::text::{looks_like_utf8_text, split_csv, LineSplitter, TextEncoding};

pub const END_OF_DETAIL: &str = "#-----------------------------------------业务明细列表结束------------------------------------";
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

const DETAIL_COLUMNS: [&str; 15] = [
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "商品名称",
    "创建时间",
    "完成时间",
    "门店编号",
    "门店名称",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "退款批次号/请求号",
    "服务费（元）",
    "备注",
];

struct Detail {
    width: usize,
    transaction_id: Column,
    merchant_order_id: Column,
    business_type: Column,
    created: Column,
    finished: Column,
    order_amount: Column,
    received: Column,
    merchant_discount: Column,
    refund_id: Column,
    fee: Column,
}

/// Per business type (交易 / 退款): row count and sums the summary states.
#[derive(Default, Clone, Copy)]
struct Sums {
    rows: u64,
    received: Decimal,
    merchant_discount: Decimal,
}

enum State {
    Preamble,
    Detail(Box<Detail>),
    Trailer { trade_summary_seen: bool },
}

pub struct AlipayCsvParser {
    lines: LineSplitter,
    state: State,
    trade: Sums,
    refund: Sums,
}

impl Default for AlipayCsvParser {
    fn default() -> Self {
        Self::new()
    }
}

impl AlipayCsvParser {
    pub fn new() -> Self {
        Self {
            lines: LineSplitter::new(),
            state: State::Preamble,
            trade: Sums::default(),
            refund: Sums::default(),
        }
    }

    fn line(&mut self, no: u64, bytes: &[u8], out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        let text = TextEncoding::Gbk.decode(no, bytes)?;
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(());
        }
        match &mut self.state {
            State::Preamble => {
                if trimmed.starts_with('#') {
                    return Ok(());
                }
                let fields = split_csv(trimmed, ',').map_err(|detail| {
                    ImportError::at(no, ImportErrorKind::MalformedRecord { detail })
                })?;
                let c = find_columns(&fields, &DETAIL_COLUMNS, no, None).map_err(|e| {
                    if looks_like_utf8_text(bytes) {
                        ImportError::at(
                            no,
                            ImportErrorKind::WrongEncoding {
                                expected: "GBK".to_string(),
                            },
                        )
                    } else {
                        e
                    }
                })?;
                let col = |i: usize| c[i].clone();
                self.state = State::Detail(Box::new(Detail {
                    width: fields.len(),
                    transaction_id: col(0),
                    merchant_order_id: col(1),
                    business_type: col(2),
                    created: col(4),
                    finished: col(5),
                    order_amount: col(8),
                    received: col(9),
                    merchant_discount: col(11),
                    refund_id: col(12),
                    fee: col(13),
                }));
                Ok(())
            }
            State::Detail(d) => {
                if trimmed == END_OF_DETAIL {
                    self.state = State::Trailer {
                        trade_summary_seen: false,
                    };
                    return Ok(());
                }
                if trimmed.starts_with('#') {
                    return Err(ImportError::at(
                        no,
                        ImportErrorKind::MalformedRecord {
                            detail: "comment inside the detail rows".to_string(),
                        },
                    ));
                }
                let fields = split_csv(trimmed, ',').map_err(|detail| {
                    ImportError::at(no, ImportErrorKind::MalformedRecord { detail })
                })?;
                let row = Row {
                    line: no,
                    fields,
                    prefix: None,
                };
                let line = detail_line(d, &row)?;
                let sums = if line.kind == LineKind::Refund {
                    &mut self.refund
                } else {
                    &mut self.trade
                };
                sums.rows += 1;
                ImportError::add_to_total(
                    &mut sums.received,
                    row.yuan(&d.received)?,
                    no,
                    &d.received.name,
                )?;
                ImportError::add_to_total(
                    &mut sums.merchant_discount,
                    row.yuan(&d.merchant_discount)?,
                    no,
                    &d.merchant_discount.name,
                )?;
                out.push(line);
                Ok(())
            }
            State::Trailer { trade_summary_seen } => {
                let body = trimmed.trim_start_matches('#');
                if let Some(rest) = body.strip_prefix("交易合计：") {
                    check_summary(no, "交易合计", rest, self.trade, false)?;
                    *trade_summary_seen = true;
                } else if let Some(rest) = body.strip_prefix("退款合计：") {
                    check_summary(no, "退款合计", rest, self.refund, true)?;
                } else if !trimmed.starts_with('#') {
                    return Err(ImportError::at(
                        no,
                        ImportErrorKind::MalformedRecord {
                            detail: "detail row after the end marker".to_string(),
                        },
                    ));
                }
                Ok(())
            }
        }
    }
}

/// `12笔，商家实收共100.00元，商家优惠共0.00元`. Refund totals are compared by
/// magnitude: exports differ on whether they carry the minus sign.
fn check_summary(
    no: u64,
    what: &str,
    text: &str,
    sums: Sums,
    by_magnitude: bool,
) -> Result<(), ImportError> {
    let mut parts = text.split(['，', ',']);
    let count_text = parts.next().unwrap_or("").trim();
    let count: u64 = count_text
        .trim_end_matches('笔')
        .trim()
        .parse()
        .map_err(|_| {
            ImportError::in_column(
                no,
                what,
                ImportErrorKind::UnknownValue {
                    value: count_text.to_string(),
                },
            )
        })?;
    if count != sums.rows {
        return Err(ImportError::summary(
            no,
            &format!("{what}笔数"),
            count,
            sums.rows,
        ));
    }
    for part in parts {
        let Some((name, value)) = part.split_once('共') else {
            continue;
        };
        let value = value.trim().trim_end_matches('元').trim();
        let computed = if name.starts_with("商家实收") {
            sums.received
        } else if name.starts_with("商家优惠") {
            sums.merchant_discount
        } else {
            continue;
        };
        let declared = crate::money::parse_yuan(value)
            .map_err(|e| ImportError::amount(no, name, value, &e))?;
        let agree = if by_magnitude {
            declared.abs() == computed.abs()
        } else {
            declared == computed
        };
        if !agree {
            return Err(ImportError::summary(no, name, declared, computed));
        }
    }
    Ok(())
}

fn detail_line(d: &Detail, row: &Row<'_>) -> Result<BillLine, ImportError> {
    row.check_width(d.width)?;
    let finished = row.text(&d.finished);
    let occurred_at = if finished.is_empty() {
        row.datetime(&d.created, TIME_FORMAT)?
    } else {
        row.datetime(&d.finished, TIME_FORMAT)?
    };
    let order_amount = row.yuan(&d.order_amount)?;
    let received = row.yuan(&d.received)?;
    // Alipay prints the service fee as a deduction (negative on a sale); we keep fees
    // as a positive cost, so a refund's returned fee is negative. Amounts are bounded
    // by `parse_yuan` (|x| <= 10^12), so `received - fee` cannot overflow.
    let fee = -row.yuan(&d.fee)?;
    row.yuan(&d.merchant_discount)?;
    let keys = LineKeys {
        channel_order_id: None,
        merchant_order_id: row.opt_text(&d.merchant_order_id),
        transaction_id: row.opt_text(&d.transaction_id),
        refund_id: row.opt_text(&d.refund_id),
    };
    if keys.merchant_order_id.is_none() && keys.transaction_id.is_none() {
        return Err(ImportError::in_column(
            row.line,
            &d.merchant_order_id.name,
            ImportErrorKind::EmptyValue,
        ));
    }
    let (kind, status, amounts) = match row.text(&d.business_type) {
        "交易" => (
            LineKind::Payment,
            BillStatus::Settled,
            Amounts::default()
                .with(Component::Paid, order_amount)
                .with(Component::Settled, received - fee)
                .with(Component::Fee, fee),
        ),
        "退款" => (
            LineKind::Refund,
            BillStatus::Refunded,
            Amounts::default()
                .with(Component::Refund, order_amount.abs())
                .with(Component::Settled, received - fee)
                .with(Component::Fee, fee),
        ),
        other => {
            return Err(ImportError::in_column(
                row.line,
                &d.business_type.name,
                ImportErrorKind::UnknownValue {
                    value: other.to_string(),
                },
            ))
        }
    };
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

impl LineImporter for AlipayCsvParser {
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

impl BillParser for AlipayCsvParser {
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        self.feed_lines(chunk, out)
    }

    fn finish(&mut self, out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        let last = self.finish_lines(out)?;
        match self.state {
            State::Trailer {
                trade_summary_seen: true,
            } => Ok(()),
            State::Preamble => Err(ImportError::at(last + 1, ImportErrorKind::MissingHeader)),
            _ => Err(ImportError::at(last + 1, ImportErrorKind::MissingSummary)),
        }
    }
}

/// Import a zipped Alipay bill: the archive whole, the CSV inside in `chunk_size` pieces.
/// The detail CSV is the entry whose name does not contain 汇总 (the summary CSV).
pub fn import_alipay_zip(archive: &[u8], chunk_size: usize) -> Result<Vec<BillLine>, ImportError> {
    let corrupt = |line: u64, e: &dyn std::fmt::Display| {
        ImportError::at(
            line,
            ImportErrorKind::TruncatedArchive {
                detail: e.to_string(),
            },
        )
    };
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(archive)).map_err(|e| corrupt(0, &e))?;
    let (gbk_summary, _, _) = encoding_rs::GBK.encode("汇总");
    let is_detail = |raw: &[u8]| {
        let lower = raw.to_ascii_lowercase();
        lower.ends_with(b".csv")
            && !contains(raw, &gbk_summary)
            && !contains(raw, "汇总".as_bytes())
    };
    let index = (0..zip.len())
        .find(|&i| {
            zip.by_index_raw(i)
                .map(|f| is_detail(f.name_raw()))
                .unwrap_or(false)
        })
        .ok_or(ImportError::at(0, ImportErrorKind::NoBillInArchive))?;
    let mut entry = zip.by_index(index).map_err(|e| corrupt(0, &e))?;
    let mut parser = AlipayCsvParser::new();
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk_size.max(1)];
    loop {
        let n = entry
            .read(&mut buf)
            .map_err(|e| corrupt(parser.lines.line_no() + 1, &e))?;
        if n == 0 {
            break;
        }
        parser.feed(&buf[..n], &mut out)?;
    }
    parser.finish(&mut out)?;
    Ok(out)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
