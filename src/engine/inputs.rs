//! Opening a command's inputs as an [`Engine`]: DATASET directories, canonical Parquet files
//! and raw telemetry files alike.
//!
//! When every input is a DATASET the engine scans their `spans.parquet` files directly (memory
//! bounded by DataFusion's batches, not the data); otherwise everything is ingested into memory
//! first with the same readers as `canalyst ingest`, keeping only the
//! [`ANALYSIS_COLUMNS`](super::context::ANALYSIS_COLUMNS) of each batch as it arrives (the
//! attribute maps and messages would be most of the memory). The metric tables come along on
//! both paths: from the DATASETs' metric Parquet files, or from the ingest of the raw files
//! (plus the metric files of any DATASET given next to them). Either way the data-quality
//! logs of all inputs are merged in input order.

use super::context::projection;
use super::{Engine, EngineConfig, EngineError};
use crate::ingest::dataset::{is_dataset, load_spans_into, open_dataset};
use crate::ingest::{BatchSink, IngestError, IngestOptions};
use crate::model::metrics::MetricTables;
use crate::model::quality::DataQuality;
use arrow::record_batch::RecordBatch;
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

/// An engine over the inputs and the merged data-quality log.
pub struct OpenedInputs {
    /// Engine with `spans`, `requests` and the metric tables registered.
    pub engine: Engine,
    /// Data quality of every input, in input order.
    pub quality: DataQuality,
}

/// Opens `inputs` (see the module docs for which path is taken). `columns` are the canonical
/// span columns kept when the inputs have to be ingested (canonical order; [`SPAN_COLUMNS`]
/// for all, [`ANALYSIS_COLUMNS`] for what `analyze` reads); DATASETs are scanned with every
/// column.
///
/// [`SPAN_COLUMNS`]: crate::model::spans::SPAN_COLUMNS
pub async fn open_inputs(
    inputs: &[PathBuf],
    ingest: &IngestOptions,
    columns: &[&str],
    config: EngineConfig,
) -> Result<OpenedInputs, InputsError> {
    open_inputs_on(inputs, ingest, columns, config, &Placement::Local).await
}

/// [`open_inputs`], running the engine's plans where `placement` says. On a cluster every
/// input must be a DATASET (raw files would have to be ingested into this process's memory,
/// which executors cannot read).
pub async fn open_inputs_on(
    inputs: &[PathBuf],
    ingest: &IngestOptions,
    columns: &[&str],
    config: EngineConfig,
    placement: &Placement,
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
        metrics: Vec::new(),
    };
    // Maps the projection drops are not built at all (their cost, not only their memory).
    let ingest = IngestOptions {
        attribute_maps: columns
            .iter()
            .any(|c| *c == "resource_attributes" || *c == "span_attributes"),
        ..ingest.clone()
    };
    let quality = load_spans_into(inputs, &ingest, &mut sink)?;
    for p in inputs.iter().filter(|p| is_dataset(p)) {
        sink.metrics.push(open_dataset(p)?.read_metric_tables()?);
    }
    let engine = Engine::from_projected_batches_with(sink.batches, columns, config).await?;
    engine.set_metric_tables(&sink.metrics)?;
    Ok(OpenedInputs { engine, quality })
}

/// Keeps the given columns of every canonical batch (the others are freed at once) and the
/// metric tables.
struct ProjectingSink {
    indices: Vec<usize>,
    batches: Vec<RecordBatch>,
    metrics: Vec<MetricTables>,
}

impl BatchSink for ProjectingSink {
    fn write(&mut self, batch: RecordBatch) -> Result<(), IngestError> {
        self.batches.push(batch.project(&self.indices)?);
        Ok(())
    }

    fn write_metrics(&mut self, tables: MetricTables) -> Result<(), IngestError> {
        self.metrics.push(tables);
        Ok(())
    }
}
