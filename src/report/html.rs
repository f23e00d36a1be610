//! The HTML report: one self-contained file.
//!
//! Security properties: every telemetry string is cleaned ([`escape::clean`]), escaped
//! ([`escape::html`]) and wrapped in `<bdi>` so right-to-left text cannot reorder what is
//! around it; charts are inlined SVG produced by plotters (which escapes text); the page has no
//! script and loads nothing (`default-src 'none'` Content-Security-Policy, `img-src data:`),
//! so it works offline, as a CI artifact, and cannot leak that it was opened.

use super::escape::{self, html as h};
use super::figures::{Figure, FigureKind, Figures};
use super::view::{self, classification_name, fmt_time, MAX_CELL_CHARS, MAX_PROSE_CHARS};
use crate::analysis::findings::{
    AnalysisReport, Classification, Comparison, MetricName, Source, Verdict,
};
use crate::forensics::ForensicsReport;
use crate::model::comparison::{ComparisonInput, Selector};
use crate::model::quality::Severity;
use std::fmt::Write;

/// The Content-Security-Policy of the page: nothing may load; inline styles only.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// Most data-quality issues listed in the page (the JSON report has every listed issue).
pub const MAX_ISSUES_SHOWN: usize = 100;

/// The stylesheet every canalyst HTML page inlines (the backtest page too).
pub const STYLE: &str = r#"
:root { --ink:#222; --muted:#555; --line:#ddd; --fail:#D55E00; --pass:#007A5A; --inc:#6b6b6b; --warn:#B07800; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink);
  margin: 0 auto; max-width: 1280px; padding: 16px 24px 48px; line-height: 1.45; font-size: 16px; }
h1 { font-size: 1.6rem; margin: 0.4em 0; }
h2 { font-size: 1.3rem; margin: 1.6em 0 0.5em; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 1.05rem; margin: 0.4em 0; }
.t { unicode-bidi: isolate; overflow-wrap: anywhere; }
.banner { border: 2px solid var(--line); border-left-width: 12px; border-radius: 6px; padding: 12px 18px; margin: 12px 0 20px; }
.banner.rollback { border-color: var(--fail); background: #fdf1ea; }
.banner.promote { border-color: var(--pass); background: #eaf7f2; }
.banner.continue { border-color: var(--warn); background: #fdf6e6; }
.verdict { font-size: 1.8rem; font-weight: 700; letter-spacing: 0.02em; }
.score { font-size: 1.2rem; margin-left: 0.8em; }
.decided { margin-left: 0.6em; color: #555; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0 0; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; }
nav { font-size: 0.95rem; margin: 8px 0; }
nav a { margin-right: 1em; }
figure { margin: 12px 0 20px; page-break-inside: avoid; break-inside: avoid; }
figure svg { max-width: 100%; height: auto; display: block; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 0.92rem; margin-top: 4px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 16px; }
.grid figure { margin: 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; position: sticky; top: 0; }
td { min-width: 4.5em; }
td:first-child { min-width: 7em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:target { outline: 3px solid #0072B2; }
.fail { color: var(--fail); font-weight: 700; }
.pass { color: var(--pass); font-weight: 700; }
.inconclusive { color: var(--inc); font-weight: 700; }
.note { color: var(--muted); font-size: 0.92rem; }
code { font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: 0.9em; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  h2 { page-break-after: avoid; break-after: avoid; }
  th { position: static; }
  table { font-size: 8pt; }
  tr { page-break-inside: avoid; break-inside: avoid; }
  .grid { grid-template-columns: repeat(2, 1fr); }
  a { color: inherit; text-decoration: none; }
}
"#;

/// Telemetry text: cleaned, bounded, escaped, direction-isolated.
fn t(s: &str) -> String {
    format!(
        "<bdi class=\"t\">{}</bdi>",
        h(&escape::clean(s, MAX_CELL_CHARS))
    )
}

/// Analysis prose (which quotes telemetry): as [`t`] with a longer bound.
fn prose(s: &str) -> String {
    format!(
        "<bdi class=\"t\">{}</bdi>",
        h(&escape::clean(s, MAX_PROSE_CHARS))
    )
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Promote => "promote",
        Verdict::Rollback => "rollback",
        Verdict::Continue => "continue",
    }
}

fn class_css(c: Classification) -> &'static str {
    match c {
        Classification::FailHigh | Classification::FailLow => "fail",
        Classification::Pass => "pass",
        Classification::Inconclusive => "inconclusive",
    }
}

fn class_symbol(c: Classification) -> &'static str {
    match c {
        Classification::FailHigh | Classification::FailLow => "▲",
        Classification::Pass => "●",
        Classification::Inconclusive => "○",
    }
}

fn selector(s: &Selector) -> String {
    let mut parts = Vec::new();
    if let Some(tr) = &s.track {
        parts.push(format!("track {}", t(tr)));
    }
    if let Some(v) = &s.version {
        parts.push(format!("version {}", t(v)));
    }
    if parts.is_empty() {
        "(all)".into()
    } else {
        parts.join(", ")
    }
}

/// A number with at most `digits` decimals and no trailing zeros.
pub fn num(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "n/a".into()
        } else if v > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// An effect in its unit: ratios as signed percent change, points and ms signed.
pub fn fmt_effect(v: f64, unit: &str) -> String {
    let signed = |x: f64, d: usize| {
        let s = num(x, d);
        if x > 0.0 && x.is_finite() {
            format!("+{s}")
        } else {
            s
        }
    };
    match unit {
        "ratio" => format!("{}%", signed((v - 1.0) * 100.0, 1)),
        "percentage_points" => format!("{} pp", signed(v, 2)),
        "ms" => format!("{} ms", signed(v, 2)),
        u => format!("{} {}", signed(v, 3), escape::clean(u, 20)),
    }
}

/// `estimate [low, high]` of a comparison, or `—`.
pub fn fmt_estimate(c: &Comparison) -> String {
    match c.estimate {
        None => "—".into(),
        Some(e) => {
            let mut s = fmt_effect(e, &c.unit);
            if let (Some(l), Some(hh)) = (c.ci_low, c.ci_high) {
                s.push_str(&format!(
                    " [{}, {}]",
                    fmt_effect(l, &c.unit),
                    fmt_effect(hh, &c.unit)
                ));
            }
            s
        }
    }
}

/// A p-value: 3 significant digits, `< 1e-6` below that.
pub fn fmt_p(p: Option<f64>) -> String {
    match p {
        None => "—".into(),
        Some(p) if !p.is_finite() => "n/a".into(),
        Some(p) if p < 1e-6 => "<1e-6".into(),
        Some(p) if p < 0.001 => format!("{p:.1e}"),
        Some(p) => num(p, 3),
    }
}

/// The source column of the findings tables: `spans`, or `metrics` with the OTLP metric
/// names used (not escaped).
pub fn source_text(c: &Comparison) -> String {
    if c.metric_names.is_empty() {
        c.source.as_str().to_string()
    } else {
        format!("{} ({})", c.source.as_str(), c.metric_names.join(", "))
    }
}

/// The side summary a comparison's metric is about.
pub fn fmt_side(c: &Comparison, s: &crate::analysis::findings::SideSummary) -> String {
    match c.metric {
        MetricName::ErrorRate | MetricName::BusinessRatio => {
            let rate = if s.weighted_count > 0.0 {
                format!(
                    " ({}%)",
                    num(100.0 * s.weighted_errors / s.weighted_count, 2)
                )
            } else {
                String::new()
            };
            format!("{}/{}{rate}", s.errors, s.count)
        }
        MetricName::LatencyP50 | MetricName::LatencyShift => format!("p50 {} ms", num(s.p50, 2)),
        MetricName::LatencyP90 => format!("p90 {} ms", num(s.p90, 2)),
        MetricName::LatencyP99 => format!("p99 {} ms", num(s.p99, 2)),
        MetricName::LatencyP999 => format!("p99.9 {} ms", num(s.p999, 2)),
        MetricName::IntervalSeries => format!("{} intervals", s.count),
        MetricName::RequestSplit => format!("{} requests", s.count),
    }
}

fn figure(out: &mut String, f: &Figure) {
    // Inline SVG in HTML needs no namespace declaration; dropping it leaves the page without
    // a single URL.
    let svg = f
        .rendered
        .svg
        .replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
        .replacen(
            "<svg ",
            &format!("<svg role=\"img\" aria-label=\"{}\" ", h(&f.title)),
            1,
        );
    // Distribution panels carry their title inside the chart (the PNG needs it too).
    let heading = if f.kind == FigureKind::LatencyPanel {
        String::new()
    } else {
        format!("<h3>{}</h3>\n", t(&f.title))
    };
    let _ = write!(
        out,
        "<figure id=\"{id}\">\n{heading}{svg}<figcaption>{caption}",
        id = h(f.id()),
        caption = h(&f.caption),
    );
    if !f.links.is_empty() {
        out.push_str(" Findings: ");
        let links: Vec<String> = f
            .links
            .iter()
            .map(|l| format!("<a href=\"#{}\">{}</a>", h(&l.anchor), t(&l.label)))
            .collect();
        out.push_str(&links.join(", "));
        out.push('.');
    }
    let _ = writeln!(
        out,
        " <a href=\"{}\">SVG</a> · <a href=\"{}\">PNG</a></figcaption>\n</figure>",
        h(&f.svg_path()),
        h(&f.png_path())
    );
}

/// The "Metrics over time" section: the [`FigureKind::MetricsOverTime`] figures, nothing when
/// there are none (inputs without request-duration metrics).
fn metrics_section(o: &mut String, figs: &Figures) {
    let mut figures = figs.of_kind(FigureKind::MetricsOverTime).peekable();
    if figures.peek().is_none() {
        return;
    }
    o.push_str(
        "<h2 id=\"metrics-over-time\">Metrics over time</h2>\n<p class=\"note\">From the \
         services' own OpenTelemetry metrics (<code>http.server.request.duration</code> \
         histograms), not from spans: per service, stable against canary. The charts are \
         context; judged metric comparisons are the findings whose source is metrics. A \
         regression seen in both spans and metrics is more credible.</p>\n",
    );
    for f in figures {
        figure(o, f);
    }
}

/// Renders the page.
pub fn render(
    report: &AnalysisReport,
    input: &ComparisonInput,
    figs: &Figures,
    forensics: Option<&ForensicsReport>,
    title: &str,
) -> String {
    let mut o = String::with_capacity(256 * 1024);
    let title_c = escape::clean(title, 200);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} — canary report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        h(&title_c)
    );
    let _ = writeln!(o, "<h1>{}</h1>", t(title));
    let metrics_nav = if figs.of_kind(FigureKind::MetricsOverTime).next().is_some() {
        "<a href=\"#metrics-over-time\">Metrics over time</a>"
    } else {
        ""
    };
    let distributions_nav = if figs.of_kind(FigureKind::LatencyPanel).next().is_some() {
        "<a href=\"#distributions\">Latency distributions</a>"
    } else {
        ""
    };
    let over_time_nav = if figs.of_kind(FigureKind::LatencyOverTime).next().is_some() {
        "<a href=\"#over-time\">Over time</a>"
    } else {
        ""
    };
    let forensics_nav = if forensics.is_some() {
        "<a href=\"#forensics\">Forensics</a>"
    } else {
        ""
    };
    let _ = writeln!(
        o,
        "<nav><a href=\"#verdict\">Verdict</a><a href=\"#forest\">Effects</a>\
         {distributions_nav}{over_time_nav}\
         {metrics_nav}<a href=\"#findings\">Findings</a>{forensics_nav}<a href=\"#data-quality\">Data quality</a>\
         <a href=\"#definitions\">Definitions</a></nav>"
    );

    // Verdict banner.
    let v = verdict_word(report.verdict);
    let _ = write!(
        o,
        "<section id=\"verdict\" class=\"banner {v}\">\n<div><span class=\"verdict\">{}</span>\
         <span class=\"score\">score {} / 100</span> <span class=\"decided\">{}</span></div>\n<p>{}</p>\n",
        v.to_uppercase(),
        num(report.score, 1),
        t(&report.decided.describe()),
        prose(&report.summary)
    );
    if !report.drivers.is_empty() {
        o.push_str("<h3>Drivers</h3>\n<ol>\n");
        for id in &report.drivers {
            match report.comparisons.iter().find(|c| &c.id == id) {
                Some(c) => {
                    let _ = writeln!(
                        o,
                        "<li><a href=\"#{}\">{}</a> — <span class=\"{}\">{} {}</span>: {} {}</li>",
                        h(&view::comparison_anchor(c)),
                        t(&view::escape_free_comparison_label(c)),
                        class_css(c.classification),
                        class_symbol(c.classification),
                        classification_name(c.classification),
                        h(&fmt_estimate(c)),
                        prose(&c.reason)
                    );
                }
                None => {
                    let _ = writeln!(o, "<li>{}</li>", t(id));
                }
            }
        }
        o.push_str("</ol>\n");
    }
    let dq = &report.data_quality;
    let _ = write!(
        o,
        "<dl class=\"meta\">\n<dt>Window</dt><dd>{} → {} (UTC)</dd>\n\
         <dt>Stable</dt><dd>{}</dd>\n<dt>Canary</dt><dd>{}</dd>\n\
         <dt>Canary first seen</dt><dd>{}</dd>\n<dt>Configuration</dt><dd>{}</dd>\n\
         <dt>Data quality</dt><dd>{} records read, {} ingested, {} rejected, {} duplicates dropped \
         (<a href=\"#data-quality\">details</a>)</dd>\n</dl>\n</section>\n",
        fmt_time(report.window.start_unix_nano),
        fmt_time(report.window.end_unix_nano),
        selector(&report.baseline),
        selector(&report.canary),
        input
            .canary_first_seen_unix_nano
            .map(fmt_time)
            .unwrap_or_else(|| "unknown".into()),
        t(&report.config_name),
        dq.records_read,
        dq.records_ingested,
        dq.records_rejected,
        dq.duplicates_dropped
    );

    // Charts.
    o.push_str("<h2>Effects</h2>\n");
    for f in figs.of_kind(FigureKind::Forest) {
        figure(&mut o, f);
    }
    if figs.of_kind(FigureKind::LatencyPanel).next().is_some() {
        o.push_str("<h2 id=\"distributions\">Latency distributions</h2>\n<p class=\"note\">Share of requests at or below each duration (ECDF, log duration axis), most regressed groups first. A canary curve to the right of the stable one is slower.</p>\n<div class=\"grid\">\n");
        for f in figs.of_kind(FigureKind::LatencyPanel) {
            figure(&mut o, f);
        }
        o.push_str("</div>\n");
    }
    if figs.ecdf_not_shown > 0 {
        let _ = writeln!(
            o,
            "<p class=\"note\">{} further groups are not drawn (panel limit {}); their findings are in the table.</p>",
            figs.ecdf_not_shown,
            super::figures::MAX_ECDF_PANELS
        );
    }
    if figs.of_kind(FigureKind::LatencyOverTime).next().is_some() {
        o.push_str("<h2 id=\"over-time\">Over time</h2>\n");
    }
    for kind in [
        FigureKind::LatencyOverTime,
        FigureKind::ErrorRateOverTime,
        FigureKind::TrafficSplit,
    ] {
        for f in figs.of_kind(kind) {
            figure(&mut o, f);
        }
    }
    metrics_section(&mut o, figs);

    // Findings table.
    let _ = writeln!(
        o,
        "<h2 id=\"findings\">Findings</h2>\n<p class=\"note\">{} comparisons, most severe first. \
         Estimates are canary relative to stable with their confidence interval; p is the raw \
         p-value, adj. p the Benjamini–Hochberg adjusted one.</p>",
        report.comparisons.len()
    );
    o.push_str(
        "<table>\n<thead><tr><th>Service</th><th>Route / operation</th><th>Metric</th>\
         <th>Source</th><th>Stable</th><th>Canary</th><th>Estimate [CI]</th><th>p / adj. p</th>\
         <th>Result</th><th>Reason</th><th>Charts</th></tr></thead>\n<tbody>\n",
    );
    for c in view::ordered_comparisons(report) {
        let name = match (&c.route, &c.operation) {
            (Some(r), _) => t(r),
            (None, Some(op)) => format!("span {}", t(op)),
            (None, None) => "—".into(),
        };
        let mut chart_links = vec!["<a href=\"#forest\">effects</a>".to_string()];
        if let Some(p) = figs.panel_for(c).filter(|_| c.source == Source::Spans) {
            chart_links.push(format!("<a href=\"#{}\">distribution</a>", h(p)));
        }
        let anchor = view::comparison_anchor(c);
        let shown_over_time = |kind| {
            figs.of_kind(kind)
                .any(|f| f.links.iter().any(|l| l.anchor == anchor))
        };
        // The error-rate chart's first panel is all requests, so it shows every error rate.
        if c.source != Source::Spans {
            // The distribution and over-time charts show spans.
        } else if c.metric == MetricName::ErrorRate {
            chart_links.push("<a href=\"#error-rate-over-time\">over time</a>".into());
        } else if shown_over_time(FigureKind::LatencyOverTime) {
            chart_links.push("<a href=\"#latency-over-time\">over time</a>".into());
        }
        let _ = writeln!(
            o,
            "<tr id=\"{anchor}\"><td>{svc}</td><td>{name}</td><td>{metric}{crit}</td>\
             <td>{source}</td><td class=\"num\">{b}</td><td class=\"num\">{cn}</td><td class=\"num\">{est}</td>\
             <td class=\"num\">{p} / {pa}</td><td class=\"{css}\">{sym} {cls}</td><td>{reason}</td>\
             <td>{links}</td></tr>",
            anchor = h(&anchor),
            svc = t(&c.service),
            metric = super::view::metric_label(c.metric),
            source = t(&source_text(c)),
            crit = if c.critical {
                " <small>(critical)</small>"
            } else {
                ""
            },
            b = h(&fmt_side(c, &c.baseline)),
            cn = h(&fmt_side(c, &c.canary)),
            est = h(&fmt_estimate(c)),
            p = h(&fmt_p(c.p_value)),
            pa = h(&fmt_p(c.p_value_adjusted)),
            css = class_css(c.classification),
            sym = class_symbol(c.classification),
            cls = classification_name(c.classification),
            reason = prose(&c.reason),
            links = chart_links.join(" · "),
        );
    }
    o.push_str("</tbody>\n</table>\n");
    if let Some(f) = forensics {
        o.push_str(&super::forensics::html_section(report, f));
    }

    // Data quality.
    let _ = writeln!(
        o,
        "<h2 id=\"data-quality\">Data quality</h2>\n<p>{} records read, {} ingested, {} rejected, \
         {} exact duplicates dropped.</p>",
        dq.records_read, dq.records_ingested, dq.records_rejected, dq.duplicates_dropped
    );
    if let Some(f) = forensics {
        o.push_str(&super::forensics::trace_quality_html(
            &f.input_trace_quality,
        ));
    }
    if !dq.counts.is_empty() {
        o.push_str("<p>Issues by kind: ");
        let parts: Vec<String> = dq
            .counts
            .iter()
            .map(|(k, n)| format!("<code>{}</code> {n}", t(k)))
            .collect();
        o.push_str(&parts.join(", "));
        o.push_str(".</p>\n");
    }
    if !dq.files.is_empty() {
        o.push_str(
            "<table>\n<thead><tr><th>File</th><th>Format</th><th>Read</th><th>Ingested</th>\
             <th>Rejected</th></tr></thead>\n<tbody>\n",
        );
        for f in &dq.files {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td></tr>",
                t(&f.file),
                t(&f.format),
                f.records_read,
                f.records_ingested,
                f.records_rejected
            );
        }
        o.push_str("</tbody>\n</table>\n");
    }
    if !dq.issues.is_empty() {
        o.push_str(
            "<h3>Issues</h3>\n<table>\n<thead><tr><th>Location</th><th>Kind</th><th>Severity</th>\
             <th>Field</th><th>Reason</th></tr></thead>\n<tbody>\n",
        );
        for i in dq.issues.iter().take(MAX_ISSUES_SHOWN) {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                t(&i.location()),
                i.kind.name(),
                match i.severity {
                    Severity::Rejected => "rejected",
                    Severity::Note => "note",
                },
                i.field.as_deref().map(t).unwrap_or_default(),
                t(&i.reason)
            );
        }
        o.push_str("</tbody>\n</table>\n");
        let more = dq.issues.len().saturating_sub(MAX_ISSUES_SHOWN) as u64 + dq.issues_not_listed;
        if more > 0 {
            let _ = writeln!(
                o,
                "<p class=\"note\">{more} further issues are counted but not listed here (see report.json and the ingest log).</p>"
            );
        }
    }

    // Definitions.
    o.push_str("<h2 id=\"definitions\">Definitions</h2>\n<ul>\n");
    for d in &report.definitions {
        let _ = writeln!(o, "<li>{}</li>", prose(d));
    }
    o.push_str("</ul>\n");
    let _ = writeln!(
        o,
        "<p class=\"note\">canalyst {} · report schema {} · generated {} · also as \
         <a href=\"report.md\">Markdown</a> and <a href=\"report.json\">JSON</a>.</p>\n</body>\n</html>",
        t(&report.tool_version),
        report.schema_version,
        t(&report.generated_at)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_effects_and_p_values() {
        assert_eq!(fmt_effect(1.342, "ratio"), "+34.2%");
        assert_eq!(fmt_effect(0.9, "ratio"), "-10%");
        assert_eq!(fmt_effect(0.5, "percentage_points"), "+0.5 pp");
        assert_eq!(fmt_effect(-12.25, "ms"), "-12.25 ms");
        assert_eq!(fmt_p(Some(0.04321)), "0.043");
        assert_eq!(fmt_p(Some(0.0002)), "2.0e-4");
        assert_eq!(fmt_p(Some(1e-9)), "<1e-6");
        assert_eq!(fmt_p(None), "—");
        assert_eq!(num(-0.0001, 2), "0");
    }

    #[test]
    fn telemetry_text_is_escaped_and_isolated() {
        let s = t("<script>alert(1)</script>\u{202E}");
        assert!(!s.contains("<script>"));
        assert!(s.starts_with("<bdi class=\"t\">&lt;script&gt;"));
        assert!(s.contains('\u{FFFD}'));
    }
}
