//! Issue 2's vertical slice through real wasm: a signed Meituan push → signature checked
//! → normalized order stored → `GET /orders/{id}`; redelivery creates nothing new.
//!
//! Every test names its own orders, SKU codes, SKUs and business day
//! (`orderhub_e2e::unique`), so the suite also runs, again and again, against one
//! long-running app.

use orderhub_e2e::meituan::{order_push_params, signed_form};
use orderhub_e2e::unique::{self, meituan_push};
use orderhub_e2e::*;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const PATH: &str = "/webhooks/meituan/order";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// This test's Meituan codes and our SKUs for the fixture's apple and milk lines.
struct Skus {
    apple_code: String,
    milk_code: String,
    apple: String,
    milk: String,
}

fn fresh_skus() -> Skus {
    Skus {
        apple_code: unique::named("MT-APPLE-1KG"),
        milk_code: unique::named("MT-MILK-950"),
        apple: unique::named("SKU-APPLE-1KG"),
        milk: unique::named("SKU-MILK-950"),
    }
}

/// Map the codes (one entry each: other tests' entries stay) and stock the SKUs.
fn seed_skus(app: &App, s: &Skus) {
    unique::map_skus(
        app,
        "meituan",
        &[
            (
                &s.apple_code,
                json!({"sku": s.apple, "zone": "ambient", "unit_weight_g": 1000, "unit_volume_cm3": 3000}),
            ),
            (
                &s.milk_code,
                json!({"sku": s.milk, "zone": "chilled", "unit_weight_g": 1000, "unit_volume_cm3": 1100}),
            ),
        ],
    );
    unique::stock_up(app, &[&s.apple, &s.milk], 1_000);
}

#[test]
fn signed_meituan_push_becomes_a_retrievable_order_once() {
    let app = App::start();
    let skus = fresh_skus();
    seed_skus(&app, &skus);
    let order_id = unique::id();
    let push = || meituan_push(&order_id, now(), &skus.apple_code, &skus.milk_code);
    let body = signed_form(&app.base, PATH, push());

    let r = app.post(PATH, &[FORM], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, r#"{"data":"ok"}"#);

    let r = app.get(&format!("/orders/meituan-{order_id}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let order = r.json();
    assert_eq!(order["channel"], "meituan");
    assert_eq!(order["channel_order_id"], order_id.as_str());
    assert_eq!(order["lines"].as_array().unwrap().len(), 2);
    assert_eq!(order["lines"][1]["sku"], skus.milk.as_str());
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
        let again = signed_form(&app.base, PATH, push());
        let r = app.post(PATH, &[FORM], again.as_bytes());
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body, r#"{"data":"ok"}"#);
    }
    let r = app.get(&format!("/orders/meituan-{order_id}"));
    assert_eq!(r.json()["history"].as_array().unwrap().len(), history_len);
    let matching = unique::all_order_ids(&app)
        .iter()
        .filter(|id| **id == format!("meituan-{order_id}"))
        .count();
    assert_eq!(matching, 1);
}

#[test]
fn a_wrong_signature_is_401_and_stores_nothing() {
    let app = App::start();
    let order_id = unique::id();
    let body = signed_form(&app.base, PATH, order_push_params(&order_id, now()))
        .replace("total=42.50", "total=1.00");
    let r = app.post(PATH, &[FORM], body.as_bytes());
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("bad_signature"), "{}", r.body);
    assert_eq!(app.get(&format!("/orders/meituan-{order_id}")).status, 404);
}

#[test]
fn unknown_skus_keep_the_order_and_flag_it() {
    let app = App::start();
    // Codes no SKU map holds: both lines are unknown, the order is still kept. It is
    // placed on a business day of its own, so that day's dashboard counts it alone.
    let order_id = unique::id();
    let (day, midnight) = unique::day();
    let placed = midnight + 10 * 3600;
    let mut params = meituan_push(
        &order_id,
        now(),
        &unique::named("MT-NOWHERE"),
        &unique::named("MT-NOWHERE"),
    );
    for (k, v) in params.iter_mut() {
        if *k == "ctime" || *k == "utime" {
            *v = placed.to_string();
        }
    }
    let body = signed_form(&app.base, PATH, params);
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
    let stats = app.get(&format!("/dashboard/api/stats?day={day}")).json();
    assert_eq!(stats["day"], day.as_str(), "{stats}");
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
