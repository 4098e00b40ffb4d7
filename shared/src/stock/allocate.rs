//! The pure half of a batch reservation: sharing the units a batch holds at each
//! SKU@warehouse among its orders, first come first served.
//!
//! `batch` takes units from the counters once per place for the whole batch (by
//! increment-then-check, like `counters::take`); what each place granted is a pool
//! here. Each order, in batch order, runs the same per-line rules as a single reserve
//! (`reserve::take_line`): unsplit lines look for one warehouse with everything, split
//! lines take what each ranked warehouse has, partial lines keep what they got; an
//! all-or-nothing order that is short puts its units back into the pools before the
//! next order is served. Against pools that hold what the counters had free, this is
//! exactly what single reserves one after another would have been told.

use std::collections::BTreeMap;

use super::intent::Place;
use super::model::{Allocation, ChannelPolicy, ReserveLine, ReserveRequest, Shortage, WarehouseId};

/// One order of the batch: its lines, its channel's rules, and per line the warehouses
/// to try in order (already ranked by the channel's strategy).
pub(super) struct Wanted<'a> {
    pub request: &'a ReserveRequest,
    pub policy: &'a ChannelPolicy,
    pub ranked: Vec<Vec<WarehouseId>>,
}

/// What one order was given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Granted {
    pub allocations: Vec<Allocation>,
    pub shortages: Vec<Shortage>,
}

/// Units free to the batch per place.
pub(super) type Pools = BTreeMap<Place, i64>;

/// Serves `orders` in order from `pools`, leaving in `pools` what nobody took.
pub(super) fn allocate(orders: &[Wanted<'_>], pools: &mut Pools) -> Vec<Granted> {
    orders.iter().map(|order| serve(order, pools)).collect()
}

/// Puts an order's units back (an order dropped after allocation).
pub(super) fn put_back(granted: &Granted, pools: &mut Pools) {
    for a in &granted.allocations {
        *pools.entry(Place::new(&a.sku, &a.warehouse)).or_insert(0) += a.quantity;
    }
}

fn serve(order: &Wanted<'_>, pools: &mut Pools) -> Granted {
    let mut granted = Granted::default();
    for (line, ranked) in order.request.lines.iter().zip(&order.ranked) {
        let taken = take_line(line, ranked, order.policy, pools);
        let got: i64 = taken.iter().map(|a| a.quantity).sum();
        if got < line.quantity {
            granted.shortages.push(Shortage {
                line_no: line.line_no,
                sku: line.sku.clone(),
                requested: line.quantity,
                available: got,
                short: line.quantity - got,
            });
        }
        granted.allocations.extend(taken);
    }
    let keep = granted.shortages.is_empty()
        || (order.policy.accept_partial && !granted.allocations.is_empty());
    if !keep {
        put_back(&granted, pools);
        granted.allocations.clear();
    }
    granted
}

/// `reserve::take_line` against pools instead of counters.
fn take_line(
    line: &ReserveLine,
    ranked: &[WarehouseId],
    policy: &ChannelPolicy,
    pools: &mut Pools,
) -> Vec<Allocation> {
    let mut taken = Vec::new();
    let mut remaining = line.quantity;
    if !policy.allow_split {
        for wh in ranked {
            let got = take_at(pools, line, wh, remaining, true);
            if got > 0 {
                taken.push(allocation(line, wh, got));
                return taken;
            }
        }
        if !policy.accept_partial {
            return taken;
        }
    }
    for wh in ranked {
        if remaining == 0 {
            break;
        }
        let got = take_at(pools, line, wh, remaining, false);
        if got > 0 {
            taken.push(allocation(line, wh, got));
            remaining -= got;
            if !policy.allow_split {
                break;
            }
        }
    }
    taken
}

fn take_at(
    pools: &mut Pools,
    line: &ReserveLine,
    wh: &WarehouseId,
    want: i64,
    all_or_nothing: bool,
) -> i64 {
    let Some(free) = pools.get_mut(&Place::new(&line.sku, wh)) else {
        return 0;
    };
    let got = if all_or_nothing && *free < want {
        0
    } else {
        want.min(*free).max(0)
    };
    *free -= got;
    got
}

pub(super) fn allocation(line: &ReserveLine, warehouse: &WarehouseId, quantity: i64) -> Allocation {
    Allocation {
        line_no: line.line_no,
        sku: line.sku.clone(),
        warehouse: warehouse.clone(),
        quantity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{ChannelId, OrderId, SkuId};

    fn request(id: &str, lines: &[(&str, i64)]) -> ReserveRequest {
        ReserveRequest {
            order: OrderId(id.into()),
            channel: ChannelId::new("c"),
            lines: lines
                .iter()
                .zip(1..)
                .map(|(&(sku, quantity), line_no)| ReserveLine {
                    line_no,
                    sku: SkuId(sku.into()),
                    quantity,
                })
                .collect(),
            deliver_to: None,
        }
    }

    fn pools(free: &[(&str, &str, i64)]) -> Pools {
        free.iter()
            .map(|&(s, w, q)| (Place::new(&SkuId(s.into()), &WarehouseId::new(w)), q))
            .collect()
    }

    fn wanted<'a>(
        request: &'a ReserveRequest,
        policy: &'a ChannelPolicy,
        warehouses: &[&str],
    ) -> Wanted<'a> {
        let ranked = warehouses.iter().map(|w| WarehouseId::new(*w)).collect();
        Wanted {
            request,
            policy,
            ranked: vec![ranked; request.lines.len()],
        }
    }

    fn units(g: &Granted) -> i64 {
        g.allocations.iter().map(|a| a.quantity).sum()
    }

    #[test]
    fn first_come_first_served_and_a_short_all_or_nothing_order_gives_its_units_back() {
        let strict = ChannelPolicy::default();
        let a = request("a", &[("x", 3)]);
        let b = request("b", &[("x", 1), ("y", 5)]);
        let c = request("c", &[("x", 2)]);
        let mut free = pools(&[("x", "w", 5), ("y", "w", 4)]);
        let got = allocate(
            &[
                wanted(&a, &strict, &["w"]),
                wanted(&b, &strict, &["w"]),
                wanted(&c, &strict, &["w"]),
            ],
            &mut free,
        );
        assert_eq!(got.iter().map(units).collect::<Vec<_>>(), vec![3, 0, 2]);
        assert_eq!(got[1].shortages.len(), 1);
        assert_eq!(got[1].shortages[0].short, 5);
        assert_eq!(free, pools(&[("x", "w", 0), ("y", "w", 4)]));
    }

    #[test]
    fn unsplit_lines_look_for_one_warehouse_with_everything_split_ones_take_in_rank_order() {
        let unsplit = ChannelPolicy::default();
        let split = ChannelPolicy {
            allow_split: true,
            accept_partial: true,
            ..ChannelPolicy::default()
        };
        let a = request("a", &[("x", 4)]);
        let b = request("b", &[("x", 6)]);
        let mut free = pools(&[("x", "sh", 3), ("x", "bj", 5)]);
        let got = allocate(
            &[
                wanted(&a, &unsplit, &["sh", "bj"]),
                wanted(&b, &split, &["sh", "bj"]),
            ],
            &mut free,
        );
        assert_eq!(got[0].allocations.len(), 1);
        assert_eq!(got[0].allocations[0].warehouse, WarehouseId::new("bj"));
        assert_eq!(units(&got[0]), 4);
        let b_where: Vec<(String, i64)> = got[1]
            .allocations
            .iter()
            .map(|a| (a.warehouse.0.clone(), a.quantity))
            .collect();
        assert_eq!(b_where, vec![("sh".into(), 3), ("bj".into(), 1)]);
        assert_eq!(got[1].shortages[0].short, 2);
    }
}
