//! Reading a Grubhub MDRP instance folder.

use std::collections::BTreeMap;
use std::path::Path;

use orderhub_core::dispatch::{Euclidean, Point, Time, TravelModel};

#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    pub at: Point,
    pub placed: Time,
    pub restaurant: String,
    pub ready: Time,
}

#[derive(Debug, Clone)]
pub struct Courier {
    pub id: String,
    pub at: Point,
    pub on: Time,
    pub off: Time,
}

#[derive(Debug, Clone)]
pub struct Params {
    pub metres_per_minute: f64,
    pub pickup_service: Time,
    pub dropoff_service: Time,
    pub target_ctd: Time,
    pub max_ctd: Time,
    pub pay_per_order: f64,
    pub pay_per_hour: f64,
}

#[derive(Debug, Clone)]
pub struct Instance {
    pub name: String,
    pub restaurants: BTreeMap<String, Point>,
    pub orders: Vec<Order>,
    pub couriers: Vec<Courier>,
    pub params: Params,
}

impl Instance {
    pub fn travel(&self) -> Euclidean {
        Euclidean {
            units_per_time: self.params.metres_per_minute,
        }
    }

    pub fn minutes(&self, a: Point, b: Point) -> Time {
        self.travel().travel(a, b)
    }

    /// Click-to-door if a courier were waiting at the restaurant when the food is ready.
    pub fn lower_bound_ctd(&self, o: &Order) -> Time {
        let r = self.restaurants[&o.restaurant];
        let sp = self.params.pickup_service;
        let sd = self.params.dropoff_service;
        o.ready + (sp - sp / 2) + self.minutes(r, o.at) + sd / 2 - o.placed
    }
}

fn rows(path: &Path) -> Result<Vec<Vec<String>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(['\t', ',']).map(|s| s.trim().to_string()).collect())
        .collect())
}

fn num<T: std::str::FromStr>(row: &[String], i: usize, file: &str) -> Result<T, String> {
    row.get(i)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{file}: bad field {i} in {row:?}"))
}

pub fn load(dir: &Path) -> Result<Instance, String> {
    let mut restaurants = BTreeMap::new();
    for r in rows(&dir.join("restaurants.txt"))? {
        restaurants.insert(
            r[0].clone(),
            Point::planar(num(&r, 1, "restaurants")?, num(&r, 2, "restaurants")?),
        );
    }
    let mut orders = Vec::new();
    for r in rows(&dir.join("orders.txt"))? {
        orders.push(Order {
            id: r[0].clone(),
            at: Point::planar(num(&r, 1, "orders")?, num(&r, 2, "orders")?),
            placed: num(&r, 3, "orders")?,
            restaurant: r.get(4).cloned().unwrap_or_default(),
            ready: num(&r, 5, "orders")?,
        });
    }
    let mut couriers = Vec::new();
    for r in rows(&dir.join("couriers.txt"))? {
        couriers.push(Courier {
            id: r[0].clone(),
            at: Point::planar(num(&r, 1, "couriers")?, num(&r, 2, "couriers")?),
            on: num(&r, 3, "couriers")?,
            off: num(&r, 4, "couriers")?,
        });
    }
    let p = rows(&dir.join("instance_parameters.txt"))?;
    let p = p.first().ok_or("instance_parameters.txt is empty")?;
    let params = Params {
        metres_per_minute: num(p, 0, "params")?,
        pickup_service: num(p, 1, "params")?,
        dropoff_service: num(p, 2, "params")?,
        target_ctd: num(p, 3, "params")?,
        max_ctd: num(p, 4, "params")?,
        pay_per_order: num(p, 5, "params")?,
        pay_per_hour: num(p, 6, "params")?,
    };
    // Every index into `restaurants` later relies on this.
    if let Some(o) = orders
        .iter()
        .find(|o| !restaurants.contains_key(&o.restaurant))
    {
        return Err(format!(
            "order {} names unknown restaurant {}",
            o.id, o.restaurant
        ));
    }
    let name = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Instance {
        name,
        restaurants,
        orders,
        couriers,
        params,
    })
}
