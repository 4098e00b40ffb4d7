//! The app's own view of its backlog: `GET /jobs/pipeline/intake` (job token) answers
//! `{"acknowledged", "drained", "backlog", "oldest_waiting_ms"}`: pushes acknowledged
//! into the intake inbox and not yet run through the pipeline. Polled once a second
//! during the run (and while it drains after), when a job token is given. An app
//! without the route (404) is said to not report it, and the run carries on.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hyper::Method;
use serde::Serialize;

use crate::http::Http;

pub const PATH: &str = "/jobs/pipeline/intake";

/// One answer of the route, at `t_s` seconds from the run's start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub t_s: f64,
    pub acknowledged: u64,
    pub drained: u64,
    pub backlog: u64,
    pub oldest_waiting_ms: Option<u64>,
}

/// Whether the app reports its intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not polled (no job token) or no answer yet.
    #[default]
    Unknown,
    Reported,
    /// 404: the app has no such route.
    NotReported,
    /// 401/403: the job token was refused; polling stopped.
    Refused,
}

#[derive(Debug, Clone, Default)]
pub struct Log {
    pub state: State,
    pub samples: Vec<Sample>,
    /// Failed polls by label (status and code, or no answer).
    pub errors: BTreeMap<String, u64>,
}

/// What one poll's answer means.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Counts {
        acknowledged: u64,
        drained: u64,
        backlog: u64,
        oldest_waiting_ms: Option<u64>,
    },
    NotReported,
    Refused,
    Error(String),
}

/// Read the route's answer: a status and body.
pub fn read(status: u16, body: &[u8]) -> Answer {
    match status {
        200 => {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
                return Answer::Error("200 not JSON".into());
            };
            let num = |k: &str| v[k].as_u64();
            match (num("acknowledged"), num("drained"), num("backlog")) {
                (Some(acknowledged), Some(drained), Some(backlog)) => Answer::Counts {
                    acknowledged,
                    drained,
                    backlog,
                    oldest_waiting_ms: num("oldest_waiting_ms"),
                },
                _ => Answer::Error("200 without counts".into()),
            }
        }
        404 => Answer::NotReported,
        401 | 403 => Answer::Refused,
        other => Answer::Error(other.to_string()),
    }
}

impl Log {
    /// Record one poll's answer at `t_s`; false when polling should stop.
    pub fn record(&mut self, t_s: f64, answer: Answer) -> bool {
        match answer {
            Answer::Counts {
                acknowledged,
                drained,
                backlog,
                oldest_waiting_ms,
            } => {
                self.state = State::Reported;
                self.samples.push(Sample {
                    t_s: (t_s * 10.0).round() / 10.0,
                    acknowledged,
                    drained,
                    backlog,
                    oldest_waiting_ms,
                });
                true
            }
            // A 404 after answers is a hiccup (e.g. a restart), not an app without it.
            Answer::NotReported if self.state == State::Reported => {
                *self.errors.entry("404".into()).or_default() += 1;
                true
            }
            Answer::NotReported => {
                self.state = State::NotReported;
                false
            }
            Answer::Refused => {
                self.state = State::Refused;
                false
            }
            Answer::Error(e) => {
                *self.errors.entry(e).or_default() += 1;
                true
            }
        }
    }

    pub fn last_backlog(&self) -> Option<u64> {
        self.samples.last().map(|s| s.backlog)
    }

    /// For the progress line.
    pub fn describe(&self) -> String {
        match (self.state, self.last_backlog()) {
            (State::Reported, Some(b)) => format!("pipeline backlog {b}"),
            (State::NotReported, _) => "pipeline backlog not reported".into(),
            (State::Refused, _) => "pipeline backlog: job token refused".into(),
            _ => String::new(),
        }
    }
}

/// Poll every `every` (a poll starts after the previous answer) into `log` until
/// aborted, or the app says it has no such route.
pub async fn poll(
    http: Http,
    token: String,
    t0: Instant,
    every: Duration,
    log: std::sync::Arc<std::sync::Mutex<Log>>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let answer = match http.admin(Method::GET, PATH, &token, None).await {
            Ok(r) => read(r.status, &r.body),
            Err(f) => Answer::Error(f.label()),
        };
        let t_s = Instant::now().saturating_duration_since(t0).as_secs_f64();
        let go_on = log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(t_s, answer);
        if !go_on {
            return;
        }
    }
}

/// Backlog over the run, as the summary and JSON carry it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub state: State,
    /// What the summary says about it.
    pub note: String,
    pub max: Option<u64>,
    pub last: Option<u64>,
    pub oldest_waiting_ms_max: Option<u64>,
    /// Seconds from the run's start at which the backlog was first back at 0 after the
    /// last push was due (`None`: never seen at 0 after it).
    pub drained_at_s: Option<f64>,
    pub errors: BTreeMap<String, u64>,
    pub series: Vec<Sample>,
}

impl Figures {
    /// `load_end_s`: when the last push was due.
    pub fn of(log: &Log, load_end_s: f64) -> Figures {
        let s = &log.samples;
        let note = match log.state {
            State::Reported => "reported by the app (GET /jobs/pipeline/intake)".to_string(),
            State::NotReported => "backlog: not reported by this app".to_string(),
            State::Refused => "backlog: the job token was refused".to_string(),
            State::Unknown if s.is_empty() && log.errors.is_empty() => {
                "backlog: not polled (no --job-token)".to_string()
            }
            State::Unknown => "backlog: no answer from the app".to_string(),
        };
        Figures {
            state: log.state,
            note,
            max: s.iter().map(|x| x.backlog).max(),
            last: s.last().map(|x| x.backlog),
            oldest_waiting_ms_max: s.iter().filter_map(|x| x.oldest_waiting_ms).max(),
            drained_at_s: s
                .iter()
                .find(|x| x.t_s >= load_end_s && x.backlog == 0)
                .map(|x| x.t_s),
            errors: log.errors.clone(),
            series: s.clone(),
        }
    }

    /// The backlog per second of the run (the highest sample in each), for the chart.
    pub fn per_second(&self) -> Vec<Option<u64>> {
        let mut out: Vec<Option<u64>> = Vec::new();
        for x in &self.series {
            let t = x.t_s.max(0.0) as usize;
            if out.len() <= t {
                out.resize(t + 1, None);
            }
            out[t] = Some(out[t].map_or(x.backlog, |b| b.max(x.backlog)));
        }
        out
    }
}

/// Whether the backlog stayed bounded under a load of `rate` (orders/s) that ended at
/// `load_end_s`: at the end at most `end_seconds` worth of the rate, and over the last
/// third of the load not growing by more than `growth_seconds` worth of it (the
/// least-squares slope times the third's length).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bounded {
    /// The last sample while the load ran (or the first after it).
    pub end: u64,
    /// Growth over the last third of the load, from the fitted slope.
    pub growth: f64,
    pub bounded: bool,
}

pub fn bounded(
    samples: &[Sample],
    load_end_s: f64,
    rate: f64,
    end_seconds: f64,
    growth_seconds: f64,
) -> Option<Bounded> {
    let during: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t_s <= load_end_s + 1.0)
        .collect();
    let end = during.last()?.backlog;
    let tail: Vec<(f64, f64)> = during
        .iter()
        .filter(|s| s.t_s >= load_end_s * 2.0 / 3.0)
        .map(|s| (s.t_s, s.backlog as f64))
        .collect();
    let growth = if tail.len() >= 2 {
        let n = tail.len() as f64;
        let mt = tail.iter().map(|p| p.0).sum::<f64>() / n;
        let mb = tail.iter().map(|p| p.1).sum::<f64>() / n;
        let var: f64 = tail.iter().map(|p| (p.0 - mt).powi(2)).sum();
        let cov: f64 = tail.iter().map(|p| (p.0 - mt) * (p.1 - mb)).sum();
        let span = tail[tail.len() - 1].0 - tail[0].0;
        if var > 0.0 {
            cov / var * span
        } else {
            0.0
        }
    } else {
        0.0
    };
    let growth = (growth * 10.0).round() / 10.0;
    Some(Bounded {
        end,
        growth,
        bounded: end as f64 <= end_seconds * rate && growth <= growth_seconds * rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_s: f64, backlog: u64) -> Sample {
        Sample {
            t_s,
            acknowledged: 0,
            drained: 0,
            backlog,
            oldest_waiting_ms: None,
        }
    }

    #[test]
    fn answers_are_read() {
        let body = br#"{"acknowledged": 10, "drained": 7, "backlog": 3, "oldest_waiting_ms": 120}"#;
        assert_eq!(
            read(200, body),
            Answer::Counts {
                acknowledged: 10,
                drained: 7,
                backlog: 3,
                oldest_waiting_ms: Some(120)
            }
        );
        let idle = br#"{"acknowledged": 1, "drained": 1, "backlog": 0, "oldest_waiting_ms": null}"#;
        assert!(matches!(
            read(200, idle),
            Answer::Counts {
                oldest_waiting_ms: None,
                ..
            }
        ));
        assert_eq!(read(404, b"Not Found"), Answer::NotReported);
        assert_eq!(read(401, b"{}"), Answer::Refused);
        assert_eq!(read(200, b"{}"), Answer::Error("200 without counts".into()));
        assert_eq!(read(503, b""), Answer::Error("503".into()));
    }

    #[test]
    fn a_404_first_stops_polling_a_404_later_does_not() {
        let mut log = Log::default();
        assert!(!log.record(0.5, Answer::NotReported));
        assert_eq!(log.state, State::NotReported);
        let f = Figures::of(&log, 10.0);
        assert_eq!(f.note, "backlog: not reported by this app");
        assert_eq!((f.max, f.last), (None, None));

        let mut log = Log::default();
        assert!(log.record(
            1.04,
            Answer::Counts {
                acknowledged: 5,
                drained: 1,
                backlog: 4,
                oldest_waiting_ms: Some(30)
            }
        ));
        assert!(log.record(2.0, Answer::NotReported));
        assert!(log.record(3.0, Answer::Error("timeout".into())));
        assert_eq!(log.state, State::Reported);
        assert_eq!(log.samples[0].t_s, 1.0);
        assert_eq!(log.errors["404"], 1);
        assert_eq!(log.describe(), "pipeline backlog 4");
    }

    #[test]
    fn figures_over_the_series() {
        let log = Log {
            state: State::Reported,
            samples: vec![
                sample(0.2, 0),
                sample(1.2, 8),
                sample(1.7, 9),
                sample(3.1, 2),
                sample(4.1, 0),
            ],
            errors: BTreeMap::new(),
        };
        let f = Figures::of(&log, 3.0);
        assert_eq!((f.max, f.last), (Some(9), Some(0)));
        assert_eq!(f.drained_at_s, Some(4.1));
        assert_eq!(
            f.per_second(),
            vec![Some(0), Some(9), None, Some(2), Some(0)]
        );
        assert_eq!(
            Figures::of(&Log::default(), 3.0).note,
            "backlog: not polled (no --job-token)"
        );
    }

    #[test]
    fn bounded_means_small_at_the_end_and_not_growing() {
        // Steady at ~50 under 100 orders/s: bounded.
        let steady: Vec<Sample> = (0..30).map(|t| sample(t as f64, 50 + (t % 3))).collect();
        let b = bounded(&steady, 30.0, 100.0, 2.0, 0.5).unwrap();
        assert!(b.bounded, "{b:?}");
        assert_eq!(b.end, 52);
        // Growing by 10 a second: 100 over the last third, above 0.5 s worth (50).
        let growing: Vec<Sample> = (0..30).map(|t| sample(t as f64, 10 * t)).collect();
        let b = bounded(&growing, 30.0, 100.0, 20.0, 0.5).unwrap();
        assert!(!b.bounded && (b.growth - 90.0).abs() < 1e-6, "{b:?}");
        // Large at the end: more than 2 s worth.
        let big: Vec<Sample> = (0..30).map(|t| sample(t as f64, 250)).collect();
        assert!(!bounded(&big, 30.0, 100.0, 2.0, 0.5).unwrap().bounded);
        // Samples after the load do not count; none at all is no verdict.
        let mut after = steady.clone();
        after.push(sample(40.0, 10_000));
        assert!(bounded(&after, 30.0, 100.0, 2.0, 0.5).unwrap().bounded);
        assert_eq!(bounded(&[], 30.0, 100.0, 2.0, 0.5), None);
    }
}
