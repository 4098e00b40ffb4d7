//! Adapter throughput in the core: payloads per second per channel, natively, for
//! `verify` (signature included) + `normalize`, and for the whole core path of a new
//! push (verify + gates + normalize of the serialized push + order book apply) on a
//! `MemoryStore`. Prints the median of 7 samples.
//!
//!     cargo bench -p orderhub-core --bench channels

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use orderhub_core::channel::{
    normalize, normalize_json, verify, Admission, ChannelConfig, InboundRequest, IngestGate,
    SkuEntry, SkuMap,
};
use orderhub_core::order::{book, SkuId, TemperatureZone};
use orderhub_core::store::MemoryStore;
use serde_json::json;
use sha2::Sha256;

const SECRET: &str = "bench-secret";

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_764_043_200, 0).unwrap_or_default()
}

struct Case {
    name: &'static str,
    cfg: ChannelConfig,
    path: String,
    url: String,
    content_type: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Orders per payload (batches carry many).
    orders: usize,
}

fn hmac_headers(
    body: &[u8],
    ts_header: &str,
    sig_header: &str,
    prefix: &str,
) -> Vec<(String, String)> {
    let ts = now().timestamp().to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let sig = format!("{prefix}{}", hex::encode(mac.finalize().into_bytes()));
    vec![(ts_header.into(), ts), (sig_header.into(), sig)]
}

fn lines_json(n: usize) -> serde_json::Value {
    (0..n).map(|i| json!({"sku": format!("SKU-{}", i % 4), "name": "鲜果", "quantity": 1 + i % 3, "unit_price": "12.50"})).collect()
}

fn meituan() -> Case {
    let url = "https://hub.example.com/webhooks/meituan/order".to_string();
    let detail: Vec<_> = (0..4)
        .map(|i| json!({"app_food_code": format!("SKU-{i}"), "food_name": "苹果", "quantity": 2, "price": 12.5, "box_num": 1, "box_price": 1.0}))
        .collect();
    let mut params = vec![
        ("app_id", "6543".to_string()),
        ("timestamp", "1764043200".into()),
        ("order_id", "27061900338318".into()),
        ("app_poi_code", "store-001".into()),
        ("recipient_name", "张三".into()),
        (
            "recipient_address",
            "上海市浦东新区世纪大道 100 号 5 楼@#上海市浦东新区".into(),
        ),
        ("recipient_phone", "138xxxx1234_123456".into()),
        ("latitude", "31235432".into()),
        ("longitude", "121506377".into()),
        ("shipping_fee", "5.0".into()),
        ("total", "96.0".into()),
        ("ctime", "1764043200".into()),
        ("delivery_time", "0".into()),
        ("detail", serde_json::to_string(&detail).unwrap()),
        (
            "extras",
            r#"[{"reduce_fee":13.0,"mt_charge":5.0,"poi_charge":8.0,"remark":"满减"}]"#.into(),
        ),
    ];
    params.sort();
    let joined: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let sig = hex::encode(Md5::digest(
        format!("{url}?{}{SECRET}", joined.join("&")).as_bytes(),
    ));
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        form.append_pair(k, v);
    }
    form.append_pair("sig", &sig);
    Case {
        name: "meituan",
        cfg: ChannelConfig::builtin("meituan").unwrap(),
        path: "/webhooks/meituan/order".into(),
        url,
        content_type: "application/x-www-form-urlencoded",
        headers: vec![],
        body: form.finish().into_bytes(),
        orders: 1,
    }
}

fn eleme() -> Case {
    let message = json!({
        "id": "3000123456789012345", "address": "浙江省杭州市西湖区文三路 90 号", "createdAt": "2025-11-25T12:00:00",
        "deliverFee": 4.0, "groups": [{"items": (0..4).map(|i| json!({"extendCode": format!("SKU-{i}"), "name": "香蕉", "price": 9.9, "quantity": 2})).collect::<Vec<_>>()}],
        "phoneList": ["13800000000,1234"], "userId": 98765, "deliveryGeo": "120.130095,30.27699",
        "totalPrice": 77.2, "packageFee": 1.0, "orderActivities": [{"name": "满减", "amount": -7.0, "elemePart": -2.0, "restaurantPart": -5.0}]
    });
    let mut env = serde_json::Map::new();
    env.insert("requestId".into(), json!("r-1"));
    env.insert("type".into(), json!(10));
    env.insert("appId".into(), json!(12345678));
    env.insert("message".into(), json!(message.to_string()));
    env.insert("shopId".into(), json!(170000123));
    env.insert("timestamp".into(), json!(1764043200000i64));
    env.insert("userId".into(), json!(336699));
    let text: String = env
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            )
        })
        .collect::<String>()
        + SECRET;
    env.insert(
        "signature".into(),
        json!(hex::encode_upper(Md5::digest(text.as_bytes()))),
    );
    Case {
        name: "eleme",
        cfg: ChannelConfig::builtin("eleme").unwrap(),
        path: "/webhooks/eleme".into(),
        url: "https://hub.example.com/webhooks/eleme".into(),
        content_type: "application/json",
        headers: vec![],
        body: serde_json::to_vec(&env).unwrap(),
        orders: 1,
    }
}

fn own(name: &'static str, cfg: ChannelConfig, body: serde_json::Value, orders: usize) -> Case {
    let body = serde_json::to_vec(&body).unwrap();
    Case {
        name,
        headers: hmac_headers(&body, "x-orderhub-timestamp", "x-orderhub-signature", "v1="),
        cfg,
        path: format!("/webhooks/{name}"),
        url: format!("https://hub.example.com/webhooks/{name}"),
        content_type: "application/json",
        body,
        orders,
    }
}

fn app_body() -> serde_json::Value {
    json!({"event": "order.created", "event_id": "e1", "order": {
        "id": "A1001", "customer": {"user_id": "u-42", "unionid": "x", "phone": "13800000000"},
        "fulfilment": {"type": "delivery", "address": {"province": "上海市", "city": "上海市", "district": "徐汇区", "detail": "漕溪北路 1 号", "lat": 31.19, "lng": 121.43, "datum": "wgs84"}},
        "lines": lines_json(4), "money": {"delivery_fee": "5", "paid": "80"}, "placed_at": "2025-11-25T12:00:00+08:00", "paid_at": "2025-11-25T12:00:05+08:00"}})
}

fn cases() -> Vec<Case> {
    let sales: Vec<_> = (0..50)
        .map(|i| json!({"receipt_no": format!("R{i:06}"), "sold_at": "2025-11-25T18:03:11+08:00", "lines": lines_json(3), "paid": "50.00", "fulfilment": {"type": "take_away"}}))
        .collect();
    let members: Vec<_> = (0..50)
        .map(|i| json!({"member_order_id": format!("M{i}"), "member": {"id": format!("U{i}"), "phone": "13700003333"}, "placed_at": "2025-11-25T21:14:00+08:00", "lines": lines_json(2), "paid": "25.00"}))
        .collect();
    let doc = include_str!("../../docs/channels.md");
    let block = |name: &str| {
        let open = format!("```json {name}\n");
        let start = doc.find(&open).unwrap() + open.len();
        &doc[start..start + doc[start..].find("\n```").unwrap()]
    };
    let dd_cfg = ChannelConfig::from_json(block("dingdong-config")).unwrap();
    let dd_body = block("dingdong-order").as_bytes().to_vec();
    vec![
        meituan(),
        eleme(),
        own("app", ChannelConfig::builtin("app").unwrap(), app_body(), 1),
        own(
            "miniprogram",
            ChannelConfig::builtin("miniprogram").unwrap(),
            app_body(),
            1,
        ),
        own(
            "pos",
            ChannelConfig::builtin("pos").unwrap(),
            json!({"batch_id": "b", "store_id": "S001", "sales": sales}),
            50,
        ),
        own(
            "groupbuy",
            ChannelConfig::builtin("groupbuy").unwrap(),
            json!({"batch_id": "g", "leader": {"id": "L"}, "pickup_point": {"id": "P", "address": {"detail": "幸福路 88 弄", "district": "闵行区"}}, "orders": members}),
            50,
        ),
        Case {
            name: "configured",
            headers: hmac_headers(&dd_body, "x-dd-timestamp", "x-dd-signature", "sha256="),
            cfg: dd_cfg,
            path: "/webhooks/dingdong".into(),
            url: "https://hub.example.com/webhooks/dingdong".into(),
            content_type: "application/json",
            body: dd_body,
            orders: 1,
        },
    ]
}

fn request(c: &Case) -> InboundRequest<'_> {
    InboundRequest {
        method: "POST",
        full_url: &c.url,
        path: &c.path,
        query: "",
        headers: &c.headers,
        content_type: Some(c.content_type),
        body: &c.body,
        received_at: now(),
    }
}

/// Median per-second rate of `f` over 7 samples of about 200 ms each.
fn median_rate(mut f: impl FnMut()) -> f64 {
    let mut rates: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < Duration::from_millis(200) {
                f();
                n += 1;
            }
            n as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(|a, b| a.total_cmp(b));
    rates[rates.len() / 2]
}

fn main() {
    let skus = (0..4).fold(SkuMap::new(), |m, i| {
        m.with(
            &format!("SKU-{i}"),
            SkuEntry {
                sku: SkuId(format!("OUR-{i}")),
                zone: TemperatureZone::Chilled,
                unit_weight_g: 500,
                unit_volume_cm3: 0,
            },
        )
    });
    println!(
        "{:<12} {:>8} {:>18} {:>18} {:>16}",
        "channel", "bytes", "verify+normalize/s", "full core path/s", "orders/s (full)"
    );
    for c in cases() {
        let mut cfg = c.cfg.clone();
        // Benchmarks measure the work, not the limiter or the replay refusal.
        cfg.rate_limit.limit = u32::MAX;
        cfg.replay_window_seconds = None;
        let push = verify(&cfg, SECRET, &request(&c)).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert!(normalize(&cfg, &skus, &push, now()).is_ok());
        let fast = median_rate(|| {
            let p = verify(&cfg, SECRET, &request(&c)).unwrap();
            std::hint::black_box(normalize(&cfg, &skus, &p, now()).unwrap());
        });
        // A fresh store per payload so every push is new (no duplicate shortcut).
        let full = median_rate(|| {
            let (ingest, orders) = (MemoryStore::new(), MemoryStore::new());
            let p = verify(&cfg, SECRET, &request(&c)).unwrap();
            let gate = IngestGate::new(&ingest, &cfg);
            let Ok(Admission::Proceed(claim)) = gate.admit(&p, now()) else {
                panic!("not admitted")
            };
            let events = normalize_json(&cfg, &skus, &p.to_json(), now()).unwrap();
            book::apply(&orders, &events).unwrap();
            gate.complete(claim).unwrap();
        });
        println!(
            "{:<12} {:>8} {:>18.0} {:>18.0} {:>16.0}",
            c.name,
            c.body.len(),
            fast,
            full,
            full * c.orders as f64
        );
    }
}
