//! Parcels no rider can take, and why: the reasons customer service sees.

use serde::{Deserialize, Serialize};

use super::context::Ctx;
use super::model::{ColdChain, ParcelId, Time};
use crate::order::{ExceptionCode, OrderException};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unassignable {
    /// The store or the customer has no usable coordinates.
    MissingCoordinates,
    OutsideServiceArea,
    /// No online rider has the box this temperature needs.
    NoCapableRider {
        cold_chain: ColdChain,
    },
    /// Heavier or bulkier than any capable rider can carry.
    TooLargeForAnyRider,
    /// No capable rider's shift lasts until the parcel can be picked up.
    NoRiderOnShift,
    /// Even a rider waiting at the store would miss the latest acceptable drop-off.
    WindowImpossible {
        earliest_dropoff: Time,
        latest_dropoff: Time,
    },
    /// Capable riders exist but all are full or busy now: try again next tick.
    AllRidersBusy,
}

impl Unassignable {
    /// The exception to raise; `None` when the parcel should simply wait for the next tick.
    pub fn exception_code(&self) -> Option<ExceptionCode> {
        match self {
            Unassignable::MissingCoordinates | Unassignable::OutsideServiceArea => {
                Some(ExceptionCode::BadAddress)
            }
            Unassignable::NoCapableRider { .. }
            | Unassignable::TooLargeForAnyRider
            | Unassignable::NoRiderOnShift => Some(ExceptionCode::NoCapableRider),
            Unassignable::WindowImpossible { .. } => Some(ExceptionCode::WindowImpossible),
            Unassignable::AllRidersBusy => None,
        }
    }

    pub fn to_exception(&self, parcel: &ParcelId) -> Option<OrderException> {
        let code = self.exception_code()?;
        let detail = match self {
            Unassignable::MissingCoordinates => format!("parcel {parcel}: coordinates missing"),
            Unassignable::OutsideServiceArea => {
                format!("parcel {parcel}: address outside the service area")
            }
            Unassignable::NoCapableRider { cold_chain } => {
                format!("parcel {parcel}: no online rider can carry {cold_chain:?} goods")
            }
            Unassignable::TooLargeForAnyRider => {
                format!("parcel {parcel}: larger than any capable rider can carry")
            }
            Unassignable::NoRiderOnShift => {
                format!("parcel {parcel}: no capable rider on shift at pickup time")
            }
            Unassignable::WindowImpossible { earliest_dropoff, latest_dropoff } => format!(
                "parcel {parcel}: earliest drop-off {earliest_dropoff} is after the latest acceptable {latest_dropoff}"
            ),
            Unassignable::AllRidersBusy => return None,
        };
        Some(OrderException::new(code, detail))
    }
}

/// Split the open parcels into those worth routing and those rejected up front.
pub(crate) fn screen(ctx: &Ctx) -> (Vec<usize>, Vec<(usize, Unassignable)>) {
    let mut routable = Vec::new();
    let mut rejected = Vec::new();
    for &p in &ctx.open {
        match reject_reason(ctx, p) {
            Some(reason) => rejected.push((p, reason)),
            None => routable.push(p),
        }
    }
    (routable, rejected)
}

fn reject_reason(ctx: &Ctx, p: usize) -> Option<Unassignable> {
    let info = &ctx.parcels[p];
    if !info.locatable {
        return Some(Unassignable::MissingCoordinates);
    }
    if let Some(area) = &ctx.cfg.service_area {
        if !area.contains(info.pickup) || !area.contains(info.dropoff) {
            return Some(Unassignable::OutsideServiceArea);
        }
    }
    let online: Vec<usize> = (0..ctx.riders.len())
        .filter(|&r| ctx.riders[r].accepts_new)
        .collect();
    let capable: Vec<usize> = online
        .iter()
        .copied()
        .filter(|&r| ctx.riders[r].caps.can_carry(info.cold))
        .collect();
    if capable.is_empty() {
        return Some(Unassignable::NoCapableRider {
            cold_chain: info.cold,
        });
    }
    if !capable
        .iter()
        .any(|&r| info.size.fits_within(&ctx.riders[r].capacity))
    {
        return Some(Unassignable::TooLargeForAnyRider);
    }
    let earliest_pickup = info.ready.max(ctx.now.saturating_add(info.pick_before));
    if !capable
        .iter()
        .any(|&r| ctx.riders[r].shift_end >= earliest_pickup)
    {
        return Some(Unassignable::NoRiderOnShift);
    }
    if let Some(grace) = ctx.cfg.max_lateness {
        let earliest_dropoff = earliest_pickup
            .saturating_add(info.pick_after)
            .saturating_add(ctx.travel.travel(info.pickup, info.dropoff))
            .saturating_add(info.drop_before);
        let latest_dropoff = info.promised.saturating_add(grace);
        if earliest_dropoff > latest_dropoff {
            return Some(Unassignable::WindowImpossible {
                earliest_dropoff,
                latest_dropoff,
            });
        }
    }
    None
}
