//! Scheduled report jobs: `canalyst run` reads `canalyst.toml` ([`config`]) and, for each
//! job and service, writes the report of the job's window ([`window`]) with the report
//! writer, under the job's lock ([`lock`]), atomically ([`publish`]).
//!
//! Reports are idempotent: the window comes from the reference time (not from the data), and
//! the report's `generated_at` is the window's end unless `SOURCE_DATE_EPOCH` is set, so
//! re-running a window over the same inputs rewrites byte-identical files.

pub mod config;
pub mod history;
pub mod incremental;
pub mod index;
pub mod lock;
pub mod publish;
pub mod window;

use crate::analysis::analyze_with_metrics;
use crate::analysis::config::{AnalysisConfig, ConfigError};
use crate::analysis::findings::Verdict;
use crate::forensics::{forensics_with, ForensicsOptions, DEFAULT_ORIGIN_KEYS};
use crate::ingest::IngestOptions;
use crate::model::comparison::{Selector, Window};
use crate::model::time::format_rfc3339;
use crate::pipeline::{Columns, PipelineError, Placement, Selection, Sources};
use crate::report::files::slug;
use crate::report::{write_report_with_forensics, ReportError};
use config::Job;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a job (or the whole run) failed; each variant names the file, key or job concerned.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// Reading or writing a file or directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The jobs file is invalid.
    #[error("{path}: {key}: {message}")]
    Config {
        /// The jobs file.
        path: PathBuf,
        /// The key (`job[0].window`) or `line N` for TOML syntax.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// `canalyst run NAME` names no job.
    #[error("no job named {0:?} in the jobs file")]
    UnknownJob(String),
    /// Another run holds the job's lock.
    #[error("job {job} is locked by running pid {pid} ({path}); skipped")]
    Locked {
        /// The job.
        job: String,
        /// The owner's pid (0 when it could not be read).
        pid: u32,
        /// The lock file.
        path: PathBuf,
    },
    /// No file matches the job's input globs.
    #[error("job {job}: no file matches inputs {patterns:?}")]
    NoInputs {
        /// The job.
        job: String,
        /// The globs.
        patterns: Vec<PathBuf>,
    },
    /// The job's analysis configuration is invalid.
    #[error("job {job}: {source}")]
    AnalysisConfig {
        /// The job.
        job: String,
        /// The cause.
        source: ConfigError,
    },
    /// Reading the inputs or selecting the window failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Writing the report failed.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Ingesting new lines into a DATASET part failed.
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
}

/// Counts behind one report, for log shippers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    /// Input files matched by the globs.
    pub input_files: usize,
    /// Complete new lines read from span files in this run ([`incremental`]).
    pub new_lines: u64,
    /// Bytes of those lines.
    pub new_bytes: u64,
    /// Compressed files not readable yet (still being written), left for the next run.
    pub deferred_files: usize,
    /// Records read from them.
    pub records_read: u64,
    /// Records rejected.
    pub records_rejected: u64,
    /// Comparison groups judged.
    pub groups: usize,
}

/// The outcome of one job for one service: the JSON line `canalyst run` prints
/// (docs/run.schema.json).
#[derive(Debug, Clone, Serialize)]
pub struct JobOutcome {
    /// Job name.
    pub job: String,
    /// The service reported on, or `null` for all services.
    pub service: Option<String>,
    /// `ok`, `locked` or `error`.
    pub status: &'static str,
    /// Window start, RFC 3339 UTC.
    pub window_start: String,
    /// Window end (exclusive), RFC 3339 UTC.
    pub window_end: String,
    /// The verdict (`ok` only).
    pub verdict: Option<Verdict>,
    /// The report directory (`ok` only).
    pub report: Option<PathBuf>,
    /// Counts behind the report.
    pub counts: RunCounts,
    /// Wall-clock milliseconds of this report (the job's first also counts reading new input).
    pub duration_ms: u64,
    /// The error message (`locked`, `error`).
    pub error: Option<String>,
}

/// Runs `names` (all jobs when empty) of `cfg` with reference time `at_unix_nano`, the
/// queries where `placement` says, calling `emit` with each outcome as soon as it is known.
/// Unknown names fail before anything runs.
pub fn run_jobs(
    cfg: &config::JobsConfig,
    names: &[String],
    at_unix_nano: i64,
    placement: &Placement,
    mut emit: impl FnMut(&JobOutcome),
) -> Result<Vec<JobOutcome>, JobsError> {
    if let Some(n) = names
        .iter()
        .find(|n| !cfg.jobs.iter().any(|j| &j.name == *n))
    {
        return Err(JobsError::UnknownJob(n.clone()));
    }
    let mut out = Vec::new();
    for job in cfg
        .jobs
        .iter()
        .filter(|j| names.is_empty() || names.contains(&j.name))
    {
        let window = job.window.resolve(at_unix_nano);
        let lock_path = cfg
            .state_dir
            .join("locks")
            .join(format!("{}.lock", job.name));
        let services: Vec<Option<&str>> = match job.services.is_empty() {
            true => vec![None],
            false => job.services.iter().map(|s| Some(s.as_str())).collect(),
        };
        let lock = lock::JobLock::acquire(&lock_path, &job.name);
        let mut started = Instant::now();
        let mut counts = RunCounts::default();
        let inputs = match &lock {
            Ok(_) => read_new(job, &cfg.state_dir, &mut counts).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let mut written = Vec::new();
        for service in services {
            let mut o = JobOutcome {
                job: job.name.clone(),
                service: service.map(str::to_string),
                status: "ok",
                window_start: format_rfc3339(window.start_unix_nano),
                window_end: format_rfc3339(window.end_unix_nano),
                verdict: None,
                report: None,
                counts: counts.clone(),
                duration_ms: 0,
                error: None,
            };
            let result = match (&lock, &inputs) {
                (Err(e @ JobsError::Locked { .. }), _) => Err(("locked", e.to_string())),
                (_, Err(e)) => Err(("error", e.clone())),
                (_, Ok(inputs)) => {
                    report_one(job, service, window, inputs, placement, &mut o.counts)
                        .map_err(|e| ("error", e.to_string()))
                }
            };
            match result {
                Ok(entry) => {
                    o.verdict = Some(entry.verdict);
                    o.report = Some(entry.report.clone());
                    written.push(entry);
                }
                Err((status, message)) => {
                    o.status = status;
                    o.error = Some(message);
                }
            }
            o.duration_ms = started.elapsed().as_millis() as u64;
            started = Instant::now();
            emit(&o);
            out.push(o);
        }
        if lock.is_ok() {
            let cutoff = job.keep_ns.map(|k| at_unix_nano.saturating_sub(k));
            // Parts still hold spans of this run's window even when `keep` is shorter.
            let parts_cutoff = cutoff.map(|c| c.min(window.start_unix_nano));
            update_history(job, &cfg.state_dir, written, cutoff, parts_cutoff)?;
        }
    }
    Ok(out)
}

/// Records the reports of this run in the job's history, applies retention (`cutoff`: drop
/// reports whose window ended at or before it; `parts_cutoff`: DATASET parts whose spans all
/// ended before it) and rewrites the index page ([`index_path`]).
fn update_history(
    job: &Job,
    state_dir: &Path,
    written: Vec<history::HistoryEntry>,
    cutoff: Option<i64>,
    parts_cutoff: Option<i64>,
) -> Result<(), JobsError> {
    let data = state_dir.join("data").join(&job.name);
    let path = data.join("history.json");
    let mut h = history::History::load(&path)?;
    for e in written {
        h.record(e);
    }
    let index = index_path(job);
    let root = index.parent().unwrap_or(Path::new("/")).to_path_buf();
    if let Some(cutoff) = cutoff {
        for dir in h.prune(cutoff) {
            history::remove_report(&dir, &root)?;
        }
    }
    if let Some(c) = parts_cutoff {
        incremental::prune_parts(&data, c)?;
    }
    h.save(&path)?;
    let page = index::render(&job.name, &h.entries, &root);
    std::fs::create_dir_all(&root).map_err(|source| JobsError::Io {
        path: root.clone(),
        source,
    })?;
    write_atomically(&index, page.as_bytes())
}

/// Where a job's index page goes: `JOB.html` in the output template's leading directory
/// without placeholders (`reports/{date}/{service}` → `reports/JOB.html`).
pub fn index_path(job: &Job) -> PathBuf {
    let fixed = &job.output[..job.output.find('{').unwrap_or(job.output.len())];
    let dir = match fixed.ends_with('/') {
        true => PathBuf::from(fixed),
        false => Path::new(fixed)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    dir.join(format!("{}.html", job.name))
}

/// Writes `bytes` to `path` through a temporary sibling and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), JobsError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(|source| JobsError::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| JobsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The report directory of `job` for `service` and `window`: the template with `{job}`,
/// `{date}`, `{time}` and `{service}` filled in ([`service_component`]).
pub fn report_dir(job: &Job, service: Option<&str>, window: &Window) -> PathBuf {
    let service = service_component(service);
    PathBuf::from(
        job.output
            .replace("{job}", &job.name)
            .replace("{date}", &window::window_date(window))
            .replace("{time}", &window::window_time(window))
            .replace("{service}", &service),
    )
}

/// `{service}` of an output template: `all` for every service, the name itself when it is
/// already a plain lower-case name (`[a-z0-9_-]`, at most 40 characters, not starting with
/// `-`), else the report's file-name sanitiser [`slug`] (which appends a hash of the original,
/// so `Check Out` and `check-out` do not share a directory).
pub fn service_component(service: Option<&str>) -> String {
    match service {
        None => "all".into(),
        Some(s)
            if !s.is_empty()
                && s.len() <= 40
                && !s.starts_with('-')
                && s.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                }) =>
        {
            s.to_string()
        }
        Some(s) => slug(s),
    }
}

/// The files the job's input globs match, sorted, each glob's matches in turn (duplicates
/// kept once). `*` matches any run of characters and `?` one, in the file-name part only;
/// a path without wildcards is taken as it is (a file or a directory).
pub fn expand_inputs(patterns: &[PathBuf]) -> Result<Vec<PathBuf>, JobsError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for p in patterns {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.contains(['*', '?']) {
            if p.exists() && !out.contains(p) {
                out.push(p.clone());
            }
            continue;
        }
        let dir = p.parent().unwrap_or(Path::new("."));
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(JobsError::Io {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| wildcard(&name, &e.file_name().to_string_lossy()))
            .map(|e| e.path())
            // Following symlinks: a collector directory may link its current file.
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        for f in found {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// Whether `text` matches `pattern` (`*` any run, `?` one character), whole string.
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Expands the job's globs and reads what is new in them ([`incremental::prepare`] into
/// `STATE/data/JOB`); returns the inputs of the analysis.
fn read_new(
    job: &Job,
    state_dir: &Path,
    counts: &mut RunCounts,
) -> Result<Vec<PathBuf>, JobsError> {
    let files = expand_inputs(&job.inputs)?;
    counts.input_files = files.len();
    if files.is_empty() {
        return Err(JobsError::NoInputs {
            job: job.name.clone(),
            patterns: job.inputs.clone(),
        });
    }
    let p = incremental::prepare(
        &state_dir.join("data").join(&job.name),
        &files,
        job.compression,
    )?;
    counts.new_lines = p.new_lines;
    counts.new_bytes = p.new_bytes;
    counts.deferred_files = p.deferred_files;
    Ok(p.inputs)
}

/// Reads the job's prepared `inputs`, judges `service` over `window` and publishes the report;
/// returns its history entry.
fn report_one(
    job: &Job,
    service: Option<&str>,
    window: Window,
    inputs: &[PathBuf],
    placement: &Placement,
    counts: &mut RunCounts,
) -> Result<history::HistoryEntry, JobsError> {
    let cfg = match &job.config {
        Some(p) => AnalysisConfig::from_file(p),
        None => AnalysisConfig::preset(&job.preset),
    }
    .map_err(|source| JobsError::AnalysisConfig {
        job: job.name.clone(),
        source,
    })?;
    let side = |track: &str| Selector {
        track: Some(track.to_string()),
        version: None,
    };
    let selection = Selection {
        baseline: side(&job.baseline_track),
        canary: side(&job.canary_track),
        service: service.map(str::to_string),
        since_unix_nano: Some(window.start_unix_nano),
        until_unix_nano: Some(window.end_unix_nano),
        bucket_ns: 60_000_000_000,
        levels: cfg.levels.clone(),
        duration_buckets: cfg.method == crate::analysis::config::Method::Sequential,
    };
    // The report's Forensics section, as `canalyst report` writes it: the spans are read with
    // the originating-track keys of their attributes (not every attribute).
    let origin_keys: Vec<String> = DEFAULT_ORIGIN_KEYS.map(String::from).to_vec();
    let ingest = IngestOptions {
        span_attribute_keys: Some(std::sync::Arc::from(origin_keys.as_slice())),
        ..IngestOptions::default()
    };
    let sources = Sources::open_on(inputs, &ingest, Columns::Forensics, placement)?;
    counts.records_read = sources.quality().records_read;
    counts.records_rejected = sources.quality().records_rejected;
    let run = sources.prepare(selection)?;
    let input = run.comparison_input();
    counts.groups = input.groups.len();
    let metrics = cfg
        .metric_analysis
        .wanted(!input.groups.is_empty())
        .then(|| run.metric_data())
        .transpose()?;
    let series = run.series()?;
    // Span trees assembled in partitions of traces as the job (or `run --memory-budget`,
    // `--trace-partitions`) asks, as `report` does.
    let partitions = job.partitioning.partitions(run.span_count()?);
    let (forensics_input, trees) = run.forensics_and_trees(&origin_keys, partitions, None)?;
    let (input, quality) = run.into_parts();
    // As in `analyze`: the sequential look interval can be checked only against the window
    // and bucket of the data.
    let w = input.window;
    cfg.check_looks(
        w.end_unix_nano - w.start_unix_nano,
        input.bucket_ns,
        &cfg.name,
    )
    .map_err(|source| JobsError::AnalysisConfig {
        job: job.name.clone(),
        source,
    })?;
    let mut report = analyze_with_metrics(&input, metrics.as_ref(), &cfg, quality);
    let forensics_report =
        forensics_with(&forensics_input, trees, &ForensicsOptions::for_report(cfg));
    if std::env::var_os("SOURCE_DATE_EPOCH").is_none() {
        report.generated_at = format_rfc3339(window.end_unix_nano);
    }
    let dest = report_dir(job, service, &window);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|source| JobsError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let title = format!(
        "{}: {} {} vs {}, {} .. {}",
        job.name,
        service.unwrap_or("all services"),
        job.canary_track,
        job.baseline_track,
        format_rfc3339(window.start_unix_nano),
        format_rfc3339(window.end_unix_nano)
    );
    let staging = publish::staging_dir(&dest)?;
    write_report_with_forensics(
        &staging,
        &report,
        &input,
        Some(&series),
        Some(&forensics_report),
        &title,
    )?;
    publish::publish(&staging, &dest)?;
    let failed = report
        .comparisons
        .iter()
        .filter(|c| c.classification.is_fail())
        .count();
    Ok(history::HistoryEntry {
        service: service.map(str::to_string),
        window_start: format_rfc3339(window.start_unix_nano),
        window_end: format_rfc3339(window.end_unix_nano),
        end_unix_nano: window.end_unix_nano,
        verdict: report.verdict,
        score: report.score,
        failed,
        comparisons: report.comparisons.len(),
        report: dest,
    })
}

#[cfg(test)]
mod tests {
    use super::{service_component, wildcard};

    #[test]
    fn service_names_become_safe_directory_names() {
        assert_eq!(service_component(Some("payment")), "payment");
        assert_eq!(service_component(None), "all");
        for hostile in [
            "../../etc",
            "a/b",
            "Check Out",
            "-rf",
            ".",
            "x\u{202e}y",
            "",
        ] {
            let c = service_component(Some(hostile));
            assert!(
                c.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'),
                "{hostile:?} -> {c:?}"
            );
            assert!(!c.starts_with('-'), "{hostile:?} -> {c:?}");
        }
    }

    #[test]
    fn wildcards_match_whole_names() {
        assert!(wildcard("traces*.json", "traces.json"));
        assert!(wildcard("traces*.json", "traces-2026-12-03T10.json"));
        assert!(!wildcard("traces*.json", "traces.json.gz"));
        assert!(wildcard("t?.json*", "t1.json.gz"));
        assert!(!wildcard("t?.json", "t12.json"));
        assert!(wildcard("*", "anything"));
    }
}
