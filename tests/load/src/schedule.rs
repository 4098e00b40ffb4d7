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

/// The order arrival profile of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// Orders per second outside a burst.
    pub rate: f64,
    pub duration: Duration,
    pub burst: Option<Burst>,
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
        match (self.burst, self.burst_window()) {
            (Some(b), Some((start, end))) if t >= start && t < end => self.rate * b.factor,
            _ => self.rate,
        }
    }

    /// The highest rate of the run (what the rate limits must allow).
    pub fn peak_rate(&self) -> f64 {
        self.rate * self.burst.map_or(1.0, |b| b.factor)
    }

    /// Evenly spaced order slots at the rate in force, segment by segment (before,
    /// during and after the burst). Even spacing (not Poisson) keeps the offered load
    /// exactly what was asked for in every second, which is what the per-second chart
    /// compares to; slot times are `start + k / rate`, never a running sum, so rounding
    /// cannot add or lose a slot over a long run.
    pub fn slots(&self) -> Vec<Duration> {
        let end = self.duration.as_secs_f64();
        let mut bounds = vec![0.0];
        if let Some((start, stop)) = self.burst_window() {
            bounds.extend([start, stop]);
        }
        bounds.push(end);
        let mut out = Vec::with_capacity((end * self.peak_rate()) as usize + 1);
        for seg in bounds.windows(2) {
            let (from, to) = (seg[0], seg[1]);
            let rate = self.rate_at(from);
            if rate <= 0.0 || to <= from {
                continue;
            }
            let count = ((to - from) * rate - 1e-9).ceil().max(0.0) as u64;
            out.extend((0..count).map(|k| Duration::from_secs_f64(from + k as f64 / rate)));
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
        };
        assert_eq!(p.burst_window(), Some((0.0, 5.0)));
        assert_eq!(p.slots().len(), 10);
    }
}
