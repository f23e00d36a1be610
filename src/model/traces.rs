//! The plain rows forensics reads from the engine: spans of failing traces, error spans, and
//! each service's requests per side (the exposure an error rate is divided by).
//!
//! They are filled by `engine::forensics` (SQL over the `spans` table and the `requests` view)
//! and consumed by `crate::forensics`, which knows nothing of Arrow.

use super::comparison::{Selector, Side, Window};
use rayon::slice::ParallelSliceMut;

/// One span of a trace whose root span is an error, with what origin search needs.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSpan {
    /// 16-byte trace id.
    pub trace_id: [u8; 16],
    /// 8-byte span id.
    pub span_id: [u8; 8],
    /// Parent span id; `None` for a root span.
    pub parent_span_id: Option<[u8; 8]>,
    /// `service.name`.
    pub service: String,
    /// Which side the span's resource belongs to, if any.
    pub side: Option<Side>,
    /// Span name.
    pub span_name: String,
    /// OTLP span kind number.
    pub kind: i32,
    /// Start, ns since the Unix epoch.
    pub start_ns: i64,
    /// Duration, ns.
    pub duration_ns: i64,
    /// The canonical error flag (`spans.is_error`).
    pub is_error: bool,
    /// The route (for a request span), if any.
    pub route: Option<String>,
    /// Status message.
    pub status_message: Option<String>,
    /// `exception.type` of the span's first exception event.
    pub exception_type: Option<String>,
    /// `exception.message` of the span's first exception event.
    pub exception_message: Option<String>,
    /// File the span was read from (empty when the input does not say).
    pub source_file: String,
}

impl TraceSpan {
    /// End, ns since the Unix epoch.
    pub fn end_ns(&self) -> i64 {
        self.start_ns.saturating_add(self.duration_ns)
    }
}

/// One error span of either side inside the window, for error signatures.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorSpan {
    /// 16-byte trace id.
    pub trace_id: [u8; 16],
    /// `service.name`.
    pub service: String,
    /// The side of the span's own resource.
    pub side: Side,
    /// Span name.
    pub span_name: String,
    /// Start, ns since the Unix epoch.
    pub start_ns: i64,
    /// `exception.type` of the first exception event.
    pub exception_type: Option<String>,
    /// `exception.message`, else the status message.
    pub message: Option<String>,
    /// Sampling weight (`spans.sample_weight`).
    pub weight: f64,
}

/// Requests (entry spans of the `requests` view) of one service and side inside the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Exposure {
    /// `service.name`.
    pub service: String,
    /// Side.
    pub side: Side,
    /// Requests recorded.
    pub requests: u64,
    /// Requests weighted by their sampling weight.
    pub weighted: f64,
    /// Sum of the squared weights (for Kish's effective sample size).
    pub weighted_sq: f64,
    /// Smallest weight.
    pub min_weight: f64,
    /// Largest weight.
    pub max_weight: f64,
}

/// One span for downstream attribution. Names are indices into [`DownstreamInput::names`]
/// (a million spans share a few dozen names).
#[derive(Debug, Clone, PartialEq)]
pub struct TreeSpan {
    /// 16-byte trace id.
    pub trace_id: [u8; 16],
    /// 8-byte span id.
    pub span_id: [u8; 8],
    /// Parent span id; `None` for a root span.
    pub parent_span_id: Option<[u8; 8]>,
    /// `service.name`, an index into the names.
    pub service: u32,
    /// Span name, an index into the names.
    pub span_name: u32,
    /// `SpanKind` as in OTLP (2 = SERVER).
    pub kind: i32,
    /// Analysis route (`route` column), an index into the names; `None` without one.
    pub route: Option<u32>,
    /// Start, ns since the Unix epoch.
    pub start_ns: i64,
    /// Duration, ns.
    pub duration_ns: i64,
    /// The canonical error flag.
    pub is_error: bool,
    /// Sampling weight.
    pub weight: f64,
    /// The span's own side (its `deployment_track` / `service_version`), if any.
    pub side: Option<Side>,
    /// The side named by an originating-track span attribute (baggage), if any.
    pub origin: Option<Side>,
    /// The span starts inside the window (the others are only ancestors).
    pub in_window: bool,
    /// The file the span was read from (`source_file`), an index into the names.
    pub file: u32,
}

/// Every span of one partition of whole traces (all of them with one partition), for
/// downstream attribution and the trace-structure diff.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DownstreamInput {
    /// Service and span names, indexed by [`TreeSpan::service`] and [`TreeSpan::span_name`];
    /// shared by every partition of a run (a later partition's list extends an earlier one's).
    pub names: Vec<String>,
    /// The spans, in no particular order.
    pub spans: Vec<TreeSpan>,
    /// Per name index: the name is a service with a track of its own — some span of it, in
    /// the whole input, not only this partition, is on a side by its own track or version
    /// without carrying an originating-track attribute. Shorter than `names` when the last
    /// names are not such services.
    pub tracked: Vec<bool>,
}

impl DownstreamInput {
    /// An input holding every span of the run, [`DownstreamInput::tracked`] taken from them.
    pub fn new(names: Vec<String>, spans: Vec<TreeSpan>) -> Self {
        let mut tracked = vec![false; names.len()];
        for s in &spans {
            if s.side.is_some() && s.origin.is_none() {
                tracked[s.service as usize] = true;
            }
        }
        Self {
            names,
            spans,
            tracked,
        }
    }

    /// Whether service `i` (a name index) has a track of its own.
    pub fn is_tracked(&self, i: u32) -> bool {
        self.tracked.get(i as usize).copied().unwrap_or(false)
    }

    /// Indices of [`DownstreamInput::spans`] in the canonical order every trace walk uses:
    /// by trace id, then start time, span id, parent id, duration, kind, error flag, service
    /// and span name, route, sides and weight (every field: duplicate rows are interchangeable). It depends on the spans, not on the order the engine returned them in
    /// (which follows its threads), so "the first row of a duplicate span id" and ties
    /// between siblings are the same for any thread count and partitioning.
    pub fn trace_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.spans.len()).collect();
        // Every field is compared, so equal spans are interchangeable and the parallel sort
        // gives the same order as a sequential one.
        order.par_sort_unstable_by(|&a, &b| canonical(&self.names, &self.spans[a], &self.spans[b]));
        order
    }

    /// Sorts [`DownstreamInput::spans`] into [`DownstreamInput::trace_order`]'s order in place
    /// (then the trace order is `0..len`): the walks then read neighbouring memory.
    pub fn sort_spans(&mut self) {
        let names = &self.names;
        self.spans
            .par_sort_unstable_by(|x, y| canonical(names, x, y));
    }
}

/// One trace's spans by span id (id → position), as the trace walks build it for every
/// trace: aHash instead of SipHash (a third of the walks' hashing time), still keyed at
/// random per map, so crafted ids cannot aim at collisions.
pub type SpanIndex = ahash::AHashMap<[u8; 8], usize>;

/// The canonical order of [`DownstreamInput::trace_order`].
fn canonical(names: &[String], x: &TreeSpan, y: &TreeSpan) -> std::cmp::Ordering {
    let name = |i: u32| names[i as usize].as_str();
    let rest = |x: &TreeSpan| {
        (
            x.route.map(name),
            x.side.map(|s| s as u8),
            x.origin.map(|s| s as u8),
            x.in_window,
            name(x.file),
        )
    };
    // Ids as big-endian integers: the same order as comparing their bytes, without memcmp.
    let key = |x: &TreeSpan| {
        (
            u128::from_be_bytes(x.trace_id),
            x.start_ns,
            u64::from_be_bytes(x.span_id),
            x.parent_span_id.map(u64::from_be_bytes),
            x.duration_ns,
        )
    };
    key(x)
        .cmp(&key(y))
        .then_with(|| (x.kind, x.is_error).cmp(&(y.kind, y.is_error)))
        .then_with(|| {
            (name(x.service), name(x.span_name)).cmp(&(name(y.service), name(y.span_name)))
        })
        .then_with(|| rest(x).cmp(&rest(y)))
        .then_with(|| x.weight.total_cmp(&y.weight))
}

/// Which canary requests the attribute diff explains (`--select`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestSelect {
    /// Canary requests that are errors.
    Errors,
    /// Canary requests slower than the baseline's p99 of the same service and route.
    Slow,
    /// Canary requests for which this SQL expression over the request's columns is true.
    Sql(String),
}

/// What the selection is compared against (`--baseline-set`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaselineSet {
    /// The canary requests outside the selection.
    Rest,
    /// The baseline side's requests.
    Stable,
}

/// Where an attribute was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeSource {
    /// The entry span's attributes.
    Span,
    /// Its resource's attributes.
    Resource,
}

/// Counts of one attribute key over the selection and the baseline requests.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCounts {
    /// Where the key was read.
    pub source: AttributeSource,
    /// The key.
    pub key: String,
    /// Requests carrying the key: `[selection, baseline]`.
    pub rows: [u64; 2],
    /// Requests per value: `[selection, baseline]`, most requests first, ties by value;
    /// empty when the key is [`KeyCounts::capped`].
    pub values: Vec<(String, [u64; 2])>,
    /// More than [`KeyCounts::MAX_VALUES`] distinct values were seen (over every request,
    /// whatever the partitioning or row order): the values are not kept.
    pub capped: bool,
}

impl KeyCounts {
    /// Distinct values kept per key; a key with more is unbounded for any top-K.
    pub const MAX_VALUES: usize = 200;

    /// Distinct values: the kept values' count, or [`KeyCounts::MAX_VALUES`] when capped.
    pub fn distinct_values(&self) -> usize {
        if self.capped {
            Self::MAX_VALUES
        } else {
            self.values.len()
        }
    }
}

/// One attribute value of one key (a candidate of the attribute pairs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttributeRef {
    /// Where the key was read.
    pub source: AttributeSource,
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// Requests carrying two candidate values together, counted in a second pass over the
/// requests once the candidates are known: `both[x * n + y]` (`x < y`, `n` candidates) is
/// `[selection, baseline]` requests carrying `candidates[x]` and `candidates[y]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PairCounts {
    /// The candidate values, in the order the pair search chose them.
    pub candidates: Vec<AttributeRef>,
    /// Requests carrying both values of each pair, row-major `n × n` (upper triangle used).
    pub both: Vec<[u64; 2]>,
}

impl PairCounts {
    /// Zero counts for `candidates` (at most 32).
    pub fn new(candidates: Vec<AttributeRef>) -> Self {
        let n = candidates.len();
        assert!(n <= 32, "at most 32 pair candidates, got {n}");
        Self {
            candidates,
            both: vec![[0, 0]; n * n],
        }
    }

    /// Counts one request of the selection (`selected`) or the baseline that carries the
    /// candidates whose bits are set in `mask` (bit `i`: `candidates[i]`).
    pub fn add(&mut self, selected: bool, mask: u32) {
        if mask.count_ones() < 2 {
            return;
        }
        let n = self.candidates.len();
        let side = usize::from(!selected);
        for x in 0..n {
            if mask & (1 << x) == 0 {
                continue;
            }
            for y in x + 1..n {
                if mask & (1 << y) != 0 {
                    self.both[x * n + y][side] += 1;
                }
            }
        }
    }

    /// `[selection, baseline]` requests carrying candidates `x` and `y` (`x < y`).
    pub fn both(&self, x: usize, y: usize) -> [u64; 2] {
        self.both
            .get(x * self.candidates.len() + y)
            .copied()
            .unwrap_or([0, 0])
    }
}

/// The attribute diff's input: request counts per attribute value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttributeCounts {
    /// Requests in the selection.
    pub selection: u64,
    /// Requests in the baseline.
    pub baseline: u64,
    /// Per key, sorted by source then key.
    pub keys: Vec<KeyCounts>,
    /// Requests carrying two candidate values together (for attribute pairs).
    pub pairs: PairCounts,
    /// Requests whose entry span is neither a SERVER, a CONSUMER nor a root span (a lean
    /// ingest keeps only the originating-track attributes of such spans).
    pub other_entry_requests: u64,
}

/// Everything forensics reads for one selection.
#[derive(Debug, Clone, PartialEq)]
pub struct ForensicsInput {
    /// Baseline selector.
    pub baseline: Selector,
    /// Canary selector.
    pub canary: Selector,
    /// Only this service's spans decide a trace's track (all sided spans when `None`).
    pub service: Option<String>,
    /// The window; a trace is inside it when its root span starts inside it.
    pub window: Window,
    /// Spans of the traces with an error root span inside the window, ordered by trace id
    /// then start time then span id.
    pub failing_spans: Vec<TraceSpan>,
    /// Error spans of either side starting inside the window.
    pub error_spans: Vec<ErrorSpan>,
    /// Requests per service and side inside the window.
    pub exposure: Vec<Exposure>,
    /// Every span, for downstream attribution (empty when not asked for).
    pub downstream: DownstreamInput,
    /// Request counts per attribute value for the attribute diff (`None`: not asked for).
    pub attributes: Option<AttributeCounts>,
}
