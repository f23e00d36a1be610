//! A DATASET's `resources.parquet` (spans schema version 2, [`crate::model::resources`]):
//! its name and its reader, below both the DATASET module and the Parquet span reader (which
//! reads a DATASET's `spans.parquet` given as an input with the table beside it).

use crate::model::resources::{resources_schema, ResourceError, ResourceTable};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};

use super::dataset_files::RESOURCES_FILE;

/// The resources table that belongs to the DATASET spans file `spans` (beside it).
pub fn beside(spans: &Path) -> PathBuf {
    spans.with_file_name(RESOURCES_FILE)
}

/// Why a resources table could not be read; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ResourcesFileError {
    /// The file cannot be opened.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not readable Parquet.
    #[error("reading {}: {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
    /// The file is Parquet but not a resources table, or its rows do not fit together.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Reads a `resources.parquet`: the columns must be [`resources_schema`]'s (names and types,
/// in order), and no id may stand for two attribute lists.
pub fn read_resources(path: &Path) -> Result<ResourceTable, ResourcesFileError> {
    let file = std::fs::File::open(path).map_err(|source| ResourcesFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let parquet = |source| ResourcesFileError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
    let want = resources_schema();
    let got = builder.schema();
    let same = got.fields().len() == want.fields().len()
        && got
            .fields()
            .iter()
            .zip(want.fields())
            .all(|(g, w)| g.name() == w.name() && g.data_type() == w.data_type());
    if !same {
        let cols: Vec<String> = got
            .fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), f.data_type()))
            .collect();
        return Err(ResourcesFileError::Invalid {
            path: path.to_path_buf(),
            reason: format!(
                "not a resources table: expected resource_id Int64 and resource_attributes \
                 (map), found {}",
                cols.join(", ")
            ),
        });
    }
    let batches = builder
        .build()
        .map_err(parquet)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| parquet(e.into()))?;
    ResourceTable::from_batches(&batches).map_err(|e: ResourceError| ResourcesFileError::Invalid {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_table_writes_and_refuses_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = ResourceTable::new();
        t.insert(5, [("service.name", "a")].into_iter()).unwrap();
        t.insert(9, [("service.name", "b"), ("k", "v")].into_iter())
            .unwrap();
        let path = dir.path().join(RESOURCES_FILE);
        let write = |batch: arrow::record_batch::RecordBatch| {
            let f = std::fs::File::create(&path).unwrap();
            let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
        };
        write(t.to_batch().unwrap());
        let back = read_resources(&path).unwrap();
        assert_eq!(back.to_batch().unwrap(), t.to_batch().unwrap());
        // A Parquet file with other columns is refused, naming the file and what it holds.
        let other = arrow::record_batch::RecordBatch::try_from_iter([(
            "x",
            std::sync::Arc::new(arrow::array::Int64Array::from(vec![1])) as _,
        )])
        .unwrap();
        write(other);
        let err = read_resources(&path).unwrap_err().to_string();
        assert!(
            err.contains("not a resources table") && err.contains("x Int64"),
            "{err}"
        );
        let err = read_resources(&dir.path().join("nope.parquet")).unwrap_err();
        assert!(matches!(err, ResourcesFileError::Io { .. }), "{err}");
    }
}
