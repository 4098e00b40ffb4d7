use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use proptest::prelude::*;
use rust_decimal_macros::dec;

use crate::channel::*;
use crate::order::book;
use crate::order::{
    EventKind, ExceptionCode, Fulfilment, Funder, OrderId, OrderStatus, SkuId, TemperatureZone,
};
use crate::store::MemoryStore;

const SECRET: &str = "mt-secret-42";
const BASE: &str = "https://hub.example.com/webhooks/meituan";

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_764_043_300, 0).unwrap()
}

fn skus() -> SkuMap {
    let e = |sku: &str, zone, w| SkuEntry {
        sku: SkuId(sku.into()),
        zone,
        unit_weight_g: w,
        unit_volume_cm3: 0,
    };
    SkuMap::new()
        .with("MT-APPLE", e("SKU-APPLE", TemperatureZone::Chilled, 500))
        .with("MT-MILK", e("SKU-MILK", TemperatureZone::Chilled, 1000))
}

/// Real-shaped order push parameters (values decoded).
fn order_params() -> Vec<(&'static str, String)> {
    vec![
        ("app_id", "6543".into()),
        ("timestamp", "1764043260".into()),
        ("order_id", "27061900338318".into()),
        ("wm_order_id_view", "27061900338318".into()),
        ("app_poi_code", "store-001".into()),
        ("recipient_name", "张三(先生)".into()),
        ("recipient_address", "上海市浦东新区世纪大道 100 号 5 楼@#上海市浦东新区世纪大道100号".into()),
        ("recipient_phone", "138xxxx1234_123456".into()),
        ("latitude", "31235432".into()),
        ("longitude", "121506377".into()),
        ("shipping_fee", "5.0".into()),
        ("total", "39.9".into()),
        ("original_price", "51.9".into()),
        ("caution", "少放辣 多给餐具".into()),
        ("ctime", "1764043200".into()),
        ("utime", "1764043210".into()),
        ("delivery_time", "0".into()),
        ("day_seq", "12".into()),
        ("status", "2".into()),
        ("pay_type", "2".into()),
        ("total_weight", "2000".into()),
        ("incmp_code", "0".into()),
        (
            "detail",
            r#"[{"app_food_code":"MT-APPLE","food_name":"红富士苹果 500g","quantity":2,"price":12.5,"box_num":1,"box_price":1.0,"unit":"份"},{"app_food_code":"MT-MILK","food_name":"鲜牛奶 1L","quantity":1,"price":19.9,"box_num":1,"box_price":1.0,"unit":"瓶"}]"#.into(),
        ),
        (
            "extras",
            r#"[{"reduce_fee":12.0,"mt_charge":4.0,"poi_charge":8.0,"remark":"满50减12","type":2},{}]"#.into(),
        ),
    ]
}

/// The signature spelled out, independently of the adapter: url + "?" + sorted k=v
/// joined by & + secret, MD5, lower-case hex.
fn sign(url: &str, params: &[(&str, String)]) -> String {
    let mut sorted: Vec<_> = params.iter().filter(|(k, _)| *k != "sig").collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let joined: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let text = format!("{url}?{}{SECRET}", joined.join("&"));
    hex::encode(Md5::digest(text.as_bytes()))
}

fn form(params: &[(&str, String)]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

fn signed(topic: &str, mut params: Vec<(&'static str, String)>) -> (String, Vec<u8>) {
    let url = format!("{BASE}/{topic}");
    let sig = sign(&url, &params);
    params.push(("sig", sig));
    (url, form(&params))
}

fn request<'a>(url: &'a str, body: &'a [u8], ct: Option<&'a str>) -> InboundRequest<'a> {
    InboundRequest {
        method: "POST",
        full_url: url,
        path: url.trim_start_matches("https://hub.example.com"),
        query: "",
        headers: &[],
        content_type: ct,
        body,
        received_at: now(),
    }
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn cfg() -> ChannelConfig {
    ChannelConfig::builtin("meituan").unwrap()
}

fn push_of(topic: &str, params: Vec<(&'static str, String)>) -> VerifiedPush {
    let (url, body) = signed(topic, params);
    verify(&cfg(), SECRET, &request(&url, &body, FORM)).unwrap()
}

fn only_order(events: Vec<ChannelEvent>) -> crate::order::Order {
    match events.as_slice() {
        [ChannelEvent::Order { order }] => (**order).clone(),
        other => panic!("expected one order, got {other:?}"),
    }
}

#[test]
fn signature_vector_matches_a_spelled_out_string() {
    // A tiny vector checked against the MD5 of the literal string.
    let url = "https://hub.example.com/webhooks/meituan/status";
    let params = vec![
        ("timestamp", "1764043260".to_string()),
        ("order_id", "1".into()),
        ("status", "4".into()),
    ];
    let literal = "https://hub.example.com/webhooks/meituan/status?order_id=1&status=4&timestamp=1764043260mt-secret-42";
    assert_eq!(
        sign(url, &params),
        hex::encode(Md5::digest(literal.as_bytes()))
    );
    let mut body = params.clone();
    body.push(("sig", hex::encode(Md5::digest(literal.as_bytes()))));
    let body = form(&body);
    assert!(verify(&cfg(), SECRET, &request(url, &body, FORM)).is_ok());
}

#[test]
fn order_push_normalizes_every_field() {
    let push = push_of("order", order_params());
    let order = only_order(normalize(&cfg(), &skus(), &push, now()).unwrap());
    assert_eq!(order.id, OrderId("meituan-27061900338318".into()));
    assert_eq!(order.store_id.as_deref(), Some("store-001"));
    assert_eq!(order.lines.len(), 2);
    assert_eq!(order.lines[0].sku, Some(SkuId("SKU-APPLE".into())));
    assert_eq!(
        (order.lines[0].quantity, order.lines[0].unit_price),
        (2, dec!(12.5))
    );
    assert_eq!(order.lines[1].zone, TemperatureZone::Chilled);
    assert_eq!(order.total_weight_g(), 2000);
    let m = &order.money;
    assert_eq!(
        (m.goods, m.packaging_fee, m.delivery_fee, m.paid),
        (dec!(44.9), dec!(2.0), dec!(5.0), dec!(39.9))
    );
    assert_eq!(m.discount_by(Funder::Platform), dec!(4.0));
    assert_eq!(m.discount_by(Funder::Merchant), dec!(8.0));
    assert_eq!(m.expected_paid(), m.paid);
    assert!(order.exceptions.is_empty(), "{:?}", order.exceptions);

    let addr = order.delivery_address().unwrap();
    assert_eq!(addr.detail, "世纪大道 100 号 5 楼");
    assert_eq!(addr.district.as_deref(), Some("浦东新区"));
    assert_eq!(addr.merge_key, "上海市浦东新区世纪大道100号5楼");
    let loc = addr.location.unwrap();
    assert!((loc.lat - 31.235432).abs() < 1e-9 && (loc.lng - 121.506377).abs() < 1e-9);

    let phone = order.customer.phone.as_ref().unwrap();
    assert!(phone.is_privacy);
    assert_eq!(phone.extension.as_deref(), Some("123456"));
    // A privacy number never identifies a customer: the address does.
    assert_eq!(
        order.customer.customer_key,
        "meituan:addr:上海市浦东新区世纪大道100号5楼"
    );

    assert_eq!(
        order.placed_at,
        DateTime::<Utc>::from_timestamp(1_764_043_200, 0).unwrap()
    );
    assert_eq!(
        (
            order.source_time_zone.as_str(),
            order.source_utc_offset_minutes
        ),
        ("Asia/Shanghai", 480)
    );
    assert!(order.promised.asap && order.promised.end.is_none());
    assert_eq!(order.buyer_note.as_deref(), Some("少放辣 多给餐具"));
    let kinds: Vec<_> = order.history.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(kinds, vec!["created", "paid"]);
    assert_eq!(order.status(), OrderStatus::Paid);
}

#[test]
fn json_body_with_query_parameters_verifies_too() {
    let url = format!("{BASE}/order");
    let mut params = order_params();
    let sig = sign(&url, &params);
    // System parameters in the query, business ones in a JSON body (numbers as numbers).
    let (sys, biz): (Vec<_>, Vec<_>) = params
        .drain(..)
        .partition(|(k, _)| matches!(*k, "app_id" | "timestamp"));
    let query = format!("{}&sig={sig}", String::from_utf8(form(&sys)).unwrap());
    let mut obj = serde_json::Map::new();
    for (k, v) in biz {
        let value = if k == "total" {
            serde_json::Value::Number(v.parse().unwrap())
        } else {
            serde_json::Value::String(v)
        };
        obj.insert(k.to_string(), value);
    }
    let body = serde_json::to_vec(&obj).unwrap();
    let mut req = request(&url, &body, Some("application/json; charset=utf-8"));
    req.query = &query;
    let push = verify(&cfg(), SECRET, &req).unwrap();
    let order = only_order(normalize(&cfg(), &skus(), &push, now()).unwrap());
    assert_eq!(order.money.paid, dec!(39.9));
}

#[test]
fn signed_url_override_is_what_gets_signed() {
    let mut c = cfg();
    c.signature = SignatureScheme::MeituanMd5 {
        signed_url: Some(format!("{BASE}/order")),
        signature_param: "sig".into(),
        timestamp_param: "timestamp".into(),
    };
    let (_, body) = signed("order", order_params());
    // Behind a proxy the shell sees an internal URL.
    let req = request("http://10.0.0.5:3000/webhooks/meituan/order", &body, FORM);
    assert!(verify(&c, SECRET, &req).is_ok());
    assert_eq!(
        verify(&cfg(), SECRET, &req).unwrap_err().code(),
        "bad_signature"
    );
}

#[test]
fn refusals_carry_precise_codes() {
    let (url, body) = signed("order", order_params());
    let code =
        |c: &ChannelConfig, secret: &str, req: InboundRequest| verify(c, secret, &req).unwrap_err();
    let e = code(&cfg(), "wrong", request(&url, &body, FORM));
    assert_eq!((e.http_status(), e.code()), (401, "bad_signature"));
    let unsigned = form(&order_params());
    assert_eq!(
        code(&cfg(), SECRET, request(&url, &unsigned, FORM)).code(),
        "missing_signature"
    );
    let mut tampered = order_params();
    tampered.iter_mut().find(|(k, _)| *k == "total").unwrap().1 = "0.01".into();
    let sig = sign(&url, &order_params());
    tampered.push(("sig", sig));
    assert_eq!(
        code(&cfg(), SECRET, request(&url, &form(&tampered), FORM)).code(),
        "bad_signature"
    );
    assert_eq!(
        code(&cfg(), SECRET, request(&url, &body, Some("text/xml"))).code(),
        "unsupported_content_type"
    );
    let gbk = Some("application/x-www-form-urlencoded; charset=GBK");
    assert_eq!(
        code(&cfg(), SECRET, request(&url, &body, gbk)).code(),
        "unsupported_content_type"
    );
    let bad_utf8 = [b"order_id=1&x=".as_slice(), &[0xff, 0xfe]].concat();
    assert_eq!(
        code(&cfg(), SECRET, request(&url, &bad_utf8, FORM)).code(),
        "invalid_utf8"
    );
    let mut small = cfg();
    small.max_body_bytes = 100;
    let e = code(&small, SECRET, request(&url, &body, FORM));
    assert_eq!((e.http_status(), e.code()), (413, "body_too_large"));
    let mut get = request(&url, &body, FORM);
    get.method = "GET";
    assert_eq!(code(&cfg(), SECRET, get).code(), "method_not_allowed");
    assert_eq!(
        code(
            &cfg(),
            SECRET,
            request(&url, b"{not json", Some("application/json"))
        )
        .code(),
        "malformed_json"
    );
}

#[test]
fn malformed_embedded_documents_are_refused_before_anything_is_stored() {
    for field in ["detail", "extras"] {
        let mut p = order_params();
        p.iter_mut().find(|(k, _)| *k == field).unwrap().1 =
            r#"[{"app_food_code":"MT-APPLE","#.into();
        let (url, body) = signed("order", p);
        let e = verify(&cfg(), SECRET, &request(&url, &body, FORM)).unwrap_err();
        assert_eq!(
            (e.http_status(), e.code()),
            (400, "malformed_embedded_json"),
            "{field}"
        );
    }
    let mut p = order_params();
    p.retain(|(k, _)| *k != "order_id" && *k != "wm_order_id_view");
    let (url, body) = signed("order", p);
    assert_eq!(
        verify(&cfg(), SECRET, &request(&url, &body, FORM))
            .unwrap_err()
            .code(),
        "missing_field"
    );
    let (url, body) = signed("unknown", vec![("order_id", "1".into())]);
    let e = verify(&cfg(), SECRET, &request(&url, &body, FORM)).unwrap_err();
    assert_eq!((e.http_status(), e.code()), (404, "unknown_topic"));
}

#[test]
fn bad_data_keeps_the_order_with_exceptions() {
    let mut p = order_params();
    let set = |p: &mut Vec<(&'static str, String)>, k: &str, v: &str| {
        p.iter_mut().find(|(key, _)| *key == k).unwrap().1 = v.into()
    };
    set(
        &mut p,
        "detail",
        r#"[{"app_food_code":"MT-GHOST","food_name":"?","quantity":0,"price":10,"box_num":0,"box_price":0}]"#,
    );
    set(&mut p, "recipient_address", "");
    set(&mut p, "incmp_code", "-1");
    let order = only_order(normalize(&cfg(), &skus(), &push_of("order", p), now()).unwrap());
    let mut codes: Vec<_> = order.exceptions.iter().map(|e| e.code).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(
        codes,
        vec![
            ExceptionCode::UnknownSku,
            ExceptionCode::ImpossibleQuantity,
            ExceptionCode::MoneyMismatch,
            ExceptionCode::MissingAddress,
            ExceptionCode::IncompleteData
        ]
    );
    assert!(matches!(
        order.fulfilment,
        Fulfilment::Delivery { address: None }
    ));
    assert!(order.history.iter().any(|e| matches!(
        e.kind,
        EventKind::Exception {
            code: ExceptionCode::IncompleteData
        }
    )));
}

type Case = (
    &'static str,
    Vec<(&'static str, String)>,
    &'static str,
    fn(&EventKind) -> bool,
);

#[test]
fn every_push_topic_becomes_the_right_event() {
    let at = || ("timestamp", "1764043500".to_string());
    let oid = || ("order_id", "27061900338318".to_string());
    let cases: Vec<Case> = vec![
        (
            "status",
            vec![oid(), at(), ("status", "4".into())],
            "accepted",
            |k| matches!(k, EventKind::Accepted),
        ),
        (
            "status",
            vec![oid(), at(), ("status", "8".into())],
            "completed",
            |k| matches!(k, EventKind::Completed),
        ),
        (
            "status",
            vec![oid(), at(), ("status", "9".into())],
            "cancelled",
            |k| matches!(k, EventKind::Cancelled { .. }),
        ),
        (
            "status",
            vec![oid(), at(), ("status", "2".into())],
            "status:2",
            |k| matches!(k, EventKind::ChannelStatus { .. }),
        ),
        (
            "cancel",
            vec![
                oid(),
                at(),
                ("reason_code", "1002".into()),
                ("reason", "用户取消".into()),
            ],
            "cancelled",
            |k| matches!(k, EventKind::Cancelled { reason: Some(r) } if r.contains("用户取消")),
        ),
        (
            "refund",
            vec![
                oid(),
                at(),
                ("notify_type", "apply".into()),
                ("refund_id", "r1".into()),
                ("reason", "不新鲜".into()),
            ],
            "refund:r1:apply",
            |k| matches!(k, EventKind::RefundRequested { .. }),
        ),
        (
            "refund",
            vec![
                oid(),
                at(),
                ("notify_type", "agree".into()),
                ("refund_id", "r1".into()),
                ("money", "39.9".into()),
            ],
            "refund:r1:agree",
            |k| matches!(k, EventKind::Refunded { full: true, .. }),
        ),
        (
            "partrefund",
            vec![
                oid(),
                at(),
                ("notify_type", "agree".into()),
                ("refund_id", "r2".into()),
                ("money", "12.5".into()),
            ],
            "refund:r2:agree",
            |k| matches!(k, EventKind::Refunded { full: false, amount, .. } if *amount == dec!(12.5)),
        ),
        (
            "partrefund",
            vec![
                oid(),
                at(),
                ("notify_type", "agree".into()),
                ("refund_id", "r3".into()),
                ("money", "11".into()),
                (
                    "food",
                    r#"[{"app_food_code":"A1","count":2},{"sku_id":"B2","count":"1"}]"#.into(),
                ),
            ],
            "refund:r3:agree",
            |k| {
                matches!(k, EventKind::Refunded { full: false, lines, .. }
                if lines.iter().map(|l| (l.channel_sku.as_str(), l.quantity)).eq([("A1", 2), ("B2", 1)]))
            },
        ),
    ];
    for (topic, params, key, check) in cases {
        let events = normalize(&cfg(), &skus(), &push_of(topic, params), now()).unwrap();
        let [ChannelEvent::Event {
            order_id, event, ..
        }] = events.as_slice()
        else {
            panic!("{topic}: {events:?}")
        };
        assert_eq!(order_id.as_str(), "meituan-27061900338318");
        assert_eq!(event.key, key, "{topic}");
        assert!(check(&event.kind), "{topic}: {:?}", event.kind);
        assert_eq!(
            event.at,
            DateTime::<Utc>::from_timestamp(1_764_043_500, 0).unwrap()
        );
    }
}

/// The whole ingest → normalize path as the shells run it, over the serialized push.
fn run_pipeline(ingest: &MemoryStore, orders: &MemoryStore, url: &str, body: &[u8]) -> Ack {
    let c = cfg();
    let req = request(url, body, FORM);
    let push = match verify(&c, SECRET, &req) {
        Ok(p) => p,
        Err(e) => return acknowledgement(&c, &Outcome::Refused(e)),
    };
    let gate = IngestGate::new(ingest, &c);
    let claim = match gate.admit(&push, now()) {
        Ok(Admission::Proceed(claim)) => claim,
        Ok(Admission::AlreadyDone) => return acknowledgement(&c, &Outcome::Duplicate),
        Err(e) => return acknowledgement(&c, &Outcome::Refused(e)),
    };
    let wire = push.to_json();
    let events = normalize_json(&c, &skus(), &wire, now()).unwrap();
    let applied = book::apply(orders, &events).unwrap();
    gate.complete(claim).unwrap();
    acknowledgement(
        &c,
        &Outcome::Accepted {
            orders: applied.orders,
        },
    )
}

#[test]
fn end_to_end_redelivery_and_out_of_order_status() {
    let (ingest, orders) = (MemoryStore::new(), MemoryStore::new());
    let id = OrderId("meituan-27061900338318".into());
    // Completed (8) and accepted (4) arrive before the order itself.
    for status in ["8", "4"] {
        let (url, body) = signed(
            "status",
            vec![
                ("order_id", "27061900338318".into()),
                ("status", status.into()),
                ("timestamp", "1764043400".into()),
            ],
        );
        assert_eq!(
            run_pipeline(&ingest, &orders, &url, &body).body,
            br#"{"data":"ok"}"#
        );
    }
    assert!(
        book::get_order(&orders, &id).unwrap().is_none(),
        "no order yet, events kept"
    );
    let (url, body) = signed("order", order_params());
    for _ in 0..3 {
        let ack = run_pipeline(&ingest, &orders, &url, &body);
        assert_eq!(
            (ack.status, ack.body.as_slice()),
            (200, &br#"{"data":"ok"}"#[..])
        );
    }
    let order = book::get_order(&orders, &id).unwrap().unwrap();
    let keys: Vec<_> = order.history.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, vec!["created", "paid", "accepted", "completed"]);
    assert_eq!(order.status(), OrderStatus::Completed);
    assert_eq!(book::list_order_ids(&orders, 0, 10).unwrap(), vec![id]);
    // A wrong signature stores nothing at all.
    let before = (ingest.len(), orders.len());
    let ack = run_pipeline(&ingest, &orders, &url, &[body.as_slice(), b"&x=1"].concat());
    assert_eq!(ack.status, 401);
    assert_eq!((ingest.len(), orders.len()), before);
}

proptest! {
    #[test]
    fn money_invariants_hold_after_normalize(
        lines in proptest::collection::vec((1u32..20, 1i64..100_000, 0i64..3, 0i64..300), 1..6),
        fee in 0i64..2_000,
        mt in 0i64..500,
        poi in 0i64..500,
    ) {
        let detail: Vec<serde_json::Value> = lines.iter().map(|(q, price, boxes, box_price)| serde_json::json!({
            "app_food_code": "MT-APPLE", "food_name": "x", "quantity": q,
            "price": crate::money::from_fen(*price).to_string(),
            "box_num": boxes, "box_price": crate::money::from_fen(*box_price).to_string(),
        })).collect();
        let goods: i64 = lines.iter().map(|(q, p, _, _)| i64::from(*q) * p).sum();
        let packaging: i64 = lines.iter().map(|(_, _, b, bp)| b * bp).sum();
        let paid = goods + packaging + fee - mt - poi;
        let mut p = order_params();
        let set = |p: &mut Vec<(&'static str, String)>, k: &str, v: String| p.iter_mut().find(|(key, _)| *key == k).unwrap().1 = v;
        set(&mut p, "detail", serde_json::to_string(&detail).unwrap());
        set(&mut p, "extras", serde_json::json!([{"reduce_fee": crate::money::from_fen(mt + poi).to_string(), "mt_charge": crate::money::from_fen(mt).to_string(), "poi_charge": crate::money::from_fen(poi).to_string()}]).to_string());
        set(&mut p, "shipping_fee", crate::money::from_fen(fee).to_string());
        set(&mut p, "total", crate::money::from_fen(paid).to_string());
        set(&mut p, "original_price", crate::money::from_fen(goods + packaging + fee).to_string());
        let order = only_order(normalize(&cfg(), &skus(), &push_of("order", p), now()).unwrap());
        let m = &order.money;
        prop_assert_eq!(m.goods, crate::money::from_fen(goods));
        prop_assert_eq!(m.goods, order.lines.iter().map(|l| l.amount()).sum());
        prop_assert_eq!(m.packaging_fee, crate::money::from_fen(packaging));
        prop_assert_eq!(m.discount_total(), crate::money::from_fen(mt + poi));
        prop_assert_eq!(m.expected_paid(), m.paid);
        prop_assert!(order.exceptions.iter().all(|e| e.code != ExceptionCode::MoneyMismatch), "{:?}", order.exceptions);
        // And a paid figure off by one fen is always caught.
        let mut q = order_params();
        set(&mut q, "detail", serde_json::to_string(&detail).unwrap());
        set(&mut q, "total", crate::money::from_fen(paid + 1).to_string());
        let off = only_order(normalize(&cfg(), &skus(), &push_of("order", q), now()).unwrap());
        prop_assert!(off.exceptions.iter().any(|e| e.code == ExceptionCode::MoneyMismatch));
    }
}

#[test]
fn absurd_amounts_are_refused_not_overflowed() {
    let mut p = order_params();
    p.iter_mut().find(|(k, _)| *k == "total").unwrap().1 = "1e20".into();
    let (url, body) = signed("order", p);
    let e = verify(&cfg(), SECRET, &request(&url, &body, FORM)).unwrap_err();
    assert_eq!((e.http_status(), e.code()), (400, "invalid_field"));
    let mut p = order_params();
    p.iter_mut().find(|(k, _)| *k == "detail").unwrap().1 =
        r#"[{"app_food_code":"MT-APPLE","quantity":4294967295,"price":999999999999,"box_num":1e27,"box_price":999999999999}]"#.into();
    let (url, body) = signed("order", p);
    assert_eq!(
        verify(&cfg(), SECRET, &request(&url, &body, FORM))
            .unwrap_err()
            .code(),
        "invalid_field"
    );
    // Each factor in range, the product not: box_num × box_price must not reach the
    // order's sums (it used to overflow `expected_paid` and trap the component).
    let mut p = order_params();
    p.iter_mut().find(|(k, _)| *k == "detail").unwrap().1 =
        r#"[{"app_food_code":"MT-APPLE","quantity":1,"price":1,"box_num":79228162514264337593543950335,"box_price":1}]"#.into();
    let (url, body) = signed("order", p);
    let e = verify(&cfg(), SECRET, &request(&url, &body, FORM)).unwrap_err();
    assert_eq!((e.http_status(), e.code()), (400, "invalid_field"));
    let mut p = order_params();
    p.iter_mut().find(|(k, _)| *k == "detail").unwrap().1 =
        r#"[{"app_food_code":"MT-APPLE","quantity":1,"price":1,"box_num":100000000,"box_price":100000}]"#.into();
    let (url, body) = signed("order", p);
    let e = verify(&cfg(), SECRET, &request(&url, &body, FORM)).unwrap_err();
    assert_eq!((e.http_status(), e.code()), (400, "invalid_field"));
}

proptest! {
    /// The webhook keeps orders unmapped and the drain maps them with the map of the
    /// moment: the same order as mapping at once, whatever the map holds.
    #[test]
    fn mapping_skus_in_the_drain_gives_the_order_mapping_at_once_gives(
        map in crate::channel::normalize::deferred_mapping::maps(&["MT-APPLE", "MT-MILK"])
    ) {
        let push = push_of("order", order_params());
        crate::channel::normalize::deferred_mapping::assert_same(&cfg(), &push, &map, now());
    }
}
