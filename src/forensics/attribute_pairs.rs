//! Attribute pairs: two attribute values that explain the selection clearly more together
//! than either does alone (an error only on one client app in one region).
//!
//! Definitions (README "Attribute diff"):
//!
//! * **Bounded search** in the spirit of iDice (Q. Lin, J.-G. Lou, H. Zhang, D. Zhang,
//!   *iDice: Problem Identification for Emerging Issues*, ICSE 2016) and Squeeze (Z. Li et al.,
//!   *Generic and Robust Localization of Multi-Dimensional Root Causes*, ISSRE 2019): the
//!   candidates are the [`MAX_CANDIDATES`] values carried by the most selection requests,
//!   among the values carried by at least [`MIN_SUPPORT`] of them, of keys with two or more
//!   values (`other` never). Over-representation is not asked of a candidate: a value that
//!   matters only together with another may not stand out alone (iDice's point). The
//!   candidates are chosen from the single values once their counts are merged over every
//!   request ([`candidates`]); then a second streamed pass over the requests reads only the
//!   candidates' keys and counts the requests carrying each pair of
//!   candidates of two different keys (at most 66 pairs;
//!   [`crate::model::traces::PairCounts`]). No per-request list is kept.
//! * Per pair: requests carrying both values in the selection and in the baseline, their
//!   shares and difference, and the **precision** = selection requests among the requests
//!   carrying both (likewise each value's own precision). **Lift** = the pair's precision over
//!   the larger of its values' precisions.
//! * Tests: the pair against every other request (two-sided Fisher exact, as a single value);
//!   and, **conditional**, within the requests carrying each value, those carrying the other
//!   value too against those that do not (two-sided Fisher exact); the larger of the two
//!   conditional p-values is the pair's. Each family Benjamini–Hochberg-adjusted across the
//!   pairs.
//! * A pair **explains clearly more** than either value alone when both adjusted p-values are
//!   below α and the lift is at least [`MIN_LIFT`]: the selection is significantly more
//!   frequent where both values meet than where only one is, and by at least half again.
//! * Score: the signed Adtributor surprise of the pair's shares, as for a single value
//!   ([`crate::stats::surprise::surprise`]); pairs ranked by whether they explain more, then score.

use crate::model::traces::{AttributeCounts, AttributeRef, AttributeSource};
use crate::stats::fisher::fisher_exact_counts;
use crate::stats::multiple_testing::benjamini_hochberg;
use crate::stats::surprise::surprise;
use crate::stats::Alternative;
use serde::Serialize;

/// Values tried in pairs (at most 66 pairs).
pub const MAX_CANDIDATES: usize = 12;
/// Smallest share of the selection a candidate value must carry.
pub const MIN_SUPPORT: f64 = 0.05;
/// Smallest lift of a pair that explains clearly more.
pub const MIN_LIFT: f64 = 1.5;

/// A single attribute value as the attribute diff counted it: the input of the pair search.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueCount {
    /// `span` or `resource`.
    pub source: AttributeSource,
    /// Attribute key.
    pub key: String,
    /// Value.
    pub value: String,
    /// The `other` bucket of a key (never a candidate).
    pub is_other: bool,
    /// Selection requests with the value.
    pub selection_count: u64,
    /// Baseline requests with the value.
    pub baseline_count: u64,
    /// Share of selection requests with the value.
    pub selection_share: f64,
}

/// One value of a pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairMember {
    /// `span` or `resource`.
    pub source: AttributeSource,
    /// Attribute key.
    pub key: String,
    /// Value.
    pub value: String,
    /// Selection requests among the requests carrying the value.
    pub precision: f64,
}

/// Two attribute values together, selection against baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributePair {
    /// The two values (in candidate order: more selection requests first).
    pub values: [PairMember; 2],
    /// Selection requests carrying both.
    pub selection_count: u64,
    /// Baseline requests carrying both.
    pub baseline_count: u64,
    /// Share of selection requests carrying both.
    pub selection_share: f64,
    /// Share of baseline requests carrying both.
    pub baseline_share: f64,
    /// 100 × (selection share − baseline share).
    pub difference_pp: f64,
    /// Selection requests among the requests carrying both.
    pub precision: f64,
    /// `precision` over the larger of the two values' precisions.
    pub lift: f64,
    /// Two-sided Fisher exact p of the pair against every other request.
    pub p_value: f64,
    /// Benjamini–Hochberg adjusted across the pairs.
    pub p_value_adjusted: f64,
    /// The larger of the two conditional p-values (see the module docs).
    pub p_value_conditional: f64,
    /// Benjamini–Hochberg adjusted across the pairs.
    pub p_value_conditional_adjusted: f64,
    /// Signed surprise of the pair's shares; 0 unless `p_value_adjusted` is below α.
    pub score: f64,
    /// The pair explains the selection clearly more than either value alone.
    pub explains_more: bool,
}

/// The candidate values of the pair search among the single values `values` of `counts`
/// (see the module docs): at most [`MAX_CANDIDATES`], most selection requests first, ties
/// by source, key and value.
pub fn candidates(counts: &AttributeCounts, values: &[ValueCount]) -> Vec<AttributeRef> {
    let distinct = |v: &ValueCount| {
        counts
            .keys
            .iter()
            .find(|k| k.source == v.source && k.key == v.key)
            .map_or(0, |k| k.distinct_values())
    };
    let mut cand: Vec<&ValueCount> = values
        .iter()
        .filter(|v| !v.is_other && v.selection_share >= MIN_SUPPORT && distinct(v) >= 2)
        .collect();
    cand.sort_by(|a, b| {
        b.selection_count
            .cmp(&a.selection_count)
            .then_with(|| (a.source, &a.key, &a.value).cmp(&(b.source, &b.key, &b.value)))
    });
    cand.truncate(MAX_CANDIDATES);
    cand.into_iter()
        .map(|v| AttributeRef {
            source: v.source,
            key: v.key.clone(),
            value: v.value.clone(),
        })
        .collect()
}

/// The pairs of the candidate values counted in `counts.pairs` (chosen by [`candidates`]
/// from the same single values `values`). Empty when fewer than two candidates of
/// different keys.
pub fn attribute_pairs(
    counts: &AttributeCounts,
    values: &[ValueCount],
    alpha: f64,
) -> Vec<AttributePair> {
    let pc = &counts.pairs;
    // Each candidate's single-value counts.
    let cand: Vec<Option<&ValueCount>> = pc
        .candidates
        .iter()
        .map(|c| {
            values.iter().find(|v| {
                !v.is_other && v.source == c.source && v.key == c.key && v.value == c.value
            })
        })
        .collect();
    let n = cand.len();
    let (ns, nb) = (counts.selection, counts.baseline);
    let share = |x: u64, n: u64| if n == 0 { 0.0 } else { x as f64 / n as f64 };
    let precision = |s: u64, b: u64| share(s, s + b);
    let mut pairs = Vec::new();
    for x in 0..n {
        for y in x + 1..n {
            let (Some(a), Some(b)) = (cand[x], cand[y]) else {
                continue;
            };
            let [s, bl] = pc.both(x, y);
            if (a.source, &a.key) == (b.source, &b.key) || s == 0 {
                continue;
            }
            let member = |v: &ValueCount| PairMember {
                source: v.source,
                key: v.key.clone(),
                value: v.value.clone(),
                precision: precision(v.selection_count, v.baseline_count),
            };
            let values = [member(a), member(b)];
            let p = precision(s, bl);
            let best = values[0].precision.max(values[1].precision);
            // Within the requests carrying `v`: with the other value against without.
            let conditional = |v: &ValueCount| {
                let (s1, b1) = (
                    v.selection_count.saturating_sub(s),
                    v.baseline_count.saturating_sub(bl),
                );
                fisher_exact_counts(s1, s1 + b1, s, s + bl, Alternative::TwoSided).p_value
            };
            let (ps, pb) = (share(s, ns), share(bl, nb));
            pairs.push(AttributePair {
                values,
                selection_count: s,
                baseline_count: bl,
                selection_share: ps,
                baseline_share: pb,
                difference_pp: 100.0 * (ps - pb),
                precision: p,
                lift: if best > 0.0 { p / best } else { 0.0 },
                p_value: fisher_exact_counts(bl, nb, s, ns, Alternative::TwoSided).p_value,
                p_value_adjusted: 1.0,
                p_value_conditional: conditional(a).max(conditional(b)),
                p_value_conditional_adjusted: 1.0,
                score: 0.0,
                explains_more: false,
            });
        }
    }
    let raw: Vec<f64> = pairs.iter().map(|p| p.p_value).collect();
    let cond: Vec<f64> = pairs.iter().map(|p| p.p_value_conditional).collect();
    for ((p, q), qc) in pairs
        .iter_mut()
        .zip(benjamini_hochberg(&raw))
        .zip(benjamini_hochberg(&cond))
    {
        p.p_value_adjusted = q;
        p.p_value_conditional_adjusted = qc;
        p.score = if q < alpha {
            surprise(p.selection_share, p.baseline_share) * p.difference_pp.signum()
        } else {
            0.0
        };
        p.explains_more = q < alpha && qc < alpha && p.lift >= MIN_LIFT;
    }
    pairs.sort_by(|a, b| {
        b.explains_more
            .cmp(&a.explains_more)
            .then(b.score.total_cmp(&a.score))
            .then(a.p_value_adjusted.total_cmp(&b.p_value_adjusted))
    });
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forensics::attributes::{attribute_diff, pair_candidates};
    use crate::model::traces::{KeyCounts, PairCounts, RequestSelect};

    /// Requests as (selected, region, client, times), counted as the engine does: the
    /// single values first, then the pairs of the candidates they give.
    fn counts(requests: &[(bool, u32, u32, u64)]) -> AttributeCounts {
        let regions = ["eu", "us", "ap"];
        let clients = ["web", "ios", "android"];
        let mut reg = [[0u64; 2]; 3];
        let mut cli = [[0u64; 2]; 3];
        let (mut ns, mut nb) = (0, 0);
        for &(sel, g, c, times) in requests {
            let side = usize::from(!sel);
            reg[g as usize][side] += times;
            cli[c as usize][side] += times;
            if sel {
                ns += times
            } else {
                nb += times
            }
        }
        let key = |k: &str, names: [&str; 3], c: [[u64; 2]; 3]| KeyCounts {
            source: AttributeSource::Span,
            key: k.into(),
            rows: [ns, nb],
            values: names
                .iter()
                .zip(c)
                .map(|(n, c)| (n.to_string(), c))
                .collect(),
            capped: false,
        };
        let mut counts = AttributeCounts {
            selection: ns,
            baseline: nb,
            keys: vec![key("client", clients, cli), key("region", regions, reg)],
            ..Default::default()
        };
        let cand = pair_candidates(&counts, &RequestSelect::Errors);
        let mut pairs = PairCounts::new(cand.clone());
        for &(sel, g, c, times) in requests {
            let carried = [
                ("region", regions[g as usize]),
                ("client", clients[c as usize]),
            ];
            let mask = cand.iter().enumerate().fold(0u32, |m, (i, a)| {
                m | (u32::from(carried.contains(&(a.key.as_str(), a.value.as_str()))) << i)
            });
            for _ in 0..times {
                pairs.add(sel, mask);
            }
        }
        counts.pairs = pairs;
        counts
    }

    #[test]
    fn a_pair_that_fails_only_together_explains_more_and_a_single_cause_does_not() {
        // 100 requests per (region, client); eu+ios fail 40 times, ap fails 10 times on each
        // client (a single cause), everything else 2 times.
        let mut req = Vec::new();
        for g in 0..3 {
            for c in 0..3 {
                let fail = match (g, c) {
                    (0, 1) => 40,
                    (2, _) => 10,
                    _ => 2,
                };
                req.push((true, g, c, fail));
                req.push((false, g, c, 100 - fail));
            }
        }
        let counts = counts(&req);
        let d = attribute_diff(&counts, &RequestSelect::Errors, "rest", 0.05);
        let top = &d.pairs[0];
        let names: Vec<(&str, &str)> = top
            .values
            .iter()
            .map(|m| (m.key.as_str(), m.value.as_str()))
            .collect();
        assert!(
            names.contains(&("region", "eu")) && names.contains(&("client", "ios")),
            "{d:#?}"
        );
        assert_eq!((top.selection_count, top.baseline_count), (40, 60));
        assert!(top.explains_more && top.lift >= MIN_LIFT, "{top:#?}");
        assert!((top.precision - 0.4).abs() < 1e-12);
        // Pairs with the single cause (ap) do not explain more than ap alone.
        for p in &d.pairs {
            if p.values.iter().any(|m| m.value == "ap") {
                assert!(!p.explains_more, "{p:#?}");
            }
        }
        assert_eq!(d.pairs.iter().filter(|p| p.explains_more).count(), 1);
    }

    #[test]
    fn no_counted_pairs_no_pairs() {
        let mut c = counts(&[(true, 0, 1, 5), (false, 1, 0, 5)]);
        assert!(!c.pairs.candidates.is_empty());
        c.pairs = PairCounts::default();
        let d = attribute_diff(&c, &RequestSelect::Errors, "rest", 0.05);
        assert!(d.pairs.is_empty());
    }
}
