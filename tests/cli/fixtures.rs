//! Shared inputs of the `analyze` and `report` tests: the binary, the committed sample data,
//! and generated runs created once per test process (generation takes seconds in debug builds,
//! so every test that needs the same scenario shares one directory).

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

/// Fixed `SOURCE_DATE_EPOCH` (2026-01-01T00:00:00Z) for byte-comparable reports.
pub const EPOCH: &str = "1767225600";

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary under test; `CANALYST_BIN` overrides it (useful when several worktrees share
/// one target directory and may overwrite each other's build).
pub fn bin() -> Command {
    let mut c = match std::env::var_os("CANALYST_BIN") {
        Some(p) => Command::new(p),
        None => Command::new(env!("CARGO_BIN_EXE_canalyst")),
    };
    // Reports carry the generation time unless this is set; tests that need it set it again.
    c.env_remove("SOURCE_DATE_EPOCH");
    c
}

/// Runs the binary with `args` in the repository root.
pub fn run(args: &[&str]) -> Output {
    run_env(args, &[])
}

/// Runs the binary with `args` and extra environment variables in the repository root.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = bin();
    c.current_dir(root()).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run canalyst")
}

/// Exit code (-1 when killed by a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output parsed as JSON, with the command's stderr in the panic message.
pub fn stdout_json(o: &Output, what: &str) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: stdout is not JSON ({e}); exit {}; stderr:\n{}",
            code(o),
            stderr(o)
        )
    })
}

/// Reads a JSON file.
pub fn read_json(p: &Path) -> Value {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

/// Directory for this process's generated inputs, inside the target directory's scratch
/// space. Directories of earlier runs older than six hours are removed on first use so they do
/// not pile up.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let prefix = "canalyst-cli-fixtures-";
        if let Ok(rd) = std::fs::read_dir(base) {
            for e in rd.flatten() {
                let old = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|age| age > Duration::from_secs(6 * 3600));
                if old && e.file_name().to_string_lossy().starts_with(prefix) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = base.join(format!("{prefix}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create fixture directory");
        dir
    })
}

/// A generated run: `canalyst generate --scenario NAME --spans N --canary-share F` with the
/// default seed, created once per process. Returns its directory (`parquet/`, `truth.json`,
/// `otlp/metrics.jsonl`; the OTLP/JSON traces are deleted once generated).
pub fn generated(scenario: &str, spans: u64, canary_share: f64) -> PathBuf {
    let (spans, share) = (spans.to_string(), canary_share.to_string());
    generated_with(
        &format!("{scenario}-{spans}-{canary_share}"),
        &[
            "--scenario",
            scenario,
            "--spans",
            &spans,
            "--canary-share",
            &share,
        ],
    )
}

/// `canalyst generate ARGS... -o DIR`, created once per process under the name `key`, as
/// [`generated`].
pub fn generated_with(key: &str, args: &[&str]) -> PathBuf {
    static RUNS: OnceLock<Mutex<HashMap<String, std::sync::Arc<OnceLock<PathBuf>>>>> =
        OnceLock::new();
    // One cell per key so different scenarios generate concurrently while each is generated
    // only once.
    let cell = RUNS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(key.to_string())
        .or_default()
        .clone();
    cell.get_or_init(|| {
        let dir = scratch().join(key);
        let o = bin()
            .arg("generate")
            .args(args)
            .arg("-o")
            .arg(&dir)
            .output()
            .expect("run canalyst generate");
        assert!(o.status.success(), "generate {key} failed: {}", stderr(&o));
        // The tests read the canonical Parquet (and the small metrics file); the uncompressed
        // OTLP/JSON traces would be most of the disk space left behind.
        let _ = std::fs::remove_file(dir.join("otlp/traces.jsonl"));
        dir
    })
    .clone()
}

/// The canonical Parquet file of a generated run.
pub fn parquet_of(dir: &Path) -> String {
    dir.join("parquet/spans.parquet")
        .to_string_lossy()
        .into_owned()
}

/// `SOURCE_DATE_EPOCH=EPOCH canalyst --threads 1 analyze sample-data/otlp -o -` (run once):
/// exit code and the raw JSON text. (The report tests render the same input with
/// `--threads 2` and expect this JSON byte for byte.)
pub fn sample_analysis() -> &'static (i32, String) {
    static CELL: OnceLock<(i32, String)> = OnceLock::new();
    CELL.get_or_init(|| {
        let o = run_env(
            &["--threads", "1", "analyze", "sample-data/otlp", "-o", "-"],
            &[("SOURCE_DATE_EPOCH", EPOCH)],
        );
        let text = String::from_utf8(o.stdout.clone()).expect("UTF-8 report");
        assert!(
            serde_json::from_str::<Value>(&text).is_ok(),
            "analyze sample-data/otlp -o - did not print JSON; exit {}; stderr:\n{}",
            code(&o),
            stderr(&o)
        );
        (code(&o), text)
    })
}

/// A DATASET of the sample data: `canalyst ingest sample-data/parquet/spans.parquet -o DS`,
/// run once. Analyses of a DATASET scan its Parquet directly, several times faster than
/// ingesting a raw input again, so the tests of flags use it.
pub fn sample_dataset() -> &'static str {
    static CELL: OnceLock<String> = OnceLock::new();
    CELL.get_or_init(|| {
        let ds = scratch().join("sample-ds");
        let o = run(&[
            "ingest",
            "sample-data/parquet/spans.parquet",
            "-o",
            ds.to_str().unwrap(),
        ]);
        assert_eq!(code(&o), 0, "ingest of the sample Parquet: {}", stderr(&o));
        ds.to_string_lossy().into_owned()
    })
}

/// `SOURCE_DATE_EPOCH=EPOCH canalyst analyze DS -o -` of [`sample_dataset`] (run once): exit
/// code, raw JSON text and the parsed report.
pub fn sample_dataset_report() -> &'static (i32, String, Value) {
    static CELL: OnceLock<(i32, String, Value)> = OnceLock::new();
    CELL.get_or_init(|| {
        let o = run_env(
            &["analyze", sample_dataset(), "-o", "-"],
            &[("SOURCE_DATE_EPOCH", EPOCH)],
        );
        let v = stdout_json(&o, "analyze of the sample DATASET");
        (code(&o), String::from_utf8(o.stdout).unwrap(), v)
    })
}

/// [`sample_analysis`] parsed.
pub fn sample_report() -> Value {
    serde_json::from_str(&sample_analysis().1).unwrap()
}

/// Route-level comparisons of `report` as (service, route, metric, classification).
pub fn route_findings(report: &Value) -> Vec<(String, String, String, String)> {
    report["comparisons"]
        .as_array()
        .expect("comparisons[]")
        .iter()
        .filter_map(|c| {
            Some((
                c["service"].as_str()?.to_string(),
                c["route"].as_str()?.to_string(),
                c["metric"].as_str()?.to_string(),
                c["classification"].as_str()?.to_string(),
            ))
        })
        .collect()
}

/// Whether a report's route names the route `route` (operation `operation`) of truth.json:
/// the report may show the `http.route` value itself or prefix it with the method.
pub fn same_route(report_route: &str, route: &str, operation: &str) -> bool {
    report_route == route
        || report_route == operation
        || report_route
            .rsplit_once(' ')
            .is_some_and(|(method, r)| r == route && !method.contains('/'))
}

/// Checks a generated run's report against its truth.json: every injected effect has a
/// `fail_high` comparison on its service and route, and no comparison on a clean route fails.
/// Returns a description of every violation (empty when it agrees).
pub fn truth_violations(report: &Value, truth: &Value) -> Vec<String> {
    let findings = route_findings(report);
    let mut bad = Vec::new();
    let effects = truth["effects"].as_array().expect("effects[]");
    let key = |e: &Value| {
        (
            e["service"].as_str().unwrap().to_string(),
            e["route"].as_str().unwrap().to_string(),
            e["operation"].as_str().unwrap_or("").to_string(),
        )
    };
    for e in effects {
        let (svc, route, op) = key(e);
        let hit = findings
            .iter()
            .any(|(s, r, _, c)| *s == svc && same_route(r, &route, &op) && c == "fail_high");
        if !hit {
            let seen: Vec<String> = findings
                .iter()
                .filter(|(s, r, _, _)| *s == svc && same_route(r, &route, &op))
                .map(|(_, _, m, c)| format!("{m}={c}"))
                .collect();
            bad.push(format!(
                "injected effect on {svc} {route} ({}) has no fail_high comparison; its comparisons: {seen:?}",
                e["description"]
            ));
        }
    }
    for c in truth["clean"].as_array().expect("clean[]") {
        let (svc, route, op) = key(c);
        // A route-level group merges every method of a route: a clean `DELETE /cart` shares
        // its group with an injected `GET /cart`, so only wholly clean routes are checked.
        if effects.iter().any(|e| {
            let (es, er, _) = key(e);
            es == svc && er == route
        }) {
            continue;
        }
        for (s, r, m, cl) in &findings {
            if *s == svc && same_route(r, &route, &op) && cl.starts_with("fail") {
                bad.push(format!("clean route {svc} {route}: {m} is {cl}"));
            }
        }
    }
    bad
}

/// Comparisons of a report, for equality checks across inputs.
pub fn comparisons(report: &Value) -> &Vec<Value> {
    report["comparisons"].as_array().expect("comparisons[]")
}

/// Asserts two reports have identical comparisons, naming the first difference.
pub fn assert_same_comparisons(a: &Value, b: &Value, what: &str) {
    let (ca, cb) = (comparisons(a), comparisons(b));
    assert!(!ca.is_empty(), "{what}: no comparisons");
    for (x, y) in ca.iter().zip(cb) {
        assert!(
            x == y,
            "{what}: comparisons differ first at {}:\n{x}\nvs\n{y}",
            x["id"]
        );
    }
    assert_eq!(ca.len(), cb.len(), "{what}: number of comparisons");
}
