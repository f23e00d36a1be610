//! Flags shared by `analyze` and `report`: inputs, sides, window, configuration.

use crate::analysis::analyze_with_metrics;
use crate::analysis::config::AnalysisConfig;
use crate::analysis::report::AnalysisReport;
use crate::engine::inputs::open_inputs;
use crate::engine::metric_input::{load_metric_data, metric_window};
use crate::engine::metric_series::{metric_series, report_bucket_ns};
use crate::engine::queries::Params;
use crate::engine::{comparison_input, EngineConfig, EngineOptions};
use crate::engine::{Engine, EngineError};
use crate::ingest::IngestOptions;
use crate::model::comparison::{ComparisonInput, Selector};
use crate::model::metric_series::MetricSeries;
use crate::model::time::parse_rfc3339;
use anyhow::{bail, Context};
use clap::Args;
use std::path::PathBuf;

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

    fn engine_options(&self, cfg: &AnalysisConfig) -> anyhow::Result<EngineOptions> {
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
        Ok(EngineOptions {
            service: self.service.clone(),
            since_unix_nano: time("since", &self.since)?,
            until_unix_nano: time("until", &self.until)?,
            bucket_ns: i64::from(self.bucket_seconds) * 1_000_000_000,
            levels: cfg.levels.clone(),
            ..EngineOptions::default()
        })
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
        let cfg = self.config()?;
        let opts = self.engine_options(&cfg)?;
        let (baseline, canary) = self.selectors();
        let threads = rayon::current_num_threads().max(1);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let (input, metrics, quality, series) = rt.block_on(async {
            let timing = crate::timings::phase("open inputs");
            let opened = open_inputs(
                &self.inputs,
                &IngestOptions::default(),
                crate::engine::context::ANALYSIS_COLUMNS,
                EngineConfig {
                    target_partitions: threads,
                },
            )
            .await?;
            drop(timing);
            super::ingest::print_quality(&opened.quality);
            // Before selecting sides: a rejected record must fail a --strict run even when
            // what is left cannot be compared (the rejection is the cause, not the symptom).
            if self.strict && opened.quality.records_rejected > 0 {
                bail!(
                    "--strict: {} input records were rejected ({})",
                    opened.quality.records_rejected,
                    opened.quality.summary()
                );
            }
            let _timing = crate::timings::phase("comparison input");
            let input = match comparison_input(&opened.engine, &baseline, &canary, &opts).await {
                Ok(input) => input,
                // No spans at all: a metrics-only input, whose window comes from the metrics.
                Err(e @ EngineError::EmptySide { .. }) => {
                    if span_count(&opened.engine).await? > 0 {
                        return Err(e.into());
                    }
                    metrics_only_input(&opened.engine, &baseline, &canary, &opts)
                        .await
                        .map_err(|m| anyhow::anyhow!("{e}; {m}"))?
                }
                Err(e) => return Err(e.into()),
            };
            let ma = &cfg.metric_analysis;
            // With spans, metrics are only read when something will judge them.
            let wanted = input.groups.is_empty()
                || ma.with_spans
                || !ma.ratios.is_empty()
                || !ma.series.is_empty();
            let metrics = if ma.enabled && wanted {
                let _timing = crate::timings::phase("metric input");
                Some(
                    load_metric_data(
                        &opened.engine,
                        &baseline,
                        &canary,
                        &opts.service,
                        input.window,
                        opts.bucket_ns,
                    )
                    .await?,
                )
            } else {
                None
            };
            let series = if with_series {
                let _timing = crate::timings::phase("metric series");
                let params = Params {
                    baseline: input.baseline.clone(),
                    canary: input.canary.clone(),
                    service: self.service.clone(),
                    window: input.window,
                    bucket_ns: report_bucket_ns(&input.window, input.bucket_ns),
                };
                Some(metric_series(&opened.engine, &params).await?)
            } else {
                None
            };
            anyhow::Ok((input, metrics, opened.quality, series))
        })?;
        let timing = crate::timings::phase("statistics and verdict");
        let report = analyze_with_metrics(&input, metrics.as_ref(), &cfg, quality);
        drop(timing);
        Ok((input, report, series))
    }
}

/// Number of spans in the engine.
async fn span_count(engine: &Engine) -> anyhow::Result<i64> {
    use arrow::array::AsArray;
    let (_, batches) = engine
        .query(
            "span count",
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM spans",
            vec![],
        )
        .await?;
    Ok(batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| {
            b.column(0)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .value(0)
        })
        .unwrap_or(0))
}

/// The comparison input of a metrics-only run: no span groups, the window from
/// `--since`/`--until` or else from the metrics ([`metric_window`]).
async fn metrics_only_input(
    engine: &Engine,
    baseline: &Selector,
    canary: &Selector,
    opts: &EngineOptions,
) -> anyhow::Result<ComparisonInput> {
    let auto = metric_window(engine, baseline, canary, &opts.service, opts.bucket_ns).await?;
    let start = opts.since_unix_nano.or(auto.map(|w| w.start_unix_nano));
    let end = opts.until_unix_nano.or(auto.map(|w| w.end_unix_nano));
    let (Some(start), Some(end)) = (start, end) else {
        bail!(
            "no metric points either where both sides reported at the same time; give --since/--until to compare anyway"
        );
    };
    if start >= end {
        bail!("empty window: start {start} ns is not before end {end} ns");
    }
    Ok(ComparisonInput {
        baseline: baseline.clone(),
        canary: canary.clone(),
        window: crate::model::comparison::Window {
            start_unix_nano: start,
            end_unix_nano: end,
        },
        bucket_ns: opts.bucket_ns,
        canary_first_seen_unix_nano: None,
        groups: Vec::new(),
    })
}
