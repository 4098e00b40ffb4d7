//! Our figures against a platform's: the platform's are kept as they are (they are
//! what it settles on); a difference beyond tolerance is flagged, never "corrected".

use rust_decimal::Decimal;

use super::PriceBreakdown;
use crate::order::{ExceptionCode, Funder, Order, OrderException};

/// `Some(PriceMismatch)` naming every figure that differs by more than `tolerance`.
pub fn compare_with_platform(
    order: &Order,
    ours: &PriceBreakdown,
    tolerance: Decimal,
) -> Option<OrderException> {
    let m = &order.money;
    let pairs = [
        ("goods", m.goods, ours.goods),
        (
            "merchant discount",
            m.discount_by(Funder::Merchant),
            ours.merchant_discount,
        ),
        (
            "platform discount",
            m.discount_by(Funder::Platform),
            ours.platform_discount,
        ),
        ("delivery fee", m.delivery_fee, ours.delivery_fee),
        ("packaging fee", m.packaging_fee, ours.packaging_fee),
        ("paid", m.paid, ours.total),
    ];
    let diffs: Vec<String> = pairs
        .iter()
        .filter(|(_, theirs, ours)| (*theirs - *ours).abs() > tolerance)
        .map(|(name, theirs, ours)| {
            format!("{name}: {} says {theirs}, we compute {ours}", order.channel)
        })
        .collect();
    if diffs.is_empty() {
        None
    } else {
        Some(OrderException::new(
            ExceptionCode::PriceMismatch,
            format!("{} (tolerance {tolerance})", diffs.join("; ")),
        ))
    }
}
