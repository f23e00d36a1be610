//! `canalyst generate`: determinism, OTLP/JSON validity, Parquet/JSON agreement, truth.json,
//! and the committed sample data.

use arrow::array::AsArray;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::fixtures::bin;

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

const OUTPUTS: [&str; 4] = [
    "otlp/traces.jsonl.zst",
    "otlp/metrics.jsonl.zst",
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
            let m = e["multiplier"].as_f64().unwrap();
            // Regressions: more latency or errors, or fewer orders (business_ratio).
            if e["metric"] == "business_ratio" {
                assert!(m > 0.0 && m < 1.0, "{e}");
            } else {
                assert!(m > 1.0, "{e}");
            }
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
        (
            "conversion",
            &[("frontend", "POST /checkout", "business_ratio")],
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
    assert!((30..=60).contains(&canary), "canary requests {canary}");
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
        &["--metric-interval-seconds", "0"],
        &["--metric-temporality", "sometimes"],
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
        "otlp/metrics.jsonl.gz",
        "parquet/spans.parquet",
        "truth.json",
    ] {
        assert!(
            read(root.join(f)) == read(tmp.path().join(f)),
            "sample-data/{f} differs from a fresh `{cmd}`: regenerate it"
        );
    }
}

/// (service, track, method, route, status code) of a request stream.
type StreamKey = (String, String, String, String, i64);

/// SERVER span counts and duration sums (ns) per stream, from the Parquet file.
fn server_spans(path: &Path) -> HashMap<StreamKey, (u64, i128)> {
    let f = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let mut out: HashMap<StreamKey, (u64, i128)> = HashMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        let col = |n: &str| batch.column_by_name(n).unwrap().clone();
        // String columns are dictionary-encoded in the canonical schema.
        let text =
            |n: &str| arrow::compute::cast(&col(n), &arrow::datatypes::DataType::Utf8).unwrap();
        let (svc, track, method, route) = (
            text("service_name"),
            text("deployment_track"),
            text("http_method"),
            text("http_route"),
        );
        let (kind, status, dur) = (
            col("span_kind"),
            col("http_status_code"),
            col("duration_ns"),
        );
        let kind = kind.as_primitive::<arrow::datatypes::Int32Type>();
        let status = status.as_primitive::<arrow::datatypes::Int32Type>();
        let dur = dur.as_primitive::<arrow::datatypes::Int64Type>();
        let s = |a: &arrow::array::ArrayRef, i: usize| a.as_string::<i32>().value(i).to_string();
        for i in 0..batch.num_rows() {
            if kind.value(i) != 2 {
                continue;
            }
            let key = (
                s(&svc, i),
                s(&track, i),
                s(&method, i),
                s(&route, i),
                i64::from(status.value(i)),
            );
            let e = out.entry(key).or_default();
            e.0 += 1;
            e.1 += i128::from(dur.value(i));
        }
    }
    out
}

fn str_attr(attrs: &Value, key: &str) -> String {
    match attr(attrs, key) {
        Some(Value::Object(v)) => match v.iter().next() {
            Some((_, Value::String(s))) => s.clone(),
            other => panic!("{key}: {other:?}"),
        },
        other => panic!("{key}: {other:?}"),
    }
}

fn u64_str(v: &Value, ctx: &str) -> u64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{ctx}: not a uint64 string: {v}"))
}

/// One duration point: its stream, start and time, count and sum.
struct DurationPoint {
    key: StreamKey,
    start: u64,
    time: u64,
    count: u64,
    sum: f64,
}

/// A business counter point: (track, start, time, metric name, value).
type OrderPoint = (String, u64, u64, String, u64);

/// Parses and checks a metrics file; returns the duration points (in file order) and the
/// business counter points `(track, start, time, name, value)`.
fn read_metrics(path: &Path, exponential: bool) -> (Vec<DurationPoint>, Vec<OrderPoint>) {
    let text = String::from_utf8(read(path)).unwrap();
    let mut points = Vec::new();
    let mut orders = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let ctx = format!("{}:{}", path.display(), n + 1);
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let rms = v["resourceMetrics"].as_array().expect("resourceMetrics");
        assert!(!rms.is_empty(), "{ctx}");
        for rm in rms {
            let ra = &rm["resource"]["attributes"];
            check_attributes(ra, &ctx);
            assert!(rm["schemaUrl"].is_string());
            let (svc, track) = (
                str_attr(ra, "service.name"),
                str_attr(ra, "deployment.track"),
            );
            for sm in rm["scopeMetrics"].as_array().expect("scopeMetrics") {
                assert!(sm["scope"]["name"].is_string(), "{ctx}");
                for m in sm["metrics"].as_array().expect("metrics") {
                    let name = m["name"].as_str().expect("metric name");
                    assert!(m["unit"].is_string(), "{ctx}: {name}");
                    match name {
                        "http.server.request.duration" => {
                            assert_eq!(m["unit"], "s");
                            let h = if exponential {
                                &m["exponentialHistogram"]
                            } else {
                                &m["histogram"]
                            };
                            assert!(h["aggregationTemporality"].is_i64(), "{ctx}");
                            for dp in h["dataPoints"].as_array().unwrap() {
                                let a = &dp["attributes"];
                                check_attributes(a, &ctx);
                                let count = u64_str(&dp["count"], &ctx);
                                let buckets: u64 = if exponential {
                                    let scale = dp["scale"].as_i64().unwrap();
                                    assert!((-10..=20).contains(&scale), "{ctx}");
                                    let bc = dp["positive"]["bucketCounts"].as_array().unwrap();
                                    assert!(bc.len() <= 160, "{ctx}");
                                    assert!(dp["positive"]["offset"].is_i64());
                                    u64_str(&dp["zeroCount"], &ctx)
                                        + bc.iter().map(|c| u64_str(c, &ctx)).sum::<u64>()
                                } else {
                                    let bounds = dp["explicitBounds"].as_array().unwrap();
                                    assert_eq!(bounds.len(), 14);
                                    assert_eq!(bounds[0].as_f64(), Some(0.005));
                                    let bc = dp["bucketCounts"].as_array().unwrap();
                                    assert_eq!(bc.len(), bounds.len() + 1, "{ctx}");
                                    bc.iter().map(|c| u64_str(c, &ctx)).sum()
                                };
                                assert_eq!(buckets, count, "{ctx}: bucket counts vs count");
                                let (min, max) =
                                    (dp["min"].as_f64().unwrap(), dp["max"].as_f64().unwrap());
                                assert!(0.0 < min && min <= max, "{ctx}");
                                let start = u64_str(&dp["startTimeUnixNano"], &ctx);
                                let time = u64_str(&dp["timeUnixNano"], &ctx);
                                assert!(start < time, "{ctx}");
                                points.push(DurationPoint {
                                    key: (
                                        svc.clone(),
                                        track.clone(),
                                        str_attr(a, "http.request.method"),
                                        str_attr(a, "http.route"),
                                        u64_str(
                                            &attr(a, "http.response.status_code").unwrap()
                                                ["intValue"],
                                            &ctx,
                                        ) as i64,
                                    ),
                                    start,
                                    time,
                                    count,
                                    sum: dp["sum"].as_f64().unwrap(),
                                });
                            }
                        }
                        "http.server.requests" | "orders.placed" | "orders.checkout_attempts" => {
                            assert_eq!(m["sum"]["isMonotonic"], true, "{ctx}");
                            for dp in m["sum"]["dataPoints"].as_array().unwrap() {
                                let value = u64_str(&dp["asInt"], &ctx);
                                if name != "http.server.requests" {
                                    orders.push((
                                        track.clone(),
                                        u64_str(&dp["startTimeUnixNano"], &ctx),
                                        u64_str(&dp["timeUnixNano"], &ctx),
                                        name.to_string(),
                                        value,
                                    ));
                                }
                            }
                        }
                        other => panic!("{ctx}: unexpected metric {other}"),
                    }
                }
            }
        }
    }
    (points, orders)
}

/// Per stream: the last point of each process (start time), summed: the run's totals.
fn cumulative_totals(points: &[DurationPoint]) -> HashMap<StreamKey, (u64, f64)> {
    let mut last: HashMap<(StreamKey, u64), &DurationPoint> = HashMap::new();
    for p in points {
        if let Some(prev) = last.get(&(p.key.clone(), p.start)) {
            assert!(
                p.time > prev.time && p.count >= prev.count,
                "{:?} not a running total",
                p.key
            );
        }
        last.insert((p.key.clone(), p.start), p);
    }
    let mut out: HashMap<StreamKey, (u64, f64)> = HashMap::new();
    for p in last.values() {
        let e = out.entry(p.key.clone()).or_default();
        e.0 += p.count;
        e.1 += p.sum;
    }
    out
}

fn check_against_spans(
    totals: &HashMap<StreamKey, (u64, f64)>,
    spans: &HashMap<StreamKey, (u64, i128)>,
) {
    let mut keys: Vec<_> = spans.keys().collect();
    keys.sort();
    for k in keys {
        let (n, ns) = spans[k];
        let (m, sum) = totals.get(k).copied().unwrap_or_default();
        assert_eq!(m, n, "{k:?}: histogram count vs SERVER spans");
        let want = ns as f64 / 1e9;
        assert!(
            (sum - want).abs() <= 1e-9 * want.max(1.0),
            "{k:?}: sum {sum} vs {want}"
        );
    }
    assert_eq!(totals.len(), spans.len(), "streams without spans");
}

#[test]
fn metrics_are_valid_otlp_and_agree_with_the_spans() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    generate(
        &[],
        &[
            "--scenario",
            "conversion",
            "--spans",
            "60000",
            "--canary-share",
            "0.5",
        ],
        dir,
    );
    let spans = server_spans(&dir.join("parquet/spans.parquet"));
    let (points, orders) = read_metrics(&dir.join("otlp/metrics.jsonl"), false);
    check_against_spans(&cumulative_totals(&points), &spans);

    // The canary frontend restarted once: two start times, the later one at the reset.
    let t = truth(dir);
    let resets = t["metric_resets"].as_array().unwrap();
    assert_eq!(resets.len(), 1);
    assert_eq!(resets[0]["service"], "frontend");
    let reset_at = resets[0]["time_unix_nano"].as_u64().unwrap();
    let mut starts: Vec<u64> = points
        .iter()
        .filter(|p| p.key.0 == "frontend" && p.key.1 == "canary")
        .map(|p| p.start)
        .collect();
    starts.sort_unstable();
    starts.dedup();
    assert_eq!(
        starts,
        vec![
            resets[0]["previous_start_unix_nano"].as_u64().unwrap(),
            reset_at
        ]
    );

    // truth.json's metric totals are the span counts per (service, track, route).
    let mut by_route: HashMap<(String, String, String, String), (u64, u64)> = HashMap::new();
    for (k, (n, _)) in &spans {
        let e = by_route
            .entry((k.0.clone(), k.1.clone(), k.2.clone(), k.3.clone()))
            .or_default();
        e.0 += n;
        if k.4 >= 500 {
            e.1 += n;
        }
    }
    let routes = t["metrics"]["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 19 * 2, "every route on both tracks");
    for r in routes {
        let s = |k: &str| r[k].as_str().unwrap().to_string();
        let got = (
            r["requests"].as_u64().unwrap(),
            r["errors"].as_u64().unwrap(),
        );
        let want = by_route
            .get(&(s("service"), s("track"), s("method"), s("route")))
            .copied()
            .unwrap_or_default();
        assert_eq!(got, want, "{r}");
    }

    // Business counters: attempts are the frontend POST /checkout SERVER spans; the canary
    // converts about 20% less (0.94 -> 0.752 of successful checkouts).
    let mut last: HashMap<(String, u64, String), u64> = HashMap::new();
    for (track, start, _, name, v) in &orders {
        last.insert((track.clone(), *start, name.clone()), *v);
    }
    let total = |track: &str, name: &str| -> u64 {
        last.iter()
            .filter(|(k, _)| k.0 == track && k.2 == name)
            .map(|(_, v)| v)
            .sum()
    };
    for track in ["stable", "canary"] {
        let attempts: u64 = spans
            .iter()
            .filter(|(k, _)| k.0 == "frontend" && k.1 == track && k.3 == "/checkout")
            .map(|(_, v)| v.0)
            .sum();
        assert_eq!(
            total(track, "orders.checkout_attempts"),
            attempts,
            "{track}"
        );
    }
    let rate = |track: &str| {
        total(track, "orders.placed") as f64 / total(track, "orders.checkout_attempts") as f64
    };
    let (st, ca) = (rate("stable"), rate("canary"));
    assert!((st - 0.93).abs() < 0.03, "stable conversion {st}");
    assert!(
        (ca / st - 0.8).abs() < 0.1,
        "canary/stable conversion {}",
        ca / st
    );
    let e = &t["effects"][0];
    assert_eq!(e["metric"], "business_ratio");
    assert_eq!(
        t["metrics"]["orders"][1]["checkout_attempts"].as_u64(),
        Some(total("canary", "orders.checkout_attempts"))
    );
}

#[test]
fn delta_exponential_metrics_are_deterministic_and_agree_with_the_spans() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let args = [
        "--spans",
        "20000",
        "--metric-temporality",
        "delta",
        "--exponential-histograms",
        "--metric-interval-seconds",
        "30",
    ];
    generate(&["--threads", "1"], &args, &a);
    generate(&["--threads", "2"], &args, &b);
    let f = "otlp/metrics.jsonl";
    assert!(
        read(a.join(f)) == read(b.join(f)),
        "{f} differs between 1 and 2 threads"
    );
    let spans = server_spans(&a.join("parquet/spans.parquet"));
    let (points, _) = read_metrics(&a.join(f), true);
    let reset_at = truth(&a)["metric_resets"][0]["time_unix_nano"]
        .as_u64()
        .unwrap();
    // Delta points tile time: per stream, each starts at or after the previous one's end.
    let mut totals: HashMap<StreamKey, (u64, f64)> = HashMap::new();
    let mut prev_end: HashMap<StreamKey, u64> = HashMap::new();
    for p in &points {
        assert!(
            (p.time - 1_767_225_600_000_000_000).is_multiple_of(30_000_000_000)
                || p.time == reset_at,
            "export times are interval boundaries, or the restart: {}",
            p.time
        );
        if let Some(e) = prev_end.get(&p.key) {
            assert!(p.start >= *e, "{:?}", p.key);
        }
        prev_end.insert(p.key.clone(), p.time);
        let e = totals.entry(p.key.clone()).or_default();
        e.0 += p.count;
        e.1 += p.sum;
    }
    check_against_spans(&totals, &spans);
}

/// Runs `canalyst sql --format json QUERY DATASET` and parses the rows.
fn sql_rows(query: &str, dataset: &Path) -> Vec<Value> {
    let out = bin()
        .args(["sql", "--format", "json", query])
        .arg(dataset)
        .output()
        .expect("run canalyst sql");
    assert!(
        out.status.success(),
        "sql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("sql JSON")
        .as_array()
        .unwrap()
        .clone()
}

/// End to end: the generated metrics, ingested (cumulative points become deltas, the restart is
/// detected as a reset), give exactly the SERVER span counts per stream and the truth's order
/// totals.
#[test]
fn generated_metrics_ingest_to_the_span_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, ds) = (tmp.path().join("gen"), tmp.path().join("ds"));
    generate(
        &[],
        &[
            "--spans",
            "20000",
            "--canary-share",
            "0.3",
            "--compress",
            "gzip",
        ],
        &out,
    );
    let ingest = bin()
        .arg("ingest")
        .arg(out.join("otlp"))
        .arg("-o")
        .arg(&ds)
        .output()
        .unwrap();
    assert!(
        ingest.status.success(),
        "{}",
        String::from_utf8_lossy(&ingest.stderr)
    );
    let rows = sql_rows(
        "with m as (select service_name s, deployment_track t, \
           attributes['http.request.method'] me, attributes['http.route'] r, \
           attributes['http.response.status_code'] c, sum(\"count\") n \
           from histogram_points where metric_name = 'http.server.request.duration' \
           group by 1, 2, 3, 4, 5), \
         sp as (select service_name s, deployment_track t, http_method me, http_route r, \
           cast(http_status_code as varchar) c, count(*) n \
           from spans where span_kind = 2 group by 1, 2, 3, 4, 5) \
         select count(*) as streams, sum(case when m.n = sp.n then 0 else 1 end) as mismatches \
         from m full outer join sp on m.s = sp.s and m.t = sp.t and m.me = sp.me \
           and m.r = sp.r and m.c = sp.c",
        &ds,
    );
    assert!(rows[0]["streams"].as_u64().unwrap() > 40, "{rows:?}");
    assert_eq!(rows[0]["mismatches"].as_u64(), Some(0), "{rows:?}");
    let resets = sql_rows(
        "select count(*) as n from histogram_points where reset and service_name = 'frontend' \
         and deployment_track = 'canary'",
        &ds,
    );
    assert!(
        resets[0]["n"].as_u64().unwrap() >= 1,
        "restart not seen as a reset"
    );
    let t = truth(&out);
    for o in t["metrics"]["orders"].as_array().unwrap() {
        let q = format!(
            "select metric_name as name, sum(value) as v from metric_points \
             where deployment_track = '{}' and metric_name like 'orders.%' group by 1 order by 1",
            o["track"].as_str().unwrap()
        );
        let r = sql_rows(&q, &ds);
        assert_eq!(r[0]["name"], "orders.checkout_attempts");
        assert_eq!(r[0]["v"].as_f64(), o["checkout_attempts"].as_f64(), "{o}");
        assert_eq!(r[1]["v"].as_f64(), o["orders_placed"].as_f64(), "{o}");
    }
}
