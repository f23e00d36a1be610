//! Latency distribution of one group: the empirical cumulative distribution function (ECDF)
//! of canary and stable durations on a logarithmic duration axis. One such panel per route
//! forms the report's small multiples.
//!
//! The ECDF at `x` is the share of recorded requests that took at most `x` ms. A canary curve
//! to the right of the stable curve is slower at that share of requests; the horizontal
//! reference lines at 0.5 and 0.99 read off medians and 99th percentiles.

use super::*;
use crate::model::comparison::Side;

/// Most points drawn per curve; larger samples are drawn at evenly spaced ranks.
pub const MAX_POINTS: usize = 250;

/// ECDF panel of one group.
pub struct LatencyEcdf<'a> {
    /// File and id name.
    pub name: String,
    /// Panel title (already cleaned; plotters escapes it in SVG).
    pub title: String,
    /// Stable durations, ms, sorted ascending.
    pub baseline: &'a [f64],
    /// Canary durations, ms, sorted ascending.
    pub canary: &'a [f64],
    /// Names of the two sides.
    pub labels: SideLabels,
}

/// Points of the ECDF step function of sorted `xs` (values below `floor` drawn at `floor`, so
/// zero durations fit on a log axis). Up to [`MAX_POINTS`] values it is the exact step
/// function; above, the curve through the values at `MAX_POINTS` evenly spaced ranks.
pub fn ecdf_points(xs: &[f64], floor: f64) -> Vec<(f64, f64)> {
    let n = xs.len();
    if n == 0 {
        return Vec::new();
    }
    let nf = n as f64;
    let x = |i: usize| xs[i].max(floor);
    let mut pts = Vec::with_capacity(2 * n.min(MAX_POINTS) + 1);
    if n <= MAX_POINTS {
        pts.push((x(0), 0.0));
        for i in 0..n {
            pts.push((x(i), i as f64 / nf));
            pts.push((x(i), (i + 1) as f64 / nf));
        }
    } else {
        pts.push((x(0), 0.0));
        for k in 1..=MAX_POINTS {
            // Rank ceil(k·n/M) (1-based): the ECDF reaches k/M exactly there.
            let r = (k * n).div_ceil(MAX_POINTS);
            pts.push((x(r - 1), r as f64 / nf));
        }
    }
    pts
}

impl Chart for LatencyEcdf<'_> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn size(&self) -> (u32, u32) {
        (600, 400)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (head, body) = root.split_vertically(36);
        head.draw(&Text::new(
            self.title.clone(),
            (12, 18),
            (FONT, TITLE_SIZE)
                .into_font()
                .style(FontStyle::Bold)
                .color(&INK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        let all = self.baseline.iter().chain(self.canary.iter());
        let min_pos = all
            .clone()
            .copied()
            .filter(|v| *v > 0.0 && v.is_finite())
            .fold(f64::INFINITY, f64::min);
        let max = all.copied().filter(|v| v.is_finite()).fold(0.0, f64::max);
        if !min_pos.is_finite() || max <= 0.0 {
            return draw_message(&body, "no positive durations to draw on a log axis");
        }
        let floor = min_pos;
        let (lo, hi) = if max > floor * 1.01 {
            (floor / 1.15, max * 1.15)
        } else {
            (floor / 2.0, floor * 2.0)
        };
        let mut chart = plot(
            &body,
            PlotLayout {
                margin_right: 20,
                x_label_area: 48,
            },
            (lo..hi).log_scale().with_key_points(log_ticks(lo, hi)),
            0.0f64..1.0f64,
        )?;
        draw_axes(
            &mut chart,
            &Axes {
                x_desc: "duration (ms, log scale)".into(),
                y_desc: "share of requests ≤ duration".into(),
                x_labels: None,
                y_labels: Some(6),
            },
        )?;
        for (q, label) in [(0.5, "p50"), (0.99, "p99")] {
            chart.draw_series(DashedLineSeries::new(
                vec![(lo, q), (hi, q)],
                4,
                4,
                RGBColor(0x99, 0x99, 0x99).stroke_width(1),
            ))?;
            chart.draw_series(std::iter::once(Text::new(
                label.to_string(),
                (hi / 1.02, q),
                text(TICK_SIZE).pos(Pos::new(HPos::Right, VPos::Bottom)),
            )))?;
        }
        let series = [
            (self.baseline, Side::Baseline, false),
            (self.canary, Side::Canary, true),
        ];
        for (xs, side, dashed) in series {
            let (color, label) = (side_color(side), self.labels.name(side));
            let pts = ecdf_points(xs, floor);
            if pts.is_empty() {
                continue;
            }
            let style = color.stroke_width(3);
            let legend = format!("{label} (n={})", xs.len());
            if dashed {
                chart
                    .draw_series(DashedLineSeries::new(pts, 10, 5, style))?
                    .label(legend)
                    .legend(move |(x, y)| {
                        // Two dashes, as in the plot.
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(0, 0), (8, 0)], style)
                            + PathElement::new(vec![(13, 0), (22, 0)], style)
                    });
            } else {
                chart
                    .draw_series(LineSeries::new(pts, style))?
                    .label(legend)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font(text(LABEL_SIZE))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(0xBB, 0xBB, 0xBB))
            .draw()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_steps_for_small_samples() {
        let p = ecdf_points(&[0.0, 1.0, 2.0], 0.5);
        assert_eq!(
            p,
            vec![
                (0.5, 0.0),
                (0.5, 0.0),
                (0.5, 1.0 / 3.0),
                (1.0, 1.0 / 3.0),
                (1.0, 2.0 / 3.0),
                (2.0, 2.0 / 3.0),
                (2.0, 1.0)
            ]
        );
    }

    #[test]
    fn large_samples_are_thinned_but_end_at_one() {
        let xs: Vec<f64> = (1..=10_000).map(f64::from).collect();
        let p = ecdf_points(&xs, 1.0);
        assert_eq!(p.len(), MAX_POINTS + 1);
        assert_eq!(*p.last().unwrap(), (10_000.0, 1.0));
        // Every point lies on the ECDF: F(x_(r)) = r/n.
        for (x, y) in &p[1..] {
            assert!((x / 10_000.0 - y).abs() < 1e-12);
        }
    }
}
