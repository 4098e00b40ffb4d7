//! The local scheduler fires jobs on time, through the router, with the token.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use orderhub_host::runtime::{AppRuntime, HostOptions};
use orderhub_host::server::spawn_scheduler_shifted;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_fires_at_its_time_and_not_before() {
    ensure_probe();
    let mut opts = HostOptions::new(manifest());
    opts.kv_memory = true;
    let app = tokio::task::spawn_blocking(move || {
        AppRuntime::load_with_env(&opts, |k| {
            (k == "SPIN_VARIABLE_API_KEY").then(|| "k".to_string())
        })
    })
    .await
    .unwrap()
    .unwrap();
    let (_, ping) = app
        .manifest
        .schedules()
        .find(|(_, s)| s.name == "ping")
        .unwrap();
    // Shift the clock to 700 ms before the next firing (03:00 Asia/Shanghai).
    let due = ping.next_after(Utc::now()).unwrap();
    let shift = due - Utc::now() - chrono::Duration::milliseconds(700);
    let store = app.kv.get("default").unwrap();
    let tasks = spawn_scheduler_shifted(app.clone(), shift);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.get("jobs:ping").unwrap(), None, "fired early");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // fired exactly once, and the probe accepted the bearer token
    assert_eq!(
        store.get("jobs:ping").unwrap(),
        Some(1i64.to_le_bytes().to_vec())
    );
    for t in tasks {
        t.abort();
    }
}
