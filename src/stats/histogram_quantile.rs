//! Quantiles of explicit-bucket histograms, compatible with Prometheus `histogram_quantile`.
//!
//! OTLP explicit-bucket histograms carry `bounds` (`n` strictly increasing upper bounds) and
//! `bucket_counts` (`n + 1` non-cumulative counts, the last bucket being `(bounds[n−1], +∞)`).
//! Bucket `i` holds the values in `(bounds[i−1], bounds[i]]` (OTLP data model, "Histogram:
//! Bucket inclusivity"). Prometheus classic histograms carry the same information as cumulative
//! counts per upper bound `le`, ending with `le="+Inf"`; [`ExplicitHistogram::quantile`]
//! converts and then applies [`bucket_quantile`], a transcription of Prometheus'
//! `promql/quantile.go` `BucketQuantile`.
//!
//! Counts are `f64`: OTLP counts are `u64`, but sums of deltas and merged histograms are summed
//! in floating point. Integer counts up to 2^53 are represented exactly and summed exactly while
//! the running total stays below 2^53; beyond that each addition rounds to the nearest `f64`
//! (relative error ≤ 2^-53 per addition), which is far below the resolution of any bucket.

use thiserror::Error;

/// Relative difference between successive cumulative bucket counts that Prometheus treats as a
/// floating point artefact and silently removes (`smallDeltaTolerance` in `promql/quantile.go`).
pub const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// Invalid histogram input.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum HistogramError {
    /// `bucket_counts` must have exactly one more entry than `bounds`.
    #[error("histogram has {bounds} bounds but {counts} bucket counts (expected {})", bounds + 1)]
    LengthMismatch {
        /// Number of bounds.
        bounds: usize,
        /// Number of bucket counts.
        counts: usize,
    },
    /// Bounds must be finite and strictly increasing.
    #[error(
        "histogram bound {index} ({value}) is not finite or not greater than the previous bound"
    )]
    InvalidBound {
        /// Position of the offending bound.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// Counts must be finite and non-negative.
    #[error("histogram bucket count {index} ({value}) is negative or not finite")]
    InvalidCount {
        /// Position of the offending count.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// Histograms can only be merged bucket by bucket when their bounds are identical.
    #[error("histogram {index} has different bucket bounds from histogram 0; cannot merge")]
    BoundsMismatch {
        /// Position (in the input list) of the first histogram whose bounds differ.
        index: usize,
    },
    /// Nothing to merge.
    #[error("no histograms to merge")]
    Empty,
}

/// One bucket in Prometheus' classic layout: an upper bound `le` and the *cumulative* count of
/// observations `≤ le` (Prometheus' `promql.Bucket`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CumulativeBucket {
    /// Upper bound (`le`); the highest bucket must be `+∞`.
    pub upper_bound: f64,
    /// Cumulative count of observations `≤ upper_bound`.
    pub count: f64,
}

/// Result of [`bucket_quantile`], with Prometheus' two diagnostic flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketQuantile {
    /// The interpolated quantile (or one of the special values documented on
    /// [`bucket_quantile`]).
    pub value: f64,
    /// Some cumulative count decreased and was raised to the running maximum (Prometheus
    /// annotation "input to histogram_quantile needed to be fixed for monotonicity").
    pub forced_monotonic: bool,
    /// Some relative difference below [`SMALL_DELTA_TOLERANCE`] was removed.
    pub fixed_precision: bool,
}

/// `almost.Equal` from Prometheus `util/almost`: `|a − b| / (|a| + |b|) < ε`, with an absolute
/// comparison against the smallest normal number when either value is zero or subnormal.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Go's `sort.Search(n, f)`: the smallest `i` in `0..n` with `f(i)` true (`n` if none), probing
/// in Go's order so that even a non-monotone predicate (NaN counts) gives Go's answer.
fn go_search(n: usize, f: impl Fn(usize) -> bool) -> usize {
    let (mut i, mut j) = (0, n);
    while i < j {
        let h = (i + j) / 2;
        if !f(h) {
            i = h + 1;
        } else {
            j = h;
        }
    }
    i
}

/// Quantile `q` of a classic (cumulative) histogram, exactly as Prometheus'
/// `histogram_quantile` for classic histograms (`BucketQuantile` in `promql/quantile.go`,
/// Prometheus 3.x):
///
/// 1. `q` NaN → NaN; `q < 0` → −∞; `q > 1` → +∞.
/// 2. Buckets are sorted by upper bound; the highest must be `+∞`, else NaN.
/// 3. Buckets with equal upper bounds are coalesced (counts added).
/// 4. Successive cumulative counts that are `almost.Equal` within [`SMALL_DELTA_TOLERANCE`] are
///    made equal (float artefacts, either direction); any remaining decrease is raised to the
///    previous count (monotonic envelope).
/// 5. Fewer than 2 buckets, or a total (the `+∞` count) of 0 → NaN.
/// 6. `rank = q·total`; `b` = first bucket (among all but `+∞`) with cumulative count `≥ rank`.
///    If `b` is the `+∞` bucket, the highest finite upper bound is returned. If `b` is the lowest
///    bucket and its upper bound is `≤ 0`, that bound is returned. Otherwise linear
///    interpolation: `start + (end − start)·(rank − C_{b−1})/(C_b − C_{b−1})` with
///    `start` = the previous upper bound, or 0 for the lowest bucket (the "natural lower bound").
///
/// Reference: Prometheus, `promql/quantile.go`, functions `BucketQuantile`, `coalesceBuckets`
/// and `ensureMonotonicAndIgnoreSmallDeltas`; documentation of `histogram_quantile()`
/// (<https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile>).
/// The buckets are sorted and fixed up in place.
pub fn bucket_quantile(q: f64, buckets: &mut Vec<CumulativeBucket>) -> BucketQuantile {
    let plain = |value| BucketQuantile {
        value,
        forced_monotonic: false,
        fixed_precision: false,
    };
    if q.is_nan() {
        return plain(f64::NAN);
    }
    if q < 0.0 {
        return plain(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return plain(f64::INFINITY);
    }
    if buckets.is_empty() {
        // Prometheus never calls BucketQuantile without buckets.
        return plain(f64::NAN);
    }
    // NaN bounds compare as equal, as Go's comparator does.
    buckets.sort_by(|a, b| {
        a.upper_bound
            .partial_cmp(&b.upper_bound)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    if buckets[buckets.len() - 1].upper_bound != f64::INFINITY {
        return plain(f64::NAN);
    }
    // coalesceBuckets.
    let mut write = 0;
    for read in 1..buckets.len() {
        if buckets[read].upper_bound == buckets[write].upper_bound {
            buckets[write].count += buckets[read].count;
        } else {
            write += 1;
            buckets[write] = buckets[read];
        }
    }
    buckets.truncate(write + 1);
    // ensureMonotonicAndIgnoreSmallDeltas.
    let mut forced_monotonic = false;
    let mut fixed_precision = false;
    let mut prev = buckets[0].count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            fixed_precision = true;
            continue;
        }
        if curr < prev {
            b.count = prev;
            forced_monotonic = true;
            continue;
        }
        prev = curr;
    }
    if buckets.len() < 2 {
        return plain(f64::NAN);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return plain(f64::NAN);
    }
    let flagged = |value| BucketQuantile {
        value,
        forced_monotonic,
        fixed_precision,
    };
    let mut rank = q * observations;
    // sort.Search over all but the +Inf bucket: first index with count >= rank, else len−1.
    let searched = buckets.len() - 1;
    let b = go_search(searched, |i| buckets[i].count >= rank);
    if b == searched {
        return flagged(buckets[buckets.len() - 2].upper_bound);
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        return flagged(buckets[0].upper_bound);
    }
    let mut bucket_start = 0.0;
    let bucket_end = buckets[b].upper_bound;
    let mut count = buckets[b].count;
    if b > 0 {
        bucket_start = buckets[b - 1].upper_bound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    flagged(bucket_start + (bucket_end - bucket_start) * (rank / count))
}

/// An OTLP explicit-bucket histogram: `bounds` (`n` strictly increasing finite upper bounds) and
/// `bucket_counts` (`n + 1` non-negative, non-cumulative counts; bucket `i` is
/// `(bounds[i−1], bounds[i]]`, the last one `(bounds[n−1], +∞)`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExplicitHistogram {
    bounds: Vec<f64>,
    bucket_counts: Vec<f64>,
}

impl ExplicitHistogram {
    /// Validates and wraps an OTLP explicit-bucket histogram (see the type's documentation).
    pub fn new(bounds: Vec<f64>, bucket_counts: Vec<f64>) -> Result<Self, HistogramError> {
        if bucket_counts.len() != bounds.len() + 1 {
            return Err(HistogramError::LengthMismatch {
                bounds: bounds.len(),
                counts: bucket_counts.len(),
            });
        }
        for (i, &b) in bounds.iter().enumerate() {
            if !b.is_finite() || (i > 0 && b <= bounds[i - 1]) {
                return Err(HistogramError::InvalidBound { index: i, value: b });
            }
        }
        for (i, &c) in bucket_counts.iter().enumerate() {
            if !(c.is_finite() && c >= 0.0) {
                return Err(HistogramError::InvalidCount { index: i, value: c });
            }
        }
        Ok(Self {
            bounds,
            bucket_counts,
        })
    }

    /// The upper bounds.
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// The non-cumulative bucket counts (`bounds().len() + 1` of them).
    pub fn bucket_counts(&self) -> &[f64] {
        &self.bucket_counts
    }

    /// Total count `Σ bucket_counts` (summed in bucket order).
    pub fn total(&self) -> f64 {
        self.bucket_counts.iter().sum()
    }

    /// Prometheus' classic layout: cumulative counts per upper bound, the last bound `+∞`
    /// carrying the total. Cumulative sums are formed left to right.
    pub fn cumulative_buckets(&self) -> Vec<CumulativeBucket> {
        let mut running = 0.0;
        self.bucket_counts
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                running += c;
                CumulativeBucket {
                    upper_bound: self.bounds.get(i).copied().unwrap_or(f64::INFINITY),
                    count: running,
                }
            })
            .collect()
    }

    /// Quantile `q` as Prometheus `histogram_quantile(q, …)` would compute it on the same
    /// buckets exported as a classic histogram: [`bucket_quantile`] on
    /// [`ExplicitHistogram::cumulative_buckets`]. NaN for an empty histogram or one without
    /// finite bounds; the highest finite bound when the quantile falls in the `+∞` bucket.
    pub fn quantile(&self, q: f64) -> f64 {
        bucket_quantile(q, &mut self.cumulative_buckets()).value
    }

    /// Index `b` of the bucket that contains the `q`-quantile (the first bucket whose cumulative
    /// count is `≥ q·total`, as in [`bucket_quantile`]), together with its bounds
    /// `[lower, upper]`. The lowest bucket's lower bound is 0 when its upper bound is positive
    /// (Prometheus' natural lower bound for non-negative data such as latencies), `−∞`
    /// otherwise; the last bucket's upper bound is `+∞`. `None` for an empty histogram or `q`
    /// outside `[0, 1]`.
    ///
    /// With binned data the sample quantile `inf{v : F̂(v) ≥ q}` is only known to lie in this
    /// bucket; these are its resolution bounds, not a confidence interval.
    pub fn quantile_bucket(&self, q: f64) -> Option<(usize, f64, f64)> {
        if !(0.0..=1.0).contains(&q) {
            return None;
        }
        let b = self.bucket_at_rank(q * self.total())?;
        let (lower, upper) = self.bucket_range(b);
        Some((b, lower, upper))
    }

    /// Index of the first bucket whose cumulative count is `≥ rank` (clamped to the last
    /// bucket): the bucket holding the order statistic of rank `rank` (1-based) for integer
    /// counts. `None` for an empty histogram.
    pub fn bucket_at_rank(&self, rank: f64) -> Option<usize> {
        if self.total() <= 0.0 {
            return None;
        }
        let cumulative = self.cumulative_buckets();
        let n = cumulative.len();
        Some(go_search(n - 1, |i| cumulative[i].count >= rank))
    }

    /// Value range `[lower, upper]` of bucket `b`: `(bounds[b−1], bounds[b]]`, with the lowest
    /// bucket starting at 0 when its upper bound is positive (Prometheus' natural lower bound
    /// for non-negative data) and at `−∞` otherwise, and the last bucket ending at `+∞`.
    pub fn bucket_range(&self, b: usize) -> (f64, f64) {
        let lower = if b == 0 {
            match self.bounds.first() {
                Some(&first) if first > 0.0 => 0.0,
                _ => f64::NEG_INFINITY,
            }
        } else {
            self.bounds[b - 1]
        };
        let upper = self.bounds.get(b).copied().unwrap_or(f64::INFINITY);
        (lower, upper)
    }

    /// Bucket-wise sum of histograms with identical bounds (e.g. the deltas of several export
    /// intervals, or several instances). [`HistogramError::BoundsMismatch`] when any bounds
    /// differ (re-bucketing would need an assumption about the distribution inside buckets);
    /// [`HistogramError::Empty`] for an empty list.
    pub fn merge(histograms: &[ExplicitHistogram]) -> Result<ExplicitHistogram, HistogramError> {
        let first = histograms.first().ok_or(HistogramError::Empty)?;
        let mut counts = first.bucket_counts.clone();
        for (index, h) in histograms.iter().enumerate().skip(1) {
            if h.bounds != first.bounds {
                return Err(HistogramError::BoundsMismatch { index });
            }
            for (acc, c) in counts.iter_mut().zip(&h.bucket_counts) {
                *acc += c;
            }
        }
        Ok(ExplicitHistogram {
            bounds: first.bounds.clone(),
            bucket_counts: counts,
        })
    }
}

/// Quantile `q` of the bucket-wise sum of `histograms` (which must share their bounds): the
/// Prometheus idiom `histogram_quantile(q, sum by (le) (…))`. See
/// [`ExplicitHistogram::merge`] and [`ExplicitHistogram::quantile`].
pub fn merged_quantile(histograms: &[ExplicitHistogram], q: f64) -> Result<f64, HistogramError> {
    Ok(ExplicitHistogram::merge(histograms)?.quantile(q))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(bounds: &[f64], counts: &[f64]) -> ExplicitHistogram {
        ExplicitHistogram::new(bounds.to_vec(), counts.to_vec()).unwrap()
    }

    #[test]
    fn prometheus_documented_behaviour() {
        // 10 in (0,1], 10 in (1,2]: the median is the boundary 1, p75 halfway into (1, 2].
        let x = h(&[1.0, 2.0], &[10.0, 10.0, 0.0]);
        assert_eq!(x.quantile(0.5), 1.0);
        assert_eq!(x.quantile(0.75), 1.5);
        assert_eq!(x.quantile(0.0), 0.0);
        assert_eq!(x.quantile(-0.1), f64::NEG_INFINITY);
        assert_eq!(x.quantile(1.1), f64::INFINITY);
        assert!(x.quantile(f64::NAN).is_nan());
        // In the +Inf bucket: the highest finite bound.
        let y = h(&[1.0, 2.0], &[1.0, 1.0, 8.0]);
        assert_eq!(y.quantile(0.9), 2.0);
        // Lowest bucket with a non-positive upper bound: that bound.
        let z = h(&[-1.0, 2.0], &[5.0, 5.0, 0.0]);
        assert_eq!(z.quantile(0.2), -1.0);
        // Empty, or only the +Inf bucket: NaN.
        assert!(h(&[1.0], &[0.0, 0.0]).quantile(0.5).is_nan());
        assert!(h(&[], &[7.0]).quantile(0.5).is_nan());
    }

    #[test]
    fn monotonicity_and_precision_fix_ups() {
        let mut b = vec![
            CumulativeBucket {
                upper_bound: 1.0,
                count: 10.0,
            },
            CumulativeBucket {
                upper_bound: 2.0,
                count: 8.0,
            },
            CumulativeBucket {
                upper_bound: f64::INFINITY,
                count: 20.0,
            },
        ];
        let r = bucket_quantile(0.5, &mut b);
        assert!(r.forced_monotonic && !r.fixed_precision);
        assert_eq!(r.value, 1.0);
        let mut b = vec![
            CumulativeBucket {
                upper_bound: 1.0,
                count: 1e15,
            },
            CumulativeBucket {
                upper_bound: 2.0,
                count: 1e15 + 0.5,
            },
            CumulativeBucket {
                upper_bound: f64::INFINITY,
                count: 1e15 + 0.5,
            },
        ];
        let r = bucket_quantile(1.0, &mut b);
        assert!(r.fixed_precision && !r.forced_monotonic);
        assert_eq!(r.value, 1.0);
    }

    #[test]
    fn validation_and_merge() {
        assert_eq!(
            ExplicitHistogram::new(vec![1.0], vec![1.0]),
            Err(HistogramError::LengthMismatch {
                bounds: 1,
                counts: 1
            })
        );
        assert!(matches!(
            ExplicitHistogram::new(vec![2.0, 1.0], vec![1.0; 3]),
            Err(HistogramError::InvalidBound { index: 1, .. })
        ));
        assert!(matches!(
            ExplicitHistogram::new(vec![1.0], vec![1.0, -1.0]),
            Err(HistogramError::InvalidCount { index: 1, .. })
        ));
        let a = h(&[1.0, 2.0], &[1.0, 2.0, 3.0]);
        let b = h(&[1.0, 2.0], &[4.0, 0.0, 1.0]);
        let m = ExplicitHistogram::merge(&[a.clone(), b]).unwrap();
        assert_eq!(m.bucket_counts(), &[5.0, 2.0, 4.0]);
        let c = h(&[1.0, 3.0], &[1.0, 1.0, 1.0]);
        assert_eq!(
            merged_quantile(&[a, c], 0.5),
            Err(HistogramError::BoundsMismatch { index: 1 })
        );
        assert_eq!(merged_quantile(&[], 0.5), Err(HistogramError::Empty));
    }

    #[test]
    fn quantile_bucket_bounds() {
        let x = h(&[1.0, 2.0, 4.0], &[10.0, 10.0, 0.0, 5.0]);
        assert_eq!(x.quantile_bucket(0.1), Some((0, 0.0, 1.0)));
        assert_eq!(x.quantile_bucket(0.5), Some((1, 1.0, 2.0)));
        assert_eq!(x.quantile_bucket(0.99), Some((3, 4.0, f64::INFINITY)));
        let neg = h(&[-1.0, 1.0], &[1.0, 1.0, 0.0]);
        assert_eq!(neg.quantile_bucket(0.0), Some((0, f64::NEG_INFINITY, -1.0)));
        assert_eq!(h(&[1.0], &[0.0, 0.0]).quantile_bucket(0.5), None);
    }

    proptest! {
        #[test]
        fn quantile_is_monotone_and_inside_its_bucket(
            counts in prop::collection::vec(0u32..50, 5),
            q1 in 0.0f64..=1.0,
            q2 in 0.0f64..=1.0,
        ) {
            let counts: Vec<f64> = counts.into_iter().map(f64::from).collect();
            let x = h(&[0.5, 1.0, 2.0, 8.0], &counts);
            prop_assume!(x.total() > 0.0);
            let (lo, hi) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
            prop_assert!(x.quantile(lo) <= x.quantile(hi));
            let (_, l, u) = x.quantile_bucket(lo).unwrap();
            let v = x.quantile(lo);
            // The +Inf bucket reports its lower bound.
            prop_assert!(l <= v && v <= u.min(8.0), "{} not in [{}, {}]", v, l, u);
            // Merging with itself doubles counts and leaves every quantile unchanged.
            let m = ExplicitHistogram::merge(&[x.clone(), x.clone()]).unwrap();
            prop_assert!((m.quantile(lo) - v).abs() <= 1e-12 * v.abs().max(1.0));
        }
    }
}
