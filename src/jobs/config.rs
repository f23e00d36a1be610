//! `canalyst.toml`: the scheduled report jobs (`[[job]]` tables) that `canalyst run` executes.
//!
//! Paths in the file (inputs, analysis config, output template, state directory) are relative
//! to the directory holding the file, so a cron entry works from any working directory.

use super::window::JobWindow;
use super::JobsError;
use crate::engine::forensics::TracePartitioning;
use crate::ingest::dataset::Codec;
use serde::Deserialize;
use std::path::{Component, Path, PathBuf};

/// The whole file: where checkpoints and locks live, and the jobs.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// The file read (for messages).
    pub path: PathBuf,
    /// Directory of lock files (`<state>/locks/<job>.lock`); default `.canalyst` beside the file.
    pub state_dir: PathBuf,
    /// The jobs, in file order.
    pub jobs: Vec<Job>,
}

/// One `[[job]]` table, checked and with paths resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Unique name: `[A-Za-z0-9_-]`, at most 64 characters (it names the lock file).
    pub name: String,
    /// Input globs (`*` and `?` in the file-name part only), absolute.
    pub inputs: Vec<PathBuf>,
    /// The window each run reports on.
    pub window: JobWindow,
    /// Analysis configuration file, absolute; `None` uses `preset`.
    pub config: Option<PathBuf>,
    /// Preset when no `config` is given.
    pub preset: String,
    /// One report per service; empty means one report over all services (`{service}` = `all`).
    pub services: Vec<String>,
    /// Baseline `deployment.track`.
    pub baseline_track: String,
    /// Canary `deployment.track`.
    pub canary_track: String,
    /// Output directory template, absolute; placeholders `{job}`, `{date}`, `{time}`, `{service}`.
    pub output: String,
    /// Retention: reports whose window ended this long before the reference time are
    /// deleted, with their history entries and DATASET parts (`None`: keep everything).
    pub keep_ns: Option<i64>,
    /// How the Forensics section's traces are partitioned (`memory_budget` in MiB or
    /// `trace_partitions`; default: the default budget). `run --memory-budget` or
    /// `--trace-partitions` overrides it for every job.
    pub partitioning: TracePartitioning,
    /// Codec of the DATASET parts the job's incremental ingest writes (`compression`, as
    /// `canalyst ingest --compression`; default LZ4).
    pub compression: Codec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    state_dir: Option<String>,
    #[serde(default)]
    job: Vec<RawJob>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: String,
    inputs: Vec<String>,
    window: String,
    config: Option<String>,
    preset: Option<String>,
    #[serde(default)]
    services: Vec<String>,
    baseline_track: Option<String>,
    canary_track: Option<String>,
    output: String,
    keep: Option<String>,
    memory_budget: Option<u64>,
    trace_partitions: Option<u32>,
    compression: Option<String>,
}

/// Placeholders an output template may use.
const PLACEHOLDERS: &[&str] = &["{job}", "{date}", "{time}", "{service}"];

impl JobsConfig {
    /// Reads and checks `path`; every error names the file and the key (and the line for
    /// TOML syntax and unknown or missing keys).
    pub fn from_file(path: &Path) -> Result<Self, JobsError> {
        let text = std::fs::read_to_string(path).map_err(|source| JobsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Self::from_toml_str(&text, path, base)
    }

    /// Parses `text` (read from `path`), resolving relative paths against `base`.
    pub fn from_toml_str(text: &str, path: &Path, base: &Path) -> Result<Self, JobsError> {
        let bad = |key: String, message: String| JobsError::Config {
            path: path.to_path_buf(),
            key,
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(0);
            bad(format!("line {line}"), e.message().to_string())
        })?;
        if raw.job.is_empty() {
            return Err(bad("job".into(), "no [[job]] table".into()));
        }
        let resolve = |p: &str| base.join(p);
        let mut jobs: Vec<Job> = Vec::with_capacity(raw.job.len());
        for (i, j) in raw.job.into_iter().enumerate() {
            let key = |k: &str| format!("job[{i}].{k}");
            let name_ok = !j.name.is_empty()
                && j.name.len() <= 64
                && j.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !name_ok {
                return Err(bad(
                    key("name"),
                    format!("{:?}: use 1-64 of A-Z a-z 0-9 - _", j.name),
                ));
            }
            if jobs.iter().any(|o| o.name == j.name) {
                return Err(bad(key("name"), format!("{:?} is used twice", j.name)));
            }
            if j.inputs.is_empty() {
                return Err(bad(key("inputs"), "empty: give at least one glob".into()));
            }
            for g in &j.inputs {
                let parent = Path::new(g).parent().map(|p| p.to_string_lossy());
                if parent.is_some_and(|p| p.contains(['*', '?', '['])) {
                    return Err(bad(
                        key("inputs"),
                        format!("{g:?}: wildcards are allowed in the file name only"),
                    ));
                }
            }
            let window = JobWindow::parse(&j.window).map_err(|m| bad(key("window"), m))?;
            if j.config.is_some() && j.preset.is_some() {
                return Err(bad(key("preset"), "give config or preset, not both".into()));
            }
            check_template(&j.output).map_err(|m| bad(key("output"), m))?;
            if j.services.iter().any(|s| s.is_empty()) {
                return Err(bad(key("services"), "an empty service name".into()));
            }
            let partitioning = match (j.memory_budget, j.trace_partitions) {
                (Some(_), Some(_)) => {
                    return Err(bad(
                        key("trace_partitions"),
                        "give memory_budget or trace_partitions, not both".into(),
                    ))
                }
                (Some(0), None) => {
                    return Err(bad(key("memory_budget"), "must be at least 1 (MiB)".into()))
                }
                (None, Some(0)) => {
                    return Err(bad(key("trace_partitions"), "must be at least 1".into()))
                }
                (Some(mib), None) => TracePartitioning::Budget(mib.saturating_mul(1 << 20)),
                (None, Some(k)) => TracePartitioning::Fixed(k),
                (None, None) => TracePartitioning::default(),
            };
            let keep_ns = j
                .keep
                .as_deref()
                .map(crate::pipeline::query::parse_window)
                .transpose()
                .map_err(|e| bad(key("keep"), e.to_string()))?;
            let compression = j
                .compression
                .as_deref()
                .map(str::parse::<Codec>)
                .transpose()
                .map_err(|m| bad(key("compression"), m))?
                .unwrap_or_default();
            jobs.push(Job {
                name: j.name,
                inputs: j.inputs.iter().map(|g| resolve(g)).collect(),
                window,
                config: j.config.as_deref().map(resolve),
                preset: j.preset.unwrap_or_else(|| "default".into()),
                services: j.services,
                baseline_track: j.baseline_track.unwrap_or_else(|| "stable".into()),
                canary_track: j.canary_track.unwrap_or_else(|| "canary".into()),
                output: resolve(&j.output).to_string_lossy().into_owned(),
                keep_ns,
                partitioning,
                compression,
            });
        }
        let state_dir = resolve(raw.state_dir.as_deref().unwrap_or(".canalyst"));
        Ok(Self {
            path: path.to_path_buf(),
            state_dir,
            jobs,
        })
    }
}

/// An output template is a path whose components are plain names (no `..`), whose `{…}` are
/// known placeholders, and whose last component holds a placeholder-free name or a placeholder
/// (the report directory itself, renamed into place).
fn check_template(t: &str) -> Result<(), String> {
    if t.is_empty() {
        return Err("empty".into());
    }
    if Path::new(t).components().any(|c| c == Component::ParentDir) {
        return Err(format!("{t:?}: `..` is not allowed"));
    }
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("{t:?}: unclosed `{{`"))?;
        let ph = &rest[open..open + close + 1];
        if !PLACEHOLDERS.contains(&ph) {
            return Err(format!(
                "{t:?}: unknown placeholder {ph} (known: {})",
                PLACEHOLDERS.join(", ")
            ));
        }
        rest = &rest[open + close + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<JobsConfig, JobsError> {
        JobsConfig::from_toml_str(text, Path::new("c.toml"), Path::new("/etc/canalyst"))
    }

    const OK: &str = r#"
[[job]]
name = "nightly"
inputs = ["otel/traces*.json"]
window = "calendar day"
services = ["checkout"]
output = "reports/{date}/{service}"
"#;

    #[test]
    fn resolves_paths_against_the_config_directory() {
        let c = parse(OK).unwrap();
        assert_eq!(
            c.jobs[0].inputs[0],
            Path::new("/etc/canalyst/otel/traces*.json")
        );
        assert_eq!(c.jobs[0].output, "/etc/canalyst/reports/{date}/{service}");
        assert_eq!(c.state_dir, Path::new("/etc/canalyst/.canalyst"));
        assert_eq!(c.jobs[0].canary_track, "canary");
        assert_eq!(c.jobs[0].partitioning, TracePartitioning::default());
        assert_eq!(c.jobs[0].compression, Codec::Lz4);
    }

    /// `compression` takes `ingest --compression`'s values (`zstd` alone is level 3).
    #[test]
    fn compression_takes_the_ingest_codecs() {
        for (text, want) in [
            ("zstd", "zstd:3"),
            ("zstd:19", "zstd:19"),
            ("none", "none"),
            ("lz4", "lz4"),
        ] {
            let c = parse(&format!("{OK}compression = \"{text}\"\n")).unwrap();
            assert_eq!(c.jobs[0].compression.to_string(), want, "{text}");
        }
        assert_eq!(parse(OK).unwrap().jobs[0].compression.to_string(), "lz4");
    }

    #[test]
    fn forensics_partitions_come_from_memory_budget_or_trace_partitions() {
        let c = parse(&format!("{OK}memory_budget = 64\n")).unwrap();
        assert_eq!(c.jobs[0].partitioning, TracePartitioning::Budget(64 << 20));
        let c = parse(&format!("{OK}trace_partitions = 3\n")).unwrap();
        assert_eq!(c.jobs[0].partitioning, TracePartitioning::Fixed(3));
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                OK.replace("window = \"calendar day\"", "window = \"fortnight\""),
                "job[0].window",
            ),
            (OK.replace("{service}\"", "{host}\""), "job[0].output"),
            (OK.replace("reports/", "../reports/"), "job[0].output"),
            (OK.replace("\"nightly\"", "\"a/b\""), "job[0].name"),
            (OK.replace("otel/traces", "o*/traces"), "job[0].inputs"),
            (OK.replace("window =", "windw ="), "line 5"),
            (format!("{OK}keep = \"30 days\"\n"), "job[0].keep"),
            (
                format!("{OK}compression = \"brotli\"\n"),
                "job[0].compression",
            ),
            (format!("{OK}{OK}"), "job[1].name"),
        ];
        for (text, key) in cases {
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.contains(key), "{key} not in {e}");
        }
    }
}
