//! `--cluster` on a Ballista cluster (feature `distributed`): the binary's analyses, reports
//! and shipped SQL give byte-identical JSON on an in-process cluster (a scheduler and two
//! executors started in this test process on free localhost ports, several partitions
//! forced with `--threads 4`) and locally; the `scheduler` and `executor` subcommands form a
//! working cluster; bad cases exit 2 naming the address or path.

use super::fixtures::{code, root, run, run_env, sample_dataset, scratch, stderr, EPOCH};
use canalyst::engine::cluster::{
    add_executors_in_process, start_in_process, start_scheduler_in_process, ClusterUrl,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A cluster kept running on its own runtime for the whole test process.
struct InProcess {
    _runtime: tokio::runtime::Runtime,
    url: ClusterUrl,
}

fn start(canalyst_functions: bool) -> InProcess {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = runtime
        .block_on(start_in_process(2, 2, canalyst_functions))
        .expect("start an in-process cluster");
    InProcess {
        _runtime: runtime,
        url,
    }
}

/// `df://localhost:PORT` of the shared in-process cluster (scheduler + two executors, two
/// tasks each, all with canalyst's functions).
fn cluster() -> String {
    static C: OnceLock<InProcess> = OnceLock::new();
    C.get_or_init(|| start(true)).url.to_string()
}

/// The sample data ingested as one DATASET part per OTLP file (traces, metrics), as machines
/// would ingest their shares; analysed together they are one DATASET.
fn sample_parts() -> &'static [String] {
    static P: OnceLock<Vec<String>> = OnceLock::new();
    P.get_or_init(|| {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("sample-data/otlp"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(files.len() >= 2, "{files:?}");
        (0..files.len())
            .map(|part| {
                let out = scratch().join(format!("cluster-part-{part}"));
                let mut args: Vec<String> = vec!["ingest".into()];
                for f in files.iter().skip(part).step_by(files.len()) {
                    args.push(f.to_string_lossy().into_owned());
                }
                args.extend(["-o".into(), out.to_string_lossy().into_owned()]);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let o = run(&args);
                assert_eq!(code(&o), 0, "ingest part {part}: {}", stderr(&o));
                out.to_string_lossy().into_owned()
            })
            .collect()
    })
}

/// Runs `args` locally and with `--threads 4 … --cluster URL` appended: (exit, stdout) of
/// both, with a fixed `SOURCE_DATE_EPOCH`.
fn local_and_cluster(args: &[&str]) -> ((i32, Vec<u8>), (i32, Vec<u8>)) {
    let url = cluster();
    let env = [("SOURCE_DATE_EPOCH", EPOCH)];
    let local = run_env(args, &env);
    assert!(
        code(&local) != 2,
        "local {args:?}: exit 2: {}",
        stderr(&local)
    );
    let mut on_cluster = vec!["--threads", "4"];
    on_cluster.extend_from_slice(args);
    on_cluster.extend_from_slice(&["--cluster", &url]);
    let remote = run_env(&on_cluster, &env);
    assert!(
        code(&remote) != 2,
        "{on_cluster:?}: exit 2: {}",
        stderr(&remote)
    );
    ((code(&local), local.stdout), (code(&remote), remote.stdout))
}

fn assert_same(what: &str, local: (i32, Vec<u8>), remote: (i32, Vec<u8>)) {
    assert_eq!(local.0, remote.0, "{what}: exit codes");
    assert!(!local.1.is_empty(), "{what}: no output");
    if local.1 != remote.1 {
        let (l, r) = (
            String::from_utf8_lossy(&local.1),
            String::from_utf8_lossy(&remote.1),
        );
        let line = l
            .lines()
            .zip(r.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "{what}: cluster output differs from local at line {}:\n- {}\n+ {}",
            line + 1,
            l.lines().nth(line).unwrap_or(""),
            r.lines().nth(line).unwrap_or("")
        );
    }
}

#[test]
fn analyze_on_the_cluster_equals_local_byte_for_byte() {
    let parts = sample_parts();
    for inputs in [
        vec![sample_dataset()],
        parts.iter().map(String::as_str).collect(),
    ] {
        let mut args = vec!["analyze"];
        args.extend(inputs.iter().copied());
        args.extend(["-o", "-"]);
        let (local, remote) = local_and_cluster(&args);
        assert!(
            String::from_utf8_lossy(&local.1).contains("\"verdict\""),
            "not a report"
        );
        assert_same(&format!("analyze {inputs:?}"), local, remote);
    }
    // A service filter, given window and version selectors take the same path.
    let args = [
        "analyze",
        sample_dataset(),
        "--service",
        "checkout",
        "--preset",
        "kayenta",
        "-o",
        "-",
    ];
    let (local, remote) = local_and_cluster(&args);
    assert_same("analyze --service checkout --preset kayenta", local, remote);
}

#[test]
fn report_query_forensics_and_backtest_on_the_cluster_equal_local() {
    let ds = sample_dataset();
    let url = cluster();
    let env = [("SOURCE_DATE_EPOCH", EPOCH)];
    let (a, b) = (
        scratch().join("cl-report-local"),
        scratch().join("cl-report-remote"),
    );
    let lo = run_env(&["report", ds, "-o", a.to_str().unwrap()], &env);
    let re = run_env(
        &[
            "--threads",
            "4",
            "report",
            ds,
            "-o",
            b.to_str().unwrap(),
            "--cluster",
            &url,
        ],
        &env,
    );
    assert_eq!(code(&lo), code(&re), "{}", stderr(&re));
    for name in ["report.json", "report.md"] {
        let (x, y) = (read(&a.join(name)), read(&b.join(name)));
        assert_same(&format!("report {name}"), (0, x), (0, y));
    }
    let (local, remote) =
        local_and_cluster(&["query", "p99", ds, "--compare", "ratio", "--format", "json"]);
    assert_same("query p99", local, remote);
    let (local, remote) =
        local_and_cluster(&["forensics", ds, "--limit", "1000", "--format", "json"]);
    assert_same("forensics", local, remote);
    let (c, d) = (
        scratch().join("cl-bt-local"),
        scratch().join("cl-bt-remote"),
    );
    // The sample records a 20% canary: a policy whose weights it can thin to (progressive's
    // 25% step is refused), with an analysis gate that decides within it.
    let policy = root().join("examples/policies/steps-5-10-20.toml");
    let policy = policy.to_str().unwrap();
    let lo = run_env(
        &[
            "backtest",
            ds,
            "--policy",
            policy,
            "-o",
            c.to_str().unwrap(),
        ],
        &env,
    );
    let re = run_env(
        &[
            "--threads",
            "4",
            "backtest",
            ds,
            "--policy",
            policy,
            "-o",
            d.to_str().unwrap(),
            "--cluster",
            &url,
        ],
        &env,
    );
    assert_eq!(code(&lo), code(&re), "{}", stderr(&re));
    assert_same(
        "backtest.json",
        (0, read(&c.join("backtest.json"))),
        (0, read(&d.join("backtest.json"))),
    );
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The extra parameters (after the shared `$1..$8`) of the shipped queries that take more.
fn extra_params(file: &str) -> Vec<&'static str> {
    match file {
        // Missing keys repeat the last one, as `canalyst forensics` binds them.
        // $8 is unused there; $9: whether the p99 side is wanted.
        "forensics_attribute_requests.sql" => vec!["bool:true"],
        "forensics_downstream_spans.sql" => vec![
            "str:canary.origin",
            "str:origin.track",
            "str:origin.track",
            "str:origin.track",
            "str:origin.track",
            "str:origin.track",
        ],
        _ => vec![],
    }
}

/// Every query of `queries/` with the same parameters gives the same rows on the cluster as
/// locally: byte for byte when the query orders its output, as the same multiset of rows
/// when it does not (the samples queries leave order to the summariser).
#[test]
fn every_shipped_query_on_the_cluster_equals_local() {
    let ds = sample_dataset();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("queries"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "{files:?}");
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        let sql = std::fs::read_to_string(f).unwrap();
        let highest = (1..=20)
            .rev()
            .find(|n| sql.contains(&format!("${n}")))
            .unwrap_or(0);
        // query_measure.sql numbers its parameters its own way (`canalyst query`).
        let measure = [
            "str:requests",
            "bool:true",
            "str:stable",
            "null",
            "null",
            "str:canary",
            "null",
            "null",
            "null",
            "null",
            "null",
            "ts:2000-01-01T00:00:00Z",
            "ts:2100-01-01T00:00:00Z",
            "float:0.99",
        ];
        let mut params = vec![
            "str:stable",
            "null",
            "str:canary",
            "null",
            "null",
            "ts:2000-01-01T00:00:00Z",
            "ts:2100-01-01T00:00:00Z",
            "interval:1 minute",
        ];
        params.extend(extra_params(name));
        if name == "query_measure.sql" {
            params = measure.to_vec();
        }
        params.truncate(highest);
        assert_eq!(params.len(), highest, "{name}: parameters");
        let mut args = vec!["sql", "-f", f.to_str().unwrap(), ds, "--format", "json"];
        for p in &params {
            args.extend(["--param", p]);
        }
        let (local, remote) = local_and_cluster(&args);
        let ordered = sql.to_uppercase().contains("ORDER BY");
        let rows = |b: &[u8]| {
            let v: serde_json::Value =
                serde_json::from_slice(b).unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
            let mut rows: Vec<String> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.to_string())
                .collect();
            if !ordered {
                rows.sort();
            }
            rows
        };
        let (l, r) = (rows(&local.1), rows(&remote.1));
        assert_eq!(l.len(), r.len(), "{name}: row count");
        assert!(l == r, "{name}: rows differ on the cluster");
        if ordered {
            assert_same(name, local, remote);
        }
    }
}

#[test]
fn exact_quantiles_of_every_group_are_exact_on_the_cluster() {
    // Groups spread over both executors' partitions: per-route exact quantiles, counted and
    // compared with the ones computed here from the raw durations (the truth is the data, not
    // canalyst's local run).
    let ds = sample_dataset();
    let url = cluster();
    let q = "SELECT service_name, route, count(*) AS n, \
             quantile_exact(CAST(duration_ns AS DOUBLE), 0.5) AS p50, \
             quantile_exact(CAST(duration_ns AS DOUBLE), 0.99) AS p99 \
             FROM requests WHERE route IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2";
    let o = run(&[
        "--threads",
        "4",
        "sql",
        q,
        ds,
        "--format",
        "json",
        "--cluster",
        &url,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let raw = run(&[
        "sql",
        "SELECT service_name, route, duration_ns FROM requests WHERE route IS NOT NULL",
        ds,
        "--format",
        "json",
    ]);
    let raw: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    let mut by_group: std::collections::BTreeMap<(String, String), Vec<f64>> = Default::default();
    for r in raw.as_array().unwrap() {
        by_group
            .entry((
                r["service_name"].as_str().unwrap().into(),
                r["route"].as_str().unwrap().into(),
            ))
            .or_default()
            .push(r["duration_ns"].as_i64().unwrap() as f64);
    }
    let type7 = |v: &[f64], q: f64| {
        let h = (v.len() - 1) as f64 * q;
        let (lo, frac) = (h.floor() as usize, h - h.floor());
        if lo + 1 < v.len() {
            v[lo] + frac * (v[lo + 1] - v[lo])
        } else {
            v[lo]
        }
    };
    let rows = got.as_array().unwrap();
    assert_eq!(rows.len(), by_group.len());
    for r in rows {
        let key = (
            r["service_name"].as_str().unwrap().to_string(),
            r["route"].as_str().unwrap().to_string(),
        );
        let mut v = by_group[&key].clone();
        v.sort_by(f64::total_cmp);
        assert_eq!(r["n"].as_u64().unwrap() as usize, v.len(), "{key:?}");
        for (col, q) in [("p50", 0.5), ("p99", 0.99)] {
            let want = type7(&v, q);
            let got = r[col].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-9 * want.abs(),
                "{key:?} {col}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn unreachable_cluster_exits_2_naming_the_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("df://127.0.0.1:{port}");
    let o = run(&["analyze", sample_dataset(), "--cluster", &url]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains(&url) && e.contains("unreachable"), "{e}");
    let o = run(&[
        "sql",
        "SELECT 1",
        sample_dataset(),
        "--cluster",
        "http://x:1",
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("df://HOST:PORT"), "{}", stderr(&o));
}

#[test]
fn executors_without_canalysts_functions_fail_with_a_hint() {
    static STOCK: OnceLock<InProcess> = OnceLock::new();
    let url = STOCK.get_or_init(|| start(false)).url.to_string();
    let o = run(&[
        "sql",
        "SELECT quantile_exact(CAST(duration_ns AS DOUBLE), 0.5) FROM spans",
        sample_dataset(),
        "--cluster",
        &url,
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("quantile_exact")
            && e.contains(&url)
            && e.contains("lacks canalyst's functions"),
        "{e}"
    );
}

#[test]
fn inputs_a_cluster_cannot_read_exit_2_naming_the_path() {
    let url = cluster();
    // Raw telemetry would be ingested into the client's memory, which executors cannot read.
    let o = run(&["analyze", "sample-data/otlp", "--cluster", &url]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("sample-data/otlp") && stderr(&o).contains("DATASET"),
        "{}",
        stderr(&o)
    );
    // A DATASET whose spans file the executors fail to read (the client reads only its
    // footer, which is intact; a third of the way in, 200 kB are overwritten): the error names
    // the cluster and the file.
    let bad = scratch().join("cluster-unreadable");
    let _ = std::fs::remove_dir_all(&bad);
    copy_dir(Path::new(sample_dataset()), &bad);
    let spans = bad.join("spans.parquet");
    let mut bytes = std::fs::read(&spans).unwrap();
    let at = bytes.len() / 3;
    for (i, b) in bytes[at..at + 200_000].iter_mut().enumerate() {
        *b = (i * 7919 % 251) as u8;
    }
    std::fs::write(&spans, bytes).unwrap();
    let o = run(&["analyze", bad.to_str().unwrap(), "--cluster", &url]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("spans.parquet") && e.contains(&url), "{e}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A child process killed when dropped (so a failing test leaves no server behind).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(args: &[&str]) -> Server {
    Server(
        super::fixtures::bin()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn canalyst"),
    )
}

/// `canalyst scheduler` and two `canalyst executor` processes on free ports form a cluster
/// whose analysis equals the local one.
#[test]
fn scheduler_and_executor_subcommands_form_a_cluster() {
    let sp = free_port();
    let sched = format!("127.0.0.1:{sp}");
    let _s = spawn(&["scheduler", "--bind", &sched]);
    wait_listening(&sched);
    let mut executors = Vec::new();
    for _ in 0..2 {
        let bind = format!("127.0.0.1:{}", free_port());
        executors.push(spawn(&[
            "executor",
            "--scheduler",
            &sched,
            "--bind",
            &bind,
            "--concurrent-tasks",
            "2",
        ]));
        wait_listening(&bind);
    }
    let url = format!("df://{sched}");
    let env = [("SOURCE_DATE_EPOCH", EPOCH)];
    let args = [
        "--threads",
        "4",
        "analyze",
        sample_dataset(),
        "-o",
        "-",
        "--cluster",
        &url,
    ];
    let remote = run_env(&args, &env);
    assert_ne!(code(&remote), 2, "{}", stderr(&remote));
    let local = run_env(&["analyze", sample_dataset(), "-o", "-"], &env);
    assert_same(
        "analyze via canalyst scheduler/executor",
        (code(&local), local.stdout),
        (code(&remote), remote.stdout),
    );
    drop(executors);
}

/// Waits until something accepts connections on `addr` (a server process started).
fn wait_listening(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A new scheduler with no executor, in this process (on its own runtime, returned to keep
/// it running): a job submitted to it never finishes, which is how a hung cluster looks from
/// a client, until executors are added ([`add_executors_in_process`]).
fn idle_scheduler() -> (tokio::runtime::Runtime, ClusterUrl) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = runtime
        .block_on(start_scheduler_in_process())
        .expect("start an in-process scheduler");
    (runtime, url)
}

/// A job that cannot finish fails after `--cluster-timeout` with exit 2, naming the query
/// and the cluster, and is cancelled on the scheduler; a bad duration is refused up front.
#[test]
fn a_hung_job_times_out_with_a_clear_error() {
    let (_runtime, url) = idle_scheduler();
    let url = url.to_string();
    let started = Instant::now();
    let o = run(&[
        "analyze",
        sample_dataset(),
        "--cluster",
        &url,
        "--cluster-timeout",
        "2s",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("window.sql")
            && e.contains(&url)
            && e.contains("did not finish within 2 s")
            && e.contains("was cancelled on the scheduler"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(60), "{e}");
    for bad in ["0s", "soon", "5d"] {
        let o = run(&[
            "analyze",
            sample_dataset(),
            "--cluster",
            &url,
            "--cluster-timeout",
            bad,
        ]);
        assert_eq!(code(&o), 2, "{bad}");
        assert!(stderr(&o).contains("--cluster-timeout"), "{}", stderr(&o));
    }
}

/// A DATASET's spans file that the scheduler planned with but that is gone when the
/// executors come to read it (removed by retention, or not mounted on the executors'
/// machines): exit 2 naming the file and the cluster. The job is held back by a scheduler
/// without executors until the file is removed; then executors register and fail to read it.
#[test]
fn a_file_gone_before_the_executors_read_it_exits_2_naming_it() {
    let (runtime, url) = idle_scheduler();
    let url = &url;
    let ds = scratch().join("cluster-vanishing");
    let _ = std::fs::remove_dir_all(&ds);
    copy_dir(Path::new(sample_dataset()), &ds);
    let spans = ds.join("spans.parquet");
    let mut child = super::fixtures::bin()
        .current_dir(root())
        .args([
            "analyze",
            ds.to_str().unwrap(),
            "--cluster",
            &url.to_string(),
        ])
        .env("CANALYST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(&mut err)
            .lines()
            .map_while(Result::ok)
        {
            // Running: the scheduler has planned the job (listed the file, read its footer).
            if line.contains("is running") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("the job never started running on the scheduler");
    std::fs::remove_file(&spans).unwrap();
    runtime
        .block_on(add_executors_in_process(url, 2, 2, true))
        .unwrap();
    let status = child.wait().unwrap();
    let e = reader.join().unwrap();
    assert_eq!(status.code(), Some(2), "{e}");
    let last = e.lines().rev().find(|l| l.contains("error")).unwrap_or("");
    assert!(
        last.contains(&*spans.to_string_lossy()) && last.contains(&url.to_string()),
        "{last}\n{e}"
    );
}

/// `canalyst run --cluster`: the job's DATASET parts (ingested incrementally on the client,
/// into the state directory) are read by the executors; the reports equal the local run's
/// byte for byte. A job whose inputs include a metric file (read whole each run, not into
/// a DATASET part) is refused on a cluster with the path and exit 2.
#[test]
fn run_on_the_cluster_equals_local() {
    let url = cluster();
    let dir = scratch().join("cluster-run");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("otel")).unwrap();
    for e in std::fs::read_dir(root().join("sample-data/otlp")).unwrap() {
        let p = e.unwrap().path();
        std::os::unix::fs::symlink(&p, dir.join("otel").join(p.file_name().unwrap())).unwrap();
    }
    let config = dir.join("canalyst.toml");
    std::fs::write(
        &config,
        r#"
[[job]]
name = "hourly"
inputs = ["otel/traces*"]
window = "last 1h"
services = ["checkout", "payment"]
output = "reports/{job}/{service}"

[[job]]
name = "with-metrics"
inputs = ["otel/traces*", "otel/metrics*"]
window = "last 1h"
output = "reports/{job}"
"#,
    )
    .unwrap();
    // (global flags, run flags, job)
    let run_jobs = |global: &[&str], flags: &[&str], job: &str| {
        super::fixtures::bin()
            .current_dir(root())
            .args(global)
            .args(["run", job, "--config", config.to_str().unwrap()])
            .args(["--at", "2026-01-01T01:00:00Z"])
            .args(flags)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .output()
            .unwrap()
    };
    let reports = || {
        let base = dir.join("reports/hourly");
        let mut out = Vec::new();
        for service in ["checkout", "payment"] {
            for f in ["report.json", "report.md"] {
                let bytes = read(&base.join(service).join(f));
                assert!(!bytes.is_empty(), "{service}/{f} is empty");
                out.push(bytes);
            }
        }
        out
    };
    let outcomes = |o: &std::process::Output| -> Vec<(String, String, String)> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let s = |k: &str| v[k].to_string();
                (s("status"), s("verdict"), v["counts"].to_string())
            })
            .collect()
    };
    let local = run_jobs(&[], &[], "hourly");
    assert_ne!(code(&local), 2, "{}", stderr(&local));
    let local_reports = reports();
    // A fresh state directory: the cluster run ingests its own DATASET part.
    std::fs::remove_dir_all(dir.join("reports")).unwrap();
    std::fs::remove_dir_all(dir.join(".canalyst")).unwrap();
    let remote = run_jobs(&["--threads", "4"], &["--cluster", &url], "hourly");
    assert_ne!(code(&remote), 2, "{}", stderr(&remote));
    assert_eq!(code(&local), code(&remote));
    let lines = outcomes(&local);
    assert_eq!(lines.len(), 2, "{}", stderr(&local));
    assert!(lines.iter().all(|l| l.0 == "\"ok\""), "{lines:?}");
    assert_eq!(lines, outcomes(&remote));
    for (i, (l, r)) in local_reports.into_iter().zip(reports()).enumerate() {
        assert_same(&format!("run report file {i}"), (0, l), (0, r));
    }
    let o = run_jobs(&[], &["--cluster", &url], "with-metrics");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let line = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        line.contains("\"status\":\"error\"")
            && line.contains("metrics")
            && line.contains("DATASET"),
        "{line}"
    );
}
