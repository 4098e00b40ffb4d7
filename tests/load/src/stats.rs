//! Exact percentiles and per-second series. Every latency is kept (a minute at a few
//! thousand pushes per second is a few megabytes), so percentiles are exact
//! nearest-rank values rather than a histogram's approximation.

use serde::Serialize;

/// Nearest-rank percentile of sorted values: the smallest value with at least `q`
/// of all values at or below it (`q` in 0..=1). `None` when there are none.
pub fn percentile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The nearest-rank percentile of `values` together with `missing` more values known
/// only to be above every one of them (orders a probe never saw get there): `None` when
/// there is nothing at all, `Some(None)` when the percentile falls among the missing.
pub fn percentile_with_missing(values: &[i64], missing: usize, q: f64) -> Option<Option<i64>> {
    let n = values.len() + missing;
    if n == 0 {
        return None;
    }
    let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as usize).clamp(1, n);
    if rank > values.len() {
        return Some(None);
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    Some(Some(sorted[rank - 1]))
}

/// A distribution in milliseconds (from microsecond samples; signed, because a
/// reservation may be stamped before the acknowledgement arrives).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub mean_ms: Option<f64>,
}

impl Summary {
    pub fn of_micros(samples: &[i64]) -> Summary {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let ms = |v: Option<i64>| v.map(|us| (us as f64 / 1000.0 * 100.0).round() / 100.0);
        let mean = (!sorted.is_empty())
            .then(|| sorted.iter().map(|&v| v as f64).sum::<f64>() / sorted.len() as f64);
        Summary {
            count: sorted.len(),
            p50_ms: ms(percentile(&sorted, 0.50)),
            p90_ms: ms(percentile(&sorted, 0.90)),
            p99_ms: ms(percentile(&sorted, 0.99)),
            max_ms: ms(sorted.last().copied()),
            mean_ms: mean.map(|m| (m / 10.0).round() / 100.0),
        }
    }
}

/// Counts and latencies per whole second of the run.
#[derive(Debug, Clone, Default)]
pub struct Seconds {
    pub offered: Vec<u64>,
    pub sent: Vec<u64>,
    pub acked: Vec<u64>,
    pub failed: Vec<u64>,
    /// Latencies (µs) of the pushes due in that second.
    pub latency: Vec<Vec<i64>>,
    /// Highest backlog and in-flight count seen in that second.
    pub backlog: Vec<u64>,
    pub in_flight: Vec<u64>,
}

/// One second of the timeline, as the report and the chart show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecondRow {
    pub t: usize,
    pub offered: u64,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub backlog: u64,
    pub in_flight: u64,
    /// The app's own backlog (`GET /jobs/pipeline/intake`), highest poll in the second.
    pub pipeline_backlog: Option<u64>,
}

fn bump(v: &mut Vec<u64>, second: usize, by: u64) {
    if v.len() <= second {
        v.resize(second + 1, 0);
    }
    v[second] += by;
}

fn raise(v: &mut Vec<u64>, second: usize, to: u64) {
    if v.len() <= second {
        v.resize(second + 1, 0);
    }
    v[second] = v[second].max(to);
}

impl Seconds {
    pub fn offered(&mut self, second: usize) {
        bump(&mut self.offered, second, 1);
    }
    pub fn sent(&mut self, second: usize) {
        bump(&mut self.sent, second, 1);
    }
    pub fn acked(&mut self, second: usize) {
        bump(&mut self.acked, second, 1);
    }
    pub fn failed(&mut self, second: usize) {
        bump(&mut self.failed, second, 1);
    }
    pub fn latency(&mut self, due_second: usize, micros: i64) {
        if self.latency.len() <= due_second {
            self.latency.resize(due_second + 1, Vec::new());
        }
        self.latency[due_second].push(micros);
    }
    pub fn backlog(&mut self, second: usize, backlog: u64, in_flight: u64) {
        raise(&mut self.backlog, second, backlog);
        raise(&mut self.in_flight, second, in_flight);
    }

    pub fn rows(&self) -> Vec<SecondRow> {
        let len = [
            self.offered.len(),
            self.sent.len(),
            self.acked.len(),
            self.failed.len(),
            self.latency.len(),
            self.backlog.len(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        let at = |v: &Vec<u64>, i: usize| v.get(i).copied().unwrap_or(0);
        (0..len)
            .map(|t| {
                let lat = self
                    .latency
                    .get(t)
                    .map(|l| Summary::of_micros(l))
                    .unwrap_or_default();
                SecondRow {
                    t,
                    offered: at(&self.offered, t),
                    sent: at(&self.sent, t),
                    acked: at(&self.acked, t),
                    failed: at(&self.failed, t),
                    p50_ms: lat.p50_ms,
                    p99_ms: lat.p99_ms,
                    backlog: at(&self.backlog, t),
                    in_flight: at(&self.in_flight, t),
                    pipeline_backlog: None,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.50), Some(50));
        assert_eq!(percentile(&v, 0.99), Some(99));
        assert_eq!(percentile(&v, 1.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[7], 0.99), Some(7));
        assert_eq!(percentile::<i64>(&[], 0.5), None);
        // Ten values: p90 is the 9th, p99 the 10th (no interpolation).
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&ten, 0.90), Some(9));
        assert_eq!(percentile(&ten, 0.99), Some(10));
    }

    #[test]
    fn percentiles_count_what_never_arrived_as_beyond() {
        let v: Vec<i64> = (1..=99).collect();
        assert_eq!(percentile_with_missing(&v, 1, 0.99), Some(Some(99)));
        assert_eq!(percentile_with_missing(&v, 2, 0.99), Some(None));
        assert_eq!(percentile_with_missing(&[5, 1], 0, 0.5), Some(Some(1)));
        assert_eq!(percentile_with_missing(&[], 3, 0.5), Some(None));
        assert_eq!(percentile_with_missing(&[], 0, 0.5), None);
    }

    #[test]
    fn summary_in_milliseconds_and_signed() {
        let s = Summary::of_micros(&[3_000, 1_000, 2_000, -500]);
        assert_eq!(s.count, 4);
        assert_eq!(s.p50_ms, Some(1.0));
        assert_eq!(s.p99_ms, Some(3.0));
        assert_eq!(s.max_ms, Some(3.0));
        assert_eq!(s.mean_ms, Some(1.38));
        assert_eq!(Summary::of_micros(&[]), Summary::default());
        assert_eq!(Summary::of_micros(&[-1_500]).p50_ms, Some(-1.5));
    }

    #[test]
    fn seconds_fill_gaps_and_keep_maxima() {
        let mut s = Seconds::default();
        s.offered(0);
        s.offered(2);
        s.acked(2);
        s.latency(2, 4_000);
        s.latency(2, 1_000);
        s.backlog(1, 5, 2);
        s.backlog(1, 3, 4);
        let rows = s.rows();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            (rows[0].offered, rows[1].offered, rows[2].offered),
            (1, 0, 1)
        );
        assert_eq!((rows[1].backlog, rows[1].in_flight), (5, 4));
        assert_eq!((rows[2].p50_ms, rows[2].p99_ms), (Some(1.0), Some(4.0)));
        assert_eq!(rows[1].p50_ms, None);
    }
}
