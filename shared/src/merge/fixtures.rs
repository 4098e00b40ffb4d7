//! Order fixtures for merge, split and pricing tests (built here, not taken from the
//! channel adapters, which are written concurrently).

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

use crate::order::*;

pub fn t0() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_764_000_000, 0).unwrap_or_default()
}

pub fn at(min: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(min)
}

pub fn address(merge_key: &str, lat: f64, lng: f64) -> Address {
    Address {
        province: Some("上海市".into()),
        city: Some("上海市".into()),
        district: Some("浦东新区".into()),
        detail: merge_key.into(),
        location: Some(GeoPoint { lat, lng }),
        merge_key: merge_key.into(),
    }
}

pub fn line(
    line_no: u32,
    sku: &str,
    qty: u32,
    price: Decimal,
    weight_g: u32,
    volume: u32,
    zone: TemperatureZone,
) -> OrderLine {
    OrderLine {
        line_no,
        channel_sku: sku.into(),
        sku: Some(SkuId(sku.into())),
        name: sku.into(),
        quantity: qty,
        unit_price: price,
        unit_weight_g: weight_g,
        unit_volume_cm3: volume,
        zone,
    }
}

/// A delivery order of `customer` to `addr`, placed at minute `placed_min`, promised
/// within 120 minutes.
pub fn order(channel: &str, id: &str, customer: &str, addr: Address, placed_min: i64) -> Order {
    let ch = ChannelId::new(channel);
    let lines = vec![line(
        1,
        "apple",
        2,
        Decimal::new(550, 2),
        500,
        800,
        TemperatureZone::Ambient,
    )];
    let goods: Decimal = lines.iter().map(OrderLine::amount).sum();
    Order {
        id: OrderId::for_channel_order(&ch, id),
        channel: ch,
        channel_order_id: id.into(),
        store_id: Some("store-1".into()),
        customer: Customer {
            channel_user_id: None,
            name: None,
            phone: None,
            customer_key: customer.into(),
        },
        fulfilment: Fulfilment::Delivery {
            address: Some(addr),
        },
        lines,
        money: OrderMoney {
            currency: "CNY".into(),
            goods,
            discounts: vec![],
            delivery_fee: Decimal::ZERO,
            packaging_fee: Decimal::ZERO,
            paid: goods,
        },
        promised: PromisedWindow {
            asap: false,
            start: None,
            end: Some(at(placed_min + 120)),
        },
        buyer_note: None,
        placed_at: at(placed_min),
        source_time_zone: "Asia/Shanghai".into(),
        source_utc_offset_minutes: 480,
        history: vec![],
        exceptions: vec![],
    }
}

pub fn home() -> Address {
    address("上海市浦东新区张杨路500号1栋101", 31.2304, 121.5150)
}
