//! `canalyst forensics` output: the [`ForensicsReport`] as terminal text or Markdown
//! (`forensics.md`). Telemetry strings go through [`escape`]: [`escape::clean`] everywhere,
//! [`escape::markdown`] in Markdown.

use super::escape;
use crate::analysis::findings::Classification;
use crate::forensics::downstream::{Attribution, DownstreamGroup, OriginStats};
use crate::forensics::signatures::Signature;
use crate::forensics::trace::FailingTrace;
use crate::forensics::{ForensicsReport, TrackCounts};
use crate::model::comparison::Selector;
use std::fmt::Write;

/// Longest telemetry string shown in a table cell.
const CELL: usize = 80;
/// Failing traces and signatures shown in the text summary (the files hold all).
const TEXT_ROWS: usize = 10;

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}

fn rate(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.2}"))
}

fn p(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v < 1e-4 {
        format!("{v:.1e}")
    } else {
        format!("{v:.4}")
    }
}

fn counts(c: &TrackCounts) -> String {
    format!(
        "canary {} · stable {} · both {} · neither {}",
        c.canary, c.stable, c.both, c.neither
    )
}

/// The summary printed by `canalyst forensics --format text`.
pub fn text(r: &ForensicsReport) -> String {
    let c = |s: &str| escape::clean(s, CELL);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "forensics: {} vs {}, window {} .. {}",
        Selector::label(&r.canary),
        Selector::label(&r.baseline),
        r.window.start,
        r.window.end
    );
    let _ = writeln!(
        out,
        "failing traces: {} ({})",
        r.failing_trace_counts.total,
        counts(&r.failing_trace_counts)
    );
    if !r.origins.is_empty() {
        let _ = writeln!(out, "\norigins (failing traces per track):");
        for o in r.origins.iter().take(TEXT_ROWS) {
            let _ = writeln!(
                out,
                "  {:>5} canary {:>5} stable {:>5} other  {} / {} / {}",
                o.counts.canary,
                o.counts.stable,
                o.counts.both + o.counts.neither,
                c(&o.service),
                c(&o.span_name),
                c(opt(&o.exception_type))
            );
        }
    }
    if !r.signatures.is_empty() {
        let _ = writeln!(out, "\nerror signatures (per 1k requests of the service):");
        for s in r.signatures.iter().take(TEXT_ROWS) {
            let _ = writeln!(
                out,
                "  {:<15} canary {:>5} ({:>7}) stable {:>5} ({:>7}) q={:<8} {} / {} / {}: {}",
                s.classification.name(),
                s.canary.count,
                rate(s.canary.per_1k_requests),
                s.stable.count,
                rate(s.stable.per_1k_requests),
                p(s.p_value_adjusted),
                c(&s.service),
                c(&s.span_name),
                c(opt(&s.exception_type)),
                c(&s.message_template)
            );
        }
    }
    let d = &r.downstream_summary;
    if d.spans > 0 {
        let _ = writeln!(
            out,
            "\ndownstream (services without a track of their own: {}; {} spans, {} attributed by baggage, {} by the trace tree, {} unattributed):",
            c(&d.untracked_services.join(", ")),
            d.spans,
            d.by_baggage,
            d.by_trace_tree,
            d.unattributed_spans
        );
        if r.downstream_findings.is_empty() {
            let _ = writeln!(out, "  no downstream comparison failed");
        }
        for f in &r.downstream_findings {
            let _ = writeln!(out, "  {}", escape::clean(&f.sentence, 4 * CELL));
        }
    }
    if !r.failing_traces.is_empty() {
        let _ = writeln!(out, "\nfirst failing traces:");
        for t in r.failing_traces.iter().take(TEXT_ROWS) {
            let _ = writeln!(
                out,
                "  {} {} {:<7} {} {} {:.1} ms <- {} / {}: {}",
                t.start,
                t.trace_id,
                t.track.name(),
                c(&t.root_service),
                c(&t.root_route),
                t.duration_ms,
                c(&t.origin.service),
                c(&t.origin.span_name),
                c(origin_message(t))
            );
        }
    }
    let q = &r.trace_quality;
    let problems = q.duplicate_span_ids
        + q.orphan_spans
        + q.cycle_spans
        + q.multiple_roots
        + q.split_across_files
        + q.clock_skew_spans;
    if problems > 0 {
        let _ = writeln!(
            out,
            "\ntrace problems: {} duplicate span ids, {} orphan spans, {} spans in parent cycles, {} traces with several roots, {} traces split across files, {} clock-skewed spans",
            q.duplicate_span_ids, q.orphan_spans, q.cycle_spans, q.multiple_roots, q.split_across_files, q.clock_skew_spans
        );
    }
    out
}

fn origin_message(t: &FailingTrace) -> &str {
    let o = &t.origin;
    o.exception_message
        .as_deref()
        .or(o.status_message.as_deref())
        .unwrap_or("")
}

/// `forensics.md`: the same content as `forensics.json` as Markdown tables.
pub fn markdown(r: &ForensicsReport) -> String {
    let m = |s: &str| escape::markdown(&escape::clean(s, CELL));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Forensics: {} vs {}\n\nWindow {} .. {}. Failing traces: **{}** ({}).\n",
        m(&Selector::label(&r.canary)),
        m(&Selector::label(&r.baseline)),
        r.window.start,
        r.window.end,
        r.failing_trace_counts.total,
        counts(&r.failing_trace_counts)
    );
    let _ = writeln!(out, "## Origins\n\n| service | span | exception | canary | stable | both | neither |\n|---|---|---|---:|---:|---:|---:|");
    for o in &r.origins {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            m(&o.service),
            m(&o.span_name),
            m(opt(&o.exception_type)),
            o.counts.canary,
            o.counts.stable,
            o.counts.both,
            o.counts.neither
        );
    }
    let _ = writeln!(out, "\n## Error signatures\n\n| classification | service | span | exception | template | canary (per 1k) | stable (per 1k) | p | adjusted p | exemplar |\n|---|---|---|---|---|---:|---:|---:|---:|---|");
    for s in &r.signatures {
        let _ = writeln!(out, "{}", signature_row(s, &m));
    }
    downstream_markdown(r, &m, &mut out);
    let _ = writeln!(out, "\n## Failing traces ({} listed)\n\n| start | trace | track | root | duration ms | origin | message |\n|---|---|---|---|---:|---|---|", r.failing_traces_listed);
    for t in &r.failing_traces {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} {} | {:.1} | {} / {} | {} |",
            t.start,
            t.trace_id,
            t.track.name(),
            m(&t.root_service),
            m(&t.root_route),
            t.duration_ms,
            m(&t.origin.service),
            m(&t.origin.span_name),
            m(origin_message(t))
        );
    }
    let _ = writeln!(out, "\nNot built yet: {}.", r.not_built.join(", "));
    out
}

fn downstream_markdown(r: &ForensicsReport, m: &dyn Fn(&str) -> String, out: &mut String) {
    let d = &r.downstream_summary;
    let _ = writeln!(
        out,
        "\n## Downstream by originating track\n\nServices without a track of their own: {}. Of their {} spans in the window, {} were attributed by baggage, {} by the trace tree, {} not at all.\n",
        if d.untracked_services.is_empty() {
            "none".to_string()
        } else {
            m(&d.untracked_services.join(", "))
        },
        d.spans,
        d.by_baggage,
        d.by_trace_tree,
        d.unattributed_spans
    );
    for f in &r.downstream_findings {
        let _ = writeln!(
            out,
            "- {}",
            escape::markdown(&escape::clean(&f.sentence, 4 * CELL))
        );
    }
    if r.downstream.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n| service | operation | attribution | from canary: calls, errors, p50/p99 ms | from stable: calls, errors, p50/p99 ms | failed comparisons |\n|---|---|---|---|---|---|");
    for g in &r.downstream {
        let _ = writeln!(out, "{}", downstream_row(g, m));
    }
}

fn origin_cell(o: &OriginStats) -> String {
    let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    format!(
        "{}, {} ({}%), {}/{}",
        o.requests,
        o.errors,
        o.error_rate
            .map_or("-".into(), |r| format!("{:.2}", 100.0 * r)),
        ms(o.p50_ms),
        ms(o.p99_ms)
    )
}

fn downstream_row(g: &DownstreamGroup, m: &dyn Fn(&str) -> String) -> String {
    let failed: Vec<String> = g
        .comparisons
        .iter()
        .filter(|c| {
            matches!(
                c.classification,
                Classification::FailHigh | Classification::FailLow
            )
        })
        .map(|c| {
            format!(
                "{} {} {} (q={})",
                super::view::classification_name(c.classification),
                super::view::metric_label(c.metric),
                c.estimate.map_or("-".into(), |e| format!("{e:.2}")),
                p(c.p_value_adjusted.unwrap_or(f64::NAN))
            )
        })
        .collect();
    format!(
        "| {} | {} | {} | {} | {} | {} |",
        m(&g.service),
        m(&g.operation),
        match g.attribution {
            Attribution::Baggage => "baggage",
            Attribution::TraceTree => "trace tree",
            Attribution::Mixed => "mixed",
        },
        origin_cell(&g.canary),
        origin_cell(&g.stable),
        if failed.is_empty() {
            "-".to_string()
        } else {
            failed.join("; ")
        }
    )
}

fn signature_row(s: &Signature, m: &dyn Fn(&str) -> String) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} ({}) | {} ({}) | {} | {} | {} |",
        s.classification.name(),
        m(&s.service),
        m(&s.span_name),
        m(opt(&s.exception_type)),
        m(&s.message_template),
        s.canary.count,
        rate(s.canary.per_1k_requests),
        s.stable.count,
        rate(s.stable.per_1k_requests),
        p(s.p_value),
        p(s.p_value_adjusted),
        s.exemplars
            .first()
            .map_or(String::new(), |e| format!("`{e}`"))
    )
}
