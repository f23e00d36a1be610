//! The ingest driver: inputs → sniffed readers → parallel decoding → ordered, de-duplicated
//! batches in a [`BatchSink`].
//!
//! Pipeline: a reader thread reads the inputs in order (JSON lines cut into pieces of about
//! [`CHUNK_BYTES`] at newlines; uncompressed lines are mapped, not read, see
//! [`set_memory_maps`]) and hands each piece to rayon's pool as soon as it is read; a
//! consumer on one of the pool's threads takes the decoded pieces back *in input order*,
//! de-duplicates them and writes them (the caller waits). Nothing waits for a whole step: a
//! decoding thread that finishes a piece takes the next, whichever thread the reader or the
//! writer is waiting on, and the Parquet sink's columns are encoded by tasks on the pool
//! behind the consumer ([`ParallelArrowWriter`](super::parallel_writer::ParallelArrowWriter)),
//! which goes on to the next piece instead of waiting for them. About [`IN_FLIGHT_BYTES`] of
//! input are read and not yet written (see there for what is counted; the decoded batches
//! queued in the writer, at most [`QUEUED_ROWS`](super::parallel_writer::QUEUED_ROWS) rows
//! behind its slowest column, come on top), so memory is bounded whatever the input size (a
//! pretty-printed single JSON document is split into pieces of whole `resourceSpans` entries by
//! [`DocSplitter`], a canonical or ClickHouse Parquet span file into pieces of whole row groups
//! by [`SplitSpans`]; framed protobuf files and Tempo blocks are the exceptions: they are
//! decoded whole), and the
//! output is the same for 1 thread or many, because the cut points depend only on the bytes.

use super::dataset_files::{MANIFEST_FILE, QUALITY_FILE, RESOURCES_FILE, SPANS_FILE};
use super::doc_split::{DocSplitter, Piece};
use super::formats;
use super::otlp_json::{self, Decoded, DocumentPiece};
use super::parquet_spans::SplitSpans;
use super::seen_spans::{Seen, SeenSpans};
use super::sniff::{self, Container, Content};
use super::{IngestOptions, SpanChunk};
use crate::model::metric_delta;
use crate::model::metrics::{MetricPoint, MetricTables};
use crate::model::quality::{DataQuality, FileSummary, Issue, IssueKind, Severity};
use crate::model::spans::{spans_schema, SpanFingerprint};
use arrow::array::{AsArray, BooleanArray};
use arrow::datatypes::Int64Type;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::{self, Read};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Target size of one decoding piece of JSON lines (cut at the next newline).
pub const CHUNK_BYTES: usize = 2 << 20;
/// Decompressed input bytes handed to the decoders and not yet written (pieces being decoded,
/// and decoded pieces waiting for an earlier one), plus the one piece the reader has read and
/// is waiting to hand over. A piece larger than this is handed over alone. Pieces of Parquet
/// files count by estimate (`PARQUET_BYTES_PER_ROW` per row of a row-group piece, a whole
/// file read by path as [`CHUNK_BYTES`]), and the markers between files as nothing.
pub const IN_FLIGHT_BYTES: usize = 32 << 20;
/// What a decoded span row is counted as when windows of Parquet row groups are filled (the
/// compressed bytes say little: a row group of 131,072 canonical rows is about 13 MB on disk
/// and over 100 MB decoded). With [`IN_FLIGHT_BYTES`] that is about 260,000 rows in flight.
const PARQUET_BYTES_PER_ROW: usize = 128;
/// Whether uncompressed JSON-lines files are mapped into memory rather than read
/// ([`set_memory_maps`]).
static MEMORY_MAPS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Whether ingest maps uncompressed JSON-lines files into memory (the default) or reads them
/// with `read(2)`, for every ingest of this process (the CLI's global `--no-mmap`).
///
/// A mapped file's pieces are decoded where the page cache holds them: no copy into a read
/// buffer (about 5% of a one-thread ingest's CPU on 700 MB of SDK lines, and the reader
/// thread's share of two cores). The pieces are cut at the same newlines either way, so a
/// DATASET is byte-identical; a mapped file is read as long as it was when it was mapped
/// (bytes appended later are not read, where `read(2)` reads to the end it finds). The cost of a
/// map: a file truncated while it is being read ends the process with `SIGBUS` instead of an
/// error, and one rewritten in place changes under the decoder (appending is safe);
/// `--no-mmap` is for inputs something may truncate or rewrite under a running command (a
/// `copytruncate` log rotation).
pub fn set_memory_maps(on: bool) {
    MEMORY_MAPS.store(on, Ordering::Relaxed);
}

/// Most bytes read to decide between JSON lines and one document.
const MAX_HEAD_BYTES: usize = 16 << 20;
/// File names skipped when walking a directory: a DATASET's own metadata.
const SKIPPED_NAMES: &[&str] = &[QUALITY_FILE, MANIFEST_FILE];

/// Whether a file found by a directory walk is a DATASET's resources table (a
/// `resources.parquet` beside a `spans.parquet` or a `dataset.json`): read with the spans
/// file, not as an input of its own.
fn is_resources_table(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == RESOURCES_FILE)
        && [SPANS_FILE, MANIFEST_FILE]
            .iter()
            .any(|f| path.with_file_name(f).is_file())
}

/// Why an ingest failed as a whole (bad *records* are data-quality issues, not errors).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// An input or output file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: io::Error,
    },
    /// Nothing to read.
    #[error("no input files found in {0}")]
    NoInputs(String),
    /// Building or combining Arrow batches failed.
    #[error("building record batches: {0}")]
    Arrow(#[from] ArrowError),
    /// Reading a Parquet input (a DATASET table) failed.
    #[error("reading {}: {source}", path.display())]
    ParquetRead {
        /// The input file.
        path: PathBuf,
        /// The Parquet reader's error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Writing the Parquet output failed.
    #[error("writing {}: {source}", path.display())]
    Parquet {
        /// The output file.
        path: PathBuf,
        /// The Parquet writer's error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// An input that is not usable as a whole (for example a DATASET with a broken manifest).
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The offending path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> IngestError + '_ {
    move |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Receives the canonical span batches of an ingest, in input order.
pub trait BatchSink: Send {
    /// Takes one batch in the canonical spans schema.
    fn write(&mut self, batch: RecordBatch) -> Result<(), IngestError>;

    /// Takes consecutive batches that make one write of about the ingest's batch size. This
    /// default concatenates them, for sinks that keep what they receive (few large batches);
    /// a sink that encodes batches as they come overrides it to take them one by one and skip
    /// the copy.
    fn write_all(&mut self, batches: Vec<RecordBatch>) -> Result<(), IngestError> {
        let batch = if batches.len() == 1 {
            batches.into_iter().next().expect("one batch")
        } else {
            arrow::compute::concat_batches(&spans_schema(), &batches)?
        };
        self.write(batch)
    }

    /// Takes the metric tables, once, after the last span batch (metric points are held until
    /// the end of the ingest for the cumulative → delta conversion). Span-only sinks keep this
    /// default, which drops them.
    fn write_metrics(&mut self, tables: MetricTables) -> Result<(), IngestError> {
        let _ = tables;
        Ok(())
    }
}

/// A sink that keeps the batches in memory (tests, `inspect` on raw files).
#[derive(Debug, Default)]
pub struct MemorySink {
    /// Batches received, in order.
    pub batches: Vec<RecordBatch>,
    /// Metric tables, when the ingest has finished.
    pub metrics: Option<MetricTables>,
}

impl BatchSink for MemorySink {
    fn write(&mut self, batch: RecordBatch) -> Result<(), IngestError> {
        self.batches.push(batch);
        Ok(())
    }

    fn write_metrics(&mut self, tables: MetricTables) -> Result<(), IngestError> {
        self.metrics = Some(tables);
        Ok(())
    }
}

/// One input file and the name it is reported under (the path as given or as found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// Where to read it.
    pub path: PathBuf,
    /// Name in data-quality issues and the `source_file` column.
    pub name: String,
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

/// Expands the inputs: files as given, directories walked recursively in sorted order,
/// skipping hidden entries, DATASET metadata files (`data_quality.json`, `dataset.json`) and
/// a DATASET's `resources.parquet` (`is_resources_table`).
pub fn list_inputs(inputs: &[PathBuf]) -> Result<Vec<InputFile>, IngestError> {
    let mut out = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(io_err(input))?;
        if !meta.is_dir() {
            out.push(InputFile {
                path: input.clone(),
                name: input.display().to_string(),
            });
            continue;
        }
        let walker = walkdir::WalkDir::new(input)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(e.file_name()));
        for entry in walker {
            let entry = entry.map_err(|e| {
                let path = e.path().unwrap_or(input).to_path_buf();
                IngestError::Io {
                    path,
                    source: e
                        .into_io_error()
                        .unwrap_or_else(|| io::Error::other("directory loop")),
                }
            })?;
            let name = entry.file_name().to_string_lossy();
            if entry.file_type().is_dir()
                || SKIPPED_NAMES.contains(&name.as_ref())
                || is_resources_table(entry.path())
            {
                continue;
            }
            out.push(InputFile {
                path: entry.path().to_path_buf(),
                name: entry.path().display().to_string(),
            });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Work units
// ---------------------------------------------------------------------------------------------

/// The bytes of one piece of JSON lines: the first `len` bytes of a pooled read buffer, or a
/// range of a file mapped into memory ([`set_memory_maps`]).
enum PieceBytes {
    /// The buffer keeps its whole written length (not cut to `len`), so that the next read
    /// into it from the pool zeroes nothing ([`BufferPool::take`]).
    Read {
        buf: Vec<u8>,
        len: usize,
    },
    Mapped(Arc<memmap2::Mmap>, std::ops::Range<usize>),
}

impl std::ops::Deref for PieceBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            PieceBytes::Read { buf, len } => &buf[..*len],
            PieceBytes::Mapped(m, r) => &m[r.clone()],
        }
    }
}

impl PieceBytes {
    /// Gives the storage back once the piece is decoded: a read buffer to `pool`; a mapped
    /// range's pages out of this process's resident set (they stay in the page cache), so
    /// that resident memory stays bounded by the pieces in flight, not the file.
    fn release(self, pool: &BufferPool) {
        match self {
            PieceBytes::Read { buf, .. } => pool.put(buf),
            PieceBytes::Mapped(map, range) => {
                // SAFETY: the map is a shared, read-only file mapping (`Mmap::map`), so
                // dropping pages only unmaps them: the next access (the pages at a range's
                // ends are shared with the neighbouring pieces, maybe being decoded on another
                // thread now) faults the same bytes back in from the page cache. Nothing
                // writes through the map. A failure only leaves the pages resident.
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        range.start,
                        range.len(),
                    )
                };
            }
        }
    }
}

/// One piece of decoding work, produced in input order.
enum Work {
    /// Whole JSON lines, numbered from 1: the consumer shifts them past the file's earlier
    /// pieces. (Counting a piece's newlines ahead of the decoders was an extra pass over its
    /// bytes on the reader: the first to touch a mapped piece, 2% of the CPU of gzip lines at
    /// two threads.)
    Lines {
        file: usize,
        data: PieceBytes,
        unterminated_last: bool,
    },
    /// One piece of a JSON document, split by [`DocSplitter`].
    DocPiece {
        file: usize,
        data: Vec<u8>,
        piece: DocumentPiece,
    },
    /// One message of a zstd-framed file (JSON or protobuf), frame numbers from 1.
    Message {
        file: usize,
        data: Vec<u8>,
        frame: u64,
    },
    /// A whole length-framed protobuf file.
    Proto { file: usize, data: Vec<u8> },
    /// A Parquet file, read whole by path (Tempo blocks, metric tables, unreadable files).
    Parquet { file: usize },
    /// Whole row groups of a canonical or ClickHouse span file.
    ParquetGroups {
        file: usize,
        split: Arc<SplitSpans>,
        groups: std::ops::Range<usize>,
        rows: u64,
    },
    /// Findings about the file itself (unsupported, empty, corrupt compression).
    Quality { quality: DataQuality },
    /// The compressed stream of a JSON-lines file broke after its pieces so far (`error`):
    /// a `bad_compression` issue whose line the consumer knows, having counted the pieces'.
    CutOff { file: usize, error: String },
    /// End of a file: emit its summary.
    EndFile { file: usize, format: String },
}

impl Work {
    fn bytes(&self) -> usize {
        match self {
            Work::Lines { data, .. } => data.len(),
            Work::DocPiece { data, .. } | Work::Message { data, .. } | Work::Proto { data, .. } => {
                data.len()
            }
            Work::Parquet { .. } => CHUNK_BYTES,
            Work::ParquetGroups { rows, .. } => {
                (*rows as usize).saturating_mul(PARQUET_BYTES_PER_ROW)
            }
            _ => 0,
        }
    }
}

/// What decoding one [`Work`] produced.
enum Parsed {
    Json {
        decoded: Decoded,
        /// Lines numbered from 1 within the piece, to be shifted by the consumer
        /// ([`Work::Lines`] without a first line).
        relative_lines: bool,
    },
    Reader {
        chunks: Vec<SpanChunk>,
        quality: DataQuality,
        metrics: Vec<MetricPoint>,
    },
    Quality {
        quality: DataQuality,
    },
    CutOff {
        file: usize,
        error: String,
    },
    EndFile {
        file: usize,
        format: String,
    },
}

/// Read buffers handed back after their piece is decoded, for the producer to fill again: a
/// fresh 2 MiB buffer per piece came from `mmap` and was returned to the kernel when freed,
/// so every piece paid page faults and the zeroing of its pages (about a tenth of ingest's
/// CPU on Collector lines). At most [`BufferPool::MAX`] are kept, about the pieces in flight.
#[derive(Default)]
struct BufferPool(std::sync::Mutex<Vec<Vec<u8>>>);

impl BufferPool {
    const MAX: usize = IN_FLIGHT_BYTES / CHUNK_BYTES + 2;

    /// A buffer handed back if there is one (else a new empty one). Its length is what was
    /// used of it and its bytes are meaningless: it is storage to read into, already written
    /// once, so reading into it (`read_into`) needs no zeroing. Zeroing the spare capacity
    /// before every read, as `read_to_end` does for readers without `read_buf`, was 2% of a
    /// one-thread `analyze` of SDK lines.
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }

    /// Hands `buf` back, contents and all (see [`BufferPool::take`]).
    fn put(&self, buf: Vec<u8>) {
        let mut pool = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < Self::MAX {
            pool.push(buf);
        }
    }
}

/// The input bytes in flight, bounded (by [`IN_FLIGHT_BYTES`] in an ingest): the reader takes
/// a piece's bytes before handing it out, the consumer gives them back once it is written.
struct Budget {
    limit: usize,
    /// Bytes taken, and whether the consumer has stopped.
    state: Mutex<(usize, bool)>,
    freed: Condvar,
}

impl Budget {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            state: Mutex::new((0, false)),
            freed: Condvar::new(),
        }
    }

    /// Waits until `bytes` more fit (a piece larger than the budget is let through alone).
    /// False when the consumer has stopped: the reader ends.
    fn acquire(&self, bytes: usize) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if st.1 {
                return false;
            }
            if st.0 == 0 || st.0 + bytes <= self.limit {
                st.0 += bytes;
                return true;
            }
            st = self.freed.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn release(&self, bytes: usize) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.0 -= bytes;
        self.freed.notify_one();
    }

    /// The consumer has stopped (done, failed or panicking): wakes the reader to end.
    fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.freed.notify_one();
    }
}

/// Closes the [`Budget`] when dropped, also while unwinding.
struct CloseOnDrop<'a>(&'a Budget);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A decoded piece: its place in input order, the result (`Err` outside: decoding panicked),
/// and its bytes in the [`Budget`].
type Delivery = (u64, std::thread::Result<Result<Parsed, IngestError>>, usize);

/// The reader thread: reads the pieces in order and spawns each one's decoding on `rs` once
/// its bytes fit the budget; a read error is sent as the next piece, in its place in the order.
fn hand_out<'s>(
    mut producer: Producer<'s>,
    budget: &Budget,
    rs: &rayon::Scope<'s>,
    tx: mpsc::Sender<Delivery>,
    files: &'s [InputFile],
    opts: &'s IngestOptions,
    pool: &'s BufferPool,
) {
    for seq in 0u64.. {
        let w = match producer.next_work() {
            Ok(Some(w)) => w,
            Ok(None) => return,
            Err(e) => {
                let _ = tx.send((seq, Ok(Err(e)), 0));
                return;
            }
        };
        let bytes = w.bytes();
        if !budget.acquire(bytes) {
            return;
        }
        let tx = tx.clone();
        rs.spawn(move |_| {
            // A panic travels to the consumer, which would otherwise wait for this piece
            // forever.
            let parsed = std::panic::catch_unwind(AssertUnwindSafe(|| parse(w, files, opts, pool)));
            let _ = tx.send((seq, parsed.map(Ok), bytes));
        });
    }
}

/// Hands the decoded pieces to `consume` in input order (0, 1, 2, …) as they arrive in any
/// order, giving each piece's bytes back to `budget` once consumed. Ends when every sender is
/// gone (the reader has finished and every piece was delivered), at the first error in input
/// order (a read error travels as a piece), or when `consume` fails; a piece whose decoding
/// panicked resumes the panic here when its turn comes, so what ends the ingest is the first
/// failure in input order, as on the sequential path.
fn consume_in_order(
    rx: &mpsc::Receiver<Delivery>,
    mut consume: impl FnMut(Parsed) -> Result<(), IngestError>,
    budget: &Budget,
) -> Result<(), IngestError> {
    let mut next = 0u64;
    let mut early = std::collections::HashMap::new();
    loop {
        while let Some((parsed, bytes)) = early.remove(&next) {
            next += 1;
            match parsed {
                Ok(parsed) => consume(parsed?)?,
                Err(panic) => std::panic::resume_unwind(panic),
            }
            budget.release(bytes);
        }
        match receive(rx) {
            Some((seq, parsed, bytes)) => {
                early.insert(seq, (parsed, bytes));
            }
            None => return Ok(()),
        }
    }
}

/// The next delivery, or `None` when every sender is gone. The consumer runs on a thread of
/// rayon's pool; blocking there would take a thread from the decoding being waited for, so the
/// wait runs pending jobs, and sleeps (at most a millisecond at a time, to look for new jobs
/// again) only when there are none.
fn receive(rx: &mpsc::Receiver<Delivery>) -> Option<Delivery> {
    loop {
        match rx.try_recv() {
            Ok(d) => return Some(d),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) => {
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    match rx.recv_timeout(Duration::from_millis(1)) {
                        Ok(d) => return Some(d),
                        Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                    }
                }
            }
        }
    }
}

fn parse(work: Work, files: &[InputFile], opts: &IngestOptions, pool: &BufferPool) -> Parsed {
    match work {
        Work::Lines {
            file,
            data,
            unterminated_last,
        } => {
            let decoded =
                otlp_json::decode_lines(&data, 1, unterminated_last, &files[file].name, opts);
            data.release(pool);
            Parsed::Json {
                decoded,
                relative_lines: true,
            }
        }
        Work::DocPiece { file, data, piece } => Parsed::Json {
            decoded: otlp_json::decode_document_piece(&data, piece, &files[file].name, opts),
            relative_lines: false,
        },
        Work::Message { file, data, frame } => {
            let name = &files[file].name;
            if otlp_json::trim_ascii(&data).first() == Some(&b'{') {
                Parsed::Json {
                    decoded: otlp_json::decode_document(&data, frame, name, opts),
                    relative_lines: false,
                }
            } else {
                let mut builder = opts.spans_builder(name);
                let mut quality = DataQuality::default();
                let mut metrics = Vec::new();
                formats::decode_proto_message(
                    &data,
                    name,
                    frame,
                    opts,
                    &mut builder,
                    &mut quality,
                    &mut metrics,
                );
                let mut batches = Vec::new();
                if !builder.is_empty() {
                    batches.push(
                        builder
                            .finish_with_fingerprints()
                            .expect("spans builder produces a valid batch"),
                    );
                }
                Parsed::Json {
                    decoded: Decoded {
                        batches,
                        quality,
                        saw_non_span_data: false,
                        metrics,
                        lines: 0,
                    },
                    relative_lines: false,
                }
            }
        }
        Work::Proto { file, data } => {
            let mut chunks = Vec::new();
            let mut metrics = Vec::new();
            let quality = formats::read_framed_proto(
                &data,
                &files[file].name,
                opts,
                &mut |c| chunks.push(c),
                &mut metrics,
            );
            Parsed::Reader {
                chunks,
                quality,
                metrics,
            }
        }
        Work::Parquet { file } => {
            let mut chunks = Vec::new();
            let f = &files[file];
            let mut metrics = Vec::new();
            let quality = formats::read_parquet(
                &f.path,
                &f.name,
                opts,
                &mut |c| chunks.push(c),
                &mut metrics,
            );
            Parsed::Reader {
                chunks,
                quality,
                metrics,
            }
        }
        Work::ParquetGroups {
            file,
            split,
            groups,
            ..
        } => {
            let mut chunks = Vec::new();
            let f = &files[file];
            let quality = split.read(&f.path, &f.name, groups, opts, &mut |c| chunks.push(c));
            Parsed::Reader {
                chunks,
                quality,
                metrics: Vec::new(),
            }
        }
        Work::Quality { quality, .. } => Parsed::Quality { quality },
        Work::CutOff { file, error } => Parsed::CutOff { file, error },
        Work::EndFile { file, format } => Parsed::EndFile { file, format },
    }
}

// ---------------------------------------------------------------------------------------------
// Producer: reads files in order into work units
// ---------------------------------------------------------------------------------------------

/// A span file's row groups as work units of whole row groups, each of at least
/// [`CHUNK_BYTES`] counted at [`PARQUET_BYTES_PER_ROW`] (one group each for the canonical
/// 131,072-row groups).
fn parquet_pieces(file: usize, split: Arc<SplitSpans>) -> Vec<Work> {
    let mut works = Vec::new();
    let (mut start, mut rows) = (0, 0u64);
    let group_rows = split.group_rows();
    for (gi, n) in group_rows.iter().enumerate() {
        rows += n;
        if (rows as usize).saturating_mul(PARQUET_BYTES_PER_ROW) >= CHUNK_BYTES
            || gi + 1 == group_rows.len()
        {
            works.push(Work::ParquetGroups {
                file,
                split: split.clone(),
                groups: start..gi + 1,
                rows,
            });
            (start, rows) = (gi + 1, 0);
        }
    }
    works
}

/// A reader that counts the raw bytes it delivers (for the progress bar).
struct Counting<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// Reads until `buf` has grown by `want` bytes or the stream ends; returns bytes read.
fn read_up_to(r: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<usize> {
    let start = buf.len();
    let target = start + want;
    buf.reserve(want);
    while buf.len() < target {
        let n = Read::take(&mut *r, (target - buf.len()) as u64).read_to_end(buf)?;
        if n == 0 {
            break;
        }
    }
    Ok(buf.len() - start)
}

/// Reads up to `want` bytes from `r` into `buf` from `*filled` on (growing `buf` with zeros
/// only where it is shorter), advancing `*filled`; stops early only at the end of the input.
/// Returns the bytes read. On an error, what was read before it stays in `buf[..*filled]`.
fn read_into(
    r: &mut dyn Read,
    buf: &mut Vec<u8>,
    filled: &mut usize,
    want: usize,
) -> io::Result<usize> {
    let start = *filled;
    let target = start + want;
    if buf.len() < target {
        buf.resize(target, 0);
    }
    while *filled < target {
        match r.read(&mut buf[*filled..target]) {
            Ok(0) => break,
            Ok(n) => *filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(*filled - start)
}

/// The `bad_compression` rejection of file `name`, whose compressed stream broke with `e` in
/// (or just before) line `line`, after line `line - 1`.
fn bad_compression(name: &str, line: u64, e: &dyn std::fmt::Display) -> DataQuality {
    quality_issue(Issue::rejected(
        IssueKind::BadCompression,
        name,
        Some(line),
        None,
        format!(
            "compressed stream is corrupt or cut off after line {}: {e}",
            line - 1
        ),
    ))
}

fn quality_issue(issue: Issue) -> DataQuality {
    let mut q = DataQuality::default();
    if issue.severity == Severity::Rejected {
        q.records_read = 1;
        q.records_rejected = 1;
    }
    q.push(issue);
    q
}

struct LinesState {
    file: usize,
    reader: Box<dyn Read + Send>,
    /// The file mapped into memory, read from it instead of `reader`.
    mapped: Option<MappedLines>,
    compressed: bool,
    carry: Vec<u8>,
    eof: bool,
    format: String,
    /// The compressed stream broke: the error, reported after the pieces read before it.
    cut_off: Option<String>,
}

/// A JSON-lines file mapped into memory, with the reading position of the read path it stands
/// in for: `read_end` is where the bytes "read" so far end (what `reader` would have
/// delivered), `start` where the next piece begins (the carry is `start..read_end`).
struct MappedLines {
    map: Arc<memmap2::Mmap>,
    start: usize,
    read_end: usize,
    /// The progress bar's byte count, and how much of this file it holds already (the sniffing
    /// reader counted what it buffered): it grows as `read_end` passes that.
    counter: Arc<AtomicU64>,
    counted: usize,
}

struct FramesState {
    file: usize,
    reader: Box<dyn Read + Send>,
    frame: u64,
    format: String,
}

struct DocumentState {
    file: usize,
    splitter: DocSplitter<Box<dyn Read + Send>>,
    doc_line: u64,
    compressed: bool,
    format: String,
}

enum FileState {
    Queue(VecDeque<Work>),
    Lines(LinesState),
    Frames(FramesState),
    Document(DocumentState),
}

struct Producer<'a> {
    files: &'a [InputFile],
    pool: &'a BufferPool,
    next_file: usize,
    cur: Option<FileState>,
    counter: Arc<AtomicU64>,
    /// Map uncompressed JSON-lines files instead of reading them ([`set_memory_maps`]).
    memory_maps: bool,
}

impl<'a> Producer<'a> {
    /// A producer of `files`' pieces from their start, counting the bytes it reads in
    /// `counter`, mapping uncompressed JSON lines if `memory_maps`.
    fn new(
        files: &'a [InputFile],
        pool: &'a BufferPool,
        counter: Arc<AtomicU64>,
        memory_maps: bool,
    ) -> Self {
        Self {
            files,
            pool,
            next_file: 0,
            cur: None,
            counter,
            memory_maps,
        }
    }

    fn next_work(&mut self) -> Result<Option<Work>, IngestError> {
        loop {
            let Some(state) = self.cur.as_mut() else {
                if self.next_file == self.files.len() {
                    return Ok(None);
                }
                let i = self.next_file;
                self.next_file += 1;
                self.cur = Some(self.open(i)?);
                continue;
            };
            match state {
                FileState::Queue(q) => match q.pop_front() {
                    Some(w) => return Ok(Some(w)),
                    None => self.cur = None,
                },
                FileState::Lines(st) => {
                    if let Some(w) = Self::lines_unit(self.files, st, self.pool)? {
                        return Ok(Some(w));
                    }
                    let mut q = VecDeque::new();
                    if let Some(error) = st.cut_off.take() {
                        q.push_back(Work::CutOff {
                            file: st.file,
                            error,
                        });
                    }
                    q.push_back(Work::EndFile {
                        file: st.file,
                        format: std::mem::take(&mut st.format),
                    });
                    self.cur = Some(FileState::Queue(q));
                }
                FileState::Document(st) => {
                    if let Some(w) = Self::document_unit(self.files, st) {
                        return Ok(Some(w));
                    }
                    let mut q = VecDeque::new();
                    if let Some((e, line)) = st.splitter.read_error.take() {
                        if !st.compressed {
                            return Err(io_err(&self.files[st.file].path)(e));
                        }
                        q.push_back(Work::Quality {
                            quality: bad_compression(&self.files[st.file].name, line, &e),
                        });
                    }
                    q.push_back(Work::EndFile {
                        file: st.file,
                        format: std::mem::take(&mut st.format),
                    });
                    self.cur = Some(FileState::Queue(q));
                }
                FileState::Frames(st) => {
                    let (w, done) = Self::frame_unit(self.files, st)?;
                    if done {
                        let mut q = VecDeque::new();
                        q.extend(w);
                        q.push_back(Work::EndFile {
                            file: st.file,
                            format: std::mem::take(&mut st.format),
                        });
                        self.cur = Some(FileState::Queue(q));
                    } else if let Some(w) = w {
                        return Ok(Some(w));
                    }
                }
            }
        }
    }

    /// Reads the next piece of whole lines, or `None` at the end of the file.
    fn lines_unit(
        files: &[InputFile],
        st: &mut LinesState,
        pool: &BufferPool,
    ) -> Result<Option<Work>, IngestError> {
        if st.mapped.is_some() {
            return Ok(Self::mapped_lines_unit(st));
        }
        let mut buf = pool.take();
        let mut filled = st.carry.len();
        if buf.len() < filled {
            buf.resize(filled, 0);
        }
        buf[..filled].copy_from_slice(&st.carry);
        st.carry.clear();
        // Only bytes not yet searched are scanned for the last newline, so a line longer than
        // a piece costs linear, not quadratic, time.
        let mut unsearched = 0;
        loop {
            if !st.eof {
                match read_into(&mut st.reader, &mut buf, &mut filled, CHUNK_BYTES) {
                    Ok(n) if n < CHUNK_BYTES => st.eof = true,
                    Ok(_) => {}
                    Err(e) if st.compressed => {
                        st.eof = true;
                        st.cut_off = Some(e.to_string());
                    }
                    Err(e) => return Err(io_err(&files[st.file].path)(e)),
                }
            }
            if st.eof {
                break;
            }
            if let Some(p) = memchr::memrchr(b'\n', &buf[unsearched..filled]) {
                let p = unsearched + p;
                st.carry.extend_from_slice(&buf[p + 1..filled]);
                filled = p + 1;
                break;
            }
            unsearched = filled;
        }
        if filled == 0 {
            pool.put(buf);
            return Ok(None);
        }
        let unterminated_last = st.eof && st.carry.is_empty() && buf[filled - 1] != b'\n';
        Ok(Some(Work::Lines {
            file: st.file,
            data: PieceBytes::Read { buf, len: filled },
            unterminated_last,
        }))
    }

    /// [`Self::lines_unit`] over a mapped file: the same cut points, as if the map were read
    /// [`CHUNK_BYTES`] at a time after the sniffed head, so a DATASET does not depend on
    /// whether its input was mapped. Bytes past the length the file had when it was mapped are
    /// not read, as the read path would not read bytes appended after its last read.
    fn mapped_lines_unit(st: &mut LinesState) -> Option<Work> {
        let m = st.mapped.as_mut()?;
        let len = m.map.len();
        let start = m.start;
        let mut unsearched = start;
        let end = loop {
            if !st.eof {
                let n = CHUNK_BYTES.min(len - m.read_end);
                m.read_end += n;
                if m.read_end > m.counted {
                    let more = m.read_end - m.counted;
                    m.counter.fetch_add(more as u64, Ordering::Relaxed);
                    m.counted = m.read_end;
                }
                if n < CHUNK_BYTES {
                    st.eof = true;
                }
            }
            if st.eof {
                break m.read_end;
            }
            if let Some(p) = memchr::memrchr(b'\n', &m.map[unsearched..m.read_end]) {
                break unsearched + p + 1;
            }
            unsearched = m.read_end;
        };
        m.start = end;
        if end == start {
            return None;
        }
        // The piece's pages into this process's page table here, where pieces are read (the
        // reader thread; with one thread, that thread before it decodes), in one call:
        // otherwise decoding takes a page fault every 16 pages (and waits there for any page
        // not yet in the page cache). A failure (a kernel before 5.14) leaves that to the
        // faults.
        #[cfg(target_os = "linux")]
        let _ = m
            .map
            .advise_range(memmap2::Advice::PopulateRead, start, end - start);
        let unterminated_last = st.eof && end == m.read_end && !m.map[..end].ends_with(b"\n");
        Some(Work::Lines {
            file: st.file,
            data: PieceBytes::Mapped(m.map.clone(), start..end),
            unterminated_last,
        })
    }

    /// The next piece of a JSON document, or `None` when it is done.
    fn document_unit(files: &[InputFile], st: &mut DocumentState) -> Option<Work> {
        let (data, piece_line, first_resource) = match st.splitter.next_piece()? {
            Piece::Spans {
                data,
                first_resource,
                line,
            } => (data, line, first_resource),
            Piece::Rest { data, line } => (data, line, 0),
            Piece::Malformed {
                line,
                message,
                truncated,
            } => {
                let kind = if truncated {
                    IssueKind::TruncatedLine
                } else {
                    IssueKind::MalformedJson
                };
                return Some(Work::Quality {
                    quality: quality_issue(Issue::rejected(
                        kind,
                        &files[st.file].name,
                        Some(line),
                        None,
                        format!("JSON document does not decode: {message}"),
                    )),
                });
            }
        };
        Some(Work::DocPiece {
            file: st.file,
            data,
            piece: DocumentPiece {
                doc_line: st.doc_line,
                piece_line,
                first_resource,
            },
        })
    }

    /// Reads the next zstd frame; `(work, done)`.
    fn frame_unit(
        files: &[InputFile],
        st: &mut FramesState,
    ) -> Result<(Option<Work>, bool), IngestError> {
        let path = &files[st.file].path;
        let mut len = Vec::with_capacity(4);
        let n = read_up_to(&mut st.reader, &mut len, 4).map_err(io_err(path))?;
        if n == 0 {
            return Ok((None, true));
        }
        st.frame += 1;
        let frame = st.frame;
        let bad = |msg: String| {
            let issue = Issue::rejected(
                IssueKind::BadCompression,
                &files[st.file].name,
                Some(frame),
                None,
                msg,
            );
            Some(Work::Quality {
                quality: quality_issue(issue),
            })
        };
        if n < 4 {
            return Ok((bad(format!("frame {frame}: length prefix cut off")), true));
        }
        let want = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        let mut data = Vec::new();
        let got = read_up_to(&mut st.reader, &mut data, want).map_err(io_err(path))?;
        if got < want {
            return Ok((
                bad(format!(
                    "frame {frame}: {got} of {want} bytes present (file cut off)"
                )),
                true,
            ));
        }
        match zstd::stream::decode_all(&data[..]) {
            Ok(msg) => Ok((
                Some(Work::Message {
                    file: st.file,
                    data: msg,
                    frame,
                }),
                false,
            )),
            Err(e) => Ok((bad(format!("frame {frame}: zstd: {e}")), false)),
        }
    }

    /// Opens file `i`, sniffs it, and returns its state.
    fn open(&self, i: usize) -> Result<FileState, IngestError> {
        let f = &self.files[i];
        let counted_before = self.counter.load(Ordering::Relaxed);
        let file = File::open(&f.path).map_err(io_err(&f.path))?;
        // The file a map would be made of: the one opened here, not the path again (which a
        // rotation may have moved to another file since).
        let to_map = if self.memory_maps {
            file.try_clone().ok()
        } else {
            None
        };
        let mut raw: Box<dyn Read + Send> = Box::new(io::BufReader::with_capacity(
            256 << 10,
            Counting {
                inner: file,
                n: self.counter.clone(),
            },
        ));
        let mut head = Vec::with_capacity(8);
        read_up_to(&mut raw, &mut head, 8).map_err(io_err(&f.path))?;
        let container = sniff::detect_container(&head);
        let chained: Box<dyn Read + Send> = Box::new(io::Cursor::new(head).chain(raw));
        let end = |format: &str, mut works: Vec<Work>| {
            works.push(Work::EndFile {
                file: i,
                format: format.to_string(),
            });
            FileState::Queue(works.into())
        };
        let mut reader: Box<dyn Read + Send> = match container {
            Container::Parquet => {
                return Ok(match SplitSpans::open(&f.path) {
                    Some(split) => {
                        let format = split.format_name();
                        end(format, parquet_pieces(i, Arc::new(split)))
                    }
                    None => end("parquet", vec![Work::Parquet { file: i }]),
                });
            }
            Container::FramedProto => {
                let mut data = Vec::new();
                let mut r = chained;
                r.read_to_end(&mut data).map_err(io_err(&f.path))?;
                return Ok(end(
                    "otlp-proto-framed",
                    vec![Work::Proto { file: i, data }],
                ));
            }
            Container::ZstdFramed => {
                return Ok(FileState::Frames(FramesState {
                    file: i,
                    reader: chained,
                    frame: 0,
                    format: "otlp-json+zstd-framed".to_string(),
                }));
            }
            Container::Gzip => Box::new(flate2::read::MultiGzDecoder::new(chained)),
            Container::Zstd => {
                Box::new(zstd::stream::read::Decoder::new(chained).map_err(io_err(&f.path))?)
            }
            Container::Plain => chained,
        };
        let compressed = container != Container::Plain;
        let suffix = container.suffix();

        // Enough of the decompressed start to tell lines from a document.
        let mut head = Vec::new();
        let mut eof = false;
        let mut read_error = None;
        while !eof && head.len() < MAX_HEAD_BYTES && !sniff::enough_for_layout(&head) {
            // Doubling steps keep the repeated layout check linear in the head size.
            let step = head.len().max(64 << 10);
            match read_up_to(&mut reader, &mut head, step) {
                Ok(n) if n < step => eof = true,
                Ok(_) => {}
                Err(e) if compressed => {
                    eof = true;
                    read_error = Some(e);
                }
                Err(e) => return Err(io_err(&f.path)(e)),
            }
        }
        let content = sniff::detect_content(&head, eof);
        // A read error while sniffing is reported after the head's lines: in JSON lines by the
        // consumer (`cut_off`), as one while reading on; otherwise here (`trailer`).
        let mut cut_off = read_error.map(|e| e.to_string());
        let mut trailer = match content {
            Content::JsonLines => None,
            _ => cut_off.take().map(|e| {
                let lines = head.iter().filter(|&&b| b == b'\n').count() as u64;
                bad_compression(&f.name, lines + 1, &e)
            }),
        };
        let trailer_work = |t: Option<DataQuality>| t.map(|quality| Work::Quality { quality });
        match content {
            Content::Empty => {
                let mut works: Vec<Work> = trailer_work(trailer).into_iter().collect();
                works.push(Work::Quality {
                    quality: quality_issue(Issue::note(
                        IssueKind::EmptyFile,
                        &f.name,
                        None,
                        None,
                        "file has no content",
                    )),
                });
                Ok(end(&format!("empty{suffix}"), works))
            }
            Content::Unsupported(what) => {
                let mut works = vec![Work::Quality {
                    quality: quality_issue(Issue::rejected(
                        IssueKind::UnsupportedFormat,
                        &f.name,
                        None,
                        None,
                        format!("{what}; not read"),
                    )),
                }];
                works.extend(trailer_work(trailer));
                Ok(end(&format!("unsupported{suffix}"), works))
            }
            Content::FramedProto => {
                let mut data = head;
                if !eof {
                    if let Err(e) = reader.read_to_end(&mut data) {
                        trailer = Some(bad_compression(&f.name, 1, &e));
                    }
                }
                let mut works = vec![Work::Proto { file: i, data }];
                works.extend(trailer_work(trailer));
                Ok(end(&format!("otlp-proto-framed{suffix}"), works))
            }
            Content::JsonDocument => {
                let lead = head.len() - head.trim_ascii_start().len();
                let doc_line = 1 + head[..lead].iter().filter(|&&b| b == b'\n').count() as u64;
                // A read error while sniffing is reported after the pieces read before it.
                let reader: Box<dyn Read + Send> = match trailer {
                    Some(_) => Box::new(io::Cursor::new(head)),
                    None => Box::new(io::Cursor::new(head).chain(reader)),
                };
                if let Some(t) = trailer {
                    let mut q: VecDeque<Work> = VecDeque::new();
                    let mut st = DocumentState {
                        file: i,
                        splitter: DocSplitter::new(reader, 1, CHUNK_BYTES),
                        doc_line,
                        compressed,
                        format: format!("otlp-json{suffix}"),
                    };
                    while let Some(w) = Self::document_unit(self.files, &mut st) {
                        q.push_back(w);
                    }
                    q.push_back(Work::Quality { quality: t });
                    return Ok(end(&st.format, q.into()));
                }
                Ok(FileState::Document(DocumentState {
                    file: i,
                    splitter: DocSplitter::new(reader, 1, CHUNK_BYTES),
                    doc_line,
                    compressed,
                    format: format!("otlp-json{suffix}"),
                }))
            }
            Content::JsonLines => {
                // A file read whole while sniffing has nothing left to map.
                let mapped = to_map.filter(|_| !compressed && !eof).and_then(|file| {
                    let counted = self.counter.load(Ordering::Relaxed) - counted_before;
                    self.map_lines(file, &head, counted as usize)
                });
                // A mapped file's reader (its buffer and descriptor) and head are not needed
                // again: the map holds the bytes.
                let (reader, carry): (Box<dyn Read + Send>, _) = match mapped {
                    Some(_) => (Box::new(io::empty()), Vec::new()),
                    None => (reader, head),
                };
                Ok(FileState::Lines(LinesState {
                    file: i,
                    reader,
                    carry,
                    mapped,
                    compressed,
                    eof,
                    format: format!("otlp-json-lines{suffix}"),
                    cut_off,
                }))
            }
        }
    }

    /// `file` mapped into memory to be read on after `head`, the bytes sniffed from it (and
    /// `counted` bytes of it counted for the progress bar), or `None` to go on reading it:
    /// the map failed (a file system without maps, a special file) or its start is not `head`
    /// (the file changed since, or its descriptor was not at its start).
    fn map_lines(&self, file: File, head: &[u8], counted: usize) -> Option<MappedLines> {
        // SAFETY: the map is read-only and nothing in this process writes the file. Another
        // process that truncates it while it is read ends this one with SIGBUS, and one that
        // rewrites it in place changes bytes under slices already checked (as UTF-8, say):
        // the documented cost of maps, for inputs nothing rewrites while they are read
        // (`--no-mmap`, `set_memory_maps`).
        let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
        if map.get(..head.len())? != head {
            return None;
        }
        // Read ahead of the decoders, as the kernel does for sequential reads.
        let _ = map.advise(memmap2::Advice::Sequential);
        Some(MappedLines {
            map: Arc::new(map),
            start: 0,
            read_end: head.len(),
            counter: self.counter.clone(),
            counted,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Consumer: merges results in order, removes exact duplicates, writes batches
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct FileAcc {
    read: u64,
    ingested: u64,
    rejected: u64,
    issues: u64,
    non_span: bool,
    summary_given: bool,
}

impl FileAcc {
    fn add(&mut self, q: &DataQuality) {
        self.read += q.records_read;
        self.ingested += q.records_ingested;
        self.rejected += q.records_rejected;
        self.issues += q.counts.values().sum::<u64>();
        self.summary_given |= !q.files.is_empty();
    }
}

struct Consumer<'a> {
    sink: &'a mut dyn BatchSink,
    files: &'a [InputFile],
    quality: DataQuality,
    acc: FileAcc,
    seen: SeenSpans,
    /// [`SeenSpans::observe_all`]'s verdicts on the batch being taken (kept for its storage).
    verdicts: Vec<Seen>,
    conflicts: HashSet<SpanFingerprint>,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    batch_rows: usize,
    metrics: Vec<MetricPoint>,
    /// Lines of the current file's pieces consumed so far that were numbered from 1
    /// ([`Parsed::Json`]'s `relative_lines`).
    line_base: u64,
}

/// Shifts the line numbers of a piece decoded with its lines numbered from 1 by `base`, the
/// lines of its file before it: the issues' lines, the spans' `source_line` column and the
/// metric points' `source_line` (a -1, no line, stays).
fn shift_lines(decoded: &mut Decoded, base: u64) -> Result<(), IngestError> {
    if base == 0 {
        return Ok(());
    }
    for issue in &mut decoded.quality.issues {
        if let Some(line) = issue.line.as_mut() {
            *line += base;
        }
    }
    let by = base as i64;
    for point in &mut decoded.metrics {
        if point.source_line >= 0 {
            point.source_line += by;
        }
    }
    for (batch, _) in &mut decoded.batches {
        let Some(i) = batch.schema().index_of("source_line").ok() else {
            continue;
        };
        let Some(lines) = batch.column(i).as_primitive_opt::<Int64Type>() else {
            continue;
        };
        let shifted: arrow::array::Int64Array =
            arrow::compute::kernels::arity::unary(lines, |l| if l >= 0 { l + by } else { l });
        let mut columns = batch.columns().to_vec();
        columns[i] = Arc::new(shifted);
        *batch = RecordBatch::try_new(batch.schema(), columns)?;
    }
    Ok(())
}

impl<'a> Consumer<'a> {
    fn consume(&mut self, parsed: Parsed) -> Result<(), IngestError> {
        match parsed {
            Parsed::Json {
                mut decoded,
                relative_lines,
            } => {
                if relative_lines {
                    shift_lines(&mut decoded, self.line_base)?;
                    self.line_base += decoded.lines;
                }
                self.metrics.append(&mut decoded.metrics);
                self.acc.add(&decoded.quality);
                self.acc.non_span |= decoded.saw_non_span_data;
                self.quality.merge(decoded.quality);
                for (batch, fps) in decoded.batches {
                    self.take(batch, &fps)?;
                }
            }
            Parsed::Reader {
                chunks,
                quality,
                mut metrics,
            } => {
                self.metrics.append(&mut metrics);
                for c in chunks {
                    self.acc.add(&c.quality);
                    self.quality.merge(c.quality);
                    self.take(c.batch, &c.fingerprints)?;
                }
                self.acc.add(&quality);
                self.quality.merge(quality);
            }
            Parsed::Quality { quality } => {
                self.acc.add(&quality);
                self.quality.merge(quality);
            }
            Parsed::CutOff { file, error } => {
                let quality = bad_compression(&self.files[file].name, self.line_base + 1, &error);
                self.acc.add(&quality);
                self.quality.merge(quality);
            }
            Parsed::EndFile { file, format } => self.end_file(file, format),
        }
        Ok(())
    }

    fn end_file(&mut self, file: usize, format: String) {
        self.line_base = 0;
        let acc = std::mem::take(&mut self.acc);
        let name = &self.files[file].name;
        if acc.non_span {
            self.quality.push(Issue::note(
                IssueKind::UnsupportedFormat,
                name,
                None,
                None,
                "file holds OTLP logs (resourceLogs): canalyst does not ingest logs",
            ));
        } else if acc.read == 0 && acc.issues == 0 {
            self.quality.push(Issue::note(
                IssueKind::EmptyFile,
                name,
                None,
                None,
                "file holds no spans or metric points",
            ));
        }
        if !acc.summary_given {
            self.quality.files.push(FileSummary {
                file: name.clone(),
                format,
                records_read: acc.read,
                records_ingested: acc.ingested,
                records_rejected: acc.rejected,
            });
        }
    }

    /// Drops exact duplicates of earlier spans and queues the rest for the sink.
    fn take(&mut self, batch: RecordBatch, fps: &[SpanFingerprint]) -> Result<(), IngestError> {
        let mut keep: Option<Vec<bool>> = None;
        let mut verdicts = std::mem::take(&mut self.verdicts);
        self.seen.observe_all(fps, &mut verdicts);
        for (i, (fp, verdict)) in fps.iter().zip(&verdicts).enumerate() {
            let drop = match verdict {
                Seen::New => false,
                Seen::Same => true,
                Seen::Different => {
                    if self.conflicts.insert(*fp) {
                        self.conflict_note(&batch, i);
                        false
                    } else {
                        true
                    }
                }
            };
            if drop {
                keep.get_or_insert_with(|| vec![true; fps.len()])[i] = false;
            }
        }
        self.verdicts = verdicts;
        let batch = match keep {
            None => batch,
            Some(k) => {
                let dropped = k.iter().filter(|&&x| !x).count() as u64;
                self.quality.duplicates_dropped += dropped;
                arrow::compute::filter_record_batch(&batch, &BooleanArray::from(k))?
            }
        };
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.pending_rows += batch.num_rows();
        self.pending.push(batch);
        if self.pending_rows >= self.batch_rows {
            self.flush()?;
        }
        Ok(())
    }

    fn conflict_note(&mut self, batch: &RecordBatch, row: usize) {
        let file = batch
            .column_by_name("source_file")
            .and_then(|c| arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).ok())
            .map(|c| c.as_string::<i32>().value(row).to_string())
            .unwrap_or_default();
        let line = batch
            .column_by_name("source_line")
            .map(|c| c.as_primitive::<Int64Type>().value(row))
            .filter(|&l| l >= 0)
            .map(|l| l as u64);
        self.quality.push(Issue::note(
            IssueKind::ConflictingDuplicate,
            &file,
            line,
            Some("spanId".to_string()),
            "same trace id and span id as an earlier span but different content; both kept",
        ));
    }

    fn flush(&mut self) -> Result<(), IngestError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.pending_rows = 0;
        self.sink.write_all(std::mem::take(&mut self.pending))
    }

    fn finish(mut self) -> Result<DataQuality, IngestError> {
        self.flush()?;
        let mut points = std::mem::take(&mut self.metrics);
        metric_delta::convert(&mut points, &mut self.quality);
        let tables = MetricTables::build(&points)?;
        drop(points);
        self.sink.write_metrics(tables)?;
        let mut q = self.quality;
        q.records_ingested = q.records_ingested.saturating_sub(q.duplicates_dropped);
        Ok(q)
    }
}

/// Ingests `inputs` (files or directories) into `sink`, showing a progress bar on stderr when
/// stderr is a terminal. Returns the data-quality log; fails only when an input cannot be
/// listed, opened or read, or the sink fails.
pub fn ingest_paths(
    inputs: &[PathBuf],
    opts: &IngestOptions,
    sink: &mut dyn BatchSink,
) -> Result<DataQuality, IngestError> {
    use std::io::IsTerminal;
    ingest_paths_with_progress(inputs, opts, sink, io::stderr().is_terminal())
}

/// [`ingest_paths`] with the progress bar switched explicitly.
pub fn ingest_paths_with_progress(
    inputs: &[PathBuf],
    opts: &IngestOptions,
    sink: &mut dyn BatchSink,
    progress: bool,
) -> Result<DataQuality, IngestError> {
    ingest_pipeline(inputs, opts, sink, progress, IN_FLIGHT_BYTES)
}

/// [`ingest_paths_with_progress`] with at most `in_flight` input bytes in flight.
fn ingest_pipeline(
    inputs: &[PathBuf],
    opts: &IngestOptions,
    sink: &mut dyn BatchSink,
    progress: bool,
    in_flight: usize,
) -> Result<DataQuality, IngestError> {
    let files = list_inputs(inputs)?;
    if files.is_empty() {
        let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        return Err(IngestError::NoInputs(names.join(", ")));
    }
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(&f.path).ok())
        .map(|m| m.len())
        .sum();
    let counter = Arc::new(AtomicU64::new(0));
    let bar = progress.then(|| {
        let b = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "ingest {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            b.set_style(style);
        }
        b
    });
    let pool = BufferPool::default();
    let mut producer = Producer::new(
        &files,
        &pool,
        counter.clone(),
        MEMORY_MAPS.load(Ordering::Relaxed),
    );
    let mut consumer = Consumer {
        sink,
        files: &files,
        quality: DataQuality::default(),
        acc: FileAcc::default(),
        seen: SeenSpans::new(),
        verdicts: Vec::new(),
        conflicts: HashSet::new(),
        pending: Vec::new(),
        pending_rows: 0,
        batch_rows: opts.batch_rows.max(1),
        metrics: Vec::new(),
        line_base: 0,
    };
    let mut on_piece = |parsed: Parsed| {
        consumer.consume(parsed)?;
        if let Some(b) = &bar {
            b.set_position(counter.load(Ordering::Relaxed));
        }
        Ok(())
    };
    let timing = crate::timings::phase("ingest: pieces read, decoded and consumed");
    let consumed = if rayon::current_num_threads() == 1 {
        // One thread: read, decode and write each piece in turn on this thread, so that a
        // one-thread run uses one core (no reader thread beside it).
        (|| {
            while let Some(w) = producer.next_work()? {
                on_piece(parse(w, &files, opts, &pool))?;
            }
            Ok(())
        })()
    } else {
        let budget = Budget::new(in_flight);
        let (files, pool) = (&files[..], &pool);
        // The consumer runs on a thread of the pool: the writer's column tasks it spawns go
        // to the front of the pool's work (other threads steal them before the queued
        // decoding), and while it waits for the next piece in order it decodes pieces itself.
        rayon::scope(|rs| {
            let (tx, rx) = mpsc::channel::<Delivery>();
            std::thread::scope(|ts| {
                let budget = &budget;
                ts.spawn(move || hand_out(producer, budget, rs, tx, files, opts, pool));
                // Whatever ends the consumer (done, failed or panicking), the reader must not
                // wait for budget any more.
                let _close = CloseOnDrop(budget);
                consume_in_order(&rx, on_piece, budget)
            })
        })
    };
    drop(timing);
    consumed?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let _timing = crate::timings::phase("ingest: last batches and metric tables");
    consumer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A walk skips a resources table only where it belongs to a DATASET (beside its spans
    /// file or manifest); elsewhere it is an input like any other (and rejected by content).
    #[test]
    fn walks_skip_a_datasets_resources_table_only() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        for d in [&a, &b] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("resources.parquet"), b"x").unwrap();
        }
        std::fs::write(a.join("spans.parquet"), b"x").unwrap();
        let names: Vec<String> = list_inputs(&[dir.path().to_path_buf()])
            .unwrap()
            .into_iter()
            .map(|f| {
                f.path
                    .strip_prefix(dir.path())
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["a/spans.parquet", "b/resources.parquet"]);
    }

    #[test]
    fn buffers_handed_back_are_reused_as_storage_and_the_pool_is_bounded() {
        let pool = BufferPool::default();
        assert_eq!(
            pool.take().capacity(),
            0,
            "an empty pool gives a new buffer"
        );
        let mut buf = Vec::with_capacity(CHUNK_BYTES);
        buf.extend_from_slice(b"{}\n");
        pool.put(buf);
        let again = pool.take();
        assert!(again.len() == 3 && again.capacity() >= CHUNK_BYTES);
        for _ in 0..BufferPool::MAX + 5 {
            pool.put(vec![0; 8]);
        }
        let kept = std::iter::from_fn(|| Some(pool.take()))
            .take_while(|b| b.capacity() > 0)
            .count();
        assert_eq!(kept, BufferPool::MAX);
    }

    const LINE: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b17X","name":"n","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;

    fn line(i: usize) -> String {
        LINE.replace("7X", &format!("{:02x}", i % 256))
    }

    fn run(paths: &[PathBuf], rows: usize) -> (DataQuality, Vec<RecordBatch>) {
        let mut sink = MemorySink::default();
        let opts = IngestOptions {
            batch_rows: rows,
            ..Default::default()
        };
        let q = ingest_paths_with_progress(paths, &opts, &mut sink, false).unwrap();
        (q, sink.batches)
    }

    #[test]
    fn duplicates_dropped_conflicts_kept_and_summaries_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        let conflicting = line(1).replace("\"n\"", "\"other\"");
        std::fs::write(
            &p,
            format!("{}\n{}\n{}\n{}\n", line(1), line(2), line(1), conflicting),
        )
        .unwrap();
        let (q, batches) = run(std::slice::from_ref(&p), 1000);
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 3);
        assert_eq!(q.duplicates_dropped, 1);
        assert_eq!(q.records_read, 4);
        assert_eq!(q.records_ingested, 3);
        assert_eq!(q.counts["conflicting_duplicate"], 1);
        assert_eq!(q.issues[0].line, Some(4));
        assert_eq!(q.files.len(), 1);
        assert_eq!(q.files[0].format, "otlp-json-lines");
        assert_eq!(q.files[0].records_ingested, 4);
    }

    #[test]
    fn compressed_and_plain_agree_and_directories_are_walked() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..50).map(|i| line(i) + "\n").collect();
        std::fs::write(dir.path().join("a.jsonl"), &text).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        std::fs::write(dir.path().join("b.bin"), gz.finish().unwrap()).unwrap();
        std::fs::write(
            dir.path().join("c"),
            zstd::encode_all(text.as_bytes(), 1).unwrap(),
        )
        .unwrap();
        let mut framed = Vec::new();
        for l in text.lines() {
            let z = zstd::encode_all(l.as_bytes(), 1).unwrap();
            framed.extend((z.len() as u32).to_be_bytes());
            framed.extend(z);
        }
        std::fs::write(dir.path().join("d"), framed).unwrap();
        std::fs::write(dir.path().join(".hidden"), "junk").unwrap();
        std::fs::write(dir.path().join("dataset.json"), "{}").unwrap();
        let (q, _) = run(&[dir.path().to_path_buf()], 7);
        let formats: Vec<&str> = q.files.iter().map(|f| f.format.as_str()).collect();
        assert_eq!(
            formats,
            [
                "otlp-json-lines",
                "otlp-json-lines+gzip",
                "otlp-json-lines+zstd",
                "otlp-json+zstd-framed"
            ]
        );
        for f in &q.files {
            assert_eq!((f.records_read, f.records_ingested), (50, 50), "{f:?}");
        }
        // Same spans in all four files: only the first copy is kept.
        assert_eq!(q.duplicates_dropped, 150);
        assert_eq!(q.records_ingested, 50);
    }

    #[test]
    fn cut_gzip_and_junk_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..200).map(|i| line(i) + "\n").collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        std::fs::write(dir.path().join("a.gz"), &gz[..gz.len() / 2]).unwrap();
        std::fs::write(
            dir.path().join("b.bin"),
            [0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0],
        )
        .unwrap();
        std::fs::write(dir.path().join("c.json"), "").unwrap();
        let (q, _) = run(&[dir.path().to_path_buf()], 1000);
        assert_eq!(q.counts["bad_compression"], 1);
        assert_eq!(q.counts["unsupported_format"], 1);
        assert_eq!(q.counts["empty_file"], 1);
        assert!(q.files[0].records_ingested > 0);
        let junk = q
            .issues
            .iter()
            .find(|i| i.kind == IssueKind::UnsupportedFormat)
            .unwrap();
        assert!(junk.file.ends_with("b.bin"));
    }

    /// A gzip stream cut off is reported at the line it broke in, after the spans of every
    /// whole line before it, whether it broke while sniffing (a small file) or pieces later,
    /// at one thread and at two (pieces decoded out of order). The truth is what a decoder
    /// of our own yields from the cut file before its error.
    #[test]
    fn a_cut_gzip_stream_is_reported_at_the_line_it_broke_in() {
        let dir = tempfile::tempdir().unwrap();
        let mut cases = Vec::new();
        for (k, (lines, cut)) in [
            (50, 0.5),
            (3 * LINES_PER_FILE, 0.5),
            (3 * LINES_PER_FILE, 0.9),
        ]
        .into_iter()
        .enumerate()
        {
            let text = distinct_lines(lines, k);
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(text.as_bytes()).unwrap();
            let gz = gz.finish().unwrap();
            let cut = &gz[..(gz.len() as f64 * cut) as usize];
            let mut yielded = Vec::new();
            let err = flate2::read::MultiGzDecoder::new(cut).read_to_end(&mut yielded);
            assert!(err.is_err(), "case {k}: the cut stream ends in an error");
            let whole = memchr::memchr_iter(b'\n', &yielded).count() as u64;
            let path = dir.path().join(format!("{k}.jsonl.gz"));
            std::fs::write(&path, cut).unwrap();
            cases.push((path, whole));
        }
        assert!(
            cases[1].1 as usize > LINES_PER_FILE,
            "several pieces before the cut"
        );
        for threads in [1, 2] {
            for (path, whole) in &cases {
                let (q, batches) = pool(threads).install(|| run(std::slice::from_ref(path), 500));
                let cut = q
                    .issues
                    .iter()
                    .find(|i| i.kind == IssueKind::BadCompression)
                    .unwrap();
                assert_eq!(cut.line, Some(whole + 1), "{path:?}, {threads} threads");
                assert!(
                    cut.reason.contains(&format!("after line {whole}:")),
                    "{}",
                    cut.reason
                );
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                assert_eq!(rows as u64, *whole, "{path:?}: every whole line's span");
            }
        }
    }

    #[test]
    fn missing_input_is_an_error_with_the_path() {
        let mut sink = MemorySink::default();
        let e = ingest_paths_with_progress(
            &[PathBuf::from("/nonexistent/x.jsonl")],
            &IngestOptions::default(),
            &mut sink,
            false,
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x.jsonl"), "{e}");
    }

    /// A canonical span file read in pieces of row groups gives the rows and counts of the
    /// whole-file reader, in order, and names the file's format.
    #[test]
    fn parquet_span_files_are_read_in_row_group_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("in.jsonl");
        let n = 40_000;
        let text: String = (0..n)
            .map(|i| line(i).replace("5b8efff7", &format!("{i:08x}")) + "\n")
            .collect();
        std::fs::write(&json, text).unwrap();
        let (_, batches) = run(&[json], 8192);
        let pq = dir.path().join("spans.parquet");
        let props = parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(10_000))
            .build();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            File::create(&pq).unwrap(),
            spans_schema(),
            Some(props),
        )
        .unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        w.close().unwrap();

        let split = Arc::new(SplitSpans::open(&pq).expect("a canonical span file"));
        let pieces = parquet_pieces(0, split);
        let ranges: Vec<_> = pieces
            .iter()
            .map(|w| match w {
                Work::ParquetGroups { groups, rows, .. } => (groups.clone(), *rows),
                _ => panic!("only row-group pieces"),
            })
            .collect();
        // 16,384 rows make a piece of CHUNK_BYTES at 128 bytes a row: two groups each.
        assert_eq!(ranges, vec![(0..2, 20_000), (2..4, 20_000)]);

        let (q, read) = run(std::slice::from_ref(&pq), 8192);
        let mut whole = Vec::new();
        let wq = crate::ingest::parquet_spans::read_parquet_file(
            &pq,
            &pq.display().to_string(),
            &IngestOptions {
                batch_rows: 8192,
                ..Default::default()
            },
            &mut |c| whole.push(c.batch),
        );
        let cat = |b: &[RecordBatch]| arrow::compute::concat_batches(&spans_schema(), b).unwrap();
        assert_eq!(cat(&read), cat(&whole));
        assert_eq!(cat(&read).num_rows(), n);
        assert_eq!(q.files, wq.files);
        assert_eq!(q.files[0].format, "parquet-canonical");
        assert_eq!((q.records_read, q.records_ingested), (n as u64, n as u64));
    }

    #[test]
    fn large_inputs_are_cut_into_chunks_with_correct_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.jsonl");
        let n = CHUNK_BYTES / LINE.len() * 3;
        let mut text = String::new();
        for i in 0..n {
            // A distinct trace id per line, so nothing is a duplicate.
            text.push_str(&line(i).replace("5b8efff7", &format!("{i:08x}")));
            text.push('\n');
        }
        text.push_str("{\"resourceSpans\": [");
        std::fs::write(&p, &text).unwrap();
        let (q, batches) = run(&[p], 4096);
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, n);
        assert_eq!(q.duplicates_dropped, 0);
        assert!(batches.len() > 1);
        let last = q.issues.last().unwrap();
        assert_eq!(
            (last.kind, last.line),
            (IssueKind::TruncatedLine, Some(n as u64 + 1))
        );
        let lines = batches
            .last()
            .unwrap()
            .column_by_name("source_line")
            .unwrap();
        let lines = lines.as_primitive::<Int64Type>();
        assert_eq!(lines.value(lines.len() - 1), n as i64);
    }

    /// A piece as [`cut_lines`] sees it: bytes, unterminated last line.
    type Cut = (Vec<u8>, bool);

    /// The pieces the producer cuts `path` into, mapped or read, and how many of them came
    /// from a map.
    fn cut_lines(path: &Path, memory_maps: bool) -> (Vec<Cut>, usize) {
        let files = list_inputs(&[path.to_path_buf()]).unwrap();
        let pool = BufferPool::default();
        let mut producer = Producer::new(&files, &pool, Arc::new(AtomicU64::new(0)), memory_maps);
        let (mut pieces, mut mapped) = (Vec::new(), 0);
        while let Some(w) = producer.next_work().unwrap() {
            if let Work::Lines {
                data,
                unterminated_last,
                ..
            } = w
            {
                mapped += usize::from(matches!(data, PieceBytes::Mapped(..)));
                pieces.push((data.to_vec(), unterminated_last));
                data.release(&pool);
            }
        }
        assert_eq!(
            producer.counter.load(Ordering::Relaxed) as usize,
            std::fs::metadata(path).unwrap().len() as usize,
            "every byte counted once for the progress bar"
        );
        (pieces, mapped)
    }

    /// A mapped file is cut into the same pieces as the same file read, so a DATASET does not
    /// depend on `--no-mmap`: lines longer than a piece, a sniffed head longer than 64 KiB (a
    /// 200,000-byte first line), no newline at the end, files ending just before, on and after
    /// the edge of a read. (A file read whole while sniffing is not mapped.) Read buffers go
    /// back to the pool between pieces, as in an ingest, so stale bytes past a piece's length
    /// would show.
    #[test]
    fn mapped_and_read_lines_are_cut_alike() {
        use rand::{Rng, SeedableRng};
        let dir = tempfile::tempdir().unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let line = |len: usize| format!("{{\"p\":\"{}\"}}\n", "x".repeat(len));
        // The sniffed head of short first lines is 64 KiB; reads follow in CHUNK_BYTES steps.
        let edge = (64 << 10) + 2 * CHUNK_BYTES;
        let mut cases = Vec::new();
        for delta in [-1i64, 0, 1] {
            let mut text = line(10) + &line(10);
            while text.len() < edge - 20_000 {
                text += &line(rng.random_range(0..20_000));
            }
            let rest = (edge as i64 + delta) as usize - text.len();
            text += &line(rest - 9);
            assert_eq!(text.len() as i64, edge as i64 + delta);
            cases.push(text);
        }
        let mut long = line(200_000) + &line(5);
        for _ in 0..40 {
            let len = if rng.random_bool(0.1) {
                3 << 20
            } else {
                rng.random_range(0..60_000)
            };
            long += &line(len);
        }
        long.pop();
        cases.push(long);
        for (k, text) in cases.iter().enumerate() {
            let path = dir.path().join(format!("{k}.jsonl"));
            std::fs::write(&path, text).unwrap();
            let (read, none) = cut_lines(&path, false);
            let (mapped, all) = cut_lines(&path, true);
            assert_eq!(none, 0);
            assert_eq!(all, mapped.len(), "case {k}: every piece from the map");
            assert!(read.len() >= 2, "case {k}: {} pieces", read.len());
            assert!(read == mapped, "case {k}: cut differently");
            let joined: Vec<u8> = read.iter().flat_map(|p| p.0.clone()).collect();
            assert!(
                joined == text.as_bytes(),
                "case {k}: bytes lost or repeated"
            );
        }
    }

    /// `n` distinct JSON lines (a distinct trace id per line, so nothing is a duplicate).
    fn distinct_lines(n: usize, salt: usize) -> String {
        let mut text = String::new();
        for i in 0..n {
            text.push_str(&line(i).replace("5b8efff7", &format!("{:08x}", salt * n + i)));
            text.push('\n');
        }
        text
    }

    /// A pool of `threads` threads (the pipeline path needs two or more).
    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    /// Lines per file of [`pieces_of_three_files`].
    const LINES_PER_FILE: usize = CHUNK_BYTES / LINE.len() * 2 + 7;

    /// Files of several pieces each, so that pieces are decoded out of order.
    fn pieces_of_three_files(dir: &Path) -> Vec<PathBuf> {
        let n = LINES_PER_FILE;
        (0..3)
            .map(|f| {
                let p = dir.join(format!("f{f}.jsonl"));
                std::fs::write(&p, distinct_lines(n, f)).unwrap();
                p
            })
            .collect()
    }

    fn ingest_with(paths: &[PathBuf], in_flight: usize) -> (DataQuality, RecordBatch) {
        let mut sink = MemorySink::default();
        let opts = IngestOptions {
            batch_rows: 1000,
            ..Default::default()
        };
        let q = ingest_pipeline(paths, &opts, &mut sink, false, in_flight).unwrap();
        let all = arrow::compute::concat_batches(&spans_schema(), &sink.batches).unwrap();
        (q, all)
    }

    #[test]
    fn pieces_reach_the_sink_in_input_order_from_any_caller_and_budget() {
        let dir = tempfile::tempdir().unwrap();
        let paths = pieces_of_three_files(dir.path());
        // The sequential path (one thread) is the reference.
        let (q, all) = pool(1).install(|| ingest_with(&paths, IN_FLIGHT_BYTES));
        let lines = all.column_by_name("source_line").unwrap();
        let lines = lines.as_primitive::<Int64Type>();
        // Every line once (a piece consumed twice would show as duplicates dropped), each
        // file's lines in order, the files one after another.
        let n = LINES_PER_FILE as i64;
        let expected: Vec<i64> = (0..3).flat_map(|_| 1..=n).collect();
        assert_eq!(lines.values().to_vec(), expected);
        assert_eq!(q.duplicates_dropped, 0);
        assert_eq!(q.files.len(), 3);
        // The pipeline gives the same rows and log with one piece in flight and with many,
        // called from outside a pool (the consumer is a pool thread, the caller waits) and from
        // inside one (the consumer is the caller's own pool thread).
        for threads in [2, 3] {
            for in_flight in [1, IN_FLIGHT_BYTES] {
                let outside = within_a_minute({
                    let paths = paths.clone();
                    move || pool(threads).install(|| ingest_with(&paths, in_flight))
                });
                assert_eq!(outside, (q.clone(), all.clone()), "{threads} threads");
            }
        }
    }

    /// Runs `f` on its own thread; fails (instead of hanging the test run) when it has not
    /// returned within a minute.
    fn within_a_minute<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("the ingest neither returned nor panicked within a minute")
    }

    /// What [`consume_in_order`] hands on: the file number of each `EndFile` piece, in order,
    /// and how it ended.
    fn consume_deliveries(deliveries: Vec<Delivery>) -> (Vec<usize>, Result<(), String>) {
        let budget = Budget::new(usize::MAX);
        let (tx, rx) = mpsc::channel();
        for d in deliveries {
            assert!(budget.acquire(d.2));
            tx.send(d).unwrap();
        }
        drop(tx);
        let mut seen = Vec::new();
        let r = consume_in_order(
            &rx,
            |p| match p {
                Parsed::EndFile { file: 99, .. } => Err(IngestError::Invalid {
                    path: PathBuf::from("sink"),
                    message: "sink failed".into(),
                }),
                Parsed::EndFile { file, .. } => {
                    seen.push(file);
                    Ok(())
                }
                _ => unreachable!(),
            },
            &budget,
        );
        if r.is_ok() {
            assert_eq!(budget.state.lock().unwrap().0, 0, "every byte given back");
        }
        (seen, r.map_err(|e| e.to_string()))
    }

    fn piece(seq: u64, file: usize) -> Delivery {
        let parsed = Parsed::EndFile {
            file,
            format: String::new(),
        };
        (seq, Ok(Ok(parsed)), 10)
    }

    #[test]
    fn deliveries_are_consumed_in_sequence_and_the_first_failure_in_order_wins() {
        // Arriving in reverse order, consumed in sequence.
        let reversed = (0..6).rev().map(|i| piece(i, i as usize)).collect();
        assert_eq!(
            consume_deliveries(reversed),
            (vec![0, 1, 2, 3, 4, 5], Ok(()))
        );
        // A read error travels as piece 3: pieces 0–2 are consumed first, nothing after it.
        let mut d: Vec<Delivery> = vec![piece(4, 4), piece(1, 1), piece(0, 0), piece(2, 2)];
        let read_error = IngestError::Invalid {
            path: PathBuf::from("f"),
            message: "read failed".into(),
        };
        d.insert(1, (3, Ok(Err(read_error)), 0));
        let (seen, r) = consume_deliveries(d);
        assert_eq!(seen, vec![0, 1, 2]);
        assert!(r.unwrap_err().contains("read failed"));
        // A decoding panic (piece 3) that arrives before a sink failure (piece 1) earlier in
        // input order: the sink failure is what the ingest returns, as on one thread.
        let panicked: Box<dyn std::any::Any + Send> = Box::new("decoder bug");
        let d = vec![
            (3, Err(panicked), 10),
            piece(2, 2),
            piece(0, 0),
            piece(1, 99),
        ];
        let (seen, r) = consume_deliveries(d);
        assert_eq!(seen, vec![0]);
        assert!(r.unwrap_err().contains("sink failed"));
        // The panic itself, when nothing fails before it.
        let panicked: Box<dyn std::any::Any + Send> = Box::new("decoder bug");
        let d = vec![(1, Err(panicked), 10), piece(0, 0)];
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| consume_deliveries(d)));
        assert_eq!(
            r.unwrap_err().downcast_ref::<&str>().copied(),
            Some("decoder bug")
        );
    }

    /// Options that make a sink write after every few rows.
    fn small_batches() -> IngestOptions {
        IngestOptions {
            batch_rows: 10,
            ..Default::default()
        }
    }

    /// A sink that fails on its first write.
    struct FailingSink;

    impl BatchSink for FailingSink {
        fn write(&mut self, _: RecordBatch) -> Result<(), IngestError> {
            Err(IngestError::Invalid {
                path: PathBuf::from("sink"),
                message: "disk full".into(),
            })
        }
    }

    #[test]
    fn a_failing_sink_stops_the_reader_and_its_error_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        let (paths, opts) = (pieces_of_three_files(dir.path()), small_batches());
        // With one piece in flight the reader is waiting for budget when the sink fails: it
        // must be woken and end, or the ingest never returns.
        for in_flight in [1, IN_FLIGHT_BYTES] {
            let (paths, opts) = (paths.clone(), opts.clone());
            let e = within_a_minute(move || {
                pool(2).install(|| {
                    ingest_pipeline(&paths, &opts, &mut FailingSink, false, in_flight)
                        .unwrap_err()
                        .to_string()
                })
            });
            assert!(e.contains("disk full"), "{e}");
        }
    }

    /// A sink that panics on its first write.
    struct PanickingSink;

    impl BatchSink for PanickingSink {
        fn write(&mut self, _: RecordBatch) -> Result<(), IngestError> {
            panic!("sink bug");
        }
    }

    #[test]
    fn a_panicking_sink_panics_the_ingest_instead_of_hanging_it() {
        let dir = tempfile::tempdir().unwrap();
        let (paths, opts) = (pieces_of_three_files(dir.path()), small_batches());
        // One piece in flight: the reader waits for budget when the sink panics.
        let panicked = within_a_minute(move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                pool(2).install(|| ingest_pipeline(&paths, &opts, &mut PanickingSink, false, 1))
            }))
            .is_err()
        });
        assert!(panicked);
    }

    #[test]
    fn a_line_longer_than_a_piece_stays_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("long.jsonl");
        let span = r#"{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"SPAN","name":"n","startTimeUnixNano":"1","endTimeUnixNano":"2"}"#;
        let n = CHUNK_BYTES / span.len() * 2;
        let spans: Vec<String> = (1..=n)
            .map(|i| span.replace("SPAN", &format!("{i:016x}")))
            .collect();
        let big = format!(
            r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
            spans.join(",")
        );
        assert!(big.len() > 2 * CHUNK_BYTES);
        std::fs::write(&p, format!("{big}\n{}\n", line(1))).unwrap();
        let (q, batches) = run(std::slice::from_ref(&p), 1 << 20);
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, n + 1);
        assert_eq!(q.records_rejected, 0);
        let lines = batches[0].column_by_name("source_line").unwrap();
        let lines = lines.as_primitive::<Int64Type>();
        assert_eq!((lines.value(0), lines.value(lines.len() - 1)), (1, 2));
    }
}
