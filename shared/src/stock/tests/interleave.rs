//! Interleavings at store-operation granularity, chosen by proptest and reproducible:
//! each ledger call runs on its own thread, but a scheduler lets exactly one thread
//! perform its next store operation at a time, in the order the generated schedule
//! says. This reaches the mid-operation races (between one caller's increment and its
//! check) that the step-by-step model test cannot.

use std::collections::BTreeSet;
use std::sync::{Condvar, Mutex};

use chrono::Duration;
use proptest::prelude::*;

use super::*;
use crate::store::StoreError;

thread_local! {
    static ACTOR: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

#[derive(Default)]
struct Turns {
    /// Actors blocked before their next store operation.
    waiting: BTreeSet<usize>,
    finished: BTreeSet<usize>,
    granted: Option<usize>,
}

struct ScheduledStore {
    inner: MemoryStore,
    turns: Mutex<Turns>,
    changed: Condvar,
}

impl ScheduledStore {
    fn new(inner: MemoryStore) -> Self {
        Self {
            inner,
            turns: Mutex::new(Turns::default()),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Turns> {
        self.turns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Blocks an actor thread until the scheduler gives it the next operation.
    fn turn(&self) {
        let Some(me) = ACTOR.with(|a| a.get()) else {
            return;
        };
        let mut turns = self.lock();
        turns.waiting.insert(me);
        self.changed.notify_all();
        while turns.granted != Some(me) {
            turns = self.changed.wait(turns).unwrap_or_else(|p| p.into_inner());
        }
        turns.granted = None;
        turns.waiting.remove(&me);
    }

    fn finish(&self, me: usize) {
        self.lock().finished.insert(me);
        self.changed.notify_all();
    }

    /// Runs until every actor finished, granting operations in `schedule` order: each
    /// entry `(pick, run)` picks one of the actors currently waiting and lets it run up
    /// to `run + 1` operations in a row. Runs of both kinds matter: long ones let one
    /// caller get far ahead, short ones then slip two operations of one caller between
    /// two of another's.
    fn drive(&self, actors: usize, schedule: &[(u8, u8)]) {
        let mut step = 0;
        let mut burst: Option<(usize, u8)> = None;
        let mut turns = self.lock();
        loop {
            // Wait until every live actor is blocked on its next operation (or done),
            // and the last grant was taken.
            while turns.granted.is_some() || turns.waiting.len() + turns.finished.len() < actors {
                turns = self.changed.wait(turns).unwrap_or_else(|p| p.into_inner());
            }
            if turns.finished.len() == actors {
                return;
            }
            let next = match burst {
                Some((actor, left)) if left > 0 && turns.waiting.contains(&actor) => {
                    burst = Some((actor, left - 1));
                    actor
                }
                _ => {
                    let waiting: Vec<usize> = turns.waiting.iter().copied().collect();
                    let (pick, run) = schedule.get(step).copied().unwrap_or((0, 0));
                    step += 1;
                    let actor = waiting[usize::from(pick) % waiting.len()];
                    burst = Some((actor, run));
                    actor
                }
            };
            turns.granted = Some(next);
            self.changed.notify_all();
        }
    }
}

impl KeyValue for ScheduledStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.turn();
        self.inner.get(key)
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.turn();
        self.inner.set(key, value)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.turn();
        self.inner.delete(key)
    }
    fn increment(&self, key: &str, delta: i64) -> Result<i64, StoreError> {
        self.turn();
        self.inner.increment(key, delta)
    }
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.turn();
        self.inner.get_many(keys)
    }
    fn set_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        self.turn();
        self.inner.set_many(entries)
    }
}

#[derive(Debug, Clone)]
enum Call {
    Reserve {
        order: usize,
        units: i64,
        /// A second line, of pears: all-or-nothing orders roll line 1 back when short.
        pears: Option<i64>,
        channel: usize,
    },
    Commit {
        order: usize,
        units: Option<i64>,
    },
    Release {
        order: usize,
        units: Option<i64>,
    },
    Sweep,
    Expire {
        order: usize,
    },
    Confirm {
        order: usize,
    },
    Adjust {
        warehouse: usize,
        delta: i64,
    },
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        4 => (0..4usize, 1i64..=4, proptest::option::of(1i64..=3), 0..3usize)
            .prop_map(|(order, units, pears, channel)| Call::Reserve { order, units, pears, channel }),
        2 => (0..4usize, proptest::option::of(1i64..=3)).prop_map(|(order, units)| Call::Commit { order, units }),
        2 => (0..4usize, proptest::option::of(1i64..=3)).prop_map(|(order, units)| Call::Release { order, units }),
        1 => Just(Call::Sweep),
        2 => (0..4usize).prop_map(|order| Call::Expire { order }),
        1 => (0..4usize).prop_map(|order| Call::Confirm { order }),
        2 => (0..2usize, -4i64..=4).prop_map(|(warehouse, delta)| Call::Adjust { warehouse, delta }),
    ]
}

const WAREHOUSES: [&str; 2] = ["sh", "bj"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// The narrowest window: a dispatch of the last held unit racing a reserve of it.
    /// Commit must lower on hand before reserved, or the reserve slips in between.
    #[test]
    fn dispatch_racing_a_reserve_for_the_last_unit(
        schedule in proptest::collection::vec((any::<u8>(), 0u8..12), 0..100),
    ) {
        let store = ScheduledStore::new(MemoryStore::new());
        let ledger = setup(&store, &[("apple", "sh", 1)]);
        ledger.reserve(&request("o0", "app", &[(1, "apple", 1)]), t0()).unwrap();
        let accepted = std::sync::atomic::AtomicI64::new(0);
        std::thread::scope(|scope| {
            let (store, accepted) = (&store, &accepted);
            scope.spawn(move || {
                ACTOR.with(|a| a.set(Some(0)));
                let result = ReservationLedger::new(store).commit(&order("o0"), &SettleRequest::everything("p"), t0());
                store.finish(0);
                assert_eq!(result.map(|out| out.units()), Ok(1));
            });
            scope.spawn(move || {
                ACTOR.with(|a| a.set(Some(1)));
                let result = ReservationLedger::new(store).reserve(&request("o1", "app", &[(1, "apple", 1)]), t0());
                store.finish(1);
                accepted.store(result.map(|out| out.reserved_units()).unwrap_or(-1), std::sync::atomic::Ordering::SeqCst);
            });
            store.drive(2, &schedule);
        });
        prop_assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
        prop_assert_eq!(level(&ledger, "apple", "sh"), StockLevel { on_hand: 0, reserved: 0, shipped: 1, safety: 0 });
    }

    #[test]
    fn concurrent_calls_in_any_interleaving_keep_the_ledger_exact(
        opening in (0i64..=4, 0i64..=4, 0i64..=3),
        held in proptest::collection::vec((0..4usize, 1i64..=3), 0..=3),
        calls in proptest::collection::vec(call(), 2..=4),
        schedule in proptest::collection::vec((any::<u8>(), 0u8..12), 0..200),
    ) {
        let store = ScheduledStore::new(MemoryStore::new());
        let ledger = setup(&store, &[("apple", "sh", opening.0), ("apple", "bj", opening.1), ("pear", "sh", opening.2)]);
        // Some orders already hold stock before the race starts.
        for (o, units) in &held {
            ledger.reserve(&request(&format!("o{o}"), "pos", &[(1, "apple", *units)]), t0()).unwrap();
        }
        let before: i64 = WAREHOUSES.iter().map(|w| level(&ledger, "apple", w).available()).sum::<i64>()
            + level(&ledger, "pear", "sh").available();
        let late = t0() + Duration::hours(1);
        // Adjustments only touch apples; pears only move by commits.
        let applied = std::sync::atomic::AtomicI64::new(opening.0 + opening.1);
        let granted = std::sync::atomic::AtomicI64::new(0);
        std::thread::scope(|scope| {
            for (me, call) in calls.iter().enumerate() {
                let (store, applied, granted) = (&store, &applied, &granted);
                scope.spawn(move || {
                    ACTOR.with(|a| a.set(Some(me)));
                    let ledger = ReservationLedger::new(store);
                    let id = |o: &usize| order(&format!("o{o}"));
                    let result = match call {
                        Call::Reserve { order: o, units, pears, channel } => {
                            let mut lines = vec![(1, "apple", *units)];
                            lines.extend(pears.map(|p| (2, "pear", p)));
                            ledger.reserve(&request(&format!("o{o}"), ["app", "pos", "near"][*channel], &lines), t0())
                        }
                            .map(|out| if !out.replayed { granted.fetch_add(out.reserved_units(), std::sync::atomic::Ordering::SeqCst); }),
                        Call::Commit { order: o, units } => {
                            let req = match units {
                                Some(u) => SettleRequest::lines("p", &[(1, *u)]),
                                None => SettleRequest::everything("p"),
                            };
                            ledger.commit(&id(o), &req, late).map(|_| ())
                        }
                        Call::Release { order: o, units } => {
                            let req = match units {
                                Some(u) => SettleRequest::lines("c", &[(1, *u)]),
                                None => SettleRequest::everything("c"),
                            };
                            ledger.release(&id(o), &req, late).map(|_| ())
                        }
                        Call::Sweep => ledger.sweep_expired(late, 100).map(|_| ()),
                        Call::Expire { order: o } => ledger.expire(&id(o), late).map(|_| ()),
                        Call::Confirm { order: o } => ledger.confirm(&id(o)).map(|_| ()),
                        Call::Adjust { warehouse, delta } => {
                            let req = AdjustRequest {
                                sku: sku("apple"),
                                warehouse: wh(WAREHOUSES[*warehouse]),
                                change: if *delta == 0 { Adjustment::Set(3) } else { Adjustment::Delta(*delta) },
                                reason: "wms".into(),
                                reference: None,
                            };
                            ledger.adjust(&req, late).map(|out| {
                                applied.fetch_add(out.applied, std::sync::atomic::Ordering::SeqCst);
                            })
                        }
                    };
                    store.finish(me);
                    match result {
                        Ok(()) | Err(StockError::UnknownReservation(_)) | Err(StockError::InFlight(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                });
            }
            store.drive(calls.len(), &schedule);
        });
        // Only reserves and no increases: never more granted than was available.
        let only_reserves = calls.iter().all(|c| matches!(c, Call::Reserve { .. }));
        if only_reserves {
            prop_assert!(granted.load(std::sync::atomic::Ordering::SeqCst) <= before);
        }
        let mut held_now: BTreeMap<(String, String), i64> = BTreeMap::new();
        for o in 0..4 {
            if let Some(view) = ledger.reservation(&order(&format!("o{o}"))).unwrap() {
                for a in view.allocations {
                    let at = (a.allocation.sku.0.clone(), a.allocation.warehouse.0.clone());
                    *held_now.entry(at).or_default() += a.held;
                }
            }
        }
        let mut apples = 0;
        for (s, w) in [("apple", "sh"), ("apple", "bj"), ("pear", "sh"), ("pear", "bj")] {
            let level = level(&ledger, s, w);
            prop_assert!(0 <= level.reserved && level.reserved <= level.on_hand, "{}@{}: {:?}", s, w, level);
            let held = held_now.get(&(s.to_string(), w.to_string())).copied().unwrap_or(0);
            prop_assert_eq!(held, level.reserved, "{}@{}", s, w);
            if s == "apple" {
                apples += level.on_hand + level.shipped;
            }
        }
        prop_assert_eq!(apples, applied.load(std::sync::atomic::Ordering::SeqCst));
        let pears = level(&ledger, "pear", "sh");
        prop_assert_eq!(pears.on_hand + pears.shipped, opening.2);
    }

    /// Repair racing live calls on the same SKUs, at every interleaving of their store
    /// operations: after a reserve and a commit were killed mid-way (both retried in
    /// the race), whatever repair corrects while the others run, nothing live may be
    /// lost, and the killed commit ships its units exactly once.
    #[test]
    fn repair_racing_live_calls_loses_nothing(
        kill_at in 4usize..=14,
        kill_commit_at in 6usize..=16,
        schedule in proptest::collection::vec((any::<u8>(), 0u8..12), 0..300),
    ) {
        use super::faults::{CrashStore, Death};
        let store = ScheduledStore::new(MemoryStore::new());
        let ledger = setup(&store, &[("apple", "sh", 6), ("apple", "bj", 2), ("pear", "sh", 3)]);
        ledger.reserve(&request("o0", "pos", &[(1, "apple", 2), (2, "pear", 1)]), t0()).unwrap();
        // A first run sets the cursor, so the racing one reads a few index minutes only
        // and its reads of the counters fall among the live calls' steps.
        ledger.repair(t0(), 1_000).unwrap();
        let killed = request("o9", "pos", &[(1, "apple", 3), (2, "pear", 1)]);
        let dying = CrashStore::new(&store.inner, kill_at, Death::AfterApplying);
        let _ = ReservationLedger::new(&dying).reserve(&killed, t0());
        ledger.reserve(&request("o2", "pos", &[(1, "apple", 1), (2, "pear", 1)]), t0()).unwrap();
        let ship = SettleRequest::everything("dead-ship");
        let dying = CrashStore::new(&store.inner, kill_commit_at, Death::AfterApplying);
        let _ = ReservationLedger::new(&dying).commit(&order("o2"), &ship, t0());
        let later = t0() + Duration::seconds(DEFAULT_LEASE_SECONDS + 1);
        std::thread::scope(|scope| {
            let store = &store;
            let killed = &killed;
            let ship = &ship;
            for me in 0..5 {
                scope.spawn(move || {
                    ACTOR.with(|a| a.set(Some(me)));
                    let l = ReservationLedger::new(store);
                    match me {
                        0 => drop(l.repair(later, 1_000).unwrap()),
                        1 => drop(l.reserve(&request("o1", "pos", &[(1, "apple", 2)]), later).unwrap()),
                        2 => drop(l.commit(&order("o0"), &SettleRequest::everything("p"), later).unwrap()),
                        3 => match l.reserve(killed, later) {
                            Ok(_) | Err(StockError::InFlight(_)) => {}
                            Err(e) => panic!("{e}"),
                        },
                        _ => match l.commit(&order("o2"), ship, later) {
                            Ok(_) | Err(StockError::InFlight(_)) => {}
                            Err(e) => panic!("{e}"),
                        },
                    }
                    store.finish(me);
                });
            }
            store.drive(5, &schedule);
        });
        // Quiet now: the killed order's caller retries until answered, repair recounts.
        let quiet = later + Duration::seconds(2 * DEFAULT_LEASE_SECONDS + 1);
        ledger.repair(quiet, 1_000).unwrap();
        ledger.reserve(&killed, quiet).unwrap();
        prop_assert_eq!(ledger.commit(&order("o2"), &ship, quiet).unwrap().units(), 2);
        let quieter = quiet + Duration::seconds(2 * DEFAULT_LEASE_SECONDS + 1);
        ledger.repair(quieter, 1_000).unwrap();
        let ids: Vec<String> = ["o0", "o1", "o2", "o9"].iter().map(|s| s.to_string()).collect();
        super::crash::assert_exact_for(&store.inner, &ids, "after the race");
    }
}
