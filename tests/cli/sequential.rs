//! `analyze` with `method = "sequential"`: configuration errors (exit 2, the key named), a
//! low-traffic regression rolls back, generated A/A recordings at 5%, 25% and 50% canary share
//! do not, a split other than the configured one fails, and the report fields match the
//! schema. Truth comes from `canalyst generate` (its options and truth.json).

use crate::analyze::check_schema;
use crate::fixtures::{
    code, generated, parquet_of, read_json, root, run, scratch, stderr, stdout_json,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

const SAMPLE_PARQUET: &str = "sample-data/parquet/spans.parquet";

/// Writes a sequential configuration with `extra` appended under `[sequential]`.
fn config(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!("method = \"sequential\"\n\n[sequential]\n{extra}"),
    )
    .unwrap();
    p
}

/// `analyze INPUT --config CFG -o -`: exit code and report.
fn analyze(input: &str, cfg: &Path) -> (i32, Value) {
    let o = run(&[
        "analyze",
        input,
        "--config",
        cfg.to_str().unwrap(),
        "-o",
        "-",
    ]);
    let v = stdout_json(&o, &format!("analyze {input} --config {}", cfg.display()));
    (code(&o), v)
}

fn fails(r: &Value) -> Vec<&Value> {
    r["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["classification"].as_str().unwrap().starts_with("fail"))
        .collect()
}

#[test]
fn bad_sequential_settings_exit_2_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    for (extra, key, what) in [
        (
            "traffic_split = 0\n",
            "sequential.traffic_split",
            "between 0 and 1",
        ),
        (
            "traffic_split = 1\n",
            "sequential.traffic_split",
            "between 0 and 1",
        ),
        (
            "look_interval = \"48h\"\n",
            "sequential.look_interval",
            "longer than the analysed window",
        ),
        (
            "look_interval = \"90s\"\n",
            "sequential.look_interval",
            "whole number of series buckets",
        ),
        (
            "look_interval = \"soon\"\n",
            "sequential.look_interval",
            "not a duration",
        ),
    ] {
        let cfg = config(tmp.path(), "bad.toml", extra);
        let o = run(&["analyze", SAMPLE_PARQUET, "--config", cfg.to_str().unwrap()]);
        let e = stderr(&o);
        assert_eq!(code(&o), 2, "{extra}: {e}");
        assert!(e.contains(key) && e.contains(what), "{extra}: {e}");
        assert!(o.stdout.is_empty(), "{extra}: nothing on stdout on error");
    }
    // The same look interval is fine with the fixed method (it is not read).
    let cfg = tmp.path().join("fixed.toml");
    std::fs::write(
        &cfg,
        "method = \"fixed\"\n[sequential]\nlook_interval = \"90s\"\n",
    )
    .unwrap();
    let o = run(&["analyze", SAMPLE_PARQUET, "--config", cfg.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
}

#[test]
fn low_traffic_regression_rolls_back_under_the_sequential_method() {
    // The generator's low-traffic scenario: one route ×1.5 slower at 30–60 canary requests
    // (truth.json). Under the sequential method p50/p99 are judged look by look; at 45 canary
    // requests their always-valid test cannot yet put the ratio beyond +10% at α/K, so the
    // regression is caught by latency_shift, which stays a fixed-sample test (no sound
    // sequential version here). The sequential gates must not fail on a clean route.
    let dir = generated("low-traffic", 100_000, 0.1);
    let truth = read_json(&dir.join("truth.json"));
    let e = &truth["effects"][0];
    let canary = e["observed"]["canary_requests"].as_u64().unwrap();
    assert!((30..=60).contains(&canary), "canary requests {canary}");
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), "seq.toml", "traffic_split = 0.1\n");
    let (c, r) = analyze(&parquet_of(&dir), &cfg);
    assert_eq!(r["verdict"], "rollback", "summary: {}", r["summary"]);
    assert_eq!(c, 1);
    let f = fails(&r);
    assert!(
        f.iter().any(|c| c["service"] == e["service"]
            && c["route"] == e["route"]
            && c["metric"] == e["metric"]),
        "the injected regression does not fail: {f:?}"
    );
    for c in &f {
        assert!(c["route"] == e["route"], "a clean route fails: {c}");
    }
    // Every error-rate, split and quantile comparison is sequential, with its looks and the
    // schema's fields; the shift is not.
    let window = &r["window"];
    let minutes = (window["end_unix_nano"].as_i64().unwrap()
        - window["start_unix_nano"].as_i64().unwrap()) as f64
        / 60e9;
    let mut n = 0;
    for c in r["comparisons"].as_array().unwrap() {
        let test = match c["metric"].as_str().unwrap() {
            "error_rate" | "request_split" => "lindon_malek_sequential_count",
            "latency_p50" | "latency_p99" => "howard_ramdas_sequential_quantile",
            _ => {
                assert!(c["sequential"].is_null(), "{c}");
                continue;
            }
        };
        let s = &c["sequential"];
        let looks = s["looks"].as_f64().unwrap();
        assert!(
            looks >= minutes && looks <= minutes + 1.0,
            "{looks} looks over {minutes} min"
        );
        assert_eq!(c["test"], test, "{c}");
        let k = s["family_size"].as_f64().unwrap();
        assert!(
            (s["level"].as_f64().unwrap() - 0.05 / k).abs() < 1e-12,
            "{c}"
        );
        n += 1;
    }
    // The injected route's p50 is seen: its sequence at the last look lies above 1.
    let p50 = r["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["route"] == e["route"] && c["service"] == e["service"] && c["metric"] == "latency_p50"
        })
        .expect("p50 of the injected route");
    assert!(p50["ci_low"].as_f64().unwrap() > 1.0, "{p50}");
    // The split is judged per service (the routes' requests added up), not per route.
    let splits: Vec<_> = r["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["metric"] == "request_split")
        .collect();
    assert!(!splits.is_empty());
    for c in &splits {
        assert!(
            c["route"].is_null()
                && c["id"]
                    .as_str()
                    .unwrap()
                    .ends_with("/service/request_split"),
            "{c}"
        );
    }
    assert!(n > 0);
    let schema = read_json(&root().join("docs/report.schema.json"));
    let mut errs = Vec::new();
    check_schema(&schema, &r, &schema, "$", &mut errs);
    assert!(errs.is_empty(), "{errs:?}");
    // The definitions name the method, and not the fixed error-rate test it replaces.
    let defs = r["definitions"].to_string();
    assert!(
        defs.contains("Lindon & Malek") && defs.contains("Bonferroni"),
        "{defs}"
    );
    assert!(!defs.contains("error_rate: difference"), "{defs}");
}

/// `canalyst generate --scenario aa --spans N --canary-share F --seed S` (own seeds; the shared
/// fixture has only the default seed).
fn generated_aa(spans: u64, share: f64, seed: u64) -> PathBuf {
    let dir = scratch().join(format!("seq-aa-{spans}-{share}-{seed}"));
    let o = run(&[
        "generate",
        "--scenario",
        "aa",
        "--spans",
        &spans.to_string(),
        "--canary-share",
        &share.to_string(),
        "--seed",
        &seed.to_string(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "generate: {}", stderr(&o));
    let _ = std::fs::remove_file(dir.join("otlp/traces.jsonl"));
    dir
}

#[test]
fn aa_recordings_at_5_25_and_50_percent_do_not_roll_back() {
    // Canary identical to stable (truth.json: no effects), the configured split the generated
    // one: no comparison may fail, so the verdict is promote or continue, never rollback.
    let tmp = tempfile::tempdir().unwrap();
    for share in [0.05, 0.25, 0.5] {
        let cfg = config(tmp.path(), "aa.toml", &format!("traffic_split = {share}\n"));
        for seed in [1, 2] {
            let dir = generated_aa(40_000, share, seed);
            let truth = read_json(&dir.join("truth.json"));
            assert!(truth["effects"].as_array().unwrap().is_empty());
            let (c, r) = analyze(&parquet_of(&dir), &cfg);
            assert_ne!(
                r["verdict"], "rollback",
                "share {share} seed {seed}: {}",
                r["summary"]
            );
            assert_ne!(c, 1);
            assert!(
                fails(&r).is_empty(),
                "share {share} seed {seed}: {:?}",
                fails(&r)
            );
        }
    }
}

#[test]
fn a_split_other_than_the_configured_one_fails() {
    // Generated at a 25% canary share, configured as a 5% step: the request split fails on
    // the busy routes and, being critical, rolls back. At the true split nothing fails (the
    // A/A test above).
    let dir = generated_aa(40_000, 0.25, 1);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), "split.toml", "traffic_split = 0.05\n");
    let (c, r) = analyze(&parquet_of(&dir), &cfg);
    assert_eq!(r["verdict"], "rollback", "summary: {}", r["summary"]);
    assert_eq!(c, 1);
    let f = fails(&r);
    assert!(!f.is_empty());
    for c in f {
        assert_eq!(c["metric"], "request_split", "{c}");
        assert_eq!(c["classification"], "fail_high", "{c}");
        let s = &c["sequential"];
        assert!(s["decided_at_look"].as_u64().unwrap() >= 1, "{c}");
        assert!(
            s["p_value"].as_f64().unwrap() <= s["level"].as_f64().unwrap(),
            "{c}"
        );
        assert!(c["ci_low"].as_f64().unwrap() > c["allowed_increase"].as_f64().unwrap());
    }
    // The text summary names the failed look.
    let o = run(&[
        "analyze",
        &parquet_of(&dir),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("/request_split [fail_high, critical]") && text.contains("failed at look"),
        "{text}"
    );
    // HTML and Markdown findings carry the same decision (look, sequence, always-valid p).
    let out = tmp.path().join("report");
    let o = run(&[
        "report",
        &parquet_of(&dir),
        "--config",
        cfg.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    for f in ["index.html", "report.md"] {
        let t = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(
            t.contains("failed at look") && t.contains("always-valid p"),
            "{f} does not show the sequential decision"
        );
    }
}
