//! `canalyst forensics` against the truth of `canalyst generate --scenario forensics` (OTLP
//! JSON and a DATASET of the same spans), on the sample data, and on hand-written broken
//! traces; `forensics.json` checked against `docs/forensics.schema.json`.

use crate::analyze::check_schema;
use crate::fixtures::{code, read_json, root, run, scratch, stderr, stdout_json};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A `forensics` scenario run (the service mesh) with its OTLP/JSON, OTLP protobuf and
/// canonical Parquet kept (40 000 spans, 20% canary).
fn forensics_run() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| mesh_run("forensics-scenario", &[]))
}

/// The same mesh, head-sampled (`--head-sampling`: `ot=th:` tracestates, weights 1, 2, 8).
fn head_sampled_run() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| mesh_run("forensics-head-sampled", &["--head-sampling"]))
}

fn mesh_run(name: &str, extra: &[&str]) -> PathBuf {
    let dir = scratch().join(name);
    let mut args = vec![
        "generate",
        "--scenario",
        "forensics",
        "--spans",
        "40000",
        "--canary-share",
        "0.2",
        "--protobuf",
        "-o",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    dir
}

/// `forensics --format json` over the run's OTLP JSON, OTLP protobuf and Parquet files: the
/// three reports must be identical (every key), and are returned with their names.
fn forensics_of_every_format(dir: &Path, truth: &Value) -> Vec<(Value, &'static str)> {
    let out: Vec<(Value, &str)> = [
        ("otlp/traces.jsonl", "OTLP JSON"),
        ("otlp/traces.binpb", "OTLP protobuf"),
        ("parquet/spans.parquet", "Parquet"),
    ]
    .into_iter()
    .map(|(f, what)| (forensics_json(&dir.join(f), truth), what))
    .collect();
    for (v, what) in &out[1..] {
        assert_eq!(
            &out[0].0, v,
            "forensics.json from OTLP JSON and from {what}"
        );
    }
    out
}

/// `canalyst forensics INPUT` over the truth's canary window, every failing trace listed,
/// printed as JSON.
fn forensics_json(input: &Path, truth: &Value) -> Value {
    forensics_json_with(input, truth, &[])
}

/// [`forensics_json`] with more arguments.
fn forensics_json_with(input: &Path, truth: &Value, extra: &[&str]) -> Value {
    let tr = &truth["time_range"];
    let until = tr["end_unix_nano"].as_i64().unwrap() + 1;
    let until = format!(
        "2026-01-01T00:{:02}:{:02}.{:09}Z",
        (until - 1_767_225_600_000_000_000) / 60_000_000_000,
        (until - 1_767_225_600_000_000_000) / 1_000_000_000 % 60,
        until % 1_000_000_000
    );
    let window = [
        "--since",
        tr["canary_start"].as_str().unwrap(),
        "--until",
        &until,
    ];
    let out = forensics_bytes(input, &[&window[..], extra].concat());
    serde_json::from_slice(&out).expect("forensics --format json")
}

#[test]
fn attribute_diff_ranks_the_injected_region_first_and_select_takes_sql_safely() {
    let dir = forensics_run();
    let truth = read_json(&dir.join("truth.json"));
    let t = &truth["forensics"]["attribute"];
    for input in [
        dir.join("otlp/traces.jsonl"),
        dir.join("parquet/spans.parquet"),
    ] {
        let what = input.display().to_string();
        let r = forensics_json_with(&input, &truth, &["--service", "frontend"]);
        assert_schema(&r);
        let a = &r["attributes"];
        assert_eq!(a["selection"], "errors");
        assert_eq!(a["selection_requests"], t["selection_requests"], "{what}");
        assert_eq!(a["baseline_requests"], t["baseline_requests"], "{what}");
        let top = &a["values"][0];
        assert_eq!(
            (&top["key"], &top["value"]),
            (&t["key"], &t["value"]),
            "{what}: {a:#}"
        );
        assert_eq!(top["selection_count"], t["selection_with_value"], "{what}");
        assert_eq!(top["baseline_count"], t["baseline_with_value"], "{what}");
        assert!(top["p_value_adjusted"].as_f64().unwrap() < 1e-6, "{top:#}");
        assert!(top["score"].as_f64().unwrap() > 0.0);
        // No other value of the key, and no other key, is over-represented (but the pair's
        // values, which fail together, may be).
        let pair = &t["pair"];
        let in_pair = |v: &Value| {
            (0..2).any(|i| v["key"] == pair["keys"][i] && v["value"] == pair["values"][i])
        };
        for v in a["values"].as_array().unwrap().iter().skip(1) {
            assert!(
                v["score"].as_f64().unwrap() <= 0.0 || in_pair(v),
                "{what}: {v:#}"
            );
        }
        // The pair that fails only together explains more than either value alone, with the
        // truth's counts; it is the only one that does.
        let pairs = a["pairs"].as_array().unwrap();
        let top = &pairs[0];
        assert!(
            top["values"].as_array().unwrap().iter().all(in_pair),
            "{what}: {top:#}"
        );
        assert_eq!(top["explains_more"], true, "{what}: {top:#}");
        assert_eq!(
            top["selection_count"], pair["selection_with_pair"],
            "{what}"
        );
        assert_eq!(top["baseline_count"], pair["baseline_with_pair"], "{what}");
        assert!(top["lift"].as_f64().unwrap() >= 1.5);
        assert_eq!(
            pairs.iter().filter(|p| p["explains_more"] == true).count(),
            1,
            "{what}: {pairs:#?}"
        );
        let skipped: Vec<(&str, &str)> = a["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["key"].as_str().unwrap(), s["reason"].as_str().unwrap()))
            .collect();
        assert!(skipped.contains(&("url.path", "unbounded")), "{skipped:?}");
        assert!(
            skipped.contains(&("http.response.status_code", "restates_selection")),
            "{skipped:?}"
        );
    }
    // With -o, the attribute shares chart is written beside forensics.md, which links it.
    let input = dir.join("otlp/traces.jsonl");
    let out = scratch().join("forensics-attribute-chart");
    let _ = std::fs::remove_dir_all(&out);
    forensics_json_with(
        &input,
        &truth,
        &["--service", "frontend", "-o", out.to_str().unwrap()],
    );
    let svg = std::fs::read_to_string(out.join("attribute_shares.svg")).unwrap();
    assert!(
        svg.contains(&format!(
            "{}={}",
            t["key"].as_str().unwrap(),
            t["value"].as_str().unwrap()
        )),
        "{svg}"
    );
    assert!(out.join("attribute_shares.png").exists());
    let md = std::fs::read_to_string(out.join("forensics.md")).unwrap();
    assert!(md.contains("](attribute_shares.png)") && md.contains("### Attribute pairs"));
    // An SQL condition selects exactly the canary requests it is true for.
    let cond = format!(
        "span_attributes['{}'] = '{}'",
        t["key"].as_str().unwrap(),
        t["value"].as_str().unwrap()
    );
    let r = forensics_json_with(
        &input,
        &truth,
        &["--service", "frontend", "--select", &cond],
    );
    let with =
        t["selection_with_value"].as_u64().unwrap() + t["baseline_with_value"].as_u64().unwrap();
    assert_eq!(r["attributes"]["selection_requests"], with);
    assert_eq!(r["attributes"]["selection"], cond);
    // Anything but one boolean expression over the request's columns is refused, exit 2.
    for bad in [
        "1=1; DROP TABLE spans",
        "duration_ns + 1",
        "no_such_column = 1",
        "duration_ns IN (SELECT duration_ns FROM spans)",
    ] {
        let o = run(&[
            "forensics",
            input.to_str().unwrap(),
            "--select",
            bad,
            "--format",
            "json",
        ]);
        assert_eq!(code(&o), 2, "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("--select"), "{bad}: {}", stderr(&o));
    }
}

fn assert_schema(v: &Value) {
    let schema = read_json(&root().join("docs/forensics.schema.json"));
    let mut errs = Vec::new();
    check_schema(&schema, v, &schema, "$", &mut errs);
    assert!(errs.is_empty(), "{errs:#?}");
}

/// The signatures of `got` with this exception type.
fn signatures_of<'a>(got: &'a Value, exception_type: &Value) -> Vec<&'a Value> {
    got["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| &s["exception_type"] == exception_type)
        .collect()
}

/// Asserts that `got` lists exactly the truth's failing traces with their origin span and
/// track, counts the fault's origin per track, and finds the fault's signature new in canary.
fn assert_matches_truth(got: &Value, truth: &Value, what: &str) {
    let t = &truth["forensics"];
    let want: BTreeSet<(String, String, String)> = t["failing_traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["trace_id"].as_str().unwrap().into(),
                x["origin_span_id"].as_str().unwrap().into(),
                x["track"].as_str().unwrap().into(),
            )
        })
        .collect();
    let have: BTreeSet<(String, String, String)> = got["failing_traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["trace_id"].as_str().unwrap().into(),
                x["origin"]["span_id"].as_str().unwrap().into(),
                x["track"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(want.len() > 10, "{what}: too few failing traces to test");
    assert_eq!(have, want, "{what}: failing traces and origins");
    assert_eq!(
        got["failing_trace_counts"]["total"].as_u64().unwrap() as usize,
        want.len()
    );

    // Origins: the fault's count per track equals the truth's.
    let mut fault_tracks: BTreeMap<String, u64> = BTreeMap::new();
    for x in t["failing_traces"].as_array().unwrap() {
        if x["injected"].as_bool().unwrap() {
            *fault_tracks
                .entry(x["track"].as_str().unwrap().into())
                .or_default() += 1;
        }
    }
    let sig = &t["fault_signature"];
    let origin = got["origins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["exception_type"] == sig["exception_type"])
        .unwrap_or_else(|| panic!("{what}: no origin for the fault"));
    assert_eq!(origin["service"], sig["service"]);
    assert_eq!(origin["span_name"], sig["span_name"]);
    for track in ["canary", "stable", "both"] {
        assert_eq!(
            origin[track].as_u64().unwrap(),
            fault_tracks.get(track).copied().unwrap_or(0),
            "{what}: fault origins on track {track}"
        );
    }

    // The fault's messages all differ, yet form one signature, new in canary.
    assert!(sig["distinct_messages"].as_u64().unwrap() > 1);
    let s = signatures_of(got, &sig["exception_type"]);
    assert_eq!(
        s.len(),
        1,
        "{what}: the fault must be one signature: {s:#?}"
    );
    let s = s[0];
    assert_eq!(s["message_template"], sig["message_template"]);
    assert_eq!(
        (&s["service"], &s["span_name"]),
        (&sig["service"], &sig["span_name"])
    );
    assert_eq!(s["canary"]["count"], sig["canary_count"]);
    assert_eq!(s["stable"]["count"], sig["stable_count"]);
    assert_eq!(s["classification"], "new_in_canary");
    // Unsampled, the fault ranks first. Head-sampled, the frontend's own error spans above
    // it (more recorded canary spans, so a smaller p-value) may rank before it.
    if truth["forensics"]["sampling"]["head_sampled"] != true {
        assert_eq!(
            got["signatures"][0]["exception_type"], sig["exception_type"],
            "{what}: the fault ranks first"
        );
    }
    // Exposure: the canary requests of the service, from the truth's per-route counts.
    let canary_requests: u64 = truth["clean"]
        .as_array()
        .unwrap()
        .iter()
        .chain(truth["effects"].as_array().unwrap())
        .filter(|r| r["service"] == sig["service"])
        .map(|r| r["observed"]["canary_requests"].as_u64().unwrap())
        .sum();
    assert_eq!(s["canary"]["requests"].as_u64().unwrap(), canary_requests);
}

/// Asserts that downstream attribution finds exactly the truth's untracked services, counts
/// every (service, operation, originating track) with its attribution, and flags the two
/// injected downstream regressions (and nothing else).
fn assert_downstream_matches_truth(got: &Value, truth: &Value, what: &str) {
    let t = &truth["forensics"]["downstream"];
    let s = &got["downstream_summary"];
    let mut want_services: Vec<&str> = t["untracked_services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    want_services.sort_unstable();
    assert_eq!(
        s["untracked_services"],
        serde_json::json!(want_services),
        "{what}"
    );
    assert_eq!(s["unattributed_spans"], t["unattributed_spans"], "{what}");
    let rows = got["downstream"].as_array().unwrap();
    let row = |svc: &Value, op: &Value| {
        rows.iter()
            .find(|r| &r["service"] == svc && &r["operation"] == op)
            .unwrap_or_else(|| panic!("{what}: no downstream row {svc} {op}"))
    };
    let mut keys = BTreeSet::new();
    let (mut baggage, mut tree) = (0, 0);
    for g in t["groups"].as_array().unwrap() {
        keys.insert((g["service"].to_string(), g["operation"].to_string()));
        let r = row(&g["service"], &g["operation"]);
        let side = &r[g["origin_track"].as_str().unwrap()];
        let ctx = format!(
            "{what}: {} {} {}",
            g["service"], g["operation"], g["origin_track"]
        );
        assert_eq!(side["requests"], g["spans"], "{ctx}");
        assert_eq!(side["errors"], g["errors"], "{ctx}");
        assert_eq!(side["by_baggage"], g["by_baggage"], "{ctx}");
        assert_eq!(side["by_trace_tree"], g["by_trace_tree"], "{ctx}");
        let by_baggage = g["by_baggage"].as_u64().unwrap();
        baggage += by_baggage;
        tree += g["by_trace_tree"].as_u64().unwrap();
        let want = if by_baggage > 0 {
            "baggage"
        } else {
            "trace_tree"
        };
        assert_eq!(r["attribution"], want, "{ctx}");
    }
    assert_eq!(rows.len(), keys.len(), "{what}: no other downstream rows");
    assert_eq!(s["by_baggage"], baggage, "{what}");
    assert_eq!(s["by_trace_tree"], tree, "{what}");
    assert!(
        baggage > 0 && tree > 0,
        "{what}: both attributions exercised"
    );

    // The injected regressions fail, and each service's sentence names its operation.
    let effects = t["effects"].as_array().unwrap();
    for e in effects {
        let r = row(&e["service"], &e["operation"]);
        let c = r["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["metric"] == e["metric"])
            .unwrap_or_else(|| panic!("{what}: no {} comparison in {r:#}", e["metric"]));
        assert_eq!(c["classification"], "fail_high", "{what}: {c:#}");
        assert_eq!(r["affected"], true);
        let f = got["downstream_findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["service"] == e["service"])
            .unwrap_or_else(|| panic!("{what}: no finding for {}", e["service"]));
        assert_eq!(f["operation"], e["operation"], "{what}: {f:#}");
        let sentence = f["sentence"].as_str().unwrap();
        assert!(
            sentence.starts_with(e["service"].as_str().unwrap()) && sentence.contains("canary"),
            "{sentence}"
        );
    }
    assert_eq!(
        got["downstream_findings"].as_array().unwrap().len(),
        effects.len(),
        "{what}: one sentence per affected service"
    );
    // Nothing else fails, except latency of the slow operation's service: its server spans
    // contain the slow calls, so they are slower too.
    let slow = effects
        .iter()
        .find(|e| e["metric"] == "latency_p99")
        .unwrap();
    for r in rows.iter().filter(|r| r["affected"] == true) {
        let injected = effects
            .iter()
            .any(|e| e["service"] == r["service"] && e["operation"] == r["operation"]);
        for c in r["comparisons"].as_array().unwrap() {
            if c["classification"] == "fail_high" && !injected {
                assert!(
                    r["service"] == slow["service"] && c["metric"] != "error_rate",
                    "{what}: unexpected failure {r:#}"
                );
            }
        }
    }
}

/// Asserts that the structure diff finds the truth's extra call on its route with the exact
/// request and call counts, the slow database operation's critical-path growth on its
/// route, and no change on any route of a service without an injected change.
fn assert_structure_matches_truth(got: &Value, truth: &Value, what: &str) {
    let t = &truth["forensics"]["structure"];
    let routes = got["structure"].as_array().unwrap();
    let route = |svc: &Value, r: &Value| {
        routes
            .iter()
            .find(|x| x["service"] == *svc && x["route"] == *r)
            .unwrap_or_else(|| panic!("{what}: no route {svc} {r}"))
    };
    let r = route(&t["service"], &t["route"]);
    assert!(r["changed"].as_bool().unwrap(), "{what}: {r:#}");
    let op = r["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["service"] == t["operation_service"] && o["operation"] == t["operation"])
        .unwrap_or_else(|| panic!("{what}: {r:#}"));
    for side in ["canary", "stable"] {
        assert_eq!(r[side]["requests"], t[side]["requests"], "{what} {side}");
        assert_eq!(op[side]["calls"], t[side]["calls"], "{what} {side}");
        assert_eq!(
            op[side]["requests_with_call"], t[side]["requests_with_call"],
            "{what} {side}"
        );
    }
    assert_eq!(op["calls_change"], "more_calls", "{what}: {op:#}");
    assert!(op["calls_test"]["p_value_adjusted"].as_f64().unwrap() < 1e-6);
    let label = format!(
        "{} {}",
        t["operation_service"].as_str().unwrap(),
        t["operation"].as_str().unwrap()
    );
    assert!(
        r["calls_changed"]
            .as_array()
            .unwrap()
            .contains(&Value::from(label)),
        "{what}: {r:#}"
    );
    // The slow database operation (downstream effects) grows the critical path where it is
    // called from the canary frontend.
    let db = &truth["forensics"]["downstream"]["effects"][1];
    let slow = route(&t["slow_route"][0], &t["slow_route"][1]);
    let label = format!(
        "{} {}",
        db["service"].as_str().unwrap(),
        db["operation"].as_str().unwrap()
    );
    assert!(
        slow["critical_path_grew"]
            .as_array()
            .unwrap()
            .contains(&Value::from(label)),
        "{what}: {slow:#}"
    );
    // Clean services: every route unchanged, and they were compared.
    for svc in t["clean_services"].as_array().unwrap() {
        let theirs: Vec<&Value> = routes.iter().filter(|x| x["service"] == *svc).collect();
        assert!(!theirs.is_empty(), "{what}: no route of {svc}");
        for x in theirs {
            assert_eq!(x["changed"], false, "{what}: {x:#}");
            assert!(
                x["canary"]["requests"].as_u64().unwrap() > 0,
                "{what}: {x:#}"
            );
        }
    }
}

#[test]
fn failing_traces_origins_and_signatures_match_the_truth_from_json_and_a_dataset() {
    let dir = forensics_run();
    let truth = read_json(&dir.join("truth.json"));
    let all = forensics_of_every_format(dir, &truth);
    for (got, what) in &all {
        assert_matches_truth(got, &truth, what);
        assert_downstream_matches_truth(got, &truth, what);
        assert_structure_matches_truth(got, &truth, what);
    }
    let from_json = all.into_iter().next().unwrap().0;
    assert_schema(&from_json);

    let dataset = scratch().join("forensics-dataset");
    let _ = std::fs::remove_dir_all(&dataset);
    let o = run(&[
        "ingest",
        dir.join("otlp/traces.jsonl").to_str().unwrap(),
        "-o",
        dataset.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let from_dataset = forensics_json(&dataset, &truth);
    assert_eq!(
        from_json, from_dataset,
        "forensics.json from OTLP JSON and a DATASET"
    );
}

/// The head-sampled mesh: the same failing traces and origins as the truth from every input
/// format, and weighted counts, per-1k rates, Kish effective sample sizes and the sampling
/// warnings exactly as the truth's weights give them.
#[test]
fn head_sampled_mesh_weights_rates_effective_sizes_and_warnings_match_the_truth() {
    let dir = head_sampled_run();
    let truth = read_json(&dir.join("truth.json"));
    let t = &truth["forensics"];
    let ts = &t["sampling"];
    assert_eq!(ts["head_sampled"], true);
    // Every failing trace carries a rule's weight, and both the sampled and the kept-whole
    // traces fail somewhere.
    let weights: BTreeSet<u64> = t["failing_traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["weight"].as_f64().unwrap() as u64)
        .collect();
    assert!(
        weights.len() > 1 && weights.is_subset(&[1, 2, 8].into()),
        "{weights:?}"
    );
    for (got, what) in forensics_of_every_format(dir, &truth) {
        assert_schema(&got);
        assert_matches_truth(&got, &truth, what);
        let s = &got["sampling"];
        for side in ["canary", "stable"] {
            let (g, w) = (&s[side], &ts[side]);
            assert_eq!(g["requests"], w["requests"], "{what}: {side} requests");
            assert_eq!(
                g["weighted_requests"], w["weighted"],
                "{what}: {side} weighted requests"
            );
            let (ess, want) = (
                g["effective_sample_size"].as_f64().unwrap(),
                w["effective_sample_size"].as_f64().unwrap(),
            );
            assert!(
                (ess - want).abs() < 1e-9 * want,
                "{what}: {side} ESS {ess} ≠ {want}"
            );
            assert!(
                ess < w["requests"].as_f64().unwrap(),
                "{what}: unequal weights"
            );
        }
        // The fault's signature: weighted count and rate per 1k weighted requests.
        let sig = &t["fault_signature"];
        let got_sig = signatures_of(&got, &sig["exception_type"])[0];
        assert_eq!(
            got_sig["canary"]["weighted"], sig["canary_weighted"],
            "{what}"
        );
        assert!(sig["canary_weighted"].as_f64().unwrap() > sig["canary_count"].as_f64().unwrap());
        let exposure = ts["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["service"] == sig["service"] && x["side"] == "canary")
            .unwrap();
        let per_1k = 1000.0 * sig["canary_weighted"].as_f64().unwrap()
            / exposure["weighted"].as_f64().unwrap();
        let got_per_1k = got_sig["canary"]["per_1k_requests"].as_f64().unwrap();
        assert!(
            (got_per_1k - per_1k).abs() < 1e-9 * per_1k,
            "{what}: {got_per_1k} ≠ {per_1k}"
        );
        // Warnings: sampled, sampled at different rates (as the truth's means say), and one
        // thin-sample warning per service whose canary recorded fewer than p99_needed.
        let w: Vec<&str> = s["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert!(
            w[0].starts_with("requests are sampled (weights 1–"),
            "{what}: {w:?}"
        );
        assert_eq!(
            w.iter().any(|x| x.contains("sampled at different rates")),
            ts["different_rates"].as_bool().unwrap(),
            "{what}: {w:?}"
        );
        let needed = format!("needs about {}", ts["p99_needed"]);
        let thin: BTreeSet<&str> = w
            .iter()
            .filter(|x| x.ends_with(&needed))
            .map(|x| x.split(':').next().unwrap())
            .collect();
        let want: BTreeSet<&str> = ts["thin_canary_services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        // Some services are thin, the frontend (every trace's root) is not.
        assert!(!want.is_empty() && !want.contains("frontend"), "{want:?}");
        assert_eq!(thin, want, "{what}: thin-sample warnings");
    }
}

/// `forensics --format json` over `input` with `extra` arguments, as raw bytes.
fn forensics_bytes(input: &Path, extra: &[&str]) -> Vec<u8> {
    let mut args = vec![
        "forensics",
        input.to_str().unwrap(),
        "--limit",
        "100000",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    o.stdout
}

#[test]
fn trace_partitions_and_threads_do_not_change_a_byte() {
    // Traces assembled in 1, 2 or 7 partitions by trace-id hash, with 1 or 2 threads: the
    // whole forensics.json is the same, downstream rows included (ordered by name, not by
    // the engine's row order).
    let dir = forensics_run();
    for input in [
        dir.join("otlp/traces.jsonl"),
        dir.join("parquet/spans.parquet"),
    ] {
        let one = forensics_bytes(&input, &["--trace-partitions", "1", "--threads", "1"]);
        let v: Value = serde_json::from_slice(&one).unwrap();
        // Not vacuous: the mesh has downstream groups and structure rows to order, and
        // attribute values and pairs (counted per partition, merged, then capped).
        assert!(v["downstream"].as_array().unwrap().len() > 3, "{input:?}");
        assert!(!v["structure"].as_array().unwrap().is_empty(), "{input:?}");
        assert!(v["attributes"]["values"].as_array().unwrap().len() > 10);
        assert!(v["attributes"]["pairs"].as_array().unwrap().len() > 10);
        assert!(!v["attributes"]["skipped"].as_array().unwrap().is_empty());
        for (k, t) in [("2", "2"), ("7", "1"), ("7", "2")] {
            let got = forensics_bytes(&input, &["--trace-partitions", k, "--threads", t]);
            assert!(
                got == one,
                "{input:?}: --trace-partitions {k} --threads {t} differs from 1 partition, 1 thread"
            );
        }
    }
    // The other selection and baseline: slow canary requests against stable's, whose pair
    // candidates come from other keys.
    let input = dir.join("otlp/traces.binpb");
    let slow = ["--select", "slow", "--baseline", "stable"];
    let one = forensics_bytes(&input, &[&slow[..], &["--trace-partitions", "1"]].concat());
    let v: Value = serde_json::from_slice(&one).unwrap();
    assert!(v["attributes"]["selection_requests"].as_u64().unwrap() > 0);
    assert!(!v["attributes"]["pairs"].as_array().unwrap().is_empty());
    let seven = forensics_bytes(&input, &[&slow[..], &["--trace-partitions", "7"]].concat());
    assert!(
        seven == one,
        "--select slow --baseline stable: 7 partitions differ from 1"
    );
    // The budget rule: about 40 000 spans × 160 bytes need several partitions of 1 MiB.
    let input = dir.join("parquet/spans.parquet");
    let budget = forensics_bytes(&input, &["--memory-budget", "1"]);
    assert!(budget == forensics_bytes(&input, &["--trace-partitions", "1"]));
    let o = run(&[
        "forensics",
        input.to_str().unwrap(),
        "--trace-partitions",
        "0",
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--trace-partitions"), "{}", stderr(&o));
}

#[test]
fn any_number_of_origin_keys_is_taken_in_order() {
    // Eleven keys (the engine looks them up itself, there is no limit): six that no span
    // holds, then the defaults. Attribution is that of the defaults alone; the same keys
    // after one the mesh's spans hold with another meaning (`http.route`, never a side)
    // leave the baggage unread: the first key a span holds decides.
    let input = forensics_run().join("otlp/traces.jsonl");
    let defaults = [
        "deployment.stage",
        "deployment.track",
        "baggage.deployment.stage",
        "baggage.deployment.track",
        "canary.track",
    ];
    let mut keys: Vec<String> = (1..=6).map(|i| format!("absent.key.{i}")).collect();
    keys.extend(defaults.iter().map(|k| k.to_string()));
    let args: Vec<&str> = keys
        .iter()
        .flat_map(|k| ["--origin-key", k.as_str()])
        .collect();
    let field = |bytes: &[u8], k: &str| serde_json::from_slice::<Value>(bytes).unwrap()[k].clone();
    let plain = forensics_bytes(&input, &[]);
    let eleven = forensics_bytes(&input, &args);
    let summary = field(&plain, "downstream_summary");
    assert!(summary["by_baggage"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(field(&eleven, "downstream_summary"), summary);
    assert_eq!(field(&eleven, "downstream"), field(&plain, "downstream"));
    let mut shadowed = vec!["--origin-key", "http.route"];
    shadowed.extend(defaults.iter().flat_map(|k| ["--origin-key", *k]));
    let s = field(&forensics_bytes(&input, &shadowed), "downstream_summary");
    assert!(
        s["by_baggage"].as_u64().unwrap() < summary["by_baggage"].as_u64().unwrap(),
        "{s}"
    );
    let o = run(&["forensics", input.to_str().unwrap(), "--origin-key", ""]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--origin-key"), "{}", stderr(&o));
}

#[test]
fn sample_data_payment_errors_are_an_increased_signature_and_files_are_written() {
    let out = scratch().join("forensics-sample");
    let o = run(&[
        "forensics",
        "sample-data/otlp",
        "--limit",
        "5",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("failing traces:"), "{text}");
    let r = read_json(&out.join("forensics.json"));
    assert_schema(&r);
    assert_eq!(r["failing_traces"].as_array().unwrap().len(), 5);
    assert!(r["failing_trace_counts"]["total"].as_u64().unwrap() > 5);
    // sample-data/truth.json: canary payment POST /charge error rate x5; its own failures
    // raise PaymentGatewayError.
    let truth = read_json(&root().join("sample-data/truth.json"));
    assert!(truth["effects"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["service"] == "payment" && e["metric"] == "error_rate"));
    let pay = r["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "payment" && s["exception_type"] == "PaymentGatewayError")
        .expect("payment signature");
    assert_eq!(pay["classification"], "increased", "{pay:#}");
    // No other signature of the sample is significant: only payment's errors were injected.
    for s in r["signatures"].as_array().unwrap() {
        if s["service"] != "payment" && s["classification"] != "unchanged" {
            // Callers see payment's failures through their own spans.
            let m = s["message_template"].as_str().unwrap();
            assert!(m.contains("payment") || m.contains("HTTP"), "{s:#}");
        }
    }
    let md = std::fs::read_to_string(out.join("forensics.md")).unwrap();
    assert!(md.contains("## Error signatures") && md.contains("PaymentGatewayError"));
    // Seven partitions of traces on two threads write the same forensics.json.
    let seven = scratch().join("forensics-sample-7");
    let o = run(&[
        "forensics",
        "sample-data/otlp",
        "--limit",
        "5",
        "--trace-partitions",
        "7",
        "--threads",
        "2",
        "-o",
        seven.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        std::fs::read(seven.join("forensics.json")).unwrap()
            == std::fs::read(out.join("forensics.json")).unwrap(),
        "sample-data: 7 partitions on 2 threads differ from the default run"
    );
}

/// `canalyst forensics DIR` over 2026-01-01T00:00–00:01 as JSON, checked against the schema.
fn first_minute_json(dir: &Path, what: &str) -> Value {
    let o = run(&[
        "forensics",
        dir.to_str().unwrap(),
        "--since",
        "2026-01-01T00:00:00Z",
        "--until",
        "2026-01-01T00:01:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = stdout_json(&o, what);
    assert_schema(&r);
    r
}

fn span(
    trace: &str,
    id: &str,
    parent: Option<&str>,
    name: &str,
    start_ms: i64,
    end_ms: i64,
    error: Option<&str>,
) -> String {
    let base = 1_767_225_600_000_000_000i64;
    let parent = parent.map_or(String::new(), |p| format!(",\"parentSpanId\":\"{p}\""));
    let (status, events) = match error {
        Some(m) => (
            "{\"code\":2,\"message\":\"failed\"}".to_string(),
            format!(
                ",\"events\":[{{\"timeUnixNano\":\"{}\",\"name\":\"exception\",\"attributes\":[{{\"key\":\"exception.type\",\"value\":{{\"stringValue\":\"Boom\"}}}},{{\"key\":\"exception.message\",\"value\":{{\"stringValue\":\"{m}\"}}}}]}}]",
                base + end_ms * 1_000_000
            ),
        ),
        None => ("{}".to_string(), String::new()),
    };
    format!(
        "{{\"traceId\":\"{trace}\",\"spanId\":\"{id}\"{parent},\"name\":\"{name}\",\"kind\":2,\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\",\"status\":{status}{events}}}",
        base + start_ms * 1_000_000,
        base + end_ms * 1_000_000
    )
}

fn line(service: &str, track: &str, spans: &[String]) -> String {
    format!(
        "{{\"resourceSpans\":[{{\"resource\":{{\"attributes\":[{{\"key\":\"service.name\",\"value\":{{\"stringValue\":\"{service}\"}}}},{{\"key\":\"deployment.track\",\"value\":{{\"stringValue\":\"{track}\"}}}}]}},\"scopeSpans\":[{{\"spans\":[{}]}}]}}]}}\n",
        spans.join(",")
    )
}

#[test]
fn broken_traces_are_counted_and_origin_search_still_finds_the_deepest_error() {
    let dir = scratch().join("forensics-broken");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let t = "0af7651916cd43dd8448eb211c80319c";
    // File a: the root (canary web), a stable child starting before it (clock skew), an
    // orphan error, and two error spans that are each other's parent (a cycle).
    let a = line(
        "web",
        "canary",
        &[span(
            t,
            "00000000000000a1",
            None,
            "GET /",
            10,
            110,
            Some("root failed"),
        )],
    ) + &line(
        "api",
        "stable",
        &[
            span(
                t,
                "00000000000000b1",
                Some("00000000000000a1"),
                "call",
                5,
                100,
                Some("call failed"),
            ),
            span(
                t,
                "00000000000000c1",
                Some("ffffffffffffffff"),
                "orphan",
                40,
                50,
                Some("deeper orphan"),
            ),
            span(
                t,
                "00000000000000d1",
                Some("00000000000000d2"),
                "x",
                60,
                70,
                Some("cycle"),
            ),
            span(
                t,
                "00000000000000d2",
                Some("00000000000000d1"),
                "y",
                60,
                70,
                Some("cycle"),
            ),
        ],
    );
    // File b: the deepest error of the path, and a later row reusing its span id.
    let b = line(
        "db",
        "stable",
        &[
            span(
                t,
                "00000000000000e1",
                Some("00000000000000b1"),
                "SELECT",
                20,
                30,
                Some("order c-7f3a9e21 not found"),
            ),
            span(
                t,
                "00000000000000e1",
                Some("00000000000000b1"),
                "dup",
                25,
                35,
                Some("duplicate"),
            ),
        ],
    );
    std::fs::write(dir.join("a.jsonl"), a).unwrap();
    std::fs::write(dir.join("b.jsonl"), b).unwrap();
    let r = first_minute_json(&dir, "forensics on broken traces");
    let ft = &r["failing_traces"][0];
    assert_eq!(ft["trace_id"], t);
    assert_eq!(ft["track"], "both");
    assert_eq!(ft["origin"]["span_id"], "00000000000000e1");
    assert_eq!(ft["origin"]["depth"], 2);
    assert_eq!(
        ft["origin"]["exception_message"],
        "order c-7f3a9e21 not found"
    );
    assert_eq!(ft["origin"]["message_template"], "order c-<id> not found");
    let q = &r["trace_quality"];
    for (k, n) in [
        ("traces", 1),
        ("duplicate_span_ids", 1),
        ("orphan_spans", 1),
        ("cycle_spans", 2),
        ("multiple_roots", 0),
        ("split_across_files", 1),
        ("clock_skew_spans", 1),
    ] {
        assert_eq!(q[k], n, "{k}: {q:#}");
    }
    assert_eq!(q["examples"]["orphan_spans"][0], t);
}

#[test]
fn sampling_weights_from_tracestate_give_weighted_counts_and_the_effective_sample_size() {
    let dir = scratch().join("forensics-sampled");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Canary: 12 requests head-sampled at 50% (`ot=th:8`: weight 2) and 4 at 25% (`th:c`:
    // weight 4); stable: 20 unsampled requests. One canary request fails.
    let base = 1_767_225_600_000_000_000i64;
    let span = |i: usize, th: Option<&str>, error: bool| {
        let start = base + i as i64 * 1_000_000_000;
        let ts = th.map_or(String::new(), |t| format!(",\"traceState\":\"ot=th:{t}\""));
        let status = if error { "{\"code\":2}" } else { "{}" };
        format!(
            "{{\"traceId\":\"{:032x}\",\"spanId\":\"{:016x}\"{ts},\"name\":\"GET /\",\"kind\":2,\"startTimeUnixNano\":\"{start}\",\"endTimeUnixNano\":\"{}\",\"status\":{status}}}",
            i + 1,
            i + 1,
            start + 20_000_000
        )
    };
    let canary: Vec<String> = (0..16)
        .map(|i| span(i, Some(if i < 12 { "8" } else { "c" }), i == 3))
        .collect();
    let stable: Vec<String> = (16..36).map(|i| span(i, None, false)).collect();
    std::fs::write(
        dir.join("s.jsonl"),
        line("web", "canary", &canary) + &line("web", "stable", &stable),
    )
    .unwrap();
    let r = first_minute_json(&dir, "forensics on sampled spans");
    let s = &r["sampling"];
    let c = &s["canary"];
    assert_eq!(c["requests"], 16);
    assert_eq!(c["weighted_requests"], 12.0 * 2.0 + 4.0 * 4.0);
    assert_eq!(
        (&c["min_weight"], &c["max_weight"]),
        (&2.0.into(), &4.0.into())
    );
    // Kish: (Σw)² / Σw² = 40² / (12·4 + 4·16).
    let ess = c["effective_sample_size"].as_f64().unwrap();
    assert!((ess - 1600.0 / 112.0).abs() < 1e-9, "{ess}");
    assert_eq!(s["stable"]["effective_sample_size"], 20.0);
    let w: Vec<&str> = s["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(w[0].contains("2–4 on the canary, 1 on stable"), "{w:?}");
    assert!(w[1].contains("mean weight 2.50 against 1.00"), "{w:?}");
    assert!(
        w[2].starts_with("web: the canary recorded 16 requests"),
        "{w:?}"
    );
    // The failing request's signature counts 1 recorded span standing for 2 requests.
    let sig = &r["signatures"][0];
    assert_eq!(
        (&sig["canary"]["count"], &sig["canary"]["weighted"]),
        (&1.into(), &2.0.into())
    );
}

/// `report` reads only the originating-track keys of the span attributes (no resource
/// attributes) when it runs forensics without an attribute diff; what it finds must be what
/// `forensics` finds with every attribute read.
#[test]
fn report_reads_only_origin_keys_and_finds_what_forensics_finds() {
    let dir = forensics_run();
    let truth = read_json(&dir.join("truth.json"));
    let input = dir.join("otlp/traces.jsonl");
    let full = forensics_json(&input, &truth);
    let out = scratch().join("forensics-report-lean");
    let _ = std::fs::remove_dir_all(&out);
    let tr = &truth["time_range"];
    let o = run(&[
        "report",
        input.to_str().unwrap(),
        "--since",
        tr["canary_start"].as_str().unwrap(),
        "--until",
        full["window"]["end"].as_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(matches!(code(&o), 0 | 1 | 3), "{}", stderr(&o));
    let lean = &read_json(&out.join("report.json"))["forensics"];
    assert_eq!(lean["window"], full["window"]);
    assert!(lean["attributes"].is_null());
    for key in [
        "failing_trace_counts",
        "origins",
        "signatures",
        "downstream_summary",
        "downstream",
        "downstream_findings",
        "structure",
        "sampling",
        "trace_quality",
    ] {
        assert_eq!(lean[key], full[key], "{key}");
    }
    // The baggage attribute was read: the mesh's cartservice spans are attributed by it.
    assert!(lean["downstream_summary"]["by_baggage"].as_u64().unwrap() > 0);
}

#[test]
fn injected_trace_defects_are_found_exactly_for_every_format_and_partition_count() {
    // `generate --trace-defects` damages one trace in 40 per kind and counts what it wrote;
    // `input_trace_quality` must find exactly that, over every trace of the input, from OTLP
    // JSON, protobuf and Parquet, with traces assembled in 1 or 3 partitions.
    let dir = scratch().join("mixed-trace-defects");
    let o = run(&[
        "generate",
        "--scenario",
        "mixed",
        "--spans",
        "20000",
        "--trace-defects",
        "--protobuf",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let truth = read_json(&dir.join("truth.json"));
    let injected = &truth["trace_defects"];
    let kinds = [
        "duplicate_span_ids",
        "orphan_spans",
        "cycle_spans",
        "split_traces",
        "clock_skew_spans",
    ];
    for k in kinds {
        // Not vacuous: every kind was injected, more often than the examples kept.
        assert!(injected[k].as_u64().unwrap() > 5, "{k}: {injected}");
    }
    let mut first: Option<Value> = None;
    for f in [
        "otlp/traces.jsonl",
        "otlp/traces.binpb",
        "parquet/spans.parquet",
    ] {
        for parts in ["1", "3"] {
            let input = dir.join(f);
            let v: Value =
                serde_json::from_slice(&forensics_bytes(&input, &["--trace-partitions", parts]))
                    .unwrap();
            assert_schema(&v);
            let q = &v["input_trace_quality"];
            let what = format!("{f}, {parts} partitions");
            assert_eq!(q["traces"], truth["traces"], "{what}");
            assert_eq!(
                q["spans"].as_u64(),
                truth["spans"]
                    .as_u64()
                    .map(|n| n - injected["duplicate_span_ids"].as_u64().unwrap()),
                "{what}"
            );
            for k in kinds {
                assert_eq!(q[k], injected[k], "{what}: {k}");
                let ex = q["examples"][k].as_array().unwrap();
                assert_eq!(ex.len(), 5, "{what}: {k}");
                let keys: Vec<(&str, &str)> = ex
                    .iter()
                    .map(|e| {
                        (
                            e["trace_id"].as_str().unwrap(),
                            e["span_id"].as_str().unwrap(),
                        )
                    })
                    .collect();
                assert!(keys.windows(2).all(|w| w[0] < w[1]), "{what}: {k} {keys:?}");
            }
            // The spans generate added carry ids it derived: c0ffee + salt (1 and 2 for the
            // cycle, 3 for the second root).
            for e in q["examples"]["split_traces"].as_array().unwrap() {
                assert!(
                    e["span_id"].as_str().unwrap().starts_with("c0ffee03"),
                    "{e}"
                );
            }
            for e in q["examples"]["cycle_spans"].as_array().unwrap() {
                let s = e["span_id"].as_str().unwrap();
                assert!(
                    s.starts_with("c0ffee01") || s.starts_with("c0ffee02"),
                    "{e}"
                );
                assert!(
                    e["file"].as_str().unwrap().ends_with("traces.jsonl")
                        || e["file"].as_str().unwrap().ends_with("traces.binpb"),
                    "{e}"
                );
            }
            // Identical (files aside: a Parquet table names the file it was ingested from).
            let mut same = q.clone();
            for list in same["examples"].as_object_mut().unwrap().values_mut() {
                for e in list.as_array_mut().unwrap() {
                    e.as_object_mut().unwrap().remove("file");
                }
            }
            match &first {
                None => first = Some(same),
                Some(one) => assert_eq!(&same, one, "{what}"),
            }
        }
    }
    // The text summary names them too.
    let o = run(&["forensics", dir.join("otlp/traces.jsonl").to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!("{} orphan spans", injected["orphan_spans"])),
        "{text}"
    );
}

#[test]
fn report_forensics_section_is_the_same_for_one_and_three_trace_partitions() {
    // `report --trace-partitions K` (and `--memory-budget`) as in `forensics`: the whole
    // report (its Forensics section in report.json, report.md and index.html) is the same
    // for K = 1 and K = 3, and not empty.
    let dir = forensics_run();
    let input = dir.join("parquet/spans.parquet");
    let render = |k: &str| {
        let out = scratch().join(format!("forensics-report-k{k}"));
        let _ = std::fs::remove_dir_all(&out);
        let o = crate::fixtures::run_env(
            &[
                "report",
                input.to_str().unwrap(),
                "--trace-partitions",
                k,
                "-o",
                out.to_str().unwrap(),
            ],
            &[("SOURCE_DATE_EPOCH", crate::fixtures::EPOCH)],
        );
        assert!(matches!(code(&o), 0 | 1 | 3), "{}", stderr(&o));
        out
    };
    let (one, three) = (render("1"), render("3"));
    let f = &read_json(&one.join("report.json"))["forensics"];
    assert!(f["downstream"].as_array().unwrap().len() > 3, "{f:#}");
    assert!(!f["structure"].as_array().unwrap().is_empty());
    assert!(f["input_trace_quality"]["traces"].as_u64().unwrap() > 1000);
    for file in ["report.json", "report.md", "index.html"] {
        let (a, b) = (
            std::fs::read(one.join(file)).unwrap(),
            std::fs::read(three.join(file)).unwrap(),
        );
        assert!(a == b, "{file} differs between --trace-partitions 1 and 3");
    }
    let md = std::fs::read_to_string(one.join("report.md")).unwrap();
    assert!(md.contains("## Forensics"), "{md}");
    assert!(
        md.contains("Trace quality over every trace of the input"),
        "{md}"
    );
    let o = run(&[
        "report",
        input.to_str().unwrap(),
        "--trace-partitions",
        "0",
        "-o",
        scratch().join("forensics-report-k0").to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--trace-partitions"), "{}", stderr(&o));
}
