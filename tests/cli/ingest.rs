//! `canalyst ingest` / `canalyst inspect` on real sample files, bad inputs, compression and
//! thread-count equivalence, and interoperability of the DATASET with DuckDB and polars.

use crate::tools::python;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/otlp-samples");
const BAD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bad");

fn canalyst(args: &[&str], cwd: Option<&Path>) -> Output {
    let mut c = crate::fixtures::bin();
    c.args(args);
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    c.output().expect("run canalyst")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Ingests `input` into a fresh DATASET; returns (exit code, data_quality.json, stderr, dir).
fn ingest(input: &Path, extra: &[&str]) -> (i32, Option<Value>, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    let mut args = vec![
        "ingest",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = canalyst(&args, None);
    let q = std::fs::read(out.join("data_quality.json"))
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap());
    (o.status.code().unwrap_or(-1), q, stderr(&o), dir)
}

fn n(q: &Value, key: &str) -> u64 {
    q[key].as_u64().unwrap_or_else(|| panic!("{key} in {q}"))
}

fn count(q: &Value, kind: &str) -> u64 {
    q["counts"][kind].as_u64().unwrap_or(0)
}

fn sample(rel: &str) -> PathBuf {
    Path::new(SAMPLES).join(rel)
}

#[test]
fn every_trace_sample_ingests_with_exact_counts() {
    // (file, spans read, ingested, rejected, non_hex_id notes, enum_as_name notes)
    // otlp2jaeger-in.json holds the same span twice (telemetrygen output): one is dropped.
    let cases: &[(&str, u64, u64, u64, u64, u64)] = &[
        ("opentelemetry-proto/trace.json", 1, 1, 0, 0, 0),
        ("otel-spec-file-exporter/traces.jsonl", 8, 0, 8, 0, 0),
        (
            "collector-contrib/countconnector_traces_input.json",
            3,
            0,
            3,
            0,
            0,
        ),
        ("jaeger/memory_otel_traces_01.json", 4, 4, 0, 0, 0),
        ("jaeger/cassandra_otel_traces_01.json", 1, 1, 0, 0, 0),
        ("jaeger/link_attributes_trace.json", 1, 1, 0, 0, 0),
        ("jaeger/scope_attributes_trace.json", 1, 1, 0, 0, 0),
        ("jaeger/example_trace.json", 5, 5, 0, 0, 0),
        ("jaeger/otlp2jaeger-in.json", 2, 1, 0, 0, 0),
        (
            "tempo-canonical-protojson/trace-with-virtual-nodes.json",
            3,
            3,
            0,
            3,
            3,
        ),
        (
            "tempo-canonical-protojson/trace-with-failed-requests.json",
            15,
            15,
            0,
            15,
            15,
        ),
        (
            "tempo-canonical-protojson/tempo-vulture-trace.json",
            6,
            6,
            0,
            6,
            0,
        ),
    ];
    for &(file, read, ingested, rejected, b64, named) in cases {
        let (code, q, err, _d) = ingest(&sample(file), &["--quiet"]);
        assert_eq!(code, 0, "{file}: {err}");
        let q = q.unwrap();
        assert_eq!(
            (
                n(&q, "records_read"),
                n(&q, "records_ingested"),
                n(&q, "records_rejected")
            ),
            (read, ingested, rejected),
            "{file}: {q}"
        );
        assert_eq!(count(&q, "non_hex_id"), b64, "{file}");
        assert_eq!(count(&q, "enum_as_name"), named, "{file}");
        assert_eq!(q["files"][0]["records_read"], read, "{file}");
        let dups = n(&q, "duplicates_dropped");
        assert_eq!(
            dups,
            u64::from(file.ends_with("otlp2jaeger-in.json")),
            "{file}"
        );
    }
}

#[test]
fn spec_file_exporter_empty_ids_are_located_rejections() {
    let (code, q, err, _d) = ingest(&sample("otel-spec-file-exporter/traces.jsonl"), &[]);
    assert_eq!(code, 0, "{err}");
    let q = q.unwrap();
    assert_eq!(count(&q, "bad_id"), 8);
    let issues = q["issues"].as_array().unwrap();
    let located: Vec<(u64, &str)> = issues
        .iter()
        .map(|i| (i["line"].as_u64().unwrap(), i["field"].as_str().unwrap()))
        .collect();
    assert_eq!(located.len(), 8);
    assert_eq!(
        located[0],
        (1, "resourceSpans[0].scopeSpans[0].spans[0].traceId")
    );
    assert!(located.iter().all(|(l, _)| (1..=4).contains(l)));
    assert!(issues
        .iter()
        .all(|i| i["file"].as_str().unwrap().ends_with("traces.jsonl")));
    // The summary on stderr shows a located issue.
    assert!(
        err.contains("traces.jsonl:1: bad_id at resourceSpans[0]"),
        "{err}"
    );
}

#[test]
fn logs_get_one_note_per_file_and_metrics_are_ingested() {
    let (code, q, _e, _d) = ingest(&sample("otel-spec-file-exporter/logs.jsonl"), &[]);
    assert_eq!(code, 0);
    let q = q.unwrap();
    assert_eq!(count(&q, "unsupported_format"), 1);
    assert_eq!(n(&q, "records_rejected"), 0);
    assert_eq!(q["issues"][0]["severity"], "note");
    // Metrics are read since the metrics ingest (tests/cli/metrics.rs covers the tables).
    let (code, q, _e, _d) = ingest(&sample("otel-spec-file-exporter/metrics.jsonl"), &[]);
    assert_eq!(code, 0);
    let q = q.unwrap();
    assert_eq!(count(&q, "unsupported_format"), 0);
    assert_eq!(n(&q, "records_ingested"), 16);
}

#[test]
fn bad_inputs_behave_as_documented() {
    // (fixture, spans ingested, rejected, [(issue kind, line)])
    type Case<'a> = (&'a str, u64, u64, &'a [(&'a str, Option<u64>)]);
    let cases: &[Case] = &[
        (
            "truncated_last_line.jsonl",
            2,
            1,
            &[("truncated_line", Some(3))],
        ),
        ("garbage_line.jsonl", 2, 1, &[("malformed_json", Some(2))]),
        (
            "wrong_types.jsonl",
            1,
            3,
            &[
                ("wrong_type", Some(1)),
                ("wrong_type", Some(2)),
                ("wrong_type", Some(3)),
                ("wrong_type", Some(4)),
            ],
        ),
        (
            "huge_numbers.jsonl",
            1,
            2,
            &[
                ("wrong_type", Some(1)),
                ("wrong_type", Some(2)),
                ("wrong_type", Some(3)),
            ],
        ),
        ("empty.jsonl", 0, 0, &[("empty_file", None)]),
        ("binary_junk.bin", 0, 1, &[("unsupported_format", None)]),
    ];
    for &(file, ingested, rejected, issues) in cases {
        let path = Path::new(BAD).join(file);
        let (code, q, err, _d) = ingest(&path, &[]);
        assert_eq!(code, 0, "{file}: {err}");
        let q = q.unwrap();
        assert_eq!(n(&q, "records_ingested"), ingested, "{file}: {q}");
        assert_eq!(n(&q, "records_rejected"), rejected, "{file}: {q}");
        let got: Vec<(String, Option<u64>)> = q["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["kind"].as_str().unwrap().to_string(), i["line"].as_u64()))
            .collect();
        let want: Vec<(String, Option<u64>)> =
            issues.iter().map(|(k, l)| (k.to_string(), *l)).collect();
        assert_eq!(got, want, "{file}");
        // Every message names the file (and the line, where there is one).
        let first = &q["issues"][0];
        let loc = match first["line"].as_u64() {
            Some(l) => format!("{file}:{l}: {}", first["kind"].as_str().unwrap()),
            None => format!("{file}: {}", first["kind"].as_str().unwrap()),
        };
        assert!(err.contains(&loc), "{file}: {loc:?} not in {err}");
    }
}

#[test]
fn malformed_json_reports_serde_column() {
    let (_, q, _, _d) = ingest(&Path::new(BAD).join("garbage_line.jsonl"), &[]);
    let reason = q.unwrap()["issues"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    // serde reads `this` as the start of `true` and fails at the second character.
    assert!(reason.contains("(column 2)"), "{reason}");
}

#[test]
fn strict_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    let bad = Path::new(BAD).join("garbage_line.jsonl");
    let o = canalyst(
        &[
            "ingest",
            bad.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--strict",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!out.exists(), "strict failure must not leave a DATASET");
    assert!(stderr(&o).contains("garbage_line.jsonl:2: malformed_json"));
    // Clean input passes --strict.
    let good = sample("opentelemetry-proto/trace.json");
    let o = canalyst(
        &[
            "ingest",
            good.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--strict",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(out.join("spans.parquet").is_file());
}

#[test]
fn unreadable_input_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    let o = canalyst(
        &["ingest", "/no/such/file.jsonl", "-o", out.to_str().unwrap()],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/no/such/file.jsonl"), "{}", stderr(&o));
}

/// Re-ingesting into a DATASET that a killed ingest left temporary tables in: the DATASET is
/// replaced, an ended process's temporary table is removed (Linux, where `/proc` tells), a
/// live process's stays, and a foreign file still makes the directory refused.
#[test]
fn reingest_removes_temporary_tables_of_ended_processes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    let input = sample("opentelemetry-proto/trace.json");
    let run = || {
        canalyst(
            &[
                "ingest",
                input.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
            None,
        )
    };
    let o = run();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let first = std::fs::read(out.join("spans.parquet")).unwrap();
    // Above Linux's largest pid_max (2^22): no such process runs. Process 1 always does.
    let ended = out.join(".spans.parquet.4194305.tmp");
    let live = out.join(".resources.parquet.1.tmp");
    std::fs::write(&ended, "half a table").unwrap();
    std::fs::write(&live, "half a table").unwrap();
    let o = run();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read(out.join("spans.parquet")).unwrap(), first);
    assert_eq!(ended.exists(), !cfg!(target_os = "linux"));
    assert!(live.exists());
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let o = run();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("notes.txt"), "{}", stderr(&o));
    assert!(live.exists());
}

/// Deterministic synthetic OTLP/JSON lines: `lines` lines of `per_line` spans each.
fn synthetic(lines: usize, per_line: usize) -> String {
    let mut s = String::new();
    for l in 0..lines {
        let track = if l.is_multiple_of(2) {
            "stable"
        } else {
            "canary"
        };
        let spans: Vec<String> = (0..per_line)
            .map(|k| {
                let i = l * per_line + k;
                format!(
                    r#"{{"traceId":"{:032x}","spanId":"{:016x}","name":"GET /r{}","kind":2,"startTimeUnixNano":"{}","endTimeUnixNano":"{}","status":{{"code":{}}},"attributes":[{{"key":"http.route","value":{{"stringValue":"/r{}"}}}},{{"key":"http.response.status_code","value":{{"intValue":"{}"}}}}]}}"#,
                    i / 4 + 1,
                    i + 1,
                    i % 7,
                    1_700_000_000_000_000_000u64 + i as u64 * 1_000_000,
                    1_700_000_000_000_000_000u64 + i as u64 * 1_000_000 + (i as u64 * 7919) % 900_000,
                    if i.is_multiple_of(50) { 2 } else { 0 },
                    i % 7,
                    if i.is_multiple_of(50) { 500 } else { 200 },
                )
            })
            .collect();
        s.push_str(&format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"checkout"}}}},{{"key":"deployment.track","value":{{"stringValue":"{track}"}}}}]}},"scopeSpans":[{{"scope":{{"name":"s"}},"spans":[{}]}}]}}]}}"#,
            spans.join(",")
        ));
        s.push('\n');
    }
    s
}

/// A temporary directory holding `t.jsonl` ([`synthetic`]) and its DATASET `ds`.
fn synthetic_dataset(lines: usize, per_line: usize) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t.jsonl"), synthetic(lines, per_line)).unwrap();
    let o = canalyst(
        &["ingest", "t.jsonl", "-o", "ds", "--quiet"],
        Some(d.path()),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    d
}

/// A version-1 DATASET (the map in every row of `spans.parquet`, no `resources.parquet`) in
/// `dir/v1`: the sample's canonical spans file with a manifest saying version 1.
fn version_1_dataset(dir: &Path, manifest_from: &Path) -> PathBuf {
    let v1 = dir.join("v1");
    std::fs::create_dir_all(&v1).unwrap();
    std::fs::copy(
        crate::fixtures::root().join("sample-data/parquet/spans.parquet"),
        v1.join("spans.parquet"),
    )
    .unwrap();
    let manifest = std::fs::read_to_string(manifest_from.join("dataset.json")).unwrap();
    assert!(
        manifest.contains("\"spans_schema_version\": 2"),
        "{manifest}"
    );
    let manifest = manifest.replace("\"spans_schema_version\": 2", "\"spans_schema_version\": 1");
    std::fs::write(v1.join("dataset.json"), manifest).unwrap();
    v1
}

/// A version-1 DATASET and a version-2 one read together are one table (the union of the
/// version-2 view and the plain version-1 file): SQL over resource attributes, `query`,
/// `analyze` and `forensics` give what they give over one DATASET re-ingested from both. These are the queries
/// whose plans failed when the union's plain side was the bare listing (commit 90b3c2e).
#[test]
fn version_1_and_2_datasets_read_together_as_one() {
    let d = synthetic_dataset(60, 5);
    let v1 = version_1_dataset(d.path(), &d.path().join("ds"));
    let o = canalyst(
        &["ingest", "ds", "v1", "-o", "both", "--quiet"],
        Some(d.path()),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m: Value =
        serde_json::from_slice(&std::fs::read(d.path().join("both/dataset.json")).unwrap())
            .unwrap();
    assert_eq!(m["spans_schema_version"], 2);
    let run = |args: &[&str], inputs: &[&str]| {
        let mut a = args.to_vec();
        a.extend_from_slice(inputs);
        let o = canalyst(&a, Some(d.path()));
        assert!(
            matches!(o.status.code(), Some(0 | 1 | 3)),
            "{a:?}: {}",
            stderr(&o)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let q = "SELECT resource_attributes['service.name'] AS svc, \
             resource_attributes['deployment.track'] AS track, count(*) AS n \
             FROM spans GROUP BY 1, 2 ORDER BY 1, 2";
    let sql = ["sql", q, "--format", "csv"];
    let mixed = run(&sql, &["ds", "v1"]);
    assert_eq!(mixed, run(&sql, &["both"]));
    let count = |inputs: &[&str]| -> u64 {
        let out = run(
            &["sql", "SELECT count(*) AS n FROM spans", "--format", "csv"],
            inputs,
        );
        out.lines().nth(1).unwrap().parse().unwrap()
    };
    let (n2, n1) = (count(&["ds"]), count(&["v1"]));
    assert!(n2 > 0 && n1 > 0);
    assert_eq!(count(&["ds", "v1"]), n2 + n1);
    assert_eq!(count(&["v1", "ds"]), n2 + n1);
    assert!(
        mixed.lines().count() > 3,
        "resources of both DATASETs: {mixed}"
    );
    for metric in ["error_rate", "p99"] {
        assert_eq!(
            run(&["query", metric], &["ds", "v1"]),
            run(&["query", metric], &["both"]),
            "{metric}"
        );
    }
    let analyze = |inputs: &[&str], out: &str| -> Value {
        let mut a = vec!["analyze", "-o", out];
        a.extend_from_slice(inputs);
        run(&a, &[]);
        let mut r: Value =
            serde_json::from_slice(&std::fs::read(d.path().join(out)).unwrap()).unwrap();
        // The data-quality log differs by construction (the re-ingest read both again), and
        // the time of writing by the clock.
        let o = r.as_object_mut().unwrap();
        o.remove("data_quality");
        o.remove("generated_at");
        r
    };
    let (a, b) = (
        analyze(&["ds", "v1"], "mixed.json"),
        analyze(&["both"], "both.json"),
    );
    assert!(!a["comparisons"].as_array().unwrap().is_empty());
    for (key, value) in a.as_object().unwrap() {
        assert!(b[key] == *value, "analyze's {key} differs");
    }
    assert_eq!(a.as_object().unwrap().len(), b.as_object().unwrap().len());
    // Forensics reads every span tree: the same findings over both layouts at once.
    let forensics = |inputs: &[&str], out: &str| -> Value {
        let mut a = vec!["forensics", "-o", out];
        a.extend_from_slice(inputs);
        run(&a, &[]);
        let path = d.path().join(out).join("forensics.json");
        serde_json::from_slice::<Value>(&std::fs::read(path).unwrap()).unwrap()
    };
    let (a, b) = (
        forensics(&["ds", "v1"], "fx-mixed"),
        forensics(&["both"], "fx-both"),
    );
    for (key, value) in a.as_object().unwrap() {
        assert!(b[key] == *value, "forensics' {key} differs");
    }
    assert!(v1.join("spans.parquet").is_file());
}

/// `spans.parquet` and `resources.parquet` of an ingest of `input` into `dir/ds`, one after
/// the other.
fn spans_bytes(dir: &Path, input: &str, threads: &str) -> Vec<u8> {
    let o = canalyst(
        &["--threads", threads, "ingest", input, "-o", "ds", "--quiet"],
        Some(dir),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    dataset_bytes(&dir.join("ds"))
}

fn dataset_bytes(ds: &Path) -> Vec<u8> {
    let mut b = std::fs::read(ds.join("spans.parquet")).unwrap();
    b.extend(std::fs::read(ds.join("resources.parquet")).unwrap());
    b
}

/// Resource attributes live once per resource in `resources.parquet` (schema version 2):
/// SQL over the DATASET shows them in every span as SQL over the raw file does, and a DATASET
/// read back as input (its directory, or its `spans.parquet` alone) re-ingests to the same
/// two files.
#[test]
fn resources_are_stored_once_and_read_back_in_every_span() {
    // Two resources (one service on two tracks), 300 spans.
    let d = synthetic_dataset(60, 5);
    let m: Value =
        serde_json::from_slice(&std::fs::read(d.path().join("ds/dataset.json")).unwrap()).unwrap();
    assert_eq!(m["spans_schema_version"], 2);
    let q = "SELECT resource_attributes['service.name'] AS svc, \
             resource_attributes['deployment.track'] AS track, count(*) AS n \
             FROM spans GROUP BY 1, 2 ORDER BY 1, 2";
    let sql = |input: &str| {
        let o = canalyst(&["sql", q, input, "--format", "csv"], Some(d.path()));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let (raw, stored) = (sql("t.jsonl"), sql("ds"));
    assert_eq!(raw, stored);
    assert_eq!(raw.lines().count(), 3, "a header and two resources: {raw}");
    assert_eq!(m["resources_rows"], 2);
    let first = dataset_bytes(&d.path().join("ds"));
    for (input, out) in [("ds", "again"), ("ds/spans.parquet", "alone")] {
        let o = canalyst(&["ingest", input, "-o", out, "--quiet"], Some(d.path()));
        assert_eq!(o.status.code(), Some(0), "{input}: {}", stderr(&o));
        assert!(
            dataset_bytes(&d.path().join(out)) == first,
            "re-ingesting {input} changed the DATASET"
        );
    }
    // Without its resources table a DATASET's spans file is refused with the reason, not
    // read with empty maps.
    std::fs::remove_file(d.path().join("ds/resources.parquet")).unwrap();
    let o = canalyst(
        &["ingest", "ds/spans.parquet", "-o", "lost", "--strict"],
        Some(d.path()),
    );
    assert_ne!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(err.contains("resources.parquet"), "{err}");
}

#[test]
fn compression_and_framing_give_identical_tables() {
    let text = synthetic(300, 10);
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let zst = zstd::encode_all(text.as_bytes(), 3).unwrap();
    let framed = {
        let mut v = Vec::new();
        for line in text.lines() {
            let z = zstd::encode_all(line.as_bytes(), 3).unwrap();
            v.extend((z.len() as u32).to_be_bytes());
            v.extend(z);
        }
        v
    };
    // Same file name in separate directories, so `source_file` is the same in every table;
    // the format is sniffed from content, not the name.
    let variants: Vec<(&str, Vec<u8>)> = vec![
        ("plain", text.clone().into_bytes()),
        ("gzip", gz),
        ("zstd", zst),
        ("framed", framed),
    ];
    let mut tables = Vec::new();
    for (name, bytes) in &variants {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("traces.jsonl"), bytes).unwrap();
        tables.push((name, spans_bytes(d.path(), "traces.jsonl", "2")));
    }
    let plain = &tables[0].1;
    // Framed messages are numbered by frame, lines by line: both start at 1 and count the same.
    for (name, t) in &tables[1..] {
        assert!(t == plain, "{name} differs from plain");
    }
}

#[test]
fn one_thread_and_many_write_byte_identical_datasets() {
    // Larger than one decoding piece (2 MiB), so the parallel path really splits the file.
    let text = synthetic(1200, 10);
    assert!(text.len() > 4 << 20, "{}", text.len());
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t.jsonl"), &text).unwrap();
    let one = spans_bytes(d.path(), "t.jsonl", "1");
    let many = spans_bytes(d.path(), "t.jsonl", "3");
    assert!(
        one == many,
        "thread count changed spans.parquet or resources.parquet"
    );
    let (_, q, _, _dd) = ingest(&d.path().join("t.jsonl"), &["--quiet"]);
    assert_eq!(n(&q.unwrap(), "records_ingested"), 12_000);
}

#[test]
fn inspect_reads_raw_files_and_datasets_alike() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t.jsonl"), synthetic(20, 5)).unwrap();
    let raw = canalyst(&["inspect", "t.jsonl", "--json"], Some(d.path()));
    assert_eq!(raw.status.code(), Some(0), "{}", stderr(&raw));
    let raw: Value = serde_json::from_slice(&raw.stdout).unwrap();
    let o = canalyst(
        &["ingest", "t.jsonl", "-o", "ds", "--quiet"],
        Some(d.path()),
    );
    assert_eq!(o.status.code(), Some(0));
    let ds = canalyst(&["inspect", "ds", "--json"], Some(d.path()));
    let ds: Value = serde_json::from_slice(&ds.stdout).unwrap();
    assert_eq!(raw["inventory"], ds["inventory"]);
    let inv = &ds["inventory"];
    assert_eq!(inv["spans"], 100);
    assert_eq!(inv["by_track"]["stable"], 50);
    assert_eq!(inv["by_service"]["checkout"], 100);
    assert_eq!(inv["by_status"]["error"], 2);
    assert_eq!(inv["by_kind"]["server"], 100);
    assert_eq!(inv["by_route"]["/r0"], 15);
    assert_eq!(ds["data_quality"]["records_ingested"], 100);
    let text = canalyst(&["inspect", "ds"], Some(d.path()));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("spans: 100"), "{text}");
    assert!(text.contains("time range: 2023-11-14T22:13:20"), "{text}");
}

#[test]
fn duckdb_and_polars_open_the_dataset() {
    let d = synthetic_dataset(40, 5);
    let file = d.path().join("ds/spans.parquet");
    let file = file.to_str().unwrap();
    let res = d.path().join("ds/resources.parquet");
    let res = res.to_str().unwrap();
    // The paths go in as Python string literals (repr), never spliced into SQL text. The
    // resource attributes are read as the README shows: spans joined with resources.parquet
    // on resource_id; every span's resource must name the span's own service.
    let test = "duckdb_and_polars_open_the_dataset";
    if let Some(out) = python(
        test,
        "duckdb",
        &format!(
            "import duckdb; p={file:?}; r={res:?}; print(duckdb.execute(\"SELECT count(*), count(DISTINCT service_name), sum(CASE WHEN is_error THEN 1 ELSE 0 END), sum(CASE WHEN resource_attributes['service.name'] = service_name THEN 1 ELSE 0 END) FROM read_parquet(?) JOIN read_parquet(?) USING (resource_id)\", [p, r]).fetchone())"
        ),
    ) {
        assert_eq!(out, "(200, 1, 4, 200)");
    }
    if let Some(out) = python(
        test,
        "polars",
        &format!(
            "import polars as pl; df = pl.scan_parquet({file:?}).join(pl.scan_parquet({res:?}), on='resource_id', how='left').collect(); same = (df['resource_attributes'].map.get('service.name') == df['service_name'].cast(pl.String)).sum(); print(df.height, df['deployment_track'].n_unique(), df['span_attributes'].dtype.__class__.__name__, df['resource_attributes'].dtype.__class__.__name__, same)"
        ),
    ) {
        assert_eq!(out, "200 2 Map Map 200");
    }
}

/// Every table of a DATASET with the column chunks' codec, read back.
pub(crate) fn tables_and_codecs(
    ds: &Path,
) -> Vec<(Vec<arrow::record_batch::RecordBatch>, Vec<String>)> {
    ["spans.parquet", "resources.parquet"]
        .iter()
        .map(|f| {
            let file = std::fs::File::open(ds.join(f)).unwrap();
            let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                .unwrap();
            let codecs = b
                .metadata()
                .row_groups()
                .iter()
                .flat_map(|rg| {
                    rg.columns()
                        .iter()
                        .map(|c| format!("{:?}", c.compression()))
                })
                // The name only: a Parquet file does not record the zstd level it was written at.
                .map(|c| c.split('(').next().unwrap_or_default().to_string())
                .collect();
            let batches = b.build().unwrap().map(|r| r.unwrap()).collect();
            (batches, codecs)
        })
        .collect()
}

/// Uncompressed JSON lines are mapped into memory unless `--no-mmap`; either way, at one thread
/// or two, the DATASET is byte for byte the same (the input spans several 2 MiB pieces, whose
/// lines a mapped ingest numbers after decoding): spans' and metric points' source lines, and
/// bad lines' issues at their lines in later pieces.
#[test]
fn no_mmap_changes_nothing_written() {
    let d = tempfile::tempdir().unwrap();
    let mut lines: Vec<String> = synthetic(1200, 20).lines().map(str::to_string).collect();
    // Metric points remember their lines too (metric_points.parquet's source_line).
    for (k, at) in [12usize, 640, 1100].into_iter().enumerate() {
        lines.insert(
            at - 1,
            format!(
                r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"svc"}}}}]}},"scopeMetrics":[{{"metrics":[{{"name":"m","gauge":{{"dataPoints":[{{"timeUnixNano":"{}","asDouble":1.5}}]}}}}]}}]}}]}}"#,
                1_700_000_000_000_000_000u64 + k as u64 * 1_000_000_000
            ),
        );
    }
    // Inserted last, in order: each lands at its line.
    let bad = [5, 700, 1150];
    for at in bad {
        lines.insert(at - 1, "{\"resourceSpans\": [".to_string());
    }
    let text = lines.join("\n") + "\n";
    assert!(text.len() > 3 * (2 << 20), "{} bytes", text.len());
    std::fs::write(d.path().join("t.jsonl"), text).unwrap();
    let mut runs = Vec::new();
    for (flags, out) in [
        (&[][..], "mapped"),
        (&["--no-mmap"][..], "read"),
        (&["--threads", "2"][..], "mapped-2"),
        (&["--threads", "2", "--no-mmap"][..], "read-2"),
    ] {
        let mut args = vec!["ingest", "t.jsonl", "-o", out, "--quiet"];
        args.extend(flags);
        let o = canalyst(&args, Some(d.path()));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(d.path().join(out))
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into(),
                    std::fs::read(p).unwrap(),
                )
            })
            .collect();
        files.sort();
        runs.push((out, files));
    }
    let names: Vec<&String> = runs[0].1.iter().map(|f| &f.0).collect();
    for table in ["spans.parquet", "metric_points.parquet"] {
        assert!(names.iter().any(|n| *n == table), "{table}: {names:?}");
    }
    for (out, files) in &runs[1..] {
        assert!(
            *files == runs[0].1,
            "{out} differs from the mapped one-thread ingest"
        );
    }
    let q = std::fs::read_to_string(d.path().join("mapped/data_quality.json")).unwrap();
    assert!(q.contains("\"records_ingested\": 24003"), "{q}");
    for at in bad {
        assert!(
            q.contains(&format!("\"line\": {at},")),
            "no issue at line {at}: {q}"
        );
    }
}

/// `--compression` picks the codec of every Parquet file of the DATASET (LZ4_RAW by default)
/// and changes nothing else: the tables read back equal; a bad codec is refused by name.
#[test]
fn compression_picks_the_codec_and_nothing_else() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t.jsonl"), synthetic(40, 5)).unwrap();
    let mut seen = Vec::new();
    for (flag, codec) in [
        (None, "LZ4_RAW"),
        (Some("zstd"), "ZSTD"),
        (Some("zstd:9"), "ZSTD"),
        (Some("none"), "UNCOMPRESSED"),
    ] {
        let out = format!("ds-{}", flag.unwrap_or("default"));
        let mut args = vec!["ingest", "t.jsonl", "-o", out.as_str(), "--quiet"];
        args.extend(flag.map(|f| ["--compression", f]).iter().flatten());
        let o = canalyst(&args, Some(d.path()));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let tables = tables_and_codecs(&d.path().join(&out));
        for (_, codecs) in &tables {
            assert!(!codecs.is_empty());
            assert!(codecs.iter().all(|c| c == codec), "{flag:?}: {codecs:?}");
        }
        seen.push(tables.into_iter().map(|t| t.0).collect::<Vec<_>>());
    }
    assert!(
        seen.iter().all(|t| *t == seen[0]),
        "a codec changed the tables"
    );
    assert_eq!(seen[0][0].iter().map(|b| b.num_rows()).sum::<usize>(), 200);
    for (bad, says) in [
        ("zstd:30", "zstd level 30 is outside 1-22"),
        ("brotli", "unknown compression \"brotli\""),
    ] {
        let o = canalyst(
            &["ingest", "t.jsonl", "-o", "bad", "--compression", bad],
            Some(d.path()),
        );
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(stderr(&o).contains(says), "{bad}: {}", stderr(&o));
        assert!(!d.path().join("bad").exists());
    }
}
