//! Opening a command's inputs as an [`Engine`]: DATASET directories, canonical Parquet files
//! and raw telemetry files alike.
//!
//! When every input is a DATASET the engine scans their `spans.parquet` files directly (memory
//! bounded by DataFusion's batches, not the data); otherwise everything is ingested into memory
//! first with the same readers as `canalyst ingest`, keeping only the
//! [`ANALYSIS_COLUMNS`](super::context::ANALYSIS_COLUMNS) of each batch as it arrives (the
//! attribute maps and messages would be most of the memory). Either way the data-quality logs
//! of all inputs are merged in input order.

use super::context::{projection, ANALYSIS_COLUMNS};
use super::{Engine, EngineConfig, EngineError};
use crate::ingest::dataset::{is_dataset, load_spans_into, open_dataset};
use crate::ingest::{BatchSink, IngestError, IngestOptions};
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
}

/// An engine over the inputs and the merged data-quality log.
pub struct OpenedInputs {
    /// Engine with `spans` and `requests` registered.
    pub engine: Engine,
    /// Data quality of every input, in input order.
    pub quality: DataQuality,
}

/// Opens `inputs` (see the module docs for which path is taken).
pub async fn open_inputs(
    inputs: &[PathBuf],
    ingest: &IngestOptions,
    config: EngineConfig,
) -> Result<OpenedInputs, InputsError> {
    if inputs.is_empty() {
        return Err(InputsError::Empty);
    }
    if inputs.iter().all(|p| is_dataset(p)) {
        let mut quality = DataQuality::default();
        for p in inputs {
            quality.merge(open_dataset(p)?.quality);
        }
        let engine = Engine::from_parquet_with(inputs, config).await?;
        return Ok(OpenedInputs { engine, quality });
    }
    let mut sink = ProjectingSink {
        indices: projection(ANALYSIS_COLUMNS)?,
        batches: Vec::new(),
    };
    let quality = load_spans_into(inputs, ingest, &mut sink)?;
    let engine =
        Engine::from_projected_batches_with(sink.batches, ANALYSIS_COLUMNS, config).await?;
    Ok(OpenedInputs { engine, quality })
}

/// Keeps the given columns of every canonical batch; the others are freed at once.
struct ProjectingSink {
    indices: Vec<usize>,
    batches: Vec<RecordBatch>,
}

impl BatchSink for ProjectingSink {
    fn write(&mut self, batch: RecordBatch) -> Result<(), IngestError> {
        self.batches.push(batch.project(&self.indices)?);
        Ok(())
    }
}
