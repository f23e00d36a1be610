//! `canalyst forensics`: failing traces with the span that started each failure, counts per
//! origin and track, and error signatures compared between canary and stable.

use super::selection::AnalysisArgs;
use crate::forensics::{forensics, ForensicsOptions};
use crate::pipeline::Columns;
use crate::report::forensics::{markdown, text};
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// What `canalyst forensics` prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A short summary.
    Text,
    /// `forensics.json`.
    Json,
    /// `forensics.md`.
    Md,
}

/// Arguments of `canalyst forensics`.
#[derive(Debug, Args)]
#[command(
    about = "Failing traces and the span that started each failure, error signatures canary vs stable",
    after_help = "Exit codes: 0 done (whatever was found), 2 error.\n\
Example: canalyst forensics sample-data/otlp -o forensics/ --limit 20"
)]
pub struct ForensicsArgs {
    /// Inputs, sides, window (`--service` also names the service whose spans decide a
    /// trace's track). `--config`/`--preset` are accepted and not used yet.
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Failing traces to list (all are counted).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: usize,
    /// Level for classifying signatures (on Benjamini–Hochberg adjusted p-values).
    #[arg(long, value_name = "ALPHA", default_value_t = 0.05)]
    pub alpha: f64,
    /// Write forensics.json and forensics.md into this directory (created if missing).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `canalyst forensics`.
pub fn run(args: ForensicsArgs) -> anyhow::Result<i32> {
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        bail!(
            "--alpha must be between 0 and 1 (exclusive), got {}",
            args.alpha
        );
    }
    let run = args
        .analysis
        .prepare(Columns::Forensics, Vec::new(), false)?;
    let input = run.forensics_input()?;
    let opts = ForensicsOptions {
        limit: args.limit,
        alpha: args.alpha,
    };
    let report = forensics(&input, opts);
    let json = serde_json::to_string_pretty(&report)? + "\n";
    let md = markdown(&report);
    if let Some(dir) = &args.output {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, body) in [("forensics.json", &json), ("forensics.md", &md)] {
            let path = dir.join(name);
            std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
        }
        eprintln!("canalyst: wrote {}", dir.join("forensics.json").display());
    }
    match args.format {
        Format::Text => print!("{}", text(&report)),
        Format::Json => print!("{json}"),
        Format::Md => print!("{md}"),
    }
    Ok(super::EXIT_OK)
}
