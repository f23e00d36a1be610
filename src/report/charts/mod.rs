//! Charts of a canary report, each rendered twice from the same drawing code: as SVG (inlined
//! in the HTML report) and as PNG (linked from the Markdown report).
//!
//! Text is drawn with DejaVu Sans from the `dejavu` crate, registered with plotters'
//! `ab_glyph` text backend, so rendering needs no system font library and gives the same
//! pixels on every machine. Colours are from the Okabe–Ito palette (Okabe & Ito 2008, "Color
//! Universal Design"), distinguishable with the common colour-vision deficiencies; every
//! colour distinction is doubled by line dash or marker shape.

pub mod attribute_shares;
pub mod backtest_timeline;
pub mod error_rate_timeseries;
pub mod forest;
pub mod latency_ecdf;
pub mod metric_series;
pub mod plot;
pub mod quantile_timeseries;
pub mod traffic_split;
pub mod tune_pareto;

use super::ReportError;
pub use plot::{
    draw_axes, draw_line, plot, side_color, side_marker, Axes, LineStyle, PlotLayout, SideLabels,
    TIME_LAYOUT,
};
pub use plotters::coord::Shift;
use plotters::prelude::*;
pub use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::Once;

/// Font family name the charts use; registered with the bundled DejaVu Sans, and written into
/// SVG `font-family` where a browser falls back to its own sans-serif.
pub const FONT: &str = "sans-serif";

/// Stable (baseline) track: Okabe–Ito blue.
pub const STABLE: RGBColor = RGBColor(0x00, 0x72, 0xB2);
/// Canary track: Okabe–Ito vermillion.
pub const CANARY: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
/// Failing comparison: Okabe–Ito vermillion.
pub const FAIL: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
/// Passing comparison: Okabe–Ito bluish green.
pub const PASS: RGBColor = RGBColor(0x00, 0x9E, 0x73);
/// Inconclusive comparison: neutral grey.
pub const INCONCLUSIVE: RGBColor = RGBColor(0x80, 0x80, 0x80);
/// Text and axes.
pub const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);

/// Title font size (pixels).
pub const TITLE_SIZE: u32 = 20;
/// Axis-description and legend font size.
pub const LABEL_SIZE: u32 = 17;
/// Tick-label font size.
pub const TICK_SIZE: u32 = 15;

/// Result of drawing code; the boxed error is the backend's drawing error.
pub type DrawResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A chart that can draw itself on any plotters backend.
pub trait Chart {
    /// Stable name, used for the file name (`charts/<name>.svg`) and the HTML id.
    fn name(&self) -> String;
    /// Size in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws the chart on `root`, which is already filled white.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// One chart rendered in both formats.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// [`Chart::name`].
    pub name: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The SVG document.
    pub svg: String,
    /// The PNG file.
    pub png: Vec<u8>,
}

static FONTS: Once = Once::new();

/// Registers the bundled DejaVu Sans with plotters (once per process).
pub fn register_fonts() {
    FONTS.call_once(|| {
        // The bundled TTFs are valid fonts; a failure here would be a broken build of `dejavu`,
        // which the chart tests catch as missing text.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Renders `chart` as SVG and PNG.
pub fn render<C: Chart>(chart: &C) -> Result<Rendered, ReportError> {
    register_fonts();
    let name = chart.name();
    let (w, h) = chart.size();
    let err = |e: Box<dyn std::error::Error + Send + Sync>| ReportError::Chart {
        chart: name.clone(),
        message: e.to_string(),
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(Box::new(e)))?;
        chart.draw(&root).map_err(err)?;
        root.present().map_err(|e| err(Box::new(e)))?;
    }
    let mut pixels = vec![255u8; (w as usize) * (h as usize) * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(Box::new(e)))?;
        chart.draw(&root).map_err(err)?;
        root.present().map_err(|e| err(Box::new(e)))?;
    }
    let mut png = Vec::new();
    {
        use image::ImageEncoder;
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(&pixels, w, h, image::ColorType::Rgb8)
            .map_err(|e| err(Box::new(e)))?;
    }
    Ok(Rendered {
        name,
        width: w,
        height: h,
        svg,
        png,
    })
}

/// Text style of the given size in the chart font and ink colour.
pub fn text(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&INK)
}

/// Tick label for a positive or signed number: at most three significant digits, no
/// exponent for the magnitudes a latency or rate chart shows.
pub fn fmt_tick(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let a = v.abs();
    let s = if a == 0.0 {
        "0".to_string()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.1e}")
    };
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A bucket width in words (`1 min`, `30 s`).
pub fn fmt_bucket(ns: i64) -> String {
    let s = ns as f64 / 1e9;
    if s >= 60.0 && (s / 60.0).fract() == 0.0 {
        format!("{} min", s / 60.0)
    } else {
        format!("{} s", fmt_tick(s))
    }
}

/// Minutes from `origin_ns` to `ns` (the time axis of the time-series charts).
pub fn minutes(ns: i64, origin_ns: i64) -> f64 {
    (ns as f64 - origin_ns as f64) / 60e9
}

/// A range `[lo, hi]` padded by `frac` of its width on both sides; a degenerate range is
/// widened to width 1 so the axis can be drawn.
pub fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi <= lo {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = (hi - lo) * frac;
    (lo - pad, hi + pad)
}

/// Confidence level of the per-bucket error-rate bands.
pub const BAND_CONFIDENCE: f64 = 0.95;

/// The plotting band of a per-bucket error rate `k/n`: the Wilson score interval at
/// [`BAND_CONFIDENCE`] from [`crate::stats::proportion::wilson_interval`] (Wilson 1927), as
/// fractions; `None` for an empty bucket. Only a plotting aid: the judged error-rate intervals
/// come from the analysis.
pub fn wilson(k: f64, n: f64) -> Option<(f64, f64)> {
    if !(n > 0.0 && n.is_finite() && k.is_finite()) {
        return None;
    }
    let i = crate::stats::proportion::wilson_interval(k, n, BAND_CONFIDENCE);
    Some((i.low, i.high))
}

/// A legend item drawn in a chart's legend strip.
pub struct LegendItem {
    /// Label (not telemetry; fixed text).
    pub label: String,
    /// Colour.
    pub color: RGBColor,
    /// Line dash (dashed) or solid.
    pub dashed: bool,
    /// A marker drawn on the line sample.
    pub marker: Marker,
}

/// Marker shapes of legend items and points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// No marker: a line sample.
    None,
    /// Filled circle.
    Dot,
    /// Hollow circle.
    Ring,
    /// Filled triangle.
    Triangle,
    /// A filled light box (a shaded band).
    Band,
}

/// Draws a one-line legend of `items` centred horizontally in `area`.
pub fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[LegendItem],
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (w, h) = area.dim_in_pixel();
    let style = text(LABEL_SIZE);
    let sample = 34i32;
    let gap = 26i32;
    let widths: Vec<i32> = items
        .iter()
        .map(|it| {
            let (tw, _) = area
                .estimate_text_size(&it.label, &style)
                .unwrap_or((8 * it.label.len() as u32, 16));
            sample + 8 + tw as i32
        })
        .collect();
    let total: i32 = widths.iter().sum::<i32>() + gap * (items.len() as i32 - 1).max(0);
    let mut x = ((w as i32 - total) / 2).max(4);
    let y = h as i32 / 2;
    for (it, width) in items.iter().zip(widths) {
        let line = ShapeStyle::from(&it.color).stroke_width(3);
        match it.marker {
            Marker::Band => {
                area.draw(&Rectangle::new(
                    [(x, y - 7), (x + sample, y + 7)],
                    it.color.mix(0.25).filled(),
                ))?;
            }
            _ if it.dashed => {
                for k in 0..3 {
                    let x0 = x + k * 12;
                    area.draw(&PathElement::new(vec![(x0, y), (x0 + 8, y)], line))?;
                }
            }
            _ => {
                area.draw(&PathElement::new(vec![(x, y), (x + sample, y)], line))?;
            }
        }
        let c = (x + sample / 2, y);
        match it.marker {
            Marker::Dot => area.draw(&Circle::new(c, 5, it.color.filled()))?,
            Marker::Ring => area.draw(&Circle::new(c, 5, it.color.stroke_width(2)))?,
            Marker::Triangle => area.draw(&TriangleMarker::new(c, 7, it.color.filled()))?,
            Marker::None | Marker::Band => {}
        }
        area.draw(&Text::new(
            it.label.clone(),
            (x + sample + 8, y),
            style.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        x += width + gap;
    }
    Ok(())
}

/// Draws `message` centred in `area` (for a panel with nothing to plot).
pub fn draw_message<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, message: &str) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        message.to_string(),
        (w as i32 / 2, h as i32 / 2),
        text(LABEL_SIZE).pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_is_the_stats_wilson_interval() {
        // Wilson's closed form evaluated independently in Python: (0.0215437, 0.1117505).
        let (lo, hi) = wilson(5.0, 100.0).unwrap();
        assert!((lo - 0.0215437).abs() < 1e-6, "{lo}");
        assert!((hi - 0.1117505).abs() < 1e-6, "{hi}");
        assert!(wilson(0.0, 0.0).is_none());
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(fmt_tick(1000.0), "1000");
        assert_eq!(fmt_tick(12.5), "12.5");
        assert_eq!(fmt_tick(2.0), "2");
        assert_eq!(fmt_tick(0.25), "0.25");
        assert_eq!(fmt_tick(0.0), "0");
        assert_eq!(fmt_tick(-1.5), "-1.5");
    }
}

/// The time axis shared by the time-series charts: minutes since `origin_ns`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeFrame {
    /// Time 0 of the axis (the window start, or the first bucket if earlier).
    pub origin_ns: i64,
    /// End of the axis.
    pub end_ns: i64,
    /// Bucket width; points are drawn at bucket midpoints.
    pub bucket_ns: i64,
    /// First canary span, when it falls on the axis.
    pub canary_start_ns: Option<i64>,
}

impl TimeFrame {
    /// The frame covering the window and every bucket of `input`.
    pub fn of(input: &crate::model::comparison::ComparisonInput) -> Self {
        let bucket_ns = input.bucket_ns.max(1);
        let mut origin = input.window.start_unix_nano;
        let mut end = input.window.end_unix_nano;
        for g in &input.groups {
            for b in g.baseline_series.iter().chain(&g.canary_series) {
                origin = origin.min(b.start_unix_nano);
                end = end.max(b.start_unix_nano.saturating_add(bucket_ns));
            }
        }
        if end <= origin {
            end = origin.saturating_add(bucket_ns);
        }
        let canary_start_ns = input
            .canary_first_seen_unix_nano
            .filter(|t| *t >= origin && *t <= end);
        TimeFrame {
            origin_ns: origin,
            end_ns: end,
            bucket_ns,
            canary_start_ns,
        }
    }

    /// X of a bucket: its midpoint, minutes since the origin.
    pub fn bucket_x(&self, start_ns: i64) -> f64 {
        minutes(start_ns.saturating_add(self.bucket_ns / 2), self.origin_ns)
    }

    /// The x range of the axis, minutes.
    pub fn x_range(&self) -> (f64, f64) {
        (0.0, minutes(self.end_ns, self.origin_ns))
    }

    /// Axis description.
    pub fn x_desc(&self) -> String {
        "minutes since window start".to_string()
    }
}

/// Draws the "canary start" marker (a dashed vertical line with a label) on a chart whose x
/// axis is [`TimeFrame`] minutes and whose y range is `y`.
pub fn draw_canary_start<DB, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    frame: &TimeFrame,
    y: (Y::ValueType, Y::ValueType),
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    Y: plotters::coord::ranged1d::Ranged,
    Y::ValueType: Clone + 'static,
{
    if let Some(t) = frame.canary_start_ns {
        let x = minutes(t, frame.origin_ns);
        chart.draw_series(DashedLineSeries::new(
            vec![(x, y.0.clone()), (x, y.1.clone())],
            6,
            4,
            INK.stroke_width(2),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            " canary start".to_string(),
            (x, y.1),
            text(TICK_SIZE).pos(Pos::new(HPos::Left, VPos::Top)),
        )))?;
    }
    Ok(())
}

/// Splits `area` into `n` panels in `cols` columns (row-major), returning the first `n`.
pub fn panels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    n: usize,
    cols: usize,
) -> Vec<DrawingArea<DB, Shift>> {
    let cols = cols.max(1);
    let rows = n.div_ceil(cols).max(1);
    let mut v = area.split_evenly((rows, cols));
    v.truncate(n);
    v
}

/// Draws a bold panel title at the top left of `area` and returns the area below it.
pub fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, Box<dyn std::error::Error + Send + Sync>>
where
    DB::ErrorType: 'static,
{
    let (head, body) = area.split_vertically(32);
    head.draw(&Text::new(
        title.to_string(),
        (12, 18),
        (FONT, LABEL_SIZE + 1)
            .into_font()
            .style(FontStyle::Bold)
            .color(&INK)
            .pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    Ok(body)
}

/// Counts of one time bucket (summed over groups when aggregated).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Counts {
    /// Bucket start, ns.
    pub start_ns: i64,
    /// Recorded spans.
    pub count: u64,
    /// Recorded error spans.
    pub errors: u64,
    /// Weighted requests.
    pub weighted_count: f64,
    /// Weighted errors.
    pub weighted_errors: f64,
}

impl Counts {
    /// Zero counts of the bucket starting at `start_ns`.
    pub fn at(start_ns: i64) -> Self {
        Counts {
            start_ns,
            ..Counts::default()
        }
    }

    /// Adds `other`'s counts to these (the bucket start stays).
    pub fn add(&mut self, other: &Counts) {
        self.count += other.count;
        self.errors += other.errors;
        self.weighted_count += other.weighted_count;
        self.weighted_errors += other.weighted_errors;
    }
}

/// Counts per bucket start of `series`, summed over all given series, in time order. Sums of
/// counts are plain additions of the engine's counts, not a re-estimate.
pub fn sum_buckets<'a>(
    series: impl IntoIterator<Item = &'a [crate::model::comparison::TimeBucket]>,
) -> Vec<Counts> {
    let mut m: std::collections::BTreeMap<i64, Counts> = std::collections::BTreeMap::new();
    for s in series {
        for b in s {
            m.entry(b.start_unix_nano)
                .or_insert(Counts::at(b.start_unix_nano))
                .add(&Counts {
                    start_ns: b.start_unix_nano,
                    count: b.count,
                    errors: b.errors,
                    weighted_count: b.weighted_count,
                    weighted_errors: b.weighted_errors,
                });
        }
    }
    m.into_values().collect()
}

/// Tick values for a logarithmic axis over `[lo, hi]`: the 1–2–5 sequence per decade when
/// that gives at least five ticks, else the denser 1–1.5–2–3–5–7 sequence (then 1–1.2–…–9),
/// so a narrow log axis still gets enough labelled ticks to read values off.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let pick = |mantissas: &[f64]| -> Vec<f64> {
        let mut v = Vec::new();
        let mut e = lo.log10().floor() as i32;
        while 10f64.powi(e) <= hi {
            for m in mantissas {
                let t = m * 10f64.powi(e);
                if t >= lo && t <= hi {
                    v.push(t);
                }
            }
            e += 1;
        }
        v
    };
    let coarse = pick(&[1.0, 2.0, 5.0]);
    if coarse.len() >= 5 {
        return coarse;
    }
    let fine = pick(&[1.0, 1.5, 2.0, 3.0, 5.0, 7.0]);
    if fine.len() >= 3 {
        return if fine.len() <= 12 { fine } else { coarse };
    }
    pick(&[1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
}

/// Light grid lines: none (the bold grid at the labelled ticks is enough and keeps the
/// charts quiet).
pub const LIGHT_GRID: RGBAColor = RGBAColor(0, 0, 0, 0.0);
/// Grid lines at labelled ticks.
pub const GRID: RGBColor = RGBColor(0xE2, 0xE2, 0xE2);

#[cfg(test)]
mod tick_tests {
    use super::*;

    #[test]
    fn log_ticks_cover_narrow_and_wide_ranges() {
        assert_eq!(
            log_ticks(8.0, 1200.0),
            vec![10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]
        );
        let narrow = log_ticks(30.0, 250.0);
        assert!(narrow.len() >= 3, "{narrow:?}");
        assert!(narrow.iter().all(|t| (30.0..=250.0).contains(t)));
        assert!(log_ticks(0.0, 1.0).is_empty());
    }
}
