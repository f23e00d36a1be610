//! `canalyst backtest`: what a rollout policy would have done on recorded telemetry
//! (`docs/backtest.md`).

use super::forensics::Format;
use super::selection::AnalysisArgs;
use crate::backtest::import::import;
use crate::backtest::policy::Policy;
use crate::backtest::replay::{replay, ReplayOptions};
use crate::model::time::parse_rfc3339;
use crate::pipeline::Columns;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `canalyst backtest`.
#[derive(Debug, Args)]
#[command(
    about = "Replay recorded telemetry through a rollout policy: promoted, rolled back or incomplete",
    after_help = "Exit codes: 0 promoted, 1 rolled back, 3 incomplete, 2 error.\n\
Example: canalyst backtest sample-data/otlp --policy progressive --onset 2026-01-01T00:20:00Z -o backtest/"
)]
pub struct BacktestArgs {
    /// Inputs, sides, window; `--config`/`--preset` give the analysis of gates that name none.
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Policy: a TOML file, a preset (progressive, progressive-simple), or an Argo Rollouts
    /// `Rollout` / Flagger `Canary` YAML file (`.yaml`, `.yml`), imported.
    #[arg(long, value_name = "FILE|PRESET")]
    pub policy: String,
    /// With a YAML policy: files holding the `AnalysisTemplate`s / `MetricTemplate`s it names.
    #[arg(long = "template", alias = "analysis-template", value_name = "FILE")]
    pub templates: Vec<String>,
    /// When the canary went bad (RFC 3339), for time to detect.
    #[arg(long, value_name = "TIME")]
    pub onset: Option<String>,
    /// Seed of the canary thinning (the same seed gives the same replay).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Write backtest.json, report.md, index.html and charts/ into this directory.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `canalyst backtest`.
pub fn run(args: BacktestArgs) -> anyhow::Result<i32> {
    let default_analysis = args.analysis.config()?;
    let is_yaml = args.policy.ends_with(".yaml") || args.policy.ends_with(".yml");
    if !is_yaml && !args.templates.is_empty() {
        anyhow::bail!("--template applies to an Argo Rollouts or Flagger YAML --policy only");
    }
    let imported = if is_yaml {
        let imported = import(&args.policy, &args.templates)?;
        for w in &imported.warnings {
            eprintln!("canalyst: warning: not replayed: {w}");
        }
        Some(imported)
    } else {
        None
    };
    let policy = match &imported {
        Some(i) => Policy::from_toml_str(
            &i.toml,
            &args.policy,
            std::path::Path::new(&args.policy).parent(),
            &default_analysis,
        )
        .with_context(|| format!("the policy imported from {}:\n{}", args.policy, i.toml))?,
        None => Policy::load(&args.policy, &default_analysis)?,
    };
    let onset_unix_nano = args
        .onset
        .as_deref()
        .map(|s| parse_rfc3339(s).with_context(|| format!("--onset {s:?} is not an RFC 3339 time")))
        .transpose()?;
    let (sources, selection) = args.analysis.open(Columns::Analysis, Vec::new(), false)?;
    let bucket_ns = selection.bucket_ns;
    let (log, _quality) = sources.request_log(selection)?;
    let opts = ReplayOptions {
        seed: args.seed,
        onset_unix_nano,
        bucket_ns,
        generated_at: crate::analysis::generation_time(),
    };
    let report = {
        let _timing = crate::timings::phase("replay");
        replay(&log, &policy, &opts)?
    };
    if let Some(dir) = &args.output {
        let path = crate::report::backtest::write_backtest(dir, &report)?;
        eprintln!("canalyst: wrote {}", path.display());
        if let Some(i) = &imported {
            let p = dir.join("policy.toml");
            std::fs::write(&p, &i.toml).with_context(|| format!("writing {}", p.display()))?;
            eprintln!("canalyst: wrote {}", p.display());
        }
    }
    match args.format {
        Format::Text => print!("{}", report.summary()),
        Format::Json => print!("{}", serde_json::to_string_pretty(&report)? + "\n"),
        Format::Md => print!("{}", crate::report::backtest::markdown(&report)),
    }
    Ok(report.exit_code())
}
