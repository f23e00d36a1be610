//! Sampling honesty: how many requests the recorded spans stand for on each side, the
//! effective sample size the weights leave, and warnings when a canary needs more spans than
//! were recorded.
//!
//! Definitions (README "Sampling"):
//!
//! * A request's **weight** is `spans.sample_weight` (identity rules: the tracestate `ot=th:`
//!   threshold, else a `sampling.*`/`SampleRate` attribute, else 1).
//! * **Effective sample size** (Kish 1965): `(Σw)² / Σw²` over a side's requests — the number
//!   of unweighted requests that would estimate a mean as precisely. Equal weights give the
//!   recorded count; unequal weights give less.
//! * **Warnings**: weights other than 1 (counts and tests use the recorded spans, weighted
//!   columns scale by the weights); sides sampled at different mean weights (more than 10%
//!   apart: compare the weighted rates, not raw counts); a service whose canary recorded fewer
//!   requests than a 95% order-statistic interval of its p99 needs (`tail_samples_needed`, as
//!   analyze says it).
//!
//! L. Kish, *Survey Sampling*, Wiley, 1965, §11.7.

use crate::model::comparison::Side;
use crate::model::traces::Exposure;
use serde::Serialize;
use std::collections::BTreeMap;

/// Weights of one side's requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SideWeights {
    /// Requests recorded (entry spans in the window).
    pub requests: u64,
    /// Sum of their weights: the requests they stand for.
    pub weighted_requests: f64,
    /// Smallest weight (absent without requests).
    pub min_weight: Option<f64>,
    /// Largest weight (absent without requests).
    pub max_weight: Option<f64>,
    /// Kish's effective sample size `(Σw)²/Σw²` (0 without requests).
    pub effective_sample_size: f64,
}

/// The `sampling` object of `forensics.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sampling {
    /// The canary's requests.
    pub canary: SideWeights,
    /// The baseline's requests.
    pub stable: SideWeights,
    /// What the weights mean for the tables above, one sentence each.
    pub warnings: Vec<String>,
}

fn add(w: &mut SideWeights, sq: &mut f64, e: &Exposure) {
    w.requests += e.requests;
    w.weighted_requests += e.weighted;
    *sq += e.weighted_sq;
    w.min_weight = Some(w.min_weight.map_or(e.min_weight, |m| m.min(e.min_weight)));
    w.max_weight = Some(w.max_weight.map_or(e.max_weight, |m| m.max(e.max_weight)));
}

/// Summarises the weights of `exposure` (requests per service and side) and writes the
/// warnings; `p99_needed` is the canary requests a p99 interval needs.
pub fn sampling(exposure: &[Exposure], p99_needed: u64) -> Sampling {
    let mut out = Sampling::default();
    let (mut sq_c, mut sq_s) = (0.0, 0.0);
    let mut canary_by_service: BTreeMap<&str, u64> = BTreeMap::new();
    for e in exposure.iter().filter(|e| e.requests > 0) {
        match e.side {
            Side::Canary => {
                add(&mut out.canary, &mut sq_c, e);
                *canary_by_service.entry(&e.service).or_default() += e.requests;
            }
            Side::Baseline => add(&mut out.stable, &mut sq_s, e),
        }
    }
    for (w, sq) in [(&mut out.canary, sq_c), (&mut out.stable, sq_s)] {
        if sq > 0.0 {
            w.effective_sample_size = w.weighted_requests * w.weighted_requests / sq;
        }
    }
    let sampled = |w: &SideWeights| {
        w.min_weight.is_some_and(|m| m != 1.0) || w.max_weight.is_some_and(|m| m != 1.0)
    };
    if sampled(&out.canary) || sampled(&out.stable) {
        out.warnings.push(format!(
            "requests are sampled (weights {} on the canary, {} on stable): counts, tests and exemplars use the recorded spans; weighted columns scale them by their weights",
            range(&out.canary),
            range(&out.stable)
        ));
    }
    let mean = |w: &SideWeights| (w.requests > 0).then(|| w.weighted_requests / w.requests as f64);
    if let (Some(c), Some(s)) = (mean(&out.canary), mean(&out.stable)) {
        if (c / s - 1.0).abs() > 0.1 {
            out.warnings.push(format!(
                "canary and stable are sampled at different rates (mean weight {c:.2} against {s:.2}): compare the weighted rates (per 1k requests), not raw counts"
            ));
        }
    }
    for (service, n) in canary_by_service {
        if n < p99_needed {
            out.warnings.push(format!(
                "{service}: the canary recorded {n} requests; a 95% interval of its p99 needs about {p99_needed}"
            ));
        }
    }
    out
}

fn range(w: &SideWeights) -> String {
    match (w.min_weight, w.max_weight) {
        (Some(a), Some(b)) if a == b => format!("{a}"),
        (Some(a), Some(b)) => format!("{a}–{b}"),
        _ => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(service: &str, side: Side, w: &[f64]) -> Exposure {
        Exposure {
            service: service.into(),
            side,
            requests: w.len() as u64,
            weighted: w.iter().sum(),
            weighted_sq: w.iter().map(|x| x * x).sum(),
            min_weight: w.iter().copied().fold(f64::INFINITY, f64::min),
            max_weight: w.iter().copied().fold(0.0, f64::max),
        }
    }

    #[test]
    fn kish_effective_sample_size_and_warnings() {
        // Canary: weights 1, 1, 4, 4 → (10)² / 34; stable: 6 × 1.
        let s = sampling(
            &[
                e("a", Side::Canary, &[1.0, 1.0, 4.0, 4.0]),
                e("a", Side::Baseline, &[1.0; 6]),
            ],
            382,
        );
        assert!((s.canary.effective_sample_size - 100.0 / 34.0).abs() < 1e-12);
        assert_eq!(s.stable.effective_sample_size, 6.0);
        assert_eq!((s.canary.requests, s.canary.weighted_requests), (4, 10.0));
        assert_eq!(
            (s.canary.min_weight, s.canary.max_weight),
            (Some(1.0), Some(4.0))
        );
        assert_eq!(s.warnings.len(), 3, "{:#?}", s.warnings);
        assert!(s.warnings[0].contains("1–4 on the canary"));
        assert!(s.warnings[1].contains("mean weight 2.50 against 1.00"));
        assert!(s.warnings[2].starts_with("a: the canary recorded 4 requests"));
        // Unsampled and large enough: nothing to warn about.
        let s = sampling(
            &[
                e("a", Side::Canary, &[1.0; 400]),
                e("a", Side::Baseline, &[1.0; 400]),
            ],
            382,
        );
        assert!(s.warnings.is_empty(), "{:#?}", s.warnings);
        assert_eq!(s.canary.effective_sample_size, 400.0);
    }
}
