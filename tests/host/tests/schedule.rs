//! The scheduler: on time, with the job token, through the app's router
//! (`up`) or over HTTP at an app served by something else (`schedule`, for
//! real `spin up`, which fires nothing). Time moves through a manual clock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::*;
use orderhub_host::job_http::JobTarget;
use orderhub_host::manifest::AppManifest;
use orderhub_host::runtime::{AppRuntime, HostOptions};
use orderhub_host::schedule::Schedule;
use orderhub_host::scheduler::{self, ManualClock, Scheduler};

fn ping(app: &AppManifest) -> Schedule {
    app.schedules()
        .find(|(_, s)| s.name == "ping")
        .map(|(_, s)| s.clone())
        .unwrap()
}

async fn eventually_async(f: impl Fn() -> bool) -> bool {
    for _ in 0..500 {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_fires_a_schedule_at_its_time_and_not_before() {
    ensure_probe();
    let mut opts = HostOptions::new(manifest());
    opts.kv.memory = true;
    let app = tokio::task::spawn_blocking(move || {
        AppRuntime::load_with_env(&opts, |k| {
            (k == "SPIN_VARIABLE_API_KEY").then(|| "k".to_string())
        })
    })
    .await
    .unwrap()
    .unwrap();
    let ping = ping(&app.manifest);
    let due = ping.next_after(Utc::now()).unwrap();
    let clock = ManualClock::new(due - chrono::Duration::seconds(1));
    let store = app.kv.get("default").unwrap();
    let jobs = Scheduler::start(
        vec![ping],
        clock.clone(),
        scheduler::in_process(app.clone()),
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.get("jobs:ping").unwrap(), None, "fired early");
    clock.set(due);
    // fired once, and the probe accepted the bearer token
    let fired = eventually_async(|| store.get("jobs:ping").unwrap().is_some()).await;
    assert!(fired, "did not fire at its time");
    assert_eq!(
        store.get("jobs:ping").unwrap(),
        Some(1i64.to_le_bytes().to_vec())
    );
    jobs.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_fires_over_http_on_time_with_the_token() {
    let (addr, seen) = recording_server();
    let app = AppManifest::load(&manifest()).unwrap();
    let ping = ping(&app);
    let due = ping.next_after(Utc::now()).unwrap();
    let clock = ManualClock::new(due - chrono::Duration::seconds(1));
    let target = JobTarget::new(&format!("http://{addr}"), Some("tok-1".into())).unwrap();
    let jobs = Scheduler::start(vec![ping.clone()], clock.clone(), target.into_fire());

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(seen.lock().unwrap().is_empty(), "fired early");
    clock.set(due);
    assert!(eventually_async(|| seen.lock().unwrap().len() == 1).await);
    // the next firing is a day later (03:00 Asia/Shanghai): nothing more now
    clock.set(due + chrono::Duration::hours(1));
    tokio::time::sleep(Duration::from_millis(300)).await;
    clock.set(ping.next_after(due).unwrap());
    assert!(eventually_async(|| seen.lock().unwrap().len() == 2).await);
    jobs.stop(Duration::from_secs(5)).await;

    let first = seen.lock().unwrap()[0].clone();
    assert!(first.starts_with("post /jobs/job http/1.1\r\n"), "{first}");
    assert!(first.contains("authorization: bearer tok-1\r\n"), "{first}");
    assert!(first.contains(&format!("host: {addr}\r\n")), "{first}");
}

#[test]
fn schedule_once_fires_every_job_now_with_the_job_token() {
    let (addr, seen) = recording_server();
    let out = run_cli(
        &[
            "schedule",
            "--from",
            &path_str(&manifest()),
            "--base-url",
            &format!("http://{addr}/prefix/"),
            "--once",
        ],
        &[("SPIN_VARIABLE_JOB_TOKEN", "from-env")],
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("schedule 'ping' -> 200"), "{log}");
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("post /prefix/jobs/job http/1.1\r\n"),
        "{}",
        got[0]
    );
    assert!(
        got[0].contains("authorization: bearer from-env\r\n"),
        "{}",
        got[0]
    );

    // without SPIN_VARIABLE_JOB_TOKEN: the manifest's default, as the app sees it
    let out = run_cli(
        &[
            "schedule",
            "--from",
            &path_str(&manifest()),
            "--base-url",
            &format!("http://{addr}"),
            "--once",
        ],
        &[],
    );
    assert!(out.status.success());
    let got = seen.lock().unwrap().clone();
    assert!(
        got[1].contains("authorization: bearer test-job-token\r\n"),
        "{}",
        got[1]
    );

    // nothing listening: logged, and a failing exit code
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run_cli(
        &[
            "schedule",
            "--from",
            &path_str(&manifest()),
            "--base-url",
            &format!("http://127.0.0.1:{port}"),
            "--once",
        ],
        &[],
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    assert!(log.contains("schedule 'ping' failed"), "{log}");
}

#[test]
fn schedule_stops_cleanly_on_sigterm() {
    let (addr, _seen) = recording_server();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_orderhub-host"))
        .args(["schedule", "--from", &path_str(&manifest())])
        .args(["--base-url", &format!("http://{addr}")])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(std::sync::Mutex::new(String::new()));
    let stderr = child.stderr.take().unwrap();
    let l = log.clone();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            l.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    assert!(eventually(|| log
        .lock()
        .unwrap()
        .contains("scheduling against")));
    let text = log.lock().unwrap().clone();
    assert!(
        text.contains("schedule ping\t0 3 * * *\tAsia/Shanghai\tPOST /jobs/job"),
        "{text}"
    );
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = (0..250)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(20));
            child.try_wait().unwrap()
        })
        .expect("schedule did not exit within 5 s of SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(eventually(|| log
        .lock()
        .unwrap()
        .contains("scheduler stopped")));
}
