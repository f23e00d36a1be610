//! The DataFusion session: canonical `spans` table, `requests` view, canalyst's functions.

use super::scan::SpanSource;
use super::udaf;
use super::EngineError;
use crate::model::metrics::{metric_schemas, MetricTables};
use crate::model::resources::{is_stored_layout, stored_spans_schema};
use crate::model::spans::spans_schema;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::MemTable;
use datafusion::execution::context::SQLOptions;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use datafusion::prelude::{DataFrame, Expr, SessionConfig, SessionContext};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The `requests` view (design §3): entry spans, i.e. spans that are SERVER spans (kind 2),
/// root spans (no parent), or whose parent span is recorded under another service. A span
/// whose parent is missing from the data is a request only if it is a SERVER span or a root.
///
/// The parent lookup is a semi-join (`EXISTS`, which DataFusion plans as a hash join) applied
/// only to the spans the first two rules do not already decide: unlike a plain left join it
/// cannot duplicate a request when a parent span id occurs twice, and it skips the join's
/// work for SERVER and root spans (on a 1M-span file of SERVER spans: 0.3 s instead of 6 s
/// with a left join against a DISTINCT parent list, debug build).
pub const REQUESTS_VIEW: &str = "CREATE VIEW requests AS
SELECT * FROM spans
WHERE span_kind = 2 OR parent_span_id IS NULL
UNION ALL
SELECT * FROM spans AS s
WHERE s.span_kind <> 2
  AND s.parent_span_id IS NOT NULL
  AND EXISTS (
      SELECT 1 FROM spans AS p
      WHERE p.trace_id = s.trace_id
        AND p.span_id = s.parent_span_id
        AND p.service_name <> s.service_name)";

/// The columns of `spans` that analysis reads: `window.sql`, the `requests` view,
/// `route_samples.sql` and `operation_samples.sql`. An engine built for analysis from raw
/// files keeps only these (see [`Engine::from_projected_batches_with`]); the attribute maps
/// alone are most of an in-memory span table.
pub const ANALYSIS_COLUMNS: &[&str] = &[
    "trace_id",
    "span_id",
    "parent_span_id",
    "service_name",
    "service_version",
    "deployment_track",
    "span_name",
    "span_kind",
    "start_time",
    "duration_ns",
    "route",
    "is_error",
    "sample_weight",
];

/// Session settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// DataFusion partitions (parallelism of scans and aggregations). Results do not depend on
    /// it: every shipped query orders its output and the summariser sorts canonically.
    pub target_partitions: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            target_partitions: rayon::current_num_threads().max(1),
        }
    }
}

/// A DataFusion session over one set of canonical spans.
pub struct Engine {
    ctx: SessionContext,
    config: EngineConfig,
    source: SpanSource,
    /// The cluster address (`df://HOST:PORT`) when the session's plans run on a cluster.
    cluster: Option<String>,
    /// The cluster and the client's time limit per query, when plans run on a cluster.
    #[cfg(feature = "distributed")]
    remote: Option<(super::cluster::ClusterUrl, std::time::Duration)>,
    /// The temporary directory holding the spans when raw inputs were spilled to disk
    /// ([`Engine::from_spilled`]); removed when the engine is dropped.
    spill: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn register_err(
    table: &str,
) -> impl FnOnce(datafusion::error::DataFusionError) -> EngineError + '_ {
    move |error| EngineError::Register {
        table: table.to_string(),
        error,
    }
}

impl Engine {
    fn session(config: EngineConfig) -> SessionContext {
        let ctx = SessionContext::new_with_config(Self::session_config(config));
        for f in udaf::all() {
            ctx.register_udaf(f);
        }
        ctx.register_udf(super::resource_udf::udf());
        ctx
    }

    /// The settings of every session, local or on a cluster.
    fn session_config(config: EngineConfig) -> SessionConfig {
        let mut cfg = SessionConfig::new()
            .with_target_partitions(config.target_partitions.max(1))
            .with_information_schema(true);
        // Late materialisation in the Parquet scan: the `requests` view's filters (span kind,
        // parent, route, track) are decoded first and the wide columns (16-byte trace ids)
        // only for the rows that pass; benches/compare_analyze.sh measures the effect.
        let parquet = &mut cfg.options_mut().execution.parquet;
        parquet.pushdown_filters = true;
        parquet.reorder_filters = true;
        cfg
    }

    async fn finish(
        ctx: SessionContext,
        config: EngineConfig,
        source: SpanSource,
    ) -> Result<Self, EngineError> {
        ctx.sql(REQUESTS_VIEW)
            .await
            .map_err(register_err("requests"))?;
        Ok(Self {
            ctx,
            config,
            source,
            cluster: None,
            #[cfg(feature = "distributed")]
            remote: None,
            spill: None,
        })
    }

    /// An engine over in-memory batches in the canonical spans schema (as ingest produces
    /// them), spread round-robin over the configured partitions.
    pub async fn from_batches(batches: Vec<RecordBatch>) -> Result<Self, EngineError> {
        Self::from_batches_with(batches, EngineConfig::default()).await
    }

    /// [`Engine::from_batches`] with explicit settings.
    pub async fn from_batches_with(
        batches: Vec<RecordBatch>,
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        Self::from_schema_batches(spans_schema(), batches, config).await
    }

    /// An engine over in-memory batches holding only `columns` of the canonical schema, in
    /// canonical order (see [`projection`]): queries that read other columns fail to plan.
    pub async fn from_projected_batches_with(
        batches: Vec<RecordBatch>,
        columns: &[&str],
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        Self::from_schema_batches(projected_schema(columns)?, batches, config).await
    }

    async fn from_schema_batches(
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        for (index, b) in batches.iter().enumerate() {
            check_schema(&schema, &b.schema())
                .map_err(|reason| EngineError::Schema { index, reason })?;
        }
        let n = config.target_partitions.max(1);
        // Arrays are shared, not copied: the direct scan reads the same buffers.
        let source = SpanSource::Batches(batches.clone());
        let mut partitions: Vec<Vec<RecordBatch>> = vec![Vec::new(); n];
        for (i, b) in batches.into_iter().enumerate() {
            partitions[i % n].push(b);
        }
        let table = MemTable::try_new(schema, partitions).map_err(register_err("spans"))?;
        let ctx = Self::session(config);
        ctx.register_table("spans", Arc::new(table))
            .map_err(register_err("spans"))?;
        register_metric_tables(&ctx, &[])?;
        Self::finish(ctx, config, source).await
    }

    /// An engine over raw inputs that were spilled to `dir/spans.parquet`, a Parquet file
    /// holding `columns` of the canonical schema in canonical order (see [`projection`]).
    /// The engine owns `dir` and removes it when dropped; queries that read other columns
    /// fail to plan, as on [`Engine::from_projected_batches_with`].
    pub async fn from_spilled(
        dir: tempfile::TempDir,
        columns: &[&str],
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        let schema = projected_schema(columns)?;
        let files = vec![resolve_spans_file(dir.path())?];
        let table = spans_listing(&files, schema)?;
        let ctx = Self::session(config);
        ctx.register_table("spans", Arc::new(table))
            .map_err(register_err("spans"))?;
        register_metric_tables(&ctx, &[])?;
        let mut engine = Self::finish(ctx, config, SpanSource::Files(files)).await?;
        engine.spill = Some(dir);
        Ok(engine)
    }

    /// An engine over canonical Parquet files. Each path is either a `.parquet` file in the
    /// canonical spans schema or a dataset directory holding `spans.parquet`.
    pub async fn from_parquet(paths: &[PathBuf]) -> Result<Self, EngineError> {
        Self::from_parquet_with(paths, EngineConfig::default()).await
    }

    /// [`Engine::from_parquet`] with explicit settings.
    pub async fn from_parquet_with(
        paths: &[PathBuf],
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        let ctx = Self::session(config);
        let files = register_spans(&ctx, paths)?;
        register_metric_tables(&ctx, paths)?;
        Self::finish(ctx, config, SpanSource::Files(files)).await
    }

    /// [`Engine::from_parquet_with`] whose queries run on the Ballista cluster at `cluster`
    /// (feature `distributed`, [`super::cluster`]). Every path must be readable at the same
    /// place on the scheduler and every executor (a shared filesystem); the client reads only
    /// the file metadata. Analysis gathers its rows with the shipped SQL on such an engine
    /// ([`super::sql_scan`]), not with the direct scan.
    #[cfg(feature = "distributed")]
    pub async fn from_parquet_on_cluster(
        paths: &[PathBuf],
        config: EngineConfig,
        cluster: &super::cluster::ClusterUrl,
    ) -> Result<Self, EngineError> {
        let ctx = super::cluster::session(cluster, Self::session_config(config)).await?;
        let files = register_spans(&ctx, paths)?;
        register_metric_tables(&ctx, paths)?;
        let mut engine = Self::finish(ctx, config, SpanSource::Files(files)).await?;
        engine.cluster = Some(cluster.to_string());
        engine.remote = Some((cluster.clone(), super::cluster::DEFAULT_QUERY_TIMEOUT));
        Ok(engine)
    }

    /// Sets how long each query may run on the cluster before it is cancelled there and fails
    /// with [`ClusterError::Timeout`](super::cluster::ClusterError::Timeout) (default
    /// [`DEFAULT_QUERY_TIMEOUT`](super::cluster::DEFAULT_QUERY_TIMEOUT)). No effect on a
    /// local engine, whose queries cannot hang on another machine.
    #[cfg(feature = "distributed")]
    pub fn set_query_timeout(&mut self, limit: std::time::Duration) {
        if let Some((_, t)) = &mut self.remote {
            *t = limit;
        }
    }

    /// The DataFusion session (tables `spans`, `requests`; functions `quantile_exact`,
    /// `ddsketch_quantile`).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Replaces `metric_points`, `histogram_points` and `exp_histogram_points` with in-memory
    /// tables holding the rows of every entry of `tables`, in order.
    pub fn set_metric_tables(&self, tables: &[MetricTables]) -> Result<(), EngineError> {
        for (i, (name, schema)) in metric_schemas().into_iter().enumerate() {
            let batches: Vec<RecordBatch> = tables
                .iter()
                .map(|t| t.tables()[i].1.clone())
                .filter(|b| b.num_rows() > 0)
                .collect();
            let table = MemTable::try_new(schema, vec![batches]).map_err(register_err(name))?;
            self.ctx
                .deregister_table(name)
                .map_err(register_err(name))?;
            self.ctx
                .register_table(name, Arc::new(table))
                .map_err(register_err(name))?;
        }
        Ok(())
    }

    /// Where the spans live (for [`super::scan`], which reads them without SQL).
    pub fn source(&self) -> &SpanSource {
        &self.source
    }

    /// The settings this engine was built with.
    pub fn config(&self) -> EngineConfig {
        self.config
    }

    /// The cluster (`df://HOST:PORT`) the engine's plans run on; `None` when they run here.
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    /// A query's name in errors: with the cluster it ran on, and what a missing function
    /// there means.
    fn query_error(&self, name: &str, error: datafusion::error::DataFusionError) -> EngineError {
        let Some(cluster) = &self.cluster else {
            return EngineError::Query {
                query: name.to_string(),
                error,
            };
        };
        let mut query = format!("{name} on cluster {cluster}");
        #[cfg(feature = "distributed")]
        if let Some(h) = super::cluster::hint(&error) {
            query.push_str(&format!(" ({h})"));
        }
        // An executor's read error does not always name its file (a corrupt page says only
        // "Data corruption detected"), and the client cannot tell which task read what.
        let text = error.to_string();
        if let SpanSource::Files(files) = &self.source {
            let named = files.iter().any(|f| text.contains(&*f.to_string_lossy()));
            if text.contains("Task failed") && !named {
                let shown: Vec<String> = files
                    .iter()
                    .take(3)
                    .map(|f| f.display().to_string())
                    .collect();
                let more = match files.len().saturating_sub(3) {
                    0 => String::new(),
                    n => format!(" and {n} more"),
                };
                query.push_str(&format!(
                    " (an executor failed reading {}{more}?)",
                    shown.join(", ")
                ));
            }
        }
        EngineError::Query { query, error }
    }

    /// Plans read-only SQL (no DDL, DML or `SET`) with `$1, $2, …` bound to `params`.
    /// `name` identifies the query in errors.
    pub async fn dataframe(
        &self,
        name: &str,
        sql: &str,
        params: Vec<ScalarValue>,
    ) -> Result<DataFrame, EngineError> {
        let err = |error| self.query_error(name, error);
        let opts = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let df = self.ctx.sql_with_options(sql, opts).await.map_err(err)?;
        if params.is_empty() {
            Ok(df)
        } else {
            df.with_param_values(params).map_err(err)
        }
    }

    /// Runs read-only SQL with bound parameters and collects the result with its schema.
    pub async fn query(
        &self,
        name: &str,
        sql: &str,
        params: Vec<ScalarValue>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), EngineError> {
        let df = self.dataframe(name, sql, params).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        // `DataFrame::collect` in two steps, so that a cluster job can be cancelled by its plan.
        let task = Arc::new(df.task_ctx());
        let plan = df
            .create_physical_plan()
            .await
            .map_err(|error| self.query_error(name, error))?;
        let run = async {
            datafusion::physical_plan::collect(Arc::clone(&plan), task)
                .await
                .map_err(|error| self.query_error(name, error))
        };
        let batches = self.bounded(name, &plan, run).await?;
        Ok((schema, batches))
    }

    /// Executes `df` as a stream, with the plan it runs (for [`Engine::bounded`]).
    pub async fn execute_stream(
        &self,
        name: &str,
        df: DataFrame,
    ) -> Result<(Arc<dyn ExecutionPlan>, SendableRecordBatchStream), EngineError> {
        let task = Arc::new(df.task_ctx());
        let plan = df
            .create_physical_plan()
            .await
            .map_err(|error| self.query_error(name, error))?;
        let stream = datafusion::physical_plan::execute_stream(Arc::clone(&plan), task)
            .map_err(|error| self.query_error(name, error))?;
        Ok((plan, stream))
    }

    /// Awaits `run`, the execution of `plan` by query `name`. On a cluster it waits at most
    /// the query time limit (`Engine::set_query_timeout`); then it cancels the plan's job on
    /// the scheduler and fails with
    /// `ClusterError::Timeout`. Locally it just
    /// awaits.
    pub async fn bounded<T>(
        &self,
        name: &str,
        plan: &Arc<dyn ExecutionPlan>,
        run: impl std::future::Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        #[cfg(feature = "distributed")]
        if let Some((url, limit)) = &self.remote {
            return match tokio::time::timeout(*limit, run).await {
                Ok(result) => result,
                Err(_) => Err(super::cluster::ClusterError::Timeout {
                    query: name.to_string(),
                    url: url.to_string(),
                    after: *limit,
                    job: super::cluster::cancel(url, plan).await,
                }
                .into()),
            };
        }
        let _ = (name, plan);
        run.await
    }
}

/// Indices in the canonical schema of `columns`, which must be canonical column names in
/// canonical order (so a projected batch has the same layout whoever projected it).
pub fn projection(columns: &[&str]) -> Result<Vec<usize>, EngineError> {
    let schema = spans_schema();
    let mut out = Vec::with_capacity(columns.len());
    for c in columns {
        let i = schema
            .index_of(c)
            .map_err(|_| EngineError::Options(format!("{c} is not a canonical spans column")))?;
        if out.last().is_some_and(|&last| last >= i) {
            return Err(EngineError::Options(format!(
                "column {c} is out of canonical order"
            )));
        }
        out.push(i);
    }
    Ok(out)
}

/// Column names and types must match the canonical schema (nullability may be stricter).
fn check_schema(want: &SchemaRef, got: &SchemaRef) -> Result<(), String> {
    if want.fields().len() != got.fields().len() {
        return Err(format!(
            "{} columns, expected {}",
            got.fields().len(),
            want.fields().len()
        ));
    }
    for (w, g) in want.fields().iter().zip(got.fields()) {
        if w.name() != g.name() || w.data_type() != g.data_type() {
            return Err(format!(
                "column {} {:?}, expected {} {:?}",
                g.name(),
                g.data_type(),
                w.name(),
                w.data_type()
            ));
        }
    }
    Ok(())
}

/// The `spans` table over the canonical Parquet files of `paths` (see
/// [`Engine::from_parquet`]), and the files.
/// The canonical spans schema cut to `columns` (canonical order, see [`projection`]).
fn projected_schema(columns: &[&str]) -> Result<SchemaRef, EngineError> {
    let schema = spans_schema()
        .project(&projection(columns)?)
        .map_err(|e| register_err("spans")(e.into()))?;
    Ok(Arc::new(schema))
}

/// A listing table of `schema` over span files already resolved ([`resolve_spans_file`]).
fn spans_listing(files: &[PathBuf], schema: SchemaRef) -> Result<ListingTable, EngineError> {
    if files.is_empty() {
        return Err(EngineError::Input {
            path: PathBuf::new(),
            reason: "no input given".into(),
        });
    }
    let urls = files
        .iter()
        .map(|f| listing_url(f))
        .collect::<Result<Vec<_>, _>>()?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let table_config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    ListingTable::try_new(table_config).map_err(register_err("spans"))
}

/// Registers `spans` over the span files of `paths` and returns the files, in input order.
/// Canonical files (`resource_attributes` in every row: version-1 DATASETs, bare canonical
/// files) are the table as they are; DATASETs' stored files (schema version 2,
/// `resource_id`) are a view that puts `resource_attributes` back from the `resources.parquet`
/// beside each file ([`super::resource_udf`]). Inputs of both kinds together are the union of
/// the view and the plain files, each projected to the canonical columns by name.
fn register_spans(ctx: &SessionContext, paths: &[PathBuf]) -> Result<Vec<PathBuf>, EngineError> {
    let (mut stored, mut carrying) = (Vec::new(), Vec::new());
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        let file = resolve_spans_file(p)?;
        if is_stored_spans_file(&file)? {
            stored.push(file.clone());
        } else {
            carrying.push(file.clone());
        }
        files.push(file);
    }
    if stored.is_empty() {
        let table = spans_listing(&carrying, spans_schema())?;
        ctx.register_table("spans", Arc::new(table))
            .map_err(register_err("spans"))?;
        return Ok(files);
    }
    let table = spans_listing(&stored, stored_spans_schema())?;
    let resources: Vec<PathBuf> = stored
        .iter()
        .map(|f| crate::ingest::resources_file::beside(f))
        .collect();
    if let Some(missing) = resources.iter().find(|r| !r.is_file()) {
        return Err(EngineError::Input {
            path: missing.clone(),
            reason: "missing: a DATASET's spans.parquet is read with the resources.parquet \
                     beside it"
                .into(),
        });
    }
    let refs: Vec<&std::path::Path> = resources.iter().map(PathBuf::as_path).collect();
    let exprs =
        super::resource_udf::spans_view_exprs(&refs).map_err(|reason| EngineError::Input {
            path: resources[0].clone(),
            reason,
        })?;
    let view = ctx
        .read_table(Arc::new(table))
        .and_then(|df| df.alias("stored_spans"))
        .and_then(|df| df.select(exprs))
        .map_err(register_err("spans"))?;
    let view = if carrying.is_empty() {
        view
    } else {
        // Files that carry their maps (version-1 DATASETs, canonical files) beside version-2
        // ones. The plain side is projected to the canonical columns like the view: a union
        // with the bare listing as its input failed in DataFusion 55's projection pruning
        // ("UNION field 0 have different type in inputs", commit 90b3c2e); with both inputs
        // projections, the queries that failed then plan and agree with one re-ingested
        // DATASET (tests/cli `ingest::version_1_and_2_datasets_read_together_as_one`).
        let plain = spans_listing(&carrying, spans_schema())?;
        let columns: Vec<Expr> = spans_schema()
            .fields()
            .iter()
            .map(|f| Expr::Column(Column::from_name(f.name())))
            .collect();
        let plain = ctx
            .read_table(Arc::new(plain))
            .and_then(|df| df.select(columns))
            .map_err(register_err("spans"))?;
        view.union(plain).map_err(register_err("spans"))?
    };
    ctx.register_table("spans", view.into_view())
        .map_err(register_err("spans"))?;
    Ok(files)
}

/// Whether the Parquet file holds `resource_id` instead of `resource_attributes` (a DATASET's
/// stored layout). Reads the footer only.
fn is_stored_spans_file(file: &std::path::Path) -> Result<bool, EngineError> {
    let bad = |reason: String| EngineError::Input {
        path: file.to_path_buf(),
        reason,
    };
    let f = std::fs::File::open(file).map_err(|e| bad(e.to_string()))?;
    let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    Ok(is_stored_layout(b.schema()))
}

/// The listing-table URL of an absolute local `file`, with errors naming the file.
fn listing_url(file: &std::path::Path) -> Result<ListingTableUrl, EngineError> {
    let url = url::Url::from_file_path(file).map_err(|()| EngineError::Input {
        path: file.to_path_buf(),
        reason: "cannot be expressed as a file URL".into(),
    })?;
    ListingTableUrl::try_new(url, None).map_err(|e| EngineError::Input {
        path: file.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Registers `metric_points`, `histogram_points` and `exp_histogram_points`: over the
/// `<table>.parquet` files of the dataset directories in `paths` that have one, else as an
/// empty table with the canonical schema (so queries work on span-only datasets). The empty
/// table is DataFusion's `EmptyTable`, which a plan sent to a cluster can carry (an in-memory
/// table it cannot).
fn register_metric_tables(ctx: &SessionContext, paths: &[PathBuf]) -> Result<(), EngineError> {
    for (name, schema) in metric_schemas() {
        let mut urls = Vec::new();
        for p in paths.iter().filter(|p| p.is_dir()) {
            let file = p.join(format!("{name}.parquet"));
            if !file.is_file() {
                continue;
            }
            let file = std::path::absolute(&file).map_err(|e| EngineError::Input {
                path: file.clone(),
                reason: e.to_string(),
            })?;
            urls.push(listing_url(&file)?);
        }
        if urls.is_empty() {
            ctx.register_table(name, Arc::new(EmptyTable::new(schema)))
                .map_err(register_err(name))?;
        } else {
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet");
            let cfg = ListingTableConfig::new_with_multi_paths(urls)
                .with_listing_options(options)
                .with_schema(schema);
            let table = ListingTable::try_new(cfg).map_err(register_err(name))?;
            ctx.register_table(name, Arc::new(table))
                .map_err(register_err(name))?;
        }
    }
    Ok(())
}

/// A dataset directory's `spans.parquet`, or the file itself; absolute.
fn resolve_spans_file(p: &Path) -> Result<PathBuf, EngineError> {
    let bad = |reason: &str| EngineError::Input {
        path: p.to_path_buf(),
        reason: reason.to_string(),
    };
    let meta = std::fs::metadata(p).map_err(|e| bad(&e.to_string()))?;
    let file = if meta.is_dir() {
        let f = p.join(crate::ingest::dataset::SPANS_FILE);
        if !f.is_file() {
            return Err(bad(
                "directory has no spans.parquet (not a canalyst dataset)",
            ));
        }
        f
    } else {
        if p.extension().and_then(|e| e.to_str()) != Some("parquet") {
            return Err(bad("expected a .parquet file or a dataset directory"));
        }
        p.to_path_buf()
    };
    std::fs::canonicalize(&file).map_err(|e| bad(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::testdata::{resource, T0};
    use crate::model::identity::{kind, IdentityConfig};
    use crate::model::spans::{SpanRecord, SpansBuilder};
    use arrow::array::AsArray;
    use arrow::compute::cast;
    use arrow::datatypes::DataType;

    fn span(id: u8, parent: Option<u8>, name: &str, k: i32) -> SpanRecord {
        SpanRecord {
            trace_id: [9; 16],
            span_id: [id; 8],
            parent_span_id: parent.map(|p| [p; 8]),
            name: name.into(),
            kind: k,
            start_time_unix_nano: T0,
            end_time_unix_nano: T0 + 1_000,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn requests_are_entry_spans() {
        let mut b = SpansBuilder::new(Arc::new(IdentityConfig::default()), "t");
        let a = resource("a", "stable", "1");
        let other = resource("b", "stable", "1");
        b.append(&a, &span(1, None, "root", kind::SERVER)); // request: server and root
        b.append(&a, &span(2, Some(1), "call b", kind::CLIENT)); // same service: no
        b.append(&a, &span(2, Some(1), "call b", kind::CLIENT)); // duplicated parent id
        b.append(&other, &span(3, Some(2), "handle", kind::CONSUMER)); // parent in a: yes, once
        b.append(&other, &span(4, Some(3), "inner", kind::INTERNAL)); // same service: no
        b.append(&other, &span(5, Some(77), "orphan", kind::CLIENT)); // parent unknown: no
        b.append(&other, &span(6, Some(78), "GET /x", kind::SERVER)); // server: yes
        b.append(&a, &span(7, None, "cron", kind::INTERNAL)); // root: yes
        let e = Engine::from_batches(vec![b.finish().unwrap()])
            .await
            .unwrap();
        let (_, batches) = e
            .query(
                "t",
                "SELECT span_name FROM requests ORDER BY span_name",
                vec![],
            )
            .await
            .unwrap();
        let names: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                let c = cast(b.column(0), &DataType::Utf8).unwrap();
                c.as_string::<i32>()
                    .iter()
                    .map(|s| s.unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(names, ["GET /x", "cron", "handle", "root"]);
    }

    #[test]
    fn projection_needs_canonical_names_in_order() {
        let p = projection(&["trace_id", "span_name", "route"]).unwrap();
        assert_eq!(p, [0, 8, 17]);
        assert!(projection(&["route", "trace_id"]).is_err());
        assert!(projection(&["trace_id", "nope"]).is_err());
        assert_eq!(
            projection(ANALYSIS_COLUMNS).unwrap().len(),
            ANALYSIS_COLUMNS.len()
        );
    }

    #[tokio::test]
    async fn projected_engine_has_only_its_columns() {
        let batches = crate::engine::testdata::deployment();
        let full = Engine::from_batches(batches.clone()).await.unwrap();
        let idx = projection(ANALYSIS_COLUMNS).unwrap();
        let projected: Vec<RecordBatch> =
            batches.iter().map(|b| b.project(&idx).unwrap()).collect();
        let slim = Engine::from_projected_batches_with(
            projected.clone(),
            ANALYSIS_COLUMNS,
            EngineConfig::default(),
        )
        .await
        .unwrap();
        let sql = "SELECT count(*) AS n, sum(duration_ns) AS d FROM requests";
        let (_, a) = full.query("t", sql, vec![]).await.unwrap();
        let (_, b) = slim.query("t", sql, vec![]).await.unwrap();
        assert_eq!(a, b);
        // A column left out is not silently null: the query fails to plan.
        assert!(slim
            .query("t", "SELECT span_attributes FROM spans", vec![])
            .await
            .is_err());
        // Full canonical batches do not fit a projected table.
        assert!(Engine::from_projected_batches_with(
            batches,
            ANALYSIS_COLUMNS,
            EngineConfig::default()
        )
        .await
        .is_err());
    }

    #[tokio::test]
    async fn rejects_foreign_batches_and_writes() {
        let batch = RecordBatch::try_from_iter([(
            "x",
            Arc::new(arrow::array::Int64Array::from(vec![1])) as arrow::array::ArrayRef,
        )])
        .unwrap();
        let err = Engine::from_batches(vec![batch]).await.unwrap_err();
        assert!(matches!(err, EngineError::Schema { index: 0, .. }));
        let e = Engine::from_batches(vec![]).await.unwrap();
        for sql in [
            "CREATE TABLE t AS SELECT 1",
            "DROP VIEW requests",
            "SET datafusion.execution.batch_size = 1",
        ] {
            assert!(e.query("t", sql, vec![]).await.is_err(), "{sql}");
        }
        let (_, b) = e
            .query("t", "SELECT count(*) FROM requests", vec![])
            .await
            .unwrap();
        assert_eq!(b[0].num_rows(), 1);
    }
}
