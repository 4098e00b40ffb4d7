//! The worked example of `docs/channels.md`, read from the document itself.

use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use rust_decimal_macros::dec;
use serde_json::json;
use sha2::Sha256;

use crate::channel::*;
use crate::order::{book, EventKind, ExceptionCode, Funder, OrderId, OrderStatus, SkuId};
use crate::store::MemoryStore;

const DOC: &str = include_str!("../../../docs/channels.md");
const SECRET: &str = "dd-secret";

/// The body of the fenced block opened by "```json <name>".
fn block(name: &str) -> &'static str {
    let open = format!("```json {name}\n");
    let start = DOC
        .find(&open)
        .map(|i| i + open.len())
        .unwrap_or_else(|| panic!("no block {name}"));
    let len = DOC[start..].find("\n```").unwrap();
    &DOC[start..start + len]
}

fn cfg() -> ChannelConfig {
    ChannelConfig::from_json(block("dingdong-config")).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 25, 4, 30, 0).unwrap()
}

fn verify_body(cfg: &ChannelConfig, body: &[u8]) -> Result<VerifiedPush, IngestError> {
    let ts = now().timestamp().to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let headers = vec![
        ("x-dd-timestamp".to_string(), ts),
        ("x-dd-signature".to_string(), sig),
    ];
    let req = InboundRequest {
        method: "POST",
        full_url: "https://hub.example.com/webhooks/dingdong",
        path: "/webhooks/dingdong",
        query: "",
        headers: &headers,
        content_type: Some("application/json"),
        body,
        received_at: now(),
    };
    verify(cfg, SECRET, &req)
}

fn run(body: &str) -> Vec<ChannelEvent> {
    let c = cfg();
    let push = verify_body(&c, body.as_bytes()).unwrap();
    normalize_json(&c, &SkuMap::default(), &push.to_json(), now()).unwrap()
}

#[test]
fn dingdong_order_normalizes_as_documented() {
    let evs = run(block("dingdong-order"));
    let [ChannelEvent::Order { order }] = evs.as_slice() else {
        panic!("{evs:?}")
    };
    assert_eq!(order.id, OrderId("dingdong-DD20251125000123".into()));
    assert_eq!(
        order.lines[0].sku,
        Some(SkuId("SKU-APPLE".into())),
        "the config's own SKU table"
    );
    assert_eq!(order.lines[1].unit_price, dec!(13.80));
    let m = &order.money;
    assert_eq!(
        (m.goods, m.delivery_fee, m.packaging_fee, m.paid),
        (dec!(45.60), dec!(5.00), dec!(1.00), dec!(46.60))
    );
    assert_eq!(
        (
            m.discount_by(Funder::Merchant),
            m.discount_by(Funder::Platform)
        ),
        (dec!(3.00), dec!(2.00))
    );
    assert!(order.exceptions.is_empty(), "{:?}", order.exceptions);
    let a = order.delivery_address().unwrap();
    assert_eq!(a.merge_key, "上海市长宁区天山路600弄2号1101");
    assert_eq!(a.location, Some(geo::wgs84_to_gcj02(31.2123, 121.4012)));
    assert_eq!(order.customer.customer_key, "phone:13600004444");
    assert_eq!(
        order.placed_at,
        Utc.with_ymd_and_hms(2025, 11, 25, 4, 0, 0).unwrap()
    );
    assert_eq!(
        order.promised.start,
        Some(Utc.with_ymd_and_hms(2025, 11, 25, 4, 30, 0).unwrap())
    );
    assert_eq!(
        order.promised.end,
        Some(Utc.with_ymd_and_hms(2025, 11, 25, 5, 0, 0).unwrap())
    );
    assert_eq!(order.buyer_note.as_deref(), Some("请敲门"));
    let keys: Vec<_> = order.history.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, vec!["created", "paid"]);
}

#[test]
fn dingdong_cancel_before_order_ends_cancelled_and_acks_in_its_format() {
    let store = MemoryStore::new();
    book::apply(&store, &run(block("dingdong-cancel"))).unwrap();
    let applied = book::apply(&store, &run(block("dingdong-order"))).unwrap();
    let order = book::get_order(&store, &OrderId("dingdong-DD20251125000123".into()))
        .unwrap()
        .unwrap();
    assert_eq!(order.status(), OrderStatus::Cancelled);
    let cancel = order.history.iter().find(|e| e.key == "cancelled").unwrap();
    assert_eq!(
        cancel.kind,
        EventKind::Cancelled {
            reason: Some("用户取消".into())
        }
    );
    assert_eq!(
        cancel.at,
        Utc.with_ymd_and_hms(2025, 11, 25, 4, 30, 0).unwrap()
    );
    let ack = acknowledgement(
        &cfg(),
        &Outcome::Accepted {
            orders: applied.orders,
        },
    );
    assert_eq!(ack.body, br#"{"code":0,"msg":"success"}"#);
    let err = acknowledgement(&cfg(), &Outcome::Refused(IngestError::BadSignature));
    let v: serde_json::Value = serde_json::from_slice(&err.body).unwrap();
    assert_eq!((err.status, v["code"].as_i64()), (401, Some(1)));
}

#[test]
fn dingdong_bad_inputs() {
    let c = cfg();
    let code = |body: serde_json::Value| {
        verify_body(&c, &serde_json::to_vec(&body).unwrap())
            .unwrap_err()
            .code()
    };
    assert_eq!(
        code(json!({"eventType": "ORDER_CREATE", "data": "{\"orderNo\":"})),
        "malformed_embedded_json"
    );
    assert_eq!(
        code(json!({"eventType": "ORDER_CREATE", "data": "{\"items\":[]}"})),
        "missing_field"
    );
    assert_eq!(code(json!({"data": "{}"})), "missing_field");
    // Unmapped event types are recorded, not refused.
    let evs = run(r#"{"eventType":"ORDER_DELIVERING","data":"{\"orderNo\":\"DD1\"}"}"#);
    assert!(
        matches!(&evs[..], [ChannelEvent::Event { event, .. }] if event.key == "status:ORDER_DELIVERING")
    );
    // An order that does not add up is kept and flagged.
    let evs = run(
        r#"{"eventType":"ORDER_CREATE","data":{"orderNo":"DD2","createTime":1764043200000,"items":[{"skuCode":"X","num":-1,"price":100}],"payAmount":999}}"#,
    );
    let [ChannelEvent::Order { order }] = evs.as_slice() else {
        panic!()
    };
    let mut codes: Vec<_> = order.exceptions.iter().map(|e| e.code).collect();
    codes.sort();
    assert_eq!(
        codes,
        vec![
            ExceptionCode::UnknownSku,
            ExceptionCode::ImpossibleQuantity,
            ExceptionCode::MoneyMismatch,
            ExceptionCode::MissingAddress
        ]
    );
}

#[test]
fn a_configured_channel_can_sign_meituan_style_and_batch() {
    let mut c = cfg();
    c.signature = SignatureScheme::MeituanMd5 {
        signed_url: None,
        signature_param: "sign".into(),
        timestamp_param: "ts".into(),
    };
    c.freshness_seconds = None;
    c.replay_window_seconds = None;
    let mut mapping = c.mapping.clone().unwrap();
    mapping.event = None;
    mapping.embedded_json = vec!["/orders".into()];
    mapping.orders = Some("/orders".into());
    mapping.money.unit = MoneyUnit::Yuan;
    c.mapping = Some(mapping);
    let orders = r#"[{"orderNo":"B1","items":[{"skuCode":"DD-APPLE-1","num":1,"price":"15.90"}],"payAmount":"15.90"},{"orderNo":"B2","items":[],"payAmount":"0"}]"#;
    let url = "https://hub.example.com/webhooks/dingdong-batch";
    let text = format!("{url}?orders={orders}&ts=1764045000{SECRET}");
    let sig = hex::encode(<md5::Md5 as md5::Digest>::digest(text.as_bytes()));
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("orders", orders)
        .append_pair("ts", "1764045000")
        .append_pair("sign", &sig)
        .finish();
    let req = InboundRequest {
        method: "POST",
        full_url: url,
        path: "/webhooks/dingdong-batch",
        query: "",
        headers: &[],
        content_type: Some("application/x-www-form-urlencoded"),
        body: body.as_bytes(),
        received_at: now(),
    };
    let push = verify(&c, SECRET, &req).unwrap();
    let evs = normalize(&c, &SkuMap::default(), &push, now()).unwrap();
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[1].order_id().map(OrderId::as_str), Some("dingdong-B2"));
}
