//! Error signatures: error spans grouped by (service, span name, exception type, message
//! template), each side's count and rate, an exact test of canary against stable, and a
//! classification.
//!
//! Per signature and side: `count` error spans, `weighted` (the sum of their sampling
//! weights), and `per_1k_requests` = 1000 × weighted / the weighted requests of the
//! signature's service on that side (the entry spans of the `requests` view in the window).
//!
//! Test: conditional on the total count, the canary's share of a signature's spans is
//! binomial with the canary's share of the exposure when the rates are equal; canalyst
//! uses its finite-population form, Fisher's exact test on
//! `[[stable requests − stable count, stable count], [canary requests − canary count,
//! canary count]]` (two-sided; `crate::stats::fisher`, checked against
//! `scipy.stats.fisher_exact`). Both condition on the margins, so the exposure of each side
//! enters exactly (R. A. Fisher, *Statistical Methods for Research Workers*, 1925, §21.02;
//! for the binomial form, J. Przyborowski and H. Wilenski, *Homogeneity of results in testing
//! samples from Poisson series*, Biometrika 31, 1940). A signature can occur more than once
//! per request (a client retrying); a side's exposure is then raised to its count so the table
//! stays valid. Counts are unweighted in the test; weights only scale the reported rates.
//! p-values are adjusted by Benjamini–Hochberg across all signatures
//! ([`crate::stats::multiple_testing::benjamini_hochberg`]).
//!
//! Classification, with `q` the adjusted p-value and `α` the level (default 0.05):
//!
//! * `new_in_canary`: no stable spans, some canary spans, `q < α`;
//! * `gone_in_canary`: no canary spans, some stable spans, `q < α`;
//! * `increased`: both sides have spans, the canary rate per request is higher, `q < α`;
//! * `decreased`: both sides have spans, the canary rate is lower, `q < α`;
//! * `unchanged`: `q ≥ α` — no difference the data can show (which includes a signature seen
//!   only a few times on one side).

use super::template::message_template;
use crate::model::comparison::Side;
use crate::model::traces::{ErrorSpan, Exposure};
use crate::stats::fisher::fisher_exact_counts;
use crate::stats::multiple_testing::benjamini_hochberg;
use crate::stats::Alternative;
use serde::Serialize;
use std::collections::BTreeMap;

/// How many exemplar trace ids a signature lists.
pub const MAX_EXEMPLARS: usize = 5;

/// How a signature's canary rate compares with stable's (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// Only in the canary, significantly.
    NewInCanary,
    /// Higher in the canary, significantly.
    Increased,
    /// Lower in the canary, significantly.
    Decreased,
    /// Only in stable, significantly.
    GoneInCanary,
    /// No significant difference.
    Unchanged,
}

impl Classification {
    /// The name used in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Classification::NewInCanary => "new_in_canary",
            Classification::Increased => "increased",
            Classification::Decreased => "decreased",
            Classification::GoneInCanary => "gone_in_canary",
            Classification::Unchanged => "unchanged",
        }
    }
}

/// A signature's spans on one side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SideCounts {
    /// Error spans.
    pub count: u64,
    /// Their sampling weights summed.
    pub weighted: f64,
    /// Weighted error spans per 1000 weighted requests of the service on this side; `None`
    /// when the service served no request on this side.
    pub per_1k_requests: Option<f64>,
    /// Requests of the service on this side (the exposure).
    pub requests: u64,
}

/// One error signature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signature {
    /// `service.name` of the error spans.
    pub service: String,
    /// Span name.
    pub span_name: String,
    /// `exception.type` (`None` for error spans without an exception event).
    pub exception_type: Option<String>,
    /// The message template ([`message_template`] of the exception message, else the status
    /// message).
    pub message_template: String,
    /// Canary side.
    pub canary: SideCounts,
    /// Baseline side.
    pub stable: SideCounts,
    /// Two-sided Fisher exact p-value.
    pub p_value: f64,
    /// Benjamini–Hochberg adjusted p-value across signatures.
    pub p_value_adjusted: f64,
    /// Classification at the level `α`.
    pub classification: Classification,
    /// Up to [`MAX_EXEMPLARS`] trace ids: the earliest canary ones first, then stable ones.
    pub exemplars: Vec<String>,
}

type Key = (String, String, Option<String>, String);

#[derive(Default)]
struct Acc {
    canary: SideCounts,
    stable: SideCounts,
    canary_traces: Vec<[u8; 16]>,
    stable_traces: Vec<[u8; 16]>,
}

/// The signatures of `errors` (ordered by start time) given each service's `exposure`, at
/// level `alpha`; sorted by classification (new, increased, decreased, gone, unchanged), then
/// adjusted p-value, then canary count (descending), then key.
pub fn signatures(errors: &[ErrorSpan], exposure: &[Exposure], alpha: f64) -> Vec<Signature> {
    let mut groups: BTreeMap<Key, Acc> = BTreeMap::new();
    // Memoised: a service emits the same few messages many times.
    let mut templates: BTreeMap<&str, String> = BTreeMap::new();
    for e in errors {
        let msg = e.message.as_deref().unwrap_or("");
        let template = templates
            .entry(msg)
            .or_insert_with(|| message_template(msg))
            .clone();
        let key = (
            e.service.clone(),
            e.span_name.clone(),
            e.exception_type.clone(),
            template,
        );
        let acc = groups.entry(key).or_default();
        let (side, traces) = match e.side {
            Side::Canary => (&mut acc.canary, &mut acc.canary_traces),
            Side::Baseline => (&mut acc.stable, &mut acc.stable_traces),
        };
        side.count += 1;
        side.weighted += e.weight;
        if traces.len() < MAX_EXEMPLARS && !traces.contains(&e.trace_id) {
            traces.push(e.trace_id);
        }
    }
    let exposure: BTreeMap<(&str, Side), &Exposure> = exposure
        .iter()
        .map(|x| ((x.service.as_str(), x.side), x))
        .collect();
    let mut out: Vec<Signature> = groups
        .into_iter()
        .map(
            |((service, span_name, exception_type, message_template), mut acc)| {
                for (side, counts) in [
                    (Side::Canary, &mut acc.canary),
                    (Side::Baseline, &mut acc.stable),
                ] {
                    let x = exposure.get(&(service.as_str(), side));
                    counts.requests = x.map_or(0, |x| x.requests).max(counts.count);
                    counts.per_1k_requests = x
                        .filter(|x| x.weighted > 0.0)
                        .map(|x| 1000.0 * counts.weighted / x.weighted);
                }
                let (s, c) = (&acc.stable, &acc.canary);
                let p_value = fisher_exact_counts(
                    s.count,
                    s.requests,
                    c.count,
                    c.requests,
                    Alternative::TwoSided,
                )
                .p_value;
                let exemplars = acc
                    .canary_traces
                    .iter()
                    .chain(&acc.stable_traces)
                    .take(MAX_EXEMPLARS)
                    .map(|t| crate::model::ids::to_hex(t))
                    .collect();
                Signature {
                    service,
                    span_name,
                    exception_type,
                    message_template,
                    canary: acc.canary,
                    stable: acc.stable,
                    p_value,
                    p_value_adjusted: f64::NAN,
                    classification: Classification::Unchanged,
                    exemplars,
                }
            },
        )
        .collect();
    let adjusted = benjamini_hochberg(&out.iter().map(|s| s.p_value).collect::<Vec<_>>());
    for (s, q) in out.iter_mut().zip(adjusted) {
        s.p_value_adjusted = q;
        s.classification = classify(&s.canary, &s.stable, q, alpha);
    }
    out.sort_by(|a, b| {
        (
            a.classification,
            a.p_value_adjusted,
            std::cmp::Reverse(a.canary.count),
        )
            .partial_cmp(&(
                b.classification,
                b.p_value_adjusted,
                std::cmp::Reverse(b.canary.count),
            ))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| {
                (
                    &a.service,
                    &a.span_name,
                    &a.exception_type,
                    &a.message_template,
                )
                    .cmp(&(
                        &b.service,
                        &b.span_name,
                        &b.exception_type,
                        &b.message_template,
                    ))
            })
    });
    out
}

/// The classification of one signature (see the module documentation).
pub fn classify(canary: &SideCounts, stable: &SideCounts, q: f64, alpha: f64) -> Classification {
    if q.is_nan() || q >= alpha {
        return Classification::Unchanged;
    }
    match (canary.count, stable.count) {
        (0, 0) => Classification::Unchanged,
        (_, 0) => Classification::NewInCanary,
        (0, _) => Classification::GoneInCanary,
        (c, s) => {
            // Compared as c/nc > s/ns without division.
            let lhs = u128::from(c) * u128::from(stable.requests);
            let rhs = u128::from(s) * u128::from(canary.requests);
            if lhs > rhs {
                Classification::Increased
            } else {
                Classification::Decreased
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(side: Side, msg: &str, trace: u8, start: i64) -> ErrorSpan {
        ErrorSpan {
            trace_id: [trace; 16],
            service: "cart".into(),
            side,
            span_name: "GET /cart".into(),
            start_ns: start,
            exception_type: Some("NotFound".into()),
            message: Some(msg.into()),
            weight: 2.0,
        }
    }

    fn exposure(canary: u64, stable: u64) -> Vec<Exposure> {
        vec![
            Exposure {
                service: "cart".into(),
                side: Side::Canary,
                requests: canary,
                weighted: canary as f64 * 2.0,
                weighted_sq: canary as f64 * 4.0,
                min_weight: 2.0,
                max_weight: 2.0,
            },
            Exposure {
                service: "cart".into(),
                side: Side::Baseline,
                requests: stable,
                weighted: stable as f64 * 2.0,
                weighted_sq: stable as f64 * 4.0,
                min_weight: 2.0,
                max_weight: 2.0,
            },
        ]
    }

    #[test]
    fn messages_differing_in_ids_share_a_signature_with_counts_rates_and_exemplars() {
        let mut errors: Vec<ErrorSpan> = (0..12)
            .map(|i| {
                err(
                    Side::Canary,
                    &format!("order c-{:08x} not found", 0x7f3a9e21 + i),
                    i as u8,
                    i,
                )
            })
            .collect();
        errors.push(err(Side::Baseline, "pool exhausted", 99, 50));
        let sigs = signatures(&errors, &exposure(1000, 4000), 0.05);
        assert_eq!(sigs.len(), 2);
        let s = &sigs[0];
        assert_eq!(s.message_template, "order c-<id> not found");
        assert_eq!((s.canary.count, s.stable.count), (12, 0));
        assert_eq!(s.canary.weighted, 24.0);
        assert_eq!(s.canary.per_1k_requests, Some(12.0));
        assert_eq!(s.stable.per_1k_requests, Some(0.0));
        // Same table as scipy.stats.fisher_exact([[4000, 0], [988, 12]]).
        let p = crate::stats::fisher::fisher_exact([[4000, 0], [988, 12]], Alternative::TwoSided)
            .p_value;
        assert_eq!(s.p_value, p);
        assert!(s.p_value < 1e-6);
        assert_eq!(s.classification, Classification::NewInCanary);
        assert_eq!(s.exemplars.len(), MAX_EXEMPLARS);
        assert_eq!(s.exemplars[0], "00".repeat(16));
        // BH over two p-values: the larger one is unchanged, the smaller one doubled at most.
        assert!(s.p_value_adjusted <= 2.0 * s.p_value);
        assert_eq!(sigs[1].classification, Classification::Unchanged);
        assert_eq!(sigs[1].exemplars, vec!["63".repeat(16)]);
    }

    #[test]
    fn classification_rules() {
        let side = |count, requests| SideCounts {
            count,
            requests,
            ..Default::default()
        };
        use Classification::*;
        assert_eq!(
            classify(&side(5, 100), &side(0, 100), 0.01, 0.05),
            NewInCanary
        );
        assert_eq!(
            classify(&side(0, 100), &side(5, 100), 0.01, 0.05),
            GoneInCanary
        );
        assert_eq!(
            classify(&side(10, 100), &side(10, 400), 0.01, 0.05),
            Increased
        );
        assert_eq!(
            classify(&side(10, 1000), &side(10, 400), 0.01, 0.05),
            Decreased
        );
        assert_eq!(classify(&side(5, 100), &side(0, 100), 0.2, 0.05), Unchanged);
        assert_eq!(
            classify(&side(1, 100), &side(1, 100), f64::NAN, 0.05),
            Unchanged
        );
    }

    #[test]
    fn a_count_above_the_exposure_is_capped_not_a_panic() {
        let errors: Vec<ErrorSpan> = (0..5).map(|i| err(Side::Canary, "x", i, 0)).collect();
        let s = &signatures(&errors, &exposure(2, 0), 0.05)[0];
        assert_eq!(s.canary.requests, 5);
        assert_eq!(s.stable.per_1k_requests, None);
        assert!(s.p_value.is_finite());
    }
}
