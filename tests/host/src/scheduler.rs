//! Fires every `[component.<id>.tool.orderhub] schedules` entry on time.
//! Spin fires none of them (its cron trigger is a plugin SpinKube refuses),
//! so something beside the app must: `up` fires through the app's own router,
//! `schedule` over HTTP at a running app such as real `spin up`
//! ([`crate::job_http`]). One task per job; a job's next firing is computed
//! after the previous one finished, so a slow job skips the slots it overran
//! (as a Kubernetes CronJob with `concurrencyPolicy: Forbid` would).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::runtime::AppRuntime;
use crate::schedule::Schedule;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a job is fired: `(status, body)` of its answer.
pub type Fire =
    Arc<dyn Fn(Schedule) -> BoxFuture<'static, Result<(http::StatusCode, Bytes)>> + Send + Sync>;

/// Where the scheduler reads the time and waits for it.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    /// Resolves once `now() >= t`.
    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()>;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // Re-read the wall clock at least every minute, so a clock step
            // (NTP, a suspended laptop) delays a firing by a minute at most.
            while let Ok(left) = (t - Utc::now()).to_std() {
                if left.is_zero() {
                    break;
                }
                tokio::time::sleep(left.min(Duration::from_secs(60))).await;
            }
        })
    }
}

/// A clock that moves only when told to (tests).
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            now: watch::Sender::new(start),
        })
    }

    pub fn set(&self, t: DateTime<Utc>) {
        self.now.send_replace(t);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'_, ()> {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as `self`, which outlives this future.
            let _ = rx.wait_for(|now| *now >= t).await;
        })
    }
}

/// Fires through the app's own router, as `up` and `jobs run` do.
pub fn in_process(app: Arc<AppRuntime>) -> Fire {
    Arc::new(move |s: Schedule| {
        let app = app.clone();
        Box::pin(async move { app.fire_job(&s.name).await })
    })
}

/// The running per-job tasks.
pub struct Scheduler {
    tasks: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Scheduler {
    pub fn start(jobs: Vec<Schedule>, clock: Arc<dyn Clock>, fire: Fire) -> Self {
        let (stop, stopped) = watch::channel(false);
        let tasks = jobs
            .into_iter()
            .map(|s| tokio::spawn(run_job(s, clock.clone(), fire.clone(), stopped.clone())))
            .collect();
        Self { tasks, stop }
    }

    /// Stops waiting for the next firings; firings under way get `grace` to finish.
    pub async fn stop(self, grace: Duration) {
        self.stop.send_replace(true);
        let all = join_all(self.tasks);
        if tokio::time::timeout(grace, all).await.is_err() {
            eprintln!("orderhub-host: a job was still running after {grace:?}; not waiting for it");
        }
    }
}

async fn join_all(tasks: Vec<JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

async fn run_job(
    sched: Schedule,
    clock: Arc<dyn Clock>,
    fire: Fire,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let now = clock.now();
        let Some(next) = sched.next_after(now) else {
            eprintln!("orderhub-host: schedule '{}' never fires again", sched.name);
            return;
        };
        tokio::select! {
            _ = clock.sleep_until(next) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        eprintln!(
            "orderhub-host: schedule '{}' firing {} {} (due {next})",
            sched.name, sched.method, sched.path
        );
        fire_logged(&sched, &fire).await;
    }
}

/// Fires `sched` once and logs the answer; `true` on a 2xx.
pub async fn fire_logged(sched: &Schedule, fire: &Fire) -> bool {
    let started = Instant::now();
    let result = fire(sched.clone()).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok((status, body)) => {
            eprintln!(
                "orderhub-host: schedule '{}' -> {} in {ms:.1}ms: {}",
                sched.name,
                status.as_u16(),
                String::from_utf8_lossy(&body[..body.len().min(200)])
            );
            status.is_success()
        }
        Err(e) => {
            eprintln!(
                "orderhub-host: schedule '{}' failed after {ms:.1}ms: {e:#}",
                sched.name
            );
            false
        }
    }
}
