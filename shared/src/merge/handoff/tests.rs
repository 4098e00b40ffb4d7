use chrono::Duration;

use super::*;
use crate::channel::ChannelEvent;
use crate::merge::fixtures::*;
use crate::merge::{close_due, deliver, offer, RuleSet};
use crate::order::{book, Fulfilment, TemperatureZone};
use crate::split::ParcelLimits;
use crate::store::MemoryStore;

fn pickups() -> PickupPoints {
    parse_pickups(
        r#"{"stores": {"store-1": {"lat": 31.2200, "lng": 121.5000, "prep_minutes": 15}}}"#,
    )
    .unwrap()
}

/// Offer `orders`, close their windows at minute 200, deliver every released group.
fn delivered(
    orders: &[Order],
    limits: &ParcelLimits,
) -> (MemoryStore, MemoryStore, Vec<GroupDelivery>) {
    let (merge, book_store) = (MemoryStore::new(), MemoryStore::new());
    let events: Vec<ChannelEvent> = orders
        .iter()
        .map(|o| ChannelEvent::Order {
            order: Box::new(o.clone()),
        })
        .collect();
    book::apply(&book_store, &events).unwrap();
    let mut released = Vec::new();
    for o in orders {
        // An excluded order (an exception, say) leaves alone at once.
        released.extend(
            offer(&merge, &RuleSet::default(), o, o.placed_at)
                .unwrap()
                .released,
        );
    }
    released.extend(close_due(&merge, &RuleSet::default(), at(200)).unwrap());
    let deliveries = released
        .iter()
        .map(|g| {
            deliver(&merge, &book_store, limits, g, &[], at(200))
                .unwrap()
                .delivery
        })
        .collect();
    (merge, book_store, deliveries)
}

#[test]
fn merged_orders_become_one_ready_parcel_with_store_pickup_and_earliest_promise() {
    let a = order("app", "A1", "phone:13800000000", home(), 0);
    let mut b = order("meituan", "M1", "phone:13800000000", home(), 10);
    b.promised.end = Some(at(90));
    let (_, _, deliveries) = delivered(&[a.clone(), b.clone()], &ParcelLimits::default());
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    let ready = ready_parcels(d, &[a.clone(), b.clone()], &pickups());
    assert_eq!(ready.len(), 1);
    let r = &ready[0];
    assert_eq!(r.order_ids.len(), 2);
    let p = &r.parcel;
    assert_eq!(p.pickup, Some(Point::geo(31.2200, 121.5000)));
    assert_eq!(p.dropoff, Some(Point::geo(31.2304, 121.5150)));
    assert_eq!(p.promised_at, at(90).timestamp());
    assert_eq!(
        p.ready_at,
        (d.group.released_at + Duration::minutes(15)).timestamp()
    );
    assert_eq!(p.size.weight_g, 2 * 1000);
    assert_eq!(p.cold_chain, ColdChain::Ambient);
}

#[test]
fn frozen_and_ambient_parcels_keep_their_cold_chain_and_unknown_store_has_no_pickup() {
    let mut a = order("app", "A1", "phone:13800000000", home(), 0);
    a.store_id = Some("store-unknown".into());
    a.lines.push(line(
        2,
        "dumplings",
        1,
        rust_decimal::Decimal::new(2000, 2),
        800,
        1000,
        TemperatureZone::Frozen,
    ));
    let (_, _, deliveries) = delivered(std::slice::from_ref(&a), &ParcelLimits::default());
    let ready = ready_parcels(&deliveries[0], std::slice::from_ref(&a), &pickups());
    let mut chains: Vec<ColdChain> = ready.iter().map(|r| r.parcel.cold_chain).collect();
    chains.sort_by_key(|c| *c as u8);
    assert_eq!(chains, vec![ColdChain::Ambient, ColdChain::Frozen]);
    // Each parcel names exactly its own lines, so dispatch commits those units only.
    for r in &ready {
        let expected_line = if r.parcel.cold_chain == ColdChain::Frozen {
            2
        } else {
            1
        };
        let lines: Vec<(u32, u32)> = r.lines.iter().map(|l| (l.line_no, l.quantity)).collect();
        let qty = a
            .lines
            .iter()
            .find(|l| l.line_no == expected_line)
            .unwrap()
            .quantity;
        assert_eq!(lines, vec![(expected_line, qty)]);
    }
    assert!(ready.iter().all(|r| r.parcel.pickup.is_none()));
    // Ready 10 minutes (the default) after release.
    assert!(ready.iter().all(|r| r.parcel.ready_at
        == (deliveries[0].group.released_at + Duration::minutes(10)).timestamp()));
}

#[test]
fn orders_no_rider_carries_are_not_handed_over() {
    let mut a = order("groupbuy", "G1", "phone:13800000000", home(), 0);
    a.fulfilment = Fulfilment::PickupPoint {
        point_id: "P1".into(),
        name: None,
        address: Some(home()),
    };
    let (_, _, deliveries) = delivered(std::slice::from_ref(&a), &ParcelLimits::default());
    for d in &deliveries {
        assert!(ready_parcels(d, std::slice::from_ref(&a), &pickups()).is_empty());
    }
}

#[test]
fn every_delivered_group_is_pending_until_handed_over() {
    let a = order("app", "A1", "phone:13800000000", home(), 0);
    let b = order(
        "app",
        "B1",
        "phone:13900000000",
        address("another door", 31.0, 121.0),
        0,
    );
    let (merge, _, deliveries) = delivered(&[a, b], &ParcelLimits::default());
    assert_eq!(deliveries.len(), 2);
    let mut pending_now = pending(&merge, 10, at(200)).unwrap();
    pending_now.sort();
    let mut all: Vec<String> = deliveries
        .iter()
        .map(|d| d.group.group_id.clone())
        .collect();
    all.sort();
    assert_eq!(pending_now, all);
    // A repeated delivery does not queue the group twice.
    let again = deliver(
        &merge,
        &MemoryStore::new(),
        &ParcelLimits::default(),
        &deliveries[0].group,
        &[],
        at(201),
    )
    .unwrap();
    assert!(!again.first);
    assert_eq!(pending(&merge, 10, at(200)).unwrap().len(), 2);

    mark_handed_over(&merge, &all[0]).unwrap();
    let left = pending(&merge, 10, at(200)).unwrap();
    assert_eq!(left, vec![all[1].clone()]);
    mark_handed_over(&merge, &all[1]).unwrap();
    assert!(pending(&merge, 10, at(200)).unwrap().is_empty());
    // The cursor moved past both: a later group is still found.
    let c = order("app", "C1", "phone:13700000000", home(), 300);
    let (m2, _, _) = (merge, (), ());
    offer(&m2, &RuleSet::default(), &c, c.placed_at).unwrap();
    let released = close_due(&m2, &RuleSet::default(), at(600)).unwrap();
    let store = MemoryStore::new();
    book::apply(&store, &[ChannelEvent::Order { order: Box::new(c) }]).unwrap();
    for g in &released {
        deliver(&m2, &store, &ParcelLimits::default(), g, &[], at(600)).unwrap();
    }
    assert_eq!(pending(&m2, 10, at(600)).unwrap().len(), released.len());
}

#[test]
fn pickup_tables_are_validated_with_paths() {
    let errs = parse_pickups(
        r#"{"stores": {"s1": {"lat": 95.0, "lng": 121.0}, "s2": {"lat": 31.0, "lng": 121.0, "prep_minutes": 5000}}}"#,
    )
    .unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, vec!["$.stores.s1", "$.stores.s2.prep_minutes"]);
    assert!(
        parse_pickups(r#"{"shops": {}}"#).is_err(),
        "unknown fields are refused"
    );
    assert!(parse_pickups("[").is_err());
    let store = MemoryStore::new();
    assert_eq!(load_pickups(&store).unwrap(), PickupPoints::default());
    install_pickups(&store, r#"{"stores": {"s1": {"lat": 31.0, "lng": 121.0}}}"#)
        .unwrap()
        .unwrap();
    assert!(load_pickups(&store).unwrap().stores.contains_key("s1"));
}

#[test]
fn one_store_at_a_time_leaves_the_others_and_the_defaults() {
    let store = MemoryStore::new();
    install_pickups(
        &store,
        r#"{"stores": {"s1": {"lat": 31.0, "lng": 121.0}}, "default_prep_minutes": 7}"#,
    )
    .unwrap()
    .unwrap();
    let p2 = install_pickup(
        &store,
        "门店/2",
        r#"{"lat": 31.5, "lng": 121.5, "station": "st-2"}"#,
    )
    .unwrap()
    .unwrap();
    assert_eq!(p2.station(), Station::parse("st-2").unwrap());
    install_pickup(
        &store,
        "s1",
        r#"{"lat": 30.0, "lng": 120.0, "prep_minutes": 3}"#,
    )
    .unwrap()
    .unwrap();
    let table = load_pickups(&store).unwrap();
    assert_eq!(table.default_prep_minutes, 7);
    assert_eq!(table.stores.len(), 2);
    assert_eq!(table.stores["s1"].prep_minutes, Some(3));
    assert_eq!(table.stores["门店/2"], p2);
    // A hand-over reads only its own stores.
    let some = load_pickups_for(&store, &["s1", "nowhere"]).unwrap();
    assert_eq!(some.stores.keys().collect::<Vec<_>>(), vec!["s1"]);
    assert_eq!(some.default_prep_minutes, 7);
    // Refused entries name their paths and change nothing.
    let errs = install_pickup(&store, "s1", r#"{"lat": 91, "lng": 0, "station": "a b"}"#)
        .unwrap()
        .unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, vec!["$", "$.station"]);
    assert!(install_pickup(&store, "", r#"{"lat": 1, "lng": 1}"#)
        .unwrap()
        .is_err());
    assert!(
        install_pickup(&store, "s1", r#"{"lat": 1, "lng": 1, "x": 1}"#)
            .unwrap()
            .is_err()
    );
    assert_eq!(
        load_pickup(&store, "s1").unwrap().unwrap().prep_minutes,
        Some(3)
    );
    // Removing one store; a whole table replaces every store's entry.
    assert!(remove_pickup(&store, "s1").unwrap());
    assert!(!remove_pickup(&store, "s1").unwrap());
    assert_eq!(load_pickup(&store, "s1").unwrap(), None);
    install_pickups(&store, r#"{"stores": {"s3": {"lat": 31.0, "lng": 121.0}}}"#)
        .unwrap()
        .unwrap();
    let table = load_pickups(&store).unwrap();
    assert_eq!(table.stores.keys().collect::<Vec<_>>(), vec!["s3"]);
    assert_eq!(table.default_prep_minutes, 10);
}

#[test]
fn a_table_stored_before_per_store_keys_still_counts() {
    let store = MemoryStore::new();
    store
        .set(
            "merge/config/pickups",
            br#"{"stores": {"old": {"lat": 31.0, "lng": 121.0}}}"#,
        )
        .unwrap();
    assert!(load_pickup(&store, "old").unwrap().is_some());
    install_pickup(&store, "new", r#"{"lat": 31.0, "lng": 121.0}"#)
        .unwrap()
        .unwrap();
    assert_eq!(load_pickups(&store).unwrap().stores.len(), 2);
    assert!(remove_pickup(&store, "old").unwrap());
    assert_eq!(
        load_pickups(&store)
            .unwrap()
            .stores
            .keys()
            .collect::<Vec<_>>(),
        vec!["new"]
    );
}

#[test]
fn parcels_go_to_the_station_of_their_store() {
    let a = order("app", "A1", "phone:13800000000", home(), 0);
    let (_, _, deliveries) = delivered(std::slice::from_ref(&a), &ParcelLimits::default());
    let plain = ready_parcels(&deliveries[0], std::slice::from_ref(&a), &pickups());
    assert!(plain[0].station.is_default());
    let mut points = pickups();
    points.stores.get_mut("store-1").unwrap().station = Some("pudong-3".into());
    let ready = ready_parcels(&deliveries[0], std::slice::from_ref(&a), &points);
    assert_eq!(ready[0].station.as_str(), "pudong-3");
    // The station travels with the parcel to dispatch.
    let json = serde_json::to_value(&ready[0]).unwrap();
    assert_eq!(json["station"], "pudong-3");
    let back: ReadyParcel = serde_json::from_value(json).unwrap();
    assert_eq!(back, ready[0]);
}

#[test]
fn a_line_no_parcel_can_hold_is_an_exception_and_nothing_is_handed_over() {
    let mut a = order("app", "A1", "phone:13800000000", home(), 0);
    a.lines[0].unit_weight_g = 30_000;
    a.lines[0].quantity = 1;
    let limits = ParcelLimits {
        split_lines: false,
        ..ParcelLimits::default()
    };
    let (_, book_store, deliveries) = delivered(std::slice::from_ref(&a), &limits);
    let d = &deliveries[0];
    assert!(d.plan.is_none());
    assert_eq!(d.split_errors.len(), 1);
    assert!(ready_parcels(d, std::slice::from_ref(&a), &pickups()).is_empty());
    let stored = book::get_order(&book_store, &a.id).unwrap().unwrap();
    let codes: Vec<_> = stored.exceptions.iter().map(|e| e.code).collect();
    assert_eq!(codes, vec![crate::order::ExceptionCode::ParcelTooLarge]);
}

#[test]
fn orders_held_by_an_exception_stay_with_customer_service() {
    use crate::order::{ExceptionCode, OrderException};
    let mut short = order("app", "A1", "phone:13800000000", home(), 0);
    short.exceptions.push(OrderException::new(
        ExceptionCode::OutOfStock,
        "line 1: 2 short",
    ));
    let (_, _, deliveries) = delivered(std::slice::from_ref(&short), &ParcelLimits::default());
    for d in &deliveries {
        assert!(ready_parcels(d, std::slice::from_ref(&short), &pickups()).is_empty());
    }
    // A price difference is for reconciliation: the goods still go out.
    let mut priced = order("app", "B1", "phone:13900000000", home(), 0);
    priced.exceptions.push(OrderException::new(
        ExceptionCode::PriceMismatch,
        "paid: 1 vs 2",
    ));
    let (_, _, deliveries) = delivered(std::slice::from_ref(&priced), &ParcelLimits::default());
    let n: usize = deliveries
        .iter()
        .map(|d| ready_parcels(d, std::slice::from_ref(&priced), &pickups()).len())
        .sum();
    assert_eq!(n, 1);
}
