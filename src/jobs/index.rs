//! A job's index page: its past reports with verdict and headline numbers, newest first, and a
//! small trend chart of the score per service. Self-contained HTML like the reports (no script,
//! nothing loaded from anywhere); every string from telemetry or configuration is escaped.

use super::history::HistoryEntry;
use crate::analysis::findings::Verdict;
use crate::report::escape::html as esc;
use std::fmt::Write;
use std::path::Path;

const W: f64 = 640.0;
const H: f64 = 160.0;
const PAD: f64 = 30.0;

fn colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Promote => "#1a7f37",
        Verdict::Rollback => "#cf222e",
        Verdict::Continue => "#9a6700",
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Promote => "promote",
        Verdict::Rollback => "rollback",
        Verdict::Continue => "continue",
    }
}

/// The trend chart: score (0–100) against window end, one line per service, each point
/// coloured by its verdict. Empty string without entries.
pub fn trend_svg(entries: &[HistoryEntry]) -> String {
    let Some(first) = entries.first() else {
        return String::new();
    };
    let t0 = first.end_unix_nano;
    let t1 = entries.last().map_or(t0, |e| e.end_unix_nano);
    let x = |t: i64| match t1 > t0 {
        true => PAD + (t - t0) as f64 / (t1 - t0) as f64 * (W - 2.0 * PAD),
        false => W / 2.0,
    };
    let y = |s: f64| H - PAD - s.clamp(0.0, 100.0) / 100.0 * (H - 2.0 * PAD);
    let mut services: Vec<&Option<String>> = entries.iter().map(|e| &e.service).collect();
    services.sort();
    services.dedup();
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" role=\"img\" \
         aria-label=\"score over time\"><rect width=\"{W}\" height=\"{H}\" fill=\"#fff\"/>\
         <line x1=\"{PAD}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>\
         <text x=\"2\" y=\"{:.1}\" font-size=\"10\">100</text><text x=\"2\" y=\"{:.1}\" \
         font-size=\"10\">0</text>",
        y(0.0),
        W - PAD,
        y(0.0),
        y(100.0) + 4.0,
        y(0.0)
    );
    for (i, svc) in services.iter().enumerate() {
        let pts: Vec<&HistoryEntry> = entries.iter().filter(|e| &&e.service == svc).collect();
        let line: Vec<String> = pts
            .iter()
            .map(|e| format!("{:.1},{:.1}", x(e.end_unix_nano), y(e.score)))
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"#57606a\" points=\"{}\"/>",
            line.join(" ")
        );
        for e in &pts {
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"><title>{} {} {}: {:.1}</title></circle>",
                x(e.end_unix_nano),
                y(e.score),
                colour(e.verdict),
                esc(svc.as_deref().unwrap_or("all services")),
                esc(&e.window_end),
                verdict_name(e.verdict),
                e.score
            );
        }
        if let Some(last) = pts.last() {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\">{}</text>",
                (x(last.end_unix_nano) + 4.0).min(W - PAD),
                y(last.score) - 4.0 - 10.0 * i as f64,
                esc(svc.as_deref().unwrap_or("all"))
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The index page of `job`, linking each report relative to `index_dir` (where the page is
/// written). Deterministic: the same history gives the same bytes.
pub fn render(job: &str, entries: &[HistoryEntry], index_dir: &Path) -> String {
    let mut rows = String::new();
    for e in entries.iter().rev() {
        let link = e
            .report
            .strip_prefix(index_dir)
            .unwrap_or(&e.report)
            .join("index.html");
        let _ = writeln!(
            rows,
            "<tr><td>{} – {}</td><td>{}</td><td style=\"color:{}\">{}</td><td>{:.1}</td>\
             <td>{} of {}</td><td><a href=\"{}\">report</a></td></tr>",
            esc(&e.window_start),
            esc(&e.window_end),
            esc(e.service.as_deref().unwrap_or("all services")),
            colour(e.verdict),
            verdict_name(e.verdict),
            e.score,
            e.failed,
            e.comparisons,
            esc(&link.to_string_lossy())
        );
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <title>canalyst job {job}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 10px;text-align:left}}</style>\
         </head><body>\n<h1>canalyst job {job}</h1>\n\
         <p>{n} reports, newest first. Score: weighted share of passing comparisons (0–100); \
         failed: comparisons classified worse than allowed. Windows are UTC.</p>\n{svg}\n\
         <table><tr><th>window</th><th>service</th><th>verdict</th><th>score</th><th>failed</th><th></th></tr>\n{rows}</table>\n\
         </body></html>\n",
        job = esc(job),
        n = entries.len(),
        svg = trend_svg(entries),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_service_names_and_links_relative() {
        let e = HistoryEntry {
            service: Some("<script>x</script>".into()),
            window_start: "2026-01-01T00:00:00Z".into(),
            window_end: "2026-01-01T01:00:00Z".into(),
            end_unix_nano: 1,
            verdict: Verdict::Rollback,
            score: 40.0,
            failed: 2,
            comparisons: 5,
            report: "/r/2026-01-01/x".into(),
        };
        let page = render(
            "nightly",
            &[
                e.clone(),
                HistoryEntry {
                    end_unix_nano: 2,
                    ..e
                },
            ],
            Path::new("/r"),
        );
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("href=\"2026-01-01/x/index.html\""), "{page}");
        assert!(page.contains("rollback") && page.contains("2 of 5"));
        assert_eq!(page.matches("<circle").count(), 2);
    }
}
