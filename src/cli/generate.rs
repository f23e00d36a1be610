//! `canalyst generate`: synthetic canary traffic (see `docs/generate.md`).

use crate::generate::scenario::Scenario;
use crate::generate::{generate, Compression, GenerateOptions};
use crate::model::time::{parse_rfc3339, NS_PER_SEC};
use anyhow::{bail, Context};
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `canalyst generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Scenario: which regressions the canary carries.
    #[arg(long, value_enum, default_value = "mixed", value_name = "NAME")]
    pub scenario: Scenario,
    /// Output directory (created; existing files of the same names are replaced).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// Seed: the same seed and options give byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Approximate number of spans to write (the result is within a few percent).
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub spans: u64,
    /// Share of each service's traffic served by its canary once it is up.
    #[arg(long, default_value_t = 0.10, value_name = "F")]
    pub canary_share: f64,
    /// Compression of the OTLP/JSON file.
    #[arg(long, value_enum, default_value = "none")]
    pub compress: Compression,
    /// Start of the run (RFC 3339).
    #[arg(long, default_value = "2026-01-01T00:00:00Z", value_name = "TIME")]
    pub start: String,
    /// Length of the run in minutes.
    #[arg(long, default_value_t = 60.0, value_name = "MIN")]
    pub duration_minutes: f64,
    /// Minutes after the start at which canary instances begin serving.
    #[arg(long, default_value_t = 5.0, value_name = "MIN")]
    pub canary_delay_minutes: f64,
}

fn minutes_ns(m: f64, flag: &str) -> anyhow::Result<i64> {
    if !(0.0..=1e7).contains(&m) {
        bail!("{flag} {m} is out of range");
    }
    Ok((m * 60.0 * NS_PER_SEC as f64).round() as i64)
}

/// Runs the command; progress and the summary go to stderr.
pub fn run(args: GenerateArgs) -> anyhow::Result<i32> {
    let start_ns = parse_rfc3339(&args.start)
        .with_context(|| format!("--start {:?} is not an RFC 3339 time", args.start))?;
    let opts = GenerateOptions {
        scenario: args.scenario,
        seed: args.seed,
        spans: args.spans,
        canary_share: args.canary_share,
        start_ns,
        duration_ns: minutes_ns(args.duration_minutes, "--duration-minutes")?,
        canary_delay_ns: minutes_ns(args.canary_delay_minutes, "--canary-delay-minutes")?,
        compress: args.compress,
        out_dir: args.out,
    };
    let t0 = Instant::now();
    let s = generate(&opts)?;
    eprintln!(
        "canalyst generate: scenario {} seed {}: {} spans in {} traces ({} lines) in {:.1}s",
        s.truth.scenario,
        s.truth.seed,
        s.truth.spans,
        s.truth.traces,
        s.truth.lines,
        t0.elapsed().as_secs_f64()
    );
    for e in &s.truth.effects {
        eprintln!("  effect: {}", e.description);
    }
    for p in [&s.json_path, &s.parquet_path, &s.truth_path] {
        eprintln!("  wrote {}", p.display());
    }
    Ok(crate::cli::EXIT_OK)
}
