//! `canalyst generate --corpus` and `canalyst tune` against truth: the corpus's labels agree
//! with the generator's truth and are the same per seed; tune's per-setting detection and
//! false-rollback counts equal those computed from each deployment's `label.toml` and its own
//! `canalyst backtest` outcome; an A/A corpus under sequential gates rolls back no more than
//! α; bad sweep specs exit 2 naming the key; tune.json follows docs/tune.schema.json and the
//! HTML escapes the policy's name.

use crate::analyze::check_schema;
use crate::fixtures::{code, read_json, root, run, run_env, scratch, stderr};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const EPOCH: (&str, &str) = ("SOURCE_DATE_EPOCH", "1767225600");

/// A corpus of 8 deployments (4 good, 4 bad) of about 16 000 spans each, seed 3, made once.
fn corpus() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch().join("tune-corpus");
        let d = dir.display().to_string();
        let o = run(&[
            "generate", "--corpus", "8", "--seed", "3", "--spans", "16000", "-o", &d,
        ]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        dir
    })
}

/// The deployment directories of `corpus`, sorted.
fn deployments(corpus: &Path) -> Vec<PathBuf> {
    let mut d: Vec<PathBuf> = std::fs::read_dir(corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("label.toml").is_file())
        .collect();
    d.sort();
    d
}

/// `key = value` of a flat TOML file (the test reads the label itself, not through canalyst).
fn toml_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(" = ")?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The threshold policy of the truth test, with the error-rate gate's `max`.
fn threshold_policy(max: f64) -> PathBuf {
    let p = scratch().join(format!("tune-threshold-{max}.toml"));
    std::fs::write(
        &p,
        format!(
            "name = \"thresholds\"\n[measurement]\ninterval = \"1m\"\nfailure_limit = 0\n\
             [[steps]]\nweight = 5\nanalysis = \"10m\"\n[[steps]]\nweight = 25\nanalysis = \"10m\"\n\
             [[steps]]\nweight = 50\nanalysis = \"15m\"\n[[steps]]\nweight = 100\n\
             [[gates]]\nname = \"errors\"\nmetric = \"error_rate\"\nmax = {max}\nwindow = \"step\"\nmin_requests = 20\n"
        ),
    )
    .unwrap();
    p
}

fn tune(args: &[&str]) -> (i32, String) {
    let mut all = vec!["tune"];
    all.extend_from_slice(args);
    let o = run_env(&all, &[EPOCH]);
    (code(&o), stderr(&o))
}

#[test]
fn corpus_labels_agree_with_the_truth_and_repeat_per_seed() {
    let dirs = deployments(corpus());
    assert_eq!(dirs.len(), 8);
    let mut kinds = std::collections::BTreeSet::new();
    for d in &dirs {
        let label = std::fs::read_to_string(d.join("label.toml")).unwrap();
        let truth = read_json(&d.join("truth.json"));
        let bad = toml_value(&label, "label").unwrap() == "bad";
        let effects = truth["effects"].as_array().unwrap();
        assert_eq!(bad, !effects.is_empty(), "{}", d.display());
        assert_eq!(
            toml_value(&label, "seed").unwrap(),
            truth["seed"].to_string()
        );
        assert!(d.join("parquet/spans.parquet").is_file());
        assert!(!d.join("otlp").exists(), "the OTLP copies are removed");
        if bad {
            let e = &effects[0];
            let route = format!(
                "{} {}",
                e["service"].as_str().unwrap(),
                e["route"].as_str().unwrap()
            );
            assert!(
                label.contains(&format!("affected_routes = [\"{route}\"]")),
                "{label}"
            );
            assert_eq!(
                toml_value(&label, "effect_size")
                    .unwrap()
                    .parse::<f64>()
                    .unwrap(),
                e["multiplier"].as_f64().unwrap()
            );
            assert!(toml_value(&label, "onset")
                .unwrap()
                .starts_with("2026-01-01T00:"));
            kinds.insert(toml_value(&label, "effect_kind").unwrap());
        }
    }
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    // Same seed → the same first two deployments, byte for byte.
    let again = scratch().join("tune-corpus-again");
    let a = again.display().to_string();
    let o = run(&[
        "generate", "--corpus", "2", "--seed", "3", "--spans", "16000", "-o", &a,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for (x, y) in deployments(&again).iter().zip(&dirs) {
        for f in ["label.toml", "parquet/spans.parquet"] {
            assert!(
                std::fs::read(x.join(f)).unwrap() == std::fs::read(y.join(f)).unwrap(),
                "{f} differs"
            );
        }
    }
}

#[test]
fn tune_counts_equal_labels_and_each_deployments_backtest() {
    let c = corpus().display().to_string();
    let out = scratch().join("tune-truth");
    let o = out.display().to_string();
    let base = threshold_policy(0.02).display().to_string();
    let (rc, err) = tune(&[
        &c,
        "--policy",
        &base,
        "--sweep",
        "gates.max=0.01,0.04",
        "-o",
        &o,
    ]);
    assert_eq!(rc, 0, "{err}");
    let r = read_json(&out.join("tune.json"));
    let settings = r["settings"].as_array().unwrap();
    assert_eq!(settings.len(), 2);
    let mut any_detected = false;
    for (s, max) in settings.iter().zip([0.01, 0.04]) {
        assert_eq!(s["params"]["gates.max"], max);
        let policy = threshold_policy(max).display().to_string();
        let (mut detected, mut false_rb, mut early, mut ttd) = (0, 0, 0, Vec::new());
        for (i, d) in deployments(corpus()).iter().enumerate() {
            let label = std::fs::read_to_string(d.join("label.toml")).unwrap();
            let bad = toml_value(&label, "label").unwrap() == "bad";
            let bt = scratch().join(format!("tune-bt-{max}-{i}"));
            let mut args = vec![
                "backtest".to_string(),
                d.join("parquet").display().to_string(),
                "--policy".into(),
                policy.clone(),
                "-o".into(),
                bt.display().to_string(),
            ];
            if let Some(onset) = toml_value(&label, "onset") {
                args.extend(["--onset".into(), onset]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let rb = run_env(&args, &[EPOCH]);
            assert!([0, 1, 3].contains(&code(&rb)), "{}", stderr(&rb));
            let b = read_json(&bt.join("backtest.json"));
            let rolled = b["outcome"] == "rolled_back";
            let before = b["rolled_back_before_onset"] == true;
            let o = &s["outcomes"][i];
            assert_eq!(o["outcome"], b["outcome"], "{}", d.display());
            if bad && rolled && !before {
                detected += 1;
                ttd.push(b["time_to_detect_s"].as_f64().unwrap());
            }
            false_rb += u64::from(!bad && rolled);
            early += u64::from(bad && rolled && before);
        }
        any_detected |= detected > 0;
        assert_eq!(s["detected"], detected, "{s}");
        assert_eq!(s["false_rollbacks"], false_rb);
        assert_eq!(s["early_rollbacks"], early);
        assert_eq!((s["bad"].as_u64(), s["good"].as_u64()), (Some(4), Some(4)));
        ttd.sort_by(f64::total_cmp);
        let median = match ttd.len() {
            0 => None,
            n if n % 2 == 1 => Some(ttd[n / 2]),
            n => Some((ttd[n / 2 - 1] + ttd[n / 2]) / 2.0),
        };
        assert_eq!(s["median_time_to_detect_s"].as_f64(), median);
    }
    assert!(
        any_detected,
        "the corpus's error regressions must be caught at max 1%"
    );
    // The stricter gate detects at least as much.
    assert!(settings[0]["detected"].as_u64() >= settings[1]["detected"].as_u64());
    // Schema, and the checker can fail.
    let schema = read_json(&root().join("docs/tune.schema.json"));
    let mut errs = Vec::new();
    check_schema(&schema, &r, &schema, "$", &mut errs);
    assert!(errs.is_empty(), "{errs:?}");
    let mut broken = r.clone();
    broken["settings"][0]
        .as_object_mut()
        .unwrap()
        .remove("detection_rate");
    let mut errs = Vec::new();
    check_schema(&schema, &broken, &schema, "$", &mut errs);
    assert!(!errs.is_empty());
    for f in [
        "report.md",
        "index.html",
        "charts/tune-pareto.svg",
        "charts/tune-pareto.png",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
}

#[test]
fn aa_corpus_under_sequential_gates_rolls_back_no_more_than_alpha() {
    // The good half of the corpus is an A/A corpus. α = 0.05 (the default analysis).
    let good: Vec<String> = deployments(corpus())
        .iter()
        .filter(|d| d.file_name().unwrap().to_string_lossy().contains("good"))
        .map(|d| d.display().to_string())
        .collect();
    let text = std::fs::read_to_string(root().join("examples/policies/progressive.toml"))
        .unwrap()
        .replace(
            "alpha_spending = \"haybittle-peto\"",
            "method = \"sequential\"",
        );
    assert!(text.contains("method = \"sequential\""));
    let p = scratch().join("tune-sequential.toml");
    std::fs::write(&p, text).unwrap();
    let p = p.display().to_string();
    let mut args: Vec<&str> = good.iter().map(String::as_str).collect();
    args.extend(["--policy", &p, "--format", "json"]);
    let mut all = vec!["tune"];
    all.extend(args);
    let o = run_env(&all, &[EPOCH]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = &r["settings"][0];
    assert_eq!(s["good"], 4);
    // No more than α: the Wilson interval of the false-rollback rate reaches down to α or
    // below (with 4 deployments, two false rollbacks would already exclude it).
    assert!(
        s["false_rollback_interval"]["low"].as_f64().unwrap() <= 0.05,
        "{s}"
    );
}

#[test]
fn bad_sweep_specs_exit_2_naming_the_key() {
    let c = corpus().display().to_string();
    for (sweep, want) in [
        ("gates.colour=1", "unknown key \"gates.colour\""),
        ("alpha", "no `=`"),
        ("gates.alpha=0.1..0.01:0.01", "B is below A"),
        ("gates.alpha=0.01..0.05", "needs :STEP"),
        ("gates.alpha=2", "gates.alpha=2"),
        ("flagger.threshold=3", "no [flagger]"),
        ("gates.max=0.1", "no gate has `max`"),
    ] {
        let (rc, err) = tune(&[&c, "--policy", "progressive", "--sweep", sweep]);
        assert_eq!(rc, 2, "{sweep}: {err}");
        assert!(err.contains(want), "{sweep}: {err}");
    }
    let (rc, err) = tune(&[
        &c,
        "--policy",
        "progressive",
        "--target-false-rollback",
        "0",
    ]);
    assert_eq!(rc, 2);
    assert!(err.contains("--target-false-rollback"), "{err}");
    let empty = scratch().join("tune-empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (rc, err) = tune(&[&empty.display().to_string(), "--policy", "progressive"]);
    assert_eq!(rc, 2);
    assert!(err.contains("no label.toml"), "{err}");
}

#[test]
fn html_escapes_the_policy_name() {
    let c = corpus().display().to_string();
    let p = scratch().join("tune-escape.toml");
    let text = std::fs::read_to_string(threshold_policy(0.03)).unwrap();
    std::fs::write(
        &p,
        text.replace("name = \"thresholds\"", "name = \"<b>x</b>\""),
    )
    .unwrap();
    let out = scratch().join("tune-escape");
    let (rc, err) = tune(&[
        &c,
        "--policy",
        &p.display().to_string(),
        "-o",
        &out.display().to_string(),
    ]);
    assert_eq!(rc, 0, "{err}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("&lt;b&gt;x&lt;/b&gt;"),
        "escaped name missing"
    );
    assert!(!html.contains("<b>x</b>"));
}
