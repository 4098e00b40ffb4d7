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
    assert_eq!(components.len(), 26, "{}", r.body);
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

/// Spin has no request-body limit, so every component reads its body with a ceiling
/// of its own (`orderhub_core::limits`): over it, 413 with the JSON error, whether the
/// length was declared or the body was streamed (chunked), and the app keeps serving.
#[test]
fn oversized_bodies_are_refused_with_413() {
    let app = App::start();
    let over = vec![b'x'; (4 << 20) + 1];
    let form = ("content-type", "application/x-www-form-urlencoded");
    let r = app.post("/webhooks/meituan/order", &[form], &over);
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "body_too_large", "{}", r.body);

    // Streamed without a length: cut off at the ceiling, same answer.
    let chunked = ureq::post(&app.url("/admin/stock/catalog"))
        .set(
            "authorization",
            &format!("Bearer {}", orderhub_e2e::ADMIN_TOKEN),
        )
        .send(std::io::Cursor::new(vec![b' '; (8 << 20) + 1]));
    let reply = match chunked {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("chunked body: {e}"),
    };
    assert_eq!(reply.status(), 413);
    let body: serde_json::Value = serde_json::from_str(&reply.into_string().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "body_too_large");

    // A body within the channel's own limit but over the webhook ceiling's share for
    // Meituan (256 KiB) gets the channel's answer.
    let r = app.post(
        "/webhooks/meituan/order",
        &[form],
        &vec![b'x'; (256 << 10) + 1],
    );
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "body_too_large", "{}", r.body);

    assert_eq!(app.get("/health").status, 200);
}
