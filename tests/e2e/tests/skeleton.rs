//! The walking skeleton through real wasm: every component loads and answers, routing and
//! auth behave as Spin's, bad input gets clear errors.

use orderhub_e2e::*;

#[test]
fn every_component_loads_and_answers_health() {
    let app = App::start();
    let r = app.get("/health");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let components = v["components"].as_array().expect("components");
    assert_eq!(components.len(), 24, "{}", r.body);
    for c in components {
        assert_eq!(c["ok"], true, "{c}");
    }
}

#[test]
fn unknown_route_is_a_json_404() {
    let app = App::start();
    let r = app.get("/no/such/route");
    assert_eq!(r.status, 404);
}

#[test]
fn private_components_are_unreachable_from_outside() {
    let app = App::start();
    // `normalize` has only a private route: no public path reaches it.
    for path in ["/normalize", "/normalize/health", "/health/normalize"] {
        let r = app.get(path);
        assert!(
            r.status == 404 || r.status == 405,
            "{path}: {} {}",
            r.status,
            r.body
        );
    }
}

#[test]
fn scheduled_job_routes_require_the_job_token() {
    let app = App::start();
    let r = app.post("/jobs/merge/close-windows", &[], b"");
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "missing_token");
    let r = app.post(
        "/jobs/merge/close-windows",
        &[("authorization", "Bearer wrong")],
        b"",
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "bad_token");
}

#[test]
fn oversized_bodies_are_refused_with_413() {
    let app = App::spawn_host(&["--max-body-bytes", "1024"]);
    let body = vec![b'x'; 4096];
    let r = app.post(
        "/webhooks/meituan/order",
        &[("content-type", "application/x-www-form-urlencoded")],
        &body,
    );
    assert_eq!(r.status, 413, "{}", r.body);
}
