use chrono::{DateTime, TimeZone, Utc};
use md5::{Digest, Md5};
use rust_decimal_macros::dec;
use serde_json::json;

use crate::channel::*;
use crate::order::{
    EventKind, ExceptionCode, Funder, OrderId, OrderStatus, SkuId, TemperatureZone,
};

const SECRET: &str = "eleme-secret";
const URL: &str = "https://hub.example.com/webhooks/eleme";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 25, 4, 1, 0).unwrap()
}

fn skus() -> SkuMap {
    SkuMap::new().with(
        "EL-BANANA",
        SkuEntry {
            sku: SkuId("SKU-BANANA".into()),
            zone: TemperatureZone::Ambient,
            unit_weight_g: 1000,
            unit_volume_cm3: 2000,
        },
    )
}

fn order_message() -> serde_json::Value {
    json!({
        "id": "3000123456789012345",
        "orderId": "3000123456789012345",
        "address": "浙江省杭州市西湖区文三路 90 号 东部软件园 3 号楼",
        "createdAt": "2025-11-25T12:00:00",
        "activeAt": "2025-11-25T12:00:05",
        "deliverFee": 4.0,
        "deliverTime": null,
        "description": "不要香菜",
        "groups": [{"name": "1号篮子", "type": "normal", "items": [
            {"id": 1001, "skuId": 200001, "name": "香蕉 1kg", "price": 9.9, "quantity": 2, "total": 19.8, "extendCode": "EL-BANANA"},
            {"id": 1002, "skuId": 200002, "name": "神秘商品", "price": 5.0, "quantity": 1, "total": 5.0, "extendCode": "EL-UNKNOWN"}
        ]}],
        "phoneList": ["13800000000,1234"],
        "shopId": 170000123,
        "userId": 98765,
        "consignee": "李四",
        "deliveryGeo": "120.130095,30.27699",
        "totalPrice": 23.8,
        "originalPrice": 29.8,
        "packageFee": 1.0,
        "onlinePaid": true,
        "status": "unprocessed",
        "orderActivities": [{"name": "满20减6", "amount": -6.0, "elemePart": -2.0, "restaurantPart": -4.0}]
    })
}

fn envelope(
    push_type: i64,
    message: &serde_json::Value,
) -> serde_json::Map<String, serde_json::Value> {
    let mut env = serde_json::Map::new();
    env.insert("requestId".into(), json!("100000123456_20251125120005_1"));
    env.insert("type".into(), json!(push_type));
    env.insert("appId".into(), json!(12345678));
    env.insert("message".into(), json!(message.to_string()));
    env.insert("shopId".into(), json!(170000123));
    env.insert("timestamp".into(), json!(1764043205000i64));
    env.insert("userId".into(), json!(336699));
    env
}

/// Spelled out: sorted `key=value` with no separator, secret appended, MD5, upper.
fn sign_raw(env: &serde_json::Map<String, serde_json::Value>) -> String {
    let text = format!(
        "appId={}message={}requestId={}shopId={}timestamp={}type={}userId={}{SECRET}",
        env["appId"],
        env["message"].as_str().unwrap(),
        env["requestId"].as_str().unwrap(),
        env["shopId"],
        env["timestamp"],
        env["type"],
        env["userId"]
    );
    hex::encode_upper(Md5::digest(text.as_bytes()))
}

fn body(push_type: i64, message: &serde_json::Value) -> Vec<u8> {
    let mut env = envelope(push_type, message);
    let sig = sign_raw(&env);
    env.insert("signature".into(), json!(sig));
    serde_json::to_vec(&env).unwrap()
}

fn req(body: &[u8]) -> InboundRequest<'_> {
    InboundRequest {
        method: "POST",
        full_url: URL,
        path: "/webhooks/eleme",
        query: "",
        headers: &[],
        content_type: Some("application/json;charset=utf-8"),
        body,
        received_at: now(),
    }
}

fn cfg() -> ChannelConfig {
    ChannelConfig::builtin("eleme").unwrap()
}

fn events(push_type: i64, message: serde_json::Value) -> Vec<ChannelEvent> {
    let b = body(push_type, &message);
    let push = verify(&cfg(), SECRET, &req(&b)).unwrap();
    normalize(&cfg(), &skus(), &push, now()).unwrap()
}

#[test]
fn new_order_normalizes() {
    let evs = events(10, order_message());
    let [ChannelEvent::Order { order }] = evs.as_slice() else {
        panic!("{evs:?}")
    };
    assert_eq!(order.id, OrderId("eleme-3000123456789012345".into()));
    assert_eq!(order.store_id.as_deref(), Some("170000123"));
    assert_eq!(
        order.placed_at,
        Utc.with_ymd_and_hms(2025, 11, 25, 4, 0, 0).unwrap(),
        "12:00 Shanghai is 04:00 UTC"
    );
    assert_eq!(order.money.goods, dec!(24.8));
    assert_eq!(order.money.discount_by(Funder::Platform), dec!(2.0));
    assert_eq!(order.money.discount_by(Funder::Merchant), dec!(4.0));
    assert_eq!(order.money.expected_paid(), dec!(23.8));
    assert_eq!(order.lines[0].sku, Some(SkuId("SKU-BANANA".into())));
    // The unknown SKU is kept and flagged, nothing else is wrong.
    let codes: Vec<_> = order.exceptions.iter().map(|e| e.code).collect();
    assert_eq!(codes, vec![ExceptionCode::UnknownSku]);
    let addr = order.delivery_address().unwrap();
    assert_eq!(addr.city.as_deref(), Some("杭州市"));
    let loc = addr.location.unwrap();
    assert!((loc.lat - 30.27699).abs() < 1e-9 && (loc.lng - 120.130095).abs() < 1e-9);
    let phone = order.customer.phone.as_ref().unwrap();
    assert!(phone.is_privacy && phone.extension.as_deref() == Some("1234"));
    assert_eq!(order.customer.customer_key, "eleme:user:98765");
    assert!(order.promised.asap);
    assert_eq!(order.status(), OrderStatus::Paid);
}

#[test]
fn json_value_encoding_is_configurable() {
    let mut env = envelope(10, &order_message());
    // Every value JSON-encoded: strings quoted (and escaped), numbers as they are.
    let text = format!(
        "appId={}message={}requestId={}shopId={}timestamp={}type={}userId={}{SECRET}",
        env["appId"],
        env["message"],
        env["requestId"],
        env["shopId"],
        env["timestamp"],
        env["type"],
        env["userId"]
    );
    assert!(text.contains("requestId=\"100000123456"));
    env.insert(
        "signature".into(),
        json!(hex::encode_upper(Md5::digest(text.as_bytes()))),
    );
    let b = serde_json::to_vec(&env).unwrap();
    assert_eq!(
        verify(&cfg(), SECRET, &req(&b)).unwrap_err().code(),
        "bad_signature"
    );
    let mut json_cfg = cfg();
    json_cfg.signature = SignatureScheme::ElemeMd5 {
        encoding: ElemeValueEncoding::Json,
        signature_field: "signature".into(),
        timestamp_field: "timestamp".into(),
    };
    assert!(verify(&json_cfg, SECRET, &req(&b)).is_ok());
}

#[test]
fn every_push_type() {
    let oid = "3000123456789012345";
    let cases: Vec<(i64, serde_json::Value, &str)> = vec![
        (
            12,
            json!({"orderId": oid, "state": "valid", "updateTime": 1764043300}),
            "accepted",
        ),
        (
            12,
            json!({"orderId": oid, "state": "settled", "updateTime": 1764046000}),
            "completed",
        ),
        (
            12,
            json!({"orderId": oid, "state": "invalid", "updateTime": 1764046000}),
            "cancelled",
        ),
        (
            14,
            json!({"orderId": oid, "reason": "用户取消", "updateTime": 1764046000}),
            "cancelled",
        ),
        (
            18,
            json!({"orderId": oid, "updateTime": 1764046000}),
            "completed",
        ),
        (
            30,
            json!({"orderId": oid, "refundStatus": "applied", "reason": "少送", "refundType": "part", "refundAmount": 5.0, "refundId": "rf1"}),
            "refund:rf1:applied",
        ),
        (
            30,
            json!({"orderId": oid, "refundStatus": "successful", "refundType": "part", "refundAmount": 5.0, "refundId": "rf1"}),
            "refund:rf1:successful",
        ),
        (
            60,
            json!({"orderId": oid, "state": "delivering", "updateAt": 1764043900000i64}),
            "picked_up",
        ),
        (
            60,
            json!({"orderId": oid, "state": "completed", "updateAt": 1764045000000i64}),
            "delivered",
        ),
        (
            60,
            json!({"orderId": oid, "state": "tobeFetched", "updateAt": 1764043800000i64}),
            "delivery:tobeFetched",
        ),
        (
            71,
            json!({"orderId": oid, "state": "delivering", "updateAt": 1764043900000i64}),
            "picked_up",
        ),
        (20, json!({"orderId": oid}), "type:20"),
    ];
    for (t, msg, key) in cases {
        let evs = events(t, msg);
        let [ChannelEvent::Event {
            event, order_id, ..
        }] = evs.as_slice()
        else {
            panic!("{t}: {evs:?}")
        };
        assert_eq!(order_id.as_str(), "eleme-3000123456789012345");
        assert_eq!(event.key, key, "type {t}");
        if key == "refund:rf1:successful" {
            assert_eq!(
                event.kind,
                EventKind::Refunded {
                    amount: dec!(5.0),
                    full: false,
                    lines: Vec::new(),
                }
            );
        }
    }
    let evs = events(
        100,
        json!({"shopId": 170000123, "relieveOAuthTime": 1764046000}),
    );
    let [ChannelEvent::Notice(n)] = evs.as_slice() else {
        panic!("{evs:?}")
    };
    assert_eq!(
        (n.kind.as_str(), n.store_id.as_deref()),
        ("authorization_revoked", Some("170000123"))
    );
}

#[test]
fn envelope_errors() {
    let code = |b: &[u8], ct: Option<&str>| {
        let mut r = req(b);
        r.content_type = ct;
        verify(&cfg(), SECRET, &r).unwrap_err().code()
    };
    let json_ct = Some("application/json");
    assert_eq!(code(b"{\"type\":10", json_ct), "malformed_json");
    assert_eq!(
        code(
            &body(10, &order_message()),
            Some("application/x-www-form-urlencoded")
        ),
        "unsupported_content_type"
    );
    let mut env = envelope(10, &order_message());
    assert_eq!(
        code(&serde_json::to_vec(&env).unwrap(), json_ct),
        "missing_signature"
    );
    env.insert("message".into(), json!("{\"orderId\": 1,"));
    let sig = sign_raw(&env);
    env.insert("signature".into(), json!(sig));
    assert_eq!(
        code(&serde_json::to_vec(&env).unwrap(), json_ct),
        "malformed_embedded_json"
    );
}
