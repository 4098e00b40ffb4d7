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
    assert_eq!(
        ledger
            .release(&order("o1"), &SettleRequest::everything("c"), t0())
            .unwrap()
            .units(),
        3
    );
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
fn channel_views_apply_ratio_cap_and_safety() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 100), ("apple", "bj", 20)]);
    let mut item = SkuStock::new(sku("apple"));
    item.safety.insert(wh("sh"), 10);
    ledger.define_sku(&item).unwrap();
    let views = ledger.sellable(&sku("apple")).unwrap();
    // sh available 90, bj 20. meituan: half of sh (45) capped at 30, none of bj.
    assert_eq!(views[&channel("app")], 110);
    assert_eq!(views[&channel("meituan")], 30);
    ledger
        .reserve(&request("o1", "app", &[(1, "apple", 50)]), t0())
        .unwrap();
    let views = ledger.sellable(&sku("apple")).unwrap();
    assert_eq!(views[&channel("app")], 60);
    assert_eq!(views[&channel("meituan")], 20);
    // Safety stock is never promised.
    let out = ledger
        .reserve(&request("o2", "app", &[(1, "apple", 41)]), t0())
        .unwrap();
    assert_eq!(out.status(), ReserveStatus::OutOfStock);
    assert_eq!(
        ChannelShare {
            ratio_bp: 3_333,
            cap: None
        }
        .view(10),
        3
    );
}

#[test]
fn outbox_gives_each_channel_its_newest_value_once() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 40)]);
    ledger
        .reserve(&request("o1", "app", &[(1, "apple", 4)]), t0())
        .unwrap();
    ledger
        .reserve(&request("o2", "app", &[(1, "apple", 6)]), t0())
        .unwrap();
    let batch = drain_outbox(&store, &channel("meituan"), 100, t0()).unwrap();
    assert_eq!(batch.updates.len(), 1);
    assert_eq!(batch.updates[0].sellable, 15, "half of 30 available");
    ack_outbox(&store, &batch).unwrap();
    assert!(drain_outbox(&store, &channel("meituan"), 100, t0())
        .unwrap()
        .updates
        .is_empty());
    // Other channels drain independently.
    let app = drain_outbox(&store, &channel("app"), 100, t0()).unwrap();
    assert_eq!(app.updates[0].sellable, 30);
    ledger
        .release(&order("o2"), &SettleRequest::everything("c"), t0())
        .unwrap();
    let next = drain_outbox(&store, &channel("meituan"), 100, t0()).unwrap();
    assert_eq!(next.updates[0].sellable, 18);
    assert!(next.updates[0].version > batch.updates[0].version);
}

#[test]
fn outbox_waits_for_a_young_hole_and_skips_an_abandoned_one() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 40)]);
    let before = crate::store::KeyValue::increment(&store, keys::LOG_LEN, 0).unwrap();
    // A writer claimed a slot and has not written it yet.
    store.increment(keys::LOG_LEN, 1).unwrap();
    ledger
        .reserve(&request("o1", "app", &[(1, "apple", 4)]), t0())
        .unwrap();
    let young = drain_outbox(&store, &channel("app"), 100, t0()).unwrap();
    assert_eq!(young.next_cursor, before);
    let old = drain_outbox(&store, &channel("app"), 100, t0() + Duration::minutes(5)).unwrap();
    assert_eq!(old.next_cursor, before + 2);
    assert_eq!(old.updates[0].sellable, 36);
}

#[test]
fn bad_input_is_refused_with_nothing_changed() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 10)]);
    ledger
        .reserve(&request("o1", "app", &[(1, "apple", 2)]), t0())
        .unwrap();
    let before = snapshot(&store);
    let cases: Vec<(StockError, u16, &str)> = vec![
        (
            ledger
                .reserve(&request("x", "app", &[(1, "apple", 0)]), t0())
                .unwrap_err(),
            422,
            "bad_quantity",
        ),
        (
            ledger
                .reserve(&request("x", "app", &[(1, "apple", -3)]), t0())
                .unwrap_err(),
            422,
            "bad_quantity",
        ),
        (
            ledger
                .reserve(&request("x", "app", &[(1, "kiwi", 1)]), t0())
                .unwrap_err(),
            404,
            "unknown_sku",
        ),
        (
            ledger.reserve(&request("x", "app", &[]), t0()).unwrap_err(),
            422,
            "empty_order",
        ),
        (
            ledger
                .reserve(
                    &request("x", "app", &[(1, "apple", 1), (1, "apple", 1)]),
                    t0(),
                )
                .unwrap_err(),
            422,
            "duplicate_line",
        ),
        (
            ledger
                .adjust(
                    &AdjustRequest {
                        sku: sku("apple"),
                        warehouse: wh("gz"),
                        change: Adjustment::Delta(1),
                        reason: String::new(),
                        reference: None,
                    },
                    t0(),
                )
                .unwrap_err(),
            404,
            "unknown_warehouse",
        ),
        (
            ledger
                .adjust(
                    &AdjustRequest {
                        sku: sku("apple"),
                        warehouse: wh("sh"),
                        change: Adjustment::Set(-1),
                        reason: String::new(),
                        reference: None,
                    },
                    t0(),
                )
                .unwrap_err(),
            422,
            "negative_stock",
        ),
        (
            ledger
                .commit(&order("nope"), &SettleRequest::everything("p"), t0())
                .unwrap_err(),
            404,
            "unknown_reservation",
        ),
        (
            ledger
                .release(&order("o1"), &SettleRequest::lines("r", &[(1, 0)]), t0())
                .unwrap_err(),
            422,
            "bad_quantity",
        ),
        (
            ledger
                .release(&order("o1"), &SettleRequest::lines("r", &[(7, 1)]), t0())
                .unwrap_err(),
            404,
            "unknown_line",
        ),
    ];
    for (error, status, code) in cases {
        assert_eq!(
            (error.http_status(), error.code()),
            (status, code),
            "{error}"
        );
    }
    assert_eq!(snapshot(&store), before);
    let mut bad = catalog();
    bad.channels
        .get_mut(&channel("meituan"))
        .unwrap()
        .shares
        .insert(wh("gz"), ChannelShare::default());
    assert_eq!(
        ledger.put_catalog(&bad).unwrap_err().code(),
        "unknown_warehouse"
    );
    assert_eq!(snapshot(&store), before);
}

#[test]
fn outbox_drops_a_late_older_value() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 40)]);
    ledger
        .reserve(&request("o1", "app", &[(1, "apple", 4)]), t0())
        .unwrap();
    let batch = drain_outbox(&store, &channel("app"), 100, t0()).unwrap();
    ack_outbox(&store, &batch).unwrap();
    let pushed = batch.updates[0].clone();
    // A slow writer fills a later slot with a value it read before `pushed` was read.
    let seq = store.increment(keys::LOG_LEN, 1).unwrap();
    let stale = StockEvent {
        seq,
        at: t0(),
        kind: StockEventKind::Release,
        order: None,
        reference: None,
        changes: vec![],
        sellable: vec![SellableUpdate {
            sku: sku("apple"),
            version: pushed.version - 1,
            channels: [(channel("app"), 40)].into_iter().collect(),
        }],
    };
    store.set_json(&keys::log_entry(seq), &stale).unwrap();
    let next = drain_outbox(&store, &channel("app"), 100, t0()).unwrap();
    assert!(next.updates.is_empty(), "{next:?}");
    assert_eq!(next.next_cursor, seq);
}

fn order_with(lines: Vec<(u32, Option<&str>, u32)>) -> crate::order::Order {
    use crate::order::*;
    use rust_decimal::Decimal;
    let channel = ChannelId::new("near");
    Order {
        id: OrderId::for_channel_order(&channel, "9001"),
        channel,
        channel_order_id: "9001".into(),
        store_id: None,
        customer: Customer {
            channel_user_id: None,
            name: None,
            phone: None,
            customer_key: "c".into(),
        },
        fulfilment: Fulfilment::Delivery {
            address: Some(Address {
                province: None,
                city: None,
                district: None,
                detail: "Chaoyang".into(),
                location: Some(BEIJING),
                merge_key: "k".into(),
            }),
        },
        lines: lines
            .into_iter()
            .map(|(line_no, sku, quantity)| OrderLine {
                line_no,
                channel_sku: format!("ch-{line_no}"),
                sku: sku.map(|s| SkuId(s.into())),
                name: String::new(),
                quantity,
                unit_price: Decimal::ONE,
                unit_weight_g: 0,
                unit_volume_cm3: 0,
                zone: TemperatureZone::Ambient,
            })
            .collect(),
        money: OrderMoney {
            currency: "CNY".into(),
            goods: Decimal::ZERO,
            discounts: vec![],
            delivery_fee: Decimal::ZERO,
            packaging_fee: Decimal::ZERO,
            paid: Decimal::ZERO,
        },
        promised: PromisedWindow {
            asap: true,
            start: None,
            end: None,
        },
        buyer_note: None,
        placed_at: t0(),
        source_time_zone: "Asia/Shanghai".into(),
        source_utc_offset_minutes: 480,
        history: vec![],
        exceptions: vec![],
    }
}

#[test]
fn a_unified_order_becomes_a_reserve_request() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 5), ("apple", "bj", 5)]);
    let req = ReserveRequest::for_order(&order_with(vec![(1, Some("apple"), 2)])).unwrap();
    assert_eq!(req.deliver_to, Some(BEIJING));
    let out = ledger.reserve(&req, t0()).unwrap();
    assert_eq!(
        out.reservation.allocations[0].warehouse,
        wh("bj"),
        "nearest to the Beijing address"
    );
    let unmapped = ReserveRequest::for_order(&order_with(vec![(1, None, 2)])).unwrap_err();
    assert_eq!(
        (unmapped.code(), unmapped.to_string().contains("ch-1")),
        ("unknown_sku", true)
    );
}
