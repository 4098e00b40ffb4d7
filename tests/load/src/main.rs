//! `orderhub-load`: a multichannel load generator for orderhub (`scripts/load`).
//!
//! It plans a seeded mix of pushes from all six channels (see [`mix`]) at a steady rate
//! or with a burst ([`schedule`]), prepares the app through the admin API ([`setup`]),
//! sends every push signed as its platform signs it ([`channels`]) at its planned time
//! ([`run`]), watches a sample of orders reach reserve and merge ([`probe`]), and ends
//! with a summary table, optionally JSON and an SVG chart ([`report`], [`svg`]).
//!
//! Exit status: 0 when every push was acknowledged as its platform expects, 1 when
//! some were not, 2 when the run could not be made.

mod catalog;
mod channels;
mod cli;
mod door;
mod http;
mod mix;
mod probe;
mod progress;
mod record;
mod report;
mod run;
mod schedule;
mod setup;
mod stats;
mod svg;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use crate::catalog::RunIds;
use crate::cli::Args;
use crate::mix::Plan;
use crate::record::Class;
use crate::report::{Meta, Report};

fn main() -> ExitCode {
    match load(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("orderhub-load: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn load(args: Args) -> anyhow::Result<bool> {
    args.check()?;
    let profile = args.profile();
    let plan = Plan::generate(args.seed, &args.mix(), &profile.slots());
    let run = args.run_id.map_or_else(RunIds::fresh, RunIds::new);
    let orders = plan.orders().count() as u64;
    let count = |class| {
        plan.pushes
            .iter()
            .filter(|p| Class::of(&p.kind) == class)
            .count()
    };
    eprintln!(
        "orderhub-load: {} pushes ({} of new orders carrying {orders}, {} duplicates, {} cancels) over {} s to {} · run {}",
        plan.pushes.len(),
        count(Class::Orders),
        count(Class::Duplicate),
        count(Class::Cancel),
        args.duration,
        args.url,
        run.token
    );

    let timeout = Duration::from_secs(args.timeout.max(1));
    // Room for the probes' reads beside the pushes.
    let http = http::Http::new(&args.url, args.concurrency + 8, timeout)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let needs = setup::Needs {
        // Every order is at most one push, duplicates and cancels add their shares.
        peak_pushes_per_second: (profile.peak_rate() * (1.0 + args.duplicates + args.cancels))
            .ceil() as u64,
        // A line takes at most 3 units of a SKU, an order at most one line per SKU.
        units: 3 * orders + 1000,
    };
    runtime
        .block_on(setup::prepare(&http, &args.admin_token, &run, &needs))
        .context("setting the app up through the admin API")?;

    let loadavg_before = loadavg();
    let settings = run::Settings {
        concurrency: args.concurrency,
        timeout,
        probe_every: (args.probe > 0.0).then(|| (1.0 / args.probe).round() as u64),
        admin_token: args.admin_token.clone(),
    };
    let observed = runtime.block_on(run::execute(http, plan.clone(), run.clone(), settings));
    let meta = Meta {
        url: args.url.clone(),
        seed: args.seed,
        rate: args.rate,
        duration_s: args.duration,
        burst: args
            .burst
            .map(|b| format!("{}x{}s", b.factor, b.length.as_secs_f64())),
        concurrency: args.concurrency,
        probe_share: args.probe,
        run_id: run.token.clone(),
        started_at: chrono::DateTime::from_timestamp_millis(observed.t0_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        elapsed_s: (observed.elapsed.as_secs_f64() * 10.0).round() / 10.0,
        loadavg_before,
        loadavg_after: loadavg(),
    };
    let report = Report::build(meta, &plan, &observed);
    println!("{}", report.table());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.svg {
        let title = format!(
            "orderhub-load · {} orders/s{} · seed {} · {}",
            args.rate,
            report
                .meta
                .burst
                .as_ref()
                .map(|b| format!(", burst {b}"))
                .unwrap_or_default(),
            args.seed,
            args.url
        );
        let chart = svg::chart(&title, &report.timeline, profile.burst_window());
        std::fs::write(path, chart).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if !report.all_acknowledged() {
        eprintln!(
            "orderhub-load: {} of {} pushes were not acknowledged as their platform expects",
            report.pushes.planned - report.pushes.acked,
            report.pushes.planned
        );
    }
    Ok(report.all_acknowledged())
}

/// The first three fields of `/proc/loadavg` (`-` where there is none).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "-".into())
}
