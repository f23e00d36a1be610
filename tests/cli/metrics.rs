//! `canalyst ingest` / `inspect` / `sql` on OTLP/JSON metric files: the DATASET gets the
//! metric tables, `inspect` counts them, and SQL sees them (empty on span-only datasets).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/otlp-samples");

fn run(args: &[&str]) -> Output {
    crate::fixtures::bin()
        .args(args)
        .output()
        .expect("run canalyst")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn metric_inputs() -> Vec<PathBuf> {
    [
        "opentelemetry-proto/metrics.json",
        "otel-spec-file-exporter/metrics.jsonl",
        "collector-contrib/countconnector_metrics_input.json",
        "datadog-mapping-go",
    ]
    .iter()
    .map(|r| Path::new(SAMPLES).join(r))
    .collect()
}

fn sql_json(sql: &str, ds: &Path) -> Vec<Value> {
    let o = run(&["sql", sql, s(ds), "--format", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|l| match serde_json::from_str::<Value>(l).unwrap() {
            Value::Array(a) => a,
            v => vec![v],
        })
        .collect()
}

#[test]
fn ingest_writes_metric_tables_and_sql_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    let inputs = metric_inputs();
    let mut args = vec!["ingest"];
    args.extend(inputs.iter().map(|p| s(p)));
    args.extend(["-o", s(&ds), "--quiet"]);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "metric_points.parquet",
        "histogram_points.parquet",
        "exp_histogram_points.parquet",
    ] {
        assert!(ds.join(f).is_file(), "{f}");
    }
    let m: Value =
        serde_json::from_slice(&std::fs::read(ds.join("dataset.json")).unwrap()).unwrap();
    assert_eq!(m["spans_rows"], 0);
    assert_eq!(m["metric_points_rows"], 62);
    assert_eq!(m["histogram_points_rows"], 9);
    assert_eq!(m["exp_histogram_points_rows"], 5);
    assert_eq!(m["records_rejected"], 1);

    let rows = sql_json(
        "SELECT kind, count(*) AS n FROM metric_points GROUP BY kind ORDER BY kind",
        &ds,
    );
    let got: Vec<(String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["n"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("gauge".into(), 14),
            ("sum".into(), 40),
            ("summary".into(), 8)
        ]
    );
    let rows = sql_json("SELECT count(*) AS n FROM exp_histogram_points", &ds);
    assert_eq!(rows[0]["n"], 5);

    let o = run(&["inspect", s(&ds)]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("metric points: 76"), "{text}");
    assert!(text.contains("counter-int [sum] track=(none)"), "{text}");
    let o = run(&["inspect", s(&ds), "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["inventory"]["metric_points"], 76);
}

#[test]
fn span_only_dataset_has_empty_metric_tables() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    let trace = Path::new(SAMPLES).join("opentelemetry-proto/trace.json");
    let o = run(&["ingest", s(&trace), "-o", s(&ds), "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!ds.join("metric_points.parquet").exists());
    for t in ["metric_points", "histogram_points", "exp_histogram_points"] {
        let rows = sql_json(&format!("SELECT count(*) AS n FROM {t}"), &ds);
        assert_eq!(rows[0]["n"], 0, "{t}");
    }
    let m: Value =
        serde_json::from_slice(&std::fs::read(ds.join("dataset.json")).unwrap()).unwrap();
    assert_eq!(m["spans_schema_version"], 2);
    assert!(m["resources_rows"].as_u64().unwrap() >= 1, "{m}");
    assert_eq!(m["metric_points_rows"], 0);
}
