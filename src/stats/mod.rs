//! Pure statistics for canary analysis (design §4): no Arrow, no I/O.
//!
//! Every function states its definition, its citation and the scipy/numpy function it is checked
//! against. The reference values live in `tests/reference/stats_reference.json`, written by
//! `tests/reference/generate_stats_reference.py`; see `docs/statistics.md` for the tolerances.
//!
//! Conventions shared by all two-sample functions: the first sample `x` is the baseline (stable),
//! the second sample `y` is the canary, and effects are reported as "canary minus baseline" (or
//! "canary over baseline" for ratios).

pub mod binned_rank_test;
pub mod distributions;
pub mod exact_sum;
pub mod exponential_histogram;
pub mod fisher;
pub mod histogram_quantile;
pub mod hodges_lehmann;
pub mod interval_inversion;
pub mod mann_whitney;
pub mod multiple_testing;
pub mod order_statistics;
pub mod power;
pub mod proportion;
pub mod quantile;
pub mod quantile_difference;
pub mod quantile_sequence;
pub mod sequential;
pub mod surprise;
pub mod uniform_boundary;

#[cfg(test)]
mod coverage_tests;
#[cfg(test)]
mod histogram_reference_tests;
#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod sequential_aa_tests;
#[cfg(test)]
mod sequential_tests;

use serde::{Deserialize, Serialize};

/// The alternative hypothesis of a test.
///
/// For the two-sample tests the direction always refers to the *second* sample (`y`, the canary):
/// `Greater` means "the canary is stochastically greater / has the larger rate than the
/// baseline". See each test for how this maps onto scipy's `alternative` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alternative {
    /// Two-sided: the samples differ in either direction.
    TwoSided,
    /// One-sided: the second sample (canary) is greater / has the larger rate.
    Greater,
    /// One-sided: the second sample (canary) is smaller / has the smaller rate.
    Less,
}

/// A confidence interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Interval {
    /// True when `value` lies in the closed interval.
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }
}

/// A point estimate with its confidence interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Point estimate.
    pub estimate: f64,
    /// Lower confidence bound.
    pub low: f64,
    /// Upper confidence bound.
    pub high: f64,
}

impl Estimate {
    /// The interval part of the estimate.
    pub fn interval(&self) -> Interval {
        Interval {
            low: self.low,
            high: self.high,
        }
    }
}

/// `z_{1-α/2}` for a two-sided interval of the given confidence, NaN when `confidence` is not in
/// (0, 1).
pub(crate) fn two_sided_z(confidence: f64) -> f64 {
    if !(confidence > 0.0 && confidence < 1.0) {
        return f64::NAN;
    }
    distributions::normal_ppf(1.0 - (1.0 - confidence) / 2.0)
}

#[cfg(test)]
mod edge_case_tests {
    //! Degenerate inputs must give the documented NaN/None/neutral results, never a panic.
    use super::*;

    const ALTERNATIVES: [Alternative; 3] = [
        Alternative::TwoSided,
        Alternative::Greater,
        Alternative::Less,
    ];

    #[test]
    fn empty_single_and_constant_samples() {
        let samples: [&[f64]; 6] = [
            &[],
            &[1.0],
            &[2.0, 2.0, 2.0],
            &[f64::NAN, 1.0],
            &[f64::INFINITY, 1.0],
            &[0.0, -0.0, 5.0],
        ];
        for x in samples {
            for y in samples {
                for alt in ALTERNATIVES {
                    let r = mann_whitney::mann_whitney_u(x, y, alt);
                    if x.is_empty() || y.is_empty() || x.iter().chain(y).any(|v| v.is_nan()) {
                        assert!(r.p_value.is_nan() && r.u.is_nan());
                    } else {
                        assert!((0.0..=1.0).contains(&r.p_value), "{x:?} {y:?} {r:?}");
                    }
                }
                let _ = hodges_lehmann::hodges_lehmann(x, y, 0.95);
                let mut xs = x.to_vec();
                let mut ys = y.to_vec();
                xs.sort_by(f64::total_cmp);
                ys.sort_by(f64::total_cmp);
                let _ = quantile_difference::quantile_ratio(&xs, &ys, 0.5, 0.95);
                let _ = quantile_difference::quantile_difference(&xs, &ys, 0.99, 0.95);
            }
            let _ = quantile::quantile_ci(x, 0.5, 0.95);
        }
        assert_eq!(hodges_lehmann::hodges_lehmann(&[], &[1.0], 0.95), None);
        assert!(quantile::quantile_type7(&[], 0.5).is_nan());
        let one = mann_whitney::mann_whitney_u(&[1.0], &[1.0], Alternative::TwoSided);
        assert_eq!(one.p_value, 1.0);
    }

    #[test]
    fn zero_events_and_zero_sizes() {
        for alt in ALTERNATIVES {
            assert_eq!(fisher::fisher_exact_counts(0, 0, 0, 0, alt).p_value, 1.0);
            assert_eq!(
                fisher::fisher_exact_counts(0, 500, 0, 700, alt).p_value,
                1.0
            );
            let clamped = fisher::fisher_exact_counts(9, 5, 3, 5, alt).p_value;
            assert!((0.0..=1.0).contains(&clamped));
        }
        let e = proportion::newcombe_difference(0.0, 0.0, 0.0, 0.0, 0.95);
        assert!(e.estimate.is_nan() && e.low == -1.0 && e.high == 1.0);
        let e = proportion::newcombe_difference(0.0, 10.0, 0.0, 10.0, 0.95);
        assert!(e.low.is_finite() && e.high.is_finite());
        assert_eq!(proportion::rate_ratio(0.0, 0.0, 1.0, 1.0, 0.95), None);
        let w = proportion::wilson_interval(5.0, 3.0, 0.95);
        assert_eq!(w.high, 1.0);
        assert!(multiple_testing::benjamini_hochberg(&[f64::NAN])[0].is_nan());
        assert!(power::mde_rate_difference(0.0, 0.0, 0.5, 0.05, 0.8).is_nan());
        assert!(power::mde_log_shift(10.0, 10.0, f64::NAN, 0.05, 0.8).is_nan());
    }
}
