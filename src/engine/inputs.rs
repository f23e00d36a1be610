//! Opening a command's inputs as an [`Engine`]: DATASET directories, canonical Parquet files
//! and raw telemetry files alike.
//!
//! When every input is a DATASET the engine scans their `spans.parquet` files directly (memory
//! bounded by DataFusion's batches, not the data); otherwise everything is ingested first with
//! the same readers as `canalyst ingest`, keeping only the
//! [`ANALYSIS_COLUMNS`](super::context::ANALYSIS_COLUMNS) of each batch as it arrives (the
//! attribute maps and messages would be most of the memory). Those columns are held in memory
//! up to a [`SpillPolicy`] budget; past it, what is held and everything after it is written to
//! a temporary Parquet file, which the engine then scans like a DATASET, so memory stays
//! bounded by the batches and not by the input (10 GB of OTLP/JSON held 2.1 GB before). The metric tables come along on
//! both paths: from the DATASETs' metric Parquet files, or from the ingest of the raw files
//! (plus the metric files of any DATASET given next to them). Either way the data-quality
//! logs of all inputs are merged in input order.

use super::context::projection;
use super::{Engine, EngineConfig, EngineError};
use crate::ingest::dataset::{is_dataset, load_spans_into, open_dataset};
use crate::ingest::{BatchSink, IngestError, IngestOptions};
use crate::model::metrics::MetricTables;
use crate::model::quality::DataQuality;
use crate::model::spans::KeptColumns;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::path::PathBuf;

/// Why inputs could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum InputsError {
    /// Reading or ingesting an input failed.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// Registering the tables failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// No input was given.
    #[error("no input given")]
    Empty,
    /// A spill setting from the environment is not valid.
    #[error("{name}={value}: {reason}")]
    SpillSetting {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An input a cluster cannot read where it is: only DATASETs are scanned in place.
    #[error("{path}: a cluster reads DATASET directories only (on a path every executor sees); ingest raw files first (canalyst ingest FILES -o DATASET)")]
    NotOnCluster {
        /// The input.
        path: PathBuf,
    },
}

/// Where an engine's plans run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Placement {
    /// In this process.
    #[default]
    Local,
    /// On the Ballista cluster of this scheduler (feature `distributed`), each query
    /// cancelled and failed after `timeout` ([`Engine::set_query_timeout`]).
    #[cfg(feature = "distributed")]
    Cluster {
        /// The scheduler.
        url: super::cluster::ClusterUrl,
        /// The client's time limit per query.
        timeout: std::time::Duration,
    },
}

/// How much of raw inputs' kept span columns is held in memory before the spans go to a
/// temporary Parquet file instead (DATASET inputs are always scanned in place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpillPolicy {
    /// Bytes of kept columns (Arrow buffer sizes) held in memory; past them, spill.
    pub above_bytes: u64,
    /// Where the temporary directory is made; `None`: the system's (`TMPDIR`).
    pub dir: Option<PathBuf>,
}

/// The default [`SpillPolicy::above_bytes`], MiB: about 5M spans of analysis columns stay in
/// memory, where scanning batches is fastest; larger inputs spill.
pub const DEFAULT_SPILL_MIB: u64 = 512;

impl Default for SpillPolicy {
    fn default() -> Self {
        Self {
            above_bytes: DEFAULT_SPILL_MIB << 20,
            dir: None,
        }
    }
}

impl SpillPolicy {
    /// The policy from `CANALYST_SPILL_MIB` (MiB held before spilling; `0` spills every raw
    /// input) and `CANALYST_SPILL_DIR` (where the temporary directory goes), each defaulting
    /// as [`SpillPolicy::default`].
    pub fn from_env() -> Result<Self, InputsError> {
        Self::from_vars(
            std::env::var("CANALYST_SPILL_MIB").ok(),
            std::env::var_os("CANALYST_SPILL_DIR").map(PathBuf::from),
        )
    }

    fn from_vars(mib: Option<String>, dir: Option<PathBuf>) -> Result<Self, InputsError> {
        let mut policy = Self::default();
        if let Some(v) = mib {
            let n: u64 = v.trim().parse().map_err(|_| InputsError::SpillSetting {
                name: "CANALYST_SPILL_MIB",
                value: v.clone(),
                reason: "expected a whole number of MiB",
            })?;
            policy.above_bytes = n.checked_mul(1 << 20).ok_or(InputsError::SpillSetting {
                name: "CANALYST_SPILL_MIB",
                value: v,
                reason: "too large",
            })?;
        }
        if let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            policy.dir = Some(d);
        }
        Ok(policy)
    }
}

/// An engine over the inputs and the merged data-quality log.
pub struct OpenedInputs {
    /// Engine with `spans`, `requests` and the metric tables registered.
    pub engine: Engine,
    /// Data quality of every input, in input order.
    pub quality: DataQuality,
}

/// Opens `inputs` (see the module docs for which path is taken). `columns` are the canonical
/// span columns kept when the inputs have to be ingested (canonical order; [`SPAN_COLUMNS`]
/// for all, [`ANALYSIS_COLUMNS`](super::context::ANALYSIS_COLUMNS) for what `analyze` reads); DATASETs are scanned with every
/// column.
///
/// [`SPAN_COLUMNS`]: crate::model::spans::SPAN_COLUMNS
pub async fn open_inputs(
    inputs: &[PathBuf],
    ingest: &IngestOptions,
    columns: &[&str],
    config: EngineConfig,
) -> Result<OpenedInputs, InputsError> {
    open_inputs_on(
        inputs,
        ingest,
        columns,
        config,
        &Placement::Local,
        &SpillPolicy::default(),
    )
    .await
}

/// [`open_inputs`], running the engine's plans where `placement` says and holding raw inputs
/// in memory as `spill` says. On a cluster every input must be a DATASET (raw files would have
/// to be ingested into this process's memory or disk, which executors cannot read).
pub async fn open_inputs_on(
    inputs: &[PathBuf],
    ingest: &IngestOptions,
    columns: &[&str],
    config: EngineConfig,
    placement: &Placement,
    spill: &SpillPolicy,
) -> Result<OpenedInputs, InputsError> {
    if inputs.is_empty() {
        return Err(InputsError::Empty);
    }
    #[cfg(feature = "distributed")]
    if let Placement::Cluster { url, timeout } = placement {
        if let Some(path) = inputs.iter().find(|p| !is_dataset(p)) {
            return Err(InputsError::NotOnCluster { path: path.clone() });
        }
        let mut quality = DataQuality::default();
        for p in inputs {
            quality.merge(open_dataset(p)?.quality);
        }
        let mut engine = Engine::from_parquet_on_cluster(inputs, config, url).await?;
        engine.set_query_timeout(*timeout);
        return Ok(OpenedInputs { engine, quality });
    }
    #[cfg(not(feature = "distributed"))]
    let Placement::Local = placement;
    if inputs.iter().all(|p| is_dataset(p)) {
        let mut quality = DataQuality::default();
        for p in inputs {
            quality.merge(open_dataset(p)?.quality);
        }
        let engine = Engine::from_parquet_with(inputs, config).await?;
        return Ok(OpenedInputs { engine, quality });
    }
    let mut sink = ProjectingSink {
        indices: projection(columns)?,
        batches: Vec::new(),
        held_bytes: 0,
        policy: spill.clone(),
        spilled: None,
        metrics: Vec::new(),
    };
    // Maps the projection drops are not built at all (their cost, not only their memory).
    let ingest = IngestOptions {
        attribute_maps: columns
            .iter()
            .any(|c| *c == "resource_attributes" || *c == "span_attributes"),
        // Nor the skippable columns it drops (never `source_file` and `source_line`, which a
        // conflicting duplicate's note reads).
        kept_columns: KeptColumns::of(columns),
        ..ingest.clone()
    };
    let quality = load_spans_into(inputs, &ingest, &mut sink)?;
    for p in inputs.iter().filter(|p| is_dataset(p)) {
        sink.metrics.push(open_dataset(p)?.read_metric_tables()?);
    }
    let engine = match sink.spilled.take() {
        Some(spilled) => {
            let dir = spilled.finish()?;
            Engine::from_spilled(dir, columns, config).await?
        }
        None => Engine::from_projected_batches_with(sink.batches, columns, config).await?,
    };
    engine.set_metric_tables(&sink.metrics)?;
    Ok(OpenedInputs { engine, quality })
}

/// Keeps the given columns of every canonical batch (the others are freed at once) and the
/// metric tables; past the policy's budget, writes the kept columns to a temporary file.
struct ProjectingSink {
    indices: Vec<usize>,
    batches: Vec<RecordBatch>,
    held_bytes: u64,
    policy: SpillPolicy,
    spilled: Option<Spilled>,
    metrics: Vec<MetricTables>,
}

impl BatchSink for ProjectingSink {
    fn write(&mut self, batch: RecordBatch) -> Result<(), IngestError> {
        let batch = batch.project(&self.indices)?;
        self.keep(batch)
    }

    /// Projects each batch first and concatenates only the kept columns: the default would
    /// copy every canonical column of the write into one batch to drop most of them (the
    /// concatenation was 4.5% of a one-thread `analyze` of SDK lines).
    fn write_all(&mut self, batches: Vec<RecordBatch>) -> Result<(), IngestError> {
        let projected = batches
            .iter()
            .map(|b| b.project(&self.indices))
            .collect::<Result<Vec<_>, _>>()?;
        drop(batches);
        let batch = match projected.as_slice() {
            [] => return Ok(()),
            [one] => one.clone(),
            [first, ..] => arrow::compute::concat_batches(&first.schema(), &projected)?,
        };
        self.keep(batch)
    }

    fn write_metrics(&mut self, tables: MetricTables) -> Result<(), IngestError> {
        self.metrics.push(tables);
        Ok(())
    }
}

impl ProjectingSink {
    /// Holds a projected batch, or spills it (and everything held) past the budget.
    fn keep(&mut self, batch: RecordBatch) -> Result<(), IngestError> {
        if let Some(spilled) = &mut self.spilled {
            return spilled.write(&batch);
        }
        self.held_bytes += batch.get_array_memory_size() as u64;
        self.batches.push(batch);
        if self.held_bytes > self.policy.above_bytes {
            let mut spilled = Spilled::create(&self.policy, self.batches[0].schema())?;
            for b in self.batches.drain(..) {
                spilled.write(&b)?;
            }
            self.held_bytes = 0;
            self.spilled = Some(spilled);
        }
        Ok(())
    }
}

/// Raw inputs' kept columns on their way to `DIR/spans.parquet` in a temporary directory.
struct Spilled {
    dir: tempfile::TempDir,
    writer: ArrowWriter<File>,
}

impl Spilled {
    fn create(
        policy: &SpillPolicy,
        schema: arrow::datatypes::SchemaRef,
    ) -> Result<Self, IngestError> {
        let base = policy.dir.clone().unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::Builder::new()
            .prefix("canalyst-spill-")
            .tempdir_in(&base)
            .map_err(|source| IngestError::Io {
                path: base.clone(),
                source,
            })?;
        let path = dir.path().join("spans.parquet");
        let file = File::create(&path).map_err(|source| IngestError::Io {
            path: path.clone(),
            source,
        })?;
        // Read once, soon, on this machine: fast compression; row groups of 128k rows give the
        // direct scan its parallel units.
        let props = WriterProperties::builder()
            .set_compression(Compression::LZ4_RAW)
            .set_max_row_group_row_count(Some(1 << 17))
            .build();
        let writer = ArrowWriter::try_new(file, schema, Some(props))
            .map_err(|source| IngestError::Parquet { path, source })?;
        Ok(Self { dir, writer })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("spans.parquet")
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), IngestError> {
        let path = self.path();
        self.writer
            .write(batch)
            .map_err(|source| IngestError::Parquet { path, source })
    }

    fn finish(self) -> Result<tempfile::TempDir, IngestError> {
        let path = self.path();
        self.writer
            .close()
            .map_err(|source| IngestError::Parquet { path, source })?;
        Ok(self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::context::ANALYSIS_COLUMNS;
    use crate::engine::scan::SpanSource;

    fn sample() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-data/otlp/traces.jsonl.gz")
    }

    const TOTALS: &str = "SELECT service_name, deployment_track, route, count(*) AS n, \
        sum(duration_ns) AS d, sum(CAST(is_error AS INT)) AS e, \
        min(start_time) AS lo, max(start_time) AS hi \
        FROM spans GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

    async fn open(spill: &SpillPolicy) -> OpenedInputs {
        open_inputs_on(
            &[sample()],
            &IngestOptions::default(),
            ANALYSIS_COLUMNS,
            EngineConfig {
                target_partitions: 2,
            },
            &Placement::Local,
            spill,
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn spilled_inputs_read_as_the_held_ones() {
        let held = open(&SpillPolicy::default()).await;
        assert!(matches!(held.engine.source(), SpanSource::Batches(_)));
        let base = tempfile::tempdir().unwrap();
        let spill = SpillPolicy {
            above_bytes: 0,
            dir: Some(base.path().to_path_buf()),
        };
        let spilled = open(&spill).await;
        let SpanSource::Files(files) = spilled.engine.source() else {
            panic!("a zero budget must spill");
        };
        assert!(files[0].starts_with(std::fs::canonicalize(base.path()).unwrap()));
        let (_, a) = held.engine.query("totals", TOTALS, vec![]).await.unwrap();
        let (_, b) = spilled
            .engine
            .query("totals", TOTALS, vec![])
            .await
            .unwrap();
        let (a, b) = (
            arrow::compute::concat_batches(&a[0].schema(), &a).unwrap(),
            arrow::compute::concat_batches(&b[0].schema(), &b).unwrap(),
        );
        assert!(a.num_rows() > 10, "the sample has many route groups");
        assert_eq!(a, b);
        assert_eq!(held.quality, spilled.quality);
        // The engine owns the temporary directory and removes it when dropped.
        let dir = files[0].parent().unwrap().to_path_buf();
        assert!(dir.is_dir());
        drop(spilled);
        assert!(!dir.exists());
    }

    #[test]
    fn spill_settings_from_the_environment() {
        let p = SpillPolicy::from_vars(None, None).unwrap();
        assert_eq!(p, SpillPolicy::default());
        let p = SpillPolicy::from_vars(Some("3".into()), Some("/x".into())).unwrap();
        assert_eq!((p.above_bytes, p.dir), (3 << 20, Some(PathBuf::from("/x"))));
        for bad in ["", "-1", "1.5", "lots", "99999999999999999"] {
            let e = SpillPolicy::from_vars(Some(bad.into()), None).unwrap_err();
            assert!(e.to_string().starts_with("CANALYST_SPILL_MIB="), "{e}");
        }
    }
}
