//! Our side of a reconciliation: what our stored orders say, one record per order.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::record::{Amounts, Component};
use crate::money::saturating_sum;
use crate::order::{ChannelId, EventKind, Funder, Order, OrderId, OrderStatus};

/// One refund event of ours, in the source's local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OurRefund {
    pub at_local: NaiveDateTime,
    pub business_date: NaiveDate,
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OurRecord {
    pub order_id: OrderId,
    pub channel: ChannelId,
    /// The id the channel knows the order by; for our own app and mini-program it is
    /// also the merchant order id sent to WeChat Pay / Alipay.
    pub channel_order_id: String,
    /// The payment transaction id, when the payment callback stored one.
    pub transaction_id: Option<String>,
    /// The store it was sold in or fulfilled from (POS shifts are per store).
    pub store_id: Option<String>,
    /// When it was paid (the `Paid` event, else when it was placed), local time.
    pub paid_at_local: NaiveDateTime,
    /// The business day it belongs to: the local date of `paid_at_local`.
    pub business_date: NaiveDate,
    pub status: OrderStatus,
    /// goods, discounts by funder, delivery and packaging fees, paid. Refunds are in
    /// `refunds`, dated, because a refund belongs to the day it happened.
    pub amounts: Amounts,
    pub refunds: Vec<OurRefund>,
}

/// Asia/Shanghai, the default business-day time zone (no daylight saving).
pub const DEFAULT_UTC_OFFSET_MINUTES: i32 = 480;

/// The business day a UTC instant falls on at a fixed UTC offset.
pub fn business_date_at(at: chrono::DateTime<chrono::Utc>, utc_offset_minutes: i32) -> NaiveDate {
    (at.naive_utc() + Duration::minutes(i64::from(utc_offset_minutes))).date()
}

/// The day a nightly run reconciles: the business day before the one `now` is in.
pub fn previous_business_day(
    now: chrono::DateTime<chrono::Utc>,
    utc_offset_minutes: i32,
) -> NaiveDate {
    let today = business_date_at(now, utc_offset_minutes);
    today.pred_opt().unwrap_or(today)
}

impl OurRecord {
    /// Business days in the order's own source time zone (its channel's).
    pub fn from_order(order: &Order) -> Self {
        Self::from_order_at_offset(order, order.source_utc_offset_minutes)
    }

    /// Business days at a channel's configured UTC offset, whatever the order recorded.
    pub fn from_order_at_offset(order: &Order, utc_offset_minutes: i32) -> Self {
        let offset = Duration::minutes(i64::from(utc_offset_minutes));
        let local = |at: chrono::DateTime<chrono::Utc>| at.naive_utc() + offset;
        let paid_at = order
            .history
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Paid))
            .map(|e| e.at)
            .min()
            .unwrap_or(order.placed_at);
        let paid_at_local = local(paid_at);
        let m = &order.money;
        let amounts = Amounts::default()
            .with(Component::Goods, m.goods)
            .with(Component::MerchantDiscount, m.discount_by(Funder::Merchant))
            .with(Component::PlatformDiscount, m.discount_by(Funder::Platform))
            .with(Component::DeliveryFee, m.delivery_fee)
            .with(Component::PackagingFee, m.packaging_fee)
            .with(Component::Paid, m.paid);
        let mut refunds: Vec<OurRefund> = order
            .history
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Refunded { amount, .. } => {
                    let at_local = local(e.at);
                    Some(OurRefund {
                        at_local,
                        business_date: at_local.date(),
                        amount: *amount,
                    })
                }
                _ => None,
            })
            .collect();
        refunds.sort_by_key(|r| (r.at_local, r.amount));
        Self {
            order_id: order.id.clone(),
            channel: order.channel.clone(),
            channel_order_id: order.channel_order_id.clone(),
            transaction_id: None,
            store_id: order.store_id.clone(),
            paid_at_local,
            business_date: paid_at_local.date(),
            status: order.status(),
            amounts,
            refunds,
        }
    }

    pub fn with_transaction_id(mut self, id: impl Into<String>) -> Self {
        self.transaction_id = Some(id.into());
        self
    }

    pub fn refund_total(&self) -> Decimal {
        saturating_sum(self.refunds.iter().map(|r| r.amount))
    }

    pub fn refunds_on(&self, day: NaiveDate) -> Decimal {
        saturating_sum(
            self.refunds
                .iter()
                .filter(|r| r.business_date == day)
                .map(|r| r.amount),
        )
    }

    /// Refunds up to and including `day`: what a statement of that day can know of.
    pub fn refunds_until(&self, day: NaiveDate) -> Decimal {
        saturating_sum(
            self.refunds
                .iter()
                .filter(|r| r.business_date <= day)
                .map(|r| r.amount),
        )
    }

    pub fn has_refund_on(&self, day: NaiveDate) -> bool {
        self.refunds.iter().any(|r| r.business_date == day)
    }

    /// Cancelled (not refunded): by our records no money should have settled.
    pub fn is_cancelled(&self) -> bool {
        self.status == OrderStatus::Cancelled
    }
}
