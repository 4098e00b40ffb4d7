//! Merge + split throughput and memory, native, on a seeded synthetic stream.
//!
//! `cargo bench -p orderhub-core --bench merge_split` (env `BENCH_RUNS`, default 3;
//! `BENCH_MAX` caps the largest size, default 1000000).
//!
//! Path measured: the in-memory [`Merger`] (same rules and window semantics as the
//! store-backed merger) feeding `split_group` for every released group. The
//! store-backed `merge::offer`/`close_due` over a `MemoryStore` is measured separately
//! at 10^4 for reference (it serializes JSON per key, as the Spin component does).
//!
//! Peak memory: a counting global allocator (live bytes, peak reset per run), plus the
//! process VmHWM from /proc/self/status at the end.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::Duration;
use orderhub_core::merge::simulate::{epoch, replay, synth_order, synthetic_history, Rng};
use orderhub_core::merge::{AdaptiveConfig, MemberView, Merger, RuleSet};
use orderhub_core::order::OrderId;
use orderhub_core::split::{split_group, ParcelLimits, SplitItem};
use orderhub_core::store::MemoryStore;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Allocation calls: a measure of work that CPU contention does not distort.
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// User + system CPU seconds of this process (from /proc/self/stat, 100 Hz ticks):
/// the machine is shared, so wall time alone overstates growth under contention.
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

#[derive(Default, Clone, Copy)]
struct Figures {
    secs: f64,
    cpu: f64,
    allocs: usize,
    peak_mb: f64,
    parcels: usize,
    groups: usize,
    merged_orders: usize,
    lower_bound: usize,
}

/// One run: `n` orders over `customers` customers, arrivals evenly spread so that about
/// 10 orders per customer fall in 5 days; a third of arrivals re-use a customer who
/// ordered in the last ~15 minutes (the ones merging should catch).
fn run(n: usize, customers: u32, seed: u64) -> Figures {
    let rules = RuleSet::default();
    let limits = ParcelLimits::default();
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    let base = LIVE.load(Ordering::Relaxed);
    let start = Instant::now();
    let cpu0 = cpu_secs();
    let allocs0 = ALLOCS.load(Ordering::Relaxed);
    let mut rng = Rng::new(seed);
    let mut merger = Merger::new(rules);
    let span_s = 5 * 86_400i64;
    let recent_len = ((n as i64 * 900) / span_s).max(1) as usize;
    let mut recent: Vec<u32> = Vec::with_capacity(recent_len);
    let mut pending: HashMap<OrderId, Vec<SplitItem>> = HashMap::new();
    let mut f = Figures::default();
    let handle = |groups: Vec<orderhub_core::merge::ReleasedGroup>,
                  pending: &mut HashMap<OrderId, Vec<SplitItem>>,
                  f: &mut Figures| {
        for g in groups {
            let items: Vec<SplitItem> = g
                .members
                .iter()
                .flat_map(|m| pending.remove(&m.order_id).unwrap_or_default())
                .collect();
            f.groups += 1;
            if g.members.len() > 1 {
                f.merged_orders += g.members.len();
            }
            if let Ok(plan) = split_group(&g.group_id, &items, &limits) {
                f.parcels += plan.parcels.len();
                f.lower_bound += plan.lower_bound;
            }
        }
    };
    for i in 0..n {
        let now = epoch() + Duration::seconds(i as i64 * span_s / n as i64);
        let customer = if !recent.is_empty() && rng.chance(0.33) {
            recent[rng.below(recent.len() as u64) as usize]
        } else {
            rng.below(u64::from(customers)) as u32
        };
        if recent.len() < recent_len {
            recent.push(customer);
        } else {
            recent[i % recent_len] = customer;
        }
        let lines = 1 + rng.below(4) as u32;
        let order = synth_order(&mut rng, i as u64, customer, now, 90, lines);
        pending.insert(order.id.clone(), SplitItem::of_orders([&order]));
        let released = merger.close_due(now);
        handle(released, &mut pending, &mut f);
        let (_, released) = merger.offer(MemberView::of(&order), now);
        handle(released, &mut pending, &mut f);
    }
    let released = merger.drain(epoch() + Duration::seconds(span_s + 86_400));
    handle(released, &mut pending, &mut f);
    f.secs = start.elapsed().as_secs_f64();
    f.cpu = cpu_secs() - cpu0;
    f.allocs = ALLOCS.load(Ordering::Relaxed) - allocs0;
    f.peak_mb = (PEAK.load(Ordering::Relaxed).saturating_sub(base)) as f64 / 1e6;
    f
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "n/a".into())
}

fn store_path(n: usize, customers: u32) -> f64 {
    let rules = RuleSet::default();
    let store = MemoryStore::new();
    let mut rng = Rng::new(11);
    let start = Instant::now();
    let mut released = 0usize;
    let mut last_close = epoch();
    for i in 0..n {
        let now = epoch() + Duration::seconds(i as i64 * 86_400 / n as i64);
        let customer = rng.below(u64::from(customers)) as u32;
        let order = synth_order(&mut rng, i as u64, customer, now, 90, 2);
        if let Ok(o) = orderhub_core::merge::offer(&store, &rules, &order, now) {
            released += o.released.len();
        }
        if now - last_close >= Duration::minutes(1) {
            released += orderhub_core::merge::close_due(&store, &rules, now)
                .map(|g| g.len())
                .unwrap_or(0);
            last_close = now;
        }
    }
    released += orderhub_core::merge::close_due(&store, &rules, epoch() + Duration::days(2))
        .map(|g| g.len())
        .unwrap_or(0);
    let secs = start.elapsed().as_secs_f64();
    println!("store path (MemoryStore, offer + close_due every simulated minute): {n} orders, {released} groups, {secs:.3} s, {:.0} orders/s", n as f64 / secs);
    secs
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let max: usize = std::env::var("BENCH_MAX")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    println!(
        "merge + split, in-memory Merger (default rules, 30-min window), median of {runs} runs; orders/s on CPU time"
    );
    println!(
        "{:>9} {:>9} {:>9} {:>9} {:>12} {:>10} {:>9} {:>9} {:>8} {:>8}",
        "orders",
        "customers",
        "wall s",
        "cpu s",
        "orders/s",
        "peak MB",
        "groups",
        "parcels",
        "LB gap",
        "merged"
    );
    let mut prev: Option<(f64, f64, f64, usize)> = None;
    for (n, customers) in [
        (10_000usize, 1_000u32),
        (100_000, 10_000),
        (1_000_000, 100_000),
    ] {
        if n > max {
            break;
        }
        let figs: Vec<Figures> = (0..runs.max(1))
            .map(|r| run(n, customers, 1000 + r as u64))
            .collect();
        let secs = median(figs.iter().map(|f| f.secs).collect());
        let cpu = median(figs.iter().map(|f| f.cpu).collect());
        let mem = median(figs.iter().map(|f| f.peak_mb).collect());
        let f = figs[0];
        println!(
            "{:>9} {:>9} {:>9.3} {:>9.2} {:>12.0} {:>10.1} {:>9} {:>9} {:>8} {:>8}",
            n,
            customers,
            secs,
            cpu,
            n as f64 / cpu.max(secs.min(0.01)),
            mem,
            f.groups,
            f.parcels,
            f.parcels - f.lower_bound,
            f.merged_orders
        );
        if let Some((ps, pc, pm, pa)) = prev {
            println!(
                "{:>9} growth ×10 orders: wall ×{:.2}, cpu ×{:.2}, peak memory ×{:.2}, allocations ×{:.2}",
                "",
                secs / ps,
                cpu / pc.max(0.01),
                mem / pm,
                f.allocs as f64 / pa.max(1) as f64
            );
        }
        prev = Some((secs, cpu, mem, f.allocs));
    }
    println!("process VmHWM: {}", vm_hwm());
    store_path(10_000, 1_000);

    println!("\nadaptive window vs fixed 30 min (seeded synthetic history: 2,000 customers × 30 days; loners / quick / slow re-orderers)");
    let history = synthetic_history(42, 2_000, 30);
    let fixed = replay(&RuleSet::default(), &history);
    let adaptive = replay(
        &RuleSet {
            adaptive: AdaptiveConfig {
                enabled: true,
                ..AdaptiveConfig::default()
            },
            ..RuleSet::default()
        },
        &history,
    );
    for (name, r) in [("fixed", &fixed), ("adaptive", &adaptive)] {
        println!(
            "{name:>9}: orders {} parcels {} slow-habit orders merged {} loner mean hold {:.1} min promise violations {}",
            r.orders, r.parcels, r.slow_orders_merged, r.loner_mean_hold_min, r.promise_violations
        );
    }
    println!(
        "parcels saved by the adaptive window: {}",
        fixed.parcels as i64 - adaptive.parcels as i64
    );
}
