//! Couriers carrying out trips, and the record of what happened (the three-file layout).

use orderhub_core::dispatch::{Point, Time};

use crate::instance::Instance;

/// Where a courier is, as the courier-moves file names it.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    Start,
    Restaurant(String),
    Order(String),
}

impl Place {
    pub fn label(&self) -> String {
        match self {
            Place::Start => "0".into(),
            Place::Restaurant(r) => r.clone(),
            Place::Order(o) => o.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CourierState {
    pub pos: Point,
    pub place: Place,
    pub free_at: Time,
}

#[derive(Debug, Default)]
pub struct Record {
    /// given, pickup, courier, orders in drop-off order
    pub assignments: Vec<(Time, Time, String, Vec<String>)>,
    /// order, placed, ready, pickup, dropoff, courier
    pub deliveries: Vec<(String, Time, Time, Time, Time, String)>,
    /// courier, departure, origin, destination
    pub moves: Vec<(String, Time, String, String)>,
}

pub struct Fleet<'a> {
    pub inst: &'a Instance,
    pub state: Vec<CourierState>,
    /// Orders given to each courier so far.
    pub delivered: Vec<i64>,
    pub record: Record,
}

impl<'a> Fleet<'a> {
    pub fn new(inst: &'a Instance) -> Self {
        let state: Vec<CourierState> = inst
            .couriers
            .iter()
            .map(|c| CourierState {
                pos: c.at,
                place: Place::Start,
                free_at: c.on,
            })
            .collect();
        Self {
            inst,
            delivered: vec![0; state.len()],
            state,
            record: Record::default(),
        }
    }

    /// When courier `c` given `orders` (one restaurant) at `now` would pick them up.
    pub fn pickup_time(&self, c: usize, now: Time, restaurant: &str, ready: Time) -> Time {
        let s = &self.state[c];
        let at = self.inst.restaurants[restaurant];
        let depart = now.max(s.free_at);
        (depart + self.inst.minutes(s.pos, at) + self.inst.params.pickup_service / 2).max(ready)
    }

    /// Give courier `c` a bundle (order indices, in drop-off order) at `now`; the courier
    /// leaves at once (or when free) and carries it out to the end.
    pub fn carry_out(&mut self, c: usize, now: Time, bundle: &[usize]) {
        let inst = self.inst;
        let Some(first) = bundle.first() else { return };
        let restaurant = inst.orders[*first].restaurant.clone();
        let at = inst.restaurants[&restaurant];
        let ready = bundle
            .iter()
            .map(|&o| inst.orders[o].ready)
            .max()
            .unwrap_or(0);
        let cid = inst.couriers[c].id.clone();
        let (sp, sd) = (inst.params.pickup_service, inst.params.dropoff_service);
        let s = self.state[c].clone();
        let depart = now.max(s.free_at);
        let pickup = (depart + inst.minutes(s.pos, at) + sp / 2).max(ready);
        self.record
            .moves
            .push((cid.clone(), depart, s.place.label(), restaurant.clone()));
        let mut t = pickup + (sp - sp / 2);
        let mut pos = at;
        let mut place = Place::Restaurant(restaurant);
        for &o in bundle {
            let order = &inst.orders[o];
            self.record
                .moves
                .push((cid.clone(), t, place.label(), order.id.clone()));
            let drop = t + inst.minutes(pos, order.at) + sd / 2;
            self.record.deliveries.push((
                order.id.clone(),
                order.placed,
                order.ready,
                pickup,
                drop,
                cid.clone(),
            ));
            t = drop + (sd - sd / 2);
            pos = order.at;
            place = Place::Order(order.id.clone());
        }
        self.record.assignments.push((
            now,
            pickup,
            cid,
            bundle.iter().map(|&o| inst.orders[o].id.clone()).collect(),
        ));
        self.delivered[c] += bundle.len() as i64;
        self.state[c] = CourierState {
            pos,
            place,
            free_at: t,
        };
    }
}

/// Write the three files the collection's own evaluator reads.
pub fn write(record: &Record, dir: &std::path::Path) -> std::io::Result<()> {
    use std::fmt::Write;
    std::fs::create_dir_all(dir)?;
    let mut a = String::from("time\tpickup_time\tcourier\torders\n");
    for (given, pickup, c, orders) in &record.assignments {
        let _ = writeln!(a, "{given}\t{pickup}\t{c}\t{}", orders.join("\t"));
    }
    let mut d =
        String::from("order\tplacement_time\tready_time\tpickup_time\tdropoff_time\tcourier\n");
    for (o, placed, ready, pickup, drop, c) in &record.deliveries {
        let _ = writeln!(d, "{o}\t{placed}\t{ready}\t{pickup}\t{drop}\t{c}");
    }
    let mut m = String::from("courier\tdeparture_time\torigin\tdestination\n");
    for (c, t, from, to) in &record.moves {
        let _ = writeln!(m, "{c}\t{t}\t{from}\t{to}");
    }
    std::fs::write(dir.join("assignments.txt"), a)?;
    std::fs::write(dir.join("order_deliveries.txt"), d)?;
    std::fs::write(dir.join("courier_moves.txt"), m)
}
