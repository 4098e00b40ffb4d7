//! The pieces a match is built from: the adjacent days' index and the constructors of
//! [`Difference`]s, so the matcher reads as the rules it applies.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::matcher::DayBills;
use super::ours::OurRecord;
use super::record::{BillLine, BillStatus, Component, LineKeys, LineKind};
use super::report::{Difference, DifferenceClass, Subject};

/// Lines of the adjacent days' bills, by every id they carry → their day.
pub(super) struct AdjacentIndex<'a> {
    by_key: HashMap<&'a str, NaiveDate>,
}

impl<'a> AdjacentIndex<'a> {
    pub(super) fn new(
        bills: &DayBills<'a>,
        prev: Option<NaiveDate>,
        next: Option<NaiveDate>,
        kind: LineKind,
    ) -> Self {
        let mut by_key = HashMap::new();
        for (lines, date) in [(bills.previous_day, prev), (bills.next_day, next)] {
            let Some(date) = date else { continue };
            for l in lines
                .iter()
                .filter(|l| l.kind == kind && l.status != BillStatus::Cancelled)
            {
                for k in [
                    &l.keys.channel_order_id,
                    &l.keys.merchant_order_id,
                    &l.keys.transaction_id,
                ]
                .into_iter()
                .flatten()
                {
                    by_key.entry(k.as_str()).or_insert(date);
                }
            }
        }
        Self { by_key }
    }

    pub(super) fn find(&self, r: &OurRecord) -> Option<NaiveDate> {
        self.by_key
            .get(r.channel_order_id.as_str())
            .or_else(|| r.transaction_id.as_deref().and_then(|t| self.by_key.get(t)))
            .copied()
    }
}

pub(super) fn money(v: Decimal) -> String {
    super::report::fen_text(v)
}

pub(super) fn headline_amount(line: &BillLine) -> Option<String> {
    [
        Component::Paid,
        Component::Refund,
        Component::Settled,
        Component::Goods,
    ]
    .into_iter()
    .find_map(|c| line.amounts.get(c))
    .map(money)
}

pub(super) fn our_keys(r: &OurRecord) -> LineKeys {
    LineKeys {
        channel_order_id: Some(r.channel_order_id.clone()),
        merchant_order_id: None,
        transaction_id: r.transaction_id.clone(),
        refund_id: None,
    }
}

pub(super) fn our_diff(r: &OurRecord, class: DifferenceClass, subject: Subject) -> Difference {
    Difference {
        class,
        key: r.channel_order_id.clone(),
        subject,
        component: None,
        keys: our_keys(r),
        order_id: Some(r.order_id.clone()),
        ours: None,
        theirs: None,
        bill_lines: Vec::new(),
        other_date: None,
    }
}

/// A difference about a bill line, filed under our order's id when we have the order.
pub(super) fn line_diff(
    line: &BillLine,
    class: DifferenceClass,
    subject: Subject,
    r: Option<&OurRecord>,
) -> Difference {
    let mut keys = line.keys.clone();
    if let Some(r) = r {
        if keys.channel_order_id.is_none()
            && keys.merchant_order_id.as_deref() != Some(r.channel_order_id.as_str())
        {
            keys.channel_order_id = Some(r.channel_order_id.clone());
        }
        if keys.transaction_id.is_none() {
            keys.transaction_id = r.transaction_id.clone();
        }
    }
    Difference {
        class,
        key: r
            .map(|r| r.channel_order_id.clone())
            .unwrap_or_else(|| line.keys.primary().to_string()),
        subject,
        component: None,
        keys,
        order_id: r.map(|r| r.order_id.clone()),
        ours: None,
        theirs: None,
        bill_lines: vec![line.line],
        other_date: None,
    }
}

impl Difference {
    pub(super) fn values(mut self, ours: Option<String>, theirs: Option<String>) -> Self {
        self.ours = ours;
        self.theirs = theirs;
        self
    }
    pub(super) fn component(mut self, c: Component) -> Self {
        self.component = Some(c);
        self
    }
    pub(super) fn class(mut self, c: DifferenceClass) -> Self {
        self.class = c;
        self
    }
    pub(super) fn lines(mut self, lines: Vec<u64>) -> Self {
        self.bill_lines = lines;
        self
    }
    pub(super) fn other(mut self, date: NaiveDate) -> Self {
        self.other_date = Some(date);
        self
    }
    /// Cross-day: the date on our side and on the bill's; the one that is not the
    /// reconciled day is the other date.
    pub(super) fn dates(self, day: NaiveDate, ours: NaiveDate, theirs: NaiveDate) -> Self {
        let other = if ours == day { theirs } else { ours };
        self.values(Some(ours.to_string()), Some(theirs.to_string()))
            .other(other)
    }
}
