//! OTLP/JSON metrics: `MetricsData` / `ExportMetricsServiceRequest` objects
//! (`resourceMetrics → scopeMetrics → metrics → <type>.dataPoints`) into [`MetricPoint`]s.
//!
//! Reuses the lenient leaf types, `AnyValue` rendering and id/time parsing of the span decoder.
//! Validation (each finding located by file, line and JSON path, see `docs/metrics.md`):
//! - a point without `timeUnixNano`, or a number point without a value, is rejected;
//! - histogram `explicitBounds` not strictly increasing, or `bucketCounts` whose length is not
//!   `bounds + 1` (when either is present), rejects the point (`bad_metric_point`);
//! - a histogram with a count but no buckets is kept with empty buckets, with a note;
//! - a metric with no name and no data, or a name but no data, is noted;
//! - `aggregationTemporality` 0 (unspecified) on a sum or histogram is noted once per metric.

use super::{
    enum_value, fill_attributes, id, prob, record_issue, time, JBool, JEnum, JInt, JStr, KeyValue,
    Location, Resource, Scope, SpanProblem, JF64,
};
use crate::ingest::IngestOptions;
use crate::model::metrics::{
    count_without_buckets, validate_point, DeltaData, Exemplar, ExpBuckets, MetricKind,
    MetricPoint, PointData, Temporality,
};
use crate::model::quality::{DataQuality, Issue, IssueKind, Severity};
use crate::model::spans::ResourceInfo;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub(super) struct ResourceMetrics<'a> {
    #[serde(borrow, default)]
    resource: Option<Resource<'a>>,
    #[serde(
        borrow,
        default,
        rename = "scopeMetrics",
        alias = "scope_metrics",
        alias = "instrumentationLibraryMetrics",
        alias = "instrumentation_library_metrics"
    )]
    scope_metrics: Option<Vec<ScopeMetrics<'a>>>,
}

#[derive(Deserialize)]
struct ScopeMetrics<'a> {
    #[serde(
        borrow,
        default,
        alias = "instrumentationLibrary",
        alias = "instrumentation_library"
    )]
    scope: Option<Scope<'a>>,
    #[serde(borrow, default)]
    metrics: Option<Vec<Metric<'a>>>,
}

#[derive(Deserialize)]
struct Metric<'a> {
    #[serde(borrow, default)]
    name: Option<JStr<'a>>,
    #[serde(borrow, default)]
    description: Option<JStr<'a>>,
    #[serde(borrow, default)]
    unit: Option<JStr<'a>>,
    #[serde(borrow, default)]
    sum: Option<NumberData<'a>>,
    #[serde(borrow, default)]
    gauge: Option<NumberData<'a>>,
    #[serde(borrow, default)]
    histogram: Option<HistogramData<'a>>,
    #[serde(
        borrow,
        default,
        rename = "exponentialHistogram",
        alias = "exponential_histogram"
    )]
    exp_histogram: Option<ExpHistogramData<'a>>,
    #[serde(borrow, default)]
    summary: Option<SummaryData<'a>>,
}

#[derive(Deserialize)]
struct NumberData<'a> {
    #[serde(borrow, default, rename = "dataPoints", alias = "data_points")]
    points: Option<Vec<NumberPoint<'a>>>,
    #[serde(
        borrow,
        default,
        rename = "aggregationTemporality",
        alias = "aggregation_temporality"
    )]
    temporality: Option<JEnum<'a>>,
    #[serde(default, rename = "isMonotonic", alias = "is_monotonic")]
    monotonic: Option<JBool>,
}

#[derive(Deserialize)]
struct HistogramData<'a> {
    #[serde(borrow, default, rename = "dataPoints", alias = "data_points")]
    points: Option<Vec<HistogramPoint<'a>>>,
    #[serde(
        borrow,
        default,
        rename = "aggregationTemporality",
        alias = "aggregation_temporality"
    )]
    temporality: Option<JEnum<'a>>,
}

#[derive(Deserialize)]
struct ExpHistogramData<'a> {
    #[serde(borrow, default, rename = "dataPoints", alias = "data_points")]
    points: Option<Vec<ExpHistogramPoint<'a>>>,
    #[serde(
        borrow,
        default,
        rename = "aggregationTemporality",
        alias = "aggregation_temporality"
    )]
    temporality: Option<JEnum<'a>>,
}

#[derive(Deserialize)]
struct SummaryData<'a> {
    #[serde(borrow, default, rename = "dataPoints", alias = "data_points")]
    points: Option<Vec<SummaryPoint<'a>>>,
}

/// Fields every point type has.
#[derive(Deserialize)]
struct PointHead<'a> {
    #[serde(borrow, default)]
    attributes: Option<Vec<KeyValue<'a>>>,
    #[serde(default, rename = "startTimeUnixNano", alias = "start_time_unix_nano")]
    start: Option<JInt>,
    #[serde(default, rename = "timeUnixNano", alias = "time_unix_nano")]
    time: Option<JInt>,
    #[serde(borrow, default)]
    exemplars: Option<Vec<ExemplarJ<'a>>>,
    #[serde(default)]
    flags: Option<JInt>,
}

#[derive(Deserialize)]
struct NumberPoint<'a> {
    #[serde(borrow, flatten)]
    head: PointHead<'a>,
    #[serde(default, rename = "asDouble", alias = "as_double")]
    as_double: Option<JF64>,
    #[serde(default, rename = "asInt", alias = "as_int")]
    as_int: Option<JInt>,
}

#[derive(Deserialize)]
struct HistogramPoint<'a> {
    #[serde(borrow, flatten)]
    head: PointHead<'a>,
    #[serde(default)]
    count: Option<JInt>,
    #[serde(default)]
    sum: Option<JF64>,
    #[serde(default)]
    min: Option<JF64>,
    #[serde(default)]
    max: Option<JF64>,
    #[serde(default, rename = "bucketCounts", alias = "bucket_counts")]
    bucket_counts: Option<Vec<JInt>>,
    #[serde(default, rename = "explicitBounds", alias = "explicit_bounds")]
    explicit_bounds: Option<Vec<JF64>>,
}

#[derive(Deserialize)]
struct BucketsJ {
    #[serde(default)]
    offset: Option<JInt>,
    #[serde(default, rename = "bucketCounts", alias = "bucket_counts")]
    bucket_counts: Option<Vec<JInt>>,
}

#[derive(Deserialize)]
struct ExpHistogramPoint<'a> {
    #[serde(borrow, flatten)]
    head: PointHead<'a>,
    #[serde(default)]
    count: Option<JInt>,
    #[serde(default)]
    sum: Option<JF64>,
    #[serde(default)]
    min: Option<JF64>,
    #[serde(default)]
    max: Option<JF64>,
    #[serde(default)]
    scale: Option<JInt>,
    #[serde(default, rename = "zeroCount", alias = "zero_count")]
    zero_count: Option<JInt>,
    #[serde(default, rename = "zeroThreshold", alias = "zero_threshold")]
    zero_threshold: Option<JF64>,
    #[serde(default)]
    positive: Option<BucketsJ>,
    #[serde(default)]
    negative: Option<BucketsJ>,
}

#[derive(Deserialize)]
struct QuantileJ {
    #[serde(default)]
    quantile: Option<JF64>,
    #[serde(default)]
    value: Option<JF64>,
}

#[derive(Deserialize)]
struct SummaryPoint<'a> {
    #[serde(borrow, flatten)]
    head: PointHead<'a>,
    #[serde(default)]
    count: Option<JInt>,
    #[serde(default)]
    sum: Option<JF64>,
    #[serde(default, rename = "quantileValues", alias = "quantile_values")]
    quantiles: Option<Vec<QuantileJ>>,
}

#[derive(Deserialize)]
struct ExemplarJ<'a> {
    #[serde(
        borrow,
        default,
        rename = "filteredAttributes",
        alias = "filtered_attributes"
    )]
    filtered_attributes: Option<Vec<KeyValue<'a>>>,
    #[serde(default, rename = "timeUnixNano", alias = "time_unix_nano")]
    time: Option<JInt>,
    #[serde(default, rename = "asDouble", alias = "as_double")]
    as_double: Option<JF64>,
    #[serde(default, rename = "asInt", alias = "as_int")]
    as_int: Option<JInt>,
    #[serde(borrow, default, rename = "spanId", alias = "span_id")]
    span_id: Option<JStr<'a>>,
    #[serde(borrow, default, rename = "traceId", alias = "trace_id")]
    trace_id: Option<JStr<'a>>,
}

const TEMPORALITY_NAMES: &[&str] = &["UNSPECIFIED", "DELTA", "CUMULATIVE"];

fn bad(field: &'static str, reason: impl Into<String>) -> SpanProblem {
    prob(IssueKind::BadMetricPoint, field, reason)
}

fn wrong(field: &'static str, w: &str) -> SpanProblem {
    prob(
        IssueKind::WrongType,
        field,
        format!("expected a number, got {w}"),
    )
}

fn u64_of(v: &Option<JInt>, field: &'static str) -> Result<u64, SpanProblem> {
    match v {
        None => Ok(0),
        Some(JInt::V(i)) => {
            u64::try_from(*i).map_err(|_| bad(field, format!("negative count {i}")))
        }
        Some(JInt::OutOfRange) => Err(prob(IssueKind::WrongType, field, "integer beyond 64 bits")),
        Some(JInt::Wrong(w)) => Err(wrong(field, w)),
    }
}

fn i32_of(v: &Option<JInt>, field: &'static str) -> Result<i32, SpanProblem> {
    match v {
        None => Ok(0),
        Some(JInt::V(i)) => i32::try_from(*i).map_err(|_| bad(field, format!("{i} out of range"))),
        Some(JInt::OutOfRange) => Err(prob(IssueKind::WrongType, field, "integer beyond 64 bits")),
        Some(JInt::Wrong(w)) => Err(wrong(field, w)),
    }
}

fn f64_opt(v: &Option<JF64>, field: &'static str) -> Result<Option<f64>, SpanProblem> {
    match v {
        None => Ok(None),
        Some(JF64::V(x)) => Ok(Some(*x)),
        Some(JF64::Wrong(w)) => Err(wrong(field, w)),
    }
}

fn counts(v: &Option<Vec<JInt>>, field: &'static str) -> Result<Vec<u64>, SpanProblem> {
    v.iter()
        .flatten()
        .map(|c| u64_of(&Some(*c), field))
        .collect()
}

fn number_value(
    d: &Option<JF64>,
    i: &Option<JInt>,
    field: &'static str,
) -> Result<Option<f64>, SpanProblem> {
    if let Some(x) = f64_opt(d, field)? {
        return Ok(Some(x));
    }
    match i {
        None => Ok(None),
        Some(JInt::V(v)) => Ok(Some(*v as f64)),
        Some(JInt::OutOfRange) => Err(prob(IssueKind::WrongType, field, "integer beyond 64 bits")),
        Some(JInt::Wrong(w)) => Err(wrong(field, w)),
    }
}

/// Context shared by the points of one metric.
struct MetricCtx {
    resource: Arc<ResourceInfo>,
    name: Arc<str>,
    description: Option<Arc<str>>,
    unit: Arc<str>,
    kind: MetricKind,
    temporality: Temporality,
    is_monotonic: bool,
}

/// Decodes the `resourceMetrics` of one object into `out`.
pub(super) fn decode_resource_metrics(
    rms: &[ResourceMetrics],
    at: Location,
    opts: &IngestOptions,
    quality: &mut DataQuality,
    out: &mut Vec<MetricPoint>,
) {
    let file: Arc<str> = Arc::from(at.file);
    for (ri, rm) in rms.iter().enumerate() {
        let res_kvs = rm.resource.as_ref().and_then(|r| r.attributes.as_ref());
        for (si, sm) in rm.scope_metrics.iter().flatten().enumerate() {
            let mut res_attrs = Vec::new();
            fill_attributes(res_kvs, &mut res_attrs, |i, w| {
                record_issue(quality, IssueKind::WrongType, Severity::Note, || {
                    Issue::note(
                        IssueKind::WrongType,
                        at.file,
                        Some(at.line),
                        Some(format!("resourceMetrics[{ri}].resource.attributes[{i}]")),
                        format!("attribute value is {w}; kept as an empty string"),
                    )
                })
            });
            let scope_name = match sm.scope.as_ref().and_then(|s| s.name.as_ref()) {
                Some(JStr::S(n)) if !n.is_empty() => Some(n.to_string()),
                _ => None,
            };
            let resource = Arc::new(ResourceInfo::from_attributes(
                res_attrs,
                scope_name,
                &opts.identity,
            ));
            for (mi, m) in sm.metrics.iter().flatten().enumerate() {
                let path = format!("resourceMetrics[{ri}].scopeMetrics[{si}].metrics[{mi}]");
                decode_metric(m, &resource, &path, at, &file, quality, out);
            }
        }
    }
}

fn note(q: &mut DataQuality, kind: IssueKind, at: Location, field: String, reason: String) {
    record_issue(q, kind, Severity::Note, || {
        Issue::note(kind, at.file, Some(at.line), Some(field), reason)
    });
}

fn text<'x>(v: &'x Option<JStr<'_>>) -> Option<&'x str> {
    match v {
        Some(JStr::S(s)) if !s.is_empty() => Some(s.as_ref()),
        _ => None,
    }
}

fn decode_metric(
    m: &Metric,
    resource: &Arc<ResourceInfo>,
    path: &str,
    at: Location,
    file: &Arc<str>,
    quality: &mut DataQuality,
    out: &mut Vec<MetricPoint>,
) {
    let name = text(&m.name);
    let kinds = [
        m.sum.is_some(),
        m.gauge.is_some(),
        m.histogram.is_some(),
        m.exp_histogram.is_some(),
        m.summary.is_some(),
    ];
    if !kinds.iter().any(|&k| k) {
        let reason = match name {
            None => "metric has no name and no data; ignored".to_string(),
            Some(n) => format!("metric {n:?} has no data (no sum, gauge, histogram, exponentialHistogram or summary); ignored"),
        };
        note(
            quality,
            IssueKind::BadMetricPoint,
            at,
            path.to_string(),
            reason,
        );
        return;
    }
    let mut named = false;
    let mut temporality = |t: &Option<JEnum>, field: &str, quality: &mut DataQuality| {
        let v = match t {
            None => 0,
            Some(e) => match enum_value(
                e,
                "AGGREGATION_TEMPORALITY_",
                TEMPORALITY_NAMES,
                "aggregationTemporality",
                &mut named,
            ) {
                Ok(v) => v,
                Err(p) => {
                    note(
                        quality,
                        p.kind,
                        at,
                        format!("{path}.{field}.aggregationTemporality"),
                        p.reason,
                    );
                    0
                }
            },
        };
        let t = Temporality::from_i32(v);
        if t == Temporality::Unspecified {
            note(
                quality,
                IssueKind::BadMetricPoint,
                at,
                format!("{path}.{field}.aggregationTemporality"),
                "aggregation temporality is unspecified (0); points are kept as reported and not converted to deltas".to_string(),
            );
        }
        t
    };
    let ctx = |kind, temporality, is_monotonic| MetricCtx {
        resource: resource.clone(),
        name: Arc::from(name.unwrap_or("")),
        description: text(&m.description).map(Arc::from),
        unit: Arc::from(text(&m.unit).unwrap_or("")),
        kind,
        temporality,
        is_monotonic,
    };
    let emit = |c: &MetricCtx,
                i: usize,
                field: &str,
                quality: &mut DataQuality,
                r: Result<(PointData, &PointHead), SpanProblem>,
                out: &mut Vec<MetricPoint>| {
        quality.records_read += 1;
        let res = r.and_then(|(data, head)| {
            validate_point(&data).map_err(|(field, reason)| bad(field, reason))?;
            finish_point(c, data, head, at, file, quality).map(|p| (p, head))
        });
        match res {
            Ok((p, _)) => {
                quality.records_ingested += 1;
                out.push(p);
            }
            Err(p) => record_issue(quality, p.kind, Severity::Rejected, || {
                Issue::rejected(
                    p.kind,
                    at.file,
                    Some(at.line),
                    Some(format!("{path}.{field}.dataPoints[{i}].{}", p.field)),
                    p.reason,
                )
            }),
        }
    };
    if let Some(s) = &m.sum {
        let t = temporality(&s.temporality, "sum", quality);
        let mono = matches!(s.monotonic, Some(JBool::V(true)));
        let c = ctx(MetricKind::Sum, t, mono);
        for (i, p) in s.points.iter().flatten().enumerate() {
            emit(&c, i, "sum", quality, number_point(p), out);
        }
    }
    if let Some(g) = &m.gauge {
        let c = ctx(MetricKind::Gauge, Temporality::Unspecified, false);
        for (i, p) in g.points.iter().flatten().enumerate() {
            emit(&c, i, "gauge", quality, number_point(p), out);
        }
    }
    if let Some(h) = &m.histogram {
        let t = temporality(&h.temporality, "histogram", quality);
        let c = ctx(MetricKind::Histogram, t, false);
        for (i, p) in h.points.iter().flatten().enumerate() {
            let r = histogram_point(p);
            if let Ok((data, _)) = &r {
                if let (Some(count), Ok(())) = (count_without_buckets(data), validate_point(data)) {
                    note(
                        quality,
                        IssueKind::BadMetricPoint,
                        at,
                        format!("{path}.histogram.dataPoints[{i}].bucketCounts"),
                        format!(
                            "histogram has count {count} but no buckets; kept with empty buckets"
                        ),
                    );
                }
            }
            emit(&c, i, "histogram", quality, r, out);
        }
    }
    if let Some(h) = &m.exp_histogram {
        let t = temporality(&h.temporality, "exponentialHistogram", quality);
        let c = ctx(MetricKind::ExponentialHistogram, t, false);
        for (i, p) in h.points.iter().flatten().enumerate() {
            emit(&c, i, "exponentialHistogram", quality, exp_point(p), out);
        }
    }
    if let Some(s) = &m.summary {
        let c = ctx(MetricKind::Summary, Temporality::Unspecified, false);
        for (i, p) in s.points.iter().flatten().enumerate() {
            emit(&c, i, "summary", quality, summary_point(p), out);
        }
    }
    if named {
        note(
            quality,
            IssueKind::EnumAsName,
            at,
            format!("{path}.aggregationTemporality"),
            "enum written as its name, not its number as OTLP/JSON requires".to_string(),
        );
    }
}

fn number_point<'p, 'a>(
    p: &'p NumberPoint<'a>,
) -> Result<(PointData, &'p PointHead<'a>), SpanProblem> {
    match number_value(&p.as_double, &p.as_int, "asDouble")? {
        Some(v) => Ok((PointData::Number(v), &p.head)),
        None => Err(bad("asDouble", "point has neither asDouble nor asInt")),
    }
}

fn histogram_point<'p, 'a>(
    p: &'p HistogramPoint<'a>,
) -> Result<(PointData, &'p PointHead<'a>), SpanProblem> {
    let mut bounds = Vec::new();
    for b in p.explicit_bounds.iter().flatten() {
        match b {
            JF64::V(x) => bounds.push(*x),
            JF64::Wrong(w) => return Err(wrong("explicitBounds", w)),
        }
    }
    let buckets = counts(&p.bucket_counts, "bucketCounts")?;
    Ok((
        PointData::Histogram {
            count: u64_of(&p.count, "count")?,
            sum: f64_opt(&p.sum, "sum")?,
            min: f64_opt(&p.min, "min")?,
            max: f64_opt(&p.max, "max")?,
            bounds,
            buckets,
        },
        &p.head,
    ))
}

fn exp_buckets(b: &Option<BucketsJ>, field: &'static str) -> Result<ExpBuckets, SpanProblem> {
    Ok(match b {
        None => ExpBuckets::default(),
        Some(b) => ExpBuckets {
            offset: i32_of(&b.offset, field)?,
            counts: counts(&b.bucket_counts, field)?,
        },
    })
}

fn exp_point<'p, 'a>(
    p: &'p ExpHistogramPoint<'a>,
) -> Result<(PointData, &'p PointHead<'a>), SpanProblem> {
    let scale = i32_of(&p.scale, "scale")?;
    Ok((
        PointData::ExpHistogram {
            count: u64_of(&p.count, "count")?,
            sum: f64_opt(&p.sum, "sum")?,
            min: f64_opt(&p.min, "min")?,
            max: f64_opt(&p.max, "max")?,
            scale,
            zero_count: u64_of(&p.zero_count, "zeroCount")?,
            zero_threshold: f64_opt(&p.zero_threshold, "zeroThreshold")?.unwrap_or(0.0),
            positive: exp_buckets(&p.positive, "positive")?,
            negative: exp_buckets(&p.negative, "negative")?,
        },
        &p.head,
    ))
}

fn summary_point<'p, 'a>(
    p: &'p SummaryPoint<'a>,
) -> Result<(PointData, &'p PointHead<'a>), SpanProblem> {
    let mut quantiles = Vec::new();
    for q in p.quantiles.iter().flatten() {
        let qq = f64_opt(&q.quantile, "quantileValues.quantile")?.unwrap_or(0.0);
        let v = f64_opt(&q.value, "quantileValues.value")?.unwrap_or(0.0);
        quantiles.push((qq, v));
    }
    Ok((
        PointData::Summary {
            count: u64_of(&p.count, "count")?,
            sum: f64_opt(&p.sum, "sum")?.unwrap_or(0.0),
            quantiles,
        },
        &p.head,
    ))
}

fn exemplar(e: &ExemplarJ) -> Result<Exemplar, SpanProblem> {
    let mut b64 = false;
    let mut attrs = Vec::new();
    fill_attributes(e.filtered_attributes.as_ref(), &mut attrs, |_, _| {});
    Ok(Exemplar {
        trace_id: id::<16>(&e.trace_id, "exemplars.traceId", false, &mut b64)
            .ok()
            .flatten(),
        span_id: id::<8>(&e.span_id, "exemplars.spanId", false, &mut b64)
            .ok()
            .flatten(),
        time: match &e.time {
            None => 0,
            t => time(t, "exemplars.timeUnixNano")?,
        },
        value: number_value(&e.as_double, &e.as_int, "exemplars.asDouble")?,
        filtered_attributes: attrs,
    })
}

/// Bit 0 of `DataPointFlags`: the point is a marker with no recorded value.
const FLAG_NO_RECORDED_VALUE: i64 = 1;

fn finish_point(
    c: &MetricCtx,
    data: PointData,
    head: &PointHead,
    at: Location,
    file: &Arc<str>,
    quality: &mut DataQuality,
) -> Result<MetricPoint, SpanProblem> {
    if matches!(head.flags, Some(JInt::V(f)) if f & FLAG_NO_RECORDED_VALUE != 0) {
        return Err(bad(
            "flags",
            "point is flagged NO_RECORDED_VALUE (a staleness marker); not a measurement",
        ));
    }
    let t = time(&head.time, "timeUnixNano")?;
    let start = match &head.start {
        None | Some(JInt::V(0)) => None,
        s => Some(time(s, "startTimeUnixNano")?),
    };
    let mut attrs = Vec::new();
    let mut problems = Vec::new();
    fill_attributes(head.attributes.as_ref(), &mut attrs, |i, w| {
        problems.push((i, w))
    });
    for (i, w) in problems {
        note(
            quality,
            IssueKind::WrongType,
            at,
            format!("{}.attributes[{i}]", c.name),
            format!("attribute value is {w}; kept as an empty string"),
        );
    }
    let exemplars = head
        .exemplars
        .iter()
        .flatten()
        .map(exemplar)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MetricPoint {
        resource: c.resource.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        unit: c.unit.clone(),
        kind: c.kind,
        temporality: c.temporality,
        is_monotonic: c.is_monotonic,
        attributes: attrs,
        start_time: start,
        time: t,
        data,
        delta: DeltaData::None,
        reset: false,
        exemplars,
        source_file: file.clone(),
        source_line: at.line as i64,
    })
}
