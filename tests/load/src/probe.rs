//! Watching a sample of orders go on through the pipeline after their
//! acknowledgement, from outside, through the admin API:
//!
//! - reserved: `GET /admin/stock/reservations/{order}` answers 200 once reserve holds
//!   stock for it, and the record says when (`reservation.created_at`, the app's
//!   clock: exact, and negative when reserve ran before the acknowledgement was sent);
//! - merge decision: `GET /admin/merge/orders/{order}` answers 200 once merge decided
//!   (opened a group, joined one, …). The decision carries no time, so this is when a
//!   poll first saw it: an upper bound, as fine as the polling (0 = already there at
//!   the first poll, right after the acknowledgement).
//!
//! Only a few percent of orders are watched, and each poll is two small reads, so the
//! probe adds little load of its own.

use std::time::{Duration, Instant, SystemTime};

use hyper::Method;
use serde::Serialize;

use crate::http::Http;
use crate::stats::Summary;

/// Poll delays after the acknowledgement: quick at first, then every half second.
const POLL_STEPS_MS: [u64; 6] = [0, 20, 50, 100, 200, 400];
const POLL_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Watched {
    /// `reservation.created_at` − acknowledgement (µs; signed).
    pub reserved_stamp: Option<i64>,
    /// First poll that saw the reservation, after the acknowledgement (µs).
    pub reserved_seen: Option<i64>,
    /// First poll that saw the merge decision, after the acknowledgement (µs).
    pub decided_seen: Option<i64>,
    /// The decision's outcome (`opened`, `joined`, …).
    pub outcome: Option<String>,
    /// Answers other than 200 and 404.
    pub errors: Vec<String>,
}

pub async fn watch(
    http: &Http,
    token: &str,
    order: &str,
    acked_at: Instant,
    acked_wall: SystemTime,
    window: Duration,
) -> Watched {
    let mut w = Watched::default();
    let reservation = format!("/admin/stock/reservations/{order}");
    let decision = format!("/admin/merge/orders/{order}");
    let mut step = 0;
    loop {
        let due = acked_at + poll_delay(step);
        if due > acked_at + window {
            return w;
        }
        tokio::time::sleep_until(due.into()).await;
        let polled = Instant::now()
            .saturating_duration_since(acked_at)
            .as_micros() as i64;
        let (res, dec) = tokio::join!(
            poll(http, token, &reservation, w.reserved_seen.is_none()),
            poll(http, token, &decision, w.decided_seen.is_none()),
        );
        match res {
            Poll::Found(v) => {
                w.reserved_seen = Some(polled);
                w.reserved_stamp = stamp(&v, acked_wall);
            }
            Poll::Error(e) => w.errors.push(e),
            Poll::NotYet | Poll::Skipped => {}
        }
        match dec {
            Poll::Found(v) => {
                w.decided_seen = Some(polled);
                w.outcome = v["decision"]["outcome"]["kind"]
                    .as_str()
                    .map(str::to_string);
            }
            Poll::Error(e) => w.errors.push(e),
            Poll::NotYet | Poll::Skipped => {}
        }
        if w.reserved_seen.is_some() && w.decided_seen.is_some() {
            return w;
        }
        step += 1;
    }
}

/// When poll `step` (from 0) is due after the acknowledgement.
fn poll_delay(step: usize) -> Duration {
    let last = POLL_STEPS_MS.len() - 1;
    match POLL_STEPS_MS.get(step) {
        Some(ms) => Duration::from_millis(*ms),
        None => Duration::from_millis(POLL_STEPS_MS[last]) + POLL_EVERY * (step - last) as u32,
    }
}

enum Poll {
    Found(serde_json::Value),
    NotYet,
    Skipped,
    Error(String),
}

async fn poll(http: &Http, token: &str, path: &str, wanted: bool) -> Poll {
    if !wanted {
        return Poll::Skipped;
    }
    match http.admin(Method::GET, path, token, None).await {
        Ok(r) if r.status == 200 => r.json().map_or(Poll::NotYet, Poll::Found),
        Ok(r) if r.status == 404 => Poll::NotYet,
        Ok(r) => Poll::Error(format!("{} {}", r.status, r.error_code())),
        Err(f) => Poll::Error(f.label()),
    }
}

/// `reservation.created_at` relative to the acknowledgement, in µs.
fn stamp(view: &serde_json::Value, acked_wall: SystemTime) -> Option<i64> {
    let at = view["reservation"]["created_at"].as_str()?;
    let at = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    let acked = chrono::DateTime::<chrono::Utc>::from(acked_wall);
    (at.with_timezone(&chrono::Utc) - acked).num_microseconds()
}

/// When the order's reservation was decided after its acknowledgement (µs, ≥ 0).
pub fn reservation_decided(w: &Watched) -> Option<i64> {
    w.reserved_stamp.map(|s| s.max(0)).or(w.reserved_seen)
}

/// The probe's figures over every watched order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PipelineFigures {
    pub watched: usize,
    /// Acknowledgement → reservation, by the reservation's own time stamp.
    pub ack_to_reserved: Summary,
    /// Acknowledgement → first poll that saw the reservation.
    pub ack_to_reserved_seen: Summary,
    pub reserved_not_seen: usize,
    /// Acknowledgement → first poll that saw the merge decision (an upper bound).
    pub ack_to_merge_decision: Summary,
    pub decision_not_seen: usize,
    /// Acknowledgement → reservation decided: the reservation's own stamp (0 when
    /// reserve ran before the acknowledgement came back), else the poll that saw it.
    pub ack_to_reservation_decision: Summary,
    /// Its p99 counting an order never seen reserved within the window as beyond it:
    /// `None` with `..._beyond_window` when more than 1 % were never seen.
    pub reservation_decision_p99_ms: Option<f64>,
    pub reservation_decision_p99_beyond_window: bool,
    /// How many decisions had each outcome (`opened`, `joined`, …).
    pub outcomes: std::collections::BTreeMap<String, usize>,
    pub errors: std::collections::BTreeMap<String, usize>,
}

impl PipelineFigures {
    pub fn of(watched: &[Watched]) -> PipelineFigures {
        let all =
            |f: fn(&Watched) -> Option<i64>| -> Vec<i64> { watched.iter().filter_map(f).collect() };
        let mut figures = PipelineFigures {
            watched: watched.len(),
            ack_to_reserved: Summary::of_micros(&all(|w| w.reserved_stamp)),
            ack_to_reserved_seen: Summary::of_micros(&all(|w| w.reserved_seen)),
            reserved_not_seen: watched.iter().filter(|w| w.reserved_seen.is_none()).count(),
            ack_to_merge_decision: Summary::of_micros(&all(|w| w.decided_seen)),
            decision_not_seen: watched.iter().filter(|w| w.decided_seen.is_none()).count(),
            ..PipelineFigures::default()
        };
        let decided = all(reservation_decided);
        figures.ack_to_reservation_decision = Summary::of_micros(&decided);
        match crate::stats::percentile_with_missing(&decided, watched.len() - decided.len(), 0.99) {
            Some(Some(us)) => {
                figures.reservation_decision_p99_ms = Some((us as f64 / 10.0).round() / 100.0)
            }
            Some(None) => figures.reservation_decision_p99_beyond_window = true,
            None => {}
        }
        for w in watched {
            if let Some(o) = &w.outcome {
                *figures.outcomes.entry(o.clone()).or_default() += 1;
            }
            for e in &w.errors {
                *figures.errors.entry(e.clone()).or_default() += 1;
            }
        }
        figures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_are_quick_then_every_half_second() {
        let ms = |s| poll_delay(s).as_millis();
        assert_eq!((ms(0), ms(1), ms(5)), (0, 20, 400));
        assert_eq!((ms(6), ms(7)), (900, 1400));
    }

    #[test]
    fn the_stamp_is_relative_to_the_acknowledgement() {
        let acked = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_043_200_250);
        let view = serde_json::json!({"reservation": {"created_at": "2025-11-25T04:00:00.200Z"}});
        assert_eq!(stamp(&view, acked), Some(-50_000));
        let later = serde_json::json!({"reservation": {"created_at": "2025-11-25T12:00:01+08:00"}});
        assert_eq!(stamp(&later, acked), Some(750_000));
        assert_eq!(stamp(&serde_json::json!({}), acked), None);
    }

    #[test]
    fn figures_count_what_was_not_seen() {
        let seen = Watched {
            reserved_stamp: Some(-2_000),
            reserved_seen: Some(1_000),
            decided_seen: Some(1_000),
            outcome: Some("joined".into()),
            errors: vec![],
        };
        let missed = Watched {
            errors: vec!["500 -".into()],
            ..Watched::default()
        };
        let f = PipelineFigures::of(&[seen.clone(), seen, missed]);
        assert_eq!(f.watched, 3);
        assert_eq!(f.ack_to_reserved.count, 2);
        assert_eq!(f.ack_to_reserved.p50_ms, Some(-2.0));
        assert_eq!((f.reserved_not_seen, f.decision_not_seen), (1, 1));
        assert_eq!(f.outcomes["joined"], 2);
        assert_eq!(f.errors["500 -"], 1);
        assert_eq!(f.ack_to_reservation_decision.p50_ms, Some(0.0));
        // One of three never seen: the p99 is beyond the window.
        assert!(f.reservation_decision_p99_beyond_window);
        assert_eq!(f.reservation_decision_p99_ms, None);
        let late = Watched {
            reserved_seen: Some(1_500_000),
            ..Watched::default()
        };
        assert_eq!(reservation_decided(&late), Some(1_500_000));
        let f = PipelineFigures::of(&[late]);
        assert_eq!(f.reservation_decision_p99_ms, Some(1500.0));
        assert!(!f.reservation_decision_p99_beyond_window);
    }
}
