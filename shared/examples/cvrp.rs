//! Static routing quality: gap to the best-known solution of the Uchoa X instances at
//! fixed wall-clock budgets, every solution verified by the independent checker. Each
//! cell is `cost (gap%) N it`, N the offspring the search made (its `Budget` steps).
//! `cargo run --release -p orderhub-core --example cvrp -- [--budgets 50,200,1000] [--json OUT] DIR_OR_FILES...`

use std::path::PathBuf;
use std::time::Instant;

use orderhub_core::dispatch::cvrp::{
    check_solution, parse_solution_cost, solve, CvrpInstance, HgsParams,
};
use orderhub_core::dispatch::{Counted, Deadline};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut budgets: Vec<u64> = vec![50, 200, 1000];
    let mut inputs: Vec<PathBuf> = Vec::new();
    while let Some(a) = args.next() {
        if a == "--budgets" {
            budgets = args
                .next()
                .unwrap_or_default()
                .split(',')
                .filter_map(|s| s.parse().ok())
                .collect();
        } else {
            inputs.push(PathBuf::from(a));
        }
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(&p)
                .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            v.retain(|f| f.extension().is_some_and(|e| e == "vrp"));
            v.sort();
            files.extend(v);
        } else {
            files.push(p);
        }
    }
    let header: Vec<String> = budgets.iter().map(|b| format!("{b} ms")).collect();
    println!("| instance | best known | {} |", header.join(" | "));
    println!("|---|---|{}", "---|".repeat(budgets.len()));
    let mut sums = vec![0.0; budgets.len()];
    let mut count = 0;
    for f in &files {
        let (Ok(text), Ok(sol)) = (
            std::fs::read_to_string(f),
            std::fs::read_to_string(f.with_extension("sol")),
        ) else {
            eprintln!("{}: unreadable or no .sol", f.display());
            continue;
        };
        let inst = match CvrpInstance::from_vrplib(&text) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("{}: {e}", f.display());
                continue;
            }
        };
        let Some(bks) = parse_solution_cost(&sol) else {
            continue;
        };
        let mut cells = Vec::new();
        for (k, &ms) in budgets.iter().enumerate() {
            let clock = Instant::now();
            let mut budget = Counted::new(Deadline::after_millis(
                move || clock.elapsed().as_micros() as u64,
                ms,
            ));
            let found = solve(&inst, &HgsParams::default(), &mut budget);
            let violations = check_solution(&inst, &found);
            let gap = (found.cost - bks) as f64 / bks as f64 * 100.0;
            sums[k] += gap;
            cells.push(if violations.is_empty() {
                format!("{} ({gap:.2}%) {} it", found.cost, budget.steps())
            } else {
                format!("INVALID {violations:?}")
            });
        }
        count += 1;
        println!("| {} | {bks} | {} |", inst.name, cells.join(" | "));
    }
    let means: Vec<String> = sums
        .iter()
        .map(|s| format!("{:.2}%", s / count.max(1) as f64))
        .collect();
    println!(
        "| **mean gap** ({count} instances) | | {} |",
        means.join(" | ")
    );
}
