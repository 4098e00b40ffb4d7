//! The two ways of running the day: the dispatch core every minute, and the greedy
//! baseline.

use orderhub_core::dispatch::*;

use crate::fleet::Fleet;
use crate::instance::Instance;

pub struct CoreSettings {
    pub iterations: u64,
    pub weights: Weights,
    /// Commit a trip this many minutes before the courier must leave to make its pickup.
    pub slack: Time,
}

fn day_end(inst: &Instance) -> Time {
    let last_off = inst.couriers.iter().map(|c| c.off).max().unwrap_or(0);
    let last_order = inst
        .orders
        .iter()
        .map(|o| o.placed.max(o.ready))
        .max()
        .unwrap_or(0);
    last_off.max(last_order) + 1
}

/// Greedy: each order at placement goes to the on-duty courier who can pick it up first.
pub fn greedy(inst: &Instance) -> Fleet<'_> {
    let mut fleet = Fleet::new(inst);
    let mut waiting: Vec<usize> = Vec::new();
    let mut by_placement: Vec<usize> = (0..inst.orders.len()).collect();
    by_placement.sort_by_key(|&o| (inst.orders[o].placed, o));
    let mut next = 0;
    for t in 0..=day_end(inst) {
        while next < by_placement.len() && inst.orders[by_placement[next]].placed <= t {
            waiting.push(by_placement[next]);
            next += 1;
        }
        let mut still = Vec::new();
        for &o in &waiting {
            let order = &inst.orders[o];
            let best = (0..inst.couriers.len())
                .filter(|&c| inst.couriers[c].on <= t && t < inst.couriers[c].off)
                .map(|c| (fleet.pickup_time(c, t, &order.restaurant, order.ready), c))
                .filter(|&(p, c)| p <= inst.couriers[c].off)
                .min();
            match best {
                Some((_, c)) => fleet.carry_out(c, t, &[o]),
                None => still.push(o),
            }
        }
        waiting = still;
    }
    fleet
}

/// Every minute: all placed, uncommitted orders and all couriers still on (or soon on)
/// duty go to `dispatch`; a planned first trip is committed once its courier is idle and
/// must leave now to make the planned pickup.
pub fn rolling<'a>(inst: &'a Instance, settings: &CoreSettings, calls: &mut Vec<f64>) -> Fleet<'a> {
    let mut fleet = Fleet::new(inst);
    let travel = inst.travel();
    let config = DispatchConfig {
        weights: settings.weights,
        one_site_per_trip: true,
        drops_after_shift_end: true,
        candidate_riders: 0,
        stale_after: Time::MAX / 4,
        ..DispatchConfig::default()
    };
    let (sp, sd) = (inst.params.pickup_service, inst.params.dropoff_service);
    let mut done = vec![false; inst.orders.len()];
    let unlimited = Load::new(i64::MAX / 4, i64::MAX / 4, i64::MAX / 4);
    for t in 0..=day_end(inst) {
        let open: Vec<usize> = (0..inst.orders.len())
            .filter(|&o| !done[o] && inst.orders[o].placed <= t)
            .collect();
        if open.is_empty() {
            continue;
        }
        let couriers: Vec<usize> = (0..inst.couriers.len())
            .filter(|&c| inst.couriers[c].off > t && inst.couriers[c].on <= t + 30)
            .collect();
        let problem = Problem {
            now: t,
            riders: couriers
                .iter()
                .map(|&c| Rider {
                    id: RiderId(c.to_string()),
                    position: fleet.state[c].pos,
                    position_at: t,
                    free_at: fleet.state[c].free_at.max(inst.couriers[c].on),
                    shift_end: inst.couriers[c].off,
                    capacity: unlimited,
                    capabilities: Capabilities {
                        insulated: true,
                        freezer: true,
                    },
                    online: true,
                    onboard: vec![],
                    route: vec![],
                    delivered_today: fleet.delivered[c],
                })
                .collect(),
            parcels: open
                .iter()
                .map(|&o| {
                    let order = &inst.orders[o];
                    Parcel {
                        id: ParcelId(o.to_string()),
                        pickup: Some(inst.restaurants[&order.restaurant]),
                        dropoff: Some(order.at),
                        ready_at: order.ready,
                        // The physical best: lateness against it is click-to-door overage
                        // over the lower bound.
                        promised_at: order.placed + inst.lower_bound_ctd(order),
                        size: Load::default(),
                        cold_chain: ColdChain::Ambient,
                        zone: None,
                        pickup_service: sp,
                        dropoff_service: sd,
                        declined_by: vec![],
                    }
                })
                .collect(),
        };
        let config = DispatchConfig {
            seed: t as u64,
            ..config.clone()
        };
        let started = std::time::Instant::now();
        let plan = match dispatch(
            &problem,
            &config,
            &travel,
            &mut Iterations::new(settings.iterations),
        ) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{}: minute {t}: {e}", inst.name);
                continue;
            }
        };
        calls.push(started.elapsed().as_secs_f64() * 1e3);
        let violations = check(&problem, &config, &travel, &plan);
        if !violations.is_empty() {
            eprintln!("{}: minute {t}: checker: {violations:?}", inst.name);
        }
        for route in &plan.routes {
            let Ok(c) = route.rider.0.parse::<usize>() else {
                continue;
            };
            let state = &fleet.state[c];
            if state.free_at > t || inst.couriers[c].on > t {
                continue;
            }
            let pickups: Vec<usize> = route
                .stops
                .iter()
                .take_while(|s| s.kind == StopKind::Pickup)
                .filter_map(|s| s.parcel.0.parse().ok())
                .collect();
            let Some(&first) = pickups.first() else {
                continue;
            };
            let drops: Vec<usize> = route
                .stops
                .iter()
                .skip(pickups.len())
                .take(pickups.len())
                .filter_map(|s| s.parcel.0.parse().ok())
                .collect();
            let restaurant = &inst.orders[first].restaurant;
            // Two restaurants can share coordinates; a bundle must come from one.
            let drops: Vec<usize> = drops
                .into_iter()
                .filter(|&o| &inst.orders[o].restaurant == restaurant)
                .collect();
            let pickups: Vec<usize> = pickups
                .into_iter()
                .filter(|&o| &inst.orders[o].restaurant == restaurant)
                .collect();
            let ready = pickups
                .iter()
                .map(|&o| inst.orders[o].ready)
                .max()
                .unwrap_or(0);
            let arrive_now = t + inst.minutes(state.pos, inst.restaurants[restaurant]) + sp / 2;
            if arrive_now + settings.slack < ready {
                continue; // leaving later picks up just as early; wait for more orders
            }
            if drops.len() != pickups.len() {
                continue;
            }
            for &o in &drops {
                done[o] = true;
            }
            fleet.carry_out(c, t, &drops);
        }
    }
    fleet
}
