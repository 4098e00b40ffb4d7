//! Issue 2's vertical slice through real wasm: a signed Meituan push → signature checked
//! → normalized order stored → `GET /orders/{id}`; redelivery creates nothing new.

use orderhub_e2e::meituan::{order_push_params, signed_form};
use orderhub_e2e::*;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const PATH: &str = "/webhooks/meituan/order";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn seed_skus(app: &App) {
    let skus = json!({
        "MT-APPLE-1KG": {"sku": "SKU-APPLE-1KG", "zone": "ambient", "unit_weight_g": 1000, "unit_volume_cm3": 3000},
        "MT-MILK-950": {"sku": "SKU-MILK-950", "zone": "chilled", "unit_weight_g": 1000, "unit_volume_cm3": 1100}
    });
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let r = app.request(
        "PUT",
        "/admin/channels/meituan/skus",
        &[
            ("authorization", &bearer),
            ("content-type", "application/json"),
        ],
        skus.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn signed_meituan_push_becomes_a_retrievable_order_once() {
    let app = App::start();
    seed_skus(&app);
    app.stock_up(&["SKU-APPLE-1KG", "SKU-MILK-950"], 1_000);
    let order_id = format!("2706{}", now());
    let body = signed_form(&app.base, PATH, order_push_params(&order_id, now()));

    let r = app.post(PATH, &[FORM], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, r#"{"data":"ok"}"#);

    let r = app.get(&format!("/orders/meituan-{order_id}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let order = r.json();
    assert_eq!(order["channel"], "meituan");
    assert_eq!(order["channel_order_id"], order_id.as_str());
    assert_eq!(order["lines"].as_array().unwrap().len(), 2);
    assert_eq!(order["lines"][1]["sku"], "SKU-MILK-950");
    assert_eq!(order["lines"][1]["zone"], "chilled");
    assert_eq!(order["money"]["paid"], "42.50");
    assert_eq!(
        order["exceptions"].as_array().unwrap().len(),
        0,
        "{}",
        r.body
    );
    assert_eq!(
        order["fulfilment"]["address"]["location"]["lat"]
            .as_f64()
            .map(|v| v.round()),
        Some(31.0)
    );
    let history_len = order["history"].as_array().unwrap().len();
    assert!(history_len >= 1);

    // The platform retries: same push again (even re-signed later) → no second order.
    for _ in 0..3 {
        let again = signed_form(&app.base, PATH, order_push_params(&order_id, now()));
        let r = app.post(PATH, &[FORM], again.as_bytes());
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body, r#"{"data":"ok"}"#);
    }
    let r = app.get(&format!("/orders/meituan-{order_id}"));
    assert_eq!(r.json()["history"].as_array().unwrap().len(), history_len);
    let listed = app.get("/orders?limit=1000").json();
    let matching = listed["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|id| id.as_str() == Some(&format!("meituan-{order_id}")))
        .count();
    assert_eq!(matching, 1);
}

#[test]
fn a_wrong_signature_is_401_and_stores_nothing() {
    let app = App::start();
    let order_id = format!("2707{}", now());
    let body = signed_form(&app.base, PATH, order_push_params(&order_id, now()))
        .replace("total=42.50", "total=1.00");
    let r = app.post(PATH, &[FORM], body.as_bytes());
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("bad_signature"), "{}", r.body);
    assert_eq!(app.get(&format!("/orders/meituan-{order_id}")).status, 404);
}

#[test]
fn unknown_skus_keep_the_order_and_flag_it() {
    let app = App::spawn_host(&[]);
    // No SKU map stored: both lines are unknown, the order is still kept.
    let order_id = format!("2708{}", now());
    let body = signed_form(&app.base, PATH, order_push_params(&order_id, now()));
    let r = app.post(PATH, &[FORM], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    let order = app.get(&format!("/orders/meituan-{order_id}")).json();
    let codes: Vec<&str> = order["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["code"].as_str())
        .collect();
    assert!(codes.contains(&"unknown_sku"), "{codes:?}");
    let stats = app.get("/dashboard/api/stats").json();
    let mt = stats["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel"] == "meituan")
        .cloned()
        .unwrap();
    assert_eq!(mt["ordered"], 1);
    assert_eq!(mt["exceptions"], 1);
}
