//! The DATASET directory written by `canalyst ingest` and read by later commands.
//!
//! Layout: `spans.parquet` (the canonical spans columns with `resource_id` in the place of
//! `resource_attributes`, [`stored_spans_schema`]; LZ4 by default ([`Codec`]), dictionary
//! encoding, row groups of
//! [`ROW_GROUP_ROWS`] rows), `resources.parquet` (each distinct resource's attributes once,
//! [`resources_schema`]; see [`crate::model::resources`]), `data_quality.json` (the [`DataQuality`] of the ingest) and
//! `dataset.json` (the [`Manifest`]: schema version, canalyst version, row counts, time range),
//! and, only when the ingest produced metric points of that kind, `metric_points.parquet`,
//! `histogram_points.parquet` and `exp_histogram_points.parquet` (see `docs/metrics.md`; an
//! absent metric file means an empty table, and a re-ingest removes stale ones).
//! Every file is written under a temporary name and renamed into place, so a DATASET is never
//! seen half-written.

use super::driver::{BatchSink, IngestError};
use super::parallel_writer::ParallelArrowWriter;
use crate::model::metrics::{MetricTables, METRICS_SCHEMA_VERSION};
use crate::model::quality::DataQuality;
use crate::model::resources::{resources_schema, stored_spans_schema, ResourceTable};
use crate::model::spans::SPANS_SCHEMA_VERSION;
use arrow::array::AsArray;
use arrow::datatypes::{Int64Type, TimestampNanosecondType};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};

use super::dataset_files::METRIC_FILES;
pub use super::dataset_files::{MANIFEST_FILE, QUALITY_FILE, RESOURCES_FILE, SPANS_FILE};
/// Rows per Parquet row group: large enough for good compression and fast scans, small enough
/// that readers can parallelise across row groups of a million-span file.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;
/// Value of [`Manifest::format`].
pub const DATASET_FORMAT: &str = "canalyst-dataset";

/// Time range of the spans in a DATASET.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Earliest span start, nanoseconds since the Unix epoch.
    pub start_unix_nano: i64,
    /// Latest span end (start + duration), nanoseconds since the Unix epoch.
    pub end_unix_nano: i64,
    /// `start_unix_nano` as RFC 3339 UTC.
    pub start: String,
    /// `end_unix_nano` as RFC 3339 UTC.
    pub end: String,
}

/// Formats nanoseconds since the epoch as RFC 3339 UTC with nanoseconds.
pub fn rfc3339_nanos(ns: i64) -> String {
    arrow::temporal_conversions::timestamp_ns_to_datetime(ns)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
        .unwrap_or_else(|| ns.to_string())
}

impl TimeRange {
    /// The range from start to end nanoseconds.
    pub fn new(start_unix_nano: i64, end_unix_nano: i64) -> Self {
        Self {
            start_unix_nano,
            end_unix_nano,
            start: rfc3339_nanos(start_unix_nano),
            end: rfc3339_nanos(end_unix_nano),
        }
    }
}

/// `dataset.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`DATASET_FORMAT`].
    pub format: String,
    /// [`SPANS_SCHEMA_VERSION`] of `spans.parquet`.
    pub spans_schema_version: u32,
    /// Version of canalyst that wrote the DATASET.
    pub canalyst_version: String,
    /// Rows in `spans.parquet`.
    pub spans_rows: u64,
    /// Rows in `resources.parquet` (distinct resources).
    #[serde(default)]
    pub resources_rows: u64,
    /// Records read, ingested and rejected, and duplicates dropped (as in the data-quality log).
    pub records_read: u64,
    /// Records ingested (after duplicate removal).
    pub records_ingested: u64,
    /// Records rejected.
    pub records_rejected: u64,
    /// Exact duplicates dropped.
    pub duplicates_dropped: u64,
    /// Span time range; absent when there are no spans.
    pub time_range: Option<TimeRange>,
    /// [`METRICS_SCHEMA_VERSION`] of the metric tables (0 in DATASETs written before metrics).
    #[serde(default)]
    pub metrics_schema_version: u32,
    /// Rows in `metric_points.parquet` (0 when the file is absent).
    #[serde(default)]
    pub metric_points_rows: u64,
    /// Rows in `histogram_points.parquet`.
    #[serde(default)]
    pub histogram_points_rows: u64,
    /// Rows in `exp_histogram_points.parquet`.
    #[serde(default)]
    pub exp_histogram_points_rows: u64,
}

/// File name of a metric table in a DATASET.
pub fn metric_file(table: &str) -> String {
    format!("{table}.parquet")
}

/// How a DATASET's Parquet files are compressed (`canalyst ingest --compression`).
///
/// LZ4 is the default because it is the cheaper of the two in both directions: on 1M spans of
/// Collector output, against zstd level 3, a one-thread `ingest` took about 10% less CPU and
/// `analyze` of the DATASET about 20% less time, for a `spans.parquet` of 37.0 MB instead of
/// 29.0 MB (7% and 6% of the 500 MB of JSON; docs/benchmarks.md, "Session 17"). zstd suits
/// DATASETs kept for long. All three are read by every Parquet reader canalyst's interop is
/// tested with (DuckDB, polars, pyarrow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// LZ4 block compression, Parquet's `LZ4_RAW` codec.
    #[default]
    Lz4,
    /// zstd at this level (`zstd` alone is level 3).
    Zstd(ZstdLevel),
    /// No compression.
    Uncompressed,
}

impl Codec {
    fn parquet(self) -> Compression {
        match self {
            Codec::Lz4 => Compression::LZ4_RAW,
            Codec::Zstd(level) => Compression::ZSTD(level),
            Codec::Uncompressed => Compression::UNCOMPRESSED,
        }
    }
}

impl std::str::FromStr for Codec {
    type Err = String;
    /// `lz4`, `zstd`, `zstd:LEVEL` (1–22) or `none`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("unknown compression {s:?}: expected lz4, zstd, zstd:LEVEL (1-22) or none");
        match s {
            "lz4" => Ok(Codec::Lz4),
            "zstd" => Ok(Codec::Zstd(
                ZstdLevel::try_new(3).expect("3 is a zstd level"),
            )),
            "none" => Ok(Codec::Uncompressed),
            _ => {
                let level: i32 = s
                    .strip_prefix("zstd:")
                    .ok_or_else(bad)?
                    .parse()
                    .map_err(|_| bad())?;
                if (1..=22).contains(&level) {
                    ZstdLevel::try_new(level)
                        .map(Codec::Zstd)
                        .map_err(|e| e.to_string())
                } else {
                    Err(format!("zstd level {level} is outside 1-22"))
                }
            }
        }
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Codec::Lz4 => f.write_str("lz4"),
            Codec::Zstd(level) => write!(f, "zstd:{}", level.compression_level()),
            Codec::Uncompressed => f.write_str("none"),
        }
    }
}

/// Writes canonical span batches to `DIR/spans.parquet` (via a temporary file) and, on
/// [`ParquetSink::finish`], the data-quality log and manifest.
pub struct ParquetSink {
    dir: PathBuf,
    tmp: PathBuf,
    writer: Option<ParallelArrowWriter<File>>,
    codec: Codec,
    resources: ResourceTable,
    rows: u64,
    min_start: Option<i64>,
    max_end: Option<i64>,
    metrics: Option<MetricTables>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Columns of `spans.parquet` written without min/max statistics (a same-named column of
/// another DATASET table too): random ids and free text, which never bound a row group, and
/// which no query canalyst ships filters by. Time, service, version, track, span name, route
/// and the source file and line (clustered by input) keep theirs.
const UNPRUNED_COLUMNS: [&str; 9] = [
    "trace_id",
    "span_id",
    "parent_span_id",
    "scope_name",
    "status_message",
    "http_route",
    "http_method",
    "exception_type",
    "exception_message",
];

/// Writer properties of the DATASET's Parquet files.
fn writer_properties(codec: Codec) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(codec.parquet())
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    // Two writer costs that buy nothing for this table (measured together, one-thread ingest
    // of 1M Collector spans: 6.4 → 6.0 user CPU s, the file 12% smaller; docs/benchmarks.md):
    // - min/max page statistics of the attribute-map leaves and of the columns below: two
    //   comparisons per value for bounds no query prunes by (random ids, free text, the
    //   source location; the writer compares strings even on dictionary columns, per row);
    // - dictionaries for near-unique columns: the writer interns up to a row group's values
    //   per column only to write almost every one of them once.
    for m in ["resource_attributes", "span_attributes"] {
        for leaf in ["keys", "values"] {
            let path = ColumnPath::from(vec![m.to_string(), "entries".into(), leaf.into()]);
            b = b.set_column_statistics_enabled(path, EnabledStatistics::None);
        }
    }
    for c in UNPRUNED_COLUMNS {
        b = b.set_column_statistics_enabled(ColumnPath::from(c), EnabledStatistics::None);
    }
    for c in [
        "trace_id",
        "span_id",
        "parent_span_id",
        "start_time",
        "duration_ns",
        "source_line",
    ] {
        b = b.set_column_dictionary_enabled(ColumnPath::from(c), false);
    }
    b.build()
}

/// The names of a DATASET's Parquet tables.
fn parquet_tables() -> impl Iterator<Item = &'static str> {
    [SPANS_FILE, RESOURCES_FILE].into_iter().chain(METRIC_FILES)
}

/// Whether a file named `name` belongs in a DATASET directory: one of its files, or the
/// temporary file of one that an interrupted ingest left behind (`.NAME.PID.tmp` for the
/// Parquet files, `NAME.tmp` for the JSON ones).
fn is_dataset_file(name: &str) -> bool {
    let parquet = parquet_tables();
    let json = [QUALITY_FILE, MANIFEST_FILE];
    parquet.chain(json).any(|f| name == f)
        || temporary_table_tag(name).is_some()
        || json.iter().any(|f| name.strip_suffix(".tmp") == Some(f))
}

/// The `PID` of a Parquet table's temporary file name `.NAME.PID.tmp` (any text in its place),
/// or `None` when `name` is not one.
fn temporary_table_tag(name: &str) -> Option<&str> {
    let rest = name.strip_prefix('.')?;
    parquet_tables().find_map(|f| {
        rest.strip_prefix(f)?
            .strip_prefix('.')?
            .strip_suffix(".tmp")
    })
}

/// The process id in the name of a Parquet table's temporary file (`.NAME.PID.tmp`, see
/// [`is_dataset_file`]), or `None` for any other name.
fn temporary_file_pid(name: &str) -> Option<u32> {
    temporary_table_tag(name)?.parse().ok()
}

/// Whether process `pid` has ended, as far as this platform can tell (`/proc` on Linux;
/// elsewhere never, so nothing is removed that a running ingest may still be writing).
fn process_has_ended(pid: u32) -> bool {
    cfg!(target_os = "linux")
        && Path::new("/proc/self").exists()
        && !Path::new("/proc").join(pid.to_string()).exists()
}

fn write_json_atomically<T: Serialize>(path: &Path, value: &T) -> Result<(), IngestError> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(value).map_err(|e| IngestError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

impl ParquetSink {
    /// Starts a DATASET in `dir` (created if missing) whose files are compressed with `codec`.
    /// Refuses a directory that holds other files than a previous DATASET's, so an ingest never
    /// clobbers unrelated data.
    pub fn create(dir: &Path, codec: Codec) -> Result<Self, IngestError> {
        if dir.exists() {
            let entries = std::fs::read_dir(dir).map_err(io(dir))?;
            for e in entries {
                let e = e.map_err(io(dir))?;
                let name = e.file_name().to_string_lossy().to_string();
                if !is_dataset_file(&name) {
                    return Err(IngestError::Invalid {
                        path: dir.to_path_buf(),
                        message: format!(
                            "output directory is not empty and not a DATASET (it holds {name:?})"
                        ),
                    });
                }
                // A table's unfinished copy left by an ingest that was killed: never renamed
                // into place, so it holds nothing the DATASET lost. Removed once its process
                // is gone, else every interrupted run would leave one more behind.
                if temporary_file_pid(&name)
                    .is_some_and(|pid| pid != std::process::id() && process_has_ended(pid))
                {
                    let path = e.path();
                    match std::fs::remove_file(&path) {
                        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                            return Err(io(&path)(err));
                        }
                        _ => {}
                    }
                }
            }
        } else {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let tmp = dir.join(format!(".spans.parquet.{}.tmp", std::process::id()));
        let file = File::create(&tmp).map_err(io(&tmp))?;
        let writer =
            ParallelArrowWriter::try_new(file, stored_spans_schema(), writer_properties(codec))
                .map_err(|source| IngestError::Parquet {
                    path: tmp.clone(),
                    source,
                })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            tmp,
            writer: Some(writer),
            codec,
            resources: ResourceTable::new(),
            rows: 0,
            min_start: None,
            max_end: None,
            metrics: None,
        })
    }

    /// `base` with what this sink's input should be built with: every attribute and a
    /// resource id per row ([`IngestOptions::resource_ids`](super::IngestOptions)), so each
    /// resource's attributes are copied once per batch, not once per span. The sink also takes
    /// plain canonical batches, hashing every row's map.
    pub fn ingest_options(base: super::IngestOptions) -> super::IngestOptions {
        super::IngestOptions {
            attribute_maps: true,
            span_attribute_keys: None,
            resource_ids: true,
            ..base
        }
    }

    /// Closes `spans.parquet` and writes `resources.parquet`, `data_quality.json` and
    /// `dataset.json`.
    pub fn finish(mut self, quality: &DataQuality) -> Result<Manifest, IngestError> {
        if let Some(w) = self.writer.take() {
            w.close().map_err(|source| IngestError::Parquet {
                path: self.tmp.clone(),
                source,
            })?;
        }
        let resources = self
            .resources
            .to_batch()
            .map_err(|e| IngestError::Invalid {
                path: self.dir.join(RESOURCES_FILE),
                message: e.to_string(),
            })?;
        write_parquet_atomically(&self.dir, RESOURCES_FILE, &resources, self.codec)?;
        let spans = self.dir.join(SPANS_FILE);
        std::fs::rename(&self.tmp, &spans).map_err(io(&spans))?;
        let mut metric_rows = [0u64; 3];
        if let Some(tables) = self.metrics.take() {
            for (i, (name, batch)) in tables.tables().into_iter().enumerate() {
                metric_rows[i] = batch.num_rows() as u64;
                let file = metric_file(name);
                let path = self.dir.join(&file);
                if batch.num_rows() == 0 {
                    if path.exists() {
                        std::fs::remove_file(&path).map_err(io(&path))?;
                    }
                    continue;
                }
                write_parquet_atomically(&self.dir, &file, batch, self.codec)?;
            }
        } else {
            for f in METRIC_FILES {
                let path = self.dir.join(f);
                if path.exists() {
                    std::fs::remove_file(&path).map_err(io(&path))?;
                }
            }
        }
        write_json_atomically(&self.dir.join(QUALITY_FILE), quality)?;
        let manifest = Manifest {
            format: DATASET_FORMAT.to_string(),
            spans_schema_version: SPANS_SCHEMA_VERSION,
            canalyst_version: env!("CARGO_PKG_VERSION").to_string(),
            spans_rows: self.rows,
            resources_rows: self.resources.len() as u64,
            records_read: quality.records_read,
            records_ingested: quality.records_ingested,
            records_rejected: quality.records_rejected,
            duplicates_dropped: quality.duplicates_dropped,
            time_range: self
                .min_start
                .zip(self.max_end)
                .map(|(s, e)| TimeRange::new(s, e)),
            metrics_schema_version: METRICS_SCHEMA_VERSION,
            metric_points_rows: metric_rows[0],
            histogram_points_rows: metric_rows[1],
            exp_histogram_points_rows: metric_rows[2],
        };
        write_json_atomically(&self.dir.join(MANIFEST_FILE), &manifest)?;
        Ok(manifest)
    }

    /// Drops the temporary file (for `--strict` failures: nothing is written).
    pub fn abandon(mut self) {
        drop(self.writer.take());
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Writes `batch` to `dir/name` with the DATASET's writer properties and `codec`: to a
/// temporary file first (removed if anything fails), renamed into place at the end.
fn write_parquet_atomically(
    dir: &Path,
    name: &str,
    batch: &RecordBatch,
    codec: Codec,
) -> Result<(), IngestError> {
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let path = dir.join(name);
    let written = (|| {
        let file = File::create(&tmp).map_err(io(&tmp))?;
        let pq = |source| IngestError::Parquet {
            path: tmp.clone(),
            source,
        };
        let mut w = ArrowWriter::try_new(file, batch.schema(), Some(writer_properties(codec)))
            .map_err(pq)?;
        w.write(batch).map_err(pq)?;
        w.close().map_err(pq)?;
        std::fs::rename(&tmp, &path).map_err(io(&path))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

impl BatchSink for ParquetSink {
    /// Takes a canonical batch, or one built with resource ids
    /// ([`ParquetSink::ingest_options`]), and writes it in the stored layout.
    fn write(&mut self, batch: RecordBatch) -> Result<(), IngestError> {
        let batch = self
            .resources
            .absorb(&batch)
            .map_err(|e| IngestError::Invalid {
                path: self.dir.clone(),
                message: format!("writing the DATASET's resources: {e}"),
            })?;
        if let (Some(s), Some(d)) = (
            batch.column_by_name("start_time"),
            batch.column_by_name("duration_ns"),
        ) {
            let s = s.as_primitive::<TimestampNanosecondType>();
            let d = d.as_primitive::<Int64Type>();
            if let Some(min) = arrow::compute::min(s) {
                self.min_start = Some(self.min_start.map_or(min, |m| m.min(min)));
            }
            let end = s
                .values()
                .iter()
                .zip(d.values().iter())
                .map(|(a, b)| a.saturating_add(*b))
                .max();
            if let Some(end) = end {
                self.max_end = Some(self.max_end.map_or(end, |m| m.max(end)));
            }
        }
        self.rows += batch.num_rows() as u64;
        let w = self.writer.as_mut().ok_or_else(|| IngestError::Invalid {
            path: self.tmp.clone(),
            message: "write after finish".to_string(),
        })?;
        w.write(&batch).map_err(|source| IngestError::Parquet {
            path: self.tmp.clone(),
            source,
        })
    }

    /// The writer takes batches of any size (a row group is closed at its row count, not at
    /// a batch's end), so consecutive batches are written as they are: concatenating them
    /// first copied every column once more (0.3 CPU s of a 1M-span ingest).
    fn write_all(&mut self, batches: Vec<RecordBatch>) -> Result<(), IngestError> {
        for batch in batches {
            self.write(batch)?;
        }
        Ok(())
    }

    /// Kept until [`ParquetSink::finish`], so an abandoned ingest writes no metric files.
    fn write_metrics(&mut self, tables: MetricTables) -> Result<(), IngestError> {
        self.keep_metrics(tables);
        Ok(())
    }
}

impl ParquetSink {
    fn keep_metrics(&mut self, tables: MetricTables) {
        self.metrics = Some(tables);
    }
}

impl Drop for ParquetSink {
    fn drop(&mut self) {
        // An unfinished sink (error path) leaves no temporary file behind.
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Whether `path` is a DATASET directory (has `dataset.json` and `spans.parquet`).
pub fn is_dataset(path: &Path) -> bool {
    path.is_dir() && path.join(MANIFEST_FILE).is_file() && path.join(SPANS_FILE).is_file()
}

/// An opened DATASET.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The directory.
    pub dir: PathBuf,
    /// Path of `spans.parquet`.
    pub spans: PathBuf,
    /// Path of `resources.parquet` (absent in a version-1 DATASET).
    pub resources: PathBuf,
    /// The manifest.
    pub manifest: Manifest,
    /// The data-quality log of the ingest that wrote it.
    pub quality: DataQuality,
}

impl Dataset {
    /// Reads the three metric tables into memory (an absent file is an empty table).
    pub fn read_metric_tables(&self) -> Result<MetricTables, IngestError> {
        let mut tables = Vec::with_capacity(3);
        for (name, schema) in crate::model::metrics::metric_schemas() {
            let path = self.dir.join(metric_file(name));
            if !path.is_file() {
                tables.push(RecordBatch::new_empty(schema));
                continue;
            }
            let parquet = |source| IngestError::ParquetRead {
                path: path.clone(),
                source,
            };
            let file = File::open(&path).map_err(io(&path))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| b.build())
                .map_err(parquet)?;
            let batches = reader
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| parquet(e.into()))?;
            let batch = arrow::compute::concat_batches(&schema, &batches).map_err(|e| {
                IngestError::Invalid {
                    path: path.clone(),
                    message: format!("metric table does not have the canonical schema: {e}"),
                }
            })?;
            tables.push(batch);
        }
        let [metric_points, histogram_points, exp_histogram_points]: [RecordBatch; 3] =
            tables.try_into().expect("three metric schemas");
        Ok(MetricTables {
            metric_points,
            histogram_points,
            exp_histogram_points,
        })
    }

    /// Reads `resources.parquet` (empty for a version-1 DATASET, which has none).
    pub fn read_resources(&self) -> Result<ResourceTable, IngestError> {
        if self.manifest.spans_schema_version == 1 {
            return Ok(ResourceTable::new());
        }
        Ok(super::resources_file::read_resources(&self.resources)?)
    }

    /// A reader of `spans.parquet` in the canonical (in-memory) schema, `batch_rows` rows per
    /// batch: each row's `resource_attributes` is put back from `resources.parquet`.
    pub fn spans_reader(
        &self,
        batch_rows: usize,
    ) -> Result<impl Iterator<Item = Result<RecordBatch, arrow::error::ArrowError>>, IngestError>
    {
        let resources = self.read_resources()?;
        let file = File::open(&self.spans).map_err(io(&self.spans))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(batch_rows.max(1)).build())
            .map_err(|source| IngestError::ParquetRead {
                path: self.spans.clone(),
                source,
            })?;
        Ok(reader.map(move |b| {
            b.and_then(|b| {
                resources
                    .expand(&b)
                    .map_err(|e| arrow::error::ArrowError::ExternalError(Box::new(e)))
            })
        }))
    }
}

/// A resources table that cannot be read, as an ingest error naming the file.
impl From<super::resources_file::ResourcesFileError> for IngestError {
    fn from(e: super::resources_file::ResourcesFileError) -> Self {
        use super::resources_file::ResourcesFileError as E;
        match e {
            E::Io { path, source } => IngestError::Io { path, source },
            E::Parquet { path, source } => IngestError::ParquetRead { path, source },
            E::Invalid { path, reason } => IngestError::Invalid {
                path,
                message: reason,
            },
        }
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, IngestError> {
    let text = std::fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&text).map_err(|e| IngestError::Invalid {
        path: path.to_path_buf(),
        message: format!("not a valid DATASET file: {e}"),
    })
}

/// Opens a DATASET: reads its manifest and data-quality log and checks the schema version.
pub fn open_dataset(path: &Path) -> Result<Dataset, IngestError> {
    if !is_dataset(path) {
        return Err(IngestError::Invalid {
            path: path.to_path_buf(),
            message: format!("not a DATASET (needs {MANIFEST_FILE} and {SPANS_FILE})"),
        });
    }
    let manifest: Manifest = read_json(&path.join(MANIFEST_FILE))?;
    // Version 1 (resource attributes in every span row, before resources.parquet) is still
    // read: its spans.parquet is the canonical table as it is.
    if ![1, SPANS_SCHEMA_VERSION].contains(&manifest.spans_schema_version) {
        return Err(IngestError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "spans schema version {} but this canalyst reads versions 1 and {SPANS_SCHEMA_VERSION}; re-run `canalyst ingest`",
                manifest.spans_schema_version
            ),
        });
    }
    if manifest.format != DATASET_FORMAT {
        return Err(IngestError::Invalid {
            path: path.join(MANIFEST_FILE),
            message: format!(
                "format {:?} but a DATASET has format {DATASET_FORMAT:?}",
                manifest.format
            ),
        });
    }
    if manifest.spans_schema_version == 1 {
        check_schema(&path.join(SPANS_FILE), &crate::model::spans::spans_schema())?;
    } else {
        check_schema(&path.join(SPANS_FILE), &stored_spans_schema())?;
        check_schema(&path.join(RESOURCES_FILE), &resources_schema())?;
    }
    for (name, schema) in crate::model::metrics::metric_schemas() {
        let file = path.join(metric_file(name));
        if !file.is_file() {
            continue;
        }
        if manifest.metrics_schema_version != METRICS_SCHEMA_VERSION {
            return Err(IngestError::Invalid {
                path: path.to_path_buf(),
                message: format!(
                    "metrics schema version {} but this canalyst reads version {METRICS_SCHEMA_VERSION}; re-run `canalyst ingest`",
                    manifest.metrics_schema_version
                ),
            });
        }
        check_schema(&file, &schema)?;
    }
    let quality_path = path.join(QUALITY_FILE);
    let quality = if quality_path.is_file() {
        read_json(&quality_path)?
    } else {
        DataQuality::default()
    };
    Ok(Dataset {
        dir: path.to_path_buf(),
        spans: path.join(SPANS_FILE),
        resources: path.join(RESOURCES_FILE),
        manifest,
        quality,
    })
}

/// Checks that the Parquet file at `path` has the canonical `expected` schema: the same
/// columns in the same order with the same types and nullability. Only the footer is read.
/// The error names the file and the first column that differs, so a foreign Parquet file
/// copied into a DATASET is refused when it is opened, not deep inside a query.
pub fn check_schema(path: &Path, expected: &arrow::datatypes::Schema) -> Result<(), IngestError> {
    let file = File::open(path).map_err(io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| {
        IngestError::ParquetRead {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let found = builder.schema();
    let invalid = |message: String| IngestError::Invalid {
        path: path.to_path_buf(),
        message: format!("not the canonical schema: {message}"),
    };
    let nullable = |n: bool| if n { "nullable" } else { "non-nullable" };
    for (i, want) in expected.fields().iter().enumerate() {
        let Some(got) = found.fields().get(i) else {
            return Err(invalid(format!(
                "column {} {:?} is missing ({} columns, expected {})",
                i + 1,
                want.name(),
                found.fields().len(),
                expected.fields().len()
            )));
        };
        if got.name() != want.name() {
            return Err(invalid(format!(
                "column {} is {:?}, expected {:?}",
                i + 1,
                got.name(),
                want.name()
            )));
        }
        if got.data_type() != want.data_type() || got.is_nullable() != want.is_nullable() {
            return Err(invalid(format!(
                "column {:?} is {} {}, expected {} {}",
                want.name(),
                nullable(got.is_nullable()),
                got.data_type(),
                nullable(want.is_nullable()),
                want.data_type()
            )));
        }
    }
    if let Some(extra) = found.fields().get(expected.fields().len()) {
        return Err(invalid(format!(
            "unexpected column {} {:?} ({} columns, expected {})",
            expected.fields().len() + 1,
            extra.name(),
            found.fields().len(),
            expected.fields().len()
        )));
    }
    Ok(())
}

/// All spans of `inputs` in memory, for commands that accept a DATASET or raw files alike:
/// DATASET directories are read from `spans.parquet` (their stored data-quality logs are
/// merged in input order), everything else is ingested on the fly.
pub fn load_spans(
    inputs: &[PathBuf],
    opts: &super::IngestOptions,
) -> Result<(Vec<RecordBatch>, DataQuality), IngestError> {
    let mut sink = super::MemorySink::default();
    let quality = load_spans_into(inputs, opts, &mut sink)?;
    Ok((sink.batches, quality))
}

/// [`load_spans`] into any sink, so a caller can shrink each batch as it arrives (memory then
/// stays bounded by what the sink keeps, not by the canonical table).
pub fn load_spans_into(
    inputs: &[PathBuf],
    opts: &super::IngestOptions,
    sink: &mut dyn BatchSink,
) -> Result<DataQuality, IngestError> {
    let mut quality = DataQuality::default();
    let mut raw = Vec::new();
    for p in inputs {
        if is_dataset(p) {
            let ds = open_dataset(p)?;
            for b in ds.spans_reader(opts.batch_rows)? {
                sink.write(b.map_err(|e| IngestError::Invalid {
                    path: ds.spans.clone(),
                    message: e.to_string(),
                })?)?;
            }
            quality.merge(ds.quality);
        } else {
            raw.push(p.clone());
        }
    }
    if !raw.is_empty() {
        quality.merge(super::ingest_paths(&raw, opts, sink)?);
    }
    Ok(quality)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::identity::IdentityConfig;
    use crate::model::spans::{ResourceInfo, SpanRecord, SpansBuilder, SPAN_COLUMNS};
    use std::sync::Arc;

    /// A string-dictionary column is written as its values (vendor/parquet/PATCHED.md: the
    /// writer resolves each dictionary key once): the file is byte for byte the one of the same
    /// strings written as a plain column (without the Arrow schema), and read back it has the
    /// same values, chunk statistics, page index and encodings; also with more distinct values
    /// than the patch's key cache has slots (keys that share a slot), null keys, a null entry,
    /// one string under two keys, unused entries, several batches with their own dictionaries,
    /// and a dictionary page limit that makes the column fall back to plain encoding.
    #[test]
    fn dictionary_columns_are_written_as_their_values() {
        use arrow::array::{DictionaryArray, Int32Array, StringArray};
        use arrow::datatypes::{DataType, Field, Int32Type, Schema};
        use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
        use parquet::arrow::arrow_writer::ArrowWriterOptions;
        use parquet::arrow::ArrowWriter;
        use parquet::basic::{Encoding, PageType};
        use parquet::file::metadata::PageIndexPolicy;
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let dir = tempfile::tempdir().unwrap();
        let read = |bytes: Vec<u8>| {
            let path = dir.path().join("t.parquet");
            std::fs::write(&path, bytes).unwrap();
            let opts = ArrowReaderOptions::new()
                .with_page_index_policy(PageIndexPolicy::Required)
                .with_encoding_stats_as_mask(false);
            let file = std::fs::File::open(&path).unwrap();
            let b = ParquetRecordBatchReaderBuilder::try_new_with_options(file, opts).unwrap();
            let meta = b.metadata().clone();
            let mut values: Vec<Option<String>> = Vec::new();
            for batch in b.build().unwrap() {
                let c = arrow::compute::cast(batch.unwrap().column(0), &DataType::Utf8).unwrap();
                values.extend(c.as_string::<i32>().iter().map(|v| v.map(str::to_string)));
            }
            let chunks: Vec<String> = meta
                .row_groups()
                .iter()
                .map(|g| format!("{:?}", g.column(0).statistics()))
                .collect();
            // Per row group, the encodings of its data pages (not the dictionary page's).
            let encodings: Vec<Vec<Encoding>> = meta
                .row_groups()
                .iter()
                .map(|g| {
                    let stats = g
                        .column(0)
                        .page_encoding_stats()
                        .expect("page encoding stats");
                    let data = stats
                        .iter()
                        .filter(|s| s.page_type != PageType::DICTIONARY_PAGE);
                    data.map(|s| s.encoding).collect()
                })
                .collect();
            (
                values,
                chunks,
                format!("{:?}", meta.column_index()),
                encodings,
            )
        };
        for (distinct, dictionary_limit) in [(5, None), (3000, None), (3000, Some(8 << 10))] {
            let dict_type =
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
            let schema_d = Arc::new(Schema::new(vec![Field::new("c", dict_type, true)]));
            let schema_p = Arc::new(Schema::new(vec![Field::new("c", DataType::Utf8, true)]));
            // Without the Arrow schema (the one thing that differs), the files must be equal.
            let bare = || ArrowWriterOptions::new().with_skip_arrow_metadata(true);
            let mut props = writer_properties(Codec::Lz4).into_builder();
            if let Some(limit) = dictionary_limit {
                props = props.set_dictionary_page_size_limit(limit);
            }
            let props = props.set_max_row_group_row_count(Some(5000)).build();
            let mut wd = ArrowWriter::try_new_with_options(
                Vec::new(),
                schema_d.clone(),
                bare().with_properties(props.clone()),
            )
            .unwrap();
            let mut wp = ArrowWriter::try_new_with_options(
                Vec::new(),
                schema_p.clone(),
                bare().with_properties(props),
            )
            .unwrap();
            for _ in 0..4 {
                let mut values: Vec<Option<String>> = (0..distinct)
                    .map(|i| Some(format!("v{:05}-{i}", rng.random_range(0..100_000))))
                    .collect();
                // One string under two keys, and a null entry (its rows are null).
                values[2] = values[1].clone();
                values[3] = None;
                // The last tenth of each dictionary is never used.
                let used = (distinct * 9 / 10).max(1);
                let keys: Vec<Option<i32>> = (0..3000)
                    .map(|_| rng.random_bool(0.9).then(|| rng.random_range(0..used)))
                    .collect();
                let plain: StringArray = keys
                    .iter()
                    .map(|k| k.and_then(|k| values[k as usize].as_deref()))
                    .collect();
                let dict = DictionaryArray::<Int32Type>::new(
                    Int32Array::from(keys),
                    Arc::new(StringArray::from(values)),
                );
                wd.write(&RecordBatch::try_new(schema_d.clone(), vec![Arc::new(dict)]).unwrap())
                    .unwrap();
                wp.write(&RecordBatch::try_new(schema_p.clone(), vec![Arc::new(plain)]).unwrap())
                    .unwrap();
            }
            let (fd, fp) = (wd.into_inner().unwrap(), wp.into_inner().unwrap());
            assert!(fd == fp, "{distinct}: the files differ");
            let (d, p) = (read(fd), read(fp));
            assert_eq!(d.0.len(), 12_000);
            assert!(d.0 == p.0, "{distinct}: values differ");
            assert_eq!(d.1, p.1, "{distinct}: chunk statistics differ");
            assert!(d.1.iter().all(|s| s.contains("min")), "{:?}", d.1);
            assert_eq!(d.2, p.2, "{distinct}: page index differs");
            assert_eq!(d.3, p.3, "{distinct}: encodings differ");
            let plain_pages = d.3.iter().any(|e| e.contains(&Encoding::PLAIN));
            assert_eq!(plain_pages, dictionary_limit.is_some(), "{:?}", d.3);
        }
    }

    /// A string column of short values (vendor/parquet/PATCHED.md: values of at most 32
    /// bytes are looked up in a cache keyed by their bytes before the writer's interner)
    /// reads back as written, and each row group's dictionary page holds its distinct values
    /// in order of first appearance, as the interner alone writes it: every length from 0 to
    /// 40 bytes, values that differ in one byte only, more distinct values than the cache
    /// has slots, nulls, several batches per row group.
    #[test]
    fn short_string_values_keep_their_dictionary_order() {
        use arrow::array::StringArray;
        use arrow::datatypes::{DataType, Field, Schema};
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        use parquet::arrow::ArrowWriter;
        use parquet::column::page::Page;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let schema = Arc::new(Schema::new(vec![Field::new("c", DataType::Utf8, true)]));
        let props = writer_properties(Codec::Lz4)
            .into_builder()
            .set_max_row_group_row_count(Some(6000))
            .build();
        let mut w = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props)).unwrap();
        let mut written: Vec<Option<String>> = Vec::new();
        for _ in 0..4 {
            let batch: Vec<Option<String>> = (0..3000)
                .map(|_| {
                    if rng.random_bool(0.05) {
                        return None;
                    }
                    let len = rng.random_range(0..=40usize);
                    let mut v: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    // One byte changed anywhere, from 1200 variants: values that share all
                    // but one byte, and cache slots that collide.
                    if len > 0 {
                        let at = rng.random_range(0..len);
                        v[at] = b'0' + rng.random_range(0..30u8);
                    }
                    Some(String::from_utf8(v).unwrap())
                })
                .collect();
            let column: StringArray = batch.iter().map(Option::as_deref).collect();
            w.write(&RecordBatch::try_new(schema.clone(), vec![Arc::new(column)]).unwrap())
                .unwrap();
            written.extend(batch);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        std::fs::write(&path, w.into_inner().unwrap()).unwrap();
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        for g in 0..reader.num_row_groups() {
            let rows = &written[g * 6000..(g + 1) * 6000];
            let mut want: Vec<&str> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for v in rows.iter().flatten() {
                if seen.insert(v.as_str()) {
                    want.push(v);
                }
            }
            let mut pages = reader
                .get_row_group(g)
                .unwrap()
                .get_column_page_reader(0)
                .unwrap();
            let Some(Ok(Page::DictionaryPage {
                buf, num_values, ..
            })) = pages.next()
            else {
                panic!("row group {g} starts without a dictionary page");
            };
            let mut got: Vec<&str> = Vec::new();
            let mut at = 0;
            while at < buf.len() {
                let n = u32::from_le_bytes(buf[at..at + 4].try_into().unwrap()) as usize;
                got.push(std::str::from_utf8(&buf[at + 4..at + 4 + n]).unwrap());
                at += 4 + n;
            }
            assert_eq!(num_values as usize, got.len());
            assert!(want.len() > 600, "{} distinct values", want.len());
            assert_eq!(got, want, "row group {g}");
        }
        let file = std::fs::File::open(&path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let mut read: Vec<Option<String>> = Vec::new();
        for batch in reader.build().unwrap() {
            let batch = batch.unwrap();
            read.extend(
                batch
                    .column(0)
                    .as_string::<i32>()
                    .iter()
                    .map(|v| v.map(str::to_string)),
            );
        }
        assert_eq!(read.len(), 12_000);
        assert!(read == written, "values differ");
    }

    /// A killed ingest's temporary table is removed by the next ingest into the directory
    /// once its process is gone; a live process's is left alone, and so is anything else.
    #[test]
    fn temporary_tables_of_ended_processes_are_removed() {
        assert_eq!(temporary_file_pid(".spans.parquet.77.tmp"), Some(77));
        assert_eq!(temporary_file_pid(".metric_points.parquet.5.tmp"), Some(5));
        for not in [
            "spans.parquet",
            "dataset.json.tmp",
            ".spans.parquet.x.tmp",
            ".spans.parquet.7",
            ".other.parquet.7.tmp",
        ] {
            assert_eq!(temporary_file_pid(not), None, "{not}");
        }
        let dir = tempfile::tempdir().unwrap();
        // Above Linux's largest pid_max (2^22): no such process can run.
        let ended = dir.path().join(".spans.parquet.4194305.tmp");
        let ended_metrics = dir.path().join(".metric_points.parquet.4194306.tmp");
        // Process 1 (init) runs as long as the system does.
        let live = dir.path().join(".resources.parquet.1.tmp");
        let json = dir.path().join("dataset.json.tmp");
        for f in [&ended, &ended_metrics, &live, &json] {
            std::fs::write(f, "x").unwrap();
        }
        ParquetSink::create(dir.path(), Codec::default())
            .unwrap()
            .abandon();
        let linux = cfg!(target_os = "linux");
        assert_eq!(ended.exists(), !linux);
        assert_eq!(ended_metrics.exists(), !linux);
        assert!(live.exists());
        assert!(json.exists());
    }

    /// What an interrupted ingest leaves (any table's temporary file) does not make the
    /// directory look foreign; anything else does.
    #[test]
    fn leftovers_of_an_interrupted_ingest_are_dataset_files() {
        let pid = 4242;
        for ours in [
            "spans.parquet".to_string(),
            "exp_histogram_points.parquet".into(),
            "dataset.json".into(),
            format!(".spans.parquet.{pid}.tmp"),
            format!(".resources.parquet.{pid}.tmp"),
            format!(".metric_points.parquet.{pid}.tmp"),
            format!(".histogram_points.parquet.{pid}.tmp"),
            format!(".exp_histogram_points.parquet.{pid}.tmp"),
            "data_quality.json.tmp".into(),
            "dataset.json.tmp".into(),
        ] {
            assert!(is_dataset_file(&ours), "{ours}");
        }
        for foreign in [
            "other.txt",
            ".metrics.tmp",
            ".spans.parquet",
            "spans.parquet.tmp",
            ".spans.parquet.1.bak",
            ".histogram_points.parquetX.1.tmp",
            "notes.json.tmp",
        ] {
            assert!(!is_dataset_file(foreign), "{foreign}");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path()
                .join(format!(".histogram_points.parquet.{pid}.tmp")),
            "x",
        )
        .unwrap();
        ParquetSink::create(dir.path(), Codec::default())
            .unwrap()
            .abandon();
    }

    #[test]
    fn codecs_parse_print_and_set_the_writer() {
        let zstd = |l| Codec::Zstd(ZstdLevel::try_new(l).unwrap());
        for (text, codec, parquet) in [
            ("lz4", Codec::Lz4, Compression::LZ4_RAW),
            (
                "zstd",
                zstd(3),
                Compression::ZSTD(ZstdLevel::try_new(3).unwrap()),
            ),
            (
                "zstd:1",
                zstd(1),
                Compression::ZSTD(ZstdLevel::try_new(1).unwrap()),
            ),
            (
                "zstd:22",
                zstd(22),
                Compression::ZSTD(ZstdLevel::try_new(22).unwrap()),
            ),
            ("none", Codec::Uncompressed, Compression::UNCOMPRESSED),
        ] {
            let parsed: Codec = text.parse().unwrap();
            assert_eq!(parsed, codec, "{text}");
            assert_eq!(parsed.to_string().parse::<Codec>(), Ok(codec));
            let p = writer_properties(codec);
            for c in ["trace_id", "service_name"] {
                assert_eq!(p.compression(&ColumnPath::from(c)), parquet, "{text} {c}");
            }
        }
        assert_eq!(Codec::default(), Codec::Lz4);
        for bad in ["", "LZ4", "zstd:", "zstd:0", "zstd:23", "zstd:x", "gzip"] {
            assert!(bad.parse::<Codec>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writer_skips_dictionaries_of_unique_columns_and_statistics_of_maps() {
        let p = writer_properties(Codec::default());
        for c in [
            "trace_id",
            "span_id",
            "start_time",
            "duration_ns",
            "source_line",
        ] {
            assert!(!p.dictionary_enabled(&ColumnPath::from(c)), "{c}");
        }
        for c in ["service_name", "route", "span_name"] {
            assert!(p.dictionary_enabled(&ColumnPath::from(c)), "{c}");
            assert_ne!(
                p.statistics_enabled(&ColumnPath::from(c)),
                EnabledStatistics::None
            );
        }
        for c in [
            "start_time",
            "service_version",
            "deployment_track",
            "source_file",
            "source_line",
        ] {
            assert_ne!(
                p.statistics_enabled(&ColumnPath::from(c)),
                EnabledStatistics::None,
                "{c}"
            );
        }
        for c in UNPRUNED_COLUMNS {
            assert!(SPAN_COLUMNS.contains(&c), "{c} is not a column");
            assert_eq!(
                p.statistics_enabled(&ColumnPath::from(c)),
                EnabledStatistics::None,
                "{c}"
            );
        }
        let leaf = ColumnPath::from(vec![
            "span_attributes".to_string(),
            "entries".into(),
            "values".into(),
        ]);
        assert_eq!(p.statistics_enabled(&leaf), EnabledStatistics::None);
        // The leaf path exists in the written schema, so the setting is not a no-op.
        let schema = parquet::arrow::ArrowSchemaConverter::new()
            .convert(&stored_spans_schema())
            .unwrap();
        assert!((0..schema.num_columns()).any(|i| *schema.column(i).path() == leaf));
    }

    fn batch(n: usize) -> RecordBatch {
        batch_with(n, false)
    }

    /// `n` spans of two resources (alternating in runs of two), built with or without
    /// resource ids.
    fn batch_with(n: usize, ids: bool) -> RecordBatch {
        let mut b = SpansBuilder::new(Arc::new(IdentityConfig::default()), "f").resource_ids(ids);
        let res = |s: &str| {
            ResourceInfo::from_attributes(
                vec![("service.name".into(), s.into())],
                None,
                &IdentityConfig::default(),
            )
        };
        let (r1, r2) = (res("s"), res("t"));
        for i in 0..n {
            b.append(
                if i % 4 < 2 { &r1 } else { &r2 },
                &SpanRecord {
                    trace_id: [1; 16],
                    span_id: [i as u8 + 1; 8],
                    name: "x".into(),
                    start_time_unix_nano: 1_000 + i as i64,
                    end_time_unix_nano: 2_000 + i as i64,
                    ..Default::default()
                },
            );
        }
        b.finish().unwrap()
    }

    #[test]
    fn writes_and_reopens_a_dataset() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("ds");
        let mut sink = ParquetSink::create(&out, Codec::default()).unwrap();
        sink.write(batch(3)).unwrap();
        let q = DataQuality {
            records_read: 3,
            records_ingested: 3,
            ..Default::default()
        };
        let m = sink.finish(&q).unwrap();
        assert_eq!(m.spans_rows, 3);
        assert_eq!(m.time_range.as_ref().unwrap().end_unix_nano, 2_002);
        assert!(is_dataset(&out));
        let ds = open_dataset(&out).unwrap();
        assert_eq!(ds.quality, q);
        let rows: usize = ds
            .spans_reader(2)
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum();
        assert_eq!(rows, 3);
        let first = ds.spans_reader(10).unwrap().next().unwrap().unwrap();
        assert_eq!(
            first,
            batch(3),
            "read back in the canonical layout, maps included"
        );
        assert_eq!(m.resources_rows, 2);
        assert_eq!(ds.read_resources().unwrap().len(), 2);
        // Overwriting a DATASET is allowed; writing into an unrelated directory is not.
        ParquetSink::create(&out, Codec::default())
            .unwrap()
            .abandon();
        std::fs::write(dir.path().join("other.txt"), "x").unwrap();
        assert!(ParquetSink::create(dir.path(), Codec::default()).is_err());
        assert!(!is_dataset(dir.path()));
        let (batches, q) = load_spans(&[out], &Default::default()).unwrap();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
        assert_eq!(q.records_read, 3);
    }

    /// A DATASET at `out` of `batches`, with an empty data-quality log.
    fn write_dataset(out: &Path, batches: Vec<RecordBatch>) -> Manifest {
        let mut sink = ParquetSink::create(out, Codec::default()).unwrap();
        for b in batches {
            sink.write(b).unwrap();
        }
        sink.finish(&DataQuality::default()).unwrap()
    }

    /// Batches built with resource ids (as `ingest` builds them) and canonical batches (every
    /// row's map hashed by the sink) give byte-identical files.
    #[test]
    fn carrier_and_canonical_batches_write_the_same_files() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, ids: bool| {
            let out = dir.path().join(name);
            write_dataset(&out, vec![batch_with(5, ids), batch_with(3, ids)]);
            out
        };
        let (a, b) = (write("a", false), write("b", true));
        for f in [SPANS_FILE, RESOURCES_FILE] {
            assert_eq!(
                std::fs::read(a.join(f)).unwrap(),
                std::fs::read(b.join(f)).unwrap(),
                "{f}"
            );
        }
        let back: Vec<RecordBatch> = open_dataset(&b)
            .unwrap()
            .spans_reader(100)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let want = arrow::compute::concat_batches(
            &crate::model::spans::spans_schema(),
            &[batch_with(5, false), batch_with(3, false)],
        )
        .unwrap();
        assert_eq!(back, vec![want]);
    }

    /// A DATASET without its resources table, or of a version this canalyst does not know,
    /// is refused with the reason, not read with maps missing; one of version 1 (maps in
    /// every row) is read as it is.
    #[test]
    fn dataset_versions_and_a_missing_resources_table() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("ds");
        write_dataset(&out, vec![batch(2)]);
        std::fs::remove_file(out.join(RESOURCES_FILE)).unwrap();
        let err = open_dataset(&out).unwrap_err().to_string();
        assert!(err.contains(RESOURCES_FILE), "{err}");
        let manifest = std::fs::read_to_string(out.join(MANIFEST_FILE)).unwrap();
        let v9 = manifest.replace("\"spans_schema_version\": 2", "\"spans_schema_version\": 9");
        assert_ne!(v9, manifest);
        std::fs::write(out.join(MANIFEST_FILE), &v9).unwrap();
        let err = open_dataset(&out).unwrap_err().to_string();
        assert!(err.contains("re-run `canalyst ingest`"), "{err}");
        // Version 1: the canonical table itself in spans.parquet.
        let v1 = manifest.replace("\"spans_schema_version\": 2", "\"spans_schema_version\": 1");
        std::fs::write(out.join(MANIFEST_FILE), &v1).unwrap();
        let err = open_dataset(&out).unwrap_err().to_string();
        assert!(err.contains("not the canonical schema"), "{err}");
        let f = File::create(out.join(SPANS_FILE)).unwrap();
        let mut w = ArrowWriter::try_new(f, crate::model::spans::spans_schema(), None).unwrap();
        w.write(&batch(2)).unwrap();
        w.close().unwrap();
        let ds = open_dataset(&out).unwrap();
        let back: Vec<RecordBatch> = ds.spans_reader(10).unwrap().map(|b| b.unwrap()).collect();
        assert_eq!(back, vec![batch(2)]);
    }
}
