//! Forest plot: every judged effect (metric × group) as its point estimate and confidence
//! interval, drawn over the acceptable region the analysis judged it against, one section per
//! unit, most severe first.
//!
//! How to read a row: the shaded box is the acceptable region (`allowed_decrease` to
//! `allowed_increase`), the dashed vertical line is "no change". A row passes when its whole
//! interval lies inside the box (green circle); it fails when the interval excludes no change
//! and the estimate lies beyond the box (vermillion triangle); otherwise it is inconclusive
//! (grey ring) — usually an interval too wide for the data to decide. Values come straight from
//! the report's comparisons.

use super::*;
use crate::analysis::findings::{AnalysisReport, Classification};
use crate::report::view::{metric_label, ordered_comparisons, MAX_LABEL_CHARS};

/// Most rows drawn; the rest are in the findings table.
pub const MAX_ROWS: usize = 40;
/// Height of one row in pixels.
pub const ROW_HEIGHT: u32 = 28;
/// Width of the row-label column.
pub const LABEL_WIDTH: u32 = 470;

/// One effect.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Cleaned label (`metric · service · route`).
    pub label: String,
    /// Point estimate.
    pub estimate: f64,
    /// Lower confidence bound.
    pub low: Option<f64>,
    /// Upper confidence bound.
    pub high: Option<f64>,
    /// Acceptable region (absent side = not judged in that direction).
    pub band: (Option<f64>, Option<f64>),
    /// Outcome.
    pub classification: Classification,
}

/// Rows sharing a unit (and so an x axis).
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The unit of the report's comparisons (`ratio`, `percentage_points`, `ms`, …).
    pub unit: String,
    /// Rows, most severe first.
    pub rows: Vec<Row>,
}

/// The forest plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Forest {
    /// Sections: ratios, then percentage points, then milliseconds, then any other unit.
    pub sections: Vec<Section>,
    /// Comparisons with an estimate that were left out by [`MAX_ROWS`].
    pub rows_not_shown: usize,
    /// Comparisons without an estimate (too little data): table only.
    pub without_estimate: usize,
}

/// The value meaning "no change" in `unit`.
pub fn null_value(unit: &str) -> f64 {
    if unit == "ratio" {
        1.0
    } else {
        0.0
    }
}

/// Axis description of `unit`.
pub fn unit_desc(unit: &str) -> String {
    match unit {
        "ratio" => "canary / stable (ratio; 1 = no change)".to_string(),
        "percentage_points" => "canary − stable (percentage points)".to_string(),
        "ms" => "canary − stable (ms)".to_string(),
        other => format!("effect ({})", crate::report::escape::clean(other, 30)),
    }
}

fn unit_order(unit: &str) -> (u8, String) {
    let k = match unit {
        "ratio" => 0,
        "percentage_points" => 1,
        "ms" => 2,
        _ => 3,
    };
    (k, unit.to_string())
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

impl Forest {
    /// The rows of `report`, most severe first, at most [`MAX_ROWS`].
    pub fn from_report(report: &AnalysisReport) -> Self {
        let mut sections: Vec<Section> = Vec::new();
        let mut shown = 0;
        let mut rows_not_shown = 0;
        let mut without_estimate = 0;
        for c in ordered_comparisons(report) {
            let Some(estimate) = finite(c.estimate) else {
                without_estimate += 1;
                continue;
            };
            if shown >= MAX_ROWS {
                rows_not_shown += 1;
                continue;
            }
            shown += 1;
            let name = c.route.as_deref().or(c.operation.as_deref()).unwrap_or("");
            let label = crate::report::escape::clean(
                &format!("{} · {} · {}", metric_label(c.metric), c.service, name),
                MAX_LABEL_CHARS,
            );
            let row = Row {
                label,
                estimate,
                low: finite(c.ci_low),
                high: finite(c.ci_high),
                band: (finite(c.allowed_decrease), finite(c.allowed_increase)),
                classification: c.classification,
            };
            match sections.iter_mut().find(|s| s.unit == c.unit) {
                Some(s) => s.rows.push(row),
                None => sections.push(Section {
                    unit: c.unit.clone(),
                    rows: vec![row],
                }),
            }
        }
        sections.sort_by_key(|s| unit_order(&s.unit));
        Forest {
            sections,
            rows_not_shown,
            without_estimate,
        }
    }

    fn section_height(rows: usize) -> u32 {
        32 + 16 + ROW_HEIGHT * rows as u32 + 56
    }

    /// Text of the note under the plot, if any rows are table-only.
    pub fn note(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.rows_not_shown > 0 {
            parts.push(format!(
                "{} less severe comparisons not drawn",
                self.rows_not_shown
            ));
        }
        if self.without_estimate > 0 {
            parts.push(format!(
                "{} comparisons without an estimate (too little data)",
                self.without_estimate
            ));
        }
        (!parts.is_empty()).then(|| format!("{}: see the findings table.", parts.join("; ")))
    }
}

fn color_of(c: Classification) -> RGBColor {
    match c {
        Classification::FailHigh | Classification::FailLow => FAIL,
        Classification::Pass => PASS,
        Classification::Inconclusive => INCONCLUSIVE,
    }
}

const LEGEND: u32 = 40;
const NOTE: u32 = 30;

impl Chart for Forest {
    fn name(&self) -> String {
        "forest".to_string()
    }

    fn size(&self) -> (u32, u32) {
        let body: u32 = self
            .sections
            .iter()
            .map(|s| Self::section_height(s.rows.len()))
            .sum();
        (1200, LEGEND + body.max(120) + NOTE)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (legend, rest) = root.split_vertically(LEGEND);
        draw_legend(
            &legend,
            &[
                LegendItem {
                    label: "fail".into(),
                    color: FAIL,
                    dashed: false,
                    marker: Marker::Triangle,
                },
                LegendItem {
                    label: "inconclusive".into(),
                    color: INCONCLUSIVE,
                    dashed: false,
                    marker: Marker::Ring,
                },
                LegendItem {
                    label: "pass".into(),
                    color: PASS,
                    dashed: false,
                    marker: Marker::Dot,
                },
                LegendItem {
                    label: "acceptable region".into(),
                    color: PASS,
                    dashed: false,
                    marker: Marker::Band,
                },
            ],
        )?;
        let (_, h) = rest.dim_in_pixel();
        let (mut body, note) = rest.split_vertically(h.saturating_sub(NOTE));
        if let Some(n) = self.note() {
            note.draw(&Text::new(
                n,
                (12, NOTE as i32 / 2),
                text(TICK_SIZE).pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
        }
        if self.sections.is_empty() {
            return draw_message(&body, "no comparison has an estimate");
        }
        for s in &self.sections {
            let (area, below) = body.split_vertically(Self::section_height(s.rows.len()));
            body = below;
            self.draw_section(&area, s)?;
        }
        Ok(())
    }
}

impl Forest {
    fn draw_section<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        s: &Section,
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let title = match s.unit.as_str() {
            "ratio" => "Ratios: canary / stable".to_string(),
            "percentage_points" => "Differences in error rate".to_string(),
            "ms" => "Differences in milliseconds".to_string(),
            u => format!("Effects in {}", crate::report::escape::clean(u, 30)),
        };
        let area = titled(area, &title)?;
        let null = null_value(&s.unit);
        let mut lo = null;
        let mut hi = null;
        for r in &s.rows {
            for v in [Some(r.estimate), r.low, r.high, r.band.0, r.band.1]
                .into_iter()
                .flatten()
            {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        let n = s.rows.len();
        let builder = || {
            let mut b = ChartBuilder::on(&area);
            b.margin_left(LABEL_WIDTH)
                .margin_right(30)
                .margin_top(8)
                .x_label_area_size(52);
            b
        };
        let y_range = -0.5..(n as f64 - 0.5);
        // Ratios are multiplicative (a halving is as far from 1 as a doubling), and one large
        // regression would squash every other row on a linear axis: log scale when it matters.
        if s.unit == "ratio" && lo > 0.0 && hi / lo > 2.5 {
            let (x0, x1) = (lo / 1.1, hi * 1.1);
            let chart = builder().build_cartesian_2d(
                (x0..x1).log_scale().with_key_points(log_ticks(x0, x1)),
                y_range,
            )?;
            let desc = format!("{} — log scale", unit_desc(&s.unit));
            draw_rows(chart, &area, s, (x0, x1), null, &desc)
        } else {
            let (x0, x1) = padded(lo, hi, 0.06);
            let chart = builder().build_cartesian_2d(x0..x1, y_range)?;
            draw_rows(chart, &area, s, (x0, x1), null, &unit_desc(&s.unit))
        }
    }
}

/// Draws the mesh, rows and labels of one section on a chart whose x axis is linear or
/// logarithmic.
fn draw_rows<DB, X>(
    mut chart: ChartContext<'_, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    area: &DrawingArea<DB, Shift>,
    s: &Section,
    (x0, x1): (f64, f64),
    null: f64,
    x_desc: &str,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let n = s.rows.len();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc(x_desc)
        .axis_desc_style(text(LABEL_SIZE))
        .label_style(text(TICK_SIZE))
        .x_labels(10)
        .x_label_formatter(&|v| fmt_tick(*v))
        .light_line_style(LIGHT_GRID)
        .bold_line_style(GRID)
        .draw()?;
    let base = area.get_base_pixel();
    for (i, r) in s.rows.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        if i % 2 == 0 {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, y - 0.5), (x1, y + 0.5)],
                RGBColor(0xF7, 0xF7, 0xF7).filled(),
            )))?;
        }
        // A side that is not judged is unbounded: shade to the edge of the axis.
        if r.band.0.is_some() || r.band.1.is_some() {
            let blo = r.band.0.unwrap_or(x0).max(x0);
            let bhi = r.band.1.unwrap_or(x1).min(x1);
            if bhi > blo {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(blo, y - 0.36), (bhi, y + 0.36)],
                    PASS.mix(0.16).filled(),
                )))?;
            }
        }
        let color = color_of(r.classification);
        let style = color.stroke_width(2);
        if let (Some(l), Some(h)) = (r.low, r.high) {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(l, y), (h, y)],
                style,
            )))?;
            for v in [l, h] {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(v, y - 0.22), (v, y + 0.22)],
                    style,
                )))?;
            }
        }
        let p = (r.estimate, y);
        match r.classification {
            Classification::FailHigh | Classification::FailLow => {
                chart.draw_series(std::iter::once(TriangleMarker::new(p, 8, color.filled())))?;
            }
            Classification::Pass => {
                chart.draw_series(std::iter::once(Circle::new(p, 6, color.filled())))?;
            }
            Classification::Inconclusive => {
                chart.draw_series(std::iter::once(Circle::new(p, 6, WHITE.filled())))?;
                chart.draw_series(std::iter::once(Circle::new(p, 6, color.stroke_width(2))))?;
            }
        }
        let (_, py) = chart.backend_coord(&(x0, y));
        area.draw(&Text::new(
            r.label.clone(),
            (LABEL_WIDTH as i32 - 12, py - base.1),
            text(TICK_SIZE).pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }
    chart.draw_series(DashedLineSeries::new(
        vec![(null, -0.5), (null, n as f64 - 0.5)],
        6,
        4,
        INK.stroke_width(1),
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, e: f64, l: f64, h: f64, c: Classification) -> Row {
        Row {
            label: label.into(),
            estimate: e,
            low: Some(l),
            high: Some(h),
            band: (Some(0.8), Some(1.2)),
            classification: c,
        }
    }

    #[test]
    fn large_ratios_get_a_log_axis_and_every_row_is_labelled() {
        let f = Forest {
            sections: vec![Section {
                unit: "ratio".into(),
                rows: vec![
                    row(
                        "p99 · svc · GET /slow",
                        8.0,
                        5.0,
                        12.0,
                        Classification::FailHigh,
                    ),
                    row(
                        "p99 · svc · GET /ok",
                        1.01,
                        0.95,
                        1.07,
                        Classification::Pass,
                    ),
                    row(
                        "p50 · svc · GET /maybe",
                        1.1,
                        0.9,
                        1.4,
                        Classification::Inconclusive,
                    ),
                ],
            }],
            rows_not_shown: 2,
            without_estimate: 1,
        };
        let r = crate::report::charts::render(&f).unwrap();
        assert!(r.svg.contains("log scale"));
        for l in ["GET /slow", "GET /ok", "GET /maybe"] {
            assert!(r.svg.contains(l), "{l}");
        }
        assert!(r.svg.contains("2 less severe comparisons not drawn"));
        assert!(r.svg.contains("1 comparisons without an estimate"));
        // Ticks at 1, 2, 5, 10 on the log axis.
        for t in [
            ">\n1\n</text>",
            ">\n2\n</text>",
            ">\n5\n</text>",
            ">\n10\n</text>",
        ] {
            assert!(r.svg.contains(t), "tick {t}");
        }
    }

    #[test]
    fn rows_are_most_severe_first_and_capped() {
        let mut rep = crate::report::tests::report();
        let template = rep.comparisons[7].clone();
        for i in 0..60 {
            let mut c = template.clone();
            c.id = format!("extra/{i}");
            rep.comparisons.push(c);
        }
        let f = Forest::from_report(&rep);
        let rows: Vec<&Row> = f.sections.iter().flat_map(|s| &s.rows).collect();
        assert_eq!(rows.len(), MAX_ROWS);
        assert_eq!(f.rows_not_shown, 68 - MAX_ROWS);
        let ratio = &f.sections[0];
        assert_eq!(ratio.unit, "ratio");
        assert_eq!(ratio.rows[0].classification, Classification::FailHigh);
        assert_eq!(ratio.rows[1].classification, Classification::FailHigh);
        assert_eq!(ratio.rows[2].classification, Classification::Inconclusive);
        assert_eq!(f.sections[1].unit, "percentage_points");
    }
}
