//! Channel sellable views and the outbox they are synced through.

use chrono::Duration;

use super::*;

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
