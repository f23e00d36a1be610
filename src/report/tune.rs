//! Renders a tuning sweep (`canalyst tune -o DIR`): `tune.json`, `report.md` and a
//! self-contained `index.html` with the Pareto chart inlined as SVG (PNG and SVG also under
//! `charts/`). Every policy, key and directory name is escaped.

use super::charts::tune_pareto::TunePareto;
use super::charts::{render, Rendered};
use super::escape;
use super::html::{CSP, STYLE};
use super::ReportError;
use crate::tune::evaluate::{Setting, TuneReport};
use std::path::{Path, PathBuf};

/// Longest string shown in a cell.
const MAX_CELL: usize = 200;

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", x * 100.0))
        .unwrap_or_else(|| "–".into())
}

fn secs(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.0} s")).unwrap_or_else(|| "–".into())
}

fn params(s: &Setting) -> String {
    if s.params.is_empty() {
        return "(policy as loaded)".into();
    }
    s.params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The cells of one setting's row, unescaped, shared by Markdown and HTML.
fn row(s: &Setting) -> [String; 9] {
    [
        s.index.to_string(),
        params(s),
        format!(
            "{} ({}/{}; {}–{})",
            pct(s.detection_rate),
            s.detected,
            s.bad,
            pct(Some(s.detection_interval.low)),
            pct(Some(s.detection_interval.high))
        ),
        format!(
            "{} ({}/{}; {}–{})",
            pct(s.false_rollback_rate),
            s.false_rollbacks,
            s.good,
            pct(Some(s.false_rollback_interval.low)),
            pct(Some(s.false_rollback_interval.high))
        ),
        secs(s.median_time_to_detect_s),
        secs(s.p90_time_to_detect_s),
        s.mean_exposure
            .map(|x| format!("{x:.0}"))
            .unwrap_or_else(|| "–".into()),
        s.early_rollbacks.to_string(),
        if s.pareto { "yes" } else { "" }.to_string(),
    ]
}

const HEADER: [&str; 9] = [
    "setting",
    "params",
    "detection (95% CI)",
    "false rollbacks (95% CI)",
    "median TTD",
    "p90 TTD",
    "mean exposure",
    "early rollbacks",
    "Pareto",
];

/// Settings shown in the full table (the front is always shown in full).
const MAX_ROWS: usize = 500;

/// `report.md`.
pub fn markdown(r: &TuneReport) -> String {
    let md = |s: &str| escape::markdown(&escape::clean(s, MAX_CELL));
    let mut s = format!(
        "# Tuning {}\n\n{} deployments ({} good, {} bad), {} settings, seed {}, target false-rollback rate {:.1}%.\n\n**Recommended:** {}\n\n![Pareto chart](charts/tune-pareto.png)\n\n",
        md(&r.policy),
        r.deployments.len(),
        r.settings.first().map_or(0, |s| s.good),
        r.settings.first().map_or(0, |s| s.bad),
        r.settings.len(),
        r.seed,
        r.target_false_rollback_rate * 100.0,
        md(&r.recommendation_reason)
    );
    let table = |s: &mut String, rows: &mut dyn Iterator<Item = &Setting>| {
        s.push_str(&format!(
            "| {} |\n|{}\n",
            HEADER.join(" | "),
            "---|".repeat(HEADER.len())
        ));
        for x in rows {
            let cells: Vec<String> = row(x).iter().map(|c| md(c)).collect();
            s.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
    };
    s.push_str("## Pareto front\n\n");
    table(&mut s, &mut r.settings.iter().filter(|x| x.pareto));
    s.push_str("\n## Every setting\n\n");
    table(&mut s, &mut r.settings.iter().take(MAX_ROWS));
    if r.settings.len() > MAX_ROWS {
        s.push_str(&format!(
            "\n({} more in tune.json)\n",
            r.settings.len() - MAX_ROWS
        ));
    }
    s.push_str("\n## Deployments\n\n| deployment | label | onset | effect | size | traffic |\n|---|---|---|---|---|---|\n");
    for d in &r.deployments {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            md(&d.name),
            if d.label == crate::model::label::Verdict::Bad {
                "bad"
            } else {
                "good"
            },
            md(d.onset.as_deref().unwrap_or("–")),
            md(&d.effect_kind),
            d.effect_size
                .map(|x| x.to_string())
                .unwrap_or_else(|| "–".into()),
            md(&d.traffic)
        ));
    }
    s.push_str("\n## Definitions\n\n");
    for d in &r.definitions {
        s.push_str(&format!("- {}\n", escape::markdown(d)));
    }
    s
}

/// `index.html`, with the rendered Pareto chart inlined.
pub fn html(r: &TuneReport, chart: &Rendered) -> String {
    let h = |s: &str| escape::html(&escape::clean(s, MAX_CELL));
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n<title>canalyst tune: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>Tuning {}</h1>\n<p>{} deployments, {} settings, seed {}, target false-rollback rate {:.1}%.</p>\n<div class=\"banner {}\"><span class=\"verdict\">{}</span><p>{}</p></div>\n",
        h(&r.policy),
        h(&r.policy),
        r.deployments.len(),
        r.settings.len(),
        r.seed,
        r.target_false_rollback_rate * 100.0,
        if r.recommended.is_some() { "promote" } else { "continue" },
        if r.recommended.is_some() { "RECOMMENDED" } else { "NO RECOMMENDATION" },
        h(&r.recommendation_reason)
    );
    let svg = chart
        .svg
        .replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
        .replacen(
            "<svg ",
            "<svg role=\"img\" aria-label=\"Detection rate against false-rollback rate per setting\" ",
            1,
        );
    s.push_str(&format!("<figure id=\"pareto\">\n{svg}<figcaption>Each setting's false-rollback rate (x) and detection rate (y): grey circles, the Pareto front as green triangles joined by a line, the recommended setting circled, the target as a dashed line.</figcaption></figure>\n"));
    let table = |s: &mut String, rows: &mut dyn Iterator<Item = &Setting>| {
        s.push_str("<table>\n<tr>");
        for c in HEADER {
            s.push_str(&format!("<th>{c}</th>"));
        }
        s.push_str("</tr>\n");
        for x in rows {
            s.push_str("<tr>");
            for c in row(x) {
                s.push_str(&format!("<td>{}</td>", h(&c)));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
    };
    s.push_str("<h2>Pareto front</h2>\n");
    table(&mut s, &mut r.settings.iter().filter(|x| x.pareto));
    s.push_str("<h2>Every setting</h2>\n");
    table(&mut s, &mut r.settings.iter().take(MAX_ROWS));
    s.push_str("<h2>Deployments</h2>\n<table>\n<tr><th>deployment</th><th>label</th><th>onset</th><th>effect</th><th>size</th><th>traffic</th></tr>\n");
    for d in &r.deployments {
        s.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            h(&d.name),
            if d.label == crate::model::label::Verdict::Bad {
                "bad"
            } else {
                "good"
            },
            h(d.onset.as_deref().unwrap_or("–")),
            h(&d.effect_kind),
            d.effect_size
                .map(|x| x.to_string())
                .unwrap_or_else(|| "–".into()),
            h(&d.traffic)
        ));
    }
    s.push_str("</table>\n<h2>Definitions</h2>\n<ul>\n");
    for d in &r.definitions {
        s.push_str(&format!("<li>{}</li>\n", escape::html(d)));
    }
    s.push_str("</ul>\n</body>\n</html>\n");
    s
}

/// Writes `tune.json`, `report.md`, `index.html` and `charts/tune-pareto.{svg,png}` into `dir`
/// (created); returns the JSON path.
pub fn write_tune(dir: &Path, r: &TuneReport) -> Result<PathBuf, ReportError> {
    let chart = render(&TunePareto::of(r))?;
    let json = serde_json::to_string_pretty(r)? + "\n";
    let (md, page) = (markdown(r), html(r, &chart));
    super::files::write_bundle(
        dir,
        &super::files::Bundle {
            json_name: "tune.json",
            json: &json,
            markdown: &md,
            html: &page,
            chart_name: "tune-pareto",
            chart: &chart,
        },
    )
}
