//! Which warehouse serves a line first. Pluggable: the ledger only needs an order.

use crate::order::GeoPoint;

use super::model::{StrategyKind, Warehouse};

/// A warehouse the channel may sell from, with its available units when the strategy
/// asked for them ([`WarehouseStrategy::needs_levels`]).
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub warehouse: &'a Warehouse,
    pub available: Option<i64>,
}

pub trait WarehouseStrategy {
    /// Whether `rank` needs `available` filled in (costs two counter reads per warehouse).
    fn needs_levels(&self) -> bool {
        false
    }
    /// Candidates in the order they should be tried.
    fn rank<'a>(
        &self,
        candidates: Vec<Candidate<'a>>,
        deliver_to: Option<GeoPoint>,
    ) -> Vec<Candidate<'a>>;
}

/// Configured `priority` (lower first), then id for a stable order.
#[derive(Debug, Clone, Copy, Default)]
pub struct PriorityOrder;

impl WarehouseStrategy for PriorityOrder {
    fn rank<'a>(
        &self,
        mut candidates: Vec<Candidate<'a>>,
        _: Option<GeoPoint>,
    ) -> Vec<Candidate<'a>> {
        candidates.sort_by(|a, b| {
            (a.warehouse.priority, &a.warehouse.id).cmp(&(b.warehouse.priority, &b.warehouse.id))
        });
        candidates
    }
}

/// Most available units first (fewest splits), ties by priority.
#[derive(Debug, Clone, Copy, Default)]
pub struct MostStock;

impl WarehouseStrategy for MostStock {
    fn needs_levels(&self) -> bool {
        true
    }
    fn rank<'a>(
        &self,
        mut candidates: Vec<Candidate<'a>>,
        _: Option<GeoPoint>,
    ) -> Vec<Candidate<'a>> {
        candidates.sort_by(|a, b| {
            let key = |c: &Candidate| {
                (
                    std::cmp::Reverse(c.available.unwrap_or(0)),
                    c.warehouse.priority,
                )
            };
            key(a)
                .cmp(&key(b))
                .then_with(|| a.warehouse.id.cmp(&b.warehouse.id))
        });
        candidates
    }
}

/// Nearest to the delivery point (great-circle distance); warehouses without a
/// location, or every warehouse when there is no delivery point, fall back to priority.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nearest;

impl WarehouseStrategy for Nearest {
    fn rank<'a>(
        &self,
        candidates: Vec<Candidate<'a>>,
        deliver_to: Option<GeoPoint>,
    ) -> Vec<Candidate<'a>> {
        let mut ranked = PriorityOrder.rank(candidates, None);
        if let Some(to) = deliver_to {
            // Stable sort: equal distances keep priority order; unknown distances go last.
            ranked.sort_by(|a, b| {
                let d = |c: &Candidate| c.warehouse.location.map(|at| distance_m(at, to));
                match (d(a), d(b)) {
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
            });
        }
        ranked
    }
}

/// Haversine distance in metres; geometry, so floats are right here.
pub fn distance_m(a: GeoPoint, b: GeoPoint) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_000.0;
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlng = (b.lng - a.lng).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlng / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// The built-in strategy a channel policy names.
pub fn builtin(kind: StrategyKind) -> &'static dyn WarehouseStrategy {
    match kind {
        StrategyKind::Priority => &PriorityOrder,
        StrategyKind::MostStock => &MostStock,
        StrategyKind::Nearest => &Nearest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stock::model::WarehouseId;

    fn wh(id: &str, priority: i32, at: Option<(f64, f64)>) -> Warehouse {
        Warehouse {
            id: WarehouseId::new(id),
            name: String::new(),
            location: at.map(|(lat, lng)| GeoPoint { lat, lng }),
            priority,
        }
    }

    fn ids(c: &[Candidate]) -> Vec<String> {
        c.iter().map(|c| c.warehouse.id.0.clone()).collect()
    }

    #[test]
    fn strategies_order_candidates() {
        let ws = [
            wh("a", 2, Some((31.23, 121.47))),
            wh("b", 1, Some((39.90, 116.40))),
            wh("c", 3, None),
        ];
        let cands = |avail: [i64; 3]| -> Vec<Candidate> {
            ws.iter()
                .zip(avail)
                .map(|(w, a)| Candidate {
                    warehouse: w,
                    available: Some(a),
                })
                .collect()
        };
        assert_eq!(
            ids(&PriorityOrder.rank(cands([0, 0, 0]), None)),
            ["b", "a", "c"]
        );
        assert_eq!(
            ids(&MostStock.rank(cands([5, 1, 9]), None)),
            ["c", "a", "b"]
        );
        let near_shanghai = Some(GeoPoint {
            lat: 31.2,
            lng: 121.5,
        });
        assert_eq!(
            ids(&Nearest.rank(cands([0, 0, 0]), near_shanghai)),
            ["a", "b", "c"]
        );
        assert_eq!(ids(&Nearest.rank(cands([0, 0, 0]), None)), ["b", "a", "c"]);
        let d = distance_m(
            GeoPoint {
                lat: 31.23,
                lng: 121.47,
            },
            GeoPoint {
                lat: 39.90,
                lng: 116.40,
            },
        );
        assert!(
            (1_000_000.0..1_100_000.0).contains(&d),
            "Shanghai–Beijing ≈ 1,070 km, got {d}"
        );
    }
}
