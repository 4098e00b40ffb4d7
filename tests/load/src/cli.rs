//! The command line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::Parser;

use crate::mix::MixConfig;
use crate::schedule::{Burst, Profile};

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
        if !self.allow_remote && !is_loopback(&self.url) {
            bail!(
                "{} is not on this machine; load goes to loopback addresses only (--allow-remote to override for a host of your own)",
                self.url
            );
        }
        Ok(())
    }

    pub fn profile(&self) -> Profile {
        Profile {
            rate: self.rate,
            duration: Duration::from_secs(self.duration),
            burst: self.burst,
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
    }
}
