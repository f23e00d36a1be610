//! `canalyst run`: scheduled report jobs from a canalyst.toml. One report per job and service
//! at the templated path, byte-identical when re-run; counts equal the generator's truth;
//! a job locked by a live run is skipped (exit 2) and a dead run's lock is taken over; a run
//! killed mid-write never leaves a torn report; bad configuration is exit 2 naming the key;
//! the JSON lines match docs/run.schema.json.

use crate::analyze::check_schema;
use crate::fixtures::{bin, code, read_json, root, scratch, stderr};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// Reference time: one hour after the generator's default start, so `last 1h` covers the run.
const AT: &str = "2026-01-01T01:00:00Z";

/// A generated `errors` run with its OTLP/JSON traces kept (the shared fixture deletes them).
fn traffic() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch().join("run-traffic");
        let o = bin()
            .args(["generate", "--scenario", "errors", "--spans", "6000", "-o"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "generate: {}", stderr(&o));
        dir
    })
}

/// A fresh job directory holding `canalyst.toml` with `jobs` (TOML), inputs symlinked in.
fn job_dir(name: &str, jobs: &str) -> PathBuf {
    let dir = scratch().join(format!("run-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("otel")).unwrap();
    for f in ["traces.jsonl", "metrics.jsonl"] {
        std::os::unix::fs::symlink(traffic().join("otlp").join(f), dir.join("otel").join(f))
            .unwrap();
    }
    std::fs::write(dir.join("canalyst.toml"), jobs).unwrap();
    dir
}

const JOBS: &str = r#"
[[job]]
name = "hourly"
inputs = ["otel/traces*.jsonl*", "otel/metrics*.jsonl*"]
window = "last 1h"
services = ["payment", "checkout"]
output = "reports/{date}/{job}/{service}"
"#;

/// `canalyst run ARGS --config DIR/canalyst.toml --at AT`, from the repository root.
fn run_jobs(dir: &Path, args: &[&str]) -> Output {
    bin()
        .current_dir(root())
        .args(["run"])
        .args(args)
        .arg("--config")
        .arg(dir.join("canalyst.toml"))
        .args(["--at", AT])
        .output()
        .unwrap()
}

/// The JSON lines of a run, each checked against docs/run.schema.json.
fn lines(o: &Output) -> Vec<Value> {
    let schema = read_json(&root().join("docs/run.schema.json"));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{}", stderr(o)));
            let mut errs = Vec::new();
            check_schema(&schema, &v, &schema, "$", &mut errs);
            assert!(errs.is_empty(), "{errs:?}");
            v
        })
        .collect()
}

/// Every file under `dir` with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in walk(dir) {
        out.insert(
            e.strip_prefix(dir).unwrap().to_path_buf(),
            std::fs::read(&e).unwrap(),
        );
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn writes_one_report_per_service_and_rewrites_it_byte_identically() {
    let dir = job_dir("idempotent", JOBS);
    let truth = read_json(&traffic().join("truth.json"));
    let first = run_jobs(&dir, &[]);
    let got = lines(&first);
    assert_eq!(got.len(), 2, "{}", stderr(&first));
    let records = truth["spans"].as_u64().unwrap() + truth["metrics"]["points"].as_u64().unwrap();
    let mut worst = 0;
    for (line, service) in got.iter().zip(["payment", "checkout"]) {
        assert_eq!(line["status"], "ok", "{line}");
        assert_eq!(line["service"], service);
        assert_eq!(line["window_start"], "2026-01-01T00:00:00Z");
        assert_eq!(line["window_end"], AT);
        assert_eq!(line["counts"]["input_files"], 2);
        assert_eq!(line["counts"]["records_read"].as_u64(), Some(records));
        assert_eq!(line["counts"]["records_rejected"], 0);
        let report = dir.join(format!("reports/2026-01-01/hourly/{service}"));
        assert_eq!(Path::new(line["report"].as_str().unwrap()), report);
        let json = read_json(&report.join("report.json"));
        assert_eq!(json["verdict"], line["verdict"]);
        assert_eq!(json["generated_at"], AT, "stamped with the window end");
        assert!(report.join("index.html").is_file() && report.join("report.md").is_file());
        worst = match (worst, line["verdict"].as_str().unwrap()) {
            (_, "rollback") | (1, _) => 1,
            (_, "continue") | (3, _) => 3,
            _ => 0,
        };
    }
    assert_eq!(code(&first), worst, "exit code is the worst verdict");
    let before = tree(&dir.join("reports"));
    let again = run_jobs(&dir, &["hourly"]);
    assert_eq!(code(&again), code(&first));
    assert_eq!(
        tree(&dir.join("reports")),
        before,
        "a re-run rewrote different bytes"
    );
    assert!(
        !dir.join(".canalyst/locks/hourly.lock").exists(),
        "lock left behind"
    );
}

#[test]
fn a_job_locked_by_a_live_run_is_skipped_and_a_dead_runs_lock_taken_over() {
    let dir = job_dir(
        "locked",
        &JOBS.replace("\"payment\", \"checkout\"", "\"payment\""),
    );
    let lock = dir.join(".canalyst/locks/hourly.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let mut holder = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    std::fs::write(&lock, format!("{}\n", holder.id())).unwrap();
    let o = run_jobs(&dir, &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let l = &lines(&o)[0];
    assert_eq!(l["status"], "locked");
    assert!(
        l["error"]
            .as_str()
            .unwrap()
            .contains(&holder.id().to_string()),
        "{l}"
    );
    assert!(stderr(&o).contains("locked"), "{}", stderr(&o));
    assert!(!dir.join("reports").exists(), "a locked job wrote a report");
    holder.kill().unwrap();
    holder.wait().unwrap();
    let o = run_jobs(&dir, &[]);
    assert_eq!(lines(&o)[0]["status"], "ok", "{}", stderr(&o));
    assert!(!lock.exists());
}

#[test]
fn two_concurrent_runs_never_write_the_same_job_at_once() {
    let dir = job_dir(
        "concurrent",
        &JOBS.replace("\"payment\", \"checkout\"", "\"payment\""),
    );
    let spawn = || {
        bin()
            .current_dir(root())
            .args(["run", "--at", AT, "--config"])
            .arg(dir.join("canalyst.toml"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let statuses: Vec<String> = outs
        .iter()
        .map(|o| lines(o)[0]["status"].as_str().unwrap().to_string())
        .collect();
    // Runs take seconds in debug builds, so the two overlap: one writes, one is turned away.
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, ["locked", "ok"], "{statuses:?}");
    let report = dir.join("reports/2026-01-01/hourly/payment");
    read_json(&report.join("report.json"));
}

#[test]
fn a_run_killed_mid_write_leaves_a_whole_report() {
    // No {date}: every window writes the same directory, so a killed run would tear it.
    let dir = job_dir(
        "killed",
        &JOBS
            .replace("\"payment\", \"checkout\"", "\"payment\"")
            .replace("reports/{date}/{job}/{service}", "reports/{service}"),
    );
    let report = dir.join("reports/payment");
    let other_at = "2026-01-01T00:50:00Z";
    let run_at = |at: &str| {
        bin()
            .current_dir(root())
            .args(["run", "--at", at, "--config"])
            .arg(dir.join("canalyst.toml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    run_at(other_at).wait().unwrap();
    assert!(report.join("report.json").is_file());
    let new = tree(&report);
    assert_eq!(lines(&run_jobs(&dir, &[]))[0]["status"], "ok");
    let old = tree(&report);
    assert_ne!(old, new, "the two windows must give different reports");
    let mut replaced = 0;
    // Kill at several points of a run (the report is written in its last fraction of a second);
    // every time the directory holds one whole report, old or new, never a mixture.
    for ms in [300u64, 900, 1500, 2100, 2700, 3300, 3900] {
        let mut child = run_at(other_at);
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill();
        child.wait().unwrap();
        let now = tree(&report);
        assert!(
            now == old || now == new,
            "torn report after a kill at {ms} ms"
        );
        replaced += usize::from(now == new);
    }
    eprintln!("killed runs that had already replaced the report: {replaced} of 7");
    // The killed runs' locks are stale (their pids are gone): a new run proceeds.
    let o = run_jobs(&dir, &[]);
    assert_eq!(lines(&o)[0]["status"], "ok", "{}", stderr(&o));
    assert_eq!(tree(&report), old, "the first window's report again");
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("reports"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "payment" && n != "hourly.html")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn bad_configuration_is_exit_2_naming_the_key() {
    let cases = [
        (JOBS.replace("last 1h", "every hour"), "job[0].window"),
        (JOBS.replace("{service}\"", "{host}\""), "job[0].output"),
        (JOBS.replace("services =", "servces ="), "servces"),
        (JOBS.replace("name = \"hourly\"\n", ""), "name"),
        (
            JOBS.replace("window =", "trace_partitions = 0\nwindow ="),
            "job[0].trace_partitions",
        ),
        (
            JOBS.replace("window =", "memory_budget = 0\nwindow ="),
            "job[0].memory_budget",
        ),
        (
            JOBS.replace(
                "window =",
                "memory_budget = 8\ntrace_partitions = 2\nwindow =",
            ),
            "job[0].trace_partitions",
        ),
        (
            JOBS.replace("window =", "compression = \"brotli\"\nwindow ="),
            "job[0].compression",
        ),
    ];
    for (text, key) in cases {
        let dir = job_dir("bad", &text);
        let o = run_jobs(&dir, &[]);
        assert_eq!(code(&o), 2, "{key}: {}", stderr(&o));
        assert!(stderr(&o).contains(key), "{key} not in {}", stderr(&o));
        assert!(stderr(&o).contains("canalyst.toml"), "{}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    let dir = job_dir("unknown-job", JOBS);
    let o = run_jobs(&dir, &["nightly"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("\"nightly\""), "{}", stderr(&o));
}

/// A job directory whose `otel/traces.jsonl` is written by the test (metrics linked whole).
fn growing_dir(name: &str) -> PathBuf {
    let dir = job_dir(
        name,
        &JOBS.replace("\"payment\", \"checkout\"", "\"payment\""),
    );
    std::fs::remove_file(dir.join("otel/traces.jsonl")).unwrap();
    dir
}

fn append(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn appended_truncated_and_rotated_files_are_read_once_each() {
    use std::io::Write;
    let traces = std::fs::read(traffic().join("otlp/traces.jsonl")).unwrap();
    let rows: Vec<&[u8]> = traces.split_inclusive(|b| *b == b'\n').collect();
    let truth = read_json(&traffic().join("truth.json"));
    assert_eq!(rows.len() as u64, truth["lines"].as_u64().unwrap());
    let n = rows.len();
    let (a, b, c) = (n / 3, 2 * n / 3, 5 * n / 6);
    let dir = growing_dir("incremental");
    let live = dir.join("otel/traces.jsonl");
    let counts = |o: &Output| {
        let l = &lines(o)[0];
        assert_eq!(l["status"], "ok", "{l}");
        assert_eq!(
            l["counts"]["records_rejected"], 0,
            "a partial line was rejected: {l}"
        );
        l["counts"].clone()
    };
    // Run 1: a third of the lines and half of the next one (the collector is mid-write).
    let half = rows[a].len() / 2;
    append(&live, &rows[..a].concat());
    append(&live, &rows[a][..half]);
    let c1 = counts(&run_jobs(&dir, &[]));
    assert_eq!(c1["new_lines"].as_u64(), Some(a as u64));
    // Run 2: the line completes and more follow.
    append(&live, &rows[a][half..]);
    append(&live, &rows[a + 1..b].concat());
    let c2 = counts(&run_jobs(&dir, &[]));
    assert_eq!(c2["new_lines"].as_u64(), Some((b - a) as u64));
    // Run 3: more lines, then rotation: the file is compressed under a new name (new inode)
    // and a fresh file takes its place.
    append(&live, &rows[b..c].concat());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(&live).unwrap()).unwrap();
    std::fs::write(dir.join("otel/traces-1.jsonl.gz"), gz.finish().unwrap()).unwrap();
    std::fs::remove_file(&live).unwrap();
    append(&live, &rows[c..].concat());
    let o3 = run_jobs(&dir, &[]);
    let c3 = counts(&o3);
    assert_eq!(c3["new_lines"].as_u64(), Some((n - b) as u64));
    assert_eq!(c3["input_files"], 3);
    let total_bytes: u64 = [&c1, &c2, &c3]
        .iter()
        .map(|c| c["new_bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(
        total_bytes,
        traces.len() as u64,
        "every byte read exactly once"
    );
    let records = truth["spans"].as_u64().unwrap() + truth["metrics"]["points"].as_u64().unwrap();
    assert_eq!(c3["records_read"].as_u64(), Some(records));
    // Run 4: nothing new; the report is rewritten byte for byte.
    let report = dir.join("reports/2026-01-01/hourly/payment");
    let before = tree(&report);
    let c4 = counts(&run_jobs(&dir, &[]));
    assert_eq!(c4["new_lines"], 0);
    assert_eq!(tree(&report), before);
    // The same judgement as one job over the whole file at once.
    let once = job_dir(
        "incremental-once",
        &JOBS.replace("\"payment\", \"checkout\"", "\"payment\""),
    );
    assert_eq!(lines(&run_jobs(&once, &[]))[0]["status"], "ok");
    crate::fixtures::assert_same_comparisons(
        &read_json(&report.join("report.json")),
        &read_json(&once.join("reports/2026-01-01/hourly/payment/report.json")),
        "incremental vs one-shot",
    );
}

#[test]
fn retention_deletes_expired_reports_and_the_index_lists_the_rest() {
    let jobs = JOBS
        .replace("\"payment\", \"checkout\"", "\"payment\"")
        .replace("last 1h", "last 20m")
        .replace(
            "reports/{date}/{job}/{service}",
            "reports/{date}/{time}/{service}",
        )
        + "keep = \"25m\"\n";
    let dir = job_dir("retention", &jobs);
    let mut verdicts = Vec::new();
    for at in ["00:30", "00:40", "00:50", "01:00"] {
        let o = bin()
            .current_dir(root())
            .args(["run", "--at", &format!("2026-01-01T{at}:00Z"), "--config"])
            .arg(dir.join("canalyst.toml"))
            .output()
            .unwrap();
        let l = &lines(&o)[0];
        assert_eq!(l["status"], "ok", "{l} {}", stderr(&o));
        verdicts.push(l["verdict"].as_str().unwrap().to_string());
    }
    let day = dir.join("reports/2026-01-01");
    // At 01:00 with keep 25m, windows that ended at or before 00:35 are gone.
    assert!(!day.join("003000").exists(), "expired report kept");
    for t in ["004000", "005000", "010000"] {
        assert!(
            day.join(t).join("payment/report.json").is_file(),
            "{t} deleted"
        );
    }
    let index = std::fs::read_to_string(dir.join("reports/hourly.html")).unwrap();
    assert_eq!(index.matches("<tr><td>").count(), 3, "{index}");
    assert_eq!(index.matches("<circle").count(), 3);
    assert!(
        !index.contains("2026-01-01T00:30:00Z<"),
        "expired row listed"
    );
    // Newest first, each with its verdict and a link that resolves.
    let table = &index[index.find("<table>").unwrap()..];
    let newest = table.find("2026-01-01T01:00:00Z").unwrap();
    let older = table.find("2026-01-01T00:50:00Z").unwrap();
    assert!(newest < older);
    for (t, v) in [("004000", &verdicts[1]), ("010000", &verdicts[3])] {
        let href = format!("href=\"2026-01-01/{t}/payment/index.html\"");
        let row = index.lines().find(|l| l.contains(&href)).expect(&href);
        assert!(row.contains(&format!(">{v}<")), "{row}");
        assert!(dir
            .join("reports/2026-01-01")
            .join(t)
            .join("payment/index.html")
            .is_file());
    }
}

#[test]
fn the_example_jobs_file_parses() {
    // An unknown job name is checked after the whole file parsed and before anything runs.
    let o = bin()
        .current_dir(root())
        .args([
            "run",
            "no-such-job",
            "--config",
            "examples/canalyst-jobs.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("no job named \"no-such-job\""),
        "{}",
        stderr(&o)
    );
    for f in [
        "canalyst-run.cron",
        "canalyst-run.service",
        "run-cronjob.yaml",
    ] {
        let text = std::fs::read_to_string(root().join("examples").join(f)).unwrap();
        assert!(
            text.contains("run") && text.contains("/etc/canalyst/canalyst.toml"),
            "{f}"
        );
    }
}

#[test]
fn query_over_a_jobs_checkpointed_parts_equals_query_over_the_raw_files() {
    // A rollout controller can answer from what `run` already ingested (README "Scheduled
    // reports"): the same number as from the raw files, without reading them again.
    let dir = job_dir("query-parts", JOBS);
    let o = run_jobs(&dir, &[]);
    assert!(matches!(code(&o), 0 | 1 | 3), "{}", stderr(&o));
    let parts: Vec<PathBuf> = std::fs::read_dir(dir.join(".canalyst/data/hourly"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("part-")
        })
        .collect();
    assert_eq!(parts.len(), 1, "one part after one run");
    let query = |inputs: &[PathBuf], metric: &str, extra: &[&str]| {
        let o = bin()
            .args(["query", metric])
            .args(inputs)
            .args(["--window", "30m"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "query {metric}: {}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let raw = vec![dir.join("otel/traces.jsonl")];
    for (metric, extra) in [
        ("error_rate", &["--track", "canary"][..]),
        ("p99", &["--compare", "ratio"][..]),
        ("request_rate", &["--service", "payment"][..]),
    ] {
        let from_raw = query(&raw, metric, extra);
        assert!(!from_raw.trim().is_empty());
        assert_eq!(query(&parts, metric, extra), from_raw, "{metric}");
    }
}

#[test]
fn a_sequential_look_interval_longer_than_the_jobs_window_is_an_error_naming_the_key() {
    let dir = job_dir(
        "sequential-look",
        &JOBS.replace(
            "window = \"last 1h\"",
            "window = \"last 1h\"\nconfig = \"seq.toml\"",
        ),
    );
    std::fs::write(
        dir.join("seq.toml"),
        "method = \"sequential\"\n[sequential]\nlook_interval = \"2h\"\n",
    )
    .unwrap();
    let o = run_jobs(&dir, &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    for line in lines(&o) {
        assert_eq!(line["status"], "error", "{line}");
        let error = line["error"].as_str().unwrap();
        assert!(
            error.contains("sequential.look_interval") && error.contains("longer than"),
            "{error}"
        );
    }
}

/// A job's report carries the Forensics section `canalyst report` writes: the same
/// `forensics` key in report.json as `report` gives over the same files, service and window,
/// its signatures' canary exposure equal to the truth's canary requests of the service, and
/// the section in index.html and report.md.
#[test]
fn a_jobs_report_has_the_forensics_section_report_writes() {
    let jobs = JOBS.replace(
        r#"services = ["payment", "checkout"]"#,
        r#"services = ["payment"]"#,
    );
    let dir = job_dir("forensics", &jobs);
    let o = run_jobs(&dir, &[]);
    assert_eq!(lines(&o)[0]["status"], "ok", "{}", stderr(&o));
    let job_report = dir.join("reports/2026-01-01/hourly/payment");
    let got = read_json(&job_report.join("report.json"));
    let f = &got["forensics"];
    assert!(f.is_object(), "no forensics key in the job's report.json");

    let truth = read_json(&traffic().join("truth.json"));
    let canary_requests: u64 = truth["clean"]
        .as_array()
        .unwrap()
        .iter()
        .chain(truth["effects"].as_array().unwrap())
        .filter(|r| r["service"] == "payment")
        .map(|r| r["observed"]["canary_requests"].as_u64().unwrap())
        .sum();
    let sigs = f["signatures"].as_array().unwrap();
    assert!(
        !sigs.is_empty(),
        "the errors scenario's payment errors make signatures"
    );
    for s in sigs {
        assert_eq!(s["service"], "payment");
        assert_eq!(
            s["canary"]["requests"].as_u64(),
            Some(canary_requests),
            "{s}"
        );
    }
    let html = std::fs::read_to_string(job_report.join("index.html")).unwrap();
    assert!(html.contains("<h2 id=\"forensics\">Forensics</h2>"));
    let md = std::fs::read_to_string(job_report.join("report.md")).unwrap();
    assert!(md.contains("\n## Forensics\n"));

    let out = scratch().join("run-forensics-report");
    let _ = std::fs::remove_dir_all(&out);
    let otlp = traffic().join("otlp");
    let r = bin()
        .arg("report")
        .arg(otlp.join("traces.jsonl"))
        .arg(otlp.join("metrics.jsonl"))
        .args([
            "--service",
            "payment",
            "--since",
            "2026-01-01T00:00:00Z",
            "--until",
            AT,
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(matches!(code(&r), 0 | 1 | 3), "{}", stderr(&r));
    assert_eq!(
        &read_json(&out.join("report.json"))["forensics"],
        f,
        "run's and report's forensics differ"
    );
}

/// The Forensics section's traces assembled in one partition (the job's `trace_partitions =
/// 1`) or three (`run --trace-partitions 3`, overriding the key): the same reports, byte for
/// byte. The job's `memory_budget = 1` (one partition for these 6000 spans) too.
#[test]
fn a_jobs_forensics_section_is_the_same_for_one_and_three_trace_partitions() {
    let dir = job_dir("partitions", JOBS);
    // The same directory each time, so the input paths in the reports are the same.
    let reports = |key: &str, args: &[&str]| {
        let jobs = JOBS
            .replace(
                r#"services = ["payment", "checkout"]"#,
                r#"services = ["payment"]"#,
            )
            .replace("window =", &format!("{key}\nwindow ="));
        std::fs::write(dir.join("canalyst.toml"), jobs).unwrap();
        let _ = std::fs::remove_dir_all(dir.join("reports"));
        let o = run_jobs(&dir, args);
        assert_eq!(lines(&o)[0]["status"], "ok", "{}", stderr(&o));
        tree(&dir.join("reports"))
    };
    let one = reports("trace_partitions = 1", &[]);
    let report = one
        .iter()
        .find(|(p, _)| p.ends_with("report.json"))
        .map(|(_, b)| serde_json::from_slice::<Value>(b).unwrap())
        .expect("report.json");
    // Not vacuous: signatures and structure rows to order.
    assert!(!report["forensics"]["signatures"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(!report["forensics"]["structure"]
        .as_array()
        .unwrap()
        .is_empty());
    let three = reports("trace_partitions = 1", &["--trace-partitions", "3"]);
    assert!(
        one == three,
        "run --trace-partitions 3 differs from trace_partitions = 1"
    );
    let budget = reports("memory_budget = 1", &[]);
    assert!(
        one == budget,
        "memory_budget = 1 differs from trace_partitions = 1"
    );
    let o = run_jobs(&dir, &["--memory-budget", "0"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--memory-budget"), "{}", stderr(&o));
}

/// A job's `compression` is the codec of the DATASET parts its incremental ingest writes
/// (`ingest --compression`'s values; LZ4 by default), and changes neither the parts' tables
/// nor the report (a bad codec: `bad_configuration_is_exit_2_naming_the_key`).
#[test]
fn a_jobs_compression_is_the_codec_of_its_parts_and_nothing_else() {
    let one = JOBS.replace(
        r#"services = ["payment", "checkout"]"#,
        r#"services = ["payment"]"#,
    );
    let mut seen = Vec::new();
    for (setting, codec) in [
        ("", "LZ4_RAW"),
        ("compression = \"zstd:9\"\n", "ZSTD"),
        ("compression = \"none\"\n", "UNCOMPRESSED"),
    ] {
        // The same directory each time, so the input paths in the reports are the same.
        let dir = job_dir("compression", &format!("{one}{setting}"));
        let o = run_jobs(&dir, &[]);
        // The exit code is the verdict; the run line says whether the job ran.
        assert!(matches!(code(&o), 0 | 1 | 3), "{setting}: {}", stderr(&o));
        assert_eq!(lines(&o)[0]["status"], "ok", "{setting}");
        let part = dir.join(".canalyst/data/hourly/part-000001");
        let tables = crate::ingest::tables_and_codecs(&part);
        for (batches, codecs) in &tables {
            assert!(!batches.is_empty() && !codecs.is_empty(), "{setting}");
            assert!(codecs.iter().all(|c| c == codec), "{setting}: {codecs:?}");
        }
        let tables: Vec<_> = tables.into_iter().map(|t| t.0).collect();
        let report = tree(&dir.join("reports/2026-01-01/hourly/payment"));
        assert!(report.contains_key(Path::new("report.json")), "{setting}");
        seen.push((tables, report));
    }
    for (tables, report) in &seen[1..] {
        assert!(*tables == seen[0].0, "a codec changed the part's tables");
        assert!(*report == seen[0].1, "a codec changed the report");
    }
}
