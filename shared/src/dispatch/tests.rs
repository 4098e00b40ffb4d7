//! Behaviour of dispatch as a whole; the checker judges every plan.

use proptest::prelude::*;

use super::*;
use crate::order::ExceptionCode;

const PLANE: Euclidean = Euclidean {
    units_per_time: 5.0,
};

fn rider(id: &str, x: f64, y: f64) -> Rider {
    Rider {
        id: RiderId(id.into()),
        position: Point::planar(x, y),
        position_at: 0,
        free_at: 0,
        shift_end: 10_000,
        capacity: Load::new(20_000, 60_000, 6),
        capabilities: Capabilities {
            insulated: true,
            freezer: false,
        },
        online: true,
        onboard: vec![],
        route: vec![],
        delivered_today: 0,
    }
}

fn parcel(id: &str, from: (f64, f64), to: (f64, f64), ready: Time, promised: Time) -> Parcel {
    Parcel {
        id: ParcelId(id.into()),
        pickup: Some(Point::planar(from.0, from.1)),
        dropoff: Some(Point::planar(to.0, to.1)),
        ready_at: ready,
        promised_at: promised,
        size: Load::parcel(2_000, 5_000),
        cold_chain: ColdChain::Ambient,
        zone: None,
        pickup_service: 60,
        dropoff_service: 60,
        declined_by: vec![],
    }
}

fn run(problem: &Problem, config: &DispatchConfig) -> Plan {
    let plan = dispatch(problem, config, &PLANE, &mut Iterations::new(200)).unwrap();
    let violations = check(problem, config, &PLANE, &plan);
    assert!(violations.is_empty(), "{violations:?}");
    plan
}

fn rider_of<'a>(plan: &'a Plan, p: &str) -> Option<&'a str> {
    plan.assignments
        .iter()
        .find(|a| a.parcel.0 == p)
        .map(|a| a.rider.0.as_str())
}

#[test]
fn nearest_rider_gets_the_parcel_and_knows_why() {
    let problem = Problem {
        now: 0,
        riders: vec![rider("near", 0.0, 0.0), rider("far", 5_000.0, 5_000.0)],
        parcels: vec![parcel("p1", (100.0, 0.0), (600.0, 0.0), 0, 600)],
    };
    let config = DispatchConfig::default();
    let plan = run(&problem, &config);
    assert_eq!(rider_of(&plan, "p1"), Some("near"));
    let why = explain(
        &problem,
        &config,
        &PLANE,
        &plan,
        &ParcelId("p1".into()),
        &RiderId("near".into()),
        &RiderId("far".into()),
    )
    .unwrap();
    assert!(matches!(why.a.1, RiderOption::Chosen { .. }));
    match why.b.1 {
        RiderOption::Possible { marginal } => assert!(marginal.travel > 0),
        other => panic!("{other:?}"),
    }
    assert!(why.verdict.starts_with("near"), "{}", why.verdict);
}

#[test]
fn frozen_goods_only_go_to_a_freezer_and_otherwise_raise_no_capable_rider() {
    let mut frozen = parcel("ice", (0.0, 0.0), (500.0, 0.0), 0, 900);
    frozen.cold_chain = ColdChain::Frozen;
    let mut freezer = rider("freezer", 3_000.0, 0.0);
    freezer.capabilities.freezer = true;
    let mut problem = Problem {
        now: 0,
        riders: vec![rider("plain", 0.0, 0.0), freezer],
        parcels: vec![frozen],
    };
    let plan = run(&problem, &DispatchConfig::default());
    assert_eq!(rider_of(&plan, "ice"), Some("freezer"));

    problem.riders.truncate(1);
    let plan = run(&problem, &DispatchConfig::default());
    let u = &plan.unassigned[0];
    assert_eq!(
        u.reason.exception_code(),
        Some(ExceptionCode::NoCapableRider)
    );
    assert!(u.reason.to_exception(&u.parcel).is_some());
}

#[test]
fn explain_names_the_refusal_and_balance_moves_work_to_the_less_busy() {
    let mut busy = rider("busy", 0.0, 0.0);
    busy.delivered_today = 20;
    let mut plain = rider("plain", 150.0, 0.0);
    plain.capabilities = Capabilities::default();
    let mut chilled = parcel("milk", (0.0, 0.0), (400.0, 0.0), 0, 2_000);
    chilled.cold_chain = ColdChain::Chilled;
    let problem = Problem {
        now: 0,
        riders: vec![busy, plain, rider("idle", 300.0, 0.0)],
        parcels: vec![chilled],
    };
    let config = DispatchConfig::default();
    let plan = run(&problem, &config);
    // "busy" is nearest, but 20 parcels today make a 21st cost 41 × 30 in balance.
    assert_eq!(rider_of(&plan, "milk"), Some("idle"));
    let id = |s: &str| RiderId(s.into());
    let why = explain(
        &problem,
        &config,
        &PLANE,
        &plan,
        &ParcelId("milk".into()),
        &id("idle"),
        &id("plain"),
    )
    .unwrap();
    assert_eq!(
        why.b.1,
        RiderOption::Impossible {
            why: Refusal::WrongBox
        }
    );
    let why = explain(
        &problem,
        &config,
        &PLANE,
        &plan,
        &ParcelId("milk".into()),
        &id("idle"),
        &id("busy"),
    )
    .unwrap();
    assert!(why.verdict.contains("load balance"), "{}", why.verdict);
}

#[test]
fn bad_addresses_and_impossible_windows_are_exceptions() {
    let mut lost = parcel("lost", (0.0, 0.0), (0.0, 0.0), 0, 900);
    lost.dropoff = None;
    let far = parcel("far", (0.0, 0.0), (90_000.0, 0.0), 0, 900);
    let late = parcel("late", (0.0, 0.0), (5_000.0, 0.0), 0, 100);
    let problem = Problem {
        now: 0,
        riders: vec![rider("r", 0.0, 0.0)],
        parcels: vec![lost, far, late],
    };
    let config = DispatchConfig {
        service_area: Some(ServiceArea {
            min: Point::planar(-10_000.0, -10_000.0),
            max: Point::planar(10_000.0, 10_000.0),
        }),
        max_lateness: Some(300),
        ..DispatchConfig::default()
    };
    let plan = run(&problem, &config);
    let raised: Vec<ExceptionCode> = plan.exceptions().into_iter().map(|(_, e)| e.code).collect();
    assert_eq!(raised.len(), 3);
    let code = |p: &str| {
        plan.unassigned
            .iter()
            .find(|u| u.parcel.0 == p)
            .and_then(|u| u.reason.exception_code())
    };
    assert_eq!(code("lost"), Some(ExceptionCode::BadAddress));
    assert_eq!(code("far"), Some(ExceptionCode::BadAddress));
    assert_eq!(code("late"), Some(ExceptionCode::WindowImpossible));
    assert!(plan.assignments.is_empty());
}

/// `dispatch` called directly (not through the board's range checks) with the extremes
/// of i64: nothing traps, and nothing wraps into a plausible-looking value (these tests
/// run in release too, where a wrap would otherwise pass silently).
#[test]
fn extreme_times_and_sizes_saturate_instead_of_wrapping() {
    let mut late_forever = parcel("ancient", (0.0, 0.0), (100.0, 0.0), i64::MIN, i64::MIN);
    late_forever.pickup_service = i64::MAX;
    late_forever.dropoff_service = i64::MAX;
    let mut heavy = parcel("heavy", (0.0, 0.0), (100.0, 0.0), 0, i64::MAX);
    heavy.size = Load::new(i64::MAX, i64::MAX, i64::MAX);
    let mut never_free = rider("never", 0.0, 0.0);
    never_free.free_at = i64::MAX;
    never_free.shift_end = i64::MAX;
    never_free.position_at = i64::MIN;
    never_free.delivered_today = i64::MAX;
    let mut big = rider("big", 0.0, 0.0);
    big.capacity = Load::new(i64::MAX, i64::MAX, i64::MAX);
    big.shift_end = i64::MAX;
    big.delivered_today = i64::MAX;
    let mut far_away = parcel("far", (1e300, -1e300), (-1e300, 1e300), 0, 0);
    far_away.size = Load::new(0, 0, 0);
    for now in [0, i64::MIN, i64::MAX] {
        let problem = Problem {
            now,
            riders: vec![never_free.clone(), big.clone()],
            parcels: vec![late_forever.clone(), heavy.clone(), far_away.clone()],
        };
        let plan = dispatch(
            &problem,
            &DispatchConfig::default(),
            &PLANE,
            &mut Iterations::new(20),
        )
        .unwrap();
        assert_eq!(
            plan.assignments.len() + plan.unassigned.len(),
            3,
            "{plan:?}"
        );
        for a in &plan.assignments {
            assert!(a.lateness >= 0, "{a:?}");
            assert!(a.dropoff_at >= a.pickup_at, "{a:?}");
            assert!(a.marginal.load_squared >= 0, "{a:?}");
        }
        assert!(
            plan.score.lateness >= 0 && plan.score.travel >= 0,
            "{plan:?}"
        );
        for r in &plan.routes {
            for w in r.stops.windows(2) {
                assert!(w[1].arrive_at >= w[0].depart_at, "{r:?}");
            }
        }
        if now == 0 {
            // "ancient" was promised at the dawn of i64: as late as can be, not early.
            let a = plan.assignments.iter().find(|a| a.parcel.0 == "ancient");
            assert_eq!(a.map(|a| a.lateness), Some(i64::MAX), "{plan:?}");
        }
        let _ = check(&problem, &DispatchConfig::default(), &PLANE, &plan);
        let _ = explain(
            &problem,
            &DispatchConfig::default(),
            &PLANE,
            &plan,
            &ParcelId("heavy".into()),
            &RiderId("never".into()),
            &RiderId("big".into()),
        );
    }
}

#[test]
fn shift_end_and_capacity_are_respected() {
    let mut short = rider("short", 0.0, 0.0);
    short.shift_end = 10;
    let mut tiny = rider("tiny", 0.0, 0.0);
    tiny.capacity = Load::new(1_000, 60_000, 6);
    let mut ok = rider("ok", 4_000.0, 0.0);
    ok.capacity = Load::new(20_000, 60_000, 1);
    let problem = Problem {
        now: 0,
        riders: vec![short, tiny, ok],
        parcels: vec![
            parcel("a", (100.0, 0.0), (200.0, 0.0), 0, 2_000),
            parcel("b", (100.0, 0.0), (300.0, 0.0), 0, 2_000),
        ],
    };
    let plan = run(&problem, &DispatchConfig::default());
    // Only "ok" can carry these, one at a time: both go to it, in two trips.
    assert_eq!(rider_of(&plan, "a"), Some("ok"));
    assert_eq!(rider_of(&plan, "b"), Some("ok"));
}

#[test]
fn stale_or_offline_riders_get_nothing_and_released_work_is_redispatched() {
    let mut stale = rider("stale", 0.0, 0.0);
    stale.position_at = -1_000;
    let mut problem = Problem {
        now: 0,
        riders: vec![stale, rider("a", 100.0, 0.0), rider("b", 3_000.0, 0.0)],
        parcels: vec![parcel("p", (0.0, 0.0), (500.0, 0.0), 0, 2_000)],
    };
    let config = DispatchConfig::default();
    let plan = run(&problem, &config);
    assert_eq!(plan.stale_riders, vec![RiderId("stale".into())]);
    assert_eq!(rider_of(&plan, "p"), Some("a"));

    // Commit the plan, then "a" goes offline: the parcel comes back and goes to "b".
    problem.riders[1].route = vec![
        Stop::pickup(&ParcelId("p".into())),
        Stop::dropoff(&ParcelId("p".into())),
    ];
    let released = release_rider(&mut problem, &RiderId("a".into()));
    assert_eq!(released.reopened, vec![ParcelId("p".into())]);
    let plan = run(&problem, &config);
    assert_eq!(rider_of(&plan, "p"), Some("b"));

    // "b" rejects it: nobody else fresh and online remains, so it waits.
    problem.riders[2].route = vec![
        Stop::pickup(&ParcelId("p".into())),
        Stop::dropoff(&ParcelId("p".into())),
    ];
    reject_parcels(&mut problem, &RiderId("b".into()), &[ParcelId("p".into())]);
    let plan = run(&problem, &config);
    assert_eq!(plan.unassigned[0].reason, Unassignable::AllRidersBusy);
}

#[test]
fn committed_stops_stay_first_and_onboard_parcels_get_delivered() {
    let mut r = rider("r", 0.0, 0.0);
    r.onboard = vec![ParcelId("in-box".into())];
    r.route = vec![Stop::dropoff(&ParcelId("in-box".into()))];
    let problem = Problem {
        now: 0,
        riders: vec![r],
        parcels: vec![
            parcel("in-box", (0.0, 0.0), (1_000.0, 0.0), 0, 500),
            parcel("new", (0.0, 0.0), (100.0, 0.0), 0, 500),
        ],
    };
    let plan = run(&problem, &DispatchConfig::default());
    assert_eq!(plan.routes[0].stops[0].parcel.0, "in-box");
    assert_eq!(plan.routes[0].stops.len(), 3);
}

#[test]
fn a_committed_route_past_the_shift_is_shown_whole_and_flagged() {
    let mut r = rider("r", 0.0, 0.0);
    r.shift_end = 10;
    r.route = vec![
        Stop::pickup(&ParcelId("late".into())),
        Stop::dropoff(&ParcelId("late".into())),
    ];
    let problem = Problem {
        now: 0,
        riders: vec![r, rider("s", 0.0, 0.0)],
        parcels: vec![
            parcel("late", (1_000.0, 0.0), (2_000.0, 0.0), 0, 900),
            parcel("new", (0.0, 0.0), (100.0, 0.0), 0, 900),
        ],
    };
    let config = DispatchConfig::default();
    let plan = dispatch(&problem, &config, &PLANE, &mut Iterations::new(20)).unwrap();
    assert_eq!(plan.broken_routes, vec![RiderId("r".into())]);
    assert_eq!(plan.routes[0].stops.len(), 2);
    assert_eq!(rider_of(&plan, "new"), Some("s"));
    let v = check(&problem, &config, &PLANE, &plan);
    assert!(
        v.iter()
            .all(|v| matches!(v, Violation::AfterShiftEnd { .. }))
            && !v.is_empty(),
        "{v:?}"
    );
}

#[test]
fn one_site_per_trip_bundles_a_store_and_never_mixes_stores() {
    let problem = Problem {
        now: 0,
        riders: vec![rider("r", 0.0, 0.0)],
        parcels: vec![
            parcel("a1", (0.0, 0.0), (500.0, 0.0), 0, 600),
            parcel("a2", (0.0, 0.0), (520.0, 0.0), 0, 600),
            parcel("b1", (900.0, 0.0), (1_000.0, 0.0), 0, 900),
        ],
    };
    let config = DispatchConfig {
        one_site_per_trip: true,
        ..DispatchConfig::default()
    };
    let plan = run(&problem, &config);
    assert_eq!(plan.assignments.len(), 3);
    let kinds: Vec<StopKind> = plan.routes[0].stops.iter().map(|s| s.kind).collect();
    // Two trips: PP DD then P D, in some order.
    let mut onboard = 0;
    let mut site = None;
    for s in &plan.routes[0].stops {
        let p = problem.parcels.iter().find(|p| p.id == s.parcel).unwrap();
        match s.kind {
            StopKind::Pickup => {
                assert!(
                    onboard == 0 || site == p.pickup.map(|q| (q.x as i64, q.y as i64)),
                    "{kinds:?}"
                );
                site = p.pickup.map(|q| (q.x as i64, q.y as i64));
                onboard += 1;
            }
            StopKind::Dropoff => onboard -= 1,
        }
    }
}

#[test]
fn a_committed_plan_is_kept_and_only_new_parcels_are_routed() {
    let mut problem = random_problem(11, 20, 5);
    let config = DispatchConfig::default();
    let first = run(&problem, &config);
    commit_plan(&mut problem, &first);
    let held: usize = first.assignments.len();
    let next = run(&problem, &config);
    assert!(
        next.assignments.is_empty(),
        "{} re-assigned",
        next.assignments.len()
    );
    let stops: usize = next.routes.iter().map(|r| r.stops.len()).sum();
    assert_eq!(stops, 2 * held);
}

#[test]
fn same_seed_same_plan() {
    let problem = random_problem(7, 40, 8);
    let config = DispatchConfig::default();
    let a = dispatch(&problem, &config, &PLANE, &mut Iterations::new(300)).unwrap();
    let b = dispatch(&problem, &config, &PLANE, &mut Iterations::new(300)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn improvement_never_makes_the_plan_worse() {
    let problem = random_problem(3, 60, 10);
    let config = DispatchConfig::default();
    let built = dispatch(&problem, &config, &PLANE, &mut Iterations::new(0)).unwrap();
    let improved = dispatch(&problem, &config, &PLANE, &mut Iterations::new(500)).unwrap();
    let key = |p: &Plan| (p.unassigned.len(), p.score.total);
    let (a, b) = (key(&improved), key(&built));
    assert!(
        a.0 < b.0 || (a.0 == b.0 && a.1 <= b.1 + 1e-6),
        "{a:?} vs {b:?}"
    );
    assert!(check(&problem, &config, &PLANE, &improved).is_empty());
}

fn random_problem(seed: u64, parcels: usize, riders: usize) -> Problem {
    let mut rng = SplitMix64::new(seed);
    let coord = |rng: &mut SplitMix64| (rng.unit() * 6_000.0, rng.unit() * 6_000.0);
    let riders = (0..riders)
        .map(|i| {
            let (x, y) = coord(&mut rng);
            let mut r = rider(&format!("r{i}"), x, y);
            r.capabilities = Capabilities {
                insulated: rng.below(2) == 0,
                freezer: rng.below(4) == 0,
            };
            r.capacity = Load::new(
                6_000 + rng.below(20_000) as i64,
                60_000,
                1 + rng.below(6) as i64,
            );
            r.shift_end = 1_500 + rng.below(6_000) as i64;
            r
        })
        .collect();
    let parcels = (0..parcels)
        .map(|i| {
            let ready = rng.below(900) as i64;
            let mut p = parcel(
                &format!("p{i}"),
                coord(&mut rng),
                coord(&mut rng),
                ready,
                ready + 1_800,
            );
            p.cold_chain =
                [ColdChain::Ambient, ColdChain::Chilled, ColdChain::Frozen][rng.below(3)];
            p.size = Load::parcel(500 + rng.below(8_000) as i64, 2_000);
            p
        })
        .collect();
    Problem {
        now: 0,
        riders,
        parcels,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_parcel_is_accounted_once_and_cold_chain_holds(seed in 0u64..1_000, n in 1usize..50, m in 1usize..12, trips in any::<bool>()) {
        let problem = random_problem(seed, n, m);
        let config = DispatchConfig { seed, one_site_per_trip: trips, ..DispatchConfig::default() };
        let plan = dispatch(&problem, &config, &PLANE, &mut Iterations::new(50)).unwrap();
        let violations = check(&problem, &config, &PLANE, &plan);
        prop_assert!(violations.is_empty(), "{:?}", violations);
        let mut ids: Vec<&ParcelId> = plan.assignments.iter().map(|a| &a.parcel).chain(plan.unassigned.iter().map(|u| &u.parcel)).collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        prop_assert_eq!(before, ids.len());
        prop_assert_eq!(ids.len(), problem.parcels.len());
        for a in &plan.assignments {
            let p = problem.parcels.iter().find(|p| p.id == a.parcel).unwrap();
            let r = problem.riders.iter().find(|r| r.id == a.rider).unwrap();
            prop_assert!(r.capabilities.can_carry(p.cold_chain));
        }
    }
}

mod checker_rejects {
    use super::*;

    /// A feasible plan to break in each test.
    fn base() -> (Problem, DispatchConfig, Plan) {
        let problem = Problem {
            now: 0,
            riders: vec![rider("r", 0.0, 0.0), rider("s", 2_000.0, 0.0)],
            parcels: vec![
                parcel("p", (100.0, 0.0), (600.0, 0.0), 0, 900),
                parcel("q", (2_000.0, 0.0), (2_500.0, 0.0), 0, 900),
            ],
        };
        let config = DispatchConfig::default();
        let plan = run(&problem, &config);
        assert_eq!(plan.assignments.len(), 2);
        (problem, config, plan)
    }

    fn violations(problem: &Problem, config: &DispatchConfig, plan: &Plan) -> Vec<Violation> {
        check(problem, config, &PLANE, plan)
    }

    fn route_of<'a>(plan: &'a mut Plan, r: &str) -> &'a mut RoutePlan {
        plan.routes.iter_mut().find(|x| x.rider.0 == r).unwrap()
    }

    #[test]
    fn a_lost_parcel() {
        let (problem, config, mut plan) = base();
        plan.assignments.retain(|a| a.parcel.0 != "p");
        route_of(&mut plan, "r").stops.clear();
        assert!(violations(&problem, &config, &plan)
            .contains(&Violation::ParcelLost(ParcelId("p".into()))));
    }

    #[test]
    fn a_parcel_assigned_twice() {
        let (problem, config, mut plan) = base();
        let dup = plan.assignments[0].clone();
        plan.assignments.push(dup);
        assert!(violations(&problem, &config, &plan)
            .iter()
            .any(|v| matches!(v, Violation::ParcelDuplicated(_))));
    }

    #[test]
    fn a_broken_cold_chain() {
        let (mut problem, config, plan) = base();
        problem.parcels[0].cold_chain = ColdChain::Frozen;
        assert!(violations(&problem, &config, &plan)
            .iter()
            .any(|v| matches!(v, Violation::ColdChain { .. })));
    }

    #[test]
    fn over_capacity() {
        let (mut problem, config, plan) = base();
        problem.riders[0].capacity.weight_g = 100;
        assert!(violations(&problem, &config, &plan)
            .iter()
            .any(|v| matches!(v, Violation::OverCapacity { .. })));
    }

    #[test]
    fn pickup_before_ready() {
        let (mut problem, config, plan) = base();
        problem.parcels[0].ready_at = 5_000;
        let v = violations(&problem, &config, &plan);
        assert!(
            v.iter().any(|v| matches!(
                v,
                Violation::PickupBeforeReady(_) | Violation::WrongTimes { .. }
            )),
            "{v:?}"
        );
    }

    #[test]
    fn after_shift_end() {
        let (mut problem, config, plan) = base();
        problem.riders[0].shift_end = 1;
        assert!(violations(&problem, &config, &plan)
            .iter()
            .any(|v| matches!(v, Violation::AfterShiftEnd { .. })));
    }

    #[test]
    fn drop_before_pickup() {
        let (problem, config, mut plan) = base();
        route_of(&mut plan, "r").stops.swap(0, 1);
        assert!(violations(&problem, &config, &plan)
            .iter()
            .any(|v| matches!(v, Violation::DropoffBeforePickup(_))));
    }

    #[test]
    fn pickup_and_dropoff_by_different_riders() {
        let (problem, config, mut plan) = base();
        let drop = route_of(&mut plan, "r").stops.remove(1);
        route_of(&mut plan, "s").stops.push(drop);
        let v = violations(&problem, &config, &plan);
        assert!(
            v.iter()
                .any(|v| matches!(v, Violation::PickupWithoutDropoff(_))),
            "{v:?}"
        );
        assert!(
            v.iter()
                .any(|v| matches!(v, Violation::DropoffBeforePickup(_))),
            "{v:?}"
        );
    }

    #[test]
    fn wrong_times() {
        let (problem, config, mut plan) = base();
        route_of(&mut plan, "r").stops[1].handover_at -= 1;
        assert!(violations(&problem, &config, &plan)
            .iter()
            .any(|v| matches!(v, Violation::WrongTimes { .. })));
    }

    #[test]
    fn new_work_for_an_offline_rider() {
        let (mut problem, config, plan) = base();
        problem.riders[0].online = false;
        assert!(violations(&problem, &config, &plan)
            .iter()
            .any(|v| matches!(v, Violation::NewWorkForUnavailableRider { .. })));
    }

    #[test]
    fn mixing_sites_when_one_site_per_trip() {
        let (problem, mut config, mut plan) = base();
        config.one_site_per_trip = true;
        // r picks up p, then q's pickup before dropping p.
        let q_stops: Vec<PlannedStop> = route_of(&mut plan, "s").stops.drain(..).collect();
        let r = route_of(&mut plan, "r");
        r.stops.insert(1, q_stops[0].clone());
        r.stops.push(q_stops[1].clone());
        let v = violations(&problem, &config, &plan);
        assert!(
            v.iter()
                .any(|v| matches!(v, Violation::OneSitePerTrip { .. })),
            "{v:?}"
        );
    }

    #[test]
    fn changed_committed_stops() {
        let (mut problem, config, mut plan) = base();
        problem.riders[0].onboard = vec![];
        problem.riders[0].route = vec![
            Stop::pickup(&ParcelId("p".into())),
            Stop::dropoff(&ParcelId("p".into())),
        ];
        plan.assignments.retain(|a| a.parcel.0 != "p");
        route_of(&mut plan, "r").stops.swap(0, 1);
        assert!(violations(&problem, &config, &plan)
            .contains(&Violation::CommittedStopsChanged(RiderId("r".into()))));
    }
}
