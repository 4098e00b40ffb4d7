//! Reserve, settle, expire and adjust, one behaviour per test.

use chrono::Duration;

use super::*;
use crate::order::{ExceptionCode, ExceptionRoute};

#[test]
fn reserve_commit_release_move_the_counters() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 10)]);
    let out = ledger
        .reserve(&request("o1", "app", &[(1, "apple", 4)]), t0())
        .unwrap();
    assert_eq!(out.status(), ReserveStatus::Reserved);
    assert_eq!(out.reservation.allocations[0].warehouse, wh("sh"));
    assert_eq!(
        level(&ledger, "apple", "sh"),
        StockLevel {
            on_hand: 10,
            reserved: 4,
            shipped: 0,
            safety: 0
        }
    );

    let done = ledger
        .commit(
            &order("o1"),
            &SettleRequest::lines("parcel-1", &[(1, 3)]),
            t0(),
        )
        .unwrap();
    assert_eq!(done.units(), 3);
    assert_eq!(
        level(&ledger, "apple", "sh"),
        StockLevel {
            on_hand: 7,
            reserved: 1,
            shipped: 3,
            safety: 0
        }
    );

    let back = ledger
        .release(&order("o1"), &SettleRequest::everything("cancel"), t0())
        .unwrap();
    assert_eq!(back.units(), 1);
    assert_eq!(
        level(&ledger, "apple", "sh"),
        StockLevel {
            on_hand: 7,
            reserved: 0,
            shipped: 3,
            safety: 0
        }
    );
    let view = ledger.reservation(&order("o1")).unwrap().unwrap();
    assert_eq!(view.state, ReservationState::Committed);
    assert_eq!(
        (
            view.allocations[0].committed,
            view.allocations[0].released,
            view.held()
        ),
        (3, 1, 0)
    );
    assert!(view.confirmed);
}

#[test]
fn out_of_stock_is_all_or_nothing_and_names_the_short_line() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 5), ("pear", "sh", 1)]);
    let out = ledger
        .reserve(
            &request("o1", "app", &[(1, "apple", 3), (2, "pear", 4)]),
            t0(),
        )
        .unwrap();
    assert_eq!(out.status(), ReserveStatus::OutOfStock);
    assert!(out.reservation.allocations.is_empty());
    assert_eq!(out.reservation.shortages.len(), 1);
    let short = &out.reservation.shortages[0];
    assert_eq!((short.line_no, short.requested, short.short), (2, 4, 4));
    let exception = out.exception.unwrap();
    assert_eq!(exception.code, ExceptionCode::OutOfStock);
    assert_eq!(exception.route, ExceptionRoute::Restock);
    assert!(exception.detail.contains("line 2"), "{}", exception.detail);
    // Line 1 was taken and given back.
    assert_eq!(level(&ledger, "apple", "sh").reserved, 0);
    assert_eq!(level(&ledger, "pear", "sh").reserved, 0);
}

#[test]
fn partial_channel_keeps_what_it_could_get() {
    let store = MemoryStore::new();
    let ledger = setup(
        &store,
        &[("apple", "sh", 2), ("apple", "bj", 1), ("pear", "sh", 5)],
    );
    let out = ledger
        .reserve(
            &request("o1", "pos", &[(1, "apple", 5), (2, "pear", 2)]),
            t0(),
        )
        .unwrap();
    assert_eq!(out.status(), ReserveStatus::PartiallyReserved);
    assert_eq!(out.reserved_units(), 5);
    let short = &out.reservation.shortages[0];
    assert_eq!((short.line_no, short.available, short.short), (1, 3, 2));
    assert_eq!(
        out.exception.map(|e| e.code),
        Some(ExceptionCode::OutOfStock)
    );
    assert_eq!(level(&ledger, "apple", "sh").reserved, 2);
    assert_eq!(level(&ledger, "apple", "bj").reserved, 1);
}

#[test]
fn split_across_warehouses_only_when_allowed() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 3), ("apple", "bj", 5)]);
    // app: no split; neither warehouse has 6 alone.
    let refused = ledger
        .reserve(&request("o1", "app", &[(1, "apple", 6)]), t0())
        .unwrap();
    assert_eq!(refused.status(), ReserveStatus::OutOfStock);
    // app: 4 fits whole in bj only, so bj serves it although sh comes first.
    let whole = ledger
        .reserve(&request("o2", "app", &[(1, "apple", 4)]), t0())
        .unwrap();
    assert_eq!(whole.reservation.allocations.len(), 1);
    assert_eq!(whole.reservation.allocations[0].warehouse, wh("bj"));
    ledger
        .release(&order("o2"), &SettleRequest::everything("cancel"), t0())
        .unwrap();
    // pos splits by priority: sh 3 then bj 3.
    let split = ledger
        .reserve(&request("o3", "pos", &[(1, "apple", 6)]), t0())
        .unwrap();
    let parts: Vec<(String, i64)> = split
        .reservation
        .allocations
        .iter()
        .map(|a| (a.warehouse.0.clone(), a.quantity))
        .collect();
    assert_eq!(parts, [("sh".to_string(), 3), ("bj".to_string(), 3)]);
    // Committing the line drains both allocations.
    let done = ledger
        .commit(&order("o3"), &SettleRequest::lines("p", &[(1, 5)]), t0())
        .unwrap();
    assert_eq!(done.units(), 5);
    assert_eq!(
        level(&ledger, "apple", "sh").on_hand + level(&ledger, "apple", "bj").on_hand,
        3
    );
}

#[test]
fn nearest_strategy_serves_from_the_closest_warehouse() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 5), ("apple", "bj", 5)]);
    let mut req = request("o1", "near", &[(1, "apple", 7)]);
    req.deliver_to = Some(GeoPoint {
        lat: 39.95,
        lng: 116.3,
    });
    let out = ledger.reserve(&req, t0()).unwrap();
    let parts: Vec<(String, i64)> = out
        .reservation
        .allocations
        .iter()
        .map(|a| (a.warehouse.0.clone(), a.quantity))
        .collect();
    assert_eq!(parts, [("bj".to_string(), 5), ("sh".to_string(), 2)]);
    // An explicit strategy overrides the channel's.
    let policy = ChannelPolicy {
        allow_split: true,
        ..ChannelPolicy::default()
    };
    let most = ledger
        .reserve_with(
            &request("o2", "app", &[(1, "apple", 3)]),
            &policy,
            &MostStock,
            t0(),
        )
        .unwrap();
    assert_eq!(most.reservation.allocations[0].warehouse, wh("sh"));
}

#[test]
fn retries_never_double_count() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 10)]);
    let req = request("o1", "app", &[(1, "apple", 4)]);
    let first = ledger.reserve(&req, t0()).unwrap();
    let again = ledger.reserve(&req, t0()).unwrap();
    assert!(!first.replayed && again.replayed);
    assert_eq!(again.reservation, first.reservation);
    assert_eq!(level(&ledger, "apple", "sh").reserved, 4);

    let commit = SettleRequest::lines("parcel-1", &[(1, 2)]);
    let c1 = ledger.commit(&order("o1"), &commit, t0()).unwrap();
    let c2 = ledger.commit(&order("o1"), &commit, t0()).unwrap();
    assert_eq!((c1.units(), c2.units(), c2.replayed), (2, 2, true));
    assert_eq!(
        level(&ledger, "apple", "sh"),
        StockLevel {
            on_hand: 8,
            reserved: 2,
            shipped: 2,
            safety: 0
        }
    );

    let release = SettleRequest::everything("refund-9");
    assert_eq!(
        ledger
            .release(&order("o1"), &release, t0())
            .unwrap()
            .units(),
        2
    );
    assert!(
        ledger
            .release(&order("o1"), &release, t0())
            .unwrap()
            .replayed
    );
    // A different release id finds nothing left to release.
    assert_eq!(
        ledger
            .release(&order("o1"), &SettleRequest::everything("other"), t0())
            .unwrap()
            .units(),
        0
    );
    assert_eq!(
        level(&ledger, "apple", "sh"),
        StockLevel {
            on_hand: 8,
            reserved: 0,
            shipped: 2,
            safety: 0
        }
    );

    let adjust = AdjustRequest {
        sku: sku("apple"),
        warehouse: wh("sh"),
        change: Adjustment::Delta(5),
        reason: "receipt".into(),
        reference: Some("GRN-1".into()),
    };
    assert_eq!(ledger.adjust(&adjust, t0()).unwrap().applied, 5);
    assert!(ledger.adjust(&adjust, t0()).unwrap().replayed);
    assert_eq!(level(&ledger, "apple", "sh").on_hand, 13);
    // The same goods receipt's next line (another SKU) is its own adjustment, not a
    // replay of the first one's answer.
    ledger.define_sku(&SkuStock::new(sku("pear"))).unwrap();
    let pear = AdjustRequest {
        sku: sku("pear"),
        ..adjust.clone()
    };
    let second_line = ledger.adjust(&pear, t0()).unwrap();
    assert_eq!((second_line.applied, second_line.replayed), (5, false));
    assert_eq!(level(&ledger, "pear", "sh").on_hand, 5);
    assert!(ledger.adjust(&pear, t0()).unwrap().replayed);
    assert_eq!(level(&ledger, "pear", "sh").on_hand, 5);
}

#[test]
fn a_refused_order_can_be_tried_again_after_restock() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 1)]);
    let req = request("o1", "app", &[(1, "apple", 3)]);
    assert_eq!(
        ledger.reserve(&req, t0()).unwrap().status(),
        ReserveStatus::OutOfStock
    );
    let restock = AdjustRequest {
        sku: sku("apple"),
        warehouse: wh("sh"),
        change: Adjustment::Delta(5),
        reason: "receipt".into(),
        reference: None,
    };
    // A confirm and a cancel of the refused attempt do not carry over to the next one.
    assert_eq!(ledger.confirm(&order("o1")).unwrap(), Fate::Confirmed);
    let cancel = SettleRequest::everything("c");
    assert_eq!(
        ledger.release(&order("o1"), &cancel, t0()).unwrap().units(),
        0
    );
    ledger.adjust(&restock, t0()).unwrap();
    let second = ledger.reserve(&req, t0()).unwrap();
    assert_eq!(
        (
            second.status(),
            second.replayed,
            second.reservation.refusals
        ),
        (ReserveStatus::Reserved, false, 1)
    );
    assert!(ledger.reserve(&req, t0()).unwrap().replayed);
    assert_eq!(level(&ledger, "apple", "sh").reserved, 3);
    let half = SettleRequest::lines("c", &[(1, 1)]);
    let released = ledger.release(&order("o1"), &half, t0()).unwrap();
    assert_eq!((released.units(), released.replayed), (1, false));
    let late = t0() + Duration::hours(1);
    assert_eq!(
        ledger.expire(&order("o1"), late).unwrap(),
        ExpireOutcome::Expired { released: 2 }
    );
    assert_eq!(level(&ledger, "apple", "sh").reserved, 0);
}

#[test]
fn expiry_releases_unconfirmed_holds_only() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 10)]);
    ledger
        .reserve(&request("o1", "app", &[(1, "apple", 2)]), t0())
        .unwrap();
    ledger
        .reserve(&request("o2", "app", &[(1, "apple", 3)]), t0())
        .unwrap();
    ledger
        .reserve(
            &request("o3", "app", &[(1, "apple", 1)]),
            t0() + Duration::minutes(10),
        )
        .unwrap();
    assert_eq!(ledger.confirm(&order("o2")).unwrap(), Fate::Confirmed);
    assert_eq!(
        ledger.expire(&order("o1"), t0()).unwrap(),
        ExpireOutcome::NotDue
    );

    let later = t0() + Duration::minutes(16);
    let report = ledger.sweep_expired(later, 100).unwrap();
    assert_eq!(report.expired, vec![(order("o1"), 2)]);
    assert_eq!(level(&ledger, "apple", "sh").reserved, 4);
    assert_eq!(
        ledger.reservation(&order("o1")).unwrap().unwrap().state,
        ReservationState::Expired
    );
    // Committing an expired order ships nothing; confirm reports the loss.
    let late = ledger
        .commit(&order("o1"), &SettleRequest::everything("p"), later)
        .unwrap();
    assert!(late.expired && late.units() == 0);
    assert_eq!(ledger.confirm(&order("o1")).unwrap(), Fate::Expired);

    let much_later = t0() + Duration::minutes(30);
    let report = ledger.sweep_expired(much_later, 100).unwrap();
    assert_eq!(report.expired, vec![(order("o3"), 1)]);
    assert_eq!(
        level(&ledger, "apple", "sh").reserved,
        3,
        "o2 was confirmed"
    );
    // Nothing left to do; the cursor moved on.
    let again = ledger.sweep_expired(much_later, 100).unwrap();
    assert!(again.expired.is_empty());
    assert_eq!(again.cursor, bucket_of(much_later));
}

#[test]
fn decrease_never_takes_on_hand_below_reserved() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 10)]);
    ledger
        .reserve(&request("o1", "app", &[(1, "apple", 6)]), t0())
        .unwrap();
    let stocktake = AdjustRequest {
        sku: sku("apple"),
        warehouse: wh("sh"),
        change: Adjustment::Set(4),
        reason: "stocktake".into(),
        reference: None,
    };
    let out = ledger.adjust(&stocktake, t0()).unwrap();
    assert_eq!((out.requested, out.applied, out.held_back), (-6, -4, 2));
    assert_eq!(out.level.on_hand, 6);
    let events = audit_log(&store, 1, 100).unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.kind, StockEventKind::Adjust);
    assert_eq!(last.changes[0].on_hand, -4);
}

#[test]
fn a_sweep_after_a_long_pause_catches_up_over_several_runs() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 10)]);
    ledger.sweep_expired(t0(), 100).unwrap();
    ledger
        .reserve(&request("o1", "app", &[(1, "apple", 2)]), t0())
        .unwrap();
    let two_days = t0() + Duration::days(2);
    ledger
        .reserve(
            &request("o2", "app", &[(1, "apple", 3)]),
            two_days - Duration::hours(1),
        )
        .unwrap();
    let mut expired = Vec::new();
    let mut runs = 0;
    loop {
        let report = ledger.sweep_expired(two_days, 100).unwrap();
        expired.extend(report.expired);
        runs += 1;
        if !report.truncated {
            break;
        }
        assert!(runs < 20, "the cursor must make progress");
    }
    assert!(runs > 1);
    assert_eq!(expired, vec![(order("o1"), 2), (order("o2"), 3)]);
    assert_eq!(level(&ledger, "apple", "sh").reserved, 0);
}

#[test]
fn warehouses_and_policies_set_one_at_a_time_leave_the_rest() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 10)]);
    let go = &mut || true;
    // A new warehouse joins the list; an existing one is replaced in place.
    let gz = Warehouse {
        id: wh("gz"),
        name: "Guangzhou".into(),
        location: None,
        priority: 0,
    };
    ledger.put_warehouse(&gz, go).unwrap();
    let renamed = Warehouse {
        name: "Shanghai North".into(),
        ..ledger.catalog().unwrap().warehouses[0].clone()
    };
    ledger.put_warehouse(&renamed, go).unwrap();
    let cat = ledger.catalog().unwrap();
    let ids: Vec<&str> = cat.warehouses.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, vec!["sh", "bj", "gz"]);
    assert_eq!(cat.warehouses[0].name, "Shanghai North");
    assert_eq!(cat.channels, catalog().channels);
    // The reserve path sees it: gz has priority 0, so it serves first.
    ledger
        .adjust(
            &AdjustRequest {
                sku: sku("apple"),
                warehouse: wh("gz"),
                change: Adjustment::Set(2),
                reason: "opening stock".into(),
                reference: None,
            },
            t0(),
        )
        .unwrap();
    let out = ledger
        .reserve(&request("o1", "app", &[(1, "apple", 2)]), t0())
        .unwrap();
    assert_eq!(out.reservation.allocations[0].warehouse, wh("gz"));

    // A policy for one channel, checked against the warehouses there are.
    let only_gz = ChannelPolicy {
        accept_partial: true,
        warehouses: Some(vec![wh("gz")]),
        ..ChannelPolicy::default()
    };
    ledger
        .put_channel_policy(&channel("eleme"), &only_gz, go)
        .unwrap();
    let moon = ChannelPolicy {
        warehouses: Some(vec![wh("moon")]),
        ..ChannelPolicy::default()
    };
    assert!(matches!(
        ledger.put_channel_policy(&channel("eleme"), &moon, go),
        Err(StockError::UnknownWarehouse(_))
    ));
    let bad_id = Warehouse {
        id: wh("a b"),
        ..gz.clone()
    };
    assert!(ledger.put_warehouse(&bad_id, go).is_err());
    let cat = ledger.catalog().unwrap();
    assert_eq!(cat.channels[&channel("eleme")], only_gz);
    assert_eq!(cat.channels.len(), catalog().channels.len() + 1);
    assert_eq!(cat.warehouses.len(), 3);

    // Replacing the whole catalog replaces what was set one at a time too.
    ledger.put_catalog(&catalog(), go).unwrap();
    assert_eq!(ledger.catalog().unwrap(), catalog());
}

#[test]
fn operators_setting_warehouses_at_once_lose_none() {
    let store = std::sync::Arc::new(MemoryStore::new());
    ReservationLedger::new(&*store)
        .put_catalog(&catalog(), &mut || true)
        .unwrap();
    let threads: Vec<_> = (0..12)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                let ledger = ReservationLedger::new(&*store);
                let pause = &mut || {
                    std::thread::yield_now();
                    true
                };
                if i % 2 == 0 {
                    let w = Warehouse {
                        id: wh(&format!("w{i}")),
                        name: String::new(),
                        location: None,
                        priority: i,
                    };
                    ledger.put_warehouse(&w, pause).unwrap();
                } else {
                    let c = channel(&format!("c{i}"));
                    ledger
                        .put_channel_policy(&c, &ChannelPolicy::default(), pause)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let cat = ReservationLedger::new(&*store).catalog().unwrap();
    assert_eq!(cat.warehouses.len(), 2 + 6);
    assert_eq!(cat.channels.len(), catalog().channels.len() + 6);
}

#[test]
fn an_adjustment_names_its_journal_entry_and_the_journal_filters_by_sku() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 10), ("pear", "sh", 5)]);
    let receipt = |units: i64| AdjustRequest {
        sku: sku("pear"),
        warehouse: wh("sh"),
        change: Adjustment::Delta(units),
        reason: "receipt".into(),
        reference: Some(format!("GRN-{units}")),
    };
    let done = ledger.adjust(&receipt(3), t0()).unwrap();
    let seq = done.seq.expect("a change that moved stock is journalled");
    let entry = &audit_log(&store, seq, 1).unwrap()[0];
    assert_eq!(entry.seq, seq);
    assert_eq!(entry.changes[0].sku, sku("pear"));
    // A replay answers the first outcome, entry included.
    assert_eq!(ledger.adjust(&receipt(3), t0()).unwrap().seq, Some(seq));
    ledger
        .reserve(
            &request("o1", "app", &[(1, "apple", 2), (2, "pear", 1)]),
            t0(),
        )
        .unwrap();
    let kinds =
        |events: &[StockEvent]| -> Vec<StockEventKind> { events.iter().map(|e| e.kind).collect() };
    let apple = audit_log_of(&store, &sku("apple"), 1, 100).unwrap();
    let pear = audit_log_of(&store, &sku("pear"), 1, 100).unwrap();
    assert_eq!(
        kinds(&apple),
        vec![StockEventKind::Adjust, StockEventKind::Reserve]
    );
    assert_eq!(
        kinds(&pear),
        vec![
            StockEventKind::Adjust,
            StockEventKind::Adjust,
            StockEventKind::Reserve
        ]
    );
    assert_eq!(apple[1].seq, pear[2].seq, "one event, both SKUs");
    assert!(audit_log_of(&store, &sku("kiwi"), 1, 100)
        .unwrap()
        .is_empty());
    // The same journal range as without the filter.
    assert!(audit_log_of(&store, &sku("apple"), 2, 2)
        .unwrap()
        .is_empty());
}

/// Issue 15, item 4: a partial refund releases exactly the named lines' units; a second
/// one of the same line releases only what is still held; the full refund afterwards
/// releases the rest; a redelivered refund releases nothing again.
#[test]
fn partial_refund_then_full_refund_release_exactly_what_is_held() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 10), ("pear", "sh", 10)]);
    ledger
        .reserve(
            &request("o1", "app", &[(1, "apple", 4), (2, "pear", 3)]),
            t0(),
        )
        .unwrap();
    let partial = ledger
        .release(
            &order("o1"),
            &SettleRequest::lines("refund:r1:agree", &[(1, 3)]),
            t0(),
        )
        .unwrap();
    assert_eq!(partial.units(), 3);
    assert_eq!(level(&ledger, "apple", "sh").reserved, 1);
    assert_eq!(level(&ledger, "pear", "sh").reserved, 3, "pear untouched");

    let again = ledger
        .release(
            &order("o1"),
            &SettleRequest::lines("refund:r1:agree", &[(1, 3)]),
            t0(),
        )
        .unwrap();
    assert!(again.replayed);
    assert_eq!(
        level(&ledger, "apple", "sh").reserved,
        1,
        "redelivery: nothing"
    );

    let second = ledger
        .release(
            &order("o1"),
            &SettleRequest::lines("refund:r2:agree", &[(1, 3)]),
            t0(),
        )
        .unwrap();
    assert_eq!(second.units(), 1, "never more than still held");

    let full = ledger
        .release(
            &order("o1"),
            &SettleRequest::everything("order-cancelled"),
            t0(),
        )
        .unwrap();
    assert_eq!(full.units(), 3, "the full refund releases the pear only");
    for sku in ["apple", "pear"] {
        let l = level(&ledger, sku, "sh");
        assert_eq!((l.on_hand, l.reserved, l.shipped), (10, 0, 0), "{sku}");
    }
}

/// Issue 15, item 4: units already shipped are not held, so a refund after shipping
/// releases only the units of the line that were never shipped, and on hand stays what
/// the shipment left.
#[test]
fn refund_after_ship_releases_only_the_unshipped_units() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 10)]);
    ledger
        .reserve(&request("o1", "app", &[(1, "apple", 5)]), t0())
        .unwrap();
    ledger
        .commit(
            &order("o1"),
            &SettleRequest::lines("parcel-1", &[(1, 3)]),
            t0(),
        )
        .unwrap();
    let refund = ledger
        .release(
            &order("o1"),
            &SettleRequest::lines("refund:r1:agree", &[(1, 5)]),
            t0(),
        )
        .unwrap();
    assert_eq!(refund.units(), 2, "the 3 shipped units stay shipped");
    assert_eq!(
        level(&ledger, "apple", "sh"),
        StockLevel {
            on_hand: 7,
            reserved: 0,
            shipped: 3,
            safety: 0
        }
    );
    let after = ledger
        .release(
            &order("o1"),
            &SettleRequest::lines("refund:r2:agree", &[(1, 1)]),
            t0(),
        )
        .unwrap();
    assert_eq!(
        after.units(),
        0,
        "everything shipped or released: nothing more"
    );
    assert_eq!(level(&ledger, "apple", "sh").on_hand, 7);
}
