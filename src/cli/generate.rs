//! `canalyst generate`: synthetic canary traffic (see `docs/generate.md`).

use crate::generate::metrics::{MetricOptions, Temporality};
use crate::generate::scenario::Scenario;
use crate::generate::{generate, Compression, GenerateOptions};
use crate::model::time::{parse_rfc3339, NS_PER_SEC};
use anyhow::{bail, Context};
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `canalyst generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Scenario: which regressions the canary carries.
    #[arg(long, value_enum, default_value = "mixed", value_name = "NAME")]
    pub scenario: Scenario,
    /// Output directory (created; existing files of the same names are replaced).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// Seed: the same seed and options give byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Approximate number of spans to write (the result is within a few percent).
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub spans: u64,
    /// Share of each service's traffic served by its canary once it is up.
    #[arg(long, default_value_t = 0.10, value_name = "F")]
    pub canary_share: f64,
    /// Compression of the OTLP/JSON files (traces and metrics).
    #[arg(long, value_enum, default_value = "none")]
    pub compress: Compression,
    /// Start of the run (RFC 3339).
    #[arg(long, default_value = "2026-01-01T00:00:00Z", value_name = "TIME")]
    pub start: String,
    /// Length of the run in minutes.
    #[arg(long, default_value_t = 60.0, value_name = "MIN")]
    pub duration_minutes: f64,
    /// Minutes after the start at which canary instances begin serving.
    #[arg(long, default_value_t = 5.0, value_name = "MIN")]
    pub canary_delay_minutes: f64,
    /// Minutes after the start at which the scenario's effects begin (default: when the canary
    /// starts): before it the canary is healthy, for backtests with a known onset.
    #[arg(long, value_name = "MIN")]
    pub onset_minutes: Option<f64>,
    /// Replace the scenario's effect multipliers (latency factor, error-rate factor, p99
    /// ratio) with this one.
    #[arg(long, value_name = "F")]
    pub effect_size: Option<f64>,
    /// Write a labelled corpus of N recorded deployments for `canalyst tune` instead of one
    /// run: `-o DIR/NNN-<good|bad>-<kind>/` each with `parquet/spans.parquet`, `truth.json`
    /// and `label.toml`, across effect kinds and sizes, traffic levels (×0.5/1/2 `--spans`),
    /// onsets and seeds derived from `--seed` (docs/generate.md). `--scenario`,
    /// `--canary-share`, `--duration-minutes`, `--canary-delay-minutes`, `--onset-minutes`
    /// and `--effect-size` are set per deployment by the corpus grid.
    #[arg(long, value_name = "N")]
    pub corpus: Option<usize>,
    /// Metric export interval of every simulated SDK, in seconds.
    #[arg(long, default_value_t = 60.0, value_name = "S")]
    pub metric_interval_seconds: f64,
    /// Aggregation temporality of the metrics.
    #[arg(long, value_enum, default_value = "cumulative")]
    pub metric_temporality: Temporality,
    /// Write `http.server.request.duration` as a base-2 exponential histogram (SDK default
    /// limits: scale 20, 160 buckets) instead of explicit buckets.
    #[arg(long)]
    pub exponential_histograms: bool,
    /// Head-sample the traces (`--scenario forensics` only): each root keeps its trace with
    /// the probability of its rule and writes `tracestate: ot=th:…` on every span (OTel
    /// probability sampling); `truth.json` records the weights. Metrics count every request.
    #[arg(long)]
    pub head_sampling: bool,
    /// Also write the traces as OTLP protobuf, `otlp/traces.binpb`, in the Collector file
    /// exporter's `format: proto` framing (the same spans as the JSON file).
    #[arg(long)]
    pub protobuf: bool,
    /// Damage one trace in 40 per kind of defect (orphan span, duplicate span id, parent
    /// cycle, second root, child ending 5 ms after its parent) and count them in
    /// `truth.json` `trace_defects`; not with `--scenario forensics`.
    #[arg(long)]
    pub trace_defects: bool,
}

fn minutes_ns(m: f64, flag: &str) -> anyhow::Result<i64> {
    if !(0.0..=1e7).contains(&m) {
        bail!("{flag} {m} is out of range");
    }
    Ok((m * 60.0 * NS_PER_SEC as f64).round() as i64)
}

fn seconds_ns(s: f64) -> anyhow::Result<i64> {
    if !(0.001..=1e7).contains(&s) {
        bail!("--metric-interval-seconds {s} is out of range (0.001 to 1e7)");
    }
    Ok((s * NS_PER_SEC as f64).round() as i64)
}

/// Runs the command; progress and the summary go to stderr.
pub fn run(args: GenerateArgs) -> anyhow::Result<i32> {
    let start_ns = parse_rfc3339(&args.start)
        .with_context(|| format!("--start {:?} is not an RFC 3339 time", args.start))?;
    let opts = GenerateOptions {
        scenario: args.scenario,
        seed: args.seed,
        spans: args.spans,
        canary_share: args.canary_share,
        start_ns,
        duration_ns: minutes_ns(args.duration_minutes, "--duration-minutes")?,
        canary_delay_ns: minutes_ns(args.canary_delay_minutes, "--canary-delay-minutes")?,
        effect_onset_ns: args
            .onset_minutes
            .map(|m| minutes_ns(m, "--onset-minutes"))
            .transpose()?,
        effect_size: args.effect_size,
        compress: args.compress,
        out_dir: args.out,
        metrics: MetricOptions {
            interval_ns: seconds_ns(args.metric_interval_seconds)?,
            temporality: args.metric_temporality,
            exponential: args.exponential_histograms,
        },
        head_sampling: args.head_sampling,
        protobuf: args.protobuf,
        trace_defects: args.trace_defects,
    };
    let t0 = Instant::now();
    if let Some(n) = args.corpus {
        if n == 0 {
            bail!("--corpus must be at least 1");
        }
        let labels = crate::generate::corpus::write_corpus(n, &opts)?;
        let bad = labels
            .iter()
            .filter(|(_, l)| l.label == crate::model::label::Verdict::Bad)
            .count();
        eprintln!(
            "canalyst generate: corpus of {n} deployments ({} good, {bad} bad), seed {}, in {:.1}s: {}",
            n - bad,
            opts.seed,
            t0.elapsed().as_secs_f64(),
            opts.out_dir.display()
        );
        return Ok(crate::cli::EXIT_OK);
    }
    let s = generate(&opts)?;
    eprintln!(
        "canalyst generate: scenario {} seed {}: {} spans in {} traces ({} lines) in {:.1}s",
        s.truth.scenario,
        s.truth.seed,
        s.truth.spans,
        s.truth.traces,
        s.truth.lines,
        t0.elapsed().as_secs_f64()
    );
    for e in &s.truth.effects {
        eprintln!("  effect: {}", e.description);
    }
    for p in [
        &s.json_path,
        &s.metrics_path,
        &s.parquet_path,
        &s.truth_path,
    ] {
        eprintln!("  wrote {}", p.display());
    }
    Ok(crate::cli::EXIT_OK)
}
