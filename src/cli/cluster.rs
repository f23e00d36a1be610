//! `canalyst scheduler` and `canalyst executor` (feature `distributed`): Ballista's scheduler
//! and executor processes with canalyst's functions registered (`engine::cluster`).

use crate::engine::cluster::{serve_executor, serve_scheduler, ClusterUrl, ExecutorOptions};
use anyhow::Context;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Arguments of `canalyst scheduler`.
#[derive(Debug, Args)]
#[command(
    after_help = "Clients run `canalyst analyze --cluster df://HOST:PORT DATASET…`; \
executors register with `canalyst executor --scheduler HOST:PORT`. See docs/distributed.md."
)]
pub struct SchedulerArgs {
    /// Address to listen on for clients and executors.
    #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:50050")]
    pub bind: SocketAddr,
}

/// Arguments of `canalyst executor`.
#[derive(Debug, Args)]
#[command(
    after_help = "The executor reads DATASET files at the paths clients give: mount \
the same shared filesystem at the same path on every machine. See docs/distributed.md."
)]
pub struct ExecutorArgs {
    /// The scheduler to register with.
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,
    /// Address the executor's Arrow Flight service (shuffle and result reads) listens on.
    #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:50051")]
    pub bind: SocketAddr,
    /// Host name the other machines reach this executor at (default: the address the
    /// scheduler sees).
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
    /// Tasks run at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub concurrent_tasks: Option<usize>,
    /// Directory for shuffle files (default: a temporary directory).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

/// Prints Ballista's log records to stderr: `info` and above, or the level in `CANALYST_LOG`
/// (`error`, `warn`, `info`, `debug`, `trace`).
struct StderrLog(log::LevelFilter);

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= self.0
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "{:5} {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// Installs [`StderrLog`] at the level `CANALYST_LOG` names (default `default`), once.
pub fn init_log(default: log::LevelFilter) {
    let level = std::env::var("CANALYST_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(default);
    if log::set_logger(Box::leak(Box::new(StderrLog(level)))).is_ok() {
        log::set_max_level(level);
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Runs `canalyst scheduler` until the process is stopped.
pub fn run_scheduler(args: SchedulerArgs) -> anyhow::Result<i32> {
    init_log(log::LevelFilter::Info);
    eprintln!(
        "canalyst scheduler: listening on {} (canalyst {})",
        args.bind,
        env!("CARGO_PKG_VERSION")
    );
    runtime()?.block_on(serve_scheduler(args.bind))?;
    Ok(super::EXIT_OK)
}

/// Runs `canalyst executor` until the process is stopped.
pub fn run_executor(args: ExecutorArgs) -> anyhow::Result<i32> {
    init_log(log::LevelFilter::Info);
    let scheduler: ClusterUrl = format!("df://{}", args.scheduler)
        .parse()
        .with_context(|| format!("--scheduler {}", args.scheduler))?;
    eprintln!(
        "canalyst executor: Flight on {}, registering with scheduler {}",
        args.bind, scheduler
    );
    runtime()?.block_on(serve_executor(ExecutorOptions {
        scheduler,
        bind: args.bind,
        external_host: args.external_host,
        concurrent_tasks: args.concurrent_tasks,
        work_dir: args.work_dir,
    }))?;
    Ok(super::EXIT_OK)
}
