//! OTLP protobuf metrics (`MetricsData` / `ExportMetricsServiceRequest`) into [`MetricPoint`]s,
//! with the same validation and data-quality entries as the OTLP/JSON metrics reader (issue
//! `line` = frame number; `field` = the JSON-style path of the point).

use super::messages::{
    exemplar, exponential_histogram_data_point::Buckets, metric, number_data_point, Exemplar,
    MetricsData,
};
use super::render_attributes;
use crate::ingest::IngestOptions;
use crate::model::metrics::{
    count_without_buckets, validate_point, DeltaData, Exemplar as CanonExemplar, ExpBuckets,
    MetricKind, MetricPoint, PointData, Temporality,
};
use crate::model::quality::{DataQuality, Issue, IssueKind};
use crate::model::spans::ResourceInfo;
use std::sync::Arc;

/// Bit 0 of `DataPointFlags`: no recorded value (staleness marker).
const FLAG_NO_RECORDED_VALUE: u32 = 1;

/// Whether a decoded message carries at least one metric with data.
pub fn has_metric_data(m: &MetricsData) -> bool {
    m.resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .any(|m| m.data.is_some())
}

fn fixed<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    <[u8; N]>::try_from(b)
        .ok()
        .filter(|a| a.iter().any(|&x| x != 0))
}

fn exemplars(ex: &[Exemplar]) -> Vec<CanonExemplar> {
    ex.iter()
        .map(|e| CanonExemplar {
            trace_id: fixed::<16>(&e.trace_id),
            span_id: fixed::<8>(&e.span_id),
            time: i64::try_from(e.time_unix_nano).unwrap_or(i64::MAX),
            value: e.value.map(|v| match v {
                exemplar::Value::AsDouble(d) => d,
                exemplar::Value::AsInt(i) => i as f64,
            }),
            filtered_attributes: render_attributes(&e.filtered_attributes),
        })
        .collect()
}

fn buckets(b: &Option<Buckets>) -> ExpBuckets {
    b.as_ref()
        .map(|b| ExpBuckets {
            offset: b.offset,
            counts: b.bucket_counts.clone(),
        })
        .unwrap_or_default()
}

/// A converted point, or the `(field, reason)` of its rejection.
type PointResult = Result<PointData, (&'static str, String)>;

/// The fields every point type shares, borrowed from the message.
struct Head<'m> {
    attributes: &'m [super::messages::KeyValue],
    start: u64,
    time: u64,
    flags: u32,
    exemplars: &'m [Exemplar],
}

/// Decodes every point of `m`, appending accepted points to `out`; `frame` locates issues and
/// becomes `source_line`. Counts go to `quality`.
pub fn decode_metrics_data(
    m: &MetricsData,
    file: &str,
    frame: u64,
    opts: &IngestOptions,
    quality: &mut DataQuality,
    out: &mut Vec<MetricPoint>,
) {
    let file_arc: Arc<str> = Arc::from(file);
    let note = |q: &mut DataQuality, field: String, reason: String| {
        q.push(Issue::note(
            IssueKind::BadMetricPoint,
            file,
            Some(frame),
            Some(field),
            reason,
        ))
    };
    for (ri, rm) in m.resource_metrics.iter().enumerate() {
        let res_attrs = rm
            .resource
            .as_ref()
            .map(|r| render_attributes(&r.attributes))
            .unwrap_or_default();
        for (si, sm) in rm.scope_metrics.iter().enumerate() {
            let scope_name = sm
                .scope
                .as_ref()
                .map(|s| s.name.clone())
                .filter(|n| !n.is_empty());
            let resource = Arc::new(ResourceInfo::from_attributes(
                res_attrs.clone(),
                scope_name,
                &opts.identity,
            ));
            for (mi, met) in sm.metrics.iter().enumerate() {
                let path = format!("resourceMetrics[{ri}].scopeMetrics[{si}].metrics[{mi}]");
                let Some(data) = &met.data else {
                    let reason = if met.name.is_empty() {
                        "metric has no name and no data; ignored".to_string()
                    } else {
                        format!("metric {:?} has no data; ignored", met.name)
                    };
                    note(quality, path, reason);
                    continue;
                };
                let (kind, field, temporality, mono) = match data {
                    metric::Data::Gauge(_) => (MetricKind::Gauge, "gauge", None, false),
                    metric::Data::Sum(s) => (
                        MetricKind::Sum,
                        "sum",
                        Some(s.aggregation_temporality),
                        s.is_monotonic,
                    ),
                    metric::Data::Histogram(h) => (
                        MetricKind::Histogram,
                        "histogram",
                        Some(h.aggregation_temporality),
                        false,
                    ),
                    metric::Data::ExponentialHistogram(h) => (
                        MetricKind::ExponentialHistogram,
                        "exponentialHistogram",
                        Some(h.aggregation_temporality),
                        false,
                    ),
                    metric::Data::Summary(_) => (MetricKind::Summary, "summary", None, false),
                };
                let temporality = match temporality {
                    Some(t) => {
                        let t = Temporality::from_i32(t);
                        if t == Temporality::Unspecified {
                            note(
                                quality,
                                format!("{path}.{field}.aggregationTemporality"),
                                "aggregation temporality is unspecified (0); points are kept as reported and not converted to deltas".to_string(),
                            );
                        }
                        t
                    }
                    None => Temporality::Unspecified,
                };
                // The point types differ per data kind but share these fields.
                macro_rules! head {
                    ($p:expr) => {
                        Head {
                            attributes: &$p.attributes,
                            start: $p.start_time_unix_nano,
                            time: $p.time_unix_nano,
                            flags: $p.flags,
                            exemplars: &$p.exemplars,
                        }
                    };
                }
                let mut points: Vec<(Head, PointResult)> = Vec::new();
                match data {
                    metric::Data::Gauge(g) => {
                        for p in &g.data_points {
                            points.push((head!(p), number(p.value)));
                        }
                    }
                    metric::Data::Sum(s) => {
                        for p in &s.data_points {
                            points.push((head!(p), number(p.value)));
                        }
                    }
                    metric::Data::Histogram(h) => {
                        for p in &h.data_points {
                            points.push((
                                head!(p),
                                Ok(PointData::Histogram {
                                    count: p.count,
                                    sum: p.sum,
                                    min: p.min,
                                    max: p.max,
                                    bounds: p.explicit_bounds.clone(),
                                    buckets: p.bucket_counts.clone(),
                                }),
                            ));
                        }
                    }
                    metric::Data::ExponentialHistogram(h) => {
                        for p in &h.data_points {
                            points.push((
                                head!(p),
                                Ok(PointData::ExpHistogram {
                                    count: p.count,
                                    sum: p.sum,
                                    min: p.min,
                                    max: p.max,
                                    scale: p.scale,
                                    zero_count: p.zero_count,
                                    zero_threshold: p.zero_threshold,
                                    positive: buckets(&p.positive),
                                    negative: buckets(&p.negative),
                                }),
                            ));
                        }
                    }
                    metric::Data::Summary(s) => {
                        for p in &s.data_points {
                            points.push((
                                Head {
                                    attributes: &p.attributes,
                                    start: p.start_time_unix_nano,
                                    time: p.time_unix_nano,
                                    flags: p.flags,
                                    exemplars: &[],
                                },
                                Ok(PointData::Summary {
                                    count: p.count,
                                    sum: p.sum,
                                    quantiles: p
                                        .quantile_values
                                        .iter()
                                        .map(|q| (q.quantile, q.value))
                                        .collect(),
                                }),
                            ));
                        }
                    }
                }
                let name: Arc<str> = Arc::from(met.name.as_str());
                let description = Some(met.description.as_str())
                    .filter(|d| !d.is_empty())
                    .map(Arc::from);
                let unit: Arc<str> = Arc::from(met.unit.as_str());
                for (i, (head, data)) in points.into_iter().enumerate() {
                    quality.records_read += 1;
                    let checked = data.and_then(|d| {
                        validate_point(&d)?;
                        if head.flags & FLAG_NO_RECORDED_VALUE != 0 {
                            return Err((
                                "flags",
                                "point is flagged NO_RECORDED_VALUE (a staleness marker); not a measurement".to_string(),
                            ));
                        }
                        if head.time == 0 {
                            return Err(("timeUnixNano", "absent".to_string()));
                        }
                        let t = i64::try_from(head.time)
                            .map_err(|_| ("timeUnixNano", "beyond year 2262".to_string()))?;
                        let s = match head.start {
                            0 => None,
                            s => Some(i64::try_from(s).map_err(|_| {
                                ("startTimeUnixNano", "beyond year 2262".to_string())
                            })?),
                        };
                        Ok((d, t, s))
                    });
                    let (d, t, s) = match checked {
                        Ok(v) => v,
                        Err((f, reason)) => {
                            let kind = if f == "timeUnixNano" && reason == "absent" {
                                IssueKind::MissingField
                            } else {
                                IssueKind::BadMetricPoint
                            };
                            quality.push(Issue::rejected(
                                kind,
                                file,
                                Some(frame),
                                Some(format!("{path}.{field}.dataPoints[{i}].{f}")),
                                reason,
                            ));
                            quality.records_rejected += 1;
                            continue;
                        }
                    };
                    if let Some(c) = count_without_buckets(&d) {
                        note(
                            quality,
                            format!("{path}.{field}.dataPoints[{i}].bucketCounts"),
                            format!(
                                "histogram has count {c} but no buckets; kept with empty buckets"
                            ),
                        );
                    }
                    quality.records_ingested += 1;
                    out.push(MetricPoint {
                        resource: resource.clone(),
                        name: name.clone(),
                        description: description.clone(),
                        unit: unit.clone(),
                        kind,
                        temporality,
                        is_monotonic: mono,
                        attributes: render_attributes(head.attributes),
                        start_time: s,
                        time: t,
                        data: d,
                        delta: DeltaData::None,
                        reset: false,
                        exemplars: exemplars(head.exemplars),
                        source_file: file_arc.clone(),
                        source_line: frame as i64,
                    });
                }
            }
        }
    }
}

fn number(v: Option<number_data_point::Value>) -> PointResult {
    match v {
        Some(number_data_point::Value::AsDouble(d)) => Ok(PointData::Number(d)),
        Some(number_data_point::Value::AsInt(i)) => Ok(PointData::Number(i as f64)),
        None => Err((
            "asDouble",
            "point has neither asDouble nor asInt".to_string(),
        )),
    }
}
