//! Reservation ledger throughput, native over `MemoryStore`.
//!
//! `cargo bench -p orderhub-core --bench stock` prints, for one hot SKU and for 10,000
//! SKUs with uniform demand, reservations/s at 1–64 threads (median of several runs),
//! and the store operations one reserve / commit / release costs: on Spin's SQLite store
//! (~900 writes/s) that count, not the native rate, bounds the end-to-end figure.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use chrono::{TimeZone, Utc};
use orderhub_core::order::{ChannelId, OrderId, SkuId};
use orderhub_core::stock::{
    AdjustRequest, Adjustment, ChannelPolicy, ReservationLedger, ReserveLine, ReserveRequest,
    SettleRequest, SkuStock, StockCatalog, Warehouse, WarehouseId,
};
use orderhub_core::store::{KeyValue, MemoryStore, StoreError};

const RUNS: usize = 5;
const THREADS: [usize; 6] = [1, 2, 4, 8, 16, 64];
const CHANNELS: [&str; 6] = ["meituan", "eleme", "app", "miniprogram", "pos", "groupbuy"];

/// Counts store calls by kind.
#[derive(Default)]
struct CountingStore {
    inner: MemoryStore,
    increments: AtomicU64,
    gets: AtomicU64,
    sets: AtomicU64,
}

impl CountingStore {
    fn snapshot(&self) -> [u64; 3] {
        [
            self.increments.load(Ordering::Relaxed),
            self.gets.load(Ordering::Relaxed),
            self.sets.load(Ordering::Relaxed),
        ]
    }
}

impl KeyValue for CountingStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.sets.fetch_add(1, Ordering::Relaxed);
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.sets.fetch_add(1, Ordering::Relaxed);
        self.inner.delete(key)
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.increments.fetch_add(1, Ordering::Relaxed);
        self.inner.increment(key, delta)
    }
    // Batches are one host call each in Spin, so they count once.
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.inner.get_many(keys)
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        self.sets.fetch_add(1, Ordering::Relaxed);
        self.inner.set_many(entries)
    }
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0)
        .single()
        .unwrap_or_default()
}

fn sku_name(i: usize) -> SkuId {
    SkuId(format!("sku{i}"))
}

fn setup<S: KeyValue>(store: &S, skus: usize) {
    setup_with(store, skus, 1_000_000_000);
}

fn setup_with<S: KeyValue>(store: &S, skus: usize, units: i64) {
    let ledger = ReservationLedger::new(store);
    let catalog = StockCatalog {
        warehouses: vec![Warehouse {
            id: WarehouseId::new("sh"),
            name: String::new(),
            location: None,
            priority: 0,
        }],
        channels: CHANNELS
            .iter()
            .map(|c| (ChannelId::new(*c), ChannelPolicy::default()))
            .collect(),
    };
    ledger.put_catalog(&catalog, &mut || true).expect("catalog");
    for i in 0..skus {
        ledger.define_sku(&SkuStock::new(sku_name(i))).expect("sku");
        let stock = AdjustRequest {
            sku: sku_name(i),
            warehouse: WarehouseId::new("sh"),
            change: Adjustment::Set(units),
            reason: "bench".into(),
            reference: None,
        };
        ledger.adjust(&stock, now()).expect("stock");
    }
}

fn reserve_request(i: usize, sku: SkuId) -> ReserveRequest {
    ReserveRequest {
        order: OrderId(format!("o{i}")),
        channel: ChannelId::new(CHANNELS[i % CHANNELS.len()]),
        lines: vec![ReserveLine {
            line_no: 1,
            sku,
            quantity: 1,
        }],
        deliver_to: None,
    }
}

fn pick(i: usize, skus: usize) -> SkuId {
    // Uniform, deterministic: a multiplicative hash of the request number.
    sku_name(
        (i as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(17) as usize
            % skus,
    )
}

/// Reserve calls per second with `threads` threads sharing one store; with `units`
/// per SKU below demand, the rest are refusals (the compensation path).
fn rate(skus: usize, units: i64, threads: usize, total: usize) -> f64 {
    let store = MemoryStore::new();
    setup_with(&store, skus, units);
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let ledger = ReservationLedger::new(&store);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    ledger
                        .reserve(&reserve_request(i, pick(i, skus)), now())
                        .expect("reserve");
                }
            });
        }
    });
    total as f64 / start.elapsed().as_secs_f64()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn ops_per_call() {
    const N: usize = 1_000;
    let store = CountingStore::default();
    setup(&store, 100);
    let ledger = ReservationLedger::new(&store);
    let per = |before: [u64; 3], after: [u64; 3], calls: usize| -> String {
        let d: Vec<f64> = (0..3)
            .map(|k| (after[k] - before[k]) as f64 / calls as f64)
            .collect();
        format!(
            "{:5.1} ops  ({:.1} increment, {:.1} get/get_many, {:.1} set/set_many)",
            d.iter().sum::<f64>(),
            d[0],
            d[1],
            d[2]
        )
    };
    let s0 = store.snapshot();
    for i in 0..N {
        ledger
            .reserve(&reserve_request(i, pick(i, 100)), now())
            .expect("reserve");
    }
    let s1 = store.snapshot();
    for i in 0..N / 2 {
        ledger
            .commit(
                &OrderId(format!("o{i}")),
                &SettleRequest::everything("p"),
                now(),
            )
            .expect("commit");
    }
    let s2 = store.snapshot();
    for i in N / 2..N {
        ledger
            .release(
                &OrderId(format!("o{i}")),
                &SettleRequest::everything("c"),
                now(),
            )
            .expect("release");
    }
    let s3 = store.snapshot();
    for i in 0..N {
        ledger
            .reserve(&reserve_request(i, pick(i, 100)), now())
            .expect("retry");
    }
    let s4 = store.snapshot();
    let empty = CountingStore::default();
    setup_with(&empty, 1, 0);
    let e0 = empty.snapshot();
    for i in 0..N {
        ReservationLedger::new(&empty)
            .reserve(&reserve_request(i, pick(i, 1)), now())
            .expect("refused");
    }
    let e1 = empty.snapshot();
    println!("store operations per call (1 warehouse, 6 synced channels; batches count once):");
    println!("  reserve (1 line) {}", per(s0, s1, N));
    println!("  commit           {}", per(s1, s2, N / 2));
    println!("  release          {}", per(s2, s3, N / 2));
    println!("  reserve retry    {}", per(s3, s4, N));
    println!("  reserve refused  {}", per(e0, e1, N));
}

fn main() {
    // `cargo test --benches` passes `--bench`-less args; keep that run short.
    let quick =
        std::env::args().any(|a| a == "--quick") || !std::env::args().any(|a| a == "--bench");
    let total = if quick { 2_000 } else { 20_000 };
    let runs = if quick { 1 } else { RUNS };
    ops_per_call();
    let scenarios = [
        ("hot SKU", 1usize, 1_000_000_000i64),
        (
            "hot SKU selling out halfway (rest refused)",
            1,
            total as i64 / 2,
        ),
        ("10,000 SKUs, uniform demand", 10_000, 1_000_000_000),
    ];
    for (label, skus, units) in scenarios {
        println!("{label}: reserve calls/s, median of {runs} runs of {total}");
        for threads in THREADS {
            let rates: Vec<f64> = (0..runs)
                .map(|_| rate(skus, units, threads, total))
                .collect();
            println!("  {threads:>2} threads: {:>9.0}", median(rates));
        }
    }
}
