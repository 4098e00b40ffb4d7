//! The run's figures: one structure, printed as a table and written as JSON, so a
//! script reads exactly what a person reads.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::channels::Channel;
use crate::intake;
use crate::mix::Plan;
use crate::probe::PipelineFigures;
use crate::record::{Class, Counts};
use crate::run::Observed;
use crate::stats::{SecondRow, Summary};

#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub url: String,
    pub seed: u64,
    pub rate: f64,
    pub duration_s: u64,
    pub burst: Option<String>,
    /// `--curve`: the rate's shape (`morning`, or the multipliers).
    pub curve: Option<String>,
    pub concurrency: usize,
    pub probe_share: f64,
    pub run_id: String,
    /// RFC 3339, the run's zero.
    pub started_at: String,
    pub elapsed_s: f64,
    /// `/proc/loadavg`'s first three fields before and after the run.
    pub loadavg_before: String,
    pub loadavg_after: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderFigures {
    pub planned: u64,
    pub acknowledged: u64,
    pub paid: u64,
    pub unpaid: u64,
    pub repeat_customer: u64,
    pub distinct_customers: u64,
    pub mean_lines: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AnswerRow {
    /// `None`: no answer (timeout, connection).
    pub status: Option<u16>,
    pub code: String,
    /// The push was delivered again after this answer (409 `in_progress`).
    pub retried: bool,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelRow {
    pub channel: Channel,
    #[serde(flatten)]
    pub counts: Counts,
    pub ack_latency: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Pushes per second the plan offered, over the load duration.
    pub offered_per_s: f64,
    /// Acknowledgements per second over the seconds that had any, and the best second.
    pub acked_per_s_mean: f64,
    pub acked_per_s_peak: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Backlog {
    /// Most pushes due but not yet answered at one time (the client's queue plus
    /// requests in flight): grows when the app falls behind the offered rate.
    pub max: u64,
    pub max_in_flight: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub meta: Meta,
    pub pushes: Counts,
    pub unfinished: u64,
    pub by_kind: BTreeMap<Class, Counts>,
    pub orders: OrderFigures,
    pub errors: Vec<AnswerRow>,
    /// Due time → final acknowledgement, every acknowledged push.
    pub ack_latency: Summary,
    pub channels: Vec<ChannelRow>,
    pub throughput: Throughput,
    pub backlog: Backlog,
    /// The app's own backlog over time (`GET /jobs/pipeline/intake`).
    pub intake: intake::Figures,
    pub pipeline: PipelineFigures,
    pub timeline: Vec<SecondRow>,
}

impl Report {
    pub fn build(meta: Meta, plan: &Plan, observed: &Observed) -> Report {
        let rec = &observed.recorder;
        let mut pushes = Counts::default();
        for c in rec.by_class.values() {
            pushes.planned += c.planned;
            pushes.sent += c.sent;
            pushes.acked += c.acked;
            pushes.acked_as_duplicate += c.acked_as_duplicate;
            pushes.not_acked += c.not_acked;
        }
        let intake = intake::Figures::of(&observed.intake, meta.duration_s as f64);
        let mut timeline = rec.seconds.rows();
        for (t, b) in intake.per_second().into_iter().enumerate() {
            while timeline.len() <= t {
                timeline.push(SecondRow {
                    t: timeline.len(),
                    offered: 0,
                    sent: 0,
                    acked: 0,
                    failed: 0,
                    p50_ms: None,
                    p99_ms: None,
                    backlog: 0,
                    in_flight: 0,
                    pipeline_backlog: None,
                });
            }
            timeline[t].pipeline_backlog = b;
        }
        let busy: Vec<u64> = timeline
            .iter()
            .map(|r| r.acked)
            .filter(|a| *a > 0)
            .collect();
        let channels = Channel::ALL
            .iter()
            .filter_map(|ch| {
                Some(ChannelRow {
                    channel: *ch,
                    counts: rec.by_channel.get(ch)?.clone(),
                    ack_latency: Summary::of_micros(
                        rec.latency_by_channel
                            .get(ch)
                            .map_or(&[][..], Vec::as_slice),
                    ),
                })
            })
            .collect();
        Report {
            throughput: Throughput {
                offered_per_s: round2(pushes.planned as f64 / meta.duration_s.max(1) as f64),
                acked_per_s_mean: round2(
                    busy.iter().sum::<u64>() as f64 / busy.len().max(1) as f64,
                ),
                acked_per_s_peak: busy.iter().copied().max().unwrap_or(0),
            },
            meta,
            pushes,
            unfinished: observed.unfinished,
            by_kind: rec.by_class.clone(),
            orders: order_figures(plan, rec.orders_acked),
            errors: rec
                .answers
                .iter()
                .map(|(k, n)| AnswerRow {
                    status: k.status,
                    code: k.code.clone(),
                    retried: k.retried,
                    count: *n,
                })
                .collect(),
            ack_latency: Summary::of_micros(&rec.latencies()),
            channels,
            backlog: Backlog {
                max: timeline.iter().map(|r| r.backlog).max().unwrap_or(0),
                max_in_flight: timeline.iter().map(|r| r.in_flight).max().unwrap_or(0),
            },
            pipeline: PipelineFigures::of(&observed.watched),
            intake,
            timeline,
        }
    }

    /// Every planned push was acknowledged as its platform expects.
    pub fn all_acknowledged(&self) -> bool {
        self.pushes.acked == self.pushes.planned
    }

    pub fn table(&self) -> String {
        let m = &self.meta;
        let mut out = String::new();
        let w = &mut out;
        let burst = m
            .burst
            .as_ref()
            .map(|b| format!(", burst {b}"))
            .unwrap_or_default();
        let _ = writeln!(
            w,
            "orderhub-load · {} · seed {} · {} orders/s × {} s{burst} · concurrency {} · run {}",
            m.url, m.seed, m.rate, m.duration_s, m.concurrency, m.run_id
        );
        let _ = writeln!(
            w,
            "started {} · {:.1} s · load average before {} · after {}\n",
            m.started_at, m.elapsed_s, m.loadavg_before, m.loadavg_after
        );
        let _ = writeln!(
            w,
            "{:<16}{:>9}{:>9}{:>9}{:>11}{:>14}",
            "pushes", "planned", "sent", "acked", "not acked", "said dup"
        );
        let row = |w: &mut String, name: &str, c: &Counts| {
            let _ = writeln!(
                w,
                "  {name:<14}{:>9}{:>9}{:>9}{:>11}{:>14}",
                c.planned, c.sent, c.acked, c.not_acked, c.acked_as_duplicate
            );
        };
        for (class, name) in [
            (Class::Orders, "new orders"),
            (Class::Duplicate, "duplicates"),
            (Class::Cancel, "cancels"),
        ] {
            row(
                w,
                name,
                self.by_kind.get(&class).unwrap_or(&Counts::default()),
            );
        }
        row(w, "all", &self.pushes);
        if self.unfinished > 0 {
            let _ = writeln!(
                w,
                "  {} pushes not sent or not answered when the run ended",
                self.unfinished
            );
        }
        let o = &self.orders;
        let _ = writeln!(
            w,
            "\norders: {} planned, {} acknowledged · paid {} / unpaid {} · repeat customer {:.1} % · {} distinct customers · {:.2} lines each",
            o.planned,
            o.acknowledged,
            o.paid,
            o.unpaid,
            100.0 * o.repeat_customer as f64 / o.planned.max(1) as f64,
            o.distinct_customers,
            o.mean_lines
        );

        let _ = writeln!(
            w,
            "\n{:<40}{:>8}",
            "answers other than the acknowledgement", "count"
        );
        if self.errors.is_empty() {
            let _ = writeln!(w, "  none");
        }
        for e in &self.errors {
            let status = e.status.map_or("-".to_string(), |s| s.to_string());
            let retried = if e.retried { " (delivered again)" } else { "" };
            let _ = writeln!(
                w,
                "  {:<38}{:>8}",
                format!("{status} {}{retried}", e.code),
                e.count
            );
        }

        let l = &self.ack_latency;
        let _ = writeln!(
            w,
            "\nack latency, due → acknowledgement: p50 {} · p90 {} · p99 {} · max {} (n {})",
            ms(l.p50_ms),
            ms(l.p90_ms),
            ms(l.p99_ms),
            ms(l.max_ms),
            l.count
        );
        let t = &self.throughput;
        let _ = writeln!(
            w,
            "throughput: offered {:.1} pushes/s · acknowledged {:.1}/s mean, {} in the best second",
            t.offered_per_s, t.acked_per_s_mean, t.acked_per_s_peak
        );
        let _ = writeln!(
            w,
            "backlog (due, not yet answered): max {} · most in flight {}",
            self.backlog.max, self.backlog.max_in_flight
        );
        let i = &self.intake;
        if i.state == intake::State::Reported {
            let series: Vec<String> = i.series.iter().map(|x| x.backlog.to_string()).collect();
            let _ = writeln!(
                w,
                "pipeline backlog over time (the app's, acknowledged not yet through the pipeline): max {} · last {} · oldest waiting max {} · back at 0 {}\n  per second: {}",
                i.max.unwrap_or(0),
                i.last.unwrap_or(0),
                ms(i.oldest_waiting_ms_max.map(|v| v as f64)),
                i.drained_at_s
                    .map_or("not seen".to_string(), |t| format!("at {t:.1} s")),
                series.join(" ")
            );
        } else {
            let _ = writeln!(w, "pipeline {}", i.note);
        }

        let _ = writeln!(
            w,
            "\n{:<14}{:>8}{:>8}{:>11}{:>11}{:>11}",
            "channel", "pushes", "acked", "not acked", "p50", "p99"
        );
        for c in &self.channels {
            let _ = writeln!(
                w,
                "  {:<12}{:>8}{:>8}{:>11}{:>11}{:>11}",
                c.channel.id(),
                c.counts.planned,
                c.counts.acked,
                c.counts.not_acked,
                ms(c.ack_latency.p50_ms),
                ms(c.ack_latency.p99_ms)
            );
        }

        let p = &self.pipeline;
        let _ = writeln!(
            w,
            "\n{:<50}{:>10}{:>10}{:>10}",
            format!("pipeline, {} orders watched", p.watched),
            "p50",
            "p99",
            "not seen"
        );
        let prow = |w: &mut String, name: &str, s: &Summary, missing: Option<usize>| {
            let missing = missing.map_or(String::new(), |m| m.to_string());
            let _ = writeln!(
                w,
                "  {name:<48}{:>10}{:>10}{:>10}",
                ms(s.p50_ms),
                ms(s.p99_ms),
                missing
            );
        };
        prow(
            w,
            "ack → reserved (reservation's own time)",
            &p.ack_to_reserved,
            Some(p.reserved_not_seen),
        );
        prow(
            w,
            "ack → reservation first seen by a poll",
            &p.ack_to_reserved_seen,
            None,
        );
        prow(
            w,
            "ack → merge decision first seen by a poll (≤)",
            &p.ack_to_merge_decision,
            Some(p.decision_not_seen),
        );
        if !p.outcomes.is_empty() {
            let outcomes: Vec<String> =
                p.outcomes.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let _ = writeln!(w, "  merge outcomes: {}", outcomes.join(", "));
        }
        if !p.errors.is_empty() {
            let errors: Vec<String> = p.errors.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
            let _ = writeln!(w, "  probe errors: {}", errors.join(", "));
        }
        out
    }
}

fn order_figures(plan: &Plan, acknowledged: u64) -> OrderFigures {
    let mut f = OrderFigures {
        planned: 0,
        acknowledged,
        paid: 0,
        unpaid: 0,
        repeat_customer: 0,
        distinct_customers: 0,
        mean_lines: 0.0,
    };
    let mut customers = HashSet::new();
    let mut lines = 0;
    for (_, o) in plan.orders() {
        f.planned += 1;
        if o.paid {
            f.paid += 1;
        } else {
            f.unpaid += 1;
        }
        f.repeat_customer += u64::from(o.repeat);
        customers.insert(o.customer);
        lines += o.lines.len();
    }
    f.distinct_customers = customers.len() as u64;
    f.mean_lines = round2(lines as f64 / f.planned.max(1) as f64);
    f
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `12.3 ms`, `-1.5 ms`, or `–` when there is no value.
fn ms(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0} ms"),
        Some(v) => format!("{v:.1} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::Verdict;
    use crate::mix::MixConfig;
    use crate::record::{Done, Final, Recorder};
    use crate::schedule::Profile;
    use std::time::Duration;

    fn meta() -> Meta {
        Meta {
            url: "http://127.0.0.1:3211".into(),
            seed: 1,
            rate: 10.0,
            duration_s: 2,
            burst: None,
            curve: None,
            concurrency: 4,
            probe_share: 0.02,
            run_id: "1".into(),
            started_at: "2026-12-07T14:00:00+00:00".into(),
            elapsed_s: 2.5,
            loadavg_before: "0.1 0.2 0.3".into(),
            loadavg_after: "0.4 0.5 0.6".into(),
        }
    }

    #[test]
    fn the_summary_adds_up_what_was_recorded() {
        let slots = Profile {
            rate: 10.0,
            duration: Duration::from_secs(2),
            burst: None,
            curve: None,
        }
        .slots();
        let plan = Plan::generate(1, &MixConfig::default(), &slots);
        let mut recorder = Recorder::default();
        for (i, p) in plan.pushes.iter().enumerate() {
            let class = Class::of(&p.kind);
            recorder.planned(p.channel, class, p.at);
            recorder.sent(p.channel, class, p.at);
            let result = if i == 0 {
                Final::Refused {
                    status: 503,
                    code: "unavailable".into(),
                }
            } else {
                Final::Acked(Verdict::Accepted)
            };
            recorder.done(Done {
                channel: p.channel,
                class,
                orders: 1,
                due: p.at,
                finished: p.at + Duration::from_millis(10 * (i as u64 + 1)),
                result,
            });
        }
        let observed = Observed {
            recorder,
            watched: vec![],
            unfinished: 0,
            elapsed: Duration::from_secs(2),
            t0_ms: 0,
            intake: crate::intake::Log {
                state: crate::intake::State::Reported,
                samples: vec![crate::intake::Sample {
                    t_s: 3.2,
                    acknowledged: 5,
                    drained: 2,
                    backlog: 3,
                    oldest_waiting_ms: Some(40),
                }],
                errors: Default::default(),
            },
        };
        let report = Report::build(meta(), &plan, &observed);
        let n = plan.pushes.len() as u64;
        assert_eq!(report.pushes.planned, n);
        assert_eq!(report.pushes.acked, n - 1);
        assert!(!report.all_acknowledged());
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].status, Some(503));
        assert_eq!(report.ack_latency.count as u64, n - 1);
        // Latencies 20, 30, … ms: the median is the ⌈(n−1)/2⌉-th of them.
        assert_eq!(
            report.ack_latency.p50_ms,
            Some(10.0 * ((n - 1).div_ceil(2) + 1) as f64)
        );
        assert_eq!(report.orders.planned, slots.len() as u64);
        // Two seconds of load and its answers, then a poll of the app's backlog at 3.2 s.
        assert_eq!(report.timeline.len(), 4);
        assert_eq!(report.timeline[3].pipeline_backlog, Some(3));
        assert_eq!(report.intake.max, Some(3));
        assert_eq!(report.throughput.offered_per_s, round2(n as f64 / 2.0));
        let table = report.table();
        assert!(table.contains("503 unavailable"), "{table}");
        assert!(table.contains("pipeline backlog over time"), "{table}");
        assert!(
            table.contains("meituan") || table.contains("eleme"),
            "{table}"
        );
        // The JSON carries the same figures.
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["pushes"]["acked"], n - 1);
        assert_eq!(json["errors"][0]["code"], "unavailable");
    }

    #[test]
    fn milliseconds_read_well() {
        assert_eq!(ms(None), "–");
        assert_eq!(ms(Some(1.26)), "1.3 ms");
        assert_eq!(ms(Some(-3.0)), "-3.0 ms");
        assert_eq!(ms(Some(1234.4)), "1234 ms");
    }
}
