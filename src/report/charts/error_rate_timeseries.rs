//! Error rate per time bucket, stable against canary, with a 95% Wilson score band around
//! each track's per-bucket rate: the first panel sums all requests, the others are the groups
//! whose error rate was judged most severely.
//!
//! Rates and bands use the recorded (unweighted) span counts of each bucket. A canary often
//! gets a few requests per minute, too few for a per-minute rate to mean anything, so each
//! panel merges adjacent buckets (summing their counts) until the canary has about
//! [`MIN_COUNT_PER_POINT`] requests per plotted point, keeping at least [`MIN_POINTS`] points;
//! the panel title names the merged width. The band shows how
//! much a bucket's rate could move by chance alone at its request count, so a canary line that
//! leaves the stable band for several buckets is a real difference, while a single spike in a
//! bucket with few requests is not. The judged comparison is in the findings table.

use super::*;
use crate::model::comparison::Side;

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
    /// Names of the two sides.
    pub labels: SideLabels,
}

/// Canary requests wanted per plotted point.
pub const MIN_COUNT_PER_POINT: f64 = 200.0;
/// Fewest points a panel's time axis should keep.
pub const MIN_POINTS: i64 = 6;
/// Merge factors tried, smallest first.
const FACTORS: [i64; 12] = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60];

/// How many engine buckets to merge per plotted point so that the buckets of `counts` hold
/// on average at least [`MIN_COUNT_PER_POINT`] recorded spans, without leaving fewer than
/// [`MIN_POINTS`] points on the axis.
pub fn merge_factor(frame: &TimeFrame, counts: &[Counts]) -> i64 {
    let span = (frame.end_ns - frame.origin_ns).max(1);
    let mut best = 1;
    for k in FACTORS {
        let width = frame.bucket_ns.saturating_mul(k);
        if (span + width - 1) / width < MIN_POINTS {
            break;
        }
        best = k;
        let merged = rebin(frame, counts, k);
        let total: u64 = merged.iter().map(|c| c.count).sum();
        if merged.is_empty() || total as f64 / merged.len() as f64 >= MIN_COUNT_PER_POINT {
            break;
        }
    }
    best
}

/// `counts` summed into buckets `k` times as wide, aligned at the frame origin.
pub fn rebin(frame: &TimeFrame, counts: &[Counts], k: i64) -> Vec<Counts> {
    let width = frame.bucket_ns.saturating_mul(k.max(1));
    let mut m: std::collections::BTreeMap<i64, Counts> = std::collections::BTreeMap::new();
    for c in counts {
        let idx = (c.start_ns - frame.origin_ns).div_euclid(width);
        let start = frame.origin_ns + idx * width;
        m.entry(start).or_insert(Counts::at(start)).add(c);
    }
    m.into_values().collect()
}

/// `(x, rate %, low %, high %)` per non-empty bucket of width `width_ns`.
pub fn rate_points(
    frame: &TimeFrame,
    counts: &[Counts],
    width_ns: i64,
) -> Vec<(f64, f64, f64, f64)> {
    counts
        .iter()
        .filter_map(|c| {
            let n = c.count as f64;
            let (lo, hi) = wilson(c.errors as f64, n)?;
            Some((
                minutes(c.start_ns + width_ns / 2, frame.origin_ns),
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
        let l = &self.labels;
        draw_legend(
            &legend,
            &[
                l.legend(Side::Baseline, "", false, false),
                l.legend(Side::Baseline, " 95% band", false, true),
                l.legend(Side::Canary, "", true, false),
                l.legend(Side::Canary, " 95% band", false, true),
            ],
        )?;
        if self.panels.is_empty() {
            return draw_message(&body, "no groups to show");
        }
        let n = self.panels.len();
        let areas = panels(&body, n, super::quantile_timeseries::columns(n));
        for (p, area) in self.panels.iter().zip(areas) {
            let k = merge_factor(&self.frame, &p.canary);
            let width = self.frame.bucket_ns.saturating_mul(k);
            let area = titled(
                &area,
                &format!("{} ({} buckets)", p.title, fmt_bucket(width)),
            )?;
            let b = rate_points(&self.frame, &rebin(&self.frame, &p.baseline, k), width);
            let c = rate_points(&self.frame, &rebin(&self.frame, &p.canary, k), width);
            if b.is_empty() && c.is_empty() {
                draw_message(&area, "no requests in the window")?;
                continue;
            }
            // Scale to the rates and the stable band; a wider canary band is cut at the top
            // (it still shows as reaching the edge) so the lines stay readable.
            let rates = b.iter().chain(&c).map(|p| p.1).fold(0.0f64, f64::max);
            let stable_band = b.iter().map(|p| p.3).fold(0.0f64, f64::max);
            let yhi = (rates * 1.5).max(stable_band * 1.1).clamp(0.5, 100.0);
            let (x0, x1) = self.frame.x_range();
            let mut chart = plot(&area, TIME_LAYOUT, x0..x1, 0.0..yhi)?;
            draw_axes(
                &mut chart,
                &Axes {
                    x_desc: self.frame.x_desc(),
                    y_desc: "error rate (%)".into(),
                    x_labels: Some(8),
                    y_labels: Some(6),
                },
            )?;
            // Bands first, then lines, so no band hides a line.
            for (pts, side) in [(&b, Side::Baseline), (&c, Side::Canary)] {
                if pts.is_empty() {
                    continue;
                }
                // The band as one polygon: upper bounds left to right, lower bounds back.
                let mut poly: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, p.3.min(yhi))).collect();
                poly.extend(pts.iter().rev().map(|p| (p.0, p.2.min(yhi))));
                chart.draw_series(std::iter::once(Polygon::new(
                    poly,
                    side_color(side).mix(0.18).filled(),
                )))?;
            }
            let styles = [
                (&b, LineStyle::side(Side::Baseline)),
                (&c, LineStyle::side(Side::Canary).dashed(8, 5, 3)),
            ];
            for (pts, style) in styles {
                let line: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, p.1.min(yhi))).collect();
                draw_line(&mut chart, &line, style)?;
            }
            draw_canary_start(&mut chart, &self.frame, (0.0, yhi))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> TimeFrame {
        TimeFrame {
            origin_ns: 0,
            end_ns: 30 * 60_000_000_000,
            bucket_ns: 60_000_000_000,
            canary_start_ns: None,
        }
    }

    fn minute(i: i64, count: u64, errors: u64) -> Counts {
        Counts {
            start_ns: i * 60_000_000_000,
            count,
            errors,
            weighted_count: count as f64,
            weighted_errors: errors as f64,
        }
    }

    #[test]
    fn rebin_sums_counts_and_keeps_totals() {
        let c: Vec<Counts> = (0..30).map(|i| minute(i, 10, (i % 3) as u64)).collect();
        let m = rebin(&frame(), &c, 5);
        assert_eq!(m.len(), 6);
        assert_eq!(m[0].start_ns, 0);
        assert_eq!(m[1].start_ns, 5 * 60_000_000_000);
        assert_eq!(m.iter().map(|x| x.count).sum::<u64>(), 300);
        assert_eq!(
            m.iter().map(|x| x.errors).sum::<u64>(),
            c.iter().map(|x| x.errors).sum::<u64>()
        );
    }

    #[test]
    fn merge_factor_reaches_enough_requests_but_keeps_points() {
        let sparse: Vec<Counts> = (0..30).map(|i| minute(i, 10, 0)).collect();
        // 200 per point would need 20-minute buckets; 5 minutes keeps 6 points.
        assert_eq!(merge_factor(&frame(), &sparse), 5);
        let medium: Vec<Counts> = (0..30).map(|i| minute(i, 60, 0)).collect();
        assert_eq!(merge_factor(&frame(), &medium), 4);
        let dense: Vec<Counts> = (0..30).map(|i| minute(i, 500, 0)).collect();
        assert_eq!(merge_factor(&frame(), &dense), 1);
        let tiny: Vec<Counts> = (0..30).map(|i| minute(i, 1, 0)).collect();
        // Never fewer than MIN_POINTS points on a 30-minute axis.
        assert_eq!(merge_factor(&frame(), &tiny), 5);
    }
}
