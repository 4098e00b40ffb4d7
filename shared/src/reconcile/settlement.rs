//! T+1 settlement summary: what we expect to receive for a channel's day, beside what
//! the platform says it settled.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::record::Component;
use super::report::SideTotals;
use crate::money::saturating_sum;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementSummary {
    /// Σ goods of our orders of the day.
    pub gross_sales: Decimal,
    pub merchant_funded_discounts: Decimal,
    /// Funded by the platform: it pays them to us, so they do not reduce what we receive.
    pub platform_funded_discounts: Decimal,
    pub delivery_fees: Decimal,
    pub packaging_fees: Decimal,
    /// Payment processing fees, as the bill charges them.
    pub fees: Decimal,
    /// Platform commission, as the bill charges it.
    pub commission: Decimal,
    /// Our refunds dated this day.
    pub refunds: Decimal,
    /// gross − merchant-funded discounts + delivery + packaging − fees − commission − refunds.
    pub net_receivable: Decimal,
    /// Σ of the bill's settled amounts.
    pub platform_settled: Decimal,
    /// platform_settled − net_receivable.
    pub difference: Decimal,
}

impl SettlementSummary {
    /// Our components from our side; fees and commission are the platform's to charge,
    /// so they come from the bill.
    pub fn from_totals(ours: &SideTotals, theirs: &SideTotals) -> Self {
        let o = |c| ours.totals.or_zero(c);
        let t = |c| theirs.totals.or_zero(c);
        let gross_sales = o(Component::Goods);
        let merchant = o(Component::MerchantDiscount);
        let delivery = o(Component::DeliveryFee);
        let packaging = o(Component::PackagingFee);
        let fees = t(Component::Fee);
        let commission = t(Component::Commission);
        let refunds = o(Component::Refund);
        // Saturating, like the totals it is made from (see `Amounts::add`): no trap on
        // an absurd stored value.
        let net_receivable = saturating_sum([
            gross_sales,
            -merchant,
            delivery,
            packaging,
            -fees,
            -commission,
            -refunds,
        ]);
        let platform_settled = t(Component::Settled);
        Self {
            gross_sales,
            merchant_funded_discounts: merchant,
            platform_funded_discounts: o(Component::PlatformDiscount),
            delivery_fees: delivery,
            packaging_fees: packaging,
            fees,
            commission,
            refunds,
            net_receivable,
            platform_settled,
            difference: platform_settled.saturating_sub(net_receivable),
        }
    }
}
