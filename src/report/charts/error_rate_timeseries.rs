//! Error rate per time bucket, stable against canary, with a 95% Wilson score band around
//! each track's per-bucket rate: the first panel sums all requests, the others are the groups
//! whose error rate was judged most severely.
//!
//! Rates and bands use the recorded (unweighted) span counts of each bucket. The band shows how
//! much a bucket's rate could move by chance alone at its request count, so a canary line that
//! leaves the stable band for several buckets is a real difference, while a single spike in a
//! bucket with few requests is not. The judged comparison is in the findings table.

use super::*;

/// One panel.
pub struct Panel {
    /// Cleaned label.
    pub title: String,
    /// Stable counts per bucket.
    pub baseline: Vec<Counts>,
    /// Canary counts per bucket.
    pub canary: Vec<Counts>,
}

/// The chart.
pub struct ErrorRateTimeseries {
    /// Panels, the all-requests panel first.
    pub panels: Vec<Panel>,
    /// Time axis.
    pub frame: TimeFrame,
}

/// `(x, rate %, low %, high %)` per non-empty bucket.
pub fn rate_points(frame: &TimeFrame, counts: &[Counts]) -> Vec<(f64, f64, f64, f64)> {
    counts
        .iter()
        .filter_map(|c| {
            let n = c.count as f64;
            let (lo, hi) = wilson(c.errors as f64, n, Z95)?;
            Some((
                frame.bucket_x(c.start_ns),
                100.0 * c.errors as f64 / n,
                100.0 * lo,
                100.0 * hi,
            ))
        })
        .collect()
}

impl Chart for ErrorRateTimeseries {
    fn name(&self) -> String {
        "error-rate-over-time".to_string()
    }

    fn size(&self) -> (u32, u32) {
        (
            super::quantile_timeseries::WIDTH,
            super::quantile_timeseries::height_for(self.panels.len()),
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (legend, body) = root.split_vertically(super::quantile_timeseries::LEGEND_HEIGHT);
        draw_legend(
            &legend,
            &[
                LegendItem {
                    label: "stable".into(),
                    color: STABLE,
                    dashed: false,
                    marker: Marker::None,
                },
                LegendItem {
                    label: "stable 95% band".into(),
                    color: STABLE,
                    dashed: false,
                    marker: Marker::Band,
                },
                LegendItem {
                    label: "canary".into(),
                    color: CANARY,
                    dashed: true,
                    marker: Marker::Dot,
                },
                LegendItem {
                    label: "canary 95% band".into(),
                    color: CANARY,
                    dashed: false,
                    marker: Marker::Band,
                },
            ],
        )?;
        if self.panels.is_empty() {
            return draw_message(&body, "no groups to show");
        }
        let n = self.panels.len();
        let areas = panels(&body, n, super::quantile_timeseries::columns(n));
        for (p, area) in self.panels.iter().zip(areas) {
            let area = titled(&area, &p.title)?;
            let b = rate_points(&self.frame, &p.baseline);
            let c = rate_points(&self.frame, &p.canary);
            if b.is_empty() && c.is_empty() {
                draw_message(&area, "no requests in the window")?;
                continue;
            }
            let top = b
                .iter()
                .chain(&c)
                .map(|p| p.3)
                .fold(0.0f64, f64::max)
                .max(0.5);
            let yhi = (top * 1.15).min(100.0);
            let (x0, x1) = self.frame.x_range();
            let mut chart = ChartBuilder::on(&area)
                .margin_left(8)
                .margin_right(24)
                .margin_bottom(6)
                .x_label_area_size(46)
                .y_label_area_size(64)
                .build_cartesian_2d(x0..x1, 0.0..yhi)?;
            chart
                .configure_mesh()
                .x_desc(self.frame.x_desc())
                .y_desc("error rate (%)")
                .axis_desc_style(text(LABEL_SIZE))
                .label_style(text(TICK_SIZE))
                .x_labels(8)
                .y_labels(6)
                .x_label_formatter(&|v| fmt_tick(*v))
                .y_label_formatter(&|v| fmt_tick(*v))
                .light_line_style(RGBColor(0xEE, 0xEE, 0xEE))
                .bold_line_style(RGBColor(0xDD, 0xDD, 0xDD))
                .draw()?;
            for (pts, color, dashed) in [(&b, STABLE, false), (&c, CANARY, true)] {
                if pts.is_empty() {
                    continue;
                }
                // The band as one polygon: upper bounds left to right, lower bounds back.
                let mut poly: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, p.3)).collect();
                poly.extend(pts.iter().rev().map(|p| (p.0, p.2)));
                chart.draw_series(std::iter::once(Polygon::new(poly, color.mix(0.18).filled())))?;
                let line: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, p.1)).collect();
                let style = color.stroke_width(3);
                if dashed {
                    chart.draw_series(DashedLineSeries::new(line.clone(), 8, 5, style))?;
                    chart.draw_series(line.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
                } else {
                    chart.draw_series(LineSeries::new(line, style))?;
                }
            }
            draw_canary_start(&mut chart, &self.frame, (0.0, yhi))?;
        }
        Ok(())
    }
}
