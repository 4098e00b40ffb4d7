//! Matching one channel's bill for one business day against our records.
//!
//! A bill line finds its order by any id it carries (channel order id, merchant order
//! id, payment transaction id). Payments and refunds are matched separately, each on
//! its own business day: a refund belongs to the day it happened, not to its order's.
//! Something not found on the day is looked for on the adjacent days before it is
//! called missing, so an order paid at 23:59 and settled at 00:01 is reported as
//! cross-day, not twice as missing.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::finding::{headline_amount, line_diff, money, our_diff, AdjacentIndex};
use super::ours::OurRecord;
use super::record::{BillLine, BillStatus, Component, LineKeys, LineKind, StatementSource};
use super::report::{ChannelSummary, Difference, DifferenceClass, Report, SideTotals, Subject};
use super::settlement::SettlementSummary;
use crate::money::{round_fen, saturating_sum, FEN};
use crate::order::{ChannelId, OrderStatus};

/// What to reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileRequest {
    pub channel: ChannelId,
    pub business_date: NaiveDate,
    pub source: StatementSource,
    /// The statement's identity (upload id or digest), carried into the report.
    pub statement_id: String,
}

/// The bill of the day, and the adjacent days' bills where they are already in.
#[derive(Debug, Clone, Copy, Default)]
pub struct DayBills<'a> {
    pub day: &'a [BillLine],
    pub previous_day: &'a [BillLine],
    pub next_day: &'a [BillLine],
}

/// Which bill lines belong together: those of one of our orders, or, for lines we have
/// no order for, those sharing the line's primary id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Group {
    Ours(usize),
    Foreign(String),
}

const NO_LINE: usize = usize::MAX;

/// The amounts compared line by line. `Settled` is compared separately, last.
const COMPARED: [Component; 6] = [
    Component::Goods,
    Component::MerchantDiscount,
    Component::PlatformDiscount,
    Component::DeliveryFee,
    Component::PackagingFee,
    Component::Paid,
];

/// How lines are judged beyond the bill and our records: per-channel configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatchOptions {
    /// The channel's contracted commission rate on goods (0.08 for 8 %), from the
    /// statement mapping. Our orders hold no commission, so without it a commission is
    /// only questioned when the bill line does not add up by its own columns.
    pub commission_rate: Option<Decimal>,
}

/// Reconcile one channel and one business day. `ours` are the records that should be
/// in this bill: the orders paid on the day and the adjacent days, and the orders with
/// a refund on the day. Anything else in `ours` is harmless.
pub fn reconcile_day<I>(req: &ReconcileRequest, bills: DayBills<'_>, ours: I) -> Report
where
    I: IntoIterator<Item = OurRecord>,
{
    reconcile_day_with(req, bills, ours, MatchOptions::default())
}

/// [`reconcile_day`] with the channel's [`MatchOptions`].
pub fn reconcile_day_with<I>(
    req: &ReconcileRequest,
    bills: DayBills<'_>,
    ours: I,
    options: MatchOptions,
) -> Report
where
    I: IntoIterator<Item = OurRecord>,
{
    let mut ours: Vec<OurRecord> = ours.into_iter().collect();
    let day = req.business_date;
    let prev = day.pred_opt();
    let next = day.succ_opt();
    // Payment bills list refunds as lines of the day they happened; platform
    // statements carry the refund on the order's own line.
    let refunds_as_lines = matches!(
        req.source,
        StatementSource::WechatPay | StatementSource::Alipay
    );

    // The caller's sets (paid around the day, refunded on the day) may overlap: the
    // same order twice is one order.
    let mut repeated = vec![false; ours.len()];
    {
        let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(ours.len());
        for (i, r) in ours.iter().enumerate() {
            if let Some(&first) = by_id.get(r.channel_order_id.as_str()) {
                repeated[i] = ours[first].order_id == r.order_id;
            } else {
                by_id.insert(r.channel_order_id.as_str(), i);
            }
        }
    }
    if repeated.contains(&true) {
        let mut flags = repeated.iter();
        ours.retain(|_| !flags.next().copied().unwrap_or(false));
    }
    drop(repeated);

    let mut index: HashMap<&str, usize> = HashMap::with_capacity(
        ours.len() + ours.iter().filter(|r| r.transaction_id.is_some()).count(),
    );
    for (i, r) in ours.iter().enumerate() {
        index.entry(r.channel_order_id.as_str()).or_insert(i);
        if let Some(t) = &r.transaction_id {
            index.entry(t.as_str()).or_insert(i);
        }
    }
    let find = |keys: &LineKeys| -> Option<usize> {
        [
            &keys.channel_order_id,
            &keys.merchant_order_id,
            &keys.transaction_id,
        ]
        .into_iter()
        .filter_map(|k| k.as_deref())
        .find_map(|k| index.get(k).copied())
    };

    let mut m = Matcher {
        diffs: Vec::new(),
        matched: 0,
        commission_rate: options.commission_rate,
    };
    let mut theirs = SideTotals::default();
    // First payment line per order of ours (flat: one slot per record), and per
    // foreign id; a later payment line for the same order is a duplicate.
    let mut first_payment: Vec<usize> = vec![NO_LINE; ours.len()];
    let mut foreign_payments: HashMap<String, usize> = HashMap::new();
    let mut refunds: HashMap<Group, Vec<usize>> = HashMap::new();
    for (i, line) in bills.day.iter().enumerate() {
        theirs.totals.add(&line.amounts);
        let found = find(&line.keys);
        match line.kind {
            LineKind::Payment => {
                theirs.payments += 1;
                let slot = match found {
                    Some(o) => &mut first_payment[o],
                    None => foreign_payments
                        .entry(line.keys.primary().to_string())
                        .or_insert(NO_LINE),
                };
                if *slot == NO_LINE {
                    *slot = i;
                } else {
                    m.duplicate(
                        found.map(|o| &ours[o]),
                        &bills.day[*slot],
                        line,
                        Subject::Payment,
                    );
                }
            }
            LineKind::Refund => {
                theirs.refunds += 1;
                let group = match found {
                    Some(o) => Group::Ours(o),
                    None => Group::Foreign(line.keys.primary().to_string()),
                };
                refunds.entry(group).or_default().push(i);
            }
        }
    }
    let adjacent_payments = AdjacentIndex::new(&bills, prev, next, LineKind::Payment);
    let adjacent_refunds = AdjacentIndex::new(&bills, prev, next, LineKind::Refund);

    // Duplicate refund lines: a refund id listed twice. Platform statements give refund
    // lines no id; there the same amounts on the same date for the same order are taken
    // as the same refund listed twice (two equal partial refunds of one order on one
    // day, without ids, are indistinguishable from a duplicate; the duplicate is the
    // likelier and the safer reading, as it is reviewed, not summed into a mismatch).
    for (group, lines) in refunds.iter_mut() {
        let r = match group {
            Group::Ours(i) => Some(&ours[*i]),
            Group::Foreign(_) => None,
        };
        let mut kept: Vec<usize> = Vec::with_capacity(lines.len());
        for &i in lines.iter() {
            let line = &bills.day[i];
            let first = kept
                .iter()
                .copied()
                .find(|&k| same_refund(&bills.day[k], line));
            match first {
                Some(k) => m.duplicate(r, &bills.day[k], line, Subject::Refund),
                None => kept.push(i),
            }
        }
        *lines = kept;
    }

    // Our payments of the day.
    let mut our_side = SideTotals::default();
    for (i, r) in ours
        .iter()
        .enumerate()
        .filter(|(_, r)| r.business_date == day)
    {
        our_side.payments += 1;
        our_side.totals.add(&r.amounts);
        match first_payment[i] {
            NO_LINE if r.is_cancelled() && r.refunds.is_empty() => {
                // Cancelled before any money moved: rightly absent.
            }
            NO_LINE => match adjacent_payments.find(r) {
                Some(other) => m.push(
                    our_diff(r, DifferenceClass::CrossDay, Subject::Payment).dates(day, day, other),
                ),
                None => m.push(
                    our_diff(r, DifferenceClass::MissingInBill, Subject::Payment)
                        .values(r.amounts.get(Component::Paid).map(money), None),
                ),
            },
            line => {
                m.matched += 1;
                m.compare(r, &bills.day[line], refunds_as_lines);
            }
        }
    }
    // Bill payments of orders we have on another day: cross-day when adjacent.
    for (i, &line) in first_payment
        .iter()
        .enumerate()
        .filter(|(_, &l)| l != NO_LINE)
    {
        let r = &ours[i];
        if r.business_date == day {
            continue;
        }
        let adjacent = Some(r.business_date) == prev || Some(r.business_date) == next;
        let class = if adjacent {
            DifferenceClass::CrossDay
        } else {
            DifferenceClass::MissingInOurs
        };
        m.push(
            line_diff(&bills.day[line], class, Subject::Payment, Some(r)).dates(
                day,
                r.business_date,
                day,
            ),
        );
        // Both sides are at hand here (the other side of a cross-day pair is not, on
        // our record's own day), so the amounts are compared on the bill's day.
        if adjacent {
            m.compare(r, &bills.day[line], refunds_as_lines);
        }
    }
    // Bill payments for orders we never had.
    for &i in foreign_payments.values() {
        let line = &bills.day[i];
        // A payment reversed on their side that we never had: nothing to settle.
        if line.status != BillStatus::Cancelled {
            m.push(
                line_diff(line, DifferenceClass::MissingInOurs, Subject::Payment, None)
                    .values(None, headline_amount(line)),
            );
        }
    }

    // Refunds.
    for r in &ours {
        for refund in r.refunds.iter().filter(|x| x.business_date == day) {
            our_side.refunds += 1;
            let sum = our_side
                .totals
                .or_zero(Component::Refund)
                .saturating_add(refund.amount);
            our_side.totals.set(Component::Refund, sum);
        }
    }
    for (group, lines) in &refunds {
        let theirs_sum = saturating_sum(
            lines
                .iter()
                .map(|&i| bills.day[i].amounts.or_zero(Component::Refund)),
        );
        let first = &bills.day[lines[0]];
        let all_lines: Vec<u64> = lines.iter().map(|&i| bills.day[i].line).collect();
        match group {
            Group::Foreign(_) => m.push(
                line_diff(
                    first,
                    DifferenceClass::RefundWithoutOrder,
                    Subject::Refund,
                    None,
                )
                .values(None, Some(money(theirs_sum)))
                .lines(all_lines),
            ),
            Group::Ours(i) => {
                let r = &ours[*i];
                // A refund belongs to the day it happened, whichever day its order was.
                let ours_sum = r.refunds_on(day);
                let has_ours = r.has_refund_on(day);
                let adjacent = [prev, next]
                    .into_iter()
                    .flatten()
                    .find(|&d| r.has_refund_on(d));
                let d = line_diff(
                    first,
                    DifferenceClass::AmountMismatch,
                    Subject::Refund,
                    Some(r),
                )
                .lines(all_lines);
                if has_ours {
                    if ours_sum != theirs_sum {
                        m.push(
                            d.component(Component::Refund)
                                .values(Some(money(ours_sum)), Some(money(theirs_sum))),
                        );
                    }
                } else if let Some(other) = adjacent {
                    m.push(d.class(DifferenceClass::CrossDay).dates(day, other, day));
                } else {
                    m.push(
                        d.class(DifferenceClass::MissingInOurs)
                            .values(None, Some(money(theirs_sum))),
                    );
                }
            }
        }
    }
    // Our refunds of the day with no refund line. On a platform statement a refund on
    // the order's own day is carried on its payment line (compared above), so only
    // refunds of earlier orders are expected as lines of their own.
    {
        for (i, r) in ours
            .iter()
            .enumerate()
            .filter(|(_, r)| r.has_refund_on(day) && (refunds_as_lines || r.business_date != day))
        {
            if refunds.contains_key(&Group::Ours(i)) {
                continue;
            }
            let amount = r.refunds_on(day);
            match adjacent_refunds.find(r) {
                Some(other) => m.push(
                    our_diff(r, DifferenceClass::CrossDay, Subject::Refund).dates(day, day, other),
                ),
                None => m.push(
                    our_diff(r, DifferenceClass::MissingInBill, Subject::Refund)
                        .component(Component::Refund)
                        .values(Some(money(amount)), None),
                ),
            }
        }
    }

    let mut diffs = m.diffs;
    diffs.sort();
    let mut by_class = std::collections::BTreeMap::new();
    for d in &diffs {
        *by_class.entry(d.class).or_insert(0u64) += 1;
    }
    let settlement = SettlementSummary::from_totals(&our_side, &theirs);
    Report {
        channel: req.channel.clone(),
        business_date: day,
        source: req.source,
        statement_id: req.statement_id.clone(),
        summary: ChannelSummary {
            ours: our_side,
            theirs,
            matched: m.matched,
            differences: by_class,
        },
        settlement,
        differences: diffs,
        supersedes: None,
    }
}

struct Matcher {
    diffs: Vec<Difference>,
    matched: u64,
    commission_rate: Option<Decimal>,
}

impl Matcher {
    fn push(&mut self, d: Difference) {
        self.diffs.push(d);
    }

    fn duplicate(
        &mut self,
        r: Option<&OurRecord>,
        first: &BillLine,
        dup: &BillLine,
        subject: Subject,
    ) {
        let d = line_diff(dup, DifferenceClass::DuplicateLine, subject, r)
            .values(None, headline_amount(dup))
            .lines(vec![first.line, dup.line]);
        self.push(d);
    }

    fn compare(&mut self, r: &OurRecord, line: &BillLine, refunds_as_lines: bool) {
        let status = |s: OrderStatus| {
            serde_json::to_value(s)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
        };
        let base = || {
            line_diff(
                line,
                DifferenceClass::StatusMismatch,
                Subject::Payment,
                Some(r),
            )
        };
        if r.is_cancelled() && r.refunds.is_empty() && line.status == BillStatus::Settled {
            self.push(base().values(status(r.status), Some("settled".to_string())));
            return;
        }
        if !r.status.is_terminal() && line.status == BillStatus::Cancelled {
            self.push(base().values(status(r.status), Some("cancelled".to_string())));
            return;
        }
        let mut any = false;
        let mut check = |m: &mut Self, c: Component, ours: Option<Decimal>| {
            if let (Some(o), Some(t)) = (ours, line.amounts.get(c)) {
                if o != t {
                    any = true;
                    m.push(
                        line_diff(
                            line,
                            DifferenceClass::AmountMismatch,
                            Subject::Payment,
                            Some(r),
                        )
                        .component(c)
                        .values(Some(money(o)), Some(money(t))),
                    );
                }
            }
        };
        for c in COMPARED {
            check(self, c, r.amounts.get(c));
        }
        if !refunds_as_lines {
            check(
                self,
                Component::Refund,
                Some(r.refunds_until(line_day(line, r))),
            );
        }
        let commission_questioned = self.check_commission(r, line);
        // Settled is the residual: reported only when every part agrees, i.e. when the
        // platform's arithmetic (with its own commission and fees) differs from ours,
        // and the gap was not already put down to the commission.
        if !any && !commission_questioned && line.amounts.get(Component::Goods).is_some() {
            if let Some(t) = line.amounts.get(Component::Settled) {
                let o = |c| r.amounts.or_zero(c);
                let refund = line
                    .amounts
                    .get(Component::Refund)
                    .unwrap_or_else(|| r.refund_total());
                let expected = saturating_sum([
                    o(Component::Goods),
                    -o(Component::MerchantDiscount),
                    o(Component::DeliveryFee),
                    o(Component::PackagingFee),
                    -line.amounts.or_zero(Component::Commission),
                    -line.amounts.or_zero(Component::Fee),
                    -refund,
                ]);
                if expected != t {
                    self.push(
                        line_diff(
                            line,
                            DifferenceClass::AmountMismatch,
                            Subject::Payment,
                            Some(r),
                        )
                        .component(Component::Settled)
                        .values(Some(money(expected)), Some(money(t))),
                    );
                }
            }
        }
    }
}

impl Matcher {
    /// Our orders hold no commission, so the bill's is questioned two ways, on settled
    /// lines that state one: against the contracted rate when the channel has one
    /// (rate × goods, to the fen; more than a fen off is a difference), else against
    /// the line's own arithmetic, the commission that makes goods − merchant discount +
    /// delivery + packaging − fee − commission − refund equal its settled amount (a
    /// line that does not add up). `ours` is then that expected commission. Answers
    /// whether a difference was reported.
    fn check_commission(&mut self, r: &OurRecord, line: &BillLine) -> bool {
        let Some(theirs) = line.amounts.get(Component::Commission) else {
            return false;
        };
        if line.status != BillStatus::Settled {
            return false;
        }
        let a = |c| line.amounts.or_zero(c);
        let expected = match (self.commission_rate, line.amounts.get(Component::Settled)) {
            (Some(rate), _) => {
                let due = round_fen(a(Component::Goods).saturating_mul(rate));
                (due.saturating_sub(theirs).abs() > FEN).then_some(due)
            }
            (None, Some(settled)) if line.amounts.get(Component::Goods).is_some() => {
                let implied = saturating_sum([
                    a(Component::Goods),
                    -a(Component::MerchantDiscount),
                    a(Component::DeliveryFee),
                    a(Component::PackagingFee),
                    -a(Component::Fee),
                    -a(Component::Refund),
                    -settled,
                ]);
                (implied != theirs).then_some(implied)
            }
            (None, _) => None,
        };
        let Some(expected) = expected else {
            return false;
        };
        self.push(
            line_diff(
                line,
                DifferenceClass::AmountMismatch,
                Subject::Payment,
                Some(r),
            )
            .component(Component::Commission)
            .values(Some(money(expected)), Some(money(theirs))),
        );
        true
    }
}

/// Whether two refund lines of the same group (same order) are the same refund: by
/// refund id when the line has one, else by kind, amounts and when (the time when the
/// source gives one, else the date).
fn same_refund(a: &BillLine, b: &BillLine) -> bool {
    match (&a.keys.refund_id, &b.keys.refund_id) {
        (Some(x), Some(y)) => x == y,
        (None, None) => {
            a.kind == b.kind
                && a.amounts == b.amounts
                && a.occurred_at == b.occurred_at
                && a.business_date == b.business_date
        }
        _ => false,
    }
}

/// The business day a statement line settles: its own date, else our order's.
fn line_day(line: &BillLine, r: &OurRecord) -> NaiveDate {
    line.business_date.unwrap_or(r.business_date)
}
