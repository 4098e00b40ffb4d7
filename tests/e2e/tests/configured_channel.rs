//! A channel added by configuration alone, through real wasm: the worked `dingdong`
//! example of docs/channels.md is stored with the admin API and its pushes arrive at
//! `/webhooks/ext/dingdong/...` — no code, no rebuild. The example is read from the doc
//! itself, so the doc cannot drift from what works; only its order number is made this
//! run's own, so the test also runs again and again against one long-running app.

use hmac::{Hmac, Mac};
use orderhub_e2e::unique;
use orderhub_e2e::*;
use sha2::Sha256;

const SECRET: &str = "dev-dingdong-secret"; // the dev value of `ext_channel_secrets`
const DOC_ORDER: &str = "DD20251125000123";

/// The channel's configuration is app-wide (its secret is named by the channel id, so
/// a test cannot pick an id of its own): removed when the test ends, however it ends.
struct Unconfigure<'a>(&'a App);

impl Drop for Unconfigure<'_> {
    fn drop(&mut self) {
        self.0
            .admin("DELETE", "/admin/channels/dingdong", &Value::Null);
    }
}

fn block(name: &str) -> String {
    let doc =
        std::fs::read_to_string(repo_root().join("docs/channels.md")).expect("docs/channels.md");
    let start = doc
        .find(&format!("```json {name}\n"))
        .unwrap_or_else(|| panic!("no block {name}"));
    let rest = &doc[start..];
    let body = &rest[rest.find('\n').unwrap() + 1..];
    body[..body.find("\n```").unwrap()].to_string()
}

fn signed_post(app: &App, path: &str, body: &str) -> Reply {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.{body}").as_bytes());
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    app.post(
        path,
        &[
            ("content-type", "application/json"),
            ("x-dd-timestamp", &ts),
            ("x-dd-signature", &sig),
        ],
        body.as_bytes(),
    )
}

#[test]
fn a_channel_added_by_configuration_takes_orders() {
    let app = App::start();
    unique::stock_up(&app, &["SKU-APPLE", "SKU-MILK"], 1_000);
    let bearer = format!("Bearer {ADMIN_TOKEN}");
    let admin = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    // The doc's order and cancellation, under an order number of this run's own.
    let order_no = format!("DD{}", unique::id());
    let order_block = block("dingdong-order").replace(DOC_ORDER, &order_no);
    let cancel_block = block("dingdong-cancel").replace(DOC_ORDER, &order_no);
    assert!(order_block.contains(&order_no) && cancel_block.contains(&order_no));
    let order_path = format!("/orders/dingdong-{order_no}");

    // Before its configuration exists the channel is unknown (an earlier run that
    // stopped half-way may have left one: it goes first).
    let _unconfigure = Unconfigure(&app);
    let r = app.admin("DELETE", "/admin/channels/dingdong", &Value::Null);
    assert!(r.status == 200 || r.status == 404, "{}", r.body);
    let r = signed_post(&app, "/webhooks/ext/dingdong/push", &order_block);
    assert_eq!(r.status, 404, "{}", r.body);

    let r = app.request(
        "PUT",
        "/admin/channels/dingdong",
        &admin,
        block("dingdong-config").as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.request(
        "PUT",
        "/admin/channels/dingdong",
        &admin,
        br#"{"id":"dingdong"}"#,
    );
    assert_eq!(
        r.status, 422,
        "a config without kind is explained: {}",
        r.body
    );

    let r = signed_post(&app, "/webhooks/ext/dingdong/push", &order_block);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, r#"{"code":0,"msg":"success"}"#);

    let order = app.get(&order_path).json();
    assert_eq!(order["channel_order_id"], order_no.as_str());
    assert_eq!(order["channel"], "dingdong");
    assert_eq!(order["money"]["paid"], "46.60");
    assert_eq!(order["lines"][0]["sku"], "SKU-APPLE");
    // Nothing wrong with the order itself: any exception it carries was raised later
    // by dispatch (this app has no riders and no pickup point for the store).
    let history = order["history"].as_array().unwrap();
    for e in order["exceptions"].as_array().unwrap() {
        assert!(
            history.iter().any(|h| h["type"] == "exception"
                && h["code"] == e["code"]
                && h["source"]["id"] == "dispatch"),
            "{order}"
        );
    }

    let r = signed_post(&app, "/webhooks/ext/dingdong/push", &cancel_block);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.get(&order_path).json()["status"], "cancelled");

    // A wrong signature is refused in the channel's own error format, nothing stored.
    let r = app.post(
        "/webhooks/ext/dingdong/push",
        &[
            ("content-type", "application/json"),
            ("x-dd-timestamp", "1"),
            ("x-dd-signature", "sha256=00"),
        ],
        order_block.as_bytes(),
    );
    assert_eq!(r.status, 401, "{}", r.body);

    // Built-in channels keep their own routes.
    let r = signed_post(&app, "/webhooks/ext/meituan/push", "{}");
    assert_eq!(r.status, 404, "{}", r.body);
}
