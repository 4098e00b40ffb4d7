//! Startup errors, jobs, graceful shutdown, and two hosts sharing one store.

mod common;

use std::thread;
use std::time::Duration;

use common::*;

#[test]
fn missing_required_variable_is_a_startup_error() {
    let out = run_cli(
        &[
            "up",
            "--from",
            &path_str(&manifest()),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("variables.api_key") && err.contains("SPIN_VARIABLE_API_KEY"),
        "{err}"
    );
}

#[test]
fn undeclared_store_label_is_a_startup_error() {
    let dir = temp_state_dir("label");
    let text = std::fs::read_to_string(manifest())
        .unwrap()
        .replace(
            "key_value_stores = [\"default\"]\n[component.probe-a.variables]",
            "key_value_stores = [\"default\", \"orders\"]\n[component.probe-a.variables]",
        )
        .replace(
            "../../../target",
            &path_str(&host_dir().join("../../target")),
        );
    let m = dir.join("spin.toml");
    std::fs::write(&m, text).unwrap();
    let out = run_cli(
        &["up", "--from", &path_str(&m)],
        &[("SPIN_VARIABLE_API_KEY", "k")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("component.probe-a.key_value_stores: store 'orders' is not defined"),
        "{err}"
    );

    // declared in a runtime config, it starts (and `jobs list` needs no build)
    std::fs::write(
        dir.join("rc.toml"),
        "[key_value_store.orders]\ntype = \"spin\"\npath = \"orders.db\"\n",
    )
    .unwrap();
    let out = run_cli(
        &[
            "jobs",
            "run",
            "ping",
            "--from",
            &path_str(&m),
            "--runtime-config-file",
            &path_str(&dir.join("rc.toml")),
            "--state-dir",
            &path_str(&dir),
        ],
        &[("SPIN_VARIABLE_API_KEY", "k")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("orders.db").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn jobs_list_and_run_with_the_bearer_token() {
    let dir = temp_state_dir("jobs");
    let out = run_cli(&["jobs", "list", "--from", &path_str(&manifest())], &[]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        listing.contains("ping\t0 3 * * *\tAsia/Shanghai\tPOST /jobs/job\tprobe-jobs"),
        "{listing}"
    );
    let args = [
        "jobs",
        "run",
        "ping",
        "--from",
        &path_str(&manifest()),
        "--state-dir",
        &path_str(&dir),
    ];
    let env = [("SPIN_VARIABLE_API_KEY", "k")];
    let out = run_cli(&args, &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "200 fired 1");
    // the default store is a SQLite file under the state dir: the count persists
    let out = run_cli(&args, &env);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "200 fired 2");
    assert!(dir.join("sqlite_key_value.db").is_file());
    let out = run_cli(
        &[
            "jobs",
            "run",
            "nope",
            "--kv-memory",
            "--from",
            &path_str(&manifest()),
        ],
        &env,
    );
    assert!(!out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_finishes_in_flight_requests_and_exits_zero() {
    let mut h = Host::start(&["--kv-memory"]);
    let addr = h.addr;
    let slow = thread::spawn(move || request(addr, "GET", "/a/sleep?ms=1500", &[], b""));
    thread::sleep(Duration::from_millis(400));
    let status = h.terminate();
    let r = slow.join().unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "slept"));
    assert!(status.success(), "{status:?}\n{}", h.log());
}

#[test]
fn two_hosts_share_one_sqlite_store() {
    let dir = temp_state_dir("shared");
    let state = path_str(&dir);
    let a = Host::start(&["--state-dir", &state]);
    let b = Host::start(&["--state-dir", &state]);
    let threads: Vec<_> = [a.addr, b.addr, a.addr, b.addr]
        .into_iter()
        .map(|addr| {
            thread::spawn(move || {
                for _ in 0..15 {
                    let r = request(addr, "POST", "/a/cas-incr/both", &[], b"");
                    assert_eq!(r.status, 200, "{}", r.text());
                    let r = request(addr, "POST", "/a/incr/inc", &[], b"");
                    assert_eq!(r.status, 200, "{}", r.text());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(a.req("POST", "/a/incr/both?delta=0", b"").text(), "60");
    assert_eq!(b.req("POST", "/a/incr/inc?delta=0", b"").text(), "60");
    drop(a);
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_hosts_share_one_redis_store() {
    let Some(redis) = RedisServer::start() else {
        eprintln!("redis-server not installed: skipping");
        return;
    };
    let dir = temp_state_dir("redis");
    let rc = dir.join("rc.toml");
    std::fs::write(
        &rc,
        format!(
            "[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n",
            redis.url
        ),
    )
    .unwrap();
    let rc = path_str(&rc);
    let a = Host::start(&["--runtime-config-file", &rc]);
    let b = Host::start(&["--runtime-config-file", &rc]);
    let threads: Vec<_> = [a.addr, b.addr, a.addr, b.addr]
        .into_iter()
        .map(|addr| {
            thread::spawn(move || {
                for _ in 0..10 {
                    let r = request(addr, "POST", "/a/cas-incr/both", &[], b"");
                    assert_eq!(r.status, 200, "{}", r.text());
                    let r = request(addr, "POST", "/a/incr/inc", &[], b"");
                    assert_eq!(r.status, 200, "{}", r.text());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(b.req("POST", "/a/incr/inc?delta=0", b"").text(), "40");
    let j = a.get("/a/cas-conflict/redis-conflict").json();
    assert_eq!(
        (j["first"].as_str(), j["second"].as_str()),
        (Some("cas-failed"), Some("ok")),
        "{j}"
    );
    assert_eq!(j["final"], "mine");
    // the CAS counter is exact too (8-byte values written by the probe)
    let r = a.req("POST", "/a/cas-incr/both", b"");
    assert_eq!(r.json()["value"], 41);
    drop(a);
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}
