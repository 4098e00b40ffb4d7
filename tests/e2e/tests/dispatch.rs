//! Issue 6 end-to-end through the host: riders report in, parcels become ready, dispatch
//! gives each to a capable rider (frozen only to a freezer box), an impossible parcel
//! becomes an exception with its reason, and a rider going offline has its parcels
//! re-dispatched. Bodies are written here as plain JSON, not with the core's types.
//!
//! Parcels enter through `POST /jobs/dispatch/parcels` (job token), the operator's
//! manual entry point to the private `/parcels` the merge step calls.

use std::time::Instant;

use orderhub_e2e::*;
use serde_json::{json, Value};

const RIDER_TOKEN: &str = "dev-rider-token";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn post(app: &App, path: &str, token: &str, body: &Value) -> Reply {
    let auth = format!("Bearer {token}");
    app.request(
        "POST",
        path,
        &[
            ("content-type", "application/json"),
            ("authorization", &auth),
        ],
        body.to_string().as_bytes(),
    )
}

fn get(app: &App, path: &str, token: &str) -> Reply {
    let auth = format!("Bearer {token}");
    app.request("GET", path, &[("authorization", &auth)], b"")
}

fn report(app: &App, rider: &str, lat: f64, lng: f64, insulated: bool, freezer: bool) {
    let body = json!({
        "position": { "x": lng, "y": lat },
        "shift_end": now() + 4 * 3600,
        "capacity": { "weight_g": 25_000, "volume_ml": 80_000, "parcels": 8 },
        "capabilities": { "insulated": insulated, "freezer": freezer },
        "online": true,
    });
    let r = post(app, &format!("/riders/{rider}/report"), RIDER_TOKEN, &body);
    assert_eq!(r.status, 200, "report {rider}: {}", r.body);
}

fn parcel(id: &str, cold: &str, pickup: Option<(f64, f64)>, dropoff: Option<(f64, f64)>) -> Value {
    let pt = |p: Option<(f64, f64)>| p.map(|(lat, lng)| json!({ "x": lng, "y": lat }));
    json!({
        "id": id,
        "pickup": pt(pickup),
        "dropoff": pt(dropoff),
        "ready_at": now(),
        "promised_at": now() + 3600,
        "size": { "weight_g": 1_500, "volume_ml": 3_000, "parcels": 1 },
        "cold_chain": cold,
        "zone": null,
        "pickup_service": 60,
        "dropoff_service": 60,
        "order_ids": [format!("order-{id}")],
    })
}

const STORE: (f64, f64) = (31.2304, 121.4737);

fn near(i: usize) -> (f64, f64) {
    let k = i as f64;
    (
        31.2304 + 0.004 * (k % 5.0) - 0.008,
        121.4737 + 0.003 * (k % 7.0) - 0.009,
    )
}

fn rider_of(outcome: &Value, parcel: &str) -> Option<String> {
    outcome["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["parcel"] == parcel)
        .map(|a| a["rider"].as_str().unwrap().to_string())
}

fn exception_of<'a>(outcome: &'a Value, parcel: &str) -> Option<&'a Value> {
    outcome["exceptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["parcel"] == parcel)
}

#[test]
fn parcels_go_to_capable_riders_and_come_back_when_a_rider_leaves() {
    let app = App::start();
    report(&app, "freezer", 31.231, 121.474, true, true);
    report(&app, "insulated", 31.229, 121.472, true, false);
    report(&app, "bike", 31.232, 121.470, false, false);

    let mut big = parcel("huge", "ambient", Some(STORE), Some(near(9)));
    big["size"]["weight_g"] = json!(900_000);
    let batch = json!([
        parcel("frozen-1", "frozen", Some(STORE), Some(near(1))),
        parcel("chilled-1", "chilled", Some(STORE), Some(near(2))),
        parcel("ambient-1", "ambient", Some(STORE), Some(near(3))),
        parcel("ambient-2", "ambient", Some(STORE), Some(near(4))),
        parcel("ambient-3", "ambient", Some(STORE), Some(near(5))),
        parcel("nowhere", "ambient", Some(STORE), None),
        big,
    ]);

    // The manual entry point is not open to anyone.
    assert_eq!(
        post(&app, "/jobs/dispatch/parcels", "wrong", &batch).status,
        401
    );
    assert_eq!(
        post(&app, "/riders/x/report", "wrong", &json!({})).status,
        401
    );

    let r = post(&app, "/jobs/dispatch/parcels", JOB_TOKEN, &batch);
    assert_eq!(r.status, 200, "{}", r.body);
    let out = r.json();
    eprintln!(
        "dispatch: {}",
        serde_json::to_string_pretty(&out["assignments"]).unwrap()
    );

    assert_eq!(rider_of(&out, "frozen-1").as_deref(), Some("freezer"));
    let chilled = rider_of(&out, "chilled-1").expect("chilled parcel assigned");
    assert_ne!(
        chilled, "bike",
        "chilled goods need an insulated or freezer box"
    );
    for p in ["ambient-1", "ambient-2", "ambient-3"] {
        assert!(rider_of(&out, p).is_some(), "{p} unassigned: {}", r.body);
    }

    let nowhere = exception_of(&out, "nowhere").expect("missing coordinates is an exception");
    assert_eq!(nowhere["reason"]["reason"], "missing_coordinates");
    assert_eq!(nowhere["order_ids"], json!(["order-nowhere"]));
    assert!(rider_of(&out, "nowhere").is_none());
    let huge = exception_of(&out, "huge").expect("an oversized parcel is an exception");
    assert_eq!(huge["reason"]["reason"], "too_large_for_any_rider");
    assert_eq!(out["exceptions"].as_array().unwrap().len(), 2, "{}", r.body);

    // The orders carried by the parcels record what happened to them.
    let events = |order: &str| -> Vec<Value> {
        let r = app.get(&format!("/orders/{order}/history"));
        assert_eq!(r.status, 200, "{order}: {}", r.body);
        r.json()["events"].as_array().unwrap().clone()
    };
    assert!(
        events("order-frozen-1")
            .iter()
            .any(|e| e["type"] == "dispatched"
                && e["rider_id"] == "freezer"
                && e["parcel_id"] == "frozen-1"),
        "{:?}",
        events("order-frozen-1")
    );
    assert!(
        events("order-nowhere")
            .iter()
            .any(|e| e["type"] == "exception" && e["code"] == "bad_address"),
        "{:?}",
        events("order-nowhere")
    );
    assert!(events("order-huge")
        .iter()
        .any(|e| e["type"] == "exception" && e["code"] == "no_capable_rider"));

    // The rider's own view carries the route.
    let r = get(&app, "/riders/freezer", RIDER_TOKEN);
    assert_eq!(r.status, 200, "{}", r.body);
    let view = r.json();
    let stops: Vec<&Value> = view["route"]["stops"].as_array().unwrap().iter().collect();
    assert!(stops
        .iter()
        .any(|s| s["parcel"] == "frozen-1" && s["kind"] == "pickup"));
    assert!(stops
        .iter()
        .any(|s| s["parcel"] == "frozen-1" && s["kind"] == "dropoff"));
    assert_eq!(get(&app, "/riders/nobody", RIDER_TOKEN).status, 404);

    // Why the freezer rider and not the bike: the bike has the wrong box.
    let r = get(
        &app,
        "/riders/explain?parcel=frozen-1&a=freezer&b=bike",
        RIDER_TOKEN,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let why = r.json();
    assert_eq!(why["a"][1]["outcome"], "chosen", "{}", r.body);
    assert_eq!(why["b"][1]["outcome"], "impossible", "{}", r.body);
    assert_eq!(why["b"][1]["why"], "wrong_box", "{}", r.body);

    // A tick with nothing new keeps every assignment where it is.
    let r = post(&app, "/jobs/dispatch/tick", JOB_TOKEN, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json()["assignments"].as_array().unwrap().is_empty(),
        "{}",
        r.body
    );
    assert_eq!(
        post(&app, "/jobs/dispatch/tick", "wrong", &json!({})).status,
        401
    );

    // The freezer rider goes offline: its parcels are re-dispatched at once; the frozen
    // one has nobody left who can carry it.
    let held: Vec<String> = out["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["rider"] == "freezer")
        .map(|a| a["parcel"].as_str().unwrap().to_string())
        .collect();
    let r = post(
        &app,
        "/riders/freezer/report",
        RIDER_TOKEN,
        &json!({ "online": false }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let off = r.json();
    let mut reopened: Vec<String> = off["reopened"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    reopened.sort();
    let mut expected = held.clone();
    expected.sort();
    assert_eq!(reopened, expected, "{}", r.body);
    let again = &off["redispatch"];
    for p in &held {
        if p == "frozen-1" {
            let e = exception_of(again, p).expect("frozen parcel without a freezer rider");
            assert_eq!(e["reason"]["reason"], "no_capable_rider", "{}", r.body);
            assert_eq!(e["exception"]["code"], "no_capable_rider", "{}", r.body);
        } else {
            let to =
                rider_of(again, p).unwrap_or_else(|| panic!("{p} not re-dispatched: {}", r.body));
            assert_ne!(to, "freezer");
            if p == "chilled-1" {
                assert_eq!(to, "insulated");
            }
        }
    }
    let r = get(&app, "/riders/freezer", RIDER_TOKEN);
    assert_eq!(r.json()["rider"]["online"], false);

    // A rider rejects a parcel: it goes to someone else and never back to them.
    let r = get(&app, "/riders/insulated", RIDER_TOKEN);
    let pickups: Vec<String> = r.json()["route"]["stops"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "pickup" && s["parcel"] != "chilled-1")
        .map(|s| s["parcel"].as_str().unwrap().to_string())
        .collect();
    if let Some(p) = pickups.first() {
        let r = post(
            &app,
            "/riders/insulated/reject",
            RIDER_TOKEN,
            &json!({ "parcels": [p] }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            rider_of(&r.json()["redispatch"], p).as_deref(),
            Some("bike"),
            "{}",
            r.body
        );
    }

    // The insulated rider picks the chilled parcel up and delivers it: the order's
    // history shows both and the parcel leaves the rider's route.
    for step in ["picked_up", "delivered"] {
        let r = post(
            &app,
            "/riders/insulated/report",
            RIDER_TOKEN,
            &json!({ step: ["chilled-1"] }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let history = events("order-chilled-1");
    for kind in ["dispatched", "picked_up", "delivered"] {
        assert!(
            history.iter().any(|e| e["type"] == kind),
            "{kind}: {history:?}"
        );
    }
    let r = get(&app, "/riders/insulated", RIDER_TOKEN);
    let view = r.json();
    assert_eq!(view["rider"]["delivered_today"], 1, "{}", r.body);
    assert!(!view["rider"]["route"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["parcel"] == "chilled-1"));
}

#[test]
fn fifty_parcels_over_twenty_riders_timed_through_the_host() {
    let app = App::start();
    for i in 0..20 {
        let (lat, lng) = near(i * 3 + 1);
        report(&app, &format!("r{i}"), lat, lng, i % 2 == 0, i % 4 == 0);
    }
    let colds = ["ambient", "ambient", "chilled", "frozen"];
    let mut timings = Vec::new();
    let mut core = Vec::new();
    for round in 0..3 {
        let batch: Vec<Value> = (0..50)
            .map(|i| {
                let store = near(i % 4);
                parcel(
                    &format!("b{round}-{i}"),
                    colds[i % 4],
                    Some(store),
                    Some((near(i).0 + 0.01 * ((i % 3) as f64), near(i).1 + 0.007)),
                )
            })
            .collect();
        let started = Instant::now();
        let r = post(
            &app,
            "/jobs/dispatch/parcels",
            JOB_TOKEN,
            &Value::Array(batch),
        );
        timings.push(started.elapsed().as_millis());
        assert_eq!(r.status, 200, "{}", r.body);
        let out = r.json();
        core.push(out["dispatch_micros"].as_u64().unwrap() / 1000);
        if round == 0 {
            let n = out["assignments"].as_array().unwrap().len();
            assert!(n >= 40, "only {n} of 50 assigned: {}", r.body);
            for a in out["assignments"].as_array().unwrap() {
                let i: usize = a["parcel"].as_str().unwrap()[3..].parse().unwrap();
                let r: usize = a["rider"].as_str().unwrap()[1..].parse().unwrap();
                if colds[i % 4] == "frozen" {
                    assert_eq!(r % 4, 0, "frozen parcel on a rider without a freezer");
                }
            }
        }
        // Later rounds add to routes already holding the earlier parcels: the figure
        // for round 0 is the 50 x 20 one, the others show growth with committed work.
    }
    let mut ticks = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let r = post(&app, "/jobs/dispatch/tick", JOB_TOKEN, &json!({}));
        assert_eq!(r.status, 200, "{}", r.body);
        ticks.push(started.elapsed().as_millis());
    }
    eprintln!(
        "dispatch 50 parcels x 20 riders via host: request ms per round {timings:?} \
         (core ms {core:?}); tick ms {ticks:?}"
    );
}

/// `/admin/dispatch/config`: admin token only, refusals name their field, and every run
/// loads what is stored: a configured service area turns a far parcel into a bad-address
/// exception, a lateness bound an impossible window into one.
#[test]
fn stored_config_drives_dispatch_and_bad_configs_are_refused() {
    let app = App::start();
    let path = "/admin/dispatch/config";
    let r = app.admin("GET", path, &Value::Null);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["stale_after"], 180, "default until one is stored");
    assert_eq!(r.json()["service_area"], Value::Null);
    let put = |token: &str, body: &Value| {
        let auth = format!("Bearer {token}");
        app.request(
            "PUT",
            path,
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            body.to_string().as_bytes(),
        )
    };
    assert_eq!(put(JOB_TOKEN, &json!({})).status, 401);
    assert_eq!(put(RIDER_TOKEN, &json!({})).status, 401);
    assert_eq!(app.request("GET", path, &[], b"").status, 401);

    for (body, code, field) in [
        (json!([1]), "unreadable_config", "$"),
        (json!({ "stale_aftr": 60 }), "unknown_field", "stale_aftr"),
        (
            json!({ "weights": { "travel": -1 } }),
            "out_of_range",
            "weights.travel",
        ),
        (
            json!({ "budget_millis": "fast" }),
            "wrong_type",
            "budget_millis",
        ),
        (
            json!({ "max_lateness": 10_000_000 }),
            "out_of_range",
            "max_lateness",
        ),
        (
            json!({ "service_area": { "min": { "x": 122, "y": 31 }, "max": { "x": 121, "y": 32 } } }),
            "empty_service_area",
            "service_area",
        ),
    ] {
        let r = put(ADMIN_TOKEN, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let e = &r.json()["error"];
        assert_eq!(e["code"], code, "{body}: {}", r.body);
        assert_eq!(e["field"], field, "{body}: {}", r.body);
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Nothing refused was stored.
    assert_eq!(
        app.admin("GET", path, &Value::Null).json()["stale_after"],
        180
    );

    // Central Shanghai only, and at most 10 minutes late.
    let config = json!({
        "service_area": { "min": { "x": 121.40, "y": 31.18 }, "max": { "x": 121.55, "y": 31.28 } },
        "max_lateness": 600,
        "weights": { "lateness": 20, "travel": 1, "balance": 30 },
    });
    let r = put(ADMIN_TOKEN, &config);
    assert_eq!(r.status, 200, "{}", r.body);
    let stored = app.admin("GET", path, &Value::Null).json();
    assert_eq!(stored["max_lateness"], 600);
    assert_eq!(stored["weights"]["lateness"], 20.0);
    assert_eq!(
        stored["budget_millis"], 50,
        "absent fields take their defaults"
    );

    report(&app, "bike", 31.231, 121.474, true, false);
    let mut too_late = parcel("too-late", "ambient", Some(STORE), Some(near(2)));
    too_late["promised_at"] = json!(now() - 3_600);
    let batch = json!([
        parcel("inside", "ambient", Some(STORE), Some(near(1))),
        // Hangzhou: a real address, outside this service area.
        parcel(
            "hangzhou",
            "ambient",
            Some(STORE),
            Some((30.2741, 120.1551))
        ),
        too_late,
    ]);
    let r = post(&app, "/jobs/dispatch/parcels", JOB_TOKEN, &batch);
    assert_eq!(r.status, 200, "{}", r.body);
    let out = r.json();
    assert_eq!(
        rider_of(&out, "inside").as_deref(),
        Some("bike"),
        "{}",
        r.body
    );
    let far = exception_of(&out, "hangzhou").expect("outside the area is an exception");
    assert_eq!(
        far["reason"]["reason"], "outside_service_area",
        "{}",
        r.body
    );
    assert_eq!(far["exception"]["code"], "bad_address", "{}", r.body);
    let late = exception_of(&out, "too-late").expect("an impossible window is an exception");
    assert_eq!(late["reason"]["reason"], "window_impossible", "{}", r.body);
    let history = app.get("/orders/order-hangzhou/history").json();
    assert!(
        history["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "exception" && e["code"] == "bad_address"),
        "{history}"
    );
    // Explanations replay with the config the plan was made with.
    let r = get(
        &app,
        "/riders/explain?parcel=inside&a=bike&b=bike",
        RIDER_TOKEN,
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Times and sizes far outside anything real are refused where they enter, with a code;
/// nothing of the request is stored and the board keeps working.
#[test]
fn extreme_times_and_sizes_are_refused_with_a_code() {
    let app = App::start();
    report(&app, "bike", 31.231, 121.474, true, false);
    for (field, value) in [
        ("promised_at", json!(i64::MIN)),
        ("ready_at", json!(i64::MAX)),
        ("pickup_service", json!(-1)),
    ] {
        let mut bad = parcel("bad", "ambient", Some(STORE), Some(near(1)));
        bad[field] = value;
        let batch = json!([parcel("good", "ambient", Some(STORE), Some(near(2))), bad]);
        let r = post(&app, "/jobs/dispatch/parcels", JOB_TOKEN, &batch);
        assert_eq!(r.status, 400, "{field}: {}", r.body);
        assert_eq!(
            r.json()["error"]["code"],
            "value_out_of_range",
            "{}",
            r.body
        );
        assert!(r.body.contains(field), "{}", r.body);
    }
    let mut huge = parcel("bad", "ambient", Some(STORE), Some(near(1)));
    huge["size"]["weight_g"] = json!(i64::MAX);
    let r = post(&app, "/jobs/dispatch/parcels", JOB_TOKEN, &json!([huge]));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("size.weight_g"), "{}", r.body);

    for body in [
        json!({ "free_at": i64::MAX }),
        json!({ "shift_end": i64::MIN }),
        json!({ "capacity": { "weight_g": -5, "volume_ml": 1, "parcels": 1 } }),
    ] {
        let r = post(&app, "/riders/bike/report", RIDER_TOKEN, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(
            r.json()["error"]["code"],
            "value_out_of_range",
            "{}",
            r.body
        );
    }
    // Nothing of the refused batches reached the board: the tick plans nothing.
    let r = post(&app, "/jobs/dispatch/tick", JOB_TOKEN, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json()["assignments"].as_array().unwrap().is_empty(),
        "{}",
        r.body
    );
    let r = post(
        &app,
        "/jobs/dispatch/parcels",
        JOB_TOKEN,
        &json!([parcel("fine", "ambient", Some(STORE), Some(near(3)))]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(rider_of(&r.json(), "fine").as_deref(), Some("bike"));
}

/// A rider silent for `release_stale_after × stale_after` loses its unpicked parcels to
/// the board at the next tick, and the tick says why.
#[test]
fn a_silent_rider_gives_its_unpicked_parcels_back_at_the_tick() {
    let app = App::start();
    let r = app.admin(
        "PUT",
        "/admin/dispatch/config",
        &json!({ "stale_after": 1, "release_stale_after": 2 }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    report(&app, "quiet", 31.231, 121.474, true, false);
    let r = post(
        &app,
        "/jobs/dispatch/parcels",
        JOB_TOKEN,
        &json!([parcel("p-quiet", "ambient", Some(STORE), Some(near(1)))]),
    );
    assert_eq!(
        rider_of(&r.json(), "p-quiet").as_deref(),
        Some("quiet"),
        "{}",
        r.body
    );
    std::thread::sleep(std::time::Duration::from_millis(3_500));
    report(&app, "chatty", 31.229, 121.472, true, false);
    // The host fires the minute's tick on its own too: whichever tick came first did it.
    let r = post(&app, "/jobs/dispatch/tick", JOB_TOKEN, &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    if let Some(released) = r.json()["silent_released"].as_array() {
        assert!(released.iter().all(|x| x["rider"] == "quiet"), "{}", r.body);
    }
    let r = get(&app, "/riders/quiet", RIDER_TOKEN);
    let why = &r.json()["silent_release"];
    assert_eq!(why["reopened"], json!(["p-quiet"]), "{}", r.body);
    assert_eq!(why["limit"], 2, "{}", r.body);
    assert!(why["silent_for"].as_i64().unwrap() > 2, "{}", r.body);
    assert!(
        r.json()["route"]["stops"].as_array().unwrap().is_empty(),
        "{}",
        r.body
    );
    let r = get(&app, "/riders/chatty", RIDER_TOKEN);
    let stops = r.json()["route"]["stops"].as_array().unwrap().clone();
    assert!(stops.iter().any(|s| s["parcel"] == "p-quiet"), "{}", r.body);
}
