//! `canalyst report` end to end: the files it writes, its exit code, a self-contained HTML page
//! whose banner and findings lead with the regressions, hostile telemetry strings, PNG charts,
//! a headless-browser check, and the committed golden example in `reports/example/`.

use crate::fixtures::{code, root, run_env, sample_analysis, stderr, EPOCH};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Title of the golden example (`reports/README.md`).
const TITLE: &str = "canalyst example report";

/// `SOURCE_DATE_EPOCH=EPOCH canalyst --threads 2 report sample-data/otlp -o DIR --title TITLE`,
/// run once: the command of `reports/README.md` (whose output must not depend on the thread
/// count) into a temporary directory kept for the whole process. Returns (exit code, DIR).
fn sample_report_dir() -> (i32, &'static Path) {
    static CELL: OnceLock<(i32, PathBuf, tempfile::TempDir)> = OnceLock::new();
    let (c, dir, _) = CELL.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("example");
        let o = run_env(
            &[
                "--threads",
                "2",
                "report",
                "sample-data/otlp",
                "-o",
                dir.to_str().unwrap(),
                "--title",
                TITLE,
            ],
            &[("SOURCE_DATE_EPOCH", EPOCH)],
        );
        assert!(
            dir.join("index.html").is_file(),
            "report wrote no index.html; exit {}; stderr:\n{}",
            code(&o),
            stderr(&o)
        );
        (code(&o), dir, tmp)
    });
    (*c, dir)
}

fn read_text(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Every file below `dir`, relative to it, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            assert!(
                !ft.is_symlink(),
                "symlink in report: {}",
                e.path().display()
            );
            if ft.is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn charts_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| p.starts_with("charts") && p.extension().is_some_and(|e| e == ext))
        .map(|p| dir.join(p))
        .collect()
}

/// The HTML with `<style>` and inline `<svg>` elements cut out, for checks on the markup.
fn markup_only(html: &str) -> String {
    let mut s = html.to_string();
    for (open, close) in [("<style>", "</style>"), ("<svg", "</svg>")] {
        while let Some(i) = s.find(open) {
            let j = s[i..].find(close).expect("element closed") + i + close.len();
            s.replace_range(i..j, "");
        }
    }
    s
}

/// Checks the HTML page is self-contained and well-escaped: a CSP meta tag, no script, no
/// URL, and every `<` starts a tag (so text never carries raw markup characters).
fn assert_self_contained(html: &str) {
    assert!(
        html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'"),
        "no restrictive CSP meta tag"
    );
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "script element"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "URL in page"
    );
    let m = markup_only(html);
    for (i, _) in m.match_indices('<') {
        let next = m[i + 1..].chars().next().unwrap_or(' ');
        assert!(
            next.is_ascii_alphabetic() || next == '/' || next == '!',
            "raw '<' in text: {:?}",
            &m[i.saturating_sub(40)..(i + 40).min(m.len())]
        );
    }
}

#[test]
fn sample_report_writes_every_file_and_equals_analyze_at_any_thread_count() {
    let (c, dir) = sample_report_dir();
    let (analyze_code, analyze_json) = sample_analysis();
    assert_eq!(c, *analyze_code, "report and analyze exit codes differ");
    assert_eq!(c, 1);
    for f in ["index.html", "report.md", "report.json"] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let svgs = charts_with_ext(dir, "svg");
    let pngs = charts_with_ext(dir, "png");
    assert!(svgs.len() >= 4, "{svgs:?}");
    assert_eq!(svgs.len(), pngs.len(), "every chart as SVG and PNG");
    for s in &svgs {
        let png = s.with_extension("png");
        assert!(pngs.contains(&png), "{} has no PNG", s.display());
        assert!(read_text(s).starts_with("<svg"), "{}", s.display());
    }
    // report.json is the analysis, byte for byte, plus the forensics as its last key: same
    // SOURCE_DATE_EPOCH, and 2 threads here against 1 for `analyze` (results must not depend
    // on the thread count).
    let json = read_text(&dir.join("report.json"));
    let cut = json
        .find(",\n  \"forensics\": {")
        .expect("report.json ends with the forensics key");
    let json = format!("{}\n}}\n", &json[..cut]);
    crate::analyze::assert_same_text(
        "report.json (--threads 2) vs analyze -o - (--threads 1)",
        &json,
        analyze_json,
    );
    // Markdown links only to files that exist.
    let md = read_text(&dir.join("report.md"));
    for part in md.split("](").skip(1) {
        let target = &part[..part.find(')').unwrap()];
        if !target.starts_with('#') {
            assert!(
                dir.join(target).is_file(),
                "report.md links to missing {target}"
            );
        }
    }
}

#[test]
fn sample_html_is_self_contained_and_leads_with_the_regressions() {
    let (_, dir) = sample_report_dir();
    let html = read_text(&dir.join("index.html"));
    assert_self_contained(&html);
    let report: Value = serde_json::from_str(&read_text(&dir.join("report.json"))).unwrap();
    let comparisons = report["comparisons"].as_array().unwrap();
    let drivers: Vec<&Value> = report["drivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| comparisons.iter().find(|c| c["id"] == *d).unwrap())
        .collect();
    assert!(drivers.len() >= 3, "{}", report["summary"]);
    // The verdict banner names each driver's service and route.
    let banner_start = html
        .find("<section id=\"verdict\"")
        .expect("verdict banner");
    let banner =
        &html[banner_start..banner_start + html[banner_start..].find("</section>").unwrap()];
    assert!(banner.contains("ROLLBACK"), "{banner}");
    for d in &drivers {
        let (svc, route) = (d["service"].as_str().unwrap(), d["route"].as_str().unwrap());
        assert!(
            banner.contains(&format!("{svc} · {route}")),
            "banner does not name {svc} {route}"
        );
    }
    // The findings table starts with the drivers, in order.
    let table_start = html.find("<h2 id=\"findings\">").expect("findings");
    let tbody = &html[table_start..];
    let tbody = &tbody[tbody.find("<tbody>").unwrap()..tbody.find("</tbody>").unwrap()];
    let rows: Vec<Vec<String>> = tbody
        .split("<tr ")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| strip_tags(&cell[cell.find('>').unwrap() + 1..]))
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), comparisons.len(), "one row per comparison");
    for (i, d) in drivers.iter().enumerate() {
        let row = &rows[i];
        assert_eq!(row[0], d["service"].as_str().unwrap(), "row {i}: {row:?}");
        assert_eq!(row[1], d["route"].as_str().unwrap(), "row {i}: {row:?}");
        assert!(row[8].contains("fail"), "row {i} is not a failure: {row:?}");
        assert_eq!(row[3], "spans", "row {i}: {row:?}");
    }
    // After them no failure follows (this sample's drivers are all its failures).
    assert!(rows[drivers.len()..].iter().all(|r| !r[8].contains("fail")));
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for ch in s.chars() {
        match ch {
            '<' => depth += 1,
            '>' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(ch),
            _ => {}
        }
    }
    out.trim().to_string()
}

// ---------------------------------------------------------------------------------------------
// PNG charts and the browser

/// Decodes a PNG and returns (width, height, luminance variance, share of non-white pixels).
fn png_stats(p: &Path) -> (u32, u32, f64, f64) {
    let img = image::open(p)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", p.display()))
        .to_rgb8();
    let (w, h) = img.dimensions();
    let lum: Vec<f64> = img
        .pixels()
        .map(|px| 0.2126 * px[0] as f64 + 0.7152 * px[1] as f64 + 0.0722 * px[2] as f64)
        .collect();
    let mean = lum.iter().sum::<f64>() / lum.len() as f64;
    let var = lum.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lum.len() as f64;
    let ink = lum.iter().filter(|&&l| l < 200.0).count() as f64 / lum.len() as f64;
    (w, h, var, ink)
}

#[test]
fn png_charts_decode_and_are_not_blank() {
    let (_, dir) = sample_report_dir();
    let pngs = charts_with_ext(dir, "png");
    assert!(!pngs.is_empty());
    for p in &pngs {
        let (w, h, var, ink) = png_stats(p);
        assert!(w >= 400 && h >= 250, "{}: {w}x{h}", p.display());
        assert!(w <= 4000 && h <= 4000, "{}: {w}x{h}", p.display());
        assert!(
            var > 100.0,
            "{}: looks blank (variance {var:.1})",
            p.display()
        );
        assert!(
            ink > 0.005 && ink < 0.9,
            "{}: ink share {ink:.3}",
            p.display()
        );
    }
    // The checker can fail: a blank image has no variance.
    let blank = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    image::RgbImage::from_pixel(500, 300, image::Rgb([255, 255, 255]))
        .save(blank.path())
        .unwrap();
    let (_, _, var, ink) = png_stats(blank.path());
    assert!(var < 1.0 && ink == 0.0);
}

#[test]
fn headless_browser_renders_the_sample_report() {
    if crate::tools::chromium().is_none() {
        crate::tools::skip(
            "headless_browser_renders_the_sample_report",
            "no chromium, chromium-browser or google-chrome on PATH and CHROMIUM is not set",
            crate::tools::tools_required(),
        );
        return;
    }
    let (_, dir) = sample_report_dir();
    let mut c = std::process::Command::new("bash");
    c.arg(root().join("tests/browser/check_report.sh")).arg(dir);
    if let Some(keep) = std::env::var_os("CANALYST_KEEP_SCREENSHOT") {
        c.env("KEEP_SCREENSHOT", keep);
    }
    let o = c.output().expect("run check_report.sh");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "browser check failed:\n{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("OK"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// Hostile telemetry

const SCRIPT: &str = "<script>alert(1)</script>";

/// Route names an attacker controls (they arrive as `http.route` and span names).
fn hostile_routes() -> Vec<String> {
    vec![
        format!("/a{SCRIPT}"),
        "/q\"'><img src=x onerror=alert(2)>".to_string(),
        "../../etc/passwd".to_string(),
        format!("/long/{}{SCRIPT}", "x".repeat(5000)),
        "/rtl/\u{202E}gnp.exe\u{202C}".to_string(),
        "/emoji/🚀🔥".to_string(),
    ]
}

/// OTLP/JSON lines: two services with hostile names, stable and canary resources, 150 SERVER
/// spans per side per route, the canary slower on the first route and with errors whose
/// exception messages are hostile too.
fn hostile_otlp() -> String {
    let t0: u64 = 1_767_225_600_000_000_000;
    let mut lines = Vec::new();
    let mut id = 0u64;
    for svc in [format!("svc{SCRIPT}"), "../../etc/passwd".to_string()] {
        for track in ["stable", "canary"] {
            let mut spans = Vec::new();
            for (r, route) in hostile_routes().iter().enumerate() {
                for i in 0..150u64 {
                    id += 1;
                    let start = t0 + i * 2_000_000_000 + r as u64 * 1_000_000;
                    // Deterministic spread of durations 20..=69 ms; canary ×2 on route 0.
                    let mut ms = 20 + (i * 37 + r as u64 * 11) % 50;
                    if track == "canary" && r == 0 {
                        ms *= 2;
                    }
                    let error = track == "canary" && i % 10 == 0;
                    let mut span = serde_json::json!({
                        "traceId": format!("{id:032x}"),
                        "spanId": format!("{id:016x}"),
                        "name": format!("GET {route}"),
                        "kind": 2,
                        "startTimeUnixNano": start.to_string(),
                        "endTimeUnixNano": (start + ms * 1_000_000).to_string(),
                        "attributes": [
                            {"key": "http.request.method", "value": {"stringValue": "GET"}},
                            {"key": "http.route", "value": {"stringValue": route}},
                            {"key": "http.response.status_code",
                             "value": {"intValue": if error { "500" } else { "200" }}}
                        ],
                        "status": {}
                    });
                    if error {
                        span["status"] = serde_json::json!({"code": 2, "message": SCRIPT});
                        span["events"] = serde_json::json!([{
                            "name": "exception",
                            "timeUnixNano": start.to_string(),
                            "attributes": [
                                {"key": "exception.type", "value": {"stringValue": SCRIPT}},
                                {"key": "exception.message",
                                 "value": {"stringValue": format!("{SCRIPT} \"quoted\" ../../etc/passwd \u{202E}🚀")}}
                            ]
                        }]);
                    }
                    spans.push(span);
                }
            }
            lines.push(
                serde_json::json!({"resourceSpans": [{
                    "resource": {"attributes": [
                        {"key": "service.name", "value": {"stringValue": svc}},
                        {"key": "service.version", "value": {"stringValue": format!("1.0{SCRIPT}")}},
                        {"key": "deployment.track", "value": {"stringValue": track}}
                    ]},
                    "scopeSpans": [{"scope": {"name": SCRIPT}, "spans": spans}]
                }]})
                .to_string(),
            );
        }
    }
    lines.join("\n") + "\n"
}

#[test]
fn hostile_telemetry_is_escaped_and_stays_inside_the_report_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("hostile.jsonl");
    std::fs::write(&input, hostile_otlp()).unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let dir = out.join("report");
    let o = run_env(
        &[
            "report",
            input.to_str().unwrap(),
            "-o",
            dir.to_str().unwrap(),
            "--title",
            &format!("t{SCRIPT}"),
        ],
        &[],
    );
    let c = code(&o);
    assert!([0, 1, 3].contains(&c), "exit {c}: {}", stderr(&o));
    // The slower canary route is found: a verdict was reached on real comparisons.
    let report: Value = serde_json::from_str(&read_text(&dir.join("report.json"))).unwrap();
    assert!(
        report["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["route"] == format!("/a{SCRIPT}") && c["classification"] == "fail_high"),
        "{}",
        report["summary"]
    );

    // Nothing was written beside the report directory, nothing escapes it.
    let beside: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("report")]);
    let mut top: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["hostile.jsonl", "out"]);
    let files = walk(&dir);
    assert!(files.len() > 5, "{files:?}");
    for f in &files {
        let name = f.to_string_lossy();
        assert!(
            f.components()
                .all(|c| matches!(c, std::path::Component::Normal(_))),
            "{name}"
        );
        assert!(!name.contains(".."), "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)),
            "unsafe file name {name:?}"
        );
        assert!(name.len() < 200, "file name too long: {name}");
        let full = dir.join(f).canonicalize().unwrap();
        assert!(full.starts_with(dir.canonicalize().unwrap()), "{name}");
    }

    // The raw script never reaches a rendered format.
    let html = read_text(&dir.join("index.html"));
    assert_self_contained(&html);
    // The Forensics section renders the hostile exception messages (a signature new in the
    // canary, with its exemplars), so the checks below cover it too.
    let sigs = report["forensics"]["signatures"].as_array().unwrap();
    assert!(
        sigs.iter()
            .any(|s| s["classification"] == "new_in_canary" && s["exception_type"] == SCRIPT),
        "{sigs:#?}"
    );
    assert!(html.contains("id=\"forensics\"") && html.contains("id=\"sig-"));
    assert!(
        html.contains("&lt;script&gt;alert(1)"),
        "hostile route not shown escaped"
    );
    let mut rendered = vec![dir.join("index.html"), dir.join("report.md")];
    rendered.extend(charts_with_ext(&dir, "svg"));
    for p in &rendered {
        let text = read_text(p);
        for bad in ["<script", "<img", "onerror=alert(2)>"] {
            assert!(
                !text.to_ascii_lowercase().contains(bad),
                "{} contains raw {bad}",
                p.display()
            );
        }
        // Bidi overrides are shown as visible escapes, not applied.
        assert!(
            !text.contains('\u{202E}'),
            "{} contains a raw RLO",
            p.display()
        );
    }
    // The 5 kB name is bounded in the page.
    assert!(
        !html.contains(&"x".repeat(1000)),
        "5 kB route not truncated"
    );
    for p in charts_with_ext(&dir, "png") {
        let (w, h, var, _) = png_stats(&p);
        assert!(w >= 400 && h >= 250 && var > 100.0, "{}", p.display());
    }
}

#[test]
fn sample_report_has_a_forensics_section_linking_failed_findings_to_signatures_and_traces() {
    let (_, dir) = sample_report_dir();
    let report: Value = serde_json::from_str(&read_text(&dir.join("report.json"))).unwrap();
    let f = &report["forensics"];
    let schema: Value =
        serde_json::from_str(&read_text(&root().join("docs/forensics.schema.json"))).unwrap();
    let mut errs = Vec::new();
    crate::analyze::check_schema(&schema, f, &schema, "$", &mut errs);
    assert!(errs.is_empty(), "{errs:#?}");
    // sample-data/truth.json: canary payment /charge errors x5. The failed error-rate finding
    // links to payment's increased signature, and that to exemplar traces listed below it.
    let failed = report["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["service"] == "payment"
                && c["metric"] == "error_rate"
                && c["classification"] == "fail_high"
        })
        .expect("payment error-rate finding");
    let (i, sig) = f["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .find(|(_, s)| s["service"] == "payment" && s["classification"] == "increased")
        .expect("payment signature");
    let html = read_text(&dir.join("index.html"));
    let section = &html[html
        .find("<h2 id=\"forensics\">")
        .expect("forensics section")..];
    let section = &section[..section.find("<h2 id=\"data-quality\">").unwrap()];
    let row = section
        .lines()
        .find(|l| l.contains("href=\"#cmp-") && l.contains("payment"))
        .expect("finding row");
    assert!(row.contains(&format!("href=\"#sig-{i}\"")), "{row}");
    assert!(
        failed["id"].as_str().is_some() && section.contains(&format!("<tr id=\"sig-{i}\">")),
        "signature row"
    );
    let listed: Vec<&str> = f["failing_traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap())
        .collect();
    let linked: Vec<&str> = sig["exemplars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .filter(|e| section.contains(&format!("href=\"#trace-{e}\"")))
        .collect();
    assert!(!linked.is_empty(), "no exemplar linked: {section}");
    for e in linked {
        assert!(listed.contains(&e));
        assert!(section.contains(&format!("<tr id=\"trace-{e}\">")), "{e}");
    }
    let md = read_text(&dir.join("report.md"));
    assert!(md.contains("## Forensics") && md.contains("PaymentGatewayError"));
}

// ---------------------------------------------------------------------------------------------
// Golden example

/// The lines of a golden file with the tool version taken out (the only input-independent
/// part that changes between releases).
fn without_version(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("\"tool_version\""))
        .map(|l| match l.strip_prefix("canalyst ") {
            Some(rest) if rest.contains(" · report schema ") => {
                let after = &rest[rest.find(' ').unwrap()..];
                format!("canalyst VERSION{after}")
            }
            _ => l.to_string(),
        })
        .collect()
}

fn assert_same_lines(name: &str, golden: &str, fresh: &str) {
    let (g, f) = (without_version(golden), without_version(fresh));
    if g == f {
        return;
    }
    let i = g
        .iter()
        .zip(&f)
        .position(|(a, b)| a != b)
        .unwrap_or(g.len().min(f.len()));
    panic!(
        "reports/example/{name} is out of date: first difference at line {}:\n\
         - {}\n+ {}\n({} vs {} lines). Regenerate it with the command in reports/README.md \
         if the change is intended.",
        i + 1,
        g.get(i).map_or("<end of file>", |s| s.as_str()),
        f.get(i).map_or("<end of file>", |s| s.as_str()),
        g.len(),
        f.len()
    );
}

#[test]
fn golden_example_report_is_up_to_date() {
    let golden = root().join("reports/example");
    let (_, fresh) = sample_report_dir();
    for name in ["report.json", "report.md"] {
        assert_same_lines(
            name,
            &read_text(&golden.join(name)),
            &read_text(&fresh.join(name)),
        );
    }
    // Same chart files (no stale or missing chart in the committed example), byte for byte:
    // the charts use a bundled font and no clock, so a changed byte is a changed drawing.
    assert_eq!(walk(&golden), walk(fresh), "reports/example file list");
    for chart in walk(&golden).iter().filter(|p| p.starts_with("charts")) {
        assert!(
            std::fs::read(golden.join(chart)).unwrap() == std::fs::read(fresh.join(chart)).unwrap(),
            "reports/example/{} differs from a fresh report (regenerate on purpose: reports/README.md)",
            chart.display()
        );
    }
    // No absolute or temporary path leaks into the report.
    for name in ["report.json", "report.md", "index.html"] {
        let text = read_text(&fresh.join(name));
        let tmp = std::env::temp_dir().to_string_lossy().into_owned();
        for leak in [root().to_string_lossy().as_ref(), tmp.as_str()] {
            assert!(!text.contains(leak), "{name} contains the path {leak}");
        }
    }
    // The filter is not so lax that it hides a change.
    assert!(std::panic::catch_unwind(|| {
        assert_same_lines(
            "x",
            "a\n\"tool_version\": \"1\"\nb\n",
            "a\n\"tool_version\": \"2\"\nc\n",
        )
    })
    .is_err());
    assert_same_lines(
        "x",
        "canalyst 0.1.0 · report schema 1 · generated X\n",
        "canalyst 9.9.9 · report schema 1 · generated X\n",
    );
}

#[test]
fn charts_name_version_sides_by_their_versions() {
    // The sample's stable track runs 2.3.0 and its canary 2.4.0: selected by version, the
    // chart legends say so, not "stable"/"canary".
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("by-version");
    let o = run_env(
        &[
            "report",
            "sample-data/otlp",
            "--baseline-version",
            "2.3.0",
            "--canary-version",
            "2.4.0",
            "-o",
            dir.to_str().unwrap(),
        ],
        &[("SOURCE_DATE_EPOCH", EPOCH)],
    );
    assert_eq!(code(&o), 1, "rollback expected; stderr:\n{}", stderr(&o));
    let svg = |stem: &str| std::fs::read_to_string(dir.join("charts").join(format!("{stem}.svg")));
    let over_time = svg("latency-over-time").unwrap();
    assert!(over_time.contains("2.3.0 p99") && over_time.contains("2.4.0 p50"));
    assert!(!over_time.contains("stable p99") && !over_time.contains("canary p50"));
    let errors = svg("error-rate-over-time").unwrap();
    assert!(errors.contains("2.4.0 95% band") && !errors.contains("canary 95% band"));
    let metrics = svg("metrics-request-rate").unwrap();
    assert!(metrics.contains("\n2.3.0\n") && !metrics.contains("\nstable\n"));
}
