//! Batch reserve: the same answers as single reserves one after another (model), a
//! kill at every store call of a batch (crash), batches racing on shared SKUs
//! (concurrency), and what a batch costs in store round trips (printed).

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::crash::assert_exact_for;
use super::faults::{CrashStore, Death};
use super::*;
use crate::store::StoreError;

const SKUS: [&str; 2] = ["apple", "pear"];
const WAREHOUSES: [&str; 2] = ["sh", "bj"];
const CHANNELS: [&str; 4] = ["app", "pos", "meituan", "near"];
const ORDERS: usize = 8;
const LEASE: i64 = DEFAULT_LEASE_SECONDS;

/// One order of a generated batch: (order, channel, lines (sku, units), paid).
type Gen = (usize, usize, Vec<(usize, i64)>, bool);

fn order_id(n: usize) -> String {
    format!("o{n}")
}

fn batch_order(&(order, channel, ref lines, paid): &Gen) -> BatchOrder {
    let lines: Vec<(u32, &str, i64)> = lines
        .iter()
        .zip(1..)
        .map(|(&(s, q), line_no)| (line_no, SKUS[s], q))
        .collect();
    BatchOrder {
        request: request(&order_id(order), CHANNELS[channel], &lines),
        confirm: paid,
    }
}

/// A batch of distinct orders (a later duplicate of an id is dropped).
fn batch(max: usize) -> impl Strategy<Value = Vec<Gen>> {
    let one = (
        0..ORDERS,
        0..CHANNELS.len(),
        proptest::collection::vec((0..SKUS.len(), 1i64..=4), 1..=3),
        any::<bool>(),
    );
    proptest::collection::vec(one, 1..=max).prop_map(|mut orders| {
        let mut seen = std::collections::BTreeSet::new();
        orders.retain(|o| seen.insert(o.0));
        orders
    })
}

fn stock() -> impl Strategy<Value = Vec<(&'static str, &'static str, i64)>> {
    proptest::collection::vec(0i64..=8, SKUS.len() * WAREHOUSES.len()).prop_map(|levels| {
        SKUS.iter()
            .flat_map(|s| WAREHOUSES.iter().map(move |w| (*s, *w)))
            .zip(levels)
            .map(|((s, w), q)| (s, w, q))
            .collect()
    })
}

/// What an answer says, without what legitimately differs between a batch and single
/// reserves (the record's confirmed flag, the journal).
fn gist(answer: &StockResult<ReserveOutcome>) -> String {
    match answer {
        Ok(o) => format!(
            "{:?} {:?} {:?} replayed={}",
            o.status(),
            o.reservation.allocations,
            o.reservation.shortages,
            o.replayed
        ),
        Err(e) => format!("error {}", e.code()),
    }
}

/// The single-reserve path the shell used before batches: reserve, then confirm a
/// paid order that holds units.
fn one_by_one<S: KeyValue>(
    ledger: &ReservationLedger<'_, S>,
    orders: &[BatchOrder],
    now: DateTime<Utc>,
) -> Vec<StockResult<ReserveOutcome>> {
    orders
        .iter()
        .map(|o| {
            let outcome = ledger.reserve(&o.request, now)?;
            if o.confirm && outcome.reserved_units() > 0 {
                ledger.confirm(&o.request.order)?;
            }
            Ok(outcome)
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Step {
    Batch(Vec<Gen>),
    Release(usize),
    Commit(usize),
    Receipt(usize, usize, i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => batch(6).prop_map(Step::Batch),
        1 => (0..ORDERS).prop_map(Step::Release),
        1 => (0..ORDERS).prop_map(Step::Commit),
        1 => (0..SKUS.len(), 0..WAREHOUSES.len(), 1i64..=5).prop_map(|(s, w, d)| Step::Receipt(s, w, d)),
    ]
}

fn apply<S: KeyValue>(ledger: &ReservationLedger<'_, S>, step: &Step, i: usize) -> String {
    let t = t0() + Duration::seconds(i as i64);
    let settled = |r: StockResult<SettleOutcome>| match r {
        Ok(o) => format!("{}", o.units()),
        Err(e) => e.code().to_string(),
    };
    match step {
        Step::Batch(_) => unreachable!("batches are compared, not applied alike"),
        Step::Release(o) => settled(ledger.release(
            &order(&order_id(*o)),
            &SettleRequest::everything(format!("cancel-{i}")),
            t,
        )),
        Step::Commit(o) => settled(ledger.commit(
            &order(&order_id(*o)),
            &SettleRequest::everything(format!("ship-{i}")),
            t,
        )),
        Step::Receipt(s, w, d) => {
            let req = AdjustRequest {
                sku: sku(SKUS[*s]),
                warehouse: wh(WAREHOUSES[*w]),
                change: Adjustment::Delta(*d),
                reason: "receipt".into(),
                reference: None,
            };
            format!("{:?}", ledger.adjust(&req, t).map(|o| o.replayed))
        }
    }
}

fn ids() -> Vec<String> {
    (0..ORDERS).map(order_id).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Random batches (with settles and receipts between them) answer exactly what the
    /// same orders reserved one by one answer, replays included, and leave the counters
    /// exact; paid orders are confirmed (their holds do not expire).
    #[test]
    fn a_batch_answers_what_single_reserves_in_order_answer(
        stock in stock(),
        steps in proptest::collection::vec(step(), 1..=8),
    ) {
        let batched = MemoryStore::new();
        let single = MemoryStore::new();
        let a = setup(&batched, &stock);
        let b = setup(&single, &stock);
        for (i, step) in steps.iter().enumerate() {
            let t = t0() + Duration::seconds(i as i64);
            match step {
                Step::Batch(gens) => {
                    let orders: Vec<BatchOrder> = gens.iter().map(batch_order).collect();
                    let got: Vec<String> = a.reserve_batch(&orders, t).iter().map(gist).collect();
                    let want: Vec<String> = one_by_one(&b, &orders, t).iter().map(gist).collect();
                    prop_assert_eq!(got, want, "step {} {:?}", i, step);
                }
                other => prop_assert_eq!(apply(&a, other, i), apply(&b, other, i), "step {}", i),
            }
            assert_exact_for(&batched, &ids(), &format!("after step {i} {step:?}"));
        }
        // An hour later every unpaid hold has run out; paid ones hold in both.
        let later = t0() + Duration::hours(2);
        for id in ids() {
            let expired = |l: &ReservationLedger<'_, MemoryStore>| match l.expire(&order(&id), later) {
                Ok(o) => format!("{o:?}"),
                Err(e) => e.code().to_string(),
            };
            prop_assert_eq!(expired(&a), expired(&b), "expire {}", id);
        }
        assert_exact_for(&batched, &ids(), "after expiry");
    }
}

/// Units held per place by the given orders (from their views).
fn held(store: &MemoryStore, ids: &[String]) -> i64 {
    let ledger = ReservationLedger::new(store);
    ids.iter()
        .filter_map(|id| ledger.reservation(&order(id)).unwrap())
        .map(|view| view.held())
        .sum()
}

/// Right after a kill: whatever anyone was told yes for fits under on hand, and every
/// held unit is counted as reserved.
fn assert_no_oversell(store: &MemoryStore, ids: &[String], when: &str) {
    let ledger = ReservationLedger::new(store);
    for s in SKUS {
        for w in WAREHOUSES {
            let level = ledger.level(&sku(s), &wh(w)).unwrap();
            let views: Vec<ReservationView> = ids
                .iter()
                .filter_map(|id| ledger.reservation(&order(id)).unwrap())
                .collect();
            let here: i64 = views
                .iter()
                .flat_map(|v| v.allocations.iter())
                .filter(|a| a.allocation.sku.0 == s && a.allocation.warehouse.0 == w)
                .map(|a| a.held)
                .sum();
            assert!(level.reserved >= here, "{when}: {s}@{w} {level:?} < {here}");
            assert!(here <= level.on_hand, "{when}: {s}@{w} oversold {here}");
        }
    }
}

/// The caller's retry after a kill: the batch again, or (`alone`) each order by itself
/// through the single reserve (the admin route), which must take over its part of a
/// dead batch.
fn retry(
    ledger: &ReservationLedger<'_, MemoryStore>,
    orders: &[BatchOrder],
    alone: bool,
    now: DateTime<Utc>,
) -> Vec<StockResult<ReserveOutcome>> {
    if alone {
        orders
            .iter()
            .map(|o| ledger.reserve(&o.request, now))
            .collect()
    } else {
        ledger.reserve_batch(orders, now)
    }
}

/// One batch killed at its `k`-th store call (after `before` ran normally), then repair
/// and retries until every order is decided. False when the batch needs fewer calls.
fn crash_run(
    stock: &[(&str, &str, i64)],
    before: &[BatchOrder],
    orders: &[BatchOrder],
    k: usize,
    death: Death,
    repair_first: bool,
) -> bool {
    let alone = k.is_multiple_of(2);
    let store = MemoryStore::new();
    let ledger = setup(&store, stock);
    let t = t0() + Duration::seconds(1);
    for answer in ledger.reserve_batch(before, t) {
        answer.unwrap();
    }
    let crashing = CrashStore::new(&store, k, death);
    let first = ReservationLedger::new(&crashing).reserve_batch(orders, t);
    if !crashing.crashed() {
        for answer in first {
            answer.unwrap();
        }
        return false;
    }
    let ids = ids();
    let ctx = format!("{orders:?} killed at call {k} ({death:?}, retried alone: {alone})");
    assert_no_oversell(&store, &ids, &format!("{ctx}, right after"));
    let mut later = t + Duration::seconds(LEASE + 1);
    if repair_first {
        ledger.repair(later, 1_000).unwrap();
        assert_no_oversell(&store, &ids, &format!("{ctx}, after repair"));
    }
    // As in `crash.rs`: a caller retries on `in_flight` and the repair job runs every
    // minute; killed between tickets and intent, the first retry only notes the stall.
    for attempt in 1..=3 {
        let answers = retry(&ledger, orders, alone, later);
        let waiting = answers
            .iter()
            .any(|a| matches!(a, Err(StockError::InFlight(_))));
        if !waiting {
            for answer in answers {
                answer.unwrap_or_else(|e| panic!("{ctx}: retry {attempt}: {e:?}"));
            }
            break;
        }
        assert!(
            attempt < 3,
            "{ctx}: still in flight after {attempt} retries"
        );
        later += Duration::seconds(2 * LEASE + 1);
        ledger.repair(later, 1_000).unwrap();
    }
    assert_no_oversell(&store, &ids, &format!("{ctx}, after the retry"));
    let quiet = later + Duration::seconds(2 * LEASE + 1);
    let report = ledger.repair(quiet, 1_000).unwrap();
    assert!(!report.truncated, "{ctx}: {report:?}");
    assert_exact_for(&store, &ids, &format!("{ctx}, at the end ({report:?})"));
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Every kill point of a batch, both ways the call in progress may have gone, with
    /// the repair job first or the retry first: nothing stuck, counters exact.
    #[test]
    fn a_batch_killed_at_any_store_call_is_repaired_and_its_retry_goes_through(
        stock in stock(),
        before in batch(3),
        orders in batch(5),
    ) {
        let before: Vec<BatchOrder> = before.iter().map(batch_order).collect();
        let orders: Vec<BatchOrder> = orders.iter().map(batch_order).collect();
        for death in [Death::AfterApplying, Death::BeforeApplying] {
            for repair_first in [true, false] {
                let mut k = 1;
                while crash_run(&stock, &before, &orders, k, death, repair_first) {
                    k += 1;
                }
                // Every batch reads at least the catalog: one kill point at the very least.
                prop_assert!(k > 1);
            }
        }
    }
}

/// Threads running batches of 10 and single reserves on two hot SKUs: nobody is told
/// yes beyond the stock, and the counters match the records at the end.
#[test]
fn concurrent_batches_sharing_skus_never_oversell() {
    const STOCK: i64 = 60;
    const THREADS: usize = 8;
    const BATCHES: usize = 40;
    let store = super::concurrency::JitterStore(MemoryStore::new());
    let ledger = setup(&store, &[("apple", "sh", STOCK), ("pear", "sh", STOCK)]);
    let next = AtomicUsize::new(0);
    let accepted = [AtomicI64::new(0), AtomicI64::new(0)];
    let bump = |outcome: &ReserveOutcome| {
        for a in &outcome.reservation.allocations {
            let i = usize::from(a.sku.0 == "pear");
            accepted[i].fetch_add(a.quantity, Ordering::Relaxed);
        }
    };
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (next, bump) = (&next, &bump);
            let store = &store;
            scope.spawn(move || {
                let ledger = ReservationLedger::new(store);
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    if b >= BATCHES {
                        break;
                    }
                    let orders: Vec<BatchOrder> = (0..10)
                        .map(|i| {
                            let n = b * 10 + i;
                            let via = ["app", "pos", "meituan"][n % 3];
                            let lines = [(1, "apple", 1 + (n % 3) as i64), (2, "pear", 1)];
                            BatchOrder {
                                request: request(&format!("c{n}"), via, &lines[..1 + n % 2]),
                                confirm: n.is_multiple_of(2),
                            }
                        })
                        .collect();
                    if t % 4 == 3 {
                        for o in &orders {
                            bump(&ledger.reserve(&o.request, t0()).unwrap());
                        }
                    } else {
                        for answer in ledger.reserve_batch(&orders, t0()) {
                            bump(&answer.unwrap());
                        }
                    }
                }
            });
        }
    });
    let ids: Vec<String> = (0..BATCHES * 10).map(|n| format!("c{n}")).collect();
    for (i, s) in ["apple", "pear"].into_iter().enumerate() {
        let sold = accepted[i].load(Ordering::Relaxed);
        let level = level(&ledger, s, "sh");
        assert!(sold <= STOCK, "{s}: oversold {sold} > {STOCK}");
        assert_eq!(level.reserved, sold, "{s}: reserved vs units told yes");
        assert_eq!(level.on_hand, STOCK);
    }
    let total: i64 = accepted.iter().map(|a| a.load(Ordering::Relaxed)).sum();
    assert_eq!(held(&store.0, &ids), total, "live reservations vs reserved");
    // Demand is over three times the stock: the race sells out, not short.
    assert!(total >= STOCK, "only {total} units sold");
}

/// An order listed twice in one batch is decided once; a paid one is written confirmed
/// and never expires; an unpaid one does.
#[test]
fn duplicates_are_decided_once_and_paid_orders_are_confirmed() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 5)]);
    let paid = BatchOrder {
        request: request("p", "meituan", &[(1, "apple", 2)]),
        confirm: true,
    };
    let unpaid = BatchOrder {
        request: request("u", "meituan", &[(1, "apple", 2)]),
        confirm: false,
    };
    let answers = ledger.reserve_batch(&[paid.clone(), unpaid, paid], t0());
    let answers: Vec<ReserveOutcome> = answers.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        answers.iter().map(|a| a.replayed).collect::<Vec<_>>(),
        vec![false, false, true]
    );
    assert_eq!(answers[0].reservation, answers[2].reservation);
    assert!(answers[0].reservation.confirmed);
    assert_eq!(level(&ledger, "apple", "sh").reserved, 4);
    let later = t0() + Duration::hours(1);
    let swept = ledger.sweep_expired(later, 100).unwrap();
    assert_eq!(swept.expired, vec![(order("u"), 2)]);
    assert_eq!(
        ledger.expire(&order("p"), later).unwrap(),
        ExpireOutcome::Confirmed
    );
    assert_eq!(level(&ledger, "apple", "sh").reserved, 2);
}

/// Round trips as on Spin + Redis: every `get_many` key is one GET (Spin's MGET is
/// broken, see ARCHITECTURE.md), a `set_many` one MSET, anything else one command.
struct RoundTrips<'a> {
    inner: &'a MemoryStore,
    calls: AtomicUsize,
}

impl RoundTrips<'_> {
    fn take(&self) -> usize {
        self.calls.swap(0, Ordering::SeqCst)
    }
    fn count(&self, n: usize) -> &MemoryStore {
        self.calls.fetch_add(n, Ordering::SeqCst);
        self.inner
    }
}

impl KeyValue for RoundTrips<'_> {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.count(1).get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.count(1).set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.count(1).delete(key)
    }
    fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.count(1).exists(key)
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.count(1).increment(key, delta)
    }
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.count(keys.len()).get_many(keys)
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        self.count(1).set_many(entries)
    }
}

/// 20 orders of 1–3 lines over four SKUs, half paid, on the fixture's channels.
fn twenty_orders() -> Vec<BatchOrder> {
    let skus = ["apple", "pear", "plum", "fig"];
    (0..20)
        .map(|n: usize| {
            let via = ["meituan", "app", "meituan", "pos"][n % 4];
            let lines: Vec<(u32, &str, i64)> = (0..1 + n % 3)
                .map(|l| (l as u32 + 1, skus[(n + l) % 4], 1 + (n % 2) as i64))
                .collect();
            BatchOrder {
                request: request(&format!("r{n}"), via, &lines),
                confirm: n.is_multiple_of(2),
            }
        })
        .collect()
}

/// What reserving 20 orders costs, one by one (reserve + confirm, the shell before),
/// as one batch, and in batches of 5 and of 1; printed with `--nocapture`. The
/// ceilings are the figures measured.
#[test]
fn store_round_trips_of_a_batch_of_twenty() {
    let stock: Vec<(&str, &str, i64)> = ["apple", "pear", "plum", "fig"]
        .into_iter()
        .flat_map(|s| [(s, "sh", 30), (s, "bj", 30)])
        .collect();
    let orders = twenty_orders();
    let places = 4 * 2;
    let per_order = |n: usize| n as f64 / orders.len() as f64;

    let memory = MemoryStore::new();
    setup(&memory, &stock);
    let store = RoundTrips {
        inner: &memory,
        calls: AtomicUsize::new(0),
    };
    let ledger = ReservationLedger::new(&store);
    store.take();
    for answer in one_by_one(&ledger, &orders, t0()) {
        answer.unwrap();
    }
    let single = store.take();

    let memory = MemoryStore::new();
    setup(&memory, &stock);
    let store = RoundTrips {
        inner: &memory,
        calls: AtomicUsize::new(0),
    };
    let ledger = ReservationLedger::new(&store);
    store.take();
    let answers = ledger.reserve_batch(&orders, t0());
    let batched = store.take();
    assert!(answers
        .iter()
        .all(|a| a.as_ref().is_ok_and(|o| o.reserved_units() > 0)));
    let replay = ledger.reserve_batch(&orders, t0());
    let replayed = store.take();
    assert!(replay.iter().all(|a| a.as_ref().is_ok_and(|o| o.replayed)));

    println!(
        "\nreserve 20 orders (4 SKUs x 2 warehouses = {places} places), Redis round trips:\n  \
         one by one (reserve + confirm): {single} ({:.2} per order)\n  \
         one batch:                      {batched} ({:.2} per order)\n  \
         the batch again (all replays):  {replayed} ({:.2} per order)",
        per_order(single),
        per_order(batched),
        per_order(replayed),
    );
    assert!(batched <= 56, "{batched} round trips for the batch");
    assert!(
        replayed <= 66,
        "{replayed} round trips for the replayed batch"
    );
    assert!(
        batched * 4 < single,
        "batch {batched} vs one by one {single}"
    );
    // The pipeline's batches are one intake tick's orders: often a handful.
    let in_fives = in_batches_of(&stock, &orders, 5);
    let alone = in_batches_of(&stock, &orders, 1);
    println!(
        "  in batches of 5:                {in_fives} ({:.2} per order)\n  \
         in batches of 1:                {alone} ({:.2} per order)",
        per_order(in_fives),
        per_order(alone),
    );
    assert!(in_fives <= 155, "{in_fives} round trips in batches of 5");
    assert!(alone <= 384, "{alone} round trips in batches of 1");
}

/// Round trips of `orders` reserved in consecutive batches of `size`, on a fresh store.
fn in_batches_of(stock: &[(&str, &str, i64)], orders: &[BatchOrder], size: usize) -> usize {
    let memory = MemoryStore::new();
    setup(&memory, stock);
    let store = RoundTrips {
        inner: &memory,
        calls: AtomicUsize::new(0),
    };
    let ledger = ReservationLedger::new(&store);
    store.take();
    for chunk in orders.chunks(size) {
        for answer in ledger.reserve_batch(chunk, t0()) {
            assert!(answer.is_ok_and(|o| o.reserved_units() > 0));
        }
    }
    store.take()
}

/// Bad orders are answered alone: the rest of the batch is reserved; a strategy that
/// ranks by stock sees each warehouse's free units (read once for the batch).
#[test]
fn bad_orders_fail_alone_and_most_stock_ranks_by_free_units() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 2), ("apple", "bj", 9)]);
    let most = ChannelPolicy {
        strategy: StrategyKind::MostStock,
        ..ChannelPolicy::default()
    };
    ledger
        .put_channel_policy(&channel("most"), &most, &mut || true)
        .unwrap();
    let orders: Vec<BatchOrder> = [
        request("bad", "app", &[(1, "apple", 0)]),
        request("ghost", "app", &[(1, "durian", 1)]),
        request("m", "most", &[(1, "apple", 3)]),
    ]
    .into_iter()
    .map(|request| BatchOrder {
        request,
        confirm: false,
    })
    .collect();
    let answers = ledger.reserve_batch(&orders, t0());
    assert!(matches!(answers[0], Err(StockError::BadQuantity { .. })));
    assert!(matches!(answers[1], Err(StockError::UnknownSku(_))));
    let m = answers[2].as_ref().unwrap();
    assert_eq!(m.status(), ReserveStatus::Reserved);
    assert_eq!(m.reservation.allocations[0].warehouse, wh("bj"));
    assert_eq!(level(&ledger, "apple", "bj").reserved, 3);
    assert_eq!(level(&ledger, "apple", "sh").reserved, 0);
    // Nothing was claimed for the bad ones: fixed, they go through.
    let fixed = BatchOrder {
        request: request("bad", "app", &[(1, "apple", 1)]),
        confirm: false,
    };
    let again = ledger.reserve_batch(&[fixed], t0());
    assert_eq!(again[0].as_ref().unwrap().reserved_units(), 1);
}

/// A refused order is tried again in a later batch (a new attempt), and a held one is
/// answered from its record.
#[test]
fn a_refused_order_is_retried_in_a_later_batch_and_a_held_one_replayed() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 1)]);
    let order = |id: &str, units: i64| BatchOrder {
        request: request(id, "meituan", &[(1, "apple", units)]),
        confirm: false,
    };
    let first = ledger.reserve_batch(&[order("a", 1), order("b", 1)], t0());
    assert_eq!(first[0].as_ref().unwrap().status(), ReserveStatus::Reserved);
    assert_eq!(
        first[1].as_ref().unwrap().status(),
        ReserveStatus::OutOfStock
    );
    ledger
        .release(&super::order("a"), &SettleRequest::everything("c"), t0())
        .unwrap();
    let second = ledger.reserve_batch(&[order("b", 1), order("a", 1)], t0());
    let b = second[0].as_ref().unwrap();
    assert_eq!((b.status(), b.replayed), (ReserveStatus::Reserved, false));
    assert_eq!((b.reservation.attempt, b.reservation.refusals), (1, 1));
    assert!(second[1].as_ref().unwrap().replayed);
    assert_eq!(level(&ledger, "apple", "sh").reserved, 1);
}
