//! `canalyst forensics`: failing traces with the span that started each failure, counts per
//! origin and track, error signatures compared between canary and stable, and services
//! without a track of their own compared by the track their calls came from.

use super::partitions::TracePartitionArgs;
use super::selection::AnalysisArgs;
use crate::forensics::{forensics_with, ForensicsOptions};
use crate::model::traces::{BaselineSet, RequestSelect};
use crate::pipeline::Columns;
use crate::report::forensics::{markdown, text};
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// What `canalyst forensics` and `canalyst backtest` print on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A short summary.
    Text,
    /// The JSON the command writes (`forensics.json`, `backtest.json`).
    Json,
    /// The Markdown it writes (`forensics.md`, `report.md`).
    Md,
}

/// `--origin-key`, shared by `forensics` and `report`.
#[derive(Debug, Args)]
pub struct OriginKeys {
    /// Span attribute carrying the track a call originated on (W3C baggage copied into span
    /// attributes), tried in the order given; repeat for several (any number;
    /// the first one a span holds decides).
    #[arg(
        long = "origin-key",
        value_name = "KEY",
        default_values_t = DEFAULT_ORIGIN_KEYS.map(String::from)
    )]
    pub keys: Vec<String>,
}

impl OriginKeys {
    /// The keys, or an exit-2 error for an empty key.
    pub fn checked(&self) -> anyhow::Result<&[String]> {
        if self.keys.iter().any(|k| k.is_empty()) {
            bail!("--origin-key: a key is empty");
        }
        Ok(&self.keys)
    }
}

/// `--baseline` of the attribute diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BaselineArg {
    /// The canary requests outside the selection.
    Rest,
    /// The baseline side's requests.
    Stable,
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
    /// trace's track), and `--config`/`--preset`: analyze's statistics for the downstream
    /// comparisons.
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// `--origin-key`.
    #[command(flatten)]
    pub origin: OriginKeys,
    /// Canary requests the attribute diff explains: `errors`, `slow` (slower than stable's p99
    /// of the same route) or an SQL condition on the request's columns (for example
    /// `"http_status_code = 503"` or `"span_attributes['app.region'] = 'eu'"`; parsed as one
    /// expression, never spliced into a query).
    #[arg(long, value_name = "errors|slow|SQL", default_value = "errors")]
    pub select: String,
    /// What the selection is compared against: `rest` (the other canary requests) or `stable`
    /// (the baseline side's requests).
    #[arg(long = "baseline", value_enum, default_value_t = BaselineArg::Rest)]
    pub baseline_set: BaselineArg,
    /// Failing traces to list (all are counted).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: usize,
    /// Level for classifying signatures (on Benjamini–Hochberg adjusted p-values).
    #[arg(long, value_name = "ALPHA", default_value_t = 0.05)]
    pub alpha: f64,
    /// `--memory-budget`, `--trace-partitions`.
    #[command(flatten)]
    pub partitions: TracePartitionArgs,
    /// Write forensics.json and forensics.md into this directory (created if missing).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The default `--origin-key`s.
pub use crate::forensics::DEFAULT_ORIGIN_KEYS;

/// Default `--memory-budget`, MiB.
pub use crate::forensics::DEFAULT_MEMORY_BUDGET_MIB;

/// Runs `canalyst forensics`.
pub fn run(args: ForensicsArgs) -> anyhow::Result<i32> {
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        bail!(
            "--alpha must be between 0 and 1 (exclusive), got {}",
            args.alpha
        );
    }
    let origin_keys = args.origin.checked()?;
    let analysis = args.analysis.config()?;
    // Every attribute of the spans that are requests (the attribute diff), only the
    // originating-track keys of the others (downstream attribution): most spans are not
    // requests, and their attribute maps would be most of the memory.
    let (sources, selection) = args.analysis.open_with(
        Columns::Forensics,
        Vec::new(),
        false,
        Some(origin_keys),
        true,
    )?;
    let lean = !sources.all_datasets();
    let run = sources.prepare(selection)?;
    let select = match args.select.trim() {
        "errors" => RequestSelect::Errors,
        "slow" => RequestSelect::Slow,
        "" => bail!("--select: empty; give errors, slow or an SQL condition"),
        sql => RequestSelect::Sql(sql.to_string()),
    };
    let baseline_set = match args.baseline_set {
        BaselineArg::Rest => BaselineSet::Rest,
        BaselineArg::Stable => BaselineSet::Stable,
    };
    args.partitions.check()?;
    let partitions = args.partitions.partitions(&run)?;
    let (input, trees) =
        run.forensics_and_trees(origin_keys, partitions, Some((&select, baseline_set)))?;
    let opts = ForensicsOptions {
        limit: args.limit,
        alpha: args.alpha,
        analysis,
        select,
        baseline_set,
        entry_maps_only: lean,
    };
    let report = {
        let _timing = crate::timings::phase("forensics");
        forensics_with(&input, trees, &opts)
    };
    let json = serde_json::to_string_pretty(&report)? + "\n";
    let md = markdown(&report);
    if let Some(dir) = &args.output {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, body) in [("forensics.json", &json), ("forensics.md", &md)] {
            let path = dir.join(name);
            std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
        }
        // The attribute diff's chart, beside forensics.md which links it.
        let chart = report
            .attributes
            .as_ref()
            .and_then(crate::report::charts::attribute_shares::AttributeShares::of);
        if let Some(chart) = chart {
            let r = crate::report::charts::render(&chart)?;
            for (ext, body) in [("svg", r.svg.as_bytes()), ("png", r.png.as_slice())] {
                let path = dir.join(format!("{}.{ext}", r.name));
                std::fs::write(&path, body)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
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
