//! The "Metrics over time" section: absent (and the report unchanged) without metric series,
//! present with escaped telemetry strings when there are some.

use super::tests::{input, report};
use super::*;
use crate::model::comparison::Side;
use crate::model::metric_series::{MetricBucket, MetricSeries, TrackSeries};

fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in [dir.to_path_buf(), dir.join("charts")] {
        let mut names: Vec<_> = std::fs::read_dir(&sub)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        for p in names {
            out.push((
                p.strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(&p).unwrap(),
            ));
        }
    }
    out
}

fn series(service: &str, start: i64) -> MetricSeries {
    let minute = 60_000_000_000;
    let track = |side, name: &str, scale: u64| TrackSeries {
        side,
        service: service.into(),
        track: name.into(),
        buckets: (0..6)
            .map(|i| MetricBucket {
                start_unix_nano: start + i * 5 * minute,
                requests: 300 * scale,
                errors: scale * i as u64,
                p50_ms: Some(20.0),
                p99_ms: Some(80.0 + 10.0 * i as f64),
            })
            .collect(),
    };
    MetricSeries {
        bucket_ns: 5 * minute,
        series: vec![
            track(Side::Baseline, "stable", 4),
            track(Side::Canary, "canary", 1),
        ],
    }
}

#[test]
fn without_metric_series_the_report_is_unchanged() {
    let (r, i) = (report(), input());
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    write_report(a.path(), &r, &i, "t").unwrap();
    let empty = MetricSeries {
        bucket_ns: 60_000_000_000,
        series: vec![],
    };
    write_report_with_metrics(b.path(), &r, &i, Some(&empty), "t").unwrap();
    write_report_with_metrics(c.path(), &r, &i, None, "t").unwrap();
    let want = read_all(a.path());
    assert_eq!(read_all(b.path()), want);
    assert_eq!(read_all(c.path()), want);
    let html = std::fs::read_to_string(a.path().join("index.html")).unwrap();
    assert!(!html.contains("metrics-over-time"));
}

#[test]
fn metric_series_add_an_escaped_section_between_over_time_and_findings() {
    let (r, i) = (report(), input());
    let hostile = "<img src=x onerror=alert(1)>|[x](y)\u{202E}";
    let m = series(hostile, i.window.start_unix_nano);
    let dir = tempfile::tempdir().unwrap();
    let files = write_report_with_metrics(dir.path(), &r, &i, Some(&m), "t").unwrap();
    let html = std::fs::read_to_string(&files.html).unwrap();
    let md = std::fs::read_to_string(&files.markdown).unwrap();
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(at("id=\"over-time\"") < at("id=\"metrics-over-time\""));
    assert!(at("id=\"metrics-over-time\"") < at("id=\"findings\""));
    assert!(html.contains("<a href=\"#metrics-over-time\">"));
    for name in [
        "metrics-request-rate",
        "metrics-error-rate",
        "metrics-p99-latency",
    ] {
        assert!(html.contains(&format!("<figure id=\"{name}\">")), "{name}");
        assert!(md.contains(&format!("](charts/{name}.png)")), "{name}");
        for ext in ["svg", "png"] {
            assert!(dir.path().join(format!("charts/{name}.{ext}")).is_file());
        }
        let svg = std::fs::read_to_string(dir.path().join(format!("charts/{name}.svg"))).unwrap();
        assert!(!svg.contains("<img"), "{name}");
        assert!(svg.contains("&lt;img"), "{name}");
        assert!(!svg.contains('\u{202E}'), "{name}");
    }
    assert!(!html.contains("<img"));
    assert!(!html.contains('\u{202E}'));
    let section = &md[md.find("### Metrics over time").unwrap()..md.find("## Findings").unwrap()];
    assert!(section.contains("5 min bucket"), "{section}");
    // Same input, same bytes.
    let again = tempfile::tempdir().unwrap();
    write_report_with_metrics(again.path(), &r, &i, Some(&m), "t").unwrap();
    assert_eq!(read_all(again.path()), read_all(dir.path()));
}
