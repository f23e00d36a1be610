//! Writing query results: aligned text table, CSV, JSON or Parquet.

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::io::Write;

/// Output format of a query result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    /// Aligned text table for people.
    Table,
    /// CSV with a header row (scalar columns only; maps and lists are refused by Arrow's
    /// CSV writer).
    Csv,
    /// One JSON array of row objects; binary ids as lower-case hex.
    Json,
    /// Apache Parquet (zstd), keeping Arrow types.
    Parquet,
}

/// Errors writing results.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Arrow could not encode the result in this format.
    #[error("writing {format}")]
    Encode {
        /// The format.
        format: &'static str,
        /// Arrow's error.
        #[source]
        source: ArrowError,
    },
    /// A column type the format cannot hold.
    #[error("column {column} ({data_type}) cannot be written as {format}; select scalar columns or use --format json or parquet")]
    Unsupported {
        /// The format.
        format: &'static str,
        /// The column.
        column: String,
        /// Its type.
        data_type: String,
    },
    /// Parquet encoding failed.
    #[error("writing parquet")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The destination failed.
    #[error("writing output")]
    Io(#[from] std::io::Error),
}

/// Writes `batches` (all with `schema`) to `out` in `format`.
pub fn write_result<W: Write + Send>(
    format: ResultFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    mut out: W,
) -> Result<(), OutputError> {
    let enc = |format| move |source| OutputError::Encode { format, source };
    match format {
        ResultFormat::Table => {
            let table = if batches.is_empty() {
                arrow::util::pretty::pretty_format_batches(&[RecordBatch::new_empty(
                    schema.clone(),
                )])
            } else {
                arrow::util::pretty::pretty_format_batches(batches)
            }
            .map_err(enc("table"))?;
            writeln!(out, "{table}")?;
        }
        ResultFormat::Csv => {
            // Refuse nested columns before writing anything, naming the column.
            if let Some(f) = schema.fields().iter().find(|f| f.data_type().is_nested()) {
                return Err(OutputError::Unsupported {
                    format: "CSV",
                    column: f.name().clone(),
                    data_type: f.data_type().to_string(),
                });
            }
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            if batches.is_empty() {
                w.write(&RecordBatch::new_empty(schema.clone()))
                    .map_err(enc("csv"))?;
            }
            for b in batches {
                w.write(b).map_err(enc("csv"))?;
            }
        }
        ResultFormat::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            w.write_batches(&refs).map_err(enc("json"))?;
            // `finish` writes `[]` when there were no rows, so the output is always an array.
            w.finish().map_err(enc("json"))?;
            out.write_all(b"\n")?;
        }
        ResultFormat::Parquet => {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                .build();
            let mut w = parquet::arrow::ArrowWriter::try_new(out, schema.clone(), Some(props))?;
            for b in batches {
                w.write(b)?;
            }
            w.close()?;
            return Ok(());
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch() -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("route", DataType::Utf8, true),
            Field::new("n", DataType::Int64, false),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![Some("/a,\"b\""), None])),
            Arc::new(Int64Array::from(vec![1, 2])),
        ];
        (schema.clone(), RecordBatch::try_new(schema, cols).unwrap())
    }

    fn render(f: ResultFormat, batches: &[RecordBatch], schema: &SchemaRef) -> String {
        let mut v = Vec::new();
        write_result(f, schema, batches, &mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn formats() {
        let (s, b) = batch();
        let csv = render(ResultFormat::Csv, std::slice::from_ref(&b), &s);
        assert_eq!(csv, "route,n\n\"/a,\"\"b\"\"\",1\n,2\n");
        let json: serde_json::Value =
            serde_json::from_str(&render(ResultFormat::Json, std::slice::from_ref(&b), &s))
                .unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"route": "/a,\"b\"", "n": 1}, {"n": 2}])
        );
        assert!(render(ResultFormat::Table, &[b], &s).contains("| route"));
        assert_eq!(render(ResultFormat::Json, &[], &s), "[]\n");
        assert_eq!(render(ResultFormat::Csv, &[], &s), "route,n\n");
        let nested = Arc::new(Schema::new(vec![Field::new_list(
            "l",
            Field::new_list_field(DataType::Int64, true),
            true,
        )]));
        let err = write_result(ResultFormat::Csv, &nested, &[], Vec::new()).unwrap_err();
        assert!(err.to_string().contains("column l"), "{err}");
    }
}
