//! Stock pushed to the platforms (issue 15) against the fake platform
//! (`orderhub_e2e::platform`): orders and stock adjustments move the sellable quantity;
//! after injected failures, rate limits and stalls, and the retries the backoff allows,
//! the platform shows exactly each SKU's sellable quantity, and every call it got was
//! signed as the platform signs.
//!
//! Each test syncs a channel of its own (`mtsync-…`: its own outbox and cursor, so the
//! admin outbox test draining `meituan` never takes its entries), selling the same stock
//! as Meituan and naming the platform's codes from the Meituan SKU table. Time moves
//! through the job's `?as_of=` (development mode), never by sleeping.

use chrono_free::*;
use orderhub_e2e::meituan::{signed_form, APP_ID};
use orderhub_e2e::platform::{Behaviour, FakePlatform, Kind};
use orderhub_e2e::unique;
use orderhub_e2e::*;
use std::time::Duration;

/// RFC 3339 of an epoch second, without a date library.
mod chrono_free {
    pub fn rfc3339(epoch: i64) -> String {
        let (y, m, d) = orderhub_e2e::unique::civil_from_days(epoch.div_euclid(86_400));
        let s = epoch.rem_euclid(86_400);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            s / 3600,
            (s / 60) % 60,
            s % 60
        )
    }
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn ok(r: Reply, what: &str) -> Value {
    assert_eq!(r.status, 200, "{what}: {}", r.body);
    r.json()
}

fn job(app: &App, method: &str, path: &str) -> Value {
    let auth = format!("Bearer {JOB_TOKEN}");
    ok(
        app.request(method, path, &[("authorization", &auth)], b""),
        path,
    )
}

struct Setup {
    app: App,
    channel: String,
    apple: String,
    milk: String,
    apple_code: String,
    milk_code: String,
}

/// A sync channel of its own selling the e2e warehouse, two SKUs mapped in the Meituan
/// table, `apple` 10 and `milk` 5 on hand, and the sync pointed at `platform`.
fn setup(kind: Kind, platform: &FakePlatform, shop: &str) -> Setup {
    let app = App::start();
    let channel = unique::named("mtsync");
    let (apple_code, milk_code) = (unique::named("MT-APPLE-1KG"), unique::named("MT-MILK-950"));
    let (apple, milk) = (unique::named("SKU-APPLE"), unique::named("SKU-MILK"));
    unique::map_skus(
        &app,
        "meituan",
        &[
            (&apple_code, json!({"sku": apple, "zone": "ambient"})),
            (&milk_code, json!({"sku": milk, "zone": "chilled"})),
        ],
    );
    for (c, policy) in [
        ("meituan", json!({ "accept_partial": false })),
        (channel.as_str(), json!({})),
    ] {
        ok(
            app.admin("PUT", &format!("/admin/stock/channels/{c}"), &policy),
            "policy",
        );
    }
    let config = json!({
        "platform": match kind { Kind::Meituan => "meituan", Kind::Eleme => "eleme" },
        "endpoint": platform.endpoint(),
        "app_id": APP_ID,
        "shop_id": shop,
        "sku_table": "meituan",
        "batch_size": 1,
        "calls_per_minute": 10000,
        "backoff_base_seconds": 30,
        "backoff_max_seconds": 600,
    });
    ok(
        app.admin("PUT", &format!("/admin/stock/sync/{channel}"), &config),
        "sync config",
    );
    unique::stock_up(&app, &[&apple], 10);
    unique::stock_up(&app, &[&milk], 5);
    Setup {
        app,
        channel,
        apple,
        milk,
        apple_code,
        milk_code,
    }
}

impl Setup {
    fn sync(&self, at: i64) -> Value {
        job(
            &self.app,
            "POST",
            &format!("/jobs/stock/sync/{}?as_of={}", self.channel, rfc3339(at)),
        )
    }

    fn status(&self, at: i64) -> Value {
        job(
            &self.app,
            "GET",
            &format!("/jobs/stock/sync/{}?as_of={}", self.channel, rfc3339(at)),
        )
    }

    fn sellable(&self, sku: &str) -> u64 {
        let v = ok(
            self.app
                .admin("GET", &format!("/admin/stock/sellable/{sku}"), &Value::Null),
            "sellable",
        );
        v["channels"][&self.channel]
            .as_u64()
            .unwrap_or_else(|| panic!("{v}"))
    }

    /// Runs the job, moving the clock past every backoff, until a run ends with nothing
    /// left to push and the platform shows `want` per code (at most 12 runs; other
    /// tests on a shared app keep writing the journal, so "behind" alone never settles);
    /// returns the clock after.
    fn until_shown(&self, platform: &FakePlatform, want: &[(&str, u64)], mut at: i64) -> i64 {
        for _ in 0..12 {
            let r = self.sync(at);
            let shown = want
                .iter()
                .all(|(code, q)| platform.shown(code) == Some(*q));
            if r["outcome"] == "ran" && r["stopped"].is_null() && shown {
                let status = self.status(at);
                assert_eq!(status["consecutive_failures"], 0, "{status}");
                return at;
            }
            // Past the longest backoff (600 s), or on to the next minute.
            at += if r["next_attempt_at"].is_string() {
                601
            } else {
                61
            };
        }
        panic!(
            "the platform does not show {want:?} after 12 runs: {}",
            self.status(at)
        );
    }
}

#[test]
fn meituan_gets_the_sellable_quantity_after_failures_rate_limits_and_stalls() {
    let shop = unique::named("poi");
    let platform = FakePlatform::start(Kind::Meituan, APP_ID, &shop, MEITUAN_SECRET);
    let s = setup(Kind::Meituan, &platform, &shop);
    let mut at = unix_now();

    // The first call fails: the run stops and backs off 30 s.
    platform.then(&[Behaviour::Fail]);
    let r = s.sync(at);
    assert_eq!(r["outcome"], "ran", "{r}");
    assert!(r["stopped"].is_string(), "{r}");
    let status = s.status(at);
    assert_eq!(status["consecutive_failures"], 1, "{status}");
    assert!(status["lag_seconds"].as_i64().is_some(), "{status}");
    let r = s.sync(at + 10);
    assert_eq!(r["outcome"], "waiting", "inside the backoff: {r}");

    // After it: rate-limited with Retry-After 90 (longer than the 60 s backoff).
    at += 31;
    platform.then(&[Behaviour::RateLimit { retry_after: 90 }]);
    let r = s.sync(at);
    assert!(
        r["stopped"].as_str().unwrap().contains("rate limited"),
        "{r}"
    );
    assert_eq!(s.sync(at + 80)["outcome"], "waiting");

    // A stalled answer still lands; then orders and adjustments move the stock.
    at += 91;
    platform.then(&[Behaviour::Stall(Duration::from_millis(1500))]);
    at = s.until_shown(&platform, &[(&s.apple_code, 10), (&s.milk_code, 5)], at);
    let oid = unique::id();
    let body = signed_form(
        &s.app.base,
        "/webhooks/meituan/order",
        unique::meituan_push(&oid, unix_now(), &s.apple_code, &s.milk_code),
    );
    let r = s
        .app
        .post("/webhooks/meituan/order", &[FORM], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    let adjust = json!({
        "sku": s.milk, "warehouse": unique::WAREHOUSE, "change": { "delta": 7 },
        "reason": "delivery", "reference": unique::named("dn"),
    });
    ok(
        s.app.admin("POST", "/admin/stock/adjust", &adjust),
        "adjust",
    );
    // More failures while those are pending, then the rest.
    platform.then(&[Behaviour::Fail, Behaviour::Fail]);
    at = s.until_shown(&platform, &[(&s.apple_code, 8), (&s.milk_code, 11)], at + 1);
    let refund = vec![
        ("app_id", APP_ID.to_string()),
        ("timestamp", unix_now().to_string()),
        ("order_id", oid.clone()),
        ("notify_type", "agree".to_string()),
        ("refund_id", "p1".to_string()),
        ("money", "12.80".to_string()),
        (
            "food",
            json!([{ "app_food_code": s.apple_code, "count": 1 }]).to_string(),
        ),
    ];
    let body = signed_form(&s.app.base, "/webhooks/meituan/partrefund", refund);
    let r = s
        .app
        .post("/webhooks/meituan/partrefund", &[FORM], body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    platform.then(&[Behaviour::RateLimit { retry_after: 5 }]);
    s.until_shown(&platform, &[(&s.apple_code, 9), (&s.milk_code, 11)], at + 1);

    // 10 apples − 2 ordered + 1 refunded; 5 milk − 1 ordered + 7 delivered.
    assert_eq!((s.sellable(&s.apple), s.sellable(&s.milk)), (9, 11));
    assert_eq!(platform.shown(&s.apple_code), Some(9));
    assert_eq!(platform.shown(&s.milk_code), Some(11));
    platform.with(|r| {
        assert!(r.bad_signature.is_empty(), "{:?}", r.bad_signature);
        assert!(
            r.failed >= 3 && r.rate_limited >= 2 && r.stalled >= 1,
            "{r:?}"
        );
        // Never an older quantity after a newer one: what the platform got is a
        // subsequence of each SKU's true history (apple 10 → 8 → 9, milk 5 → 4 → 11).
        assert_eq!(r.stock[&s.apple_code], vec![10, 8, 9]);
        let milk = &r.stock[&s.milk_code];
        assert!(*milk == vec![5, 11] || *milk == vec![5, 4, 11], "{milk:?}");
    });
}

#[test]
fn eleme_gets_signed_envelopes_and_ends_with_the_sellable_quantity() {
    let shop = unique::named("shop");
    let platform = FakePlatform::start(Kind::Eleme, APP_ID, &shop, "dev-eleme-secret");
    let s = setup(Kind::Eleme, &platform, &shop);
    let at = unix_now();
    platform.then(&[
        Behaviour::Fail,
        Behaviour::RateLimit { retry_after: 1 },
        Behaviour::Stall(Duration::from_millis(500)),
    ]);
    let adjust = json!({
        "sku": s.apple, "warehouse": unique::WAREHOUSE, "change": { "delta": -3 },
        "reason": "damaged", "reference": unique::named("dmg"),
    });
    ok(
        s.app.admin("POST", "/admin/stock/adjust", &adjust),
        "adjust",
    );
    s.until_shown(&platform, &[(&s.apple_code, 7), (&s.milk_code, 5)], at);
    assert_eq!(s.sellable(&s.apple), 7);
    platform.with(|r| {
        assert!(r.bad_signature.is_empty(), "{:?}", r.bad_signature);
        assert_eq!((r.failed, r.rate_limited, r.stalled), (1, 1, 1), "{r:?}");
    });
}

/// Issue 15, item 3: a Meituan order pushed with `incmp_code = -1` is fetched again from
/// the platform's order-detail API (signed as Meituan signs, checked by the fake
/// platform) and completed once, after an injected failure; an order the platform never
/// answers for becomes a `refetch_failed` exception for customer service after
/// `max_attempts` runs, and is not asked for again.
#[test]
fn incomplete_meituan_orders_are_fetched_again_or_go_to_customer_service() {
    use orderhub_e2e::meituan::order_push_params;
    let app = App::start();
    let platform = FakePlatform::start(Kind::Meituan, APP_ID, "any", MEITUAN_SECRET);
    let config = json!({
        "endpoint": platform.detail_endpoint(), "app_id": APP_ID, "max_attempts": 2,
    });
    ok(
        app.admin("PUT", "/admin/channels/meituan/refetch", &config),
        "refetch config",
    );
    let now = unix_now();
    let (known, unknown) = (unique::id(), unique::id());
    let codes = |oid: &str| -> Vec<String> {
        let order = ok(app.get(&format!("/orders/meituan-{oid}")), "order");
        order["exceptions"]
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|e| {
                        format!(
                            "{}/{}",
                            e["code"].as_str().unwrap(),
                            e["route"].as_str().unwrap()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    for oid in [&known, &unknown] {
        let mut params = order_push_params(oid, now);
        params.push(("incmp_code", "-1".to_string()));
        params.push(("incmp_modules", "[1]".to_string()));
        let body = signed_form(&app.base, "/webhooks/meituan/order", params);
        let r = app.post("/webhooks/meituan/order", &[FORM], body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            codes(oid).contains(&"incomplete_data/refetch".to_string()),
            "{:?}",
            codes(oid)
        );
    }
    let mut complete = serde_json::Map::new();
    for (k, v) in order_push_params(&known, now) {
        complete.insert(k.to_string(), Value::String(v));
    }
    complete.insert("incmp_code".into(), Value::String("0".into()));
    platform.know_order(&known, Value::Object(complete));

    // Run 1: the first detail request meets an injected failure.
    platform.then(&[Behaviour::Fail]);
    job(&app, "POST", "/jobs/pipeline/refetch/meituan");
    // Run 2: the known order is completed; the unknown one has failed twice: given up.
    let r = job(&app, "POST", "/jobs/pipeline/refetch/meituan");
    let known_id = format!("meituan-{known}");
    let unknown_id = format!("meituan-{unknown}");
    assert!(
        !codes(&known)
            .iter()
            .any(|c| c.starts_with("incomplete_data")),
        "{:?} {r}",
        codes(&known)
    );
    assert!(
        codes(&unknown).contains(&"refetch_failed/customer_service".to_string()),
        "{:?} {r}",
        codes(&unknown)
    );
    // Run 3: neither is asked for again.
    let r = job(&app, "POST", "/jobs/pipeline/refetch/meituan");
    for list in ["completed", "gave_up"] {
        let ids = r[list].as_array().cloned().unwrap_or_default();
        assert!(
            !ids.iter().any(|i| *i == known_id || *i == unknown_id),
            "{r}"
        );
    }
    platform.with(|r| {
        assert!(r.bad_signature.is_empty(), "{:?}", r.bad_signature);
        assert_eq!(r.details_served.get(&known), Some(&1), "{r:?}");
        assert_eq!(r.failed, 1, "{r:?}");
    });
    assert_eq!(
        ok(app.get(&format!("/orders/{known_id}")), "order")["lines"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

/// The sync lag under load (issue 15's closing figure): stock adjustments on `SKUS`
/// SKUs (50 items per call) from 4 threads for `SECONDS` while the sync job runs every 2 s (a scheduler
/// firing faster than the minute table, to see the sender's own cost); prints the
/// job's reported lag before each run, each run's time and calls, and checks the
/// platform ends at the sellable quantities. `cargo nextest run --release -p
/// orderhub-e2e --test platform sync_lag_under_load --run-ignored only --no-capture`.
#[test]
#[ignore]
fn sync_lag_under_load() {
    const SKUS: usize = 100;
    const SECONDS: u64 = 20;
    let shop = unique::named("poi");
    let platform = FakePlatform::start(Kind::Meituan, APP_ID, &shop, MEITUAN_SECRET);
    let s = setup(Kind::Meituan, &platform, &shop);
    // Items per call as a platform typically allows (the functional tests use 1).
    let config = json!({
        "platform": "meituan", "endpoint": platform.endpoint(), "app_id": APP_ID,
        "shop_id": shop, "sku_table": "meituan", "batch_size": 50,
        "calls_per_minute": 10000,
    });
    ok(
        s.app
            .admin("PUT", &format!("/admin/stock/sync/{}", s.channel), &config),
        "sync config",
    );
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let skus: Vec<(String, String)> = (0..SKUS)
        .map(|i| {
            (
                unique::named(&format!("LAG-{i}")),
                unique::named(&format!("MT-LAG-{i}")),
            )
        })
        .collect();
    for (sku, code) in &skus {
        unique::map_skus(&s.app, "meituan", &[(code, json!({ "sku": sku }))]);
        unique::stock_up(&s.app, &[sku], 1000);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let (base, auth, stop) = (s.app.base.clone(), auth.clone(), stop.clone());
            let skus = skus.clone();
            std::thread::spawn(move || {
                let mut n = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let (sku, _) = &skus[(n * 4 + t) % skus.len()];
                    let adjust = json!({
                        "sku": sku, "warehouse": unique::WAREHOUSE, "change": { "delta": -1 },
                        "reason": "sale", "reference": unique::named("lag"),
                    });
                    let r = send_to(
                        &base,
                        "POST",
                        "/admin/stock/adjust",
                        &[
                            ("authorization", &auth),
                            ("content-type", "application/json"),
                        ],
                        adjust.to_string().as_bytes(),
                    )
                    .expect("adjust");
                    assert_eq!(r.status, 200, "{}", r.body);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let started = std::time::Instant::now();
    let mut lags = Vec::new();
    while started.elapsed() < Duration::from_secs(SECONDS) {
        let lag = s.status(unix_now())["lag_seconds"].as_i64().unwrap_or(-1);
        let t = std::time::Instant::now();
        let r = s.sync(unix_now());
        lags.push(lag);
        println!(
            "lag before run {:>3} s, run {:>5} ms, calls {}, items {}",
            lag,
            t.elapsed().as_millis(),
            r["calls"],
            r["items_pushed"]
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let adjustments: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    let at = unix_now();
    let want: Vec<(String, u64)> = skus
        .iter()
        .map(|(sku, code)| (code.clone(), s.sellable(sku)))
        .collect();
    let want_ref: Vec<(&str, u64)> = want.iter().map(|(c, q)| (c.as_str(), *q)).collect();
    s.until_shown(&platform, &want_ref, at);
    println!(
        "{adjustments} adjustments in {SECONDS} s ({:.0}/s) over {SKUS} SKUs; max lag seen {} s; \
         platform calls {}",
        adjustments as f64 / SECONDS as f64,
        lags.iter().max().unwrap_or(&0),
        platform.with(|r| r.accepted)
    );
}
