//! Cumulative → delta conversion with reset detection, per metric stream.
//!
//! A *stream* is the OTLP timeseries identity (data model spec, "Timeseries"): resource
//! attributes, instrumentation scope, metric name, metric kind and point attributes (attribute
//! order does not matter). Each stream's points are taken in time order (ties in input order).
//!
//! Rules (documented in `docs/metrics.md`):
//! - gauges and summaries: no conversion (summaries' quantiles cannot be differenced);
//! - delta or unspecified temporality: the delta is the reported value;
//! - cumulative, first point of a stream: when `start_time` is set and before `time` the
//!   counter started at `start_time`, so the delta is the reported value; otherwise the point
//!   is a *baseline* and its delta is unknown (NULL);
//! - cumulative, later points: a *reset* is a changed `start_time`, a decrease of a monotonic
//!   sum, a decrease of a histogram's count or of any bucket, or changed histogram bounds (or
//!   an exponential-histogram scale increase). At a reset the delta is the reported value (the
//!   counter restarted, as Prometheus' `increase()` assumes) and a `counter_reset` note is
//!   recorded with the point's file and line; otherwise the delta is the difference from the
//!   previous point. Non-monotonic (up-down) sums may decrease without a reset.
//!
//! Memory: the conversion works on all points of an ingest at once (they are held as
//! [`MetricPoint`]s until the end of the ingest), plus one index and key per point.

use super::metrics::{DeltaData, ExpBuckets, MetricKind, MetricPoint, PointData, Temporality};
use super::quality::{DataQuality, Issue, IssueKind};
use std::collections::BTreeMap;

type Attrs = Vec<(String, String)>;

/// Identity of one stream.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct StreamKey {
    resource: Attrs,
    scope: Option<String>,
    name: String,
    kind: MetricKind,
    attributes: Attrs,
}

fn sorted(a: &[(String, String)]) -> Attrs {
    let mut v = a.to_vec();
    v.sort();
    v
}

fn key_of(p: &MetricPoint) -> StreamKey {
    StreamKey {
        resource: sorted(p.resource.attributes()),
        scope: p.resource.scope_name.clone(),
        name: p.name.to_string(),
        kind: p.kind,
        attributes: sorted(&p.attributes),
    }
}

/// Converts every point's [`MetricPoint::delta`] and [`MetricPoint::reset`] in place; records a
/// `counter_reset` note per detected reset.
pub fn convert(points: &mut [MetricPoint], quality: &mut DataQuality) {
    let mut streams: BTreeMap<StreamKey, Vec<usize>> = BTreeMap::new();
    for (i, p) in points.iter_mut().enumerate() {
        p.reset = false;
        match (p.kind, p.temporality) {
            (MetricKind::Gauge | MetricKind::Summary, _) => p.delta = DeltaData::None,
            (_, Temporality::Cumulative) => {
                streams.entry(key_of(p)).or_default().push(i);
            }
            _ => p.delta = as_delta(&p.data),
        }
    }
    for (_, mut idx) in streams {
        // Stable: equal times keep input order.
        idx.sort_by_key(|&i| points[i].time);
        let mut prev: Option<usize> = None;
        for &i in &idx {
            let (delta, reset) = match prev {
                None => {
                    let p = &points[i];
                    match p.start_time {
                        Some(s) if s < p.time => (as_delta(&p.data), None),
                        _ => (DeltaData::None, None),
                    }
                }
                Some(j) => step(&points[j], &points[i]),
            };
            let p = &mut points[i];
            p.delta = delta;
            if let Some(reason) = reset {
                p.reset = true;
                quality.push(Issue::note(
                    IssueKind::CounterReset,
                    &p.source_file,
                    u64::try_from(p.source_line).ok(),
                    Some(p.name.to_string()),
                    format!("{reason}; the delta of this point is its reported value"),
                ));
            }
            prev = Some(i);
        }
    }
}

/// The reported values as a delta (for delta series, and at resets).
fn as_delta(d: &PointData) -> DeltaData {
    match d {
        PointData::Number(v) => DeltaData::Number(*v),
        PointData::Summary { .. } => DeltaData::None,
        PointData::Histogram {
            count,
            sum,
            buckets,
            ..
        } => DeltaData::Histogram {
            count: *count,
            sum: *sum,
            buckets: buckets.clone(),
        },
        PointData::ExpHistogram {
            count,
            sum,
            zero_count,
            positive,
            negative,
            ..
        } => DeltaData::ExpHistogram {
            count: *count,
            sum: *sum,
            zero_count: *zero_count,
            positive: positive.counts.clone(),
            negative: negative.counts.clone(),
        },
    }
}

fn sub_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

/// Delta of `cur` after `prev` in the same cumulative stream, and the reset reason if any.
fn step(prev: &MetricPoint, cur: &MetricPoint) -> (DeltaData, Option<String>) {
    if let (Some(a), Some(b)) = (prev.start_time, cur.start_time) {
        if a != b {
            return (
                as_delta(&cur.data),
                Some(format!("start time changed from {a} to {b}")),
            );
        }
    }
    let reset = |why: String| (as_delta(&cur.data), Some(why));
    match (&prev.data, &cur.data) {
        (PointData::Number(a), PointData::Number(b)) => {
            if cur.is_monotonic && b < a {
                reset(format!("monotonic sum decreased from {a} to {b}"))
            } else {
                (DeltaData::Number(b - a), None)
            }
        }
        (
            PointData::Histogram {
                count: pc,
                sum: ps,
                bounds: pb,
                buckets: pk,
                ..
            },
            PointData::Histogram {
                count: cc,
                sum: cs,
                bounds: cb,
                buckets: ck,
                ..
            },
        ) => {
            if pb != cb || pk.len() != ck.len() {
                return reset("histogram bucket bounds changed".to_string());
            }
            if cc < pc {
                return reset(format!("histogram count decreased from {pc} to {cc}"));
            }
            let mut buckets = Vec::with_capacity(ck.len());
            for (i, (a, b)) in pk.iter().zip(ck).enumerate() {
                match b.checked_sub(*a) {
                    Some(d) => buckets.push(d),
                    None => {
                        return reset(format!("histogram bucket {i} decreased from {a} to {b}"))
                    }
                }
            }
            (
                DeltaData::Histogram {
                    count: cc - pc,
                    sum: sub_opt(*cs, *ps),
                    buckets,
                },
                None,
            )
        }
        (
            PointData::ExpHistogram {
                count: pc,
                sum: ps,
                scale: pscale,
                zero_count: pz,
                positive: pp,
                negative: pn,
                ..
            },
            PointData::ExpHistogram {
                count: cc,
                sum: cs,
                scale: cscale,
                zero_count: cz,
                positive: cp,
                negative: cn,
                ..
            },
        ) => {
            if cscale > pscale {
                return reset(format!(
                    "exponential histogram scale increased from {pscale} to {cscale}"
                ));
            }
            if cc < pc || cz < pz {
                return reset(format!(
                    "exponential histogram count decreased from {pc} to {cc}"
                ));
            }
            let shift = (pscale - cscale) as u32;
            let (Some(positive), Some(negative)) = (exp_sub(cp, pp, shift), exp_sub(cn, pn, shift))
            else {
                return reset("exponential histogram bucket decreased".to_string());
            };
            (
                DeltaData::ExpHistogram {
                    count: cc - pc,
                    sum: sub_opt(*cs, *ps),
                    zero_count: cz - pz,
                    positive,
                    negative,
                },
                None,
            )
        }
        _ => reset("point type changed".to_string()),
    }
}

/// `cur - prev` per bucket in `cur`'s layout, after merging `prev`'s buckets down by `shift`
/// scale steps (bucket `i` at scale `s` lies in bucket `i >> k` at scale `s - k`). `None` when
/// some bucket decreased or `prev` has counts outside `cur`'s range.
fn exp_sub(cur: &ExpBuckets, prev: &ExpBuckets, shift: u32) -> Option<Vec<u64>> {
    let mut out = cur.counts.clone();
    let lo = i64::from(cur.offset);
    let hi = lo + cur.counts.len() as i64;
    for (i, &c) in prev.counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let idx = (i64::from(prev.offset) + i as i64) >> shift;
        if idx < lo || idx >= hi {
            return None;
        }
        let slot = &mut out[(idx - lo) as usize];
        *slot = slot.checked_sub(c)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spans::ResourceInfo;
    use std::sync::Arc;

    fn point(
        kind: MetricKind,
        temp: Temporality,
        start: Option<i64>,
        time: i64,
        data: PointData,
    ) -> MetricPoint {
        MetricPoint {
            resource: Arc::new(ResourceInfo::from_attributes(
                vec![("service.name".into(), "svc".into())],
                None,
                &crate::model::identity::IdentityConfig::default(),
            )),
            name: Arc::from("m"),
            description: None,
            unit: Arc::from("1"),
            kind,
            temporality: temp,
            is_monotonic: true,
            attributes: vec![("k".into(), "v".into())],
            start_time: start,
            time,
            data,
            delta: DeltaData::None,
            reset: false,
            exemplars: vec![],
            source_file: Arc::from("f.json"),
            source_line: time,
        }
    }

    fn sum(start: Option<i64>, time: i64, v: f64) -> MetricPoint {
        point(
            MetricKind::Sum,
            Temporality::Cumulative,
            start,
            time,
            PointData::Number(v),
        )
    }

    fn deltas(ps: &[MetricPoint]) -> Vec<Option<f64>> {
        ps.iter()
            .map(|p| match p.delta {
                DeltaData::Number(d) => Some(d),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn monotonic_series_differences_and_start_time_baseline() {
        // Out of order on input: the conversion sorts by time within the stream.
        let mut ps = vec![
            sum(Some(0), 20, 15.0),
            sum(Some(0), 10, 5.0),
            sum(Some(0), 30, 15.0),
        ];
        let mut q = DataQuality::default();
        convert(&mut ps, &mut q);
        assert_eq!(deltas(&ps), vec![Some(10.0), Some(5.0), Some(0.0)]);
        assert!(ps.iter().all(|p| !p.reset));
        assert!(q.issues.is_empty());
        // Without a start time the first point is a baseline with unknown delta.
        let mut ps = vec![sum(None, 10, 5.0), sum(None, 20, 7.0)];
        convert(&mut ps, &mut q);
        assert_eq!(deltas(&ps), vec![None, Some(2.0)]);
        // start == time is a baseline too.
        let mut ps = vec![sum(Some(10), 10, 5.0)];
        convert(&mut ps, &mut q);
        assert_eq!(deltas(&ps), vec![None]);
    }

    #[test]
    fn reset_by_decrease_and_by_start_change() {
        let mut ps = vec![
            sum(Some(0), 10, 5.0),
            sum(Some(0), 20, 9.0),
            sum(Some(0), 30, 2.0),
            sum(Some(0), 40, 6.0),
            sum(Some(35), 50, 1.0),
            sum(Some(35), 60, 4.0),
        ];
        let mut q = DataQuality::default();
        convert(&mut ps, &mut q);
        assert_eq!(
            deltas(&ps),
            vec![
                Some(5.0),
                Some(4.0),
                Some(2.0),
                Some(4.0),
                Some(1.0),
                Some(3.0)
            ]
        );
        let resets: Vec<bool> = ps.iter().map(|p| p.reset).collect();
        assert_eq!(resets, vec![false, false, true, false, true, false]);
        assert_eq!(q.counts.get("counter_reset"), Some(&2));
        assert_eq!(q.issues[0].line, Some(30));
        assert_eq!(q.issues[1].line, Some(50));
        assert_eq!(q.issues[1].field.as_deref(), Some("m"));
    }

    #[test]
    fn non_monotonic_sum_may_decrease_and_streams_are_separate() {
        let mut a = sum(Some(0), 10, 5.0);
        a.is_monotonic = false;
        let mut b = sum(Some(0), 20, 3.0);
        b.is_monotonic = false;
        let mut other = sum(Some(0), 15, 100.0);
        other.attributes = vec![("k".into(), "w".into())];
        let mut ps = vec![a, other, b];
        let mut q = DataQuality::default();
        convert(&mut ps, &mut q);
        assert_eq!(deltas(&ps), vec![Some(5.0), Some(100.0), Some(-2.0)]);
        assert!(q.issues.is_empty());
    }

    #[test]
    fn delta_series_sum_to_raw_total() {
        let mut ps: Vec<MetricPoint> = (1..=5)
            .map(|i| {
                point(
                    MetricKind::Sum,
                    Temporality::Delta,
                    Some(i * 10 - 10),
                    i * 10,
                    PointData::Number(i as f64),
                )
            })
            .collect();
        let mut q = DataQuality::default();
        convert(&mut ps, &mut q);
        let total: f64 = deltas(&ps).into_iter().flatten().sum();
        assert_eq!(total, 15.0);
    }

    fn hist(time: i64, count: u64, bounds: Vec<f64>, buckets: Vec<u64>) -> MetricPoint {
        point(
            MetricKind::Histogram,
            Temporality::Cumulative,
            Some(0),
            time,
            PointData::Histogram {
                count,
                sum: Some(count as f64),
                min: None,
                max: None,
                bounds,
                buckets,
            },
        )
    }

    #[test]
    fn histogram_buckets_difference_and_reset() {
        let mut ps = vec![
            hist(10, 3, vec![1.0, 2.0], vec![1, 1, 1]),
            hist(20, 7, vec![1.0, 2.0], vec![2, 3, 2]),
            hist(30, 8, vec![1.0, 2.0], vec![1, 5, 2]),
            hist(40, 9, vec![1.0, 5.0], vec![1, 5, 3]),
        ];
        let mut q = DataQuality::default();
        convert(&mut ps, &mut q);
        let got: Vec<(u64, Vec<u64>, bool)> = ps
            .iter()
            .map(|p| match &p.delta {
                DeltaData::Histogram { count, buckets, .. } => (*count, buckets.clone(), p.reset),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (3, vec![1, 1, 1], false),
                (4, vec![1, 2, 1], false),
                (8, vec![1, 5, 2], true),
                (9, vec![1, 5, 3], true),
            ]
        );
        assert!(q.issues[0].reason.contains("bucket 0 decreased"));
        assert!(q.issues[1].reason.contains("bounds changed"));
    }

    #[test]
    fn exponential_buckets_align_offsets_and_scales() {
        let eh = |time, scale, offset, counts: Vec<u64>| {
            let count = counts.iter().sum();
            point(
                MetricKind::ExponentialHistogram,
                Temporality::Cumulative,
                Some(0),
                time,
                PointData::ExpHistogram {
                    count,
                    sum: None,
                    min: None,
                    max: None,
                    scale,
                    zero_count: 0,
                    zero_threshold: 0.0,
                    positive: ExpBuckets { offset, counts },
                    negative: ExpBuckets::default(),
                },
            )
        };
        // Buckets 2,3 at scale 1 merge into bucket 1 at scale 0.
        let mut ps = vec![eh(10, 1, 2, vec![1, 2]), eh(20, 0, 0, vec![0, 5, 1])];
        let mut q = DataQuality::default();
        convert(&mut ps, &mut q);
        match &ps[1].delta {
            DeltaData::ExpHistogram {
                count, positive, ..
            } => {
                assert_eq!(*count, 3);
                assert_eq!(positive, &vec![0, 2, 1]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!ps[1].reset);
    }
}
