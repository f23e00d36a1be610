//! Metric-based comparisons: the same judgement as for spans, computed from OTLP metrics
//! (histograms and counters), drafted into the report's single `comparisons[]` list so that
//! Benjamini–Hochberg, the score and the verdict cover both sources.
//!
//! Definitions (x = baseline, y = canary; docs/metrics-analysis.md has the reader's version):
//! - `error_rate`: errors / requests per route, from the duration histogram's counts split by
//!   the status attribute (≥ 500), or from counters. Judged exactly like spans (Newcombe
//!   interval of the difference, Fisher's exact test) by `judge::draft_one` on the counts.
//! - `latency_pNN`: ratio of Prometheus-interpolated histogram quantiles Q_y/Q_x with the
//!   interval of [`binned_quantile_ratio`]: each side's distribution-free order-statistic
//!   interval at 1 − α/2, widened to the edges of the buckets holding those ranks, combined
//!   as [L_y/U_x, U_y/L_x]. When both quantiles are in the same bucket the interval contains 1,
//!   so a difference inside one bucket can never fail. The p-value inverts that interval (the
//!   largest confidence at which it still excludes 1).
//! - `latency_shift`: binned Mann–Whitney test (all values in a bucket tied) and the
//!   probability of superiority θ = P(Y > X) + ½P(Y = X) with Newcombe's interval; the allowed
//!   ratio r is translated to θ_r = Φ(ln r / (σ̂√2)) — θ of a log-normal latency whose every
//!   duration is multiplied by r, σ̂ the baseline's standard deviation of log durations
//!   estimated from the bucket midpoints. Ties within buckets pull θ towards ½, so the
//!   comparison is conservative.
//! - `business_ratio`: k/n of two counters per service (numerator a subset of the
//!   denominator's events); estimate (k_y/n_y)/(k_x/n_x) with the Katz log interval, Fisher's
//!   exact test on the 2×2 table.
//! - `interval_series`: Kayenta's rule ([`kayenta::judge_values`]) on per-time-bucket values.
//! - Kayenta mode judges `error_rate`, `latency_p50` and `latency_p99` on per-bucket values
//!   (as for spans) and business ratios on per-bucket ratios.
//! - Below `[evidence] min_requests` (bucketed durations, or denominator events, per side) the
//!   binned rank test, the bucket-edge quantile interval and Fisher's test still run and the
//!   comparison is marked `below_minimum`: it may fail, never pass (`judge::finish`).

use crate::analysis::config::{AnalysisConfig, Direction, Method, MetricConfig, ALL_METRICS};
use crate::analysis::findings::{
    Classification, Comparison, MetricName, SampleSizes, SideSummary, Source,
};
use crate::analysis::judge::{self, Draft, Pending, Region};
use crate::analysis::kayenta;
use crate::analysis::metric_config::{parse_filters, RatioConfig, SeriesAggregation, SeriesConfig};
use crate::model::comparison::{
    GroupComparison, GroupKey, GroupLevel, Quantiles, TimeBucket, TrackSample,
};
use crate::model::metric_data::{
    has_histogram, has_number, histogram_groups, latency_pair, number_groups, side_quantile_ms,
    to_ms_factor, AttrFilter, HistAcc, HistogramGroup, MetricData, NumberSide,
};
use crate::stats::binned_rank_test::{
    binned_mann_whitney, binned_quantile_ratio, probability_of_superiority,
};
use crate::stats::distributions::normal_cdf;
use crate::stats::fisher::fisher_exact;
use crate::stats::histogram_quantile::ExplicitHistogram;
use crate::stats::interval_inversion::p_value_by_inversion;
use crate::stats::proportion::rate_ratio;
use crate::stats::{Alternative, Estimate};
use std::collections::BTreeMap;

/// Suffix of every metric comparison id: span ids end with a metric key, which has no `@`, so
/// the two never collide.
pub const ID_SUFFIX: &str = "@metrics";

/// The drafts of all metric comparisons and the canary request count they saw.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDrafts {
    /// Drafts, to be finished together with the span drafts.
    pub drafts: Vec<Draft>,
    /// Canary requests counted by the request metric (histogram count or request counter),
    /// summed over routes: the evidence rule's count when there are no spans.
    pub canary_requests: u64,
}

/// Per-route request counts of one side, with per-bucket counts for Kayenta mode.
#[derive(Debug, Clone, Default, PartialEq)]
struct Counts {
    requests: f64,
    errors: f64,
    series: BTreeMap<i64, (f64, f64)>,
}

fn round(v: f64) -> u64 {
    v.max(0.0).round() as u64
}

fn sample(c: &Counts, h: Option<&HistAcc>, unit: &str) -> TrackSample {
    let q = |p: f64| h.map(|h| side_quantile_ms(h, unit, p)).unwrap_or(f64::NAN);
    let nz = |v: f64| if v.is_finite() { v } else { 0.0 };
    TrackSample {
        count: round(c.requests),
        errors: round(c.errors),
        weighted_count: c.requests.max(0.0),
        weighted_errors: c.errors.max(0.0),
        durations_ms: Vec::new(),
        duration_buckets: Vec::new(),
        quantiles: Quantiles {
            p50: nz(q(0.5)),
            p90: nz(q(0.9)),
            p99: nz(q(0.99)),
            p999: nz(q(0.999)),
        },
    }
}

fn series(c: &Counts, h: Option<&BTreeMap<i64, HistAcc>>, unit: &str) -> Vec<TimeBucket> {
    c.series
        .iter()
        .map(|(&start, &(n, e))| {
            let acc = h.and_then(|h| h.get(&start));
            let q = |p: f64| {
                acc.map(|a| side_quantile_ms(a, unit, p))
                    .unwrap_or(f64::NAN)
            };
            TimeBucket {
                start_unix_nano: start,
                count: round(n),
                errors: round(e),
                weighted_count: n,
                weighted_errors: e,
                p50_ms: q(0.5),
                p99_ms: q(0.99),
            }
        })
        .collect()
}

fn hist_counts(a: &HistAcc, s: &BTreeMap<i64, HistAcc>) -> Counts {
    Counts {
        requests: a.count,
        errors: a.errors,
        series: s.iter().map(|(&k, v)| (k, (v.count, v.errors))).collect(),
    }
}

fn metric_id(service: &str, level: &str, name: &str, key: &str) -> String {
    format!("{service}/{level}/{name}/{key}{ID_SUFFIX}")
}

fn retag(d: &mut Draft, id: String, names: &[String]) {
    d.comparison.id = id;
    d.comparison.source = Source::Metrics;
    d.comparison.metric_names = names.to_vec();
}

#[allow(clippy::too_many_arguments)]
fn blank(
    id: String,
    service: &str,
    route: Option<String>,
    metric: MetricName,
    group: &str,
    critical: bool,
    baseline: SideSummary,
    canary: SideSummary,
    unit: &str,
    names: &[String],
) -> Comparison {
    Comparison {
        route,
        group: group.to_string(),
        critical,
        baseline,
        canary,
        source: Source::Metrics,
        metric_names: names.to_vec(),
        ..Comparison::undecided(id, service.to_string(), metric, unit)
    }
}

fn decided(c: Comparison) -> Draft {
    Draft {
        comparison: c,
        pending: Pending::Decided,
    }
}

/// Drafts every metric comparison the configuration asks for and the data allow. With
/// `have_spans` the per-route request metrics are drafted only when
/// `metric_analysis.with_spans` is set (ratios and series always are).
pub fn draft_metrics(data: &MetricData, cfg: &AnalysisConfig, have_spans: bool) -> MetricDrafts {
    let ma = &cfg.metric_analysis;
    let mut out = MetricDrafts {
        drafts: Vec::new(),
        canary_requests: 0,
    };
    if !ma.enabled {
        return out;
    }
    if have_spans && !ma.with_spans {
        for r in &ma.ratios {
            out.drafts.extend(draft_ratio(data, r, cfg));
        }
        for s in &ma.series {
            out.drafts.extend(draft_series(data, s, cfg));
        }
        return out;
    }
    let hist_name = ma
        .latency_histograms
        .iter()
        .find(|n| has_histogram(data, n))
        .cloned();
    let hgroups: Vec<HistogramGroup> = hist_name
        .as_deref()
        .map(|n| {
            histogram_groups(
                data,
                n,
                &[],
                &ma.route_attribute,
                &ma.status_attribute,
                ma.error_status_min,
            )
        })
        .unwrap_or_default();

    // Error counts per (service, route): explicit counters, else the histogram, else the
    // default request counter.
    let mut counts: RouteCounts = BTreeMap::new();
    let from_counters = |num: &str,
                         num_f: &[AttrFilter],
                         den: &str,
                         den_f: &[AttrFilter],
                         counts: &mut RouteCounts| {
        let group_by = [ma.route_attribute.clone()];
        let n = number_groups(data, num, num_f, &group_by);
        let d = number_groups(data, den, den_f, &group_by);
        let mut names = vec![num.to_string()];
        if den != num {
            names.push(den.to_string());
        }
        for ((service, key), (db, dc)) in d {
            let (nb, nc) = n
                .get(&(service.clone(), key.clone()))
                .cloned()
                .unwrap_or_default();
            let mk = |den: &NumberSide, num: &NumberSide| Counts {
                requests: den.sum,
                errors: num.sum,
                series: den
                    .series
                    .iter()
                    .map(|(&k, &(v, _, _))| {
                        (k, (v, num.series.get(&k).map(|x| x.0).unwrap_or(0.0)))
                    })
                    .collect(),
            };
            let route = key.into_iter().next().unwrap_or_default();
            counts.insert(
                (service, route),
                (mk(&db, &nb), mk(&dc, &nc), names.clone()),
            );
        }
    };
    if let Some(e) = &ma.error_rate {
        from_counters(
            &e.numerator,
            &parse_filters(&e.numerator_filter),
            &e.denominator,
            &parse_filters(&e.denominator_filter),
            &mut counts,
        );
    } else if !hgroups.is_empty() {
        for g in &hgroups {
            counts.insert(
                (g.service.clone(), g.route.clone()),
                (
                    hist_counts(&g.baseline, &g.baseline_series),
                    hist_counts(&g.canary, &g.canary_series),
                    vec![g.metric.clone()],
                ),
            );
        }
    } else if has_number(data, &ma.request_counter) {
        let status = AttrFilter {
            key: ma.status_attribute.clone(),
            op: crate::model::metric_data::CmpOp::Ge,
            value: ma.error_status_min.to_string(),
        };
        let rc = ma.request_counter.clone();
        from_counters(&rc, &[status], &rc, &[], &mut counts);
    }
    out.canary_requests = counts.values().map(|(_, c, _)| round(c.requests)).sum();

    let by_route: BTreeMap<(String, String), &HistogramGroup> = hgroups
        .iter()
        .map(|g| ((g.service.clone(), g.route.clone()), g))
        .collect();
    let mut keys: Vec<(String, String)> = counts.keys().cloned().collect();
    keys.extend(by_route.keys().cloned());
    keys.sort();
    keys.dedup();
    for key in keys {
        let (service, route) = &key;
        let hg = by_route.get(&key).copied();
        let unit = hg.map(|g| g.unit.as_str()).unwrap_or("");
        let empty = Counts::default();
        let (cb, cc, names) = match counts.get(&key) {
            Some((b, c, n)) => (b, c, n.clone()),
            None => (&empty, &empty, Vec::new()),
        };
        let g = GroupComparison {
            key: GroupKey {
                service: service.clone(),
                level: GroupLevel::Route,
                name: route.clone(),
            },
            baseline: sample(cb, hg.map(|g| &g.baseline), unit),
            canary: sample(cc, hg.map(|g| &g.canary), unit),
            baseline_series: series(cb, hg.map(|g| &g.baseline_series), unit),
            canary_series: series(cc, hg.map(|g| &g.canary_series), unit),
        };
        for m in ALL_METRICS {
            let mc = cfg.metrics.get(m);
            if !mc.enabled {
                continue;
            }
            let id = metric_id(
                service,
                "route",
                route,
                crate::analysis::config::metric_key(m),
            );
            if m == MetricName::ErrorRate {
                if counts.contains_key(&key) {
                    let mut d = judge::draft_one(&g, m, mc, cfg);
                    retag(&mut d, id, &names);
                    out.drafts.push(d);
                }
                continue;
            }
            let Some(hg) = hg else { continue };
            let names = vec![hg.metric.clone()];
            let mut d = match cfg.method {
                Method::Kayenta if m == MetricName::LatencyShift => {
                    let mut c = judge::shell(&g, m, mc, "ms");
                    c.reason = "Kayenta mode compares per-request durations for the latency \
                                shift; histograms do not have them"
                        .into();
                    decided(c)
                }
                Method::Kayenta => kayenta::draft(&g, m, mc, cfg),
                _ => draft_latency(&g, hg, m, mc, cfg),
            };
            retag(&mut d, id, &names);
            out.drafts.push(d);
        }
    }
    for r in &ma.ratios {
        out.drafts.extend(draft_ratio(data, r, cfg));
    }
    for s in &ma.series {
        out.drafts.extend(draft_series(data, s, cfg));
    }
    out
}

/// Marks `c` [`Comparison::below_minimum`] when a side has fewer than `[evidence] min_requests`
/// (the comparison is still tested and may fail, never pass: `judge::finish`), and says whether
/// no test can run at all: a side is empty, or the threshold method is below the minimum (a
/// point estimate of a small sample decides nothing). Then `c.reason` says so.
fn too_few(c: &mut Comparison, nb: f64, nc: f64, what: &str, cfg: &AnalysisConfig) -> bool {
    let min = cfg.min_requests as f64;
    let below = nb < min || nc < min;
    if below {
        c.below_minimum = Some(SampleSizes {
            baseline: round(nb),
            canary: round(nc),
            minimum: cfg.min_requests,
        });
    }
    if nb > 0.0 && nc > 0.0 && !(below && cfg.method == Method::Threshold) {
        return false;
    }
    c.reason = if below && cfg.method == Method::Threshold {
        format!(
            "too little data: {} baseline and {} canary {what}, below the minimum of {} per side; the threshold method runs no test",
            round(nb),
            round(nc),
            cfg.min_requests
        )
    } else {
        format!(
            "too little data: {} baseline and {} canary {what}; no test run",
            round(nb),
            round(nc)
        )
    };
    true
}

/// p-value of "ratio = 1" by inverting the binned quantile-ratio interval
/// ([`p_value_by_inversion`]; the interval widens with the confidence).
fn binned_ci_inversion_p(x: &ExplicitHistogram, y: &ExplicitHistogram, q: f64) -> f64 {
    p_value_by_inversion(|conf| {
        binned_quantile_ratio(x, y, q, conf)
            .and_then(|r| r.confidence_interval)
            .is_some_and(|i| i.low > 1.0 || i.high < 1.0)
    })
}

/// Standard deviation of log values of a histogram, each bucket at its geometric midpoint (the
/// lowest bucket at half its upper bound, the `+∞` bucket at twice its lower bound).
fn log_sd(h: &ExplicitHistogram) -> f64 {
    let mut pts = Vec::new();
    for (b, &n) in h.bucket_counts().iter().enumerate() {
        if n <= 0.0 {
            continue;
        }
        let (lo, hi) = h.bucket_range(b);
        let mid = if !hi.is_finite() {
            2.0 * lo
        } else if lo <= 0.0 {
            hi / 2.0
        } else {
            (lo * hi).sqrt()
        };
        if mid > 0.0 && mid.is_finite() {
            pts.push((mid.ln(), n));
        }
    }
    let n: f64 = pts.iter().map(|p| p.1).sum();
    if n < 2.0 {
        return f64::NAN;
    }
    let mean = pts.iter().map(|p| p.0 * p.1).sum::<f64>() / n;
    (pts.iter().map(|p| p.1 * (p.0 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// θ = P(r·Y > X) for independent log-normal X, Y with log-scale spread σ:
/// Φ(ln r / (σ√2)), since ln(rY) − ln X ~ N(ln r, 2σ²). Maps an allowed duration ratio onto the
/// probability-of-superiority scale (checked against numerical integration with scipy in
/// `tests/reference/metric_judge_reference.json`).
pub fn shift_theta(ratio: f64, sigma: f64) -> f64 {
    if ratio <= 0.0 {
        0.0
    } else {
        normal_cdf(ratio.ln() / (sigma * std::f64::consts::SQRT_2))
    }
}

fn draft_latency(
    g: &GroupComparison,
    hg: &HistogramGroup,
    m: MetricName,
    mc: &MetricConfig,
    cfg: &AnalysisConfig,
) -> Draft {
    let unit = if m == MetricName::LatencyShift
        && matches!(cfg.method, Method::Intervals | Method::Sequential)
    {
        "probability"
    } else {
        "ratio"
    };
    let mut c = judge::shell(g, m, mc, unit);
    let region = judge::ratio_region(mc);
    if unit == "ratio" {
        judge::set_region(&mut c, &region);
    }
    let (hb, hc, layout) = match latency_pair(&hg.baseline, &hg.canary, &hg.unit) {
        Ok(p) => p,
        Err(why) => {
            c.reason = format!("{}: not compared: {why}", judge::quantile_label(m));
            return decided(c);
        }
    };
    if too_few(&mut c, hb.total(), hc.total(), "bucketed durations", cfg) {
        return decided(c);
    }
    let (time_unit, known) = (&hg.unit, to_ms_factor(&hg.unit).1);
    let unit_note = if known {
        String::new()
    } else {
        format!(" (unit {time_unit:?} is not a time unit; values used as they are)")
    };
    let conf = cfg.confidence();
    if let Some(q) = judge::quantile_level(m) {
        let label = judge::quantile_label(m);
        let Some(r) = binned_quantile_ratio(&hb, &hc, q, conf) else {
            c.reason = format!("{label}: the histograms are empty");
            return decided(c);
        };
        c.estimate = judge::finite(r.estimate);
        if cfg.method == Method::Threshold {
            c.test = Some("threshold_on_point_estimate".into());
            let res = r.resolution;
            let beyond_bucket = res.low > 1.0 || res.high < 1.0;
            let est = r.estimate;
            (c.classification, c.reason) = if !est.is_finite() {
                (
                    Classification::Inconclusive,
                    format!("baseline {label} is zero, so the ratio is undefined"),
                )
            } else if beyond_bucket && est > region.high {
                (
                    Classification::FailHigh,
                    format!(
                        "{label} changed by {}, beyond the allowed {} (point estimate from {layout}, no statistics)",
                        judge::fmt_value(est, "ratio"),
                        judge::fmt_value(region.high, "ratio")
                    ),
                )
            } else if beyond_bucket && est < region.low {
                (
                    Classification::FailLow,
                    format!(
                        "{label} changed by {}, beyond the allowed {} (point estimate from {layout}, no statistics)",
                        judge::fmt_value(est, "ratio"),
                        judge::fmt_value(region.low, "ratio")
                    ),
                )
            } else {
                (
                    Classification::Pass,
                    format!(
                        "{label} changed by {} (bucket resolution [{}, {}]), within the allowed change (point estimate, no statistics)",
                        judge::fmt_value(est, "ratio"),
                        judge::fmt_value(res.low, "ratio"),
                        judge::fmt_value(res.high, "ratio")
                    ),
                )
            };
            return decided(c);
        }
        let Some(ci) = r.confidence_interval else {
            let need = judge::tail_samples_needed(q, conf);
            c.reason = format!(
                "{label} needs about {need} durations per side for a {:.0}% order-statistic interval; have {} baseline and {} canary{unit_note}",
                conf * 100.0,
                round(hb.total()),
                round(hc.total())
            );
            return decided(c);
        };
        let e = Estimate {
            estimate: if r.estimate.is_finite() {
                r.estimate.clamp(ci.low, ci.high)
            } else {
                r.estimate
            },
            low: ci.low,
            high: ci.high,
        };
        judge::set_estimate(&mut c, &e);
        c.p_value = Some(binned_ci_inversion_p(&hb, &hc, q));
        c.test = Some("binned_quantile_ratio_ci_inversion".into());
        return Draft {
            comparison: c,
            pending: Pending::Interval {
                estimate: e,
                region,
                ratio: None,
            },
        };
    }
    // Latency shift.
    let mw = binned_mann_whitney(
        hb.bucket_counts(),
        hc.bucket_counts(),
        Alternative::TwoSided,
    );
    c.test = Some("binned_mann_whitney_asymptotic".into());
    if mw.p_value.is_finite() {
        c.p_value = Some(mw.p_value);
    }
    if cfg.method == Method::Threshold {
        c.reason =
            "latency shift needs a statistical method; the threshold method does not judge it"
                .into();
        c.p_value = None;
        c.test = None;
        return decided(c);
    }
    let sigma = log_sd(&hb);
    let Some(theta) = probability_of_superiority(hb.bucket_counts(), hc.bucket_counts(), conf)
    else {
        c.reason = "latency shift: the histograms are empty".into();
        return decided(c);
    };
    if !(sigma.is_finite() && sigma > 0.0) {
        c.estimate = judge::finite(theta.estimate);
        c.reason = format!(
            "latency shift: the baseline durations all fall in one bucket ({layout}), so the allowed change cannot be expressed on the bucket scale"
        );
        return decided(c);
    }
    let to_theta = |ratio: f64| shift_theta(ratio, sigma);
    let pregion = Region {
        low: if region.low.is_finite() {
            to_theta(region.low)
        } else {
            f64::NEG_INFINITY
        },
        high: if region.high.is_finite() {
            to_theta(region.high)
        } else {
            f64::INFINITY
        },
        null: 0.5,
    };
    judge::set_region(&mut c, &pregion);
    judge::set_estimate(&mut c, &theta);
    Draft {
        comparison: c,
        pending: Pending::Interval {
            estimate: theta,
            region: pregion,
            ratio: None,
        },
    }
}

fn ratio_region(r: &RatioConfig) -> Region {
    Region::relative(r.direction, r.allowed_increase, r.allowed_decrease)
}

fn draft_ratio(data: &MetricData, r: &RatioConfig, cfg: &AnalysisConfig) -> Vec<Draft> {
    let num = number_groups(data, &r.numerator, &parse_filters(&r.numerator_filter), &[]);
    let den = number_groups(
        data,
        &r.denominator,
        &parse_filters(&r.denominator_filter),
        &[],
    );
    let names = vec![r.numerator.clone(), r.denominator.clone()];
    let mut out = Vec::new();
    for ((service, key), (db, dc)) in &den {
        let (nb, nc) = num
            .get(&(service.clone(), key.clone()))
            .cloned()
            .unwrap_or_default();
        let sum = |n: &NumberSide, d: &NumberSide| SideSummary {
            count: round(d.sum),
            errors: round(n.sum),
            weighted_count: d.sum,
            weighted_errors: n.sum,
            ..SideSummary::default()
        };
        let mut c = blank(
            format!("{service}/ratio/{}{ID_SUFFIX}", r.name),
            service,
            None,
            MetricName::BusinessRatio,
            &r.group,
            r.critical,
            sum(&nb, db),
            sum(&nc, dc),
            "ratio",
            &names,
        );
        let region = ratio_region(r);
        let label = format!("{} ({} / {})", r.name, r.numerator, r.denominator);
        if cfg.method == Method::Kayenta {
            let per = |n: &NumberSide, d: &NumberSide| -> Vec<f64> {
                d.series
                    .iter()
                    .filter(|(_, v)| v.0 > 0.0)
                    .map(|(k, v)| n.series.get(k).map(|x| x.0).unwrap_or(0.0) / v.0)
                    .collect()
            };
            out.push(kayenta::judge_values(
                c,
                per(&nb, db),
                per(&nc, dc),
                &format!("per-interval {label}"),
                r.direction,
                1.0 + r.allowed_increase.unwrap_or(0.0),
                1.0 - r.allowed_decrease.unwrap_or(0.0),
                cfg,
            ));
            continue;
        }
        judge::set_region(&mut c, &region);
        let (kx, nx, ky, ny) = (nb.sum, db.sum, nc.sum, dc.sum);
        if kx < 0.0 || ky < 0.0 || kx > nx || ky > ny {
            c.reason = format!(
                "{label}: the numerator ({kx} baseline, {ky} canary) is not a part of the denominator ({nx} baseline, {ny} canary), so the ratio is not a proportion"
            );
            out.push(decided(c));
            continue;
        }
        if too_few(&mut c, nx, ny, &format!("{} events", r.denominator), cfg) {
            out.push(decided(c));
            continue;
        }
        let point = if kx > 0.0 {
            (ky / ny) / (kx / nx)
        } else {
            f64::NAN
        };
        if cfg.method == Method::Threshold {
            c.estimate = judge::finite(point);
            c.test = Some("threshold_on_point_estimate".into());
            (c.classification, c.reason) = if !point.is_finite() {
                (
                    Classification::Inconclusive,
                    format!("{label}: the baseline ratio is zero"),
                )
            } else if point > region.high {
                (
                    Classification::FailHigh,
                    format!(
                        "{label} changed by {} (point estimate, no statistics)",
                        judge::fmt_value(point, "ratio")
                    ),
                )
            } else if point < region.low {
                (
                    Classification::FailLow,
                    format!(
                        "{label} changed by {} (point estimate, no statistics)",
                        judge::fmt_value(point, "ratio")
                    ),
                )
            } else {
                (
                    Classification::Pass,
                    format!("{label} changed by {}, within the allowed change (point estimate, no statistics)", judge::fmt_value(point, "ratio")),
                )
            };
            out.push(decided(c));
            continue;
        }
        let Some(e) = rate_ratio(kx, nx, ky, ny, cfg.confidence()) else {
            c.reason = format!("{label}: no events");
            out.push(decided(c));
            continue;
        };
        let f = fisher_exact(
            [
                [round(ky), round(ny) - round(ky).min(round(ny))],
                [round(kx), round(nx) - round(kx).min(round(nx))],
            ],
            Alternative::TwoSided,
        );
        c.p_value = Some(f.p_value);
        c.test = Some("fisher_exact_two_sided".into());
        judge::set_estimate(&mut c, &e);
        out.push(Draft {
            comparison: c,
            pending: Pending::Interval {
                estimate: e,
                region,
                ratio: None,
            },
        });
    }
    out
}

/// Baseline values, canary values and unit of one interval series.
type SeriesValues = (Vec<f64>, Vec<f64>, String);

/// Per (service, route): baseline and canary counts and the metric names they came from.
type RouteCounts = BTreeMap<(String, String), (Counts, Counts, Vec<String>)>;

fn draft_series(data: &MetricData, s: &SeriesConfig, cfg: &AnalysisConfig) -> Vec<Draft> {
    let filters = parse_filters(&s.filter);
    let names = vec![s.metric.clone()];
    let bucket_s = data.bucket_ns as f64 / 1e9;
    // (service, group values) → (baseline values, canary values, unit)
    let mut groups: BTreeMap<(String, Vec<String>), SeriesValues> = BTreeMap::new();
    if s.aggregation.is_histogram() {
        // Histograms split by at most the first group_by attribute (the route, typically).
        let key = s.group_by.first().map(String::as_str).unwrap_or("\u{0}");
        let ma = &cfg.metric_analysis;
        for g in histogram_groups(
            data,
            &s.metric,
            &filters,
            key,
            &ma.status_attribute,
            ma.error_status_min,
        ) {
            let value = |a: &HistAcc| -> f64 {
                match s.aggregation {
                    SeriesAggregation::Count => a.count,
                    SeriesAggregation::P50 => side_quantile_ms(a, &g.unit, 0.5),
                    SeriesAggregation::P90 => side_quantile_ms(a, &g.unit, 0.9),
                    SeriesAggregation::P99 => side_quantile_ms(a, &g.unit, 0.99),
                    _ => {
                        if a.count > 0.0 {
                            100.0 * a.errors / a.count
                        } else {
                            f64::NAN
                        }
                    }
                }
            };
            let vals = |m: &BTreeMap<i64, HistAcc>| -> Vec<f64> {
                m.values().map(value).filter(|v| v.is_finite()).collect()
            };
            let unit = match s.aggregation {
                SeriesAggregation::ErrorRate => "percentage_points",
                SeriesAggregation::Count => "value",
                _ if to_ms_factor(&g.unit).1 => "ms",
                _ => "value",
            };
            let gk = if s.group_by.is_empty() {
                Vec::new()
            } else {
                vec![g.route.clone()]
            };
            groups.insert(
                (g.service.clone(), gk),
                (
                    vals(&g.baseline_series),
                    vals(&g.canary_series),
                    unit.into(),
                ),
            );
        }
    } else {
        for ((service, gk), (b, c)) in number_groups(data, &s.metric, &filters, &s.group_by) {
            let vals = |side: &NumberSide| -> Vec<f64> {
                side.series
                    .values()
                    .map(|&(sum, n, max)| match s.aggregation {
                        SeriesAggregation::Rate => sum / bucket_s,
                        SeriesAggregation::Mean => sum / n.max(1) as f64,
                        SeriesAggregation::Max => max,
                        _ => sum,
                    })
                    .filter(|v| v.is_finite())
                    .collect()
            };
            groups.insert((service, gk), (vals(&b), vals(&c), "value".into()));
        }
    }
    let mut out = Vec::new();
    for ((service, gk), (b, c, unit)) in groups {
        let route = (!gk.is_empty()).then(|| gk.join(","));
        let id = match &route {
            Some(r) => format!("{service}/series/{}/{r}{ID_SUFFIX}", s.name),
            None => format!("{service}/series/{}{ID_SUFFIX}", s.name),
        };
        let side = |v: &[f64]| SideSummary {
            count: v.len() as u64,
            ..SideSummary::default()
        };
        let mut comp = blank(
            id,
            &service,
            route,
            MetricName::IntervalSeries,
            &s.group,
            s.critical,
            side(&b),
            side(&c),
            &unit,
            &names,
        );
        let what = format!("per-interval {:?} of {}", s.aggregation, s.metric).to_lowercase();
        if b.is_empty() || c.is_empty() {
            comp.reason = format!(
                "no data (Kayenta Nodata): {} baseline and {} canary {what}",
                b.len(),
                c.len()
            );
            out.push(decided(comp));
            continue;
        }
        comp.unit = unit;
        let direction: Direction = s.direction;
        out.push(kayenta::judge_values(
            comp,
            b,
            c,
            &what,
            direction,
            1.0 + s.allowed_increase.unwrap_or(0.0),
            1.0 - s.allowed_decrease.unwrap_or(0.0),
            cfg,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::config::AnalysisConfig;
    use crate::model::comparison::Side;
    use crate::model::comparison::Window;
    use crate::model::metric_data::{PointValue, SidedPoint};

    const MIN: i64 = 60_000_000_000;

    fn hist(side: Side, status: &str, t: i64, bounds: &[f64], counts: &[f64]) -> SidedPoint {
        SidedPoint {
            side,
            service: "svc".into(),
            metric: "http.server.request.duration".into(),
            unit: "s".into(),
            attributes: [
                ("http.route".to_string(), "/a".to_string()),
                ("http.response.status_code".to_string(), status.to_string()),
            ]
            .into(),
            time_ns: t,
            value: PointValue::Explicit {
                count: counts.iter().sum(),
                bounds: bounds.to_vec(),
                counts: counts.to_vec(),
            },
        }
    }

    fn counter(side: Side, name: &str, t: i64, v: f64) -> SidedPoint {
        SidedPoint {
            side,
            service: "shop".into(),
            metric: name.into(),
            unit: "{order}".into(),
            attributes: Default::default(),
            time_ns: t,
            value: PointValue::Number(v),
        }
    }

    fn data(points: Vec<SidedPoint>) -> MetricData {
        MetricData {
            window: Window {
                start_unix_nano: 0,
                end_unix_nano: 10 * MIN,
            },
            bucket_ns: MIN,
            points,
        }
    }

    fn judged(d: &MetricData, cfg: &AnalysisConfig) -> Vec<Comparison> {
        judge::finish(draft_metrics(d, cfg, false).drafts, cfg)
    }

    fn get<'a>(cs: &'a [Comparison], id: &str) -> &'a Comparison {
        cs.iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no {id}"))
    }

    const B: [f64; 4] = [0.1, 0.2, 0.4, 0.8];

    #[test]
    fn a_shift_inside_one_bucket_never_fails_but_across_buckets_does() {
        let cfg = AnalysisConfig::default_preset();
        // The same counts on both sides: the interpolated p50 cannot move, and
        // whatever happened inside the bucket is invisible.
        let same = data(
            (1..=5)
                .flat_map(|m| {
                    [
                        hist(
                            Side::Baseline,
                            "200",
                            m * MIN,
                            &B,
                            &[0.0, 300.0, 100.0, 0.0, 0.0],
                        ),
                        hist(
                            Side::Canary,
                            "200",
                            m * MIN,
                            &B,
                            &[0.0, 300.0, 100.0, 0.0, 0.0],
                        ),
                    ]
                })
                .collect(),
        );
        let cs = judged(&same, &cfg);
        for c in &cs {
            assert!(
                !matches!(
                    c.classification,
                    Classification::FailHigh | Classification::FailLow
                ),
                "{}: {}",
                c.id,
                c.reason
            );
            assert_eq!(c.source, Source::Metrics);
        }
        let p50 = get(&cs, "svc/route//a/latency_p50@metrics");
        assert!(p50.ci_low.unwrap() <= 1.0 && p50.ci_high.unwrap() >= 1.0);
        // The canary moved two buckets up, to (0.4, 0.8] s: the quantile interval
        // [400/200, 800/100] excludes 1, so p50 and the shift fail. (One bucket up, the
        // interval [200/200, 400/100] still touches 1: the data allow a change of ~0.)
        let moved = data(
            (1..=5)
                .flat_map(|m| {
                    [
                        hist(
                            Side::Baseline,
                            "200",
                            m * MIN,
                            &B,
                            &[0.0, 300.0, 100.0, 0.0, 0.0],
                        ),
                        hist(
                            Side::Canary,
                            "200",
                            m * MIN,
                            &B,
                            &[0.0, 0.0, 0.0, 300.0, 100.0],
                        ),
                    ]
                })
                .collect(),
        );
        let cs = judged(&moved, &cfg);
        let p50 = get(&cs, "svc/route//a/latency_p50@metrics");
        assert_eq!(
            p50.classification,
            Classification::FailHigh,
            "{}",
            p50.reason
        );
        assert!(
            (p50.ci_low.unwrap() - 2.0).abs() < 1e-9 && (p50.ci_high.unwrap() - 8.0).abs() < 1e-9
        );
        let shift = get(&cs, "svc/route//a/latency_shift@metrics");
        assert_eq!(
            shift.classification,
            Classification::FailHigh,
            "{}",
            shift.reason
        );
        assert_eq!(shift.unit, "probability");
        assert!((shift.estimate.unwrap() - 1.0).abs() < 1e-12);
    }

    /// 170 baseline vs 38 canary requests in one interval: below the minimum of 100 the
    /// binned tests still run; a move two buckets up fails, the same histogram does not pass.
    #[test]
    fn below_the_minimum_histograms_fail_a_large_shift_and_never_pass() {
        let cfg = AnalysisConfig::default_preset();
        let one = |canary: [f64; 5]| {
            data(vec![
                hist(
                    Side::Baseline,
                    "200",
                    MIN,
                    &B,
                    &[10.0, 120.0, 40.0, 0.0, 0.0],
                ),
                hist(Side::Canary, "200", MIN, &B, &canary),
            ])
        };
        let cs = judged(&one([0.0, 0.0, 4.0, 30.0, 4.0]), &cfg);
        for c in &cs {
            let s = c.below_minimum.expect("below the minimum");
            assert_eq!(
                (s.baseline, s.canary, s.minimum),
                (170, 38, 100),
                "{}",
                c.id
            );
            assert_ne!(c.classification, Classification::Pass, "{}", c.id);
        }
        for id in ["latency_p50", "latency_shift"] {
            let c = get(&cs, &format!("svc/route//a/{id}@metrics"));
            assert_eq!(c.classification, Classification::FailHigh, "{}", c.reason);
        }
        let cs = judged(&one([2.0, 27.0, 9.0, 0.0, 0.0]), &cfg);
        for c in &cs {
            assert_eq!(c.classification, Classification::Inconclusive, "{}", c.id);
            assert!(
                c.reason.contains("too little data"),
                "{}: {}",
                c.id,
                c.reason
            );
        }
    }

    #[test]
    fn error_rate_comes_from_the_status_attribute() {
        let cfg = AnalysisConfig::default_preset();
        let d = data(vec![
            hist(Side::Baseline, "200", MIN, &B, &[0.0, 990.0, 0.0, 0.0, 0.0]),
            hist(Side::Baseline, "503", MIN, &B, &[0.0, 10.0, 0.0, 0.0, 0.0]),
            hist(Side::Canary, "200", MIN, &B, &[0.0, 900.0, 0.0, 0.0, 0.0]),
            hist(Side::Canary, "500", MIN, &B, &[0.0, 100.0, 0.0, 0.0, 0.0]),
            hist(Side::Canary, "404", MIN, &B, &[0.0, 5.0, 0.0, 0.0, 0.0]),
        ]);
        let m = draft_metrics(&d, &cfg, false);
        assert_eq!(m.canary_requests, 1005);
        let cs = judge::finish(m.drafts, &cfg);
        let e = get(&cs, "svc/route//a/error_rate@metrics");
        assert_eq!((e.baseline.errors, e.baseline.count), (10, 1000));
        assert_eq!((e.canary.errors, e.canary.count), (100, 1005));
        assert_eq!(e.classification, Classification::FailHigh, "{}", e.reason);
        assert_eq!(
            e.metric_names,
            vec!["http.server.request.duration".to_string()]
        );
    }

    fn requests(side: Side, status: &str, v: f64) -> SidedPoint {
        let mut p = counter(side, "http.server.requests", MIN, v);
        p.attributes = [
            ("http.route".to_string(), "/pay".to_string()),
            ("http.response.status_code".to_string(), status.to_string()),
        ]
        .into();
        p
    }

    #[test]
    fn request_counter_gives_the_error_rate_without_a_histogram() {
        let pts = vec![
            requests(Side::Baseline, "200", 995.0),
            requests(Side::Baseline, "500", 5.0),
            requests(Side::Canary, "200", 940.0),
            requests(Side::Canary, "502", 60.0),
        ];
        let cfg = AnalysisConfig::default_preset();
        let cs = judged(&data(pts.clone()), &cfg);
        // Only the error rate: a counter has no durations.
        assert_eq!(cs.len(), 1, "{cs:?}");
        let e = get(&cs, "shop/route//pay/error_rate@metrics");
        assert_eq!((e.baseline.errors, e.baseline.count), (5, 1000));
        assert_eq!((e.canary.errors, e.canary.count), (60, 1000));
        assert_eq!(e.classification, Classification::FailHigh, "{}", e.reason);
        assert_eq!(e.metric_names, vec!["http.server.requests".to_string()]);
        // The same from an explicit counter configuration with a stricter filter: only 502s.
        let cfg = AnalysisConfig::from_toml_str(
            "[metric_analysis.error_rate]\nnumerator = \"http.server.requests\"\nnumerator_filter = [\"http.response.status_code = 500\"]\ndenominator = \"http.server.requests\"\n",
            "t.toml",
        )
        .unwrap();
        let cs = judged(&data(pts), &cfg);
        let e = get(&cs, "shop/route//pay/error_rate@metrics");
        assert_eq!((e.baseline.errors, e.canary.errors), (5, 0));
        assert_ne!(e.classification, Classification::FailHigh);
    }

    fn ratio_cfg() -> AnalysisConfig {
        AnalysisConfig::from_toml_str(
            "[[metric_analysis.ratios]]\nname = \"conversion\"\nnumerator = \"placed\"\ndenominator = \"attempts\"\ndirection = \"decrease\"\nallowed_decrease = 0.05\n",
            "t.toml",
        )
        .unwrap()
    }

    #[test]
    fn a_conversion_drop_fails_low_and_an_equal_ratio_passes() {
        let cfg = ratio_cfg();
        let run = |canary_placed: f64| {
            let d = data(vec![
                counter(Side::Baseline, "attempts", MIN, 2000.0),
                counter(Side::Baseline, "placed", MIN, 1880.0),
                counter(Side::Canary, "attempts", MIN, 2000.0),
                counter(Side::Canary, "placed", MIN, canary_placed),
            ]);
            judged(&d, &cfg)
        };
        let cs = run(1504.0);
        let r = get(&cs, "shop/ratio/conversion@metrics");
        assert_eq!(r.classification, Classification::FailLow, "{}", r.reason);
        assert!((r.estimate.unwrap() - 0.8).abs() < 1e-12);
        assert_eq!(r.allowed_decrease, Some(0.95));
        let cs = run(1880.0);
        let r = get(&cs, "shop/ratio/conversion@metrics");
        assert_eq!(r.classification, Classification::Pass, "{}", r.reason);
        // A numerator larger than the denominator is not a proportion.
        let cs = run(2500.0);
        let r = get(&cs, "shop/ratio/conversion@metrics");
        assert_eq!(r.classification, Classification::Inconclusive);
        assert!(
            r.reason.contains("not a part of the denominator"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn interval_series_uses_kayenta_and_detects_a_rate_jump() {
        let cfg = AnalysisConfig::from_toml_str(
            "[[metric_analysis.series]]\nname = \"rate\"\nmetric = \"placed\"\naggregation = \"rate\"\n",
            "t.toml",
        )
        .unwrap();
        let pts = (1..=10)
            .flat_map(|m| {
                [
                    counter(Side::Baseline, "placed", m * MIN, 60.0 + (m % 3) as f64),
                    counter(Side::Canary, "placed", m * MIN, 120.0 + (m % 3) as f64),
                ]
            })
            .collect();
        let cs = judged(&data(pts), &cfg);
        let s = get(&cs, "shop/series/rate@metrics");
        assert_eq!(s.classification, Classification::FailHigh, "{}", s.reason);
        assert_eq!(s.test.as_deref(), Some("kayenta_mann_whitney"));
        assert_eq!((s.baseline.count, s.canary.count), (10, 10));
        assert!((s.effect_size.unwrap() - 2.0).abs() < 0.05);
    }

    #[test]
    fn shift_theta_and_log_sd_match_scipy() {
        let r: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/reference/metric_judge_reference.json"
        ))
        .unwrap();
        for c in r["theta"].as_array().unwrap() {
            let (s, ratio, want) = (
                c["sigma"].as_f64().unwrap(),
                c["ratio"].as_f64().unwrap(),
                c["theta"].as_f64().unwrap(),
            );
            let got = shift_theta(ratio, s);
            assert!(
                (got - want).abs() < 1e-8,
                "σ {s} r {ratio}: {got} vs {want}"
            );
        }
        for c in r["log_sd"].as_array().unwrap() {
            let f = |k: &str| -> Vec<f64> {
                c[k].as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect()
            };
            let h = ExplicitHistogram::new(f("bounds"), f("counts")).unwrap();
            let want = c["log_sd"].as_f64().unwrap();
            let got = log_sd(&h);
            assert!(
                (got - want).abs() < 1e-10 * want.max(1.0),
                "{got} vs {want}"
            );
        }
    }

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../examples/metrics-canary.toml");
        let c = AnalysisConfig::from_toml_str(text, "examples/metrics-canary.toml").unwrap();
        assert_eq!(c.metric_analysis.ratios.len(), 1);
        assert_eq!(c.metric_analysis.series.len(), 2);
        assert!(c.metric_analysis.error_rate.is_some());
        let w = c.effective_weights();
        assert_eq!(w["business"], 20.0);
        assert!(w.contains_key("traffic"));
    }
}
