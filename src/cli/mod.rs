//! Command-line interface: argument parsing and dispatch only; the work is in the library.
//!
//! Exit codes (stable, documented in README "Exit codes"):
//! 0 success / `promote`; 1 `rollback`; 2 error (bad arguments, unreadable input, `--strict`
//! data-quality failure); 3 `continue` (not enough evidence); 4 no data (`query`: nothing in
//! the window to compute the number from).
//! `run` exits 2 if any report failed or was locked, else with the worst verdict (1, 3, 0).

use clap::{Parser, Subcommand};

pub mod analyze;
pub mod backtest;
#[cfg(feature = "distributed")]
pub mod cluster;
pub mod forensics;
pub mod generate;
pub mod ingest;
pub mod inspect;
pub mod partitions;
pub mod placement;
pub mod query;
pub mod report;
pub mod run;
pub mod selection;
pub mod sql;
pub mod tune;

/// Exit code for success or a `promote` verdict.
pub const EXIT_OK: i32 = 0;
/// Exit code for a `rollback` verdict.
pub const EXIT_ROLLBACK: i32 = 1;
/// Exit code for any error.
pub const EXIT_ERROR: i32 = 2;
/// Exit code for a `continue` verdict (not enough evidence yet).
pub const EXIT_CONTINUE: i32 = 3;
/// Exit code of `query` when there is no number: nothing in the window (never reported as 0).
pub const EXIT_NO_DATA: i32 = 4;

/// canalyst: was the canary worse than stable, where, why, and what would a rollout policy
/// have done? Reads OpenTelemetry exports (OTLP JSON/protobuf, Parquet).
#[derive(Debug, Parser)]
#[command(name = "canalyst", version, about, long_about = None)]
pub struct Cli {
    /// Worker threads for parsing and aggregation (default: all cores). Results do not depend on it.
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// Read input files instead of mapping them into memory. Maps are faster (uncompressed
    /// JSON lines), but a file truncated while it is read ends the process with SIGBUS, and
    /// one rewritten in place changes under the decoder; use this where something may
    /// truncate or rewrite inputs under a running command. Results do not depend on it.
    #[arg(long, global = true)]
    pub no_mmap: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run SQL over the canonical tables (spans, requests, metric tables).
    Sql(sql::SqlArgs),
    /// Write deterministic synthetic canary traffic with injected regressions (OTLP/JSON,
    /// Parquet and the truth of what was injected).
    Generate(generate::GenerateArgs),
    /// Read telemetry files (OTLP JSON/protobuf, Parquet; compressed or not) into a DATASET.
    Ingest(ingest::IngestArgs),
    /// Count what raw inputs or a DATASET contain (services, versions, tracks, routes, …).
    Inspect(inspect::InspectArgs),
    /// Compare canary against baseline and decide: promote, rollback or continue.
    Analyze(analyze::AnalyzeArgs),
    /// Write the analysis as an HTML/Markdown/JSON report with charts.
    Report(report::ReportArgs),
    /// Print one number over the last window (for Argo Rollouts, Flagger, scripts).
    Query(query::QueryArgs),
    /// Failing traces and their origin span, error signatures canary vs stable.
    Forensics(forensics::ForensicsArgs),
    /// Run the scheduled report jobs of a canalyst.toml (cron, systemd timers, CronJobs).
    Run(run::RunArgs),
    /// Replay recorded telemetry through a rollout policy (Argo Rollouts or Flagger rules).
    Backtest(backtest::BacktestArgs),
    /// Sweep a rollout policy's settings over a labelled corpus of recorded deployments.
    Tune(tune::TuneArgs),
    /// Run a Ballista scheduler with canalyst's functions (for `--cluster`).
    #[cfg(feature = "distributed")]
    Scheduler(cluster::SchedulerArgs),
    /// Run a Ballista executor with canalyst's functions, registered with a scheduler.
    #[cfg(feature = "distributed")]
    Executor(cluster::ExecutorArgs),
}

/// Parses arguments, runs the command, prints errors to stderr, returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    // A client's view of a cluster run (Ballista logs through `log`): only when asked for.
    #[cfg(feature = "distributed")]
    if std::env::var_os("CANALYST_LOG").is_some() {
        cluster::init_log(log::LevelFilter::Warn);
    }
    if let Some(n) = cli.threads {
        // Only fails if the global pool was already built, which cannot happen this early.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global();
    }
    crate::ingest::driver::set_memory_maps(!cli.no_mmap);
    let result: anyhow::Result<i32> = match cli.command {
        Command::Sql(args) => sql::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Ingest(a) => ingest::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Analyze(a) => analyze::run(a),
        Command::Report(a) => report::run(a),
        Command::Query(a) => query::run(a),
        Command::Forensics(a) => forensics::run(a),
        Command::Run(a) => run::run(a),
        Command::Backtest(a) => backtest::run(a),
        Command::Tune(a) => tune::run(a),
        #[cfg(feature = "distributed")]
        Command::Scheduler(a) => cluster::run_scheduler(a),
        #[cfg(feature = "distributed")]
        Command::Executor(a) => cluster::run_executor(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("canalyst: error: {}", error_chain(&e));
            EXIT_ERROR
        }
    }
}

/// The error and its causes joined by `: `, leaving out a cause whose text the previous
/// message already ends with: library errors such as `IngestError::Io` put their source into
/// their own message *and* expose it as `source()`, which `{:#}` would print twice
/// ("x: No such file or directory (os error 2): No such file or directory (os error 2)").
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut prev = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !prev.is_empty() && prev.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
        prev = text;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[test]
    fn error_chain_drops_causes_repeated_in_the_message() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = anyhow::Error::new(crate::ingest::IngestError::Io {
            path: "x.json".into(),
            source: io,
        })
        .context("reading inputs");
        assert_eq!(error_chain(&e), "reading inputs: x.json: gone");
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_chain(&plain), "outer: inner");
    }
}
