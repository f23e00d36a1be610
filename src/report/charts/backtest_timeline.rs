//! A backtest's timeline: the canary weight step by step (top panel), then one panel per gate
//! with its measured values against its threshold, each point marked by its outcome, and the
//! decision (and the onset, when given) as vertical lines across every panel.
//!
//! Time runs in minutes since the replayed rollout started.

use super::*;
use crate::backtest::outcome::{BacktestReport, Outcome, Phase};
use crate::report::escape;

/// Height of the weight panel and of each gate panel, pixels.
const PANEL: u32 = 240;
/// Width, pixels.
const WIDTH: u32 = 960;

/// One measurement as drawn: time (ns), value, threshold, outcome.
pub type GatePoint = (i64, Option<f64>, Option<f64>, Phase);

/// The chart.
pub struct BacktestTimeline {
    /// Rollout start, ns (x origin).
    pub origin_ns: i64,
    /// `(start, end, weight %)` of each step, ns.
    pub steps: Vec<(i64, i64, f64)>,
    /// Per gate: its name and `(time ns, value, threshold, phase)` of each measurement.
    pub gates: Vec<(String, Vec<GatePoint>)>,
    /// Decision time and outcome.
    pub decision: Option<(i64, Outcome)>,
    /// Onset, ns.
    pub onset_ns: Option<i64>,
    /// End of the x axis, ns.
    pub end_ns: i64,
}

impl BacktestTimeline {
    /// The chart of `r`.
    pub fn of(r: &BacktestReport) -> Self {
        let ns = |s: &str| crate::model::time::parse_rfc3339(s).unwrap_or(0);
        let origin_ns = ns(&r.rollout_start);
        let steps: Vec<_> = r
            .steps
            .iter()
            .map(|s| (ns(&s.started_at), ns(&s.ended_at), s.weight))
            .collect();
        let mut gates: Vec<(String, Vec<GatePoint>)> = Vec::new();
        for e in &r.timeline {
            let point = (e.time_unix_nano, e.value, e.threshold, e.outcome);
            match gates.iter_mut().find(|g| g.0 == e.gate) {
                Some(g) => g.1.push(point),
                None => gates.push((e.gate.clone(), vec![point])),
            }
        }
        let decision = r.decided_at_unix_nano.map(|t| (t, r.outcome));
        let onset_ns = r.onset.as_deref().map(ns);
        let end_ns = steps
            .iter()
            .map(|s| s.1)
            .chain(decision.map(|d| d.0))
            .chain(onset_ns)
            .max()
            .unwrap_or(origin_ns)
            .max(origin_ns + 60_000_000_000);
        BacktestTimeline {
            origin_ns,
            steps,
            gates,
            decision,
            onset_ns,
            end_ns,
        }
    }

    fn x(&self, t: i64) -> f64 {
        minutes(t, self.origin_ns)
    }

    fn markers<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<
            '_,
            DB,
            Cartesian2d<
                plotters::coord::types::RangedCoordf64,
                plotters::coord::types::RangedCoordf64,
            >,
        >,
        y: (f64, f64),
    ) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        if let Some(o) = self.onset_ns {
            let x = self.x(o);
            chart.draw_series(DashedLineSeries::new(
                vec![(x, y.0), (x, y.1)],
                6,
                4,
                INK.stroke_width(2),
            ))?;
            chart.draw_series(std::iter::once(Text::new(
                "onset".to_string(),
                (x, y.1),
                text(TICK_SIZE).pos(Pos::new(HPos::Left, VPos::Top)),
            )))?;
        }
        if let Some((t, outcome)) = self.decision {
            let x = self.x(t);
            let color = match outcome {
                Outcome::RolledBack => FAIL,
                _ => PASS,
            };
            chart.draw_series(LineSeries::new(
                vec![(x, y.0), (x, y.1)],
                color.stroke_width(3),
            ))?;
            chart.draw_series(std::iter::once(Text::new(
                outcome.name().replace('_', " "),
                (x, y.0 + (y.1 - y.0) * 0.7),
                text(TICK_SIZE).pos(Pos::new(HPos::Right, VPos::Top)),
            )))?;
        }
        Ok(())
    }
}

impl Chart for BacktestTimeline {
    fn name(&self) -> String {
        "backtest-timeline".to_string()
    }

    fn size(&self) -> (u32, u32) {
        (WIDTH, PANEL * (1 + self.gates.len().max(1) as u32))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let panels = root.split_evenly((1 + self.gates.len().max(1), 1));
        let (x0, x1) = (0.0, self.x(self.end_ns).max(1.0));
        let axes = |y: &str| Axes {
            x_desc: "minutes since the rollout started".into(),
            y_desc: y.into(),
            x_labels: Some(10),
            y_labels: Some(5),
        };
        let area = titled(&panels[0], "Canary weight per step")?;
        let mut chart = plot(&area, TIME_LAYOUT, x0..x1, 0.0..105.0)?;
        draw_axes(&mut chart, &axes("canary weight (%)"))?;
        let mut pts = Vec::new();
        for (a, b, w) in &self.steps {
            pts.push((self.x(*a), *w));
            pts.push((self.x(*b), *w));
        }
        draw_line(
            &mut chart,
            &pts,
            LineStyle {
                color: CANARY,
                width: 3,
                dash: None,
                dots: false,
            },
        )?;
        self.markers(&mut chart, (0.0, 105.0))?;
        if self.gates.is_empty() {
            return draw_message(&panels[1], "no measurements");
        }
        for (i, (name, points)) in self.gates.iter().enumerate() {
            let area = titled(
                &panels[i + 1],
                &format!("Gate {}: value and threshold", escape::clean(name, 60)),
            )?;
            let values: Vec<f64> = points
                .iter()
                .flat_map(|p| [p.1, p.2])
                .flatten()
                .filter(|v| v.is_finite())
                .collect();
            if values.is_empty() {
                draw_message(&area, "no value measured")?;
                continue;
            }
            let lo = values
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min)
                .min(0.0);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let (ylo, yhi) = padded(lo, if hi > lo { hi } else { lo + 1.0 }, 0.1);
            let mut chart = plot(&area, TIME_LAYOUT, x0..x1, ylo..yhi)?;
            draw_axes(&mut chart, &axes("value"))?;
            let thr: Vec<(f64, f64)> = points
                .iter()
                .filter_map(|p| p.2.map(|v| (self.x(p.0), v)))
                .collect();
            draw_line(
                &mut chart,
                &thr,
                LineStyle {
                    color: INK,
                    width: 2,
                    dash: None,
                    dots: false,
                }
                .dashed(8, 5, 2),
            )?;
            let vals: Vec<(f64, f64)> = points
                .iter()
                .filter_map(|p| p.1.map(|v| (self.x(p.0), v)))
                .collect();
            draw_line(
                &mut chart,
                &vals,
                LineStyle {
                    color: STABLE,
                    width: 2,
                    dash: None,
                    dots: false,
                },
            )?;
            // Outcome doubled by shape: circle successful, cross failed, triangle otherwise.
            for p in points {
                let Some(v) = p.1 else { continue };
                let at = (self.x(p.0), v);
                match p.3 {
                    Phase::Successful => {
                        chart.draw_series(std::iter::once(Circle::new(at, 5, PASS.filled())))?;
                    }
                    Phase::Failed => {
                        chart.draw_series(std::iter::once(Cross::new(
                            at,
                            7,
                            FAIL.stroke_width(3),
                        )))?;
                    }
                    _ => {
                        chart.draw_series(std::iter::once(TriangleMarker::new(
                            at,
                            6,
                            INCONCLUSIVE.filled(),
                        )))?;
                    }
                }
            }
            self.markers(&mut chart, (ylo, yhi))?;
        }
        Ok(())
    }
}
