//! `canalyst sql`: run SQL over the canonical tables (`spans`, `requests`).

use crate::ingest::IngestOptions;
use crate::pipeline::{Columns, ResultFormat, Sources, SqlQuery};
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Output format flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text table.
    Table,
    /// CSV with a header (scalar columns only).
    Csv,
    /// A JSON array of row objects.
    Json,
    /// Apache Parquet (requires -o).
    Parquet,
}

/// Arguments of `canalyst sql`.
#[derive(Debug, Args)]
#[command(
    after_help = "Tables: spans (one row per span), requests (entry spans), metric_points, \
histogram_points, exp_histogram_points. Functions: \
quantile_exact(value, q), ddsketch_quantile(value, q [, alpha]), histogram_quantile(q, bounds, \
bucket_counts), exp_histogram_quantile(q, scale, zero_count, positive_offset, \
positive_bucket_counts, negative_offset, negative_bucket_counts) and DataFusion's built-ins.\n\
Example: canalyst sql \"SELECT service_name, count(*) FROM requests GROUP BY 1\" out/dataset\n\
Shipped queries: canalyst sql -f queries/route_summary.sql out/dataset --param str:stable \
--param null --param str:canary --param null --param null \
--param ts:2024-01-01T00:00:00Z --param ts:2024-01-02T00:00:00Z"
)]
pub struct SqlArgs {
    /// The SQL text (leave out with -f).
    #[arg(value_name = "QUERY")]
    pub query: Option<String>,
    /// Inputs: DATASET directories (scanned in place), or any file `ingest` reads (OTLP
    /// JSON/protobuf, canonical/ClickHouse/Tempo Parquet), ingested into memory first.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Read the SQL from this file instead of QUERY.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the result to this file instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Bind $1, $2, … in order: null, str:TEXT, int:N, float:X, bool:B, ts:RFC3339,
    /// interval:TEXT. Values are bound, never spliced into the SQL.
    #[arg(short = 'p', long = "param", value_name = "TYPE:VALUE")]
    pub params: Vec<String>,
    /// Where the query runs.
    #[command(flatten)]
    pub placement: super::placement::ClusterArg,
}

/// Runs `canalyst sql`.
pub fn run(args: SqlArgs) -> anyhow::Result<i32> {
    let SqlArgs {
        query,
        mut inputs,
        file,
        format,
        output,
        params,
        placement,
    } = args;
    let sql = match (file, query) {
        (Some(f), q) => {
            // With -f, the first positional is an input, not SQL.
            if let Some(q) = q {
                inputs.insert(0, PathBuf::from(q));
            }
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?
        }
        (None, Some(q)) => q,
        (None, None) => bail!("give a QUERY or -f FILE"),
    };
    if inputs.is_empty() {
        bail!("give at least one INPUT (a DATASET directory or a telemetry file)");
    }
    if format == Format::Parquet && output.is_none() {
        bail!("--format parquet needs -o FILE");
    }
    let query = SqlQuery::new(sql, &params)?;
    let sources = Sources::open_on(
        &inputs,
        &IngestOptions::default(),
        Columns::All,
        &placement.placement()?,
    )?;
    // The query result is the output; data quality is worth a word only when the inputs
    // were ingested just now and something was wrong with them.
    let q = sources.quality();
    if !sources.all_datasets() && (!q.issues.is_empty() || q.issues_not_listed > 0) {
        super::ingest::print_quality(q);
    }
    let result = sources.query(&query)?;
    let format = match format {
        Format::Table => ResultFormat::Table,
        Format::Csv => ResultFormat::Csv,
        Format::Json => ResultFormat::Json,
        Format::Parquet => ResultFormat::Parquet,
    };
    match &output {
        Some(path) => {
            let f = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            result
                .write(format, std::io::BufWriter::new(f))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        None => result.write(format, std::io::BufWriter::new(std::io::stdout()))?,
    }
    let rows = result.rows();
    eprintln!("canalyst sql: {rows} row(s)");
    Ok(super::EXIT_OK)
}
