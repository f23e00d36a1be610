//! `canalyst sql` end to end: canonical Parquet written with the library's `SpansBuilder`.

use canalyst::model::identity::{kind, status, IdentityConfig};
use canalyst::model::spans::{spans_schema, ResourceInfo, SpanRecord, SpansBuilder};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

const T0: i64 = 1_704_067_200_000_000_000; // 2024-01-01T00:00:00Z
const S: i64 = 1_000_000_000;

/// A dataset directory: `svc` stable (1.0) and canary (1.1), 10 requests each on `GET /a`
/// (durations 1..10 ms stable, 2..20 ms canary; canary request 0 an error), each with an
/// internal child span; plus one stable request on the `GET /b` route.
fn dataset(dir: &Path) -> PathBuf {
    let cfg = Arc::new(IdentityConfig::default());
    let mut b = SpansBuilder::new(cfg.clone(), "fixture.jsonl");
    let mut span = 0u64;
    for (track, version, scale) in [("stable", "1.0", 1), ("canary", "1.1", 2)] {
        let res = ResourceInfo::from_attributes(
            vec![
                ("service.name".into(), "svc".into()),
                ("service.version".into(), version.into()),
                ("deployment.track".into(), track.into()),
            ],
            None,
            &cfg,
        );
        for i in 0..10i64 {
            span += 1;
            let t = T0 + i * S;
            let root = span.to_be_bytes();
            b.append(
                &res,
                &SpanRecord {
                    trace_id: [span as u8; 16],
                    span_id: root,
                    name: "GET /a".into(),
                    kind: kind::SERVER,
                    start_time_unix_nano: t,
                    end_time_unix_nano: t + (i + 1) * scale * 1_000_000,
                    status_code: if track == "canary" && i == 0 {
                        status::ERROR
                    } else {
                        status::UNSET
                    },
                    attributes: vec![("http.route".into(), "/a".into())],
                    ..Default::default()
                },
            );
            b.append(
                &res,
                &SpanRecord {
                    trace_id: [span as u8; 16],
                    span_id: (span + 1000).to_be_bytes(),
                    parent_span_id: Some(root),
                    name: "work".into(),
                    kind: kind::INTERNAL,
                    start_time_unix_nano: t,
                    end_time_unix_nano: t + 500_000,
                    ..Default::default()
                },
            );
        }
        if track == "stable" {
            b.append(
                &res,
                &SpanRecord {
                    trace_id: [200; 16],
                    span_id: [200; 8],
                    name: "GET /b".into(),
                    kind: kind::SERVER,
                    start_time_unix_nano: T0 + 5 * S,
                    end_time_unix_nano: T0 + 5 * S + 3_000_000,
                    attributes: vec![("http.route".into(), "/b".into())],
                    ..Default::default()
                },
            );
        }
    }
    let batch = b.finish().unwrap();
    let ds = dir.join("dataset");
    std::fs::create_dir_all(&ds).unwrap();
    let f = std::fs::File::create(ds.join("spans.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, spans_schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    ds
}

fn canalyst(args: &[&str]) -> Output {
    crate::fixtures::bin()
        .args(args)
        .output()
        .expect("run canalyst")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn csv_over_requests_view() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let o = canalyst(&[
        "sql",
        "SELECT deployment_track AS track, route, count(*) AS n, sum(CASE WHEN is_error THEN 1 ELSE 0 END) AS errors \
         FROM requests GROUP BY 1, 2 ORDER BY 1, 2",
        ds.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    // Internal child spans are not requests.
    assert_eq!(
        stdout(&o),
        "track,route,n,errors\ncanary,/a,10,1\nstable,/a,10,0\nstable,/b,1,0\n"
    );
}

#[test]
fn json_with_udafs_and_bound_params() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let o = canalyst(&[
        "sql",
        "SELECT quantile_exact(duration_ns / 1e6, 0.5) AS p50, ddsketch_quantile(duration_ns / 1e6, 1.0) AS top \
         FROM requests WHERE deployment_track = $1 AND route = $2",
        ds.join("spans.parquet").to_str().unwrap(),
        "--format",
        "json",
        "--param",
        "str:canary",
        "-p",
        "str:/a",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    // Canary durations 2, 4, …, 20 ms: median 11; the top within 1% of 20.
    assert_eq!(v[0]["p50"], serde_json::json!(11.0));
    let top = v[0]["top"].as_f64().unwrap();
    assert!((top - 20.0).abs() <= 0.2, "{top}");
}

#[test]
fn shipped_query_file_with_params() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let query = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/route_summary.sql");
    let o = canalyst(&[
        "sql",
        "-f",
        query.to_str().unwrap(),
        ds.to_str().unwrap(),
        "--format",
        "csv",
        "-p",
        "str:stable",
        "-p",
        "null",
        "-p",
        "str:canary",
        "-p",
        "null",
        "-p",
        "null",
        "-p",
        "ts:2024-01-01T00:00:00Z",
        "-p",
        "ts:2024-01-01T00:01:00Z",
    ]);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0]
        .starts_with("side,service_name,service_version,deployment_track,route,count,errors"));
    // baseline /a, baseline /b, canary /a.
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[1].starts_with("baseline,svc,1.0,stable,/a,10,0,10.0,0.0,5.5,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[3].starts_with("canary,svc,1.1,canary,/a,10,1,10.0,1.0,11.0,"),
        "{}",
        lines[3]
    );
}

#[test]
fn parquet_output_needs_and_uses_o() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let q = "SELECT span_name, duration_ns FROM spans ORDER BY span_name, duration_ns";
    let o = canalyst(&["sql", q, ds.to_str().unwrap(), "--format", "parquet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("-o"));

    let out = tmp.path().join("out.parquet");
    let o = canalyst(&[
        "sql",
        q,
        ds.to_str().unwrap(),
        "--format",
        "parquet",
        "-o",
        out.to_str().unwrap(),
    ]);
    stdout(&o);
    let f = std::fs::File::open(&out).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 41);
}

#[test]
fn errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = dataset(tmp.path());
    let d = ds.to_str().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for args in [
        vec!["sql", "SELECT nope FROM spans", d],
        vec!["sql", "SELECT 1", empty.to_str().unwrap()], // no input files
        vec!["sql", "CREATE TABLE t AS SELECT 1", d],     // read-only
        vec!["sql", "SELECT $1", d, "-p", "bogus"],
    ] {
        let o = canalyst(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).starts_with("canalyst: error:"));
    }
}

/// Raw OTLP files are ingested for the query, metric tables included, and give the same
/// answers as the DATASET `canalyst ingest` writes from them (the two paths of opening inputs).
#[test]
fn raw_otlp_inputs_and_their_dataset_agree() {
    use crate::fixtures::{code, run, scratch, stderr};
    let q = "SELECT (SELECT count(*) FROM spans) AS spans, \
             (SELECT count(*) FROM requests) AS requests, \
             (SELECT sum(count) FROM histogram_points) AS observations, \
             (SELECT count(*) FROM metric_points) AS points";
    let raw_inputs = [
        "sample-data/otlp/traces.jsonl.gz",
        "sample-data/otlp/metrics.jsonl.gz",
    ];
    let mut raw_args = vec!["sql", q, "--format", "json"];
    raw_args.extend(raw_inputs);
    let raw = run(&raw_args);
    assert_eq!(code(&raw), 0, "{}", stderr(&raw));
    let ds = scratch().join("sql-raw-vs-dataset");
    let mut ingest_args = vec!["ingest"];
    ingest_args.extend(raw_inputs);
    ingest_args.extend(["-o", ds.to_str().unwrap(), "--quiet"]);
    let o = run(&ingest_args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let from_ds = run(&["sql", q, "--format", "json", ds.to_str().unwrap()]);
    assert_eq!(code(&from_ds), 0, "{}", stderr(&from_ds));
    let parse = |o: &Output| -> serde_json::Value { serde_json::from_slice(&o.stdout).unwrap() };
    let (a, b) = (parse(&raw), parse(&from_ds));
    assert_eq!(a, b);
    let row = &a[0];
    assert!(row["spans"].as_i64().unwrap() > 100_000, "{row}");
    assert!(row["requests"].as_i64().unwrap() > 10_000, "{row}");
    assert!(row["observations"].as_i64().unwrap() > 10_000, "{row}");
    assert!(row["points"].as_i64().unwrap() > 0, "{row}");
}
