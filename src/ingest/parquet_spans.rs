//! Parquet span input, detected by schema: canalyst's own canonical spans files, the flat
//! `otel_traces` table of the OpenTelemetry Collector ClickHouse exporter exported to Parquet,
//! and Grafana Tempo vParquet4/vParquet5 blocks.
//!
//! Every flavour rebuilds [`SpanRecord`]s and [`ResourceInfo`]s and appends them through
//! [`SpansBuilder`], so identity columns and fingerprints are computed by the same code as for
//! OTLP input. Row groups are decoded one at a time: a row group that fails to decode is a
//! `bad_parquet` rejection naming its index and row range, and reading continues with the next.
//! `docs/ingest-binary.md` lists the columns read and what each flavour loses.

mod clickhouse;
pub mod clickhouse_metrics;
mod tempo;

use super::otlp_proto::flush;
use super::{IngestOptions, SpanChunk};
use crate::model::quality::{DataQuality, FileSummary, Issue, IssueKind};
use crate::model::resources::{is_stored_layout, ResourceTable, RESOURCE_ATTRIBUTES};
use crate::model::spans::{ResourceInfo, SpanRecord, SpansBuilder, SPAN_COLUMNS};
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    StructArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Schema, TimeUnit};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use std::fs::File;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;

/// Format name of canalyst's own canonical spans files.
pub const FORMAT_CANONICAL: &str = "parquet-canonical";
/// Format name of the ClickHouse exporter's `otel_traces` table.
pub const FORMAT_CLICKHOUSE: &str = "parquet-clickhouse";
/// Format name of Tempo vParquet4 blocks.
pub const FORMAT_TEMPO4: &str = "parquet-tempo-vparquet4";
/// Format name of Tempo vParquet5 blocks.
pub const FORMAT_TEMPO5: &str = "parquet-tempo-vparquet5";

/// Rows decoded per Arrow batch. Tempo rows are whole traces, so keep this moderate.
const READ_BATCH_ROWS: usize = 4096;

/// The Parquet flavours this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// canalyst's canonical spans table ([`spans_schema`](crate::model::spans::spans_schema)).
    Canonical,
    /// Collector ClickHouse exporter `otel_traces`.
    ClickHouse,
    /// Tempo vParquet4 block.
    TempoV4,
    /// Tempo vParquet5 block.
    TempoV5,
}

impl Flavour {
    /// The format name written to the [`FileSummary`].
    pub fn format_name(self) -> &'static str {
        match self {
            Flavour::Canonical => FORMAT_CANONICAL,
            Flavour::ClickHouse => FORMAT_CLICKHOUSE,
            Flavour::TempoV4 => FORMAT_TEMPO4,
            Flavour::TempoV5 => FORMAT_TEMPO5,
        }
    }
}

/// Case-insensitive top-level column lookup.
pub(crate) fn find_col<'a>(schema: &'a Schema, name: &str) -> Option<(usize, &'a str)> {
    schema
        .fields()
        .iter()
        .enumerate()
        .find(|(_, f)| f.name().eq_ignore_ascii_case(name))
        .map(|(i, f)| (i, f.name().as_str()))
}

/// Detects the flavour from the Arrow schema of a Parquet file.
pub fn detect_flavour(schema: &Schema) -> Option<Flavour> {
    // A DATASET's spans.parquet (schema version 2) has resource_id for resource_attributes.
    let stored = is_stored_layout(schema);
    let has = |c: &str| schema.field_with_name(c).is_ok() || (stored && c == RESOURCE_ATTRIBUTES);
    if SPAN_COLUMNS.iter().all(|c| has(c)) {
        return Some(Flavour::Canonical);
    }
    if schema.field_with_name("rs").is_ok() && schema.field_with_name("TraceID").is_ok() {
        return tempo::version(schema);
    }
    let has = |n: &str| find_col(schema, n).is_some();
    if ["Timestamp", "TraceId", "SpanId", "SpanName", "Duration"]
        .iter()
        .all(|c| has(c))
    {
        return Some(Flavour::ClickHouse);
    }
    None
}

/// The resources table of a DATASET's `spans.parquet` (schema version 2: `resource_id` in the
/// place of `resource_attributes`), read from the `resources.parquet` beside it; `None` for a
/// file that carries its maps.
fn stored_resources(path: &Path, schema: &Schema) -> Result<Option<Arc<ResourceTable>>, String> {
    if !is_stored_layout(schema) {
        return Ok(None);
    }
    super::resources_file::read_resources(&super::resources_file::beside(path))
        .map(|t| Some(Arc::new(t)))
        .map_err(|e| {
            format!(
                "a DATASET's spans file (resource_id for resource_attributes) is read with the \
                 resources.parquet beside it: {e}"
            )
        })
}

/// Collects rows into chunks of about `batch_rows`, and the file's counts.
pub(crate) struct RowSink<'a> {
    pub(crate) builder: SpansBuilder,
    pub(crate) quality: DataQuality,
    pub(crate) file: &'a str,
    pub(crate) cfg: std::sync::Arc<crate::model::identity::IdentityConfig>,
    batch_rows: usize,
    emit: &'a mut dyn FnMut(SpanChunk),
}

impl<'a> RowSink<'a> {
    fn new(file: &'a str, opts: &IngestOptions, emit: &'a mut dyn FnMut(SpanChunk)) -> Self {
        Self {
            builder: opts.spans_builder(file),
            quality: DataQuality::default(),
            file,
            cfg: opts.identity.clone(),
            batch_rows: opts.batch_rows.max(1),
            emit,
        }
    }

    /// Appends one good span (derived sample weight unless `weight` is given).
    pub(crate) fn push(&mut self, res: &ResourceInfo, rec: &SpanRecord, weight: Option<f64>) {
        self.quality.records_read += 1;
        self.quality.records_ingested += 1;
        match weight {
            Some(w) => self.builder.append_with_weight(res, rec, w),
            None => self.builder.append(res, rec),
        }
        if self.builder.len() >= self.batch_rows {
            self.flush();
        }
    }

    /// Rejects one span at a 0-based file row.
    pub(crate) fn reject(&mut self, kind: IssueKind, row: u64, field: String, reason: String) {
        self.quality.records_read += 1;
        self.quality.records_rejected += 1;
        self.quality
            .push(Issue::rejected(kind, self.file, None, Some(field), reason).at_row(row));
    }

    /// A note at a 0-based file row (the span is kept).
    pub(crate) fn note(
        &mut self,
        kind: IssueKind,
        row: Option<u64>,
        field: String,
        reason: String,
    ) {
        let mut i = Issue::note(kind, self.file, None, Some(field), reason);
        i.row = row;
        self.quality.push(i);
    }

    fn flush(&mut self) {
        flush(&mut self.builder, self.file, &mut self.quality, self.emit);
    }
}

fn file_level_rejection(file: &str, kind: IssueKind, reason: String, format: &str) -> DataQuality {
    let mut q = DataQuality::default();
    q.push(Issue::rejected(kind, file, None, None, reason));
    q.records_rejected += 1;
    q.records_read += 1;
    q.files.push(FileSummary {
        file: file.to_string(),
        format: format.to_string(),
        records_read: 1,
        records_ingested: 0,
        records_rejected: 1,
    });
    q
}

/// Reads a Parquet span file of any supported flavour (see the module docs), emitting chunks of
/// about `opts.batch_rows` rows, and returns the file's whole data-quality log with one
/// [`FileSummary`]. Emitted chunks carry empty logs.
///
/// A file that cannot be opened or whose footer does not decode is one `bad_parquet`
/// rejection; a schema that matches no flavour is one `unsupported_format` rejection naming
/// the columns each flavour needs (both counted as one record read and rejected).
pub fn read_parquet_file(
    path: &Path,
    file: &str,
    opts: &IngestOptions,
    emit: &mut dyn FnMut(SpanChunk),
) -> DataQuality {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            return file_level_rejection(
                file,
                IssueKind::BadParquet,
                format!("cannot open: {e}"),
                "parquet",
            )
        }
    };
    // The parquet crate can panic on corrupt metadata (found by the fuzz test below); a corrupt
    // input file must become a located rejection, not abort the run.
    let loaded = std::panic::catch_unwind(AssertUnwindSafe(|| {
        ArrowReaderMetadata::load(&f, Default::default()).map_err(|e| e.to_string())
    }))
    .unwrap_or_else(|p| Err(panic_text(p)));
    let meta = match loaded {
        Ok(m) => m,
        Err(e) => {
            return file_level_rejection(
                file,
                IssueKind::BadParquet,
                format!("not a readable Parquet file: {e}"),
                "parquet",
            )
        }
    };
    let schema = meta.schema().clone();
    let Some(flavour) = detect_flavour(&schema) else {
        if schema.field_with_name("rs").is_ok() && schema.field_with_name("TraceID").is_ok() {
            return file_level_rejection(
                file,
                IssueKind::UnsupportedFormat,
                "a Tempo block of an unsupported version: vParquet4 (attributes with ValueType) \
                 and vParquet5 (attributes with IsArray) are read"
                    .into(),
                "parquet",
            );
        }
        let cols: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        return file_level_rejection(
            file,
            IssueKind::UnsupportedFormat,
            format!(
                "Parquet schema matches no span flavour: expected canalyst's canonical columns \
                 ({}), the ClickHouse otel_traces columns (Timestamp, TraceId, SpanId, SpanName, \
                 Duration, …) or a Tempo block (TraceID, rs); found {}",
                SPAN_COLUMNS.join(", "),
                cols.join(", ")
            ),
            "parquet",
        );
    };
    let resources = match stored_resources(path, &schema) {
        Ok(r) => r,
        Err(e) => return file_level_rejection(file, IssueKind::BadParquet, e, "parquet"),
    };
    let mut sink = RowSink::new(file, opts, emit);
    let mut flavour_state = match flavour {
        Flavour::TempoV4 | Flavour::TempoV5 => Some(tempo::Dedicated::load(path, &mut sink)),
        _ => None,
    };
    let groups = 0..meta.metadata().num_row_groups();
    read_groups(
        &f,
        &meta,
        flavour,
        flavour_state.as_mut(),
        resources.as_deref(),
        groups,
        &mut sink,
    );
    sink.flush();
    let mut q = std::mem::take(&mut sink.quality);
    q.files.push(FileSummary {
        file: file.to_string(),
        format: flavour.format_name().to_string(),
        records_read: q.records_read,
        records_ingested: q.records_ingested,
        records_rejected: q.records_rejected,
    });
    q
}

/// Reads the row groups `groups` of an opened span file into `sink`, one group at a time: a
/// group that fails to decode is a `bad_parquet` rejection naming its index and row range
/// (rows are numbered from the file's first row), and reading goes on with the next group.
fn read_groups(
    f: &File,
    meta: &ArrowReaderMetadata,
    flavour: Flavour,
    mut flavour_state: Option<&mut tempo::Dedicated>,
    resources: Option<&ResourceTable>,
    groups: std::ops::Range<usize>,
    sink: &mut RowSink,
) {
    let row_groups = meta.metadata().row_groups();
    // Row numbers count from the file's first row, whatever range is read.
    let mut first_row: u64 = row_groups[..groups.start]
        .iter()
        .map(|g| g.num_rows().max(0) as u64)
        .sum();
    for gi in groups {
        let n = row_groups[gi].num_rows().max(0) as u64;
        // Rows before a failing batch of this group were ingested; `row` says where it failed.
        let mut row = first_row;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
            let input = f.try_clone().map_err(|e| e.to_string())?;
            let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(input, meta.clone())
                .with_row_groups(vec![gi])
                .with_batch_size(READ_BATCH_ROWS)
                .build()
                .map_err(|e| e.to_string())?;
            for batch in reader {
                let batch = batch.map_err(|e| e.to_string())?;
                let rows = batch.num_rows() as u64;
                match flavour {
                    Flavour::Canonical => match resources {
                        Some(t) => {
                            let batch = t.expand(&batch).map_err(|e| e.to_string())?;
                            read_canonical(&batch, row, sink)?
                        }
                        None => read_canonical(&batch, row, sink)?,
                    },
                    Flavour::ClickHouse => clickhouse::read_batch(&batch, row, sink)?,
                    Flavour::TempoV4 | Flavour::TempoV5 => tempo::read_batch(
                        &batch,
                        row,
                        flavour_state.as_deref_mut().expect("set for Tempo"),
                        sink,
                    )?,
                }
                row += rows;
            }
            Ok(())
        }))
        .unwrap_or_else(|p| Err(panic_text(p)));
        if let Err(e) = result {
            let lost = if row > first_row {
                format!(
                    "; rows {first_row}..{row} were read, rows {row}..{} are lost",
                    first_row + n
                )
            } else {
                String::new()
            };
            sink.quality.push(
                Issue::rejected(
                    IssueKind::BadParquet,
                    sink.file,
                    None,
                    Some(format!("row group {gi}")),
                    format!(
                        "row group {gi} (rows {first_row}..{}) cannot be decoded: {e}{lost}",
                        first_row + n
                    ),
                )
                .at_row(row),
            );
            sink.quality.records_read += 1;
            sink.quality.records_rejected += 1;
        }
        first_row += n;
    }
}

/// A canonical or ClickHouse span file opened to be read in pieces of whole row groups, so
/// that ingest holds a few row groups in memory rather than the whole file decoded (a 10M-span
/// file decoded at once took 8.5 GB). Tempo blocks (a file-wide dedicated-column table) and
/// ClickHouse metric tables are read whole by [`read_parquet_file`] and
/// [`super::formats::read_parquet`].
pub struct SplitSpans {
    meta: ArrowReaderMetadata,
    flavour: Flavour,
    /// A stored spans file's resources ([`stored_resources`]).
    resources: Option<Arc<ResourceTable>>,
}

impl SplitSpans {
    /// Opens `path` if it is a readable canonical or ClickHouse span file; `None` for anything
    /// else (which the whole-file reader then reads or rejects with its located reason).
    pub fn open(path: &Path) -> Option<Self> {
        let f = File::open(path).ok()?;
        let meta = std::panic::catch_unwind(AssertUnwindSafe(|| {
            ArrowReaderMetadata::load(&f, Default::default()).ok()
        }))
        .ok()??;
        if clickhouse_metrics::detect(meta.schema()).is_some() {
            return None;
        }
        // A stored spans file whose resources cannot be read is left to the whole-file reader,
        // which rejects it with the reason.
        let resources = stored_resources(path, meta.schema()).ok()?;
        match detect_flavour(meta.schema())? {
            flavour @ (Flavour::Canonical | Flavour::ClickHouse) => Some(Self {
                meta,
                flavour,
                resources,
            }),
            Flavour::TempoV4 | Flavour::TempoV5 => None,
        }
    }

    /// The format name for the file's [`FileSummary`].
    pub fn format_name(&self) -> &'static str {
        self.flavour.format_name()
    }

    /// The number of rows in each row group, in file order.
    pub fn group_rows(&self) -> Vec<u64> {
        self.meta
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows().max(0) as u64)
            .collect()
    }

    /// Reads row groups `groups` (a failing group is a located rejection, as in
    /// [`read_parquet_file`]); the counts it returns carry no [`FileSummary`]: the caller
    /// writes one per file.
    pub fn read(
        &self,
        path: &Path,
        file: &str,
        groups: std::ops::Range<usize>,
        opts: &IngestOptions,
        emit: &mut dyn FnMut(SpanChunk),
    ) -> DataQuality {
        let mut sink = RowSink::new(file, opts, emit);
        match File::open(path) {
            Ok(f) => read_groups(
                &f,
                &self.meta,
                self.flavour,
                None,
                self.resources.as_deref(),
                groups,
                &mut sink,
            ),
            Err(e) => sink.quality.push(Issue::rejected(
                IssueKind::BadParquet,
                file,
                None,
                None,
                format!("cannot open: {e}"),
            )),
        }
        sink.flush();
        std::mem::take(&mut sink.quality)
    }
}

/// The message of a caught panic.
fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    let msg = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("Parquet decoder failed on corrupt data: {msg}")
}

// ---------------------------------------------------------------------------------------------
// Column access helpers shared by the flavours: tolerant of the physical types writers choose.
// ---------------------------------------------------------------------------------------------

/// Any string-like array (Utf8, LargeUtf8, Utf8View, Dictionary, Binary) as Utf8.
pub(crate) fn strings(a: &ArrayRef) -> Result<StringArray, String> {
    let c = cast(a, &DataType::Utf8).map_err(|e| format!("not a string column: {e}"))?;
    Ok(c.as_string::<i32>().clone())
}

/// Any integer or timestamp array as Int64 nanoseconds-or-plain values (timestamps are
/// converted to nanoseconds first; unsigned values above `i64::MAX` become null).
pub(crate) fn ints(a: &ArrayRef) -> Result<Int64Array, String> {
    let a = match a.data_type() {
        DataType::Timestamp(unit, _) if *unit != TimeUnit::Nanosecond => {
            cast(a, &DataType::Timestamp(TimeUnit::Nanosecond, None)).map_err(|e| e.to_string())?
        }
        _ => a.clone(),
    };
    let c = cast(&a, &DataType::Int64).map_err(|e| format!("not an integer column: {e}"))?;
    Ok(c.as_primitive::<arrow::datatypes::Int64Type>().clone())
}

/// A float array as Float64.
pub(crate) fn floats(a: &ArrayRef) -> Result<Float64Array, String> {
    let c = cast(a, &DataType::Float64).map_err(|e| format!("not a float column: {e}"))?;
    Ok(c.as_primitive::<arrow::datatypes::Float64Type>().clone())
}

/// A boolean array.
pub(crate) fn bools(a: &ArrayRef) -> Result<BooleanArray, String> {
    let c = cast(a, &DataType::Boolean).map_err(|e| format!("not a boolean column: {e}"))?;
    Ok(c.as_boolean().clone())
}

/// Offsets and child values of a List or LargeList array.
pub(crate) fn list_parts(a: &ArrayRef) -> Option<(Vec<usize>, ArrayRef)> {
    match a.data_type() {
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            Some((
                l.value_offsets().iter().map(|&o| o as usize).collect(),
                l.values().clone(),
            ))
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            Some((
                l.value_offsets().iter().map(|&o| o as usize).collect(),
                l.values().clone(),
            ))
        }
        _ => None,
    }
}

/// Case-insensitive struct field lookup.
pub(crate) fn struct_child(s: &arrow::array::StructArray, name: &str) -> Option<ArrayRef> {
    let (i, _) = s
        .fields()
        .iter()
        .enumerate()
        .find(|(_, f)| f.name().eq_ignore_ascii_case(name))?;
    Some(s.column(i).clone())
}

/// Key–value pairs per row from a Map column or a List of two-field structs (key, value).
pub(crate) struct KvColumn {
    offsets: Vec<usize>,
    keys: StringArray,
    values: StringArray,
    nulls: Option<arrow::buffer::NullBuffer>,
    /// Set when the column holds JSON objects as text (ClickHouse `JSON` attribute columns).
    json: Option<StringArray>,
}

impl KvColumn {
    pub(crate) fn new(a: &ArrayRef) -> Result<Self, String> {
        let (offsets, entries, nulls): (Vec<usize>, StructArray, _) = match a.data_type() {
            DataType::Map(_, _) => {
                let m = a.as_map();
                (
                    m.value_offsets().iter().map(|&o| o as usize).collect(),
                    m.entries().clone(),
                    m.nulls().cloned(),
                )
            }
            DataType::List(_) => {
                let l = a.as_list::<i32>();
                let s = l
                    .values()
                    .as_struct_opt()
                    .ok_or("list of non-struct where key/value pairs were expected")?;
                (
                    l.value_offsets().iter().map(|&o| o as usize).collect(),
                    s.clone(),
                    l.nulls().cloned(),
                )
            }
            DataType::LargeList(_) => {
                let l = a.as_list::<i64>();
                let s = l
                    .values()
                    .as_struct_opt()
                    .ok_or("list of non-struct where key/value pairs were expected")?;
                (
                    l.value_offsets().iter().map(|&o| o as usize).collect(),
                    s.clone(),
                    l.nulls().cloned(),
                )
            }
            DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::Dictionary(_, _) => {
                let empty = StringArray::from(Vec::<String>::new());
                return Ok(Self {
                    offsets: Vec::new(),
                    keys: empty.clone(),
                    values: empty,
                    nulls: None,
                    json: Some(strings(a)?),
                });
            }
            other => return Err(format!("expected a map column, found {other}")),
        };
        if entries.num_columns() < 2 {
            return Err("map entries need a key and a value".into());
        }
        Ok(Self {
            offsets,
            keys: strings(entries.column(0))?,
            values: strings(entries.column(1))?,
            nulls,
            json: None,
        })
    }

    /// For a JSON-text column, why row `i` is not a JSON object (`None` when it is, or is
    /// null or empty, or the column is a real map).
    pub(crate) fn json_problem(&self, i: usize) -> Option<String> {
        let j = self.json.as_ref()?;
        if j.is_null(i) || j.value(i).trim().is_empty() {
            return None;
        }
        match serde_json::from_str::<serde_json::Value>(j.value(i)) {
            Ok(serde_json::Value::Object(_)) => None,
            Ok(_) => Some("attribute column holds JSON that is not an object".into()),
            Err(e) => Some(format!("attribute column holds invalid JSON: {e}")),
        }
    }

    /// The pairs of row `i` (empty for a null map; null values become empty strings).
    pub(crate) fn row(&self, i: usize) -> Vec<(String, String)> {
        if let Some(j) = &self.json {
            let mut out = Vec::new();
            if j.is_valid(i) {
                if let Ok(serde_json::Value::Object(o)) = serde_json::from_str(j.value(i)) {
                    flatten_json("", &o, &mut out);
                }
            }
            return out;
        }
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            return Vec::new();
        }
        (self.offsets[i]..self.offsets[i + 1])
            .filter(|&j| self.keys.is_valid(j))
            .map(|j| {
                let v = if self.values.is_valid(j) {
                    self.values.value(j).to_string()
                } else {
                    String::new()
                };
                (self.keys.value(j).to_string(), v)
            })
            .collect()
    }
}

/// Resource attributes and scope name, the inputs of one [`ResourceInfo`].
type ResourceKey = (Vec<(String, String)>, Option<String>);

/// Flattens a JSON object into dotted keys (ClickHouse's `JSON` type stores `service.name`
/// as `{"service":{"name":…}}`). Leaf values: strings as they are, numbers as integers or in
/// Rust's shortest round-trip float form, booleans, `null` as the empty string, arrays as
/// compact JSON.
fn flatten_json(
    prefix: &str,
    o: &serde_json::Map<String, serde_json::Value>,
    out: &mut Vec<(String, String)>,
) {
    for (k, v) in o {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let text = match v {
            serde_json::Value::Object(inner) => {
                flatten_json(&key, inner, out);
                continue;
            }
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i.to_string(),
                (_, Some(u), _) => u.to_string(),
                (_, _, Some(f)) => f.to_string(),
                _ => n.to_string(),
            },
            serde_json::Value::Array(_) => v.to_string(),
        };
        out.push((key, text));
    }
}

/// Caches the last resource so consecutive rows of one resource share one [`ResourceInfo`]
/// (hashing a resource per row would dominate reading time).
#[derive(Default)]
pub(crate) struct ResourceCache {
    key: Option<ResourceKey>,
    info: Option<ResourceInfo>,
}

impl ResourceCache {
    pub(crate) fn get(
        &mut self,
        attrs: Vec<(String, String)>,
        scope: Option<String>,
        cfg: &crate::model::identity::IdentityConfig,
    ) -> &ResourceInfo {
        let hit = matches!(&self.key, Some((a, s)) if *a == attrs && *s == scope);
        if !hit || self.info.is_none() {
            self.info = Some(ResourceInfo::from_attributes(
                attrs.clone(),
                scope.clone(),
                cfg,
            ));
            self.key = Some((attrs, scope));
        }
        self.info.as_ref().expect("just set")
    }
}

// ---------------------------------------------------------------------------------------------
// Canonical flavour
// ---------------------------------------------------------------------------------------------

fn col<'b>(batch: &'b RecordBatch, name: &str) -> Result<&'b ArrayRef, String> {
    batch
        .column_by_name(name)
        .ok_or_else(|| format!("column {name} missing"))
}

/// The value at `i`, or `default` when null.
pub(crate) fn int_or(a: &Int64Array, i: usize, default: i64) -> i64 {
    if a.is_valid(i) {
        a.value(i)
    } else {
        default
    }
}

fn opt_str(a: &StringArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| a.value(i).to_string())
}

/// Re-reads canalyst's canonical spans table. Rows are rebuilt as [`SpanRecord`]s and appended
/// through the builder, keeping each row's `source_file`, `source_line` and `sample_weight`;
/// all other derived columns are recomputed with the current identity configuration (equal to
/// the stored ones when the configuration is the same). `trace_state` is not a canonical
/// column, so rebuilt records have none; that changes the content fingerprint of spans that had
/// one (see docs/ingest-binary.md).
fn read_canonical(batch: &RecordBatch, first_row: u64, sink: &mut RowSink) -> Result<(), String> {
    let fixed = |name: &str| -> Result<arrow::array::FixedSizeBinaryArray, String> {
        col(batch, name)?
            .as_fixed_size_binary_opt()
            .cloned()
            .ok_or_else(|| format!("column {name} is not fixed-size binary"))
    };
    let trace_id = fixed("trace_id")?;
    let span_id = fixed("span_id")?;
    let parent = fixed("parent_span_id")?;
    let scope = strings(col(batch, "scope_name")?)?;
    let name = strings(col(batch, "span_name")?)?;
    let kind = ints(col(batch, "span_kind")?)?;
    let start = ints(col(batch, "start_time")?)?;
    let dur = ints(col(batch, "duration_ns")?)?;
    let status = ints(col(batch, "status_code")?)?;
    let status_msg = strings(col(batch, "status_message")?)?;
    let exc_type = strings(col(batch, "exception_type")?)?;
    let exc_msg = strings(col(batch, "exception_message")?)?;
    let weight = floats(col(batch, "sample_weight")?)?;
    let res_attrs = KvColumn::new(col(batch, "resource_attributes")?)?;
    let span_attrs = KvColumn::new(col(batch, "span_attributes")?)?;
    let source_file = strings(col(batch, "source_file")?)?;
    let source_line = ints(col(batch, "source_line")?)?;
    let mut cache = ResourceCache::default();
    let cfg = sink.cfg.clone();
    for i in 0..batch.num_rows() {
        let row = first_row + i as u64;
        if trace_id.value_length() != 16
            || span_id.value_length() != 8
            || trace_id.is_null(i)
            || span_id.is_null(i)
        {
            sink.reject(
                IssueKind::BadId,
                row,
                "trace_id".into(),
                "null or mis-sized id".into(),
            );
            continue;
        }
        let (Some(s), Some(d)) = (
            start.is_valid(i).then(|| start.value(i)),
            dur.is_valid(i).then(|| dur.value(i)),
        ) else {
            sink.reject(
                IssueKind::MissingField,
                row,
                "start_time".into(),
                "null start or duration".into(),
            );
            continue;
        };
        let mut t = [0u8; 16];
        t.copy_from_slice(trace_id.value(i));
        let mut sp = [0u8; 8];
        sp.copy_from_slice(span_id.value(i));
        let parent_span_id = (parent.is_valid(i) && parent.value_length() == 8).then(|| {
            let mut p = [0u8; 8];
            p.copy_from_slice(parent.value(i));
            p
        });
        let rec = SpanRecord {
            trace_id: t,
            span_id: sp,
            parent_span_id,
            name: opt_str(&name, i).unwrap_or_default(),
            kind: int_or(&kind, i, 0) as i32,
            start_time_unix_nano: s,
            end_time_unix_nano: s.saturating_add(d),
            status_code: int_or(&status, i, 0) as i32,
            status_message: opt_str(&status_msg, i),
            trace_state: None,
            attributes: span_attrs.row(i),
            exception_type: opt_str(&exc_type, i),
            exception_message: opt_str(&exc_msg, i),
            source_line: int_or(&source_line, i, row as i64),
        };
        let res = cache.get(res_attrs.row(i), opt_str(&scope, i), &cfg);
        let src = opt_str(&source_file, i).unwrap_or_else(|| sink.file.to_string());
        sink.builder.set_source_file(&src);
        let w = weight.is_valid(i).then(|| weight.value(i));
        sink.push(res, &rec, w);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
