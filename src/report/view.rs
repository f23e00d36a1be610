//! What a report shows and in which order: groups ordered by how badly they regressed, their
//! comparisons, and the ids that link table rows and charts. Pure selection and ordering of
//! the analysis result; no statistic is computed here.

use super::escape;
use super::files::slug;
use crate::analysis::findings::{AnalysisReport, Classification, Comparison};
use crate::model::comparison::{ComparisonInput, GroupComparison, GroupKey, GroupLevel};

/// Longest telemetry string shown in a chart label.
pub const MAX_LABEL_CHARS: usize = 60;
/// Longest telemetry string shown in a table cell (the JSON report has the full value).
pub const MAX_CELL_CHARS: usize = 300;
/// Longest analysis prose (verdict summary, reasons, definitions) shown; it quotes route names,
/// so it is bounded too, but generously.
pub const MAX_PROSE_CHARS: usize = 1500;

/// Severity rank of a classification: fails first, then inconclusive, then passes.
pub fn severity(c: Classification) -> u8 {
    match c {
        Classification::FailHigh | Classification::FailLow => 0,
        Classification::Inconclusive => 1,
        Classification::Pass => 2,
    }
}

/// Human name of a classification.
pub fn classification_name(c: Classification) -> &'static str {
    match c {
        Classification::FailHigh => "fail (high)",
        Classification::FailLow => "fail (low)",
        Classification::Inconclusive => "inconclusive",
        Classification::Pass => "pass",
    }
}

/// HTML id of a comparison's table row.
pub fn comparison_anchor(c: &Comparison) -> String {
    format!("cmp-{}", slug(&c.id))
}

/// Stable text form of a group key (for hashing into ids and file names).
fn key_text(k: &GroupKey) -> String {
    let level = match k.level {
        GroupLevel::Route => "route",
        GroupLevel::Operation => "operation",
    };
    format!("{}\u{1f}{level}\u{1f}{}", k.service, k.name)
}

/// One group with its comparisons, as the report shows it.
#[derive(Debug, Clone)]
pub struct GroupView<'a> {
    /// The samples.
    pub group: &'a GroupComparison,
    /// Its comparisons, in report order (most severe first).
    pub comparisons: Vec<&'a Comparison>,
    /// Most severe [`severity`] among the comparisons (3 when it has none).
    pub rank: u8,
    /// Index in `report.comparisons` of its first comparison (`usize::MAX` when none).
    pub first: usize,
    /// Slug of the group key: file-name and id safe, unique per key.
    pub slug: String,
    /// Readable label, cleaned and bounded (escape before output).
    pub label: String,
}

impl GroupView<'_> {
    /// HTML id of the group's latency-distribution panel.
    pub fn ecdf_anchor(&self) -> String {
        format!("latency-ecdf-{}", self.slug)
    }
}

/// Readable `service · route` label of a group key, cleaned and bounded to `max` characters.
pub fn group_label(k: &GroupKey, max: usize) -> String {
    let kind = match k.level {
        GroupLevel::Route => "",
        GroupLevel::Operation => "span ",
    };
    escape::clean(&format!("{} · {kind}{}", k.service, k.name), max)
}

/// A borrowed group key: service, level, route or span name.
type KeyRef<'a> = (&'a str, GroupLevel, &'a str);

/// Every group of `input`, most regressed first: by most severe classification of its
/// comparisons, then by the position of its first comparison in the report (the analysis
/// orders those by severity), then route-level before operation-level, then by key.
pub fn ordered_groups<'a>(
    report: &'a AnalysisReport,
    input: &'a ComparisonInput,
) -> Vec<GroupView<'a>> {
    // Index the comparisons by group once: reports can have thousands of groups.
    let mut by_group: std::collections::HashMap<KeyRef<'a>, Vec<(usize, &'a Comparison)>> =
        std::collections::HashMap::new();
    for (i, c) in report.comparisons.iter().enumerate() {
        let name = match c.level {
            GroupLevel::Route => c.route.as_deref(),
            GroupLevel::Operation => c.operation.as_deref(),
        };
        if let Some(name) = name {
            by_group
                .entry((c.service.as_str(), c.level, name))
                .or_default()
                .push((i, c));
        }
    }
    let mut out: Vec<GroupView<'a>> = input
        .groups
        .iter()
        .map(|g| {
            let mine = by_group
                .get(&(g.key.service.as_str(), g.key.level, g.key.name.as_str()))
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            GroupView {
                group: g,
                comparisons: mine.iter().map(|(_, c)| *c).collect(),
                rank: mine
                    .iter()
                    .map(|(_, c)| severity(c.classification))
                    .min()
                    .unwrap_or(3),
                first: mine.first().map(|(i, _)| *i).unwrap_or(usize::MAX),
                slug: slug(&key_text(&g.key)),
                label: group_label(&g.key, MAX_LABEL_CHARS),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (a.rank, a.first, a.group.key.level, &a.group.key).cmp(&(
            b.rank,
            b.first,
            b.group.key.level,
            &b.group.key,
        ))
    });
    out
}

/// Metric name as shown in labels.
pub fn metric_label(m: crate::analysis::findings::MetricName) -> &'static str {
    use crate::analysis::findings::MetricName::*;
    match m {
        ErrorRate => "error rate",
        LatencyP50 => "p50",
        LatencyP90 => "p90",
        LatencyP99 => "p99",
        LatencyP999 => "p99.9",
        LatencyShift => "latency shift",
        BusinessRatio => "ratio",
        IntervalSeries => "series",
        RequestSplit => "request split",
    }
}

/// Comparisons of the report, most severe first (stable: report order within a severity).
pub fn ordered_comparisons(report: &AnalysisReport) -> Vec<&Comparison> {
    let mut v: Vec<&Comparison> = report.comparisons.iter().collect();
    v.sort_by_key(|c| severity(c.classification));
    v
}

/// `metric · service · route` label of a comparison, cleaned and bounded (not escaped).
pub fn escape_free_comparison_label(c: &Comparison) -> String {
    let name = c.route.as_deref().or(c.operation.as_deref()).unwrap_or("");
    escape::clean(
        &format!("{} · {} · {}", metric_label(c.metric), c.service, name),
        MAX_LABEL_CHARS,
    )
}

/// RFC 3339 UTC time of `ns` nanoseconds since the Unix epoch, to the second.
pub fn fmt_time(ns: i64) -> String {
    crate::model::time::format_rfc3339_seconds(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(fmt_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(fmt_time(951_782_400_000_000_000), "2000-02-29T00:00:00Z");
        assert_eq!(fmt_time(1_795_512_504_000_000_000), "2026-11-24T09:28:24Z");
        assert_eq!(fmt_time(-1_000_000_000), "1969-12-31T23:59:59Z");
    }
}
