//! Ingest: input files → canonical Arrow tables plus a data-quality log.
//!
//! Readers for each format turn a file into [`SpanChunk`]s in input order; the driver
//! ([`ingest_paths`]) enumerates inputs, sniffs their format from content, runs readers in
//! parallel, removes exact duplicates, and hands batches to a [`BatchSink`] in a deterministic
//! order (the same with 1 thread or many).

use crate::model::identity::IdentityConfig;
use crate::model::quality::DataQuality;
use crate::model::spans::{KeptColumns, SpanFingerprint, SpansBuilder, SpansCapacity};
use arrow::record_batch::RecordBatch;
use std::cell::Cell;
use std::sync::Arc;

/// Options shared by every reader.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Attribute keys for identity resolution.
    pub identity: Arc<IdentityConfig>,
    /// Target rows per output batch (memory is bounded by this times the parallelism).
    pub batch_rows: usize,
    /// Fill the `resource_attributes` and `span_attributes` maps (`false` writes them empty;
    /// only for callers that drop those columns, see [`SpansBuilder::attribute_maps`]).
    pub attribute_maps: bool,
    /// Keep only these span attribute keys and no resource attributes (see
    /// [`SpansBuilder::span_attribute_keys`]); `None` keeps every attribute.
    pub span_attribute_keys: Option<Arc<[String]>>,
    /// With `span_attribute_keys`: SERVER, CONSUMER and root spans keep both maps whole
    /// ([`SpansBuilder::entry_attribute_maps`]).
    pub entry_attribute_maps: bool,
    /// Fill only these columns span by span, the skippable others written as nulls (see
    /// [`SpansBuilder::kept_columns`]); `None` fills every column.
    pub kept_columns: Option<KeptColumns>,
    /// Build batches for the DATASET writer ([`SpansBuilder::resource_ids`]: a
    /// `resource_id` column, each resource's map once per batch). Only for a [`ParquetSink`];
    /// [`ParquetSink::ingest_options`] sets it.
    pub resource_ids: bool,
}

impl IngestOptions {
    /// A spans builder for rows read from `source_file` under these options.
    pub fn spans_builder(&self, source_file: &str) -> SpansBuilder {
        self.sized_spans_builder(source_file, 0)
    }

    /// A spans builder for a piece of `piece_bytes` input bytes: with room for what the last
    /// piece decoded on this thread filled (`remember_capacity`), scaled by the two pieces'
    /// sizes and at most [`IngestOptions::batch_rows`] rows, so a small piece after a large
    /// one (another file, a document's last piece) does not get the large one's buffers.
    pub fn sized_spans_builder(&self, source_file: &str, piece_bytes: usize) -> SpansBuilder {
        let cap = match LAST_CAPACITY.get() {
            Some((last, last_bytes)) if piece_bytes > 0 && last_bytes > 0 => {
                last.scaled(piece_bytes as f64 / last_bytes as f64, self.batch_rows)
            }
            _ => SpansCapacity::default(),
        };
        SpansBuilder::with_capacity(self.identity.clone(), source_file, cap)
            .attribute_maps(self.attribute_maps)
            .span_attribute_keys(self.span_attribute_keys.clone())
            .entry_attribute_maps(self.entry_attribute_maps)
            .kept_columns(self.kept_columns)
            .resource_ids(self.resource_ids)
    }
}

thread_local! {
    /// What the last whole piece decoded on this thread filled, and its input bytes: the
    /// pieces of one input are alike, so the next builder starts there
    /// ([`IngestOptions::sized_spans_builder`]).
    static LAST_CAPACITY: Cell<Option<(SpansCapacity, usize)>> = const { Cell::new(None) };
}

/// Notes what `builder` filled from a piece of `piece_bytes` input bytes, before it is
/// finished, for the next [`IngestOptions::sized_spans_builder`] on this thread. Only a
/// builder that holds its whole piece says how the piece's bytes turn into rows.
pub(crate) fn remember_capacity(builder: &mut SpansBuilder, piece_bytes: usize) {
    LAST_CAPACITY.set(Some((builder.capacity_used(), piece_bytes)));
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            identity: Arc::new(IdentityConfig::default()),
            batch_rows: 65_536,
            attribute_maps: true,
            span_attribute_keys: None,
            entry_attribute_maps: false,
            kept_columns: None,
            resource_ids: false,
        }
    }
}

/// A batch of canonical spans from one file, with the fingerprint of every row (row order) and
/// the data-quality findings made while reading it.
#[derive(Debug)]
pub struct SpanChunk {
    /// Rows in the canonical spans schema.
    pub batch: RecordBatch,
    /// One fingerprint per row of `batch`.
    pub fingerprints: Vec<SpanFingerprint>,
    /// Issues and counts for the records this chunk covers.
    pub quality: DataQuality,
}

pub mod dataset;
pub mod dataset_files;
pub mod doc_split;
pub mod driver;
pub mod formats;
pub mod inventory;
pub mod otlp_json;
pub mod otlp_proto;
pub mod parallel_writer;
pub mod parquet_spans;
pub mod resources_file;
mod seen_spans;
pub mod sniff;

pub use dataset::{is_dataset, load_spans, load_spans_into, open_dataset, Dataset, ParquetSink};
pub use driver::{ingest_paths, list_inputs, BatchSink, IngestError, InputFile, MemorySink};
#[cfg(test)]
mod json_proto_equivalence;
#[cfg(test)]
mod metrics_tests;
