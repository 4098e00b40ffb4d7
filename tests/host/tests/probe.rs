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

/// Mirrors `crates/trigger-http/src/server.rs` `not_found` (Spin v3.6.3):
/// 404 with an empty body and no content-type, measured on real Spin as
/// `HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\ndate: ...`.
#[test]
fn unknown_routes_get_spins_empty_404_and_private_components_are_unreachable() {
    let h = shared();
    for path in [
        "/",
        "/nope",
        "/items",
        "/items/1/2",
        "/probe-private/headers",
    ] {
        let r = h.get(path);
        assert_spin_empty(&r, 404, path);
    }
    // a spin.internal Host header from outside changes nothing
    let r = request(
        h.addr,
        "GET",
        "/headers",
        &[("host", "probe-private.spin.internal")],
        b"",
    );
    assert_spin_empty(&r, 404, "/headers");
}

/// Mirrors `crates/trigger-http/src/server.rs` `handle`: Spin answers
/// `/.well-known/spin/health` and `/info` itself, before any app route.
#[test]
fn spins_well_known_routes() {
    let h = shared();
    let r = h.get("/.well-known/spin/health");
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    assert_eq!(r.header("content-type"), None);
    let r = h.get("/.well-known/spin/info");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text(), "{\n  \"name\": \"host-probe\"\n}");
    assert_spin_empty(&h.get("/.well-known/spin/other"), 404, "other");
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
    // a chained component that traps answers Spin's empty 500 to its caller
    let j = h.get("/a/chain/probe-private/panic").json();
    assert_eq!(j, serde_json::json!({ "status": 500, "body": "" }));
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

/// Mirrors `crates/key-value-spin/src/store.rs`: on a key that already
/// holds a value, compare-and-swap is `UPDATE ... WHERE value = old`, so CAS
/// increments from many clients are exact (SPIN.md measured the same).
#[test]
fn cas_increments_from_many_clients_on_an_initialised_key_are_exact() {
    let h = shared();
    let addr = h.addr;
    // an absent key would let concurrent first writers all win (see below)
    assert_eq!(
        h.req("POST", "/a/incr/cas-counter?delta=0", b"").text(),
        "0"
    );
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

/// Mirrors `crates/key-value-spin/src/store.rs` `CompareAndSwap::swap` and
/// `crates/factor-key-value/src/host.rs` `swap`: a changed value fails the
/// swap with a fresh handle already loaded with the new value; but a handle
/// that saw no value upserts over whatever is there. Real Spin v3.6.3
/// answered exactly these two documents.
#[test]
fn cas_conflicts_as_on_spins_sqlite_store() {
    let h = shared();
    assert_eq!(h.req("PUT", "/a/kv/conflict-key", b"orig").status, 200);
    let j = h.get("/a/cas-conflict/conflict-key").json();
    assert_eq!(
        j,
        serde_json::json!({"final":"mine","first":"cas-failed","fresh_current":"other","second":"ok","stale_current":"orig"})
    );
    let j = h.get("/a/cas-conflict/conflict-absent").json();
    assert_eq!(
        j,
        serde_json::json!({"final":"mine","first":"ok","fresh_current":null,"second":"not-tried","stale_current":null})
    );
}

/// Mirrors `crates/key-value-spin/src/store.rs` `get_many` (`key IN
/// rarray(...)`): only the keys that exist, in index order, not one entry per
/// requested key; real Spin v3.6.3 answered this same document.
#[test]
fn batch_operations_as_on_spins_sqlite_store() {
    let h = shared();
    let j = h.get("/a/batch").json();
    assert_eq!(
        j,
        serde_json::json!({"after":[["b2","two"]],"got":[["b1","one"],["b2","two"]]})
    );
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

/// Mirrors `crates/trigger-http/src/server.rs` `internal_error(None, ..)`
/// (Spin v3.6.3): a trap is a 500 with an empty body and no content-type,
/// measured on real Spin as `HTTP/1.1 500 Internal Server Error\r\nconnection:
/// close\r\ncontent-length: 0\r\ndate: ...`.
#[test]
fn a_trap_is_spins_empty_500_and_the_host_keeps_serving() {
    let h = shared();
    let r = h.get("/a/panic");
    assert_spin_empty(&r, 500, "/a/panic");
    assert_eq!(h.get("/a/headers").status, 200);
    let log = h.log_when(|l| l.contains("probe asked to panic") || l.contains("trap"));
    assert!(
        log.contains("probe asked to panic") || log.contains("trap"),
        "{log}"
    );
}

/// `--max-body-bytes` is the host's own limit (Spin has none; off by default).
#[test]
fn body_limit_when_asked_is_413_for_declared_and_chunked_bodies() {
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
