//! Assignment speed: 500 ready parcels × 200 riders in a 12 km city, scored and assigned.
//! `cargo run --release -p orderhub-core --example dispatch_speed`

use std::time::Instant;

use orderhub_core::dispatch::*;

fn city(seed: u64, parcels: usize, riders: usize) -> Problem {
    let mut rng = SplitMix64::new(seed);
    // Around People's Square, Shanghai (GCJ-02), ±0.055° ≈ ±6 km.
    let at = |rng: &mut SplitMix64| {
        Point::geo(
            31.23 + (rng.unit() - 0.5) * 0.11,
            121.47 + (rng.unit() - 0.5) * 0.13,
        )
    };
    let stores: Vec<Point> = (0..40).map(|_| at(&mut rng)).collect();
    let riders = (0..riders)
        .map(|i| Rider {
            id: RiderId(format!("r{i}")),
            position: at(&mut rng),
            position_at: 0,
            free_at: 0,
            shift_end: 4 * 3600,
            capacity: Load::new(25_000, 80_000, 6),
            capabilities: Capabilities {
                insulated: rng.below(3) > 0,
                freezer: rng.below(4) == 0,
            },
            online: true,
            onboard: vec![],
            route: vec![],
            delivered_today: 0,
        })
        .collect();
    let parcels = (0..parcels)
        .map(|i| {
            let ready = rng.below(600) as i64;
            Parcel {
                id: ParcelId(format!("p{i}")),
                pickup: Some(stores[rng.below(stores.len())]),
                dropoff: Some(at(&mut rng)),
                ready_at: ready,
                promised_at: ready + 40 * 60,
                size: Load::parcel(1_000 + rng.below(6_000) as i64, 8_000),
                cold_chain: [
                    ColdChain::Ambient,
                    ColdChain::Ambient,
                    ColdChain::Chilled,
                    ColdChain::Frozen,
                ][rng.below(4)],
                zone: None,
                pickup_service: 120,
                dropoff_service: 120,
                declined_by: vec![],
            }
        })
        .collect();
    Problem {
        now: 0,
        riders,
        parcels,
    }
}

/// This process's CPU time in milliseconds (user + system, 10 ms ticks): on a shared
/// machine wall time also counts other people's builds.
fn cpu_millis() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    // utime and stime are fields 14 and 15 of the file: 12th and 13th after the name.
    let f: Vec<&str> = after.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok());
    num(11)
        .zip(num(12))
        .map(|(u, s)| (u + s) * 10.0)
        .unwrap_or(f64::NAN)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let travel = Haversine::default();
    let clock = Instant::now();
    let micros = move || clock.elapsed().as_micros() as u64;
    println!("| instance | candidate riders | budget | median ms/call (wall) | mean CPU ms/call | iterations | assigned | unassigned | lateness s | travel s | checker |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    // budget: 0 = construction only, 50 = a 50 ms wall-clock deadline, 200 = exactly 200
    // improvement steps (comparable across machine loads).
    for (candidates, budget) in [(24, 0u64), (12, 0), (12, 50), (12, 200)] {
        let config = DispatchConfig {
            candidate_riders: candidates,
            ..DispatchConfig::default()
        };
        let mut times = Vec::new();
        let mut last = None;
        let mut cpu = 0.0;
        for seed in 0..7 {
            let problem = city(seed, 500, 200);
            let t0 = Instant::now();
            let c0 = cpu_millis();
            let plan = match budget {
                50 => dispatch(
                    &problem,
                    &config,
                    &travel,
                    &mut Deadline::after_millis(micros, 50),
                ),
                steps => dispatch(&problem, &config, &travel, &mut Iterations::new(steps)),
            };
            cpu += cpu_millis() - c0;
            times.push(t0.elapsed().as_secs_f64() * 1e3);
            let plan = match plan {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("dispatch failed: {e}");
                    return;
                }
            };
            let violations = check(&problem, &config, &travel, &plan);
            last = Some((plan, violations.len()));
        }
        let cpu = cpu / 7.0;
        if let Some((plan, bad)) = last {
            println!(
                "| 500×200 (7 seeds) | {candidates} | {} | {:.1} | {cpu:.0} | {} | {} | {} | {} | {} | {} |",
                match budget {
                    0 => "construction only".to_string(),
                    50 => "50 ms deadline".to_string(),
                    n => format!("{n} steps"),
                },
                median(times),
                plan.iterations,
                plan.assignments.len(),
                plan.unassigned.len(),
                plan.score.lateness,
                plan.score.travel,
                if bad == 0 {
                    "ok".to_string()
                } else {
                    format!("{bad} violations")
                }
            );
        }
    }
}
