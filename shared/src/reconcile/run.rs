//! One reconciliation run over the stores: the day's bill (and its neighbours', when
//! in), our orders of D-1..D+1 and those refunded on D (from the order day index), the
//! report persisted under [`Report::storage_key`]. A POS shift statement is matched
//! against our orders summed per shift ([`pos_shift_records`]), not order by order. A
//! rerun over the same statement gives the same report; a run over a newer statement
//! supersedes the stored one and says what changed. Nothing is written unless the
//! whole run succeeds.

use chrono::NaiveDate;
use serde::Serialize;

use super::bill_store::{current_bill, import_upload, upload_pos_shifts, BillStoreError};
use super::import::StatementKind;
use super::matcher::{reconcile_day_with, DayBills, MatchOptions, ReconcileRequest};
use super::ours::OurRecord;
use super::own_formats::pos_shift_records;
use super::record::BillLine;
use super::report::Report;
use crate::order::{book, day_index, ChannelId};
use crate::store::{KeyValue, StoreError};

/// What a run did to the stored report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEffect {
    /// No report before.
    Created,
    /// Same statement as the stored report; the report was rewritten (identical unless
    /// our records changed meanwhile).
    Rerun,
    /// A newer statement replaced the one the stored report was made from.
    Superseded,
}

#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub effect: RunEffect,
    pub report: Report,
}

/// Reconcile `channel` on `date` from the stored bill and orders, and store the report.
pub fn run_day<B: KeyValue, O: KeyValue>(
    bills: &B,
    orders: &O,
    channel: &ChannelId,
    date: NaiveDate,
) -> Result<RunOutcome, BillStoreError> {
    let upload = current_bill(bills, channel, date)?.ok_or_else(|| BillStoreError::NoBill {
        channel: channel.clone(),
        date,
    })?;
    let bill = import_upload(bills, &upload)?;
    let neighbour = |d: Option<NaiveDate>| -> Result<Vec<BillLine>, BillStoreError> {
        let Some(d) = d else { return Ok(Vec::new()) };
        match current_bill(bills, channel, d)? {
            // A day's bill was imported cleanly when its upload completed, so this
            // import fails only for data from before that check (or damaged since):
            // that is the neighbour's own run's error; here its lines are just not in.
            Some(u) => match import_upload(bills, &u) {
                Ok(b) => Ok(b.lines),
                Err(BillStoreError::Store(e)) => Err(e.into()),
                Err(_) => Ok(Vec::new()),
            },
            None => Ok(Vec::new()),
        }
    };
    let previous_day = neighbour(date.pred_opt())?;
    let next_day = neighbour(date.succ_opt())?;
    let ours = our_records(orders, channel, date)?;
    // A POS statement lists shift totals, not orders: our POS orders are summed per
    // shift (by store and payment time) so each shift line meets its own total.
    let ours = match bill.spec.statement {
        StatementKind::PosShift => pos_shift_records(&upload_pos_shifts(bills, &upload)?, ours),
        _ => ours,
    };

    let req = ReconcileRequest {
        channel: channel.clone(),
        business_date: date,
        source: bill.spec.statement.source(),
        statement_id: bill.statement_id,
    };
    let days = DayBills {
        day: &bill.lines,
        previous_day: &previous_day,
        next_day: &next_day,
    };
    let options = MatchOptions {
        commission_rate: match &bill.spec.statement {
            StatementKind::Platform { mapping } => mapping.commission_rate,
            _ => None,
        },
    };
    let mut report = reconcile_day_with(&req, days, ours, options);
    let key = Report::storage_key(channel, date);
    let effect = match bills.get_json::<Report>(&key)? {
        None => RunEffect::Created,
        Some(prev) if prev.statement_id == report.statement_id => {
            // Keep what the statement changed when it came in: a rerun is the same report.
            report.supersedes = prev.supersedes;
            RunEffect::Rerun
        }
        Some(prev) => {
            report = report.superseding(&prev);
            RunEffect::Superseded
        }
    };
    bills.set(&key, report.to_json().as_bytes())?;
    Ok(RunOutcome { effect, report })
}

/// Our records that belong in `date`'s bill: orders with money events on D-1..D+1
/// (refunds dated D included, whatever day the order was paid).
pub fn our_records<O: KeyValue>(
    orders: &O,
    channel: &ChannelId,
    date: NaiveDate,
) -> Result<Vec<OurRecord>, StoreError> {
    let days = [date.pred_opt(), Some(date), date.succ_opt()];
    let ids = day_index::orders_on_days(orders, channel, days.into_iter().flatten())?;
    let mut out = Vec::with_capacity(ids.len());
    // Batches bound the memory of the keys and bodies in flight.
    for batch in ids.chunks(1000) {
        out.extend(
            book::get_orders(orders, batch)?
                .iter()
                .map(OurRecord::from_order),
        );
    }
    Ok(out)
}

/// The stored report of (`channel`, `date`).
pub fn stored_report<B: KeyValue>(
    bills: &B,
    channel: &ChannelId,
    date: NaiveDate,
) -> Result<Option<Report>, StoreError> {
    bills.get_json(&Report::storage_key(channel, date))
}
