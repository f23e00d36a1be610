//! `canalyst analyze` on metrics: agreement with the span-based comparisons on generated
//! traffic (error rates, p99 within the histogram's resolution, verdicts), metrics-only input,
//! business ratios and Kayenta-style interval series (`examples/metrics-canary.toml`).

use super::fixtures::{bin, code, generated, root, stderr, stdout_json};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// `canalyst generate` output with the OTLP files kept (gzip), created once per process.
fn generated_otlp(scenario: &str, spans: u64, share: f64) -> PathBuf {
    generated_with(scenario, spans, share, &[])
}

fn generated_with(scenario: &str, spans: u64, share: f64, extra: &[&str]) -> PathBuf {
    static RUNS: OnceLock<Mutex<HashMap<String, Arc<OnceLock<PathBuf>>>>> = OnceLock::new();
    let key = format!("{scenario}-{spans}-{share}{}", extra.join(""));
    let cell = RUNS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(key.clone())
        .or_default()
        .clone();
    cell.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("canalyst-mjudge-{}", std::process::id()))
            .join(&key);
        let _ = std::fs::remove_dir_all(&dir);
        let o = bin()
            .args(["generate", "--scenario", scenario, "--compress", "gzip"])
            .args(["--spans", &spans.to_string()])
            .args(["--canary-share", &share.to_string()])
            .args(extra)
            .arg("-o")
            .arg(&dir)
            .output()
            .expect("run canalyst generate");
        assert!(o.status.success(), "generate {key}: {}", stderr(&o));
        dir
    })
    .clone()
}

fn spans_of(dir: &std::path::Path) -> String {
    dir.join("parquet/spans.parquet").display().to_string()
}

/// The metrics file of a run: gzip here, plain from [`generated`] (shared with other tests).
fn metrics_of(dir: &std::path::Path) -> String {
    let gz = dir.join("otlp/metrics.jsonl.gz");
    if gz.is_file() {
        gz.display().to_string()
    } else {
        dir.join("otlp/metrics.jsonl").display().to_string()
    }
}

fn analyze(args: &[&str]) -> (i32, Value) {
    let o = bin()
        .arg("analyze")
        .args(args)
        .args(["-o", "-"])
        .output()
        .expect("run analyze");
    let c = code(&o);
    assert!(
        matches!(c, 0 | 1 | 3),
        "analyze {args:?}: exit {c}: {}",
        stderr(&o)
    );
    (c, stdout_json(&o, "analyze"))
}

fn comparisons(r: &Value) -> &Vec<Value> {
    r["comparisons"].as_array().expect("comparisons")
}

fn find<'a>(r: &'a Value, id: &str) -> Option<&'a Value> {
    comparisons(r).iter().find(|c| c["id"] == id)
}

/// `http.server.request.duration` default bounds, in ms (docs/generate.md).
const BOUNDS_MS: [f64; 14] = [
    5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// `[lower, upper]` of the explicit bucket holding `v` (upper-inclusive).
fn bucket_of(v: f64) -> (f64, f64) {
    let i = BOUNDS_MS.iter().position(|&b| v <= b);
    match i {
        Some(0) => (0.0, BOUNDS_MS[0]),
        Some(i) => (BOUNDS_MS[i - 1], BOUNDS_MS[i]),
        None => (BOUNDS_MS[13], f64::INFINITY),
    }
}

/// For every span route comparison with a metric twin: the request and error counts agree
/// (the metric window covers whole export intervals, spans are counted by start and metrics
/// by end time: a few requests at the window's ends may differ), and the metric p99 lies in
/// the bucket holding the span p99 (for groups large enough for a stable p99).
fn assert_agreement(r: &Value, what: &str) -> usize {
    let mut checked = 0;
    for c in comparisons(r) {
        if c["source"] != "spans" || c["level"] != "route" {
            continue;
        }
        let id = c["id"].as_str().unwrap();
        let Some(m) = find(r, &format!("{id}@metrics")) else {
            continue;
        };
        assert_eq!(m["source"], "metrics");
        assert_eq!(m["metric"], c["metric"]);
        for side in ["baseline", "canary"] {
            let (s, t) = (&c[side], &m[side]);
            let close = |k: &str| {
                let (a, b) = (s[k].as_f64().unwrap(), t[k].as_f64().unwrap());
                assert!(
                    (a - b).abs() <= 0.02 * a + 3.0,
                    "{what} {id} {side} {k}: spans {a}, metrics {b}"
                );
            };
            close("count");
            close("errors");
            let n = s["count"].as_f64().unwrap();
            if c["metric"] == "latency_p99" && n >= 300.0 {
                let (sp, mp) = (s["p99"].as_f64().unwrap(), t["p99"].as_f64().unwrap());
                // The bucket of the span p99; near an edge (within 5%) the neighbouring one
                // too, as the two windows differ by a few requests at their ends.
                let (lo, hi) = (bucket_of(sp * 0.95).0, bucket_of(sp * 1.05).1);
                assert!(
                    mp >= lo && mp <= hi,
                    "{what} {id} {side}: metric p99 {mp} ms outside the bucket [{lo}, {hi}] of the span p99 {sp} ms"
                );
                checked += 1;
            }
        }
        if c["metric"] == "error_rate" {
            checked += 1;
        }
    }
    checked
}

fn verdict(r: &Value) -> &str {
    r["verdict"].as_str().unwrap()
}

/// Runs the agreement checks on one generated run and returns (spans-only, metrics-only,
/// combined) reports.
fn agreement(scenario: &str, spans: u64, share: f64) -> (Value, Value, Value) {
    agreement_in(generated_otlp(scenario, spans, share), scenario)
}

fn agreement_in(dir: PathBuf, scenario: &str) -> (Value, Value, Value) {
    let cfg = dir.join("with-spans.toml");
    std::fs::write(&cfg, "[metric_analysis]\nwith_spans = true\n").unwrap();
    let cfg = cfg.display().to_string();
    let (_, both) = analyze(&[&spans_of(&dir), &metrics_of(&dir), "--config", &cfg]);
    let checked = assert_agreement(&both, scenario);
    assert!(
        checked >= 5,
        "{scenario}: only {checked} comparisons checked"
    );
    let (_, s) = analyze(&[&spans_of(&dir)]);
    let (_, m) = analyze(&[&metrics_of(&dir)]);
    assert!(comparisons(&s).iter().all(|c| c["source"] == "spans"));
    assert!(comparisons(&m).iter().all(|c| c["source"] == "metrics"));
    assert_eq!(
        verdict(&s),
        verdict(&m),
        "{scenario}: spans say {}, metrics say {}",
        s["summary"],
        m["summary"]
    );
    (s, m, both)
}

fn fails(r: &Value, id: &str) -> bool {
    find(r, id).is_some_and(|c| c["classification"] == "fail_high")
}

#[test]
fn errors_scenario_metrics_agree_with_spans() {
    // The same run as `analyze::errors_scenario_rolls_back_and_matches_the_truth` (generated
    // once per test process): 200 000 spans are needed for the error rate ×5 on payment
    // `/charge` (about 0.5% of spans) to be significant.
    let (s, m, _) = agreement_in(generated("errors", 200_000, 0.5), "errors");
    assert_eq!(verdict(&m), "rollback");
    assert!(
        fails(&s, "payment/route//charge/error_rate"),
        "{}",
        s["summary"]
    );
    assert!(
        fails(&m, "payment/route//charge/error_rate@metrics"),
        "{}",
        m["summary"]
    );
}

#[test]
fn latency_scenario_metrics_agree_with_spans() {
    let (_, m, _) = agreement("latency", 50_000, 0.5);
    assert_eq!(verdict(&m), "rollback");
    assert!(
        fails(&m, "checkout/route//checkout/latency_shift@metrics"),
        "{}",
        m["summary"]
    );
    // Only the injected route fails.
    for c in comparisons(&m) {
        if c["classification"] == "fail_high" || c["classification"] == "fail_low" {
            assert_eq!(c["route"], "/checkout", "{}", c["id"]);
            assert_eq!(c["service"], "checkout", "{}", c["id"]);
        }
    }
}

#[test]
fn aa_run_metrics_agree_with_spans_and_nothing_fails() {
    let (_, m, both) = agreement("aa", 30_000, 0.5);
    for r in [&m, &both] {
        assert_ne!(verdict(r), "rollback", "{}", r["summary"]);
        assert!(comparisons(r)
            .iter()
            .all(|c| !c["classification"].as_str().unwrap().starts_with("fail")));
    }
}

#[test]
fn metrics_file_alone_works_without_config_and_flags_the_route() {
    let dir = generated_otlp("latency", 50_000, 0.5);
    let o = bin()
        .args(["analyze", &metrics_of(&dir)])
        .output()
        .expect("run analyze");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("verdict: ROLLBACK"), "{text}");
    assert!(
        text.contains("checkout/route//checkout/latency_shift@metrics [fail_high"),
        "{text}"
    );
    let (_, r) = analyze(&[&metrics_of(&dir)]);
    // The window comes from the metrics: whole export intervals.
    let w = &r["window"];
    assert_eq!(w["start_unix_nano"].as_i64().unwrap() % 60_000_000_000, 0);
    assert_eq!(w["end_unix_nano"].as_i64().unwrap() % 60_000_000_000, 0);
    let c = find(&r, "checkout/route//checkout/latency_shift@metrics").unwrap();
    assert_eq!(c["metric_names"][0], "http.server.request.duration");
    assert_eq!(c["unit"], "probability");
    assert!(c["ci_low"].as_f64().unwrap() > 0.5);
}

#[test]
fn exponential_histograms_are_merged_and_judged() {
    let dir = generated_with("latency", 50_000, 0.5, &["--exponential-histograms"]);
    let (c, r) = analyze(&[&metrics_of(&dir)]);
    assert_eq!(c, 1, "{}", r["summary"]);
    let shift = find(&r, "checkout/route//checkout/latency_shift@metrics").unwrap();
    assert_eq!(shift["classification"], "fail_high", "{}", shift["reason"]);
    // Exponential buckets are fine enough to bound the injected median ×1.3.
    let p50 = find(&r, "checkout/route//checkout/latency_p50@metrics").unwrap();
    let (lo, hi) = (
        p50["ci_low"].as_f64().unwrap(),
        p50["ci_high"].as_f64().unwrap(),
    );
    assert!(lo > 1.0 && lo < 1.3 && 1.3 < hi && hi < 1.6, "[{lo}, {hi}]");
    for c in comparisons(&r) {
        if c["classification"] == "fail_high" || c["classification"] == "fail_low" {
            assert_eq!(c["route"], "/checkout", "{}", c["id"]);
        }
    }
}

fn example_config() -> String {
    root()
        .join("examples/metrics-canary.toml")
        .display()
        .to_string()
}

#[test]
fn conversion_drop_is_flagged_by_the_configured_ratio() {
    let dir = generated_otlp("conversion", 50_000, 0.5);
    let cfg = example_config();
    let (c, r) = analyze(&[&metrics_of(&dir), "--config", &cfg]);
    assert_eq!(c, 1, "{}", r["summary"]);
    let ratio = find(&r, "frontend/ratio/conversion@metrics").expect("ratio comparison");
    assert_eq!(ratio["classification"], "fail_low", "{}", ratio["reason"]);
    assert_eq!(ratio["metric"], "business_ratio");
    assert_eq!(ratio["metric_names"][0], "orders.placed");
    // Injected 0.8: the interval holds it and excludes 1.
    let (lo, hi) = (
        ratio["ci_low"].as_f64().unwrap(),
        ratio["ci_high"].as_f64().unwrap(),
    );
    assert!(lo < 0.8 && 0.8 < hi && hi < 1.0, "[{lo}, {hi}]");
    assert_eq!(r["drivers"][0], "frontend/ratio/conversion@metrics");
    // Same comparisons with one thread.
    let o = bin()
        .args([
            "--threads",
            "1",
            "analyze",
            &metrics_of(&dir),
            "--config",
            &cfg,
            "-o",
            "-",
        ])
        .output()
        .unwrap();
    let one = stdout_json(&o, "analyze --threads 1");
    assert_eq!(one["comparisons"], r["comparisons"]);
    // With spans as well: the routes are judged on spans, the ratio and series on metrics.
    let (c, both) = analyze(&[&spans_of(&dir), &metrics_of(&dir), "--config", &cfg]);
    assert_eq!(c, 1, "{}", both["summary"]);
    assert_eq!(
        find(&both, "frontend/ratio/conversion@metrics").unwrap()["classification"],
        "fail_low"
    );
    for c in comparisons(&both) {
        let by_metrics = c["metric"] == "business_ratio" || c["metric"] == "interval_series";
        assert_eq!(c["source"] == "metrics", by_metrics, "{}", c["id"]);
    }
    // Without the ratio configured, conversion is invisible (spans and HTTP metrics are clean).
    let (_, plain) = analyze(&[&metrics_of(&dir)]);
    assert!(find(&plain, "frontend/ratio/conversion@metrics").is_none());
    assert_ne!(verdict(&plain), "rollback", "{}", plain["summary"]);
}

#[test]
fn kayenta_style_series_config_runs() {
    let dir = generated_otlp("aa", 30_000, 0.5);
    let cfg = example_config();
    let (_, r) = analyze(&[&metrics_of(&dir), "--config", &cfg]);
    let series: Vec<&Value> = comparisons(&r)
        .iter()
        .filter(|c| c["metric"] == "interval_series")
        .collect();
    assert!(series.len() >= 10, "{} series comparisons", series.len());
    for c in &series {
        assert_eq!(c["source"], "metrics");
        if c["test"] == "kayenta_mann_whitney" {
            assert!(c["p_value"].is_number(), "{}", c["id"]);
        }
        assert!(
            c["reason"].as_str().unwrap().starts_with("Kayenta"),
            "{}",
            c["reason"]
        );
    }
    assert!(series
        .iter()
        .any(|c| c["id"] == "frontend/series/request_rate@metrics"));
    // The kayenta preset judges metric error rates and p99 per interval too.
    let (c, k) = analyze(&[&metrics_of(&dir), "--preset", "kayenta"]);
    assert_ne!(c, 1, "{}", k["summary"]);
    let err = find(&k, "frontend/route///error_rate@metrics").expect("kayenta error rate");
    assert!(
        err["reason"].as_str().unwrap().starts_with("Kayenta"),
        "{}",
        err["reason"]
    );
}

#[test]
fn metric_analysis_config_errors_name_the_line() {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("mjudge-bad-{}.toml", std::process::id()));
    std::fs::write(
        &p,
        "[metric_analysis]\nenabled = true\n\n[[metric_analysis.ratios]]\nname = \"c\"\nnumerator = \"a\"\ndenominator = \"b\"\ndirection = \"decrease\"\nallowed_decrese = 0.1\n",
    )
    .unwrap();
    let o = bin()
        .args(["analyze", "--config"])
        .arg(&p)
        .arg(root().join("sample-data/parquet/spans.parquet"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(e.contains(":9:") && e.contains("allowed_decrese"), "{e}");
    std::fs::write(
        &p,
        "[metric_analysis.error_rate]\nnumerator = \"a\"\nnumerator_filter = [\"status >= five\"]\ndenominator = \"b\"\n",
    )
    .unwrap();
    let o = bin()
        .args(["analyze", "--config"])
        .arg(&p)
        .arg(root().join("sample-data/parquet/spans.parquet"))
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("metric_analysis.error_rate.numerator_filter"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_file(&p);
}
