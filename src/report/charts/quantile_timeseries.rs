//! Median (p50) and 99th-percentile (p99) latency per time bucket, stable against canary, one
//! panel per group (the most regressed groups). The per-bucket quantiles are the engine's exact
//! values ([`crate::model::comparison::TimeBucket`]); this chart only draws them.
//!
//! Read it for timing: a canary p99 that rises only after some minutes (a leak, a cache
//! filling) or only at a load peak looks different here from a constant regression.

use super::*;
use crate::model::comparison::{Side, TimeBucket};

/// One panel: a group's label and its two series.
pub struct Panel<'a> {
    /// Cleaned label.
    pub title: String,
    /// Stable buckets.
    pub baseline: &'a [TimeBucket],
    /// Canary buckets.
    pub canary: &'a [TimeBucket],
}

/// The chart: panels in two columns under a shared legend.
pub struct QuantileTimeseries<'a> {
    /// Panels, most regressed group first.
    pub panels: Vec<Panel<'a>>,
    /// Time axis.
    pub frame: TimeFrame,
    /// Names of the two sides.
    pub labels: SideLabels,
}

/// Width of the time-series charts.
pub const WIDTH: u32 = 1200;
/// Height of one panel row.
pub const PANEL_HEIGHT: u32 = 340;
/// Height of the legend strip.
pub const LEGEND_HEIGHT: u32 = 40;

/// Columns used for `n` panels.
pub fn columns(n: usize) -> usize {
    if n <= 1 {
        1
    } else {
        2
    }
}

/// Chart height for `n` panels.
pub fn height_for(n: usize) -> u32 {
    LEGEND_HEIGHT + PANEL_HEIGHT * (n.max(1).div_ceil(columns(n)) as u32)
}

fn finite_points(
    frame: &TimeFrame,
    buckets: &[TimeBucket],
    f: impl Fn(&TimeBucket) -> f64,
) -> Vec<(f64, f64)> {
    buckets
        .iter()
        .filter(|b| b.count > 0)
        .map(|b| (frame.bucket_x(b.start_unix_nano), f(b)))
        .filter(|(_, y)| y.is_finite() && *y > 0.0)
        .collect()
}

impl Chart for QuantileTimeseries<'_> {
    fn name(&self) -> String {
        "latency-over-time".to_string()
    }

    fn size(&self) -> (u32, u32) {
        (WIDTH, height_for(self.panels.len()))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (legend, body) = root.split_vertically(LEGEND_HEIGHT);
        let l = &self.labels;
        draw_legend(
            &legend,
            &[
                l.legend(Side::Baseline, " p99", false, false),
                l.legend(Side::Baseline, " p50", true, false),
                l.legend(Side::Canary, " p99", false, false),
                l.legend(Side::Canary, " p50", true, false),
            ],
        )?;
        if self.panels.is_empty() {
            return draw_message(&body, "no groups to show");
        }
        let areas = panels(&body, self.panels.len(), columns(self.panels.len()));
        for (p, area) in self.panels.iter().zip(areas) {
            let area = titled(&area, &p.title)?;
            // p99 solid, p50 dashed and thinner; canary lines dotted.
            let lines = [Side::Baseline, Side::Canary].into_iter().flat_map(|side| {
                let buckets = match side {
                    Side::Baseline => p.baseline,
                    Side::Canary => p.canary,
                };
                [
                    (
                        finite_points(&self.frame, buckets, |b| b.p99_ms),
                        LineStyle::side(side),
                    ),
                    (
                        finite_points(&self.frame, buckets, |b| b.p50_ms),
                        LineStyle::side(side).dashed(8, 5, 2),
                    ),
                ]
            });
            let lines: Vec<_> = lines.collect();
            let ys = lines.iter().flat_map(|l| l.0.iter().map(|p| p.1));
            let ymin = ys.clone().fold(f64::INFINITY, f64::min);
            let ymax = ys.fold(0.0, f64::max);
            if !ymin.is_finite() {
                draw_message(&area, "no latency samples in the window")?;
                continue;
            }
            let (ylo, yhi) = if ymax > ymin * 1.01 {
                (ymin / 1.3, ymax * 1.3)
            } else {
                (ymin / 2.0, ymin * 2.0)
            };
            let (x0, x1) = self.frame.x_range();
            let mut chart = plot(
                &area,
                TIME_LAYOUT,
                x0..x1,
                (ylo..yhi).log_scale().with_key_points(log_ticks(ylo, yhi)),
            )?;
            draw_axes(
                &mut chart,
                &Axes {
                    x_desc: self.frame.x_desc(),
                    y_desc: "latency (ms, log scale)".into(),
                    x_labels: Some(8),
                    y_labels: None,
                },
            )?;
            for (pts, style) in &lines {
                draw_line(&mut chart, pts, *style)?;
            }
            draw_canary_start(&mut chart, &self.frame, (ylo, yhi))?;
        }
        Ok(())
    }
}
