//! End-to-end tests of [`write_report`] on hand-built analysis results and seeded samples,
//! including hostile telemetry strings.

use super::*;
use crate::model::comparison::{
    GroupComparison, GroupKey, GroupLevel, Quantiles, Selector, TimeBucket, TrackSample, Window,
};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal};
use serde_json::json;

const T0: i64 = 1_795_500_000_000_000_000;
const MIN: i64 = 60_000_000_000;

pub(crate) const SCRIPT: &str = "<script>alert(1)</script>";
pub(crate) const TRAVERSAL: &str = "../../etc/passwd";
pub(crate) const RTL: &str = "GET /\u{202E}gnp.exe 🚀 مرحبا \"quoted\" 'single'";

fn long_name() -> String {
    format!("GET /{}", "a|b*[c](d)".repeat(1_000))
}

/// Type-7 quantile of sorted `xs` (fixture only; the engine computes the real ones).
fn q7(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let h = (xs.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    xs[lo] + (h - lo as f64) * (xs[hi] - xs[lo])
}

/// A track of `n` log-normal durations (median `median` ms) spread over 30 one-minute
/// buckets, starting at bucket `from`, with error probability `err`.
fn track(
    rng: &mut StdRng,
    n: usize,
    median: f64,
    err: f64,
    from: i64,
) -> (TrackSample, Vec<TimeBucket>) {
    let d = LogNormal::new(median.ln(), 0.5).unwrap();
    let mut per_bucket: Vec<(Vec<f64>, u64)> = vec![(Vec::new(), 0); 30];
    let mut all = Vec::with_capacity(n);
    let mut errors = 0;
    for _ in 0..n {
        let b = rng.random_range(from as usize..30);
        // A slow drift in the canary's later buckets shows up in the time series.
        let x: f64 = d.sample(rng) * (1.0 + b as f64 / 60.0);
        let e = rng.random::<f64>() < err;
        per_bucket[b].0.push(x);
        per_bucket[b].1 += u64::from(e);
        errors += u64::from(e);
        all.push(x);
    }
    all.sort_by(f64::total_cmp);
    let series = per_bucket
        .into_iter()
        .enumerate()
        .filter(|(_, (xs, _))| !xs.is_empty())
        .map(|(i, (mut xs, e))| {
            xs.sort_by(f64::total_cmp);
            TimeBucket {
                start_unix_nano: T0 + i as i64 * MIN,
                count: xs.len() as u64,
                errors: e,
                weighted_count: xs.len() as f64,
                weighted_errors: e as f64,
                p50_ms: q7(&xs, 0.5),
                p99_ms: q7(&xs, 0.99),
            }
        })
        .collect();
    let sample = TrackSample {
        count: n as u64,
        errors,
        weighted_count: n as f64,
        weighted_errors: errors as f64,
        quantiles: Quantiles {
            p50: q7(&all, 0.5),
            p90: q7(&all, 0.9),
            p99: q7(&all, 0.99),
            p999: q7(&all, 0.999),
        },
        durations_ms: all,
        duration_buckets: Vec::new(),
    };
    (sample, series)
}

fn group(
    rng: &mut StdRng,
    service: &str,
    level: GroupLevel,
    name: &str,
    slow: f64,
    err: f64,
) -> GroupComparison {
    let (baseline, baseline_series) = track(rng, 3000, 40.0, 0.005, 0);
    let (canary, canary_series) = track(rng, 400, 40.0 * slow, err, 2);
    GroupComparison {
        key: GroupKey {
            service: service.into(),
            level,
            name: name.into(),
        },
        baseline,
        canary,
        baseline_series,
        canary_series,
    }
}

pub(crate) fn input() -> ComparisonInput {
    let mut rng = StdRng::seed_from_u64(7);
    let mut groups = vec![
        group(
            &mut rng,
            "checkout",
            GroupLevel::Route,
            "POST /cart",
            1.6,
            0.04,
        ),
        group(
            &mut rng,
            "checkout",
            GroupLevel::Route,
            "GET /items/{id}",
            1.0,
            0.005,
        ),
        group(&mut rng, "checkout", GroupLevel::Route, SCRIPT, 1.05, 0.005),
        group(
            &mut rng,
            "web\"shop'",
            GroupLevel::Route,
            TRAVERSAL,
            1.0,
            0.006,
        ),
        group(
            &mut rng,
            "checkout",
            GroupLevel::Route,
            &long_name(),
            1.0,
            0.005,
        ),
        group(&mut rng, "checkout", GroupLevel::Route, RTL, 0.9, 0.004),
        group(
            &mut rng,
            "checkout",
            GroupLevel::Operation,
            "SELECT cart",
            1.3,
            0.0,
        ),
    ];
    groups.sort_by(|a, b| a.key.cmp(&b.key));
    ComparisonInput {
        baseline: Selector {
            track: Some("stable".into()),
            version: None,
        },
        canary: Selector {
            track: Some("canary".into()),
            version: None,
        },
        window: Window {
            start_unix_nano: T0,
            end_unix_nano: T0 + 30 * MIN,
        },
        bucket_ns: MIN,
        canary_first_seen_unix_nano: Some(T0 + 2 * MIN),
        groups,
    }
}

/// `(service, route, metric, unit)`, `[estimate, low, high]`, `[allowed_decrease,
/// allowed_increase]`, classification, p.
fn comparison(
    (service, route, metric, unit): (&str, &str, &str, &str),
    est: [f64; 3],
    band: [f64; 2],
    class: &str,
    p: f64,
) -> serde_json::Value {
    json!({
        "id": format!("{service}/route/{route}/{metric}"),
        "service": service, "route": route, "level": "route", "metric": metric,
        "group": if metric == "error_rate" { "errors" } else { "latency" },
        "critical": metric == "error_rate",
        "baseline": {"count": 3000, "errors": 15, "weighted_count": 3000.0, "weighted_errors": 15.0,
                      "p50": 40.1, "p90": 76.0, "p99": 128.4, "p999": 180.2},
        "canary": {"count": 400, "errors": 16, "weighted_count": 400.0, "weighted_errors": 16.0,
                    "p50": 64.3, "p90": 121.0, "p99": 205.9, "p999": 260.0},
        "estimate": est[0], "ci_low": est[1], "ci_high": est[2], "unit": unit,
        "allowed_decrease": band[0], "allowed_increase": band[1],
        "p_value": p, "p_value_adjusted": (p * 4.0).min(1.0),
        "test": "mann_whitney_u_asymptotic",
        "classification": class,
        "reason": format!("{route} {class}: a reason with | pipes and <b>markup</b>"),
        "minimum_detectable_effect": null
    })
}

pub(crate) fn report() -> AnalysisReport {
    let long = long_name();
    let cs = vec![
        comparison(
            ("checkout", "POST /cart", "latency_p99", "ratio"),
            [1.6, 1.42, 1.81],
            [0.8, 1.2],
            "fail_high",
            1e-12,
        ),
        comparison(
            ("checkout", "POST /cart", "latency_p999", "ratio"),
            [3.1, 2.2, 4.6],
            [0.8, 1.2],
            "fail_high",
            1e-9,
        ),
        comparison(
            ("checkout", "POST /cart", "error_rate", "percentage_points"),
            [3.5, 1.6, 5.4],
            [-0.5, 0.5],
            "fail_high",
            2e-5,
        ),
        comparison(
            ("checkout", SCRIPT, "latency_p99", "ratio"),
            [1.08, 0.95, 1.31],
            [0.8, 1.2],
            "inconclusive",
            0.21,
        ),
        comparison(
            ("checkout", RTL, "latency_p50", "ratio"),
            [0.9, 0.86, 0.95],
            [0.8, 1.2],
            "pass",
            0.001,
        ),
        comparison(
            ("web\"shop'", TRAVERSAL, "error_rate", "percentage_points"),
            [0.1, -0.3, 0.45],
            [-0.5, 0.5],
            "pass",
            0.6,
        ),
        comparison(
            ("checkout", &long, "latency_shift", "ms"),
            [1.2, -0.8, 3.0],
            [-8.0, 8.0],
            "pass",
            0.3,
        ),
        comparison(
            ("checkout", "GET /items/{id}", "latency_p99", "ratio"),
            [1.01, 0.93, 1.1],
            [0.8, 1.2],
            "pass",
            0.8,
        ),
    ];
    let v = json!({
        "schema_version": 1,
        "tool_version": "0.1.0",
        "generated_at": "2026-11-21T10:00:00Z",
        "verdict": "rollback",
        "score": 57.1,
        "drivers": ["checkout/route/POST /cart/error_rate", "checkout/route/POST /cart/latency_p99"],
        "summary": "Rollback: POST /cart errors rose by 3.5 pp <critical> and its p99 by 60%.",
        "window": {"start_unix_nano": T0, "end_unix_nano": T0 + 30 * MIN},
        "baseline": {"track": "stable"},
        "canary": {"track": "canary"},
        "config_name": "default",
        "definitions": [
            "Quantiles: Hyndman–Fan type 7 (numpy linear).",
            "Latency shift: Mann–Whitney U, Hodges–Lehmann shift; α = 0.05; Benjamini–Hochberg correction."
        ],
        "comparisons": cs,
        "data_quality": {
            "records_read": 10_010, "records_ingested": 10_000, "records_rejected": 10,
            "duplicates_dropped": 3, "counts": {"malformed_json": 10},
            "files": [{"file": format!("/data/{SCRIPT}/x.jsonl"), "format": "otlp-json-lines",
                        "records_read": 10_010, "records_ingested": 10_000, "records_rejected": 10}],
            "issues": [{"kind": "malformed_json", "severity": "rejected",
                         "file": format!("{TRAVERSAL}|{SCRIPT}"), "line": 7, "reason": "expected `}` <img src=x onerror=alert(1)>"}],
            "issues_not_listed": 9
        }
    });
    serde_json::from_value(v).expect("fixture matches the report schema")
}

fn all_text(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut v = Vec::new();
    for e in walkdir::WalkDir::new(dir) {
        let e = e.unwrap();
        let p = e.path();
        if p.is_file() && p.extension().is_some_and(|x| x != "png") {
            v.push((p.to_path_buf(), std::fs::read_to_string(p).unwrap()));
        }
    }
    v
}

#[test]
fn writes_a_complete_safe_report() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let (r, i) = (report(), input());
    let files = write_report(&dir, &r, &i, &format!("canary {SCRIPT}")).unwrap();

    for p in [&files.html, &files.markdown, &files.json] {
        assert!(p.is_file(), "{p:?}");
    }
    // Charts: forest, 7 panels, 3 time charts; each as SVG and PNG, all inside `dir/charts`.
    assert_eq!(files.charts.len(), 2 * (1 + 7 + 3));
    let canon = dir.canonicalize().unwrap();
    for p in &files.charts {
        assert!(
            p.canonicalize().unwrap().starts_with(canon.join("charts")),
            "{p:?}"
        );
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(name.len() < 80);
        assert!(name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
        assert_eq!(name.matches('.').count(), 1, "{name}");
    }
    // Nothing was written outside `dir`.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);

    // PNGs decode, have a real size and are not blank.
    for p in files
        .charts
        .iter()
        .filter(|p| p.extension().unwrap() == "png")
    {
        let img = image::open(p).unwrap().to_rgb8();
        assert!(img.width() >= 600 && img.height() >= 300, "{p:?}");
        let lum: Vec<f64> = img
            .pixels()
            .map(|px| f64::from(px.0.iter().map(|v| u32::from(*v)).sum::<u32>()) / 3.0)
            .collect();
        let mean = lum.iter().sum::<f64>() / lum.len() as f64;
        let var = lum.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / lum.len() as f64;
        let non_white = lum.iter().filter(|v| **v < 200.0).count() as f64 / lum.len() as f64;
        assert!(var > 100.0, "{p:?} variance {var}");
        assert!(non_white > 0.005, "{p:?} ink share {non_white}");
    }

    // SVGs carry their axis labels.
    let svg = |name: &str| std::fs::read_to_string(dir.join("charts").join(name)).unwrap();
    assert!(svg("forest.svg").contains("canary / stable (ratio; 1 = no change)"));
    assert!(svg("forest.svg").contains("canary − stable (percentage points)"));
    assert!(svg("latency-over-time.svg").contains("latency (ms, log scale)"));
    assert!(svg("latency-over-time.svg").contains("minutes since window start"));
    assert!(svg("error-rate-over-time.svg").contains("error rate (%)"));
    assert!(svg("traffic-split.svg").contains("canary share of requests (%)"));
    let panels: Vec<_> = files
        .charts
        .iter()
        .filter(|p| {
            p.to_str().unwrap().contains("latency-ecdf-") && p.extension().unwrap() == "svg"
        })
        .collect();
    assert_eq!(panels.len(), 7);
    for p in &panels {
        let s = std::fs::read_to_string(p).unwrap();
        assert!(s.contains("duration (ms, log scale)"));
        assert!(s.contains("share of requests ≤ duration"));
    }
    // The regressed route is the first panel.
    let html = std::fs::read_to_string(&files.html).unwrap();
    let first_panel = html.find("<figure id=\"latency-ecdf-").unwrap();
    assert!(html[first_panel..first_panel + 200].contains("POST /cart"));

    // Hostile strings never appear unescaped in any text output.
    for (p, text) in all_text(&dir) {
        // The JSON report is data, not a rendering: it keeps telemetry verbatim (JSON-escaped).
        if p.extension().unwrap() == "json" {
            continue;
        }
        assert!(!text.contains(SCRIPT), "raw <script> in {p:?}");
        assert!(!text.contains("<img src=x"), "raw <img> in {p:?}");
        assert!(!text.contains('\u{202E}'), "bidi override in {p:?}");
        assert!(!text.contains(&long_name()), "unbounded name in {p:?}");
        assert!(!text.contains("<b>markup</b>"), "raw markup in {p:?}");
    }
    // ... but they are shown, escaped.
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("web&quot;shop&#39;"));
    assert!(html.contains("🚀 مرحبا"));
    assert!(svg("forest.svg").contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The HTML has exactly one <script>-free, self-contained shape.
    assert!(!html.contains("<script"));
    assert!(!html.contains("http:") && !html.contains("https:") && !html.contains("//"));
    assert!(html.contains("Content-Security-Policy"));
    assert!(html.contains("@media print"));
    assert_eq!(html.matches("<svg ").count(), 1 + 7 + 3);

    let md = std::fs::read_to_string(&files.markdown).unwrap();
    assert!(md.contains("**Verdict: ROLLBACK**"));
    assert!(md.contains("![Effects against allowed change](charts/forest.png)"));
    for (name, line) in md
        .lines()
        .filter(|l| l.starts_with("| checkout") || l.starts_with("| web"))
        .enumerate()
    {
        // Eleven cells (with the source column): unescaped `|` only as separators.
        let seps = line.len() - line.replace(" | ", "").len();
        assert!(
            line.matches('|').count() - line.matches("\\|").count() == 11,
            "row {name}: {line} {seps}"
        );
    }
    assert!(md.contains("## Definitions"));
    assert!(md.contains("Hyndman–Fan type 7"));
    assert!(md.contains("## Data quality"));
    for f in ["charts/forest.png", "charts/traffic-split.png"] {
        assert!(md.contains(f));
        assert!(dir.join(f).is_file());
    }

    // JSON is the report, losslessly.
    let back: AnalysisReport =
        serde_json::from_str(&std::fs::read_to_string(&files.json).unwrap()).unwrap();
    assert_eq!(back, r);

    // Table rows and charts link to each other.
    for c in &r.comparisons {
        let id = view::comparison_anchor(c);
        assert!(html.contains(&format!("<tr id=\"{id}\">")), "{id}");
    }
    assert!(html.contains(&format!(
        "href=\"#{}\"",
        view::comparison_anchor(&r.comparisons[0])
    )));
    assert!(html.contains("href=\"#latency-ecdf-"));
}

#[test]
fn output_is_deterministic() {
    let (r, i) = (report(), input());
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let fa = write_report(a.path(), &r, &i, "t").unwrap();
    let fb = write_report(b.path(), &r, &i, "t").unwrap();
    let rel = |f: &ReportFiles, base: &Path| -> Vec<PathBuf> {
        let mut v = vec![f.html.clone(), f.markdown.clone(), f.json.clone()];
        v.extend(f.charts.iter().cloned());
        v.into_iter()
            .map(|p| p.strip_prefix(base).unwrap().to_path_buf())
            .collect()
    };
    assert_eq!(rel(&fa, a.path()), rel(&fb, b.path()));
    for p in rel(&fa, a.path()) {
        assert_eq!(
            std::fs::read(a.path().join(&p)).unwrap(),
            std::fs::read(b.path().join(&p)).unwrap(),
            "{p:?} differs between runs"
        );
    }
}

#[test]
fn empty_input_still_renders() {
    let mut r = report();
    r.comparisons.clear();
    r.drivers.clear();
    let mut i = input();
    i.groups.clear();
    let tmp = tempfile::tempdir().unwrap();
    let files = write_report(tmp.path(), &r, &i, "empty").unwrap();
    // The forest only (SVG + PNG): without span groups there are no panels and no span time
    // charts, and no headings or links for them.
    assert_eq!(files.charts.len(), 2);
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(html.contains("0 comparisons"));
    assert!(!html.contains("id=\"over-time\"") && !html.contains("href=\"#distributions\""));
}

/// Writes the analysed fixture to `$CANALYST_SAMPLE_REPORT_DIR` for looking at it and for
/// `tests/browser/check_report.sh`:
/// `CANALYST_SAMPLE_REPORT_DIR=/tmp/r cargo test --lib report::tests::sample_report -- --ignored`
#[test]
#[ignore = "writes to $CANALYST_SAMPLE_REPORT_DIR"]
fn sample_report() {
    let dir =
        std::env::var_os("CANALYST_SAMPLE_REPORT_DIR").expect("set CANALYST_SAMPLE_REPORT_DIR");
    // The analysis on main judging the seeded samples (hostile route names included), with
    // the hand-built hostile data-quality log.
    let i = input();
    let cfg = crate::analysis::config::AnalysisConfig::preset("default").unwrap();
    let r = crate::analysis::analyze_at(
        &i,
        &cfg,
        report().data_quality,
        "2026-11-21T10:00:00Z".into(),
    );
    let files = write_report(Path::new(&dir), &r, &i, "checkout canary (sample)").unwrap();
    assert!(files.html.is_file());
}

#[test]
fn many_groups_are_capped_with_notes() {
    let base = input();
    let template = base.groups[0].clone();
    let mut i = base.clone();
    i.groups = (0..300)
        .map(|k| {
            let mut g = template.clone();
            g.key.name = format!("GET /r{k:03}");
            g
        })
        .collect();
    let mut r = report();
    r.comparisons = (0..300)
        .flat_map(|k| {
            let route = format!("GET /r{k:03}");
            let class = if k % 50 == 7 { "fail_high" } else { "pass" };
            [
                comparison(
                    ("checkout", &route, "latency_p99", "ratio"),
                    [1.0, 0.9, 1.1],
                    [0.8, 1.2],
                    class,
                    0.5,
                ),
                comparison(
                    ("checkout", &route, "error_rate", "percentage_points"),
                    [0.0, -0.2, 0.2],
                    [-0.5, 0.5],
                    "pass",
                    0.9,
                ),
            ]
        })
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    r.drivers.clear();
    let tmp = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let files = write_report(tmp.path(), &r, &i, "many").unwrap();
    eprintln!("300 groups, 600 comparisons: {:?}", t.elapsed());
    let panels = files
        .charts
        .iter()
        .filter(|p| p.to_str().unwrap().contains("latency-ecdf-"))
        .count();
    assert_eq!(panels, 2 * figures::MAX_ECDF_PANELS);
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(html.contains("288 further groups are not drawn"));
    // The failing routes (k = 7, 57, …) are the first panels.
    let first = html.find("<figure id=\"latency-ecdf-").unwrap();
    assert!(html[first..first + 300].contains("GET /r007"));
    assert_eq!(html.matches("<tr id=\"cmp-").count(), 600);
    let forest = std::fs::read_to_string(tmp.path().join("charts/forest.svg")).unwrap();
    assert!(forest.contains("560 less severe comparisons not drawn"));
}

#[test]
fn degenerate_samples_render() {
    let mut i = input();
    // One group with only zero durations, one with a single bucket and NaN quantiles, one with
    // an empty canary; a window of one bucket; no canary start.
    i.groups.truncate(3);
    i.groups[0].baseline.durations_ms = vec![0.0; 10];
    i.groups[0].canary.durations_ms = vec![0.0; 3];
    let g1 = &mut i.groups[1];
    for b in g1
        .baseline_series
        .iter_mut()
        .chain(g1.canary_series.iter_mut())
    {
        b.p50_ms = f64::NAN;
        b.p99_ms = f64::NAN;
    }
    i.groups[2].canary = TrackSample::default();
    i.groups[2].canary_series.clear();
    i.groups[2].baseline.durations_ms = vec![5.0; 100];
    i.window.end_unix_nano = i.window.start_unix_nano + i.bucket_ns;
    i.canary_first_seen_unix_nano = None;
    let mut r = report();
    for c in &mut r.comparisons {
        c.estimate = None;
        c.ci_low = None;
        c.ci_high = None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let files = write_report(tmp.path(), &r, &i, "degenerate").unwrap();
    let forest = std::fs::read_to_string(tmp.path().join("charts/forest.svg")).unwrap();
    assert!(forest.contains("no comparison has an estimate"));
    assert!(files.html.is_file());
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(html.contains("no positive durations to draw on a log axis"));
}

/// The analysis on main judging the seeded samples, rendered: every comparison it makes has a
/// table row, and the regressed route leads the charts.
#[test]
fn renders_the_real_analysis() {
    use crate::analysis::config::AnalysisConfig;
    let i = input();
    for preset in ["default", "kayenta"] {
        let cfg = AnalysisConfig::preset(preset).unwrap();
        let r = crate::analysis::analyze_at(
            &i,
            &cfg,
            report().data_quality,
            "2026-11-21T10:00:00Z".into(),
        );
        assert!(!r.comparisons.is_empty(), "{preset}");
        let tmp = tempfile::tempdir().unwrap();
        let files = write_report(tmp.path(), &r, &i, preset).unwrap();
        let html = std::fs::read_to_string(&files.html).unwrap();
        for c in &r.comparisons {
            assert!(
                html.contains(&format!("<tr id=\"{}\">", view::comparison_anchor(c))),
                "{preset}: {}",
                c.id
            );
        }
        assert!(!html.contains(SCRIPT));
        if r.comparisons[0].classification != crate::analysis::findings::Classification::Pass {
            let first = html.find("<figure id=\"latency-ecdf-").unwrap();
            let c = &r.comparisons[0];
            let name = c.route.as_deref().or(c.operation.as_deref()).unwrap();
            assert!(
                html[first..first + 400].contains(&escape::html(name)),
                "{preset}: first panel is not {name}"
            );
        }
        let md = std::fs::read_to_string(&files.markdown).unwrap();
        assert!(md.contains("## Findings"));
        // Both headlines say how much of the score rests on decided comparisons.
        let d = &r.decided;
        assert_eq!(d.comparisons, r.comparisons.len() as u64);
        let decided = format!(
            "from {} of {} comparisons decided",
            d.decided, d.comparisons
        );
        let banner = &html[html.find("<section id=\"verdict\"").unwrap()..];
        assert!(
            banner[..600].contains(&decided),
            "{preset}: {}",
            &banner[..600]
        );
        let headline = md.lines().find(|l| l.starts_with("> **Verdict")).unwrap();
        assert!(headline.contains(&decided), "{preset}: {headline}");
    }
}

#[test]
fn findings_tables_show_the_source_of_each_comparison() {
    use crate::analysis::findings::Source;
    let mut r = report();
    assert!(r.comparisons.iter().all(|c| c.source == Source::Spans));
    let mut m = r.comparisons[0].clone();
    m.id.push_str("@metrics");
    m.source = Source::Metrics;
    m.metric_names = vec!["http.server.request.duration".into()];
    r.comparisons.insert(1, m);
    let tmp = tempfile::tempdir().unwrap();
    let files = write_report(&tmp.path().join("out"), &r, &input(), "t").unwrap();
    let md = std::fs::read_to_string(&files.markdown).unwrap();
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(md.contains("| Source |"), "markdown header");
    assert!(
        md.contains("| metrics \\(http.server.request.duration\\) |")
            || md.contains("| metrics (http.server.request.duration) |"),
        "{md}"
    );
    assert!(md.contains("| spans |"));
    assert!(html.contains("<th>Source</th>"));
    assert!(html.contains("metrics (http.server.request.duration)"));
    // The JSON round-trips with the source and the metric names.
    let json = std::fs::read_to_string(&files.json).unwrap();
    let back: AnalysisReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.comparisons[1].source, Source::Metrics);
    assert_eq!(back.comparisons[1].metric_names.len(), 1);
}

#[test]
fn charts_name_the_sides_as_selected() {
    // Sides selected by version: every chart legend and the latency captions name the
    // versions, and no chart calls them "stable"/"canary" (role words in axis titles and the
    // "canary start" marker stay).
    let version = |v: &str| Selector {
        track: None,
        version: Some(v.into()),
    };
    let mut r = report();
    r.baseline = version("1.4.2");
    r.canary = version("1.5.0-<rc1>");
    let mut i = input();
    i.baseline = r.baseline.clone();
    i.canary = r.canary.clone();
    let dir = tempfile::tempdir().unwrap();
    let files = write_report(dir.path(), &r, &i, "t").unwrap();
    let svg = |stem: &str| {
        std::fs::read_to_string(dir.path().join("charts").join(format!("{stem}.svg"))).unwrap()
    };
    let over_time = svg("latency-over-time");
    for label in [
        "1.4.2 p99",
        "1.4.2 p50",
        "1.5.0-&lt;rc1&gt; p99",
        "1.5.0-&lt;rc1&gt; p50",
    ] {
        assert!(over_time.contains(label), "latency-over-time lacks {label}");
    }
    assert!(!over_time.contains("stable p99") && !over_time.contains("canary p99"));
    let errors = svg("error-rate-over-time");
    assert!(errors.contains("1.4.2 95% band") && errors.contains("1.5.0-&lt;rc1&gt; 95% band"));
    assert!(!errors.contains(">stable<") && !errors.contains("stable 95% band"));
    let ecdf = files
        .charts
        .iter()
        .find(|p| p.to_string_lossy().contains("latency-ecdf-") && p.extension().unwrap() == "svg")
        .expect("a latency panel");
    let ecdf = std::fs::read_to_string(ecdf).unwrap();
    assert!(ecdf.contains("1.4.2 (n=") && ecdf.contains("1.5.0-&lt;rc1&gt; (n="));
    assert!(!ecdf.contains("stable (n=") && !ecdf.contains("<rc1>"));
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(html.contains(" 1.4.2 and ") && html.contains(" 1.5.0-&lt;rc1&gt; durations."));
}
