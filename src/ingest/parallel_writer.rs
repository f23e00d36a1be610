//! A Parquet writer that encodes the columns of each row group in parallel.
//!
//! `parquet::arrow::ArrowWriter` encodes a batch column after column on the calling thread. In
//! `ingest` that thread also de-duplicates and hands out work, so with two threads the writer
//! was the serial stretch: 3.5 CPU s of a one-thread ingest of 1M Collector spans took 2.4 s on
//! two cores (docs/benchmarks.md, "Session 11"). [`ParallelArrowWriter`] does what
//! `ArrowWriter::write` does — the same row-group split at
//! [`WriterProperties::max_row_group_row_count`], the same column writers, page and chunk
//! layout, key-value metadata and embedded Arrow schema, so the file is byte-identical — but
//! writes each batch's leaf columns (`compute_leaves`) on rayon's pool, one task per leaf, and
//! closes the column chunks the same way; the chunks are appended to the row group in schema
//! order. This is the parallel-encoding pattern the parquet crate documents on
//! `ArrowColumnWriter`. With one thread in the pool it runs the leaves in order.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnWriter, ArrowRowGroupWriterFactory, ArrowWriter,
};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use rayon::prelude::*;
use std::io::Write;

/// An `ArrowWriter` whose row groups' columns are encoded in parallel (module docs).
pub struct ParallelArrowWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    max_rows: Option<usize>,
    /// Column writers of the row group being filled, one per leaf, and its rows.
    in_progress: Option<(Vec<ArrowColumnWriter>, usize)>,
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
            in_progress: None,
        })
    }

    /// Writes `batch`, closing a row group whenever it reaches the maximum row count.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let buffered = self.in_progress.as_ref().map_or(0, |p| p.1);
        if let Some(max) = self.max_rows {
            if buffered + batch.num_rows() > max {
                let to_write = max - buffered;
                self.write(&batch.slice(0, to_write))?;
                return self.write(&batch.slice(to_write, batch.num_rows() - to_write));
            }
        }
        if self.in_progress.is_none() {
            let writers = self
                .factory
                .create_column_writers(self.file.flushed_row_groups().len())?;
            self.in_progress = Some((writers, 0));
        }
        let (writers, rows) = self.in_progress.as_mut().expect("just set");
        let mut leaves = Vec::with_capacity(writers.len());
        for (field, column) in self.schema.fields().iter().zip(batch.columns()) {
            leaves.extend(compute_leaves(field.as_ref(), column)?);
        }
        if leaves.len() != writers.len() {
            return Err(ParquetError::General(format!(
                "{} leaf columns for {} column writers",
                leaves.len(),
                writers.len()
            )));
        }
        writers
            .par_iter_mut()
            .zip(leaves.par_iter())
            .try_for_each(|(w, leaf)| w.write(leaf))?;
        *rows += batch.num_rows();
        if self.max_rows == Some(*rows) {
            self.flush()?;
        }
        Ok(())
    }

    /// Closes the row group being filled, if any.
    pub fn flush(&mut self) -> Result<()> {
        let Some((writers, _)) = self.in_progress.take() else {
            return Ok(());
        };
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
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut out = Vec::new();
            pool.install(|| {
                let mut w =
                    ParallelArrowWriter::try_new(&mut out, schema.clone(), props()).unwrap();
                for b in &batches {
                    w.write(b).unwrap();
                }
                let meta = w.close().unwrap();
                assert_eq!(meta.num_row_groups(), 5);
            });
            assert!(out == reference, "{threads} threads: files differ");
        }
    }
}
