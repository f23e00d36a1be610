//! Which charts a report has, built from the analysis result and the samples, rendered once
//! and shared by the HTML and Markdown outputs.

use super::charts::{
    self, error_rate_timeseries::ErrorRateTimeseries, forest::Forest, latency_ecdf::LatencyEcdf,
    quantile_timeseries::QuantileTimeseries, traffic_split::TrafficSplit, Rendered, SideLabels,
    TimeFrame,
};
use super::view::{self, GroupView};
use super::ReportError;
use crate::analysis::findings::{AnalysisReport, Comparison, MetricName};
use crate::model::comparison::{ComparisonInput, GroupLevel};

/// Most latency-distribution panels (small multiples); the rest are named in a note.
pub const MAX_ECDF_PANELS: usize = 12;
/// Most panels of the latency-over-time chart.
pub const MAX_TIMESERIES_PANELS: usize = 6;
/// Most per-group panels of the error-rate chart (after the all-requests panel).
pub const MAX_ERROR_PANELS: usize = 5;

/// What a figure shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FigureKind {
    /// Forest plot of every effect.
    Forest,
    /// One group's latency ECDF (one of the small multiples).
    LatencyPanel,
    /// p50/p99 over time.
    LatencyOverTime,
    /// Error rate over time.
    ErrorRateOverTime,
    /// Canary share of traffic over time.
    TrafficSplit,
    /// A per-track series from the metric tables (request rate, error rate, p99).
    MetricsOverTime,
}

/// A link from a figure to a findings-table row.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// Cleaned text (escape on output).
    pub label: String,
    /// Target id.
    pub anchor: String,
}

/// A rendered chart with what the report says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// What it is.
    pub kind: FigureKind,
    /// The chart in SVG and PNG; `rendered.name` is the file stem and HTML id.
    pub rendered: Rendered,
    /// Heading (cleaned; escape on output).
    pub title: String,
    /// How to read it (plain text; escape on output).
    pub caption: String,
    /// Findings this figure shows.
    pub links: Vec<Link>,
}

impl Figure {
    /// HTML id.
    pub fn id(&self) -> &str {
        &self.rendered.name
    }
    /// Path of the SVG relative to the report directory.
    pub fn svg_path(&self) -> String {
        format!("charts/{}.svg", self.rendered.name)
    }
    /// Path of the PNG relative to the report directory.
    pub fn png_path(&self) -> String {
        format!("charts/{}.png", self.rendered.name)
    }
}

/// All figures of a report and the group ordering they were chosen by.
pub struct Figures<'a> {
    /// Figures in report order: forest, latency panels, latency over time, error rate, traffic.
    pub figures: Vec<Figure>,
    /// Groups, most regressed first.
    pub groups: Vec<GroupView<'a>>,
    /// Groups with latency samples but no distribution panel (over [`MAX_ECDF_PANELS`]).
    pub ecdf_not_shown: usize,
    /// The side names every chart uses (from the report's selection).
    pub labels: SideLabels,
    /// Table-row anchor → id of the distribution panel showing that comparison's group.
    panel_of: std::collections::HashMap<String, String>,
}

impl Figures<'_> {
    /// Id of the distribution panel of the group `c` belongs to, if it has one.
    pub fn panel_for(&self, c: &Comparison) -> Option<&str> {
        self.panel_of
            .get(view::comparison_anchor(c).as_str())
            .map(String::as_str)
    }

    /// Figures of one kind.
    pub fn of_kind(&self, kind: FigureKind) -> impl Iterator<Item = &Figure> {
        self.figures.iter().filter(move |f| f.kind == kind)
    }
}

fn links_of(comparisons: &[&Comparison]) -> Vec<Link> {
    comparisons
        .iter()
        .map(|c| Link {
            label: format!(
                "{}: {}",
                super::view::metric_label(c.metric),
                view::classification_name(c.classification)
            ),
            anchor: view::comparison_anchor(c),
        })
        .collect()
}

/// Chooses and renders every figure of the report.
pub fn build<'a>(
    report: &'a AnalysisReport,
    input: &'a ComparisonInput,
) -> Result<Figures<'a>, ReportError> {
    let groups = view::ordered_groups(report, input);
    let frame = TimeFrame::of(input);
    let labels = SideLabels::of(&report.baseline, &report.canary);
    let mut figures = Vec::new();

    let forest = Forest::from_report(report);
    let mut caption = "Each row is one judged effect: the point estimate with its confidence \
        interval, over the acceptable region (shaded) it was judged against; the dashed line is \
        no change. Fails first."
        .to_string();
    if let Some(n) = forest.note() {
        caption.push(' ');
        caption.push_str(&n);
    }
    let drivers: Vec<&Comparison> = report
        .drivers
        .iter()
        .filter_map(|id| report.comparisons.iter().find(|c| &c.id == id))
        .collect();
    figures.push(Figure {
        kind: FigureKind::Forest,
        rendered: charts::render(&forest)?,
        title: "Effects against allowed change".into(),
        caption,
        links: drivers
            .iter()
            .map(|c| Link {
                label: view::escape_free_comparison_label(c),
                anchor: view::comparison_anchor(c),
            })
            .collect(),
    });

    let with_latency: Vec<&GroupView> = groups
        .iter()
        .filter(|g| {
            !g.group.baseline.durations_ms.is_empty() || !g.group.canary.durations_ms.is_empty()
        })
        .collect();
    let ecdf_not_shown = with_latency.len().saturating_sub(MAX_ECDF_PANELS);
    for g in with_latency.iter().take(MAX_ECDF_PANELS) {
        let chart = LatencyEcdf {
            name: g.ecdf_anchor(),
            title: g.label.clone(),
            baseline: &g.group.baseline.durations_ms,
            canary: &g.group.canary.durations_ms,
            labels: labels.clone(),
        };
        figures.push(Figure {
            kind: FigureKind::LatencyPanel,
            rendered: charts::render(&chart)?,
            title: g.label.clone(),
            caption: format!(
                "{} {} and {} {} durations.",
                g.group.baseline.durations_ms.len(),
                labels.baseline,
                g.group.canary.durations_ms.len(),
                labels.canary
            ),
            links: links_of(&g.comparisons),
        });
    }

    // A metrics-only input has no span groups: its charts are the metric series (drawn by
    // the metrics section), not empty span panels.
    if !input.groups.is_empty() {
        span_time_figures(&mut figures, input, &groups, &with_latency, frame, &labels)?;
    }

    let mut panel_of = std::collections::HashMap::new();
    for f in figures
        .iter()
        .filter(|f| f.kind == FigureKind::LatencyPanel)
    {
        for l in &f.links {
            panel_of.insert(l.anchor.clone(), f.id().to_string());
        }
    }
    Ok(Figures {
        figures,
        groups,
        ecdf_not_shown,
        labels,
        panel_of,
    })
}

/// Latency over time, error rate over time and traffic split, from the span groups.
fn span_time_figures(
    figures: &mut Vec<Figure>,
    input: &ComparisonInput,
    groups: &[GroupView],
    with_latency: &[&GroupView],
    frame: TimeFrame,
    labels: &SideLabels,
) -> Result<(), ReportError> {
    let ts_groups: Vec<&GroupView> = with_latency
        .iter()
        .copied()
        .filter(|g| !g.group.baseline_series.is_empty() || !g.group.canary_series.is_empty())
        .take(MAX_TIMESERIES_PANELS)
        .collect();
    let qt = QuantileTimeseries {
        panels: ts_groups
            .iter()
            .map(|g| charts::quantile_timeseries::Panel {
                title: g.label.clone(),
                baseline: &g.group.baseline_series,
                canary: &g.group.canary_series,
            })
            .collect(),
        frame,
        labels: labels.clone(),
    };
    figures.push(Figure {
        kind: FigureKind::LatencyOverTime,
        rendered: charts::render(&qt)?,
        title: "Latency over time (p50 and p99 per bucket)".into(),
        caption: format!(
            "Exact p50 (dashed) and p99 (solid) per {} bucket for the {} most regressed groups; \
             log scale.",
            charts::fmt_bucket(input.bucket_ns),
            ts_groups.len()
        ),
        links: ts_groups
            .iter()
            .flat_map(|g| links_of(&g.comparisons))
            .collect(),
    });

    // Requests are route-level groups; without any, fall back to every operation's spans.
    let level = if input
        .groups
        .iter()
        .any(|g| g.key.level == GroupLevel::Route)
    {
        GroupLevel::Route
    } else {
        GroupLevel::Operation
    };
    let what = if level == GroupLevel::Route {
        "requests"
    } else {
        "spans"
    };
    let at_level = || input.groups.iter().filter(move |g| g.key.level == level);
    let all_base = charts::sum_buckets(at_level().map(|g| g.baseline_series.as_slice()));
    let all_canary = charts::sum_buckets(at_level().map(|g| g.canary_series.as_slice()));
    let mut error_groups: Vec<(&GroupView, &Comparison)> = groups
        .iter()
        .filter_map(|g| {
            g.comparisons
                .iter()
                .find(|c| c.metric == MetricName::ErrorRate)
                .map(|c| (g, *c))
        })
        .collect();
    error_groups.sort_by_key(|(_, c)| view::severity(c.classification));
    error_groups.truncate(MAX_ERROR_PANELS);
    let mut panels = vec![charts::error_rate_timeseries::Panel {
        title: format!("all {what}"),
        baseline: all_base.clone(),
        canary: all_canary.clone(),
    }];
    for (g, _) in &error_groups {
        panels.push(charts::error_rate_timeseries::Panel {
            title: g.label.clone(),
            baseline: charts::sum_buckets([g.group.baseline_series.as_slice()]),
            canary: charts::sum_buckets([g.group.canary_series.as_slice()]),
        });
    }
    let er = ErrorRateTimeseries {
        panels,
        frame,
        labels: labels.clone(),
    };
    figures.push(Figure {
        kind: FigureKind::ErrorRateOverTime,
        rendered: charts::render(&er)?,
        title: "Error rate over time".into(),
        caption: format!(
            "Recorded error spans / recorded spans per time bucket, with a 95% Wilson score \
             band per bucket (a plotting aid: how far a bucket's rate can move by chance at its \
             count). Adjacent {} buckets are merged until the canary has enough requests per \
             point; each panel title gives the width. First panel: all {what}.",
            charts::fmt_bucket(input.bucket_ns)
        ),
        links: error_groups
            .iter()
            .map(|(_, c)| Link {
                label: view::escape_free_comparison_label(c),
                anchor: view::comparison_anchor(c),
            })
            .collect(),
    });

    let ts = TrafficSplit {
        baseline: all_base,
        canary: all_canary,
        frame,
        what: what.into(),
    };
    figures.push(Figure {
        kind: FigureKind::TrafficSplit,
        rendered: charts::render(&ts)?,
        title: "Traffic split".into(),
        caption: format!(
            "Canary share of weighted {what} per {} bucket (sample weights applied).",
            charts::fmt_bucket(input.bucket_ns)
        ),
        links: Vec::new(),
    });

    Ok(())
}

/// Most service panels of each metrics-over-time chart (services in name order); the caption
/// counts the rest.
pub const MAX_METRIC_PANELS: usize = 8;

/// The "Metrics over time" figures: request rate, error rate and p99 latency per track, one
/// panel per service, from the engine's metric series. None when the series has no bucket
/// (the inputs had no request-duration metrics). `frame` is the span charts' time axis,
/// widened to cover every metric bucket.
pub fn metric_figures(
    series: &crate::model::metric_series::MetricSeries,
    frame: TimeFrame,
    labels: &SideLabels,
) -> Result<Vec<Figure>, ReportError> {
    use charts::metric_series::{Measure, MetricSeriesChart, Panel};
    if series.is_empty() {
        return Ok(Vec::new());
    }
    let bucket_ns = series.bucket_ns.max(1);
    let mut frame = TimeFrame { bucket_ns, ..frame };
    for b in series.series.iter().flat_map(|s| &s.buckets) {
        frame.origin_ns = frame.origin_ns.min(b.start_unix_nano);
        frame.end_ns = frame
            .end_ns
            .max(b.start_unix_nano.saturating_add(bucket_ns));
    }
    let services = series.services();
    let shown = &services[..services.len().min(MAX_METRIC_PANELS)];
    let not_shown = services.len() - shown.len();
    let panels = || -> Vec<Panel> {
        shown
            .iter()
            .map(|svc| Panel {
                title: super::escape::clean(svc, 60),
                series: series.series.iter().filter(|s| s.service == *svc).collect(),
            })
            .collect()
    };
    let width = charts::fmt_bucket(bucket_ns);
    let rest = if not_shown > 0 {
        format!(" {not_shown} further services are not drawn (panel limit {MAX_METRIC_PANELS}).")
    } else {
        String::new()
    };
    let specs = [
        (
            Measure::RequestRate,
            "Metrics: request rate",
            format!(
                "Requests per second per {width} bucket and track: the counts of the \
                 http.server.request.duration histograms (queries/metrics_error_rate_by_track.sql) \
                 divided by the bucket width. Stable solid, canary with dots."
            ),
        ),
        (
            Measure::ErrorRate,
            "Metrics: error rate",
            format!(
                "Share of requests with http.response.status_code ≥ 500 per {width} bucket and \
                 track, from the same histogram counts (queries/metrics_error_rate_by_track.sql)."
            ),
        ),
        (
            Measure::P99,
            "Metrics: p99 latency",
            format!(
                "p99 of the merged http.server.request.duration histograms per {width} bucket \
                 and track (histogram_quantile, Prometheus interpolation inside a bucket; \
                 queries/metrics_p99_by_track.sql); log scale. Resolution is the histogram's \
                 bucket layout."
            ),
        ),
    ];
    let mut out = Vec::new();
    for (measure, title, caption) in specs {
        let chart = MetricSeriesChart {
            measure,
            panels: panels(),
            frame,
            labels: labels.clone(),
        };
        out.push(Figure {
            kind: FigureKind::MetricsOverTime,
            rendered: charts::render(&chart)?,
            title: title.into(),
            caption: format!("{caption}{rest}"),
            links: Vec::new(),
        });
    }
    Ok(out)
}
