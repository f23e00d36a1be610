//! What every cartesian chart of the report shares: the plot area inside a panel, the axes
//! (descriptions, tick labels, grid), the two sides' names and colours, and how a side's line
//! is drawn. One place, so the charts look alike and a side is named the same everywhere.

use super::{fmt_tick, text, CANARY, GRID, LABEL_SIZE, LIGHT_GRID, STABLE, TICK_SIZE};
use super::{DrawResult, LegendItem, Marker, Shift};
use crate::model::comparison::{Selector, Side};
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;

/// Longest side name drawn in a legend (characters); longer names are cut by
/// [`crate::report::escape::clean`].
pub const MAX_SIDE_LABEL_CHARS: usize = 40;

/// The names the charts give the two sides, taken from the selection (`--baseline`,
/// `--canary`): `stable` and `canary` when sides are tracks, the versions when sides are
/// versions. Cleaned telemetry strings; plotters escapes them in SVG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideLabels {
    /// Name of the baseline side.
    pub baseline: String,
    /// Name of the canary side.
    pub canary: String,
}

impl SideLabels {
    /// Labels of the two selectors ([`Selector::label`]), cleaned.
    pub fn of(baseline: &Selector, canary: &Selector) -> Self {
        let clean = |s: &Selector| crate::report::escape::clean(&s.label(), MAX_SIDE_LABEL_CHARS);
        SideLabels {
            baseline: clean(baseline),
            canary: clean(canary),
        }
    }

    /// The name of `side`.
    pub fn name(&self, side: Side) -> &str {
        match side {
            Side::Baseline => &self.baseline,
            Side::Canary => &self.canary,
        }
    }

    /// A legend item for `side` with its colour and marker: `suffix` follows the name
    /// (`" p99"`, `" 95% band"`); a band gets the shaded-box sample instead of the side's
    /// marker.
    pub fn legend(&self, side: Side, suffix: &str, dashed: bool, band: bool) -> LegendItem {
        LegendItem {
            label: format!("{}{suffix}", self.name(side)),
            color: side_color(side),
            dashed,
            marker: if band {
                Marker::Band
            } else {
                side_marker(side)
            },
        }
    }
}

impl Default for SideLabels {
    /// `stable` and `canary`, the track names canalyst selects by default.
    fn default() -> Self {
        SideLabels {
            baseline: "stable".into(),
            canary: "canary".into(),
        }
    }
}

/// The colour of a side: Okabe–Ito blue for the baseline, vermillion for the canary.
pub fn side_color(side: Side) -> RGBColor {
    match side {
        Side::Baseline => STABLE,
        Side::Canary => CANARY,
    }
}

/// The marker doubling a side's colour: none on baseline lines, dots on canary lines.
pub fn side_marker(side: Side) -> Marker {
    match side {
        Side::Baseline => Marker::None,
        Side::Canary => Marker::Dot,
    }
}

/// Margins of a plot inside its panel, pixels. The y label area and the left and bottom
/// margins are the same for every chart, so panels stacked in a report line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlotLayout {
    /// Right margin (room for the last tick label).
    pub margin_right: u32,
    /// Height of the x tick labels and axis description.
    pub x_label_area: u32,
}

/// The layout of the time-series charts.
pub const TIME_LAYOUT: PlotLayout = PlotLayout {
    margin_right: 24,
    x_label_area: 46,
};

/// Builds the cartesian plot of `area` over the ranges `x` and `y` (linear ranges or
/// `log_scale()` ones).
#[allow(clippy::type_complexity)]
pub fn plot<'a, DB, X, Y>(
    area: &'a DrawingArea<DB, Shift>,
    layout: PlotLayout,
    x: X,
    y: Y,
) -> Result<
    ChartContext<'a, DB, Cartesian2d<X::CoordDescType, Y::CoordDescType>>,
    DrawingAreaErrorKind<DB::ErrorType>,
>
where
    DB: DrawingBackend,
    X: AsRangedCoord,
    Y: AsRangedCoord,
{
    ChartBuilder::on(area)
        .margin_left(8)
        .margin_right(layout.margin_right)
        .margin_bottom(6)
        .x_label_area_size(layout.x_label_area)
        .y_label_area_size(64)
        .build_cartesian_2d(x, y)
}

/// Axis descriptions and how many tick labels to aim for (`None`: plotters' default, which a
/// logarithmic axis with key points ignores anyway).
#[derive(Debug, Clone, PartialEq)]
pub struct Axes {
    /// Description under the x axis.
    pub x_desc: String,
    /// Description beside the y axis.
    pub y_desc: String,
    /// Tick labels on the x axis.
    pub x_labels: Option<usize>,
    /// Tick labels on the y axis.
    pub y_labels: Option<usize>,
}

/// Draws the axes, tick labels ([`fmt_tick`]) and the grid at labelled ticks.
pub fn draw_axes<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    axes: &Axes,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(axes.x_desc.as_str())
        .y_desc(axes.y_desc.as_str())
        .axis_desc_style(text(LABEL_SIZE))
        .label_style(text(TICK_SIZE));
    if let Some(n) = axes.x_labels {
        mesh.x_labels(n);
    }
    if let Some(n) = axes.y_labels {
        mesh.y_labels(n);
    }
    mesh.x_label_formatter(&|v| fmt_tick(*v))
        .y_label_formatter(&|v| fmt_tick(*v))
        .light_line_style(LIGHT_GRID)
        .bold_line_style(GRID)
        .draw()?;
    Ok(())
}

/// How one series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineStyle {
    /// Colour.
    pub color: RGBColor,
    /// Stroke width, pixels.
    pub width: u32,
    /// Dash and gap lengths, pixels; `None` for a solid line.
    pub dash: Option<(u32, u32)>,
    /// Dots (radius 3) at the points, doubling the colour distinction.
    pub dots: bool,
}

impl LineStyle {
    /// A side's line: solid 3-pixel, with dots on the canary's ([`side_marker`]).
    pub fn side(side: Side) -> Self {
        LineStyle {
            color: side_color(side),
            width: 3,
            dash: None,
            dots: side_marker(side) == Marker::Dot,
        }
    }

    /// The same line dashed `dash` on, `gap` off, `width` pixels wide.
    pub fn dashed(self, dash: u32, gap: u32, width: u32) -> Self {
        LineStyle {
            dash: Some((dash, gap)),
            width,
            ..self
        }
    }
}

/// Draws `pts` as one line in `style`.
pub fn draw_line<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    pts: &[(f64, f64)],
    style: LineStyle,
) -> DrawResult
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let stroke = style.color.stroke_width(style.width);
    match style.dash {
        Some((dash, gap)) => {
            chart.draw_series(DashedLineSeries::new(pts.to_vec(), dash, gap, stroke))?;
        }
        None => {
            chart.draw_series(LineSeries::new(pts.to_vec(), stroke))?;
        }
    }
    if style.dots {
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 3, style.color.filled())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(track: Option<&str>, version: Option<&str>) -> Selector {
        Selector {
            track: track.map(String::from),
            version: version.map(String::from),
        }
    }

    #[test]
    fn labels_come_from_the_selection() {
        let tracks = SideLabels::of(&sel(Some("stable"), None), &sel(Some("canary"), None));
        assert_eq!(tracks, SideLabels::default());
        let versions = SideLabels::of(&sel(None, Some("1.4.2")), &sel(None, Some("1.5.0-rc1")));
        assert_eq!(versions.name(Side::Baseline), "1.4.2");
        assert_eq!(versions.name(Side::Canary), "1.5.0-rc1");
        let both = SideLabels::of(&sel(Some("blue"), Some("7")), &sel(None, None));
        assert_eq!(
            (both.baseline.as_str(), both.canary.as_str()),
            ("blue 7", "all")
        );
        let item = versions.legend(Side::Canary, " p99", false, false);
        assert_eq!(item.label, "1.5.0-rc1 p99");
        assert_eq!(item.marker, Marker::Dot);
    }

    #[test]
    fn long_or_hostile_labels_are_cleaned() {
        let long = "v".repeat(500);
        let l = SideLabels::of(&sel(None, Some(&long)), &sel(None, Some("a\u{202e}\nb")));
        assert!(l.baseline.chars().count() <= MAX_SIDE_LABEL_CHARS);
        assert!(!l.canary.contains('\n') && !l.canary.contains('\u{202e}'));
    }
}
