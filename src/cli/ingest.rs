//! `canalyst ingest INPUT... -o DATASET`: read telemetry files into a DATASET directory.

use crate::ingest::dataset::Codec;
use crate::ingest::{ingest_paths, IngestOptions, ParquetSink};
use crate::model::quality::DataQuality;
use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `canalyst ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Input files or directories (searched recursively). Formats are detected from content:
    /// OTLP/JSON lines or documents, gzip/zstd compressed, OTLP protobuf, Parquet.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Output DATASET directory (created; an existing DATASET is replaced).
    #[arg(short, long, value_name = "DATASET")]
    pub output: PathBuf,
    /// Fail (exit 2) and write nothing if any record was rejected.
    #[arg(long)]
    pub strict: bool,
    /// Rows per output batch; memory grows with it.
    #[arg(long, value_name = "N", default_value_t = 65_536)]
    pub batch_rows: usize,
    /// Print only errors (no summary, no progress bar).
    #[arg(short, long)]
    pub quiet: bool,
    /// Compression of the DATASET's Parquet files: lz4 (faster to write and to read), zstd
    /// (level 3; about a fifth smaller), zstd:LEVEL (1-22) or none.
    #[arg(long, value_name = "CODEC", default_value = "lz4")]
    pub compression: Codec,
}

/// Issues printed after the summary.
const SHOWN_ISSUES: usize = 10;

/// Prints the data-quality summary and the first located issues to stderr.
pub fn print_quality(q: &DataQuality) {
    eprintln!("{}", q.summary());
    for i in q.issues.iter().take(SHOWN_ISSUES) {
        eprintln!("  {}", crate::ingest::inventory::sanitize(&i.to_string()));
    }
    let more = q.issues.len().saturating_sub(SHOWN_ISSUES) as u64 + q.issues_not_listed;
    if more > 0 {
        eprintln!("  ... {more} more issues (see data_quality.json)");
    }
}

/// Runs the command; returns the exit code.
pub fn run(args: IngestArgs) -> anyhow::Result<i32> {
    let opts = ParquetSink::ingest_options(IngestOptions {
        batch_rows: args.batch_rows.max(1),
        ..IngestOptions::default()
    });
    let existed = args.output.exists();
    let mut sink = ParquetSink::create(&args.output, args.compression)?;
    let quality = if args.quiet {
        crate::ingest::driver::ingest_paths_with_progress(&args.inputs, &opts, &mut sink, false)
    } else {
        ingest_paths(&args.inputs, &opts, &mut sink)
    };
    let quality = match quality {
        Ok(q) => q,
        Err(e) => {
            sink.abandon();
            if !existed {
                let _ = std::fs::remove_dir(&args.output);
            }
            return Err(e.into());
        }
    };
    if args.strict && quality.records_rejected > 0 {
        sink.abandon();
        if !existed {
            let _ = std::fs::remove_dir(&args.output);
        }
        print_quality(&quality);
        eprintln!(
            "canalyst: --strict: {} record(s) rejected; nothing written",
            quality.records_rejected
        );
        return Ok(super::EXIT_ERROR);
    }
    let timing = crate::timings::phase("ingest: close the DATASET");
    let manifest = sink
        .finish(&quality)
        .with_context(|| format!("writing DATASET {}", args.output.display()))?;
    drop(timing);
    if !args.quiet {
        print_quality(&quality);
        eprintln!(
            "wrote {} ({} spans)",
            args.output.display(),
            manifest.spans_rows
        );
    }
    Ok(super::EXIT_OK)
}
