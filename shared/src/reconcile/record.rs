//! What a bill says about one order or one refund, in the shape every importer yields.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The money components that can disagree. A source reports only some of them (a
/// payment bill knows what the customer paid and the fee, not the goods); only the
/// components present on both sides are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    Goods,
    MerchantDiscount,
    PlatformDiscount,
    DeliveryFee,
    PackagingFee,
    /// What the customer paid.
    Paid,
    /// Payment processing fee (手续费 / 服务费).
    Fee,
    Commission,
    Refund,
    /// What the platform pays out to us for the line.
    Settled,
}

impl Component {
    pub const ALL: [Component; 10] = [
        Component::Goods,
        Component::MerchantDiscount,
        Component::PlatformDiscount,
        Component::DeliveryFee,
        Component::PackagingFee,
        Component::Paid,
        Component::Fee,
        Component::Commission,
        Component::Refund,
        Component::Settled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Component::Goods => "goods",
            Component::MerchantDiscount => "merchant_discount",
            Component::PlatformDiscount => "platform_discount",
            Component::DeliveryFee => "delivery_fee",
            Component::PackagingFee => "packaging_fee",
            Component::Paid => "paid",
            Component::Fee => "fee",
            Component::Commission => "commission",
            Component::Refund => "refund",
            Component::Settled => "settled",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A sparse set of component amounts, stored flat (a million of these are held at once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amounts {
    values: [Decimal; 10],
    present: u16,
}

impl Amounts {
    pub fn get(&self, c: Component) -> Option<Decimal> {
        (self.present & (1 << c.index()) != 0).then(|| self.values[c.index()])
    }
    pub fn set(&mut self, c: Component, v: Decimal) {
        self.values[c.index()] = v;
        self.present |= 1 << c.index();
    }
    pub fn with(mut self, c: Component, v: Decimal) -> Self {
        self.set(c, v);
        self
    }
    /// Zero when absent: for totals.
    pub fn or_zero(&self, c: Component) -> Decimal {
        self.get(c).unwrap_or(Decimal::ZERO)
    }
    pub fn iter(&self) -> impl Iterator<Item = (Component, Decimal)> + '_ {
        Component::ALL
            .into_iter()
            .filter_map(|c| self.get(c).map(|v| (c, v)))
    }
    /// Component-wise sum; a component is present if present in either. For report
    /// totals: every amount is bounded where it is parsed (10^12 yuan), so real totals
    /// stay far from `Decimal`'s limit; saturating keeps an absurd stored value from
    /// trapping the run (a `Decimal` `+` that overflows panics), and shows as absurd.
    pub fn add(&mut self, other: &Amounts) {
        for (c, v) in other.iter() {
            let sum = self.or_zero(c).saturating_add(v);
            self.set(c, sum);
        }
    }

    /// Component-wise sum for an importer's running totals: `Err` names the first
    /// component that would overflow, and `self` is then left partly added (the import
    /// fails as a whole anyway).
    pub fn checked_add(&mut self, other: &Amounts) -> Result<(), Component> {
        for (c, v) in other.iter() {
            let sum = self.or_zero(c).checked_add(v).ok_or(c)?;
            self.set(c, sum);
        }
        Ok(())
    }
}

impl Serialize for Amounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let map: BTreeMap<Component, Decimal> = self.iter().collect();
        map.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Amounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<Component, Decimal>::deserialize(d)?;
        Ok(map
            .into_iter()
            .fold(Amounts::default(), |a, (c, v)| a.with(c, v)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A sale / settlement line for an order.
    Payment,
    /// A refund line referring to an order.
    Refund,
}

/// What the source says became of the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillStatus {
    Settled,
    Refunded,
    Cancelled,
}

/// The identifiers a line can be matched by. Which ones a source fills depends on it:
/// a payment bill has the merchant order id (ours) and its own transaction id; a
/// platform statement has the platform's order id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LineKeys {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub channel_order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub merchant_order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub transaction_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub refund_id: Option<String>,
}

impl LineKeys {
    /// The id a difference is reported under: the most specific order id present.
    pub fn primary(&self) -> &str {
        self.channel_order_id
            .as_deref()
            .or(self.merchant_order_id.as_deref())
            .or(self.transaction_id.as_deref())
            .or(self.refund_id.as_deref())
            .unwrap_or("")
    }
}

/// One detail line of a bill or statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillLine {
    /// Line number in the source text (for JSON Lines and CSV alike), for the report.
    pub line: u64,
    pub kind: LineKind,
    pub keys: LineKeys,
    pub status: BillStatus,
    /// Local time at the source (the channel's time zone), when the line has one.
    pub occurred_at: Option<NaiveDateTime>,
    /// The business date the line itself declares, when it has one.
    pub business_date: Option<NaiveDate>,
    pub amounts: Amounts,
}

/// Which importer produced a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementSource {
    WechatPay,
    Alipay,
    PlatformStatement,
    PosShift,
    GroupBuySettlement,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn amounts_round_trip_as_a_sparse_map() {
        let a = Amounts::default()
            .with(Component::Paid, dec!(12.30))
            .with(Component::Fee, dec!(0.07));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"{"paid":"12.30","fee":"0.07"}"#);
        assert_eq!(serde_json::from_str::<Amounts>(&json).unwrap(), a);
        assert_eq!(a.get(Component::Goods), None);
    }

    #[test]
    fn sums_at_decimals_limit_do_not_panic() {
        let max = Amounts::default().with(Component::Paid, Decimal::MAX);
        let mut t = max;
        t.add(&max);
        assert_eq!(t.get(Component::Paid), Some(Decimal::MAX));
        let mut t = max;
        assert_eq!(t.checked_add(&max), Err(Component::Paid));
        let mut t = Amounts::default();
        assert_eq!(t.checked_add(&max), Ok(()));
        assert_eq!(t, max);
    }
}
