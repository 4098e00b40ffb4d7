//! Crash repair: a process killed at every store call of one operation (the call
//! itself applied or not), then repair at quiescence and the caller's retry. Nothing may
//! stay stuck and the counters must end exact.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::faults::{CrashStore, Death, SteppedStore};
use super::*;

const SKUS: [&str; 2] = ["apple", "pear"];
const WAREHOUSES: [&str; 2] = ["sh", "bj"];
const CHANNELS: [&str; 3] = ["app", "pos", "near"];
const LEASE: i64 = DEFAULT_LEASE_SECONDS;

#[derive(Debug, Clone)]
enum Op {
    Reserve {
        order: usize,
        channel: usize,
        lines: Vec<(usize, i64)>,
    },
    Commit {
        order: usize,
        line: Option<(u32, i64)>,
    },
    Release {
        order: usize,
    },
    Expire {
        order: usize,
    },
    Receipt {
        sku: usize,
        warehouse: usize,
        delta: i64,
        reference: u8,
    },
}

fn op(orders: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..orders, 0..CHANNELS.len(), proptest::collection::vec((0..SKUS.len(), 1i64..=3), 1..=3))
            .prop_map(|(order, channel, lines)| Op::Reserve { order, channel, lines }),
        2 => (0..orders, proptest::option::of((1u32..=3, 1i64..=2)))
            .prop_map(|(order, line)| Op::Commit { order, line }),
        1 => (0..orders).prop_map(|order| Op::Release { order }),
        1 => (0..orders).prop_map(|order| Op::Expire { order }),
        1 => (0..SKUS.len(), 0..WAREHOUSES.len(), -3i64..=4, 0u8..3)
            .prop_filter("a change", |(_, _, d, _)| *d != 0)
            .prop_map(|(sku, warehouse, delta, reference)| Op::Receipt { sku, warehouse, delta, reference }),
    ]
}

fn order_id(n: usize) -> String {
    format!("o{n}")
}

/// Runs one operation as its caller would; `Ok(true)` when it answered from a record.
fn run<S: KeyValue>(
    ledger: &ReservationLedger<'_, S>,
    op: &Op,
    index: usize,
    now: DateTime<Utc>,
) -> StockResult<bool> {
    match op {
        Op::Reserve {
            order,
            channel,
            lines,
        } => {
            let lines: Vec<(u32, &str, i64)> = lines
                .iter()
                .enumerate()
                .map(|(i, &(s, q))| (i as u32 + 1, SKUS[s], q))
                .collect();
            let req = request(&order_id(*order), CHANNELS[*channel], &lines);
            Ok(ledger.reserve(&req, now)?.replayed)
        }
        Op::Commit { order, line } => {
            let req = match line {
                Some((l, q)) => SettleRequest::lines(format!("ship-{index}"), &[(*l, *q)]),
                None => SettleRequest::everything(format!("ship-{index}")),
            };
            Ok(ledger
                .commit(&super::order(&order_id(*order)), &req, now)?
                .replayed)
        }
        Op::Release { order } => {
            let req = SettleRequest::everything(format!("cancel-{index}"));
            Ok(ledger
                .release(&super::order(&order_id(*order)), &req, now)?
                .replayed)
        }
        Op::Expire { order } => {
            // Expiry is due an hour later: holds are 15 minutes.
            ledger.expire(&super::order(&order_id(*order)), now + Duration::hours(1))?;
            Ok(false)
        }
        Op::Receipt {
            sku: s,
            warehouse,
            delta,
            reference,
        } => {
            let req = AdjustRequest {
                sku: sku(SKUS[*s]),
                warehouse: wh(WAREHOUSES[*warehouse]),
                change: Adjustment::Delta(*delta),
                reason: "wms".into(),
                reference: Some(format!("grn-{index}-{reference}")),
            };
            Ok(ledger.adjust(&req, now)?.replayed)
        }
    }
}

/// Errors a caller gets for a request that makes no sense in this state (settling an
/// order never reserved, a line it does not have); anything else fails the test.
fn acceptable(e: &StockError) -> bool {
    matches!(
        e,
        StockError::UnknownReservation(_) | StockError::UnknownLine { .. }
    )
}

/// Per SKU@warehouse: units held by reservations, and committed, from their views.
fn holds(store: &MemoryStore, orders: usize) -> BTreeMap<(String, String), (i64, i64)> {
    let ids: Vec<String> = (0..orders).map(order_id).collect();
    holds_of(store, &ids)
}

fn holds_of(store: &MemoryStore, ids: &[String]) -> BTreeMap<(String, String), (i64, i64)> {
    let ledger = ReservationLedger::new(store);
    let mut by_place = BTreeMap::new();
    for id in ids {
        let Some(view) = ledger.reservation(&order(id)).unwrap() else {
            continue;
        };
        for a in &view.allocations {
            let place = (a.allocation.sku.0.clone(), a.allocation.warehouse.0.clone());
            let e = by_place.entry(place).or_insert((0, 0));
            e.0 += a.held;
            e.1 += a.committed;
        }
    }
    by_place
}

/// Per SKU@warehouse: the journal's totals (on hand, reserved, shipped) and the units
/// receipts and write-offs put in.
fn journal_totals(store: &MemoryStore) -> BTreeMap<(String, String), [i64; 4]> {
    let mut totals = BTreeMap::new();
    for event in audit_log(store, 1, 100_000).unwrap() {
        for c in &event.changes {
            let e = totals
                .entry((c.sku.0.clone(), c.warehouse.0.clone()))
                .or_insert([0; 4]);
            e[0] += c.on_hand;
            e[1] += c.reserved;
            e[2] += c.shipped;
            if event.kind == StockEventKind::Adjust {
                e[3] += c.on_hand;
            }
        }
    }
    totals
}

/// Never more promised than there is: every place's `reserved` covers its holds.
fn assert_no_oversell(store: &MemoryStore, orders: usize, when: &str) {
    let ledger = ReservationLedger::new(store);
    for ((s, w), (held, _)) in holds(store, orders) {
        let level = ledger.level(&sku(&s), &wh(&w)).unwrap();
        assert!(
            level.reserved >= held,
            "{when}: {s}@{w} reserved {} below the {held} units held",
            level.reserved
        );
    }
}

/// At quiescence after repair: counters exact, journal consistent, nothing running.
fn assert_exact(store: &MemoryStore, orders: usize, when: &str) {
    let ids: Vec<String> = (0..orders).map(order_id).collect();
    assert_exact_for(store, &ids, when);
}

pub(super) fn assert_exact_for(store: &MemoryStore, ids: &[String], when: &str) {
    let ledger = ReservationLedger::new(store);
    let held = holds_of(store, ids);
    let journal = journal_totals(store);
    for s in SKUS {
        for w in WAREHOUSES {
            let level = ledger.level(&sku(s), &wh(w)).unwrap();
            let (held, committed) = held
                .get(&(s.to_string(), w.to_string()))
                .copied()
                .unwrap_or((0, 0));
            let [j_on_hand, j_reserved, j_shipped, put_in] = journal
                .get(&(s.to_string(), w.to_string()))
                .copied()
                .unwrap_or([0; 4]);
            let at = format!("{when}: {s}@{w} {level:?}");
            assert_eq!(level.reserved, held, "{at}: reserved vs held");
            assert_eq!(level.shipped, committed, "{at}: shipped vs committed");
            assert_eq!(
                (level.on_hand, level.reserved, level.shipped),
                (j_on_hand, j_reserved, j_shipped),
                "{at}: counters vs journal"
            );
            assert_eq!(level.on_hand + level.shipped, put_in, "{at}: stock put in");
            assert!(level.reserved <= level.on_hand, "{at}: oversold");
        }
    }
    for key in store.keys_with_prefix("stock:ops:") {
        let Some(bytes) = store.get(&key).unwrap() else {
            continue;
        };
        if let Ok(intent) = serde_json::from_slice::<OpIntent>(&bytes) {
            assert_ne!(
                intent.state,
                OpState::Running,
                "{when}: {key} still running"
            );
        }
    }
}

/// One crash run: `ops[..crash]` normally, `ops[crash]` killed at call `k`, then the
/// restart (repair first or the retry first), the rest, a final repair. Returns
/// whether the kill happened (false: the operation needs fewer than `k` calls).
fn crash_run(
    stock: &[(&str, &str, i64)],
    ops: &[Op],
    orders: usize,
    crash: usize,
    k: usize,
    death: Death,
    repair_first: bool,
) -> bool {
    let store = MemoryStore::new();
    let ledger = setup(&store, stock);
    let t = t0() + Duration::seconds(1);
    for (i, op) in ops[..crash].iter().enumerate() {
        if let Err(e) = run(&ledger, op, i, t) {
            assert!(acceptable(&e), "op {i} {op:?}: {e:?}");
        }
    }
    let crashing = CrashStore::new(&store, k, death);
    let first = run(&ReservationLedger::new(&crashing), &ops[crash], crash, t);
    if !crashing.crashed() {
        if let Err(e) = first {
            assert!(acceptable(&e), "op {crash} {:?}: {e:?}", ops[crash]);
        }
        return false;
    }
    let ctx = format!("{:?} killed at call {k} ({death:?})", ops[crash]);
    assert_no_oversell(&store, orders, &format!("{ctx}, right after"));
    let later = t + Duration::seconds(LEASE + 1);
    if repair_first {
        ledger.repair(later, 1_000).unwrap();
        assert_no_oversell(&store, orders, &format!("{ctx}, after repair"));
    }
    // A caller retries on `in_flight`, and the repair job runs every minute. Killed
    // between its ticket and its intent, the first retry only notes the stall; one
    // lease later the next takes over. A reserve taking over from a dead runner whose
    // units are not recounted yet waits for the recount rather than be refused.
    let mut later = later;
    for attempt in 1..=3 {
        match run(&ledger, &ops[crash], crash, later) {
            Err(StockError::InFlight(_)) if attempt < 3 => {
                later += Duration::seconds(2 * LEASE + 1);
                ledger.repair(later, 1_000).unwrap();
            }
            Ok(_) => break,
            Err(e) => {
                assert!(acceptable(&e), "{ctx}: retry {attempt} got {e:?}");
                break;
            }
        }
    }
    assert_no_oversell(&store, orders, &format!("{ctx}, after the retry"));
    for (i, op) in ops.iter().enumerate().skip(crash + 1) {
        if let Err(e) = run(&ledger, op, i, later) {
            assert!(acceptable(&e), "{ctx}: later op {i} {op:?}: {e:?}");
        }
    }
    let quiet = later + Duration::seconds(2 * LEASE + 1);
    let report = ledger.repair(quiet, 1_000).unwrap();
    assert!(!report.truncated, "{ctx}: {report:?}");
    assert_exact(&store, orders, &format!("{ctx}, at the end ({report:?})"));
    true
}

/// Opening stock per (SKU, warehouse), in `SKUS` × `WAREHOUSES` order.
type Scenario = (Vec<i64>, usize, Vec<Op>, usize);

fn scenario() -> impl Strategy<Value = Scenario> {
    (2usize..=4).prop_flat_map(|orders| {
        (
            proptest::collection::vec(0i64..=4, SKUS.len() * WAREHOUSES.len()),
            Just(orders),
            proptest::collection::vec(op(orders), 2..=7),
        )
            .prop_flat_map(|(stock, orders, ops)| {
                let n = ops.len();
                (Just(stock), Just(orders), Just(ops), 0..n)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Every kill point of one operation, both ways the call in progress may have gone,
    /// with the repair job first or the caller's retry first.
    #[test]
    fn a_kill_at_any_store_call_is_repaired_and_the_retry_goes_through(
        (stock, orders, ops, crash) in scenario()
    ) {
        let places = SKUS.iter().flat_map(|s| WAREHOUSES.iter().map(move |w| (*s, *w)));
        let stock: Vec<(&str, &str, i64)> =
            places.zip(stock).map(|((s, w), q)| (s, w, q)).collect();
        for death in [Death::AfterApplying, Death::BeforeApplying] {
            for repair_first in [true, false] {
                let mut k = 1;
                while crash_run(&stock, &ops, orders, crash, k, death, repair_first) {
                    k += 1;
                }
            }
        }
    }
}

#[test]
fn the_reported_failure_an_order_killed_mid_reserve_is_neither_stuck_nor_oversold() {
    // Stock 5, the third of seven one-unit orders killed after taking its unit.
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 5)]);
    let t = t0();
    for n in 0..2 {
        ledger
            .reserve(&request(&format!("p{n}"), "app", &[(1, "apple", 1)]), t)
            .unwrap();
    }
    // Calls of a reserve here: load, claim, index, intent, then the take's increment.
    let crashing = CrashStore::new(&store, 5, Death::AfterApplying);
    let killed = request("p2", "app", &[(1, "apple", 1)]);
    assert!(ReservationLedger::new(&crashing)
        .reserve(&killed, t)
        .is_err());
    assert_eq!(level(&ledger, "apple", "sh").reserved, 3);
    // Within the lease the order is in flight (its process might still be running)...
    assert_eq!(
        ledger
            .reserve(&killed, t + Duration::seconds(5))
            .unwrap_err(),
        StockError::InFlight("p2".into())
    );
    // ... and others still get only what is left under the dead hold.
    for n in 3..7 {
        let got = ledger
            .reserve(&request(&format!("p{n}"), "app", &[(1, "apple", 1)]), t)
            .unwrap();
        let expect = if n < 5 {
            ReserveStatus::Reserved
        } else {
            ReserveStatus::OutOfStock
        };
        assert_eq!(got.status(), expect, "p{n}");
    }
    // After the lease the retry takes the attempt over and undoes the dead runner, but
    // its unit is not recounted yet (someone may be mid-operation): rather than refuse
    // the order for a unit that may be its own, the retry is asked to come back.
    let later = t + Duration::seconds(LEASE + 1);
    assert_eq!(
        ledger.reserve(&killed, later).unwrap_err(),
        StockError::InFlight("p2".into())
    );
    assert_eq!(level(&ledger, "apple", "sh").reserved, 5);
    // Repair at quiescence gives the dead unit back; the next try gets it.
    let report = ledger.repair(later, 100).unwrap();
    // The retry already undid the dead runner; left for repair was the recount.
    assert_eq!(report.dead, 0);
    assert_eq!(
        report.corrected,
        vec![CounterFix {
            place: "apple@sh".into(),
            counter: "reserved".into(),
            old: 5,
            new: 4,
        }]
    );
    let again = ledger.reserve(&killed, later).unwrap();
    assert_eq!(again.status(), ReserveStatus::Reserved);
    let lv = level(&ledger, "apple", "sh");
    assert_eq!((lv.on_hand, lv.reserved), (5, 5));
    // A second repair has nothing to do.
    let idle = ledger
        .repair(later + Duration::seconds(LEASE + 1), 100)
        .unwrap();
    assert!(
        idle.corrected.is_empty() && idle.undone.is_empty(),
        "{idle:?}"
    );
}

#[test]
fn a_killed_commit_is_redone_by_its_retry_and_ships_once() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 4)]);
    let t = t0();
    ledger
        .reserve(&request("o1", "app", &[(1, "apple", 3)]), t)
        .unwrap();
    let ship = SettleRequest::everything("parcel-1");
    // Killed right after lowering on hand (on hand 1, reserved still 3).
    let mut killed_at = None;
    for k in 1..40 {
        let probe = MemoryStore::new();
        let probe_ledger = setup(&probe, &[("apple", "sh", 4)]);
        probe_ledger
            .reserve(&request("o1", "app", &[(1, "apple", 3)]), t)
            .unwrap();
        let crashing = CrashStore::new(&probe, k, Death::AfterApplying);
        let _ = ReservationLedger::new(&crashing).commit(&order("o1"), &ship, t);
        if level(&probe_ledger, "apple", "sh").on_hand == 1 {
            killed_at = Some(k);
            break;
        }
    }
    let k = killed_at.expect("a kill point after the on-hand decrement");
    let crashing = CrashStore::new(&store, k, Death::AfterApplying);
    assert!(ReservationLedger::new(&crashing)
        .commit(&order("o1"), &ship, t)
        .is_err());
    assert_eq!(
        ledger.commit(&order("o1"), &ship, t).unwrap_err(),
        StockError::InFlight("o1".into())
    );
    let later = t + Duration::seconds(LEASE + 1);
    let retry = ledger.commit(&order("o1"), &ship, later).unwrap();
    assert_eq!(retry.units(), 3);
    assert!(!retry.replayed);
    // A second retry is answered from the record.
    assert!(ledger.commit(&order("o1"), &ship, later).unwrap().replayed);
    ledger
        .repair(later + Duration::seconds(LEASE + 1), 100)
        .unwrap();
    let lv = level(&ledger, "apple", "sh");
    assert_eq!((lv.on_hand, lv.reserved, lv.shipped), (1, 0, 3));
}

#[test]
fn one_caller_killed_while_another_keeps_working_on_the_same_sku() {
    // Two callers interleaved call by call on one store: A is killed at its 6th call;
    // B carries on (reserves and commits) throughout, then repair and A's retry.
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 6)]);
    let t = t0();
    let a = CrashStore::new(&store, 6, Death::AfterApplying);
    let a_ledger = ReservationLedger::new(&a);
    let a_req = request("a", "app", &[(1, "apple", 2)]);
    let b_thread = std::thread::scope(|scope| {
        let b = scope.spawn(|| {
            let mut got = 0;
            for n in 0..4 {
                let id = format!("b{n}");
                let out = ledger
                    .reserve(&request(&id, "app", &[(1, "apple", 1)]), t)
                    .unwrap();
                if out.status() == ReserveStatus::Reserved {
                    ledger
                        .commit(&order(&id), &SettleRequest::everything(format!("s{n}")), t)
                        .unwrap();
                    got += 1;
                }
            }
            got
        });
        assert!(a_ledger.reserve(&a_req, t).is_err());
        b.join().unwrap()
    });
    // B got what was left beside A's possibly-held units; never more than stock.
    let lv = level(&ledger, "apple", "sh");
    assert!(lv.shipped + lv.reserved <= 6 + 2, "{lv:?}");
    assert_eq!(lv.shipped, b_thread);
    // While B is quiet and the lease is over: repair, then A retries and gets its units
    // if they are there.
    let later = t + Duration::seconds(LEASE + 1);
    ledger.repair(later, 100).unwrap();
    let retry = ledger.reserve(&a_req, later).unwrap();
    let lv = level(&ledger, "apple", "sh");
    assert_eq!(lv.reserved, retry.reserved_units(), "{lv:?}");
    assert!(lv.reserved <= lv.on_hand, "{lv:?}");
    assert_eq!(lv.on_hand + lv.shipped, 6);
    // Recounted: its checkpoint covers the marks repair made.
    assert!(store.get("stock:fix:apple@sh:clean").unwrap().is_some());
}

#[test]
fn repair_beside_live_traffic_on_the_same_skus_loses_no_live_effect() {
    let store = MemoryStore::new();
    let ledger = setup(
        &store,
        &[("apple", "sh", 30), ("apple", "bj", 10), ("pear", "sh", 0)],
    );
    let t = t0();
    let mut ids = vec!["dead-r".to_string(), "dead-c".to_string()];
    // A reserve killed after taking its units, and a commit killed half-way.
    let killed = request("dead-r", "app", &[(1, "apple", 3)]);
    let crashing = CrashStore::new(&store, 6, Death::AfterApplying);
    assert!(ReservationLedger::new(&crashing)
        .reserve(&killed, t)
        .is_err());
    assert_eq!(level(&ledger, "apple", "sh").reserved, 3);
    ledger
        .reserve(&request("dead-c", "pos", &[(1, "apple", 4)]), t)
        .unwrap();
    let crashing = CrashStore::new(&store, 12, Death::BeforeApplying);
    let ship = SettleRequest::everything("dead-ship");
    assert!(ReservationLedger::new(&crashing)
        .commit(&order("dead-c"), &ship, t)
        .is_err());
    // Later, live callers on the same SKU while repair runs over and over.
    let later = t + Duration::seconds(LEASE + 1);
    let live: Vec<String> = (0..3)
        .flat_map(|c| (0..25).map(move |n| format!("live-{c}-{n}")))
        .collect();
    ids.extend(live.iter().cloned());
    std::thread::scope(|scope| {
        for c in 0..3 {
            let ledger = &ledger;
            scope.spawn(move || {
                for n in 0..25 {
                    let id = format!("live-{c}-{n}");
                    let out = ledger
                        .reserve(&request(&id, "pos", &[(1, "apple", 1 + (n % 2))]), later)
                        .unwrap();
                    if out.status() == ReserveStatus::OutOfStock {
                        continue;
                    }
                    let settle = SettleRequest::everything(format!("s-{id}"));
                    match n % 3 {
                        0 => drop(ledger.commit(&order(&id), &settle, later).unwrap()),
                        1 => drop(ledger.release(&order(&id), &settle, later).unwrap()),
                        _ => {}
                    }
                }
            });
        }
        let repairs = scope.spawn(|| {
            (0..40)
                .map(|_| ledger.repair(later, 1_000).unwrap())
                .collect::<Vec<_>>()
        });
        let mut undone: Vec<OpKind> = repairs
            .join()
            .unwrap()
            .iter()
            .flat_map(|r| r.undone.iter().map(|u| u.kind))
            .collect();
        undone.sort_by_key(|k| format!("{k:?}"));
        assert_eq!(undone, vec![OpKind::Commit, OpKind::Reserve]);
    });
    // The dead commit's caller and the dead reserve's caller retry.
    assert_eq!(
        ledger
            .commit(&order("dead-c"), &ship, later)
            .unwrap()
            .units(),
        4
    );
    // If every repair run above found the places busy with live traffic, none could
    // recount them, and a retry short of stock is told to come back (`in_flight`)
    // rather than be refused for units that may be its own: as its caller would, it
    // retries once repair has run at a quiet moment.
    let quiet = later + Duration::seconds(LEASE + 1);
    if let Err(e) = ledger.reserve(&killed, later) {
        assert_eq!(e, StockError::InFlight("dead-r".into()));
        ledger.repair(quiet, 1_000).unwrap();
        ledger.reserve(&killed, quiet).unwrap();
    }
    let report = ledger.repair(quiet, 1_000).unwrap();
    assert_exact_for(&store, &ids, &format!("after live traffic ({report:?})"));
    let lv = level(&ledger, "apple", "sh");
    let bj = level(&ledger, "apple", "bj");
    assert_eq!(lv.on_hand + lv.shipped + bj.on_hand + bj.shipped, 40);
}

#[test]
fn a_recount_inside_an_operations_last_batch_never_misses_its_journal_entry() {
    // The operations' last batches (reserve, commit, release) land one entry at a time
    // and a repair runs after each entry, with apple@sh marked for a recount (a reserve
    // killed after taking its units). A repair that read an intent done before its
    // journal entry was in place recounted apple@sh without that operation's deltas,
    // though the counters held them, and checkpointed past its journal slot for good:
    // `reserved` ended off by the units of a live reserve/commit/release.
    const DONE: &[u8] = b"\"state\":\"done\"";
    let is_done = |v: &[u8]| v.windows(DONE.len()).any(|w| w == DONE);
    for (live, settle) in [
        ("reserve", None),
        ("commit", Some(SettleKind::Commit)),
        ("release", Some(SettleKind::Release)),
    ] {
        let store = MemoryStore::new();
        let ledger = setup(
            &store,
            &[("apple", "sh", 30), ("apple", "bj", 10), ("pear", "sh", 0)],
        );
        let t = t0();
        let later = t + Duration::seconds(LEASE + 1);
        let crashing = CrashStore::new(&store, 6, Death::AfterApplying);
        assert!(ReservationLedger::new(&crashing)
            .reserve(&request("dead", "app", &[(1, "apple", 3)]), t)
            .is_err());
        assert_eq!(level(&ledger, "apple", "sh").reserved, 3);
        let hold = request("live", "pos", &[(1, "apple", 2)]);
        if settle.is_some() {
            ledger.reserve(&hold, later).unwrap();
        }
        let recounts = std::cell::RefCell::new(Vec::new());
        let stepped = SteppedStore::new(
            &store,
            |batch| batch.iter().any(|(_, v)| is_done(v)),
            |key| {
                let report = ReservationLedger::new(&store).repair(later, 1_000).unwrap();
                recounts.borrow_mut().push((key.to_string(), report));
            },
        );
        let live_ledger = ReservationLedger::new(&stepped);
        let ship = SettleRequest::everything("ship");
        match settle {
            None => drop(live_ledger.reserve(&hold, later).unwrap()),
            Some(SettleKind::Commit) => {
                drop(live_ledger.commit(&order("live"), &ship, later).unwrap())
            }
            Some(SettleKind::Release) => {
                drop(live_ledger.release(&order("live"), &ship, later).unwrap())
            }
        }
        let recounts = recounts.take();
        assert!(
            recounts.len() >= 3,
            "{live}: a repair between the entries of the last batch"
        );
        ledger
            .reserve(&request("dead", "app", &[(1, "apple", 3)]), later)
            .unwrap();
        let quiet = later + Duration::seconds(LEASE + 1);
        let report = ledger.repair(quiet, 1_000).unwrap();
        let ids = ["dead".to_string(), "live".to_string()];
        assert_exact_for(
            &store,
            &ids,
            &format!("{live}, repairs inside its last batch {recounts:?}, then {report:?}"),
        );
    }
}

#[test]
fn an_index_slot_is_never_seen_named_before_its_intent() {
    // A repairer passes over a slot named with no intent behind it and never looks at
    // it again (only slots seen empty are), so the operation's effects could straddle
    // its counter reads unseen. Filing lands one entry at a time here; after each, every
    // named slot (intent index and attempt list) must lead to a readable intent.
    const RUNNING: &[u8] = b"\"state\":\"running\"";
    let is_running = |v: &[u8]| v.windows(RUNNING.len()).any(|w| w == RUNNING);
    let store = MemoryStore::new();
    setup(&store, &[("apple", "sh", 30), ("pear", "sh", 0)]);
    let later = t0() + Duration::seconds(LEASE + 1);
    let bucket = bucket_of(later);
    let checks = std::cell::Cell::new(0);
    let stepped = SteppedStore::new(
        &store,
        |batch| batch.iter().any(|(_, v)| is_running(v)),
        |key| {
            checks.set(checks.get() + 1);
            let len = store.increment(&keys::op_index_len(bucket), 0).unwrap();
            let mut named: Vec<String> = (1..=len)
                .filter_map(|slot| store.get(&keys::op_index_slot(bucket, slot)).unwrap())
                .map(|b| String::from_utf8(b).unwrap())
                .collect();
            let ops = store
                .increment(&keys::attempt_ops_len(&order("o"), 0), 0)
                .unwrap();
            named.extend(
                (1..=ops)
                    .filter_map(|k| store.get(&keys::attempt_op(&order("o"), 0, k)).unwrap())
                    .map(|b| String::from_utf8(b).unwrap()),
            );
            for name in named {
                assert!(
                    store.get(&name).unwrap().is_some(),
                    "after writing {key}: slot names {name}, which is not there"
                );
            }
        },
    );
    let live = ReservationLedger::new(&stepped);
    live.reserve(&request("o", "pos", &[(1, "apple", 2)]), later)
        .unwrap();
    live.commit(&order("o"), &SettleRequest::everything("ship"), later)
        .unwrap();
    assert!(checks.get() >= 5, "both filings stepped through");
}

#[test]
fn a_repair_killed_at_any_store_call_is_finished_by_the_next() {
    // A reserve and a commit each killed mid-way; then the repair itself is killed at
    // every call, both ways; the next run (two leases on) must finish the job exactly.
    let ids: Vec<String> = ["r1", "c1", "keep"].iter().map(|s| s.to_string()).collect();
    let t = t0();
    let later = t + Duration::seconds(LEASE + 1);
    let mut k = 1;
    loop {
        let mut killed_any = false;
        for death in [Death::AfterApplying, Death::BeforeApplying] {
            let store = MemoryStore::new();
            let ledger = setup(&store, &[("apple", "sh", 9), ("pear", "sh", 4)]);
            ledger
                .reserve(&request("keep", "app", &[(1, "pear", 2)]), t)
                .unwrap();
            ledger
                .reserve(&request("c1", "app", &[(1, "apple", 3), (2, "pear", 1)]), t)
                .unwrap();
            let dying = CrashStore::new(&store, 7, Death::AfterApplying);
            let r1 = request("r1", "app", &[(1, "apple", 2), (2, "pear", 1)]);
            assert!(ReservationLedger::new(&dying).reserve(&r1, t).is_err());
            let ship = SettleRequest::everything("p1");
            let dying = CrashStore::new(&store, 14, Death::AfterApplying);
            assert!(ReservationLedger::new(&dying)
                .commit(&order("c1"), &ship, t)
                .is_err());
            let repairing = CrashStore::new(&store, k, death);
            let _ = ReservationLedger::new(&repairing).repair(later, 1_000);
            killed_any |= repairing.crashed();
            let ctx = format!("repair killed at call {k} ({death:?})");
            assert_no_oversell(&store, 3, &ctx);
            let next = later + Duration::seconds(2 * LEASE + 1);
            let report = ledger.repair(next, 1_000).unwrap();
            assert_exact_for(&store, &ids, &format!("{ctx}, then {report:?}"));
            // The callers come back and get their answers.
            ledger.reserve(&r1, next).unwrap();
            assert_eq!(ledger.commit(&order("c1"), &ship, next).unwrap().units(), 4);
            let done = next + Duration::seconds(2 * LEASE + 1);
            ledger.repair(done, 1_000).unwrap();
            assert_exact_for(&store, &ids, &format!("{ctx}, at the end"));
        }
        if !killed_any {
            break;
        }
        k += 1;
    }
    assert!(k > 10, "the repair took only {k} calls: nothing to repair?");
}

/// Found by the property test above: a commit killed right after its fate increment
/// (it won, confirmed, but never wrote the winner's name); its retry and a later expiry
/// make the counter ambiguous, and the next commit was `in_flight` for ever. The
/// expiry, first of the losing kind, now writes the winner too.
#[test]
fn a_winner_killed_before_naming_itself_does_not_leave_the_order_in_flight() {
    let stock = [
        ("apple", "sh", 0),
        ("apple", "bj", 0),
        ("pear", "sh", 0),
        ("pear", "bj", 1),
    ];
    let ops = [
        Op::Reserve {
            order: 1,
            channel: 0,
            lines: vec![(1, 1), (1, 1), (0, 3)],
        },
        Op::Commit {
            order: 1,
            line: Some((1, 1)),
        },
        Op::Expire { order: 1 },
        Op::Commit {
            order: 1,
            line: None,
        },
    ];
    for death in [Death::AfterApplying, Death::BeforeApplying] {
        for repair_first in [true, false] {
            let mut k = 1;
            while crash_run(&stock, &ops, 3, 1, k, death, repair_first) {
                k += 1;
            }
        }
    }
}
