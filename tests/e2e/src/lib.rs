//! The end-to-end harness. Tests speak HTTP only, so the same suite runs against
//! orderhub-host, against real Spin, or against an app that is already running:
//!
//! - `ORDERHUB_E2E_RUNTIME=host` (default): each test starts `target/release/orderhub-host`
//!   (built by `scripts/build`) on a free loopback port with a fresh state directory;
//! - `ORDERHUB_E2E_RUNTIME=spin`: each test starts real `spin up` the same way (the binary
//!   from `ORDERHUB_SPIN`, else `spin` on PATH, else `../shared/tools/spin/v3.6.3/spin`);
//! - `ORDERHUB_E2E_REDIS=redis://127.0.0.1:PORT`: every store label of a started app is on
//!   that Redis server, in a database of its own (numbered by `INCR` on database 0, so
//!   parallel test processes never share one); unset, every label is a SQLite file in the
//!   app's state directory;
//! - `ORDERHUB_URL=http://127.0.0.1:3000`: [`App::start`] uses that running app instead
//!   (tests keep their data apart by unique ids, so one long-running app serves the whole
//!   suite, again and again).
//!
//! Started apps run no scheduler (as `spin up`, which fires nothing): tests call the job
//! routes themselves when they need time to pass. State directories live under the
//! system temp dir, never in the checkout's `.spin/`.

pub mod meituan;
pub mod platform;
pub mod unique;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use serde_json::{json, Value};

/// The dev variable values `scripts/dev-env.sh` sets; tests sign with the same.
pub const JOB_TOKEN: &str = "dev-job-token";
pub const ADMIN_TOKEN: &str = "dev-admin-token";
pub const RIDER_TOKEN: &str = "dev-rider-token";
pub const MEITUAN_SECRET: &str = "dev-meituan-secret";
/// The development signing key (`auth_keys = "dev1:…"` in `scripts/dev-env.sh`).
pub const DEV_KEY_ID: &str = "dev1";
pub const DEV_KEY_SECRET: &str = "orderhub-development-signing-key-0001";

/// Every key-value label `spin.toml` uses.
pub const STORE_LABELS: [&str; 9] = [
    "ingest",
    "catalog",
    "orders",
    "merge",
    "stock",
    "dispatch",
    "reconcile",
    "auth",
    "audit",
];

/// A JWT (HS256) over `claims` with key `kid`/`secret`, built here independently of the
/// core's token code: base64url(header).base64url(claims).base64url(HMAC-SHA256).
pub fn jwt(kid: &str, secret: &str, claims: &Value) -> String {
    use hmac::{Hmac, Mac};
    let header = json!({ "alg": "HS256", "typ": "JWT", "kid": kid });
    let signing_input = format!(
        "{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes())
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        base64url(&mac.finalize().into_bytes())
    )
}

pub fn base64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// A signed token for `role` (`cs`, `rider:r-1`, …) and `subject`, valid for an hour,
/// with the development key.
pub fn token_for(role: &str, subject: &str) -> String {
    let now = unix_now();
    jwt(
        DEV_KEY_ID,
        DEV_KEY_SECRET,
        &json!({ "iss": "orderhub", "sub": subject, "role": role, "iat": now, "exp": now + 3600 }),
    )
}

/// A signed token for `role`, subject `e2e`.
pub fn token(role: &str) -> String {
    token_for(role, "e2e")
}

pub struct App {
    pub base: String,
    child: Option<Child>,
    state_dir: Option<PathBuf>,
    _redis: Option<std::sync::Arc<RedisServer>>,
    variables: Vec<(String, String)>,
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

/// Which runtime serves the apps this test process starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    Host,
    Spin(PathBuf),
}

impl Runtime {
    /// From `ORDERHUB_E2E_RUNTIME` (`host`, the default, or `spin`).
    pub fn from_env() -> Runtime {
        match std::env::var("ORDERHUB_E2E_RUNTIME").as_deref() {
            Ok("spin") => Runtime::Spin(
                spin_binary().expect(
                    "ORDERHUB_E2E_RUNTIME=spin but no Spin binary: set ORDERHUB_SPIN, put spin on PATH, or keep ../shared/tools/spin beside the repo",
                ),
            ),
            Ok("host") | Ok("") | Err(_) => Runtime::Host,
            Ok(other) => panic!("ORDERHUB_E2E_RUNTIME={other}: expected `host` or `spin`"),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Runtime::Host => "orderhub-host",
            Runtime::Spin(_) => "spin",
        }
    }
}

/// The Spin CLI to test with: `ORDERHUB_SPIN`, else `spin` on PATH, else the team's copy
/// of v3.6.3 beside the repo.
pub fn spin_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ORDERHUB_SPIN") {
        return Some(PathBuf::from(p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("spin");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let beside = repo_root().join("../shared/tools/spin/v3.6.3/spin");
    beside.is_file().then_some(beside)
}

/// Where a started app keeps its stores.
enum Stores {
    /// One SQLite file per label in the app's state directory.
    Sqlite,
    /// Every label on this Redis database (`redis://host:port/db`).
    Redis(String),
}

impl Stores {
    fn runtime_config(&self, state: &Path) -> String {
        let mut rc = String::new();
        for label in STORE_LABELS {
            match self {
                Stores::Sqlite => rc.push_str(&format!(
                    "[key_value_store.{label}]\ntype = \"spin\"\npath = \"{}\"\n\n",
                    state.join(format!("{label}.db")).display()
                )),
                Stores::Redis(url) => rc.push_str(&format!(
                    "[key_value_store.{label}]\ntype = \"redis\"\nurl = \"{url}\"\n\n"
                )),
            }
        }
        rc
    }
}

impl App {
    /// The app under test: `ORDERHUB_URL` if set, else a fresh app of our own.
    pub fn start() -> App {
        if let Ok(url) = std::env::var("ORDERHUB_URL") {
            return App {
                base: url.trim_end_matches('/').to_string(),
                child: None,
                state_dir: None,
                _redis: None,
                variables: Vec::new(),
            };
        }
        Self::start_own(&[])
    }

    /// Always an app of our own (runtime and stores as the environment says), with
    /// these extra application variables (`("bill_source_url", "http://…")`).
    pub fn start_own(variables: &[(&str, &str)]) -> App {
        let (stores, redis) = match std::env::var("ORDERHUB_E2E_REDIS") {
            Ok(url) if !url.is_empty() => (Stores::Redis(fresh_redis_db(&url)), None),
            _ => (Stores::Sqlite, None),
        };
        Self::launch_new(&Runtime::from_env(), stores, redis, variables)
    }

    /// Two apps of our own sharing every store on one Redis database: how orderhub scales
    /// out (SpinKube replicas over Redis). Uses `ORDERHUB_E2E_REDIS` when set, else a
    /// `redis-server` of the test's own.
    pub fn start_pair_on_redis() -> (App, App) {
        let (url, server) = match std::env::var("ORDERHUB_E2E_REDIS") {
            Ok(url) if !url.is_empty() => (fresh_redis_db(&url), None),
            _ => {
                let server = std::sync::Arc::new(RedisServer::start());
                (server.url(), Some(server))
            }
        };
        let runtime = Runtime::from_env();
        let first = Self::launch_new(&runtime, Stores::Redis(url.clone()), server.clone(), &[]);
        let second = Self::launch_new(&runtime, Stores::Redis(url), server, &[]);
        (first, second)
    }

    /// An app of our own with this runtime config (for host-specific benchmarks).
    pub fn start_with_runtime_config(runtime_config: &str) -> App {
        let state = fresh_state_dir();
        std::fs::write(state.join("runtime-config.toml"), runtime_config).expect("runtime config");
        Self::launch(&Runtime::from_env(), state, None, &[])
    }

    fn launch_new(
        runtime: &Runtime,
        stores: Stores,
        redis: Option<std::sync::Arc<RedisServer>>,
        variables: &[(&str, &str)],
    ) -> App {
        let state = fresh_state_dir();
        std::fs::write(
            state.join("runtime-config.toml"),
            stores.runtime_config(&state),
        )
        .expect("runtime config");
        Self::launch(runtime, state, redis, variables)
    }

    fn launch(
        runtime: &Runtime,
        state: PathBuf,
        redis: Option<std::sync::Arc<RedisServer>>,
        variables: &[(&str, &str)],
    ) -> App {
        Self::launch_at(runtime, state, redis, variables, free_port())
    }

    fn launch_at(
        runtime: &Runtime,
        state: PathBuf,
        redis: Option<std::sync::Arc<RedisServer>>,
        variables: &[(&str, &str)],
        port: u16,
    ) -> App {
        let root = repo_root();
        let rc_path = state.join("runtime-config.toml");
        let listen = format!("127.0.0.1:{port}");
        let mut cmd = match runtime {
            Runtime::Host => {
                let host = root.join("target/release/orderhub-host");
                assert!(
                    host.exists(),
                    "{} is missing: run scripts/build first",
                    host.display()
                );
                let mut cmd = Command::new(host);
                cmd.args([
                    "up",
                    "--from",
                    "spin.toml",
                    "--listen",
                    &listen,
                    "--no-schedules",
                ]);
                cmd
            }
            Runtime::Spin(spin) => {
                let mut cmd = Command::new(spin);
                cmd.args(["up", "--from", "spin.toml", "--listen", &listen]);
                cmd
            }
        };
        // A group of its own: `spin up` runs its trigger as a child process, and a kill -9
        // must take the whole app down, as a crashed pod's would go.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.current_dir(&root)
            .arg("--runtime-config-file")
            .arg(&rc_path)
            .arg("--state-dir")
            .arg(&state)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in dev_variables() {
            cmd.env(k, v);
        }
        for (k, v) in variables {
            cmd.env(format!("SPIN_VARIABLE_{}", k.to_uppercase()), v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", runtime.name()));
        // Wait for the `Serving http://…` line (Spin prints it on stderr, the host on
        // stdout), then keep draining both; stderr is passed on for the test's log.
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        watch_output(stdout, tx.clone(), false);
        watch_output(stderr, tx, true);
        let app = App {
            base: format!("http://{listen}"),
            child: Some(child),
            state_dir: Some(state),
            _redis: redis,
            variables: variables
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        rx.recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| {
                panic!(
                    "{} did not print `Serving http://` in 120 s",
                    runtime.name()
                )
            });
        app
    }

    /// `kill -9` the app (no shutdown of any kind), then start it again on the same
    /// state, stores and address: what a crashed pod's replacement sees.
    pub fn kill_and_restart(&mut self) {
        self.kill_9();
        self.restart();
    }

    /// `kill -9` the app, every process of it (SIGKILL: nothing is flushed, nothing
    /// finishes).
    pub fn kill_9(&mut self) {
        let child = self.child.as_mut().expect("an app of our own");
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Start the killed app again on the same state, stores and address.
    pub fn restart(&mut self) {
        let state = self.state_dir.take().expect("an app of our own");
        let port: u16 = self
            .base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port");
        let variables = std::mem::take(&mut self.variables);
        let vars: Vec<(&str, &str)> = variables
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.child = None;
        let fresh = Self::launch_at(&Runtime::from_env(), state, self._redis.take(), &vars, port);
        *self = fresh;
    }

    /// The process id of an app this test started (`None` for `ORDERHUB_URL`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET` as customer service (a signed `cs` token: orders in full); use
    /// [`App::get_as`] for another credential and [`App::send`] for none.
    pub fn get(&self, path: &str) -> Reply {
        self.get_as(path, &token("cs"))
    }

    /// `GET` with `Authorization: Bearer <bearer>`.
    pub fn get_as(&self, path: &str, bearer: &str) -> Reply {
        let auth = format!("Bearer {bearer}");
        self.request("GET", path, &[("authorization", &auth)], b"")
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        self.request("POST", path, headers, body)
    }

    /// A request; a webhook push the app acknowledged into its intake inbox is
    /// followed until its tick went through the pipeline (the app answers first and
    /// runs the pipeline after), so a test reads what the push did. `send` does not wait.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let reply = self.send(method, path, headers, body);
        if let Some(intake) = reply.header("x-orderhub-intake") {
            self.wait_drained(intake);
        }
        reply
    }

    /// Poll `GET /jobs/pipeline/intake?tick=` until the tick of `intake` (`{tick}/{slot}`,
    /// the webhook's header) is drained up to that slot. Its drainer starts about 0.2 s
    /// after the tick; a minute without is a failure.
    pub fn wait_drained(&self, intake: &str) {
        let (tick, slot) = intake
            .split_once('/')
            .and_then(|(t, s)| Some((t.parse::<i64>().ok()?, s.parse::<i64>().ok()?)))
            .unwrap_or_else(|| panic!("x-orderhub-intake `{intake}` is not tick/slot"));
        let auth = format!("Bearer {JOB_TOKEN}");
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut polls = 0u32;
        loop {
            let status = self.send(
                "GET",
                &format!("/jobs/pipeline/intake?tick={tick}"),
                &[("authorization", &auth)],
                b"",
            );
            assert_eq!(status.status, 200, "intake status: {}", status.body);
            let drained = status.json()["drained"].as_i64().unwrap_or(0);
            if drained >= slot {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "tick {tick} not drained up to slot {slot} within 60 s: {}",
                status.body
            );
            // A slot its drainer gave up waiting for is the scheduled sweep's; the
            // suite's apps run no scheduler, so play it after a while.
            polls += 1;
            if polls % 500 == 0 {
                let r = self.send(
                    "POST",
                    "/jobs/pipeline/catch-up",
                    &[("authorization", &auth)],
                    b"",
                );
                assert_eq!(r.status, 200, "catch-up: {}", r.body);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A request, answered as the app answers it, nothing more.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        send_to(&self.base, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }
}

/// A request to the app at `base`; a transport error (the app is down) is an `Err`.
pub fn send_to(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Reply, String> {
    {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let mut req = agent.request(method, &format!("{base}{path}"));
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
            Err(e) => return Err(e.to_string()),
        };
        let status = resp.status();
        let headers = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
            .collect();
        let body = resp.into_string().unwrap_or_default();
        Ok(Reply {
            status,
            body,
            headers,
        })
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
            // Whatever of the app's process group is left (Spin's trigger process).
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
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
        ("rider_token", RIDER_TOKEN),
        ("auth_mode", "dev"),
        ("auth_keys", "dev1:orderhub-development-signing-key-0001"),
        ("auth_fail_limit", "100000"),
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

/// Read a child's output line by line on a thread of its own, signal `ready` at the
/// first `Serving http://` line, and pass the lines on to our stderr when `echo`.
fn watch_output(out: impl Read + Send + 'static, ready: std::sync::mpsc::Sender<()>, echo: bool) {
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if !sent && line.contains("Serving http://") {
                let _ = ready.send(());
                sent = true;
            }
            if echo {
                eprintln!("{line}");
            }
        }
    });
}

/// A fresh state directory under the system temp dir (never the checkout's `.spin/`).
fn fresh_state_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let state = std::env::temp_dir().join(format!(
        "orderhub-e2e-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state).expect("state dir");
    state
}

/// `redis://host:port/<db>` with a database number no other app of any test process has
/// had on this server: `INCR` on a counter in database 0 hands them out. The server
/// must allow that many databases (`scripts/test` starts it with `--databases 4096`).
fn fresh_redis_db(server_url: &str) -> String {
    let base = server_url.trim_end_matches('/');
    let addr = base.trim_start_matches("redis://");
    let n = redis_incr(addr, "orderhub-e2e:next-db")
        .unwrap_or_else(|e| panic!("allocate a Redis database on {server_url}: {e}"));
    let databases = redis_databases(addr).unwrap_or(16);
    assert!(
        n < databases,
        "Redis at {server_url} has {databases} databases, the suite needs more (start it with --databases 4096)"
    );
    format!("{base}/{n}")
}

/// One RESP command on database 0, its reply line.
fn redis_command(addr: &str, args: &[&str]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut cmd = format!("*{}\r\n", args.len());
    for a in args {
        cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(cmd.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if line.starts_with('*') {
        // An array reply (CONFIG GET): the last bulk string is the value.
        let mut last = String::new();
        for _ in 0..4 {
            last.clear();
            reader.read_line(&mut last)?;
        }
        return Ok(last.trim().to_string());
    }
    Ok(line.trim().to_string())
}

fn redis_incr(addr: &str, key: &str) -> Result<u64, String> {
    let reply = redis_command(addr, &["INCR", key]).map_err(|e| e.to_string())?;
    reply
        .strip_prefix(':')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("unexpected reply {reply:?}"))
}

fn redis_databases(addr: &str) -> Option<u64> {
    redis_command(addr, &["CONFIG", "GET", "databases"])
        .ok()?
        .parse()
        .ok()
}

/// A `redis-server` of our own on a free port, stopped when the last app using it goes.
pub struct RedisServer {
    child: std::sync::Mutex<Child>,
    port: u16,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server (scripts/setup installs it)");
        let server = RedisServer {
            child: std::sync::Mutex::new(child),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen in 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
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
