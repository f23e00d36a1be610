//! `canalyst analyze`: judge canary against baseline and print or write the JSON report.

use super::selection::AnalysisArgs;
use crate::analysis::human_summary;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `canalyst analyze`.
#[derive(Debug, Args)]
#[command(
    about = "Compare canary against baseline and decide: promote (exit 0), rollback (1), continue (3)",
    after_help = "Exit codes: 0 promote, 1 rollback, 3 continue (not enough evidence), 2 error.\n\
Example: canalyst analyze sample-data/otlp -o report.json"
)]
pub struct AnalyzeArgs {
    /// Inputs, sides, window and configuration.
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Write the JSON report here; `-` writes it to stdout instead of the text summary.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs `canalyst analyze`.
pub fn run(args: AnalyzeArgs) -> anyhow::Result<i32> {
    let (_, report) = args.analysis.run_analysis()?;
    let json = serde_json::to_string_pretty(&report)? + "\n";
    match args.output.as_deref() {
        Some(p) if p.as_os_str() == "-" => print!("{json}"),
        Some(p) => {
            std::fs::write(p, json).with_context(|| format!("writing {}", p.display()))?;
            print!("{}", human_summary(&report));
        }
        None => print!("{}", human_summary(&report)),
    }
    Ok(report.verdict.exit_code())
}
