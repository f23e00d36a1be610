//! Pipeline: inputs + selection → a prepared run, the library side of every command that
//! reads telemetry (`analyze`, `report`, `sql`, `inspect`, `query`).
//!
//! The flow is two steps, so a command can look at the data quality between them:
//!
//! 1. [`Sources::open`] reads the inputs (raw files, DATASET directories, or both) into one
//!    DataFusion session ([`Engine`]) with the canonical tables registered, and merges the
//!    data-quality logs in input order. It owns the async runtime, so callers stay
//!    synchronous; [`Sources::query`] runs user SQL over it.
//! 2. [`Sources::prepare`] applies a [`Selection`] (the two sides, the service, the window:
//!    given, or detected as the time when both sides served traffic) and yields a
//!    [`PreparedRun`], whose [`comparison_input`](PreparedRun::comparison_input) is fixed and
//!    whose metric data and series are read on demand, each with one query pass.
//!
//! Invariants: one engine per run; every table is read through it; nothing here prints; the
//! window of a [`PreparedRun`] is non-empty; results do not depend on the thread count (the
//! engine's queries order their output).

pub mod query;

use crate::engine::attribute_counts::AttributeRequests;
use crate::engine::context::ANALYSIS_COLUMNS;
use crate::engine::forensics::{downstream_partitions, forensics_input};
pub use crate::engine::inputs::Placement;
use crate::engine::inputs::{open_inputs_on, InputsError, SpillPolicy};
use crate::engine::metric_input::{load_metric_data, metric_window};
use crate::engine::metric_series::{metric_series, report_bucket_ns};
use crate::engine::output::{write_result, OutputError};
use crate::engine::queries::{parse_param, Params};
use crate::engine::request_log::request_log;
use crate::engine::{comparison_input, Engine, EngineConfig, EngineError, EngineOptions};
use crate::forensics::TraceTrees;
use crate::ingest::inventory::{inspect_paths, Inventory};
use crate::ingest::{is_dataset, IngestError, IngestOptions};
use crate::model::comparison::{ComparisonInput, GroupLevel, Selector, Window};
use crate::model::metric_data::MetricData;
use crate::model::metric_series::MetricSeries;
use crate::model::quality::DataQuality;
use crate::model::requests::RequestLog;
use crate::model::spans::SPAN_COLUMNS;
use crate::model::traces::{BaselineSet, DownstreamInput, ForensicsInput, RequestSelect};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use std::io::Write;
use std::path::PathBuf;

pub use crate::engine::output::ResultFormat;

/// Why a pipeline step failed; each variant carries the file, query or flag concerned.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The async runtime could not start.
    #[error("starting the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// Reading or registering the inputs failed.
    #[error(transparent)]
    Inputs(#[from] InputsError),
    /// Reading an input failed (inspect).
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// A query failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Writing a query result failed.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The inputs hold no spans of a side and the metrics give no window either.
    // Both messages are shown inline: the span error says which side is empty, the second
    // why the metrics could not stand in.
    #[error("{spans}; {metrics}")]
    NoComparison {
        /// Why the span comparison failed.
        spans: EngineError,
        /// Why the metrics-only comparison failed.
        metrics: Box<PipelineError>,
    },
    /// No metric points of both sides at the same time and no `--since`/`--until`.
    #[error(
        "no metric points either where both sides reported at the same time; give --since/--until to compare anyway"
    )]
    NoMetricOverlap,
    /// The window given is empty.
    #[error("empty window: start {start} ns is not before end {end} ns")]
    EmptyWindow {
        /// Window start, ns since the epoch.
        start: i64,
        /// Window end, ns since the epoch.
        end: i64,
    },
}

/// Which span columns an in-memory ingest keeps (DATASETs are always scanned whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// Only what analysis reads ([`ANALYSIS_COLUMNS`]).
    Analysis,
    /// Every canonical column ([`SPAN_COLUMNS`]), for user SQL.
    All,
    /// What analysis reads plus the messages and source file ([`FORENSICS_EXTRA_COLUMNS`]).
    Forensics,
}

/// What `canalyst forensics` reads beyond [`ANALYSIS_COLUMNS`]: status and exception messages,
/// the source file, HTTP method and status (for `--select` predicates) and both attribute maps
/// (the originating track baggage carries; the attribute diff).
pub const FORENSICS_EXTRA_COLUMNS: &[&str] = &[
    "http_method",
    "http_status_code",
    "resource_attributes",
    "span_attributes",
    "status_message",
    "exception_type",
    "exception_message",
    "source_file",
];

/// [`ANALYSIS_COLUMNS`] and [`FORENSICS_EXTRA_COLUMNS`] in canonical order (as a projection
/// needs them).
fn forensics_columns() -> &'static [&'static str] {
    static COLUMNS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        SPAN_COLUMNS
            .iter()
            .copied()
            .filter(|c| ANALYSIS_COLUMNS.contains(c) || FORENSICS_EXTRA_COLUMNS.contains(c))
            .collect()
    })
}

/// What to compare: the two sides, the service, the window and the cut.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The baseline side.
    pub baseline: Selector,
    /// The canary side.
    pub canary: Selector,
    /// Only this `service.name` (all services when `None`).
    pub service: Option<String>,
    /// Window start, ns since the epoch (default: detected, see [`Sources::prepare`]).
    pub since_unix_nano: Option<i64>,
    /// Window end, exclusive (default: detected).
    pub until_unix_nano: Option<i64>,
    /// Time-bucket width in nanoseconds (positive).
    pub bucket_ns: i64,
    /// Group levels to build (operation groups cost most; leave out what no one judges).
    pub levels: Vec<GroupLevel>,
    /// Record the time bucket of every duration (`EngineOptions::duration_buckets`): wanted by
    /// `method = "sequential"` only.
    pub duration_buckets: bool,
}

impl Selection {
    fn engine_options(&self) -> EngineOptions {
        EngineOptions {
            service: self.service.clone(),
            since_unix_nano: self.since_unix_nano,
            until_unix_nano: self.until_unix_nano,
            bucket_ns: self.bucket_ns,
            levels: self.levels.clone(),
            duration_buckets: self.duration_buckets,
            ..EngineOptions::default()
        }
    }
}

/// The opened inputs: one engine over all of them, the merged data-quality log, and the
/// runtime that drives the engine.
pub struct Sources {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
    quality: DataQuality,
    all_datasets: bool,
}

impl Sources {
    /// Opens `paths` (raw telemetry files or directories, DATASET directories, or both) with
    /// one DataFusion partition and one runtime worker per rayon thread. DATASETs are scanned
    /// in place; anything else is ingested into memory keeping `columns`.
    pub fn open(
        paths: &[PathBuf],
        ingest: &IngestOptions,
        columns: Columns,
    ) -> Result<Self, PipelineError> {
        Self::open_on(paths, ingest, columns, &Placement::Local)
    }

    /// [`Sources::open`] with the engine's plans run where `placement` says (on a cluster,
    /// every input must be a DATASET).
    pub fn open_on(
        paths: &[PathBuf],
        ingest: &IngestOptions,
        columns: Columns,
        placement: &Placement,
    ) -> Result<Self, PipelineError> {
        let threads = rayon::current_num_threads().max(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .map_err(PipelineError::Runtime)?;
        let columns = match columns {
            Columns::Analysis => ANALYSIS_COLUMNS,
            Columns::All => SPAN_COLUMNS,
            Columns::Forensics => forensics_columns(),
        };
        // Raw inputs past CANALYST_SPILL_MIB of kept columns go to a temporary file.
        let spill = SpillPolicy::from_env()?;
        let opened = runtime.block_on(async {
            let _timing = crate::timings::phase("open inputs");
            open_inputs_on(
                paths,
                ingest,
                columns,
                EngineConfig {
                    target_partitions: threads,
                },
                placement,
                &spill,
            )
            .await
        })?;
        Ok(Self {
            runtime,
            engine: opened.engine,
            quality: opened.quality,
            all_datasets: paths.iter().all(|p| is_dataset(p)),
        })
    }

    /// The data-quality log of every input, in input order.
    pub fn quality(&self) -> &DataQuality {
        &self.quality
    }

    /// Whether every input was a DATASET (whose quality log was reported when it was written).
    pub fn all_datasets(&self) -> bool {
        self.all_datasets
    }

    /// Runs a read-only query over the registered tables.
    pub fn query(&self, query: &SqlQuery) -> Result<QueryResult, PipelineError> {
        let (schema, batches) = self.runtime.block_on(self.engine.query(
            "user SQL",
            &query.sql,
            query.params.clone(),
        ))?;
        Ok(QueryResult { schema, batches })
    }

    /// Selects the two sides, service and window and builds the comparison input. The window
    /// is `since`/`until` where given, else the span time when both sides served traffic; an
    /// input without any span falls back to the metric window (the buckets where both sides
    /// reported metric points).
    pub fn prepare(self, selection: Selection) -> Result<PreparedRun, PipelineError> {
        let opts = selection.engine_options();
        let engine = &self.engine;
        let input = self.runtime.block_on(async {
            let _timing = crate::timings::phase("comparison input");
            match comparison_input(engine, &selection.baseline, &selection.canary, &opts).await {
                Ok(input) => Ok(input),
                Err(spans @ EngineError::EmptySide { .. }) => {
                    if span_count(engine).await? > 0 {
                        return Err(spans.into());
                    }
                    metrics_only_input(engine, &selection, &opts)
                        .await
                        .map_err(|m| PipelineError::NoComparison {
                            spans,
                            metrics: Box::new(m),
                        })
                }
                Err(e) => Err(e.into()),
            }
        })?;
        Ok(PreparedRun {
            sources: self,
            selection,
            input,
        })
    }
}

impl Sources {
    /// Selects the two sides, service and window as [`Sources::prepare`] does (same checks,
    /// same detected window) and reads every request in it with its trace
    /// ([`RequestLog`]), for `canalyst backtest`. No per-group samples are built.
    pub fn request_log(
        self,
        selection: Selection,
    ) -> Result<(RequestLog, DataQuality), PipelineError> {
        let opts = selection.engine_options();
        let engine = &self.engine;
        let log = self.runtime.block_on(async {
            let _timing = crate::timings::phase("request log scan");
            request_log(engine, &selection.baseline, &selection.canary, &opts).await
        })?;
        Ok((log, self.quality))
    }
}

/// User SQL with its bound parameters, checked before any input is opened.
#[derive(Debug, Clone)]
pub struct SqlQuery {
    sql: String,
    params: Vec<ScalarValue>,
}

impl SqlQuery {
    /// The SQL text with `params` bound to `$1, $2, …` in order (each `TYPE:VALUE`, see
    /// [`parse_param`]); values are bound, never spliced into the SQL.
    pub fn new(sql: String, params: &[String]) -> Result<Self, PipelineError> {
        let params = params
            .iter()
            .map(|p| parse_param(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { sql, params })
    }
}

/// A query result: its schema and rows.
pub struct QueryResult {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl QueryResult {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// Writes the result to `out` in `format`.
    pub fn write<W: Write + Send>(
        &self,
        format: ResultFormat,
        out: W,
    ) -> Result<(), PipelineError> {
        Ok(write_result(format, &self.schema, &self.batches, out)?)
    }
}

/// Inputs with a selection applied: the comparison input, and the engine to read the metric
/// tables of the same sides, service and window.
pub struct PreparedRun {
    sources: Sources,
    selection: Selection,
    input: ComparisonInput,
}

impl PreparedRun {
    /// The per-group samples of both sides in the window (no groups for a metrics-only input).
    pub fn comparison_input(&self) -> &ComparisonInput {
        &self.input
    }

    /// The data-quality log of the inputs.
    pub fn quality(&self) -> &DataQuality {
        &self.sources.quality
    }

    /// Every metric point of both sides whose bucket overlaps the window.
    pub fn metric_data(&self) -> Result<MetricData, PipelineError> {
        let _timing = crate::timings::phase("metric input");
        let s = &self.selection;
        Ok(self.sources.runtime.block_on(load_metric_data(
            &self.sources.engine,
            &self.input.baseline,
            &self.input.canary,
            &s.service,
            self.input.window,
            s.bucket_ns,
        ))?)
    }

    /// The per-side metric series over the window, in the report's bucket width
    /// ([`report_bucket_ns`]); empty without metric data.
    pub fn series(&self) -> Result<MetricSeries, PipelineError> {
        let _timing = crate::timings::phase("metric series");
        let params = Params {
            baseline: self.input.baseline.clone(),
            canary: self.input.canary.clone(),
            service: self.selection.service.clone(),
            window: self.input.window,
            bucket_ns: report_bucket_ns(&self.input.window, self.input.bucket_ns),
        };
        Ok(self
            .sources
            .runtime
            .block_on(metric_series(&self.sources.engine, &params))?)
    }

    /// The spans of the failing traces, the error spans and the requests per service and side
    /// of the selection's sides, service and window, and (with `origin_keys`, the span
    /// attributes that carry an originating track) every span for downstream attribution
    /// (`canalyst forensics`).
    /// With `attributes` (a selection and what it is compared against), also the request counts
    /// per attribute value for the attribute diff, read in one streamed pass over the
    /// requests; then the candidate pairs
    /// ([`crate::forensics::attributes::pair_candidates`]) chosen from those counts are
    /// counted in a second pass ([`AttributeRequests`]).
    pub fn forensics_input(
        &self,
        origin_keys: &[String],
        attributes: Option<(&RequestSelect, BaselineSet)>,
    ) -> Result<ForensicsInput, PipelineError> {
        let _timing = crate::timings::phase("forensics input");
        let engine = &self.sources.engine;
        let params = self.forensics_params();
        Ok(self.sources.runtime.block_on(async {
            let mut input = forensics_input(engine, &params, origin_keys).await?;
            if let Some((select, baseline)) = attributes {
                let requests = AttributeRequests {
                    engine,
                    params: &params,
                    select,
                    baseline,
                };
                let timing = crate::timings::phase("forensics: attribute counts");
                let (mut counts, first) = requests.counts().await?;
                drop(timing);
                let _timing = crate::timings::phase("forensics: attribute pairs");
                let candidates = crate::forensics::attributes::pair_candidates(&counts, select);
                counts.pairs = requests.pairs(candidates, first).await?;
                input.attributes = Some(counts);
            }
            Ok::<_, EngineError>(input)
        })?)
    }

    /// [`forensics_input`] (without origin keys) and the trace trees of every partition
    /// ([`downstream_partitions`] added to a [`TraceTrees`]), read side by side on two
    /// threads: the two reads are independent, and together they fill the cores each leaves
    /// idle (the queries' single-threaded stretches, the tree walks). The results are those
    /// of the two calls one after the other; peak memory holds both at once.
    pub fn forensics_and_trees(
        &self,
        origin_keys: &[String],
        partitions: u32,
        attributes: Option<(&RequestSelect, BaselineSet)>,
    ) -> Result<(ForensicsInput, TraceTrees), PipelineError> {
        std::thread::scope(|s| {
            let input = s.spawn(|| self.forensics_input(&[], attributes));
            let mut trees = TraceTrees::default();
            let down = self.downstream_partitions(origin_keys, partitions, |part| trees.add(part));
            let input = input
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            Ok((input?, down.map(|()| trees)?))
        })
    }

    /// Every span for downstream attribution and the structure diff, in `partitions` passes of
    /// whole traces partitioned by a hash of the trace id, each handed to `on_part`
    /// ([`crate::engine::forensics::downstream_partitions`]). Memory holds one partition.
    pub fn downstream_partitions(
        &self,
        origin_keys: &[String],
        partitions: u32,
        on_part: impl FnMut(DownstreamInput),
    ) -> Result<(), PipelineError> {
        let _timing = crate::timings::phase("forensics: downstream spans");
        Ok(self.sources.runtime.block_on(downstream_partitions(
            &self.sources.engine,
            &self.forensics_params(),
            origin_keys,
            partitions,
            on_part,
        ))?)
    }

    /// Spans in the inputs (all of them, whatever the window).
    pub fn span_count(&self) -> Result<u64, PipelineError> {
        let n = self
            .sources
            .runtime
            .block_on(span_count(&self.sources.engine))?;
        Ok(n.max(0) as u64)
    }

    fn forensics_params(&self) -> Params {
        Params {
            baseline: self.input.baseline.clone(),
            canary: self.input.canary.clone(),
            service: self.selection.service.clone(),
            window: self.input.window,
            bucket_ns: self.input.bucket_ns,
        }
    }

    /// The comparison input and the data-quality log, dropping the engine.
    pub fn into_parts(self) -> (ComparisonInput, DataQuality) {
        (self.input, self.sources.quality)
    }
}

/// What `inspect` shows: counts by dimension over the inputs (DATASETs read from their
/// tables, raw files ingested on the fly, nothing written) and the merged data-quality log.
pub fn inspect(
    paths: &[PathBuf],
    ingest: &IngestOptions,
) -> Result<(Inventory, DataQuality), PipelineError> {
    Ok(inspect_paths(paths, ingest)?)
}

/// Number of spans in the engine.
async fn span_count(engine: &Engine) -> Result<i64, EngineError> {
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
/// `since`/`until` or else from the metrics ([`metric_window`]).
async fn metrics_only_input(
    engine: &Engine,
    selection: &Selection,
    opts: &EngineOptions,
) -> Result<ComparisonInput, PipelineError> {
    let (baseline, canary) = (&selection.baseline, &selection.canary);
    let auto = metric_window(engine, baseline, canary, &opts.service, opts.bucket_ns).await?;
    let start = opts.since_unix_nano.or(auto.map(|w| w.start_unix_nano));
    let end = opts.until_unix_nano.or(auto.map(|w| w.end_unix_nano));
    let (Some(start), Some(end)) = (start, end) else {
        return Err(PipelineError::NoMetricOverlap);
    };
    if start >= end {
        return Err(PipelineError::EmptyWindow { start, end });
    }
    Ok(ComparisonInput {
        baseline: baseline.clone(),
        canary: canary.clone(),
        window: Window {
            start_unix_nano: start,
            end_unix_nano: end,
        },
        bucket_ns: opts.bucket_ns,
        canary_first_seen_unix_nano: None,
        groups: Vec::new(),
    })
}
