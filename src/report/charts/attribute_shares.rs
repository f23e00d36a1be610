//! Attribute shares: for the top attribute values of the attribute diff, the share of the
//! selection carrying each (canary colour, solid) beside the share of the baseline (stable
//! colour, hatched by a lighter fill), one row per value, best-ranked first; the pairs that
//! explain more follow as rows of their own (`key=value & key=value`).
//!
//! How to read a row: the longer the upper bar against the lower one, the more the value is
//! concentrated in the selection. Values come straight from `forensics.json`.

use super::*;
use crate::forensics::attributes::AttributeDiff;
use crate::report::escape;

/// Most rows drawn.
pub const MAX_ROWS: usize = 10;
/// Height of one row in pixels (two bars).
const ROW_HEIGHT: u32 = 40;
/// Width of the label column.
const LABEL_WIDTH: u32 = 360;
/// Width of the bar area.
const BAR_WIDTH: u32 = 420;
/// Space above the rows (title, legend) and below (scale).
const TOP: u32 = 64;
const BOTTOM: u32 = 36;

/// One row: a label and the two shares (0–1).
#[derive(Debug, Clone, PartialEq)]
pub struct ShareRow {
    /// `key=value` (cleaned).
    pub label: String,
    /// Share of the selection.
    pub selection: f64,
    /// Share of the baseline.
    pub baseline: f64,
}

/// The chart.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeShares {
    /// Rows, top first.
    pub rows: Vec<ShareRow>,
    /// What the selection is (`errors`, `slow`, a condition).
    pub selection: String,
    /// What the baseline is (`rest`, `stable`).
    pub baseline: String,
}

impl AttributeShares {
    /// The values that score above zero (at most [`MAX_ROWS`], ranked), then the pairs that
    /// explain more; `None` when there is none.
    pub fn of(d: &AttributeDiff) -> Option<Self> {
        let mut rows: Vec<ShareRow> = d
            .values
            .iter()
            .filter(|v| v.score > 0.0)
            .map(|v| ShareRow {
                label: escape::clean(&format!("{}={}", v.key, v.value), 48),
                selection: v.selection_share,
                baseline: v.baseline_share,
            })
            .collect();
        rows.extend(
            d.pairs
                .iter()
                .filter(|p| p.explains_more)
                .map(|p| ShareRow {
                    label: escape::clean(
                        &format!(
                            "{}={} & {}={}",
                            p.values[0].key, p.values[0].value, p.values[1].key, p.values[1].value
                        ),
                        48,
                    ),
                    selection: p.selection_share,
                    baseline: p.baseline_share,
                }),
        );
        rows.truncate(MAX_ROWS);
        (!rows.is_empty()).then(|| Self {
            rows,
            selection: escape::clean(&d.selection, 40),
            baseline: d.baseline.to_string(),
        })
    }
}

impl Chart for AttributeShares {
    fn name(&self) -> String {
        "attribute_shares".into()
    }

    fn size(&self) -> (u32, u32) {
        (
            LABEL_WIDTH + BAR_WIDTH + 40,
            TOP + BOTTOM + ROW_HEIGHT * self.rows.len() as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let x0 = LABEL_WIDTH as i32;
        let w = BAR_WIDTH as f64;
        root.draw(&Text::new(
            "Share of requests with the attribute value".to_string(),
            (12, 8),
            text(TITLE_SIZE),
        ))?;
        let legend = [
            (CANARY, format!("selection ({})", self.selection)),
            (STABLE, format!("baseline ({})", self.baseline)),
        ];
        let mut lx = 12;
        for (color, label) in legend {
            root.draw(&Rectangle::new([(lx, 38), (lx + 14, 50)], color.filled()))?;
            root.draw(&Text::new(label.clone(), (lx + 20, 36), text(TICK_SIZE)))?;
            lx += 30 + 9 * label.chars().count() as i32;
        }
        let bar = |share: f64| x0 + (w * share.clamp(0.0, 1.0)).round() as i32;
        for (i, r) in self.rows.iter().enumerate() {
            let y = (TOP + ROW_HEIGHT * i as u32) as i32;
            root.draw(&Text::new(
                r.label.clone(),
                (x0 - 8, y + 12),
                text(TICK_SIZE).pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
            root.draw(&Rectangle::new(
                [(x0, y + 2), (bar(r.selection), y + 17)],
                CANARY.filled(),
            ))?;
            root.draw(&Rectangle::new(
                [(x0, y + 19), (bar(r.baseline), y + 34)],
                STABLE.filled(),
            ))?;
            for (share, yy) in [(r.selection, y + 10), (r.baseline, y + 27)] {
                root.draw(&Text::new(
                    format!("{:.1}%", 100.0 * share),
                    (bar(share) + 4, yy),
                    text(TICK_SIZE).pos(Pos::new(HPos::Left, VPos::Center)),
                ))?;
            }
        }
        let yb = (TOP + ROW_HEIGHT * self.rows.len() as u32) as i32 + 4;
        root.draw(&PathElement::new(
            vec![(x0, yb), (x0 + BAR_WIDTH as i32, yb)],
            INK,
        ))?;
        for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let x = bar(t);
            root.draw(&PathElement::new(vec![(x, yb), (x, yb + 5)], INK))?;
            root.draw(&Text::new(
                format!("{:.0}%", 100.0 * t),
                (x, yb + 8),
                text(TICK_SIZE).pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_row_per_value_with_escaped_labels() {
        let chart = AttributeShares {
            rows: vec![
                ShareRow {
                    label: "app.region=ap-south".into(),
                    selection: 0.63,
                    baseline: 0.3,
                },
                ShareRow {
                    label: "k=<v>".into(),
                    selection: 0.2,
                    baseline: 0.1,
                },
            ],
            selection: "errors".into(),
            baseline: "rest".into(),
        };
        let r = render(&chart).unwrap();
        assert_eq!(r.height, TOP + BOTTOM + 2 * ROW_HEIGHT);
        assert!(r.svg.contains("app.region=ap-south"), "{}", r.svg);
        assert!(r.svg.contains("63.0%") && r.svg.contains("30.0%"));
        assert!(r.svg.contains("k=&lt;v&gt;") && !r.svg.contains("<v>"));
        assert!(r.png.starts_with(&[0x89, b'P', b'N', b'G']));
    }
}
