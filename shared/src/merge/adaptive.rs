//! Adaptive merge window (method in `docs/merge.md`).
//!
//! Per customer we count *sessions* (an order with no earlier order of the same
//! customer within the horizon `window.max_minutes`) and how many sessions were
//! *followed* by a second order inside the horizon, with the gap. The follow
//! probability is a Beta-Binomial posterior mean whose prior is the customer's area (or
//! the global) rate; the window is the gap quantile that catches most follow-ups when
//! the probability is high, the minimum when it is low, the default in between; it is
//! always clamped to the configured bounds and (by the caller) to the promise.
//!
//! Statistics are not money: `f64` is fine here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::rules::{AdaptiveConfig, WindowConfig};

/// Gaps kept per customer (most recent).
const GAPS_KEPT: usize = 16;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FollowStats {
    pub sessions: u32,
    pub followed: u32,
    /// Gaps (seconds) from a session's first order to its follow-up, most recent last.
    pub gaps_s: Vec<u32>,
    pub session_start: Option<DateTime<Utc>>,
    pub session_followed: bool,
}

impl FollowStats {
    /// Record an order placed at `at` (orders of one customer in time order; an
    /// out-of-order older order is counted as its own session end, conservatively).
    pub fn observe(&mut self, at: DateTime<Utc>, horizon_minutes: u32) {
        let horizon = i64::from(horizon_minutes) * 60;
        match self.session_start {
            Some(start)
                if (at - start).num_seconds() >= 0 && (at - start).num_seconds() <= horizon =>
            {
                if !self.session_followed {
                    self.session_followed = true;
                    self.followed += 1;
                    let gap = u32::try_from((at - start).num_seconds()).unwrap_or(u32::MAX);
                    self.gaps_s.push(gap);
                    if self.gaps_s.len() > GAPS_KEPT {
                        self.gaps_s.remove(0);
                    }
                }
            }
            _ => {
                self.sessions += 1;
                self.session_start = Some(at);
                self.session_followed = false;
            }
        }
    }

    /// Posterior mean of the follow probability under a Beta prior with mean `prior`
    /// and `strength` pseudo-observations.
    pub fn follow_probability(&self, prior: f64, strength: f64) -> f64 {
        let a = prior * strength + f64::from(self.followed);
        let b = (1.0 - prior) * strength + f64::from(self.sessions.saturating_sub(self.followed));
        if a + b <= 0.0 {
            prior
        } else {
            a / (a + b)
        }
    }

    /// The gap (minutes, rounded up) below which ~90% of observed follow-ups fell.
    pub fn gap_quantile_minutes(&self) -> Option<u32> {
        if self.gaps_s.is_empty() {
            return None;
        }
        let mut g = self.gaps_s.clone();
        g.sort_unstable();
        let idx = ((g.len() as f64) * 0.9).ceil() as usize;
        let q = g[idx.saturating_sub(1).min(g.len() - 1)];
        Some(q.div_ceil(60))
    }
}

/// The window (minutes) for a group opened by a customer with `stats`, given the prior
/// follow rate of its area. Caller clamps to the promise.
pub fn window_minutes(
    stats: Option<&FollowStats>,
    prior: f64,
    window: &WindowConfig,
    cfg: &AdaptiveConfig,
) -> u32 {
    if !cfg.enabled {
        return window.default_minutes;
    }
    let empty = FollowStats::default();
    let s = stats.unwrap_or(&empty);
    let p = s.follow_probability(prior, cfg.prior_strength);
    let w = if p < cfg.shorten_below {
        window.min_minutes
    } else if p >= cfg.lengthen_above {
        // Catch the typical follow-up plus a minute's slack; never below the default
        // for a likely re-orderer whose gaps we have not seen yet.
        s.gap_quantile_minutes()
            .map(|q| q + 1)
            .unwrap_or(window.default_minutes)
    } else {
        window.default_minutes
    };
    w.clamp(window.min_minutes, window.max_minutes)
}

/// In-memory history for the simulation and the in-memory merger: per customer, per
/// area and global statistics; an area's posterior rate is the prior of its customers.
#[derive(Debug, Clone, Default)]
pub struct AdaptiveModel {
    pub customers: std::collections::HashMap<String, FollowStats>,
    pub areas: std::collections::HashMap<String, FollowStats>,
    pub global: FollowStats,
}

impl AdaptiveModel {
    pub fn observe(
        &mut self,
        customer: &str,
        area: Option<&str>,
        at: DateTime<Utc>,
        horizon_minutes: u32,
    ) {
        let c = self.customers.entry(customer.to_string()).or_default();
        let before = (c.sessions, c.followed);
        c.observe(at, horizon_minutes);
        let delta = (c.sessions - before.0, c.followed - before.1);
        // Areas and global aggregate customers' session counts (not raw order streams,
        // which interleave customers and would look like constant follow-ups).
        for s in area
            .map(|a| self.areas.entry(a.to_string()).or_default())
            .into_iter()
            .chain(std::iter::once(&mut self.global))
        {
            s.sessions += delta.0;
            s.followed += delta.1;
        }
    }

    pub fn window_for(
        &self,
        customer: &str,
        area: Option<&str>,
        window: &WindowConfig,
        cfg: &AdaptiveConfig,
    ) -> u32 {
        let global = self
            .global
            .follow_probability(cfg.prior_follow_rate, cfg.prior_strength);
        let area_p = area
            .and_then(|a| self.areas.get(a))
            .map(|s| s.follow_probability(global, cfg.prior_strength))
            .unwrap_or(global);
        window_minutes(self.customers.get(customer), area_p, window, cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_750_000_000, 0).unwrap() + Duration::minutes(min)
    }

    #[test]
    fn sessions_and_follow_ups_are_counted_once_per_session() {
        let mut s = FollowStats::default();
        for m in [0, 40, 50, 200, 500, 510] {
            s.observe(t(m), 60);
        }
        assert_eq!((s.sessions, s.followed), (3, 2));
        assert_eq!(s.gaps_s, vec![2400, 600]);
        assert_eq!(s.gap_quantile_minutes(), Some(40));
    }

    #[test]
    fn window_shrinks_for_loners_and_stretches_for_late_re_orderers() {
        let w = WindowConfig::default();
        let cfg = AdaptiveConfig {
            enabled: true,
            ..AdaptiveConfig::default()
        };
        let mut loner = FollowStats::default();
        let mut slow = FollowStats::default();
        for day in 0..10 {
            loner.observe(t(day * 1440), 60);
            slow.observe(t(day * 1440), 60);
            slow.observe(t(day * 1440 + 42), 60);
        }
        assert_eq!(window_minutes(Some(&loner), 0.2, &w, &cfg), w.min_minutes);
        assert_eq!(window_minutes(Some(&slow), 0.2, &w, &cfg), 43);
        assert_eq!(window_minutes(None, 0.2, &w, &cfg), w.default_minutes);
        let off = AdaptiveConfig::default();
        assert_eq!(
            window_minutes(Some(&slow), 0.2, &w, &off),
            w.default_minutes
        );
    }
}
