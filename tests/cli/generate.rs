//! `canalyst generate`: determinism, OTLP/JSON validity, Parquet/JSON agreement, truth.json,
//! and the committed sample data.

use arrow::array::AsArray;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary under test; `CANALYST_BIN` overrides it (useful when several worktrees share
/// one target directory and may overwrite each other's build).
fn bin() -> Command {
    match std::env::var_os("CANALYST_BIN") {
        Some(p) => Command::new(p),
        None => Command::new(env!("CARGO_BIN_EXE_canalyst")),
    }
}

/// Runs `canalyst [global] generate [args] -o dir` and asserts success.
fn generate(global: &[&str], args: &[&str], dir: &Path) {
    let out = bin()
        .args(global)
        .arg("generate")
        .args(args)
        .arg("-o")
        .arg(dir)
        .output()
        .expect("run canalyst");
    assert!(
        out.status.success(),
        "generate {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read(p: impl AsRef<Path>) -> Vec<u8> {
    let p = p.as_ref();
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn truth(dir: &Path) -> Value {
    serde_json::from_slice(&read(dir.join("truth.json"))).expect("truth.json is JSON")
}

const OUTPUTS: [&str; 3] = [
    "otlp/traces.jsonl.zst",
    "parquet/spans.parquet",
    "truth.json",
];

#[test]
fn output_is_identical_for_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let args = [
        "--scenario",
        "mixed",
        "--spans",
        "30000",
        "--compress",
        "zstd",
    ];
    generate(&["--threads", "1"], &args, &a);
    generate(&["--threads", "2"], &args, &b);
    for f in OUTPUTS {
        assert!(
            read(a.join(f)) == read(b.join(f)),
            "{f} differs between 1 and 2 threads"
        );
    }
    // A different seed gives different traffic.
    generate(&[], &[&args[..], &["--seed", "7"]].concat(), &c);
    assert!(read(a.join(OUTPUTS[0])) != read(c.join(OUTPUTS[0])));
}

fn attr<'a>(attrs: &'a Value, key: &str) -> Option<&'a Value> {
    attrs
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks one typed attribute list and returns the number of attributes.
fn check_attributes(attrs: &Value, ctx: &str) -> usize {
    let list = attrs
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: attributes not a list"));
    for kv in list {
        assert!(kv["key"].is_string(), "{ctx}: {kv}");
        let v = kv["value"]
            .as_object()
            .unwrap_or_else(|| panic!("{ctx}: {kv}"));
        assert_eq!(v.len(), 1, "{ctx}: one typed value: {kv}");
        let (t, x) = v.iter().next().unwrap();
        match t.as_str() {
            "stringValue" => assert!(x.is_string()),
            "intValue" => assert!(x.as_str().and_then(|s| s.parse::<i64>().ok()).is_some()),
            "boolValue" => assert!(x.is_boolean()),
            "doubleValue" => assert!(x.is_number()),
            other => panic!("{ctx}: unexpected value type {other}"),
        }
    }
    list.len()
}

#[test]
fn json_is_valid_otlp_and_matches_parquet_and_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    generate(
        &[],
        &["--scenario", "errors", "--spans", "20000", "--seed", "3"],
        dir,
    );
    let text = String::from_utf8(read(dir.join("otlp/traces.jsonl"))).unwrap();
    assert!(text.ends_with('\n'));
    let mut span_ids = HashSet::new();
    // span id -> (JSON line, start, duration, status code, http.route)
    let mut from_json: HashMap<String, (i64, i64, i64, i32, Option<String>)> = HashMap::new();
    let mut lines = 0u64;
    let (mut errors, mut exceptions) = (0, 0);
    let mut resources_seen = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        lines += 1;
        let ctx = format!("line {}", n + 1);
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let rs = v["resourceSpans"].as_array().expect("resourceSpans");
        assert!(!rs.is_empty(), "{ctx}");
        let mut in_line = HashSet::new();
        let mut ids_in_line = HashSet::new();
        let mut parents = Vec::new();
        for r in rs {
            let ra = &r["resource"]["attributes"];
            check_attributes(ra, &ctx);
            let key = ["service.name", "service.version", "deployment.track"].map(|k| {
                attr(ra, k)
                    .and_then(|v| v["stringValue"].as_str())
                    .unwrap()
                    .to_string()
            });
            assert!(
                matches!(
                    (key[1].as_str(), key[2].as_str()),
                    ("2.3.0", "stable") | ("2.4.0", "canary")
                ),
                "{ctx}: {key:?}"
            );
            assert_eq!(
                attr(ra, "deployment.environment.name").unwrap()["stringValue"],
                "prod"
            );
            assert!(
                in_line.insert(key.clone()),
                "{ctx}: resource {key:?} repeated"
            );
            resources_seen.insert(key);
            let ss = r["scopeSpans"].as_array().expect("scopeSpans");
            assert_eq!(ss.len(), 1, "{ctx}");
            assert!(ss[0]["scope"]["name"].is_string());
            for sp in ss[0]["spans"].as_array().expect("spans") {
                let trace = sp["traceId"].as_str().unwrap();
                let id = sp["spanId"].as_str().unwrap();
                assert!(is_hex(trace, 32) && is_hex(id, 16), "{ctx}: {sp}");
                assert!(
                    span_ids.insert(id.to_string()),
                    "{ctx}: duplicate span id {id}"
                );
                ids_in_line.insert((trace.to_string(), id.to_string()));
                if let Some(p) = sp.get("parentSpanId") {
                    let p = p.as_str().unwrap();
                    assert!(is_hex(p, 16), "{ctx}: {sp}");
                    parents.push((trace.to_string(), p.to_string()));
                }
                assert!(sp["name"].as_str().is_some_and(|s| !s.is_empty()));
                let kind = sp["kind"].as_i64().expect("kind is an integer");
                assert!((1..=3).contains(&kind), "{ctx}: kind {kind}");
                let start: u64 = sp["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
                let end: u64 = sp["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
                assert!(end > start, "{ctx}: {sp}");
                let attrs = &sp["attributes"];
                assert!(check_attributes(attrs, &ctx) > 0);
                let route = attr(attrs, "http.route")
                    .and_then(|v| v["stringValue"].as_str().map(String::from));
                let code = sp["status"]["code"].as_i64().unwrap_or(0) as i32;
                let row = (
                    n as i64 + 1,
                    start as i64,
                    (end - start) as i64,
                    code,
                    route,
                );
                from_json.insert(id.to_string(), row);
                if kind == 2 {
                    assert!(attr(attrs, "http.route").is_some(), "{ctx}: {sp}");
                    let path = attr(attrs, "url.path").unwrap()["stringValue"]
                        .as_str()
                        .unwrap();
                    assert!(
                        path.starts_with('/') && !path.contains('{'),
                        "{ctx}: {path}"
                    );
                    assert!(
                        attr(attrs, "http.response.status_code").unwrap()["intValue"].is_string()
                    );
                }
                let status = sp["status"].as_object().expect("status object");
                if let Some(code) = status.get("code") {
                    assert_eq!(code.as_i64(), Some(2), "{ctx}: {sp}");
                    assert!(status["message"].is_string());
                    errors += 1;
                } else {
                    assert!(status.is_empty(), "{ctx}: {sp}");
                }
                if let Some(events) = sp.get("events") {
                    for e in events.as_array().unwrap() {
                        assert_eq!(e["name"], "exception");
                        let t: u64 = e["timeUnixNano"].as_str().unwrap().parse().unwrap();
                        assert!(t >= start && t <= end, "{ctx}: event outside its span");
                        for k in [
                            "exception.type",
                            "exception.message",
                            "exception.stacktrace",
                        ] {
                            assert!(attr(&e["attributes"], k).is_some(), "{ctx}: {k}");
                        }
                        exceptions += 1;
                    }
                    assert!(
                        status.contains_key("code"),
                        "{ctx}: exception without error"
                    );
                }
            }
        }
        // Collector batches carry whole traces here: every parent is in the same line.
        for p in parents {
            assert!(
                ids_in_line.contains(&p),
                "{ctx}: parent {p:?} not in the line"
            );
        }
    }
    assert!(errors > 0 && exceptions > 0 && exceptions <= errors);
    assert_eq!(resources_seen.len(), 14, "7 services x 2 tracks");
    let spans = span_ids.len() as f64;
    assert!(
        (spans / 20_000.0 - 1.0).abs() < 0.05,
        "{spans} spans for --spans 20000"
    );

    let t = truth(dir);
    assert_eq!(t["scenario"], "errors");
    assert_eq!(t["seed"], 3);
    assert_eq!(t["spans"].as_f64(), Some(spans));
    assert_eq!(t["lines"].as_u64(), Some(lines));
    assert_eq!(t["files"]["otlp_traces"], "otlp/traces.jsonl");

    // Parquet: one row per JSON span, same ids, traceable to the JSON line.
    let f = std::fs::File::open(dir.join("parquet/spans.parquet")).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let mut rows = 0usize;
    let mut parquet_ids = HashSet::new();
    let mut max_line = 0i64;
    let mut tracks: HashMap<String, usize> = HashMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        let ids = batch
            .column_by_name("span_id")
            .unwrap()
            .as_fixed_size_binary();
        let line = batch
            .column_by_name("source_line")
            .unwrap()
            .as_primitive::<arrow::datatypes::Int64Type>();
        let file = arrow::compute::cast(
            batch.column_by_name("source_file").unwrap(),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let track = arrow::compute::cast(
            batch.column_by_name("deployment_track").unwrap(),
            &arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let col = |n: &str| batch.column_by_name(n).unwrap().clone();
        let start =
            arrow::compute::cast(&col("start_time"), &arrow::datatypes::DataType::Int64).unwrap();
        let start = start.as_primitive::<arrow::datatypes::Int64Type>();
        let dur = col("duration_ns");
        let dur = dur.as_primitive::<arrow::datatypes::Int64Type>();
        let status = col("status_code");
        let status = status.as_primitive::<arrow::datatypes::Int32Type>();
        let route =
            arrow::compute::cast(&col("http_route"), &arrow::datatypes::DataType::Utf8).unwrap();
        let route = route.as_string::<i32>();
        for i in 0..batch.num_rows() {
            let hex: String = ids.value(i).iter().map(|b| format!("{b:02x}")).collect();
            let json = &from_json[&hex];
            let r = (!arrow::array::Array::is_null(route, i)).then(|| route.value(i).to_string());
            let row = (
                line.value(i),
                start.value(i),
                dur.value(i),
                status.value(i),
                r,
            );
            assert_eq!(&row, json, "span {hex}: parquet vs JSON");
            parquet_ids.insert(hex);
            assert!(line.value(i) >= 1);
            max_line = max_line.max(line.value(i));
            assert_eq!(file.as_string::<i32>().value(i), "otlp/traces.jsonl");
            *tracks
                .entry(track.as_string::<i32>().value(i).to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(rows, span_ids.len());
    assert_eq!(parquet_ids, span_ids);
    assert_eq!(max_line as u64, lines);
    let canary = tracks["canary"] as f64 / rows as f64;
    assert!(
        canary > 0.05 && canary < 0.15,
        "canary share of spans {canary}"
    );
}

fn effects(t: &Value) -> Vec<(String, String, String)> {
    t["effects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["track"], "canary");
            assert!(e["description"].as_str().is_some_and(|d| !d.is_empty()));
            assert!(e["multiplier"].as_f64().unwrap() > 1.0);
            let s = |k: &str| e[k].as_str().unwrap().to_string();
            (s("service"), s("operation"), s("metric"))
        })
        .collect()
}

/// (service, operation, metric) of an expected effect.
type Expected = (&'static str, &'static str, &'static str);

#[test]
fn truth_describes_each_scenario() {
    let tmp = tempfile::tempdir().unwrap();
    let expect: &[(&str, &[Expected])] = &[
        ("aa", &[]),
        (
            "latency",
            &[("checkout", "POST /checkout", "latency_shift")],
        ),
        ("errors", &[("payment", "POST /charge", "error_rate")]),
        (
            "tail",
            &[("productcatalog", "GET /products/{id}", "latency_p99")],
        ),
        (
            "mixed",
            &[
                ("checkout", "POST /checkout", "latency_shift"),
                ("payment", "POST /charge", "error_rate"),
                ("productcatalog", "GET /search", "latency_p99"),
            ],
        ),
        (
            "downstream",
            &[
                ("cartservice", "GET /cart", "latency_shift"),
                ("cartservice", "POST /cart/items", "latency_shift"),
                ("cartservice", "DELETE /cart", "latency_shift"),
            ],
        ),
        (
            "low-traffic",
            &[("payment", "POST /gift-cards/redeem", "latency_shift")],
        ),
    ];
    for (scenario, want) in expect {
        let dir = tmp.path().join(scenario);
        generate(&[], &["--scenario", scenario, "--spans", "5000"], &dir);
        let t = truth(&dir);
        assert_eq!(t["scenario"], *scenario);
        let got = effects(&t);
        let want: Vec<_> = want
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect();
        assert_eq!(got, want, "{scenario}");
        // Effects and clean routes partition the 19 routes.
        let clean = t["clean"].as_array().unwrap();
        assert_eq!(clean.len() + got.len(), 19, "{scenario}");
        for c in clean {
            let key = (
                c["service"].as_str().unwrap(),
                c["operation"].as_str().unwrap(),
            );
            assert!(c["route"].is_string());
            assert!(
                !got.iter().any(|g| (g.0.as_str(), g.1.as_str()) == key),
                "{scenario}: {key:?} both clean and affected"
            );
        }
        assert_eq!(t["time_range"]["start"], "2026-01-01T00:00:00Z");
        assert_eq!(t["time_range"]["canary_start"], "2026-01-01T00:05:00Z");
        assert_eq!(t["stable"]["version"], "2.3.0");
        assert_eq!(t["canary"]["track"], "canary");
    }
    // Downstream effects are visible in the callers' CLIENT spans.
    let t = truth(&tmp.path().join("downstream"));
    let vis = &t["effects"][0]["visible_in"];
    assert!(vis
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["service"] == "frontend"
            && v["span_kind"] == "CLIENT"
            && v["span_name"] == "GET /cart"));
}

#[test]
fn low_traffic_effect_has_few_canary_requests() {
    let tmp = tempfile::tempdir().unwrap();
    generate(
        &[],
        &["--scenario", "low-traffic", "--spans", "60000"],
        tmp.path(),
    );
    let t = truth(tmp.path());
    let obs = &t["effects"][0]["observed"];
    let canary = obs["canary_requests"].as_u64().unwrap();
    assert!(canary > 0 && canary < 50, "canary requests {canary}");
    assert!(obs["stable_requests"].as_u64().unwrap() > 5 * canary);
}

#[test]
fn options_are_validated() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in [
        &["--canary-share", "1.5"][..],
        &["--spans", "0"],
        &["--start", "yesterday"],
        &["--canary-delay-minutes", "90"],
    ] {
        let out = bin()
            .arg("generate")
            .args(bad)
            .arg("-o")
            .arg(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("error"));
    }
    // --start moves the run.
    generate(
        &[],
        &["--spans", "2000", "--start", "2026-03-01T12:00:00Z"],
        tmp.path(),
    );
    assert_eq!(
        truth(tmp.path())["time_range"]["canary_start"],
        "2026-03-01T12:05:00Z"
    );
}

/// The committed `sample-data/` must be exactly what its README command produces.
#[test]
fn sample_data_is_reproducible() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-data");
    let readme = String::from_utf8(read(root.join("README.md"))).unwrap();
    let cmd = readme
        .lines()
        .find(|l| l.trim_start().starts_with("canalyst generate"))
        .expect("README gives the command");
    let args: Vec<&str> = cmd.split_whitespace().skip(2).collect();
    let o = args
        .iter()
        .position(|a| *a == "-o")
        .expect("-o in the command");
    let args: Vec<&str> = args[..o].iter().chain(&args[o + 2..]).copied().collect();
    let tmp = tempfile::tempdir().unwrap();
    generate(&[], &args, tmp.path());
    for f in [
        "otlp/traces.jsonl.gz",
        "parquet/spans.parquet",
        "truth.json",
    ] {
        assert!(
            read(root.join(f)) == read(tmp.path().join(f)),
            "sample-data/{f} differs from a fresh `{cmd}`: regenerate it"
        );
    }
}
