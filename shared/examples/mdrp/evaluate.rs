//! An evaluator independent of the simulator and the solver: it reads the three solution
//! files back and checks every rule of the instance collection's README, then measures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use orderhub_core::dispatch::{Point, Time};

use crate::instance::Instance;

#[derive(Debug, Default, Clone)]
pub struct Metrics {
    pub orders: usize,
    /// Orders ready before the last courier goes off duty: the rest no one can deliver.
    pub possible: usize,
    pub delivered: usize,
    pub mean_ctd: f64,
    pub p90_ctd: f64,
    pub within_target: f64,
    pub mean_ready_to_pickup: f64,
    pub utilization: f64,
    pub orders_per_courier_hour: f64,
    pub cost_per_order: f64,
    pub mean_lower_bound: f64,
    pub violations: Vec<String>,
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(['\t', ',']).map(|s| s.trim().to_string()).collect())
        .collect()
}

fn int(s: Option<&String>) -> Time {
    s.and_then(|s| s.parse().ok()).unwrap_or(Time::MIN)
}

fn minutes(inst: &Instance, a: Point, b: Point) -> Time {
    let d = ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt();
    (d / inst.params.metres_per_minute).ceil() as Time
}

pub fn evaluate(inst: &Instance, dir: &Path) -> Metrics {
    let mut bad = Vec::new();
    let orders: BTreeMap<&str, &crate::instance::Order> =
        inst.orders.iter().map(|o| (o.id.as_str(), o)).collect();
    let couriers: BTreeMap<&str, &crate::instance::Courier> =
        inst.couriers.iter().map(|c| (c.id.as_str(), c)).collect();
    let (sp, sd) = (inst.params.pickup_service, inst.params.dropoff_service);

    // Assignments: once per order, never before placement, one restaurant, ready, on duty.
    let mut assigned: BTreeMap<String, (String, Time, Time)> = BTreeMap::new(); // order -> courier, given, pickup
    let mut bundles: BTreeMap<(String, String, Time), Time> = BTreeMap::new(); // (courier, restaurant, pickup) -> given
    for a in rows(&dir.join("assignments.txt")) {
        let (given, pickup, courier) = (
            int(a.first()),
            int(a.get(1)),
            a.get(2).cloned().unwrap_or_default(),
        );
        let Some(c) = couriers.get(courier.as_str()) else {
            bad.push(format!("unknown courier {courier}"));
            continue;
        };
        if pickup > c.off {
            bad.push(format!(
                "{courier} picks up at {pickup} after going off at {}",
                c.off
            ));
        }
        if given < c.on {
            bad.push(format!(
                "{courier} given work at {given} before coming on at {}",
                c.on
            ));
        }
        let mut restaurants = BTreeSet::new();
        for id in &a[3..] {
            let Some(o) = orders.get(id.as_str()) else {
                bad.push(format!("unknown order {id}"));
                continue;
            };
            restaurants.insert(o.restaurant.clone());
            if given < o.placed {
                bad.push(format!(
                    "{id} assigned at {given} before placement {}",
                    o.placed
                ));
            }
            if pickup < o.ready {
                bad.push(format!(
                    "{id} picked up at {pickup} before ready {}",
                    o.ready
                ));
            }
            if assigned
                .insert(id.clone(), (courier.clone(), given, pickup))
                .is_some()
            {
                bad.push(format!("{id} assigned twice"));
            }
        }
        if restaurants.len() > 1 {
            bad.push(format!("bundle from several restaurants: {restaurants:?}"));
        }
        if let Some(r) = restaurants.into_iter().next() {
            bundles.insert((courier, r, pickup), given);
        }
    }

    // Deliveries agree with assignments and the instance.
    let mut drop_at: BTreeMap<String, (Time, Time, String)> = BTreeMap::new(); // order -> pickup, drop, courier
    for d in rows(&dir.join("order_deliveries.txt")) {
        let id = d.first().cloned().unwrap_or_default();
        let (placed, ready, pickup, drop) =
            (int(d.get(1)), int(d.get(2)), int(d.get(3)), int(d.get(4)));
        let courier = d.get(5).cloned().unwrap_or_default();
        match (orders.get(id.as_str()), assigned.get(&id)) {
            (Some(o), Some((c, _, p))) => {
                if o.placed != placed || o.ready != ready || *p != pickup || *c != courier {
                    bad.push(format!(
                        "{id}: delivery row disagrees with instance or assignment"
                    ));
                }
            }
            _ => bad.push(format!("{id}: delivered but not assigned")),
        }
        if drop_at
            .insert(id.clone(), (pickup, drop, courier))
            .is_some()
        {
            bad.push(format!("{id} delivered twice"));
        }
    }

    // Courier moves: positions, travel and service times consistent throughout.
    let mut moves: BTreeMap<String, Vec<(Time, String, String)>> = BTreeMap::new();
    for m in rows(&dir.join("courier_moves.txt")) {
        let c = m.first().cloned().unwrap_or_default();
        moves.entry(c).or_default().push((
            int(m.get(1)),
            m.get(2).cloned().unwrap_or_default(),
            m.get(3).cloned().unwrap_or_default(),
        ));
    }
    let mut busy: Time = 0;
    for (cid, list) in &moves {
        let Some(c) = couriers.get(cid.as_str()) else {
            bad.push(format!("moves for unknown courier {cid}"));
            continue;
        };
        let mut here = "0".to_string();
        let mut pos = c.at;
        let mut free: Time = Time::MIN;
        for (depart, from, to) in list {
            if *from != here {
                bad.push(format!("{cid} leaves {from} but is at {here}"));
            }
            if *depart < free {
                bad.push(format!(
                    "{cid} leaves {from} at {depart} before finishing there at {free}"
                ));
            }
            let (dest, is_restaurant) = match (inst.restaurants.get(to), orders.get(to.as_str())) {
                (Some(p), _) => (*p, true),
                (None, Some(o)) => (o.at, false),
                _ => {
                    bad.push(format!("{cid} moves to unknown {to}"));
                    break;
                }
            };
            let tt = minutes(inst, pos, dest);
            let arrive = depart + tt;
            busy += tt;
            if is_restaurant {
                // The bundle picked up here by this courier, given no later than departure.
                let found = bundles
                    .range(
                        (cid.clone(), to.clone(), Time::MIN)..=(cid.clone(), to.clone(), Time::MAX),
                    )
                    .find(|(k, given)| k.2 >= arrive + sp / 2 && **given <= *depart);
                match found {
                    Some((k, _)) => {
                        free = k.2 + (sp - sp / 2);
                        busy += sp;
                    }
                    None => {
                        bad.push(format!(
                            "{cid} at {to} at {arrive}: no bundle to pick up there"
                        ));
                        free = arrive + sp;
                    }
                }
            } else {
                match drop_at.get(to.as_str()) {
                    Some((pickup, drop, by)) => {
                        if by != cid || *drop != arrive + sd / 2 || *pickup > *depart {
                            bad.push(format!(
                                "{to}: drop-off at {drop} but {cid} arrives at {arrive}"
                            ));
                        }
                        free = drop + (sd - sd / 2);
                    }
                    None => {
                        bad.push(format!("{cid} goes to {to}, which is not delivered"));
                        free = arrive + sd;
                    }
                }
                busy += sd;
            }
            here = to.clone();
            pos = dest;
        }
    }

    // Metrics.
    let mut ctd: Vec<Time> = Vec::new();
    let mut ready_to_pickup = 0f64;
    for (id, (pickup, drop, _)) in &drop_at {
        if let Some(o) = orders.get(id.as_str()) {
            ctd.push(drop - o.placed);
            ready_to_pickup += (pickup - o.ready) as f64;
        }
    }
    ctd.sort_unstable();
    let n = ctd.len().max(1) as f64;
    let duty: Time = inst.couriers.iter().map(|c| c.off - c.on).sum();
    let mut per_courier: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, c) in drop_at.values() {
        *per_courier.entry(c.as_str()).or_default() += 1;
    }
    let pay: f64 = inst
        .couriers
        .iter()
        .map(|c| {
            let delivered = per_courier.get(c.id.as_str()).copied().unwrap_or(0) as f64;
            (inst.params.pay_per_order * delivered)
                .max(inst.params.pay_per_hour * (c.off - c.on) as f64 / 60.0)
        })
        .sum();
    let over_max = ctd.iter().filter(|&&x| x > inst.params.max_ctd).count();
    if over_max > 0 {
        bad.push(format!(
            "note: {over_max} orders over the maximum click-to-door (a soft target)"
        ));
    }
    let lb: f64 = inst
        .orders
        .iter()
        .map(|o| inst.lower_bound_ctd(o) as f64)
        .sum::<f64>()
        / inst.orders.len().max(1) as f64;
    Metrics {
        orders: inst.orders.len(),
        possible: {
            let last_off = inst.couriers.iter().map(|c| c.off).max().unwrap_or(0);
            inst.orders.iter().filter(|o| o.ready <= last_off).count()
        },
        delivered: drop_at.len(),
        mean_ctd: ctd.iter().sum::<Time>() as f64 / n,
        p90_ctd: ctd
            .get(((ctd.len() as f64 * 0.9).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0) as f64,
        within_target: ctd.iter().filter(|&&x| x <= inst.params.target_ctd).count() as f64 / n,
        mean_ready_to_pickup: ready_to_pickup / n,
        utilization: busy as f64 / duty.max(1) as f64,
        orders_per_courier_hour: drop_at.len() as f64 / (duty.max(1) as f64 / 60.0),
        cost_per_order: pay / drop_at.len().max(1) as f64,
        mean_lower_bound: lb,
        violations: bad,
    }
}
