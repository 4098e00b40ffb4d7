//! Our own settlement formats, JSON Lines (one document per line, so they stream and
//! every error has a line): POS shift totals and group-buying leader settlements.
//!
//! POS shift (one per line):
//! `{"store_id":"S1","shift_id":"S1-20261124-A","business_date":"2026-11-24",
//!   "opened_at":"2026-11-24 08:00:00","closed_at":"2026-11-24 16:00:00","order_count":3,
//!   "gross_sales":"120.00","discounts":"5.00","refunds":"2.00","net_sales":"113.00",
//!   "tenders":{"cash":"13.00","wechat":"100.00"}}`
//! with net_sales = gross − discounts − refunds and Σ tenders = net_sales.
//!
//! Group-buying leader settlement (one leader per line):
//! `{"settlement_id":"GB-L7-20261124","leader_id":"L7","business_date":"2026-11-24",
//!   "orders":[{"order_id":"G1","goods":"39.90","refund":"0.00","commission":"3.99"}],
//!   "total_goods":"39.90","total_refund":"0.00","total_commission":"3.99"}`
//! with each total the sum of its order lines.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde_json::Value;

use super::error::{ImportError, ImportErrorKind};
use super::import::{BillParser, LineImporter};
use super::ours::OurRecord;
use super::record::{Amounts, BillLine, BillStatus, Component, LineKeys, LineKind};
use super::text::{LineSplitter, TextEncoding};
use crate::money::yuan_from_json;

const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// One JSON document's fields, with errors that name the line and the field path.
struct Doc<'a> {
    line: u64,
    value: &'a Value,
    path: String,
}

impl<'a> Doc<'a> {
    fn field(&self, name: &str) -> Result<Doc<'a>, ImportError> {
        let path = if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        };
        match self.value.get(name) {
            Some(v) if !v.is_null() => Ok(Doc {
                line: self.line,
                value: v,
                path,
            }),
            _ => Err(ImportError::in_column(
                self.line,
                &path,
                ImportErrorKind::MissingColumn {
                    column: path.clone(),
                },
            )),
        }
    }
    fn text(&self, name: &str) -> Result<String, ImportError> {
        let f = self.field(name)?;
        match f.value {
            Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(ImportError::in_column(
                self.line,
                &f.path,
                ImportErrorKind::EmptyValue,
            )),
        }
    }
    fn yuan(&self, name: &str) -> Result<Decimal, ImportError> {
        let f = self.field(name)?;
        yuan_from_json(f.value)
            .map_err(|e| ImportError::amount(self.line, &f.path, &f.value.to_string(), &e))
    }
    fn date(&self, name: &str) -> Result<NaiveDate, ImportError> {
        let t = self.text(name)?;
        NaiveDate::parse_from_str(&t, "%Y-%m-%d").map_err(|_| self.bad_date(name, t))
    }
    fn datetime(&self, name: &str) -> Result<NaiveDateTime, ImportError> {
        let t = self.text(name)?;
        NaiveDateTime::parse_from_str(&t, TIME_FORMAT).map_err(|_| self.bad_date(name, t))
    }
    fn bad_date(&self, name: &str, value: String) -> ImportError {
        ImportError::in_column(self.line, name, ImportErrorKind::MalformedDate { value })
    }
    fn check_sum(&self, name: &str, computed: Decimal) -> Result<(), ImportError> {
        let declared = self.yuan(name)?;
        if declared != computed {
            return Err(ImportError::summary(self.line, name, declared, computed));
        }
        Ok(())
    }
}

/// A JSON Lines reader turning each document into bill lines.
pub struct JsonLinesParser<F> {
    lines: LineSplitter,
    convert: F,
    documents: u64,
}

impl<F> JsonLinesParser<F>
where
    F: FnMut(u64, &Value, &mut Vec<BillLine>) -> Result<(), ImportError>,
{
    fn new(convert: F) -> Self {
        Self {
            lines: LineSplitter::new(),
            convert,
            documents: 0,
        }
    }

    fn line(&mut self, no: u64, bytes: &[u8], out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        let Some(value) = json_document(no, bytes)? else {
            return Ok(());
        };
        self.documents += 1;
        (self.convert)(no, &value, out)
    }
}

/// One line of a JSON-lines file: `None` for a blank line, else the document or an
/// error naming the line.
fn json_document(no: u64, bytes: &[u8]) -> Result<Option<Value>, ImportError> {
    let text = TextEncoding::Utf8.decode(no, bytes)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&text).map(Some).map_err(|e| {
        ImportError::at(
            no,
            ImportErrorKind::MalformedRecord {
                detail: e.to_string(),
            },
        )
    })
}

impl<F> LineImporter for JsonLinesParser<F>
where
    F: FnMut(u64, &Value, &mut Vec<BillLine>) -> Result<(), ImportError>,
{
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

impl<F> BillParser for JsonLinesParser<F>
where
    F: FnMut(u64, &Value, &mut Vec<BillLine>) -> Result<(), ImportError>,
{
    fn feed(&mut self, chunk: &[u8], out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        self.feed_lines(chunk, out)
    }

    fn finish(&mut self, out: &mut Vec<BillLine>) -> Result<(), ImportError> {
        self.finish_lines(out).map(|_| ())
    }
}

/// A POS shift as declared by the till.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosShift {
    pub store_id: String,
    pub shift_id: String,
    /// The day the till books the shift on (a late shift may close after midnight).
    pub business_date: NaiveDate,
    pub opened_at: NaiveDateTime,
    pub closed_at: NaiveDateTime,
}

/// POS shift totals: each shift becomes one line keyed by its shift id (goods = gross
/// sales, merchant discount = discounts, paid = gross − discounts, refund = refunds).
pub fn pos_shift_parser(
) -> JsonLinesParser<impl FnMut(u64, &Value, &mut Vec<BillLine>) -> Result<(), ImportError>> {
    JsonLinesParser::new(|line, value: &Value, out: &mut Vec<BillLine>| {
        let doc = Doc {
            line,
            value,
            path: String::new(),
        };
        let shift = read_shift(&doc)?;
        let gross = doc.yuan("gross_sales")?;
        let discounts = doc.yuan("discounts")?;
        let refunds = doc.yuan("refunds")?;
        // Each amount is bounded by `yuan_from_json` (|x| <= 10^12): no overflow here.
        doc.check_sum("net_sales", gross - discounts - refunds)?;
        if let Ok(tenders) = doc.field("tenders") {
            let map = tenders.value.as_object().ok_or_else(|| {
                ImportError::in_column(
                    line,
                    "tenders",
                    ImportErrorKind::MalformedRecord {
                        detail: "not an object".into(),
                    },
                )
            })?;
            let mut sum = Decimal::ZERO;
            for key in map.keys() {
                let path = format!("tenders.{key}");
                ImportError::add_to_total(&mut sum, tenders.yuan(key)?, line, &path)?;
            }
            doc.check_sum("net_sales", sum).map_err(|mut e| {
                e.column = Some("tenders".into());
                e
            })?;
        }
        out.push(BillLine {
            line,
            kind: LineKind::Payment,
            keys: LineKeys {
                channel_order_id: Some(shift.shift_id),
                ..LineKeys::default()
            },
            status: BillStatus::Settled,
            occurred_at: Some(shift.closed_at),
            business_date: Some(doc.date("business_date")?),
            amounts: Amounts::default()
                .with(Component::Goods, gross)
                .with(Component::MerchantDiscount, discounts)
                .with(Component::Paid, gross - discounts)
                .with(Component::Refund, refunds),
        });
        Ok(())
    })
}

fn read_shift(doc: &Doc<'_>) -> Result<PosShift, ImportError> {
    Ok(PosShift {
        store_id: doc.text("store_id")?,
        shift_id: doc.text("shift_id")?,
        business_date: doc.date("business_date")?,
        opened_at: doc.datetime("opened_at")?,
        closed_at: doc.datetime("closed_at")?,
    })
}

/// The shifts of a POS shift-totals file, fed chunk by chunk like the importers (a
/// stored upload is read back one chunk at a time), for [`pos_shift_records`].
#[derive(Default)]
pub struct PosShiftReader {
    lines: LineSplitter,
    shifts: Vec<PosShift>,
}

impl PosShiftReader {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), ImportError> {
        let shifts = &mut self.shifts;
        self.lines
            .feed(chunk, |no, raw| read_shift_line(no, raw, shifts))
    }

    pub fn finish(mut self) -> Result<Vec<PosShift>, ImportError> {
        let shifts = &mut self.shifts;
        self.lines
            .finish(|no, raw| read_shift_line(no, raw, shifts))?;
        Ok(self.shifts)
    }
}

fn read_shift_line(no: u64, raw: &[u8], shifts: &mut Vec<PosShift>) -> Result<(), ImportError> {
    let Some(value) = json_document(no, raw)? else {
        return Ok(());
    };
    shifts.push(read_shift(&Doc {
        line: no,
        value: &value,
        path: String::new(),
    })?);
    Ok(())
}

/// The shifts of a whole POS shift-totals file, for [`pos_shift_records`].
pub fn read_pos_shifts(bytes: &[u8]) -> Result<Vec<PosShift>, ImportError> {
    let mut reader = PosShiftReader::new();
    reader.feed(bytes)?;
    reader.finish()
}

/// Our POS orders summed per shift, keyed like the shift lines: an order belongs to the
/// shift of its store whose [opened_at, closed_at) holds its payment time. Orders in no
/// shift are passed through as themselves (they will show as missing in the bill).
pub fn pos_shift_records(
    shifts: &[PosShift],
    ours: impl IntoIterator<Item = OurRecord>,
) -> Vec<OurRecord> {
    let mut by_shift: BTreeMap<usize, OurRecord> = BTreeMap::new();
    let mut loose = Vec::new();
    for r in ours {
        let shift = shifts.iter().position(|s| {
            r.store_id.as_deref() == Some(s.store_id.as_str())
                && s.opened_at <= r.paid_at_local
                && r.paid_at_local < s.closed_at
        });
        let Some(i) = shift else {
            loose.push(r);
            continue;
        };
        let s = &shifts[i];
        let agg = by_shift.entry(i).or_insert_with(|| OurRecord {
            order_id: crate::order::OrderId::for_channel_order(&r.channel, &s.shift_id),
            channel: r.channel.clone(),
            channel_order_id: s.shift_id.clone(),
            transaction_id: None,
            store_id: Some(s.store_id.clone()),
            paid_at_local: s.opened_at,
            // The shift's day, not its first order's: a late shift's after-midnight
            // sales are booked on the day the shift opened for.
            business_date: s.business_date,
            status: crate::order::OrderStatus::Completed,
            amounts: Amounts::default(),
            refunds: Vec::new(),
        });
        if r.is_cancelled() && r.refunds.is_empty() {
            continue;
        }
        let o = |c| r.amounts.or_zero(c);
        let sale = Amounts::default()
            .with(Component::Goods, o(Component::Goods))
            .with(
                Component::MerchantDiscount,
                o(Component::MerchantDiscount).saturating_add(o(Component::PlatformDiscount)),
            )
            .with(Component::Paid, o(Component::Paid));
        agg.amounts.add(&sale);
        agg.refunds.extend(r.refunds.iter().cloned());
    }
    let mut out: Vec<OurRecord> = by_shift.into_values().collect();
    out.extend(loose);
    out
}

/// Group-buying leader settlements: each order line becomes a bill line (goods,
/// refund, the leader's commission), keyed by the order id; totals must add up.
pub fn groupbuy_settlement_parser(
) -> JsonLinesParser<impl FnMut(u64, &Value, &mut Vec<BillLine>) -> Result<(), ImportError>> {
    JsonLinesParser::new(|line, value: &Value, out: &mut Vec<BillLine>| {
        let doc = Doc {
            line,
            value,
            path: String::new(),
        };
        doc.text("settlement_id")?;
        doc.text("leader_id")?;
        let business_date = doc.date("business_date")?;
        let orders = doc.field("orders")?;
        let list = orders.value.as_array().ok_or_else(|| {
            ImportError::in_column(
                line,
                "orders",
                ImportErrorKind::MalformedRecord {
                    detail: "not an array".into(),
                },
            )
        })?;
        let (mut goods_sum, mut refund_sum, mut commission_sum) =
            (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        let mut lines = Vec::with_capacity(list.len());
        for (i, v) in list.iter().enumerate() {
            let o = Doc {
                line,
                value: v,
                path: format!("orders[{i}]"),
            };
            let goods = o.yuan("goods")?;
            let refund = o.yuan("refund")?;
            let commission = o.yuan("commission")?;
            ImportError::add_to_total(&mut goods_sum, goods, line, "total_goods")?;
            ImportError::add_to_total(&mut refund_sum, refund, line, "total_refund")?;
            ImportError::add_to_total(&mut commission_sum, commission, line, "total_commission")?;
            lines.push(BillLine {
                line,
                kind: LineKind::Payment,
                keys: LineKeys {
                    channel_order_id: Some(o.text("order_id")?),
                    refund_id: None,
                    merchant_order_id: None,
                    transaction_id: None,
                },
                status: BillStatus::Settled,
                occurred_at: None,
                business_date: Some(business_date),
                amounts: Amounts::default()
                    .with(Component::Goods, goods)
                    .with(Component::Refund, refund)
                    .with(Component::Commission, commission),
            });
        }
        doc.check_sum("total_goods", goods_sum)?;
        doc.check_sum("total_refund", refund_sum)?;
        doc.check_sum("total_commission", commission_sum)?;
        out.extend(lines);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::super::fixtures::*;
    use super::super::*;
    use super::*;

    const SHIFT: &str = r#"{"store_id":"S1","shift_id":"S1-A","business_date":"2026-11-24","opened_at":"2026-11-24 08:00:00","closed_at":"2026-11-24 16:00:00","order_count":2,"gross_sales":"30.00","discounts":"1.00","refunds":"0.00","net_sales":"29.00","tenders":{"cash":"9.00","wechat":"20.00"}}"#;

    #[test]
    fn pos_shift_against_our_pos_orders() {
        let lines = import_chunks(pos_shift_parser(), [SHIFT.as_bytes()]).unwrap();
        assert_eq!(lines[0].keys.channel_order_id.as_deref(), Some("S1-A"));
        assert_eq!(lines[0].amounts.get(Component::Paid), Some(dec!(29.00)));
        let shifts = read_pos_shifts(SHIFT.as_bytes()).unwrap();
        assert_eq!(
            shifts,
            vec![PosShift {
                store_id: "S1".into(),
                shift_id: "S1-A".into(),
                business_date: day("2026-11-24"),
                opened_at: local("2026-11-24 08:00:00"),
                closed_at: local("2026-11-24 16:00:00"),
            }]
        );
        let orders = [
            OrderSpec::new("pos", "P1", "2026-11-24 09:00:00", dec!(10.00))
                .discounts(dec!(1.00), dec!(0)),
            OrderSpec::new("pos", "P2", "2026-11-24 15:59:59", dec!(21.00)),
            OrderSpec::new("pos", "P3", "2026-11-24 16:00:00", dec!(4.00)),
        ];
        let ours = pos_shift_records(
            &shifts,
            orders.iter().map(|o| OurRecord::from_order(&o.order())),
        );
        assert_eq!(ours.len(), 2);
        let req = ReconcileRequest {
            channel: crate::order::ChannelId::new("pos"),
            business_date: day("2026-11-24"),
            source: StatementSource::PosShift,
            statement_id: "pos".into(),
        };
        let report = reconcile_day(
            &req,
            DayBills {
                day: &lines,
                ..DayBills::default()
            },
            ours,
        );
        let got: Vec<_> = report
            .differences
            .iter()
            .map(|d| (d.class, d.key.as_str(), d.component, d.ours.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    DifferenceClass::MissingInBill,
                    "P3",
                    None,
                    Some("4.00".into())
                ),
                (
                    DifferenceClass::AmountMismatch,
                    "S1-A",
                    Some(Component::Goods),
                    Some("31.00".into())
                ),
                (
                    DifferenceClass::AmountMismatch,
                    "S1-A",
                    Some(Component::Paid),
                    Some("30.00".into())
                ),
            ]
        );
    }

    #[test]
    fn pos_shift_whose_tenders_do_not_add_up_is_refused() {
        let bad = SHIFT.replace(r#""cash":"9.00""#, r#""cash":"8.00""#);
        let err = import_chunks(pos_shift_parser(), [format!("\n{bad}\n").as_bytes()]).unwrap_err();
        assert_eq!((err.line, err.column.as_deref()), (2, Some("tenders")));
        let bad = SHIFT.replace(r#""net_sales":"29.00""#, r#""net_sales":"29.10""#);
        let err = import_chunks(pos_shift_parser(), [bad.as_bytes()]).unwrap_err();
        assert_eq!((err.line, err.column.as_deref()), (1, Some("net_sales")));
        let bad = SHIFT.replace(r#""gross_sales":"30.00""#, r#""gross_sales":"3O""#);
        let err = import_chunks(pos_shift_parser(), [bad.as_bytes()]).unwrap_err();
        assert_eq!((err.line, err.column.as_deref()), (1, Some("gross_sales")));
    }

    #[test]
    fn groupbuy_settlement_lines_and_totals() {
        let doc = r#"{"settlement_id":"GB-L7","leader_id":"L7","business_date":"2026-11-24","orders":[{"order_id":"G1","goods":"39.90","refund":"0.00","commission":"3.99"},{"order_id":"G2","goods":20,"refund":"5.00","commission":"1.50"}],"total_goods":"59.90","total_refund":"5.00","total_commission":"5.49"}"#;
        let lines = import_chunks(groupbuy_settlement_parser(), [doc.as_bytes()]).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].amounts.get(Component::Goods), Some(dec!(20)));
        assert_eq!(
            lines[1].amounts.get(Component::Commission),
            Some(dec!(1.50))
        );
        let bad = doc.replace(
            r#""total_commission":"5.49""#,
            r#""total_commission":"5.50""#,
        );
        let err = import_chunks(groupbuy_settlement_parser(), [bad.as_bytes()]).unwrap_err();
        assert_eq!(
            (err.line, err.column.as_deref()),
            (1, Some("total_commission"))
        );
        let bad = doc.replace(r#""goods":20,"#, r#""goods":"x","#);
        let err = import_chunks(groupbuy_settlement_parser(), [bad.as_bytes()]).unwrap_err();
        assert_eq!(err.column.as_deref(), Some("orders[1].goods"));
        let bad = doc.replace(r#""order_id":"G2","#, "");
        let err = import_chunks(groupbuy_settlement_parser(), [bad.as_bytes()]).unwrap_err();
        assert_eq!(err.column.as_deref(), Some("orders[1].order_id"));
    }
}
