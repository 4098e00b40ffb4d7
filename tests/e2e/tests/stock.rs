//! The stock ledger through the host: bad input leaves nothing changed, and many
//! concurrent reservations on one hot SKU never oversell, on one host, on two host
//! processes sharing one SQLite store, and on Redis when `redis-server` is installed.
//!
//! Reservations go through `/admin/stock/reserve` (admin token) rather than webhooks:
//! this measures the ledger's contention, not signature checks and normalization.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use orderhub_e2e::*;
use serde_json::{json, Value};

/// Channels that keep what fits of a short order, from any warehouse: no caller ever
/// holds units it will give back unless the stock is gone, so the race is exact.
const PARTIAL: [&str; 4] = ["pos", "groupbuy", "app", "miniprogram"];
/// All-or-nothing channels: a refusal may be spurious while another caller's excess is
/// in flight (see `orderhub_core::stock::counters`), never an oversell.
const ALL_OR_NOTHING: [&str; 2] = ["meituan", "eleme"];
const WAREHOUSE: &str = "wh-north";

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

/// One warehouse, the load-test channels, and `sku` stocked with `units`.
fn stock_up(app: &App, sku: &str, units: i64) {
    let mut channels = serde_json::Map::new();
    for c in PARTIAL {
        channels.insert(
            c.to_string(),
            json!({ "accept_partial": true, "allow_split": true }),
        );
    }
    for c in ALL_OR_NOTHING {
        channels.insert(c.to_string(), json!({ "accept_partial": false }));
    }
    let catalog = json!({
        "warehouses": [{ "id": WAREHOUSE, "name": "North", "priority": 1 }],
        "channels": channels,
    });
    expect(
        admin(app, "PUT", "/admin/stock/catalog", &catalog),
        200,
        "catalog",
    );
    expect(
        admin(app, "PUT", &format!("/admin/stock/skus/{sku}"), &json!({})),
        200,
        "define sku",
    );
    let adjust = json!({
        "sku": sku, "warehouse": WAREHOUSE, "change": { "set": units },
        "reason": "stocktake", "reference": format!("init-{sku}"),
    });
    expect(
        admin(app, "POST", "/admin/stock/adjust", &adjust),
        200,
        "stock up",
    );
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

fn audit_len(app: &App) -> usize {
    let log = expect(
        admin(
            app,
            "GET",
            "/admin/stock/audit?from=1&limit=500",
            &Value::Null,
        ),
        200,
        "audit",
    );
    log.as_array().map_or(0, Vec::len)
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let app = App::spawn_host(&["--no-schedules"]);
    stock_up(&app, "APPLE", 50);
    let before = (level(&app, "APPLE"), audit_len(&app));

    let adjust = |change: Value, sku: &str, wh: &str| json!({ "sku": sku, "warehouse": wh, "change": change, "reason": "wms" });
    // No token, wrong token.
    let body = adjust(json!({ "delta": 5 }), "APPLE", WAREHOUSE).to_string();
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
        (adjust(json!({ "delta": 0 }), "APPLE", WAREHOUSE), 422),
        (adjust(json!({ "set": -3 }), "APPLE", WAREHOUSE), 422),
        (adjust(json!({ "delta": 5 }), "PEAR", WAREHOUSE), 404),
        (adjust(json!({ "delta": 5 }), "APPLE", "wh-moon"), 404),
        (json!({ "sku": "APPLE" }), 400),
    ];
    for (body, status) in cases {
        let reply = admin(&app, "POST", "/admin/stock/adjust", &body);
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert!(reply.json()["error"]["code"].is_string(), "{}", reply.body);
    }
    let reserve = |qty: i64, sku: &str| {
        json!({ "order": "bad-1", "channel": "meituan",
                "lines": [{ "line_no": 1, "sku": sku, "quantity": qty }] })
    };
    for (body, status) in [
        (reserve(0, "APPLE"), 422),
        (reserve(-2, "APPLE"), 422),
        (reserve(2, "PEAR"), 404),
        (
            json!({ "order": "bad-1", "channel": "meituan", "lines": [] }),
            422,
        ),
    ] {
        let reply = admin(&app, "POST", "/admin/stock/reserve", &body);
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
    }
    // A catalog naming an unknown warehouse in a channel policy is refused whole.
    let bad_catalog = json!({
        "warehouses": [{ "id": WAREHOUSE }],
        "channels": { "meituan": { "warehouses": ["wh-moon"] } },
    });
    let reply = admin(&app, "PUT", "/admin/stock/catalog", &bad_catalog);
    assert_eq!(reply.status, 404, "{}", reply.body);
    let catalog = expect(
        admin(&app, "GET", "/admin/stock/catalog", &Value::Null),
        200,
        "catalog",
    );
    assert_eq!(catalog["channels"]["meituan"]["warehouses"], Value::Null);

    assert_eq!((level(&app, "APPLE"), audit_len(&app)), before);
    let reply = admin(&app, "GET", "/admin/stock/reservations/bad-1", &Value::Null);
    assert_eq!(reply.status, 404, "{}", reply.body);
}

#[test]
fn admin_lifecycle_reserve_commit_release_outbox() {
    let app = App::spawn_host(&["--no-schedules"]);
    stock_up(&app, "MILK", 10);
    // A WMS receipt retried with the same reference applies once.
    let receipt = json!({ "sku": "MILK", "warehouse": WAREHOUSE, "change": { "delta": 5 },
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
    assert_eq!(level(&app, "MILK")["on_hand"], 15);

    let order = |id: &str, qty: i64| {
        json!({ "order": id, "channel": "meituan",
                "lines": [{ "line_no": 1, "sku": "MILK", "quantity": qty }] })
    };
    let a = expect(
        admin(&app, "POST", "/admin/stock/reserve", &order("o-a", 12)),
        200,
        "a",
    );
    assert_eq!(a["reserved_units"], 12);
    assert!(a["exception"].is_null());
    let b = expect(
        admin(&app, "POST", "/admin/stock/reserve", &order("o-b", 4)),
        200,
        "b",
    );
    assert_eq!(b["reserved_units"], 0);
    assert!(
        b["exception"].is_object(),
        "short order carries an exception: {b}"
    );

    let lvl = level(&app, "MILK");
    assert_eq!(
        (lvl["on_hand"].clone(), lvl["reserved"].clone()),
        (json!(15), json!(12))
    );

    let view = expect(
        admin(&app, "GET", "/admin/stock/reservations/o-a", &Value::Null),
        200,
        "view",
    );
    assert_eq!(view["state"], "held");
    let sellable = expect(
        admin(&app, "GET", "/admin/stock/sellable/MILK", &Value::Null),
        200,
        "sellable",
    );
    assert_eq!(sellable["channels"]["meituan"], 3);

    let batch = expect(
        admin(
            &app,
            "POST",
            "/admin/stock/outbox/meituan/drain?limit=100",
            &Value::Null,
        ),
        200,
        "drain",
    );
    assert!(
        batch["updates"].as_array().is_some_and(|u| !u.is_empty()),
        "{batch}"
    );
    expect(
        admin(&app, "POST", "/admin/stock/outbox/meituan/ack", &batch),
        200,
        "ack",
    );
    let empty = expect(
        admin(
            &app,
            "POST",
            "/admin/stock/outbox/meituan/drain",
            &Value::Null,
        ),
        200,
        "drain again",
    );
    assert_eq!(empty["updates"], json!([]), "{empty}");
    assert!(audit_len(&app) >= 3);

    // Dispatch ships 5 of o-a's 12 (retried: once), then the rest is cancelled.
    let ship = json!({ "order_id": "o-a", "op_id": "parcel-1",
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
        &json!({ "order_id": "o-a" }),
    );
    assert_eq!(reply.status, 400, "commit needs an op id: {}", reply.body);
    let lvl = level(&app, "MILK");
    assert_eq!(
        (&lvl["on_hand"], &lvl["reserved"], &lvl["shipped"]),
        (&json!(10), &json!(7), &json!(5))
    );
    let cancel = json!({ "order_id": "o-a" });
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
    let lvl = level(&app, "MILK");
    assert_eq!((&lvl["on_hand"], &lvl["reserved"]), (&json!(10), &json!(0)));
    let view = expect(
        admin(&app, "GET", "/admin/stock/reservations/o-a", &Value::Null),
        200,
        "view after",
    );
    assert_eq!(view["state"], "committed", "{view}");
    let reply = admin(
        &app,
        "POST",
        "/admin/stock/release",
        &json!({ "order_id": "nobody" }),
    );
    assert_eq!(reply.status, 404, "{}", reply.body);

    let job = app.post(
        "/jobs/stock/expire",
        &[("authorization", &format!("Bearer {JOB_TOKEN}"))],
        b"",
    );
    assert_eq!(job.status, 200, "{}", job.body);
    assert_eq!(level(&app, "MILK")["reserved"], 0);
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
    let sku = "HOT";
    stock_up(apps[0], sku, STOCK);
    let load = {
        let _alone = LOAD.lock().unwrap_or_else(|e| e.into_inner());
        hammer(apps, &PARTIAL, label, sku, 2_000, 64)
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
    let app = App::spawn_host(&["--no-schedules"]);
    never_oversells(&[&app], "one-host");

    // Throughput figures (not assertions): plenty of stock, so every call reserves.
    stock_up(&app, "BULK", 1_000_000);
    let _alone = LOAD.lock().unwrap_or_else(|e| e.into_inner());
    for concurrency in [1, 8, 64] {
        let n = if concurrency == 1 { 200 } else { 600 };
        let load = hammer(
            &[&app],
            &PARTIAL,
            &format!("bulk-c{concurrency}"),
            "BULK",
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
    let app = App::spawn_host(&["--no-schedules"]);
    stock_up(&app, "HOT", STOCK);
    let load = {
        let _alone = LOAD.lock().unwrap_or_else(|e| e.into_inner());
        hammer(&[&app], &ALL_OR_NOTHING, "aon", "HOT", 2_000, 64)
    };
    assert!(
        load.statuses.iter().all(|s| *s == 200),
        "{:?}",
        load.statuses
    );
    assert!(load.accepted <= STOCK, "oversold");
    let lvl = level(&app, "HOT");
    assert_eq!(lvl["reserved"], load.accepted);
    assert_eq!(lvl["on_hand"], STOCK);
    let mut rest = 0;
    for i in 0..STOCK {
        let order = json!({ "order": format!("after-{i}"), "channel": "meituan",
                            "lines": [{ "line_no": 1, "sku": "HOT", "quantity": 1 }] });
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

#[test]
fn concurrent_reserves_never_oversell_two_hosts_one_sqlite_store() {
    let first = App::spawn_host(&["--no-schedules"]);
    let second = first.spawn_sibling(&["--no-schedules"]);
    never_oversells(&[&first, &second], "two-hosts-sqlite");
}

/// A `redis-server` of our own on a free port, stopped on drop.
struct Redis {
    child: std::process::Child,
    port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_redis() -> Option<Redis> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let redis = Redis { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(redis);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn concurrent_reserves_never_oversell_on_redis() {
    let Some(redis) = start_redis() else {
        eprintln!("stock[redis]: redis-server not installed or not starting; skipped");
        return;
    };
    let mut rc = String::new();
    for label in [
        "ingest",
        "catalog",
        "orders",
        "merge",
        "dispatch",
        "reconcile",
    ] {
        rc.push_str(&format!(
            "[key_value_store.{label}]\ntype = \"spin\"\npath = \"{label}.db\"\n\n"
        ));
    }
    rc.push_str(&format!(
        "[key_value_store.stock]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:{}\"\n",
        redis.port
    ));
    let first = App::spawn_host_with_config(&rc, &["--no-schedules"]);
    let second = first.spawn_sibling(&["--no-schedules"]);
    never_oversells(&[&first, &second], "two-hosts-redis");
}

/// The private contract as normalize uses it: a signed webhook reserves the order's
/// stock; an order that is short is kept and flagged `out_of_stock`.
#[test]
fn webhook_orders_reserve_stock_and_short_ones_are_flagged() {
    use orderhub_e2e::meituan::{order_push_params, signed_form};
    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
    const PATH: &str = "/webhooks/meituan/order";
    let app = App::spawn_host(&["--no-schedules"]);
    let skus = json!({
        "MT-APPLE-1KG": {"sku": "SKU-APPLE-1KG", "zone": "ambient", "unit_weight_g": 1000, "unit_volume_cm3": 3000},
        "MT-MILK-950": {"sku": "SKU-MILK-950", "zone": "chilled", "unit_weight_g": 1000, "unit_volume_cm3": 1100}
    });
    expect(
        admin(&app, "PUT", "/admin/channels/meituan/skus", &skus),
        200,
        "sku map",
    );
    // Each order asks 2 apples and 1 milk: room for one order only.
    stock_up(&app, "SKU-APPLE-1KG", 3);
    stock_up(&app, "SKU-MILK-950", 5);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);

    let push = |order_id: &str| {
        let body = signed_form(&app.base, PATH, order_push_params(order_id, now));
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

    let first = push(&format!("2790{now}"));
    assert!(codes(&first).is_empty(), "{first}");
    let view = expect(
        admin(
            &app,
            "GET",
            &format!("/admin/stock/reservations/meituan-2790{now}"),
            &Value::Null,
        ),
        200,
        "reservation",
    );
    assert_eq!(view["state"], "held", "{view}");
    // A redelivery reserves nothing more.
    push(&format!("2790{now}"));
    assert_eq!(level(&app, "SKU-APPLE-1KG")["reserved"], 2);
    assert_eq!(level(&app, "SKU-MILK-950")["reserved"], 1);

    let second = push(&format!("2791{now}"));
    assert!(
        codes(&second).iter().any(|c| c == "out_of_stock"),
        "{second}"
    );
    assert_eq!(
        level(&app, "SKU-APPLE-1KG")["reserved"],
        2,
        "all or nothing"
    );
    assert_eq!(level(&app, "SKU-MILK-950")["reserved"], 1, "all or nothing");
}
