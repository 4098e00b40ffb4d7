//! Issue 6 end-to-end through the host: riders report in, parcels become ready, dispatch
//! gives each to a capable rider (frozen only to a freezer box), an impossible parcel
//! becomes an exception with its reason, and a rider going offline has its parcels
//! re-dispatched. Bodies are written here as plain JSON, not with the core's types.
//!
//! Parcels enter through `POST /jobs/dispatch/parcels` (job token), the operator's
//! manual entry point to the private `/parcels` the merge step calls.
//!
//! Dispatch works per station (站点): a run plans one station's riders and parcels
//! with that station's config. Every test works at a station of its own with riders
//! and parcels of its own (`orderhub_e2e::unique`), so the suite also runs, again and
//! again, against one long-running app with tests in parallel.

use std::collections::HashMap;
use std::time::Instant;

use orderhub_e2e::unique;
use orderhub_e2e::*;
use serde_json::{json, Value};

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

/// One test's station, and names of its own for riders and parcels.
struct Site {
    station: String,
    suffix: String,
}

impl Site {
    fn new() -> Self {
        Site {
            station: unique::named("st"),
            suffix: unique::id(),
        }
    }

    /// `name` made this test's own (riders and parcels are named across stations).
    fn id(&self, name: &str) -> String {
        format!("{name}-{}", self.suffix)
    }

    /// A parcel of this station (see [`parcel`]) with its own id.
    fn parcel(
        &self,
        name: &str,
        cold: &str,
        pickup: Option<(f64, f64)>,
        dropoff: Option<(f64, f64)>,
    ) -> Value {
        let mut p = parcel(&self.id(name), cold, pickup, dropoff);
        p["station"] = json!(self.station);
        p
    }

    fn report(&self, app: &App, rider: &str, lat: f64, lng: f64, insulated: bool, freezer: bool) {
        let body = json!({
            "position": { "x": lng, "y": lat },
            "shift_end": now() + 4 * 3600,
            "capacity": { "weight_g": 25_000, "volume_ml": 80_000, "parcels": 8 },
            "capabilities": { "insulated": insulated, "freezer": freezer },
            "online": true,
            "station": self.station,
        });
        let rider = self.id(rider);
        let r = post(app, &format!("/riders/{rider}/report"), RIDER_TOKEN, &body);
        assert_eq!(r.status, 200, "report {rider}: {}", r.body);
    }

    /// `POST /jobs/dispatch/tick` at this station only.
    fn tick(&self, app: &App) -> Reply {
        post(
            app,
            &format!("/jobs/dispatch/tick?station={}", self.station),
            JOB_TOKEN,
            &json!({}),
        )
    }

    fn config_path(&self) -> String {
        format!("/admin/dispatch/config?station={}", self.station)
    }
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
    let site = Site::new();
    let (freezer, insulated, bike) = (site.id("freezer"), site.id("insulated"), site.id("bike"));
    let p = |name: &str| site.id(name);
    site.report(&app, "freezer", 31.231, 121.474, true, true);
    site.report(&app, "insulated", 31.229, 121.472, true, false);
    site.report(&app, "bike", 31.232, 121.470, false, false);

    let mut big = site.parcel("huge", "ambient", Some(STORE), Some(near(9)));
    big["size"]["weight_g"] = json!(900_000);
    let batch = json!([
        site.parcel("frozen-1", "frozen", Some(STORE), Some(near(1))),
        site.parcel("chilled-1", "chilled", Some(STORE), Some(near(2))),
        site.parcel("ambient-1", "ambient", Some(STORE), Some(near(3))),
        site.parcel("ambient-2", "ambient", Some(STORE), Some(near(4))),
        site.parcel("ambient-3", "ambient", Some(STORE), Some(near(5))),
        site.parcel("nowhere", "ambient", Some(STORE), None),
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
    assert_eq!(out["station"], site.station.as_str(), "{}", r.body);

    assert_eq!(rider_of(&out, &p("frozen-1")), Some(freezer.clone()));
    let chilled = rider_of(&out, &p("chilled-1")).expect("chilled parcel assigned");
    assert_ne!(
        chilled, bike,
        "chilled goods need an insulated or freezer box"
    );
    for name in ["ambient-1", "ambient-2", "ambient-3"] {
        assert!(
            rider_of(&out, &p(name)).is_some(),
            "{name} unassigned: {}",
            r.body
        );
    }

    let nowhere = exception_of(&out, &p("nowhere")).expect("missing coordinates is an exception");
    assert_eq!(nowhere["reason"]["reason"], "missing_coordinates");
    assert_eq!(
        nowhere["order_ids"],
        json!([format!("order-{}", p("nowhere"))])
    );
    assert!(rider_of(&out, &p("nowhere")).is_none());
    let huge = exception_of(&out, &p("huge")).expect("an oversized parcel is an exception");
    assert_eq!(huge["reason"]["reason"], "too_large_for_any_rider");
    assert_eq!(out["exceptions"].as_array().unwrap().len(), 2, "{}", r.body);

    // The orders carried by the parcels record what happened to them.
    let events = |parcel: &str| -> Vec<Value> {
        let order = format!("order-{}", p(parcel));
        let r = app.get(&format!("/orders/{order}/history"));
        assert_eq!(r.status, 200, "{order}: {}", r.body);
        r.json()["events"].as_array().unwrap().clone()
    };
    assert!(
        events("frozen-1").iter().any(|e| e["type"] == "dispatched"
            && e["rider_id"] == freezer.as_str()
            && e["parcel_id"] == p("frozen-1").as_str()),
        "{:?}",
        events("frozen-1")
    );
    assert!(
        events("nowhere")
            .iter()
            .any(|e| e["type"] == "exception" && e["code"] == "bad_address"),
        "{:?}",
        events("nowhere")
    );
    assert!(events("huge")
        .iter()
        .any(|e| e["type"] == "exception" && e["code"] == "no_capable_rider"));

    // The rider's own view carries the route.
    let r = get(&app, &format!("/riders/{freezer}"), RIDER_TOKEN);
    assert_eq!(r.status, 200, "{}", r.body);
    let view = r.json();
    assert_eq!(view["station"], site.station.as_str(), "{}", r.body);
    let stops: Vec<&Value> = view["route"]["stops"].as_array().unwrap().iter().collect();
    assert!(stops
        .iter()
        .any(|s| s["parcel"] == p("frozen-1").as_str() && s["kind"] == "pickup"));
    assert!(stops
        .iter()
        .any(|s| s["parcel"] == p("frozen-1").as_str() && s["kind"] == "dropoff"));
    assert_eq!(
        get(&app, &format!("/riders/{}", p("nobody")), RIDER_TOKEN).status,
        404
    );

    // Why the freezer rider and not the bike: the bike has the wrong box.
    let r = get(
        &app,
        &format!(
            "/riders/explain?parcel={}&a={freezer}&b={bike}",
            p("frozen-1")
        ),
        &token("ops"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let why = r.json();
    assert_eq!(why["a"][1]["outcome"], "chosen", "{}", r.body);
    assert_eq!(why["b"][1]["outcome"], "impossible", "{}", r.body);
    assert_eq!(why["b"][1]["why"], "wrong_box", "{}", r.body);

    // A tick with nothing new keeps every assignment where it is.
    let r = site.tick(&app);
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
        .filter(|a| a["rider"] == freezer.as_str())
        .map(|a| a["parcel"].as_str().unwrap().to_string())
        .collect();
    let r = post(
        &app,
        &format!("/riders/{freezer}/report"),
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
    for parcel in &held {
        if *parcel == p("frozen-1") {
            let e = exception_of(again, parcel).expect("frozen parcel without a freezer rider");
            assert_eq!(e["reason"]["reason"], "no_capable_rider", "{}", r.body);
            assert_eq!(e["exception"]["code"], "no_capable_rider", "{}", r.body);
        } else {
            let to = rider_of(again, parcel)
                .unwrap_or_else(|| panic!("{parcel} not re-dispatched: {}", r.body));
            assert_ne!(to, freezer);
            if *parcel == p("chilled-1") {
                assert_eq!(to, insulated);
            }
        }
    }
    let r = get(&app, &format!("/riders/{freezer}"), RIDER_TOKEN);
    assert_eq!(r.json()["rider"]["online"], false);

    // A rider rejects a parcel: it goes to someone else and never back to them.
    let r = get(&app, &format!("/riders/{insulated}"), RIDER_TOKEN);
    let pickups: Vec<String> = r.json()["route"]["stops"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "pickup" && s["parcel"] != p("chilled-1").as_str())
        .map(|s| s["parcel"].as_str().unwrap().to_string())
        .collect();
    if let Some(parcel) = pickups.first() {
        let r = post(
            &app,
            &format!("/riders/{insulated}/reject"),
            RIDER_TOKEN,
            &json!({ "parcels": [parcel] }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            rider_of(&r.json()["redispatch"], parcel),
            Some(bike.clone()),
            "{}",
            r.body
        );
    }

    // The insulated rider picks the chilled parcel up and delivers it: the order's
    // history shows both and the parcel leaves the rider's route.
    for step in ["picked_up", "delivered"] {
        let r = post(
            &app,
            &format!("/riders/{insulated}/report"),
            RIDER_TOKEN,
            &json!({ step: [p("chilled-1")] }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let history = events("chilled-1");
    for kind in ["dispatched", "picked_up", "delivered"] {
        assert!(
            history.iter().any(|e| e["type"] == kind),
            "{kind}: {history:?}"
        );
    }
    let r = get(&app, &format!("/riders/{insulated}"), RIDER_TOKEN);
    let view = r.json();
    assert_eq!(view["rider"]["delivered_today"], 1, "{}", r.body);
    assert!(!view["rider"]["route"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["parcel"] == p("chilled-1").as_str()));

    // A rider with work at one station cannot move to another until it is done (the
    // ambient parcels are still out with the insulated rider or the bike).
    let busy = [&insulated, &bike]
        .into_iter()
        .find(|r| {
            let view = get(&app, &format!("/riders/{r}"), RIDER_TOKEN).json();
            !view["rider"]["route"].as_array().unwrap().is_empty()
        })
        .expect("the ambient parcels are on someone's route");
    let r = post(
        &app,
        &format!("/riders/{busy}/report"),
        RIDER_TOKEN,
        &json!({ "station": unique::named("st") }),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "rider_busy", "{}", r.body);
    let r = get(&app, &format!("/riders/{busy}"), RIDER_TOKEN);
    assert_eq!(r.json()["station"], site.station.as_str(), "{}", r.body);
}

#[test]
fn fifty_parcels_over_twenty_riders_timed_through_the_host() {
    let app = App::start();
    let site = Site::new();
    // Rider index by name, for the freezer check.
    let mut rider_index: HashMap<String, usize> = HashMap::new();
    for i in 0..20 {
        let (lat, lng) = near(i * 3 + 1);
        site.report(&app, &format!("r{i}"), lat, lng, i % 2 == 0, i % 4 == 0);
        rider_index.insert(site.id(&format!("r{i}")), i);
    }
    let colds = ["ambient", "ambient", "chilled", "frozen"];
    let mut timings = Vec::new();
    let mut core = Vec::new();
    for round in 0..3 {
        let mut parcel_index: HashMap<String, usize> = HashMap::new();
        let batch: Vec<Value> = (0..50)
            .map(|i| {
                let store = near(i % 4);
                let name = format!("b{round}-{i}");
                parcel_index.insert(site.id(&name), i);
                site.parcel(
                    &name,
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
                let i = parcel_index[a["parcel"].as_str().unwrap()];
                let r = rider_index[a["rider"].as_str().unwrap()];
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
        let r = site.tick(&app);
        assert_eq!(r.status, 200, "{}", r.body);
        ticks.push(started.elapsed().as_millis());
    }
    eprintln!(
        "dispatch 50 parcels x 20 riders via host: request ms per round {timings:?} \
         (core ms {core:?}); tick ms {ticks:?}"
    );
}

/// `/admin/dispatch/config[?station=]`: admin token only, refusals name their field,
/// and every run at a station loads what is stored for it: a configured service area
/// turns a far parcel into a bad-address exception, a lateness bound an impossible
/// window into one. A station without a config of its own runs with the app-wide one.
#[test]
fn stored_config_drives_dispatch_and_bad_configs_are_refused() {
    let app = App::start();
    let site = Site::new();
    let path = site.config_path();
    let r = app.admin("GET", &path, &Value::Null);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["stale_after"], 180, "default until one is stored");
    assert_eq!(r.json()["service_area"], Value::Null);
    let put = |token: &str, body: &Value| {
        let auth = format!("Bearer {token}");
        app.request(
            "PUT",
            &path,
            &[
                ("content-type", "application/json"),
                ("authorization", &auth),
            ],
            body.to_string().as_bytes(),
        )
    };
    assert_eq!(put(JOB_TOKEN, &json!({})).status, 401);
    assert_eq!(put(RIDER_TOKEN, &json!({})).status, 401);
    assert_eq!(app.request("GET", &path, &[], b"").status, 401);
    let r = app.admin("GET", "/admin/dispatch/config?station=a%2Fb", &Value::Null);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "bad_station", "{}", r.body);

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
        app.admin("GET", &path, &Value::Null).json()["stale_after"],
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
    let stored = app.admin("GET", &path, &Value::Null).json();
    assert_eq!(stored["max_lateness"], 600);
    assert_eq!(stored["weights"]["lateness"], 20.0);
    assert_eq!(
        stored["budget_millis"], 50,
        "absent fields take their defaults"
    );
    // Only this station runs with it: another station still has the app-wide one.
    let elsewhere = Site::new();
    let app_wide = app
        .admin("GET", "/admin/dispatch/config", &Value::Null)
        .json();
    let there = app
        .admin("GET", &elsewhere.config_path(), &Value::Null)
        .json();
    assert_eq!(there, app_wide);
    assert_ne!(there, stored);

    let bike = site.id("bike");
    site.report(&app, "bike", 31.231, 121.474, true, false);
    let mut too_late = site.parcel("too-late", "ambient", Some(STORE), Some(near(2)));
    too_late["promised_at"] = json!(now() - 3_600);
    let batch = json!([
        site.parcel("inside", "ambient", Some(STORE), Some(near(1))),
        // Hangzhou: a real address, outside this service area.
        site.parcel(
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
        rider_of(&out, &site.id("inside")),
        Some(bike.clone()),
        "{}",
        r.body
    );
    let far = exception_of(&out, &site.id("hangzhou")).expect("outside the area is an exception");
    assert_eq!(
        far["reason"]["reason"], "outside_service_area",
        "{}",
        r.body
    );
    assert_eq!(far["exception"]["code"], "bad_address", "{}", r.body);
    let late =
        exception_of(&out, &site.id("too-late")).expect("an impossible window is an exception");
    assert_eq!(late["reason"]["reason"], "window_impossible", "{}", r.body);
    let history = app
        .get(&format!("/orders/order-{}/history", site.id("hangzhou")))
        .json();
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
        &format!(
            "/riders/explain?parcel={}&a={bike}&b={bike}",
            site.id("inside")
        ),
        &token("ops"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Times and sizes far outside anything real are refused where they enter, with a code;
/// nothing of the request is stored and the board keeps working.
#[test]
fn extreme_times_and_sizes_are_refused_with_a_code() {
    let app = App::start();
    let site = Site::new();
    let bike = site.id("bike");
    site.report(&app, "bike", 31.231, 121.474, true, false);
    for (field, value) in [
        ("promised_at", json!(i64::MIN)),
        ("ready_at", json!(i64::MAX)),
        ("pickup_service", json!(-1)),
    ] {
        let mut bad = site.parcel("bad", "ambient", Some(STORE), Some(near(1)));
        bad[field] = value;
        let batch = json!([
            site.parcel("good", "ambient", Some(STORE), Some(near(2))),
            bad
        ]);
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
    let mut huge = site.parcel("bad", "ambient", Some(STORE), Some(near(1)));
    huge["size"]["weight_g"] = json!(i64::MAX);
    let r = post(&app, "/jobs/dispatch/parcels", JOB_TOKEN, &json!([huge]));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("size.weight_g"), "{}", r.body);
    let mut stray = site.parcel("stray", "ambient", Some(STORE), Some(near(1)));
    stray["station"] = json!("no/such");
    let r = post(&app, "/jobs/dispatch/parcels", JOB_TOKEN, &json!([stray]));
    assert_eq!(r.status, 400, "a station id that is none: {}", r.body);

    for body in [
        json!({ "free_at": i64::MAX }),
        json!({ "shift_end": i64::MIN }),
        json!({ "capacity": { "weight_g": -5, "volume_ml": 1, "parcels": 1 } }),
    ] {
        let r = post(&app, &format!("/riders/{bike}/report"), RIDER_TOKEN, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(
            r.json()["error"]["code"],
            "value_out_of_range",
            "{}",
            r.body
        );
    }
    // Nothing of the refused batches reached the board: the tick plans nothing.
    let r = site.tick(&app);
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
        &json!([site.parcel("fine", "ambient", Some(STORE), Some(near(3)))]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(rider_of(&r.json(), &site.id("fine")), Some(bike));
}

/// A rider silent for `release_stale_after × stale_after` loses its unpicked parcels to
/// the board at the next tick, and the tick says why.
#[test]
fn a_silent_rider_gives_its_unpicked_parcels_back_at_the_tick() {
    let app = App::start();
    let site = Site::new();
    let (quiet, chatty, p_quiet) = (site.id("quiet"), site.id("chatty"), site.id("p-quiet"));
    let r = app.admin(
        "PUT",
        &site.config_path(),
        &json!({ "stale_after": 1, "release_stale_after": 2 }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    site.report(&app, "quiet", 31.231, 121.474, true, false);
    let r = post(
        &app,
        "/jobs/dispatch/parcels",
        JOB_TOKEN,
        &json!([site.parcel("p-quiet", "ambient", Some(STORE), Some(near(1)))]),
    );
    assert_eq!(
        rider_of(&r.json(), &p_quiet),
        Some(quiet.clone()),
        "{}",
        r.body
    );
    std::thread::sleep(std::time::Duration::from_millis(3_500));
    site.report(&app, "chatty", 31.229, 121.472, true, false);
    // An all-stations tick (a scheduler's) may come first: whichever tick came first
    // did it.
    let r = site.tick(&app);
    assert_eq!(r.status, 200, "{}", r.body);
    if let Some(released) = r.json()["silent_released"].as_array() {
        assert!(
            released.iter().all(|x| x["rider"] == quiet.as_str()),
            "{}",
            r.body
        );
    }
    let r = get(&app, &format!("/riders/{quiet}"), RIDER_TOKEN);
    let why = &r.json()["silent_release"];
    assert_eq!(why["reopened"], json!([p_quiet]), "{}", r.body);
    assert_eq!(why["limit"], 2, "{}", r.body);
    assert!(why["silent_for"].as_i64().unwrap() > 2, "{}", r.body);
    assert!(
        r.json()["route"]["stops"].as_array().unwrap().is_empty(),
        "{}",
        r.body
    );
    let r = get(&app, &format!("/riders/{chatty}"), RIDER_TOKEN);
    let stops = r.json()["route"]["stops"].as_array().unwrap().clone();
    assert!(
        stops.iter().any(|s| s["parcel"] == p_quiet.as_str()),
        "{}",
        r.body
    );
}
