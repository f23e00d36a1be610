//! Attribute diff (BubbleUp with statistics): which attribute values are over-represented in a
//! selection of canary requests (errors, slow ones, or an SQL predicate) against a baseline
//! (the other canary requests, or stable's).
//!
//! Definitions (README "Attribute diff"):
//!
//! * Every span attribute and resource attribute of the request's entry span is a key. Per key
//!   the [`TOP_K`] values with the most requests (selection and baseline together; ties by
//!   value) are kept and the rest summed as `other`.
//! * A key is **unbounded** and skipped (listed in `skipped`) when it has more than
//!   [`crate::model::traces::KeyCounts::MAX_VALUES`] distinct values, or more than
//!   [`MAX_UNIQUE_SHARE`] of the requests carrying it (at least [`MIN_ROWS_FOR_UNIQUE`]) have
//!   a distinct value: ids, URLs, timestamps. For `--select errors` the keys that restate the
//!   selection ([`ERROR_KEYS`]) are skipped too.
//! * Per value: `selection_share` = selection requests with the value / selection requests,
//!   `baseline_share` likewise, `difference_pp` = 100 × (selection − baseline share). Test:
//!   two-sided Fisher exact on `[[baseline without, baseline with], [selection without,
//!   selection with]]` (`stats::fisher`), Benjamini–Hochberg across every value of every key.
//! * **Score**: Adtributor's *surprise* of the value — its term of the Jensen–Shannon
//!   divergence between the selection and baseline distributions of the key,
//!   `½·(p·ln(2p/(p+q)) + q·ln(2q/(p+q)))` with `p`, `q` the selection and baseline shares
//!   (R. Bhagwan, R. Kumar, R. Ramjee, G. Varghese, S. Mohapatra, H. Manoharan, P. Shah,
//!   *Adtributor: Revenue Debugging in Advertising Systems*, NSDI 2014, §3.2) — signed by the
//!   difference (an under-represented value scores below zero) and 0 unless the adjusted p is
//!   below α; `other` always scores 0. Ranked by score, then adjusted p, then key and value.
//! * Then pairs of values that explain the selection clearly more together than either alone
//!   ([`super::attribute_pairs`]).

use super::attribute_pairs::{attribute_pairs, candidates, AttributePair, ValueCount};
use crate::model::traces::{
    AttributeCounts, AttributeRef, AttributeSource, KeyCounts, RequestSelect,
};
use crate::stats::fisher::fisher_exact_counts;
use crate::stats::multiple_testing::benjamini_hochberg;
pub use crate::stats::surprise::surprise;
use crate::stats::Alternative;
use serde::Serialize;

/// Values kept per key (the rest are `other`).
pub const TOP_K: usize = 10;
/// A key whose distinct values exceed this share of its requests is an id, not a category.
pub const MAX_UNIQUE_SHARE: f64 = 0.5;
/// The unique-share rule needs at least this many requests carrying the key.
pub const MIN_ROWS_FOR_UNIQUE: u64 = 20;
/// Attributes that restate "this request is an error" and are skipped for `--select errors`.
pub const ERROR_KEYS: &[&str] = &[
    "http.response.status_code",
    "http.status_code",
    "error.type",
    "otel.status_code",
    "otel.status_description",
    "rpc.grpc.status_code",
];

/// One attribute value, selection against baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributeValue {
    /// `span` or `resource`.
    pub source: AttributeSource,
    /// Attribute key.
    pub key: String,
    /// Value (`other`: every value outside the key's top K, with `is_other`).
    pub value: String,
    /// The value stands for the values outside the top K.
    pub is_other: bool,
    /// Selection requests with the value.
    pub selection_count: u64,
    /// Baseline requests with the value.
    pub baseline_count: u64,
    /// Share of selection requests with the value.
    pub selection_share: f64,
    /// Share of baseline requests with the value.
    pub baseline_share: f64,
    /// 100 × (selection share − baseline share).
    pub difference_pp: f64,
    /// Two-sided Fisher exact p-value.
    pub p_value: f64,
    /// Benjamini–Hochberg adjusted across all values.
    pub p_value_adjusted: f64,
    /// Signed surprise (see the module docs); 0 when not significant.
    pub score: f64,
}

/// A key left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedKey {
    /// `span` or `resource`.
    pub source: AttributeSource,
    /// Attribute key.
    pub key: String,
    /// `unbounded` (too many distinct values) or `restates_selection`.
    pub reason: &'static str,
    /// Distinct values seen (capped).
    pub distinct_values: usize,
}

/// The attribute diff.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributeDiff {
    /// `errors`, `slow` or the SQL predicate.
    pub selection: String,
    /// `rest` (other canary requests) or `stable`.
    pub baseline: &'static str,
    /// Requests in the selection.
    pub selection_requests: u64,
    /// Requests in the baseline.
    pub baseline_requests: u64,
    /// Every kept value, ranked.
    pub values: Vec<AttributeValue>,
    /// Keys left out.
    pub skipped: Vec<SkippedKey>,
    /// Pairs of values, those that explain clearly more than either value alone first (see
    /// [`super::attribute_pairs`]).
    pub pairs: Vec<AttributePair>,
    /// Requests whose attributes were not read: from raw files, only the SERVER, CONSUMER and
    /// root spans keep every attribute, so a request whose entry span is of another kind
    /// (under a parent of another service) counts in its set with no attribute values.
    pub requests_without_attributes: u64,
}

/// Ranks the attribute values of `counts` for `select` at level `alpha`.
pub fn attribute_diff(
    counts: &AttributeCounts,
    select: &RequestSelect,
    baseline: &'static str,
    alpha: f64,
) -> AttributeDiff {
    let (ns, nb) = (counts.selection, counts.baseline);
    let (mut values, skipped) = kept_values(counts, select);
    let p: Vec<f64> = values.iter().map(|v| v.p_value).collect();
    for (v, q) in values.iter_mut().zip(benjamini_hochberg(&p)) {
        v.p_value_adjusted = q;
        // `other` is not a value anyone can act on: tested and listed, never ranked on top.
        v.score = if q < alpha && !v.is_other {
            surprise(v.selection_share, v.baseline_share) * v.difference_pp.signum()
        } else {
            0.0
        };
    }
    values.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.p_value_adjusted.total_cmp(&b.p_value_adjusted))
            .then_with(|| (a.source, &a.key, &a.value).cmp(&(b.source, &b.key, &b.value)))
    });
    let pairs = attribute_pairs(counts, &value_counts(&values), alpha);
    AttributeDiff {
        pairs,
        requests_without_attributes: 0,
        selection: match select {
            RequestSelect::Errors => "errors".into(),
            RequestSelect::Slow => "slow".into(),
            RequestSelect::Sql(s) => s.clone(),
        },
        baseline,
        selection_requests: ns,
        baseline_requests: nb,
        values,
        skipped,
    }
}

/// The values the pair search tries for `select` ([`super::attribute_pairs::candidates`]
/// over the kept values of `counts`): what the second pass over the requests counts in
/// pairs ([`crate::model::traces::PairCounts`]). Depends only on the merged single-value
/// counts, so it is the same for any partitioning and row order.
pub fn pair_candidates(counts: &AttributeCounts, select: &RequestSelect) -> Vec<AttributeRef> {
    let (values, _) = kept_values(counts, select);
    candidates(counts, &value_counts(&values))
}

/// Every key's top values (tested, not yet adjusted or scored) and the keys left out.
fn kept_values(
    counts: &AttributeCounts,
    select: &RequestSelect,
) -> (Vec<AttributeValue>, Vec<SkippedKey>) {
    let (ns, nb) = (counts.selection, counts.baseline);
    let mut values = Vec::new();
    let mut skipped = Vec::new();
    for k in &counts.keys {
        let distinct = k.distinct_values();
        let rows = k.rows[0] + k.rows[1];
        let reason = if *select == RequestSelect::Errors && ERROR_KEYS.contains(&k.key.as_str()) {
            Some("restates_selection")
        } else if k.capped
            || (rows >= MIN_ROWS_FOR_UNIQUE && distinct as f64 > MAX_UNIQUE_SHARE * rows as f64)
        {
            Some("unbounded")
        } else {
            None
        };
        if let Some(reason) = reason {
            skipped.push(SkippedKey {
                source: k.source,
                key: k.key.clone(),
                reason,
                distinct_values: distinct,
            });
            continue;
        }
        values.extend(top_values(k, ns, nb));
    }
    (values, skipped)
}

/// The pair search's view of the single values.
fn value_counts(values: &[AttributeValue]) -> Vec<ValueCount> {
    values
        .iter()
        .map(|v| ValueCount {
            source: v.source,
            key: v.key.clone(),
            value: v.value.clone(),
            is_other: v.is_other,
            selection_count: v.selection_count,
            baseline_count: v.baseline_count,
            selection_share: v.selection_share,
        })
        .collect()
}

/// The key's top [`TOP_K`] values and `other`, each tested.
fn top_values(k: &KeyCounts, ns: u64, nb: u64) -> Vec<AttributeValue> {
    let mut v: Vec<&(String, [u64; 2])> = k.values.iter().collect();
    v.sort_by(|a, b| {
        (b.1[0] + b.1[1])
            .cmp(&(a.1[0] + a.1[1]))
            .then_with(|| a.0.cmp(&b.0))
    });
    let mut out: Vec<AttributeValue> = v
        .iter()
        .take(TOP_K)
        .map(|(value, c)| row(k, value, false, *c, ns, nb))
        .collect();
    if v.len() > TOP_K {
        let rest = v[TOP_K..]
            .iter()
            .fold([0, 0], |acc, (_, c)| [acc[0] + c[0], acc[1] + c[1]]);
        out.push(row(k, "other", true, rest, ns, nb));
    }
    out
}

fn row(
    k: &KeyCounts,
    value: &str,
    is_other: bool,
    c: [u64; 2],
    ns: u64,
    nb: u64,
) -> AttributeValue {
    let share = |x: u64, n: u64| if n == 0 { 0.0 } else { x as f64 / n as f64 };
    let (ps, pb) = (share(c[0], ns), share(c[1], nb));
    AttributeValue {
        source: k.source,
        key: k.key.clone(),
        value: value.to_string(),
        is_other,
        selection_count: c[0],
        baseline_count: c[1],
        selection_share: ps,
        baseline_share: pb,
        difference_pp: 100.0 * (ps - pb),
        p_value: fisher_exact_counts(c[1], nb, c[0], ns, Alternative::TwoSided).p_value,
        p_value_adjusted: 1.0,
        score: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str, values: &[(&str, u64, u64)]) -> KeyCounts {
        KeyCounts {
            source: AttributeSource::Span,
            key: k.into(),
            rows: [
                values.iter().map(|v| v.1).sum(),
                values.iter().map(|v| v.2).sum(),
            ],
            values: values
                .iter()
                .map(|(v, a, b)| (v.to_string(), [*a, *b]))
                .collect(),
            capped: false,
        }
    }

    #[test]
    fn surprise_is_the_jensen_shannon_term() {
        assert_eq!(surprise(0.3, 0.3), 0.0);
        assert_eq!(surprise(0.0, 0.0), 0.0);
        // p = 1, q = 0: ½·ln 2.
        assert!((surprise(1.0, 0.0) - 0.5 * 2f64.ln()).abs() < 1e-15);
        assert!(surprise(0.6, 0.2) > surprise(0.4, 0.2));
    }

    #[test]
    fn the_concentrated_value_ranks_first_and_ids_and_status_codes_are_skipped() {
        let ids: Vec<(String, u64, u64)> = (0..100).map(|i| (format!("id{i}"), 1, 0)).collect();
        let ids: Vec<(&str, u64, u64)> = ids.iter().map(|(a, b, c)| (a.as_str(), *b, *c)).collect();
        let counts = AttributeCounts {
            selection: 100,
            baseline: 900,
            keys: vec![
                key(
                    "region",
                    &[("ap", 80, 300), ("eu", 10, 300), ("us", 10, 300)],
                ),
                key(
                    "http.response.status_code",
                    &[("500", 100, 0), ("200", 0, 900)],
                ),
                key("request.id", &ids),
                key("noise", &[("a", 50, 450), ("b", 50, 450)]),
            ],
            ..Default::default()
        };
        let d = attribute_diff(&counts, &RequestSelect::Errors, "rest", 0.05);
        let top = &d.values[0];
        assert_eq!((top.key.as_str(), top.value.as_str()), ("region", "ap"));
        assert!((top.selection_share - 0.8).abs() < 1e-12);
        assert!((top.difference_pp - (80.0 - 100.0 / 3.0)).abs() < 1e-9);
        assert!(top.p_value_adjusted < 1e-6 && top.score > 0.0);
        let reasons: Vec<(&str, &str)> = d
            .skipped
            .iter()
            .map(|s| (s.key.as_str(), s.reason))
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("http.response.status_code", "restates_selection"),
                ("request.id", "unbounded")
            ]
        );
        let noise = d.values.iter().find(|v| v.key == "noise").unwrap();
        assert_eq!(noise.score, 0.0);
        // Under-represented values score below zero and rank last.
        assert!(d.values.last().unwrap().score < 0.0);
    }

    #[test]
    fn values_beyond_the_top_k_are_summed_as_other() {
        let many: Vec<(String, u64, u64)> =
            (0..15).map(|i| (format!("v{i:02}"), 1, 10 + i)).collect();
        let many: Vec<(&str, u64, u64)> =
            many.iter().map(|(a, b, c)| (a.as_str(), *b, *c)).collect();
        let counts = AttributeCounts {
            selection: 15,
            baseline: 1000,
            keys: vec![key("k", &many)],
            ..Default::default()
        };
        let d = attribute_diff(&counts, &RequestSelect::Slow, "stable", 0.05);
        assert_eq!(d.values.len(), TOP_K + 1);
        let other = d.values.iter().find(|v| v.is_other).unwrap();
        // The five smallest (v00..v04: 10..14 baseline requests) are the rest.
        assert_eq!((other.selection_count, other.baseline_count), (5, 60));
    }
}
