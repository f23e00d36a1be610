//! `canalyst forensics` output: the [`ForensicsReport`] as terminal text or Markdown
//! (`forensics.md`), and the Forensics section of `canalyst report` (HTML and Markdown). Telemetry strings go through [`escape`]: [`escape::clean`] everywhere,
//! [`escape::markdown`] in Markdown.

use super::escape;
use crate::analysis::findings::{AnalysisReport, Comparison};
use crate::forensics::downstream::{Attribution, DownstreamGroup, OriginStats};
use crate::forensics::quality::InputTraceQuality;
use crate::forensics::signatures::{Classification as SignatureClass, Signature};
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
    if let Some(a) = &r.attributes {
        let _ = writeln!(
            out,
            "\nattributes of the selected canary requests ({}: {} requests) against {} ({} requests), top by score:",
            c(&a.selection),
            a.selection_requests,
            a.baseline,
            a.baseline_requests
        );
        for v in a.values.iter().filter(|v| v.score > 0.0).take(TEXT_ROWS) {
            let _ = writeln!(
                out,
                "  {:>6.1}% vs {:>6.1}% ({:+.1} pp) q={:<8} score {:.4}  {}={}",
                100.0 * v.selection_share,
                100.0 * v.baseline_share,
                v.difference_pp,
                p(v.p_value_adjusted),
                v.score,
                c(&v.key),
                c(&v.value)
            );
        }
        if !a.values.iter().any(|v| v.score > 0.0) {
            let _ = writeln!(
                out,
                "  no attribute value is significantly over-represented"
            );
        }
        for x in a.pairs.iter().filter(|x| x.explains_more) {
            let _ = writeln!(
                out,
                "  together: {}={} and {}={}: {:.1}% of the requests with both are selected (lift {:.2} over either alone), {:.1}% vs {:.1}% q={}",
                c(&x.values[0].key),
                c(&x.values[0].value),
                c(&x.values[1].key),
                c(&x.values[1].value),
                100.0 * x.precision,
                x.lift,
                100.0 * x.selection_share,
                100.0 * x.baseline_share,
                p(x.p_value_adjusted)
            );
        }
    }
    if !r.failing_traces.is_empty() {
        let _ = writeln!(out, "\nfirst failing traces:");
        for t in r.failing_traces.iter().take(TEXT_ROWS) {
            let [start, id, track, service, route, ms, o_service, o_span, msg] = trace_cells(t, c);
            let _ = writeln!(
                out,
                "  {start} {id} {track:<7} {service} {route} {ms} ms <- {o_service} / {o_span}: {msg}"
            );
        }
    }
    let _ = writeln!(
        out,
        "\nstructure: {}",
        super::structure::summary(&r.structure)
    );
    for line in super::structure::sentences(&r.structure)
        .iter()
        .take(TEXT_ROWS)
    {
        let _ = writeln!(out, "  {}", escape::clean(line, 4 * CELL));
    }
    if !r.sampling.warnings.is_empty() {
        let _ = writeln!(out, "\nsampling:");
    }
    for w in &r.sampling.warnings {
        let _ = writeln!(out, "  {}", escape::clean(w, 4 * CELL));
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
    let iq = &r.input_trace_quality;
    if iq.any() {
        let _ = writeln!(out, "\n{}", trace_quality_sentence(iq));
        for line in trace_quality_examples(iq, |s| escape::clean(s, 4 * CELL))
            .iter()
            .take(TEXT_ROWS)
        {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// One sentence on the trace defects of the whole input (README "Bad traces"), plain text.
pub fn trace_quality_sentence(q: &InputTraceQuality) -> String {
    format!(
        "Trace quality over every trace of the input ({} traces, {} spans): {} duplicate span ids, \
         {} orphan spans, {} spans in or below parent cycles, {} split traces (several roots), {} \
         clock-skewed spans (outside their parent by more than {} ms).",
        q.traces,
        q.spans,
        q.duplicate_span_ids,
        q.orphan_spans,
        q.cycle_spans,
        q.split_traces,
        q.clock_skew_spans,
        q.clock_skew_tolerance_ms
    )
}

/// The examples of [`InputTraceQuality`], one line each (`kind: trace … span … in FILE`), the
/// file name through `esc`.
pub fn trace_quality_examples(q: &InputTraceQuality, esc: impl Fn(&str) -> String) -> Vec<String> {
    q.examples
        .iter()
        .flat_map(|(kind, list)| {
            let esc = &esc;
            list.iter().map(move |e| {
                format!(
                    "{kind}: trace {} span {} in {}",
                    escape::clean(&e.trace_id, 64),
                    escape::clean(&e.span_id, 64),
                    esc(&e.file)
                )
            })
        })
        .collect()
}

/// The trace-quality part of a report's Data quality section (HTML): the sentence and, with
/// any defect, the examples.
pub fn trace_quality_html(q: &InputTraceQuality) -> String {
    let mut o = format!("<p>{}</p>\n", escape::html(&trace_quality_sentence(q)));
    if q.any() {
        o.push_str("<ul>\n");
        for line in trace_quality_examples(q, |s| escape::html(&escape::clean(s, 4 * CELL))) {
            let _ = writeln!(o, "<li>{line}</li>");
        }
        o.push_str("</ul>\n");
    }
    o
}

/// The trace-quality part of a Markdown data-quality section: the sentence and, with any
/// defect, the examples as a list.
pub fn trace_quality_markdown(q: &InputTraceQuality) -> String {
    let mut o = format!("{}\n\n", escape::markdown(&trace_quality_sentence(q)));
    if q.any() {
        for line in trace_quality_examples(q, |s| escape::markdown(&escape::clean(s, 4 * CELL))) {
            let _ = writeln!(o, "- {line}");
        }
        o.push('\n');
    }
    o
}

/// The cells of a failing trace's row, in table order: start, trace id, track, root service
/// and route, duration ms, origin service and span name, origin message; the telemetry
/// strings through `esc` (the format's escaper), the others as they are.
fn trace_cells(t: &FailingTrace, esc: impl Fn(&str) -> String) -> [String; 9] {
    [
        t.start.clone(),
        t.trace_id.clone(),
        t.track.name().to_string(),
        esc(&t.root_service),
        esc(&t.root_route),
        format!("{:.1}", t.duration_ms),
        esc(&t.origin.service),
        esc(&t.origin.span_name),
        esc(origin_message(t)),
    ]
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
    if let Some(a) = &r.attributes {
        let _ = writeln!(
            out,
            "\n## Attribute diff\n\nSelection: {} ({} canary requests) against {} ({} requests). Skipped keys: {}.",
            m(&a.selection),
            a.selection_requests,
            a.baseline,
            a.baseline_requests,
            if a.skipped.is_empty() {
                "none".to_string()
            } else {
                a.skipped
                    .iter()
                    .map(|s| format!("{} ({})", m(&s.key), s.reason))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        if crate::report::charts::attribute_shares::AttributeShares::of(a).is_some() {
            let _ = writeln!(
                out,
                "\n![Share of selection and baseline requests with the top attribute values](attribute_shares.png)"
            );
        }
        let _ = writeln!(out, "\n| source | key | value | selection share | baseline share | difference pp | p | adjusted p | score |\n|---|---|---|---:|---:|---:|---:|---:|---:|");
        for v in a.values.iter().take(50) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1}% | {:.1}% | {:+.1} | {} | {} | {:.4} |",
                match v.source {
                    crate::model::traces::AttributeSource::Span => "span",
                    crate::model::traces::AttributeSource::Resource => "resource",
                },
                m(&v.key),
                m(&v.value),
                100.0 * v.selection_share,
                100.0 * v.baseline_share,
                v.difference_pp,
                p(v.p_value),
                p(v.p_value_adjusted),
                v.score
            );
        }
    }
    if let Some(a) = &r.attributes {
        attribute_pairs_markdown(a, &m, &mut out);
    }
    let _ = writeln!(
        out,
        "\n## Trace structure\n\n{}",
        super::structure::markdown(&r.structure)
    );
    let _ = writeln!(out, "\n## Failing traces ({} listed)\n\n| start | trace | track | root | duration ms | origin | message |\n|---|---|---|---|---:|---|---|", r.failing_traces_listed);
    for t in &r.failing_traces {
        let [start, id, track, service, route, ms, o_service, o_span, msg] = trace_cells(t, m);
        let _ = writeln!(
            out,
            "| {start} | `{id}` | {track} | {service} {route} | {ms} | {o_service} / {o_span} | {msg} |"
        );
    }
    let sw = |w: &crate::forensics::sampling::SideWeights| {
        format!(
            "{} requests standing for {:.0}, effective sample size {:.1}",
            w.requests, w.weighted_requests, w.effective_sample_size
        )
    };
    let _ = writeln!(
        out,
        "\n## Sampling\n\nCanary: {}. Stable: {}.\n",
        sw(&r.sampling.canary),
        sw(&r.sampling.stable)
    );
    for w in &r.sampling.warnings {
        let _ = writeln!(out, "- {}", m(w));
    }
    let _ = write!(
        out,
        "\n## Trace quality\n\n{}",
        trace_quality_markdown(&r.input_trace_quality)
    );
    if !r.not_built.is_empty() {
        let _ = writeln!(out, "\nNot built yet: {}.", r.not_built.join(", "));
    }
    out
}

/// The attribute pairs that explain more, and the strongest others, as a Markdown table.
fn attribute_pairs_markdown(
    a: &crate::forensics::attributes::AttributeDiff,
    m: &dyn Fn(&str) -> String,
    out: &mut String,
) {
    if a.pairs.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### Attribute pairs\n\n| explains more | values | selection share | baseline share | precision | lift | adjusted p | adjusted conditional p |\n|---|---|---:|---:|---:|---:|---:|---:|");
    for x in a.pairs.iter().take(10) {
        let _ = writeln!(
            out,
            "| {} | {} = {} and {} = {} | {:.1}% | {:.1}% | {:.1}% | {:.2} | {} | {} |",
            if x.explains_more { "yes" } else { "no" },
            m(&x.values[0].key),
            m(&x.values[0].value),
            m(&x.values[1].key),
            m(&x.values[1].value),
            100.0 * x.selection_share,
            100.0 * x.baseline_share,
            100.0 * x.precision,
            x.lift,
            p(x.p_value_adjusted),
            p(x.p_value_conditional_adjusted)
        );
    }
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
        .filter(|c| c.classification.is_fail())
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

/// The cells of a signature's row, in table order: classification, service, span name,
/// exception type, message template (through `esc`, the format's escaper), canary and stable
/// `count (per 1k)`, p-value, adjusted p-value.
fn signature_cells(s: &Signature, esc: impl Fn(&str) -> String) -> [String; 9] {
    [
        s.classification.name().to_string(),
        esc(&s.service),
        esc(&s.span_name),
        esc(opt(&s.exception_type)),
        esc(&s.message_template),
        format!("{} ({})", s.canary.count, rate(s.canary.per_1k_requests)),
        format!("{} ({})", s.stable.count, rate(s.stable.per_1k_requests)),
        p(s.p_value),
        p(s.p_value_adjusted),
    ]
}

fn signature_row(s: &Signature, m: &dyn Fn(&str) -> String) -> String {
    let [class, service, span, exception, template, canary, stable, p, q] = signature_cells(s, m);
    let exemplar = s
        .exemplars
        .first()
        .map_or(String::new(), |e| format!("`{e}`"));
    format!(
        "| {class} | {service} | {span} | {exception} | {template} | {canary} | {stable} | {p} | {q} | {exemplar} |"
    )
}

/// Failing traces the report's Forensics section lists at most (the exemplars of the shown
/// signatures are listed in addition).
const REPORT_TRACES: usize = 20;

/// Whether a signature is worth a row in the report: it is new in the canary or increased.
fn canary_worse(s: &Signature) -> bool {
    matches!(
        s.classification,
        SignatureClass::NewInCanary | SignatureClass::Increased
    )
}

/// The report's failed comparisons, each with the indices (into `f.signatures`) of its
/// service's signatures that are new in the canary or increased: the error signatures that may
/// explain it.
pub fn linked_findings<'a>(
    report: &'a AnalysisReport,
    f: &ForensicsReport,
) -> Vec<(&'a Comparison, Vec<usize>)> {
    report
        .comparisons
        .iter()
        .filter(|c| c.classification.is_fail())
        .map(|c| {
            let sigs = f
                .signatures
                .iter()
                .enumerate()
                .filter(|(_, s)| s.service == c.service && canary_worse(s))
                .map(|(i, _)| i)
                .collect();
            (c, sigs)
        })
        .collect()
}

/// Traces the section lists: the first [`REPORT_TRACES`] failing traces and every failing
/// trace that is an exemplar of a shown signature, in time order.
fn shown_traces(f: &ForensicsReport) -> Vec<&FailingTrace> {
    let exemplars: std::collections::HashSet<&str> = f
        .signatures
        .iter()
        .filter(|s| canary_worse(s))
        .flat_map(|s| s.exemplars.iter().map(String::as_str))
        .collect();
    f.failing_traces
        .iter()
        .enumerate()
        .filter(|(i, t)| *i < REPORT_TRACES || exemplars.contains(t.trace_id.as_str()))
        .map(|(_, t)| t)
        .collect()
}

/// The report's Forensics section as HTML: failed findings linked to their error signatures
/// and those to their exemplar traces, downstream sentences, the signatures new in the canary
/// or increased, and failing traces with their origin span. Every telemetry string is cleaned,
/// bounded and HTML-escaped; anchors are `sig-N` and `trace-<hex id>`.
pub fn html_section(report: &AnalysisReport, f: &ForensicsReport) -> String {
    let t = |s: &str| {
        format!(
            "<bdi class=\"t\">{}</bdi>",
            escape::html(&escape::clean(s, CELL))
        )
    };
    let traces = shown_traces(f);
    let listed: std::collections::HashSet<&str> =
        traces.iter().map(|t| t.trace_id.as_str()).collect();
    let trace_link = |id: &str| {
        let id = escape::html(&escape::clean(id, 64));
        if listed.contains(id.as_str()) {
            format!("<a href=\"#trace-{id}\"><code>{id}</code></a>")
        } else {
            format!("<code>{id}</code>")
        }
    };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<h2 id=\"forensics\">Forensics</h2>\n<p class=\"note\">Why, from the same inputs, sides \
         and window (<code>canalyst forensics</code>; README \"Forensics\"): {} failing traces \
         ({}); {} error signatures, {} new in the canary or increased.</p>",
        f.failing_trace_counts.total,
        escape::html(&counts(&f.failing_trace_counts)),
        f.signatures.len(),
        f.signatures.iter().filter(|s| canary_worse(s)).count()
    );
    let links = linked_findings(report, f);
    if !links.is_empty() {
        o.push_str(
            "<h3>Failed findings and the error signatures that may explain them</h3>\n<table>\n\
             <thead><tr><th>Finding</th><th>Signatures of its service new in the canary or \
             increased</th><th>Exemplar traces</th></tr></thead>\n<tbody>\n",
        );
        for (c, sigs) in &links {
            let name = c.route.as_deref().or(c.operation.as_deref()).unwrap_or("");
            let sig_cell = if sigs.is_empty() {
                "none".to_string()
            } else {
                sigs.iter()
                    .map(|&i| {
                        let s = &f.signatures[i];
                        format!(
                            "<a href=\"#sig-{i}\">{} {}</a>",
                            t(&s.span_name),
                            t(&s.message_template)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("<br>")
            };
            let ex: Vec<String> = sigs
                .iter()
                .flat_map(|&i| f.signatures[i].exemplars.iter().take(2))
                .map(|e| trace_link(e))
                .collect();
            let _ = writeln!(
                o,
                "<tr><td><a href=\"#{}\">{} · {} · {}</a></td><td>{sig_cell}</td><td>{}</td></tr>",
                escape::html(&super::view::comparison_anchor(c)),
                super::view::metric_label(c.metric),
                t(&c.service),
                t(name),
                if ex.is_empty() {
                    "—".to_string()
                } else {
                    ex.join(" ")
                }
            );
        }
        o.push_str("</tbody>\n</table>\n");
    }
    let d = &f.downstream_summary;
    if d.spans > 0 {
        let _ = writeln!(
            o,
            "<h3 id=\"downstream\">Downstream by originating track</h3>\n<p class=\"note\">\
             Services without a track of their own ({}), compared by the track of the request \
             that called them: {} spans, {} attributed by baggage, {} by the trace tree, {} \
             unattributed.</p>",
            t(&d.untracked_services.join(", ")),
            d.spans,
            d.by_baggage,
            d.by_trace_tree,
            d.unattributed_spans
        );
        o.push_str("<ul>\n");
        if f.downstream_findings.is_empty() {
            o.push_str("<li>No downstream comparison failed.</li>\n");
        }
        for x in &f.downstream_findings {
            let _ = writeln!(
                o,
                "<li class=\"fail\">{}</li>",
                escape::html(&escape::clean(&x.sentence, 4 * CELL))
            );
        }
        o.push_str("</ul>\n");
    }
    if !f.structure.is_empty() {
        o.push_str(&super::structure::html(&f.structure));
    }
    let worse: Vec<(usize, &Signature)> = f
        .signatures
        .iter()
        .enumerate()
        .filter(|(_, s)| canary_worse(s))
        .collect();
    if !worse.is_empty() {
        o.push_str(
            "<h3>Error signatures new in the canary or increased</h3>\n<table>\n<thead><tr>\
             <th>Result</th><th>Service</th><th>Span</th><th>Exception</th><th>Message template</th>\
             <th>Canary (per 1k)</th><th>Stable (per 1k)</th><th>adj. p</th><th>Exemplars</th>\
             </tr></thead>\n<tbody>\n",
        );
        for (i, s) in worse {
            let [class, service, span, exception, template, canary, stable, _, q] =
                signature_cells(s, t);
            let exemplars = s
                .exemplars
                .iter()
                .map(|e| trace_link(e))
                .collect::<Vec<_>>()
                .join(" ");
            let _ = writeln!(
                o,
                "<tr id=\"sig-{i}\"><td class=\"fail\">{class}</td><td>{service}</td><td>{span}</td><td>{exception}</td>\
                 <td>{template}</td><td class=\"num\">{canary}</td><td class=\"num\">{stable}</td>\
                 <td class=\"num\">{q}</td><td>{exemplars}</td></tr>"
            );
        }
        o.push_str("</tbody>\n</table>\n");
    }
    if !traces.is_empty() {
        o.push_str(
            "<h3>Failing traces and the span that started each failure</h3>\n<table>\n<thead>\
             <tr><th>Start</th><th>Trace</th><th>Track</th><th>Root</th><th>ms</th>\
             <th>Origin</th><th>Message</th></tr></thead>\n<tbody>\n",
        );
        for x in traces {
            let [start, id, track, service, route, ms, o_service, o_span, msg] = trace_cells(x, t);
            let (start, id) = (escape::html(&start), escape::html(&escape::clean(&id, 64)));
            let _ = writeln!(
                o,
                "<tr id=\"trace-{id}\"><td>{start}</td><td><code>{id}</code></td><td>{track}</td>\
                 <td>{service} {route}</td><td class=\"num\">{ms}</td><td>{o_service} / {o_span}</td><td>{msg}</td></tr>"
            );
        }
        o.push_str("</tbody>\n</table>\n");
    }
    o
}

/// The report's Forensics section as Markdown (the same content as [`html_section`], trace ids
/// in code spans).
pub fn markdown_section(report: &AnalysisReport, f: &ForensicsReport) -> String {
    let m = |s: &str| escape::markdown(&escape::clean(s, CELL));
    let mut o = String::new();
    let _ = writeln!(
        o,
        "## Forensics\n\nWhy, from the same inputs, sides and window (`canalyst forensics`): {} \
         failing traces ({}); {} error signatures, {} new in the canary or increased.\n",
        f.failing_trace_counts.total,
        counts(&f.failing_trace_counts),
        f.signatures.len(),
        f.signatures.iter().filter(|s| canary_worse(s)).count()
    );
    let links = linked_findings(report, f);
    if !links.is_empty() {
        o.push_str("| finding | signatures of its service new in the canary or increased | exemplar traces |\n|---|---|---|\n");
        for (c, sigs) in &links {
            let name = c.route.as_deref().or(c.operation.as_deref()).unwrap_or("");
            let sig_cell: Vec<String> = sigs
                .iter()
                .map(|&i| {
                    let s = &f.signatures[i];
                    format!("{} {}", m(&s.span_name), m(&s.message_template))
                })
                .collect();
            let ex: Vec<String> = sigs
                .iter()
                .flat_map(|&i| f.signatures[i].exemplars.iter().take(2))
                .map(|e| format!("`{}`", escape::clean(e, 64)))
                .collect();
            let _ = writeln!(
                o,
                "| {} · {} · {} | {} | {} |",
                super::view::metric_label(c.metric),
                m(&c.service),
                m(name),
                if sig_cell.is_empty() {
                    "none".into()
                } else {
                    sig_cell.join("<br>")
                },
                if ex.is_empty() {
                    "—".into()
                } else {
                    ex.join(" ")
                }
            );
        }
        o.push('\n');
    }
    for x in &f.downstream_findings {
        let _ = writeln!(
            o,
            "- {}",
            escape::markdown(&escape::clean(&x.sentence, 4 * CELL))
        );
    }
    if !f.downstream_findings.is_empty() {
        o.push('\n');
    }
    let structure = super::structure::sentences(&f.structure);
    for x in &structure {
        let _ = writeln!(o, "- {}", escape::markdown(&escape::clean(x, 4 * CELL)));
    }
    if !structure.is_empty() {
        o.push('\n');
    }
    let worse: Vec<&Signature> = f.signatures.iter().filter(|s| canary_worse(s)).collect();
    if !worse.is_empty() {
        o.push_str("| classification | service | span | exception | template | canary (per 1k) | stable (per 1k) | p | adjusted p | exemplar |\n|---|---|---|---|---|---:|---:|---:|---:|---|\n");
        for s in worse {
            let _ = writeln!(o, "{}", signature_row(s, &m));
        }
        o.push('\n');
    }
    o
}
