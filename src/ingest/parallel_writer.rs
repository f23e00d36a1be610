//! A Parquet writer that encodes each leaf column on rayon's pool, behind the caller.
//!
//! `parquet::arrow::ArrowWriter` encodes a batch column after column on the calling thread. In
//! `ingest` that thread also de-duplicates and hands out work, so with two threads the writer
//! was the serial stretch: 3.5 CPU s of a one-thread ingest of 1M Collector spans took 2.4 s on
//! two cores (docs/benchmarks.md, "Session 11"). [`ParallelArrowWriter`] does what
//! `ArrowWriter::write` does — the same row-group split at
//! [`WriterProperties::max_row_group_row_count`], the same column writers, page and chunk
//! layout, key-value metadata and embedded Arrow schema, so the file is byte-identical — but
//! each leaf column (`compute_leaves`) has its own queue of leaves to encode, drained by one
//! task at a time on rayon's pool, so that a column's leaves are encoded in the order written.
//! This is the parallel-encoding pattern the parquet crate documents on `ArrowColumnWriter`.
//!
//! `write` queues a batch's leaves and returns without waiting for them (up to
//! [`QUEUED_ROWS`] rows queued per column): the caller goes on with its own work while the
//! pool encodes. A first version waited for every batch's slowest leaf, and the ingest's
//! consumer, the one thread that de-duplicates and writes, spent 80% of a two-thread ingest
//! inside it while the other thread ran out of pieces to decode (docs/benchmarks.md, "Session
//! 22"). A row group is closed once its columns' queues are empty; waiting, the caller runs
//! the pool's pending jobs. An encoding error (or panic) is returned (resumed) by the next
//! call. With one thread in the pool the leaves are encoded in order on the caller's thread.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnWriter, ArrowLeafColumn, ArrowRowGroupWriterFactory, ArrowWriter,
};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;
use std::collections::VecDeque;
use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Rows that may be queued for a column and not yet encoded before `write` waits (running the
/// pool's jobs meanwhile): one of `ingest`'s flushes (`--batch-rows`, 64Ki rows by default).
/// So besides the input in flight, at most about this many rows of decoded batches are kept
/// alive behind the caller by its slowest column.
pub const QUEUED_ROWS: usize = 64 * 1024;

/// An `ArrowWriter` whose columns are encoded in parallel, behind the caller (module docs).
pub struct ParallelArrowWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    max_rows: Option<usize>,
    /// [`QUEUED_ROWS`], smaller in tests.
    queued_rows: usize,
    /// The columns of the row group being filled and its rows so far.
    in_progress: Option<(Arc<Columns>, usize)>,
    /// A call failed: every later one fails too (a row group may be missing).
    failed: bool,
    #[cfg(test)]
    inject: Option<Inject>,
}

/// A failure made to happen in a column's encoding (tests of the failure paths).
#[cfg(test)]
#[derive(Clone, Copy)]
struct Inject {
    column: usize,
    panic: bool,
}

/// One leaf column of the row group being filled: its writer, or `None` while a task holds
/// it to encode the queue, and the leaves waiting, with their rows.
struct Column {
    writer: Option<ArrowColumnWriter>,
    queue: VecDeque<(ArrowLeafColumn, usize)>,
}

/// A row group's columns and what their tasks report back.
struct Columns {
    columns: Vec<Mutex<Column>>,
    state: Mutex<Progress>,
    /// Notified when a column's task ends, and after every leaf while the caller waits.
    changed: Condvar,
    #[cfg(test)]
    inject: Option<Inject>,
}

/// Work queued or running, and the first failure.
struct Progress {
    /// Rows queued and not yet encoded, per column.
    rows: Vec<usize>,
    /// Column tasks running.
    tasks: usize,
    failure: Option<Failure>,
    /// The caller waits in [`Columns::wait`] (there is one caller).
    waiting: bool,
}

enum Failure {
    Error(ParquetError),
    Panic(Box<dyn std::any::Any + Send>),
    /// The failure was reported by an earlier call.
    Reported,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks is caught and reported as a failure; the data
    // behind it is not used after that.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Columns {
    fn new(writers: Vec<ArrowColumnWriter>) -> Self {
        let n = writers.len();
        Self {
            columns: writers
                .into_iter()
                .map(|w| {
                    Mutex::new(Column {
                        writer: Some(w),
                        queue: VecDeque::new(),
                    })
                })
                .collect(),
            state: Mutex::new(Progress {
                rows: vec![0; n],
                tasks: 0,
                failure: None,
                waiting: false,
            }),
            changed: Condvar::new(),
            #[cfg(test)]
            inject: None,
        }
    }

    /// Encodes `leaf` into column `j`'s `writer`.
    #[cfg_attr(not(test), allow(unused_variables))]
    fn encode(
        &self,
        j: usize,
        writer: &mut ArrowColumnWriter,
        leaf: &ArrowLeafColumn,
    ) -> Result<()> {
        #[cfg(test)]
        if let Some(f) = self.inject.filter(|f| f.column == j) {
            if f.panic {
                panic!("injected panic in column {j}");
            }
            return Err(ParquetError::General(format!(
                "injected error in column {j}"
            )));
        }
        writer.write(leaf)
    }

    /// Encodes column `j`'s queue with `writer` until it is empty, then puts the writer back.
    /// After a failure (of any column) the rest of the queue is dropped unencoded: the row
    /// group will not be written.
    fn drain(self: Arc<Self>, j: usize, mut writer: ArrowColumnWriter) {
        let mut failed = lock(&self.state).failure.is_some();
        loop {
            let (leaf, rows) = {
                let mut c = lock(&self.columns[j]);
                match c.queue.pop_front() {
                    Some(next) => next,
                    None => {
                        c.writer = Some(writer);
                        break;
                    }
                }
            };
            let written = if failed {
                Ok(Ok(()))
            } else {
                std::panic::catch_unwind(AssertUnwindSafe(|| self.encode(j, &mut writer, &leaf)))
            };
            drop(leaf);
            let mut st = lock(&self.state);
            st.rows[j] -= rows;
            let failure = match written {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(Failure::Error(e)),
                Err(panic) => Some(Failure::Panic(panic)),
            };
            if st.failure.is_none() {
                st.failure = failure;
            }
            failed = st.failure.is_some();
            if st.waiting {
                self.changed.notify_all();
            }
        }
        lock(&self.state).tasks -= 1;
        self.changed.notify_all();
    }

    /// Queues `leaves` (one per column, of `rows` rows each), starting a task for each column
    /// without one.
    fn queue(self: &Arc<Self>, leaves: Vec<ArrowLeafColumn>, rows: usize) {
        for r in lock(&self.state).rows.iter_mut() {
            *r += rows;
        }
        for (j, leaf) in leaves.into_iter().enumerate() {
            let writer = {
                let mut c = lock(&self.columns[j]);
                c.queue.push_back((leaf, rows));
                c.writer.take()
            };
            if let Some(writer) = writer {
                lock(&self.state).tasks += 1;
                let me = Arc::clone(self);
                rayon::spawn(move || me.drain(j, writer));
            }
        }
    }

    /// Waits until `done` holds, running the pool's pending jobs meanwhile (the column tasks
    /// are among them: they were spawned on this thread's queue when it is the pool's).
    fn wait(&self, done: impl Fn(&Progress) -> bool) {
        loop {
            if done(&lock(&self.state)) {
                return;
            }
            if rayon::yield_now() == Some(rayon::Yield::Executed) {
                continue;
            }
            let mut st = lock(&self.state);
            if done(&st) {
                return;
            }
            st.waiting = true;
            // The timeout looks for new jobs to run again.
            let (mut st, _) = self
                .changed
                .wait_timeout(st, Duration::from_millis(1))
                .unwrap_or_else(|p| p.into_inner());
            st.waiting = false;
        }
    }

    /// The first failure not yet reported, as an error (a panic is resumed).
    fn failure(&self) -> Result<()> {
        let mut st = lock(&self.state);
        match st.failure.replace(Failure::Reported) {
            None => {
                st.failure = None;
                Ok(())
            }
            Some(Failure::Error(e)) => Err(e),
            Some(Failure::Panic(p)) => {
                drop(st);
                std::panic::resume_unwind(p)
            }
            Some(Failure::Reported) => Err(ParquetError::General(
                "an earlier column write failed".into(),
            )),
        }
    }
}

impl<W: Write + Send> ParallelArrowWriter<W> {
    /// A writer of `schema` to `out` with `props`, as `ArrowWriter::try_new` makes one.
    pub fn try_new(out: W, schema: SchemaRef, props: WriterProperties) -> Result<Self> {
        let max_rows = props.max_row_group_row_count();
        if props.max_row_group_bytes().is_some() {
            // ArrowWriter's byte-based split is not reproduced here.
            return Err(ParquetError::General(
                "ParallelArrowWriter does not support max_row_group_bytes".into(),
            ));
        }
        let (file, factory) =
            ArrowWriter::try_new(out, schema.clone(), Some(props))?.into_serialized_writer()?;
        Ok(Self {
            file,
            factory,
            schema,
            max_rows,
            queued_rows: QUEUED_ROWS,
            in_progress: None,
            failed: false,
            #[cfg(test)]
            inject: None,
        })
    }

    /// The writer with at most `rows` rows queued per column (tests: `write` waits often).
    #[cfg(test)]
    fn with_queued_rows(mut self, rows: usize) -> Self {
        self.queued_rows = rows;
        self
    }

    /// Queues `batch` for encoding, closing a row group whenever it reaches the maximum row
    /// count. Returns an error (or resumes a panic) of an earlier batch's encoding; after a
    /// failure every call fails.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.guarded(|w| w.write_batch(batch))
    }

    /// Waits for the queued leaves and closes the row group being filled, if any.
    pub fn flush(&mut self) -> Result<()> {
        self.guarded(Self::close_row_group)
    }

    /// Runs `f` unless a call failed before, and remembers whether it fails.
    fn guarded(&mut self, f: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        if self.failed {
            return Err(ParquetError::General(
                "an earlier write to this Parquet file failed".into(),
            ));
        }
        self.failed = true;
        f(self)?;
        self.failed = false;
        Ok(())
    }

    fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let buffered = self.in_progress.as_ref().map_or(0, |p| p.1);
        if let Some(max) = self.max_rows {
            if buffered + batch.num_rows() > max {
                let to_write = max - buffered;
                self.write_batch(&batch.slice(0, to_write))?;
                return self.write_batch(&batch.slice(to_write, batch.num_rows() - to_write));
            }
        }
        if self.in_progress.is_none() {
            let writers = self
                .factory
                .create_column_writers(self.file.flushed_row_groups().len())?;
            #[allow(unused_mut)]
            let mut columns = Columns::new(writers);
            #[cfg(test)]
            {
                columns.inject = self.inject;
            }
            self.in_progress = Some((Arc::new(columns), 0));
        }
        let (columns, rows) = self.in_progress.as_mut().expect("just set");
        columns.failure()?;
        let mut leaves = Vec::with_capacity(columns.columns.len());
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            leaves.extend(compute_leaves(field.as_ref(), column)?);
        }
        if leaves.len() != columns.columns.len() {
            return Err(ParquetError::General(format!(
                "{} leaf columns for {} column writers",
                leaves.len(),
                columns.columns.len()
            )));
        }
        if rayon::current_num_threads() == 1 {
            // No other thread to encode behind this one: encode here, in order (after any
            // task left from a call in a larger pool).
            columns.wait(|p| p.tasks == 0);
            columns.failure()?;
            for (j, (c, leaf)) in columns.columns.iter().zip(&leaves).enumerate() {
                let mut c = lock(c);
                let writer = c.writer.as_mut().expect("no column task runs");
                columns.encode(j, writer, leaf)?;
            }
        } else {
            let limit = self.queued_rows;
            columns.queue(leaves, batch.num_rows());
            columns.wait(|p| p.failure.is_some() || p.rows.iter().all(|&r| r <= limit));
        }
        *rows += batch.num_rows();
        if self.max_rows == Some(*rows) {
            self.close_row_group()?;
        }
        Ok(())
    }

    fn close_row_group(&mut self) -> Result<()> {
        let Some((columns, _)) = self.in_progress.take() else {
            return Ok(());
        };
        columns.wait(|p| p.tasks == 0);
        columns.failure()?;
        debug_assert!(lock(&columns.state).rows.iter().all(|&r| r == 0));
        // Every task has put its writer back (a task may still hold the `Arc` a moment).
        let writers: Vec<ArrowColumnWriter> = columns
            .columns
            .iter()
            .map(|c| lock(c).writer.take().expect("every column task has ended"))
            .collect();
        let chunks = writers
            .into_par_iter()
            .map(ArrowColumnWriter::close)
            .collect::<Result<Vec<_>>>()?;
        let mut rg = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut rg)?;
        }
        rg.close()?;
        Ok(())
    }

    /// Flushes and writes the footer.
    pub fn close(mut self) -> Result<ParquetMetaData> {
        self.flush()?;
        self.file.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, MapBuilder, StringBuilder};
    use std::sync::Arc;

    /// A batch with a plain and a map column (two leaves), `n` rows from `from`.
    fn batch(from: i64, n: i64) -> RecordBatch {
        let mut m = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        for i in from..from + n {
            for k in 0..(i % 3) {
                m.keys().append_value(format!("k{k}"));
                m.values().append_value(format!("v{}", i * k));
            }
            m.append(true).unwrap();
        }
        let a: ArrayRef = Arc::new(Int64Array::from_iter_values(from..from + n));
        RecordBatch::try_from_iter([("a", a), ("m", Arc::new(m.finish()) as ArrayRef)]).unwrap()
    }

    #[test]
    fn files_are_byte_identical_to_arrow_writer() {
        let props = || {
            WriterProperties::builder()
                .set_max_row_group_row_count(Some(1000))
                .set_data_page_row_count_limit(300)
                .build()
        };
        // Batches that end inside, exactly at and across row-group boundaries.
        let sizes = [1, 999, 1000, 2500, 17, 0, 483];
        let mut from = 0;
        let batches: Vec<RecordBatch> = sizes
            .iter()
            .map(|&n| {
                let b = batch(from, n);
                from += n;
                b
            })
            .collect();
        let schema = batches[0].schema();
        let mut reference = Vec::new();
        let mut w = ArrowWriter::try_new(&mut reference, schema.clone(), Some(props())).unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        w.close().unwrap();
        // One thread encodes in order; with more, `write` returns before its leaves are
        // encoded, with room for many batches or for none (it then waits at every batch);
        // outside a pool the leaves go to rayon's global pool.
        let write = |queued: usize| {
            let mut out = Vec::new();
            let mut w = ParallelArrowWriter::try_new(&mut out, schema.clone(), props())
                .unwrap()
                .with_queued_rows(queued);
            for b in &batches {
                w.write(b).unwrap();
            }
            let meta = w.close().unwrap();
            assert_eq!(meta.num_row_groups(), 5);
            out
        };
        for (threads, queued) in [(1, QUEUED_ROWS), (3, QUEUED_ROWS), (3, 0), (2, 600)] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let out = pool.install(|| write(queued));
            assert!(
                out == reference,
                "{threads} threads, {queued} rows queued: files differ"
            );
        }
        assert!(
            write(QUEUED_ROWS) == reference,
            "outside a pool: files differ"
        );
    }

    #[test]
    fn an_encoding_failure_is_reported_by_a_later_call_and_every_call_fails_after_it() {
        let b = batch(0, 2000);
        for (threads, panic) in [(1, false), (2, false), (1, true), (2, true)] {
            let what = format!("{threads} threads, panic {panic}");
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let outcome = pool.install(|| {
                std::panic::catch_unwind(AssertUnwindSafe(|| {
                    let mut w =
                        ParallelArrowWriter::try_new(Vec::new(), b.schema(), Default::default())
                            .unwrap();
                    w.inject = Some(Inject { column: 1, panic });
                    let mut results: Vec<Result<()>> = (0..5).map(|_| w.write(&b)).collect();
                    results.push(w.flush());
                    results.push(w.write(&b));
                    (results, w.close().map(|_| ()))
                }))
            });
            if panic {
                let payload = outcome.expect_err(&what);
                let msg = payload.downcast_ref::<String>().expect("a formatted panic");
                assert!(msg.contains("injected panic in column 1"), "{what}: {msg}");
                continue;
            }
            let (results, closed) = outcome.expect(&what);
            let first = results.iter().position(|r| r.is_err()).expect(&what);
            assert!(
                results[first]
                    .as_ref()
                    .unwrap_err()
                    .to_string()
                    .contains("injected error in column 1"),
                "{what}: {:?}",
                results[first]
            );
            assert!(results[first..].iter().all(|r| r.is_err()), "{what}");
            assert!(closed.is_err(), "{what}: close after a failure");
        }
    }

    #[test]
    fn a_writer_dropped_with_leaves_queued_leaves_its_tasks_to_finish() {
        let b = batch(0, 5000);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let queued = pool.install(|| {
            let mut w =
                ParallelArrowWriter::try_new(Vec::new(), b.schema(), Default::default()).unwrap();
            for _ in 0..20 {
                w.write(&b).unwrap();
            }
            let columns = Arc::clone(&w.in_progress.as_ref().unwrap().0);
            drop(w);
            columns
        });
        // The tasks own what they encode: they end, and give their writers back.
        queued.wait(|p| p.tasks == 0);
        assert!(lock(&queued.state).rows.iter().all(|&r| r == 0));
        assert!(queued.columns.iter().all(|c| lock(c).writer.is_some()));
    }
}
