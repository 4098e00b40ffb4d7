//! The expiry index: reservations filed by the minute their hold runs out.
//!
//! A bucket is a counter (its length) plus one slot per reservation; a writer claims its
//! slot with `increment`, so concurrent reserves never overwrite each other and the
//! index needs no list rewrite. A sweep walks buckets from a cursor to now, expires
//! what is due, and moves the cursor past buckets it fully settled. Sweeps may overlap:
//! expiring is idempotent, and a cursor moved back by a slower sweep only costs a rescan.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::order::OrderId;
use crate::store::KeyValue;

use super::counters::read;
use super::error::{StockError, StockResult};
use super::keys;
use super::ledger::ReservationLedger;
use super::settle::ExpireOutcome;

pub const BUCKET_SECONDS: i64 = 60;
/// Buckets behind the cursor rescanned every sweep: tolerates instance clocks that
/// disagree by up to this many minutes (a reservation filed behind the cursor).
const RESCAN_BUCKETS: i64 = 5;
/// Where the very first sweep starts: six hours back (a hold that ran out longer
/// before the first sweep ever ran is not found; deploy the sweep job with the ledger).
const FIRST_LOOKBACK_BUCKETS: i64 = 6 * 60;
/// Each bucket costs a counter read (a write on Spin's SQLite store): after a long
/// pause, catch up over several sweeps rather than in one long request.
const MAX_BUCKETS_PER_SWEEP: i64 = 12 * 60;
/// An empty slot older than this is a writer that died between claiming and writing.
const ABANDONED_AFTER_SECONDS: i64 = 300;

pub fn bucket_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(BUCKET_SECONDS)
}

/// Claims a slot for `order` in the bucket of `expires_at`; returns the write to batch.
pub(super) fn register<S: KeyValue + ?Sized>(
    store: &S,
    order: &OrderId,
    expires_at: DateTime<Utc>,
) -> StockResult<(String, Vec<u8>)> {
    let bucket = bucket_of(expires_at);
    let slot = store.increment(&keys::expiry_len(bucket), 1)?;
    Ok((
        keys::expiry_slot(bucket, slot),
        order.0.clone().into_bytes(),
    ))
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SweepReport {
    /// Reservations looked at.
    pub examined: usize,
    /// Orders this sweep expired, with the units it gave back.
    pub expired: Vec<(OrderId, i64)>,
    /// First bucket still to sweep next time.
    pub cursor: i64,
    /// The budget ran out before reaching now.
    pub truncated: bool,
}

impl<S: KeyValue> ReservationLedger<'_, S> {
    /// Expires every reservation due at `now`, looking at no more than `max_reservations`.
    pub fn sweep_expired(
        &self,
        now: DateTime<Utc>,
        max_reservations: usize,
    ) -> StockResult<SweepReport> {
        let current = bucket_of(now);
        let cursor: Option<i64> = self.store.get_json(keys::EXPIRY_CURSOR)?;
        let start = cursor.map_or(current - FIRST_LOOKBACK_BUCKETS, |c| c - RESCAN_BUCKETS);
        let mut report = SweepReport::default();
        let mut first_unsettled: Option<i64> = None;
        let mut bucket = start;
        while bucket <= current {
            if report.examined >= max_reservations || bucket - start >= MAX_BUCKETS_PER_SWEEP {
                report.truncated = true;
                break;
            }
            let len = read(self.store, &keys::expiry_len(bucket))?;
            let settled = len == 0 || self.sweep_bucket(bucket, len, now, &mut report)?;
            if !settled && first_unsettled.is_none() {
                first_unsettled = Some(bucket);
            }
            bucket += 1;
        }
        // Never past the current bucket: reserves are still filing into it.
        let next = first_unsettled.unwrap_or(bucket).min(current);
        if cursor != Some(next) {
            self.store.set_json(keys::EXPIRY_CURSOR, &next)?;
        }
        report.cursor = next;
        Ok(report)
    }

    /// Whether every reservation in the bucket is past expiry handling.
    fn sweep_bucket(
        &self,
        bucket: i64,
        len: i64,
        now: DateTime<Utc>,
        report: &mut SweepReport,
    ) -> StockResult<bool> {
        let slots: Vec<String> = (1..=len)
            .map(|slot| keys::expiry_slot(bucket, slot))
            .collect();
        let bucket_end = (bucket + 1) * BUCKET_SECONDS;
        let mut settled = true;
        for value in self.store.get_many(&slots)? {
            let Some(bytes) = value else {
                settled &= now.timestamp() - bucket_end > ABANDONED_AFTER_SECONDS;
                continue;
            };
            let order = OrderId(String::from_utf8_lossy(&bytes).into_owned());
            report.examined += 1;
            match self.expire(&order, now) {
                Ok(ExpireOutcome::Expired { released }) => {
                    if released > 0 {
                        report.expired.push((order, released));
                    }
                }
                Ok(ExpireOutcome::Confirmed | ExpireOutcome::NothingHeld) => {}
                Ok(ExpireOutcome::NotDue) | Err(StockError::InFlight(_)) => settled = false,
                Err(StockError::UnknownReservation(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(settled)
    }
}
