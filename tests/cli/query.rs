//! `canalyst query`: the number equals an independent `canalyst sql` computation over the same
//! window and selection, equals the generator's truth.json counts, is the same from raw files
//! and from their DATASET; no data is exit 4 and never 0; `--at` moves the window; `--stage`
//! reads span attributes; bad flags are exit 2 naming the flag; the JSON matches
//! docs/query.schema.json; the example YAML parses.

use crate::analyze::check_schema;
use crate::fixtures::{code, read_json, root, run, sample_dataset, stderr, stdout_json};
use serde_json::{json, Value};
use std::process::Output;

const NS: i64 = 1_000_000_000;

/// `canalyst sql QUERY INPUT --format json -p int:… ` rows.
fn sql_rows(sql: &str, input: &str, ints: &[i64]) -> Vec<Value> {
    let mut args = vec![
        "sql".to_string(),
        sql.to_string(),
        input.to_string(),
        "--format".into(),
        "json".into(),
    ];
    for i in ints {
        args.push("-p".into());
        args.push(format!("int:{i}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(&refs);
    assert_eq!(code(&o), 0, "sql {sql}: {}", stderr(&o));
    stdout_json(&o, "sql").as_array().expect("rows").clone()
}

/// 1 ns after the newest span start of `input`: where a window without --at ends.
fn newest_end(input: &str) -> i64 {
    let rows = sql_rows(
        "SELECT CAST(max(start_time) AS BIGINT) AS t FROM spans",
        input,
        &[],
    );
    rows[0]["t"].as_i64().unwrap() + 1
}

/// Durations (ms) of the requests of `track` with start in [start, end), from SQL.
fn durations(input: &str, track: &str, start: i64, end: i64) -> Vec<f64> {
    let sql = format!(
        "SELECT CAST(duration_ns AS DOUBLE) / 1e6 AS d FROM requests \
         WHERE deployment_track = '{track}' \
         AND CAST(start_time AS BIGINT) >= $1 AND CAST(start_time AS BIGINT) < $2"
    );
    let mut d: Vec<f64> = sql_rows(&sql, input, &[start, end])
        .iter()
        .map(|r| r["d"].as_f64().unwrap())
        .collect();
    d.sort_by(f64::total_cmp);
    d
}

/// Hyndman–Fan type 7 (numpy's default `linear`) of sorted `x`.
fn type7(x: &[f64], q: f64) -> f64 {
    let h = (x.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(x.len() - 1);
    x[lo] + (h - lo as f64) * (x[hi] - x[lo])
}

/// (requests, errors, Σ weight, Σ weight of errors) of `track` in [start, end), from SQL.
fn counts(input: &str, track: &str, start: i64, end: i64) -> (u64, u64, f64, f64) {
    let sql = format!(
        "SELECT CAST(count(*) AS BIGINT) AS n, \
         CAST(sum(CASE WHEN is_error THEN 1 ELSE 0 END) AS BIGINT) AS e, \
         sum(sample_weight) AS w, sum(CASE WHEN is_error THEN sample_weight ELSE 0 END) AS we \
         FROM requests WHERE deployment_track = '{track}' \
         AND CAST(start_time AS BIGINT) >= $1 AND CAST(start_time AS BIGINT) < $2"
    );
    let r = &sql_rows(&sql, input, &[start, end])[0];
    (
        r["n"].as_u64().unwrap(),
        r["e"].as_u64().unwrap_or(0),
        r["w"].as_f64().unwrap_or(0.0),
        r["we"].as_f64().unwrap_or(0.0),
    )
}

fn query(args: &[&str]) -> Output {
    let mut all = vec!["query"];
    all.extend_from_slice(args);
    run(&all)
}

/// The number a plain query prints, asserting exit 0.
fn number(args: &[&str]) -> f64 {
    let o = query(args);
    assert_eq!(code(&o), 0, "query {args:?}: {}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("query {args:?} printed {text:?}: {e}"))
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * b.abs().max(1e-12),
        "{what}: query {a} vs sql {b}"
    );
}

#[test]
fn the_number_equals_sql_over_the_same_window() {
    let ds = sample_dataset();
    let end = newest_end(ds);
    let start = end - 300 * NS;
    let (n, _, w, we) = counts(ds, "canary", start, end);
    assert!(n > 100, "the last 5 minutes hold canary requests ({n})");
    close(
        number(&["error_rate", ds, "--track", "canary"]),
        we / w,
        "error_rate",
    );
    close(
        number(&["request_rate", ds, "--track", "canary"]),
        w / 300.0,
        "request_rate",
    );
    let canary = durations(ds, "canary", start, end);
    assert_eq!(canary.len() as u64, n);
    close(
        number(&["p99", ds, "--track", "canary"]),
        type7(&canary, 0.99),
        "p99",
    );
    let stable = durations(ds, "stable", start, end);
    close(
        number(&["p99", ds, "--compare", "ratio"]),
        type7(&canary, 0.99) / type7(&stable, 0.99),
        "p99 ratio",
    );
    let (ns, _, ws, wes) = counts(ds, "stable", start, end);
    close(
        number(&["error_rate", ds, "--compare", "difference"]),
        we / w - wes / ws,
        "error_rate difference",
    );
    // The JSON carries the counts behind the number.
    let o = query(&["p50", ds, "--compare", "ratio", "--format", "json"]);
    let v = stdout_json(&o, "query json");
    assert_eq!(v["sides"][0]["name"], "baseline");
    assert_eq!(v["sides"][0]["count"], ns);
    assert_eq!(v["sides"][1]["count"], n);
    assert_eq!(v["window"]["start_unix_nano"], start);
    assert_eq!(v["window"]["end_unix_nano"], end);
    assert_eq!(v["window"]["end_from"], "newest_span");
    close(
        v["value"].as_f64().unwrap(),
        type7(&canary, 0.5) / type7(&stable, 0.5),
        "p50 ratio",
    );
}

#[test]
fn counts_equal_the_generator_truth() {
    // truth.json counts SERVER spans per route from the canary start to the end of the run.
    let truth = read_json(&root().join("sample-data/truth.json"));
    let tr = &truth["time_range"];
    let start = tr["canary_start_unix_nano"].as_i64().unwrap();
    let at = "2026-01-01T01:00:00Z";
    assert!(tr["end_unix_nano"].as_i64().unwrap() < 1_767_229_200 * NS);
    assert_eq!(
        1_767_229_200 * NS - start,
        55 * 60 * NS,
        "window below is 55m"
    );
    let routes: Vec<&Value> = truth["effects"]
        .as_array()
        .unwrap()
        .iter()
        .chain(truth["clean"].as_array().unwrap().iter().take(2))
        .collect();
    assert!(routes.len() >= 4);
    for r in routes {
        let (svc, route) = (r["service"].as_str().unwrap(), r["route"].as_str().unwrap());
        let o = query(&[
            "error_rate",
            sample_dataset(),
            "--compare",
            "difference",
            "--service",
            svc,
            "--route",
            route,
            "--at",
            at,
            "--window",
            "55m",
            "--format",
            "json",
        ]);
        let v = stdout_json(&o, "query truth");
        let obs = &r["observed"];
        let side = |i: usize, k: &str| v["sides"][i][k].as_u64().unwrap();
        assert_eq!(
            side(0, "count"),
            obs["stable_requests"].as_u64().unwrap(),
            "{svc} {route}"
        );
        assert_eq!(
            side(1, "count"),
            obs["canary_requests"].as_u64().unwrap(),
            "{svc} {route}"
        );
        assert_eq!(
            side(0, "errors"),
            obs["stable_errors"].as_u64().unwrap(),
            "{svc} {route}"
        );
        assert_eq!(
            side(1, "errors"),
            obs["canary_errors"].as_u64().unwrap(),
            "{svc} {route}"
        );
        let rate = |e: &str, n: &str| obs[e].as_f64().unwrap() / obs[n].as_f64().unwrap();
        close(
            v["value"].as_f64().unwrap(),
            rate("canary_errors", "canary_requests") - rate("stable_errors", "stable_requests"),
            "truth difference",
        );
    }
}

#[test]
fn raw_files_and_their_dataset_give_the_same_answer() {
    let args = |input: &str| {
        let o = query(&["p99", input, "--compare", "ratio", "--format", "json"]);
        let mut v = stdout_json(&o, "query");
        // Raw inputs also hold the metrics file; the data-quality counts differ by design.
        v.as_object_mut().unwrap().remove("data_quality");
        v
    };
    let raw = args("sample-data/otlp");
    let ds = args(sample_dataset());
    assert!(raw["value"].is_number(), "{raw}");
    assert_eq!(raw, ds);
}

#[test]
fn the_answer_does_not_depend_on_threads() {
    let ds = sample_dataset();
    let answer = |threads: &str| {
        let o = run(&[
            "--threads",
            threads,
            "query",
            "p999",
            ds,
            "--compare",
            "difference",
            "--format",
            "json",
        ]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        o.stdout
    };
    assert_eq!(answer("1"), answer("2"));
}

#[test]
fn no_data_is_exit_4_with_a_reason_never_zero() {
    let ds = sample_dataset();
    // Before the run started: nothing in the window.
    let before = [
        "error_rate",
        ds,
        "--track",
        "canary",
        "--at",
        "2025-06-01T00:00:00Z",
    ];
    let o = query(&before);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "plain prints nothing on stdout");
    assert!(
        stderr(&o).contains("no data: no requests"),
        "{}",
        stderr(&o)
    );
    let mut json_args = before.to_vec();
    json_args.extend(["--format", "json"]);
    let o = query(&json_args);
    assert_eq!(code(&o), 4);
    let v = stdout_json(&o, "no-data json");
    assert_eq!(v["value"], Value::Null);
    assert_eq!(v["no_data"], "no_requests");
    assert!(v["reason"].as_str().unwrap().contains("no requests"));
    // A ratio without a canary in the window.
    let o = query(&[
        "p99",
        ds,
        "--compare",
        "ratio",
        "--canary-track",
        "nope",
        "--baseline-track",
        "stable",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let v = stdout_json(&o, "no canary");
    assert_eq!(v["no_data"], "no_canary");
    assert!(
        v["sides"][0]["count"].as_u64().unwrap() > 0,
        "stable had traffic"
    );
    // Inputs without any span (the metrics file alone) have no window at all.
    let o = query(&[
        "error_rate",
        "sample-data/otlp/metrics.jsonl.gz",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let v = stdout_json(&o, "no spans");
    assert_eq!(v["no_data"], "no_spans");
    assert_eq!(v["window"], Value::Null);
}

#[test]
fn at_moves_the_window() {
    let ds = sample_dataset();
    let mut seen = Vec::new();
    for (at, at_ns) in [
        ("2026-01-01T00:20:00Z", 1_767_226_800 * NS),
        ("2026-01-01T00:30:00Z", 1_767_227_400 * NS),
    ] {
        let o = query(&[
            "error_rate",
            ds,
            "--track",
            "canary",
            "--window",
            "10m",
            "--at",
            at,
            "--format",
            "json",
        ]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let v = stdout_json(&o, "query --at");
        assert_eq!(v["window"]["end"], at);
        assert_eq!(v["window"]["end_from"], "at");
        assert_eq!(v["window"]["start_unix_nano"], at_ns - 600 * NS);
        let (n, e, _, _) = counts(ds, "canary", at_ns - 600 * NS, at_ns);
        assert_eq!(v["sides"][0]["count"], n, "{at}");
        assert_eq!(v["sides"][0]["errors"], e, "{at}");
        seen.push(n);
    }
    assert_ne!(seen[0], seen[1], "two windows, two counts");
}

/// OTLP/JSON: service `svc`, resource without any stage (3 SERVER spans carrying
/// `deployment.stage=canary` as a span attribute, one of them an error, and 2 without it),
/// and a resource with `deployment.stage=canary` as a resource attribute (1 span).
fn stage_fixture() -> String {
    let span = |i: u64, stage: Option<&str>, error: bool| {
        let start = 1_767_225_600_000_000_000u64 + i * NS as u64;
        let mut attrs = vec![json!({"key": "http.route", "value": {"stringValue": "/a"}})];
        if let Some(s) = stage {
            attrs.push(json!({"key": "deployment.stage", "value": {"stringValue": s}}));
        }
        json!({
            "traceId": format!("{:032x}", i + 1), "spanId": format!("{:016x}", i + 1),
            "name": "GET /a", "kind": 2,
            "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": (start + 5_000_000 * (i + 1)).to_string(),
            "attributes": attrs,
            "status": if error { json!({"code": 2}) } else { json!({}) }
        })
    };
    let resource = |extra: Option<(&str, &str)>, spans: Vec<Value>| {
        let mut attrs = vec![json!({"key": "service.name", "value": {"stringValue": "svc"}})];
        if let Some((k, v)) = extra {
            attrs.push(json!({"key": k, "value": {"stringValue": v}}));
        }
        json!({"resource": {"attributes": attrs},
               "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]})
    };
    let line = json!({"resourceSpans": [
        resource(None, vec![
            span(0, Some("canary"), true),
            span(1, Some("canary"), false),
            span(2, Some("canary"), false),
            span(3, None, false),
            span(4, None, false),
        ]),
        resource(Some(("deployment.stage", "canary")), vec![span(5, None, false)]),
    ]});
    line.to_string() + "\n"
}

#[test]
fn stage_is_read_from_span_and_resource_attributes() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("baggage.jsonl");
    std::fs::write(&f, stage_fixture()).unwrap();
    let f = f.to_str().unwrap();
    let o = query(&["error_rate", f, "--stage", "canary", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = stdout_json(&o, "stage");
    assert_eq!(
        v["sides"][0]["count"], 4,
        "3 by span attribute + 1 by resource: {v}"
    );
    assert_eq!(v["sides"][0]["errors"], 1);
    assert_eq!(v["value"], 0.25);
    assert_eq!(v["total"]["count"], 6);
    // The same from a DATASET, whose resource attributes are stored once per resource and
    // read back through the `spans` view (README "Resources once per resource").
    let ds = tmp.path().join("ds");
    let ds = ds.to_str().unwrap();
    let o = run(&["ingest", f, "-o", ds, "--quiet"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = query(&["error_rate", ds, "--stage", "canary", "--format", "json"]);
    let stored = stdout_json(&o, "stage");
    for key in ["sides", "value", "total"] {
        assert_eq!(stored[key], v[key], "{key}: DATASET and raw file disagree");
    }
    // The track rule reads deployment.stage from the resource and, since the
    // BaggageSpanProcessor copies baggage into span attributes, from the span too (README
    // "Identity rules"; issue 10 part 3): the same 4 spans.
    let o = query(&["traffic_share", f, "--track", "canary", "--format", "json"]);
    let v = stdout_json(&o, "track");
    assert_eq!(v["sides"][0]["count"], 4, "{v}");
    assert_eq!(v["value"], 4.0 / 6.0);
    // Stages compared: the spans without a stage are neither side.
    let o = query(&[
        "request_rate",
        f,
        "--compare",
        "ratio",
        "--canary-stage",
        "canary",
        "--baseline-stage",
        "stable",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert_eq!(stdout_json(&o, "stages")["no_data"], "no_baseline");
}

#[test]
fn bounds_set_exit_1_and_argo_needs_one() {
    let ds = sample_dataset();
    let v = number(&["error_rate", ds, "--track", "canary"]);
    assert!(v > 0.0);
    let bounded = |flag: &str, bound: f64| {
        let bound = bound.to_string();
        let args = [
            "error_rate",
            ds,
            "--track",
            "canary",
            flag,
            &bound,
            "--format",
            "argo",
        ];
        query(&args)
    };
    let o = bounded("--fail-above", v / 2.0);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let printed = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(
        printed.trim().parse::<f64>().unwrap(),
        v,
        "the number is still printed"
    );
    assert!(stderr(&o).contains("breaks --fail-above"), "{}", stderr(&o));
    let o = bounded("--fail-above", v * 2.0);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("within --fail-above"), "{}", stderr(&o));
    assert_eq!(code(&bounded("--fail-below", v * 2.0)), 1);
    assert_eq!(code(&bounded("--fail-below", v / 2.0)), 0);
}

#[test]
fn bad_flags_are_exit_2_naming_the_flag() {
    let ds = sample_dataset();
    let cases: &[(&[&str], &[&str])] = &[
        (&["p42", ds], &["METRIC", "p42", "error_rate"]),
        (&["p99", ds, "--window", "5"], &["--window", "unit"]),
        (&["p99", ds, "--window", "0m"], &["--window"]),
        (&["p99", ds, "--at", "yesterday"], &["--at", "yesterday"]),
        (
            &["p99", ds, "--track", "canary", "--stage", "canary"],
            &["--stage", "--track"],
        ),
        (
            &["p99", ds, "--track", "canary", "--compare", "ratio"],
            &["--compare", "--track"],
        ),
        (&["p99", ds, "--canary-track", "canary"], &["--compare"]),
        (
            &["p99", ds, "--route", "/a", "--operation", "x"],
            &["--operation", "--route"],
        ),
        (
            &["p99", ds, "--format", "argo"],
            &["--fail-above", "exit code"],
        ),
        (&["traffic_share", ds], &["traffic_share", "--track"]),
        (
            &["p99", ds, "--fail-above", "NaN"],
            &["--fail-above", "finite"],
        ),
        (&["p99", "no/such/input"], &["no/such/input"]),
    ];
    for (args, needles) in cases {
        let o = query(args);
        let e = stderr(&o);
        assert_eq!(code(&o), 2, "{args:?}: {e}");
        assert!(o.stdout.is_empty(), "{args:?} printed on stdout");
        for n in *needles {
            assert!(e.contains(n), "{args:?}: {n:?} not in {e}");
        }
    }
}

#[test]
fn strict_fails_on_a_rejected_record() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("bad.jsonl");
    std::fs::write(&f, stage_fixture() + "this line is not JSON {\n").unwrap();
    let f = f.to_str().unwrap();
    let o = query(&["error_rate", f, "--strict"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.jsonl:2"), "{}", stderr(&o));
    // Without --strict the good records answer.
    assert_eq!(code(&query(&["error_rate", f])), 0);
}

#[test]
fn json_answers_match_the_schema() {
    let schema = read_json(&root().join("docs/query.schema.json"));
    let ds = sample_dataset();
    let answered = stdout_json(
        &query(&[
            "p99",
            ds,
            "--compare",
            "ratio",
            "--format",
            "json",
            "--fail-above",
            "9",
        ]),
        "answered",
    );
    let empty = stdout_json(
        &query(&[
            "error_rate",
            "sample-data/otlp/metrics.jsonl.gz",
            "--format",
            "json",
        ]),
        "no spans",
    );
    for v in [&answered, &empty] {
        let mut errs = Vec::new();
        check_schema(&schema, v, &schema, "$", &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
    }
    // The checker sees a missing or unknown field, or this test could never fail.
    let mut broken = answered.clone();
    broken["sides"][0].as_object_mut().unwrap().remove("count");
    broken["window"]["extra"] = json!(1);
    let mut errs = Vec::new();
    check_schema(&schema, &broken, &schema, "$", &mut errs);
    assert!(
        errs.iter()
            .any(|e| e.contains("sides[0]") && e.contains("`count`")),
        "{errs:?}"
    );
    assert!(errs.iter().any(|e| e.contains("`extra`")), "{errs:?}");
}

/// Every `canalyst` command line in the example YAML files (container args, Flagger `cmd`),
/// via python's yaml module; `None` after a visible skip when it is missing.
fn example_commands(files: &[String]) -> Option<Vec<Vec<String>>> {
    let code = format!(
        r#"import json, shlex, yaml
found = []
def walk(node):
    if isinstance(node, dict):
        if node.get("command") == ["canalyst"]:
            found.append(node["args"])
        if node.get("type") == "bash" and "cmd" in node:
            found.append(shlex.split(node["cmd"])[1:])
        for v in node.values():
            walk(v)
    elif isinstance(node, list):
        for v in node:
            walk(v)
for f in {files:?}:
    docs = [d for d in yaml.safe_load_all(open(f)) if d]
    assert docs and all("kind" in d for d in docs), f
    walk(docs)
print(json.dumps(found))"#
    );
    let out = crate::tools::python("example_yaml_commands_run", "yaml", &code)?;
    Some(serde_json::from_str(&out).expect("JSON list of argument lists"))
}

#[test]
fn example_yaml_commands_run() {
    let files: Vec<String> = [
        "argo-analysis-template.yaml",
        "flagger-canary.yaml",
        "query-job.yaml",
    ]
    .iter()
    .map(|f| {
        root()
            .join("examples")
            .join(f)
            .to_string_lossy()
            .into_owned()
    })
    .collect();
    let Some(commands) = example_commands(&files) else {
        return;
    };
    assert_eq!(commands.len(), 4, "{commands:?}");
    // The volume becomes the sample DATASET, the template argument a service in it; a command
    // may pass, break its bound or find no data, but its flags must be accepted.
    for args in commands {
        assert_eq!(args[0], "query", "{args:?}");
        let args: Vec<String> = args
            .iter()
            .map(|a| match a.as_str() {
                "/otel" => sample_dataset().to_string(),
                "{{args.service}}" => "checkout".to_string(),
                _ => a.clone(),
            })
            .collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&refs);
        assert!(
            [0, 1, 4].contains(&code(&o)),
            "{args:?}: exit {}: {}",
            code(&o),
            stderr(&o)
        );
    }
}
