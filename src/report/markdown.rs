//! The Markdown report: verdict, drivers, charts as relative PNG links, the findings table,
//! data quality and definitions — for pull-request comments, chat and wikis.
//!
//! Every telemetry string is cleaned ([`escape::clean`]) and Markdown-escaped
//! ([`escape::markdown`]): no `|` can split a table cell, no `[`/`(` can form a link, no `<`
//! can open raw HTML.

use super::escape;
use super::figures::{Figure, FigureKind, Figures};
use super::html::{fmt_estimate, fmt_p, fmt_side, num};
use super::view::{self, classification_name, fmt_time, MAX_CELL_CHARS, MAX_PROSE_CHARS};
use crate::analysis::findings::{AnalysisReport, Classification, Verdict};
use crate::model::comparison::Selector;
use std::fmt::Write;

/// Most data-quality issues listed (the JSON report has every listed issue).
pub const MAX_ISSUES_SHOWN: usize = 50;

fn m(s: &str) -> String {
    escape::markdown(&escape::clean(s, MAX_CELL_CHARS))
}

/// Analysis prose (which quotes telemetry): as [`m`] with a longer bound.
fn prose(s: &str) -> String {
    escape::markdown(&escape::clean(s, MAX_PROSE_CHARS))
}

fn selector(s: &Selector) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &s.track {
        parts.push(format!("track {}", m(t)));
    }
    if let Some(v) = &s.version {
        parts.push(format!("version {}", m(v)));
    }
    if parts.is_empty() {
        "\\(all\\)".into()
    } else {
        parts.join(", ")
    }
}

fn symbol(c: Classification) -> &'static str {
    match c {
        Classification::FailHigh | Classification::FailLow => "▲",
        Classification::Pass => "●",
        Classification::Inconclusive => "○",
    }
}

fn image(o: &mut String, f: &Figure) {
    let _ = writeln!(
        o,
        "![{}]({})\n\n{}\n",
        escape::markdown(&f.title),
        f.png_path(),
        escape::markdown(&f.caption)
    );
}

/// Renders the Markdown report.
pub fn render(
    report: &AnalysisReport,
    figs: &Figures,
    forensics: Option<&crate::forensics::ForensicsReport>,
    title: &str,
) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let _ = writeln!(o, "# {}\n", m(title));
    let verdict = match report.verdict {
        Verdict::Promote => "PROMOTE",
        Verdict::Rollback => "ROLLBACK",
        Verdict::Continue => "CONTINUE",
    };
    let _ = writeln!(
        o,
        "> **Verdict: {verdict}** · score {} / 100 {}\n>\n> {}\n",
        num(report.score, 1),
        m(&report.decided.describe()),
        prose(&report.summary)
    );
    let dq = &report.data_quality;
    let _ = writeln!(
        o,
        "- Window: {} → {} \\(UTC\\)\n- Stable: {}\n- Canary: {}\n- Configuration: {}\n\
         - Data quality: {} records read, {} ingested, {} rejected, {} duplicates dropped\n",
        fmt_time(report.window.start_unix_nano),
        fmt_time(report.window.end_unix_nano),
        selector(&report.baseline),
        selector(&report.canary),
        m(&report.config_name),
        dq.records_read,
        dq.records_ingested,
        dq.records_rejected,
        dq.duplicates_dropped
    );
    if !report.drivers.is_empty() {
        o.push_str("## Drivers\n\n");
        for (i, id) in report.drivers.iter().enumerate() {
            match report.comparisons.iter().find(|c| &c.id == id) {
                Some(c) => {
                    let _ = writeln!(
                        o,
                        "{}. **{}** — {} {}: {} — {}",
                        i + 1,
                        escape::markdown(&view::escape_free_comparison_label(c)),
                        symbol(c.classification),
                        classification_name(c.classification),
                        escape::markdown(&fmt_estimate(c)),
                        prose(&c.reason)
                    );
                }
                None => {
                    let _ = writeln!(o, "{}. {}", i + 1, m(id));
                }
            }
        }
        o.push('\n');
    }

    o.push_str("## Charts\n\n");
    for f in figs.of_kind(FigureKind::Forest) {
        image(&mut o, f);
    }
    if figs.of_kind(FigureKind::LatencyPanel).next().is_some() {
        o.push_str("### Latency distributions\n\n");
    }
    for f in figs.of_kind(FigureKind::LatencyPanel) {
        image(&mut o, f);
    }
    if figs.ecdf_not_shown > 0 {
        let _ = writeln!(
            o,
            "{} further groups are not drawn; their findings are in the table.\n",
            figs.ecdf_not_shown
        );
    }
    if figs.of_kind(FigureKind::LatencyOverTime).next().is_some() {
        o.push_str("### Over time\n\n");
    }
    for kind in [
        FigureKind::LatencyOverTime,
        FigureKind::ErrorRateOverTime,
        FigureKind::TrafficSplit,
    ] {
        for f in figs.of_kind(kind) {
            image(&mut o, f);
        }
    }
    let mut metric_figs = figs.of_kind(FigureKind::MetricsOverTime).peekable();
    if metric_figs.peek().is_some() {
        o.push_str(
            "### Metrics over time\n\nFrom the services' own OpenTelemetry metrics \
             \\(http.server.request.duration histograms\\), not from spans: per service, \
             stable against canary. The charts are context; judged metric comparisons are the \
             findings whose source is metrics.\n\n",
        );
        for f in metric_figs {
            image(&mut o, f);
        }
    }

    let _ = writeln!(
        o,
        "## Findings\n\n{} comparisons, most severe first. p: raw p-value; adj. p: \
         Benjamini–Hochberg adjusted.\n",
        report.comparisons.len()
    );
    o.push_str(
        "| Service | Route / operation | Metric | Source | Stable | Canary | Estimate \\[CI\\] | p / adj. p | Result | Reason |\n\
         |---|---|---|---|--:|--:|--:|--:|---|---|\n",
    );
    for c in view::ordered_comparisons(report) {
        let name = match (&c.route, &c.operation) {
            (Some(r), _) => m(r),
            (None, Some(op)) => format!("span {}", m(op)),
            (None, None) => "—".into(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {}{} | {} | {} | {} | {} | {} / {} | {} {} | {} |",
            m(&c.service),
            name,
            super::view::metric_label(c.metric),
            if c.critical { " \\(critical\\)" } else { "" },
            m(&super::html::source_text(c)),
            escape::markdown(&fmt_side(c, &c.baseline)),
            escape::markdown(&fmt_side(c, &c.canary)),
            escape::markdown(&fmt_estimate(c)),
            escape::markdown(&fmt_p(c.p_value)),
            escape::markdown(&fmt_p(c.p_value_adjusted)),
            symbol(c.classification),
            classification_name(c.classification),
            prose(&c.reason)
        );
    }
    o.push('\n');
    if let Some(f) = forensics {
        o.push_str(&super::forensics::markdown_section(report, f));
    }

    let _ = writeln!(
        o,
        "## Data quality\n\n{} records read, {} ingested, {} rejected, {} exact duplicates dropped.\n",
        dq.records_read, dq.records_ingested, dq.records_rejected, dq.duplicates_dropped
    );
    if let Some(f) = forensics {
        o.push_str(&super::forensics::trace_quality_markdown(
            &f.input_trace_quality,
        ));
    }
    if !dq.counts.is_empty() {
        let parts: Vec<String> = dq
            .counts
            .iter()
            .map(|(k, n)| format!("{} {n}", m(k)))
            .collect();
        let _ = writeln!(o, "Issues by kind: {}.\n", parts.join(", "));
    }
    if !dq.files.is_empty() {
        o.push_str("| File | Format | Read | Ingested | Rejected |\n|---|---|--:|--:|--:|\n");
        for f in &dq.files {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                m(&f.file),
                m(&f.format),
                f.records_read,
                f.records_ingested,
                f.records_rejected
            );
        }
        o.push('\n');
    }
    if !dq.issues.is_empty() {
        o.push_str("Issues:\n\n");
        for i in dq.issues.iter().take(MAX_ISSUES_SHOWN) {
            let _ = writeln!(o, "- {}", m(&i.to_string()));
        }
        let more = dq.issues.len().saturating_sub(MAX_ISSUES_SHOWN) as u64 + dq.issues_not_listed;
        if more > 0 {
            let _ = writeln!(o, "- … and {more} more \\(see report.json\\)");
        }
        o.push('\n');
    }

    o.push_str("## Definitions\n\n");
    for d in &report.definitions {
        let _ = writeln!(o, "- {}", prose(d));
    }
    let _ = writeln!(
        o,
        "\ncanalyst {} · report schema {} · generated {}",
        m(&report.tool_version),
        report.schema_version,
        m(&report.generated_at)
    );
    o
}
