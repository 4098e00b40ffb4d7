use thiserror::Error;

use super::model::{ParcelId, RiderId};

/// A dispatch request that contradicts itself; nothing is planned from it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DispatchError {
    #[error("parcel `{0}` is listed twice")]
    DuplicateParcel(ParcelId),
    #[error("rider `{0}` is listed twice")]
    DuplicateRider(RiderId),
    #[error("rider `{rider}` names unknown parcel `{parcel}`")]
    UnknownParcel { rider: RiderId, parcel: ParcelId },
    #[error("parcel `{0}` is held by two riders or picked up twice")]
    ParcelHeldTwice(ParcelId),
    #[error("rider `{rider}` drops off `{parcel}` without having it")]
    DropoffWithoutPickup { rider: RiderId, parcel: ParcelId },
    #[error("rider `{rider}` has `{parcel}` but no stop to drop it off")]
    MissingDropoff { rider: RiderId, parcel: ParcelId },
    #[error("committed parcel `{0}` has no coordinates")]
    CommittedWithoutCoordinates(ParcelId),
    /// A time, duration or size the service does not accept (checked where parcels and
    /// rider reports enter, so the board never holds one).
    #[error("{item}: `{field}` = {value} is outside {min}..={max}")]
    OutOfRange {
        /// `parcel `p1`` or `rider `r1``.
        item: String,
        field: &'static str,
        value: i64,
        min: i64,
        max: i64,
    },
}

impl DispatchError {
    /// The machine code of the 400/422 answer.
    pub fn code(&self) -> &'static str {
        match self {
            DispatchError::DuplicateParcel(_) => "duplicate_parcel",
            DispatchError::DuplicateRider(_) => "duplicate_rider",
            DispatchError::UnknownParcel { .. } => "unknown_parcel",
            DispatchError::ParcelHeldTwice(_) => "parcel_held_twice",
            DispatchError::DropoffWithoutPickup { .. } => "dropoff_without_pickup",
            DispatchError::MissingDropoff { .. } => "missing_dropoff",
            DispatchError::CommittedWithoutCoordinates(_) => "committed_without_coordinates",
            DispatchError::OutOfRange { .. } => "value_out_of_range",
        }
    }
}
