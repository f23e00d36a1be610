//! Metrics over time: one measure (request rate, error rate or p99 latency) per time bucket
//! from the services' own OpenTelemetry metrics, stable against canary, one panel per service.
//! The values come from the engine's metric series ([`crate::model::metric_series`], the
//! dashboard queries in `queries/metrics_*.sql`); this chart only draws them. The only
//! derived numbers are plot coordinates: requests per second (requests / bucket width) and
//! errors / requests as a percentage.
//!
//! It is the metric-side view of the span charts above it: the same regression seen in
//! metrics as in spans is more credible, and metrics cover unsampled traffic.

use super::quantile_timeseries::{columns, height_for, LEGEND_HEIGHT, WIDTH};
use super::*;
use crate::model::comparison::Side;
use crate::model::metric_series::{MetricBucket, TrackSeries};

/// What a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Requests per second (histogram counts / bucket width).
    RequestRate,
    /// Server errors (status ≥ 500) / requests, %.
    ErrorRate,
    /// p99 latency of the merged histograms, ms (log axis).
    P99,
}

impl Measure {
    /// File stem and HTML id of the chart.
    pub fn name(self) -> &'static str {
        match self {
            Measure::RequestRate => "metrics-request-rate",
            Measure::ErrorRate => "metrics-error-rate",
            Measure::P99 => "metrics-p99-latency",
        }
    }

    fn y_desc(self) -> &'static str {
        match self {
            Measure::RequestRate => "requests / s",
            Measure::ErrorRate => "errors (% of requests)",
            Measure::P99 => "p99 latency (ms, log scale)",
        }
    }

    /// The plotted value of a bucket, if it has one.
    pub fn value(self, b: &MetricBucket, bucket_ns: i64) -> Option<f64> {
        let v = match self {
            Measure::RequestRate => b.requests as f64 / (bucket_ns.max(1) as f64 / 1e9),
            Measure::ErrorRate if b.requests > 0 => 100.0 * b.errors as f64 / b.requests as f64,
            Measure::ErrorRate => return None,
            Measure::P99 => b.p99_ms?,
        };
        (v.is_finite() && (self != Measure::P99 || v > 0.0)).then_some(v)
    }
}

/// One panel: a service (cleaned label) and its tracks' series.
pub struct Panel<'a> {
    /// Cleaned label.
    pub title: String,
    /// Series of the service, baseline and canary tracks.
    pub series: Vec<&'a TrackSeries>,
}

/// The chart: panels in two columns under a shared legend.
pub struct MetricSeriesChart<'a> {
    /// What is drawn.
    pub measure: Measure,
    /// Panels, one per service.
    pub panels: Vec<Panel<'a>>,
    /// Time axis.
    pub frame: TimeFrame,
    /// Names of the two sides.
    pub labels: SideLabels,
}

impl MetricSeriesChart<'_> {
    fn points(&self, s: &TrackSeries) -> Vec<(f64, f64)> {
        s.buckets
            .iter()
            .filter_map(|b| {
                self.measure
                    .value(b, self.frame.bucket_ns)
                    .map(|v| (self.frame.bucket_x(b.start_unix_nano), v))
            })
            .collect()
    }
}

impl Chart for MetricSeriesChart<'_> {
    fn name(&self) -> String {
        self.measure.name().to_string()
    }

    fn size(&self) -> (u32, u32) {
        (WIDTH, height_for(self.panels.len()))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (legend, body) = root.split_vertically(LEGEND_HEIGHT);
        draw_legend(
            &legend,
            &[
                self.labels.legend(Side::Baseline, "", false, false),
                self.labels.legend(Side::Canary, "", false, false),
            ],
        )?;
        if self.panels.is_empty() {
            return draw_message(&body, "no metric series to show");
        }
        let areas = panels(&body, self.panels.len(), columns(self.panels.len()));
        for (p, area) in self.panels.iter().zip(areas) {
            let area = titled(&area, &p.title)?;
            let lines: Vec<(Vec<(f64, f64)>, Side)> =
                p.series.iter().map(|s| (self.points(s), s.side)).collect();
            let ys = lines.iter().flat_map(|l| l.0.iter().map(|p| p.1));
            let ymin = ys.clone().fold(f64::INFINITY, f64::min);
            let ymax = ys.fold(f64::NEG_INFINITY, f64::max);
            if !ymin.is_finite() {
                draw_message(&area, "no metric values in the window")?;
                continue;
            }
            let (x0, x1) = self.frame.x_range();
            let axes = Axes {
                x_desc: self.frame.x_desc(),
                y_desc: self.measure.y_desc().into(),
                x_labels: Some(8),
                y_labels: (self.measure != Measure::P99).then_some(6),
            };
            if self.measure == Measure::P99 {
                let (ylo, yhi) = if ymax > ymin * 1.01 {
                    (ymin / 1.3, ymax * 1.3)
                } else {
                    (ymin / 2.0, ymin * 2.0)
                };
                let y = (ylo..yhi).log_scale().with_key_points(log_ticks(ylo, yhi));
                let mut chart = plot(&area, TIME_LAYOUT, x0..x1, y)?;
                draw_axes(&mut chart, &axes)?;
                for (pts, side) in &lines {
                    draw_line(&mut chart, pts, LineStyle::side(*side))?;
                }
                draw_canary_start(&mut chart, &self.frame, (ylo, yhi))?;
            } else {
                let yhi = if ymax > 0.0 { ymax * 1.15 } else { 1.0 };
                let mut chart = plot(&area, TIME_LAYOUT, x0..x1, 0.0..yhi)?;
                draw_axes(&mut chart, &axes)?;
                for (pts, side) in &lines {
                    draw_line(&mut chart, pts, LineStyle::side(*side))?;
                }
                draw_canary_start(&mut chart, &self.frame, (0.0, yhi))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(t: i64, requests: u64, errors: u64, p99: Option<f64>) -> MetricBucket {
        MetricBucket {
            start_unix_nano: t,
            requests,
            errors,
            p50_ms: p99.map(|v| v / 2.0),
            p99_ms: p99,
        }
    }

    #[test]
    fn values_are_rates_and_percentages_of_the_engine_counts() {
        let b = bucket(0, 120, 3, Some(250.0));
        assert_eq!(Measure::RequestRate.value(&b, 60_000_000_000), Some(2.0));
        assert_eq!(Measure::ErrorRate.value(&b, 60_000_000_000), Some(2.5));
        assert_eq!(Measure::P99.value(&b, 60_000_000_000), Some(250.0));
        let empty = bucket(0, 0, 0, None);
        assert_eq!(Measure::ErrorRate.value(&empty, 60_000_000_000), None);
        assert_eq!(Measure::P99.value(&empty, 60_000_000_000), None);
        assert_eq!(
            Measure::RequestRate.value(&empty, 60_000_000_000),
            Some(0.0)
        );
    }

    #[test]
    fn renders_hostile_titles_as_escaped_text_deterministically() {
        let minute = 60_000_000_000;
        let s = |side, track: &str, k: u64| TrackSeries {
            side,
            service: "<script>alert(1)</script>".into(),
            track: track.into(),
            buckets: (0..5)
                .map(|i| bucket(i * minute, 100 * k, i as u64, Some(10.0 * (i + 1) as f64)))
                .collect(),
        };
        let (a, b) = (s(Side::Baseline, "stable", 4), s(Side::Canary, "canary", 1));
        let frame = TimeFrame {
            origin_ns: 0,
            end_ns: 5 * minute,
            bucket_ns: minute,
            canary_start_ns: Some(minute),
        };
        for measure in [Measure::RequestRate, Measure::ErrorRate, Measure::P99] {
            let chart = MetricSeriesChart {
                measure,
                panels: vec![Panel {
                    title: crate::report::escape::clean(&a.service, 60),
                    series: vec![&a, &b],
                }],
                frame,
                labels: SideLabels::default(),
            };
            let r1 = render(&chart).unwrap();
            let r2 = render(&chart).unwrap();
            assert_eq!(r1, r2);
            assert!(!r1.svg.contains("<script>"));
            assert!(r1.svg.contains("&lt;script&gt;"));
            assert!(r1.svg.contains(measure.y_desc()));
            assert!(r1.png.starts_with(b"\x89PNG"));
        }
    }
}
