//! Meal Delivery Routing Problem benchmark: replay Grubhub instances minute by minute
//! through the dispatch core and through a greedy baseline, write each solution in the
//! collection's three-file layout, evaluate both independently and print tables.
//!
//! `cargo run --release -p orderhub-core --example mdrp -- [--iterations N] [--balance W]
//! [--travel W] [--slack MIN] [--out DIR] INSTANCE_DIR...`

mod evaluate;
mod fleet;
mod instance;
mod policy;

use std::path::PathBuf;

use orderhub_core::dispatch::Weights;

use evaluate::{evaluate, Metrics};

fn row(name: &str, policy: &str, m: &Metrics) -> String {
    format!(
        "| {name} | {policy} | {}/{}/{} | {:.1} | {:.0} | {:.1}% | {:.1} | {:.1}% | {:.2} | {:.2} | {:.1} | {:.1}% | {} |",
        m.delivered,
        m.possible,
        m.orders,
        m.mean_ctd,
        m.p90_ctd,
        m.within_target * 100.0,
        m.mean_ready_to_pickup,
        m.utilization * 100.0,
        m.orders_per_courier_hour,
        m.cost_per_order,
        m.mean_lower_bound,
        (m.mean_ctd / m.mean_lower_bound - 1.0) * 100.0,
        {
            let hard = m.violations.iter().filter(|v| !v.starts_with("note:")).count();
            if hard == 0 { "ok".to_string() } else { format!("{hard} violations") }
        }
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut iterations = 120u64;
    let mut out = PathBuf::from("target/mdrp-solutions");
    let mut dirs = Vec::new();
    let mut weights = Weights {
        lateness: 10.0,
        travel: 1.0,
        balance: 3.0,
    };
    let mut slack = 1;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--iterations" => {
                iterations = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(iterations)
            }
            "--balance" => {
                weights.balance = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(weights.balance)
            }
            "--travel" => {
                weights.travel = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(weights.travel)
            }
            "--slack" => slack = args.next().and_then(|s| s.parse().ok()).unwrap_or(slack),
            "--out" => out = args.next().map(PathBuf::from).unwrap_or(out),
            _ => dirs.push(PathBuf::from(a)),
        }
    }
    let settings = policy::CoreSettings {
        iterations,
        weights,
        slack,
    };
    println!("| instance | policy | delivered/possible/orders | mean CtD | p90 CtD | ≤ target | ready→pickup | utilization | orders/courier-h | cost/order | LB CtD | gap to LB | evaluator |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut sums: [(f64, f64, f64, f64, f64, usize); 2] = Default::default();
    let mut call_ms: Vec<f64> = Vec::new();
    for dir in &dirs {
        let inst = match instance::load(dir) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("{e}");
                continue;
            }
        };
        let runs = [
            ("dispatch", policy::rolling(&inst, &settings, &mut call_ms)),
            ("greedy", policy::greedy(&inst)),
        ];
        for (k, (name, fleet)) in runs.into_iter().enumerate() {
            let target = out.join(&inst.name).join(name);
            if let Err(e) = fleet::write(&fleet.record, &target) {
                eprintln!("{}: {e}", target.display());
            }
            let m = evaluate(&inst, &target);
            for v in m
                .violations
                .iter()
                .filter(|v| !v.starts_with("note:"))
                .take(3)
            {
                eprintln!("{} {name}: {v}", inst.name);
            }
            println!("{}", row(&inst.name, name, &m));
            let s = &mut sums[k];
            s.0 += m.mean_ctd / m.mean_lower_bound - 1.0;
            s.1 += m.cost_per_order;
            s.2 += m.mean_ctd;
            s.3 += m.within_target;
            s.4 += (m.delivered == m.possible) as u8 as f64;
            s.5 += 1;
        }
    }
    call_ms.sort_by(f64::total_cmp);
    println!();
    println!("| policy | instances | all possible delivered | mean CtD | ≤ target | cost/order | mean gap to LB |");
    println!("|---|---|---|---|---|---|---|");
    for (k, name) in ["dispatch", "greedy"].iter().enumerate() {
        let s = sums[k];
        let n = s.5.max(1) as f64;
        println!(
            "| {name} | {} | {:.0} | {:.1} | {:.1}% | {:.2} | {:.1}% |",
            s.5,
            s.4,
            s.2 / n,
            s.3 / n * 100.0,
            s.1 / n,
            s.0 / n * 100.0
        );
    }
    if !call_ms.is_empty() {
        println!(
            "\ndispatch calls: {}, {} iterations each, median {:.2} ms, p99 {:.2} ms",
            call_ms.len(),
            iterations,
            call_ms[call_ms.len() / 2],
            call_ms[(call_ms.len() * 99 / 100).min(call_ms.len() - 1)]
        );
    }
}
