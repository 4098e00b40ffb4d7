//! `orderhub-host up` serves a Spin app like `spin up`; `orderhub-host jobs`
//! lists or fires its scheduled jobs; `orderhub-host schedule` fires them on
//! time at an app served by something else (real `spin up`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use orderhub_host::job_http::{job_token, JobTarget};
use orderhub_host::kv::KvOptions;
use orderhub_host::manifest::AppManifest;
use orderhub_host::runtime::{AppRuntime, HostOptions};
use orderhub_host::schedule::Schedule;
use orderhub_host::scheduler::{self, Scheduler, SystemClock};
use orderhub_host::server;

#[derive(Parser)]
#[command(
    name = "orderhub-host",
    version,
    about = "Run a Spin app (spin.toml) locally on wasmtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the app over HTTP (like `spin up`).
    Up {
        #[command(flatten)]
        app: AppFlags,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: SocketAddr,
        /// Do not fire schedules on time (they can still be fired with `jobs run`).
        #[arg(long)]
        no_schedules: bool,
        /// Shut down gracefully when standard input closes (for test harnesses,
        /// so a dying parent never leaves a host behind).
        #[arg(long, hide = true)]
        stop_on_stdin_close: bool,
    },
    /// Scheduled jobs declared under `[component.<id>.tool.orderhub]`.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Fire the schedules on time over HTTP at a running app (e.g. `spin up`,
    /// which fires none), with `Authorization: Bearer $SPIN_VARIABLE_JOB_TOKEN`,
    /// until SIGTERM or SIGINT.
    Schedule {
        /// The application manifest holding the schedules.
        #[arg(short = 'f', long = "from", default_value = "spin.toml")]
        from: PathBuf,
        /// Where the app listens (`http://host:port`, optionally with a path prefix).
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        base_url: String,
        /// Fire every job once now and exit (0 when every answer is 2xx).
        #[arg(long)]
        once: bool,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// List schedules and their next firing.
    List {
        #[command(flatten)]
        app: AppFlags,
    },
    /// Fire one job now through the app's router; exit 0 on a 2xx answer.
    Run {
        name: String,
        #[command(flatten)]
        app: AppFlags,
    },
}

#[derive(Args)]
struct AppFlags {
    /// The application manifest.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    from: PathBuf,
    /// Spin runtime config (`[key_value_store.<label>]` tables).
    #[arg(long)]
    runtime_config_file: Option<PathBuf>,
    /// Where default SQLite stores live (default: `.spin` next to the manifest).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Refuse request bodies over this size with a 413 (a limit of the
    /// host's own: Spin has none, so by default neither has the host).
    #[arg(long)]
    max_body_bytes: Option<usize>,
    /// Keep every key-value store in memory (Spin's in-memory SQLite store,
    /// or a map with --kv-fast).
    #[arg(long)]
    kv_memory: bool,
    /// Faster key-value stores that are also correct under concurrency (SQLite
    /// in WAL mode with a busy timeout and pooled connections, MGET and a real
    /// compare-and-swap on Redis). Not Spin's: an app that passes only with
    /// this flag may fail on Spin.
    #[arg(long)]
    kv_fast: bool,
    /// Largest linear memory of one component instance, in bytes (as `spin up`).
    #[arg(long, env = "SPIN_MAX_INSTANCE_MEMORY")]
    max_instance_memory: Option<usize>,
}

impl AppFlags {
    fn options(&self) -> HostOptions {
        HostOptions {
            manifest: self.from.clone(),
            runtime_config: self.runtime_config_file.clone(),
            state_dir: self.state_dir.clone(),
            max_body_bytes: self.max_body_bytes,
            kv: KvOptions {
                memory: self.kv_memory,
                fast: self.kv_fast,
            },
            max_instance_memory: self.max_instance_memory,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("orderhub-host: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    };
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Up {
            app,
            listen,
            no_schedules,
            stop_on_stdin_close,
        } => {
            let opts = app.options();
            let runtime = tokio::task::spawn_blocking(move || AppRuntime::load(&opts)).await??;
            let listener = server::bind(listen).await?;
            let addr = listener.local_addr()?;
            server::print_banner(&runtime, addr);
            let jobs = (!no_schedules).then(|| {
                Scheduler::start(
                    schedules(&runtime.manifest),
                    Arc::new(SystemClock),
                    scheduler::in_process(runtime.clone()),
                )
            });
            let stdin_closed = async move {
                if !stop_on_stdin_close {
                    return std::future::pending().await;
                }
                // A plain thread: a blocking-pool task would hold up runtime
                // shutdown for as long as stdin stays open.
                let (tx, rx) = tokio::sync::oneshot::channel::<()>();
                std::thread::spawn(move || {
                    let mut sink = Vec::new();
                    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
                    let _ = tx.send(());
                });
                let _ = rx.await;
            };
            let shutdown = async move {
                tokio::select! {
                    _ = server::shutdown_signal() => {},
                    _ = stdin_closed => {},
                }
            };
            server::serve(runtime, listener, shutdown).await?;
            if let Some(jobs) = jobs {
                jobs.stop(server::DRAIN_TIMEOUT).await;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Jobs {
            command: JobsCommand::List { app },
        } => {
            let manifest = AppManifest::load(&app.from)?;
            for (component, s) in manifest.schedules() {
                println!("{}\t{component}\tnext {}", s.describe(), next_firing(s));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Jobs {
            command: JobsCommand::Run { name, app },
        } => {
            let opts = app.options();
            let runtime = tokio::task::spawn_blocking(move || AppRuntime::load(&opts)).await??;
            let (status, body) = runtime.fire_job(&name).await?;
            println!("{} {}", status.as_u16(), String::from_utf8_lossy(&body));
            Ok(if status.is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Schedule {
            from,
            base_url,
            once,
        } => schedule(&from, &base_url, once).await,
    }
}

fn schedules(app: &AppManifest) -> Vec<Schedule> {
    app.schedules().map(|(_, s)| s.clone()).collect()
}

fn next_firing(s: &Schedule) -> String {
    s.next_after(chrono::Utc::now())
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| "never".into())
}

/// `orderhub-host schedule`: the scheduler beside a Spin that has none.
async fn schedule(from: &std::path::Path, base_url: &str, once: bool) -> anyhow::Result<ExitCode> {
    // Installed first, so a SIGTERM while starting up still stops cleanly.
    let stop = server::shutdown_signal();
    let manifest = AppManifest::load(from)?;
    manifest.check_schedules(&manifest.router())?;
    let token = job_token(&manifest, |k| std::env::var(k).ok());
    if token.is_none() {
        eprintln!("orderhub-host: warning: no job token (set SPIN_VARIABLE_JOB_TOKEN); firing without Authorization");
    }
    let target = JobTarget::new(base_url, token)?;
    let jobs = schedules(&manifest);
    for s in &jobs {
        eprintln!(
            "orderhub-host: schedule {} -> {} (next {})",
            s.describe(),
            target.url(s),
            next_firing(s)
        );
    }
    let fire = target.into_fire();
    if once {
        let mut ok = true;
        for s in &jobs {
            ok &= scheduler::fire_logged(s, &fire).await;
        }
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let running = Scheduler::start(jobs, Arc::new(SystemClock), fire);
    eprintln!("orderhub-host: scheduling against {base_url}; SIGTERM or Ctrl-C stops");
    stop.await;
    eprintln!("orderhub-host: stopping the scheduler");
    running.stop(server::DRAIN_TIMEOUT).await;
    eprintln!("orderhub-host: scheduler stopped");
    Ok(ExitCode::SUCCESS)
}
