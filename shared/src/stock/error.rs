//! Every refusal the ledger can give, each with the HTTP status and machine code the
//! shells answer with. Validation errors are raised before any counter moves, so a 4xx
//! always means nothing changed.

use thiserror::Error;

use crate::order::{OrderId, SkuId};
use crate::store::StoreError;

use super::model::WarehouseId;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StockError {
    #[error("unknown SKU `{0}`")]
    UnknownSku(String),
    #[error("unknown warehouse `{0}`")]
    UnknownWarehouse(String),
    #[error("line {line_no}: quantity must be between 1 and 1,000,000, got {quantity}")]
    BadQuantity { line_no: u32, quantity: i64 },
    #[error("line {0} appears twice")]
    DuplicateLine(u32),
    #[error("an order must have at least one line")]
    EmptyOrder,
    #[error("on-hand stock cannot be set to {0}")]
    NegativeStock(i64),
    #[error("{0} units is beyond any stock level")]
    TooManyUnits(i64),
    #[error("adjustment of zero units")]
    ZeroAdjustment,
    #[error("no reservation for order `{0}`")]
    UnknownReservation(String),
    #[error("order `{order}` has no line {line_no} in its reservation")]
    UnknownLine { order: String, line_no: u32 },
    #[error("another request for `{0}` is in flight; retry shortly")]
    InFlight(String),
    #[error("invalid stock configuration: {0}")]
    InvalidCatalog(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl StockError {
    /// For an order arriving through the pipeline, a SKU the ledger does not stock is
    /// not bad input but a shortage of the whole line: the order is kept and routed to
    /// restock, like any out-of-stock order. Other errors stay errors.
    pub fn as_order_exception(&self) -> Option<crate::order::OrderException> {
        match self {
            Self::UnknownSku(sku) => Some(crate::order::OrderException::new(
                crate::order::ExceptionCode::OutOfStock,
                format!("SKU `{sku}` is not stocked in any warehouse"),
            )),
            _ => None,
        }
    }

    pub fn unknown_sku(sku: &SkuId) -> Self {
        Self::UnknownSku(sku.0.clone())
    }
    pub fn unknown_warehouse(warehouse: &WarehouseId) -> Self {
        Self::UnknownWarehouse(warehouse.0.clone())
    }
    pub fn unknown_reservation(order: &OrderId) -> Self {
        Self::UnknownReservation(order.0.clone())
    }

    pub fn http_status(&self) -> u16 {
        match self {
            Self::UnknownSku(_) | Self::UnknownWarehouse(_) | Self::UnknownReservation(_) => 404,
            Self::UnknownLine { .. } => 404,
            Self::BadQuantity { .. }
            | Self::DuplicateLine(_)
            | Self::EmptyOrder
            | Self::NegativeStock(_)
            | Self::ZeroAdjustment
            | Self::TooManyUnits(_)
            | Self::InvalidCatalog(_) => 422,
            Self::InFlight(_) => 409,
            Self::Store(_) => 503,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownSku(_) => "unknown_sku",
            Self::UnknownWarehouse(_) => "unknown_warehouse",
            Self::BadQuantity { .. } => "bad_quantity",
            Self::DuplicateLine(_) => "duplicate_line",
            Self::EmptyOrder => "empty_order",
            Self::NegativeStock(_) => "negative_stock",
            Self::ZeroAdjustment => "zero_adjustment",
            Self::TooManyUnits(_) => "too_many_units",
            Self::UnknownReservation(_) => "unknown_reservation",
            Self::UnknownLine { .. } => "unknown_line",
            Self::InFlight(_) => "in_flight",
            Self::InvalidCatalog(_) => "invalid_catalog",
            Self::Store(_) => "store_unavailable",
        }
    }
}

pub type StockResult<T> = Result<T, StockError>;

#[cfg(test)]
mod pipeline_tests {
    use super::*;
    use crate::order::{ExceptionCode, ExceptionRoute};

    #[test]
    fn an_unstocked_sku_becomes_a_restock_exception_and_nothing_else_does() {
        let exc = StockError::UnknownSku("SKU-X".into())
            .as_order_exception()
            .unwrap();
        assert_eq!(exc.code, ExceptionCode::OutOfStock);
        assert_eq!(exc.route, ExceptionRoute::Restock);
        assert!(exc.detail.contains("SKU-X"));
        assert!(StockError::UnknownWarehouse("W".into())
            .as_order_exception()
            .is_none());
    }
}
