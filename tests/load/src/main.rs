//! `orderhub-load`: a multichannel load generator for orderhub (`scripts/load`).
//!
//! It plans a seeded mix of pushes from all six channels (see [`mix`]) at a steady rate
//! or with a burst ([`schedule`]), prepares the app through the admin API ([`setup`]),
//! sends every push signed as its platform signs it ([`channels`]) at its planned time
//! ([`run`]), watches a sample of orders reach reserve and merge ([`probe`]), and ends
//! with a summary table, optionally JSON and an SVG chart ([`report`], [`svg`]).
//!
//! Exit status: 0 when every push was acknowledged as its platform expects (with
//! `--steps`: when some step held), 1 when not, 2 when the run could not be made.

mod catalog;
mod channels;
mod cli;
mod door;
mod http;
mod intake;
mod mix;
mod probe;
mod progress;
mod record;
mod report;
mod run;
mod schedule;
mod setup;
mod stats;
mod steps;
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
    let timeout = Duration::from_secs(args.timeout.max(1));
    // Room for the probes' and the backlog poll's reads beside the pushes.
    let http = http::Http::new(&args.url, args.concurrency + 8, timeout)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    if let Some(ladder) = &args.steps {
        return saturate(&args, ladder, &runtime, &http);
    }
    let profile = args.profile();
    let run = args.run_id.map_or_else(RunIds::fresh, RunIds::new);
    let plan = plan(&args, &profile, &run);
    if !args.no_setup {
        prepare(&args, &runtime, &http, &profile, &plan, &run)?;
    }
    if args.setup_only {
        eprintln!("orderhub-load: set up run {} (--setup-only)", run.token);
        return Ok(true);
    }
    let report = execute(&args, &runtime, &http, &profile, plan, &run);
    println!("{}", report.table());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.svg {
        let shape = [
            report.meta.burst.as_ref().map(|b| format!("burst {b}")),
            report.meta.curve.as_ref().map(|c| format!("curve {c}")),
        ]
        .into_iter()
        .flatten()
        .map(|x| format!(", {x}"))
        .collect::<String>();
        let title = format!(
            "orderhub-load · {} orders/s{shape} · seed {} · {}",
            args.rate, args.seed, args.url
        );
        write_svg(path, &title, &report, profile.burst_window())?;
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

/// The seeded plan of a run, announced on stderr.
fn plan(args: &Args, profile: &schedule::Profile, run: &RunIds) -> Plan {
    let plan = Plan::generate(args.seed, &args.mix(), &profile.slots());
    let orders = plan.orders().count() as u64;
    let count = |class| {
        plan.pushes
            .iter()
            .filter(|p| Class::of(&p.kind) == class)
            .count()
    };
    eprintln!(
        "orderhub-load: {} pushes ({} of new orders carrying {orders}, {} duplicates, {} cancels) over {} s at {} orders/s{} to {} · run {}",
        plan.pushes.len(),
        count(Class::Orders),
        count(Class::Duplicate),
        count(Class::Cancel),
        args.duration,
        profile.rate,
        profile.curve.as_ref().map(|c| format!(" (mean, curve {})", c.name)).unwrap_or_default(),
        args.url,
        run.token
    );
    plan
}

/// Set the app up for a run: SKUs, stock, rate limits.
fn prepare(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    http: &http::Http,
    profile: &schedule::Profile,
    plan: &Plan,
    run: &RunIds,
) -> anyhow::Result<()> {
    let needs = setup::Needs {
        // Every order is at most one push, duplicates and cancels add their shares.
        peak_pushes_per_second: (profile.peak_rate() * (1.0 + args.duplicates + args.cancels))
            .ceil() as u64,
        // A line takes at most 3 units of a SKU, an order at most one line per SKU.
        units: 3 * plan.orders().count() as u64 + 1000,
    };
    runtime
        .block_on(setup::prepare(http, &args.admin_token, run, &needs))
        .context("setting the app up through the admin API")
}

/// Send a planned run and sum it up.
fn execute(
    args: &Args,
    runtime: &tokio::runtime::Runtime,
    http: &http::Http,
    profile: &schedule::Profile,
    plan: Plan,
    run: &RunIds,
) -> Report {
    let loadavg_before = loadavg();
    let settings = run::Settings {
        concurrency: args.concurrency,
        timeout: Duration::from_secs(args.timeout.max(1)),
        probe_every: (args.probe > 0.0).then(|| (1.0 / args.probe).round() as u64),
        probe_window: Duration::from_secs(args.probe_window.max(1)),
        admin_token: args.admin_token.clone(),
        job_token: args.job_token.clone(),
        backlog_every: Duration::from_secs_f64(args.backlog_every),
        drain_wait: Duration::from_secs(args.drain_wait),
    };
    let observed = runtime.block_on(run::execute(
        http.clone(),
        plan.clone(),
        run.clone(),
        settings,
    ));
    let meta = Meta {
        url: args.url.clone(),
        seed: args.seed,
        rate: profile.rate,
        duration_s: args.duration,
        burst: profile
            .burst
            .map(|b| format!("{}x{}s", b.factor, b.length.as_secs_f64())),
        curve: profile.curve.as_ref().map(|c| c.name.clone()),
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
    Report::build(meta, &plan, &observed)
}

fn write_svg(
    path: &std::path::Path,
    title: &str,
    report: &Report,
    burst: Option<(f64, f64)>,
) -> anyhow::Result<()> {
    let chart = svg::chart(title, &report.timeline, burst);
    std::fs::write(path, chart).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// One step of a saturation run, as the JSON carries it.
#[derive(serde::Serialize)]
struct Step {
    verdict: steps::StepVerdict,
    report: Report,
}

#[derive(serde::Serialize)]
struct SaturationRun {
    mode: &'static str,
    url: String,
    seed: u64,
    duration_s: u64,
    concurrency: usize,
    ladder: Vec<f64>,
    criteria: steps::Criteria,
    saturation: steps::Saturation,
    loadavg_before: String,
    loadavg_after: String,
    steps: Vec<Step>,
}

/// `--steps`: up the ladder until a step does not hold, then refine.
fn saturate(
    args: &Args,
    ladder: &steps::Ladder,
    runtime: &tokio::runtime::Runtime,
    http: &http::Http,
) -> anyhow::Result<bool> {
    let criteria = args.criteria();
    let base = args.run_id.map_or_else(RunIds::fresh, RunIds::new);
    let base: u64 = base.token.parse().unwrap_or(1);
    let loadavg_before = loadavg();
    let mut done: Vec<Step> = Vec::new();
    let mut tried: Vec<steps::Tried> = Vec::new();
    while let Some(rate) = ladder.next(&tried, args.refine) {
        if !done.is_empty() {
            // Let the app settle between steps.
            std::thread::sleep(Duration::from_secs(2));
        }
        let profile = args.profile_at(rate);
        let run = RunIds::new(base * 100 + done.len() as u64);
        let plan = plan(args, &profile, &run);
        prepare(args, runtime, http, &profile, &plan, &run)?;
        let report = execute(args, runtime, http, &profile, plan, &run);
        let verdict = steps::judge(&report, rate, &criteria);
        println!("{}", steps::line(&verdict));
        tried.push(steps::Tried {
            rate,
            held: verdict.held,
        });
        done.push(Step { verdict, report });
    }
    let verdicts: Vec<steps::StepVerdict> = done.iter().map(|s| s.verdict.clone()).collect();
    let saturation = steps::Saturation::of(&verdicts);
    // The full table of the highest step that held (else the first step).
    let shown = done
        .iter()
        .filter(|s| s.verdict.held)
        .max_by(|a, b| a.verdict.rate.total_cmp(&b.verdict.rate))
        .or(done.first());
    if let Some(step) = shown {
        println!("\n{}", step.report.table());
    }
    match (saturation.sustained, saturation.broke_at) {
        (Some(s), Some(b)) => println!(
            "saturation: {s} orders/s held; {b} did not ({})",
            saturation.broke_because.join("; ")
        ),
        (Some(s), None) => {
            println!("saturation: {s} orders/s held, the ladder's top (not saturated)")
        }
        (None, _) => println!(
            "saturation: no step held ({})",
            saturation.broke_because.join("; ")
        ),
    }
    if let (Some(path), Some(step)) = (&args.svg, shown) {
        let title = format!(
            "orderhub-load · step {} orders/s · seed {} · {}",
            step.verdict.rate, args.seed, args.url
        );
        write_svg(path, &title, &step.report, None)?;
    }
    let held = saturation.sustained.is_some();
    if let Some(path) = &args.json {
        let out = SaturationRun {
            mode: "steps",
            url: args.url.clone(),
            seed: args.seed,
            duration_s: args.duration,
            concurrency: args.concurrency,
            ladder: ladder.rates.clone(),
            criteria,
            saturation,
            loadavg_before,
            loadavg_after: loadavg(),
            steps: done,
        };
        let json = serde_json::to_string_pretty(&out)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(held)
}

/// The first three fields of `/proc/loadavg` (`-` where there is none).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "-".into())
}
