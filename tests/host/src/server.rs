//! The HTTP listener (`spin up`'s role) and the local job scheduler.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use http_body_util::BodyExt;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wasmtime_wasi_http::Error as HttpError;

use crate::runtime::AppRuntime;

/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Prints `Serving http://<addr>` and the routes, as `spin up` does.
pub fn print_banner(app: &AppRuntime, addr: SocketAddr) {
    let mut labels: Vec<&str> = app.kv.labels().collect();
    labels.sort_unstable();
    for label in labels {
        if let Some(d) = app.kv.describe(label) {
            println!("Key-value store '{label}': {d}");
        }
    }
    println!("Serving http://{addr}");
    println!("Available Routes:");
    for (pattern, component) in app.router.routes() {
        println!("  {component}: http://{addr}{pattern}");
    }
    for (component, s) in app.manifest.schedules() {
        println!(
            "  schedule {}: {} {} ({} {}) -> {component}",
            s.name, s.method, s.path, s.cron_expr, s.time_zone
        );
    }
}

/// Serves until `shutdown` resolves, then stops accepting and waits for
/// in-flight requests.
pub async fn serve(
    app: Arc<AppRuntime>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        eprintln!("orderhub-host: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let app = app.clone();
                    async move {
                        let req = req.map(|b| b.map_err(HttpError::from).boxed_unsync());
                        Ok::<_, Infallible>(app.serve(req, peer).await)
                    }
                });
                let conn = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        if !e.is_incomplete_message() {
                            eprintln!("orderhub-host: connection error: {e}");
                        }
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    eprintln!("orderhub-host: shutting down, waiting for in-flight requests");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!(
            "orderhub-host: in-flight requests still running after {DRAIN_TIMEOUT:?}; exiting"
        );
    }
    Ok(())
}

/// Binds `addr` (port 0 picks a free one).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Fires every schedule on time for as long as the returned tasks live.
pub fn spawn_scheduler(app: Arc<AppRuntime>) -> Vec<tokio::task::JoinHandle<()>> {
    spawn_scheduler_shifted(app, chrono::Duration::zero())
}

/// [`spawn_scheduler`] on a clock running `shift` ahead of the real one
/// (tests use it to reach a firing time without waiting for it).
pub fn spawn_scheduler_shifted(
    app: Arc<AppRuntime>,
    shift: chrono::Duration,
) -> Vec<tokio::task::JoinHandle<()>> {
    let jobs: Vec<_> = app.manifest.schedules().map(|(_, s)| s.clone()).collect();
    jobs.into_iter()
        .map(|sched| {
            let app = app.clone();
            tokio::spawn(async move {
                loop {
                    let now = chrono::Utc::now() + shift;
                    let Some(next) = sched.next_after(now) else {
                        eprintln!("orderhub-host: schedule '{}' never fires again", sched.name);
                        return;
                    };
                    let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
                    tokio::time::sleep(wait).await;
                    eprintln!(
                        "orderhub-host: firing schedule '{}' ({} {}) due {next}",
                        sched.name, sched.method, sched.path
                    );
                    match app.fire_job(&sched.name).await {
                        Ok((status, _)) => eprintln!(
                            "orderhub-host: schedule '{}' -> {}",
                            sched.name,
                            status.as_u16()
                        ),
                        Err(e) => {
                            eprintln!("orderhub-host: schedule '{}' failed: {e:#}", sched.name)
                        }
                    }
                }
            })
        })
        .collect()
}
