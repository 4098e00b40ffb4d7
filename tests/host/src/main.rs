//! `orderhub-host up` serves a Spin app like `spin up`; `orderhub-host jobs`
//! lists or fires its scheduled jobs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use orderhub_host::manifest::AppManifest;
use orderhub_host::runtime::{AppRuntime, HostOptions};
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
    /// Largest accepted request body.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Keep every key-value store in memory.
    #[arg(long)]
    kv_memory: bool,
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
            kv_memory: self.kv_memory,
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
            let jobs = if no_schedules {
                Vec::new()
            } else {
                server::spawn_scheduler(runtime.clone())
            };
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
            for j in jobs {
                j.abort();
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Jobs {
            command: JobsCommand::List { app },
        } => {
            let manifest = AppManifest::load(&app.from)?;
            let now = chrono::Utc::now();
            for (component, s) in manifest.schedules() {
                let next = s
                    .next_after(now)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{}\t{}\t{}\t{} {}\t{component}\tnext {next}",
                    s.name, s.cron_expr, s.time_zone, s.method, s.path
                );
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
    }
}
