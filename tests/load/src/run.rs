//! The open-loop executor: every push is started at its planned time, whatever the
//! app's answers so far, and its latency runs from that planned time to its final
//! answer. A push waiting for a free connection slot (`--concurrency`) is waiting in
//! the client's queue, and that wait is part of its latency (no coordinated omission).
//!
//! The run is bounded: after the last due push, the answers still out get the request
//! timeout plus a margin, then whatever is left counts as unfinished; probes get
//! `--probe-window` after their acknowledgement. With a job token the app's own intake
//! backlog is polled once a second all along ([`intake`]), and after the load for at
//! most `--drain-wait` until it is back at 0.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hyper::Method;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::catalog::RunIds;
use crate::channels::{self, Channel, Ctx, Verdict};
use crate::http::Http;
use crate::intake;
use crate::mix::{OrderSpec, Plan, PushKind};
use crate::probe::{self, Watched};
use crate::progress::{Progress, Snapshot};
use crate::record::{Class, Done, Final, Recorder};

/// A push refused with 409 `in_progress` (its first delivery is still being processed)
/// is delivered again after the Retry-After, as platforms do, at most this often.
const MAX_RETRIES: u32 = 5;
/// How often the backlog is sampled and the progress view redrawn.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

pub struct Settings {
    pub concurrency: usize,
    /// Per request.
    pub timeout: Duration,
    /// Watch every n-th order that enters the pipeline (`None`: no probe).
    pub probe_every: Option<u64>,
    /// How long after its acknowledgement a watched order is given.
    pub probe_window: Duration,
    pub admin_token: String,
    /// Poll `GET /jobs/pipeline/intake` with it, this often.
    pub job_token: Option<String>,
    pub backlog_every: Duration,
    /// After the load, wait at most this long for the app's backlog to be back at 0.
    pub drain_wait: Duration,
}

/// Everything the run observed.
pub struct Observed {
    pub recorder: Recorder,
    pub watched: Vec<Watched>,
    /// Pushes with no final answer when the run ended.
    pub unfinished: u64,
    pub elapsed: Duration,
    /// Wall clock of the run's start (epoch ms): the zero of every offset.
    pub t0_ms: i64,
    /// The app's own backlog, polled.
    pub intake: intake::Log,
}

struct Shared {
    http: Http,
    plan: Plan,
    run: RunIds,
    settings: Settings,
    t0: Instant,
    t0_ms: i64,
    slots: Semaphore,
    done: AtomicU64,
    recorder: Mutex<Recorder>,
    probes: Mutex<JoinSet<Watched>>,
    /// Per original push, the last second our own channels signed a delivery of it at.
    signed_at: Mutex<HashMap<usize, i64>>,
    intake: Arc<Mutex<intake::Log>>,
}

impl Shared {
    fn record(&self, f: impl FnOnce(&mut Recorder)) {
        // A panicking task cannot leave the counters half-updated in a way that matters
        // more than losing the whole summary, so a poisoned lock is used as it is.
        f(&mut self.recorder.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn since_start(&self) -> Duration {
        self.t0.elapsed()
    }

    /// The second to sign a delivery of push `original` at. Our own channels sign
    /// `timestamp + "." + body`, so two deliveries of one body signed in the same
    /// second are the same signature, which the replay window refuses; a client that
    /// redelivers within a second therefore waits for the next one (a platform's retry
    /// comes seconds later anyway). Channels that sign in the body need no wait.
    async fn signing_second(&self, original: usize, signs_at_send: bool) -> i64 {
        loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let second = now.as_secs() as i64;
            if !signs_at_send {
                return second;
            }
            let claimed = claim_second(
                &mut self.signed_at.lock().unwrap_or_else(|e| e.into_inner()),
                original,
                second,
            );
            if claimed {
                return second;
            }
            let to_next =
                Duration::from_secs(1) - Duration::from_nanos(u64::from(now.subsec_nanos()));
            tokio::time::sleep(to_next + Duration::from_millis(1)).await;
        }
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            run: &self.run,
            base_url: self.http.base(),
            t0_ms: self.t0_ms,
            plan: &self.plan,
        }
    }
}

pub async fn execute(http: Http, plan: Plan, run: RunIds, settings: Settings) -> Observed {
    // A short lead so the first pushes are not late because of task start-up.
    let t0 = Instant::now() + Duration::from_millis(200);
    let t0_ms = (SystemTime::now() + Duration::from_millis(200))
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut recorder = Recorder::default();
    for p in &plan.pushes {
        recorder.planned(p.channel, Class::of(&p.kind), p.at);
    }
    let total = plan.pushes.len() as u64;
    let last_due = plan.pushes.last().map_or(Duration::ZERO, |p| p.at);
    let shared = Arc::new(Shared {
        http,
        slots: Semaphore::new(settings.concurrency),
        settings,
        plan,
        run,
        t0,
        t0_ms,
        done: AtomicU64::new(0),
        recorder: Mutex::new(recorder),
        probes: Mutex::new(JoinSet::new()),
        signed_at: Mutex::new(HashMap::new()),
        intake: Arc::new(Mutex::new(intake::Log::default())),
    });
    let poller = shared.settings.job_token.clone().map(|token| {
        tokio::spawn(intake::poll(
            shared.http.clone(),
            token,
            t0,
            shared.settings.backlog_every,
            shared.intake.clone(),
        ))
    });

    let sampler = tokio::spawn(sample(shared.clone(), total));
    let mut deliveries = JoinSet::new();
    let interrupted = tokio::select! {
        () = schedule(&shared, &mut deliveries) => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    if interrupted {
        eprintln!("interrupted: no more pushes; waiting for the answers still out");
    }
    // Answers still out: the request timeout, plus the retries' waits.
    let drain_until = t0 + last_due + shared.settings.timeout + Duration::from_secs(10);
    let _ = tokio::time::timeout_at(drain_until.into(), async {
        while deliveries.join_next().await.is_some() {}
    })
    .await;
    deliveries.abort_all();
    sampler.abort();
    let unfinished = total - shared.done.load(Ordering::SeqCst);

    let mut probes = std::mem::take(&mut *shared.probes.lock().unwrap_or_else(|e| e.into_inner()));
    let mut watched = Vec::new();
    let probes_until = Instant::now() + shared.settings.probe_window + shared.settings.timeout;
    let _ = tokio::time::timeout_at(probes_until.into(), async {
        while let Some(w) = probes.join_next().await {
            watched.extend(w.ok());
        }
    })
    .await;
    probes.abort_all();

    if let Some(poller) = poller {
        // Until the app's backlog is back at 0 after the load (seen by a poll made
        // after the last push was due), or the wait is over.
        let until = Instant::now() + shared.settings.drain_wait;
        let load_end = last_due.as_secs_f64();
        loop {
            let (reporting, drained) = {
                let log = shared.intake.lock().unwrap_or_else(|e| e.into_inner());
                let drained = log
                    .samples
                    .last()
                    .is_some_and(|x| x.t_s >= load_end && x.backlog == 0);
                (log.state == intake::State::Reported, drained)
            };
            if !reporting || drained || Instant::now() >= until || poller.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        poller.abort();
    }
    let intake = shared
        .intake
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();

    let elapsed = shared.since_start();
    let recorder = std::mem::take(&mut *shared.recorder.lock().unwrap_or_else(|e| e.into_inner()));
    Observed {
        recorder,
        watched,
        unfinished,
        elapsed,
        t0_ms,
        intake,
    }
}

/// Whether a delivery of push `original` may be signed at `second` (no earlier
/// delivery of it was signed at this second or later); claims it if so.
fn claim_second(signed: &mut HashMap<usize, i64>, original: usize, second: i64) -> bool {
    let last = signed.entry(original).or_insert(i64::MIN);
    if *last < second {
        *last = second;
        true
    } else {
        false
    }
}

/// Start every push at its due time.
async fn schedule(shared: &Arc<Shared>, deliveries: &mut JoinSet<()>) {
    for (index, push) in shared.plan.pushes.iter().enumerate() {
        tokio::time::sleep_until((shared.t0 + push.at).into()).await;
        deliveries.spawn(deliver(shared.clone(), index));
        // Reap finished tasks as we go so the set stays small on long runs.
        while deliveries.try_join_next().is_some() {}
    }
}

/// One push, from its due time to its final answer.
async fn deliver(s: Arc<Shared>, index: usize) {
    let push = &s.plan.pushes[index];
    let result = send(&s, index).await;
    let finished = s.since_start();
    let orders = match &push.kind {
        PushKind::Orders(orders) => {
            if matches!(result, Final::Acked(_)) {
                watch_sample(&s, push.channel, orders);
            }
            orders.len() as u64
        }
        _ => 0,
    };
    s.record(|r| {
        r.done(Done {
            channel: push.channel,
            class: Class::of(&push.kind),
            orders,
            due: push.at,
            finished,
            result,
        })
    });
    s.done.fetch_add(1, Ordering::SeqCst);
}

/// Send push `index` until it has a final answer: delivered again only after a 409
/// `in_progress` (its first delivery is still being processed).
async fn send(s: &Shared, index: usize) -> Final {
    let push = &s.plan.pushes[index];
    let hook = channels::render(&s.ctx(), index);
    let original = match push.kind {
        PushKind::Duplicate { of } => of,
        _ => index,
    };
    let mut retries = 0;
    loop {
        // Before taking a slot: a wait for the next second must not hold one.
        let now = s
            .signing_second(original, hook.sign_at_send.is_some())
            .await;
        let slot = s.slots.acquire().await;
        if retries == 0 {
            let at = s.since_start();
            s.record(|r| r.sent(push.channel, Class::of(&push.kind), at));
        }
        let headers = hook.headers(now);
        let reply = s
            .http
            .send(Method::POST, &hook.path, &headers, hook.body.clone())
            .await;
        drop(slot);
        let reply = match reply {
            Ok(reply) => reply,
            Err(failure) => return Final::Failed(failure),
        };
        if reply.is_success() {
            return match hook.expect.check(&reply.body) {
                Verdict::Wrong(_) => Final::WrongAck {
                    status: reply.status,
                },
                verdict => Final::Acked(verdict),
            };
        }
        let code = reply.error_code();
        if reply.status != 409 || code != "in_progress" || retries == MAX_RETRIES {
            return Final::Refused {
                status: reply.status,
                code,
            };
        }
        s.record(|r| r.retried(reply.status, &code));
        retries += 1;
        let wait = reply.retry_after.unwrap_or(1).clamp(1, 5);
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
}

/// Start watching the sampled orders of an acknowledged push (every n-th order that
/// goes on to reserve and merge).
fn watch_sample(s: &Arc<Shared>, channel: Channel, orders: &[OrderSpec]) {
    let Some(every) = s.settings.probe_every else {
        return;
    };
    let (acked_at, acked_wall) = (Instant::now(), SystemTime::now());
    for o in orders
        .iter()
        .filter(|o| o.enters_pipeline() && o.seq % every == 0)
    {
        let id = channels::orderhub_id(&s.run, channel, o.seq);
        let s2 = s.clone();
        let watch = async move {
            let token = &s2.settings.admin_token;
            let window = s2.settings.probe_window;
            probe::watch(&s2.http, token, &id, acked_at, acked_wall, window).await
        };
        s.probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spawn(watch);
    }
}

/// Sample the backlog (pushes due but not answered) and redraw the progress view.
async fn sample(s: Arc<Shared>, total: u64) {
    let mut progress = Progress::new(total);
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tick.tick().await;
        let now = s.since_start();
        let due = s.plan.pushes.partition_point(|p| p.at <= now) as u64;
        let done = s.done.load(Ordering::SeqCst);
        let backlog = due.saturating_sub(done);
        let in_flight = (s.settings.concurrency - s.slots.available_permits()) as u64;
        let (acked, not_acked) = {
            let mut r = s.recorder.lock().unwrap_or_else(|e| e.into_inner());
            r.seconds
                .backlog(now.as_secs() as usize, backlog, in_flight);
            r.by_class
                .values()
                .fold((0, 0), |(a, n), c| (a + c.acked, n + c.not_acked))
        };
        let pipeline = s
            .intake
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .describe();
        progress.update(&Snapshot {
            pipeline,
            done,
            acked,
            not_acked,
            backlog,
            in_flight,
            elapsed: now,
        });
        if done == total {
            progress.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_body_is_signed_at_most_once_a_second() {
        let mut signed = HashMap::new();
        assert!(claim_second(&mut signed, 1, 100));
        assert!(!claim_second(&mut signed, 1, 100), "the duplicate waits");
        assert!(claim_second(&mut signed, 2, 100), "another push may");
        assert!(claim_second(&mut signed, 1, 101));
        assert!(!claim_second(&mut signed, 1, 100), "never back in time");
    }
}
