//! The metric dashboard queries (`queries/metrics_*.sql`), the histogram aggregates and the
//! report's "Metrics over time" section, driven through the real binary on `canalyst generate`
//! output. Every total is checked against computations that share no code with the queries:
//! the generator's truth.json, the SERVER spans of the same traffic, and the cumulative
//! counters read straight from the OTLP/JSON lines with serde_json.

use crate::fixtures::{bin, code, read_json, root, stderr};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

/// Default explicit bounds of `http.server.request.duration` (seconds), as the generator
/// writes them (HTTP semantic conventions).
const BOUNDS_S: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

type Totals = BTreeMap<(String, String), (u64, u64)>;

fn run(args: &[&str]) -> Output {
    bin()
        .current_dir(root())
        .args(args)
        .output()
        .expect("run canalyst")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A generated run kept for the whole test process (OTLP/JSON kept, unlike the shared
/// fixtures): `extra` are additional `generate` flags.
fn generate(dir: &'static OnceLock<tempfile::TempDir>, extra: &[&str]) -> PathBuf {
    dir.get_or_init(|| {
        let t = tempfile::tempdir().unwrap();
        let mut args = vec!["generate", "--spans", "20000", "-o", s(t.path())];
        args.extend(extra);
        let o = run(&args);
        assert_eq!(code(&o), 0, "generate: {}", stderr(&o));
        t
    })
    .path()
    .to_path_buf()
}

fn explicit_run() -> PathBuf {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    generate(&D, &[])
}

fn exponential_run() -> PathBuf {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    generate(
        &D,
        &["--exponential-histograms", "--metric-temporality", "delta"],
    )
}

/// The shared parameters: stable vs canary, all services, the whole run, `bucket`.
fn params(bucket: &str) -> Vec<String> {
    [
        "str:stable",
        "null",
        "str:canary",
        "null",
        "null",
        "ts:2025-01-01T00:00:00Z",
        "ts:2027-01-01T00:00:00Z",
    ]
    .iter()
    .map(|v| v.to_string())
    .chain(std::iter::once(format!("interval:{bucket}")))
    .collect()
}

fn sql_rows(args: &[&str], params: &[String]) -> Vec<Value> {
    let mut a: Vec<&str> = args.to_vec();
    a.extend(["--format", "json"]);
    for p in params {
        a.extend(["-p", p.as_str()]);
    }
    let o = run(&a);
    assert_eq!(code(&o), 0, "{a:?}: {}", stderr(&o));
    match serde_json::from_slice(&o.stdout).expect("JSON rows") {
        Value::Array(rows) => rows,
        other => panic!("not an array: {other}"),
    }
}

fn query(file: &str, input: &Path, bucket: &str) -> Vec<Value> {
    let q = format!("queries/{file}");
    sql_rows(&["sql", "-f", &q, s(input)], &params(bucket))
}

fn u(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a count: {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn key(r: &Value, a: &str, b: &str) -> (String, String) {
    (
        r[a].as_str().unwrap().to_string(),
        r[b].as_str().unwrap().to_string(),
    )
}

/// Per (service, track) requests and errors from `metrics_error_rate_by_track.sql`.
fn dashboard_totals(rows: &[Value]) -> Totals {
    let mut m = Totals::new();
    for r in rows {
        let side = r["side"].as_str().unwrap();
        let track = r["deployment_track"].as_str().unwrap();
        assert_eq!(side == "baseline", track == "stable", "{r}");
        let e = m
            .entry(key(r, "service_name", "deployment_track"))
            .or_default();
        e.0 += u(&r["requests"]);
        e.1 += u(&r["errors"]);
    }
    m
}

fn truth_totals(dir: &Path) -> Totals {
    let t = read_json(&dir.join("truth.json"));
    let mut m = Totals::new();
    for r in t["metrics"]["routes"].as_array().unwrap() {
        let e = m.entry(key(r, "service", "track")).or_default();
        e.0 += u(&r["requests"]);
        e.1 += u(&r["errors"]);
    }
    m.retain(|_, v| v.0 > 0);
    m
}

fn span_totals(dir: &Path) -> Totals {
    let rows = sql_rows(
        &[
            "sql",
            "SELECT service_name, deployment_track, count(*) AS n, \
             sum(CASE WHEN is_error THEN 1 ELSE 0 END) AS e \
             FROM requests WHERE span_kind = 2 GROUP BY 1, 2",
            s(&dir.join("parquet")),
        ],
        &[],
    );
    rows.iter()
        .map(|r| {
            (
                key(r, "service_name", "deployment_track"),
                (u(&r["n"]), u(&r["e"])),
            )
        })
        .collect()
}

fn attr(attrs: &Value, k: &str) -> Option<String> {
    attrs.as_array()?.iter().find(|a| a["key"] == k).map(|a| {
        let v = &a["value"];
        v["stringValue"]
            .as_str()
            .map(str::to_string)
            .or_else(|| v["intValue"].as_str().map(str::to_string))
            .or_else(|| v["intValue"].as_i64().map(|i| i.to_string()))
            .unwrap_or_default()
    })
}

/// Latest point of a (resource, point attributes, start time) generation: time, value,
/// service, track, whether the status code is a server error.
type LastPoint = (u64, u64, String, String, bool);

/// Totals of the cumulative `http.server.requests` counters read from the raw OTLP/JSON lines:
/// per stream (resource attributes + point attributes) and process generation (start time),
/// the last reported value is the generation's total, since every generation starts counting
/// at its `startTimeUnixNano` (a restart begins a new generation with a new start time).
fn raw_counter_totals(dir: &Path) -> Totals {
    let file = std::fs::File::open(dir.join("otlp/metrics.jsonl")).unwrap();
    let mut last: BTreeMap<(String, String, String), LastPoint> = BTreeMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let line: Value = serde_json::from_str(&line.unwrap()).unwrap();
        for rm in line["resourceMetrics"].as_array().unwrap() {
            let res = &rm["resource"]["attributes"];
            let service = attr(res, "service.name").unwrap();
            let track = attr(res, "deployment.track").unwrap();
            for sm in rm["scopeMetrics"].as_array().unwrap() {
                for m in sm["metrics"].as_array().unwrap() {
                    if m["name"] != "http.server.requests" {
                        continue;
                    }
                    assert_eq!(m["sum"]["aggregationTemporality"], 2, "cumulative");
                    for p in m["sum"]["dataPoints"].as_array().unwrap() {
                        let start = p["startTimeUnixNano"].as_str().unwrap().to_string();
                        let time = u(&p["timeUnixNano"]);
                        let value = u(&p["asInt"]);
                        let status: u32 = attr(&p["attributes"], "http.response.status_code")
                            .unwrap()
                            .parse()
                            .unwrap();
                        let k = (res.to_string(), p["attributes"].to_string(), start);
                        let e = last.entry(k).or_insert((
                            0,
                            0,
                            service.clone(),
                            track.clone(),
                            status >= 500,
                        ));
                        if time >= e.0 {
                            e.0 = time;
                            e.1 = value;
                        }
                    }
                }
            }
        }
    }
    let mut m = Totals::new();
    for (_, (_, value, service, track, is_error)) in last {
        let e = m.entry((service, track)).or_default();
        e.0 += value;
        if is_error {
            e.1 += value;
        }
    }
    m
}

#[test]
fn error_rate_totals_match_spans_truth_and_raw_counters() {
    let dir = explicit_run();
    let rows = query(
        "metrics_error_rate_by_track.sql",
        &dir.join("otlp"),
        "5 minutes",
    );
    assert!(!rows.is_empty());
    for r in &rows {
        let (n, e) = (u(&r["requests"]), u(&r["errors"]));
        assert!(e <= n);
        assert_eq!(u(&r["bucket_start"]) % 300_000_000_000, 0, "{r}");
        if n > 0 {
            assert!((f(&r["error_rate"]) - e as f64 / n as f64).abs() < 1e-15);
        } else {
            assert!(r["error_rate"].is_null());
        }
    }
    let got = dashboard_totals(&rows);
    assert_eq!(got, truth_totals(&dir), "against truth.json");
    assert_eq!(got, span_totals(&dir), "against SERVER spans");
    assert_eq!(got, raw_counter_totals(&dir), "against the raw counters");
    // The run has a restart (a counter reset) and still adds up.
    let truth = read_json(&dir.join("truth.json"));
    assert!(!truth["metric_resets"].as_array().unwrap().is_empty());
}

#[test]
fn traffic_split_is_the_per_side_sum() {
    let dir = explicit_run();
    let per_track = query(
        "metrics_error_rate_by_track.sql",
        &dir.join("otlp"),
        "10 minutes",
    );
    let split = query("metrics_traffic_split.sql", &dir.join("otlp"), "10 minutes");
    let mut want: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for r in &per_track {
        let e = want.entry(u(&r["bucket_start"])).or_default();
        match r["side"].as_str().unwrap() {
            "baseline" => e.0 += u(&r["requests"]),
            _ => e.1 += u(&r["requests"]),
        }
    }
    let got: BTreeMap<u64, (u64, u64)> = split
        .iter()
        .map(|r| {
            let (b, c) = (u(&r["baseline_requests"]), u(&r["canary_requests"]));
            assert_eq!(f(&r["canary_share"]), c as f64 / (b + c) as f64);
            (u(&r["bucket_start"]), (b, c))
        })
        .collect();
    assert_eq!(got, want);
    // The generated canary serves 10% of each service's traffic once it is up.
    let (b, c) = got.values().fold((0, 0), |a, v| (a.0 + v.0, a.1 + v.1));
    let share = c as f64 / (b + c) as f64;
    assert!((0.05..0.12).contains(&share), "{share}");
}

/// Exact p99 (ms) of the SERVER spans per (service, track).
fn span_p99(dir: &Path) -> BTreeMap<(String, String), (u64, f64)> {
    sql_rows(
        &[
            "sql",
            "SELECT service_name, deployment_track, count(*) AS n, \
             quantile_exact(duration_ns / 1e6, 0.99) AS p99 \
             FROM requests WHERE span_kind = 2 GROUP BY 1, 2",
            s(&dir.join("parquet")),
        ],
        &[],
    )
    .iter()
    .map(|r| {
        (
            key(r, "service_name", "deployment_track"),
            (u(&r["n"]), f(&r["p99"])),
        )
    })
    .collect()
}

fn p99_rows(dir: &Path, kind: &str) -> BTreeMap<(String, String), (u64, f64, f64)> {
    let rows = query("metrics_p99_by_track.sql", &dir.join("otlp"), "1000 days");
    rows.iter()
        .map(|r| {
            assert_eq!(r["histogram_kind"], kind, "{r}");
            let (p50, p99) = (f(&r["p50_ms"]), f(&r["p99_ms"]));
            assert!(0.0 < p50 && p50 <= p99, "{r}");
            (
                key(r, "service_name", "deployment_track"),
                (u(&r["requests"]), p50, p99),
            )
        })
        .collect()
}

#[test]
fn p99_from_explicit_histograms_lands_in_the_bucket_of_the_span_p99() {
    let dir = explicit_run();
    let metric = p99_rows(&dir, "explicit");
    let spans = span_p99(&dir);
    assert_eq!(
        metric.keys().collect::<Vec<_>>(),
        spans.keys().collect::<Vec<_>>()
    );
    let bucket = |ms: f64| BOUNDS_S.iter().take_while(|b| **b * 1000.0 < ms).count();
    for (k, (n, _, p99)) in &metric {
        let (sn, sp99) = spans[k];
        assert_eq!(*n, sn, "{k:?}");
        // Histogram resolution: the interpolated p99 lies in the bucket holding the span p99,
        // or next to it (the histogram's rank q·n and type 7's (n−1)·q can straddle an edge).
        let (a, b) = (bucket(*p99), bucket(sp99));
        assert!(
            a.abs_diff(b) <= 1,
            "{k:?}: metric {p99} ms, spans {sp99} ms"
        );
    }
}

#[test]
fn p99_from_exponential_delta_histograms_is_close_to_the_span_p99() {
    let dir = exponential_run();
    let metric = p99_rows(&dir, "exponential");
    let totals: Totals = metric.iter().map(|(k, v)| (k.clone(), (v.0, 0))).collect();
    let truth: Totals = truth_totals(&dir)
        .into_iter()
        .map(|(k, v)| (k, (v.0, 0)))
        .collect();
    assert_eq!(totals, truth);
    let spans = span_p99(&dir);
    let mut checked = 0;
    for (k, (n, _, p99)) in &metric {
        if *n < 1000 {
            continue; // p99 of few requests depends on the quantile definition
        }
        checked += 1;
        let sp99 = spans[k].1;
        assert!(
            (p99 / sp99 - 1.0).abs() < 0.1,
            "{k:?}: metric {p99} ms, spans {sp99} ms"
        );
    }
    assert!(checked >= 4, "{checked}");
}

#[test]
fn histogram_quantile_in_user_sql_refuses_bounds_without_a_common_bound() {
    let dir = explicit_run();
    let o = run(&[
        "sql",
        "SELECT histogram_quantile(0.5, b, c) AS q FROM (VALUES \
         (make_array(1.0, 2.0), make_array(1, 1, 0)), (make_array(3.0), make_array(1, 1))) \
         AS t(b, c)",
        s(&dir.join("parquet")),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("share no bound"), "{}", stderr(&o));
    let rows = sql_rows(
        &[
            "sql",
            "SELECT histogram_quantile(0.75, b, c) AS q FROM (VALUES \
             (make_array(1.0, 2.0), make_array(10, 10, 0))) AS t(b, c)",
            s(&dir.join("parquet")),
        ],
        &[],
    );
    assert_eq!(f(&rows[0]["q"]), 1.5);
}

#[test]
fn report_has_a_metrics_section_exactly_when_the_inputs_have_metrics() {
    let dir = explicit_run();
    for (input, with) in [(dir.join("otlp"), true), (dir.join("parquet"), false)] {
        let out = tempfile::tempdir().unwrap();
        let o = run(&["report", s(&input), "-o", s(out.path())]);
        assert!([0, 1, 3].contains(&code(&o)), "{}", stderr(&o));
        let html = std::fs::read_to_string(out.path().join("index.html")).unwrap();
        let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
        assert_eq!(html.contains("id=\"metrics-over-time\""), with);
        assert_eq!(md.contains("### Metrics over time"), with);
        for name in [
            "metrics-request-rate",
            "metrics-error-rate",
            "metrics-p99-latency",
        ] {
            for ext in ["svg", "png"] {
                let p = out.path().join(format!("charts/{name}.{ext}"));
                assert_eq!(p.exists(), with, "{}", p.display());
            }
            assert_eq!(html.contains(&format!("<figure id=\"{name}\">")), with);
            assert_eq!(md.contains(&format!("charts/{name}.png")), with);
        }
    }
}

/// A report of a metrics file alone judges the metrics and draws only metric charts: no empty
/// span sections (latency distributions, span time series) and no links to them.
#[test]
fn metrics_only_report_has_metric_findings_and_no_span_sections() {
    let dir = explicit_run();
    let metrics = dir.join("otlp/metrics.jsonl");
    let out = tempfile::tempdir().unwrap();
    let o = run(&["report", s(&metrics), "-o", s(out.path())]);
    assert!([0, 1, 3].contains(&code(&o)), "{}", stderr(&o));
    let html = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    let comparisons = report["comparisons"].as_array().unwrap();
    assert!(!comparisons.is_empty());
    assert!(comparisons.iter().all(|c| c["source"] == "metrics"));
    let schema =
        crate::fixtures::read_json(&crate::fixtures::root().join("docs/report.schema.json"));
    let mut errs = Vec::new();
    crate::analyze::check_schema(&schema, &report, &schema, "$", &mut errs);
    assert!(
        errs.is_empty(),
        "metric report violates the schema:\n{}",
        errs.join("\n")
    );
    assert!(md.contains("### Metrics over time"));
    for absent in [
        "### Latency distributions",
        "### Over time",
        "latency-over-time.png",
    ] {
        assert!(!md.contains(absent), "{absent}");
    }
    for absent in [
        "id=\"distributions\"",
        "id=\"over-time\"",
        "href=\"#over-time\"",
    ] {
        assert!(!html.contains(absent), "{absent}");
    }
    assert!(!out.path().join("charts/traffic-split.svg").exists());
}
