//! Metric-based comparison input as plain data: the points of the metric tables
//! (`metric_points`, `histogram_points`, `exp_histogram_points`) that belong to the baseline or
//! the canary inside the comparison window ([`MetricData`], loaded by
//! `engine::metric_input::load_metric_data`), and their aggregation per group and side.
//!
//! Definitions:
//! - **Sides** use the same [`Selector`](super::comparison::Selector) rule as spans (`queries/window.sql`): a point belongs
//!   to the baseline when its resource matches both non-NULL baseline values
//!   (`deployment_track`, `service_version`), else to the canary when it matches the canary's.
//! - **Time buckets**: a point with time `t` (the end of the interval its delta covers, after
//!   the ingest's cumulative → delta conversion) is in the bucket holding `t − 1 ns`, buckets
//!   aligned to the Unix epoch with the spans' bucket width: the delta of an export at
//!   `12:01:00` covers `(12:00, 12:01]`, i.e. the bucket `[12:00, 12:01)`.
//! - **Window membership**: a point counts when its bucket overlaps the window
//!   `[start, end)`, i.e. `bucket_start(start) < time ≤ bucket_start(end − 1) + width`. Metric
//!   points only say which export interval a measurement fell in, so the metric side covers
//!   whole buckets: up to one bucket more than the spans' window at each end (the spans'
//!   window starts and ends at a span, not at an export). Points without a delta (the first
//!   point of a cumulative series, whose columns are NULL) carry no measurement and never
//!   count.
//! - **Metric-only window**: without spans, the window is the overlap of the sides' buckets:
//!   from the bucket of the later first point to the end of the bucket of the earlier last
//!   point, over all three tables (`engine::metric_input::metric_window`).
//! - **Groups**: `(service, route)` with the route taken from a point attribute
//!   (`http.route` by default); points without it form the route `other` (design §3: never a
//!   raw path).
//! - **Explicit histograms** of a group are merged bucket-wise per bounds set. Latency is only
//!   compared when the group has a single bucket layout (one bounds set, or only exponential
//!   histograms): re-bucketing onto other bounds would need an assumption about the values
//!   inside buckets. With several layouts [`latency_pair`] returns the reason, which the
//!   analysis reports as `inconclusive`; counts still feed the error rate.
//! - **Exponential histograms** are merged with [`exponential_histogram::merge`] (downscaled to
//!   the common scale, OTLP "perfect subsetting"); the two sides are then expressed over the
//!   same explicit bins at their common scale ([`latency_pair`]).
//! - **Errors**: a histogram point's count is an error count when its status attribute
//!   (`http.response.status_code`) parses as an integer ≥ the configured minimum (500).

use super::comparison::Side;
use super::comparison::{bucket_start, Window};
use crate::stats::exponential_histogram::{
    self, lower_boundary, ExponentialBuckets, ExponentialHistogram,
};
use crate::stats::histogram_quantile::ExplicitHistogram;
use std::collections::BTreeMap;

/// The measurement of one point (deltas after the ingest's conversion).
#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    /// `metric_points.value`: a sum's delta or a gauge's value.
    Number(f64),
    /// An explicit-bucket histogram: bounds and bucket counts (empty when the point had no
    /// buckets; `count` still holds its total).
    Explicit {
        /// Delta count.
        count: f64,
        /// `explicitBounds`.
        bounds: Vec<f64>,
        /// Delta bucket counts (`bounds + 1`, or empty).
        counts: Vec<f64>,
    },
    /// An exponential histogram (delta counts).
    Exponential(ExponentialHistogram),
}

/// One point of either side inside the window.
#[derive(Debug, Clone, PartialEq)]
pub struct SidedPoint {
    /// Baseline or canary.
    pub side: Side,
    /// `service.name`.
    pub service: String,
    /// OTLP metric name.
    pub metric: String,
    /// OTLP unit (`s`, `ms`, `{request}` …).
    pub unit: String,
    /// Point attributes.
    pub attributes: BTreeMap<String, String>,
    /// `time`, ns since the epoch.
    pub time_ns: i64,
    /// The measurement.
    pub value: PointValue,
}

/// Every metric point of both sides inside the window.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricData {
    /// Window compared (the spans' window, or the metric-only window without spans).
    pub window: Window,
    /// Time-bucket width in nanoseconds (the spans' width).
    pub bucket_ns: i64,
    /// Points sorted by (metric, service, side, time, attributes) for deterministic
    /// aggregation.
    pub points: Vec<SidedPoint>,
}
/// Comparison operator of an [`AttrFilter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `<`
    Lt,
}

/// A point-attribute condition such as `http.response.status_code >= 500`.
///
/// `=` and `!=` compare text; `<`, `<=`, `>`, `>=` compare numbers and are false when the
/// attribute is absent or not a number. An absent attribute matches only `!=`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrFilter {
    /// Attribute key.
    pub key: String,
    /// Operator.
    pub op: CmpOp,
    /// Right-hand side, as written.
    pub value: String,
}

impl AttrFilter {
    /// Parses `key OP value` (`OP` one of `=`, `==`, `!=`, `>=`, `>`, `<=`, `<`; the value may
    /// be quoted with `"`). The ordering operators need a numeric value.
    pub fn parse(text: &str) -> Result<Self, String> {
        for (sym, op) in [
            ("!=", CmpOp::Ne),
            (">=", CmpOp::Ge),
            ("<=", CmpOp::Le),
            ("==", CmpOp::Eq),
            ("=", CmpOp::Eq),
            (">", CmpOp::Gt),
            ("<", CmpOp::Lt),
        ] {
            if let Some(pos) = text.find(sym) {
                let key = text[..pos].trim();
                let value = text[pos + sym.len()..].trim().trim_matches('"');
                if key.is_empty() {
                    return Err(format!("{text:?}: missing attribute name before {sym}"));
                }
                if !matches!(op, CmpOp::Eq | CmpOp::Ne) && value.parse::<f64>().is_err() {
                    return Err(format!("{text:?}: {sym} needs a number, got {value:?}"));
                }
                return Ok(AttrFilter {
                    key: key.to_string(),
                    op,
                    value: value.to_string(),
                });
            }
        }
        Err(format!(
            "{text:?}: expected `attribute OP value` with OP one of = != >= > <= <"
        ))
    }

    /// Whether the attributes satisfy the condition.
    pub fn matches(&self, attrs: &BTreeMap<String, String>) -> bool {
        let Some(v) = attrs.get(&self.key) else {
            return self.op == CmpOp::Ne;
        };
        match self.op {
            CmpOp::Eq => *v == self.value,
            CmpOp::Ne => *v != self.value,
            _ => match (v.trim().parse::<f64>(), self.value.parse::<f64>()) {
                (Ok(a), Ok(b)) => match self.op {
                    CmpOp::Ge => a >= b,
                    CmpOp::Gt => a > b,
                    CmpOp::Le => a <= b,
                    _ => a < b,
                },
                _ => false,
            },
        }
    }
}

/// All filters hold.
pub fn all_match(filters: &[AttrFilter], attrs: &BTreeMap<String, String>) -> bool {
    filters.iter().all(|f| f.matches(attrs))
}

/// Start of the time bucket a point at `time_ns` belongs to (see the module docs).
pub fn point_bucket(time_ns: i64, bucket_ns: i64) -> i64 {
    bucket_start(time_ns.saturating_sub(1), bucket_ns)
}

/// Bit pattern of a bounds set, usable as a map key.
type LayoutKey = Vec<u64>;

/// Merged histograms of one side (all time, or one time bucket).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistAcc {
    /// Total count (every point, with or without buckets).
    pub count: f64,
    /// Count of points whose status attribute marks an error.
    pub errors: f64,
    /// Count of explicit points that had no buckets (count only).
    pub unbucketed: f64,
    /// Explicit bucket counts per bounds set.
    pub explicit: BTreeMap<LayoutKey, Vec<f64>>,
    /// Merged exponential histogram.
    pub exponential: Option<ExponentialHistogram>,
}

impl HistAcc {
    fn add(&mut self, v: &PointValue, is_error: bool) {
        match v {
            PointValue::Number(_) => {}
            PointValue::Explicit {
                count,
                bounds,
                counts,
            } => {
                self.count += count;
                if is_error {
                    self.errors += count;
                }
                if counts.is_empty() {
                    self.unbucketed += count;
                    return;
                }
                let key: LayoutKey = bounds.iter().map(|b| b.to_bits()).collect();
                let acc = self
                    .explicit
                    .entry(key)
                    .or_insert_with(|| vec![0.0; counts.len()]);
                for (a, c) in acc.iter_mut().zip(counts) {
                    *a += c;
                }
            }
            PointValue::Exponential(e) => {
                let c = e.count();
                self.count += c;
                if is_error {
                    self.errors += c;
                }
                self.exponential = Some(match self.exponential.take() {
                    None => e.clone(),
                    Some(acc) => match exponential_histogram::merge(&acc, e) {
                        Ok(m) => m,
                        // An invalid point (the ingest validates, so this is defensive) is
                        // counted but left out of the bucket layout.
                        Err(_) => {
                            self.unbucketed += c;
                            acc
                        }
                    },
                });
            }
        }
    }

    /// This side as one explicit histogram when it has exactly one explicit layout and no
    /// exponential data (for per-side quantiles, e.g. of one time bucket).
    pub fn single_explicit(&self) -> Option<ExplicitHistogram> {
        if let Some(e) = &self.exponential {
            if self.explicit.is_empty() {
                return e.to_explicit().ok();
            }
            return None;
        }
        if self.explicit.len() != 1 {
            return None;
        }
        let (k, v) = self.explicit.iter().next()?;
        ExplicitHistogram::new(k.iter().map(|b| f64::from_bits(*b)).collect(), v.clone()).ok()
    }
}

/// A histogram metric of one group, both sides, with the per-bucket series.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramGroup {
    /// `service.name`.
    pub service: String,
    /// Route (`other` when the points have no route attribute).
    pub route: String,
    /// OTLP metric name.
    pub metric: String,
    /// OTLP unit of the values.
    pub unit: String,
    /// Baseline, whole window.
    pub baseline: HistAcc,
    /// Canary, whole window.
    pub canary: HistAcc,
    /// Baseline per time bucket (bucket start → histograms), non-empty buckets only.
    pub baseline_series: BTreeMap<i64, HistAcc>,
    /// Canary per time bucket.
    pub canary_series: BTreeMap<i64, HistAcc>,
}

/// Route used for points without the route attribute.
pub const NO_ROUTE: &str = "other";

/// Whether a status attribute value marks an error (integer ≥ `error_min`).
pub fn is_error_status(attrs: &BTreeMap<String, String>, key: &str, error_min: i64) -> bool {
    attrs
        .get(key)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .is_some_and(|s| s >= error_min)
}

/// Per (service, route) histograms of `metric` (points passing `filters`): whole window and
/// per time bucket, with error counts by `status_key ≥ error_min`. Sorted by (service, route).
pub fn histogram_groups(
    data: &MetricData,
    metric: &str,
    filters: &[AttrFilter],
    route_key: &str,
    status_key: &str,
    error_min: i64,
) -> Vec<HistogramGroup> {
    let mut groups: BTreeMap<(String, String), HistogramGroup> = BTreeMap::new();
    for p in data.points.iter().filter(|p| p.metric == metric) {
        if matches!(p.value, PointValue::Number(_)) || !all_match(filters, &p.attributes) {
            continue;
        }
        let route = p
            .attributes
            .get(route_key)
            .cloned()
            .unwrap_or_else(|| NO_ROUTE.to_string());
        let g = groups
            .entry((p.service.clone(), route.clone()))
            .or_insert_with(|| HistogramGroup {
                service: p.service.clone(),
                route,
                metric: metric.to_string(),
                unit: p.unit.clone(),
                baseline: HistAcc::default(),
                canary: HistAcc::default(),
                baseline_series: BTreeMap::new(),
                canary_series: BTreeMap::new(),
            });
        let err = is_error_status(&p.attributes, status_key, error_min);
        let bucket = point_bucket(p.time_ns, data.bucket_ns);
        let (whole, series) = match p.side {
            Side::Baseline => (&mut g.baseline, &mut g.baseline_series),
            Side::Canary => (&mut g.canary, &mut g.canary_series),
        };
        whole.add(&p.value, err);
        series.entry(bucket).or_default().add(&p.value, err);
    }
    groups.into_values().collect()
}

/// Whether any point of `metric` is a histogram (explicit or exponential).
pub fn has_histogram(data: &MetricData, metric: &str) -> bool {
    data.points
        .iter()
        .any(|p| p.metric == metric && !matches!(p.value, PointValue::Number(_)))
}

/// Whether any point of `metric` is a number (sum or gauge).
pub fn has_number(data: &MetricData, metric: &str) -> bool {
    data.points
        .iter()
        .any(|p| p.metric == metric && matches!(p.value, PointValue::Number(_)))
}

/// Totals of a number metric for one group: whole window and per time bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NumberSide {
    /// Sum of the values.
    pub sum: f64,
    /// Number of points.
    pub points: u64,
    /// Per time bucket: (sum, number of points, max).
    pub series: BTreeMap<i64, (f64, u64, f64)>,
}

/// Sums of a number metric per group: key = (service, values of `group_by` attributes, with
/// [`NO_ROUTE`] for absent ones), only points passing `filters`. Sorted by key.
pub fn number_groups(
    data: &MetricData,
    metric: &str,
    filters: &[AttrFilter],
    group_by: &[String],
) -> BTreeMap<(String, Vec<String>), (NumberSide, NumberSide)> {
    let mut out: BTreeMap<(String, Vec<String>), (NumberSide, NumberSide)> = BTreeMap::new();
    for p in data.points.iter().filter(|p| p.metric == metric) {
        let PointValue::Number(v) = p.value else {
            continue;
        };
        if !all_match(filters, &p.attributes) {
            continue;
        }
        let key: Vec<String> = group_by
            .iter()
            .map(|k| {
                p.attributes
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| NO_ROUTE.to_string())
            })
            .collect();
        let e = out.entry((p.service.clone(), key)).or_default();
        let s = match p.side {
            Side::Baseline => &mut e.0,
            Side::Canary => &mut e.1,
        };
        s.sum += v;
        s.points += 1;
        let b = s
            .series
            .entry(point_bucket(p.time_ns, data.bucket_ns))
            .or_insert((0.0, 0, f64::NEG_INFINITY));
        b.0 += v;
        b.1 += 1;
        b.2 = b.2.max(v);
    }
    out
}

/// Factor converting values of `unit` to milliseconds, and whether the unit is a known time
/// unit (`s`, `ms`, `us`/`µs`, `ns`, `min`); unknown units are used as they are.
pub fn to_ms_factor(unit: &str) -> (f64, bool) {
    match unit {
        "s" => (1000.0, true),
        "ms" => (1.0, true),
        "us" | "µs" | "μs" => (1e-3, true),
        "ns" => (1e-6, true),
        "min" => (60_000.0, true),
        _ => (1.0, false),
    }
}

fn scale_bounds(h: &ExplicitHistogram, factor: f64) -> Option<ExplicitHistogram> {
    ExplicitHistogram::new(
        h.bounds().iter().map(|b| b * factor).collect(),
        h.bucket_counts().to_vec(),
    )
    .ok()
}

/// Downscales `e` to `scale` (≤ its own) by merging it with an empty histogram at that scale.
fn downscale(e: &ExponentialHistogram, scale: i32) -> Option<ExponentialHistogram> {
    let empty = ExponentialHistogram {
        scale,
        zero_threshold: 0.0,
        zero_count: 0.0,
        positive: ExponentialBuckets::default(),
        negative: ExponentialBuckets::default(),
    };
    exponential_histogram::merge(e, &empty).ok()
}

/// Both sides' exponential histograms over the same explicit bins: both downscaled to the
/// common scale `s` (after [`exponential_histogram::merge`] of the pair, which may lower it
/// further to bound the range), then bins `(−∞, b^lo]` (zero bucket and negative values —
/// latencies are not negative), `(b^i, b^(i+1)]` for the union `lo..=hi` of positive indices,
/// and `(b^(hi+1), +∞)` (empty).
fn exponential_pair(
    b: &ExponentialHistogram,
    c: &ExponentialHistogram,
) -> Option<(ExplicitHistogram, ExplicitHistogram)> {
    let scale = exponential_histogram::merge(b, c).ok()?.scale;
    let (b, c) = (downscale(b, scale)?, downscale(c, scale)?);
    let range = |e: &ExponentialHistogram| {
        let n = e.positive.bucket_counts.len() as i64;
        (n > 0).then(|| (e.positive.offset as i64, e.positive.offset as i64 + n - 1))
    };
    let (lo, hi) = match (range(&b), range(&c)) {
        (Some(x), Some(y)) => (x.0.min(y.0), x.1.max(y.1)),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => (0, 0),
    };
    let bounds: Vec<f64> = (lo..=hi + 1).map(|i| lower_boundary(i, scale)).collect();
    let side = |e: &ExponentialHistogram| {
        let mut counts = vec![0.0; bounds.len() + 1];
        counts[0] = e.zero_count + e.negative.bucket_counts.iter().sum::<f64>();
        for (k, &v) in e.positive.bucket_counts.iter().enumerate() {
            let i = e.positive.offset as i64 + k as i64;
            counts[(i - lo + 1) as usize] += v;
        }
        ExplicitHistogram::new(bounds.clone(), counts).ok()
    };
    Some((side(&b)?, side(&c)?))
}

/// The two sides of a group over one bucket layout, values in milliseconds when the unit is a
/// time unit: `Ok((baseline, canary, description))`, or `Err(reason)` when the group has no
/// bucketed data or more than one layout (see the module docs).
pub fn latency_pair(
    b: &HistAcc,
    c: &HistAcc,
    unit: &str,
) -> Result<(ExplicitHistogram, ExplicitHistogram, String), String> {
    let (factor, _) = to_ms_factor(unit);
    let mut layouts: Vec<&LayoutKey> = b.explicit.keys().chain(c.explicit.keys()).collect();
    layouts.sort();
    layouts.dedup();
    let has_exp = b.exponential.is_some() || c.exponential.is_some();
    let n_layouts = layouts.len() + usize::from(has_exp);
    if n_layouts == 0 {
        return Err("no bucket counts on either side".into());
    }
    if n_layouts > 1 {
        return Err(format!(
            "the streams use {} different bucket layouts ({} explicit bounds sets{}); quantiles \
             of different layouts cannot be merged without assuming how values spread inside \
             buckets",
            n_layouts,
            layouts.len(),
            if has_exp {
                " and exponential buckets"
            } else {
                ""
            }
        ));
    }
    if has_exp {
        let empty = ExponentialHistogram {
            scale: exponential_histogram::MAX_SCALE,
            zero_threshold: 0.0,
            zero_count: 0.0,
            positive: ExponentialBuckets::default(),
            negative: ExponentialBuckets::default(),
        };
        let eb = b.exponential.as_ref().unwrap_or(&empty);
        let ec = c.exponential.as_ref().unwrap_or(&empty);
        let (hb, hc) = exponential_pair(eb, ec)
            .ok_or_else(|| "the exponential histograms could not be merged".to_string())?;
        let (hb, hc) = (
            scale_bounds(&hb, factor).ok_or("bad bounds")?,
            scale_bounds(&hc, factor).ok_or("bad bounds")?,
        );
        let d = format!(
            "exponential buckets at their common scale ({} bins)",
            hb.bucket_counts().len()
        );
        return Ok((hb, hc, d));
    }
    let key = layouts[0];
    let bounds: Vec<f64> = key.iter().map(|x| f64::from_bits(*x) * factor).collect();
    let zero = vec![0.0; bounds.len() + 1];
    let make = |a: &HistAcc| {
        ExplicitHistogram::new(
            bounds.clone(),
            a.explicit.get(key).cloned().unwrap_or(zero.clone()),
        )
        .map_err(|e| e.to_string())
    };
    let d = format!("{} explicit buckets", bounds.len() + 1);
    Ok((make(b)?, make(c)?, d))
}

/// Prometheus-interpolated quantile of one side in milliseconds, NaN when it has no single
/// layout or no data.
pub fn side_quantile_ms(a: &HistAcc, unit: &str, q: f64) -> f64 {
    let (factor, _) = to_ms_factor(unit);
    a.single_explicit()
        .filter(|h| h.total() > 0.0)
        .and_then(|h| scale_bounds(&h, factor))
        .map(|h| h.quantile(q))
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filters_parse_and_match() {
        let f = AttrFilter::parse("http.response.status_code >= 500").unwrap();
        assert_eq!(f.key, "http.response.status_code");
        assert!(f.matches(&attrs(&[("http.response.status_code", "503")])));
        assert!(!f.matches(&attrs(&[("http.response.status_code", "404")])));
        assert!(!f.matches(&attrs(&[("http.response.status_code", "x")])));
        assert!(!f.matches(&attrs(&[])));
        let f = AttrFilter::parse("outcome = \"ok\"").unwrap();
        assert!(f.matches(&attrs(&[("outcome", "ok")])));
        let f = AttrFilter::parse("outcome != ok").unwrap();
        assert!(f.matches(&attrs(&[])));
        assert!(!f.matches(&attrs(&[("outcome", "ok")])));
        assert!(AttrFilter::parse("a >= x").is_err());
        assert!(AttrFilter::parse("no operator").is_err());
        assert!(AttrFilter::parse(" = 3").is_err());
    }

    #[test]
    fn point_buckets_hold_the_interval_they_cover() {
        let m = 60_000_000_000;
        assert_eq!(point_bucket(m, m), 0);
        assert_eq!(point_bucket(m + 1, m), m);
        assert_eq!(point_bucket(2 * m, m), m);
    }

    fn explicit(count: f64, bounds: &[f64], counts: &[f64]) -> PointValue {
        PointValue::Explicit {
            count,
            bounds: bounds.to_vec(),
            counts: counts.to_vec(),
        }
    }

    #[test]
    fn one_layout_merges_and_scales_to_ms() {
        let mut b = HistAcc::default();
        b.add(&explicit(3.0, &[0.1, 0.2], &[1.0, 2.0, 0.0]), false);
        b.add(&explicit(2.0, &[0.1, 0.2], &[0.0, 1.0, 1.0]), true);
        let mut c = HistAcc::default();
        c.add(&explicit(4.0, &[0.1, 0.2], &[0.0, 4.0, 0.0]), false);
        assert_eq!((b.count, b.errors), (5.0, 2.0));
        let (hb, hc, _) = latency_pair(&b, &c, "s").unwrap();
        assert_eq!(hb.bounds(), &[100.0, 200.0]);
        assert_eq!(hb.bucket_counts(), &[1.0, 3.0, 1.0]);
        assert_eq!(hc.bucket_counts(), &[0.0, 4.0, 0.0]);
        // A side with no data gets an empty histogram of the same layout.
        let (_, he, _) = latency_pair(&b, &HistAcc::default(), "ms").unwrap();
        assert_eq!(he.total(), 0.0);
    }

    #[test]
    fn two_layouts_are_refused_with_a_reason() {
        let mut b = HistAcc::default();
        b.add(&explicit(1.0, &[0.1, 0.2], &[1.0, 0.0, 0.0]), false);
        let mut c = HistAcc::default();
        c.add(&explicit(1.0, &[0.1, 0.3], &[1.0, 0.0, 0.0]), false);
        let err = latency_pair(&b, &c, "s").unwrap_err();
        assert!(err.contains("2 different bucket layouts"), "{err}");
        // Points without buckets count but have no layout.
        let mut u = HistAcc::default();
        u.add(&explicit(7.0, &[0.1], &[]), false);
        assert_eq!((u.count, u.unbucketed), (7.0, 7.0));
        assert!(latency_pair(&u, &HistAcc::default(), "s").is_err());
    }

    fn exp(scale: i32, offset: i32, counts: &[f64]) -> ExponentialHistogram {
        ExponentialHistogram::positive_only(scale, offset, counts)
    }

    #[test]
    fn exponential_sides_share_bins_at_the_common_scale() {
        // Scale 1: buckets (2^(i/2), 2^((i+1)/2)]; scale 0: (2^i, 2^(i+1)].
        let mut b = HistAcc::default();
        b.add(&PointValue::Exponential(exp(1, 2, &[1.0, 2.0])), false); // (2, 2.83], (2.83, 4]
        let mut c = HistAcc::default();
        c.add(&PointValue::Exponential(exp(0, 2, &[5.0])), false); // (4, 8]
        let (hb, hc, _) = latency_pair(&b, &c, "ms").unwrap();
        assert_eq!(hb.bounds(), hc.bounds());
        // At scale 0: baseline both in (2, 4] (index 1), canary in (4, 8] (index 2).
        assert_eq!(hb.bounds(), &[2.0, 4.0, 8.0]);
        assert_eq!(hb.bucket_counts(), &[0.0, 3.0, 0.0, 0.0]);
        assert_eq!(hc.bucket_counts(), &[0.0, 0.0, 5.0, 0.0]);
        assert_eq!(hb.total() + hc.total(), b.count + c.count);
    }

    #[test]
    fn time_units_convert_to_ms() {
        assert_eq!(to_ms_factor("s"), (1000.0, true));
        assert_eq!(to_ms_factor("ms"), (1.0, true));
        assert_eq!(to_ms_factor("{request}"), (1.0, false));
    }
}
