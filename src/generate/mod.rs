//! Deterministic synthetic canary traffic with injected regressions (`canalyst generate`).
//!
//! The pipeline: a [`plan::TrafficPlan`] fixes the trace count, each trace's start time and
//! how traces are batched into output lines; [`simulate`] turns (seed, trace index) into a
//! [`simulate::SimTrace`] of spans; writers render lines: [`otlp_json`] as the Collector's
//! file exporter writes OTLP/JSON, [`table`] as rows of the canonical spans table (Parquet).
//! `truth.json` ([`truth`]) records what was injected.
//!
//! Lines are simulated in parallel in fixed chunks and written in order, so the output is
//! byte-identical for any thread count; memory is bounded by the chunks in flight. The OTLP
//! metrics of the same requests ([`metrics`]) are aggregated per chunk from
//! [`simulate::SimTrace::requests`] in the workers and merged in chunk order by the writer,
//! which writes each export interval once no later trace can end in it.

pub mod corpus;
pub mod defects;
pub mod forensics_truth;
pub mod head_sampling;
pub mod metrics;
pub mod otlp_json;
pub mod otlp_proto;
pub mod plan;
pub mod resource;
pub mod scenario;
pub mod simulate;
pub mod table;
pub mod topology;
pub mod truth;

use crate::model::identity::IdentityConfig;
use crate::model::spans::spans_schema;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use metrics::{MetricAggregator, MetricOptions, MetricPartial, Recorder};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as ParquetCompression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use plan::{PlanParams, TrafficPlan};
use rayon::prelude::*;
use scenario::Scenario;
use simulate::SimLine;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use topology::{Track, ROUTES};
use truth::{Counts, Truth};

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Compression of the OTLP/JSON output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Compression {
    /// Plain `traces.jsonl` (and `metrics.jsonl`).
    #[default]
    None,
    /// `traces.jsonl.gz` (gzip, level 6, no file name or time in the header).
    Gzip,
    /// `traces.jsonl.zst` (zstd level 3).
    Zstd,
}

impl Compression {
    fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Zstd => ".zst",
        }
    }
}

/// Everything `canalyst generate` needs.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Scenario to inject.
    pub scenario: Scenario,
    /// Seed of all randomness.
    pub seed: u64,
    /// Approximate number of spans (the trace count is chosen to give this many on average).
    pub spans: u64,
    /// Share of each service's traffic served by its canary (0–1).
    pub canary_share: f64,
    /// Run start, Unix ns.
    pub start_ns: i64,
    /// Run length, ns.
    pub duration_ns: i64,
    /// Canary starts serving this long after the start, ns.
    pub canary_delay_ns: i64,
    /// The effects begin this long after the start, ns (`None`: when the canary starts).
    pub effect_onset_ns: Option<i64>,
    /// Multiplier of the scenario's effects (`--effect-size`; `None`: the scenario's own).
    pub effect_size: Option<f64>,
    /// Compression of the JSON output.
    pub compress: Compression,
    /// Output directory (created if missing).
    pub out_dir: PathBuf,
    /// How metrics are exported.
    pub metrics: MetricOptions,
    /// Head-sample the traces (`--head-sampling`, the forensics scenario only): see
    /// [`head_sampling`]. Metrics still count every request.
    pub head_sampling: bool,
    /// Also write `otlp/traces.binpb` (`--protobuf`): the traces as OTLP protobuf in the
    /// file exporter's framing ([`otlp_proto`]).
    pub protobuf: bool,
    /// Damage some traces (`--trace-defects`): orphans, duplicate span ids, cycles, split
    /// traces and clock skew, counted in `truth.json` ([`defects`]).
    pub trace_defects: bool,
}

/// Failures of a generate run.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// An option is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// Writing an output file failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing the Parquet file failed.
    #[error("writing {path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: ParquetError,
    },
    /// Building a record batch failed (a bug: the builder owns the schema).
    #[error("building spans batch: {0}")]
    Arrow(#[from] ArrowError),
}

/// What a run wrote.
#[derive(Debug, Clone)]
pub struct GenerateSummary {
    /// The truth written to `truth.json`.
    pub truth: Truth,
    /// OTLP/JSON traces file.
    pub json_path: PathBuf,
    /// OTLP/JSON metrics file.
    pub metrics_path: PathBuf,
    /// Parquet spans file.
    pub parquet_path: PathBuf,
    /// `truth.json`.
    pub truth_path: PathBuf,
}

/// Tallies of one chunk.
#[derive(Debug, Clone)]
struct Stats {
    spans: u64,
    lines: u64,
    end_ns: i64,
    counts: Vec<Counts>,
    /// Only for the `forensics` scenario (the per-trace work is skipped otherwise).
    forensics: Option<forensics_truth::ForensicsTruth>,
    /// Defects injected (`--trace-defects`).
    defects: defects::DefectCounts,
}

impl Stats {
    fn new(scenario: Scenario) -> Self {
        Self {
            spans: 0,
            lines: 0,
            end_ns: i64::MIN,
            counts: vec![Counts::default(); ROUTES.len()],
            forensics: (scenario == Scenario::Forensics).then(Default::default),
            defects: defects::DefectCounts::default(),
        }
    }

    fn add_line(&mut self, line: &SimLine, canary_start: i64) {
        self.lines += 1;
        for t in &line.traces {
            if let Some(f) = &mut self.forensics {
                f.observe(t, canary_start);
            }
            self.spans += t.spans.len() as u64;
            for sp in &t.spans {
                self.end_ns = self.end_ns.max(sp.end_ns);
            }
            for r in t.requests().filter(|r| r.start_ns >= canary_start) {
                let c = &mut self.counts[r.route];
                // By the side canalyst reads: a mesh service's request without baggage is on
                // neither side.
                match r.side {
                    None => {}
                    Some(Track::Stable) => {
                        c.stable_requests += 1;
                        c.stable_errors += u64::from(r.error);
                    }
                    Some(Track::Canary) => {
                        c.canary_requests += 1;
                        c.canary_errors += u64::from(r.error);
                    }
                }
            }
        }
    }

    fn merge(&mut self, o: &Stats) {
        self.spans += o.spans;
        self.lines += o.lines;
        self.end_ns = self.end_ns.max(o.end_ns);
        self.defects.merge(&o.defects);
        if let (Some(a), Some(b)) = (&mut self.forensics, &o.forensics) {
            a.merge(b);
        }
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            a.stable_requests += b.stable_requests;
            a.canary_requests += b.canary_requests;
            a.stable_errors += b.stable_errors;
            a.canary_errors += b.canary_errors;
        }
    }
}

/// One chunk's rendered outputs.
struct ChunkOut {
    json: Vec<u8>,
    /// Framed protobuf (empty without `--protobuf`).
    proto: Vec<u8>,
    batch: RecordBatch,
    stats: Stats,
    metrics: MetricPartial,
    /// Start of the next chunk's first trace (`i64::MAX` after the last chunk): no later
    /// request ends before it.
    horizon: i64,
}

/// Writers shared by all chunks.
struct Renderers {
    json: otlp_json::OtlpJsonWriter,
    proto: Option<otlp_proto::OtlpProtoWriter>,
    table: table::TableContext,
    metrics: Recorder,
    head_sampling: bool,
    trace_defects: bool,
}

/// Simulates and renders lines `lines` of `plan`.
fn render_chunk(
    plan: &TrafficPlan,
    r: &Renderers,
    lines: Range<usize>,
) -> Result<ChunkOut, ArrowError> {
    let mut json = Vec::with_capacity(lines.len() * 4096);
    let mut proto = Vec::new();
    let mut builder = r.table.builder();
    let mut stats = Stats::new(plan.params.scenario);
    let mut metrics = MetricPartial::default();
    let horizon = plan
        .lines
        .get(lines.end)
        .map_or(i64::MAX, |l| plan.trace_start[l.start]);
    for li in lines {
        let mut line = SimLine::simulate(plan, li);
        // Metrics count every request: SDKs aggregate them before any trace sampling.
        let first = plan.lines[li].start;
        for (t, trace) in line.traces.iter().enumerate() {
            r.metrics
                .record_trace(&mut metrics, first + t, trace.requests());
        }
        if r.head_sampling {
            head_sampling::sample_line(&mut line);
        }
        if r.trace_defects {
            for t in &mut line.traces {
                stats.defects.merge(&defects::inject(t));
            }
        }
        let groups = line.by_resource();
        r.json.write_line(&line, &groups, &mut json);
        if let Some(w) = &r.proto {
            w.write_line(&line, &groups, &mut proto);
        }
        r.table.append_line(&mut builder, &line, &groups);
        stats.add_line(&line, plan.canary_start_ns());
    }
    Ok(ChunkOut {
        json,
        proto,
        batch: builder.finish()?,
        stats,
        metrics,
        horizon,
    })
}

/// An output file (JSON, metrics, protobuf), possibly compressed.
enum FileSink {
    Plain(BufWriter<File>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
    Zstd(zstd::Encoder<'static, BufWriter<File>>),
}

impl FileSink {
    fn create(path: &Path, c: Compression) -> std::io::Result<Self> {
        let f = BufWriter::with_capacity(1 << 20, File::create(path)?);
        Ok(match c {
            Compression::None => FileSink::Plain(f),
            // GzBuilder writes no name and mtime 0: the file depends on content only.
            Compression::Gzip => {
                FileSink::Gzip(flate2::GzBuilder::new().write(f, flate2::Compression::new(6)))
            }
            Compression::Zstd => FileSink::Zstd(zstd::Encoder::new(f, 3)?),
        })
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            FileSink::Plain(w) => w.write_all(buf),
            FileSink::Gzip(w) => w.write_all(buf),
            FileSink::Zstd(w) => w.write_all(buf),
        }
    }

    fn finish(self) -> std::io::Result<()> {
        let mut inner = match self {
            FileSink::Plain(w) => w,
            FileSink::Gzip(w) => w.finish()?,
            FileSink::Zstd(w) => w.finish()?,
        };
        inner.flush()
    }
}

fn validate(o: &GenerateOptions) -> Result<(), GenerateError> {
    let bad = |m: String| Err(GenerateError::InvalidOption(m));
    if o.spans == 0 {
        return bad("--spans must be at least 1".into());
    }
    if !(0.0..=1.0).contains(&o.canary_share) {
        return bad(format!(
            "--canary-share {} is not in [0, 1]",
            o.canary_share
        ));
    }
    if o.duration_ns <= 0 {
        return bad("the run duration must be positive".into());
    }
    if o.canary_delay_ns < 0 || o.canary_delay_ns >= o.duration_ns {
        return bad("the canary delay must be within the run".into());
    }
    if let Some(onset) = o.effect_onset_ns {
        if onset < o.canary_delay_ns || onset >= o.duration_ns {
            return bad(
                "--onset-minutes must be at or after the canary delay and within the run".into(),
            );
        }
    }
    if let Some(f) = o.effect_size {
        if !(f.is_finite() && f > 0.0 && f <= 1000.0) {
            return bad(format!("--effect-size {f} is not in (0, 1000]"));
        }
    }
    if o.head_sampling && !o.scenario.mesh() {
        return bad(
            "--head-sampling needs --scenario forensics (its truth records the weights)".into(),
        );
    }
    if o.trace_defects && o.scenario == Scenario::Forensics {
        return bad(
            "--trace-defects cannot be combined with --scenario forensics (its truth follows whole span trees)".into(),
        );
    }
    if o.metrics.interval_ns < 1_000_000 {
        return bad("--metric-interval-seconds must be at least 0.001".into());
    }
    Ok(())
}

/// Generates the scenario into `opts.out_dir`: `otlp/traces.jsonl[.gz|.zst]`,
/// `otlp/metrics.jsonl[.gz|.zst]`, `parquet/spans.parquet`, `truth.json`, and with
/// `--protobuf` `otlp/traces.binpb`.
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary, GenerateError> {
    validate(opts)?;
    let plan = TrafficPlan::new(PlanParams {
        scenario: opts.scenario,
        seed: opts.seed,
        spans: opts.spans,
        canary_share: opts.canary_share,
        start_ns: opts.start_ns,
        duration_ns: opts.duration_ns,
        canary_delay_ns: opts.canary_delay_ns,
        effect_onset_ns: opts.effect_onset_ns.unwrap_or(opts.canary_delay_ns),
        effect_size: opts.effect_size,
    });
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| GenerateError::Io { path, source }
    };
    let json_rel = format!("otlp/traces.jsonl{}", opts.compress.suffix());
    let metrics_rel = format!("otlp/metrics.jsonl{}", opts.compress.suffix());
    let parquet_rel = "parquet/spans.parquet".to_string();
    let json_path = opts.out_dir.join(&json_rel);
    let metrics_path = opts.out_dir.join(&metrics_rel);
    let parquet_path = opts.out_dir.join(&parquet_rel);
    let truth_path = opts.out_dir.join("truth.json");
    for dir in ["otlp", "parquet"] {
        let d = opts.out_dir.join(dir);
        std::fs::create_dir_all(&d).map_err(io(&d))?;
    }

    let renderers = Renderers {
        json: otlp_json::OtlpJsonWriter::new(),
        proto: opts.protobuf.then(otlp_proto::OtlpProtoWriter::new),
        table: table::TableContext::new(Arc::new(IdentityConfig::default()), &json_rel),
        metrics: Recorder::new(&plan, opts.metrics),
        head_sampling: opts.head_sampling,
        trace_defects: opts.trace_defects,
    };
    let mut json = FileSink::create(&json_path, opts.compress).map_err(io(&json_path))?;
    let proto_path = opts.out_dir.join("otlp/traces.binpb");
    let mut proto = if opts.protobuf {
        Some(FileSink::create(&proto_path, Compression::None).map_err(io(&proto_path))?)
    } else {
        None
    };
    let mut metric_sink =
        FileSink::create(&metrics_path, opts.compress).map_err(io(&metrics_path))?;
    let mut aggregator = MetricAggregator::new(&plan, opts.metrics);
    let mut metric_buf = Vec::new();
    // Row groups of 128 Ki rows bound the writer's buffer (it holds one encoded row group)
    // and give readers units to parallelise over.
    let props = WriterProperties::builder()
        .set_compression(ParquetCompression::ZSTD(
            ZstdLevel::try_new(3).expect("valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let parquet_err = |source| GenerateError::Parquet {
        path: parquet_path.clone(),
        source,
    };
    let file = File::create(&parquet_path).map_err(io(&parquet_path))?;
    let mut parquet =
        ArrowWriter::try_new(file, spans_schema(), Some(props)).map_err(parquet_err)?;

    let mut stats = Stats::new(plan.params.scenario);
    let mut write = |outs: Vec<ChunkOut>| -> Result<(), GenerateError> {
        for o in outs {
            json.write_all(&o.json).map_err(io(&json_path))?;
            if let Some(p) = &mut proto {
                p.write_all(&o.proto).map_err(io(&proto_path))?;
            }
            parquet.write(&o.batch).map_err(parquet_err)?;
            stats.merge(&o.stats);
            aggregator.merge(o.metrics);
            aggregator.advance(o.horizon, &mut metric_buf);
            metric_sink
                .write_all(&metric_buf)
                .map_err(io(&metrics_path))?;
            metric_buf.clear();
        }
        Ok(())
    };
    // Chunks in flight: enough to keep every worker busy; the output order is the chunk order
    // whatever the thread count. Writing (and compressing) one group overlaps simulating the
    // next.
    let in_flight = rayon::current_num_threads() * 2;
    let mut pending: Option<Vec<ChunkOut>> = None;
    for group in plan.chunks.chunks(in_flight) {
        let (written, next) = rayon::join(
            || pending.take().map_or(Ok(()), &mut write),
            || {
                group
                    .par_iter()
                    .map(|c| render_chunk(&plan, &renderers, c.clone()))
                    .collect::<Result<Vec<_>, _>>()
            },
        );
        written?;
        pending = Some(next?);
    }
    if let Some(p) = pending {
        write(p)?;
    }
    json.finish().map_err(io(&json_path))?;
    if let Some(p) = proto {
        p.finish().map_err(io(&proto_path))?;
    }
    // The last chunk's horizon is `i64::MAX`, so every interval is written by now.
    aggregator.finish(&mut metric_buf);
    metric_sink
        .write_all(&metric_buf)
        .map_err(io(&metrics_path))?;
    metric_sink.finish().map_err(io(&metrics_path))?;
    parquet.close().map_err(parquet_err)?;

    let mut truth = truth::build(
        &plan,
        &stats.counts,
        stats.spans,
        stats.lines,
        stats.end_ns,
        (aggregator.truth(), aggregator.resets()),
        truth::Files {
            otlp_traces: json_rel,
            parquet_spans: parquet_rel,
            otlp_metrics: metrics_rel,
        },
    );
    truth.forensics = stats.forensics.map(|f| f.finish(opts.head_sampling));
    truth.trace_defects = opts.trace_defects.then_some(stats.defects);
    let mut text = serde_json::to_string_pretty(&truth).expect("truth serialises");
    text.push('\n');
    std::fs::write(&truth_path, text).map_err(io(&truth_path))?;
    Ok(GenerateSummary {
        truth,
        json_path,
        metrics_path,
        parquet_path,
        truth_path,
    })
}
