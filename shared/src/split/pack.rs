//! The packer. Pieces are whole lines (splitting off) or stacks of identical units
//! (splitting on, a stack may spread over parcels). Sizes are compared on the dominant
//! dimension, each dimension as a fraction of its limit.

use std::collections::BTreeSet;

use super::{Parcel, ParcelLimits, ParcelLine, SplitItem};

#[derive(Clone)]
pub(super) struct Bin<'a> {
    w: u64,
    v: u64,
    parts: Vec<(&'a SplitItem, u32)>,
}

impl Bin<'_> {
    pub(super) fn into_parcel(self, parcel_id: String) -> Parcel {
        let mut zones: Vec<_> = self.parts.iter().map(|(i, _)| i.zone).collect();
        zones.sort();
        zones.dedup();
        let orders: BTreeSet<_> = self.parts.iter().map(|(i, _)| i.order_id.clone()).collect();
        let mut lines: Vec<ParcelLine> = Vec::with_capacity(self.parts.len());
        for (item, q) in self.parts {
            // Units of one line placed in two passes (FFD then improvement) merge back.
            match lines
                .iter_mut()
                .find(|l| l.order_id == item.order_id && l.line_no == item.line_no)
            {
                Some(l) => l.quantity += q,
                None => lines.push(ParcelLine {
                    order_id: item.order_id.clone(),
                    line_no: item.line_no,
                    sku: item.sku.clone(),
                    quantity: q,
                }),
            }
        }
        Parcel {
            parcel_id,
            zone: zones
                .iter()
                .copied()
                .max()
                .unwrap_or(crate::order::TemperatureZone::Ambient),
            zones,
            lines,
            weight_g: self.w,
            volume_cm3: self.v,
            orders: orders.into_iter().collect(),
        }
    }

    /// Fill on the dominant dimension, as a key comparable across bins (× W·V).
    fn fill(&self, l: &ParcelLimits) -> u128 {
        (u128::from(self.w) * u128::from(l.max_volume_cm3))
            .max(u128::from(self.v) * u128::from(l.max_weight_g))
    }
}

fn unit(i: &SplitItem) -> (u64, u64) {
    (u64::from(i.unit_weight_g), u64::from(i.unit_volume_cm3))
}

/// Dominant size of a piece of `q` units (× W·V, exact integer comparison).
fn size(i: &SplitItem, q: u32, l: &ParcelLimits) -> u128 {
    let (w, v) = unit(i);
    let q = u128::from(q);
    (u128::from(w) * q * u128::from(l.max_volume_cm3))
        .max(u128::from(v) * q * u128::from(l.max_weight_g))
}

/// How many units of `item` still fit in `bin`.
fn units_fit(bin: &Bin, item: &SplitItem, l: &ParcelLimits) -> u64 {
    let (w, v) = unit(item);
    let by = |used: u64, cap: u64, each: u64| {
        cap.saturating_sub(used)
            .checked_div(each)
            .unwrap_or(u64::MAX)
    };
    by(bin.w, l.max_weight_g, w).min(by(bin.v, l.max_volume_cm3, v))
}

/// Place `q` units of `item` first-fit into `bins`, opening bins when `open` allows;
/// returns the units that found no room.
fn place<'a>(
    bins: &mut Vec<Bin<'a>>,
    item: &'a SplitItem,
    q: u32,
    l: &ParcelLimits,
    open: bool,
) -> u32 {
    let (w, v) = unit(item);
    let mut left = q;
    let put = |bin: &mut Bin<'a>, n: u32| {
        bin.w += w * u64::from(n);
        bin.v += v * u64::from(n);
        bin.parts.push((item, n));
    };
    for bin in bins.iter_mut() {
        if left == 0 {
            break;
        }
        let fit = units_fit(bin, item, l);
        let n = if l.split_lines {
            fit.min(u64::from(left)) as u32
        } else if fit >= u64::from(left) {
            left
        } else {
            0
        };
        if n > 0 {
            put(bin, n);
            left -= n;
        }
    }
    while open && left > 0 {
        let mut bin = Bin {
            w: 0,
            v: 0,
            parts: Vec::new(),
        };
        // `too_big` ran first, so at least one unit (or the whole line) fits.
        let n = units_fit(&bin, item, l).min(u64::from(left)).max(1) as u32;
        put(&mut bin, n);
        bins.push(bin);
        left -= n;
    }
    left
}

fn ffd<'a>(
    bins: &mut Vec<Bin<'a>>,
    pieces: &mut [(&'a SplitItem, u32)],
    l: &ParcelLimits,
    open: bool,
) -> bool {
    // Largest first; ties by order and line for a deterministic plan.
    pieces.sort_by(|a, b| {
        let (ka, kb) = if l.split_lines {
            (size(a.0, 1, l), size(b.0, 1, l))
        } else {
            (size(a.0, a.1, l), size(b.0, b.1, l))
        };
        kb.cmp(&ka)
            .then_with(|| (&a.0.order_id, a.0.line_no).cmp(&(&b.0.order_id, b.0.line_no)))
    });
    pieces
        .iter()
        .all(|(item, q)| place(bins, item, *q, l, open) == 0)
}

pub(super) fn pack<'a>(items: &[&'a SplitItem], l: &ParcelLimits) -> Vec<Bin<'a>> {
    let mut pieces: Vec<(&SplitItem, u32)> = items.iter().map(|i| (*i, i.quantity)).collect();
    let mut bins = Vec::new();
    ffd(&mut bins, &mut pieces, l, true);
    // Improvement: try to empty the least-filled parcel into the others.
    while bins.len() > 1 {
        let Some((idx, _)) = bins.iter().enumerate().min_by_key(|(_, b)| b.fill(l)) else {
            break;
        };
        let mut rest = bins.clone();
        let victim = rest.remove(idx);
        let mut pieces = victim.parts.clone();
        if ffd(&mut rest, &mut pieces, l, false) {
            bins = rest;
        } else {
            break;
        }
    }
    bins
}

/// No packing of `items` (one zone class) fits in fewer parcels.
pub fn lower_bound(items: &[&SplitItem], l: &ParcelLimits) -> usize {
    let (mut tw, mut tv, mut big_w, mut big_v) = (0u128, 0u128, 0u64, 0u64);
    for i in items {
        let (w, v) = unit(i);
        let q = u64::from(i.quantity);
        tw += u128::from(w * q);
        tv += u128::from(v * q);
        // Pieces over half a dimension can never share a parcel with each other.
        let (pieces, pw, pv) = if l.split_lines {
            (q, w, v)
        } else {
            (1, w * q, v * q)
        };
        if pw * 2 > l.max_weight_g {
            big_w += pieces;
        }
        if pv * 2 > l.max_volume_cm3 {
            big_v += pieces;
        }
    }
    let ceil = |t: u128, cap: u64| t.div_ceil(u128::from(cap.max(1))) as usize;
    let any = usize::from(items.iter().any(|i| i.quantity > 0));
    ceil(tw, l.max_weight_g)
        .max(ceil(tv, l.max_volume_cm3))
        .max(big_w as usize)
        .max(big_v as usize)
        .max(any)
}
