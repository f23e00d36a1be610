//! Bad inputs end in a clear error (exit 2) or a data-quality report, never a panic: foreign
//! and truncated Parquet, broken DATASET directories, and the files of `tests/fixtures/bad/`,
//! through every command that reads telemetry.

use crate::fixtures::{code, run, sample_dataset, scratch, stderr};
use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The DATASET tables; each is refused when it is not in the canonical schema.
const TABLES: [&str; 5] = [
    "spans",
    "resources",
    "metric_points",
    "histogram_points",
    "exp_histogram_points",
];

/// A flat Parquet file of another tool (a nullable `t` and a `name`), as someone might copy
/// into a DATASET by hand.
fn write_foreign_parquet(path: &Path) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("t", DataType::Int64, true),
        Field::new("name", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![Some(1), None])),
            Arc::new(StringArray::from(vec!["a", "b"])),
        ],
    )
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// A copy of the sample DATASET's files (spans, manifest, data quality) in a new directory.
fn dataset_copy(name: &str) -> PathBuf {
    let src = Path::new(sample_dataset());
    let dir = scratch().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "spans.parquet",
        "resources.parquet",
        "dataset.json",
        "data_quality.json",
    ] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    dir
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The commands that read telemetry, each over `input`, writing (if at all) under `out`.
fn commands(input: &str, out: &Path) -> Vec<Vec<String>> {
    let o = |n: &str| path_str(&out.join(n)).to_string();
    [
        vec!["ingest", input, "-o", &o("ingested")],
        vec!["inspect", input],
        vec!["analyze", input],
        vec!["report", input, "-o", &o("report")],
        vec!["sql", "SELECT count(*) FROM spans", input],
    ]
    .into_iter()
    .map(|c| c.into_iter().map(String::from).collect())
    .collect()
}

#[test]
fn a_foreign_table_in_a_dataset_is_refused_naming_file_and_column() {
    for table in TABLES {
        let ds = dataset_copy(&format!("foreign-{table}"));
        let file = ds.join(format!("{table}.parquet"));
        write_foreign_parquet(&file);
        for cmd in ["inspect", "analyze", "sql"] {
            let args: Vec<&str> = match cmd {
                "sql" => vec!["sql", "SELECT 1", path_str(&ds)],
                _ => vec![cmd, path_str(&ds)],
            };
            let o = run(&args);
            let err = stderr(&o);
            assert_eq!(code(&o), 2, "{cmd} with a foreign {table}: {err}");
            assert!(
                err.contains(path_str(&file))
                    && err.contains("not the canonical schema: column 1 is \"t\""),
                "{cmd} with a foreign {table}: the error names neither file nor column: {err}"
            );
        }
    }
}

#[test]
fn a_changed_column_type_is_named() {
    let ds = dataset_copy("retyped-spans");
    let canonical = canalyst::model::resources::stored_spans_schema();
    let fields: Vec<Field> = canonical
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            "duration_ns" => Field::new("duration_ns", DataType::Utf8, f.is_nullable()),
            _ => f.as_ref().clone(),
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let file = std::fs::File::create(ds.join("spans.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).unwrap();
    w.write(&RecordBatch::new_empty(schema)).unwrap();
    w.close().unwrap();
    let o = run(&["inspect", path_str(&ds)]);
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{err}");
    assert!(
        err.contains("column \"duration_ns\" is non-nullable Utf8, expected non-nullable Int64"),
        "{err}"
    );
}

/// Every bad input of the set, by name.
fn bad_inputs() -> Vec<(String, PathBuf)> {
    let mut inputs: Vec<(String, PathBuf)> = Vec::new();
    let fixtures = crate::fixtures::root().join("tests/fixtures/bad");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 5, "tests/fixtures/bad lost its files");
    for f in files {
        inputs.push((f.file_name().unwrap().to_string_lossy().into_owned(), f));
    }
    let dir = scratch().join("bad-inputs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let foreign = dir.join("foreign.parquet");
    write_foreign_parquet(&foreign);
    inputs.push(("foreign Parquet".into(), foreign));
    let spans = std::fs::read(Path::new(sample_dataset()).join("spans.parquet")).unwrap();
    let truncated = dir.join("truncated.parquet");
    std::fs::write(&truncated, &spans[..spans.len() / 2]).unwrap();
    inputs.push(("truncated Parquet".into(), truncated));
    let ds = dataset_copy("bad-ds-foreign");
    write_foreign_parquet(&ds.join("spans.parquet"));
    inputs.push(("DATASET with foreign spans".into(), ds));
    let ds = dataset_copy("bad-ds-truncated");
    std::fs::write(ds.join("spans.parquet"), &spans[..spans.len() / 2]).unwrap();
    inputs.push(("DATASET with truncated spans".into(), ds));
    let ds = dataset_copy("bad-ds-missing");
    std::fs::remove_file(ds.join("spans.parquet")).unwrap();
    inputs.push(("DATASET without spans".into(), ds));
    let ds = dataset_copy("bad-ds-version");
    let manifest = std::fs::read_to_string(ds.join("dataset.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    json["spans_schema_version"] = 999.into();
    std::fs::write(ds.join("dataset.json"), json.to_string()).unwrap();
    inputs.push(("DATASET of another schema version".into(), ds));
    let empty = dir.join("empty-dir");
    std::fs::create_dir_all(&empty).unwrap();
    inputs.push(("empty directory".into(), empty));
    inputs
}

#[test]
fn no_bad_input_panics_any_command() {
    let out = scratch().join("bad-inputs-out");
    let mut failures = Vec::new();
    for (i, (name, input)) in bad_inputs().into_iter().enumerate() {
        let out = out.join(i.to_string());
        for args in commands(path_str(&input), &out) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = run(&args);
            let err = stderr(&o);
            if !(0..=3).contains(&code(&o)) || err.contains("panicked") {
                failures.push(format!("{} on {name}: exit {}: {err}", args[0], code(&o)));
            }
            // A broken DATASET is an error for the commands that read DATASETs.
            let broken_dataset = name.starts_with("DATASET with") || name.contains("version");
            if broken_dataset && args[0] != "ingest" && code(&o) != 2 {
                failures.push(format!(
                    "{} on {name}: exit {}, expected 2",
                    args[0],
                    code(&o)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_parquet_read_error_says_reading() {
    let ds = dataset_copy("truncated-spans");
    let spans = std::fs::read(ds.join("spans.parquet")).unwrap();
    std::fs::write(ds.join("spans.parquet"), &spans[..spans.len() / 2]).unwrap();
    for args in [
        vec!["inspect", path_str(&ds)],
        vec!["analyze", path_str(&ds)],
        vec!["sql", "SELECT 1", path_str(&ds)],
    ] {
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(code(&o), 2, "{err}");
        let expected = format!("error: reading {}", path_str(&ds.join("spans.parquet")));
        assert!(err.contains(&expected), "{}: {err}", args[0]);
    }
}
