//! Platform settlement statements (Meituan, Ele.me, …): CSV or JSON Lines, read through
//! a declared column mapping per channel, so a platform that renames a column is a
//! configuration change. See [`mappings`](super::mappings) for the shipped ones.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::error::{ImportError, ImportErrorKind};
use super::import::{BillParser, LineImporter};
use super::record::{Amounts, BillLine, BillStatus, Component, LineKeys, LineKind};
use super::row::{find_columns, Column, Row};
use super::text::{looks_like_utf8_text, split_csv, LineSplitter, TextEncoding};
use crate::money::{from_fen, parse_yuan, within_range, yuan_from_json, MoneyError};
use crate::order::ChannelId;

/// What a statement column means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementField {
    OrderId,
    BusinessDate,
    GoodsAmount,
    PlatformSubsidy,
    MerchantDiscount,
    DeliveryFee,
    PackagingFee,
    Commission,
    Refund,
    AmountSettled,
    /// Optional: the order's state; values in `cancelled_values` mean cancelled.
    Status,
    /// Optional: the payment transaction id, when the platform lists it.
    TransactionId,
}

impl StatementField {
    const REQUIRED: [StatementField; 3] = [
        StatementField::OrderId,
        StatementField::BusinessDate,
        StatementField::AmountSettled,
    ];

    fn component(self) -> Option<Component> {
        Some(match self {
            StatementField::GoodsAmount => Component::Goods,
            StatementField::PlatformSubsidy => Component::PlatformDiscount,
            StatementField::MerchantDiscount => Component::MerchantDiscount,
            StatementField::DeliveryFee => Component::DeliveryFee,
            StatementField::PackagingFee => Component::PackagingFee,
            StatementField::Commission => Component::Commission,
            StatementField::Refund => Component::Refund,
            StatementField::AmountSettled => Component::Settled,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmountFormat {
    /// Decimal yuan ("12.30").
    Yuan,
    /// Integer fen (1230).
    Fen,
}

impl AmountFormat {
    fn parse(self, text: &str) -> Result<Decimal, MoneyError> {
        match self {
            AmountFormat::Yuan => parse_yuan(text),
            AmountFormat::Fen => text
                .trim()
                .parse::<i64>()
                .map(from_fen)
                .map_err(|_| MoneyError::NotADecimal(text.to_string()))
                .and_then(|d| within_range(d, text)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StatementFormat {
    Csv {
        delimiter: char,
    },
    /// One JSON object per line: streams like CSV, unlike one big JSON array.
    JsonLines,
}

/// A channel's statement layout, as configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementMapping {
    pub channel: ChannelId,
    pub format: StatementFormat,
    pub encoding: TextEncoding,
    pub amount_format: AmountFormat,
    /// chrono format of the business date column ("%Y-%m-%d").
    pub date_format: String,
    /// Column name (CSV header / JSON key) → meaning.
    pub columns: BTreeMap<String, StatementField>,
    #[serde(default)]
    pub cancelled_values: Vec<String>,
    /// A value in the order id column that marks the totals row ("合计"); its amounts
    /// must equal the sums of the detail rows.
    #[serde(default)]
    pub total_row_label: Option<String>,
    /// Title lines before the header (an export's "对账单" banner), skipped unread.
    #[serde(default)]
    pub preamble_lines: u64,
    /// Lines starting with this are comments anywhere in the file.
    #[serde(default)]
    pub comment_prefix: Option<String>,
    /// The channel's contracted commission rate on goods (`"0.08"` for 8 %), when known:
    /// a bill line whose commission is more than a fen off rate × goods is reported as
    /// a commission difference. None (the default): a commission is only questioned
    /// when its line does not add up (see `MatchOptions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commission_rate: Option<Decimal>,
}

impl StatementMapping {
    fn column_of(&self, field: StatementField) -> Option<&str> {
        self.columns
            .iter()
            .find(|(_, f)| **f == field)
            .map(|(c, _)| c.as_str())
    }

    /// The mapping itself is checked before any file: every required field mapped, a
    /// commission rate between 0 and 1.
    pub fn validate(&self) -> Result<(), ImportError> {
        if let Some(rate) = self.commission_rate {
            if rate.is_sign_negative() || rate > Decimal::ONE {
                return Err(ImportError::in_column(
                    0,
                    "commission_rate",
                    ImportErrorKind::UnknownValue {
                        value: rate.to_string(),
                    },
                ));
            }
        }
        for f in StatementField::REQUIRED {
            if self.column_of(f).is_none() {
                let name = serde_json::to_value(f)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                return Err(ImportError::at(
                    0,
                    ImportErrorKind::MissingColumn { column: name },
                ));
            }
        }
        Ok(())
    }
}

/// A cell as found in either format.
enum Cell<'a> {
    Text(&'a str),
    Json(&'a serde_json::Value),
}

impl Cell<'_> {
    fn text(&self) -> String {
        match self {
            Cell::Text(t) => t.trim().to_string(),
            Cell::Json(serde_json::Value::String(s)) => s.trim().to_string(),
            Cell::Json(serde_json::Value::Null) => String::new(),
            Cell::Json(v) => v.to_string(),
        }
    }
}

pub struct StatementParser {
    mapping: StatementMapping,
    lines: LineSplitter,
    /// CSV: (column, field) once the header is read. JSON Lines: from the mapping.
    columns: Option<Vec<(Column, StatementField)>>,
    width: usize,
    sums: Amounts,
    total_row_seen: bool,
}

impl StatementParser {
    pub fn new(mapping: StatementMapping) -> Result<Self, ImportError> {
        mapping.validate()?;
        let columns = match mapping.format {
            StatementFormat::JsonLines => Some(
                mapping
                    .columns
                    .iter()
                    .map(|(name, f)| {
                        (
                            Column {
                                index: 0,
                                name: name.clone(),
                            },
                            *f,
                        )
                    })
                    .collect(),
            ),
            StatementFormat::Csv { .. } => None,
        };
        Ok(Self {
            mapping,
            lines: LineSplitter::new(),
            columns,
            width: 0,
            sums: Amounts::default(),
            total_row_seen: false,
        })
    }

    fn line(&mut self, no: u64, bytes: &[u8], out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        if no <= self.mapping.preamble_lines {
            return Ok(());
        }
        let text = self.mapping.encoding.decode(no, bytes)?;
        let comment = self
            .mapping
            .comment_prefix
            .as_deref()
            .is_some_and(|p| text.trim_start().starts_with(p));
        if text.trim().is_empty() || comment {
            return Ok(());
        }
        if self.total_row_seen {
            return Err(ImportError::at(
                no,
                ImportErrorKind::MalformedRecord {
                    detail: "row after the totals row".to_string(),
                },
            ));
        }
        match self.mapping.format {
            StatementFormat::Csv { delimiter } => {
                let fields = split_csv(&text, delimiter).map_err(|detail| {
                    ImportError::at(no, ImportErrorKind::MalformedRecord { detail })
                })?;
                let Some(columns) = &self.columns else {
                    let names: Vec<&str> =
                        self.mapping.columns.keys().map(String::as_str).collect();
                    let encoding = self.mapping.encoding;
                    let found = find_columns(&fields, &names, no, None).map_err(|e| {
                        // UTF-8 Chinese often decodes as (wrong) GBK without error; a
                        // header that does not match then names the real fault.
                        if encoding == TextEncoding::Gbk && looks_like_utf8_text(bytes) {
                            ImportError::at(
                                no,
                                ImportErrorKind::WrongEncoding {
                                    expected: encoding.name().to_string(),
                                },
                            )
                        } else {
                            e
                        }
                    })?;
                    self.columns = Some(
                        found
                            .into_iter()
                            .zip(self.mapping.columns.values().copied())
                            .collect(),
                    );
                    self.width = fields.len();
                    return Ok(());
                };
                let row = Row {
                    line: no,
                    fields,
                    prefix: None,
                };
                row.check_width(self.width)?;
                let cells: Vec<(&Column, StatementField, Cell<'_>)> = columns
                    .iter()
                    .map(|(c, f)| (c, *f, Cell::Text(row.text(c))))
                    .collect();
                let record = self.record(no, &cells)?;
                self.accept(no, record, out)
            }
            StatementFormat::JsonLines => {
                let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    ImportError::at(
                        no,
                        ImportErrorKind::MalformedRecord {
                            detail: e.to_string(),
                        },
                    )
                })?;
                let columns = self.columns.as_deref().unwrap_or(&[]);
                let mut cells = Vec::with_capacity(columns.len());
                for (c, f) in columns {
                    match value.get(&c.name) {
                        Some(v) => cells.push((c, *f, Cell::Json(v))),
                        None if StatementField::REQUIRED.contains(f) => {
                            return Err(ImportError::in_column(
                                no,
                                &c.name,
                                ImportErrorKind::MissingColumn {
                                    column: c.name.clone(),
                                },
                            ))
                        }
                        None => {}
                    }
                }
                let record = self.record(no, &cells)?;
                self.accept(no, record, out)
            }
        }
    }

    fn accept(
        &mut self,
        no: u64,
        record: Parsed,
        out: &mut Vec<BillLine>,
    ) -> Result<(), ImportError> {
        match record {
            Parsed::Line(line) => {
                if let Err(c) = self.sums.checked_add(&line.amounts) {
                    let column = self.column_for(c);
                    return Err(ImportError::in_column(
                        no,
                        &column,
                        ImportErrorKind::TotalOutOfRange {
                            field: column.clone(),
                        },
                    ));
                }
                out.push(*line);
            }
            Parsed::Totals(declared) => {
                for (c, v) in declared.iter() {
                    let computed = self.sums.or_zero(c);
                    if v != computed {
                        let column = self.column_for(c);
                        return Err(ImportError::summary(no, &column, v, computed));
                    }
                }
                self.total_row_seen = true;
            }
        }
        Ok(())
    }

    fn column_for(&self, c: Component) -> String {
        self.mapping
            .columns
            .iter()
            .find(|(_, f)| f.component() == Some(c))
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| c.as_str().to_string())
    }

    fn record(
        &self,
        no: u64,
        cells: &[(&Column, StatementField, Cell<'_>)],
    ) -> Result<Parsed, ImportError> {
        let get = |field: StatementField| cells.iter().find(|(_, f, _)| *f == field);
        let order_id = get(StatementField::OrderId)
            .map(|(_, _, c)| c.text())
            .unwrap_or_default();
        let is_total = self.mapping.total_row_label.as_deref() == Some(order_id.as_str());
        let mut amounts = Amounts::default();
        for (col, field, cell) in cells {
            let Some(component) = field.component() else {
                continue;
            };
            let value = match (cell, self.mapping.amount_format) {
                (Cell::Json(v @ serde_json::Value::Number(_)), AmountFormat::Yuan) => {
                    yuan_from_json(v)
                }
                (cell, fmt) => {
                    let t = cell.text();
                    if t.is_empty() {
                        Ok(Decimal::ZERO)
                    } else {
                        fmt.parse(&t)
                    }
                }
            };
            amounts.set(
                component,
                value.map_err(|e| ImportError::amount(no, &col.name, &cell.text(), &e))?,
            );
        }
        if is_total {
            return Ok(Parsed::Totals(amounts));
        }
        if order_id.is_empty() {
            let col = get(StatementField::OrderId)
                .map(|(c, _, _)| c.name.clone())
                .unwrap_or_default();
            return Err(ImportError::in_column(
                no,
                &col,
                ImportErrorKind::EmptyValue,
            ));
        }
        let date_cell = get(StatementField::BusinessDate);
        let business_date = match date_cell {
            Some((col, _, cell)) => {
                let t = cell.text();
                Some(
                    chrono::NaiveDate::parse_from_str(&t, &self.mapping.date_format)
                        .or_else(|_| {
                            chrono::NaiveDateTime::parse_from_str(&t, &self.mapping.date_format)
                                .map(|d| d.date())
                        })
                        .map_err(|_| {
                            ImportError::in_column(
                                no,
                                &col.name,
                                ImportErrorKind::MalformedDate { value: t.clone() },
                            )
                        })?,
                )
            }
            None => None,
        };
        let cancelled = get(StatementField::Status)
            .map(|(_, _, c)| self.mapping.cancelled_values.contains(&c.text()))
            .unwrap_or(false);
        let transaction_id = get(StatementField::TransactionId)
            .map(|(_, _, c)| c.text())
            .filter(|t| !t.is_empty());
        // A line with a refund and no goods is a refund on its own (after settlement).
        let refund_only = amounts.or_zero(Component::Goods).is_zero()
            && amounts.or_zero(Component::Refund) > Decimal::ZERO;
        let (kind, status) = match (cancelled, refund_only) {
            (true, _) => (LineKind::Payment, BillStatus::Cancelled),
            (false, true) => (LineKind::Refund, BillStatus::Refunded),
            (false, false) => (LineKind::Payment, BillStatus::Settled),
        };
        Ok(Parsed::Line(Box::new(BillLine {
            line: no,
            kind,
            keys: LineKeys {
                channel_order_id: Some(order_id),
                merchant_order_id: None,
                transaction_id,
                refund_id: None,
            },
            status,
            occurred_at: None,
            business_date,
            amounts,
        })))
    }
}

enum Parsed {
    Line(Box<BillLine>),
    Totals(Amounts),
}

impl LineImporter for StatementParser {
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

impl BillParser for StatementParser {
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        self.feed_lines(chunk, out)
    }

    fn finish(&mut self, out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        let last = self.finish_lines(out)?;
        if self.columns.is_none() {
            return Err(ImportError::at(last + 1, ImportErrorKind::MissingHeader));
        }
        if self.mapping.total_row_label.is_some() && !self.total_row_seen {
            return Err(ImportError::at(last + 1, ImportErrorKind::MissingSummary));
        }
        Ok(())
    }
}
