//! The HTTP listener (`spin up`'s role).

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
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

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

/// Resolves on SIGINT or SIGTERM. The handlers are installed on the call,
/// not on the first poll, so a signal that arrives before the caller awaits
/// is not lost (nor does it kill the process with the default action).
#[cfg(unix)]
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = wait(term.take()) => {},
            _ = wait(int.take()) => {},
        }
    }
}

#[cfg(not(unix))]
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
