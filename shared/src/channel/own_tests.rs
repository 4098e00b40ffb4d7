//! Our own HMAC-signed channels: app, mini-program, POS batches, group-buying batches.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use rust_decimal_macros::dec;
use serde_json::json;
use sha2::Sha256;

use crate::channel::*;
use crate::order::book;
use crate::order::{
    EventKind, ExceptionCode, Fulfilment, OrderId, OrderStatus, SkuId, TemperatureZone,
};
use crate::store::MemoryStore;

const SECRET: &str = "whsec_test_123";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 25, 4, 0, 30).unwrap()
}

fn skus() -> SkuMap {
    let e = |s: &str| SkuEntry {
        sku: SkuId(s.into()),
        zone: TemperatureZone::Chilled,
        unit_weight_g: 500,
        unit_volume_cm3: 0,
    };
    SkuMap::new()
        .with("APP-APPLE", e("SKU-APPLE"))
        .with("6901234567890", e("SKU-EGG"))
        .with("GB-EGG-30", e("SKU-EGG30"))
}

/// Spelled out: hex(HMAC-SHA256(secret, "<ts>.<body>")).
fn sign(ts: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.{}", std::str::from_utf8(body).unwrap()).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn headers(ts: &str, sig: &str) -> Vec<(String, String)> {
    vec![
        ("x-orderhub-timestamp".into(), ts.into()),
        ("x-orderhub-signature".into(), sig.into()),
    ]
}

fn req<'a>(path: &'a str, headers: &'a [(String, String)], body: &'a [u8]) -> InboundRequest<'a> {
    InboundRequest {
        method: "POST",
        full_url: "https://hub.example.com",
        path,
        query: "",
        headers,
        content_type: Some("application/json"),
        body,
        received_at: now(),
    }
}

fn signed_verify(
    cfg: &ChannelConfig,
    body: &serde_json::Value,
) -> Result<VerifiedPush, IngestError> {
    let bytes = serde_json::to_vec(body).unwrap();
    let ts = now().timestamp().to_string();
    let h = headers(&ts, &format!("v1={}", sign(&ts, &bytes)));
    verify(cfg, SECRET, &req("/webhooks/own", &h, &bytes))
}

fn run(cfg: &ChannelConfig, body: serde_json::Value) -> Vec<ChannelEvent> {
    let push = signed_verify(cfg, &body).unwrap();
    normalize(cfg, &skus(), &push, now()).unwrap()
}

fn app_order() -> serde_json::Value {
    json!({
        "event": "order.created",
        "event_id": "evt_1",
        "occurred_at": "2025-11-25T12:00:10+08:00",
        "order": {
            "id": "A1001", "store_id": "S001",
            "customer": {"user_id": "u-42", "openid": "oAbc", "unionid": "uAbc", "name": "王五", "phone": "13800000000"},
            "fulfilment": {"type": "delivery", "address": {"province": "上海市", "city": "上海市", "district": "徐汇区",
                           "detail": "漕溪北路 1 号", "lat": 31.19, "lng": 121.43, "datum": "wgs84"}},
            "lines": [{"sku": "APP-APPLE", "name": "苹果", "quantity": 2, "unit_price": "12.50"}],
            "money": {"delivery_fee": "5.00", "packaging_fee": "1.00",
                      "discounts": [{"funder": "merchant", "label": "新人券", "amount": "3.00"}], "paid": "28.00"},
            "promised": {"start": "2025-11-25T12:30:00+08:00", "end": "2025-11-25T13:00:00+08:00"},
            "note": "放门口",
            "placed_at": "2025-11-25T12:00:00+08:00",
            "paid_at": "2025-11-25T12:00:05+08:00"
        }
    })
}

fn one_order(evs: Vec<ChannelEvent>) -> crate::order::Order {
    match evs.as_slice() {
        [ChannelEvent::Order { order }] => (**order).clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn app_order_normalizes_with_wgs84_converted() {
    let cfg = ChannelConfig::builtin("app").unwrap();
    let order = one_order(run(&cfg, app_order()));
    assert_eq!(order.id, OrderId("app-A1001".into()));
    assert_eq!(order.money.goods, dec!(25.00));
    assert_eq!(order.money.expected_paid(), order.money.paid);
    assert!(order.exceptions.is_empty(), "{:?}", order.exceptions);
    let a = order.delivery_address().unwrap();
    let loc = a.location.unwrap();
    let expected = geo::wgs84_to_gcj02(31.19, 121.43);
    assert_eq!(loc, expected);
    assert!((loc.lat - 31.19).abs() > 1e-4, "converted, not copied");
    assert_eq!(a.merge_key, "上海市徐汇区漕溪北路1号");
    assert_eq!(order.customer.customer_key, "phone:13800000000");
    assert_eq!(order.customer.channel_user_id.as_deref(), Some("u-42"));
    assert_eq!(
        order.placed_at,
        Utc.with_ymd_and_hms(2025, 11, 25, 4, 0, 0).unwrap()
    );
    assert!(!order.promised.asap && order.promised.end.is_some());
    assert_eq!(order.status(), OrderStatus::Paid);
}

#[test]
fn mini_program_identifies_by_unionid() {
    let cfg = ChannelConfig::builtin("miniprogram").unwrap();
    let mut body = app_order();
    body["order"]["customer"]["phone"] = json!("");
    let order = one_order(run(&cfg, body));
    assert_eq!(order.customer.customer_key, "miniprogram:user:uAbc");
}

#[test]
fn hmac_refusals() {
    let cfg = ChannelConfig::builtin("app").unwrap();
    let body = serde_json::to_vec(&app_order()).unwrap();
    let ts = now().timestamp().to_string();
    let good = format!("v1={}", sign(&ts, &body));
    let check = |h: Vec<(String, String)>, code: &str, status: u16| {
        let e = verify(&cfg, SECRET, &req("/", &h, &body)).unwrap_err();
        assert_eq!((e.code(), e.http_status()), (code, status));
    };
    check(headers(&ts, "v1=00"), "bad_signature", 401);
    check(
        vec![("x-orderhub-timestamp".into(), ts.clone())],
        "missing_signature",
        401,
    );
    // Signed, but ten minutes old (the default window is 300 s).
    let old = (now().timestamp() - 600).to_string();
    check(
        headers(&old, &format!("v1={}", sign(&old, &body))),
        "stale_timestamp",
        401,
    );
    let future = (now().timestamp() + 600).to_string();
    check(
        headers(&future, &format!("v1={}", sign(&future, &body))),
        "stale_timestamp",
        401,
    );
    check(
        headers("soon", &format!("v1={}", sign("soon", &body))),
        "missing_timestamp",
        400,
    );
    // Rotation: any one matching v1 value is enough.
    assert!(verify(
        &cfg,
        SECRET,
        &req("/", &headers(&ts, &format!("v1=dead, {good}")), &body)
    )
    .is_ok());
    // Bad JSON under a good signature.
    let junk = b"{\"event\":";
    let h = headers(&ts, &format!("v1={}", sign(&ts, junk)));
    assert_eq!(
        verify(&cfg, SECRET, &req("/", &h, junk))
            .unwrap_err()
            .code(),
        "malformed_json"
    );
    let no_id = serde_json::to_vec(&json!({"event": "order.cancelled"})).unwrap();
    let h = headers(&ts, &format!("v1={}", sign(&ts, &no_id)));
    assert_eq!(
        verify(&cfg, SECRET, &req("/", &h, &no_id))
            .unwrap_err()
            .code(),
        "missing_field"
    );
    let odd = serde_json::to_vec(&json!({"event": "order.teleported", "order_id": "A1"})).unwrap();
    let h = headers(&ts, &format!("v1={}", sign(&ts, &odd)));
    assert_eq!(
        verify(&cfg, SECRET, &req("/", &h, &odd))
            .unwrap_err()
            .code(),
        "unknown_topic"
    );
}

#[test]
fn replayed_signature_is_refused_but_a_re_signed_retry_is_a_duplicate() {
    let cfg = ChannelConfig::builtin("app").unwrap();
    let store = MemoryStore::new();
    let gate = IngestGate::new(&store, &cfg);
    let body = serde_json::to_vec(&app_order()).unwrap();
    let ts = now().timestamp().to_string();
    let h = headers(&ts, &format!("v1={}", sign(&ts, &body)));
    let push = verify(&cfg, SECRET, &req("/", &h, &body)).unwrap();
    let Ok(Admission::Proceed(claim)) = gate.admit(&push, now()) else {
        panic!()
    };
    gate.complete(claim).unwrap();
    assert_eq!(gate.admit(&push, now()), Err(IngestError::Replayed));
    let ts2 = (now().timestamp() + 1).to_string();
    let h2 = headers(&ts2, &format!("v1={}", sign(&ts2, &body)));
    let retry = verify(&cfg, SECRET, &req("/", &h2, &body)).unwrap();
    assert_eq!(retry.dedupe_key, push.dedupe_key);
    assert_eq!(gate.admit(&retry, now()), Ok(Admission::AlreadyDone));
}

#[test]
fn app_events() {
    let cfg = ChannelConfig::builtin("app").unwrap();
    let ev = |event: &str, extra: serde_json::Value| {
        let mut body = json!({"event": event, "event_id": "evt_9", "order_id": "A1001", "occurred_at": 1764043300});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        match run(&cfg, body).as_slice() {
            [ChannelEvent::Event { event, .. }] => event.clone(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(ev("order.paid", json!({})).kind, EventKind::Paid);
    assert_eq!(ev("order.accepted", json!({})).kind, EventKind::Accepted);
    assert_eq!(ev("order.picked_up", json!({})).kind, EventKind::PickedUp);
    assert_eq!(ev("order.delivered", json!({})).kind, EventKind::Delivered);
    assert_eq!(ev("order.completed", json!({})).kind, EventKind::Completed);
    assert_eq!(
        ev("order.cancelled", json!({"reason": "缺货"})).kind,
        EventKind::Cancelled {
            reason: Some("缺货".into())
        }
    );
    assert!(matches!(
        ev("order.refund_requested", json!({})).kind,
        EventKind::RefundRequested { .. }
    ));
    let r = ev(
        "order.refunded",
        json!({"refund": {"id": "rf1", "amount": "12.50", "full": false}}),
    );
    assert_eq!(
        (r.key.as_str(), r.kind),
        (
            "refund:rf1",
            EventKind::Refunded {
                amount: dec!(12.50),
                full: false,
                lines: Vec::new(),
            }
        )
    );
    assert_eq!(
        r.at,
        DateTime::<Utc>::from_timestamp(1_764_043_300, 0).unwrap()
    );
}

#[test]
fn duplicate_storm_of_twenty_parallel_pushes_yields_one_order() {
    let cfg = Arc::new(ChannelConfig::builtin("app").unwrap());
    let (ingest, orders) = (Arc::new(MemoryStore::new()), Arc::new(MemoryStore::new()));
    let body = Arc::new(serde_json::to_vec(&app_order()).unwrap());
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let (cfg, ingest, orders, body) =
                (cfg.clone(), ingest.clone(), orders.clone(), body.clone());
            std::thread::spawn(move || {
                // Half the clients re-sign (new timestamp), half replay the same bytes.
                let ts = (now().timestamp() + i64::from(i % 2) * i64::from(i)).to_string();
                let h = headers(&ts, &format!("v1={}", sign(&ts, &body)));
                let push = verify(&cfg, SECRET, &req("/", &h, &body)).unwrap();
                let gate = IngestGate::new(&*ingest, &cfg);
                match gate.admit(&push, now()) {
                    Ok(Admission::Proceed(claim)) => {
                        let evs = normalize_json(&cfg, &skus(), &push.to_json(), now()).unwrap();
                        book::apply(&*orders, &evs).unwrap();
                        gate.complete(claim).unwrap();
                        "processed"
                    }
                    Ok(Admission::AlreadyDone) => "duplicate",
                    Err(e) => e.code(),
                }
            })
        })
        .collect();
    let outcomes: Vec<&str> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "processed").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(book::list_order_ids(&*orders, 0, 100).unwrap().len(), 1);
    let order = book::get_order(&*orders, &OrderId("app-A1001".into()))
        .unwrap()
        .unwrap();
    assert_eq!(order.history.len(), 2);
}

fn pos_batch() -> serde_json::Value {
    json!({
        "batch_id": "S001-2025-11-25-shift-2",
        "store_id": "S001",
        "sales": [
            {"receipt_no": "R000123", "sold_at": "2025-11-25T18:03:11+08:00",
             "lines": [{"sku": "6901234567890", "name": "鸡蛋 10 枚", "quantity": 1, "unit_price": "12.80"}],
             "discounts": [{"funder": "merchant", "label": "会员价", "amount": "1.00"}],
             "packaging_fee": "0.20", "paid": "12.00", "member": {"id": "M-77", "phone": "13900001111"},
             "fulfilment": {"type": "take_away"}},
            {"receipt_no": "R000124", "sold_at": "2025-11-25T18:05:00+08:00",
             "lines": [{"sku": "6901234567890", "name": "鸡蛋 10 枚", "quantity": 3, "unit_price": "12.80"}],
             "delivery_fee": "6", "paid": "44.40",
             "fulfilment": {"type": "delivery", "address": {"full": "上海市闵行区幸福路 88 弄 5 号 301"},
                            "promised": {"end": "2025-11-25T19:00:00+08:00"}}},
            {"receipt_no": "R000125", "sold_at": "2025-11-25T18:06:00+08:00", "void": true,
             "lines": [{"sku": "UNKNOWN-1", "name": "散装", "quantity": 1, "unit_price": "3"}], "paid": "3"}
        ]
    })
}

#[test]
fn pos_batch_is_many_independent_orders() {
    let cfg = ChannelConfig::builtin("pos").unwrap();
    let evs = run(&cfg, pos_batch());
    assert_eq!(evs.len(), 3);
    let orders: Vec<_> = evs
        .iter()
        .map(|e| match e {
            ChannelEvent::Order { order } => order.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(orders[0].id.as_str(), "pos-S001%3AR000123");
    assert!(
        matches!(&orders[0].fulfilment, Fulfilment::InStore { store_id } if store_id == "S001")
    );
    assert_eq!(orders[0].status(), OrderStatus::Completed);
    assert_eq!(orders[0].customer.customer_key, "phone:13900001111");
    assert!(
        orders[0].exceptions.is_empty(),
        "{:?}",
        orders[0].exceptions
    );
    assert_eq!(orders[1].status(), OrderStatus::Accepted);
    assert_eq!(
        orders[1].delivery_address().unwrap().district.as_deref(),
        Some("闵行区")
    );
    assert_eq!(orders[1].money.expected_paid(), dec!(44.40));
    assert_eq!(orders[2].status(), OrderStatus::Cancelled);
    assert_eq!(orders[2].exceptions[0].code, ExceptionCode::UnknownSku);

    // Re-uploading an overlapping batch adds nothing twice.
    let store = MemoryStore::new();
    book::apply(&store, &evs).unwrap();
    let mut overlap = pos_batch();
    overlap["sales"].as_array_mut().unwrap().remove(0);
    let again = book::apply(&store, &run(&cfg, overlap)).unwrap();
    assert_eq!(again.new_events, 0);
    assert_eq!(book::list_order_ids(&store, 0, 10).unwrap().len(), 3);
}

#[test]
fn groupbuy_batch_goes_to_the_pickup_point() {
    let cfg = ChannelConfig::builtin("groupbuy").unwrap();
    let batch = json!({
        "batch_id": "GB-2025-11-25-L88", "store_id": "S001",
        "leader": {"id": "L88", "name": "王阿姨", "phone": "13900002222"},
        "pickup_point": {"id": "PP-12", "name": "幸福小区 3 号门",
                         "address": {"province": "上海市", "city": "上海市", "district": "闵行区", "detail": "幸福路 88 弄 3 号门",
                                     "lat": 31.11, "lng": 121.38}},
        "pickup_window": {"start": "2025-11-26T16:00:00+08:00", "end": "2025-11-26T20:00:00+08:00"},
        "orders": [
            {"member_order_id": "GB-M-10001", "member": {"id": "U-501", "name": "陈七", "phone": "13700003333"},
             "placed_at": "2025-11-25T21:14:00+08:00",
             "lines": [{"sku": "GB-EGG-30", "name": "土鸡蛋 30 枚", "quantity": 1, "unit_price": "29.90"}],
             "discounts": [{"funder": "platform", "label": "团购价补贴", "amount": "5.00"}], "paid": "24.90"},
            {"member_order_id": "GB-M-10002", "member": {"id": "U-502"}, "placed_at": "2025-11-25T21:20:00+08:00",
             "lines": [{"sku": "GB-EGG-30", "name": "土鸡蛋 30 枚", "quantity": 2, "unit_price": "29.90"}],
             "paid": "59.80", "cancelled": true}
        ]
    });
    let evs = run(&cfg, batch);
    let [ChannelEvent::Order { order: a }, ChannelEvent::Order { order: b }] = evs.as_slice()
    else {
        panic!("{evs:?}")
    };
    let Fulfilment::PickupPoint {
        point_id, address, ..
    } = &a.fulfilment
    else {
        panic!("{:?}", a.fulfilment)
    };
    assert_eq!(point_id, "PP-12");
    assert_eq!(
        address.as_ref().unwrap().merge_key,
        "上海市闵行区幸福路88弄3号门"
    );
    assert_eq!(a.customer.customer_key, "phone:13700003333");
    assert_eq!(
        b.customer.customer_key, "groupbuy:user:U-502",
        "members sharing a point stay distinct"
    );
    assert_eq!(
        a.promised.end,
        Some(Utc.with_ymd_and_hms(2025, 11, 26, 12, 0, 0).unwrap())
    );
    assert!(a.exceptions.is_empty(), "{:?}", a.exceptions);
    assert_eq!(a.status(), OrderStatus::Accepted);
    assert_eq!(b.status(), OrderStatus::Cancelled);
    let cfg_err = |v: serde_json::Value| signed_verify(&cfg, &v).unwrap_err().code();
    assert_eq!(
        cfg_err(json!({"leader": {"id": "L1"}, "pickup_point": {"id": "P"}, "orders": []})),
        "missing_field"
    );
    assert_eq!(
        cfg_err(json!({"pickup_point": {"id": "P"}, "orders": [{}]})),
        "missing_field"
    );
}

proptest::proptest! {
    #[test]
    fn pos_money_invariants_hold_for_any_consistent_sale(
        sales in proptest::collection::vec(
            (proptest::collection::vec((1u32..50, 0i64..100_000), 1..5), 0i64..5_000, 0i64..300, proptest::bool::ANY),
            1..8,
        ),
    ) {
        let cfg = ChannelConfig::builtin("pos").unwrap();
        let body: Vec<_> = sales.iter().enumerate().map(|(i, (lines, discount, packaging, delivery))| {
            let goods: i64 = lines.iter().map(|(q, p)| i64::from(*q) * p).sum();
            let paid = goods - discount + packaging;
            json!({
                "receipt_no": format!("R{i}"),
                "sold_at": "2025-11-25T18:00:00+08:00",
                "lines": lines.iter().map(|(q, p)| json!({"sku": "6901234567890", "quantity": q, "unit_price": crate::money::from_fen(*p).to_string()})).collect::<Vec<_>>(),
                "discounts": [{"funder": "merchant", "label": "d", "amount": crate::money::from_fen(*discount).to_string()}],
                "packaging_fee": crate::money::from_fen(*packaging).to_string(),
                "paid": crate::money::from_fen(paid).to_string(),
                "fulfilment": if *delivery { json!({"type": "delivery", "address": {"full": "上海市闵行区幸福路 1 号"}}) } else { json!({"type": "take_away"}) },
            })
        }).collect();
        let evs = run(&cfg, json!({"batch_id": "b", "store_id": "S1", "sales": body}));
        proptest::prop_assert_eq!(evs.len(), sales.len());
        for ev in &evs {
            let ChannelEvent::Order { order } = ev else { panic!("{ev:?}") };
            let m = &order.money;
            proptest::prop_assert_eq!(m.goods, order.lines.iter().map(|l| l.amount()).sum::<rust_decimal::Decimal>());
            proptest::prop_assert_eq!(m.expected_paid(), m.paid);
            proptest::prop_assert!(order.exceptions.is_empty(), "{:?}", order.exceptions);
        }
    }
}

proptest::proptest! {
    /// As for Meituan: an app order and a POS batch (one code never mapped).
    #[test]
    fn mapping_skus_in_the_drain_gives_the_orders_mapping_at_once_gives(
        map in crate::channel::normalize::deferred_mapping::maps(
            &["APP-APPLE", "6901234567890"]
        )
    ) {
        use crate::channel::normalize::deferred_mapping::assert_same;
        for (channel, body) in [("app", app_order()), ("pos", pos_batch())] {
            let cfg = ChannelConfig::builtin(channel).unwrap();
            assert_same(&cfg, &signed_verify(&cfg, &body).unwrap(), &map, now());
        }
    }
}
