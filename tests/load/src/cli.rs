//! The command line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::Parser;

use crate::mix::MixConfig;
use crate::schedule::{Burst, Curve, Profile};
use crate::steps::{Criteria, Ladder};

/// Signed pushes of all six channels at a planned rate, open loop, then a summary.
#[derive(Debug, Clone, Parser)]
#[command(name = "orderhub-load", version)]
pub struct Args {
    /// Base URL of the app (orderhub-host or spin up).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// New orders per second (POS and group-buying batches carry several per push).
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Seconds of load.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// A burst in the middle of the run, e.g. `10x10s`: ten times the rate for 10 s.
    #[arg(long)]
    pub burst: Option<Burst>,
    /// The rate's shape over the run: `morning` (an hour's morning peak, compressed into
    /// --duration) or multipliers of equal parts, e.g. `0.5,1,2,1`; --rate is the mean.
    #[arg(long)]
    pub curve: Option<Curve>,
    /// Saturation: one run per rate, e.g. `50,100,200,400`, each --duration long with
    /// fresh ids, up the ladder until a step does not hold, then --refine steps
    /// halfway; the finding is the highest rate that held (--rate is not used).
    #[arg(long)]
    pub steps: Option<Ladder>,
    /// Steps halfway between the highest rate that held and the lowest that did not.
    #[arg(long, default_value_t = 2)]
    pub refine: u32,
    /// A step holds only with the due → acknowledgement p99 at most this (ms).
    #[arg(long, default_value_t = Criteria::default().ack_p99_ms)]
    pub ack_p99_limit: f64,
    /// A step holds only with acknowledgement → reservation p99 at most this (ms).
    #[arg(long, default_value_t = Criteria::default().reservation_p99_ms)]
    pub reservation_p99_limit: f64,
    /// Most requests in flight at once; pushes due beyond it wait, and their wait
    /// counts in their latency.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seed of the mix: the same seed sends the same pushes (with fresh run ids).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The app's `admin_token`, for the setup and the probe (its value is never shown).
    #[arg(
        long,
        env = "SPIN_VARIABLE_ADMIN_TOKEN",
        hide_env_values = true,
        default_value = "dev-admin-token"
    )]
    pub admin_token: String,
    /// Share of orders whose way through reserve and merge is watched (at most 0.05).
    #[arg(long, default_value_t = 0.02)]
    pub probe: f64,
    /// Seconds a watched order is given after its acknowledgement.
    #[arg(long, default_value_t = 10)]
    pub probe_window: u64,
    /// The app's `job_token`: with it the app's own backlog (`GET
    /// /jobs/pipeline/intake`) is polled once a second (its value is never shown).
    #[arg(long, env = "SPIN_VARIABLE_JOB_TOKEN", hide_env_values = true)]
    pub job_token: Option<String>,
    /// Seconds between polls of the app's backlog (each poll is work for the app too).
    #[arg(long, default_value_t = 1.0)]
    pub backlog_every: f64,
    /// After the load, wait at most this many seconds for the app's backlog to be back
    /// at 0 (with --job-token).
    #[arg(long, default_value_t = 30)]
    pub drain_wait: u64,
    /// Only set the app up for this run (--run-id) and exit: SKUs, stock, rate limits.
    #[arg(long)]
    pub setup_only: bool,
    /// Skip the setup (a --setup-only run with the same --run-id, rate and duration
    /// did it), so the app's counters see nothing but the load.
    #[arg(long)]
    pub no_setup: bool,
    /// Share of orders from a customer who ordered within 30 minutes, to the same door.
    #[arg(long, default_value_t = MixConfig::default().repeat)]
    pub repeat: f64,
    /// Share of pushes delivered twice.
    #[arg(long, default_value_t = MixConfig::default().duplicate)]
    pub duplicates: f64,
    /// Share of orders cancelled later by their channel.
    #[arg(long, default_value_t = MixConfig::default().cancel)]
    pub cancels: f64,
    /// Seconds before a request without an answer counts as a timeout.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Write the summary as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a chart of throughput, latency and backlog over time here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Ids of this run (default: from the clock and the process id).
    #[arg(long)]
    pub run_id: Option<u64>,
    /// Allow a URL that is not on this machine (loopback) — never aim load at a host
    /// that is not yours.
    #[arg(long)]
    pub allow_remote: bool,
}

/// Longest run accepted: load runs are meant to be short and bounded.
const MAX_DURATION: u64 = 3600;

impl Args {
    pub fn check(&self) -> anyhow::Result<()> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            bail!("--rate must be above 0");
        }
        if self.duration == 0 || self.duration > MAX_DURATION {
            bail!("--duration must be 1 to {MAX_DURATION} seconds");
        }
        if !(self.backlog_every.is_finite() && self.backlog_every >= 0.1) {
            bail!("--backlog-every must be at least 0.1 seconds");
        }
        if self.concurrency == 0 {
            bail!("--concurrency must be at least 1");
        }
        if !(0.0..=0.05).contains(&self.probe) {
            bail!("--probe must be 0 to 0.05: more would be load of its own");
        }
        for (name, v) in [
            ("--repeat", self.repeat),
            ("--duplicates", self.duplicates),
            ("--cancels", self.cancels),
        ] {
            if !(0.0..=1.0).contains(&v) {
                bail!("{name} must be a share between 0 and 1");
            }
        }
        if self.steps.is_some() && (self.burst.is_some() || self.curve.is_some()) {
            bail!("--steps runs each rate steadily: no --burst or --curve with it");
        }
        if self.steps.is_some() && (self.setup_only || self.no_setup) {
            bail!("--steps sets each step up itself: no --setup-only or --no-setup with it");
        }
        if (self.setup_only || self.no_setup) && self.run_id.is_none() {
            bail!("--setup-only and --no-setup need the --run-id they share");
        }
        if self.setup_only && self.no_setup {
            bail!("--setup-only or --no-setup, not both");
        }
        if !self.allow_remote && !is_loopback(&self.url) {
            bail!(
                "{} is not on this machine; load goes to loopback addresses only (--allow-remote to override for a host of your own)",
                self.url
            );
        }
        Ok(())
    }

    pub fn profile(&self) -> Profile {
        self.profile_at(self.rate)
    }

    /// The profile of a run at `rate` (a step of --steps).
    pub fn profile_at(&self, rate: f64) -> Profile {
        Profile {
            rate,
            duration: Duration::from_secs(self.duration),
            burst: self.burst,
            curve: self.curve.clone(),
        }
    }

    pub fn criteria(&self) -> Criteria {
        Criteria {
            ack_p99_ms: self.ack_p99_limit,
            reservation_p99_ms: self.reservation_p99_limit,
            ..Criteria::default()
        }
    }

    pub fn mix(&self) -> MixConfig {
        MixConfig {
            repeat: self.repeat,
            duplicate: self.duplicates,
            cancel: self.cancels,
            ..MixConfig::default()
        }
    }
}

/// `http://127.x.y.z`, `http://localhost`, `http://[::1]`, with any port.
pub fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_by_default() {
        assert!(is_loopback("http://127.0.0.1:3211"));
        assert!(is_loopback("http://127.8.9.10/"));
        assert!(is_loopback("http://localhost:3000"));
        assert!(is_loopback("http://[::1]:3000"));
        assert!(!is_loopback("http://10.0.0.5:3000"));
        assert!(!is_loopback("http://example.com"));
        assert!(!is_loopback("http://127.0.0.1.example.com"));
    }

    #[test]
    fn arguments_are_checked() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["orderhub-load"];
            argv.extend_from_slice(extra);
            Args::try_parse_from(argv).unwrap()
        };
        assert!(parse(&[]).check().is_ok());
        assert!(parse(&["--probe", "0.2"]).check().is_err());
        assert!(parse(&["--rate", "0"]).check().is_err());
        assert!(parse(&["--url", "http://192.168.1.2:3000"])
            .check()
            .is_err());
        let burst = parse(&["--burst", "10x10s", "--duration", "30"]);
        assert_eq!(burst.profile().peak_rate(), 500.0);
        assert!(parse(&["--steps", "10,20", "--burst", "2x5s"])
            .check()
            .is_err());
        assert!(parse(&["--steps", "10,20", "--no-setup", "--run-id", "1"])
            .check()
            .is_err());
        assert!(parse(&["--setup-only"]).check().is_err(), "needs --run-id");
        assert!(parse(&["--setup-only", "--run-id", "5"]).check().is_ok());
        let steps = parse(&["--steps", "10,20", "--ack-p99-limit", "20"]);
        assert!(steps.check().is_ok());
        assert_eq!(steps.criteria().ack_p99_ms, 20.0);
        assert_eq!(steps.profile_at(20.0).rate, 20.0);
    }
}
