//! Traffic split: the canary's share of requests per time bucket (weighted counts, so sampled
//! telemetry shows the requests it stands for), with the total request rate for context.
//!
//! It shows whether the canary received the traffic the rollout intended, whether the share
//! changed during the window (a ramp), and when the canary started.

use super::*;

/// The chart.
pub struct TrafficSplit {
    /// Stable counts per bucket, summed over the request groups.
    pub baseline: Vec<Counts>,
    /// Canary counts per bucket, summed over the request groups.
    pub canary: Vec<Counts>,
    /// Time axis.
    pub frame: TimeFrame,
    /// What was counted (`requests` or `spans`).
    pub what: String,
}

/// `(x, canary share %)` per bucket with any traffic.
pub fn share_points(frame: &TimeFrame, baseline: &[Counts], canary: &[Counts]) -> Vec<(f64, f64)> {
    let mut m: std::collections::BTreeMap<i64, (f64, f64)> = std::collections::BTreeMap::new();
    for b in baseline {
        m.entry(b.start_ns).or_default().0 += b.weighted_count;
    }
    for c in canary {
        m.entry(c.start_ns).or_default().1 += c.weighted_count;
    }
    m.into_iter()
        .filter(|(_, (b, c))| b + c > 0.0)
        .map(|(t, (b, c))| (frame.bucket_x(t), 100.0 * c / (b + c)))
        .collect()
}

impl Chart for TrafficSplit {
    fn name(&self) -> String {
        "traffic-split".to_string()
    }

    fn size(&self) -> (u32, u32) {
        (super::quantile_timeseries::WIDTH, 380)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = titled(root, &format!("Canary share of {} per bucket", self.what))?;
        let pts = share_points(&self.frame, &self.baseline, &self.canary);
        if pts.is_empty() {
            return draw_message(&area, "no traffic in the window");
        }
        let top = pts.iter().map(|p| p.1).fold(0.0f64, f64::max);
        let yhi = if top > 80.0 {
            100.0
        } else {
            (top * 1.25).max(5.0)
        };
        let (x0, x1) = self.frame.x_range();
        let mut chart = plot(&area, TIME_LAYOUT, x0..x1, 0.0..yhi)?;
        draw_axes(
            &mut chart,
            &Axes {
                x_desc: self.frame.x_desc(),
                y_desc: format!("canary share of {} (%)", self.what),
                x_labels: Some(10),
                y_labels: Some(6),
            },
        )?;
        chart.draw_series(
            AreaSeries::new(pts.clone(), 0.0, CANARY.mix(0.2).filled())
                .border_style(CANARY.stroke_width(3)),
        )?;
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, CANARY.filled())))?;
        let total_b: f64 = self.baseline.iter().map(|c| c.weighted_count).sum();
        let total_c: f64 = self.canary.iter().map(|c| c.weighted_count).sum();
        if total_b + total_c > 0.0 {
            let overall = 100.0 * total_c / (total_b + total_c);
            chart.draw_series(DashedLineSeries::new(
                vec![(x0, overall), (x1, overall)],
                3,
                4,
                INK.stroke_width(1),
            ))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("whole window {}%", fmt_tick(overall)),
                (x1, overall),
                text(TICK_SIZE).pos(Pos::new(HPos::Right, VPos::Bottom)),
            )))?;
        }
        draw_canary_start(&mut chart, &self.frame, (0.0, yhi))?;
        Ok(())
    }
}
