//! OTLP metrics of the simulated requests, as each instance's OpenTelemetry SDK would export
//! them through the Collector `file` exporter: one `{"resourceMetrics":[…]}` line per export
//! interval (`DIR/otlp/metrics.jsonl`).
//!
//! Every SERVER span is one measurement, recorded when the request ends (its end time decides
//! the export interval), so the metrics agree exactly with the spans: per (service, track,
//! route, status code), the histogram counts over the run sum to the number of SERVER spans.
//!
//! Aggregation is streamed: workers build a [`MetricPartial`] per chunk of lines (per interval,
//! instance and stream), and the writer merges partials in chunk order into a
//! [`MetricAggregator`], which writes an interval as soon as no later trace can end inside it.
//! Every merged quantity is exact (integer counts, sums in integer nanoseconds, exponential
//! histograms merged by exact downscaling), so the output does not depend on chunking or thread
//! count.
//!
//! Definitions:
//! - explicit-bucket histograms follow OTLP `HistogramDataPoint`: bucket `i` counts values in
//!   `(bounds[i-1], bounds[i]]` (upper-inclusive), the last bucket `(bounds[n-1], +∞)`;
//! - exponential histograms follow OTLP `ExponentialHistogramDataPoint` and the SDK's
//!   base-2 exponential bucket aggregation (OpenTelemetry specification, "Metrics SDK",
//!   *Base2 Exponential Bucket Histogram Aggregation*, and "Metrics data model",
//!   *Exponential Histogram*): base `2^(2^-scale)`, index `i` covers `(base^i, base^(i+1)]`,
//!   maximum scale 20 and at most 160 buckets, downscaled until the index range fits.

use super::plan::{rng_for, TrafficPlan};
use super::resource::{resource_attributes, scope, split, SCHEMA_URL};
use super::scenario::STABLE_CONVERSION;
use super::simulate::{resource_id, AttrValue, Request, ResourceId, RESOURCES};
use super::topology::{rt, svc, RouteId, Track, ROUTES, SERVICES};
use crate::model::time::{format_rfc3339, NS_PER_SEC};
use rand::Rng;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Default explicit bucket boundaries of `http.server.request.duration`, in seconds (HTTP
/// semantic conventions, "Metric `http.server.request.duration`", advice).
pub const DEFAULT_BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Number of explicit buckets (one more than the boundaries).
const BUCKETS: usize = DEFAULT_BOUNDS.len() + 1;

/// Largest scale of the SDK's exponential aggregation (its default `MaxScale`).
pub const EXP_MAX_SCALE: i32 = 20;

/// Largest number of positive buckets (the SDK's default `MaxSize`).
pub const EXP_MAX_SIZE: i64 = 160;

/// Default export interval (the SDK's periodic reader default), seconds.
pub const DEFAULT_INTERVAL_SECONDS: f64 = 60.0;

/// Random stream purpose of the order-placed draws (see [`super::plan::rng_for`]); distinct
/// from the plan's purposes so the spans do not change.
const ORDERS_STREAM: u64 = 3;

/// OTLP `AggregationTemporality`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Temporality {
    /// Each point holds the running total since the instance started (the SDK default).
    #[default]
    Cumulative,
    /// Each point holds the measurements of one export interval.
    Delta,
}

impl Temporality {
    /// The OTLP enum value (`AGGREGATION_TEMPORALITY_DELTA` = 1, `_CUMULATIVE` = 2).
    pub fn otlp(self) -> i32 {
        match self {
            Temporality::Delta => 1,
            Temporality::Cumulative => 2,
        }
    }
}

/// How metrics are exported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricOptions {
    /// Export interval, ns.
    pub interval_ns: i64,
    /// Temporality of every metric.
    pub temporality: Temporality,
    /// Write `http.server.request.duration` as an exponential histogram instead of the
    /// explicit-bucket one.
    pub exponential: bool,
}

impl Default for MetricOptions {
    fn default() -> Self {
        Self {
            interval_ns: (DEFAULT_INTERVAL_SECONDS * NS_PER_SEC as f64) as i64,
            temporality: Temporality::Cumulative,
            exponential: false,
        }
    }
}

/// Index of the explicit bucket that counts `v`: the first `i` with `v <= bounds[i]`, or
/// `bounds.len()` for the overflow bucket (OTLP buckets are upper-inclusive).
pub fn explicit_bucket(bounds: &[f64], v: f64) -> usize {
    bounds.partition_point(|b| *b < v)
}

/// Exponential-histogram bucket index of a positive finite `v` at `scale`: the `i` with
/// `base^i < v <= base^(i+1)`, `base = 2^(2^-scale)`. Exact powers of two are handled exactly
/// and scales ≤ 0 use the binary exponent only, as the specification's reference mapping
/// functions do; other values use `ceil(ln(v)·2^scale/ln 2) − 1` (pure-Rust `libm`, so the
/// result is the same on every platform).
pub fn exp_index(v: f64, scale: i32) -> i64 {
    debug_assert!(v > 0.0 && v.is_finite());
    let bits = v.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i64;
    let mantissa = bits & ((1u64 << 52) - 1);
    // Subnormals: normalise through the logarithm path (never reached by request durations).
    if raw_exp == 0 {
        let f = libm::log(v) * std::f64::consts::LOG2_E * libm::ldexp(1.0, scale);
        return libm::ceil(f) as i64 - 1;
    }
    let exp = raw_exp - 1023;
    let pow2 = mantissa == 0;
    if scale <= 0 {
        return (exp - i64::from(pow2)) >> (-scale);
    }
    if pow2 {
        return (exp << scale) - 1;
    }
    let f = libm::log(v) * std::f64::consts::LOG2_E * libm::ldexp(1.0, scale);
    libm::ceil(f) as i64 - 1
}

/// Positive buckets of an exponential histogram (no negative values: durations are positive).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpHist {
    /// Current scale.
    pub scale: i32,
    /// Index of `counts[0]`.
    pub offset: i64,
    /// Dense counts from `offset`, at most [`EXP_MAX_SIZE`] long.
    pub counts: Vec<u64>,
    /// Values equal to zero.
    pub zero_count: u64,
}

impl Default for ExpHist {
    fn default() -> Self {
        Self {
            scale: EXP_MAX_SCALE,
            offset: 0,
            counts: Vec::new(),
            zero_count: 0,
        }
    }
}

/// Scale reduction needed for indices `lo..=hi` to fit in [`EXP_MAX_SIZE`] buckets.
fn downscale_needed(mut lo: i64, mut hi: i64) -> i32 {
    let mut d = 0;
    while hi - lo + 1 > EXP_MAX_SIZE {
        lo >>= 1;
        hi >>= 1;
        d += 1;
    }
    d
}

impl ExpHist {
    /// Records `v` (≥ 0). Indices are computed at the maximum scale and shifted to the current
    /// one, which equals the mapping at the lower scale (`⌊i/2⌋` of a scale-`s` index is its
    /// scale-`s−1` index), so recording and merging give the same histogram in any order.
    pub fn record(&mut self, v: f64) {
        if v == 0.0 {
            self.zero_count += 1;
        } else {
            self.add(exp_index(v, EXP_MAX_SCALE), EXP_MAX_SCALE, 1);
        }
    }

    /// Adds `n` to the bucket with index `index` at scale `at` (≥ the current scale after any
    /// downscale done here).
    fn add(&mut self, index: i64, at: i32, n: u64) {
        if at < self.scale {
            self.downscale(self.scale - at);
        }
        let mut i = index >> (at - self.scale);
        if self.counts.is_empty() {
            self.offset = i;
            self.counts.push(n);
            return;
        }
        let hi_now = self.offset + self.counts.len() as i64 - 1;
        let d = downscale_needed(self.offset.min(i), hi_now.max(i));
        if d > 0 {
            self.downscale(d);
            i >>= d;
        }
        if i < self.offset {
            let grow = (self.offset - i) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = i;
        }
        let k = (i - self.offset) as usize;
        if k >= self.counts.len() {
            self.counts.resize(k + 1, 0);
        }
        self.counts[k] += n;
    }

    /// Lowers the scale by `d`: bucket `i` merges into bucket `i >> d`.
    fn downscale(&mut self, d: i32) {
        if d <= 0 {
            return;
        }
        self.scale -= d;
        if self.counts.is_empty() {
            return;
        }
        let new_offset = self.offset >> d;
        let hi = (self.offset + self.counts.len() as i64 - 1) >> d;
        let mut out = vec![0u64; (hi - new_offset + 1) as usize];
        for (k, c) in self.counts.iter().enumerate() {
            out[(((self.offset + k as i64) >> d) - new_offset) as usize] += c;
        }
        self.offset = new_offset;
        self.counts = out;
    }

    /// Adds all of `o`.
    pub fn merge(&mut self, o: &ExpHist) {
        self.zero_count += o.zero_count;
        if o.scale < self.scale {
            self.downscale(self.scale - o.scale);
        }
        for (k, &c) in o.counts.iter().enumerate() {
            if c > 0 {
                self.add(o.offset + k as i64, o.scale, c);
            }
        }
    }
}

/// Aggregate of one stream (route, status code) over some requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Agg {
    /// Requests.
    pub count: u64,
    /// Sum of durations, ns (exact; rendered as seconds).
    pub sum_ns: u128,
    /// Shortest duration, ns.
    pub min_ns: i64,
    /// Longest duration, ns.
    pub max_ns: i64,
    /// Explicit bucket counts over [`DEFAULT_BOUNDS`].
    pub buckets: [u64; BUCKETS],
    /// Exponential buckets, when enabled.
    pub exp: Option<ExpHist>,
}

impl Agg {
    fn new(exponential: bool) -> Self {
        Self {
            count: 0,
            sum_ns: 0,
            min_ns: i64::MAX,
            max_ns: i64::MIN,
            buckets: [0; BUCKETS],
            exp: exponential.then(ExpHist::default),
        }
    }

    /// Records one duration.
    pub fn record(&mut self, duration_ns: i64) {
        let secs = duration_ns as f64 / 1e9;
        self.count += 1;
        self.sum_ns += duration_ns.max(0) as u128;
        self.min_ns = self.min_ns.min(duration_ns);
        self.max_ns = self.max_ns.max(duration_ns);
        self.buckets[explicit_bucket(&DEFAULT_BOUNDS, secs)] += 1;
        if let Some(e) = &mut self.exp {
            e.record(secs);
        }
    }

    /// Adds all of `o`.
    pub fn merge(&mut self, o: &Agg) {
        self.count += o.count;
        self.sum_ns += o.sum_ns;
        self.min_ns = self.min_ns.min(o.min_ns);
        self.max_ns = self.max_ns.max(o.max_ns);
        for (a, b) in self.buckets.iter_mut().zip(&o.buckets) {
            *a += b;
        }
        if let (Some(a), Some(b)) = (&mut self.exp, &o.exp) {
            a.merge(b);
        }
    }
}

/// A process of a deployment: `generation` 0 is the process the run starts with, 1 the one
/// after a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instance {
    /// Resource (service, track).
    pub resource: ResourceId,
    /// Process generation.
    pub generation: u8,
}

/// Measurements of one instance within one interval (or its running totals).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceAgg {
    /// Per (route, HTTP status code).
    pub streams: BTreeMap<(RouteId, u16), Agg>,
    /// `orders.checkout_attempts` increments.
    pub attempts: u64,
    /// `orders.placed` increments.
    pub placed: u64,
}

impl InstanceAgg {
    fn merge(&mut self, o: &InstanceAgg) {
        for (k, a) in &o.streams {
            match self.streams.get_mut(k) {
                Some(x) => x.merge(a),
                None => {
                    self.streams.insert(*k, a.clone());
                }
            }
        }
        self.attempts += o.attempts;
        self.placed += o.placed;
    }
}

/// The one simulated instance restart: the canary frontend process restarts halfway through
/// the canary window (graceful: it exports its totals at shutdown, so no measurement is lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    /// The restarted deployment.
    pub resource: ResourceId,
    /// Restart time, Unix ns: the old process's last export and the new process's start.
    pub at_ns: i64,
}

/// The restart of a run: the canary frontend, halfway between the canary start and the run end.
pub fn restart_of(plan: &TrafficPlan) -> Restart {
    let p = &plan.params;
    let canary = plan.canary_start_ns();
    let end = p.start_ns + p.duration_ns;
    Restart {
        resource: resource_id(svc::FRONTEND, Track::Canary),
        at_ns: canary + (end - canary) / 2,
    }
}

/// Per-chunk aggregates, keyed by (interval, instance).
#[derive(Debug, Clone, Default)]
pub struct MetricPartial {
    /// The aggregates.
    pub map: BTreeMap<(u64, Instance), InstanceAgg>,
}

/// What decides which interval and instance a measurement belongs to.
#[derive(Debug, Clone)]
pub struct Recorder {
    start_ns: i64,
    opts: MetricOptions,
    restart: Restart,
    seed: u64,
    conversion: f64,
}

impl Recorder {
    /// The recorder of `plan`.
    pub fn new(plan: &TrafficPlan, opts: MetricOptions) -> Self {
        Self {
            start_ns: plan.params.start_ns,
            opts,
            restart: restart_of(plan),
            seed: plan.params.seed,
            conversion: plan.effect_table.conversion_factor(rt::F_CHECKOUT),
        }
    }

    /// Interval of a measurement taken at `t_ns`.
    fn interval(&self, t_ns: i64) -> u64 {
        (t_ns - self.start_ns)
            .div_euclid(self.opts.interval_ns)
            .max(0) as u64
    }

    /// Records the requests of trace `trace_index` into `p`.
    pub fn record_trace(
        &self,
        p: &mut MetricPartial,
        trace_index: usize,
        requests: impl Iterator<Item = Request>,
    ) {
        for r in requests {
            let end = r.start_ns + r.duration_ns;
            let rid = r.resource;
            let generation = u8::from(rid == self.restart.resource && end >= self.restart.at_ns);
            let inst = Instance {
                resource: rid,
                generation,
            };
            let e = p.map.entry((self.interval(end), inst)).or_default();
            e.streams
                .entry((r.route, r.status))
                .or_insert_with(|| Agg::new(self.opts.exponential))
                .record(r.duration_ns);
            if r.route == rt::F_CHECKOUT {
                e.attempts += 1;
                if r.status < 500 {
                    // Its own stream per trace: the spans do not depend on this draw.
                    let u: f64 = rng_for(self.seed, ORDERS_STREAM, trace_index as u64).random();
                    let rate = match r.track {
                        Track::Stable => STABLE_CONVERSION,
                        Track::Canary => STABLE_CONVERSION * self.conversion,
                    };
                    e.placed += u64::from(u < rate);
                }
            }
        }
    }
}

/// Requests and errors of one (service, track, route) over the run, from the metrics.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RouteTotals {
    /// Service.
    pub service: &'static str,
    /// Track.
    pub track: &'static str,
    /// `http.request.method`.
    pub method: &'static str,
    /// `http.route` (with the method, it names the route: cartservice serves `GET /cart` and
    /// `DELETE /cart`).
    pub route: &'static str,
    /// SERVER span name (`{method} {route}`), as `operation` in effects.
    pub operation: &'static str,
    /// Requests (histogram counts).
    pub requests: u64,
    /// Of those with status ≥ 500 (the span error rule).
    pub errors: u64,
}

/// Business counter totals of one track.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrderTotals {
    /// Track.
    pub track: &'static str,
    /// `orders.checkout_attempts` over the run.
    pub checkout_attempts: u64,
    /// `orders.placed` over the run.
    pub orders_placed: u64,
}

/// A counter reset (process restart) that readers of cumulative metrics must detect.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricReset {
    /// Service.
    pub service: &'static str,
    /// Track.
    pub track: &'static str,
    /// `k8s.pod.name` of the resource (unchanged by the restart: the container restarts in
    /// the same pod).
    pub pod: String,
    /// Restart time (RFC 3339).
    pub time: String,
    /// Restart time, Unix ns: the old process's last `timeUnixNano` and the new one's
    /// `startTimeUnixNano`.
    pub time_unix_nano: i64,
    /// `startTimeUnixNano` of the points before the restart.
    pub previous_start_unix_nano: i64,
}

/// The `metrics` section of `truth.json`.
#[derive(Debug, Clone, Serialize)]
pub struct MetricsTruth {
    /// Export interval, seconds.
    pub interval_seconds: f64,
    /// `cumulative` or `delta`.
    pub temporality: Temporality,
    /// Whether the duration histogram is exponential.
    pub exponential_histograms: bool,
    /// Lines written.
    pub lines: u64,
    /// Data points written.
    pub points: u64,
    /// Per (service, track, route) totals over the whole run (not only the canary window).
    pub routes: Vec<RouteTotals>,
    /// Business counters per track.
    pub orders: Vec<OrderTotals>,
}

/// Streams merged partials into metric lines.
#[derive(Debug)]
pub struct MetricAggregator {
    rec: Recorder,
    canary_start_ns: i64,
    resources: Vec<Value>,
    pending: BTreeMap<u64, BTreeMap<Instance, InstanceAgg>>,
    cumulative: BTreeMap<Instance, InstanceAgg>,
    next: u64,
    lines: u64,
    points: u64,
    totals: Vec<[(u64, u64); 2]>,
    orders: [(u64, u64); 2],
    restarted: bool,
}

fn attrs_json(attrs: &[(&'static str, AttrValue)]) -> Value {
    Value::Array(
        attrs
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    AttrValue::Str(s) => json!({ "stringValue": s }),
                    AttrValue::Int(i) => json!({ "intValue": i.to_string() }),
                    AttrValue::Bool(b) => json!({ "boolValue": b }),
                };
                json!({ "key": k, "value": value })
            })
            .collect(),
    )
}

fn str_attr(k: &'static str, v: &'static str) -> (&'static str, AttrValue) {
    (k, AttrValue::Str(v.into()))
}

impl MetricAggregator {
    /// An aggregator for `plan`.
    pub fn new(plan: &TrafficPlan, opts: MetricOptions) -> Self {
        Self {
            rec: Recorder::new(plan, opts),
            canary_start_ns: plan.canary_start_ns(),
            resources: (0..RESOURCES)
                .map(|rid| attrs_json(&resource_attributes(rid)))
                .collect(),
            pending: BTreeMap::new(),
            cumulative: BTreeMap::new(),
            next: 0,
            lines: 0,
            points: 0,
            totals: vec![[(0, 0); 2]; ROUTES.len()],
            orders: [(0, 0); 2],
            restarted: false,
        }
    }

    /// The recorder workers use to build partials.
    pub fn recorder(&self) -> &Recorder {
        &self.rec
    }

    /// Merges a chunk's partial (chunks must arrive in order).
    pub fn merge(&mut self, p: MetricPartial) {
        for ((k, inst), agg) in p.map {
            self.restarted |= inst.generation == 1;
            let slot = self.pending.entry(k).or_default().entry(inst).or_default();
            slot.merge(&agg);
        }
    }

    fn boundary(&self, k: u64) -> i64 {
        self.rec.start_ns + (k as i64 + 1) * self.rec.opts.interval_ns
    }

    /// Start time of an instance's process.
    fn process_start(&self, inst: Instance) -> i64 {
        if inst.generation == 1 {
            return self.rec.restart.at_ns;
        }
        match split(inst.resource).1 {
            Track::Stable => self.rec.start_ns,
            Track::Canary => self.canary_start_ns,
        }
    }

    /// When an instance's process stops (exporting its last point then).
    fn process_stop(&self, inst: Instance) -> Option<i64> {
        (inst.resource == self.rec.restart.resource && inst.generation == 0)
            .then_some(self.rec.restart.at_ns)
    }

    /// Writes every interval that ends at or before `horizon_ns` (no later measurement can
    /// fall in it: every remaining request ends after `horizon_ns`).
    /// `i64::MAX` means the input has ended ([`Self::finish`]).
    pub fn advance(&mut self, horizon_ns: i64, out: &mut Vec<u8>) {
        if horizon_ns == i64::MAX {
            return self.finish(out);
        }
        while self.boundary(self.next) <= horizon_ns {
            self.flush(out);
        }
    }

    /// Writes the remaining intervals.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        while let Some((&last, _)) = self.pending.last_key_value() {
            if self.next > last {
                break;
            }
            self.flush(out);
        }
    }

    /// Writes interval `self.next` and moves on.
    fn flush(&mut self, out: &mut Vec<u8>) {
        let k = self.next;
        self.next += 1;
        let t = self.boundary(k);
        let t_prev = t - self.rec.opts.interval_ns;
        let mut deltas = self.pending.remove(&k).unwrap_or_default();
        for (inst, d) in &deltas {
            let track = split(inst.resource).1;
            for ((route, status), a) in &d.streams {
                let tot = &mut self.totals[*route][track as usize];
                tot.0 += a.count;
                if *status >= 500 {
                    tot.1 += a.count;
                }
            }
            let o = &mut self.orders[track as usize];
            o.0 += d.attempts;
            o.1 += d.placed;
        }
        let cumulative = self.rec.opts.temporality == Temporality::Cumulative;
        let mut instances: Vec<Instance> = deltas.keys().copied().collect();
        if cumulative {
            instances.extend(self.cumulative.keys().copied());
            instances.sort_unstable();
            instances.dedup();
        }
        let mut entries = Vec::new();
        for inst in instances {
            let start = self.process_start(inst);
            let stop = self.process_stop(inst);
            let time = stop.map_or(t, |s| s.min(t));
            let delta = deltas.remove(&inst).unwrap_or_default();
            let (agg, point_start) = if cumulative {
                let c = self.cumulative.entry(inst).or_default();
                c.merge(&delta);
                (c.clone(), start)
            } else {
                (delta, start.max(t_prev))
            };
            if stop.is_some_and(|s| s <= t) {
                self.cumulative.remove(&inst);
            }
            if agg.streams.is_empty() && agg.attempts == 0 {
                continue;
            }
            entries.push(self.resource_metrics(inst, &agg, point_start, time));
        }
        if entries.is_empty() {
            return;
        }
        let line = json!({ "resourceMetrics": entries });
        serde_json::to_writer(&mut *out, &line).expect("metrics serialise");
        out.push(b'\n');
        self.lines += 1;
    }

    fn resource_metrics(
        &mut self,
        inst: Instance,
        agg: &InstanceAgg,
        start: i64,
        time: i64,
    ) -> Value {
        let opts = self.rec.opts;
        let temporality = opts.temporality.otlp();
        let (service, _) = split(inst.resource);
        let frontend = service == svc::FRONTEND;
        let (start_s, time_s) = (start.to_string(), time.to_string());
        let mut duration_points = Vec::new();
        let mut count_points = Vec::new();
        for ((route, status), a) in &agg.streams {
            let r = &ROUTES[*route];
            let attrs = attrs_json(&[
                str_attr("http.request.method", r.method),
                str_attr("http.route", r.route),
                (
                    "http.response.status_code",
                    AttrValue::Int(i64::from(*status)),
                ),
                str_attr("url.scheme", if frontend { "https" } else { "http" }),
            ]);
            let sum = a.sum_ns as f64 / 1e9;
            let min = a.min_ns as f64 / 1e9;
            let max = a.max_ns as f64 / 1e9;
            let mut p = json!({
                "attributes": attrs.clone(),
                "startTimeUnixNano": start_s,
                "timeUnixNano": time_s,
                "count": a.count.to_string(),
                "sum": sum,
                "min": min,
                "max": max,
            });
            match &a.exp {
                Some(e) => {
                    p["scale"] = json!(e.scale);
                    p["zeroCount"] = json!(e.zero_count.to_string());
                    p["positive"] = json!({
                        "offset": e.offset,
                        "bucketCounts": e.counts.iter().map(u64::to_string).collect::<Vec<_>>(),
                    });
                }
                None => {
                    p["bucketCounts"] =
                        json!(a.buckets.iter().map(u64::to_string).collect::<Vec<_>>());
                    p["explicitBounds"] = json!(DEFAULT_BOUNDS);
                }
            }
            duration_points.push(p);
            count_points.push(json!({
                "attributes": attrs,
                "startTimeUnixNano": start_s,
                "timeUnixNano": time_s,
                "asInt": a.count.to_string(),
            }));
        }
        self.points += 2 * duration_points.len() as u64;
        let histogram_key = if opts.exponential {
            "exponentialHistogram"
        } else {
            "histogram"
        };
        let mut duration = json!({
            "name": "http.server.request.duration",
            "description": "Duration of HTTP server requests.",
            "unit": "s",
        });
        duration[histogram_key] = json!({
            "dataPoints": duration_points,
            "aggregationTemporality": temporality,
        });
        let requests = json!({
            "name": "http.server.requests",
            "description": "Number of HTTP server requests.",
            "unit": "{request}",
            "sum": {
                "dataPoints": count_points,
                "aggregationTemporality": temporality,
                "isMonotonic": true,
            },
        });
        let (scope_name, scope_version) = scope(inst.resource);
        let mut scopes = vec![];
        if !agg.streams.is_empty() {
            scopes.push(json!({
                "scope": { "name": scope_name, "version": scope_version },
                "metrics": [duration, requests],
            }));
        }
        if frontend && agg.attempts > 0 {
            let counter = |name: &str, desc: &str, v: u64| {
                json!({
                    "name": name,
                    "description": desc,
                    "unit": "{order}",
                    "sum": {
                        "dataPoints": [{
                            "startTimeUnixNano": start_s,
                            "timeUnixNano": time_s,
                            "asInt": v.to_string(),
                        }],
                        "aggregationTemporality": temporality,
                        "isMonotonic": true,
                    },
                })
            };
            self.points += 2;
            scopes.push(json!({
                "scope": {
                    "name": "shop.frontend.orders",
                    "version": split(inst.resource).1.version(),
                },
                "metrics": [
                    counter("orders.checkout_attempts", "Checkout submissions.", agg.attempts),
                    counter("orders.placed", "Orders placed.", agg.placed),
                ],
            }));
        }
        json!({
            "resource": { "attributes": self.resources[inst.resource].clone() },
            "scopeMetrics": scopes,
            "schemaUrl": SCHEMA_URL,
        })
    }

    /// The truth of what was written (call after [`Self::finish`]).
    pub fn truth(&self) -> MetricsTruth {
        let mut routes = Vec::new();
        for (route, r) in ROUTES.iter().enumerate() {
            for track in Track::ALL {
                let (requests, errors) = self.totals[route][track as usize];
                routes.push(RouteTotals {
                    service: SERVICES[r.service].name,
                    track: track.name(),
                    method: r.method,
                    route: r.route,
                    operation: r.span_name,
                    requests,
                    errors,
                });
            }
        }
        MetricsTruth {
            interval_seconds: self.rec.opts.interval_ns as f64 / NS_PER_SEC as f64,
            temporality: self.rec.opts.temporality,
            exponential_histograms: self.rec.opts.exponential,
            lines: self.lines,
            points: self.points,
            routes,
            orders: Track::ALL
                .iter()
                .map(|t| OrderTotals {
                    track: t.name(),
                    checkout_attempts: self.orders[*t as usize].0,
                    orders_placed: self.orders[*t as usize].1,
                })
                .collect(),
        }
    }

    /// The restarts that happened: the restarted process is listed once its new generation
    /// recorded a measurement (a restart after the last request changes nothing).
    pub fn resets(&self) -> Vec<MetricReset> {
        let r = self.rec.restart;
        if !self.restarted {
            return vec![];
        }
        let (service, track) = split(r.resource);
        let pod = resource_attributes(r.resource)
            .into_iter()
            .find(|(k, _)| *k == "k8s.pod.name")
            .map(|(_, v)| v.render())
            .unwrap_or_default();
        vec![MetricReset {
            service: SERVICES[service].name,
            track: track.name(),
            pod,
            time: format_rfc3339(r.at_ns),
            time_unix_nano: r.at_ns,
            previous_start_unix_nano: self.canary_start_ns,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::PlanParams;
    use super::super::scenario::Scenario;
    use super::*;

    #[test]
    fn explicit_buckets_are_upper_inclusive() {
        let b = &DEFAULT_BOUNDS;
        assert_eq!(explicit_bucket(b, 0.0), 0);
        assert_eq!(explicit_bucket(b, 0.005), 0);
        assert_eq!(explicit_bucket(b, 0.005_000_001), 1);
        assert_eq!(explicit_bucket(b, 0.01), 1);
        assert_eq!(explicit_bucket(b, 1.0), 9);
        assert_eq!(explicit_bucket(b, 10.0), 13);
        assert_eq!(explicit_bucket(b, 10.000_001), 14);
        // Durations in ns divided by 1e9 land on the boundary exactly.
        let mut a = Agg::new(false);
        for ns in [
            5_000_000,
            5_000_001,
            250_000_000,
            250_000_001,
            11_000_000_000,
        ] {
            a.record(ns);
        }
        let mut want = [0u64; BUCKETS];
        want[0] = 1;
        want[1] = 1;
        want[6] = 1;
        want[7] = 1;
        want[14] = 1;
        assert_eq!(a.buckets, want);
        assert_eq!(a.count, 5);
        assert_eq!(a.sum_ns, 11_510_000_002);
        assert_eq!((a.min_ns, a.max_ns), (5_000_000, 11_000_000_000));
    }

    #[test]
    fn exponential_index_matches_hand_computed_values() {
        // Powers of two sit at the upper end of their bucket: 2^k is in (base^(i), base^(i+1)]
        // with i = k·2^scale − 1.
        assert_eq!(exp_index(1.0, 3), -1);
        assert_eq!(exp_index(0.25, 20), -2_097_153);
        assert_eq!(exp_index(2.0, 0), 0);
        assert_eq!(exp_index(3.0, 0), 1);
        assert_eq!(exp_index(4.0, 0), 1);
        assert_eq!(exp_index(4.0, -1), 0);
        assert_eq!(exp_index(5.0, -1), 1);
        // (√2, 2] is bucket 1 at scale 1.
        assert_eq!(exp_index(1.5, 1), 1);
        // ceil(log2(v)·2^20) − 1, computed with 50-digit arithmetic (mpmath).
        assert_eq!(exp_index(0.005, 20), -8_015_165);
        assert_eq!(exp_index(0.1, 20), -3_483_295);
        assert_eq!(exp_index(10.0, 20), 3_483_294);
        assert_eq!(exp_index(0.3, 3), -14);
        // Halving the scale halves the index (floor), which makes downscaling exact.
        for v in [0.0011, 0.0042, 0.0173, 0.3, 1.7, 9.9] {
            for s in -3..=20 {
                assert_eq!(exp_index(v, s - 1), exp_index(v, s) >> 1, "{v} at {s}");
            }
        }
    }

    fn durations(n: usize) -> Vec<f64> {
        // 1 ms to 10 s, log-spaced.
        (0..n)
            .map(|i| 1e-3 * 10f64.powf(4.0 * i as f64 / (n - 1) as f64))
            .collect()
    }

    #[test]
    fn exponential_histogram_downscales_to_fit_and_merges_exactly() {
        let values = durations(1000);
        let mut all = ExpHist::default();
        for v in &values {
            all.record(*v);
        }
        // log2(10 s / 1 ms) ≈ 13.3 octaves: 2^3 buckets per octave fit in 160, 2^4 do not.
        assert_eq!(all.scale, 3);
        assert!(all.counts.len() as i64 <= EXP_MAX_SIZE);
        assert_eq!(all.counts.iter().sum::<u64>(), 1000);
        for v in &values {
            let k = exp_index(*v, all.scale) - all.offset;
            assert!(k >= 0 && (k as usize) < all.counts.len(), "{v}");
        }
        let mut direct = vec![0u64; all.counts.len()];
        for v in &values {
            direct[(exp_index(*v, all.scale) - all.offset) as usize] += 1;
        }
        assert_eq!(direct, all.counts);
        // Any split merged gives the same histogram.
        let (mut a, mut b) = (ExpHist::default(), ExpHist::default());
        for (i, v) in values.iter().enumerate() {
            if i % 3 == 0 { &mut a } else { &mut b }.record(*v);
        }
        b.merge(&a);
        assert_eq!(b, all);
        // A narrow range keeps the maximum scale.
        let mut narrow = ExpHist::default();
        narrow.record(0.0100);
        narrow.record(0.0100001);
        assert_eq!(narrow.scale, EXP_MAX_SCALE);
    }

    const S: i64 = 1_767_225_600 * NS_PER_SEC;

    fn plan() -> TrafficPlan {
        TrafficPlan::new(PlanParams {
            scenario: Scenario::Aa,
            seed: 1,
            spans: 2000,
            canary_share: 0.1,
            start_ns: S,
            duration_ns: 3600 * NS_PER_SEC,
            canary_delay_ns: 300 * NS_PER_SEC,
            effect_onset_ns: 300 * NS_PER_SEC,
            effect_size: None,
        })
    }

    fn req(track: Track, route: RouteId, at_s: i64) -> Request {
        Request {
            service: svc::FRONTEND,
            track,
            resource: resource_id(svc::FRONTEND, track),
            side: Some(track),
            route,
            start_ns: S + at_s * NS_PER_SEC,
            duration_ns: 10_000_000,
            status: 200,
            error: false,
        }
    }

    /// (service/track/route, start s, time s, count) of every duration point, in file order.
    fn run(temporality: Temporality) -> (Vec<(String, i64, i64, u64)>, MetricAggregator) {
        let p = plan();
        let opts = MetricOptions {
            temporality,
            ..MetricOptions::default()
        };
        let mut agg = MetricAggregator::new(&p, opts);
        assert_eq!(restart_of(&p).at_ns, S + 1950 * NS_PER_SEC);
        let reqs = [
            req(Track::Stable, rt::F_HOME, 10),
            req(Track::Stable, rt::F_HOME, 70),
            req(Track::Stable, rt::F_HOME, 130),
            req(Track::Canary, rt::F_CHECKOUT, 400),
            req(Track::Canary, rt::F_CHECKOUT, 1900),
            req(Track::Canary, rt::F_CHECKOUT, 2000),
            req(Track::Canary, rt::F_CHECKOUT, 2100),
        ];
        let mut out = Vec::new();
        // Two chunks: the first ends before the trace at 1900 s starts.
        for (chunk, horizon) in [(&reqs[..4], S + 1900 * NS_PER_SEC), (&reqs[4..], i64::MAX)] {
            let mut part = MetricPartial::default();
            for (i, r) in chunk.iter().enumerate() {
                agg.recorder()
                    .record_trace(&mut part, i, std::iter::once(*r));
            }
            agg.merge(part);
            agg.advance(horizon, &mut out);
        }
        let mut points = Vec::new();
        for line in String::from_utf8(out).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            for rm in v["resourceMetrics"].as_array().unwrap() {
                let attrs = rm["resource"]["attributes"].as_array().unwrap();
                let track = attrs
                    .iter()
                    .find(|a| a["key"] == "deployment.track")
                    .unwrap()["value"]["stringValue"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let m = &rm["scopeMetrics"][0]["metrics"][0];
                assert_eq!(m["name"], "http.server.request.duration");
                let h = &m["histogram"];
                assert_eq!(h["aggregationTemporality"], temporality.otlp());
                for dp in h["dataPoints"].as_array().unwrap() {
                    let ns = |k: &str| dp[k].as_str().unwrap().parse::<i64>().unwrap();
                    points.push((
                        track.clone(),
                        (ns("startTimeUnixNano") - S) / NS_PER_SEC,
                        (ns("timeUnixNano") - S) / NS_PER_SEC,
                        dp["count"].as_str().unwrap().parse().unwrap(),
                    ));
                }
            }
        }
        (points, agg)
    }

    #[test]
    fn cumulative_points_are_running_totals_and_the_restart_resets_them() {
        let (points, agg) = run(Temporality::Cumulative);
        let stable: Vec<_> = points.iter().filter(|p| p.0 == "stable").collect();
        // Every interval up to the last one with data (ends at 2160 s) exports the totals.
        assert_eq!(stable.len(), 36);
        assert_eq!(stable[0], &("stable".into(), 0, 60, 1));
        assert_eq!(stable[1].3, 2);
        assert_eq!(stable[2].3, 3);
        assert!(stable.iter().all(|p| p.1 == 0));
        assert_eq!(stable.last().unwrap(), &&("stable".to_string(), 0, 2160, 3));
        let canary: Vec<_> = points
            .iter()
            .filter(|p| p.0 == "canary")
            .map(|p| (p.1, p.2, p.3))
            .collect();
        // Old process: from the canary start (300 s), first data in the interval ending at
        // 420 s, a final export at the restart (1950 s).
        assert_eq!(canary[0], (300, 420, 1));
        let old: Vec<_> = canary.iter().filter(|p| p.0 == 300).collect();
        assert_eq!(old.last().unwrap(), &&(300, 1950, 2));
        assert_eq!(old.len(), (1920 - 420) / 60 + 2);
        // New process: starts at the restart, counts again from zero.
        let new: Vec<_> = canary.iter().filter(|p| p.0 == 1950).collect();
        assert_eq!(
            new.iter().map(|p| (p.1, p.2)).collect::<Vec<_>>(),
            vec![(2040, 1), (2100, 1), (2160, 2)]
        );
        let resets = agg.resets();
        assert_eq!(resets.len(), 1);
        assert_eq!(resets[0].time_unix_nano, S + 1950 * NS_PER_SEC);
        assert_eq!(resets[0].previous_start_unix_nano, S + 300 * NS_PER_SEC);
        let t = agg.truth();
        let home = t
            .routes
            .iter()
            .find(|r| r.route == "/" && r.track == "stable")
            .unwrap();
        assert_eq!((home.requests, home.errors), (3, 0));
        assert_eq!(t.orders[1].checkout_attempts, 4);
    }

    #[test]
    fn delta_points_cover_one_interval_each() {
        let (points, agg) = run(Temporality::Delta);
        let stable: Vec<_> = points
            .iter()
            .filter(|p| p.0 == "stable")
            .map(|p| (p.1, p.2, p.3))
            .collect();
        assert_eq!(stable, vec![(0, 60, 1), (60, 120, 1), (120, 180, 1)]);
        let canary: Vec<_> = points
            .iter()
            .filter(|p| p.0 == "canary")
            .map(|p| (p.1, p.2, p.3))
            .collect();
        // A point starts at the previous collection (or the process start): intervals without
        // measurements export nothing.
        assert_eq!(
            canary,
            vec![
                (360, 420, 1),
                (1860, 1920, 1),
                (1980, 2040, 1),
                (2100, 2160, 1)
            ]
        );
        assert_eq!(agg.truth().orders[1].checkout_attempts, 4);
    }
}
