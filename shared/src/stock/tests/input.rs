//! What comes in from the shells: refusals of bad input, and unified orders.

use super::*;

#[test]
fn bad_input_is_refused_with_nothing_changed() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 10)]);
    ledger
        .reserve(&request("o1", "app", &[(1, "apple", 2)]), t0())
        .unwrap();
    let before = snapshot(&store);
    let cases: Vec<(StockError, u16, &str)> = vec![
        (
            ledger
                .reserve(&request("x", "app", &[(1, "apple", 0)]), t0())
                .unwrap_err(),
            422,
            "bad_quantity",
        ),
        (
            ledger
                .reserve(&request("x", "app", &[(1, "apple", -3)]), t0())
                .unwrap_err(),
            422,
            "bad_quantity",
        ),
        (
            ledger
                .reserve(&request("x", "app", &[(1, "kiwi", 1)]), t0())
                .unwrap_err(),
            404,
            "unknown_sku",
        ),
        (
            ledger.reserve(&request("x", "app", &[]), t0()).unwrap_err(),
            422,
            "empty_order",
        ),
        (
            ledger
                .reserve(
                    &request("x", "app", &[(1, "apple", 1), (1, "apple", 1)]),
                    t0(),
                )
                .unwrap_err(),
            422,
            "duplicate_line",
        ),
        (
            ledger
                .adjust(
                    &AdjustRequest {
                        sku: sku("apple"),
                        warehouse: wh("gz"),
                        change: Adjustment::Delta(1),
                        reason: String::new(),
                        reference: None,
                    },
                    t0(),
                )
                .unwrap_err(),
            404,
            "unknown_warehouse",
        ),
        (
            ledger
                .adjust(
                    &AdjustRequest {
                        sku: sku("apple"),
                        warehouse: wh("sh"),
                        change: Adjustment::Set(-1),
                        reason: String::new(),
                        reference: None,
                    },
                    t0(),
                )
                .unwrap_err(),
            422,
            "negative_stock",
        ),
        (
            ledger
                .commit(&order("nope"), &SettleRequest::everything("p"), t0())
                .unwrap_err(),
            404,
            "unknown_reservation",
        ),
        (
            ledger
                .release(&order("o1"), &SettleRequest::lines("r", &[(1, 0)]), t0())
                .unwrap_err(),
            422,
            "bad_quantity",
        ),
        (
            ledger
                .release(&order("o1"), &SettleRequest::lines("r", &[(7, 1)]), t0())
                .unwrap_err(),
            404,
            "unknown_line",
        ),
    ];
    for (error, status, code) in cases {
        assert_eq!(
            (error.http_status(), error.code()),
            (status, code),
            "{error}"
        );
    }
    let elsewhere = ChannelPolicy {
        warehouses: Some(vec![wh("gz")]),
        ..ChannelPolicy::default()
    };
    let error = ledger.reserve_with(
        &request("x", "app", &[(1, "apple", 1)]),
        &elsewhere,
        &PriorityOrder,
        t0(),
    );
    assert_eq!(error.unwrap_err().code(), "unknown_warehouse");
    assert_eq!(snapshot(&store), before);
    let mut bad = catalog();
    bad.channels
        .get_mut(&channel("meituan"))
        .unwrap()
        .shares
        .insert(wh("gz"), ChannelShare::default());
    assert_eq!(
        ledger.put_catalog(&bad, &mut || true).unwrap_err().code(),
        "unknown_warehouse"
    );
    assert_eq!(snapshot(&store), before);
}

fn order_with(lines: Vec<(u32, Option<&str>, u32)>) -> crate::order::Order {
    use crate::order::*;
    use rust_decimal::Decimal;
    let channel = ChannelId::new("near");
    Order {
        id: OrderId::for_channel_order(&channel, "9001"),
        channel,
        channel_order_id: "9001".into(),
        store_id: None,
        customer: Customer {
            channel_user_id: None,
            name: None,
            phone: None,
            customer_key: "c".into(),
        },
        fulfilment: Fulfilment::Delivery {
            address: Some(Address {
                province: None,
                city: None,
                district: None,
                detail: "Chaoyang".into(),
                location: Some(BEIJING),
                merge_key: "k".into(),
            }),
        },
        lines: lines
            .into_iter()
            .map(|(line_no, sku, quantity)| OrderLine {
                line_no,
                channel_sku: format!("ch-{line_no}"),
                sku: sku.map(|s| SkuId(s.into())),
                name: String::new(),
                quantity,
                unit_price: Decimal::ONE,
                unit_weight_g: 0,
                unit_volume_cm3: 0,
                zone: TemperatureZone::Ambient,
            })
            .collect(),
        money: OrderMoney {
            currency: "CNY".into(),
            goods: Decimal::ZERO,
            discounts: vec![],
            delivery_fee: Decimal::ZERO,
            packaging_fee: Decimal::ZERO,
            paid: Decimal::ZERO,
        },
        promised: PromisedWindow {
            asap: true,
            start: None,
            end: None,
        },
        buyer_note: None,
        placed_at: t0(),
        source_time_zone: "Asia/Shanghai".into(),
        source_utc_offset_minutes: 480,
        history: vec![],
        exceptions: vec![],
    }
}

#[test]
fn a_unified_order_becomes_a_reserve_request() {
    let store = MemoryStore::new();
    let ledger = setup(&store, &[("apple", "sh", 5), ("apple", "bj", 5)]);
    let req = ReserveRequest::for_order(&order_with(vec![(1, Some("apple"), 2)])).unwrap();
    assert_eq!(req.deliver_to, Some(BEIJING));
    let out = ledger.reserve(&req, t0()).unwrap();
    assert_eq!(
        out.reservation.allocations[0].warehouse,
        wh("bj"),
        "nearest to the Beijing address"
    );
    let unmapped = ReserveRequest::for_order(&order_with(vec![(1, None, 2)])).unwrap_err();
    assert_eq!(
        (unmapped.code(), unmapped.to_string().contains("ch-1")),
        ("unknown_sku", true)
    );
}
