//! The stock ledger through the host: bad input leaves nothing changed, and many
//! concurrent reservations on one hot SKU never oversell, on one host, on two host
//! processes sharing one SQLite store, and on Redis when `redis-server` is installed.
//!
//! Reservations go through `/admin/stock/reserve` (admin token) rather than webhooks:
//! this measures the ledger's contention, not signature checks and normalization.
//!
//! Every test stocks SKUs of its own and reserves for orders of its own
//! (`orderhub_e2e::unique`), and sets the shared warehouse and the channel policies one
//! entry at a time (`PUT /admin/stock/warehouses/{id}`, `/admin/stock/channels/{id}`),
//! never replacing the catalog: the suite runs again and again against one
//! long-running app, tests in parallel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use orderhub_e2e::unique;
use orderhub_e2e::*;
use serde_json::{json, Value};

/// Channels that keep what fits of a short order, from any warehouse: no caller ever
/// holds units it will give back unless the stock is gone, so the race is exact.
const PARTIAL: [&str; 4] = ["pos", "groupbuy", "app", "miniprogram"];
/// All-or-nothing channels: a refusal may be spurious while another caller's excess is
/// in flight (see `orderhub_core::stock::counters`), never an oversell.
const ALL_OR_NOTHING: [&str; 2] = ["meituan", "eleme"];
const WAREHOUSE: &str = unique::WAREHOUSE;

fn admin(app: &App, method: &str, path: &str, body: &Value) -> Reply {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    app.request(
        method,
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        &bytes,
    )
}

fn expect(reply: Reply, status: u16, what: &str) -> Value {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
    reply.json()
}

/// The warehouse, the load-test channels' policies (one entry each, the same every
/// time: tests running at once agree), and `sku` stocked with `units`; returns the
/// stocktake's journal entry.
fn stock_up(app: &App, sku: &str, units: i64) -> i64 {
    expect(
        admin(
            app,
            "PUT",
            &format!("/admin/stock/warehouses/{WAREHOUSE}"),
            &json!({ "name": "E2E", "priority": 1 }),
        ),
        200,
        "warehouse",
    );
    for c in PARTIAL {
        let policy = json!({ "accept_partial": true, "allow_split": true });
        let path = format!("/admin/stock/channels/{c}");
        expect(admin(app, "PUT", &path, &policy), 200, "policy");
    }
    for c in ALL_OR_NOTHING {
        let policy = json!({ "accept_partial": false });
        let path = format!("/admin/stock/channels/{c}");
        expect(admin(app, "PUT", &path, &policy), 200, "policy");
    }
    expect(
        admin(app, "PUT", &format!("/admin/stock/skus/{sku}"), &json!({})),
        200,
        "define sku",
    );
    let adjust = json!({
        "sku": sku, "warehouse": WAREHOUSE, "change": { "set": units },
        "reason": "stocktake", "reference": format!("init-{sku}"),
    });
    let done = expect(
        admin(app, "POST", "/admin/stock/adjust", &adjust),
        200,
        "stock up",
    );
    done["seq"]
        .as_i64()
        .unwrap_or_else(|| panic!("a stocktake is journalled: {done}"))
}

fn level(app: &App, sku: &str) -> Value {
    expect(
        admin(
            app,
            "GET",
            &format!("/admin/stock/levels/{sku}/{WAREHOUSE}"),
            &Value::Null,
        ),
        200,
        "level",
    )
}

/// Every journal entry from `from` on, to the end (the journal is the app's: other
/// tests' entries included).
fn journal_from(app: &App, from: i64) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut next = from;
    loop {
        let page = expect(
            admin(
                app,
                "GET",
                &format!("/admin/stock/audit?from={next}&limit=500"),
                &Value::Null,
            ),
            200,
            "audit",
        );
        let page = page.as_array().cloned().unwrap_or_default();
        if page.is_empty() {
            return out;
        }
        next += 500;
        out.extend(page);
    }
}

/// Whether a journal entry changed `sku`.
fn touches(event: &Value, sku: &str) -> bool {
    event["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["sku"] == sku)
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let app = App::start();
    let (apple, pear) = (unique::named("APPLE"), unique::named("PEAR"));
    let bad_order = unique::named("bad");
    let stocktake = stock_up(&app, &apple, 50);
    let before = level(&app, &apple);
    // The journal filtered by SKU finds the stocktake.
    let found = expect(
        admin(
            &app,
            "GET",
            &format!("/admin/stock/audit?sku={apple}&from={stocktake}&limit=1"),
            &Value::Null,
        ),
        200,
        "audit of the SKU",
    );
    assert_eq!(found[0]["seq"], stocktake, "{found}");

    let adjust = |change: Value, sku: &str, wh: &str| json!({ "sku": sku, "warehouse": wh, "change": change, "reason": "wms" });
    // No token, wrong token.
    let body = adjust(json!({ "delta": 5 }), &apple, WAREHOUSE).to_string();
    let reply = app.post("/admin/stock/adjust", &[], body.as_bytes());
    assert_eq!(reply.status, 401, "{}", reply.body);
    let reply = app.post(
        "/admin/stock/adjust",
        &[("authorization", "Bearer nope")],
        body.as_bytes(),
    );
    assert_eq!(reply.status, 401, "{}", reply.body);
    let reply = app.post("/jobs/stock/expire", &[], b"");
    assert_eq!(reply.status, 401, "{}", reply.body);

    let cases = [
        (adjust(json!({ "delta": 0 }), &apple, WAREHOUSE), 422),
        (adjust(json!({ "set": -3 }), &apple, WAREHOUSE), 422),
        (adjust(json!({ "delta": 5 }), &pear, WAREHOUSE), 404),
        (adjust(json!({ "delta": 5 }), &apple, "wh-moon"), 404),
        (json!({ "sku": apple }), 400),
    ];
    for (body, status) in cases {
        let reply = admin(&app, "POST", "/admin/stock/adjust", &body);
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert!(reply.json()["error"]["code"].is_string(), "{}", reply.body);
    }
    let reserve = |qty: i64, sku: &str| {
        json!({ "order": bad_order, "channel": "meituan",
                "lines": [{ "line_no": 1, "sku": sku, "quantity": qty }] })
    };
    for (body, status) in [
        (reserve(0, &apple), 422),
        (reserve(-2, &apple), 422),
        (reserve(2, &pear), 404),
        (
            json!({ "order": bad_order, "channel": "meituan", "lines": [] }),
            422,
        ),
    ] {
        let reply = admin(&app, "POST", "/admin/stock/reserve", &body);
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
    }
    // A catalog naming an unknown warehouse in a channel policy is refused whole, and
    // so is one channel's policy naming it.
    let bad_catalog = json!({
        "warehouses": [{ "id": WAREHOUSE }],
        "channels": { "meituan": { "warehouses": ["wh-moon"] } },
    });
    let reply = admin(&app, "PUT", "/admin/stock/catalog", &bad_catalog);
    assert_eq!(reply.status, 404, "{}", reply.body);
    let reply = admin(
        &app,
        "PUT",
        "/admin/stock/channels/meituan",
        &json!({ "warehouses": ["wh-moon"] }),
    );
    assert_eq!(reply.status, 404, "{}", reply.body);
    let reply = admin(&app, "PUT", "/admin/stock/warehouses/wh:moon", &json!({}));
    assert_eq!(reply.status, 422, "{}", reply.body);
    let catalog = expect(
        admin(&app, "GET", "/admin/stock/catalog", &Value::Null),
        200,
        "catalog",
    );
    assert_eq!(catalog["channels"]["meituan"]["warehouses"], Value::Null);
    let warehouses = catalog["warehouses"].as_array().unwrap();
    assert!(warehouses.iter().any(|w| w["id"] == WAREHOUSE), "{catalog}");
    assert!(
        !warehouses.iter().any(|w| w["id"] == "wh:moon"),
        "{catalog}"
    );

    // Nothing changed: the level, and the journal holds nothing of the refused
    // requests (no entry after the stocktake for this test's SKUs or order).
    assert_eq!(level(&app, &apple), before);
    let since = journal_from(&app, stocktake + 1);
    let ours: Vec<&Value> = since
        .iter()
        .filter(|e| touches(e, &apple) || touches(e, &pear) || e["order"] == bad_order.as_str())
        .collect();
    assert!(ours.is_empty(), "{ours:?}");
    let reply = admin(
        &app,
        "GET",
        &format!("/admin/stock/reservations/{bad_order}"),
        &Value::Null,
    );
    assert_eq!(reply.status, 404, "{}", reply.body);
}

#[test]
fn admin_lifecycle_reserve_commit_release_outbox() {
    let app = App::start();
    let milk = unique::named("MILK");
    let (o_a, o_b) = (unique::named("o-a"), unique::named("o-b"));
    let stocktake = stock_up(&app, &milk, 10);
    // A WMS receipt retried with the same reference applies once.
    let receipt = json!({ "sku": milk, "warehouse": WAREHOUSE, "change": { "delta": 5 },
                          "reason": "receipt", "reference": "GRN-7" });
    expect(
        admin(&app, "POST", "/admin/stock/adjust", &receipt),
        200,
        "receipt",
    );
    let again = expect(
        admin(&app, "POST", "/admin/stock/adjust", &receipt),
        200,
        "retry",
    );
    assert_eq!(again["replayed"], true);
    assert_eq!(level(&app, &milk)["on_hand"], 15);

    let order = |id: &str, qty: i64| {
        json!({ "order": id, "channel": "meituan",
                "lines": [{ "line_no": 1, "sku": milk, "quantity": qty }] })
    };
    let a = expect(
        admin(&app, "POST", "/admin/stock/reserve", &order(&o_a, 12)),
        200,
        "a",
    );
    assert_eq!(a["reserved_units"], 12);
    assert!(a["exception"].is_null());
    let b = expect(
        admin(&app, "POST", "/admin/stock/reserve", &order(&o_b, 4)),
        200,
        "b",
    );
    assert_eq!(b["reserved_units"], 0);
    assert!(
        b["exception"].is_object(),
        "short order carries an exception: {b}"
    );

    let lvl = level(&app, &milk);
    assert_eq!(
        (lvl["on_hand"].clone(), lvl["reserved"].clone()),
        (json!(15), json!(12))
    );

    let view = expect(
        admin(
            &app,
            "GET",
            &format!("/admin/stock/reservations/{o_a}"),
            &Value::Null,
        ),
        200,
        "view",
    );
    assert_eq!(view["state"], "held");
    let sellable = expect(
        admin(
            &app,
            "GET",
            &format!("/admin/stock/sellable/{milk}"),
            &Value::Null,
        ),
        200,
        "sellable",
    );
    assert_eq!(sellable["channels"]["meituan"], 3);

    // The outbox is the app's, every SKU's: drain it (acking each batch, as the pusher
    // does) until past this SKU's last change, which must have come out, newest value
    // last; after the ack nothing more comes out for it.
    let trail: Vec<Value> = journal_from(&app, stocktake)
        .into_iter()
        .filter(|e| touches(e, &milk))
        .collect();
    // The stocktake, the receipt (once), o-a's reserve.
    assert_eq!(trail.len(), 3, "{trail:?}");
    let last_seq = trail.last().unwrap()["seq"].as_i64().unwrap();
    let ours = |batch: &Value| -> Vec<Value> {
        batch["updates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["sku"] == milk.as_str())
            .cloned()
            .collect()
    };
    let mut seen: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let batch = expect(
            admin(
                &app,
                "POST",
                "/admin/stock/outbox/meituan/drain?limit=500",
                &Value::Null,
            ),
            200,
            "drain",
        );
        seen.extend(ours(&batch));
        let cursor = batch["next_cursor"].as_i64().unwrap();
        expect(
            admin(&app, "POST", "/admin/stock/outbox/meituan/ack", &batch),
            200,
            "ack",
        );
        if cursor >= last_seq {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the drain never got past {last_seq}: {batch}"
        );
    }
    let newest = seen
        .last()
        .unwrap_or_else(|| panic!("{milk} never came out"));
    assert_eq!(newest["version"], last_seq, "{seen:?}");
    assert_eq!(newest["sellable"], 3, "{seen:?}");
    let empty = expect(
        admin(
            &app,
            "POST",
            "/admin/stock/outbox/meituan/drain?limit=500",
            &Value::Null,
        ),
        200,
        "drain again",
    );
    assert_eq!(ours(&empty), Vec::<Value>::new(), "{empty}");

    // Dispatch ships 5 of o-a's 12 (retried: once), then the rest is cancelled.
    let ship = json!({ "order_id": o_a, "op_id": "parcel-1",
                       "lines": [{ "line_no": 1, "quantity": 5 }] });
    let shipped = expect(
        admin(&app, "POST", "/admin/stock/commit", &ship),
        200,
        "commit",
    );
    assert_eq!(shipped["replayed"], false, "{shipped}");
    let again = expect(
        admin(&app, "POST", "/admin/stock/commit", &ship),
        200,
        "commit retry",
    );
    assert_eq!(again["replayed"], true, "{again}");
    let reply = admin(
        &app,
        "POST",
        "/admin/stock/commit",
        &json!({ "order_id": o_a }),
    );
    assert_eq!(reply.status, 400, "commit needs an op id: {}", reply.body);
    let lvl = level(&app, &milk);
    assert_eq!(
        (&lvl["on_hand"], &lvl["reserved"], &lvl["shipped"]),
        (&json!(10), &json!(7), &json!(5))
    );
    let cancel = json!({ "order_id": o_a });
    expect(
        admin(&app, "POST", "/admin/stock/release", &cancel),
        200,
        "release",
    );
    expect(
        admin(&app, "POST", "/admin/stock/release", &cancel),
        200,
        "release retry",
    );
    let lvl = level(&app, &milk);
    assert_eq!((&lvl["on_hand"], &lvl["reserved"]), (&json!(10), &json!(0)));
    let view = expect(
        admin(
            &app,
            "GET",
            &format!("/admin/stock/reservations/{o_a}"),
            &Value::Null,
        ),
        200,
        "view after",
    );
    assert_eq!(view["state"], "committed", "{view}");
    let reply = admin(
        &app,
        "POST",
        "/admin/stock/release",
        &json!({ "order_id": unique::named("nobody") }),
    );
    assert_eq!(reply.status, 404, "{}", reply.body);

    let job = app.post(
        "/jobs/stock/expire",
        &[("authorization", &format!("Bearer {JOB_TOKEN}"))],
        b"",
    );
    assert_eq!(job.status, 200, "{}", job.body);
    assert_eq!(level(&app, &milk)["reserved"], 0);
}

/// What one load run saw.
struct Load {
    demand: i64,
    accepted: i64,
    statuses: Vec<u16>,
    elapsed: Duration,
}

/// `n` reservations of 1–3 units of `sku` from several channels, `concurrency` std
/// threads, request `i` sent to `apps[i % apps.len()]`.
fn hammer(
    apps: &[&App],
    channels: &[&str],
    tag: &str,
    sku: &str,
    n: usize,
    concurrency: usize,
) -> Load {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(i64, i64, u16)>> = Mutex::new(Vec::with_capacity(n));
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..concurrency {
            scope.spawn(|| {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(120))
                    .build();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    let qty = 1 + (i as i64 * 7) % 3;
                    let body = json!({
                        "order": format!("{tag}-{i}"),
                        "channel": channels[i % channels.len()],
                        "lines": [{ "line_no": 1, "sku": sku, "quantity": qty }],
                    });
                    let app = apps[i % apps.len()];
                    let reply = agent
                        .post(&app.url("/admin/stock/reserve"))
                        .set("authorization", &auth)
                        .set("content-type", "application/json")
                        .send_string(&body.to_string());
                    let (status, granted) = match reply {
                        Ok(r) => {
                            let v: Value = r
                                .into_string()
                                .ok()
                                .and_then(|b| serde_json::from_str(&b).ok())
                                .unwrap_or(Value::Null);
                            (200, v["reserved_units"].as_i64().unwrap_or(-1))
                        }
                        Err(ureq::Error::Status(s, _)) => (s, 0),
                        Err(e) => panic!("request {i}: {e}"),
                    };
                    results.lock().unwrap().push((qty, granted, status));
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let results = results.into_inner().unwrap();
    Load {
        demand: results.iter().map(|r| r.0).sum(),
        accepted: results.iter().map(|r| r.1).sum(),
        statuses: results.iter().map(|r| r.2).collect(),
        elapsed,
    }
}

/// The oversell check: exactly min(S, demand) granted, every answer a 200, and the
/// counters agree with the answers.
fn never_oversells(apps: &[&App], label: &str) {
    const STOCK: i64 = 100;
    let sku = &unique::named("HOT");
    stock_up(apps[0], sku, STOCK);
    let load = {
        let _alone = LOAD.lock().unwrap_or_else(|e| e.into_inner());
        hammer(apps, &PARTIAL, &unique::named(label), sku, 2_000, 64)
    };
    let bad: Vec<u16> = load
        .statuses
        .iter()
        .copied()
        .filter(|s| *s != 200)
        .collect();
    assert!(bad.is_empty(), "{label}: non-200 answers: {bad:?}");
    assert!(load.demand > STOCK);
    eprintln!(
        "stock[{label}]: 2000 reserves, concurrency 64, {} units granted of {} asked, {:.0} req/s",
        load.accepted,
        load.demand,
        2_000.0 / load.elapsed.as_secs_f64()
    );
    // Never oversold, and the counters agree with what callers were told, on every host.
    assert!(load.accepted <= STOCK, "{label}: oversold");
    for app in apps {
        let lvl = level(app, sku);
        assert_eq!(lvl["on_hand"], STOCK, "{label}: on hand unchanged");
        assert_eq!(
            lvl["reserved"], load.accepted,
            "{label}: reserved == granted"
        );
    }
    // And nothing left unsold while demand remained.
    assert_eq!(
        load.accepted,
        STOCK.min(load.demand),
        "{label}: accepted units"
    );
}

/// Load runs take the machine to themselves: the figures are per run, and a run's
/// contention should come from its own clients, not from another test's.
static LOAD: Mutex<()> = Mutex::new(());

#[test]
fn concurrent_reserves_never_oversell_one_host() {
    let app = App::start();
    never_oversells(&[&app], "one-host");

    // Throughput figures (not assertions): plenty of stock, so every call reserves.
    let bulk = unique::named("BULK");
    stock_up(&app, &bulk, 1_000_000);
    let _alone = LOAD.lock().unwrap_or_else(|e| e.into_inner());
    for concurrency in [1, 8, 64] {
        let n = if concurrency == 1 { 200 } else { 600 };
        let load = hammer(
            &[&app],
            &PARTIAL,
            &unique::named(&format!("bulk-c{concurrency}")),
            &bulk,
            n,
            concurrency,
        );
        assert!(load.statuses.iter().all(|s| *s == 200));
        assert_eq!(load.accepted, load.demand);
        eprintln!(
            "stock[throughput]: concurrency {concurrency:>2}: {n} reservations in {:.2} s = {:.0} reservations/s",
            load.elapsed.as_secs_f64(),
            n as f64 / load.elapsed.as_secs_f64()
        );
    }
}

/// All-or-nothing channels under the same storm: never oversold, counters agree, and
/// any unit refused spuriously mid-storm is still sellable afterwards (none is lost).
#[test]
fn all_or_nothing_storm_never_oversells_and_loses_no_unit() {
    const STOCK: i64 = 100;
    let app = App::start();
    let hot = unique::named("HOT");
    stock_up(&app, &hot, STOCK);
    let load = {
        let _alone = LOAD.lock().unwrap_or_else(|e| e.into_inner());
        hammer(
            &[&app],
            &ALL_OR_NOTHING,
            &unique::named("aon"),
            &hot,
            2_000,
            64,
        )
    };
    assert!(
        load.statuses.iter().all(|s| *s == 200),
        "{:?}",
        load.statuses
    );
    assert!(load.accepted <= STOCK, "oversold");
    let lvl = level(&app, &hot);
    assert_eq!(lvl["reserved"], load.accepted);
    assert_eq!(lvl["on_hand"], STOCK);
    let mut rest = 0;
    let after = unique::named("after");
    for i in 0..STOCK {
        let order = json!({ "order": format!("{after}-{i}"), "channel": "meituan",
                            "lines": [{ "line_no": 1, "sku": hot, "quantity": 1 }] });
        let reply = expect(
            admin(&app, "POST", "/admin/stock/reserve", &order),
            200,
            "after",
        );
        rest += reply["reserved_units"].as_i64().unwrap_or(0);
    }
    eprintln!(
        "stock[all-or-nothing]: storm granted {} of {STOCK}, {rest} more sold afterwards",
        load.accepted
    );
    assert_eq!(load.accepted + rest, STOCK, "a unit was lost");
}

/// Scale-out is Redis, not two processes on one SQLite file (Spin's SQLite store has one
/// connection and a rollback journal: a second process gets "database is locked"). Two apps, every store on
/// one Redis database, hammered together: never oversold, counters exact on both.
#[test]
fn concurrent_reserves_never_oversell_two_apps_one_redis_store() {
    let (first, second) = App::start_pair_on_redis();
    never_oversells(&[&first, &second], "two-apps-redis");
}

/// The private contract as normalize uses it: a signed webhook reserves the order's
/// stock; an order that is short is kept and flagged `out_of_stock`.
#[test]
fn webhook_orders_reserve_stock_and_short_ones_are_flagged() {
    use orderhub_e2e::meituan::signed_form;
    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
    const PATH: &str = "/webhooks/meituan/order";
    let app = App::start();
    // Meituan codes and SKUs of this run's own, mapped one entry each.
    let (apple_code, milk_code) = (unique::named("MT-APPLE-1KG"), unique::named("MT-MILK-950"));
    let (apple, milk) = (
        unique::named("SKU-APPLE-1KG"),
        unique::named("SKU-MILK-950"),
    );
    unique::map_skus(
        &app,
        "meituan",
        &[
            (
                &apple_code,
                json!({"sku": apple, "zone": "ambient", "unit_weight_g": 1000, "unit_volume_cm3": 3000}),
            ),
            (
                &milk_code,
                json!({"sku": milk, "zone": "chilled", "unit_weight_g": 1000, "unit_volume_cm3": 1100}),
            ),
        ],
    );
    // Each order asks 2 apples and 1 milk: room for one order only.
    stock_up(&app, &apple, 3);
    stock_up(&app, &milk, 5);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);

    let push = |order_id: &str| {
        let params = unique::meituan_push(order_id, now, &apple_code, &milk_code);
        let body = signed_form(&app.base, PATH, params);
        let r = app.post(PATH, &[FORM], body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.body);
        app.get(&format!("/orders/meituan-{order_id}")).json()
    };
    let codes = |order: &Value| -> Vec<String> {
        order["exceptions"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|e| e["code"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };

    let (first_id, second_id) = (unique::id(), unique::id());
    let first = push(&first_id);
    assert!(codes(&first).is_empty(), "{first}");
    let view = expect(
        admin(
            &app,
            "GET",
            &format!("/admin/stock/reservations/meituan-{first_id}"),
            &Value::Null,
        ),
        200,
        "reservation",
    );
    assert_eq!(view["state"], "held", "{view}");
    // A redelivery reserves nothing more.
    push(&first_id);
    assert_eq!(level(&app, &apple)["reserved"], 2);
    assert_eq!(level(&app, &milk)["reserved"], 1);

    let second = push(&second_id);
    assert!(
        codes(&second).iter().any(|c| c == "out_of_stock"),
        "{second}"
    );
    assert_eq!(level(&app, &apple)["reserved"], 2, "all or nothing");
    assert_eq!(level(&app, &milk)["reserved"], 1, "all or nothing");
}

/// Issue 15, item 4: a Meituan partial refund naming its goods releases exactly those
/// units (a redelivery releases nothing more); the full refund after it releases the
/// rest. A refund after the units shipped releases nothing of what shipped.
#[test]
fn partial_refunds_release_the_refunded_lines_and_never_shipped_units() {
    use orderhub_e2e::meituan::{signed_form, APP_ID};
    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
    let app = App::start();
    let (apple_code, milk_code) = (unique::named("MT-APPLE-1KG"), unique::named("MT-MILK-950"));
    let (apple, milk) = (
        unique::named("SKU-APPLE-1KG"),
        unique::named("SKU-MILK-950"),
    );
    unique::map_skus(
        &app,
        "meituan",
        &[
            (&apple_code, json!({"sku": apple, "zone": "ambient"})),
            (&milk_code, json!({"sku": milk, "zone": "chilled"})),
        ],
    );
    stock_up(&app, &apple, 10);
    stock_up(&app, &milk, 10);
    let now = unix_now();
    let send = |path: &str, params: Vec<(&'static str, String)>| {
        let body = signed_form(&app.base, path, params);
        let r = app.post(path, &[FORM], body.as_bytes());
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, r#"{"data":"ok"}"#),
            "{path}"
        );
    };
    let refund = |path: &str, oid: &str, refund_id: &str, food: Option<Value>| {
        let mut params = vec![
            ("app_id", APP_ID.to_string()),
            ("timestamp", (now + 30).to_string()),
            ("order_id", oid.to_string()),
            ("notify_type", "agree".to_string()),
            ("refund_id", refund_id.to_string()),
            ("money", "12.80".to_string()),
        ];
        if let Some(food) = food {
            params.push(("food", food.to_string()));
        }
        send(path, params);
    };
    let held = |sku: &str| level(&app, sku)["reserved"].as_i64().unwrap();

    // 2 apples + 1 milk held; refund 1 apple (twice: a redelivery), then the rest.
    let oid = unique::id();
    send(
        "/webhooks/meituan/order",
        unique::meituan_push(&oid, now, &apple_code, &milk_code),
    );
    assert_eq!((held(&apple), held(&milk)), (2, 1));
    let one_apple = json!([{ "app_food_code": apple_code, "count": 1 }]);
    refund(
        "/webhooks/meituan/partrefund",
        &oid,
        "p1",
        Some(one_apple.clone()),
    );
    assert_eq!(
        (held(&apple), held(&milk)),
        (1, 1),
        "exactly the refunded apple"
    );
    refund("/webhooks/meituan/partrefund", &oid, "p1", Some(one_apple));
    assert_eq!(
        (held(&apple), held(&milk)),
        (1, 1),
        "a redelivery releases nothing"
    );
    refund("/webhooks/meituan/refund", &oid, "full", None);
    assert_eq!(
        (held(&apple), held(&milk)),
        (0, 0),
        "the full refund: the rest"
    );
    assert_eq!(level(&app, &apple)["on_hand"], 10);

    // Another order ships its apples, then a refund of 2 apples + 1 milk releases the
    // milk only: shipped units are not held and stay shipped.
    let shipped = unique::id();
    send(
        "/webhooks/meituan/order",
        unique::meituan_push(&shipped, now, &apple_code, &milk_code),
    );
    let commit = json!({
        "order_id": format!("meituan-{shipped}"), "op_id": "parcel-1",
        "lines": [{ "line_no": 1, "quantity": 2 }],
    });
    expect(
        admin(&app, "POST", "/admin/stock/commit", &commit),
        200,
        "ship the apples",
    );
    let both = json!([
        { "app_food_code": apple_code, "count": 2 },
        { "app_food_code": milk_code, "count": 1 },
    ]);
    refund("/webhooks/meituan/partrefund", &shipped, "p2", Some(both));
    let a = level(&app, &apple);
    assert_eq!(
        (
            a["on_hand"].as_i64(),
            a["reserved"].as_i64(),
            a["shipped"].as_i64()
        ),
        (Some(8), Some(0), Some(2)),
        "{a}"
    );
    assert_eq!(held(&milk), 0, "the unshipped milk went back");
    assert_eq!(level(&app, &milk)["on_hand"], 10);
}
