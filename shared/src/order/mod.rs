//! The unified order model: what every channel's payload becomes.
//!
//! The names here are the API's names: the JSON that `GET /orders/{id}` returns is this
//! model serialized. An order's current state is never stored on its own: it is derived
//! from its [`history`] (see [`Order::status`]).

mod batch;
pub mod book;
pub mod day_index;
pub mod forwarding;
mod history;
mod issue;

pub use history::{derive_status, EventKind, EventSource, OrderEvent, OrderStatus, RefundedLine};
pub use issue::{ExceptionCode, ExceptionRoute, OrderException};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A channel *instance* as declared in `spin.toml` / channel config ("meituan",
/// "eleme", "app", "miniprogram", "pos", "groupbuy", or a configured one).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChannelId(pub String);

impl ChannelId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ChannelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// orderhub's order id. Deterministic from (channel, channel order id) so that a
/// redelivered push maps to the same order: `"{channel}-{channel_order_id}"` with every
/// byte outside `[A-Za-z0-9_.]` percent-escaped (ids stay URL- and key-safe).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(pub String);

impl OrderId {
    pub fn for_channel_order(channel: &ChannelId, channel_order_id: &str) -> Self {
        let mut id = String::with_capacity(channel.0.len() + 1 + channel_order_id.len());
        escape_into(&mut id, &channel.0);
        id.push('-');
        escape_into(&mut id, channel_order_id);
        Self(id)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn escape_into(out: &mut String, raw: &str) {
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Our SKU id (after the per-channel SKU mapping).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SkuId(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemperatureZone {
    Ambient,
    Chilled,
    Frozen,
}

/// A point on the one datum orderhub stores: GCJ-02, the datum every Chinese map,
/// platform and rider app uses. WGS-84 input (raw GPS) is converted forward, which is
/// exact; the inverse is only approximate, which is why GCJ-02 is the stored one.
/// Floats are fine here: this is geometry, not money.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    #[serde(deserialize_with = "coordinate")]
    pub lat: f64,
    #[serde(deserialize_with = "coordinate")]
    pub lng: f64,
}

/// `serde_json` runs with `arbitrary_precision`, under which a number read through
/// serde's buffering (an internally tagged enum such as [`Fulfilment`]) arrives as a
/// private map rather than a number; going through `serde_json::Value` accepts both.
fn coordinate<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    match &value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| serde::de::Error::custom(format!("`{value}` is not a coordinate")))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    /// Street, building, room: the free text as the channel sent it (cleaned of
    /// platform suffixes such as Meituan's `@#` reverse-geocoded text).
    pub detail: String,
    pub location: Option<GeoPoint>,
    /// Normalized form used as a merge key: stable under whitespace, case and
    /// full-width/half-width variants of the same address.
    pub merge_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// Digits as sent; a platform privacy number keeps its masked form
    /// (`138xxxx1234`), so it never resolves a customer by itself.
    pub number: String,
    /// Extension of a privacy (virtual) number (`_123456`).
    pub extension: Option<String>,
    pub is_privacy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The channel's own user id, when it sends one.
    pub channel_user_id: Option<String>,
    pub name: Option<String>,
    pub phone: Option<Phone>,
    /// One customer across channels where the data allows it: a real phone number
    /// resolves across channels (`phone:<digits>`); otherwise the channel's user id
    /// (`<channel>:user:<id>`); otherwise the normalized address
    /// (`<channel>:addr:<merge_key>`).
    pub customer_key: String,
}

/// How the goods reach the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fulfilment {
    /// Delivered to the customer's address. `address` is `None` only for a delivery
    /// order that arrived without one, which is then also flagged as an exception.
    Delivery { address: Option<Address> },
    /// Collected at a pickup point (community group-buying).
    PickupPoint {
        point_id: String,
        name: Option<String>,
        address: Option<Address>,
    },
    /// Handed over at the store counter (POS sale taken away).
    InStore { store_id: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    /// 1-based position in the channel's payload.
    pub line_no: u32,
    /// The channel's SKU code as sent (`app_food_code`, …).
    pub channel_sku: String,
    /// Our SKU after mapping; `None` when the mapping does not know it (an exception).
    pub sku: Option<SkuId>,
    pub name: String,
    pub quantity: u32,
    /// Price of one unit as the channel charged it, before order-level discounts.
    pub unit_price: Decimal,
    /// Weight of one unit in grams and volume of one unit in cm³ (from the SKU
    /// catalogue when known, else from the payload, else 0).
    pub unit_weight_g: u32,
    pub unit_volume_cm3: u32,
    pub zone: TemperatureZone,
}

impl OrderLine {
    pub fn amount(&self) -> Decimal {
        self.unit_price * Decimal::from(self.quantity)
    }
}

/// Who pays for a discount: reconciliation needs the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Funder {
    Merchant,
    Platform,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discount {
    pub funder: Funder,
    /// Channel's own code or description ("满减", activity id, coupon id …).
    pub label: String,
    pub amount: Decimal,
}

/// The order's money as the channel reported it. Invariant checked at normalization:
/// `goods - Σ discounts + delivery_fee + packaging_fee == paid` (else an exception).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderMoney {
    pub currency: String,
    /// Σ line amounts.
    pub goods: Decimal,
    pub discounts: Vec<Discount>,
    pub delivery_fee: Decimal,
    pub packaging_fee: Decimal,
    /// What the customer paid.
    pub paid: Decimal,
}

impl OrderMoney {
    pub fn discount_total(&self) -> Decimal {
        self.discounts.iter().map(|d| d.amount).sum()
    }
    pub fn discount_by(&self, funder: Funder) -> Decimal {
        self.discounts
            .iter()
            .filter(|d| d.funder == funder)
            .map(|d| d.amount)
            .sum()
    }
    /// What the parts say the customer should have paid.
    pub fn expected_paid(&self) -> Decimal {
        self.goods - self.discount_total() + self.delivery_fee + self.packaging_fee
    }
}

/// When the customer was promised the goods. `asap` with no end means "as soon as
/// possible" (Meituan's `delivery_time = 0`); dispatch then applies the store's
/// standard promise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromisedWindow {
    pub asap: bool,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub channel: ChannelId,
    pub channel_order_id: String,
    /// The channel's store / shop code (`app_poi_code`, `shopId`, POS store).
    pub store_id: Option<String>,
    pub customer: Customer,
    pub fulfilment: Fulfilment,
    pub lines: Vec<OrderLine>,
    pub money: OrderMoney,
    pub promised: PromisedWindow,
    pub buyer_note: Option<String>,
    /// When the customer placed it, in UTC.
    pub placed_at: DateTime<Utc>,
    /// The source's time zone, kept for business-day questions (reconciliation).
    pub source_time_zone: String,
    /// The source's UTC offset in minutes at `placed_at` (+480 for Asia/Shanghai).
    pub source_utc_offset_minutes: i32,
    pub history: Vec<OrderEvent>,
    pub exceptions: Vec<OrderException>,
}

impl Order {
    pub fn status(&self) -> OrderStatus {
        derive_status(&self.history)
    }

    pub fn total_weight_g(&self) -> u64 {
        self.lines
            .iter()
            .map(|l| u64::from(l.unit_weight_g) * u64::from(l.quantity))
            .sum()
    }

    pub fn is_exception(&self) -> bool {
        !self.exceptions.is_empty()
    }

    /// The delivery address, for orders that have one.
    pub fn delivery_address(&self) -> Option<&Address> {
        match &self.fulfilment {
            Fulfilment::Delivery { address } => address.as_ref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod ops_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_id_is_deterministic_and_key_safe() {
        let ch = ChannelId::new("meituan");
        let a = OrderId::for_channel_order(&ch, "27061900338318");
        assert_eq!(a.as_str(), "meituan-27061900338318");
        assert_eq!(a, OrderId::for_channel_order(&ch, "27061900338318"));
        let odd = OrderId::for_channel_order(&ch, "a/b c-1");
        assert_eq!(odd.as_str(), "meituan-a%2Fb%20c%2D1");
        // Escaping keeps (channel, id) pairs distinct: "a-b"+"c" vs "a"+"b-c".
        assert_ne!(
            OrderId::for_channel_order(&ChannelId::new("a-b"), "c"),
            OrderId::for_channel_order(&ChannelId::new("a"), "b-c")
        );
    }
}
