//! The host against the probe component, over real HTTP.

mod common;

use std::sync::OnceLock;
use std::thread;

use common::*;

/// One host shared by the read-mostly tests (startup compiles every component).
fn shared() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| Host::start(&["--kv-memory", "--max-body-bytes", "4096"]))
}

#[test]
fn spin_headers_match_spin() {
    let h = shared();
    let r = h.get("/a/headers?x=1");
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    let hd = &j["headers"];
    assert_eq!(hd["spin-path-info"], "/headers");
    assert_eq!(hd["spin-matched-route"], "/a/...");
    assert_eq!(hd["spin-raw-component-route"], "/a/...");
    assert_eq!(hd["spin-component-route"], "/a");
    assert_eq!(hd["spin-base-path"], "/");
    assert_eq!(
        hd["spin-full-url"],
        format!("http://{}/a/headers?x=1", h.addr)
    );
    assert!(hd["spin-client-addr"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(j["query"], "x=1");

    let r = h.get("/items/42");
    assert_eq!(r.status, 200);
    let hd = &r.json()["headers"];
    assert_eq!(hd["spin-path-match-id"], "42");
    assert_eq!(hd["spin-matched-route"], "/items/:id");
    assert_eq!(hd["spin-path-info"], "");
}

#[test]
fn unknown_routes_are_404_json_and_private_components_unreachable() {
    let h = shared();
    for path in [
        "/",
        "/nope",
        "/items",
        "/items/1/2",
        "/probe-private/headers",
    ] {
        let r = h.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "route_not_found", "{path}");
    }
    // a spin.internal Host header from outside changes nothing
    let r = request(
        h.addr,
        "GET",
        "/headers",
        &[("host", "probe-private.spin.internal")],
        b"",
    );
    assert_eq!(r.status, 404);
}

#[test]
fn chaining_runs_the_private_component_in_process() {
    let h = shared();
    let r = h.get("/a/chain/probe-private/var/greeting");
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["status"], 200, "{j}");
    assert_eq!(j["body"], "private hello");
    // chained requests see the whole path as path info of a `/...` route
    let j = h.get("/a/chain/probe-private/headers").json();
    let inner: serde_json::Value = serde_json::from_str(j["body"].as_str().unwrap()).unwrap();
    assert_eq!(inner["headers"]["spin-path-info"], "/headers");
    assert_eq!(inner["headers"]["spin-matched-route"], "/...");
    // probe-a may not chain to probe-params: not in its allowed_outbound_hosts
    let r = h.get("/a/chain/probe-params/headers");
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().contains("HttpRequestDenied"), "{}", r.text());
}

#[test]
fn kv_labels_are_enforced_per_component() {
    let h = shared();
    // probe-private lists no stores
    let j = h.get("/a/chain/probe-private/kv/x").json();
    assert_eq!(j["status"], 403, "{j}");
    assert!(j["body"].as_str().unwrap().contains("AccessDenied"), "{j}");
    let j = h.get("/a/chain/probe-private/wkv-open").json();
    assert!(j["body"].as_str().unwrap().contains("AccessDenied"), "{j}");
    // a label nobody declared
    let r = h.get("/a/kv/x?store=orders");
    assert_eq!(r.status, 403);
    assert!(r.text().contains("AccessDenied"), "{}", r.text());
}

#[test]
fn spin_kv_roundtrip_shared_between_components() {
    let h = shared();
    assert_eq!(h.req("PUT", "/a/kv/greeting-key", b"ni hao").status, 200);
    let r = h.get("/a/kv/greeting-key");
    assert_eq!((r.status, r.text().as_str()), (200, "ni hao"));
    let keys = h.get("/a/kv-keys").json();
    assert!(keys.as_array().unwrap().iter().any(|k| k == "greeting-key"));
    assert_eq!(h.req("DELETE", "/a/kv/greeting-key", b"").status, 200);
    assert_eq!(h.get("/a/kv/greeting-key").status, 404);
}

#[test]
fn concurrent_increments_through_wasm_are_exact() {
    let h = shared();
    let addr = h.addr;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            thread::spawn(move || {
                for _ in 0..10 {
                    let r = request(addr, "POST", "/a/incr/hits", &[], b"");
                    assert_eq!(r.status, 200, "{}", r.text());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(h.req("POST", "/a/incr/hits?delta=0", b"").text(), "80");
}

#[test]
fn cas_increments_from_many_clients_are_exact() {
    let h = shared();
    let addr = h.addr;
    let threads: Vec<_> = (0..8)
        .map(|_| {
            thread::spawn(move || {
                for _ in 0..5 {
                    let r = request(addr, "POST", "/a/cas-incr/cas-counter", &[], b"");
                    assert_eq!(r.status, 200, "{}", r.text());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        h.req("POST", "/a/incr/cas-counter?delta=0", b"").text(),
        "40"
    );
}

#[test]
fn cas_failed_returns_a_fresh_handle_with_the_current_value() {
    let h = shared();
    let j = h.get("/a/cas-conflict/conflict-key").json();
    assert_eq!(j["stale_current"], serde_json::Value::Null, "{j}");
    assert_eq!(j["first"], "cas-failed", "{j}");
    assert_eq!(j["fresh_current"], "other", "{j}");
    assert_eq!(j["second"], "ok", "{j}");
    assert_eq!(j["final"], "mine", "{j}");
}

#[test]
fn batch_operations() {
    let h = shared();
    let j = h.get("/a/batch").json();
    assert_eq!(
        j["got"],
        serde_json::json!([["b2", "two"], ["missing", null], ["b1", "one"]])
    );
    assert_eq!(j["after"], serde_json::json!([["b1", null], ["b2", "two"]]));
}

#[test]
fn variables_resolve_templates_and_the_env_provider() {
    let h = shared();
    assert_eq!(h.get("/a/var/greeting").text(), "hello, world");
    assert_eq!(h.get("/a/var/key").text(), "k-123");
    let r = h.get("/a/var/api_key");
    assert_eq!(r.status, 404, "app variables are not visible unless mapped");
    assert!(r.text().contains("Undefined"), "{}", r.text());
    assert!(h.get("/a/var/Bad-Name").text().contains("InvalidName"));
}

#[test]
fn outbound_http_allowed_and_denied() {
    let h = shared();
    let fixture = fixture_server("bills-2026-11-24");
    let j = h
        .get(&format!("/a/outbound?url=http://{fixture}/bills"))
        .json();
    assert_eq!(j["status"], 200, "{j}");
    assert_eq!(j["body"], "bills-2026-11-24");
    // same server, but `localhost` is not in allowed_outbound_hosts
    let r = h.get(&format!(
        "/a/outbound?url=http://localhost:{}/bills",
        fixture.port()
    ));
    assert_eq!(r.status, 502);
    assert!(r.text().contains("HttpRequestDenied"), "{}", r.text());
    let log = h.log_when(|l| l.contains("denied outbound request"));
    assert!(log.contains("denied outbound request"), "{log}");
}

#[test]
fn a_trap_is_a_500_and_the_host_keeps_serving() {
    let h = shared();
    let r = h.get("/a/panic");
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["error"]["code"], "component_failed");
    assert_eq!(h.get("/a/headers").status, 200);
    let log = h.log_when(|l| l.contains("probe asked to panic") || l.contains("trap"));
    assert!(
        log.contains("probe asked to panic") || log.contains("trap"),
        "{log}"
    );
}

#[test]
fn body_limit_is_413_for_declared_and_chunked_bodies() {
    let h = shared();
    let r = h.req("POST", "/a/echo-len", &[b'x'; 5000]);
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["code"], "payload_too_large");
    let r = request(
        h.addr,
        "POST",
        "/a/echo-len",
        &[("transfer-encoding", "chunked")],
        &[b'x'; 5000],
    );
    assert_eq!(r.status, 413);
    let r = h.req("POST", "/a/echo-len", &[b'x'; 4000]);
    assert_eq!((r.status, r.text().as_str()), (200, "4000"));
    let r = request(
        h.addr,
        "POST",
        "/a/echo-len",
        &[("transfer-encoding", "chunked")],
        &[b'x'; 300],
    );
    assert_eq!((r.status, r.text().as_str()), (200, "300"));
}

#[test]
fn requests_are_logged() {
    let h = shared();
    h.get("/a/logged-path");
    let log = h.log_when(|l| l.contains("GET /a/logged-path"));
    assert!(
        log.lines()
            .any(|l| l.starts_with("GET /a/logged-path -> probe-a 200 ")),
        "{log}"
    );
}

#[test]
fn job_routes_need_the_bearer_token() {
    let h = shared();
    assert_eq!(h.req("POST", "/jobs/job", b"").status, 401);
    let r = request(
        h.addr,
        "POST",
        "/jobs/job",
        &[("authorization", "Bearer wrong")],
        b"",
    );
    assert_eq!(r.status, 401);
    let r = request(
        h.addr,
        "POST",
        "/jobs/job",
        &[("authorization", "Bearer test-job-token")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().starts_with("fired "));
}
