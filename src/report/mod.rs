//! Human-readable canary reports: one self-contained HTML page, a Markdown summary for pull
//! requests and chat, the JSON report, and the charts as SVG and PNG files.
//!
//! Reports render an [`AnalysisReport`] (the judged comparisons, verdict and data quality) and
//! draw the samples of its [`ComparisonInput`]; they never recompute a statistic (design §5a).
//! Everything that came from telemetry is treated as hostile: escaped for HTML and Markdown
//! ([`escape`]), cleaned of control and bidirectional-override characters, bounded in length,
//! and turned into safe file names ([`files`]). The HTML loads nothing from anywhere (no script,
//! no external style sheet, font or image) and says so in a Content-Security-Policy.
//!
//! ```no_run
//! # fn demo(report: &canalyst::analysis::findings::AnalysisReport,
//! #         input: &canalyst::model::comparison::ComparisonInput) -> Result<(), canalyst::report::ReportError> {
//! let files = canalyst::report::write_report(
//!     std::path::Path::new("canary-report"), report, input, "checkout 2.4.0 canary")?;
//! println!("open {}", files.html.display());
//! # Ok(()) }
//! ```

pub mod backtest;
pub mod charts;
pub mod escape;
pub mod figures;
pub mod files;
pub mod forensics;
pub mod html;
pub mod markdown;
pub mod structure;
pub mod tune;
pub mod view;

use crate::analysis::findings::AnalysisReport;
use crate::model::comparison::ComparisonInput;
use crate::model::metric_series::MetricSeries;
use std::path::{Path, PathBuf};

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Creating a directory or writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A chart could not be drawn or encoded.
    #[error("cannot draw chart {chart}: {message}")]
    Chart {
        /// Chart name.
        chart: String,
        /// What plotters or the PNG encoder said.
        message: String,
    },
    /// The JSON report could not be serialised.
    #[error("cannot serialise the JSON report: {0}")]
    Json(#[from] serde_json::Error),
    /// An output path that would leave the report directory (a bug if it ever happens: every
    /// name is built by [`files::slug`]).
    #[error("refusing to write outside the report directory: {path:?}")]
    UnsafePath {
        /// The relative path refused.
        path: String,
    },
}

/// The files a report consists of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFiles {
    /// `DIR/index.html`: the self-contained HTML report.
    pub html: PathBuf,
    /// `DIR/report.md`: the Markdown report (links to `charts/*.png`).
    pub markdown: PathBuf,
    /// `DIR/report.json`: the analysis result, pretty-printed.
    pub json: PathBuf,
    /// `DIR/charts/*.svg` and `*.png`, in report order.
    pub charts: Vec<PathBuf>,
}

/// Renders `report` (with the samples of `input` for the charts) into `dir`: `index.html`,
/// `report.md`, `report.json` and `charts/*.{svg,png}`. Creates `dir` if needed; overwrites
/// those files, leaves any other file alone. Output is byte-identical for identical input.
pub fn write_report(
    dir: &Path,
    report: &AnalysisReport,
    input: &ComparisonInput,
    title: &str,
) -> Result<ReportFiles, ReportError> {
    write_report_with_metrics(dir, report, input, None, title)
}

/// [`write_report`] with a "Metrics over time" section drawn from `metrics` (request rate,
/// error rate and p99 latency per track from the metric tables; see
/// [`crate::model::metric_series`]). No section when `metrics` is `None` or empty, and the
/// output is then identical to [`write_report`]'s.
pub fn write_report_with_metrics(
    dir: &Path,
    report: &AnalysisReport,
    input: &ComparisonInput,
    metrics: Option<&MetricSeries>,
    title: &str,
) -> Result<ReportFiles, ReportError> {
    write_report_with_forensics(dir, report, input, metrics, None, title)
}

/// `report.json` with the forensics appended as one more key (flattened, so the report's own
/// keys keep their order).
#[derive(serde::Serialize)]
struct WithForensics<'a> {
    #[serde(flatten)]
    report: &'a AnalysisReport,
    forensics: &'a crate::forensics::ForensicsReport,
}

/// [`write_report_with_metrics`] with a Forensics section when `forensics` is given: in the
/// HTML and Markdown (failed findings linked to their error signatures and exemplar traces,
/// downstream sentences) and as the `forensics` key of `report.json` (the whole
/// `forensics.json`, docs/forensics.schema.json).
pub fn write_report_with_forensics(
    dir: &Path,
    report: &AnalysisReport,
    input: &ComparisonInput,
    metrics: Option<&MetricSeries>,
    forensics: Option<&crate::forensics::ForensicsReport>,
    title: &str,
) -> Result<ReportFiles, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut figs = figures::build(report, input)?;
    if let Some(m) = metrics {
        let frame = charts::TimeFrame::of(input);
        let metric = figures::metric_figures(m, frame, &figs.labels)?;
        figs.figures.extend(metric);
    }
    let mut charts = Vec::with_capacity(figs.figures.len() * 2);
    for f in &figs.figures {
        charts.push(files::write_inside(
            dir,
            &f.svg_path(),
            f.rendered.svg.as_bytes(),
        )?);
        charts.push(files::write_inside(dir, &f.png_path(), &f.rendered.png)?);
    }
    let mut json = match forensics {
        None => serde_json::to_string_pretty(report)?,
        Some(forensics) => serde_json::to_string_pretty(&WithForensics { report, forensics })?,
    };
    json.push('\n');
    let json = files::write_inside(dir, "report.json", json.as_bytes())?;
    let page = html::render(report, input, &figs, forensics, title);
    let html = files::write_inside(dir, "index.html", page.as_bytes())?;
    let md = markdown::render(report, &figs, forensics, title);
    let markdown = files::write_inside(dir, "report.md", md.as_bytes())?;
    Ok(ReportFiles {
        html,
        markdown,
        json,
        charts,
    })
}

#[cfg(test)]
mod metrics_tests;
#[cfg(test)]
mod tests;
