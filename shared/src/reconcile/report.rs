//! The difference report: what was found, in a deterministic order, with JSON and CSV
//! renderings and a comparison of two reports for the same channel and day.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::record::{Amounts, Component, LineKeys, StatementSource};
use super::settlement::SettlementSummary;
use crate::order::{ChannelId, OrderId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceClass {
    /// The bill has it, our records do not (not even on an adjacent day).
    MissingInOurs,
    /// We have it, the bill does not (not even the adjacent day's bill).
    MissingInBill,
    /// Both have it; one component differs (see `component`).
    AmountMismatch,
    /// Cancelled here, settled there (or the reverse).
    StatusMismatch,
    /// The bill lists the same payment or refund more than once.
    DuplicateLine,
    /// A refund in the bill for an order we never had.
    RefundWithoutOrder,
    /// Found, but on the adjacent business day (paid before midnight, settled after).
    CrossDay,
}

impl DifferenceClass {
    pub fn as_str(self) -> &'static str {
        match self {
            DifferenceClass::MissingInOurs => "missing_in_ours",
            DifferenceClass::MissingInBill => "missing_in_bill",
            DifferenceClass::AmountMismatch => "amount_mismatch",
            DifferenceClass::StatusMismatch => "status_mismatch",
            DifferenceClass::DuplicateLine => "duplicate_line",
            DifferenceClass::RefundWithoutOrder => "refund_without_order",
            DifferenceClass::CrossDay => "cross_day",
        }
    }
}

/// Whether a difference is about the sale or about a refund of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Payment,
    Refund,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Difference {
    pub class: DifferenceClass,
    /// The id the difference is filed under (channel order id, else merchant order id,
    /// else transaction id).
    pub key: String,
    pub subject: Subject,
    pub component: Option<Component>,
    /// Every id known for it, from either side.
    pub keys: LineKeys,
    pub order_id: Option<OrderId>,
    /// Our value and the bill's: an amount, a status, or a date.
    pub ours: Option<String>,
    pub theirs: Option<String>,
    /// Line numbers in the bill.
    pub bill_lines: Vec<u64>,
    /// The adjacent business day a cross-day item was found on.
    pub other_date: Option<NaiveDate>,
}

/// One side's counts and totals; `totals` is exactly the sum of the side's lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideTotals {
    pub payments: u64,
    pub refunds: u64,
    pub totals: Amounts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSummary {
    pub ours: SideTotals,
    pub theirs: SideTotals,
    /// Payments matched on both sides (with or without amount differences).
    pub matched: u64,
    pub differences: BTreeMap<DifferenceClass, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub channel: ChannelId,
    pub business_date: NaiveDate,
    pub source: StatementSource,
    /// Caller's identifier for the statement the report was made from (upload id,
    /// content digest): what a later corrected statement supersedes.
    pub statement_id: String,
    pub summary: ChannelSummary,
    pub settlement: SettlementSummary,
    /// Sorted by (class, key, subject, component, …): the same inputs give the same bytes.
    pub differences: Vec<Difference>,
    /// Set when this report replaces one made from an earlier statement for the same
    /// channel and day: what the correction changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<Box<ReportChanges>>,
}

impl Report {
    /// The store key a report is kept under, so it is retrievable by channel and date;
    /// a rerun or a corrected statement overwrites it (reruns are byte-identical).
    pub fn storage_key(channel: &ChannelId, business_date: NaiveDate) -> String {
        format!("reconcile/report/{}/{}", channel.as_str(), business_date)
    }

    /// This report, replacing `previous` (from an earlier statement), with the changes.
    pub fn superseding(mut self, previous: &Report) -> Report {
        let changes = diff_reports(previous, &self);
        self.supersedes = Some(Box::new(changes));
        self
    }

    pub fn to_json(&self) -> String {
        // Serialising plain structs with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn differences_of(&self, class: DifferenceClass) -> impl Iterator<Item = &Difference> {
        self.differences.iter().filter(move |d| d.class == class)
    }

    /// One row per difference; a header row first. Fields with a comma or quote quoted.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "channel,business_date,class,key,subject,component,ours,theirs,order_id,channel_order_id,merchant_order_id,transaction_id,refund_id,bill_lines,other_date\n",
        );
        for d in &self.differences {
            let cells = [
                self.channel.as_str().to_string(),
                self.business_date.to_string(),
                d.class.as_str().to_string(),
                d.key.clone(),
                match d.subject {
                    Subject::Payment => "payment".to_string(),
                    Subject::Refund => "refund".to_string(),
                },
                d.component
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
                d.ours.clone().unwrap_or_default(),
                d.theirs.clone().unwrap_or_default(),
                d.order_id
                    .as_ref()
                    .map(|o| o.as_str().to_string())
                    .unwrap_or_default(),
                d.keys.channel_order_id.clone().unwrap_or_default(),
                d.keys.merchant_order_id.clone().unwrap_or_default(),
                d.keys.transaction_id.clone().unwrap_or_default(),
                d.keys.refund_id.clone().unwrap_or_default(),
                d.bill_lines
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
                d.other_date.map(|x| x.to_string()).unwrap_or_default(),
            ];
            let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
        out
    }
}

impl Report {
    /// The per-channel summary and the T+1 settlement as `section,name,ours,theirs` rows.
    pub fn summary_csv(&self) -> String {
        let mut out = String::from("channel,business_date,section,name,ours,theirs\n");
        let mut row = |section: &str, name: &str, ours: String, theirs: String| {
            out.push_str(&format!(
                "{},{},{section},{name},{ours},{theirs}\n",
                csv_cell(self.channel.as_str()),
                self.business_date
            ));
        };
        let (o, t) = (&self.summary.ours, &self.summary.theirs);
        row(
            "count",
            "payments",
            o.payments.to_string(),
            t.payments.to_string(),
        );
        row(
            "count",
            "refunds",
            o.refunds.to_string(),
            t.refunds.to_string(),
        );
        row(
            "count",
            "matched",
            self.summary.matched.to_string(),
            self.summary.matched.to_string(),
        );
        for c in Component::ALL {
            let (a, b) = (o.totals.get(c), t.totals.get(c));
            if a.is_some() || b.is_some() {
                let show = |v: Option<Decimal>| v.map(fen_text).unwrap_or_default();
                row("total", c.as_str(), show(a), show(b));
            }
        }
        for (class, n) in &self.summary.differences {
            row("differences", class.as_str(), n.to_string(), String::new());
        }
        let st = &self.settlement;
        for (name, ours, theirs) in [
            ("gross_sales", st.gross_sales, None),
            (
                "merchant_funded_discounts",
                st.merchant_funded_discounts,
                None,
            ),
            (
                "platform_funded_discounts",
                st.platform_funded_discounts,
                None,
            ),
            ("delivery_fees", st.delivery_fees, None),
            ("packaging_fees", st.packaging_fees, None),
            ("fees", st.fees, None),
            ("commission", st.commission, None),
            ("refunds", st.refunds, None),
            (
                "net_receivable",
                st.net_receivable,
                Some(st.platform_settled),
            ),
        ] {
            row(
                "settlement",
                name,
                fen_text(ours),
                theirs.map(fen_text).unwrap_or_default(),
            );
        }
        out
    }
}

/// Amounts in a report always show fen ("25.00", not "25"), so equal values print alike.
pub(super) fn fen_text(v: Decimal) -> String {
    let mut v = v;
    if v.scale() < 2 {
        v.rescale(2);
    }
    v.to_string()
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Identity of a difference across two reports: what it is about, not its values.
type DiffIdentity = (DifferenceClass, String, Subject, Option<Component>);

fn identity(d: &Difference) -> DiffIdentity {
    (d.class, d.key.clone(), d.subject, d.component)
}

/// Equal but for where in the file the lines were: a correction that inserts or
/// removes a line renumbers the rest, which is not a change of finding.
fn same_finding(a: &Difference, b: &Difference) -> bool {
    Difference {
        bill_lines: Vec::new(),
        ..a.clone()
    } == Difference {
        bill_lines: Vec::new(),
        ..b.clone()
    }
}

/// What a corrected statement changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportChanges {
    pub old_statement_id: String,
    pub new_statement_id: String,
    /// In the new report only.
    pub appeared: Vec<Difference>,
    /// In the old report only: the correction resolved them.
    pub resolved: Vec<Difference>,
    /// Same difference, other values (old, new).
    pub changed: Vec<(Difference, Difference)>,
    /// The bill's totals that moved: component → (old, new).
    pub their_totals_changed: BTreeMap<Component, (Decimal, Decimal)>,
}

impl ReportChanges {
    pub fn is_empty(&self) -> bool {
        self.appeared.is_empty()
            && self.resolved.is_empty()
            && self.changed.is_empty()
            && self.their_totals_changed.is_empty()
    }
}

/// Compare the report from an earlier statement with the one from its correction.
pub fn diff_reports(old: &Report, new: &Report) -> ReportChanges {
    let index = |r: &Report| -> BTreeMap<DiffIdentity, Vec<Difference>> {
        let mut m: BTreeMap<DiffIdentity, Vec<Difference>> = BTreeMap::new();
        for d in &r.differences {
            m.entry(identity(d)).or_default().push(d.clone());
        }
        m
    };
    let (a, b) = (index(old), index(new));
    let mut changes = ReportChanges {
        old_statement_id: old.statement_id.clone(),
        new_statement_id: new.statement_id.clone(),
        ..ReportChanges::default()
    };
    for (id, olds) in &a {
        let news = b.get(id).map(Vec::as_slice).unwrap_or(&[]);
        for (i, o) in olds.iter().enumerate() {
            match news.get(i) {
                Some(n) if same_finding(n, o) => {}
                Some(n) => changes.changed.push((o.clone(), n.clone())),
                None => changes.resolved.push(o.clone()),
            }
        }
        changes
            .appeared
            .extend(news.iter().skip(olds.len()).cloned());
    }
    for (id, news) in &b {
        if !a.contains_key(id) {
            changes.appeared.extend(news.iter().cloned());
        }
    }
    changes.appeared.sort();
    for c in Component::ALL {
        let (o, n) = (
            old.summary.theirs.totals.get(c),
            new.summary.theirs.totals.get(c),
        );
        if o != n {
            changes
                .their_totals_changed
                .insert(c, (o.unwrap_or_default(), n.unwrap_or_default()));
        }
    }
    changes
}
