//! Splitting a released group into parcels (拆单): per-parcel weight and volume
//! limits, temperature zones kept apart unless configured, and as few parcels as the
//! heuristic finds, with the lower bound it is measured against.
//!
//! - [`pack`]: first-fit-decreasing on the dominant dimension, then an improvement
//!   step that tries to empty the least-filled parcel into the others; the lower bound
//!   per zone class is `max(⌈ΣW/W⌉, ⌈ΣV/V⌉, #pieces over half a dimension)`.

mod pack;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::order::{Order, OrderId, TemperatureZone};

pub use pack::lower_bound;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParcelLimits {
    pub max_weight_g: u64,
    pub max_volume_cm3: u64,
    /// Zone pairs that may share a parcel (e.g. chilled with frozen in an insulated
    /// box). Empty: every zone travels alone.
    #[serde(default)]
    pub zone_mixing: Vec<[TemperatureZone; 2]>,
    /// Whether the units of one line may go into different parcels.
    #[serde(default)]
    pub split_lines: bool,
}

impl Default for ParcelLimits {
    fn default() -> Self {
        Self {
            max_weight_g: 10_000,
            max_volume_cm3: 40_000,
            zone_mixing: Vec::new(),
            split_lines: true,
        }
    }
}

/// One order line as the packer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitItem {
    pub order_id: OrderId,
    pub line_no: u32,
    pub sku: String,
    pub quantity: u32,
    pub unit_weight_g: u32,
    pub unit_volume_cm3: u32,
    pub zone: TemperatureZone,
}

impl SplitItem {
    /// The lines of `orders`, in order.
    pub fn of_orders<'a>(orders: impl IntoIterator<Item = &'a Order>) -> Vec<SplitItem> {
        orders
            .into_iter()
            .flat_map(|o| {
                o.lines.iter().map(|l| SplitItem {
                    order_id: o.id.clone(),
                    line_no: l.line_no,
                    sku: l
                        .sku
                        .as_ref()
                        .map(|s| s.0.clone())
                        .unwrap_or_else(|| l.channel_sku.clone()),
                    quantity: l.quantity,
                    unit_weight_g: l.unit_weight_g,
                    unit_volume_cm3: l.unit_volume_cm3,
                    zone: l.zone,
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParcelLine {
    pub order_id: OrderId,
    pub line_no: u32,
    pub sku: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parcel {
    pub parcel_id: String,
    /// The most demanding zone in the parcel (frozen > chilled > ambient).
    pub zone: TemperatureZone,
    pub zones: Vec<TemperatureZone>,
    pub lines: Vec<ParcelLine>,
    pub weight_g: u64,
    pub volume_cm3: u64,
    /// The orders it serves, sorted.
    pub orders: Vec<OrderId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitPlan {
    pub group_id: String,
    pub parcels: Vec<Parcel>,
    /// No packing can use fewer parcels than this.
    pub lower_bound: usize,
    /// `parcels.len() - lower_bound`: how far the heuristic may be from optimal.
    pub gap: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
pub enum SplitError {
    #[error("parcel limits must be positive (weight {weight_g} g, volume {volume_cm3} cm³)")]
    InvalidLimits { weight_g: u64, volume_cm3: u64 },
    #[error("order {order_id} line {line_no}: {what} exceeds one parcel ({weight_g} g, {volume_cm3} cm³)")]
    TooBig {
        order_id: OrderId,
        line_no: u32,
        what: &'static str,
        weight_g: u64,
        volume_cm3: u64,
    },
}

/// Split a released group's lines into parcels. Errors list every line that cannot
/// fit any parcel (each becomes an exception upstream); nothing is packed then.
pub fn split_group(
    group_id: &str,
    items: &[SplitItem],
    limits: &ParcelLimits,
) -> Result<SplitPlan, Vec<SplitError>> {
    if limits.max_weight_g == 0 || limits.max_volume_cm3 == 0 {
        return Err(vec![SplitError::InvalidLimits {
            weight_g: limits.max_weight_g,
            volume_cm3: limits.max_volume_cm3,
        }]);
    }
    let errors: Vec<SplitError> = items.iter().filter_map(|i| too_big(i, limits)).collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut parcels = Vec::new();
    let mut bound = 0;
    for class in zone_classes(&limits.zone_mixing) {
        let class_items: Vec<&SplitItem> = items
            .iter()
            .filter(|i| class.contains(&i.zone) && i.quantity > 0)
            .collect();
        if class_items.is_empty() {
            continue;
        }
        bound += lower_bound(&class_items, limits);
        parcels.extend(pack::pack(&class_items, limits));
    }
    let parcels: Vec<Parcel> = parcels
        .into_iter()
        .enumerate()
        .map(|(n, p)| p.into_parcel(format!("{group_id}-p{}", n + 1)))
        .collect();
    let gap = parcels.len().saturating_sub(bound);
    Ok(SplitPlan {
        group_id: group_id.to_string(),
        parcels,
        lower_bound: bound,
        gap,
    })
}

fn too_big(i: &SplitItem, l: &ParcelLimits) -> Option<SplitError> {
    let (uw, uv) = (u64::from(i.unit_weight_g), u64::from(i.unit_volume_cm3));
    let q = u64::from(i.quantity);
    let (what, w, v) = if uw > l.max_weight_g || uv > l.max_volume_cm3 {
        ("one unit", uw, uv)
    } else if !l.split_lines && (uw * q > l.max_weight_g || uv * q > l.max_volume_cm3) {
        ("the whole line (splitting lines is off)", uw * q, uv * q)
    } else {
        return None;
    };
    Some(SplitError::TooBig {
        order_id: i.order_id.clone(),
        line_no: i.line_no,
        what,
        weight_g: w,
        volume_cm3: v,
    })
}

/// Zones that may share parcels, as classes. Mixing is not transitive: two zones share
/// a class only if every pair across it is configured, so "ambient with chilled" and
/// "chilled with frozen" never put ambient goods next to frozen ones. Pairs are taken in
/// the configured order (with those two, chilled joins ambient and frozen stays alone).
fn zone_classes(mixing: &[[TemperatureZone; 2]]) -> Vec<Vec<TemperatureZone>> {
    use TemperatureZone::*;
    let allowed = |x: &TemperatureZone, y: &TemperatureZone| {
        x == y
            || mixing
                .iter()
                .any(|[a, b]| (a == x && b == y) || (a == y && b == x))
    };
    let mut classes: Vec<Vec<TemperatureZone>> = vec![vec![Ambient], vec![Chilled], vec![Frozen]];
    for [a, b] in mixing {
        let ia = classes.iter().position(|c| c.contains(a));
        let ib = classes.iter().position(|c| c.contains(b));
        if let (Some(ia), Some(ib)) = (ia, ib) {
            let every_pair = classes[ia]
                .iter()
                .all(|x| classes[ib].iter().all(|y| allowed(x, y)));
            if ia != ib && every_pair {
                let moved = classes.remove(ia.max(ib));
                classes[ia.min(ib)].extend(moved);
            }
        }
    }
    classes
}

#[cfg(test)]
mod tests;
