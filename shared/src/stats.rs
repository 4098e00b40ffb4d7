//! Live per-channel figures for the dashboard: volume, fulfilment rate, exception rate.
//!
//! Everything is an `increment` on a counter keyed by business day (the channel's local
//! date, Asia/Shanghai by default) and channel, so any number of instances can record at
//! once without losing a count. What to count is decided by the order book
//! (`order::batch`): an order counts for a metric when a part of it first reaches it,
//! so redeliveries count nothing, and a batch adds one `increment` per (day, channel,
//! metric) it touched, not one per order.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::Serialize;

use crate::order::ChannelId;
use crate::store::{KeyValue, StoreError};

/// What the dashboard counts. `Ordered` counts every distinct order; the others count
/// orders that reached that state at least once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    Ordered,
    Exception,
    Delivered,
    Cancelled,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::Ordered,
        Metric::Exception,
        Metric::Delivered,
        Metric::Cancelled,
    ];

    fn key(self) -> &'static str {
        match self {
            Metric::Ordered => "ordered",
            Metric::Exception => "exception",
            Metric::Delivered => "delivered",
            Metric::Cancelled => "cancelled",
        }
    }
}

/// The business day of an instant for a source at `utc_offset_minutes`.
pub fn business_day(at: DateTime<Utc>, utc_offset_minutes: i32) -> NaiveDate {
    let offset = FixedOffset::east_opt(utc_offset_minutes * 60)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
    at.with_timezone(&offset).date_naive()
}

fn counter_key(day: NaiveDate, channel: &ChannelId, metric: Metric) -> String {
    format!("stats:{day}:{channel}:{}", metric.key())
}

/// Counts to add, per (business day, channel, metric).
pub type Deltas = BTreeMap<(NaiveDate, ChannelId, Metric), i64>;

/// Add `deltas`: one `increment` per counter.
pub fn add(store: &impl KeyValue, deltas: &Deltas) -> Result<(), StoreError> {
    for ((day, channel, metric), n) in deltas {
        if *n != 0 {
            store.increment(&counter_key(*day, channel, *metric), *n)?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelDay {
    pub channel: ChannelId,
    pub day: NaiveDate,
    pub ordered: i64,
    pub exceptions: i64,
    pub delivered: i64,
    pub cancelled: i64,
    /// Delivered over orders not cancelled, in per mille (integer, no floats needed to
    /// display "97.3%"); `None` when there is nothing to divide.
    pub fulfilment_permille: Option<i64>,
    /// Exceptions over orders, per mille.
    pub exception_permille: Option<i64>,
}

fn permille(num: i64, den: i64) -> Option<i64> {
    (den > 0).then(|| num.saturating_mul(1000) / den)
}

/// Read one channel's figures for one day. Counters are read with `increment(key, 0)`,
/// never `get` (their encoding differs per backend).
pub fn read(
    store: &impl KeyValue,
    day: NaiveDate,
    channel: &ChannelId,
) -> Result<ChannelDay, StoreError> {
    let mut v = [0i64; 4];
    for (slot, metric) in v.iter_mut().zip(Metric::ALL) {
        *slot = store.increment(&counter_key(day, channel, metric), 0)?;
    }
    let [ordered, exceptions, delivered, cancelled] = v;
    Ok(ChannelDay {
        channel: channel.clone(),
        day,
        ordered,
        exceptions,
        delivered,
        cancelled,
        fulfilment_permille: permille(delivered, ordered - cancelled),
        exception_permille: permille(exceptions, ordered),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    #[test]
    fn business_day_follows_the_source_zone() {
        // 2026-11-24 17:30 UTC is 01:30 on the 25th in Shanghai.
        let at = DateTime::parse_from_rfc3339("2026-11-24T17:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(business_day(at, 480), day());
        assert_eq!(
            business_day(at, 0),
            NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
        );
    }

    fn count(s: &MemoryStore, ch: &ChannelId, metric: Metric, n: i64) {
        add(s, &Deltas::from([((day(), ch.clone(), metric), n)])).unwrap();
    }

    #[test]
    fn counts_add_up_and_rates_derive() {
        let s = MemoryStore::new();
        let ch = ChannelId::new("meituan");
        count(&s, &ch, Metric::Ordered, 4);
        count(&s, &ch, Metric::Ordered, 6);
        count(&s, &ch, Metric::Cancelled, 2);
        count(&s, &ch, Metric::Delivered, 7);
        count(&s, &ch, Metric::Exception, 1);
        count(&s, &ch, Metric::Exception, 0);
        let r = read(&s, day(), &ch).unwrap();
        assert_eq!(
            (r.ordered, r.delivered, r.cancelled, r.exceptions),
            (10, 7, 2, 1)
        );
        assert_eq!(r.fulfilment_permille, Some(875));
        assert_eq!(r.exception_permille, Some(100));
        let empty = read(&s, day(), &ChannelId::new("eleme")).unwrap();
        assert_eq!(empty.fulfilment_permille, None);
    }

    #[test]
    fn concurrent_adders_lose_nothing() {
        let s = std::sync::Arc::new(MemoryStore::new());
        let ch = ChannelId::new("app");
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (s, ch) = (s.clone(), ch.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        count(&s, &ch, Metric::Ordered, 1);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(read(&*s, day(), &ch).unwrap().ordered, 1600);
    }
}
