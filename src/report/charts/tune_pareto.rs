//! A tuning sweep's trade-off: every setting's false-rollback rate (x) against its detection
//! rate (y), the Pareto front joined by a line, the recommended setting circled and the
//! target false-rollback rate as a dashed vertical line.

use super::*;
use crate::tune::evaluate::TuneReport;

/// The chart.
pub struct TunePareto {
    /// `(false-rollback %, detection %, on the front)` per setting.
    pub points: Vec<(f64, f64, bool)>,
    /// The recommended setting's point.
    pub recommended: Option<(f64, f64)>,
    /// Target false-rollback rate, %.
    pub target: f64,
}

impl TunePareto {
    /// The chart of `r` (settings without a rate on either axis are left out).
    pub fn of(r: &TuneReport) -> Self {
        let pt = |s: &crate::tune::evaluate::Setting| {
            Some((
                s.false_rollback_rate? * 100.0,
                s.detection_rate? * 100.0,
                s.pareto,
            ))
        };
        let points = r.settings.iter().filter_map(pt).collect();
        let recommended = r
            .recommended
            .as_ref()
            .and_then(|rec| r.settings.get(rec.index))
            .and_then(pt)
            .map(|(x, y, _)| (x, y));
        TunePareto {
            points,
            recommended,
            target: r.target_false_rollback_rate * 100.0,
        }
    }
}

impl Chart for TunePareto {
    fn name(&self) -> String {
        "tune-pareto".to_string()
    }

    fn size(&self) -> (u32, u32) {
        (800, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let area = titled(root, "Detection against false rollbacks, per setting")?;
        let x1 = self
            .points
            .iter()
            .map(|p| p.0)
            .fold(self.target, f64::max)
            .max(1.0)
            * 1.1;
        let mut chart = plot(&area, TIME_LAYOUT, 0.0..x1, 0.0..105.0)?;
        draw_axes(
            &mut chart,
            &Axes {
                x_desc: "false-rollback rate (%)".into(),
                y_desc: "detection rate (%)".into(),
                x_labels: Some(8),
                y_labels: Some(6),
            },
        )?;
        chart.draw_series(DashedLineSeries::new(
            vec![(self.target, 0.0), (self.target, 105.0)],
            6,
            4,
            INK.stroke_width(2),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            "target".to_string(),
            (self.target, 104.0),
            text(TICK_SIZE).pos(Pos::new(HPos::Left, VPos::Top)),
        )))?;
        chart.draw_series(
            self.points
                .iter()
                .filter(|p| !p.2)
                .map(|p| Circle::new((p.0, p.1), 4, INCONCLUSIVE.filled())),
        )?;
        let mut front: Vec<(f64, f64)> = self
            .points
            .iter()
            .filter(|p| p.2)
            .map(|p| (p.0, p.1))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        front.dedup();
        draw_line(
            &mut chart,
            &front,
            LineStyle {
                color: PASS,
                width: 2,
                dash: None,
                dots: false,
            },
        )?;
        chart.draw_series(
            front
                .iter()
                .map(|&(x, y)| TriangleMarker::new((x, y), 7, PASS.filled())),
        )?;
        if let Some((x, y)) = self.recommended {
            chart.draw_series(std::iter::once(Circle::new(
                (x, y),
                12,
                FAIL.stroke_width(3),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                "recommended".to_string(),
                (x, y),
                text(TICK_SIZE).pos(Pos::new(HPos::Left, VPos::Bottom)),
            )))?;
        }
        Ok(())
    }
}
