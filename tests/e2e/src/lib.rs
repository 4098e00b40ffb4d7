//! The end-to-end harness. Tests speak HTTP only, so the same suite runs against the
//! project's host or against a real Spin:
//!
//! - default: start `target/release/orderhub-host` (built by `scripts/build`) on a free
//!   loopback port with a fresh state directory, and stop it when the test ends;
//! - `ORDERHUB_URL=http://127.0.0.1:3000`: use an app that is already running
//!   (`spin up --runtime-config-file runtime-config.toml` with the dev variables).

pub mod meituan;
pub mod unique;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use serde_json::{json, Value};

/// The dev variable values `scripts/dev-env.sh` sets; tests sign with the same.
pub const JOB_TOKEN: &str = "dev-job-token";
pub const ADMIN_TOKEN: &str = "dev-admin-token";
pub const MEITUAN_SECRET: &str = "dev-meituan-secret";

pub struct App {
    pub base: String,
    child: Option<Child>,
    state_dir: Option<PathBuf>,
}

pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

impl App {
    /// The app under test: `ORDERHUB_URL` if set, else a fresh host of our own.
    pub fn start() -> App {
        if let Ok(url) = std::env::var("ORDERHUB_URL") {
            return App {
                base: url.trim_end_matches('/').to_string(),
                child: None,
                state_dir: None,
            };
        }
        Self::spawn_host(&[])
    }

    /// Always a host of our own (for tests that need a clean store or host flags).
    pub fn spawn_host(extra_args: &[&str]) -> App {
        // Same labels as runtime-config.toml, but every file in this test's own directory.
        let mut rc = String::new();
        for label in [
            "ingest",
            "orders",
            "merge",
            "stock",
            "dispatch",
            "reconcile",
            "catalog",
        ] {
            rc.push_str(&format!(
                "[key_value_store.{label}]\ntype = \"spin\"\npath = \"{label}.db\"\n\n"
            ));
        }
        Self::spawn_host_with_config(&rc, extra_args)
    }

    /// A host of our own with this runtime config (e.g. a Redis store), in a fresh
    /// state dir.
    pub fn spawn_host_with_config(runtime_config: &str, extra_args: &[&str]) -> App {
        static N: AtomicU32 = AtomicU32::new(0);
        let state = std::env::temp_dir().join(format!(
            "orderhub-e2e-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&state);
        std::fs::create_dir_all(&state).expect("state dir");
        std::fs::write(state.join("runtime-config.toml"), runtime_config).expect("runtime config");
        Self::launch(state, true, extra_args)
    }

    /// A second host process on this host's state dir and runtime config: both share
    /// the same stores (for multi-host concurrency tests). It leaves the dir to `self`.
    pub fn spawn_sibling(&self, extra_args: &[&str]) -> App {
        let state = self
            .state_dir
            .clone()
            .expect("sibling of a host we started");
        Self::launch(state, false, extra_args)
    }

    fn launch(state: PathBuf, owns_state: bool, extra_args: &[&str]) -> App {
        let root = repo_root();
        let host = root.join("target/release/orderhub-host");
        assert!(
            host.exists(),
            "{} is missing: run scripts/build first",
            host.display()
        );
        let rc_path = state.join("runtime-config.toml");
        let port = free_port();
        let mut cmd = Command::new(host);
        cmd.current_dir(&root)
            .args([
                "up",
                "--from",
                "spin.toml",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--runtime-config-file")
            .arg(&rc_path)
            .arg("--state-dir")
            .arg(&state)
            .args(extra_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in dev_variables() {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start orderhub-host");
        let stdout = child.stdout.take().expect("stdout");
        // Wait for the `Serving http://…` line, then keep draining stdout in the background.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && line.contains("Serving http://") {
                    let _ = tx.send(());
                    sent = true;
                }
            }
        });
        let app = App {
            base: format!("http://127.0.0.1:{port}"),
            child: Some(child),
            state_dir: owns_state.then_some(state),
        };
        rx.recv_timeout(Duration::from_secs(60))
            .expect("orderhub-host did not print `Serving http://` in 60 s");
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[], b"")
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        self.request("POST", path, headers, body)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let mut req = agent.request(method, &self.url(path));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let result = if method == "GET" {
            req.call()
        } else {
            req.send_bytes(body)
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = resp.status();
        let headers = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
            .collect();
        let body = resp.into_string().unwrap_or_default();
        Reply {
            status,
            body,
            headers,
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            // SIGTERM first so the host can shut down gracefully; kill if it does not.
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = &self.state_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl App {
    /// An admin-token call with a JSON body (`Value::Null`: no body).
    pub fn admin(&self, method: &str, path: &str, body: &Value) -> Reply {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        self.request(
            method,
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            &bytes,
        )
    }

    /// `units` of every SKU in one warehouse (`wh-e2e`), for tests whose orders should
    /// reserve cleanly: an SKU the ledger does not stock makes the order a restock
    /// exception. Replaces the stock catalog.
    pub fn stock_up(&self, skus: &[&str], units: i64) {
        let catalog = json!({
            "warehouses": [{ "id": "wh-e2e", "name": "E2E", "priority": 1 }],
            "channels": {},
        });
        let ok = |r: Reply, what: &str| assert_eq!(r.status, 200, "{what}: {}", r.body);
        ok(
            self.admin("PUT", "/admin/stock/catalog", &catalog),
            "catalog",
        );
        for sku in skus {
            ok(
                self.admin("PUT", &format!("/admin/stock/skus/{sku}"), &json!({})),
                "define sku",
            );
            let adjust = json!({
                "sku": sku, "warehouse": "wh-e2e", "change": { "set": units },
                "reason": "stocktake", "reference": format!("e2e-init-{sku}"),
            });
            ok(
                self.admin("POST", "/admin/stock/adjust", &adjust),
                "stock up",
            );
        }
    }
}

/// Whether the channel itself reported an event of `kind` in the order's history (the
/// order's status moves on as later pipeline steps, merge and dispatch, append theirs).
pub fn channel_reported(order: &Value, kind: &str) -> bool {
    order["history"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["source"]["kind"] == "channel" && e["type"] == kind)
}

pub fn dev_variables() -> Vec<(String, String)> {
    [
        ("job_token", JOB_TOKEN),
        ("admin_token", ADMIN_TOKEN),
        ("rider_token", "dev-rider-token"),
        ("meituan_secret", MEITUAN_SECRET),
        ("eleme_secret", "dev-eleme-secret"),
        ("app_secret", "dev-app-secret"),
        ("miniprogram_secret", "dev-miniprogram-secret"),
        ("pos_secret", "dev-pos-secret"),
        ("groupbuy_secret", "dev-groupbuy-secret"),
        (
            "ext_channel_secrets",
            r#"{"dingdong":"dev-dingdong-secret"}"#,
        ),
    ]
    .into_iter()
    .map(|(k, v)| (format!("SPIN_VARIABLE_{}", k.to_uppercase()), v.to_string()))
    .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Meituan's `sig`, computed here independently of the core: MD5 (lowercase hex) of
/// `url + "?" + sorted k=v joined by & + secret`.
pub fn meituan_sig(url_without_query: &str, params: &[(&str, String)], secret: &str) -> String {
    use md5::{Digest, Md5};
    let mut sorted: Vec<&(&str, String)> = params.iter().filter(|(k, _)| *k != "sig").collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let joined: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let text = format!("{url_without_query}?{}{secret}", joined.join("&"));
    hex::encode(Md5::digest(text.as_bytes()))
}

/// `application/x-www-form-urlencoded` body.
pub fn form_encode(params: &[(&str, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
