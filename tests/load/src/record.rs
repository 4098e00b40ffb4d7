//! What happened to every push, counted as it happens.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::channels::{Channel, Verdict};
use crate::http::Failure;
use crate::mix::PushKind;
use crate::stats::Seconds;

/// The three kinds of push, counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Orders,
    Duplicate,
    Cancel,
}

impl Class {
    pub fn of(kind: &PushKind) -> Class {
        match kind {
            PushKind::Orders(_) => Class::Orders,
            PushKind::Duplicate { .. } => Class::Duplicate,
            PushKind::Cancel { .. } => Class::Cancel,
        }
    }
}

/// How a push ended, after any retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    /// 2xx with the platform's acknowledgement.
    Acked(Verdict),
    /// 2xx, but not the acknowledgement: the platform would deliver it again.
    WrongAck { status: u16 },
    /// An error status.
    Refused { status: u16, code: String },
    /// No answer.
    Failed(Failure),
}

/// One push's result.
#[derive(Debug, Clone)]
pub struct Done {
    pub channel: Channel,
    pub class: Class,
    /// Orders the push carries (0 for duplicates and cancels).
    pub orders: u64,
    /// Due time and when the last answer came, from the run's start.
    pub due: Duration,
    pub finished: Duration,
    pub result: Final,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    pub planned: u64,
    pub sent: u64,
    pub acked: u64,
    /// Acknowledged and said to be a duplicate (only our own channels say so).
    pub acked_as_duplicate: u64,
    pub not_acked: u64,
}

/// A status and error code seen, and whether the push was retried after it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct AnswerKey {
    /// HTTP status, or `None` when no answer came.
    pub status: Option<u16>,
    pub code: String,
    pub retried: bool,
}

#[derive(Debug, Default)]
pub struct Recorder {
    pub seconds: Seconds,
    pub by_class: BTreeMap<Class, Counts>,
    pub by_channel: BTreeMap<Channel, Counts>,
    /// Acknowledgement latencies (µs from due to answer) per channel.
    pub latency_by_channel: BTreeMap<Channel, Vec<i64>>,
    pub answers: BTreeMap<AnswerKey, u64>,
    pub orders_acked: u64,
}

fn tally(c: &mut Counts, result: &Final) {
    match result {
        Final::Acked(v) => {
            c.acked += 1;
            c.acked_as_duplicate += u64::from(*v == Verdict::Duplicate);
        }
        _ => c.not_acked += 1,
    }
}

fn second(d: Duration) -> usize {
    d.as_secs() as usize
}

impl Recorder {
    pub fn planned(&mut self, channel: Channel, class: Class, due: Duration) {
        self.seconds.offered(second(due));
        self.by_class.entry(class).or_default().planned += 1;
        self.by_channel.entry(channel).or_default().planned += 1;
    }

    pub fn sent(&mut self, channel: Channel, class: Class, at: Duration) {
        self.seconds.sent(second(at));
        self.by_class.entry(class).or_default().sent += 1;
        self.by_channel.entry(channel).or_default().sent += 1;
    }

    /// An error answer after which the push is tried again (409 `in_progress`).
    pub fn retried(&mut self, status: u16, code: &str) {
        *self
            .answers
            .entry(AnswerKey {
                status: Some(status),
                code: code.to_string(),
                retried: true,
            })
            .or_default() += 1;
    }

    pub fn done(&mut self, d: Done) {
        let latency = d.finished.saturating_sub(d.due).as_micros() as i64;
        let acked = matches!(d.result, Final::Acked(_));
        tally(self.by_class.entry(d.class).or_default(), &d.result);
        tally(self.by_channel.entry(d.channel).or_default(), &d.result);
        if acked {
            self.seconds.acked(second(d.finished));
            self.seconds.latency(second(d.due), latency);
            self.latency_by_channel
                .entry(d.channel)
                .or_default()
                .push(latency);
            self.orders_acked += d.orders;
            return;
        }
        self.seconds.failed(second(d.finished));
        let (status, code) = match d.result {
            Final::WrongAck { status } => (Some(status), "wrong_ack".to_string()),
            Final::Refused { status, code } => (Some(status), code),
            Final::Failed(f) => (None, f.label()),
            Final::Acked(_) => unreachable!("handled above"),
        };
        *self
            .answers
            .entry(AnswerKey {
                status,
                code,
                retried: false,
            })
            .or_default() += 1;
    }

    /// Every acknowledged push's latency, all channels together.
    pub fn latencies(&self) -> Vec<i64> {
        self.latency_by_channel
            .values()
            .flatten()
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(class: Class, result: Final) -> Done {
        Done {
            channel: Channel::App,
            class,
            orders: u64::from(class == Class::Orders),
            due: Duration::from_millis(1_500),
            finished: Duration::from_millis(2_250),
            result,
        }
    }

    #[test]
    fn results_are_counted_per_kind_channel_and_answer() {
        let mut r = Recorder::default();
        r.planned(Channel::App, Class::Orders, Duration::from_millis(1_500));
        r.done(done(Class::Orders, Final::Acked(Verdict::Accepted)));
        r.done(done(Class::Duplicate, Final::Acked(Verdict::Duplicate)));
        r.retried(409, "in_progress");
        r.done(done(
            Class::Orders,
            Final::Refused {
                status: 429,
                code: "rate_limited".into(),
            },
        ));
        r.done(done(Class::Cancel, Final::Failed(Failure::Timeout)));

        assert_eq!(r.by_class[&Class::Orders].acked, 1);
        assert_eq!(r.by_class[&Class::Orders].not_acked, 1);
        assert_eq!(r.by_class[&Class::Duplicate].acked_as_duplicate, 1);
        assert_eq!(r.by_channel[&Channel::App].acked, 2);
        assert_eq!(r.by_channel[&Channel::App].not_acked, 2);
        assert_eq!(r.orders_acked, 1);
        assert_eq!(r.latencies(), vec![750_000, 750_000]);
        let key = |status, code: &str, retried| AnswerKey {
            status,
            code: code.into(),
            retried,
        };
        assert_eq!(r.answers[&key(Some(409), "in_progress", true)], 1);
        assert_eq!(r.answers[&key(Some(429), "rate_limited", false)], 1);
        assert_eq!(r.answers[&key(None, "timeout", false)], 1);
        let rows = r.seconds.rows();
        assert_eq!((rows[1].offered, rows[2].acked, rows[2].failed), (1, 2, 2));
        assert_eq!(rows[1].p50_ms, Some(750.0));
    }
}
