//! Flags shared by `analyze` and `report`: inputs, sides, window, configuration.

use super::partitions::TracePartitionArgs;
use crate::analysis::analyze_with_metrics;
use crate::analysis::config::AnalysisConfig;
use crate::analysis::findings::AnalysisReport;
use crate::forensics::TraceTrees;
use crate::ingest::IngestOptions;
use crate::model::comparison::{ComparisonInput, GroupLevel, Selector};
use crate::model::metric_series::MetricSeries;
use crate::model::time::parse_rfc3339;
use crate::model::traces::ForensicsInput;
use crate::pipeline::{Columns, PreparedRun, Selection, Sources};
use anyhow::{bail, Context};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

/// Inputs, the two sides, the window and the judgement configuration.
#[derive(Debug, Args)]
pub struct AnalysisArgs {
    /// Telemetry files or directories (OTLP JSON/protobuf, Parquet) or DATASET directories.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Analysis configuration (TOML; `preset = ...` inside picks the base).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Preset when no --config is given: default, seed-simple, kayenta.
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub preset: String,
    /// Baseline side: `deployment.track` value (default `stable` unless versions are given).
    #[arg(long, value_name = "TRACK")]
    pub baseline_track: Option<String>,
    /// Canary side: `deployment.track` value (default `canary` unless versions are given).
    #[arg(long, value_name = "TRACK")]
    pub canary_track: Option<String>,
    /// Baseline side: `service.version` value.
    #[arg(long, value_name = "VERSION")]
    pub baseline_version: Option<String>,
    /// Canary side: `service.version` value.
    #[arg(long, value_name = "VERSION")]
    pub canary_version: Option<String>,
    /// Only this service.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Window start (RFC 3339); default: when both sides served traffic.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Window end, exclusive (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Time-bucket width for series, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub bucket_seconds: u32,
    /// Fail (exit 2) if any input record was rejected.
    #[arg(long)]
    pub strict: bool,
    /// Where the queries run.
    #[command(flatten)]
    pub placement: super::placement::ClusterArg,
}

impl AnalysisArgs {
    /// Baseline and canary selectors from the flags: tracks, versions, or both.
    pub fn selectors(&self) -> (Selector, Selector) {
        let by_version = self.baseline_version.is_some() || self.canary_version.is_some();
        let by_track = self.baseline_track.is_some() || self.canary_track.is_some() || !by_version;
        let side = |track: &Option<String>, default: &str, version: &Option<String>| Selector {
            track: by_track.then(|| track.clone().unwrap_or_else(|| default.to_string())),
            version: version.clone(),
        };
        (
            side(&self.baseline_track, "stable", &self.baseline_version),
            side(&self.canary_track, "canary", &self.canary_version),
        )
    }

    /// The configuration named by `--config` or `--preset`.
    pub fn config(&self) -> anyhow::Result<AnalysisConfig> {
        Ok(match &self.config {
            Some(p) => AnalysisConfig::from_file(p)?,
            None => AnalysisConfig::preset(&self.preset)?,
        })
    }

    /// The [`Selection`] the flags ask for, building the group `levels` (and the durations'
    /// time buckets when `duration_buckets`).
    fn selection(
        &self,
        levels: Vec<GroupLevel>,
        duration_buckets: bool,
    ) -> anyhow::Result<Selection> {
        let time = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<i64>> {
            v.as_deref()
                .map(|s| {
                    parse_rfc3339(s)
                        .with_context(|| format!("--{flag} {s:?} is not an RFC 3339 time"))
                })
                .transpose()
        };
        if self.bucket_seconds == 0 {
            bail!("--bucket-seconds must be at least 1");
        }
        let (baseline, canary) = self.selectors();
        Ok(Selection {
            baseline,
            canary,
            service: self.service.clone(),
            since_unix_nano: time("since", &self.since)?,
            until_unix_nano: time("until", &self.until)?,
            bucket_ns: i64::from(self.bucket_seconds) * 1_000_000_000,
            levels,
            duration_buckets,
        })
    }

    /// Opens the inputs keeping `columns`, prints the data-quality log and applies `--strict`;
    /// returns the opened inputs and the selection the flags ask for (building `levels`, and the
    /// durations' time buckets when `duration_buckets`, for the sequential latency gates).
    pub fn open(
        &self,
        columns: Columns,
        levels: Vec<GroupLevel>,
        duration_buckets: bool,
    ) -> anyhow::Result<(Sources, Selection)> {
        self.open_with(columns, levels, duration_buckets, None, false)
    }

    /// [`Self::open`]; with `span_keys`, raw inputs keep only those span attribute keys and no
    /// resource attributes ([`IngestOptions::span_attribute_keys`]), except, with
    /// `entry_maps`, on SERVER, CONSUMER and root spans, which keep every attribute
    /// ([`IngestOptions::entry_attribute_maps`]).
    pub fn open_with(
        &self,
        columns: Columns,
        levels: Vec<GroupLevel>,
        duration_buckets: bool,
        span_keys: Option<&[String]>,
        entry_maps: bool,
    ) -> anyhow::Result<(Sources, Selection)> {
        let selection = self.selection(levels, duration_buckets)?;
        let ingest = IngestOptions {
            span_attribute_keys: span_keys.map(Arc::from),
            entry_attribute_maps: entry_maps,
            ..IngestOptions::default()
        };
        let sources =
            Sources::open_on(&self.inputs, &ingest, columns, &self.placement.placement()?)?;
        super::ingest::print_quality(sources.quality());
        // Before selecting sides: a rejected record must fail a --strict run even when
        // what is left cannot be compared (the rejection is the cause, not the symptom).
        let rejected = sources.quality().records_rejected;
        if self.strict && rejected > 0 {
            bail!(
                "--strict: {rejected} input records were rejected ({})",
                sources.quality().summary()
            );
        }
        Ok((sources, selection))
    }

    /// [`Self::open`], then selects the sides, service and window.
    pub fn prepare(
        &self,
        columns: Columns,
        levels: Vec<GroupLevel>,
        duration_buckets: bool,
    ) -> anyhow::Result<PreparedRun> {
        let (sources, selection) = self.open(columns, levels, duration_buckets)?;
        Ok(sources.prepare(selection)?)
    }

    /// Opens the inputs, builds the comparison input and judges it.
    pub fn run_analysis(&self) -> anyhow::Result<(ComparisonInput, AnalysisReport)> {
        let (input, report, _) = self.run_analysis_and_metrics(false)?;
        Ok((input, report))
    }

    /// [`Self::run_analysis`], plus (when `with_series`) the per-track metric series of the same
    /// sides, service and window from the metric tables (empty without metric data).
    pub fn run_analysis_and_metrics(
        &self,
        with_series: bool,
    ) -> anyhow::Result<(ComparisonInput, AnalysisReport, Option<MetricSeries>)> {
        let (input, report, series, _) = self.run_analysis_metrics_forensics(with_series, None)?;
        Ok((input, report, series))
    }

    /// [`Self::run_analysis_and_metrics`], plus the forensics input of the same sides, service
    /// and window when `forensics` (the originating-track keys and the trace partitioning) is
    /// given: raw inputs are then read with the columns forensics needs, and the span trees
    /// are assembled in the partitions `forensics.1` chooses.
    #[allow(clippy::type_complexity)]
    pub fn run_analysis_metrics_forensics(
        &self,
        with_series: bool,
        forensics: Option<(&[String], &TracePartitionArgs)>,
    ) -> anyhow::Result<(
        ComparisonInput,
        AnalysisReport,
        Option<MetricSeries>,
        Option<(ForensicsInput, TraceTrees)>,
    )> {
        let origin_keys = forensics.map(|f| f.0);
        if let Some((_, p)) = forensics {
            p.check()?;
        }
        let cfg = self.config()?;
        let columns = match origin_keys {
            Some(_) => Columns::Forensics,
            None => Columns::Analysis,
        };
        let sequential = cfg.method == crate::analysis::config::Method::Sequential;
        // Forensics without its attribute diff reads only the originating-track keys of the
        // attribute maps: copying every attribute of every span would double the memory.
        let (sources, selection) =
            self.open_with(columns, cfg.levels.clone(), sequential, origin_keys, false)?;
        let run = sources.prepare(selection)?;
        let input = run.comparison_input();
        let metrics = cfg
            .metric_analysis
            .wanted(!input.groups.is_empty())
            .then(|| run.metric_data())
            .transpose()?;
        let series = with_series.then(|| run.series()).transpose()?;
        let forensics = match forensics {
            Some((keys, partitions)) => {
                Some(run.forensics_and_trees(keys, partitions.partitions(&run)?, None)?)
            }
            None => None,
        };
        let (input, quality) = run.into_parts();
        let w = input.window;
        cfg.check_looks(
            w.end_unix_nano - w.start_unix_nano,
            input.bucket_ns,
            &cfg.name,
        )?;
        let timing = crate::timings::phase("statistics and verdict");
        let report = analyze_with_metrics(&input, metrics.as_ref(), &cfg, quality);
        drop(timing);
        Ok((input, report, series, forensics))
    }
}
