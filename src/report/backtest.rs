//! Renders a backtest (`canalyst backtest -o DIR`): `backtest.json`, `report.md` and a
//! self-contained `index.html` with the timeline chart inlined as SVG (PNG and SVG also under
//! `charts/`, linked from the Markdown). Every policy or telemetry string is escaped.

use super::charts::backtest_timeline::BacktestTimeline;
use super::charts::{render, Rendered};
use super::escape;
use super::html::{CSP, STYLE};
use super::ReportError;
use crate::backtest::outcome::{BacktestReport, Outcome, Phase};
use std::path::{Path, PathBuf};

/// Longest policy or telemetry string shown in a cell.
const MAX_CELL: usize = 200;

fn md(s: &str) -> String {
    escape::markdown(&escape::clean(s, MAX_CELL))
}

fn h(s: &str) -> String {
    escape::html(&escape::clean(s, MAX_CELL))
}

fn phase(p: Phase) -> &'static str {
    match p {
        Phase::Successful => "successful",
        Phase::Failed => "failed",
        Phase::Inconclusive => "inconclusive",
        Phase::Error => "error",
    }
}

fn num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.abs() >= 1000.0 || x == x.round() => format!("{x:.0}"),
        Some(x) if x.abs() >= 1.0 => format!("{x:.2}"),
        Some(x) => format!("{x:.4}"),
        None => "–".into(),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", x * 100.0))
        .unwrap_or_else(|| "–".into())
}

/// The headline facts as (label, value) pairs, shared by Markdown and HTML.
fn facts(r: &BacktestReport) -> Vec<(&'static str, String)> {
    let f = vec![
        ("policy", r.policy.clone()),
        ("seed", r.seed.to_string()),
        ("rollout start", r.rollout_start.clone()),
        (
            "decided",
            match (&r.decided_at, r.decided_step) {
                (Some(t), Some(s)) => format!("{t} at step {s} ({}%)", num(r.decided_weight)),
                _ => "not decided".into(),
            },
        ),
        (
            "onset",
            r.onset.clone().unwrap_or_else(|| "not given".into()),
        ),
        (
            "time to detect",
            match (r.time_to_detect_s, r.rolled_back_before_onset) {
                (Some(s), _) => format!("{s:.0} s"),
                (None, true) => "rolled back before the onset".into(),
                _ => "–".into(),
            },
        ),
        (
            "exposure",
            format!(
                "{} canary requests, {} errors",
                r.exposure.canary_requests, r.exposure.canary_errors
            ),
        ),
    ];
    f
}

/// `report.md`.
pub fn markdown(r: &BacktestReport) -> String {
    let mut s = format!(
        "# Backtest: {}\n\n{}\n\n",
        r.outcome.name().replace('_', " ").to_uppercase(),
        md(&r.reason)
    );
    for (k, v) in facts(r) {
        s.push_str(&format!("- **{k}**: {}\n", md(&v)));
    }
    s.push_str("\n![timeline](charts/backtest-timeline.png)\n\n## Steps\n\n| step | weight | kind | started | ended | recorded share | keep probability | thinned share | result |\n|---:|---:|---|---|---|---:|---:|---:|---|\n");
    for st in &r.steps {
        s.push_str(&format!(
            "| {} | {}% | {} | {} | {} | {} | {:.4} | {} | {} |\n",
            st.step,
            num(Some(st.weight)),
            st.kind,
            st.started_at,
            st.ended_at,
            pct(st.recorded_share),
            st.keep_probability,
            pct(st.thinned_share),
            st.result
        ));
    }
    s.push_str("\n## Timeline\n\nEvery measurement, in time order.\n\n| time | step | weight | gate | value | threshold | outcome | canary / baseline requests | detail |\n|---|---:|---:|---|---:|---:|---|---:|---|\n");
    for e in &r.timeline {
        s.push_str(&format!(
            "| {} | {} | {}% | {} | {} | {} | {} | {} / {} | {} |\n",
            e.time,
            e.step,
            num(Some(e.weight)),
            md(&e.gate),
            num(e.value),
            num(e.threshold),
            phase(e.outcome),
            e.canary_requests,
            e.baseline_requests,
            md(&e.detail)
        ));
    }
    s.push_str("\n## Definitions\n\n");
    // Definitions are canalyst's own text: escaped, never shortened.
    for d in &r.definitions {
        s.push_str(&format!("- {}\n", escape::markdown(d)));
    }
    s
}

/// `index.html`, with the rendered timeline chart inlined.
pub fn html(r: &BacktestReport, chart: &Rendered) -> String {
    let class = match r.outcome {
        Outcome::Promoted => "promote",
        Outcome::RolledBack => "rollback",
        Outcome::Incomplete => "continue",
    };
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n<title>canalyst backtest: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>Backtest of {}</h1>\n<div class=\"banner {class}\"><span class=\"verdict\">{}</span><p>{}</p></div>\n<dl class=\"meta\">\n",
        h(r.outcome.name()),
        h(&r.policy),
        h(&r.outcome.name().replace('_', " ").to_uppercase()),
        h(&r.reason)
    );
    for (k, v) in facts(r) {
        s.push_str(&format!("<dt>{k}</dt><dd>{}</dd>\n", h(&v)));
    }
    let svg = chart
        .svg
        .replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
        .replacen(
            "<svg ",
            "<svg role=\"img\" aria-label=\"Backtest timeline: canary weight and gate values\" ",
            1,
        );
    s.push_str(&format!("</dl>\n<h2>Timeline</h2>\n<figure id=\"timeline\">\n{svg}<figcaption>Canary weight per step, then each gate's value (line) against its threshold (dashed); circles successful, crosses failed, triangles inconclusive or error; the decision (solid) and the onset (dashed) as vertical lines.</figcaption></figure>\n<h2>Steps</h2>\n<table>\n<tr><th>step</th><th>weight</th><th>kind</th><th>started</th><th>ended</th><th>recorded share</th><th>keep probability</th><th>thinned share</th><th>result</th></tr>\n"));
    for st in &r.steps {
        s.push_str(&format!(
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}%</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.4}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
            st.step,
            num(Some(st.weight)),
            h(&st.kind),
            h(&st.started_at),
            h(&st.ended_at),
            pct(st.recorded_share),
            st.keep_probability,
            pct(st.thinned_share),
            h(&st.result)
        ));
    }
    s.push_str("</table>\n<h2>Measurements</h2>\n<table>\n<tr><th>time</th><th>step</th><th>weight</th><th>gate</th><th>value</th><th>threshold</th><th>outcome</th><th>canary / baseline</th><th>detail</th></tr>\n");
    for e in &r.timeline {
        let cls = match e.outcome {
            Phase::Successful => "pass",
            Phase::Failed => "fail",
            _ => "inconclusive",
        };
        s.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}%</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"{cls}\">{}</td><td class=\"num\">{} / {}</td><td>{}</td></tr>\n",
            h(&e.time),
            e.step,
            num(Some(e.weight)),
            h(&e.gate),
            num(e.value),
            num(e.threshold),
            phase(e.outcome),
            e.canary_requests,
            e.baseline_requests,
            h(&e.detail)
        ));
    }
    s.push_str("</table>\n<h2>Definitions</h2>\n<ul>\n");
    for d in &r.definitions {
        s.push_str(&format!("<li>{}</li>\n", escape::html(d)));
    }
    s.push_str("</ul>\n</body>\n</html>\n");
    s
}

/// Writes `backtest.json`, `report.md`, `index.html` and `charts/backtest-timeline.{svg,png}`
/// into `dir` (created); returns the JSON path.
pub fn write_backtest(dir: &Path, r: &BacktestReport) -> Result<PathBuf, ReportError> {
    let chart = render(&BacktestTimeline::of(r))?;
    let json = serde_json::to_string_pretty(r)? + "\n";
    let (md, page) = (markdown(r), html(r, &chart));
    super::files::write_bundle(
        dir,
        &super::files::Bundle {
            json_name: "backtest.json",
            json: &json,
            markdown: &md,
            html: &page,
            chart_name: "backtest-timeline",
            chart: &chart,
        },
    )
}
