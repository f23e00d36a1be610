//! `canalyst query`: print one number (error rate, request rate, a latency quantile, traffic
//! share, or a canary/baseline ratio or difference of one) over the last window of the inputs.

use crate::ingest::IngestOptions;
use crate::model::time::parse_rfc3339;
use crate::pipeline::query::{
    parse_window, Answer, Compare, Population, QueryMetric, QuerySpec, SideSpec, Thresholds,
};
use crate::pipeline::{Columns, Sources};
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Output format flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The number alone on stdout (nothing when there is none); window, counts and data quality on stderr.
    Plain,
    /// The whole answer as JSON on stdout (docs/query.schema.json), `"value": null` when there is none.
    Json,
    /// As plain, but a --fail-above/--fail-below bound is required: Argo Rollouts' job provider
    /// and Flagger's load tester read only the exit code.
    Argo,
}

/// `--of`: what is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Of {
    /// Requests: entry spans (SERVER, root, or parent in another service).
    Requests,
    /// Every span.
    Spans,
}

/// `--compare`: how the canary is set against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFlag {
    /// canary / baseline.
    Ratio,
    /// canary − baseline.
    Difference,
}

/// Arguments of `canalyst query`.
#[derive(Debug, Args)]
#[command(
    about = "Print one number over the last window: error_rate, request_rate, p50…p999, traffic_share",
    after_help = "Metrics: error_rate, request_rate (per second), p50, p90, p95, p99, p999 (ms, exact \
type-7 quantiles), traffic_share.\n\
Exit codes: 0 answered (and within --fail-above/--fail-below), 1 a bound is broken, \
2 error, 4 no data (no request of a side in the window: never reported as 0).\n\
Example: canalyst query error_rate /var/otel --window 5m --service checkout --track canary \
--fail-above 0.005 --format argo"
)]
pub struct QueryArgs {
    /// error_rate, request_rate, p50, p90, p95, p99, p999 or traffic_share.
    #[arg(value_name = "METRIC")]
    pub metric: String,
    /// Telemetry files or directories (OTLP JSON/protobuf, Parquet) or DATASET directories.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Window length: a whole number and ms, s, m, h or d.
    #[arg(long, value_name = "LENGTH", default_value = "5m")]
    pub window: String,
    /// Window end, exclusive (RFC 3339); default: just after the newest span in the inputs.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Count requests or every span (default: requests, or spans with --operation).
    #[arg(long, value_enum, value_name = "WHAT")]
    pub of: Option<Of>,
    /// Only this service.name.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// The side: this deployment.track.
    #[arg(long, value_name = "TRACK", conflicts_with_all = ["stage", "version", "compare"])]
    pub track: Option<String>,
    /// The side: this deployment.stage (resource or span attribute).
    #[arg(long, value_name = "STAGE", conflicts_with_all = ["version", "compare"])]
    pub stage: Option<String>,
    /// The side: this service.version.
    #[arg(long, value_name = "VERSION", conflicts_with = "compare")]
    pub version: Option<String>,
    /// Only this route.
    #[arg(long, value_name = "ROUTE", conflicts_with = "operation")]
    pub route: Option<String>,
    /// Only spans with this name (operation).
    #[arg(long, value_name = "NAME")]
    pub operation: Option<String>,
    /// Compare canary with baseline (default sides: tracks stable and canary).
    #[arg(long, value_enum, value_name = "HOW")]
    pub compare: Option<CompareFlag>,
    /// Baseline side: deployment.track (with --compare).
    #[arg(long, value_name = "TRACK", requires = "compare")]
    pub baseline_track: Option<String>,
    /// Canary side: deployment.track (with --compare).
    #[arg(long, value_name = "TRACK", requires = "compare")]
    pub canary_track: Option<String>,
    /// Baseline side: service.version (with --compare).
    #[arg(long, value_name = "VERSION", requires = "compare")]
    pub baseline_version: Option<String>,
    /// Canary side: service.version (with --compare).
    #[arg(long, value_name = "VERSION", requires = "compare")]
    pub canary_version: Option<String>,
    /// Baseline side: deployment.stage (with --compare).
    #[arg(long, value_name = "STAGE", requires = "compare")]
    pub baseline_stage: Option<String>,
    /// Canary side: deployment.stage (with --compare).
    #[arg(long, value_name = "STAGE", requires = "compare")]
    pub canary_stage: Option<String>,
    /// Exit 1 when the value is above this.
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    pub fail_above: Option<f64>,
    /// Exit 1 when the value is below this.
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    pub fail_below: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Plain)]
    pub format: Format,
    /// Fail (exit 2) if any input record was rejected.
    #[arg(long)]
    pub strict: bool,
    /// Where the query runs.
    #[command(flatten)]
    pub placement: super::placement::ClusterArg,
}

impl QueryArgs {
    /// The [`QuerySpec`] the flags ask for; errors name the flag.
    fn spec(&self) -> anyhow::Result<QuerySpec> {
        let metric = QueryMetric::parse(&self.metric).context("METRIC")?;
        let window_ns = parse_window(&self.window).context("--window")?;
        let at_unix_nano = self
            .at
            .as_deref()
            .map(|s| {
                parse_rfc3339(s).with_context(|| format!("--at {s:?} is not an RFC 3339 time"))
            })
            .transpose()?;
        for (flag, v) in [
            ("--fail-above", self.fail_above),
            ("--fail-below", self.fail_below),
        ] {
            if v.is_some_and(|x| !x.is_finite()) {
                bail!("{flag} must be a finite number");
            }
        }
        if self.format == Format::Argo && self.fail_above.is_none() && self.fail_below.is_none() {
            bail!(
                "--format argo needs --fail-above or --fail-below: Argo Rollouts' job provider \
                 and Flagger's load tester judge by the exit code alone"
            );
        }
        let side =
            |track: &Option<String>, version: &Option<String>, stage: &Option<String>| SideSpec {
                track: track.clone(),
                version: version.clone(),
                stage: stage.clone(),
            };
        let (side, compare) = match self.compare {
            None => (side(&self.track, &self.version, &self.stage), None),
            Some(how) => {
                let mut baseline = side(
                    &self.baseline_track,
                    &self.baseline_version,
                    &self.baseline_stage,
                );
                let mut canary = side(&self.canary_track, &self.canary_version, &self.canary_stage);
                // As in analyze: tracks stable/canary unless the flags pick the sides otherwise.
                if baseline == SideSpec::default() && canary == SideSpec::default() {
                    baseline.track = Some("stable".into());
                    canary.track = Some("canary".into());
                }
                let how = match how {
                    CompareFlag::Ratio => Compare::Ratio,
                    CompareFlag::Difference => Compare::Difference,
                };
                (canary, Some((how, baseline)))
            }
        };
        let population = match self.of {
            Some(Of::Requests) => Population::Requests,
            Some(Of::Spans) => Population::Spans,
            None if self.operation.is_some() => Population::Spans,
            None => Population::Requests,
        };
        Ok(QuerySpec {
            metric,
            population,
            side,
            compare,
            service: self.service.clone(),
            route: self.route.clone(),
            operation: self.operation.clone(),
            window_ns,
            at_unix_nano,
            thresholds: Thresholds {
                fail_above: self.fail_above,
                fail_below: self.fail_below,
            },
        })
    }
}

/// Runs `canalyst query`.
pub fn run(args: QueryArgs) -> anyhow::Result<i32> {
    let spec = args.spec()?;
    spec.check()?;
    // The attribute maps are most of an in-memory span table; only a stage selector reads them.
    let columns = match spec.needs_attributes() {
        true => Columns::All,
        false => Columns::Analysis,
    };
    let sources = Sources::open_on(
        &args.inputs,
        &IngestOptions::default(),
        columns,
        &args.placement.placement()?,
    )?;
    let rejected = sources.quality().records_rejected;
    if args.strict && rejected > 0 {
        super::ingest::print_quality(sources.quality());
        bail!(
            "--strict: {rejected} input records were rejected ({})",
            sources.quality().summary()
        );
    }
    let answer = sources.measure(&spec)?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&answer)?),
        Format::Plain | Format::Argo => {
            super::ingest::print_quality(sources.quality());
            eprint!("{}", describe(&answer));
            if let Some(v) = answer.value {
                println!("{v}");
            }
        }
    }
    Ok(exit_code(&answer))
}

/// The exit code of an answer: no data, a broken bound, or answered.
fn exit_code(a: &Answer) -> i32 {
    if a.value.is_none() {
        super::EXIT_NO_DATA
    } else if a.breached {
        super::EXIT_ROLLBACK
    } else {
        super::EXIT_OK
    }
}

/// The stderr lines of plain and argo output: window, counts per side, bounds, reason.
fn describe(a: &Answer) -> String {
    let mut s = String::new();
    let what = match a.population {
        Population::Requests => "requests",
        Population::Spans => "spans",
    };
    if let Some(w) = &a.window {
        s += &format!(
            "canalyst query: window {} .. {} ({} s, end from {})\n",
            w.start, w.end, w.seconds, w.end_from
        );
    }
    for side in &a.sides {
        let value = side.value.map_or("none".to_string(), |v| v.to_string());
        s += &format!(
            "  {} ({}): {} {what}, {} errors, {} = {value}\n",
            side.name,
            side.selector,
            side.counts.count,
            side.counts.errors,
            a.metric.name()
        );
    }
    match (a.value, &a.reason) {
        (Some(v), _) if a.breached => s += &format!("  {v} breaks {}\n", a.thresholds),
        (Some(_), _) if a.thresholds != Thresholds::default() => {
            s += &format!("  within {}\n", a.thresholds)
        }
        (None, Some(r)) => s += &format!("canalyst query: no data: {r}\n"),
        _ => {}
    }
    s
}
