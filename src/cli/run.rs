//! `canalyst run`: the scheduled report jobs of a `canalyst.toml`, one JSON line per report.

use crate::jobs::config::JobsConfig;
use crate::jobs::{run_jobs, JobOutcome};
use crate::model::time::parse_rfc3339;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `canalyst run`.
#[derive(Debug, Args)]
#[command(
    about = "Run the scheduled report jobs of canalyst.toml (one JSON line per report on stdout)",
    after_help = "Exit codes: 2 if any report failed or its job was locked by another run, else the \
worst verdict: 1 rollback, 3 continue, 0 promote.\n\
Example: canalyst run nightly --config /etc/canalyst/canalyst.toml"
)]
pub struct RunArgs {
    /// Jobs to run (default: every job in the file).
    #[arg(value_name = "JOB")]
    pub jobs: Vec<String>,
    /// The jobs file.
    #[arg(long, value_name = "FILE", default_value = "canalyst.toml")]
    pub config: PathBuf,
    /// Reference time the windows are computed from (RFC 3339; default: now). `last 24h` ends
    /// here; `calendar day` is the last whole UTC day before it.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Where the jobs' queries run (`--cluster`: the job's state directory, which holds the
    /// DATASET parts the jobs read, must be on a path every executor sees).
    #[command(flatten)]
    pub placement: super::placement::ClusterArg,
    /// `--memory-budget`, `--trace-partitions` for every job's Forensics section (overriding
    /// the jobs' `memory_budget`/`trace_partitions` keys).
    #[command(flatten)]
    pub partitions: super::partitions::TracePartitionArgs,
}

/// Runs `canalyst run`.
pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    let mut cfg = JobsConfig::from_file(&args.config)?;
    args.partitions.check()?;
    for job in &mut cfg.jobs {
        job.partitioning = args.partitions.partitioning(job.partitioning);
    }
    let at = match &args.at {
        Some(s) => {
            parse_rfc3339(s).with_context(|| format!("--at {s:?} is not an RFC 3339 time"))?
        }
        None => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("the system clock is before 1970")?;
            i64::try_from(now.as_nanos()).context("the system clock is past 2262")?
        }
    };
    let placement = args.placement.placement()?;
    let outcomes = run_jobs(&cfg, &args.jobs, at, &placement, |o| {
        match serde_json::to_string(o) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!(
                "canalyst run: cannot serialise the outcome of {}: {e}",
                o.job
            ),
        }
        if let Some(e) = &o.error {
            eprintln!("canalyst run: {}: {e}", o.job);
        }
    })?;
    Ok(exit_code(&outcomes))
}

/// 2 if any report failed or was locked, else the worst verdict (rollback 1 over continue 3
/// over promote 0).
fn exit_code(outcomes: &[JobOutcome]) -> i32 {
    if outcomes.iter().any(|o| o.verdict.is_none()) {
        return super::EXIT_ERROR;
    }
    let codes: Vec<i32> = outcomes
        .iter()
        .filter_map(|o| o.verdict.map(|v| v.exit_code()))
        .collect();
    [super::EXIT_ROLLBACK, super::EXIT_CONTINUE]
        .into_iter()
        .find(|c| codes.contains(c))
        .unwrap_or(super::EXIT_OK)
}
