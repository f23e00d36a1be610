//! Analysis: canary vs baseline samples → judged comparisons and a verdict (design §4–§5).
//!
//! Entry point [`analyze`]: [`config::AnalysisConfig`] says what to compare and how;
//! [`judge`] computes estimates, intervals, p-values and classifications ([`kayenta`] for the
//! Kayenta-compatible rule); [`verdict`] scores and decides; [`human_summary`] renders the
//! short text for stdout. Pure and deterministic: the only input besides the arguments is
//! `SOURCE_DATE_EPOCH` for the report time.

pub mod config;
pub mod config_error;
pub mod direction;
pub mod draft;
pub mod findings;
pub mod format;
pub mod judge;
pub mod kayenta;
pub mod looks;
pub mod metric_config;
pub mod metric_judge;
pub mod sequential_judge;
pub mod verdict;

use crate::analysis::config::{AnalysisConfig, Method};
use crate::analysis::findings::{
    AnalysisReport, Classification, DecidedShare, MetricName, Source, Verdict,
    REPORT_SCHEMA_VERSION,
};
use crate::model::comparison::{ComparisonInput, GroupLevel};
use crate::model::metric_data::MetricData;
use crate::model::quality::DataQuality;
use rayon::prelude::*;

/// Analyses `input` with `cfg`; `generated_at` comes from `SOURCE_DATE_EPOCH` when set.
pub fn analyze(
    input: &ComparisonInput,
    cfg: &AnalysisConfig,
    quality: DataQuality,
) -> AnalysisReport {
    analyze_at(input, cfg, quality, generation_time())
}

/// [`analyze`] with an explicit RFC 3339 generation time.
pub fn analyze_at(
    input: &ComparisonInput,
    cfg: &AnalysisConfig,
    quality: DataQuality,
    generated_at: String,
) -> AnalysisReport {
    analyze_with_metrics_at(input, None, cfg, quality, generated_at)
}

/// Analyses spans (`input`) and, when given, metrics: every comparison of both sources goes
/// into one list, so Benjamini–Hochberg, the score and the verdict cover them together
/// ([`metric_judge`]). The evidence rule counts canary requests from spans, or from the
/// request metric when there are no spans.
pub fn analyze_with_metrics(
    input: &ComparisonInput,
    metrics: Option<&MetricData>,
    cfg: &AnalysisConfig,
    quality: DataQuality,
) -> AnalysisReport {
    analyze_with_metrics_at(input, metrics, cfg, quality, generation_time())
}

/// [`analyze_with_metrics`] with an explicit RFC 3339 generation time.
pub fn analyze_with_metrics_at(
    input: &ComparisonInput,
    metrics: Option<&MetricData>,
    cfg: &AnalysisConfig,
    quality: DataQuality,
    generated_at: String,
) -> AnalysisReport {
    let groups: Vec<_> = input
        .groups
        .iter()
        .filter(|g| cfg.levels.contains(&g.key.level))
        .collect();
    // Comparisons are independent until multiple-testing control, and one large group's
    // latency tests can outweigh all the others: one task per (group, metric). The indexed
    // parallel collect keeps input order, so the report does not depend on the thread count.
    let sequential = cfg.method == Method::Sequential;
    let tasks: Vec<_> = groups
        .iter()
        .flat_map(|g| crate::analysis::config::ALL_METRICS.map(|m| (*g, m)))
        // The sequential method judges the error rate, and the quantiles of groups whose
        // durations carry their time buckets, look by look (below).
        .filter(|(g, m)| {
            !(sequential
                && (*m == MetricName::ErrorRate
                    || (judge::quantile_level(*m).is_some()
                        && sequential_judge::judges_latency(g))))
        })
        .collect();
    let mut drafts: Vec<_> = tasks
        .into_par_iter()
        .filter_map(|(g, m)| judge::draft_metric(g, m, cfg))
        .collect();
    if sequential {
        let plan = looks::LookPlan::new(
            input.window,
            input.bucket_ns,
            cfg.sequential.look_interval_ns,
        );
        drafts.extend(sequential_judge::draft_all(&groups, &plan, cfg));
    }
    let first_level = cfg.levels.first().copied().unwrap_or(GroupLevel::Route);
    let mut canary_requests: u64 = groups
        .iter()
        .filter(|g| g.key.level == first_level)
        .map(|g| g.canary.count)
        .sum();
    if let Some(data) = metrics {
        let m = metric_judge::draft_metrics(data, cfg, !input.groups.is_empty());
        if groups.is_empty() {
            canary_requests = m.canary_requests;
        }
        drafts.extend(m.drafts);
    }
    let mut comparisons = judge::finish(drafts, cfg);
    verdict::sort_by_severity(&mut comparisons);
    let d = verdict::decide(&comparisons, cfg, canary_requests);
    let mut definitions = definitions(cfg);
    if comparisons.iter().any(|c| c.source == Source::Metrics) {
        definitions.extend(metric_definitions(cfg));
    }
    AnalysisReport {
        schema_version: REPORT_SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        generated_at,
        verdict: d.verdict,
        score: d.score,
        decided: DecidedShare::of(&comparisons),
        group_scores: d.group_scores,
        drivers: d.drivers,
        summary: d.summary,
        window: input.window,
        baseline: input.baseline.clone(),
        canary: input.canary.clone(),
        config_name: cfg.name.clone(),
        definitions,
        comparisons,
        data_quality: quality,
    }
}

/// Method definitions written into the report, for readers.
pub fn definitions(cfg: &AnalysisConfig) -> Vec<String> {
    let conf = cfg.confidence() * 100.0;
    let mut d = vec![
        "Quantiles: Hyndman–Fan type 7 (linear interpolation between closest ranks, numpy's default).".to_string(),
        format!("Intervals at {conf:.0}% confidence (α = {}); x = baseline, y = canary.", cfg.alpha),
    ];
    if cfg.method == Method::Sequential {
        d.extend(sequential_definitions(cfg));
    }
    match cfg.method {
        Method::Intervals | Method::Sequential => d.extend([
            "error_rate: difference of (weighted) rates in percentage points with the Newcombe hybrid score interval; Fisher's exact test (two-sided) on recorded counts; optional rate ratio with the Katz log interval.".to_string(),
            "latency_pNN: ratio of canary/baseline quantiles with an order-statistic interval; p-value by inverting that interval.".to_string(),
            "latency_shift: Mann–Whitney U (two-sided) and the Hodges–Lehmann shift of log durations, reported as the ratio exp(shift).".to_string(),
            "Multiple testing: Benjamini–Hochberg over every p-value of the report (p_value_adjusted), except Fisher tests whose smallest attainable p-value exceeds α (Tarone 1990), e.g. no errors on either side: they cannot fail and get no adjusted p-value.".to_string(),
            "Classification: fail when the interval excludes no change, adjusted p ≤ α and the estimate is beyond the allowed effect; pass when the interval lies within the allowed effect; inconclusive otherwise (with the minimum detectable effect at the configured power).".to_string(),
            format!("Small samples: with fewer than {} recorded requests (or durations) on a side the test still runs (Mann–Whitney exact when there are no ties, Fisher's exact test, order-statistic intervals where they exist); the comparison fails when significant and its whole interval is beyond the allowed effect, and is otherwise inconclusive (below_minimum): the minimum guards a pass, never a fail.", cfg.min_requests),
        ]),
        Method::Kayenta => d.extend([
            format!("Kayenta NetflixACAJudge rule: Mann–Whitney/Hodges–Lehmann interval of canary − baseline at {conf:.0}%; High when its lower bound exceeds {} × |estimate| and mean ratio ≥ allowedIncrease; Low symmetrically; else Pass.", cfg.kayenta_tolerance),
            "Kayenta inputs: per-request durations for latency_shift; per-time-bucket values for error_rate, latency_p50, latency_p99.".to_string(),
        ]),
        Method::Threshold => d.push(
            "Threshold rule (no statistics): fail when the point estimate is beyond the allowed change.".to_string(),
        ),
    }
    if cfg.method == Method::Sequential {
        // The error rate's and quantiles' fixed-sample definitions do not apply: they are
        // defined above (groups without per-look durations keep the fixed quantile tests, and
        // say so in their `test`).
        d.retain(|t| {
            !t.starts_with("error_rate: difference") && !t.starts_with("latency_pNN: ratio")
        });
    }
    d.push(format!(
        "Score: passes / decided comparisons per group, weighted over groups; inconclusive excluded. Rollback on any critical failure or score < {}; promote at score ≥ {} with ≥ {} canary requests, ≥ {:.0}% of comparisons decided and no inconclusive critical comparison whose interval lies wholly beyond the allowed change; else continue.",
        cfg.marginal_threshold, cfg.pass_threshold, cfg.min_total_requests, cfg.min_decided_fraction * 100.0
    ));
    d
}

/// Definitions of `method = "sequential"` (the latency comparisons keep the fixed-sample
/// definitions that follow them in the report).
fn sequential_definitions(cfg: &AnalysisConfig) -> Vec<String> {
    let q = &cfg.sequential;
    let mut d = vec![
        format!("Sequential method: the window is read as looks every {} s (whole series buckets); per look the cumulative requests and errors of each side are summed from the per-bucket series.", q.look_interval_ns / 1_000_000_000),
        format!("error_rate (sequential): Lindon & Malek (NeurIPS 2022) anytime-valid count test: under no change each error falls in the canary with probability equal to the canary's share of requests so far; Beta-mixture e-value (concentration {}), always-valid p = min(1, min over looks of 1/e); estimate and interval are the error-rate ratio canary/baseline and its confidence sequence at the last look; percentage-point limits become ratio limits at the baseline's rate (with half an error added).", q.concentration),
        "latency_pNN (sequential): Howard & Ramdas (Bernoulli 2022) two-sample test of equal quantiles on the durations seen up to each look (beta-binomial mixture, tuned for 100 requests); the estimate is the ratio of type-7 quantiles canary/baseline and the interval its confidence sequence at the last look, the ratios the test does not reject with the canary divided by them. latency_shift stays the fixed-sample test over the whole window (below).".to_string(),
        "Sequential multiple testing: Bonferroni over the sequential comparisons that can reach significance with their counts (Tarone 1990; family_size K, each at α/K; p_value_adjusted = min(1, K·p)); a comparison fails at the first look where p ≤ α/K and the confidence sequence lies beyond the allowed change, passes when the sequence lies within it with the minimum requests on both sides, else is inconclusive.".to_string(),
    ];
    if let Some(r) = q.traffic_split {
        d.push(format!("request_split (sequential, critical, group traffic): per service (its routes' requests added up), the same test with the configured canary share {r} as the null; the ratio of canary to stable requests per unit of configured share may lie within ±{:.0}%.", q.traffic_split_tolerance * 100.0));
    }
    d
}

/// Definitions of the metric-based comparisons (added when the report has any).
pub fn metric_definitions(cfg: &AnalysisConfig) -> Vec<String> {
    let ma = &cfg.metric_analysis;
    vec![
        format!("Metric comparisons (source = metrics, ids end with {}): points count when their time (the end of their delta interval) is in the window; groups are (service, {}) from the duration histogram ({}) or the request counter ({}); errors are counts with {} ≥ {}.", metric_judge::ID_SUFFIX, ma.route_attribute, ma.latency_histograms.join(", "), ma.request_counter, ma.status_attribute, ma.error_status_min),
        "Metric error_rate: as for spans (Newcombe interval, Fisher's exact test) on histogram or counter counts.".to_string(),
        "Metric latency_pNN: ratio of Prometheus-interpolated histogram quantiles; interval from order-statistic ranks at 1 − α/2 per side widened to the edges of the buckets holding them (a change inside one bucket cannot fail); p-value by inverting that interval.".to_string(),
        "Metric latency_shift: binned Mann–Whitney test (values in a bucket tied); estimate θ = P(canary > baseline) + ½P(tie) with Newcombe's interval; the allowed ratio r maps to Φ(ln r / (σ√2)), σ the baseline's log-duration spread from bucket midpoints.".to_string(),
        "business_ratio: canary/baseline ratio of numerator/denominator counter proportions, Katz log interval, Fisher's exact test; interval_series: Kayenta's rule on per-time-bucket values.".to_string(),
    ]
}

/// Generation time: `SOURCE_DATE_EPOCH` (seconds) when set and valid, else now; RFC 3339 UTC.
pub fn generation_time() -> String {
    generation_time_from(std::env::var("SOURCE_DATE_EPOCH").ok())
}

/// [`generation_time`] given the value of `SOURCE_DATE_EPOCH`.
pub fn generation_time_from(source_date_epoch: Option<String>) -> String {
    let secs = source_date_epoch
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
    rfc3339_seconds(secs)
}

/// RFC 3339 UTC timestamp (`2026-11-21T09:30:00Z`) of Unix seconds.
pub fn rfc3339_seconds(secs: i64) -> String {
    crate::model::time::format_rfc3339(secs.saturating_mul(crate::model::time::NS_PER_SEC))
}

/// Concise text for stdout: verdict, score, window, drivers with their numbers, data quality.
pub fn human_summary(report: &AnalysisReport) -> String {
    let verdict = match report.verdict {
        Verdict::Promote => "PROMOTE",
        Verdict::Rollback => "ROLLBACK",
        Verdict::Continue => "CONTINUE",
    };
    let count = |k: fn(Classification) -> bool| {
        report
            .comparisons
            .iter()
            .filter(|c| k(c.classification))
            .count()
    };
    let sel = |s: &crate::model::comparison::Selector| {
        let mut parts = Vec::new();
        if let Some(t) = &s.track {
            parts.push(format!("track={t}"));
        }
        if let Some(v) = &s.version {
            parts.push(format!("version={v}"));
        }
        if parts.is_empty() {
            "all".to_string()
        } else {
            parts.join(",")
        }
    };
    let mut out = format!(
        "verdict: {verdict}  score {:.1}/100 {}  (config {})\n",
        report.score,
        report.decided.describe(),
        report.config_name
    );
    out.push_str(&format!(
        "window: {} .. {}  baseline {}  canary {}\n",
        rfc3339_seconds(report.window.start_unix_nano.div_euclid(1_000_000_000)),
        rfc3339_seconds(report.window.end_unix_nano.div_euclid(1_000_000_000)),
        sel(&report.baseline),
        sel(&report.canary)
    ));
    out.push_str(&format!(
        "comparisons: {} ({} pass, {} fail, {} inconclusive)\n",
        report.comparisons.len(),
        count(|c| c == Classification::Pass),
        count(Classification::is_fail),
        count(|c| c == Classification::Inconclusive)
    ));
    if !report.drivers.is_empty() {
        out.push_str("drivers:\n");
        for id in &report.drivers {
            if let Some(c) = report.comparisons.iter().find(|c| &c.id == id) {
                let cls = match c.classification {
                    Classification::FailHigh => "fail_high",
                    Classification::FailLow => "fail_low",
                    Classification::Inconclusive => "inconclusive",
                    Classification::Pass => "pass",
                };
                let crit = if c.critical { ", critical" } else { "" };
                out.push_str(&format!("  - {id} [{cls}{crit}]: {}\n", c.reason));
            }
        }
    }
    out.push_str(&format!(
        "data quality: {}\n",
        report.data_quality.summary()
    ));
    out
}

#[cfg(test)]
mod calibration_tests;
#[cfg(test)]
mod sequential_latency_tests;
#[cfg(test)]
mod sequential_tests;
#[cfg(test)]
mod tests;
