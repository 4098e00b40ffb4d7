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
}
