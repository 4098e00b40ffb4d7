//! Issue 3 end-to-end through the host: every channel's webhook produces a retrievable
//! normalized order; a duplicate storm yields exactly one order; a status push that
//! overtakes its order still leaves the order cancelled.
//!
//! Every signature is computed here from the platform's spelled-out rule, never with
//! the core's code, so a core bug cannot sign its own way through.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use orderhub_e2e::meituan::{order_push_params, signed_form, APP_ID};
use orderhub_e2e::*;
use sha2::Sha256;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const JSON: (&str, &str) = ("content-type", "application/json");
const MEITUAN_ORDER: &str = "/webhooks/meituan/order";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A per-run suffix so the suite can also run, again and again, against one
/// long-running `ORDERHUB_URL`.
fn unique() -> String {
    orderhub_e2e::unique::id()
}

fn secret(channel: &str) -> String {
    format!("dev-{channel}-secret")
}

/// Own channels: `x-orderhub-signature: v1=hex(hmac_sha256(secret, ts + "." + body))`.
fn own_post(app: &App, channel: &str, path: &str, body: &Value) -> Reply {
    let bytes = serde_json::to_vec(body).unwrap();
    let ts = now().to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret(channel).as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(&bytes);
    let sig = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    app.post(
        path,
        &[
            JSON,
            ("x-orderhub-timestamp", &ts),
            ("x-orderhub-signature", &sig),
        ],
        &bytes,
    )
}

/// The own-channel acknowledgement: `{"status":"ok","result":…,"orders":[…]}`.
fn own_ack_orders(r: &Reply) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["status"], "ok", "{}", r.body);
    assert_eq!(v["result"], "accepted", "{}", r.body);
    v["orders"]
        .as_array()
        .unwrap_or_else(|| panic!("no orders in {}", r.body))
        .iter()
        .map(|o| o.as_str().unwrap().to_string())
        .collect()
}

/// `OrderId::for_channel_order`, spelled out: `{channel}-{escaped id}` where every byte
/// but ASCII alphanumerics, `_` and `.` becomes `%XX`.
fn orderhub_id(channel: &str, channel_order_id: &str) -> String {
    let mut out = format!("{channel}-");
    for b in channel_order_id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn get_order(app: &App, id: &str) -> Value {
    let r = app.get(&format!("/orders/{id}"));
    assert_eq!(r.status, 200, "GET /orders/{id}: {}", r.body);
    r.json()
}

/// No test maps these channel SKU codes (tests that need mapped SKUs map codes of their
/// own), so `unknown_sku` is expected; anything else (money that does not add up, a bad
/// address) means the fixture or the normalization is wrong.
fn assert_only_unknown_skus(order: &Value) {
    for e in order["exceptions"].as_array().unwrap() {
        assert_eq!(e["code"], "unknown_sku", "{}", order["exceptions"]);
    }
}

/// How often `GET /orders` lists `id`, over every page.
fn listed_times(app: &App, id: &str) -> usize {
    orderhub_e2e::unique::all_order_ids(app)
        .iter()
        .filter(|o| o.as_str() == id)
        .count()
}

fn history_keys(order: &Value) -> Vec<String> {
    order["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_string())
        .collect()
}

/// Money is a decimal string; its scale may follow the source (`23.8` vs `23.80`).
fn assert_yuan(v: &Value, expected: &str) {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("money {v} is not a decimal string"));
    assert_eq!(canonical(text), canonical(expected), "{text} ≠ {expected}");
}

fn canonical(yuan: &str) -> String {
    if yuan.contains('.') {
        yuan.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        yuan.to_string()
    }
}

fn assert_line(order: &Value, i: usize, channel_sku: &str, quantity: u64, unit_price: &str) {
    let line = &order["lines"][i];
    assert_eq!(line["channel_sku"], channel_sku, "{line}");
    assert_eq!(line["quantity"], quantity, "{line}");
    assert_yuan(&line["unit_price"], unit_price);
}

// ---------------------------------------------------------------- Meituan

fn meituan_post(app: &App, path: &str, params: Vec<(&'static str, String)>) -> Reply {
    let body = signed_form(&app.base, path, params);
    app.post(path, &[FORM], body.as_bytes())
}

#[test]
fn meituan_order_push_is_a_delivery_order() {
    let app = App::start();
    let oid = format!("27{}", unique());
    let r = meituan_post(&app, MEITUAN_ORDER, order_push_params(&oid, now()));
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"data":"ok"}"#));

    let id = orderhub_id("meituan", &oid);
    let order = get_order(&app, &id);
    assert_eq!(order["id"], id.as_str());
    assert_eq!(order["channel"], "meituan");
    assert_eq!(order["channel_order_id"], oid.as_str());
    assert_eq!(order["fulfilment"]["kind"], "delivery");
    assert_eq!(order["lines"].as_array().unwrap().len(), 2);
    assert_line(&order, 0, "MT-APPLE-1KG", 2, "12.8");
    assert_line(&order, 1, "MT-MILK-950", 1, "15.9");
    assert_only_unknown_skus(&order);
    assert_yuan(&order["money"]["paid"], "42.50");
    assert_eq!(listed_times(&app, &id), 1);
}

// ---------------------------------------------------------------- Ele.me

/// Ele.me's envelope signed by its rule: MD5, UPPERCASE hex, of the seven other
/// fields sorted by key as `key=value` (raw values) concatenated, then the secret.
fn eleme_body(push_type: i64, message: &Value, request_id: &str) -> Vec<u8> {
    let mut env = serde_json::Map::new();
    env.insert("requestId".into(), json!(request_id));
    env.insert("type".into(), json!(push_type));
    env.insert("appId".into(), json!(12345678));
    env.insert("message".into(), json!(message.to_string()));
    env.insert("shopId".into(), json!(170000123));
    env.insert("timestamp".into(), json!(now() * 1000));
    env.insert("userId".into(), json!(336699));
    let mut keys: Vec<&String> = env.keys().collect();
    keys.sort();
    let mut text = String::new();
    for k in keys {
        let raw = match &env[k] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        text.push_str(&format!("{k}={raw}"));
    }
    text.push_str(&secret("eleme"));
    let sig = hex::encode_upper(Md5::digest(text.as_bytes()));
    env.insert("signature".into(), json!(sig));
    serde_json::to_vec(&env).unwrap()
}

#[test]
fn eleme_order_push_is_a_delivery_order() {
    let app = App::start();
    let oid = format!("3000{}", unique());
    let message = json!({
        "id": oid, "orderId": oid,
        "address": "浙江省杭州市西湖区文三路 90 号 东部软件园 3 号楼",
        "createdAt": "2025-11-25T12:00:00", "activeAt": "2025-11-25T12:00:05",
        "deliverFee": 4.0, "deliverTime": null, "description": "不要香菜",
        "groups": [{"name": "1号篮子", "type": "normal", "items": [
            {"id": 1001, "skuId": 200001, "name": "香蕉 1kg", "price": 9.9, "quantity": 2, "total": 19.8, "extendCode": "EL-BANANA"},
            {"id": 1002, "skuId": 200002, "name": "酸奶", "price": 5.0, "quantity": 1, "total": 5.0, "extendCode": "EL-YOGURT"}
        ]}],
        "phoneList": ["13800000000,1234"], "shopId": 170000123, "userId": 98765, "consignee": "李四",
        "deliveryGeo": "120.130095,30.27699", "totalPrice": 23.8, "originalPrice": 29.8,
        "packageFee": 1.0, "onlinePaid": true, "status": "unprocessed",
        "orderActivities": [{"name": "满20减6", "amount": -6.0, "elemePart": -2.0, "restaurantPart": -4.0}]
    });
    let body = eleme_body(10, &message, &format!("req_{oid}_1"));
    let r = app.post("/webhooks/eleme/order", &[JSON], &body);
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"message":"ok"}"#));

    let id = orderhub_id("eleme", &oid);
    let order = get_order(&app, &id);
    assert_eq!(order["channel"], "eleme");
    assert_eq!(order["channel_order_id"], oid.as_str());
    assert_eq!(order["fulfilment"]["kind"], "delivery");
    assert_eq!(order["lines"].as_array().unwrap().len(), 2);
    assert_line(&order, 0, "EL-BANANA", 2, "9.9");
    assert_line(&order, 1, "EL-YOGURT", 1, "5");
    assert_only_unknown_skus(&order);
    assert_yuan(&order["money"]["paid"], "23.8");
    assert_eq!(listed_times(&app, &id), 1);

    // Ele.me redelivers the same envelope (same requestId): acknowledged, nothing new.
    let history_len = history_keys(&order).len();
    let r = app.post("/webhooks/eleme/order", &[JSON], &body);
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"message":"ok"}"#));
    assert_eq!(history_keys(&get_order(&app, &id)).len(), history_len);
    assert_eq!(listed_times(&app, &id), 1);
}

// ---------------------------------------------------------------- own app / mini-program

fn own_order_created(order_no: &str, event_id: &str) -> Value {
    json!({
        "event": "order.created",
        "event_id": event_id,
        "occurred_at": "2025-11-25T12:00:10+08:00",
        "order": {
            "id": order_no, "store_id": "S001",
            "customer": {"user_id": "u-42", "openid": "oAbc", "unionid": "uAbc", "name": "王五", "phone": "13800000000"},
            "fulfilment": {"type": "delivery", "address": {"province": "上海市", "city": "上海市", "district": "徐汇区",
                           "detail": "漕溪北路 1 号", "lat": 31.19, "lng": 121.43, "datum": "wgs84"}},
            "lines": [{"sku": "APP-APPLE", "name": "苹果", "quantity": 2, "unit_price": "12.50"},
                      {"sku": "APP-MILK", "name": "鲜牛奶", "quantity": 1, "unit_price": "9.90"}],
            "money": {"delivery_fee": "5.00", "packaging_fee": "1.00",
                      "discounts": [{"funder": "merchant", "label": "新人券", "amount": "3.00"}], "paid": "37.90"},
            "note": "放门口",
            "placed_at": "2025-11-25T12:00:00+08:00",
            "paid_at": "2025-11-25T12:00:05+08:00"
        }
    })
}

fn own_order_flow(channel: &str) {
    let app = App::start();
    let order_no = format!("A{}", unique());
    let path = format!("/webhooks/{channel}/orders");
    let r = own_post(
        &app,
        channel,
        &path,
        &own_order_created(&order_no, &format!("evt_{order_no}")),
    );
    let id = orderhub_id(channel, &order_no);
    assert_eq!(own_ack_orders(&r), vec![id.clone()]);

    let order = get_order(&app, &id);
    assert_eq!(order["channel"], channel);
    assert_eq!(order["channel_order_id"], order_no.as_str());
    assert_eq!(order["fulfilment"]["kind"], "delivery");
    assert_eq!(order["lines"].as_array().unwrap().len(), 2);
    assert_line(&order, 0, "APP-APPLE", 2, "12.50");
    assert_line(&order, 1, "APP-MILK", 1, "9.90");
    assert_only_unknown_skus(&order);
    assert_yuan(&order["money"]["paid"], "37.90");
    assert!(channel_reported(&order, "paid"), "{order}");
    assert_eq!(listed_times(&app, &id), 1);
}

#[test]
fn app_order_event_is_a_delivery_order() {
    own_order_flow("app");
}

#[test]
fn miniprogram_order_event_is_a_delivery_order() {
    own_order_flow("miniprogram");
}

// ---------------------------------------------------------------- POS

fn pos_sale(receipt: &str, quantity: u64, paid: &str, fulfilment: Value) -> Value {
    json!({
        "receipt_no": receipt, "sold_at": "2025-11-25T18:03:11+08:00",
        "lines": [{"sku": "6901234567890", "name": "鸡蛋 10 枚", "quantity": quantity, "unit_price": "12.80"}],
        "paid": paid, "member": {"id": "M-77", "phone": "13900001111"},
        "fulfilment": fulfilment
    })
}

#[test]
fn pos_single_sale_and_shift_batch_are_in_store_orders() {
    let app = App::start();
    let u = unique();
    let store = format!("S{u}");

    // A single sale, uploaded as a batch of one.
    let single = json!({
        "batch_id": format!("{store}-single"), "store_id": store,
        "sales": [pos_sale("R1", 1, "12.80", json!({"type": "take_away"}))]
    });
    let r = own_post(&app, "pos", "/webhooks/pos/sales", &single);
    let single_id = orderhub_id("pos", &format!("{store}:R1"));
    assert_eq!(own_ack_orders(&r), vec![single_id.clone()]);
    let order = get_order(&app, &single_id);
    assert_eq!(order["channel"], "pos");
    assert_eq!(order["fulfilment"]["kind"], "in_store");
    assert_eq!(order["fulfilment"]["store_id"], store.as_str());
    assert_line(&order, 0, "6901234567890", 1, "12.80");
    assert_only_unknown_skus(&order);
    assert_yuan(&order["money"]["paid"], "12.80");
    assert_eq!(order["status"], "completed", "{order}");

    // A shift's batch: a take-away, a delivery (3 × 12.80 + 6.00 delivery = 44.40) and a
    // voided sale, each its own order.
    let mut delivery = pos_sale(
        "R3",
        3,
        "44.40",
        json!({"type": "delivery", "address": {"full": "上海市闵行区幸福路 88 弄 5 号 301"},
               "promised": {"end": "2025-11-25T19:00:00+08:00"}}),
    );
    delivery["delivery_fee"] = json!("6.00");
    let mut voided = pos_sale("R4", 1, "12.80", json!({"type": "take_away"}));
    voided["void"] = json!(true);
    let shift = json!({
        "batch_id": format!("{store}-shift-2"), "store_id": store,
        "sales": [pos_sale("R2", 2, "25.60", json!({"type": "take_away"})), delivery, voided]
    });
    let r = own_post(&app, "pos", "/webhooks/pos/sales", &shift);
    let ids: Vec<String> = ["R2", "R3", "R4"]
        .iter()
        .map(|r| orderhub_id("pos", &format!("{store}:{r}")))
        .collect();
    let mut acked = own_ack_orders(&r);
    acked.sort();
    assert_eq!(acked, ids);

    let take_away = get_order(&app, &ids[0]);
    assert_eq!(take_away["fulfilment"]["kind"], "in_store");
    assert_line(&take_away, 0, "6901234567890", 2, "12.80");
    assert_only_unknown_skus(&take_away);
    assert_yuan(&take_away["money"]["paid"], "25.60");
    let delivered = get_order(&app, &ids[1]);
    assert_eq!(delivered["fulfilment"]["kind"], "delivery");
    assert_only_unknown_skus(&delivered);
    assert_yuan(&delivered["money"]["paid"], "44.40");
    assert!(channel_reported(&delivered, "accepted"), "{delivered}");
    let voided = get_order(&app, &ids[2]);
    assert_eq!(voided["status"], "cancelled", "{voided}");

    // The till re-uploads an overlapping batch (R3 again, R5 new): R3 gains nothing.
    let r3_history = history_keys(&delivered).len();
    let overlap = json!({
        "batch_id": format!("{store}-shift-2-resend"), "store_id": store,
        "sales": [shift["sales"][1].clone(), pos_sale("R5", 1, "12.80", json!({"type": "take_away"}))]
    });
    let r = own_post(&app, "pos", "/webhooks/pos/sales", &overlap);
    let r5 = orderhub_id("pos", &format!("{store}:R5"));
    let mut acked = own_ack_orders(&r);
    acked.sort();
    assert_eq!(acked, vec![ids[1].clone(), r5.clone()]);
    assert_eq!(history_keys(&get_order(&app, &ids[1])).len(), r3_history);
    for id in std::iter::once(&single_id).chain(&ids).chain([&r5]) {
        assert_eq!(listed_times(&app, id), 1, "{id}");
    }
}

// ---------------------------------------------------------------- group-buying

#[test]
fn groupbuy_leader_batch_sends_each_member_order_to_the_pickup_point() {
    let app = App::start();
    let u = unique();
    let (m1, m2) = (format!("GB-M-{u}1"), format!("GB-M-{u}2"));
    let batch = json!({
        "batch_id": format!("GB-{u}-L88"), "store_id": "S001",
        "leader": {"id": "L88", "name": "王阿姨", "phone": "13900002222"},
        "pickup_point": {"id": "PP-12", "name": "幸福小区 3 号门",
                         "address": {"province": "上海市", "city": "上海市", "district": "闵行区",
                                     "detail": "幸福路 88 弄 3 号门", "lat": 31.11, "lng": 121.38}},
        "pickup_window": {"start": "2025-11-26T16:00:00+08:00", "end": "2025-11-26T20:00:00+08:00"},
        "orders": [
            {"member_order_id": m1, "member": {"id": "U-501", "name": "陈七", "phone": "13700003333"},
             "placed_at": "2025-11-25T21:14:00+08:00",
             "lines": [{"sku": "GB-EGG-30", "name": "土鸡蛋 30 枚", "quantity": 1, "unit_price": "29.90"}],
             "discounts": [{"funder": "platform", "label": "团购价补贴", "amount": "5.00"}], "paid": "24.90"},
            {"member_order_id": m2, "member": {"id": "U-502"}, "placed_at": "2025-11-25T21:20:00+08:00",
             "lines": [{"sku": "GB-EGG-30", "name": "土鸡蛋 30 枚", "quantity": 2, "unit_price": "29.90"},
                       {"sku": "GB-RICE-5", "name": "大米 5kg", "quantity": 1, "unit_price": "39.00"}],
             "paid": "98.80"}
        ]
    });
    let r = own_post(&app, "groupbuy", "/webhooks/groupbuy/batches", &batch);
    let ids = vec![orderhub_id("groupbuy", &m1), orderhub_id("groupbuy", &m2)];
    let mut acked = own_ack_orders(&r);
    acked.sort();
    assert_eq!(acked, ids);

    let first = get_order(&app, &ids[0]);
    assert_eq!(first["channel"], "groupbuy");
    assert_eq!(first["channel_order_id"], m1.as_str());
    assert_eq!(first["fulfilment"]["kind"], "pickup_point");
    assert_eq!(first["fulfilment"]["point_id"], "PP-12");
    assert_line(&first, 0, "GB-EGG-30", 1, "29.90");
    assert_only_unknown_skus(&first);
    assert_yuan(&first["money"]["paid"], "24.90");

    let second = get_order(&app, &ids[1]);
    assert_eq!(second["fulfilment"]["kind"], "pickup_point");
    assert_eq!(second["fulfilment"]["point_id"], "PP-12");
    assert_eq!(second["lines"].as_array().unwrap().len(), 2);
    assert_line(&second, 1, "GB-RICE-5", 1, "39.00");
    assert_only_unknown_skus(&second);
    assert_yuan(&second["money"]["paid"], "98.80");
    for id in &ids {
        assert_eq!(listed_times(&app, id), 1, "{id}");
    }
}

// ---------------------------------------------------------------- duplicates and order of arrival

#[test]
fn a_duplicate_storm_of_twenty_parallel_pushes_makes_one_order() {
    let app = App::start();
    let oid = format!("28{}", unique());
    let body = signed_form(&app.base, MEITUAN_ORDER, order_push_params(&oid, now()));
    let send = || app.post(MEITUAN_ORDER, &[FORM], body.as_bytes());

    let replies: Vec<Reply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20).map(|_| s.spawn(send)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Every copy is acknowledged: each answer comes after a durable copy (its own, or
    // the first one's), never a 409 asking the platform to come back.
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body, r#"{"data":"ok"}"#);
    }

    let id = orderhub_id("meituan", &oid);
    let order = get_order(&app, &id);
    let keys = history_keys(&order);
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(keys.len(), distinct.len(), "duplicate history: {keys:?}");
    assert!(!keys.is_empty());
    let history = app.get(&format!("/orders/{id}/history")).json();
    assert_eq!(history["events"].as_array().unwrap().len(), keys.len());
    assert_eq!(listed_times(&app, &id), 1);

    // One push alone gives the same history: the storm added nothing.
    let solo = format!("29{}", unique());
    let r = meituan_post(&app, MEITUAN_ORDER, order_push_params(&solo, now()));
    assert_eq!(r.status, 200, "{}", r.body);
    let solo_order = get_order(&app, &orderhub_id("meituan", &solo));
    assert_eq!(history_keys(&solo_order).len(), keys.len());
}

#[test]
fn a_meituan_cancel_before_its_order_leaves_it_cancelled() {
    let app = App::start();
    let oid = format!("30{}", unique());
    let t = now();
    let cancel = vec![
        ("app_id", APP_ID.to_string()),
        ("timestamp", (t + 60).to_string()),
        ("order_id", oid.clone()),
        ("reason_code", "1002".to_string()),
        ("reason", "用户取消".to_string()),
    ];
    let r = meituan_post(&app, "/webhooks/meituan/cancel", cancel);
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"data":"ok"}"#));
    let r = meituan_post(&app, MEITUAN_ORDER, order_push_params(&oid, t));
    assert_eq!((r.status, r.body.as_str()), (200, r#"{"data":"ok"}"#));

    let id = orderhub_id("meituan", &oid);
    let order = get_order(&app, &id);
    assert_eq!(order["status"], "cancelled", "{order}");
    assert_eq!(order["lines"].as_array().unwrap().len(), 2);
    assert_only_unknown_skus(&order);
    assert_yuan(&order["money"]["paid"], "42.50");
    assert_eq!(listed_times(&app, &id), 1);
}

#[test]
fn an_app_cancel_before_its_order_leaves_it_cancelled() {
    let app = App::start();
    let order_no = format!("A{}", unique());
    let cancel = json!({
        "event": "order.cancelled", "event_id": format!("evt_{order_no}_cancel"),
        "occurred_at": "2025-11-25T12:05:00+08:00",
        "order_id": order_no, "reason": "用户取消"
    });
    let id = orderhub_id("app", &order_no);
    let r = own_post(&app, "app", "/webhooks/app/orders", &cancel);
    assert_eq!(own_ack_orders(&r), vec![id.clone()]);
    let r = own_post(
        &app,
        "app",
        "/webhooks/app/orders",
        &own_order_created(&order_no, &format!("evt_{order_no}")),
    );
    assert_eq!(own_ack_orders(&r), vec![id.clone()]);

    let order = get_order(&app, &id);
    assert_eq!(order["status"], "cancelled", "{order}");
    assert_eq!(order["fulfilment"]["kind"], "delivery");
    assert_only_unknown_skus(&order);
    assert_yuan(&order["money"]["paid"], "37.90");
    assert_eq!(listed_times(&app, &id), 1);
}
