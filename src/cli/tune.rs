//! `canalyst tune`: sweep a rollout policy's settings over a labelled corpus of recorded
//! deployments (`docs/backtest.md`, "Tuning").

use super::forensics::Format;
use super::selection::AnalysisArgs;
use crate::backtest::policy::Policy;
use crate::backtest::replay::ReplayOptions;
use crate::backtest::summary::Summaries;
use crate::model::label::{Label, Verdict};
use crate::model::time::parse_rfc3339;
use crate::pipeline::Columns;
use crate::tune::evaluate::{self, Deployment, SweepAxis};
use crate::tune::{run_sweep, sweep, Prepared};
use anyhow::{bail, Context};
use clap::Args;
use std::path::{Path, PathBuf};

/// Arguments of `canalyst tune`.
#[derive(Debug, Args)]
#[command(
    about = "Sweep a rollout policy's settings over a labelled corpus: detection and false-rollback rates, Pareto front, recommendation",
    after_help = "Exit codes: 0 done, 2 error.\n\
Sweepable keys: measurement.failure_limit, measurement.inconclusive_limit, measurement.consecutive_error_limit,\n\
measurement.consecutive_success_limit, flagger.threshold, gates.alpha, gates.pass_threshold, gates.marginal_threshold,\n\
gates.min_requests, gates.max (gates.NAME.FIELD for one gate).\n\
Example: canalyst generate --corpus 20 --spans 20000 -o corpus/ && \\\n  canalyst tune corpus/ --policy progressive --sweep gates.alpha=0.01..0.1:0.01 -o tune/"
)]
pub struct TuneArgs {
    /// Corpus directories (each holding deployment directories with a `label.toml`) or
    /// deployment directories; `--config`/`--preset` and the side flags apply to every one.
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Policy: a TOML file or a preset (progressive, progressive-simple).
    #[arg(long, value_name = "FILE|PRESET")]
    pub policy: String,
    /// `KEY=A..B[:STEP]`, `KEY=A,B,C` or `KEY=A`; repeat for a cartesian product.
    #[arg(long, value_name = "SPEC")]
    pub sweep: Vec<String>,
    /// The false-rollback rate the recommendation must be shown to stay under.
    #[arg(long, value_name = "R", default_value_t = 0.05)]
    pub target_false_rollback: f64,
    /// Seed of the canary thinning of every replay (as `backtest --seed`).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Write tune.json, report.md, index.html and charts/ into this directory.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The deployment directories under `inputs`, sorted within each input.
fn deployment_dirs(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.join("label.toml").is_file() {
            out.push(input.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(input)
            .with_context(|| format!("{}: cannot read the corpus directory", input.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("label.toml").is_file())
            .collect();
        if found.is_empty() {
            bail!(
                "{}: no label.toml in it or in its subdirectories (a corpus holds one directory per deployment, see `canalyst generate --corpus`)",
                input.display()
            );
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// The telemetry of a deployment directory: `parquet/`, else `otlp/`, else the files beside
/// `label.toml`.
fn telemetry(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    for sub in ["parquet", "otlp"] {
        if dir.join(sub).is_dir() {
            return Ok(vec![dir.join(sub)]);
        }
    }
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot read", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && !matches!(
                    p.file_name().and_then(|n| n.to_str()),
                    Some("label.toml" | "truth.json")
                )
        })
        .collect();
    if files.is_empty() {
        bail!("{}: no telemetry beside label.toml", dir.display());
    }
    Ok(files)
}

/// The analysis flags of `a` with other inputs.
fn with_inputs(a: &AnalysisArgs, inputs: Vec<PathBuf>) -> AnalysisArgs {
    AnalysisArgs {
        inputs,
        config: a.config.clone(),
        preset: a.preset.clone(),
        baseline_track: a.baseline_track.clone(),
        canary_track: a.canary_track.clone(),
        baseline_version: a.baseline_version.clone(),
        canary_version: a.canary_version.clone(),
        service: a.service.clone(),
        since: a.since.clone(),
        until: a.until.clone(),
        bucket_seconds: a.bucket_seconds,
        strict: a.strict,
        placement: a.placement.clone(),
    }
}

/// Reads one deployment into summaries (once, whatever the number of settings).
fn prepare(
    dir: &Path,
    label: &Label,
    args: &TuneArgs,
    generated_at: &str,
) -> anyhow::Result<Prepared> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    let onset_unix_nano = label
        .onset
        .as_deref()
        .map(|s| {
            parse_rfc3339(s).with_context(|| {
                format!(
                    "{}: onset {s:?} is not an RFC 3339 time",
                    dir.join("label.toml").display()
                )
            })
        })
        .transpose()?;
    let a = with_inputs(&args.analysis, telemetry(dir)?);
    let (sources, selection) = a
        .open(Columns::Analysis, Vec::new(), false)
        .with_context(|| format!("deployment {}", dir.display()))?;
    let bucket_ns = selection.bucket_ns;
    let (log, _) = sources
        .request_log(selection)
        .with_context(|| format!("deployment {}", dir.display()))?;
    Ok(Prepared {
        name,
        summaries: Summaries::build(&log, bucket_ns, args.seed),
        opts: ReplayOptions {
            seed: args.seed,
            onset_unix_nano,
            bucket_ns,
            generated_at: generated_at.into(),
        },
        label: label.label,
    })
}

/// Runs `canalyst tune`.
pub fn run(args: TuneArgs) -> anyhow::Result<i32> {
    let r = args.target_false_rollback;
    if !(r > 0.0 && r < 1.0) {
        bail!("--target-false-rollback {r} is not in (0, 1)");
    }
    let default_analysis = args.analysis.config()?;
    let policy = Policy::load(&args.policy, &default_analysis)?;
    let sweeps = args
        .sweep
        .iter()
        .map(|s| sweep::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let settings = sweep::settings(&policy, &sweeps)?;
    let dirs = deployment_dirs(&args.analysis.inputs)?;
    let labels = dirs
        .iter()
        .map(|d| Label::read(&d.join("label.toml")))
        .collect::<Result<Vec<_>, _>>()?;
    let generated_at = crate::analysis::generation_time();
    let prepared = {
        let _timing = crate::timings::phase("tune: read deployments");
        dirs.iter()
            .zip(&labels)
            .map(|(d, l)| prepare(d, l, &args, &generated_at))
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let scored = {
        let _timing = crate::timings::phase("tune: replays");
        run_sweep(&prepared, settings)?
    };
    let deployments = dirs
        .iter()
        .zip(labels)
        .zip(&prepared)
        .map(|((d, l), p)| Deployment {
            name: p.name.clone(),
            path: d.display().to_string(),
            label: l.label,
            onset: l.onset,
            effect_kind: l.effect_kind,
            effect_size: l.effect_size,
            traffic: l.traffic,
        })
        .collect();
    let report = evaluate::report(
        policy.name.clone(),
        args.seed,
        r,
        generated_at,
        deployments,
        sweeps
            .into_iter()
            .map(|s| SweepAxis {
                key: s.key,
                values: s.values,
            })
            .collect(),
        scored,
    );
    if let Some(dir) = &args.output {
        let path = crate::report::tune::write_tune(dir, &report)?;
        eprintln!("canalyst: wrote {}", path.display());
    }
    match args.format {
        Format::Text => print!("{}", summary(&report)),
        Format::Json => print!("{}", serde_json::to_string_pretty(&report)? + "\n"),
        Format::Md => print!("{}", crate::report::tune::markdown(&report)),
    }
    Ok(crate::cli::EXIT_OK)
}

fn summary(r: &evaluate::TuneReport) -> String {
    let bad = r
        .deployments
        .iter()
        .filter(|d| d.label == Verdict::Bad)
        .count();
    let mut s = format!(
        "tune: {} settings over {} deployments ({} good, {bad} bad), policy {}\nrecommended: {}\nPareto front:\n",
        r.settings.len(),
        r.deployments.len(),
        r.deployments.len() - bad,
        r.policy,
        r.recommendation_reason
    );
    for i in &r.pareto_front {
        let x = &r.settings[*i];
        let pct = |v: Option<f64>| v.map_or("–".into(), |v| format!("{:.1}%", v * 100.0));
        s.push_str(&format!(
            "  {:>4}  detection {} ({}/{})  false rollbacks {} ({}/{})  median TTD {}  {}\n",
            x.index,
            pct(x.detection_rate),
            x.detected,
            x.bad,
            pct(x.false_rollback_rate),
            x.false_rollbacks,
            x.good,
            x.median_time_to_detect_s
                .map_or("–".into(), |t| format!("{t:.0} s")),
            x.params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    s
}
