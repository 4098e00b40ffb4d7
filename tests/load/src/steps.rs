//! Saturation: the same mix at a ladder of rates (`--steps 50,100,200`), each step a
//! run of its own (fresh ids, `--duration` long), until a step does not hold; then a
//! few steps halfway between the last rate that held and the first that did not
//! (`--refine`). The finding is the highest rate that held.
//!
//! A step holds when ([`Criteria`]): almost every push was acknowledged as its
//! platform expects, the acknowledgements kept up (ack p99 within a bound: an open-loop
//! client's latency grows without end once the app falls behind), the pipeline kept up
//! (ack → reservation decided p99 within a bound, on the probe's sample) and the app's
//! own intake backlog stayed bounded (when it reports one).

use std::fmt::Write as _;
use std::str::FromStr;

use serde::Serialize;

use crate::intake;
use crate::report::Report;

/// `--steps 50,100,200,...`: rates in orders/s, ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    pub rates: Vec<f64>,
}

impl FromStr for Ladder {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("steps `{s}`: expected ascending rates, e.g. 50,100,200");
        let rates: Vec<f64> = s
            .split(',')
            .map(|r| r.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        let ascending = rates.windows(2).all(|w| w[0] < w[1]);
        if rates.is_empty() || !ascending || rates.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
            return Err(bad());
        }
        Ok(Ladder { rates })
    }
}

/// A step done: its rate and whether it held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tried {
    pub rate: f64,
    pub held: bool,
}

impl Ladder {
    /// The next rate to try after `history` (in the order tried), or `None`: up the
    /// ladder while steps hold; after the first that does not, up to `refine` steps
    /// halfway between the highest that held (0 if none) and the lowest that did not
    /// above it, stopping when the gap is under 5 % of the rate.
    pub fn next(&self, history: &[Tried], refine: u32) -> Option<f64> {
        let failed_at = history.iter().position(|t| !t.held);
        let Some(failed_at) = failed_at else {
            return self.rates.get(history.len()).copied();
        };
        let refined = history.len() - failed_at - 1;
        if refined >= refine as usize {
            return None;
        }
        let lo = history
            .iter()
            .filter(|t| t.held)
            .map(|t| t.rate)
            .fold(0.0, f64::max);
        let hi = history
            .iter()
            .filter(|t| !t.held && t.rate > lo)
            .map(|t| t.rate)
            .fold(f64::INFINITY, f64::min);
        if !hi.is_finite() || hi - lo < 0.05 * hi {
            return None;
        }
        let mid = round_rate((lo + hi) / 2.0);
        (mid > lo && mid < hi).then_some(mid)
    }
}

/// Whole orders/s from 10 up, one decimal below.
fn round_rate(r: f64) -> f64 {
    if r >= 10.0 {
        r.round()
    } else {
        (r * 10.0).round() / 10.0
    }
}

/// What a step must meet to hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criteria {
    /// Largest share of pushes not acknowledged as the platform expects.
    pub max_not_acked_share: f64,
    /// Due → acknowledgement p99 bound.
    pub ack_p99_ms: f64,
    /// Acknowledgement → reservation decided p99 bound (probe sample).
    pub reservation_p99_ms: f64,
    /// The app's backlog at the end at most this many seconds' worth of the rate…
    pub backlog_end_seconds: f64,
    /// …and growing over the load's last third by at most this many seconds' worth.
    pub backlog_growth_seconds: f64,
}

impl Default for Criteria {
    fn default() -> Self {
        Criteria {
            max_not_acked_share: 0.001,
            ack_p99_ms: 1000.0,
            reservation_p99_ms: 2000.0,
            backlog_end_seconds: 2.0,
            backlog_growth_seconds: 0.5,
        }
    }
}

/// One step's figures and verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepVerdict {
    pub rate: f64,
    pub held: bool,
    /// Why it did not hold (empty when it did).
    pub reasons: Vec<String>,
    /// What could not be judged (no probe sample, no backlog reported).
    pub unjudged: Vec<String>,
    pub orders_acked: u64,
    pub orders_acked_per_s: f64,
    pub pushes: u64,
    pub not_acked: u64,
    pub ack_p50_ms: Option<f64>,
    pub ack_p99_ms: Option<f64>,
    pub reservation_p99_ms: Option<f64>,
    pub reservation_beyond_window: bool,
    pub backlog: Option<intake::Bounded>,
}

pub fn judge(report: &Report, rate: f64, c: &Criteria) -> StepVerdict {
    let mut reasons = Vec::new();
    let mut unjudged = Vec::new();
    let planned = report.pushes.planned;
    let not_acked = planned - report.pushes.acked.min(planned);
    if not_acked as f64 > c.max_not_acked_share * planned as f64 {
        reasons.push(format!("{not_acked} of {planned} pushes not acknowledged"));
    }
    let ack_p99 = report.ack_latency.p99_ms;
    match ack_p99 {
        Some(p) if p > c.ack_p99_ms => reasons.push(format!(
            "ack p99 {p:.0} ms > {:.0} ms (falling behind)",
            c.ack_p99_ms
        )),
        None => reasons.push("nothing acknowledged".into()),
        Some(_) => {}
    }
    let p = &report.pipeline;
    if p.reservation_decision_p99_beyond_window {
        reasons.push(format!(
            "over 1 % of {} watched orders never seen reserved",
            p.watched
        ));
    } else if let Some(r) = p.reservation_decision_p99_ms {
        if r > c.reservation_p99_ms {
            reasons.push(format!(
                "ack → reservation p99 {r:.0} ms > {:.0} ms",
                c.reservation_p99_ms
            ));
        }
    } else {
        unjudged.push("ack → reservation (no order watched)".into());
    }
    let load_end = report.meta.duration_s as f64;
    let backlog = intake::bounded(
        &report.intake.series,
        load_end,
        rate,
        c.backlog_end_seconds,
        c.backlog_growth_seconds,
    );
    match &backlog {
        Some(b) if !b.bounded => reasons.push(format!(
            "pipeline backlog {} at the end, {:+.0} over the last third (bound {:.0}, {:+.0})",
            b.end,
            b.growth,
            c.backlog_end_seconds * rate,
            c.backlog_growth_seconds * rate
        )),
        Some(_) => {}
        None => unjudged.push(report.intake.note.clone()),
    }
    StepVerdict {
        rate,
        held: reasons.is_empty(),
        reasons,
        unjudged,
        orders_acked: report.orders.acknowledged,
        orders_acked_per_s: ((report.orders.acknowledged as f64 / load_end.max(1.0)) * 10.0)
            .round()
            / 10.0,
        pushes: planned,
        not_acked,
        ack_p50_ms: report.ack_latency.p50_ms,
        ack_p99_ms: ack_p99,
        reservation_p99_ms: p.reservation_decision_p99_ms,
        reservation_beyond_window: p.reservation_decision_p99_beyond_window,
        backlog,
    }
}

/// The finding over all steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Saturation {
    /// Highest rate that held (`None`: none did).
    pub sustained: Option<f64>,
    /// Lowest rate above it that did not, and why.
    pub broke_at: Option<f64>,
    pub broke_because: Vec<String>,
}

impl Saturation {
    pub fn of(steps: &[StepVerdict]) -> Saturation {
        let sustained = steps
            .iter()
            .filter(|s| s.held)
            .map(|s| s.rate)
            .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
        let broke = steps
            .iter()
            .filter(|s| !s.held && s.rate > sustained.unwrap_or(0.0))
            .min_by(|a, b| a.rate.total_cmp(&b.rate));
        Saturation {
            sustained,
            broke_at: broke.map(|s| s.rate),
            broke_because: broke.map(|s| s.reasons.clone()).unwrap_or_default(),
        }
    }
}

/// One line per step, for the terminal.
pub fn line(v: &StepVerdict) -> String {
    let ms = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.0} ms"));
    let mut out = String::new();
    let _ = write!(
        out,
        "step {:>7} orders/s: {} · {} orders acked ({}/s) · {} not acked · ack p50 {} p99 {} · reservation p99 {}",
        v.rate,
        if v.held { "held" } else { "DID NOT HOLD" },
        v.orders_acked,
        v.orders_acked_per_s,
        v.not_acked,
        ms(v.ack_p50_ms),
        ms(v.ack_p99_ms),
        if v.reservation_beyond_window {
            "beyond window".to_string()
        } else {
            ms(v.reservation_p99_ms)
        },
    );
    if let Some(b) = &v.backlog {
        let _ = write!(out, " · pipeline backlog end {} ({:+.0})", b.end, b.growth);
    }
    for r in &v.reasons {
        let _ = write!(out, "\n    ✗ {r}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tried(rate: f64, held: bool) -> Tried {
        Tried { rate, held }
    }

    #[test]
    fn ladder_parses() {
        assert_eq!(
            "50, 100,200".parse::<Ladder>().unwrap().rates,
            vec![50.0, 100.0, 200.0]
        );
        for bad in ["", "100,50", "0,10", "a", "10,10"] {
            assert!(bad.parse::<Ladder>().is_err(), "{bad}");
        }
    }

    #[test]
    fn up_the_ladder_then_halfway() {
        let l: Ladder = "100,200,400,800".parse().unwrap();
        assert_eq!(l.next(&[], 2), Some(100.0));
        let h = [tried(100.0, true), tried(200.0, true)];
        assert_eq!(l.next(&h, 2), Some(400.0));
        let h = [tried(100.0, true), tried(200.0, true), tried(400.0, false)];
        assert_eq!(l.next(&h, 2), Some(300.0));
        assert_eq!(l.next(&h, 0), None, "no refinement asked for");
        let h = [h[0], h[1], h[2], tried(300.0, true)];
        assert_eq!(l.next(&h, 2), Some(350.0));
        let h = [h[0], h[1], h[2], h[3], tried(350.0, false)];
        assert_eq!(l.next(&h, 2), None, "two refinements done");
        // Every step held: the ladder's end.
        let all: Vec<Tried> = l.rates.iter().map(|r| tried(*r, true)).collect();
        assert_eq!(l.next(&all, 2), None);
    }

    #[test]
    fn below_the_first_step_and_a_narrow_gap() {
        let l: Ladder = "50,100".parse().unwrap();
        assert_eq!(l.next(&[tried(50.0, false)], 3), Some(25.0));
        let h = [tried(50.0, false), tried(25.0, false)];
        assert_eq!(l.next(&h, 3), Some(12.5f64.round()));
        let h = [tried(50.0, false), tried(25.0, false), tried(13.0, true)];
        assert_eq!(l.next(&h, 3), Some(19.0));
        let l: Ladder = "100,104".parse().unwrap();
        assert_eq!(l.next(&[tried(100.0, true), tried(104.0, false)], 3), None);
        assert_eq!(round_rate(3.26), 3.3);
    }

    fn verdict(rate: f64, held: bool) -> StepVerdict {
        StepVerdict {
            rate,
            held,
            reasons: if held { vec![] } else { vec!["slow".into()] },
            unjudged: vec![],
            orders_acked: 0,
            orders_acked_per_s: 0.0,
            pushes: 0,
            not_acked: 0,
            ack_p50_ms: None,
            ack_p99_ms: None,
            reservation_p99_ms: None,
            reservation_beyond_window: false,
            backlog: None,
        }
    }

    #[test]
    fn saturation_is_the_highest_that_held() {
        let s = Saturation::of(&[
            verdict(100.0, true),
            verdict(400.0, false),
            verdict(250.0, true),
            verdict(325.0, false),
        ]);
        assert_eq!(s.sustained, Some(250.0));
        assert_eq!(s.broke_at, Some(325.0));
        assert_eq!(s.broke_because, vec!["slow".to_string()]);
        let none = Saturation::of(&[verdict(50.0, false)]);
        assert_eq!((none.sustained, none.broke_at), (None, Some(50.0)));
    }
}
