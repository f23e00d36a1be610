//! `canalyst analyze` end to end: exit codes per verdict and per error, the JSON report against
//! `docs/report.schema.json`, determinism across thread counts and input forms, agreement with
//! the injected truth of generated data, presets and selection flags.

use crate::fixtures::{
    assert_same_comparisons, code, generated, parquet_of, read_json, root, run, run_env,
    sample_analysis, sample_dataset, sample_dataset_report, sample_report, stderr, stdout_json,
    truth_violations, EPOCH,
};
use serde_json::Value;
use std::path::Path;

const SAMPLE_PARQUET: &str = "sample-data/parquet/spans.parquet";

/// `analyze ARGS -o -`: exit code and the parsed report.
fn analyze_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["analyze"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "-"]);
    let o = run(&all);
    let what = format!("analyze {args:?}");
    let v = stdout_json(&o, &what);
    (code(&o), v)
}

fn verdict(r: &Value) -> &str {
    r["verdict"].as_str().expect("verdict")
}

// ---------------------------------------------------------------------------------------------
// Exit codes

#[test]
fn sample_data_rolls_back_with_exit_1() {
    let (c, _) = sample_analysis();
    let r = sample_report();
    assert_eq!(verdict(&r), "rollback", "summary: {}", r["summary"]);
    assert_eq!(*c, 1);
}

#[test]
fn large_aa_run_promotes_with_exit_0() {
    // 100 000 spans at a 50% canary share: about 60% of the comparisons are decided, so a
    // canary identical to stable must be promoted. (At a 20% share the same size decides only
    // about a third and the evidence rule, ≥ 50% decided, says `continue`: the calibrated
    // answer for that little canary traffic; 200 000 spans at 20% promote.)
    let dir = generated("aa", 100_000, 0.5);
    let (c, r) = analyze_json(&[&parquet_of(&dir)]);
    assert_eq!(verdict(&r), "promote", "summary: {}", r["summary"]);
    assert_eq!(c, 0);
    let fails: Vec<&Value> = r["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["classification"].as_str().unwrap().starts_with("fail"))
        .map(|c| &c["id"])
        .collect();
    assert!(
        fails.is_empty(),
        "A/A run has failing comparisons: {fails:?}"
    );
}

/// Every failing comparison is on a route truth.json names, and no comparison below the
/// per-side minimum passes.
fn assert_fails_only_on_effects_and_no_small_pass(cs: &[Value], effects: &[Value]) {
    for c in cs {
        if c["classification"].as_str().unwrap().starts_with("fail") {
            assert!(
                effects
                    .iter()
                    .any(|e| e["service"] == c["service"] && e["route"] == c["route"]),
                "a clean route fails: {c}"
            );
        }
        if !c["below_minimum"].is_null() {
            assert_ne!(
                c["classification"], "pass",
                "below the minimum nothing passes: {c}"
            );
        }
    }
}

#[test]
fn small_run_fails_what_it_can_decide_and_passes_nothing_below_the_minimum() {
    // A tenth of sample-data (sample-data/README.md promises this check): a few dozen canary
    // requests per injected route. The +30% latency shift is large enough to fail at ~20
    // canary requests; the tail and error effects are not; nothing below the minimum passes.
    let dir = generated("mixed", 20_000, 0.2);
    let (c, r) = analyze_json(&[&parquet_of(&dir)]);
    assert_eq!(verdict(&r), "rollback", "summary: {}", r["summary"]);
    assert_eq!(c, 1);
    let truth = read_json(&dir.join("truth.json"));
    let effects = truth["effects"].as_array().unwrap();
    let cs = r["comparisons"].as_array().unwrap();
    assert_fails_only_on_effects_and_no_small_pass(cs, effects);
    let shift = effects
        .iter()
        .find(|e| e["metric"] == "latency_shift")
        .unwrap();
    let judged = cs
        .iter()
        .find(|c| {
            c["service"] == shift["service"]
                && c["route"] == shift["route"]
                && c["metric"] == "latency_shift"
        })
        .unwrap();
    assert_eq!(judged["classification"], "fail_high", "{judged}");
    assert!(!judged["below_minimum"].is_null(), "{judged}");
}

#[test]
fn small_aa_run_continues_with_exit_3() {
    // The same size without effects: nothing fails and, with most comparisons below the
    // minimum, too little is decided to promote.
    let dir = generated("aa", 20_000, 0.2);
    let (c, r) = analyze_json(&[&parquet_of(&dir)]);
    assert_eq!(verdict(&r), "continue", "summary: {}", r["summary"]);
    assert_eq!(c, 3);
    let d = &r["decided"];
    assert!(d["share"].as_f64().unwrap() < 0.5, "{d}");
    assert!(d["inconclusive_below_minimum"].as_u64().unwrap() > 0, "{d}");
    for c in r["comparisons"].as_array().unwrap() {
        assert!(
            !c["classification"].as_str().unwrap().starts_with("fail"),
            "{c}"
        );
    }
}

#[test]
fn low_traffic_regression_rolls_back_below_the_minimum_sample() {
    // +50% at about 40 canary requests: below the per-side minimum of 100, the exact test still
    // runs and the regression fails; nothing else fails and nothing below the minimum passes.
    let dir = generated("low-traffic", 100_000, 0.1);
    let (c, r) = analyze_json(&[&parquet_of(&dir)]);
    assert_eq!(verdict(&r), "rollback", "summary: {}", r["summary"]);
    assert_eq!(c, 1);
    let truth = read_json(&dir.join("truth.json"));
    let e = &truth["effects"][0];
    let canary = e["observed"]["canary_requests"].as_u64().unwrap();
    assert!((30..=60).contains(&canary), "canary requests {canary}");
    assert_eq!(e["multiplier"], 1.5);
    let cs = r["comparisons"].as_array().unwrap();
    let shift = cs
        .iter()
        .find(|c| {
            c["service"] == e["service"] && c["route"] == e["route"] && c["metric"] == e["metric"]
        })
        .expect("the affected route's latency shift is compared");
    assert_eq!(shift["classification"], "fail_high", "{shift}");
    assert_eq!(shift["below_minimum"]["minimum"], 100, "{shift}");
    assert!(shift["below_minimum"]["canary"].as_u64().unwrap() < 100);
    assert!(shift["ci_low"].as_f64().unwrap() > shift["allowed_increase"].as_f64().unwrap());
    assert_fails_only_on_effects_and_no_small_pass(cs, truth["effects"].as_array().unwrap());
    // The headline says how much of the score rests on decided comparisons.
    let d = &r["decided"];
    let n = cs.len() as u64;
    assert_eq!(d["comparisons"].as_u64().unwrap(), n);
    let undecided = cs
        .iter()
        .filter(|c| c["classification"] == "inconclusive")
        .count() as u64;
    assert_eq!(d["inconclusive"].as_u64().unwrap(), undecided);
    assert_eq!(d["decided"].as_u64().unwrap(), n - undecided);
    let text = run(&["analyze", &parquet_of(&dir)]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    let headline = format!("from {} of {n} comparisons decided", n - undecided);
    assert!(stdout.contains(&headline), "{stdout}");
}

#[test]
fn errors_exit_2_with_a_message_naming_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    // Unknown flag (clap usage error).
    let o = run(&["analyze", SAMPLE_PARQUET, "--no-such-flag"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--no-such-flag"), "{}", stderr(&o));

    // Missing input: named once (the OS error is not repeated by the cause chain).
    let o = run(&["analyze", "no/such/input.jsonl"]);
    let e = stderr(&o);
    assert_eq!(code(&o), 2, "{e}");
    assert!(e.contains("no/such/input.jsonl"), "{e}");
    assert_eq!(e.matches("No such file").count(), 1, "{e}");
    assert!(o.stdout.is_empty(), "nothing on stdout on error");

    // Bad --since.
    let o = run(&["analyze", SAMPLE_PARQUET, "--since", "yesterday"]);
    let e = stderr(&o);
    assert_eq!(code(&o), 2, "{e}");
    assert!(e.contains("--since") && e.contains("yesterday"), "{e}");

    // Unknown configuration key: the message names the file's line and the key.
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(&cfg, "preset = \"default\"\nalpha = 0.05\n\nalhpa = 0.01\n").unwrap();
    let o = run(&["analyze", SAMPLE_PARQUET, "--config", cfg.to_str().unwrap()]);
    let e = stderr(&o);
    assert_eq!(code(&o), 2, "{e}");
    assert!(e.contains("bad.toml:4"), "line 4 not named: {e}");
    assert!(e.contains("alhpa"), "key not named: {e}");

    // Unknown preset.
    let o = run(&["analyze", SAMPLE_PARQUET, "--preset", "nope"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("nope"), "{}", stderr(&o));
}

#[test]
fn strict_fails_on_a_rejected_record() {
    // A valid stable and canary side plus one line that is not JSON.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("with-bad-line.jsonl");
    let mut text = String::new();
    for (i, track) in ["stable", "canary"].iter().enumerate() {
        text.push_str(&otlp_line(track, i as u64));
        text.push('\n');
        if i == 0 {
            text.push_str("this line is not JSON {\n");
        }
    }
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();
    let o = run(&["analyze", f, "--strict"]);
    let e = stderr(&o);
    assert_eq!(code(&o), 2, "{e}");
    assert!(e.contains("--strict") && e.contains("rejected"), "{e}");
    assert!(
        e.contains("with-bad-line.jsonl:2"),
        "rejected line not located: {e}"
    );
    // Without --strict the same input is analysed (too little data: continue).
    let o = run(&["analyze", f]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
}

/// One OTLP/JSON line: 20 SERVER spans of `svc` on `GET /a` with `deployment.track`, one per
/// second from 2026-01-01T00:00:00Z (both sides overlap in time).
fn otlp_line(track: &str, seed: u64) -> String {
    let spans: Vec<Value> = (0..20u64)
        .map(|i| {
            let start = 1_767_225_600_000_000_000u64 + i * 1_000_000_000 + seed * 1_000_000;
            serde_json::json!({
                "traceId": format!("{:032x}", seed * 1000 + i + 1),
                "spanId": format!("{:016x}", seed * 1000 + i + 1),
                "name": "GET /a",
                "kind": 2,
                "startTimeUnixNano": start.to_string(),
                "endTimeUnixNano": (start + 10_000_000 + i * 100_000).to_string(),
                "attributes": [
                    {"key": "http.request.method", "value": {"stringValue": "GET"}},
                    {"key": "http.route", "value": {"stringValue": "/a"}},
                    {"key": "http.response.status_code", "value": {"intValue": "200"}}
                ],
                "status": {}
            })
        })
        .collect();
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "svc"}},
            {"key": "deployment.track", "value": {"stringValue": track}}
        ]},
        "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]
    }]})
    .to_string()
}

// ---------------------------------------------------------------------------------------------
// The JSON report

/// Checks `v` against a JSON-schema node: `$ref`, `type`, `enum`, `const`, `required`,
/// `properties`, `additionalProperties: false` and `items` (the keywords
/// docs/report.schema.json uses), recursively. Pushes one message per violation.
pub fn check_schema(node: &Value, v: &Value, root: &Value, path: &str, errs: &mut Vec<String>) {
    if let Some(r) = node["$ref"].as_str() {
        let name = r.strip_prefix("#/$defs/").expect("local $ref");
        return check_schema(&root["$defs"][name], v, root, path, errs);
    }
    if let Some(t) = node.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            errs.push(format!("{path}: {v} is not of type {types:?}"));
            return;
        }
    }
    if let Some(allowed) = node["enum"].as_array() {
        if !allowed.contains(v) {
            errs.push(format!("{path}: {v} not in {allowed:?}"));
        }
    }
    if let Some(c) = node.get("const") {
        if c != v {
            errs.push(format!("{path}: {v} is not {c}"));
        }
    }
    if let Some(obj) = v.as_object() {
        for k in node["required"].as_array().into_iter().flatten() {
            let k = k.as_str().unwrap();
            if !obj.contains_key(k) {
                errs.push(format!("{path}: required field `{k}` missing"));
            }
        }
        let props = node["properties"].as_object();
        for (k, x) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => check_schema(sub, x, root, &format!("{path}.{k}"), errs),
                None if node["additionalProperties"] == Value::Bool(false) => {
                    errs.push(format!("{path}: field `{k}` is not in the schema"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (node.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            check_schema(items, x, root, &format!("{path}[{i}]"), errs);
        }
    }
}

#[test]
fn json_report_matches_the_schema() {
    let schema = read_json(&root().join("docs/report.schema.json"));
    let r = sample_report();
    // The checker itself must catch a missing field, or this test could never fail.
    let mut broken = r.clone();
    broken["comparisons"][0]
        .as_object_mut()
        .unwrap()
        .remove("classification");
    broken.as_object_mut().unwrap().remove("window");
    let mut errs = Vec::new();
    check_schema(&schema, &broken, &schema, "$", &mut errs);
    assert!(
        errs.iter().any(|e| e.contains("`window`"))
            && errs
                .iter()
                .any(|e| e.contains("comparisons[0]") && e.contains("`classification`")),
        "{errs:?}"
    );

    let mut errs = Vec::new();
    check_schema(&schema, &r, &schema, "$", &mut errs);
    assert!(
        errs.is_empty(),
        "report violates the schema:\n{}",
        errs.join("\n")
    );
    // Comparisons of every classification the sample has were checked.
    let classes: std::collections::BTreeSet<&str> = r["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["classification"].as_str().unwrap())
        .collect();
    assert!(classes.len() >= 3, "{classes:?}");
    assert_eq!(r["generated_at"], "2026-01-01T00:00:00Z");
}

#[test]
fn json_file_equals_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("report.json");
    let o = run_env(
        &["analyze", sample_dataset(), "-o", file.to_str().unwrap()],
        &[("SOURCE_DATE_EPOCH", EPOCH)],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    // With -o FILE the human summary goes to stdout.
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(summary.contains("verdict: ROLLBACK"), "{summary}");
    let written = std::fs::read_to_string(&file).unwrap();
    let (_, printed, _) = sample_dataset_report();
    assert_same_text("-o FILE vs -o -", &written, printed);
}

/// Asserts two texts are equal, naming the first differing line.
pub fn assert_same_text(what: &str, a: &str, b: &str) {
    if a == b {
        return;
    }
    let i = a
        .lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or(a.lines().count().min(b.lines().count()));
    panic!(
        "{what}: texts differ first at line {}:\n- {:?}\n+ {:?}",
        i + 1,
        a.lines().nth(i),
        b.lines().nth(i)
    );
}

/// `data_quality` without file names and formats (which name the input form).
fn quality_counts(r: &Value) -> Value {
    let mut q = r["data_quality"].clone();
    for f in q["files"].as_array_mut().unwrap() {
        let f = f.as_object_mut().unwrap();
        f.remove("file");
        f.remove("format");
    }
    q
}

#[test]
fn dataset_parquet_and_raw_otlp_inputs_agree() {
    // Raw OTLP/JSON (gzip), the generator's canonical Parquet file (ingested in memory), and
    // a DATASET written by `canalyst ingest` from that Parquet (scanned directly).
    let raw = sample_report();
    let (c, _, from_ds) = sample_dataset_report();
    assert_eq!(*c, 1);
    assert_same_comparisons(&raw, from_ds, "raw OTLP vs DATASET");
    let (c, from_parquet) = analyze_json(&[SAMPLE_PARQUET]);
    assert_eq!(c, 1);
    assert_same_comparisons(&raw, &from_parquet, "raw OTLP vs canonical Parquet");
    for (name, r) in [("DATASET", from_ds), ("Parquet", &from_parquet)] {
        for k in [
            "verdict",
            "score",
            "drivers",
            "summary",
            "window",
            "group_scores",
        ] {
            assert_eq!(raw[k], r[k], "{name}: {k}");
        }
    }
    // The sample directory also holds metrics (counted in data quality); the span-only forms
    // must match the span file exactly.
    let (_, raw_traces) = analyze_json(&["sample-data/otlp/traces.jsonl.gz"]);
    assert_same_comparisons(&raw, &raw_traces, "directory vs its traces file");
    for (name, r) in [("DATASET", from_ds), ("Parquet", &from_parquet)] {
        assert_eq!(
            quality_counts(&raw_traces),
            quality_counts(r),
            "{name}: data_quality"
        );
    }
    // File names are as given on the command line (relative here), never made absolute.
    assert_eq!(
        raw["data_quality"]["files"][1]["file"],
        "sample-data/otlp/traces.jsonl.gz"
    );
    assert_eq!(
        from_parquet["data_quality"]["files"][0]["file"],
        SAMPLE_PARQUET
    );
    // The DATASET remembers the file it was ingested from.
    assert_eq!(from_ds["data_quality"]["files"][0]["file"], SAMPLE_PARQUET);
}

/// The sample's spans exported in the shapes real pipelines write — Collector batch lines (28
/// `resourceSpans` entries per line, resources repeated across entries), SDK exporter lines
/// (one entry per line), one pretty-printed document, gzip batch lines — are analysed exactly
/// as the sample's own lines (`benches/shapes.sh` times the same shapes).
#[test]
fn every_export_shape_gives_the_same_analysis() {
    use std::io::{Read, Write};
    let gz = std::fs::read(root().join("sample-data/otlp/traces.jsonl.gz")).unwrap();
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    let entries: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|l| {
            let doc: Value = serde_json::from_str(l).unwrap();
            doc["resourceSpans"].as_array().unwrap().clone()
        })
        .collect();
    assert!(entries.len() > 100, "{} entries", entries.len());
    let lines = |per_line: usize| -> String {
        entries
            .chunks(per_line)
            .map(|c| serde_json::json!({ "resourceSpans": c }).to_string() + "\n")
            .collect()
    };
    let collector = lines(28);
    let gzipped = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(collector.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let pretty =
        serde_json::to_string_pretty(&serde_json::json!({ "resourceSpans": entries })).unwrap();
    let shapes: Vec<(&str, Vec<u8>)> = vec![
        ("collector.jsonl", collector.into_bytes()),
        ("sdk.jsonl", lines(1).into_bytes()),
        ("pretty.json", pretty.into_bytes()),
        ("collector.jsonl.gz", gzipped),
    ];
    let (want_code, want) = analyze_json(&["sample-data/otlp/traces.jsonl.gz"]);
    let tmp = tempfile::tempdir().unwrap();
    for (name, bytes) in shapes {
        let path = tmp.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let (c, got) = analyze_json(&[path.to_str().unwrap()]);
        assert_eq!(c, want_code, "{name}: exit code");
        assert_same_comparisons(&want, &got, name);
        for k in [
            "verdict",
            "score",
            "drivers",
            "summary",
            "window",
            "group_scores",
        ] {
            assert_eq!(want[k], got[k], "{name}: {k}");
        }
        assert_eq!(
            quality_counts(&want),
            quality_counts(&got),
            "{name}: data_quality"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Calibration against the injected truth

fn assert_truth(dir: &Path, r: &Value) {
    let truth = read_json(&dir.join("truth.json"));
    assert!(!truth["effects"].as_array().unwrap().is_empty());
    let bad = truth_violations(r, &truth);
    assert!(
        bad.is_empty(),
        "{}: report disagrees with truth.json:\n{}",
        dir.display(),
        bad.join("\n")
    );
}

#[test]
fn sample_data_findings_match_the_truth() {
    let r = sample_report();
    assert_truth(&root().join("sample-data"), &r);
    // The verdict names the injected regressions: each driver is on an injected route.
    let truth = read_json(&root().join("sample-data/truth.json"));
    for d in r["drivers"].as_array().unwrap() {
        let c = r["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == *d)
            .expect("driver is a comparison");
        assert!(
            truth["effects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["service"] == c["service"] && e["route"] == c["route"]),
            "driver {d} is not an injected effect"
        );
    }
}

#[test]
fn latency_scenario_findings_match_the_truth() {
    let dir = generated("latency", 50_000, 0.5);
    let (_, r) = analyze_json(&[&parquet_of(&dir)]);
    assert_truth(&dir, &r);
}

#[test]
fn errors_scenario_rolls_back_and_matches_the_truth() {
    let dir = generated("errors", ERRORS_SPANS, 0.5);
    let (c, r) = analyze_json(&[&parquet_of(&dir)]);
    assert_truth(&dir, &r);
    assert_eq!(verdict(&r), "rollback", "summary: {}", r["summary"]);
    assert_eq!(c, 1);
}

/// Size of the `errors` run: payment `POST /charge` is about 0.5% of spans, and an error rate
/// ×5 (0.8% → 4%) needs a few hundred requests per side to survive the Benjamini–Hochberg
/// correction over ~70 comparisons (at 100 000 spans it is inconclusive).
const ERRORS_SPANS: u64 = 200_000;

#[test]
fn presets_seed_simple_and_kayenta_give_a_verdict() {
    let exit = |v: &str| match v {
        "promote" => 0,
        "rollback" => 1,
        "continue" => 3,
        other => panic!("unknown verdict {other}"),
    };
    let failing = |r: &Value, svc: &str, route: &str, metric: &str| {
        r["comparisons"].as_array().unwrap().iter().any(|c| {
            c["service"] == svc
                && c["route"] == route
                && c["metric"] == metric
                && c["classification"] == "fail_high"
        })
    };
    // seed-simple: point estimates, error rate +10 pp allowed, p99 +20% critical. The p99
    // regression on productcatalog /search forces rollback; the +4 pp error rate is allowed.
    let (c, r) = analyze_json(&[sample_dataset(), "--preset", "seed-simple"]);
    assert_eq!(r["config_name"], "seed-simple");
    assert_eq!(verdict(&r), "rollback", "{}", r["summary"]);
    assert_eq!(c, 1);
    assert!(
        failing(&r, "productcatalog", "/search", "latency_p99"),
        "{}",
        r["summary"]
    );
    assert!(!failing(&r, "payment", "/charge", "error_rate"));

    // kayenta: NetflixACAJudge semantics (Mann–Whitney on per-request durations and on
    // per-bucket error rates, 98% confidence, tolerance 0.25). It finds the +30% latency shift
    // on checkout; like Kayenta, it cannot see a rare-error increase through per-minute error
    // rates that are mostly zero, so its verdict may differ from the default preset's.
    let (c, r) = analyze_json(&[sample_dataset(), "--preset", "kayenta"]);
    assert_eq!(r["config_name"], "kayenta");
    assert_eq!(c, exit(verdict(&r)), "{}", r["summary"]);
    assert!(
        failing(&r, "checkout", "/checkout", "latency_shift"),
        "{}",
        r["summary"]
    );
    for cmp in r["comparisons"].as_array().unwrap() {
        // Kayenta judges against its own tolerance, not an allowed region.
        assert!(cmp["allowed_increase"].is_null(), "{cmp}");
    }
}

// ---------------------------------------------------------------------------------------------
// Selection flags

#[test]
fn versions_select_the_same_sides_as_tracks() {
    let (_, _, by_track) = sample_dataset_report();
    let (c, by_version) = analyze_json(&[
        sample_dataset(),
        "--baseline-version",
        "2.3.0",
        "--canary-version",
        "2.4.0",
    ]);
    assert_eq!(c, 1);
    assert_eq!(
        by_version["baseline"],
        serde_json::json!({"version": "2.3.0"})
    );
    assert_eq!(
        by_version["canary"],
        serde_json::json!({"version": "2.4.0"})
    );
    assert_same_comparisons(by_track, &by_version, "tracks vs versions");
}

#[test]
fn service_flag_restricts_to_that_service() {
    let (c, r) = analyze_json(&[sample_dataset(), "--service", "payment"]);
    let cs = r["comparisons"].as_array().unwrap();
    assert!(!cs.is_empty());
    for x in cs {
        assert_eq!(x["service"], "payment", "{}", x["id"]);
    }
    assert!(cs
        .iter()
        .any(|x| x["route"] == "/charge" && x["classification"] == "fail_high"));
    assert_eq!(c, 1, "{}", r["summary"]);
    // An unknown service has nothing to compare: an error, not a verdict.
    let o = run(&["analyze", sample_dataset(), "--service", "no-such-service"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn since_and_until_narrow_the_window() {
    // 00:20 to 00:40 of the one-hour run: a third of the canary's 55 minutes.
    let since = 1_767_226_800_000_000_000i64;
    let until = 1_767_228_000_000_000_000i64;
    let (_, r) = analyze_json(&[
        sample_dataset(),
        "--since",
        "2026-01-01T00:20:00Z",
        "--until",
        "2026-01-01T00:40:00Z",
    ]);
    let start = r["window"]["start_unix_nano"].as_i64().unwrap();
    let end = r["window"]["end_unix_nano"].as_i64().unwrap();
    assert!(
        start >= since && end <= until && start < end,
        "window {start}..{end} not inside {since}..{until}"
    );
    assert!(start - since < 60_000_000_000 && until - end < 60_000_000_000);
    // Fewer requests than the full window, in proportion.
    let full = sample_report();
    let total = |r: &Value| -> u64 {
        r["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["metric"] == "error_rate")
            .map(|c| c["canary"]["count"].as_u64().unwrap())
            .sum()
    };
    let (part, all) = (total(&r), total(&full));
    assert!(
        part * 5 > all && part * 2 < all,
        "20 of 55 minutes hold {part} of {all} canary requests"
    );
    // A window that ends before it starts is an error.
    let o = run(&[
        "analyze",
        sample_dataset(),
        "--since",
        "2026-01-01T00:40:00Z",
        "--until",
        "2026-01-01T00:20:00Z",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

/// Raw inputs past `CANALYST_SPILL_MIB` of kept columns go to a temporary Parquet file; the
/// report is the same byte for byte, the file is gone afterwards, and bad settings are exit 2.
#[test]
fn spilled_raw_inputs_give_the_same_report() {
    let tmp = tempfile::tempdir().unwrap();
    let spill_dir = tmp.path().to_str().unwrap();
    let o = run_env(
        &["--threads", "1", "analyze", "sample-data/otlp", "-o", "-"],
        &[
            ("SOURCE_DATE_EPOCH", EPOCH),
            ("CANALYST_SPILL_MIB", "0"),
            ("CANALYST_SPILL_DIR", spill_dir),
        ],
    );
    let (held_code, held) = sample_analysis();
    assert_eq!(code(&o), *held_code, "{}", stderr(&o));
    assert_same_text(
        "spilled vs held in memory",
        &String::from_utf8_lossy(&o.stdout),
        held,
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "the spill directory is removed"
    );

    let o = run_env(
        &["analyze", "sample-data/otlp", "-o", "-"],
        &[("CANALYST_SPILL_MIB", "half")],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("CANALYST_SPILL_MIB=half"),
        "{}",
        stderr(&o)
    );
    let missing = tmp.path().join("no-such-dir");
    let o = run_env(
        &["analyze", "sample-data/otlp", "-o", "-"],
        &[
            ("CANALYST_SPILL_MIB", "0"),
            ("CANALYST_SPILL_DIR", missing.to_str().unwrap()),
        ],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("no-such-dir"), "{}", stderr(&o));
}
