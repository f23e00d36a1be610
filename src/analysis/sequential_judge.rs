//! `method = "sequential"`: error rates and the request split judged look by look with the
//! anytime-valid count test of Lindon & Malek (NeurIPS 2022, `stats::sequential`).
//!
//! Per group the window is read as looks ([`LookPlan`]); the cumulative requests and errors
//! of each side at every look are merged from the per-bucket series ([`LookPlan::cumulative`]).
//! - `error_rate`: under no change each error falls in the canary with probability equal to
//!   the canary's share of requests. That share is taken from the requests seen up to the
//!   look (a plug-in: conditional on the requests it is the null share of the Poisson model of
//!   Lindon & Malek §5; the A/A tests below measure what the plug-in costs). The confidence
//!   sequence is on the error-rate ratio canary/baseline.
//! - `request_split` (with `[sequential] traffic_split`): under no change each request falls in
//!   the canary with the configured share; the sequence is on the ratio of canary to stable
//!   requests per unit of configured share (1 = the split as configured).
//!
//! Multiple testing: Bonferroni over the sequential comparisons of the report — each is tested
//! at `α/m` and its confidence sequence has coverage `1 − α/m`, so the chance that any of them
//! ever fails under no change is at most α over all looks together (Ville's inequality per
//! test plus the union bound). Benjamini–Hochberg on always-valid p-values stopped at a
//! data-dependent look has no such guarantee without independence; e-BH (Wang & Ramdas, JRSSB
//! 2022) would, and is a possible refinement. The fixed-sample comparisons (latency) keep their
//! own Benjamini–Hochberg family.
//!
//! A comparison fails at the first look where its always-valid p-value is at most `α/m` and
//! its confidence sequence lies wholly beyond the allowed change; it passes at the first look
//! where the sequence lies within the allowed change and both sides have at least
//! `[evidence] min_requests` requests (and still does at the last look); otherwise it is
//! inconclusive. The minimums guard a pass, never a fail.

use crate::analysis::config::{AnalysisConfig, Combine, MetricConfig};
use crate::analysis::direction::Direction;
use crate::analysis::draft::{finite, shell, Draft, Pending, Region};
use crate::analysis::findings::{
    Classification, Comparison, MetricName, SampleSizes, SequentialSummary,
};
use crate::analysis::format::fmt_value;
use crate::analysis::judge::{quantile_label, quantile_level, ratio_region};
use crate::analysis::looks::{LookCounts, LookPlan};
use crate::model::comparison::{GroupComparison, GroupKey, TimeBucket, TrackSample};
use crate::model::time::format_rfc3339_seconds;
use crate::stats::order_statistics::{Growing, OrderStatistics, Sorted};
use crate::stats::quantile::quantile_type7;
use crate::stats::quantile_sequence::{quantile_ab_log_e_value, QuantileAbTest, Tuning};
use crate::stats::sequential::SequentialCountTest;
use crate::stats::Interval;
use rayon::prelude::*;

/// The `test` name written into sequential count comparisons.
pub const TEST_NAME: &str = "lindon_malek_sequential_count";
/// The `test` name written into sequential latency-quantile comparisons.
pub const QUANTILE_TEST_NAME: &str = "howard_ramdas_sequential_quantile";

/// The state of one comparison's test at one look.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LookState {
    log_e_value: f64,
    /// Always-valid p-value (running minimum of 1/e).
    p_value: f64,
    /// Confidence sequence for the ratio, intersected over looks.
    ratio: Interval,
    null_share: f64,
    region: Region,
    /// Both sides have the minimum number of requests.
    minimum_met: bool,
    /// The confidence sequence at this look lies wholly above / below the allowed region.
    beyond_high: bool,
    beyond_low: bool,
    /// The confidence sequence at this look lies within the allowed region.
    within: bool,
}

impl LookState {
    /// The state of a count test: the verdict flags read off its confidence sequence.
    fn of_interval(
        log_e_value: f64,
        p_value: f64,
        ratio: Interval,
        null_share: f64,
        region: Region,
        minimum_met: bool,
    ) -> Self {
        LookState {
            log_e_value,
            p_value,
            ratio,
            null_share,
            region,
            minimum_met,
            beyond_high: ratio.low > region.high,
            beyond_low: ratio.high < region.low,
            within: ratio.low >= region.low && ratio.high <= region.high,
        }
    }
}

/// Runs the count test over the looks. `looks` gives, per look, the null canary share (`None`
/// when it is undefined, e.g. no requests on a side yet: the look adds no evidence), the
/// cumulative canary and stable events, the acceptable ratio region and whether the minimums
/// are met.
fn run(
    looks: impl Iterator<Item = (Option<f64>, u64, u64, Region, bool)>,
    level: f64,
    k: f64,
) -> Vec<LookState> {
    let mut p = 1.0f64;
    let mut ratio = Interval {
        low: 0.0,
        high: f64::INFINITY,
    };
    let mut log_e = 0.0;
    let mut share = f64::NAN;
    looks
        .map(|(rho, canary, stable, region, minimum_met)| {
            if let Some(rho) = rho {
                // A fresh test on the cumulative counts equals the incremental one when ρ
                // stays put; it also lets the plug-in ρ follow the requests look by look.
                if let Ok(mut t) = SequentialCountTest::new(rho, level, k) {
                    let look = t.update(canary, stable);
                    log_e = look.log_e_value;
                    p = p.min(look.p_value);
                    ratio = Interval {
                        low: ratio.low.max(look.rate_ratio.low),
                        high: ratio.high.min(look.rate_ratio.high),
                    };
                    share = rho;
                }
            }
            LookState::of_interval(log_e, p, ratio, share, region, minimum_met)
        })
        .collect()
}

/// The acceptable error-rate ratio at a look: the percentage-point limits turned into ratios
/// at the baseline's rate so far, combined with the ratio limits as `combine` says. The
/// baseline rate gets half an error added (`(e + ½)/(n + ½)`) so a baseline without errors
/// still gives a finite limit.
pub(crate) fn error_region(mc: &MetricConfig, baseline: LookCounts) -> Region {
    let base = (baseline.errors as f64 + 0.5) / (baseline.requests as f64 + 0.5);
    let pp_high = mc.allowed_increase_pp.map(|a| 1.0 + a / 100.0 / base);
    let pp_low = mc.allowed_decrease_pp.map(|a| 1.0 - a / 100.0 / base);
    let r_high = mc.allowed_increase.map(|a| 1.0 + a);
    let r_low = mc.allowed_decrease.map(|a| 1.0 - a);
    let pick = |a: Option<f64>, b: Option<f64>, wider: bool| match (a, b) {
        (Some(x), Some(y)) if wider => x.max(y),
        (Some(x), Some(y)) => x.min(y),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => 1.0,
    };
    // `and`: fail only beyond both limits, so the region is the wider of the two.
    let wider = mc.combine == Combine::And;
    Region {
        low: if mc.direction.checks_decrease() {
            (-pick(pp_low.map(|v| -v), r_low.map(|v| -v), wider)).max(0.0)
        } else {
            f64::NEG_INFINITY
        },
        high: if mc.direction.checks_increase() {
            pick(pp_high, r_high, wider)
        } else {
            f64::INFINITY
        },
        null: 1.0,
    }
}

/// The settings of the request-split comparison: critical (a broken split means the rollout
/// is not what was configured), both directions, in its own group `traffic` (not scored).
fn split_config(cfg: &AnalysisConfig) -> MetricConfig {
    let t = cfg.sequential.traffic_split_tolerance;
    MetricConfig {
        enabled: true,
        group: "traffic".into(),
        critical: true,
        direction: Direction::Either,
        allowed_increase: Some(t),
        allowed_decrease: Some(t),
        allowed_increase_pp: None,
        allowed_decrease_pp: None,
        combine: Combine::And,
    }
}

/// The enabled quantile metrics, judged sequentially under `method = "sequential"`.
pub fn sequential_quantiles(cfg: &AnalysisConfig) -> impl Iterator<Item = MetricName> + '_ {
    crate::analysis::config::ALL_METRICS
        .into_iter()
        .filter(|m| quantile_level(*m).is_some() && cfg.metrics.get(*m).enabled)
}

/// Whether the sequential judge can read `g`'s durations look by look: every duration of
/// both sides carries its time bucket (the engine adds them for `method = "sequential"`).
/// Groups without them keep the fixed-sample latency tests.
pub fn judges_latency(g: &GroupComparison) -> bool {
    [&g.baseline, &g.canary]
        .iter()
        .all(|s| s.duration_buckets.len() == s.durations_ms.len())
}

/// How one comparison is tested: the family's level and whether it belongs to the family.
#[derive(Debug, Clone, Copy)]
struct Testing {
    /// α / K, K the family size.
    level: f64,
    /// K (Tarone 1990): the Bonferroni divisor.
    family: usize,
    /// The smallest always-valid p-value any outcome could give with this comparison's
    /// counts; above `level` the comparison is outside the family and cannot fail.
    min_attainable_p: f64,
}

impl Testing {
    fn can_fail(&self) -> bool {
        self.min_attainable_p <= self.level
    }
}

/// Drafts every sequential comparison of `groups` (already classified: [`Pending::Decided`]).
///
/// Family: Bonferroni with Tarone's (Biometrics 46(2), 1990) modification. Each comparison's
/// smallest attainable always-valid p-value follows from its counts alone (events per side
/// per look, durations per side) — every error, request or slow request on one side — which
/// carry no information about the split of events under no change; K is the smallest
/// number with at most K comparisons able to reach α/K. Those are tested at α/K, the rest
/// cannot fail (they may pass), so the chance that any comparison ever fails under no change
/// stays at most α, over all looks.
pub fn draft_all(groups: &[&GroupComparison], plan: &LookPlan, cfg: &AnalysisConfig) -> Vec<Draft> {
    let services = if cfg.sequential.traffic_split.is_some() {
        service_totals(groups)
    } else {
        Vec::new()
    };
    let mut tasks: Vec<(&GroupComparison, MetricName)> = groups
        .iter()
        .filter(|g| judges_latency(g))
        .flat_map(|g| sequential_quantiles(cfg).map(move |m| (*g, m)))
        .collect();
    if cfg.metrics.error_rate.enabled {
        tasks.extend(groups.iter().map(|g| (*g, MetricName::ErrorRate)));
    }
    tasks.extend(services.iter().map(|g| (g, MetricName::RequestSplit)));
    let min_p: Vec<f64> = tasks
        .par_iter()
        .map(|(g, m)| min_attainable_p(g, *m, plan, cfg))
        .collect();
    let family = tarone_family(&min_p, cfg.alpha);
    let level = cfg.alpha / family as f64;
    tasks
        .into_par_iter()
        .zip(min_p)
        .filter_map(|((g, m), min_attainable_p)| {
            let t = Testing {
                level,
                family,
                min_attainable_p,
            };
            match m {
                MetricName::ErrorRate => Some(error_rate(g, plan, t, cfg)),
                MetricName::RequestSplit => Some(request_split(g, plan, t, cfg)),
                _ => latency(g, m, plan, t, cfg),
            }
        })
        .collect()
}

/// Tarone's K: the smallest `K ≥ 1` such that at most `K` of the smallest attainable p-values
/// are `≤ α/K`.
fn tarone_family(min_p: &[f64], alpha: f64) -> usize {
    let mut sorted = min_p.to_vec();
    sorted.sort_by(f64::total_cmp);
    (1..=sorted.len().max(1))
        .find(|&k| sorted.partition_point(|p| *p <= alpha / k as f64) <= k)
        .unwrap_or(1)
}

/// The smallest always-valid p-value comparison `m` of `g` could reach with its counts: all
/// events of a look on one side (count tests, at every look), or every canary duration above
/// (or below) every baseline duration (quantile test, at the last look).
fn min_attainable_p(
    g: &GroupComparison,
    m: MetricName,
    plan: &LookPlan,
    cfg: &AnalysisConfig,
) -> f64 {
    let k = cfg.sequential.concentration;
    let b = plan.cumulative(&g.baseline_series);
    let c = plan.cumulative(&g.canary_series);
    let extreme = |rho: f64, events: u64| -> f64 {
        match SequentialCountTest::new(rho, 0.5, k) {
            Ok(t) => t.log_e_value(events, 0).max(t.log_e_value(0, events)),
            Err(_) => 0.0,
        }
    };
    let best_log_e = match m {
        MetricName::ErrorRate => (0..plan.len())
            .filter(|&j| b[j].requests > 0 && c[j].requests > 0)
            .map(|j| {
                let rho = c[j].requests as f64 / (b[j].requests + c[j].requests) as f64;
                extreme(rho, b[j].errors + c[j].errors)
            })
            .fold(0.0, f64::max),
        MetricName::RequestSplit => {
            let rho = cfg.sequential.traffic_split.unwrap_or(0.5);
            (0..plan.len())
                .map(|j| extreme(rho, b[j].requests + c[j].requests))
                .fold(0.0, f64::max)
        }
        _ => {
            let (nb, nc) = (g.baseline.durations_ms.len(), g.canary.durations_ms.len());
            let Some(q) = quantile_level(m).filter(|_| nb > 0 && nc > 0) else {
                return 1.0;
            };
            let low: Vec<f64> = (0..nb.max(nc)).map(|i| i as f64).collect();
            let high: Vec<f64> = (0..nb.max(nc)).map(|i| (nb.max(nc) + i) as f64).collect();
            let (t, o) = (Tuning::default(), Sorted);
            quantile_ab_log_e_value(&o(&low[..nb]), &o(&high[..nc]), q, t).max(
                quantile_ab_log_e_value(&o(&high[..nb]), &o(&low[..nc]), q, t),
            )
        }
    };
    (-best_log_e).exp().min(1.0)
}

/// Per service, the requests of all its groups added up (bucket by bucket): the unit the
/// request split is judged on. Per route the split is legitimately uneven under sticky
/// sessions (a user's requests all go to one track, and users differ in which routes they
/// call), and a route's share also moves with the mix of users; the router splits a service's
/// traffic, so the service total is what the configured split promises.
fn service_totals(groups: &[&GroupComparison]) -> Vec<GroupComparison> {
    let mut out: Vec<GroupComparison> = Vec::new();
    for g in groups {
        if out.last().map(|o| &o.key.service) != Some(&g.key.service) {
            out.push(GroupComparison {
                key: GroupKey {
                    service: g.key.service.clone(),
                    level: g.key.level,
                    name: SERVICE_GROUP.into(),
                },
                baseline: TrackSample::default(),
                canary: TrackSample::default(),
                baseline_series: Vec::new(),
                canary_series: Vec::new(),
            });
        }
        let o = out.last_mut().expect("pushed above");
        for (total, series, side, sample) in [
            (
                &mut o.baseline,
                &mut o.baseline_series,
                &g.baseline_series,
                &g.baseline,
            ),
            (
                &mut o.canary,
                &mut o.canary_series,
                &g.canary_series,
                &g.canary,
            ),
        ] {
            total.count += sample.count;
            total.errors += sample.errors;
            total.weighted_count += sample.weighted_count;
            total.weighted_errors += sample.weighted_errors;
            *series = merge_series(series, side);
        }
    }
    out
}

/// Two time-ordered bucket series added bucket by bucket (counts only: the split reads
/// nothing else).
fn merge_series(a: &[TimeBucket], b: &[TimeBucket]) -> Vec<TimeBucket> {
    let mut out: Vec<TimeBucket> = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let take_a = j == b.len() || (i < a.len() && a[i].start_unix_nano <= b[j].start_unix_nano);
        let next = if take_a { &a[i] } else { &b[j] };
        match out.last_mut() {
            Some(l) if l.start_unix_nano == next.start_unix_nano => add_counts(l, next),
            _ => out.push(TimeBucket {
                start_unix_nano: next.start_unix_nano,
                count: next.count,
                errors: next.errors,
                weighted_count: next.weighted_count,
                weighted_errors: next.weighted_errors,
                p50_ms: f64::NAN,
                p99_ms: f64::NAN,
            }),
        }
        if take_a {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

fn add_counts(into: &mut TimeBucket, b: &TimeBucket) {
    into.count += b.count;
    into.errors += b.errors;
    into.weighted_count += b.weighted_count;
    into.weighted_errors += b.weighted_errors;
}

/// The name of a service's all-routes group (the request split's unit).
pub const SERVICE_GROUP: &str = "*";

/// The sequential error-rate comparison of `g`.
fn error_rate(g: &GroupComparison, plan: &LookPlan, t: Testing, cfg: &AnalysisConfig) -> Draft {
    let b = plan.cumulative(&g.baseline_series);
    let c = plan.cumulative(&g.canary_series);
    let met = |j: usize| b[j].requests >= cfg.min_requests && c[j].requests >= cfg.min_requests;
    let mc = &cfg.metrics.error_rate;
    let looks = (0..plan.len()).map(|j| {
        let n = b[j].requests + c[j].requests;
        let rho = (b[j].requests > 0 && c[j].requests > 0).then(|| c[j].requests as f64 / n as f64);
        (
            rho,
            c[j].errors,
            b[j].errors,
            error_region(mc, b[j]),
            met(j),
        )
    });
    let states = run(looks, t.level, cfg.sequential.concentration);
    let last = (b[b.len() - 1], c[c.len() - 1]);
    let estimate = (last.0.errors > 0 && last.1.requests > 0).then(|| {
        (last.1.errors as f64 / last.1.requests as f64)
            / (last.0.errors as f64 / last.0.requests as f64)
    });
    comparison(
        g,
        MetricName::ErrorRate,
        mc,
        &states,
        estimate,
        plan,
        t,
        cfg,
    )
}

/// The sequential request-split comparison of `g` (a service total, [`service_totals`]).
fn request_split(g: &GroupComparison, plan: &LookPlan, t: Testing, cfg: &AnalysisConfig) -> Draft {
    let rho = cfg.sequential.traffic_split.unwrap_or(0.5);
    let b = plan.cumulative(&g.baseline_series);
    let c = plan.cumulative(&g.canary_series);
    let met = |j: usize| b[j].requests >= cfg.min_requests && c[j].requests >= cfg.min_requests;
    let sc = split_config(cfg);
    let region = Region::relative(sc.direction, sc.allowed_increase, sc.allowed_decrease);
    let looks = (0..plan.len()).map(|j| (Some(rho), c[j].requests, b[j].requests, region, met(j)));
    let states = run(looks, t.level, cfg.sequential.concentration);
    let last = (b[b.len() - 1], c[c.len() - 1]);
    let estimate = (last.0.requests > 0)
        .then(|| last.1.requests as f64 / last.0.requests as f64 * (1.0 - rho) / rho);
    let mut d = comparison(
        g,
        MetricName::RequestSplit,
        &sc,
        &states,
        estimate,
        plan,
        t,
        cfg,
    );
    // A service total is no route: say so in the id and leave the route out.
    d.comparison.route = None;
    d.comparison.id = format!("{}/service/request_split", g.key.service);
    d
}

/// The sequential comparison of quantile metric `m` of `g`: at every look the two-sample
/// test of equal quantiles (Howard & Ramdas 2022, §4; `stats::quantile_sequence`) on the
/// durations seen so far. Scaling the canary's durations by `1/r` turns it into a test of
/// "the canary's quantile is `r` times the baseline's"; the confidence sequence on the ratio
/// is the set of `r` that test does not reject at the level (test inversion). The comparison
/// fails high at a look where `p(1)` and `p(allowed high)` are both at most the level with
/// the estimate above the limit (every smaller ratio is then rejected too: dividing the
/// canary by a smaller `r` only moves it further up), fails low symmetrically, and is within
/// the allowed change where both limits are rejected from inside. The interval is computed
/// where it is reported: at the deciding look and at the last look.
fn latency(
    g: &GroupComparison,
    m: MetricName,
    plan: &LookPlan,
    t: Testing,
    cfg: &AnalysisConfig,
) -> Option<Draft> {
    let level = t.level;
    let q = quantile_level(m)?;
    let mc = cfg.metrics.get(m);
    let test = QuantileAbTest::new(q, Tuning::default());
    let (xb, xc) = (&g.baseline.durations_ms, &g.canary.durations_ms);
    let ab = plan.arrivals(&g.baseline, &g.baseline_series)?;
    let ac = plan.arrivals(&g.canary, &g.canary_series)?;
    let (mut sb, mut sc) = (Growing::new(xb), Growing::new(xc));
    let region = ratio_region(mc);
    let mut p = 1.0f64;
    let mut log_e = 0.0;
    let mut failed = false;
    let unknown = Interval {
        low: f64::NAN,
        high: f64::NAN,
    };
    let n = plan.len();
    let mut states = Vec::with_capacity(n);
    for j in 0..n {
        for &i in ab.at(j) {
            sb.insert(i as usize);
        }
        for &i in ac.at(j) {
            sc.insert(i as usize);
        }
        let mut s = LookState {
            log_e_value: log_e,
            p_value: p,
            ratio: unknown,
            null_share: f64::NAN,
            region,
            minimum_met: sb.size() as u64 >= cfg.min_requests
                && sc.size() as u64 >= cfg.min_requests,
            beyond_high: false,
            beyond_low: false,
            within: false,
        };
        if sb.size() > 0 && sc.size() > 0 {
            log_e = test.log_e_value(&sb, &sc);
            p = p.min((-log_e).exp().min(1.0));
            (s.log_e_value, s.p_value) = (log_e, p);
            let estimate = empirical_quantile(&sc, q) / empirical_quantile(&sb, q);
            let rejects = |r: f64| p_at_ratio(&test, &sb, &sc, r) <= level;
            if !failed && t.can_fail() && p <= level {
                s.beyond_high =
                    region.high.is_finite() && estimate > region.high && rejects(region.high);
                s.beyond_low = region.low > 0.0 && estimate < region.low && rejects(region.low);
            }
            s.within = s.minimum_met
                && (region.high.is_infinite() || (estimate < region.high && rejects(region.high)))
                && (region.low <= 0.0 || (estimate > region.low && rejects(region.low)));
            if s.beyond_high || s.beyond_low || j + 1 == n {
                s.ratio = ratio_confidence_interval(&test, &sb, &sc, level, estimate);
            }
            failed |= s.beyond_high || s.beyond_low;
        }
        states.push(s);
    }
    let estimate =
        (!xb.is_empty() && !xc.is_empty()).then(|| quantile_type7(xc, q) / quantile_type7(xb, q));
    Some(comparison(g, m, mc, &states, estimate, plan, t, cfg))
}

/// confseq's empirical quantile: the order statistic at rank `⌊n·q⌋ + 1`.
fn empirical_quantile<O: OrderStatistics>(os: &O, q: f64) -> f64 {
    let n = os.size();
    os.order_statistic(((n as f64 * q).floor() as usize + 1).min(n))
}

/// A sample with every value divided by `r`.
struct Scaled<'a, O> {
    inner: &'a O,
    r: f64,
}

impl<O: OrderStatistics> OrderStatistics for Scaled<'_, O> {
    fn size(&self) -> usize {
        self.inner.size()
    }
    fn order_statistic(&self, rank: usize) -> f64 {
        self.inner.order_statistic(rank) / self.r
    }
    fn count_less(&self, x: f64) -> usize {
        self.inner.count_less(x * self.r)
    }
    fn count_less_or_equal(&self, x: f64) -> usize {
        self.inner.count_less_or_equal(x * self.r)
    }
}

/// The always-valid p-value (this look only) of "the canary's `q`-quantile is `r` times the
/// baseline's": the two-sample test on the baseline and the canary divided by `r`.
fn p_at_ratio<B: OrderStatistics, C: OrderStatistics>(
    test: &QuantileAbTest,
    b: &B,
    c: &C,
    r: f64,
) -> f64 {
    let scaled = Scaled { inner: c, r };
    (-test.log_e_value(b, &scaled)).exp().min(1.0)
}

/// The ratios `r` the scaled test does not reject at `level`, at this look: bisection on
/// `ln r` from the estimate outwards (to 1e-6 relative), each end unbounded (0 or ∞) when the
/// test still accepts at a factor e¹⁰ from the estimate.
fn ratio_confidence_interval<B: OrderStatistics, C: OrderStatistics>(
    test: &QuantileAbTest,
    b: &B,
    c: &C,
    level: f64,
    estimate: f64,
) -> Interval {
    if !(estimate > 0.0 && estimate.is_finite()) {
        return Interval {
            low: 0.0,
            high: f64::INFINITY,
        };
    }
    let accepts = |ln_r: f64| p_at_ratio(test, b, c, ln_r.exp()) > level;
    let centre = estimate.ln();
    let end = |direction: f64| -> f64 {
        let far = centre + 10.0 * direction;
        if accepts(far) {
            return if direction < 0.0 { 0.0 } else { f64::INFINITY };
        }
        let (mut inside, mut outside) = (centre, far);
        while (outside - inside).abs() > 1e-6 {
            let mid = 0.5 * (inside + outside);
            if accepts(mid) {
                inside = mid;
            } else {
                outside = mid;
            }
        }
        inside.exp()
    };
    Interval {
        low: end(-1.0),
        high: end(1.0),
    }
}

/// The comparison of one metric of one group from its look states.
#[allow(clippy::too_many_arguments)]
fn comparison(
    g: &GroupComparison,
    metric: MetricName,
    mc: &MetricConfig,
    states: &[LookState],
    estimate: Option<f64>,
    plan: &LookPlan,
    t: Testing,
    cfg: &AnalysisConfig,
) -> Draft {
    let level = t.level;
    let (label, test) = match metric {
        MetricName::RequestSplit => (
            "canary/stable request ratio per configured share".to_string(),
            TEST_NAME,
        ),
        MetricName::ErrorRate => ("error-rate ratio canary/baseline".to_string(), TEST_NAME),
        m => (
            format!("{} ratio canary/baseline", quantile_label(m)),
            QUANTILE_TEST_NAME,
        ),
    };
    let mut c: Comparison = shell(g, metric, mc, "ratio");
    let last = states[states.len() - 1];
    let fail_at = states
        .iter()
        .position(|s| t.can_fail() && s.p_value <= level && (s.beyond_high || s.beyond_low));
    let pass_at = states
        .iter()
        .position(|s| s.minimum_met && s.within)
        .filter(|_| last.minimum_met && last.within);
    let decided = fail_at.or(pass_at);
    let n = states.len();
    let cs = |s: &LookState| {
        format!(
            "{}% confidence sequence [{}, {}]",
            fmt_coverage(1.0 - level),
            fmt_ratio(s.ratio.low),
            fmt_ratio(s.ratio.high)
        )
    };
    let at = |j: usize| {
        format!(
            "look {} of {n} ({})",
            j + 1,
            format_rfc3339_seconds(plan.ends_unix_nano[j])
        )
    };
    let p_text = |s: &LookState| {
        format!(
            "always-valid p {}",
            crate::analysis::format::fmt_p(s.p_value)
        )
    };
    (c.classification, c.reason) = match (fail_at, pass_at) {
        (Some(j), _) => {
            let s = states[j];
            let high = s.beyond_high;
            let limit = if high { s.region.high } else { s.region.low };
            (
                if high {
                    Classification::FailHigh
                } else {
                    Classification::FailLow
                },
                format!(
                    "{label}: failed at {}: {}, {} ≤ {level:.2e}, beyond the allowed {} (sequential test)",
                    at(j),
                    cs(&s),
                    p_text(&s),
                    fmt_ratio(limit)
                ),
            )
        }
        (None, Some(j)) => (
            Classification::Pass,
            format!(
                "{label}: within the allowed change since {}: {} inside [{}, {}] (sequential test)",
                at(j),
                cs(&last),
                fmt_ratio(last.region.low.max(0.0)),
                fmt_ratio(last.region.high)
            ),
        ),
        (None, None) => (
            Classification::Inconclusive,
            format!(
                "{label}: undecided after {n} look{}: {} reaches beyond the allowed [{}, {}] ({}, sequential test){}",
                if n == 1 { "" } else { "s" },
                cs(&last),
                fmt_ratio(last.region.low.max(0.0)),
                fmt_ratio(last.region.high),
                p_text(&last),
                if t.can_fail() {
                    String::new()
                } else {
                    format!(
                        "; cannot fail with these counts: even the most extreme outcome gives p {} > {level:.2e}",
                        crate::analysis::format::fmt_p(t.min_attainable_p)
                    )
                }
            ),
        ),
    };
    c.estimate = estimate.and_then(finite);
    c.ci_low = finite(last.ratio.low);
    c.ci_high = finite(last.ratio.high);
    c.allowed_increase = finite(last.region.high);
    c.allowed_decrease = finite(last.region.low);
    c.p_value = Some(last.p_value);
    c.p_value_adjusted = Some((last.p_value * t.family as f64).min(1.0));
    c.test = Some(test.into());
    let (nb, nc) = (c.baseline.count, c.canary.count);
    c.below_minimum = (nb < cfg.min_requests || nc < cfg.min_requests).then_some(SampleSizes {
        baseline: nb,
        canary: nc,
        minimum: cfg.min_requests,
    });
    c.sequential = Some(SequentialSummary {
        looks: n as u32,
        decided_at_look: decided.map(|j| j as u32 + 1),
        decided_at: decided.map(|j| format_rfc3339_seconds(plan.ends_unix_nano[j])),
        log_e_value: last.log_e_value,
        p_value: last.p_value,
        level,
        null_share: finite(last.null_share),
        family_size: t.family as u32,
        min_attainable_p: t.min_attainable_p,
    });
    Draft {
        comparison: c,
        pending: Pending::Decided,
    }
}

/// A coverage in percent with the digits that distinguish it from 100: `95`, `99.86`.
fn fmt_coverage(c: f64) -> String {
    let pct = c * 100.0;
    if (pct - pct.round()).abs() < 1e-9 {
        return format!("{pct:.0}");
    }
    let mut digits = 2;
    while digits < 8 && format!("{pct:.digits$}").starts_with("100") {
        digits += 1;
    }
    format!("{pct:.digits$}")
}

/// A ratio as a change: `+50.0%`, or `unbounded`.
fn fmt_ratio(v: f64) -> String {
    fmt_value(v, "ratio")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentage_points_become_a_ratio_at_the_baseline_rate() {
        let mut mc = AnalysisConfig::default_preset().metrics.error_rate;
        // +0.5 pp on a baseline of (19 + ½)/(3899 + ½) ≈ 0.5%: ratio ≈ 2.
        let b = LookCounts {
            requests: 3899,
            errors: 19,
        };
        let r = error_region(&mc, b);
        let want = 1.0 + 0.005 / (19.5 / 3899.5);
        assert!((r.high - want).abs() < 1e-12, "{r:?}");
        assert_eq!(r.low, f64::NEG_INFINITY);
        // With a ratio limit of +20%: `and` keeps the wider (2), `or` the narrower (1.2).
        mc.allowed_increase = Some(0.2);
        assert!((error_region(&mc, b).high - want).abs() < 1e-12);
        mc.combine = Combine::Or;
        assert!((error_region(&mc, b).high - 1.2).abs() < 1e-12);
        // Decreases (0.25 pp = half the rate): `or` keeps the narrower of 0.5 and 1 − 0.3.
        mc.direction = Direction::Either;
        mc.allowed_decrease = Some(0.3);
        mc.allowed_decrease_pp = Some(0.25);
        assert!((error_region(&mc, b).low - 0.7).abs() < 1e-12);
        mc.combine = Combine::And;
        assert!((error_region(&mc, b).low - (1.0 - 0.0025 / (19.5 / 3899.5))).abs() < 1e-12);
    }

    #[test]
    fn coverage_shows_the_digits_that_matter() {
        assert_eq!(fmt_coverage(0.95), "95");
        assert_eq!(fmt_coverage(1.0 - 0.05 / 36.0), "99.86");
        assert_eq!(fmt_coverage(1.0 - 0.05 / 4000.0), "99.999");
    }
}
