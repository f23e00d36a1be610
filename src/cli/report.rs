//! `canalyst report`: the analysis rendered as HTML, Markdown, JSON and charts in a directory.

use super::forensics::OriginKeys;
use super::partitions::TracePartitionArgs;
use super::selection::AnalysisArgs;
use crate::analysis::human_summary;
use crate::forensics::{forensics_with, ForensicsOptions};
use crate::report::write_report_with_forensics;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `canalyst report`.
#[derive(Debug, Args)]
#[command(
    about = "Write a canary report (index.html, report.md, report.json, charts/) to a directory",
    after_help = "Exit codes as for analyze: 0 promote, 1 rollback, 3 continue, 2 error.\n\
Example: canalyst report sample-data/otlp -o reports/example"
)]
pub struct ReportArgs {
    /// Inputs, sides, window and configuration.
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Output directory (created if missing).
    #[arg(short = 'o', long = "output", value_name = "DIR", required = true)]
    pub output: PathBuf,
    /// Report title (default names the two sides).
    #[arg(long)]
    pub title: Option<String>,
    /// Leave out the Forensics section (failing traces, error signatures, downstream by
    /// originating track): raw inputs are then read without the span attributes.
    #[arg(long)]
    pub no_forensics: bool,
    /// As for `canalyst forensics`.
    #[command(flatten)]
    pub origin: OriginKeys,
    /// As for `canalyst forensics`: how the Forensics section assembles span trees.
    #[command(flatten)]
    pub partitions: TracePartitionArgs,
}

/// Runs `canalyst report`.
pub fn run(args: ReportArgs) -> anyhow::Result<i32> {
    let keys = args.origin.checked()?;
    let forensics = (!args.no_forensics).then_some((keys, &args.partitions));
    let (input, report, metrics, forensics_input) = args
        .analysis
        .run_analysis_metrics_forensics(true, forensics)?;
    let forensics_report = match forensics_input {
        Some((fi, trees)) => {
            let opts = ForensicsOptions::for_report(args.analysis.config()?);
            let _timing = crate::timings::phase("forensics");
            Some(forensics_with(&fi, trees, &opts))
        }
        None => None,
    };
    let title = args.title.clone().unwrap_or_else(|| {
        let side = |s: &crate::model::comparison::Selector| {
            [s.track.as_deref(), s.version.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        };
        format!(
            "Canary report: {} vs {}",
            side(&report.canary),
            side(&report.baseline)
        )
    });
    let files = write_report_with_forensics(
        &args.output,
        &report,
        &input,
        metrics.as_ref(),
        forensics_report.as_ref(),
        &title,
    )?;
    eprintln!("canalyst: wrote {}", files.html.display());
    print!("{}", human_summary(&report));
    Ok(report.verdict.exit_code())
}
