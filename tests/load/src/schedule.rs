//! When orders are due: a steady rate, or a steady rate with one burst in the middle.
//!
//! The plan is fixed before the run starts (open loop): a push is due at its planned
//! time whether or not the app kept up, and its latency is measured from that time, so
//! a slow answer cannot hold back the next request and hide itself (coordinated
//! omission).

use std::str::FromStr;
use std::time::Duration;

/// `--burst 10x10s`: the rate times `factor` for `length`, centred in the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burst {
    pub factor: f64,
    pub length: Duration,
}

impl FromStr for Burst {
    type Err = String;

    /// `<factor>x<seconds>[s]`, e.g. `10x10s`, `3x5`, `2.5x20s`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("burst `{s}`: expected <factor>x<seconds>s, e.g. 10x10s");
        let (factor, length) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
        let factor: f64 = factor.trim().parse().map_err(|_| bad())?;
        let length: f64 = length
            .trim()
            .trim_end_matches('s')
            .parse()
            .map_err(|_| bad())?;
        if !(factor.is_finite() && factor >= 1.0 && length.is_finite() && length > 0.0) {
            return Err(bad());
        }
        Ok(Burst {
            factor,
            length: Duration::from_secs_f64(length),
        })
    }
}

/// `--curve`: the rate's shape over the run, as multipliers of equal parts of it
/// (`morning`, or a list such as `0.5,1,2,1`), scaled so their mean is 1: `--rate`
/// stays the run's average and `rate × duration` its order count.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub name: String,
    /// Mean 1, every one ≥ 0, at least one above 0.
    pub parts: Vec<f64>,
}

/// A grocery morning, 07:00–08:00 in twelve five-minute parts: quiet at first, the
/// breakfast and commute peak around 07:35 (about twice the hour's mean), easing after.
pub const MORNING: [f64; 12] = [
    0.35, 0.5, 0.7, 0.95, 1.3, 1.7, 2.0, 1.85, 1.45, 1.1, 0.85, 0.65,
];

impl FromStr for Curve {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let raw: Vec<f64> = if s.eq_ignore_ascii_case("morning") {
            MORNING.to_vec()
        } else {
            s.split(',')
                .map(|p| p.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    format!("curve `{s}`: expected `morning` or multipliers, e.g. 0.5,1,2,1")
                })?
        };
        if raw.iter().any(|v| !v.is_finite() || *v < 0.0) || !raw.iter().any(|v| *v > 0.0) {
            return Err(format!(
                "curve `{s}`: multipliers must be ≥ 0, one at least above 0"
            ));
        }
        let mean = raw.iter().sum::<f64>() / raw.len() as f64;
        Ok(Curve {
            name: if s.eq_ignore_ascii_case("morning") {
                "morning".into()
            } else {
                s.into()
            },
            parts: raw.iter().map(|v| v / mean).collect(),
        })
    }
}

/// The order arrival profile of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Orders per second outside a burst (the mean, with a curve).
    pub rate: f64,
    pub duration: Duration,
    pub burst: Option<Burst>,
    pub curve: Option<Curve>,
}

impl Profile {
    /// The burst's `[start, end)` in seconds from the run's start (clipped to the run).
    pub fn burst_window(&self) -> Option<(f64, f64)> {
        let b = self.burst?;
        let total = self.duration.as_secs_f64();
        let len = b.length.as_secs_f64().min(total);
        let start = (total - len) / 2.0;
        Some((start, start + len))
    }

    /// Orders per second at `t` seconds into the run.
    pub fn rate_at(&self, t: f64) -> f64 {
        let shaped = match &self.curve {
            Some(c) => {
                let total = self.duration.as_secs_f64().max(f64::MIN_POSITIVE);
                let part = ((t / total) * c.parts.len() as f64).floor().max(0.0) as usize;
                self.rate * c.parts[part.min(c.parts.len() - 1)]
            }
            None => self.rate,
        };
        match (self.burst, self.burst_window()) {
            (Some(b), Some((start, end))) if t >= start && t < end => shaped * b.factor,
            _ => shaped,
        }
    }

    /// The highest rate of the run (what the rate limits must allow).
    pub fn peak_rate(&self) -> f64 {
        let curve = self
            .curve
            .as_ref()
            .map_or(1.0, |c| c.parts.iter().fold(0.0f64, |m, v| m.max(*v)));
        self.rate * curve * self.burst.map_or(1.0, |b| b.factor)
    }

    /// Where the rate may change: the curve's parts and the burst's edges.
    fn bounds(&self) -> Vec<f64> {
        let end = self.duration.as_secs_f64();
        let mut bounds = vec![0.0, end];
        if let Some((start, stop)) = self.burst_window() {
            bounds.extend([start, stop]);
        }
        if let Some(c) = &self.curve {
            let n = c.parts.len();
            bounds.extend((1..n).map(|k| end * k as f64 / n as f64));
        }
        bounds.sort_by(f64::total_cmp);
        bounds.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        bounds
    }

    /// Evenly spaced order slots at the rate in force, segment by segment (before,
    /// during and after the burst). Even spacing (not Poisson) keeps the offered load
    /// exactly what was asked for in every second, which is what the per-second chart
    /// compares to; slot times are computed from the order's number, never a running
    /// sum, so rounding cannot add or lose a slot over a long run.
    pub fn slots(&self) -> Vec<Duration> {
        let end = self.duration.as_secs_f64();
        let bounds = self.bounds();
        let mut out = Vec::with_capacity((end * self.peak_rate()) as usize + 1);
        // Orders expected before the segment: the j-th order of the run is due where
        // the expected count reaches j, so segments (a curve's parts, a burst's edges)
        // neither add nor lose an order where they meet.
        let mut expected = 0.0;
        for seg in bounds.windows(2) {
            let (from, to) = (seg[0], seg[1]);
            let rate = self.rate_at(from);
            if rate <= 0.0 || to <= from {
                continue;
            }
            let after = expected + (to - from) * rate;
            let first = (expected - 1e-9).ceil().max(0.0) as u64;
            let end = (after - 1e-9).ceil().max(0.0) as u64;
            out.extend(
                (first..end).map(|j| Duration::from_secs_f64(from + (j as f64 - expected) / rate)),
            );
            expected = after;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn burst_parses_and_refuses_nonsense() {
        assert_eq!(
            "10x10s".parse::<Burst>(),
            Ok(Burst {
                factor: 10.0,
                length: secs(10)
            })
        );
        assert_eq!("2.5X4".parse::<Burst>().unwrap().factor, 2.5);
        for bad in ["", "10", "x10s", "10xs", "0.5x10s", "10x0s", "10x-3s"] {
            assert!(bad.parse::<Burst>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_steady_rate_gives_rate_times_duration_slots() {
        let p = Profile {
            rate: 100.0,
            duration: secs(20),
            burst: None,
            curve: None,
        };
        let slots = p.slots();
        assert_eq!(slots.len(), 2000);
        assert_eq!(slots[1], Duration::from_millis(10));
        assert!(slots.last().unwrap() < &secs(20));
    }

    #[test]
    fn a_burst_multiplies_the_rate_in_the_middle() {
        let p = Profile {
            rate: 10.0,
            duration: secs(30),
            burst: Some("10x10s".parse().unwrap()),
            curve: None,
        };
        assert_eq!(p.burst_window(), Some((10.0, 20.0)));
        assert_eq!(p.peak_rate(), 100.0);
        let slots = p.slots();
        let within = |a: u64, b: u64| {
            slots
                .iter()
                .filter(|s| **s >= secs(a) && **s < secs(b))
                .count() as i64
        };
        assert!((within(10, 20) - 1000).abs() <= 2, "{}", within(10, 20));
        assert!((within(0, 10) - 100).abs() <= 2);
        assert!((within(20, 30) - 100).abs() <= 2);
    }

    #[test]
    fn a_burst_longer_than_the_run_covers_it() {
        let p = Profile {
            rate: 1.0,
            duration: secs(5),
            burst: Some("2x60s".parse().unwrap()),
            curve: None,
        };
        assert_eq!(p.burst_window(), Some((0.0, 5.0)));
        assert_eq!(p.slots().len(), 10);
    }

    #[test]
    fn a_curve_keeps_the_mean_and_shapes_the_parts() {
        let c: Curve = "1,3".parse().unwrap();
        assert_eq!(c.parts, vec![0.5, 1.5]);
        let morning: Curve = "Morning".parse().unwrap();
        let hour = Profile {
            rate: 5.0,
            duration: secs(60),
            burst: None,
            curve: Some(morning.clone()),
        };
        assert_eq!(hour.slots().len(), 300, "parts neither add nor lose orders");
        let mean = morning.parts.iter().sum::<f64>() / morning.parts.len() as f64;
        assert!((mean - 1.0).abs() < 1e-9);
        for bad in ["", "a,b", "0,0", "1,-1", "1,inf"] {
            assert!(bad.parse::<Curve>().is_err(), "{bad}");
        }
        let p = Profile {
            rate: 10.0,
            duration: secs(20),
            burst: None,
            curve: Some(c),
        };
        assert_eq!(
            (p.rate_at(0.0), p.rate_at(10.0), p.rate_at(19.9)),
            (5.0, 15.0, 15.0)
        );
        assert_eq!(p.peak_rate(), 15.0);
        let slots = p.slots();
        assert_eq!(slots.len(), 200, "rate × duration orders");
        let first_half = slots.iter().filter(|s| **s < secs(10)).count();
        assert_eq!(first_half, 50);
        assert!(slots.windows(2).all(|w| w[0] <= w[1]), "sorted");
    }

    #[test]
    fn a_curve_and_a_burst_multiply() {
        let p = Profile {
            rate: 10.0,
            duration: secs(30),
            burst: Some("2x10s".parse().unwrap()),
            curve: Some("1,2,1".parse().unwrap()),
        };
        assert!((p.rate_at(15.0) - 10.0 * 1.5 * 2.0).abs() < 1e-9);
        assert!((p.peak_rate() - 30.0).abs() < 1e-9);
    }
}
