//! Score and verdict (design §5).
//!
//! - Group score (Kayenta's `WeightedSumScorer`): passes / (passes + failures) × 100 over the
//!   group's comparisons. Inconclusive comparisons are excluded from the denominator — too
//!   little data is neither a pass nor a failure — and count against the evidence rule instead.
//! - Summary score: in `intervals` and `threshold` modes the weighted mean of the group scores
//!   over groups that decided anything (weights renormalised, so a group with no decided
//!   comparison neither helps nor hurts; if only zero-weight groups decided, their plain
//!   mean); in `kayenta` mode Kayenta's Σ score·weight/100
//!   without renormalisation.
//! - Verdict: any failing critical comparison → `rollback`; nothing decided → `continue`;
//!   score < marginal threshold → `rollback`; score ≥ pass threshold and enough evidence
//!   (canary requests ≥ `min_total_requests` and decided share ≥ `min_decided_fraction`) and
//!   no critical comparison [leaning to failure](leans_to_failure) → `promote`; otherwise
//!   `continue`.
//! - A critical comparison *leans to failure* when it is inconclusive although its own
//!   confidence interval lies wholly beyond the allowed change: the regression is not
//!   significant after the Benjamini–Hochberg adjustment, but the data rule out an acceptable
//!   change at the unadjusted level. Promoting then would contradict the reported interval of
//!   a metric that is meant to force rollback, so the verdict is `continue` (more data decides
//!   it). Without this rule an error rate ×5 on 350 canary requests (interval
//!   [+1.4, +5.9] pp against an allowed +0.5 pp) was promoted.

use crate::analysis::config::{AnalysisConfig, Method};
use crate::analysis::findings::{Classification, Comparison, GroupScore, Verdict};

/// Most drivers listed.
pub const MAX_DRIVERS: usize = 10;

/// Severity rank for sorting: critical failures, failures, inconclusive, passes.
pub fn severity_rank(c: &Comparison) -> u8 {
    match (c.classification, c.critical) {
        (Classification::FailHigh | Classification::FailLow, true) => 0,
        (Classification::FailHigh | Classification::FailLow, false) => 1,
        (Classification::Inconclusive, _) => 2,
        (Classification::Pass, _) => 3,
    }
}

/// Sorts by severity, then id.
pub fn sort_by_severity(cs: &mut [Comparison]) {
    cs.sort_by(|a, b| {
        severity_rank(a)
            .cmp(&severity_rank(b))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// Whether `c` is critical, inconclusive, and its confidence interval lies wholly outside the
/// acceptable region (above `allowed_increase` or below `allowed_decrease`). See the module
/// docs; Kayenta mode sets no acceptable region, so this never applies there.
pub fn leans_to_failure(c: &Comparison) -> bool {
    if !c.critical || c.classification != Classification::Inconclusive {
        return false;
    }
    let above = matches!((c.ci_low, c.allowed_increase), (Some(lo), Some(up)) if lo > up);
    let below = matches!((c.ci_high, c.allowed_decrease), (Some(hi), Some(down)) if hi < down);
    above || below
}

fn is_fail(c: &Comparison) -> bool {
    c.classification.is_fail()
}

/// The verdict with what drove it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The verdict.
    pub verdict: Verdict,
    /// Summary score 0–100 (0 when nothing was decided).
    pub score: f64,
    /// Per-group scores.
    pub group_scores: Vec<GroupScore>,
    /// Driving comparison ids, most severe first.
    pub drivers: Vec<String>,
    /// One paragraph naming the drivers.
    pub summary: String,
}

/// Scores comparisons (sorted by [`sort_by_severity`]) and decides. `canary_requests` is the
/// recorded canary request count used by the evidence rule.
pub fn decide(cs: &[Comparison], cfg: &AnalysisConfig, canary_requests: u64) -> Decision {
    let weights = cfg.effective_weights();
    let mut group_scores = Vec::new();
    for (name, &weight) in &weights {
        let mut g = GroupScore {
            name: name.clone(),
            weight,
            score: None,
            pass: 0,
            fail: 0,
            inconclusive: 0,
        };
        for c in cs.iter().filter(|c| &c.group == name) {
            match c.classification {
                Classification::Pass => g.pass += 1,
                Classification::FailHigh | Classification::FailLow => g.fail += 1,
                Classification::Inconclusive => g.inconclusive += 1,
            }
        }
        if g.pass + g.fail > 0 {
            g.score = Some(100.0 * g.pass as f64 / (g.pass + g.fail) as f64);
        }
        group_scores.push(g);
    }
    let scored: Vec<(f64, f64)> = group_scores
        .iter()
        .filter_map(|g| g.score.map(|s| (s, g.weight)))
        .collect();
    let score = match cfg.method {
        Method::Kayenta => scored.iter().map(|(s, w)| s * w / 100.0).sum::<f64>(),
        _ => {
            let wsum: f64 = scored.iter().map(|(_, w)| w).sum();
            if wsum > 0.0 {
                scored.iter().map(|(s, w)| s * w).sum::<f64>() / wsum
            } else if !scored.is_empty() {
                // Only zero-weight groups decided anything: weigh them equally rather than
                // turning "no weighted evidence" into a score of 0 and a rollback.
                scored.iter().map(|(s, _)| s).sum::<f64>() / scored.len() as f64
            } else {
                0.0
            }
        }
    };
    let decided = cs
        .iter()
        .filter(|c| c.classification != Classification::Inconclusive)
        .count();
    let fails: Vec<&Comparison> = cs.iter().filter(|c| is_fail(c)).collect();
    let critical_fails: Vec<&Comparison> = fails.iter().copied().filter(|c| c.critical).collect();
    let inconclusive: Vec<&Comparison> = cs
        .iter()
        .filter(|c| c.classification == Classification::Inconclusive)
        .collect();
    let decided_fraction = if cs.is_empty() {
        0.0
    } else {
        decided as f64 / cs.len() as f64
    };
    let leaning: Vec<&Comparison> = cs.iter().filter(|c| leans_to_failure(c)).collect();
    let enough_requests = canary_requests >= cfg.min_total_requests;
    let enough_decided = decided_fraction >= cfg.min_decided_fraction;
    let counts = format!(
        "{} comparisons: {} pass, {} fail, {} inconclusive",
        cs.len(),
        cs.iter()
            .filter(|c| c.classification == Classification::Pass)
            .count(),
        fails.len(),
        inconclusive.len()
    );
    let thresholds = format!(
        "score {score:.1} (promote at ≥ {}, roll back below {})",
        cfg.pass_threshold, cfg.marginal_threshold
    );
    let (verdict, why, driver_list): (Verdict, String, Vec<&Comparison>) = if !critical_fails
        .is_empty()
    {
        (
            Verdict::Rollback,
            format!(
                "{} critical comparison{} failed",
                critical_fails.len(),
                if critical_fails.len() == 1 { "" } else { "s" }
            ),
            fails.clone(),
        )
    } else if decided == 0 {
        (
            Verdict::Continue,
            "no comparison could be decided yet".into(),
            inconclusive.clone(),
        )
    } else if score < cfg.marginal_threshold {
        (
            Verdict::Rollback,
            "the score is below the marginal threshold".into(),
            fails.clone(),
        )
    } else if score >= cfg.pass_threshold && enough_requests && enough_decided && leaning.is_empty()
    {
        let mut d = fails.clone();
        d.extend(
            cs.iter()
                .filter(|c| c.critical && c.classification == Classification::Pass),
        );
        (
            Verdict::Promote,
            "the score reaches the pass threshold with enough evidence".into(),
            d,
        )
    } else {
        let why = if score < cfg.pass_threshold {
            "the score is between the marginal and pass thresholds".to_string()
        } else if !leaning.is_empty() {
            format!(
                "{} critical comparison{} not significant yet but {} interval lies beyond the \
                 allowed change",
                leaning.len(),
                if leaning.len() == 1 { " is" } else { "s are" },
                if leaning.len() == 1 { "its" } else { "their" }
            )
        } else if !enough_requests {
            format!(
                "the canary served {canary_requests} requests, fewer than the {} required to promote",
                cfg.min_total_requests
            )
        } else {
            format!(
                "only {:.0}% of comparisons were decided, below the required {:.0}%",
                decided_fraction * 100.0,
                cfg.min_decided_fraction * 100.0
            )
        };
        // Comparisons leaning to failure are the reason: list them right after failures.
        let mut d = fails.clone();
        d.extend(leaning.iter().copied());
        d.extend(
            inconclusive
                .iter()
                .copied()
                .filter(|c| !leans_to_failure(c)),
        );
        (Verdict::Continue, why, d)
    };
    let drivers: Vec<String> = driver_list
        .iter()
        .take(MAX_DRIVERS)
        .map(|c| c.id.clone())
        .collect();
    let word = match verdict {
        Verdict::Promote => "Promote",
        Verdict::Rollback => "Roll back",
        Verdict::Continue => "Continue",
    };
    let mut summary = format!("{word}: {why}; {thresholds}; {counts}.");
    if !driver_list.is_empty() {
        let named: Vec<String> = driver_list
            .iter()
            .take(5)
            .map(|c| format!("{} ({})", c.id, c.reason))
            .collect();
        summary.push_str(&format!(" Driven by: {}", named.join("; ")));
        if driver_list.len() > 5 {
            summary.push_str(&format!("; and {} more", driver_list.len() - 5));
        }
        summary.push('.');
    }
    Decision {
        verdict,
        score,
        group_scores,
        drivers,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::findings::{MetricName, SideSummary};
    use crate::model::comparison::GroupLevel;

    /// An error-rate comparison (critical, allowed +0.5 pp) with the given interval.
    fn error_rate(id: &str, class: Classification, ci: (f64, f64)) -> Comparison {
        Comparison {
            id: id.into(),
            service: "svc".into(),
            route: Some(id.into()),
            operation: None,
            level: GroupLevel::Route,
            metric: MetricName::ErrorRate,
            group: "errors".into(),
            critical: true,
            baseline: SideSummary::default(),
            canary: SideSummary::default(),
            estimate: Some((ci.0 + ci.1) / 2.0),
            ci_low: Some(ci.0),
            ci_high: Some(ci.1),
            unit: "percentage_points".into(),
            allowed_increase: Some(0.5),
            allowed_decrease: Some(-0.5),
            p_value: Some(0.01),
            p_value_adjusted: Some(0.2),
            test: Some("fisher_exact_two_sided".into()),
            classification: class,
            reason: "r".into(),
            minimum_detectable_effect: None,
            effect_size: None,
            source: Default::default(),
            metric_names: Vec::new(),
            below_minimum: None,
            sequential: None,
        }
    }

    /// Nineteen passing comparisons plus `last`: score 100, 95% decided.
    fn with(last: Comparison) -> Vec<Comparison> {
        let mut cs: Vec<Comparison> = (0..19)
            .map(|i| error_rate(&format!("/p{i:02}"), Classification::Pass, (-0.2, 0.2)))
            .collect();
        cs.push(last);
        sort_by_severity(&mut cs);
        cs
    }

    #[test]
    fn critical_interval_beyond_the_allowed_change_blocks_promotion() {
        let cfg = AnalysisConfig::default_preset();
        // Interval wholly above +0.5 pp but not significant after adjustment: continue,
        // driven by that comparison.
        let cs = with(error_rate(
            "/charge",
            Classification::Inconclusive,
            (1.4, 5.9),
        ));
        let d = decide(&cs, &cfg, 10_000);
        assert_eq!(d.verdict, Verdict::Continue, "{}", d.summary);
        assert_eq!(d.drivers[0], "/charge");
        assert!(d.summary.contains("interval lies beyond"), "{}", d.summary);
        // Also below the allowed decrease.
        let cs = with(error_rate(
            "/charge",
            Classification::Inconclusive,
            (-3.0, -0.8),
        ));
        assert_eq!(decide(&cs, &cfg, 10_000).verdict, Verdict::Continue);
    }

    #[test]
    fn inconclusive_interval_reaching_into_the_allowed_region_still_promotes() {
        let cfg = AnalysisConfig::default_preset();
        let cs = with(error_rate(
            "/charge",
            Classification::Inconclusive,
            (0.3, 5.9),
        ));
        let d = decide(&cs, &cfg, 10_000);
        assert_eq!(d.verdict, Verdict::Promote, "{}", d.summary);
        // Not critical: the rule does not apply.
        let mut c = error_rate("/charge", Classification::Inconclusive, (1.4, 5.9));
        c.critical = false;
        assert_eq!(decide(&with(c), &cfg, 10_000).verdict, Verdict::Promote);
    }
}
