//! The model test: random interleavings of every ledger operation, with the ledger's
//! invariants checked after each step.

use chrono::Duration;
use proptest::prelude::*;

use super::*;

const SKUS: [&str; 2] = ["apple", "pear"];
const WAREHOUSES: [&str; 2] = ["sh", "bj"];
const CHANNELS: [&str; 3] = ["app", "pos", "near"];
const ORDERS: usize = 5;

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
        op: u8,
    },
    Release {
        order: usize,
        line: Option<(u32, i64)>,
        op: u8,
    },
    Confirm {
        order: usize,
    },
    Expire {
        order: usize,
    },
    Sweep,
    Adjust {
        sku: usize,
        warehouse: usize,
        delta: Option<i64>,
        set: i64,
    },
    Tick {
        minutes: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let line = proptest::option::of((1u32..=2, 1i64..=4));
    prop_oneof![
        3 => (0..ORDERS, 0..CHANNELS.len(), proptest::collection::vec((0..SKUS.len(), 1i64..=6), 1..=2))
            .prop_map(|(order, channel, lines)| Op::Reserve { order, channel, lines }),
        2 => (0..ORDERS, line.clone(), 0u8..3).prop_map(|(order, line, op)| Op::Commit { order, line, op }),
        2 => (0..ORDERS, line, 0u8..3).prop_map(|(order, line, op)| Op::Release { order, line, op }),
        1 => (0..ORDERS).prop_map(|order| Op::Confirm { order }),
        1 => (0..ORDERS).prop_map(|order| Op::Expire { order }),
        1 => Just(Op::Sweep),
        2 => (0..SKUS.len(), 0..WAREHOUSES.len(), proptest::option::of(-8i64..=8), 0i64..=12)
            .prop_map(|(sku, warehouse, delta, set)| Op::Adjust { sku, warehouse, delta, set }),
        1 => (1i64..=20).prop_map(|minutes| Op::Tick { minutes }),
    ]
}

fn settle_request(kind: &str, line: Option<(u32, i64)>, op: u8) -> SettleRequest {
    let id = format!("{kind}-{op}");
    match line {
        Some((line_no, quantity)) => SettleRequest::lines(id, &[(line_no, quantity)]),
        None => SettleRequest::everything(id),
    }
}

fn check(ledger: &ReservationLedger<'_, MemoryStore>, adjusted: &BTreeMap<(usize, usize), i64>) {
    let mut held: BTreeMap<(SkuId, WarehouseId), i64> = BTreeMap::new();
    for o in 0..ORDERS {
        if let Some(view) = ledger.reservation(&order(&format!("o{o}"))).unwrap() {
            for a in &view.allocations {
                assert!(a.held >= 0 && a.committed >= 0 && a.released >= 0, "{a:?}");
                assert_eq!(a.held + a.committed + a.released, a.allocation.quantity);
                *held
                    .entry((a.allocation.sku.clone(), a.allocation.warehouse.clone()))
                    .or_default() += a.held;
            }
        }
    }
    for (s, sku_id) in SKUS.iter().enumerate() {
        for (w, wh_id) in WAREHOUSES.iter().enumerate() {
            let level = level(ledger, sku_id, wh_id);
            assert!(
                0 <= level.reserved && level.reserved <= level.on_hand,
                "{sku_id}@{wh_id}: {level:?}"
            );
            let live = held.get(&(sku(sku_id), wh(wh_id))).copied().unwrap_or(0);
            assert_eq!(
                live, level.reserved,
                "{sku_id}@{wh_id}: held by live reservations vs reserved"
            );
            let total_in = adjusted.get(&(s, w)).copied().unwrap_or(0);
            assert_eq!(
                level.shipped + level.on_hand,
                total_in,
                "{sku_id}@{wh_id}: conservation"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn ledger_invariants_hold_after_every_step(
        opening in proptest::collection::vec(0i64..=10, 4),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let store = MemoryStore::new();
        let ledger = setup(&store, &[]);
        for s in SKUS {
            ledger.define_sku(&SkuStock::new(sku(s))).unwrap();
        }
        let mut adjusted: BTreeMap<(usize, usize), i64> = BTreeMap::new();
        let mut now = t0();
        for (i, qty) in opening.iter().enumerate() {
            let (s, w) = (i / 2, i % 2);
            if *qty > 0 {
                let req = AdjustRequest {
                    sku: sku(SKUS[s]),
                    warehouse: wh(WAREHOUSES[w]),
                    change: Adjustment::Delta(*qty),
                    reason: "opening".into(),
                    reference: None,
                };
                *adjusted.entry((s, w)).or_default() += ledger.adjust(&req, now).unwrap().applied;
            }
        }
        check(&ledger, &adjusted);
        for op in ops {
            match op {
                Op::Reserve { order: o, channel: c, lines } => {
                    let lines: Vec<(u32, &str, i64)> =
                        lines.iter().enumerate().map(|(i, (s, q))| (i as u32 + 1, SKUS[*s], *q)).collect();
                    let out = ledger.reserve(&request(&format!("o{o}"), CHANNELS[c], &lines), now).unwrap();
                    let granted: i64 = out.reserved_units();
                    let asked: i64 = lines.iter().map(|l| l.2).sum();
                    prop_assert!(out.replayed || granted <= asked);
                    if out.status() == ReserveStatus::OutOfStock {
                        prop_assert!(out.exception.is_some() && granted == 0);
                    }
                }
                Op::Commit { order: o, line, op } => {
                    match ledger.commit(&order(&format!("o{o}")), &settle_request("c", line, op), now) {
                        Ok(_) | Err(StockError::UnknownReservation(_)) | Err(StockError::UnknownLine { .. }) => {}
                        Err(e) => prop_assert!(false, "commit: {e}"),
                    }
                }
                Op::Release { order: o, line, op } => {
                    match ledger.release(&order(&format!("o{o}")), &settle_request("r", line, op), now) {
                        Ok(_) | Err(StockError::UnknownReservation(_)) | Err(StockError::UnknownLine { .. }) => {}
                        Err(e) => prop_assert!(false, "release: {e}"),
                    }
                }
                Op::Confirm { order: o } => {
                    match ledger.confirm(&order(&format!("o{o}"))) {
                        Ok(_) | Err(StockError::UnknownReservation(_)) => {}
                        Err(e) => prop_assert!(false, "confirm: {e}"),
                    }
                }
                Op::Expire { order: o } => {
                    match ledger.expire(&order(&format!("o{o}")), now) {
                        Ok(_) | Err(StockError::UnknownReservation(_)) => {}
                        Err(e) => prop_assert!(false, "expire: {e}"),
                    }
                }
                Op::Sweep => {
                    ledger.sweep_expired(now, 1_000).unwrap();
                }
                Op::Adjust { sku: s, warehouse: w, delta, set } => {
                    let change = match delta {
                        Some(0) => Adjustment::Delta(1),
                        Some(d) => Adjustment::Delta(d),
                        None => Adjustment::Set(set),
                    };
                    let req = AdjustRequest {
                        sku: sku(SKUS[s]),
                        warehouse: wh(WAREHOUSES[w]),
                        change,
                        reason: "wms".into(),
                        reference: None,
                    };
                    let out = ledger.adjust(&req, now).unwrap();
                    prop_assert!(out.held_back >= 0 && out.applied.abs() <= out.requested.abs());
                    *adjusted.entry((s, w)).or_default() += out.applied;
                }
                Op::Tick { minutes } => now += Duration::minutes(minutes),
            }
            check(&ledger, &adjusted);
        }
        // Everything journalled adds up to the counters.
        let events = audit_log(&store, 1, 100_000).unwrap();
        for (s, sku_id) in SKUS.iter().enumerate() {
            for (w, wh_id) in WAREHOUSES.iter().enumerate() {
                let (mut on_hand, mut reserved, mut shipped) = (0, 0, 0);
                for c in events.iter().flat_map(|e| &e.changes).filter(|c| c.sku == sku(sku_id) && c.warehouse == wh(wh_id)) {
                    on_hand += c.on_hand;
                    reserved += c.reserved;
                    shipped += c.shipped;
                }
                let level = level(&ledger, sku_id, wh_id);
                prop_assert_eq!((on_hand, reserved, shipped), (level.on_hand, level.reserved, level.shipped));
                prop_assert_eq!(on_hand + shipped, adjusted.get(&(s, w)).copied().unwrap_or(0));
            }
        }
    }
}
