use std::collections::{HashMap, HashSet};

use chrono::Duration;
use proptest::prelude::*;

use super::fixtures::*;
use super::*;
use crate::order::*;
use crate::store::{KeyValue, MemoryStore};

fn rules() -> RuleSet {
    RuleSet::default()
}

fn join_rule(extra: Vec<Condition>) -> RuleSet {
    let mut when = vec![
        Condition::SameCustomer,
        Condition::SameAddress {
            within_metres: None,
        },
    ];
    when.extend(extra);
    RuleSet {
        rules: vec![MergeRule {
            id: "j".into(),
            action: RuleAction::Join,
            when,
            description: None,
        }],
        ..RuleSet::default()
    }
}

fn permissive_join() -> RuleSet {
    RuleSet {
        rules: vec![MergeRule {
            id: "yes".into(),
            action: RuleAction::Join,
            when: vec![],
            description: None,
        }],
        ..RuleSet::default()
    }
}

fn v(o: &Order) -> MemberView {
    MemberView::of(o)
}

#[test]
fn seed_example_app_and_meituan_same_address_make_one_parcel() {
    let store = MemoryStore::new();
    let app = order("app", "A1", "phone:13800000000", home(), 0);
    let mt = order("meituan", "M1", "phone:13800000000", home(), 12);
    let d1 = offer(&store, &rules(), &app, at(0)).unwrap();
    let d2 = offer(&store, &rules(), &mt, at(12)).unwrap();
    assert!(matches!(d1.decision.outcome, MergeOutcome::Opened { .. }));
    assert!(
        matches!(d2.decision.outcome, MergeOutcome::Joined { .. }),
        "{:?}",
        d2.decision
    );
    assert_eq!(d2.decision.rule_id, "same-customer-address-window");
    assert!(close_due(&store, &rules(), at(29)).unwrap().is_empty());
    let released = close_due(&store, &rules(), at(31)).unwrap();
    assert_eq!(released.len(), 1);
    let ids: Vec<_> = released[0]
        .members
        .iter()
        .map(|m| m.order_id.clone())
        .collect();
    assert_eq!(ids, vec![app.id.clone(), mt.id.clone()]);
    assert!(
        close_due(&store, &rules(), at(40)).unwrap().is_empty(),
        "released once"
    );
    assert_eq!(
        released_group_of(&store, &mt.id)
            .unwrap()
            .map(|g| g.group_id),
        Some(released[0].group_id.clone())
    );
}

fn with_phone(mut o: Order, number: &str, privacy: bool) -> Order {
    o.customer.phone = Some(Phone {
        number: number.into(),
        extension: privacy.then(|| "5678".into()),
        is_privacy: privacy,
    });
    o.customer.customer_key = if privacy {
        format!("{}:user:u-{}", o.channel, o.channel_order_id)
    } else {
        format!("phone:{number}")
    };
    o
}

/// The seed's example as Meituan really sends it: a privacy number (`138xxxx1234`),
/// so the Meituan order's customer key is not the app's. The mask of both numbers and
/// the same door still make it one customer and one parcel.
#[test]
fn seed_example_holds_with_meituan_privacy_numbers() {
    let store = MemoryStore::new();
    let app = with_phone(order("app", "A1", "", home(), 0), "13812341234", false);
    let mt = with_phone(order("meituan", "M1", "", home(), 12), "138xxxx1234", true);
    assert_ne!(app.customer.customer_key, mt.customer.customer_key);
    offer(&store, &rules(), &app, at(0)).unwrap();
    let d2 = offer(&store, &rules(), &mt, at(12)).unwrap();
    assert!(
        matches!(d2.decision.outcome, MergeOutcome::Joined { .. }),
        "{:?}",
        d2.decision
    );
    let released = close_due(&store, &rules(), at(31)).unwrap();
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].members.len(), 2);
}

/// Two real numbers with the same mask at the same door are two people: never merged,
/// even by a rule set that joins everything.
#[test]
fn different_real_phones_with_one_mask_never_merge() {
    let a = with_phone(order("app", "A1", "", home(), 0), "13812341234", false);
    let b = with_phone(order("app", "B1", "", home(), 5), "13899991234", false);
    assert_eq!(v(&a).identity(), v(&b).identity());
    let verdict = evaluate(&permissive_join(), &v(&b), &[v(&a)], 30);
    assert!(!verdict.join, "{verdict:?}");
    assert_eq!(verdict.rule_id, "hard:same-customer");
    // A privacy number of either still joins the one it matches by door.
    let c = with_phone(order("meituan", "M1", "", home(), 6), "138xxxx1234", true);
    assert!(evaluate(&rules(), &v(&c), &[v(&a)], 30).join);
}

#[test]
fn retries_are_idempotent_and_late_orders_start_a_new_group() {
    let store = MemoryStore::new();
    let a = order("app", "A1", "c1", home(), 0);
    let first = offer(&store, &rules(), &a, at(0)).unwrap();
    let again = offer(&store, &rules(), &a, at(1)).unwrap();
    assert_eq!(
        again.decision.outcome,
        MergeOutcome::AlreadyPlaced {
            group_id: first.decision.outcome.group_id().to_string()
        }
    );
    let released = close_due(&store, &rules(), at(31)).unwrap();
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].members.len(), 1);
    // A late order for the same customer and address: a new group, the old one stays released.
    let late = order("meituan", "M9", "c1", home(), 32);
    let d = offer(&store, &rules(), &late, at(32)).unwrap();
    assert!(matches!(d.decision.outcome, MergeOutcome::Opened { .. }));
    assert_ne!(d.decision.outcome.group_id(), released[0].group_id);
    let later = close_due(&store, &rules(), at(70)).unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].members[0].order_id, late.id);
}

#[test]
fn an_order_that_cannot_wait_closes_its_group_at_once() {
    let store = MemoryStore::new();
    let a = order("app", "A1", "c1", home(), 0);
    offer(&store, &rules(), &a, at(0)).unwrap();
    let mut urgent = order("meituan", "M1", "c1", home(), 5);
    urgent.promised.end = Some(at(20)); // lead 20 min: must leave now
    let d = offer(&store, &rules(), &urgent, at(5)).unwrap();
    assert!(matches!(d.decision.outcome, MergeOutcome::Joined { .. }));
    assert_eq!(d.released.len(), 1);
    assert_eq!(d.released[0].members.len(), 2);
    assert_eq!(d.released[0].reason, ReleaseReason::PromiseCannotWait);
    assert!(close_due(&store, &rules(), at(60)).unwrap().is_empty());
}

#[test]
fn tight_promise_shortens_the_window() {
    let store = MemoryStore::new();
    let mut a = order("app", "A1", "c1", home(), 0);
    a.promised.end = Some(at(30)); // latest close = minute 10
    offer(&store, &rules(), &a, at(0)).unwrap();
    assert!(close_due(&store, &rules(), at(9)).unwrap().is_empty());
    assert_eq!(close_due(&store, &rules(), at(10)).unwrap().len(), 1);
}

#[test]
fn excluded_and_refused_orders_leave_alone_with_the_rule_named() {
    let store = MemoryStore::new();
    let a = order("app", "A1", "c1", home(), 0);
    offer(&store, &rules(), &a, at(0)).unwrap();
    let mut flagged = order("app", "A2", "c1", home(), 1);
    flagged
        .exceptions
        .push(OrderException::new(ExceptionCode::UnknownSku, "line 1"));
    let d = offer(&store, &rules(), &flagged, at(1)).unwrap();
    assert!(matches!(d.decision.outcome, MergeOutcome::Alone { .. }));
    assert_eq!(d.decision.rule_id, "exclude-exception");
    assert_eq!(d.released.len(), 1);
    let mut pickup = order("groupbuy", "G1", "c1", home(), 2);
    pickup.fulfilment = Fulfilment::PickupPoint {
        point_id: "p1".into(),
        name: None,
        address: None,
    };
    let d = offer(&store, &rules(), &pickup, at(2)).unwrap();
    assert_eq!(d.decision.rule_id, "hard:delivery-address");
    // A different address of the same customer opens its own lane.
    let other = order("app", "A3", "c1", address("office", 31.3, 121.6), 3);
    let d = offer(&store, &rules(), &other, at(3)).unwrap();
    assert!(matches!(d.decision.outcome, MergeOutcome::Opened { .. }));
    let released = close_due(&store, &rules(), at(40)).unwrap();
    assert_eq!(released.len(), 2);
}

#[test]
fn table_of_rule_types() {
    let base = order("app", "A1", "c1", home(), 0);
    let near = address("another spelling", 31.2306, 121.5151); // ~25 m away
    let far = address("far away", 31.2404, 121.5150); // ~1.1 km
    type Case = (&'static str, RuleSet, Box<dyn Fn(&mut Order)>, bool);
    let cases: Vec<Case> = vec![
        (
            "same customer joins",
            join_rule(vec![]),
            Box::new(|_| {}),
            true,
        ),
        (
            "other customer refused",
            join_rule(vec![]),
            Box::new(|o| o.customer.customer_key = "c2".into()),
            false,
        ),
        (
            "exact address refuses a near spelling",
            join_rule(vec![]),
            Box::new({
                let n = near.clone();
                move |o| {
                    o.fulfilment = Fulfilment::Delivery {
                        address: Some(n.clone()),
                    }
                }
            }),
            false,
        ),
        (
            "within 50 m joins a near spelling",
            RuleSet {
                rules: vec![MergeRule {
                    id: "j".into(),
                    action: RuleAction::Join,
                    when: vec![
                        Condition::SameCustomer,
                        Condition::SameAddress {
                            within_metres: Some(50),
                        },
                    ],
                    description: None,
                }],
                ..RuleSet::default()
            },
            Box::new({
                let n = near.clone();
                move |o| {
                    o.fulfilment = Fulfilment::Delivery {
                        address: Some(n.clone()),
                    }
                }
            }),
            true,
        ),
        (
            "within 50 m refuses 1 km",
            RuleSet {
                rules: vec![MergeRule {
                    id: "j".into(),
                    action: RuleAction::Join,
                    when: vec![
                        Condition::SameCustomer,
                        Condition::SameAddress {
                            within_metres: Some(50),
                        },
                    ],
                    description: None,
                }],
                ..RuleSet::default()
            },
            Box::new({
                let f = far.clone();
                move |o| {
                    o.fulfilment = Fulfilment::Delivery {
                        address: Some(f.clone()),
                    }
                }
            }),
            false,
        ),
        (
            "window 30: 25 min joins",
            join_rule(vec![Condition::WithinWindow { minutes: Some(30) }]),
            Box::new(|o| o.placed_at = at(25)),
            true,
        ),
        (
            "window 30: 31 min refused",
            join_rule(vec![Condition::WithinWindow { minutes: Some(30) }]),
            Box::new(|o| o.placed_at = at(31)),
            false,
        ),
        (
            "same store refuses other store",
            join_rule(vec![Condition::SameStore]),
            Box::new(|o| o.store_id = Some("store-2".into())),
            false,
        ),
        (
            "same store joins",
            join_rule(vec![Condition::SameStore]),
            Box::new(|_| {}),
            true,
        ),
        (
            "same slot joins within tolerance",
            join_rule(vec![Condition::SamePromisedSlot {
                tolerance_minutes: 10,
            }]),
            Box::new(|o| o.promised.end = Some(at(125))),
            true,
        ),
        (
            "same slot refuses other slot",
            join_rule(vec![Condition::SamePromisedSlot {
                tolerance_minutes: 10,
            }]),
            Box::new(|o| o.promised.end = Some(at(200))),
            false,
        ),
        (
            "allow list joins listed channels",
            join_rule(vec![Condition::ChannelsAllowed {
                channels: vec![ChannelId::new("app"), ChannelId::new("meituan")],
            }]),
            Box::new(|o| o.channel = ChannelId::new("meituan")),
            true,
        ),
        (
            "allow list refuses others",
            join_rule(vec![Condition::ChannelsAllowed {
                channels: vec![ChannelId::new("app")],
            }]),
            Box::new(|o| o.channel = ChannelId::new("eleme")),
            false,
        ),
        (
            "deny list refuses",
            RuleSet {
                rules: vec![
                    MergeRule {
                        id: "no-pos".into(),
                        action: RuleAction::Refuse,
                        when: vec![Condition::ChannelDenied {
                            channels: vec![ChannelId::new("pos")],
                        }],
                        description: None,
                    },
                    join_rule(vec![]).rules.remove(0),
                ],
                ..RuleSet::default()
            },
            Box::new(|o| o.channel = ChannelId::new("pos")),
            false,
        ),
        (
            "cold chain: frozen with ambient refused by default",
            join_rule(vec![Condition::ColdChainCompatible { compatible: vec![] }]),
            Box::new(|o| o.lines[0].zone = TemperatureZone::Frozen),
            false,
        ),
        (
            "cold chain: listed pair joins",
            join_rule(vec![Condition::ColdChainCompatible {
                compatible: vec![[TemperatureZone::Frozen, TemperatureZone::Ambient]],
            }]),
            Box::new(|o| o.lines[0].zone = TemperatureZone::Frozen),
            true,
        ),
        (
            "exception excluded",
            rules(),
            Box::new(|o| {
                o.exceptions
                    .push(OrderException::new(ExceptionCode::UnknownSku, "x"))
            }),
            false,
        ),
        (
            "empty customer key never merges",
            permissive_join(),
            Box::new(|o| o.customer.customer_key = String::new()),
            false,
        ),
        (
            "pickup excluded",
            rules(),
            Box::new(|o| {
                o.fulfilment = Fulfilment::InStore {
                    store_id: "s".into(),
                }
            }),
            false,
        ),
        (
            "cancelled excluded",
            rules(),
            Box::new(|o| {
                o.history.push(OrderEvent {
                    key: "c".into(),
                    kind: EventKind::Cancelled { reason: None },
                    at: at(0),
                    source: EventSource::Component("merge".into()),
                })
            }),
            false,
        ),
        (
            "dispatched excluded",
            rules(),
            Box::new(|o| {
                o.history.push(OrderEvent {
                    key: "d".into(),
                    kind: EventKind::Dispatched {
                        rider_id: "r".into(),
                        parcel_id: "p".into(),
                    },
                    at: at(0),
                    source: EventSource::Component("dispatch".into()),
                })
            }),
            false,
        ),
        (
            "no rule matches: refused",
            RuleSet {
                rules: vec![],
                ..RuleSet::default()
            },
            Box::new(|_| {}),
            false,
        ),
    ];
    for (name, set, edit, expect) in cases {
        let mut cand = order("app", "B1", "c1", home(), 5);
        edit(&mut cand);
        let verdict = evaluate(&set, &v(&cand), &[v(&base)], 30);
        assert_eq!(verdict.join, expect, "{name}: {verdict:?}");
        assert!(
            !verdict.rule_id.is_empty() && !verdict.reason.is_empty(),
            "{name}"
        );
    }
}

#[test]
fn hard_invariants_override_a_permissive_rule() {
    let permissive = RuleSet {
        rules: vec![MergeRule {
            id: "yes".into(),
            action: RuleAction::Join,
            when: vec![],
            description: None,
        }],
        ..RuleSet::default()
    };
    let a = order("app", "A1", "c1", home(), 0);
    let b = order("app", "B1", "c2", home(), 1);
    let c = order("app", "C1", "c1", address("elsewhere", 31.0, 121.0), 1);
    assert_eq!(
        evaluate(&permissive, &v(&b), &[v(&a)], 30).rule_id,
        "hard:same-customer"
    );
    assert_eq!(
        evaluate(&permissive, &v(&c), &[v(&a)], 30).rule_id,
        "hard:same-address"
    );
}

#[test]
fn concurrent_offers_of_one_customer_make_one_group_and_lose_nothing() {
    for round in 0..20 {
        let store = MemoryStore::new();
        let orders: Vec<Order> = (0..8)
            .map(|i| {
                order(
                    if i % 2 == 0 { "app" } else { "meituan" },
                    &format!("{round}-{i}"),
                    "c1",
                    home(),
                    1,
                )
            })
            .collect();
        let rules = rules();
        std::thread::scope(|s| {
            for o in &orders {
                let (store, rules) = (&store, &rules);
                s.spawn(move || {
                    offer(store, rules, o, at(1)).unwrap();
                    // Duplicate delivery of the same order, concurrently with the others.
                    offer(store, rules, o, at(1)).unwrap();
                });
            }
        });
        let released = close_due(&store, &rules, at(60)).unwrap();
        assert_eq!(released.len(), 1, "round {round}: {released:?}");
        let mut ids: Vec<_> = released[0]
            .members
            .iter()
            .map(|m| m.order_id.clone())
            .collect();
        ids.sort();
        let mut want: Vec<_> = orders.iter().map(|o| o.id.clone()).collect();
        want.sort();
        assert_eq!(ids, want);
    }
}

#[test]
fn concurrent_offers_and_closers_never_lose_or_duplicate() {
    let store = MemoryStore::new();
    let rules = rules();
    let orders: Vec<Order> = (0..40)
        .map(|i| {
            order(
                "app",
                &format!("x{i}"),
                &format!("c{}", i % 3),
                home(),
                i / 4,
            )
        })
        .collect();
    let released = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for chunk in orders.chunks(10) {
            let (store, rules, released) = (&store, &rules, &released);
            s.spawn(move || {
                for o in chunk {
                    let r = offer(store, rules, o, o.placed_at).unwrap();
                    released.lock().unwrap().extend(r.released);
                    let closed =
                        close_due(store, rules, o.placed_at + Duration::minutes(31)).unwrap();
                    released.lock().unwrap().extend(closed);
                }
            });
        }
    });
    let mut all = released.into_inner().unwrap();
    all.extend(close_due(&store, &rules, at(500)).unwrap());
    check_partition(&orders, &all);
}

fn check_partition(orders: &[Order], groups: &[ReleasedGroup]) {
    let mut seen: HashMap<OrderId, String> = HashMap::new();
    // A group may be delivered twice only through a closer takeover, and then with the
    // same members: dispatch dedups by group id.
    let mut by_id: HashMap<&str, &ReleasedGroup> = HashMap::new();
    for g in groups {
        if let Some(first) = by_id.insert(&g.group_id, g) {
            assert_eq!(first.members, g.members, "same group id, different members");
        }
    }
    for g in by_id.values() {
        let customers: HashSet<_> = g.members.iter().map(|m| &m.customer_key).collect();
        let addrs: HashSet<_> = g.members.iter().map(|m| &m.merge_key).collect();
        assert!(
            customers.len() <= 1 && addrs.len() <= 1,
            "mixed group {g:?}"
        );
        for m in &g.members {
            if let Some(other) = seen.insert(m.order_id.clone(), g.group_id.clone()) {
                panic!("{} in {} and {}", m.order_id, other, g.group_id);
            }
        }
    }
    for o in orders {
        assert!(seen.contains_key(&o.id), "{} lost", o.id);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_order_in_exactly_one_group_never_mixed(
        specs in prop::collection::vec((0u8..4, 0u8..3, 0i64..90, any::<bool>(), any::<bool>()), 1..40),
        closes in prop::collection::vec(0i64..150, 0..6),
    ) {
        let store = MemoryStore::new();
        let rules = rules();
        let mut mem = Merger::new(rules.clone());
        let addrs = [home(), address("office", 31.3, 121.6), address("gym", 31.1, 121.4)];
        let mut orders: Vec<Order> = specs.iter().enumerate().map(|(i, (c, a, t, flagged, dup))| {
            let mut o = order(if *dup { "meituan" } else { "app" }, &format!("o{i}"), &format!("c{c}"), addrs[*a as usize].clone(), *t);
            if *flagged && i % 5 == 0 { o.exceptions.push(OrderException::new(ExceptionCode::UnknownSku, "x")); }
            if *flagged && i % 7 == 0 { o.promised.end = Some(o.placed_at + Duration::minutes(15)); }
            o
        }).collect();
        orders.sort_by_key(|o| o.placed_at);
        let mut released = Vec::new();
        let mut mem_released = Vec::new();
        let mut closes = closes.clone();
        closes.sort();
        for (i, o) in orders.iter().enumerate() {
            while closes.first().is_some_and(|c| at(*c) <= o.placed_at) {
                let c = closes.remove(0);
                released.extend(close_due(&store, &rules, at(c)).unwrap());
            }
            released.extend(offer(&store, &rules, o, o.placed_at).unwrap().released);
            mem_released.extend(mem.close_due(o.placed_at));
            mem_released.extend(mem.offer(MemberView::of(o), o.placed_at).1);
            if i % 3 == 0 {
                // A retry must not place it twice.
                released.extend(offer(&store, &rules, o, o.placed_at).unwrap().released);
                mem_released.extend(mem.offer(MemberView::of(o), o.placed_at).1);
            }
        }
        released.extend(close_due(&store, &rules, at(1000)).unwrap());
        mem_released.extend(mem.close_due(at(1000)));
        check_partition(&orders, &released);
        check_partition(&orders, &mem_released);
        // Memory closes windows before every arrival, so its releases are on time.
        for g in &mem_released {
            for m in &g.members {
                prop_assert!(g.released_at <= m.latest_close(&rules).max(m.placed_at), "held past promise: {:?}", g);
            }
        }
    }
}

#[test]
fn adaptive_window_merges_more_without_breaking_promises() {
    use super::simulate::{replay, synthetic_history};
    let history = synthetic_history(42, 400, 20);
    let fixed = RuleSet::default();
    let adaptive = RuleSet {
        adaptive: AdaptiveConfig {
            enabled: true,
            ..AdaptiveConfig::default()
        },
        ..RuleSet::default()
    };
    let f = replay(&fixed, &history);
    let a = replay(&adaptive, &history);
    assert_eq!(f.orders, a.orders);
    assert!(a.parcels < f.parcels, "adaptive {a:?} vs fixed {f:?}");
    assert!(
        a.slow_orders_merged > f.slow_orders_merged,
        "{a:?} vs {f:?}"
    );
    assert_eq!(a.promise_violations, 0, "{a:?}");
    assert_eq!(f.promise_violations, 0, "{f:?}");
    assert!(
        a.loner_mean_hold_min < f.loner_mean_hold_min,
        "{a:?} vs {f:?}"
    );
}

#[test]
fn order_and_released_group_survive_a_json_round_trip() {
    // serde_json's `arbitrary_precision` cannot read floats back through an internally
    // tagged enum's buffer; the merger's stored values must not hit that.
    let o = order("app", "A1", "c1", home(), 0);
    let g = ReleasedGroup {
        group_id: "g".into(),
        members: vec![MemberView::of(&o)],
        opened_at: at(0),
        released_at: at(1),
        reason: ReleaseReason::WindowClosed,
    };
    let back: ReleasedGroup = serde_json::from_slice(&serde_json::to_vec(&g).unwrap()).unwrap();
    assert_eq!(back, g);
}

#[test]
fn proximity_rule_joins_two_spellings_of_one_door_through_the_store() {
    let store = MemoryStore::new();
    let set = validate(r#"{"rules": [{"id": "near", "action": "join", "when": [
        {"kind": "same_customer"}, {"kind": "same_address", "within_metres": 50}, {"kind": "within_window"}]}]}"#)
    .unwrap();
    let a = order("app", "A1", "c1", home(), 0);
    let b = order(
        "meituan",
        "M1",
        "c1",
        address("张杨路500号1栋101室", 31.2306, 121.5151),
        3,
    );
    let far = order("eleme", "E1", "c1", address("far", 31.2404, 121.5150), 4);
    offer(&store, &set, &a, at(0)).unwrap();
    let d = offer(&store, &set, &b, at(3)).unwrap();
    assert_eq!(d.decision.rule_id, "near");
    let d = offer(&store, &set, &far, at(4)).unwrap();
    assert!(
        matches!(d.decision.outcome, MergeOutcome::Opened { .. }),
        "{:?}",
        d.decision
    );
    let mut sizes: Vec<usize> = close_due(&store, &set, at(40))
        .unwrap()
        .iter()
        .map(|g| g.members.len())
        .collect();
    sizes.sort();
    assert_eq!(sizes, vec![1, 2]);
}

#[test]
fn stress_threads_with_skewed_clocks_keep_the_partition() {
    use super::simulate::Rng;
    use std::sync::atomic::{AtomicUsize, Ordering};
    for round in 0..10u64 {
        let store = MemoryStore::new();
        let rules = rules();
        let mut rng = Rng::new(round);
        let mut orders: Vec<Order> = (0..160)
            .map(|i| {
                let c = rng.below(5);
                let addr = if rng.chance(0.5) {
                    home()
                } else {
                    address("office", 31.3, 121.6)
                };
                let channel = if i % 2 == 0 { "app" } else { "meituan" };
                let mut o = order(
                    channel,
                    &format!("s{i}"),
                    &format!("c{c}"),
                    addr,
                    rng.below(120) as i64,
                );
                if rng.chance(0.1) {
                    o.promised.end = Some(o.placed_at + Duration::minutes(25));
                }
                o
            })
            .collect();
        // Instances take orders from one queue in arrival order; each has its own
        // clock (±2 min) and processing delay (0–3 min), and runs the closer now and then.
        orders.sort_by_key(|o| o.placed_at);
        let next = AtomicUsize::new(0);
        let released = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let (store, rules, released, orders, next) =
                    (&store, &rules, &released, &orders, &next);
                s.spawn(move || {
                    let mut rng = Rng::new(round * 10 + t);
                    let skew = Duration::seconds(rng.below(240) as i64 - 120);
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(o) = orders.get(i) else { break };
                        let now = o.placed_at + skew + Duration::seconds(rng.below(180) as i64);
                        let r = offer(store, rules, o, now).unwrap();
                        released.lock().unwrap().extend(r.released);
                        if rng.chance(0.3) {
                            let r = offer(store, rules, o, now).unwrap();
                            released.lock().unwrap().extend(r.released);
                        }
                        if rng.chance(0.5) {
                            released
                                .lock()
                                .unwrap()
                                .extend(close_due(store, rules, now).unwrap());
                        }
                    }
                });
            }
        });
        let mut all = released.into_inner().unwrap();
        all.extend(close_due(&store, &rules, at(2000)).unwrap());
        check_partition(&orders, &all);
    }
}

#[test]
fn adaptive_window_through_the_store_learns_a_late_re_orderer() {
    let store = MemoryStore::new();
    let set = RuleSet {
        adaptive: AdaptiveConfig {
            enabled: true,
            ..AdaptiveConfig::default()
        },
        ..RuleSet::default()
    };
    let mut last_day_groups = Vec::new();
    for day in 0..12i64 {
        let d = day * 1440;
        let first = order("app", &format!("d{day}a"), "slow", home(), d);
        let second = order("meituan", &format!("d{day}b"), "slow", home(), d + 42);
        let mut released = offer(&store, &set, &first, at(d)).unwrap().released;
        released.extend(close_due(&store, &set, at(d + 41)).unwrap());
        released.extend(offer(&store, &set, &second, at(d + 42)).unwrap().released);
        released.extend(close_due(&store, &set, at(d + 200)).unwrap());
        if day == 0 {
            assert_eq!(
                released.len(),
                2,
                "default 30-minute window: two parcels on day one"
            );
        }
        last_day_groups = released;
    }
    assert_eq!(
        last_day_groups.len(),
        1,
        "learned window covers the 42-minute gap: {last_day_groups:?}"
    );
    assert_eq!(last_day_groups[0].members.len(), 2);
}

#[test]
fn in_memory_merger_is_idempotent_and_names_the_group() {
    let mut m = Merger::new(rules());
    let a = order("app", "A1", "c1", home(), 0);
    let b = order("meituan", "M1", "c1", home(), 5);
    let (d1, _) = m.offer(MemberView::of(&a), at(0));
    let (d2, _) = m.offer(MemberView::of(&b), at(5));
    let (again, released) = m.offer(MemberView::of(&b), at(6));
    assert_eq!(
        d2.outcome,
        MergeOutcome::Joined {
            group_id: d1.outcome.group_id().to_string()
        }
    );
    assert_eq!(
        again.outcome,
        MergeOutcome::AlreadyPlaced {
            group_id: d1.outcome.group_id().to_string()
        }
    );
    assert!(released.is_empty());
    assert!(m.close_due(at(29)).is_empty());
    let groups = m.close_due(at(30));
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].members.len(), 2);
    assert_eq!(m.open_groups(), 0);
}

#[test]
fn a_denied_channel_leaves_at_once_instead_of_waiting() {
    let store = MemoryStore::new();
    let mut set = rules();
    set.rules.insert(
        0,
        MergeRule {
            id: "no-pos".into(),
            action: RuleAction::Refuse,
            when: vec![Condition::ChannelDenied {
                channels: vec![ChannelId::new("pos")],
            }],
            description: None,
        },
    );
    let pos = order("pos", "P1", "c1", home(), 0);
    let d = offer(&store, &set, &pos, at(0)).unwrap();
    assert_eq!(d.decision.rule_id, "no-pos");
    assert_eq!(d.released.len(), 1);
    let app = order("app", "A1", "c1", home(), 1);
    let d = offer(&store, &set, &app, at(1)).unwrap();
    assert!(matches!(d.decision.outcome, MergeOutcome::Opened { .. }));
}

#[test]
fn a_retry_after_a_crash_before_indexing_still_gets_the_group_closed() {
    let store = MemoryStore::new();
    let a = order("app", "A1", "c1", home(), 0);
    offer(&store, &rules(), &a, at(0)).unwrap();
    // Simulate a crash between placing the order and indexing its group.
    for key in store.keys_with_prefix("merge/due/") {
        if !key.ends_with("cursor") && !key.ends_with("scanning") {
            store.delete(&key).unwrap();
        }
    }
    assert!(
        close_due(&store, &rules(), at(31)).unwrap().is_empty(),
        "nothing indexed"
    );
    let retry = offer(&store, &rules(), &a, at(32)).unwrap();
    assert!(matches!(
        retry.decision.outcome,
        MergeOutcome::AlreadyPlaced { .. }
    ));
    let released = close_due(&store, &rules(), at(33)).unwrap();
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].members[0].order_id, a.id);
}

#[test]
fn a_new_customer_inherits_the_area_rate_in_the_store() {
    let store = MemoryStore::new();
    let set = RuleSet {
        adaptive: AdaptiveConfig {
            enabled: true,
            ..AdaptiveConfig::default()
        },
        ..RuleSet::default()
    };
    // Forty customers of one district who never order twice in a row.
    for c in 0..40 {
        for day in 0..5i64 {
            let o = order(
                "app",
                &format!("l{c}-{day}"),
                &format!("loner{c}"),
                home(),
                day * 1440,
            );
            offer(&store, &set, &o, at(day * 1440)).unwrap();
        }
    }
    let newcomer = order("app", "N1", "newcomer", home(), 5 * 1440);
    let d = offer(&store, &set, &newcomer, at(5 * 1440)).unwrap();
    assert!(
        d.decision
            .reason
            .contains(&format!("{}-minute", set.window.min_minutes)),
        "{:?}",
        d.decision
    );
}
