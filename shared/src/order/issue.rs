//! Exceptions: an order is never dropped for bad data; it is kept and flagged with a
//! reason code, and the code says where it is routed.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionCode {
    /// A line's channel SKU is not in the channel's SKU mapping.
    UnknownSku,
    /// Zero, negative or absurd quantity.
    ImpossibleQuantity,
    /// The money parts do not add up to what was paid.
    MoneyMismatch,
    /// Our price calculation disagrees with the platform's beyond tolerance.
    PriceMismatch,
    /// A delivery order without an address.
    MissingAddress,
    /// Coordinates missing or outside the service area.
    BadAddress,
    /// The platform marked the data incomplete (Meituan `incmp_code = -1`).
    IncompleteData,
    /// Not enough stock for a line.
    OutOfStock,
    /// No rider can take the parcel (capability, capacity, shift).
    NoCapableRider,
    /// The promised window can no longer be met.
    WindowImpossible,
    /// A line is heavier or bulkier than one parcel may be (and may not be split).
    ParcelTooLarge,
    /// The platform's order detail could not be fetched again after an incomplete push.
    RefetchFailed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionRoute {
    CustomerService,
    Restock,
    /// Ask the channel again (incomplete data).
    Refetch,
}

impl ExceptionCode {
    pub const ALL: [ExceptionCode; 12] = [
        ExceptionCode::UnknownSku,
        ExceptionCode::ImpossibleQuantity,
        ExceptionCode::MoneyMismatch,
        ExceptionCode::PriceMismatch,
        ExceptionCode::MissingAddress,
        ExceptionCode::BadAddress,
        ExceptionCode::IncompleteData,
        ExceptionCode::OutOfStock,
        ExceptionCode::NoCapableRider,
        ExceptionCode::WindowImpossible,
        ExceptionCode::ParcelTooLarge,
        ExceptionCode::RefetchFailed,
    ];

    /// The code as it appears in JSON and in store keys (`out_of_stock`).
    pub fn slug(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Whether an order carrying this exception must not go to a rider until someone
    /// resolves it: its goods are unknown, short or unpackable, or there is nowhere to
    /// take them. A money or price difference is for reconciliation and customer
    /// service, and the goods still go out.
    pub fn holds_delivery(self) -> bool {
        !matches!(
            self,
            ExceptionCode::MoneyMismatch | ExceptionCode::PriceMismatch
        )
    }

    pub fn route(self) -> ExceptionRoute {
        match self {
            ExceptionCode::OutOfStock => ExceptionRoute::Restock,
            ExceptionCode::IncompleteData => ExceptionRoute::Refetch,
            _ => ExceptionRoute::CustomerService,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderException {
    pub code: ExceptionCode,
    pub route: ExceptionRoute,
    /// Human-readable detail naming the line or field ("line 2: channel SKU `X9` unknown").
    pub detail: String,
}

impl OrderException {
    pub fn new(code: ExceptionCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            route: code.route(),
            detail: detail.into(),
        }
    }
}
