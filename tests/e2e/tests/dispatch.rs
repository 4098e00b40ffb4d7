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
