//! OTLP exponential histograms: bucket boundaries, value → index mapping, quantiles, conversion
//! to explicit bounds and merging at different scales.
//!
//! Definitions follow the OpenTelemetry metrics data model (`specification/metrics/
//! data-model.md`, sections "ExponentialHistogram", "Exponential Scale", "Exponential Buckets",
//! "Zero Count and Zero Threshold", "Producer Expectations"): at scale `s` the base is
//! `2^(2^−s)` and bucket `i` covers `(base^i, base^(i+1)]` (upper-inclusive); negative values
//! are counted by absolute value in a separate range, so negative buckets are lower-inclusive.
//! Values with `|v| ≤ zero_threshold` are in the zero bucket.
//!
//! Counts are `f64` (see `histogram_quantile` for the rounding of summed counts).

use super::histogram_quantile::{ExplicitHistogram, HistogramError};

/// Smallest scale allowed by OTLP (`base = 2^1024`).
pub const MIN_SCALE: i32 = -10;
/// Largest scale allowed by OTLP (`2^20` buckets per power of two).
pub const MAX_SCALE: i32 = 20;
/// [`merge`] keeps downscaling until neither range spans more than this many buckets, so that
/// merging histograms whose populated ranges are far apart at a high scale cannot allocate
/// without bound (OTLP SDKs default to 160 buckets per range).
pub const MAX_MERGED_BUCKETS: i64 = 1 << 16;

const SIGNIFICAND_WIDTH: u32 = 52;
const SIGNIFICAND_MASK: u64 = (1 << SIGNIFICAND_WIDTH) - 1;
const EXPONENT_MASK: u64 = 0x7FF0_0000_0000_0000;
const EXPONENT_BIAS: i64 = 1023;

/// `x·2^n` with the exponent saturated to a range where the result is already `0` or `∞`.
fn ldexp(x: f64, n: i64) -> f64 {
    libm::ldexp(x, n.clamp(-4000, 4000) as i32)
}

/// The spec's `MapToIndexScale0`: the base-2 exponent of `value > 0` taken from its bits, exact
/// for subnormals, minus one for exact powers of two (upper-inclusive buckets).
fn map_to_index_scale0(value: f64) -> i64 {
    let raw_bits = value.to_bits();
    let mut raw_exponent = ((raw_bits & EXPONENT_MASK) >> SIGNIFICAND_WIDTH) as i64;
    let raw_fragment = raw_bits & SIGNIFICAND_MASK;
    if raw_exponent == 0 {
        raw_exponent -= (raw_fragment - 1).leading_zeros() as i64 - 12;
    }
    let ieee_exponent = raw_exponent - EXPONENT_BIAS;
    if raw_fragment == 0 {
        return ieee_exponent - 1;
    }
    ieee_exponent
}

/// Bucket index of `value` at `scale`: the `i` with `base^i < |value| ≤ base^(i+1)`.
///
/// Exactly the OTLP data model's reference mapping functions:
/// * `scale ≤ 0` ("Scale Zero: Extract the Exponent", "Negative Scale: Extract and Shift the
///   Exponent"): the base-2 exponent read from the IEEE 754 bits (subnormals handled exactly),
///   minus 1 for exact powers of two, arithmetically shifted right by `−scale`. Exact.
/// * `scale > 0` ("All Scales: Use the Logarithm Function"): exact powers of two (`frexp`
///   fraction 0.5) map to `((exp − 1) << scale) − 1`; otherwise
///   `⌊ln(value)·ldexp(log2 e, scale)⌋`. The spec notes this may be off by one for values
///   within a few ulps of a bucket boundary. The result is clamped to the largest index
///   (`(1024 << scale) − 1`), as the opentelemetry-go logarithm mapping does.
///
/// `None` for `0`, NaN, `±∞` (those belong to the zero bucket or nowhere) and for a scale
/// outside [`MIN_SCALE`]`..=`[`MAX_SCALE`]. Negative values map by absolute value.
pub fn map_to_index(value: f64, scale: i32) -> Option<i32> {
    if !(MIN_SCALE..=MAX_SCALE).contains(&scale) || !value.is_finite() || value == 0.0 {
        return None;
    }
    let value = value.abs();
    let index = if scale <= 0 {
        map_to_index_scale0(value) >> (-scale)
    } else {
        let (frac, exp) = libm::frexp(value);
        if frac == 0.5 {
            (((exp - 1) as i64) << scale) - 1
        } else {
            let scale_factor = ldexp(std::f64::consts::LOG2_E, scale as i64);
            let index = (value.ln() * scale_factor).floor() as i64;
            index.min((1024i64 << scale) - 1)
        }
    };
    Some(index as i32)
}

/// Lower boundary `base^index` of bucket `index` at `scale` (bucket `index` is
/// `(lower_boundary(index), lower_boundary(index + 1)]`).
///
/// Computed as the OTLP data model's reference "LowerBoundary" functions:
/// * `scale ≤ 0`: `ldexp(1, index << −scale)`, exact (including subnormal boundaries);
/// * `scale > 0`: `2·exp((index − 2^scale)·ldexp(ln 2, −scale))`, the form the spec recommends
///   so that the highest valid bucket does not overflow to `+∞`. Accurate to a few ulps times
///   `|ln boundary|` (the rounding of the exponent's argument is amplified by `exp`).
///
/// NaN for a scale outside [`MIN_SCALE`]`..=`[`MAX_SCALE`].
pub fn lower_boundary(index: i64, scale: i32) -> f64 {
    if !(MIN_SCALE..=MAX_SCALE).contains(&scale) {
        return f64::NAN;
    }
    if scale <= 0 {
        ldexp(1.0, index.saturating_mul(1i64 << (-scale)))
    } else {
        let inverse_factor = ldexp(std::f64::consts::LN_2, -(scale as i64));
        2.0 * (((index - (1i64 << scale)) as f64) * inverse_factor).exp()
    }
}

/// One range (positive or negative) of an exponential histogram: `bucket_counts[i]` counts
/// bucket index `offset + i` (OTLP `ExponentialHistogramDataPoint.Buckets`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExponentialBuckets {
    /// Index of the first bucket.
    pub offset: i32,
    /// Counts of consecutive buckets starting at `offset`.
    pub bucket_counts: Vec<f64>,
}

impl ExponentialBuckets {
    fn total(&self) -> f64 {
        self.bucket_counts.iter().sum()
    }

    fn indexed(&self) -> impl DoubleEndedIterator<Item = (i64, f64)> + '_ {
        self.bucket_counts
            .iter()
            .enumerate()
            .map(|(i, &c)| (self.offset as i64 + i as i64, c))
    }
}

/// An OTLP exponential histogram data point (the bucket part; `sum`, `min`, `max` are not
/// needed here). Counts must be finite and non-negative.
#[derive(Debug, Clone, PartialEq)]
pub struct ExponentialHistogram {
    /// Scale `s`: `base = 2^(2^−s)`, valid range [`MIN_SCALE`]`..=`[`MAX_SCALE`].
    pub scale: i32,
    /// Values with `|v| ≤ zero_threshold` are counted in `zero_count` (0 when unset).
    pub zero_threshold: f64,
    /// Count of the zero bucket.
    pub zero_count: f64,
    /// Buckets of positive values.
    pub positive: ExponentialBuckets,
    /// Buckets of negative values, indexed by absolute value.
    pub negative: ExponentialBuckets,
}

/// A bucket in ascending value order, as Prometheus' `AllBucketIterator` yields it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    lower: f64,
    upper: f64,
    count: f64,
}

impl ExponentialHistogram {
    /// A histogram with only positive buckets (no zero bucket, no negative buckets): the
    /// shape most test cases need.
    #[cfg(test)]
    pub(crate) fn positive_only(scale: i32, offset: i32, counts: &[f64]) -> Self {
        Self {
            scale,
            zero_threshold: 0.0,
            zero_count: 0.0,
            positive: ExponentialBuckets {
                offset,
                bucket_counts: counts.to_vec(),
            },
            negative: ExponentialBuckets::default(),
        }
    }

    /// Total count: `zero_count + Σ positive + Σ negative`, summed in that order.
    pub fn count(&self) -> f64 {
        self.zero_count + self.positive.total() + self.negative.total()
    }

    /// All buckets in ascending value order with Prometheus' zero-threshold clamping: negative
    /// buckets from the most negative, each `[−base^(i+1), −base^i)` with its upper end raised
    /// to `−zero_threshold` if it reaches into the zero bucket; the zero bucket
    /// `[−zero_threshold, zero_threshold]` when `zero_count > 0`; positive buckets
    /// `(base^i, base^(i+1)]` with the lower end raised to `zero_threshold` likewise.
    fn all_buckets(&self) -> Vec<Bucket> {
        let zt = self.zero_threshold;
        let mut out = Vec::with_capacity(
            self.negative.bucket_counts.len() + self.positive.bucket_counts.len() + 1,
        );
        for (i, count) in self.negative.indexed().rev() {
            let mut upper = -lower_boundary(i, self.scale);
            if upper > -zt {
                upper = -zt;
            }
            out.push(Bucket {
                lower: -lower_boundary(i + 1, self.scale),
                upper,
                count,
            });
        }
        if self.zero_count > 0.0 {
            out.push(Bucket {
                lower: -zt,
                upper: zt,
                count: self.zero_count,
            });
        }
        for (i, count) in self.positive.indexed() {
            let mut lower = lower_boundary(i, self.scale);
            if lower < zt {
                lower = zt;
            }
            out.push(Bucket {
                lower,
                upper: lower_boundary(i + 1, self.scale),
                count,
            });
        }
        out
    }

    /// Quantile `q`, exactly as Prometheus' `histogram_quantile` for native (exponential)
    /// histograms (`HistogramQuantile` in `promql/quantile.go`, Prometheus 3.x), with the
    /// bucket boundaries of [`lower_boundary`]:
    ///
    /// * `q < 0` → −∞, `q > 1` → +∞, empty histogram or NaN `q` → NaN.
    /// * For `q < 0.5` buckets are walked upwards with `rank = q·count`, otherwise downwards with
    ///   `rank = (1 − q)·count` (empty buckets skipped) until the running count reaches `rank`.
    /// * In the zero bucket the lower (upper) end is taken as 0 when the histogram has no
    ///   negative (positive) buckets at all, and the quantile is interpolated **linearly**.
    /// * In any other bucket it is interpolated **exponentially**: with `f` the fraction of the
    ///   bucket's count below the quantile, `2^(log2 L + (log2 U − log2 L)·f)` for a positive
    ///   bucket `(L, U]` (mirrored for negative buckets) — as if the bucket's observations
    ///   populated a finer exponential histogram uniformly.
    ///
    /// Prometheus' handling of NaN observations (`sum` NaN) does not apply: OTLP bucket counts
    /// add up to `count`. Reference: Prometheus `promql/quantile.go` (`HistogramQuantile`) and
    /// `model/histogram/float_histogram.go` (`allFloatBucketIterator`).
    pub fn quantile(&self, q: f64) -> f64 {
        if q < 0.0 {
            return f64::NEG_INFINITY;
        }
        if q > 1.0 {
            return f64::INFINITY;
        }
        let total = self.count();
        if total == 0.0 || q.is_nan() {
            return f64::NAN;
        }
        let forward = q < 0.5;
        let mut buckets = self.all_buckets();
        let rank_target = if forward {
            q * total
        } else {
            buckets.reverse();
            (1.0 - q) * total
        };
        let mut rank = rank_target;
        let mut count = 0.0;
        let mut bucket = Bucket {
            lower: 0.0,
            upper: 0.0,
            count: 0.0,
        };
        for b in &buckets {
            bucket = *b;
            if b.count == 0.0 {
                continue;
            }
            count += b.count;
            if count >= rank {
                break;
            }
        }
        if bucket.lower < 0.0 && bucket.upper > 0.0 {
            if self.negative.bucket_counts.is_empty() && !self.positive.bucket_counts.is_empty() {
                bucket.lower = 0.0;
            } else if self.positive.bucket_counts.is_empty()
                && !self.negative.bucket_counts.is_empty()
            {
                bucket.upper = 0.0;
            }
        }
        if count > total {
            count = total;
        }
        if count < rank {
            return bucket.upper;
        }
        if forward {
            rank -= count - bucket.count;
        } else {
            rank = count - rank;
        }
        let fraction = rank / bucket.count;
        if bucket.lower <= 0.0 && bucket.upper >= 0.0 {
            return bucket.lower + (bucket.upper - bucket.lower) * fraction;
        }
        let log_lower = bucket.lower.abs().log2();
        let log_upper = bucket.upper.abs().log2();
        if bucket.lower > 0.0 {
            return (log_lower + (log_upper - log_lower) * fraction).exp2();
        }
        -(log_upper + (log_lower - log_upper) * (1.0 - fraction)).exp2()
    }

    /// The same counts as an explicit-bucket histogram: every bucket edge becomes a bound (the
    /// zero bucket contributes `−zero_threshold` and `zero_threshold`, or the single bound 0
    /// when the threshold is 0), gaps get count 0, and the first `(−∞, b₀]` and last
    /// `(b_n, +∞)` buckets are empty. Edges are clamped at the zero threshold as in
    /// [`ExponentialHistogram::quantile`].
    ///
    /// Inclusivity differs only for values exactly on a negative bucket's edge (lower-inclusive
    /// in the exponential form, upper-inclusive in the explicit form). The linear interpolation
    /// of [`ExplicitHistogram::quantile`] then differs from the exponential interpolation of
    /// [`ExponentialHistogram::quantile`] inside buckets, but both return the same bucket.
    pub fn to_explicit(&self) -> Result<ExplicitHistogram, HistogramError> {
        let mut bounds: Vec<f64> = Vec::new();
        let mut counts: Vec<f64> = vec![0.0];
        let mut buckets = self.all_buckets();
        if self.zero_count == 0.0 && self.zero_threshold > 0.0 {
            // Keep the zero bucket's edges even when it is empty, so that the explicit form
            // shows where the exponential buckets stop.
            buckets.push(Bucket {
                lower: -self.zero_threshold,
                upper: self.zero_threshold,
                count: 0.0,
            });
            buckets.sort_by(|a, b| a.lower.total_cmp(&b.lower));
        }
        for b in buckets {
            let (lower, upper) = (b.lower + 0.0, b.upper + 0.0); // −0 → +0
            match bounds.last() {
                None => bounds.push(lower),
                Some(&last) if lower > last => {
                    bounds.push(lower);
                    counts.push(0.0);
                }
                _ => {}
            }
            let last = *bounds.last().expect("pushed above");
            if upper > last {
                bounds.push(upper);
                counts.push(b.count);
            } else {
                // Degenerate bucket (zero width after clamping): its count joins the bucket
                // ending at `last`.
                *counts.last_mut().expect("non-empty") += b.count;
            }
        }
        counts.push(0.0);
        if bounds.is_empty() {
            counts = vec![0.0];
        }
        ExplicitHistogram::new(bounds, counts)
    }

    /// Validates the scale and the counts.
    fn check(&self) -> Result<(), ExponentialError> {
        if !(MIN_SCALE..=MAX_SCALE).contains(&self.scale) {
            return Err(ExponentialError::InvalidScale(self.scale));
        }
        let counts = self
            .positive
            .bucket_counts
            .iter()
            .chain(&self.negative.bucket_counts)
            .chain(std::iter::once(&self.zero_count));
        if let Some(&c) = counts.into_iter().find(|c| !(c.is_finite() && **c >= 0.0)) {
            return Err(ExponentialError::InvalidCount(c));
        }
        if !(self.zero_threshold.is_finite() && self.zero_threshold >= 0.0) {
            return Err(ExponentialError::InvalidZeroThreshold(self.zero_threshold));
        }
        Ok(())
    }
}

/// Invalid exponential histogram input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExponentialError {
    /// The scale is outside [`MIN_SCALE`]`..=`[`MAX_SCALE`].
    #[error("exponential histogram scale {0} is outside -10..=20")]
    InvalidScale(i32),
    /// A count is negative or not finite.
    #[error("exponential histogram count {0} is negative or not finite")]
    InvalidCount(f64),
    /// The zero threshold is negative or not finite.
    #[error("exponential histogram zero threshold {0} is negative or not finite")]
    InvalidZeroThreshold(f64),
}

/// Sparse working form of one range during a merge: (index, count), sorted by index.
type Sparse = std::collections::BTreeMap<i64, f64>;

fn downscale(range: &Sparse, by: u32) -> Sparse {
    let mut out = Sparse::new();
    for (&i, &c) in range {
        // Arithmetic shift = floor division by 2^by: perfect subsetting of the buckets.
        *out.entry(i >> by).or_insert(0.0) += c;
    }
    out
}

fn sparse(buckets: &ExponentialBuckets, by: u32) -> Sparse {
    let mut out = Sparse::new();
    for (i, c) in buckets.indexed() {
        *out.entry(i >> by).or_insert(0.0) += c;
    }
    out
}

fn dense(range: &Sparse) -> ExponentialBuckets {
    match (range.keys().next(), range.keys().next_back()) {
        (Some(&lo), Some(&hi)) => {
            let mut counts = vec![0.0; (hi - lo + 1) as usize];
            for (&i, &c) in range {
                counts[(i - lo) as usize] += c;
            }
            ExponentialBuckets {
                offset: lo as i32,
                bucket_counts: counts,
            }
        }
        _ => ExponentialBuckets::default(),
    }
}

fn span(range: &Sparse) -> i64 {
    match (range.keys().next(), range.keys().next_back()) {
        (Some(lo), Some(hi)) => hi - lo + 1,
        _ => 0,
    }
}

/// Sum of two exponential histograms.
///
/// Both are downscaled to the smaller scale `s` (bucket `i` at scale `s + d` lies inside bucket
/// `i >> d` at scale `s`: the OTLP "perfect subsetting" property, so downscaling introduces no
/// error), and further while a range would span more than [`MAX_MERGED_BUCKETS`] buckets.
/// Counts of equal indices are added.
///
/// Zero thresholds: the larger one is used. A histogram with the smaller threshold has every
/// bucket whose lower boundary is below the new threshold moved into the zero count, and when
/// such a bucket extends above the threshold the threshold is raised to its upper boundary
/// (repeated until stable, for both inputs) — OTLP data model "Zero Count and Zero Threshold",
/// as Prometheus' `FloatHistogram.Add` reconciles zero buckets (`reconcileZeroBuckets`).
pub fn merge(
    a: &ExponentialHistogram,
    b: &ExponentialHistogram,
) -> Result<ExponentialHistogram, ExponentialError> {
    a.check()?;
    b.check()?;
    let mut scale = a.scale.min(b.scale);
    let mut parts: Vec<(Sparse, Sparse, f64, f64)> = [a, b]
        .iter()
        .map(|h| {
            let by = (h.scale - scale) as u32;
            (
                sparse(&h.positive, by),
                sparse(&h.negative, by),
                h.zero_count,
                h.zero_threshold,
            )
        })
        .collect();
    // Zero bucket reconciliation.
    let mut threshold = a.zero_threshold.max(b.zero_threshold);
    loop {
        let mut raised = false;
        for (pos, neg, zero, own) in parts.iter_mut() {
            if threshold <= *own {
                continue;
            }
            for range in [&mut *pos, &mut *neg] {
                let absorbed: Vec<i64> = range
                    .keys()
                    .copied()
                    .take_while(|&i| lower_boundary(i, scale) < threshold)
                    .collect();
                for i in absorbed {
                    *zero += range.remove(&i).expect("key listed above");
                    let upper = lower_boundary(i + 1, scale);
                    if upper > threshold {
                        threshold = upper;
                        raised = true;
                    }
                }
            }
            *own = threshold;
        }
        if !raised {
            break;
        }
    }
    let mut positive = Sparse::new();
    let mut negative = Sparse::new();
    let mut zero_count = 0.0;
    for (pos, neg, zero, _) in &parts {
        for (&i, &c) in pos {
            *positive.entry(i).or_insert(0.0) += c;
        }
        for (&i, &c) in neg {
            *negative.entry(i).or_insert(0.0) += c;
        }
        zero_count += zero;
    }
    parts.clear();
    while (span(&positive) > MAX_MERGED_BUCKETS || span(&negative) > MAX_MERGED_BUCKETS)
        && scale > MIN_SCALE
    {
        positive = downscale(&positive, 1);
        negative = downscale(&negative, 1);
        scale -= 1;
    }
    Ok(ExponentialHistogram {
        scale,
        zero_threshold: threshold,
        zero_count,
        positive: dense(&positive),
        negative: dense(&negative),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hist(scale: i32, offset: i32, counts: &[f64]) -> ExponentialHistogram {
        ExponentialHistogram::positive_only(scale, offset, counts)
    }

    #[test]
    fn spec_examples_scale_zero_and_negative() {
        // Scale 0: bucket 0 is (1, 2]; powers of two land in the lower bucket.
        assert_eq!(map_to_index(1.5, 0), Some(0));
        assert_eq!(map_to_index(2.0, 0), Some(0));
        assert_eq!(map_to_index(1.0, 0), Some(-1));
        assert_eq!(map_to_index(2.000_000_000_000_000_4, 0), Some(1));
        assert_eq!(map_to_index(-3.0, 0), Some(1));
        // Scale −1: base 4.
        assert_eq!(lower_boundary(1, -1), 4.0);
        assert_eq!(map_to_index(4.0, -1), Some(0));
        assert_eq!(map_to_index(4.5, -1), Some(1));
        assert_eq!(map_to_index(0.5, -1), Some(-1));
        assert_eq!(map_to_index(0.25, -1), Some(-2));
        // Spec: 0x1p-1023 (subnormal) is in bucket −1024 at scale 0; the smallest normal value
        // at scale −4 is in the bucket with lower boundary 0x1p-1024 (itself subnormal).
        assert_eq!(map_to_index(2f64.powi(-1023), 0), Some(-1024));
        let i = map_to_index(f64::MIN_POSITIVE, -4).unwrap();
        assert_eq!(lower_boundary(i as i64, -4), f64::from_bits(1 << 50)); // 2^-1024
                                                                           // Smallest subnormal 2^-1074 is a power of two: bucket −1075.
        assert_eq!(map_to_index(f64::from_bits(1), 0), Some(-1075));
        assert_eq!(map_to_index(f64::MAX, 0), Some(1023));
        assert_eq!(map_to_index(0.0, 0), None);
        assert_eq!(map_to_index(f64::NAN, 3), None);
        assert_eq!(map_to_index(1.0, 21), None);
    }

    #[test]
    // The spec's table is written to 5 decimals, 1.41421 among them.
    #[allow(clippy::approx_constant)]
    fn spec_examples_positive_scale() {
        // Scale 1: index 1 covers (√2, 2].
        let sqrt2 = std::f64::consts::SQRT_2;
        assert!((lower_boundary(1, 1) - sqrt2).abs() <= 2.0 * f64::EPSILON);
        assert_eq!(lower_boundary(2, 1), 2.0);
        assert_eq!(map_to_index(2.0, 1), Some(1));
        assert_eq!(map_to_index(1.5, 1), Some(1));
        assert_eq!(map_to_index(1.4, 1), Some(0));
        // The spec's table of scale-3 lower boundaries (5 significant digits).
        let table = [
            1.0, 1.09051, 1.18921, 1.29684, 1.41421, 1.54221, 1.68179, 1.83401,
        ];
        for (i, want) in table.iter().enumerate() {
            assert!((lower_boundary(i as i64, 3) - want).abs() < 5e-6, "{i}");
        }
        // Perfect subsetting: scale-3 boundary 4 = scale-2 boundary 2 = scale-1 boundary 1.
        assert_eq!(lower_boundary(4, 3), lower_boundary(2, 2));
        assert_eq!(lower_boundary(2, 2), lower_boundary(1, 1));
        // Highest bucket at scale 20 has a finite lower boundary.
        let top = (1024i64 << 20) - 1;
        assert!(lower_boundary(top, 20).is_finite());
        assert_eq!(map_to_index(f64::MAX, 20), Some(top as i32));
    }

    #[test]
    fn quantile_follows_prometheus_native_rules() {
        // 10 observations in (1, 2] at scale 0: the median interpolates exponentially to √2.
        let h = hist(0, 0, &[10.0]);
        assert!((h.quantile(0.5) - std::f64::consts::SQRT_2).abs() < 1e-15);
        assert_eq!(h.quantile(1.0), 2.0);
        assert_eq!(h.quantile(0.0), 1.0);
        assert_eq!(h.quantile(-1.0), f64::NEG_INFINITY);
        assert_eq!(h.quantile(2.0), f64::INFINITY);
        assert!(hist(0, 0, &[0.0]).quantile(0.5).is_nan());
        // Zero bucket with only positive buckets: linear between 0 and the threshold.
        let mut z = hist(0, 0, &[5.0]);
        z.zero_threshold = 0.5;
        z.zero_count = 5.0;
        assert_eq!(z.quantile(0.2), 0.2);
        // Negative buckets mirror: −2 ≤ v < −1 with 10 observations, median −√2.
        let n = ExponentialHistogram {
            scale: 0,
            zero_threshold: 0.0,
            zero_count: 0.0,
            positive: ExponentialBuckets::default(),
            negative: ExponentialBuckets {
                offset: 0,
                bucket_counts: vec![10.0],
            },
        };
        assert!((n.quantile(0.5) + std::f64::consts::SQRT_2).abs() < 1e-15);
    }

    #[test]
    fn explicit_conversion_keeps_counts_and_buckets() {
        let mut h = hist(1, -1, &[1.0, 0.0, 3.0]);
        h.negative = ExponentialBuckets {
            offset: 0,
            bucket_counts: vec![2.0],
        };
        h.zero_count = 4.0;
        let e = h.to_explicit().unwrap();
        let s2 = lower_boundary(-1, 1);
        assert_eq!(
            e.bounds(),
            &[
                -lower_boundary(1, 1),
                -1.0,
                0.0,
                s2,
                1.0,
                lower_boundary(1, 1),
                2.0
            ]
        );
        // Zeros (threshold 0) are in (−1, 0]; (0, 1/√2] is a gap.
        assert_eq!(e.bucket_counts(), &[0.0, 2.0, 4.0, 0.0, 1.0, 0.0, 3.0, 0.0]);
        assert_eq!(e.total(), h.count());
        let empty = hist(0, 0, &[]);
        assert_eq!(empty.to_explicit().unwrap().bucket_counts(), &[0.0]);
    }

    #[test]
    fn merge_downscales_and_reconciles_zero_buckets() {
        let a = hist(2, 0, &[1.0, 2.0, 3.0, 4.0, 5.0]); // indices 0..4 at scale 2
        let b = hist(0, 0, &[10.0, 20.0]); // (1,2], (2,4]
        let m = merge(&a, &b).unwrap();
        assert_eq!(m.scale, 0);
        assert_eq!(m.positive.offset, 0);
        assert_eq!(m.positive.bucket_counts, vec![10.0 + 10.0, 20.0 + 5.0]);
        // Zero threshold: b's 0.7 lies inside a's bucket (0.5, 1] (index −1 at scale 0).
        let a = hist(0, -2, &[1.0, 2.0, 3.0]); // (0.25,0.5], (0.5,1], (1,2]
        let mut b = hist(0, 0, &[7.0]);
        b.zero_threshold = 0.7;
        b.zero_count = 4.0;
        let m = merge(&a, &b).unwrap();
        assert_eq!(m.zero_threshold, 1.0);
        assert_eq!(m.zero_count, 1.0 + 2.0 + 4.0);
        assert_eq!(m.positive.bucket_counts, vec![3.0 + 7.0]);
        assert_eq!(m.count(), a.count() + b.count());
        let bad = hist(30, 0, &[1.0]);
        assert_eq!(merge(&bad, &a), Err(ExponentialError::InvalidScale(30)));
        // Far-apart ranges at a high scale are downscaled to bound the allocation.
        let lo = hist(20, -(20 << 20), &[1.0]);
        let hi = hist(20, 20 << 20, &[1.0]);
        let m = merge(&lo, &hi).unwrap();
        assert!(m.positive.bucket_counts.len() as i64 <= MAX_MERGED_BUCKETS);
        assert_eq!(m.count(), 2.0);
    }

    proptest! {
        #[test]
        fn index_brackets_value(bits in 0x0010_0000_0000_0000u64..0x7FEF_FFFF_FFFF_FFFF, scale in -10i32..=20) {
            let v = f64::from_bits(bits);
            let i = map_to_index(v, scale).unwrap() as i64;
            let (lo, hi) = (lower_boundary(i, scale), lower_boundary(i + 1, scale));
            if scale <= 0 {
                // Exact mapping and exact boundaries.
                prop_assert!(lo < v && v <= hi, "{} not in ({}, {}] at index {}", v, lo, hi, i);
            } else {
                // Logarithm mapping: off by at most one bucket, within a few ulps of a boundary.
                let tol = 64.0 * f64::EPSILON * (1.0 + v.ln().abs());
                prop_assert!(lo * (1.0 - tol) < v && v <= hi * (1.0 + tol),
                    "{} not in ({}, {}] at index {} scale {}", v, lo, hi, i, scale);
            }
        }

        #[test]
        fn powers_of_two_land_in_the_lower_bucket(e in -1000i32..1000, scale in -10i32..=20) {
            // 2^e is the upper (inclusive) boundary of its bucket: at scale s ≥ 0 the bucket
            // ending at 2^e is (e << s) − 1; at s < 0 it is the bucket of index e − 1 at
            // scale 0, shifted.
            let i = map_to_index(2f64.powi(e), scale).unwrap() as i64;
            let want = if scale >= 0 { ((e as i64) << scale) - 1 } else { (e as i64 - 1) >> -scale };
            prop_assert_eq!(i, want);
        }

        #[test]
        fn merge_preserves_count_and_quantile_bucket(
            a in prop::collection::vec(0u8..20, 1..10),
            b in prop::collection::vec(0u8..20, 1..10),
            sa in -2i32..6, sb in -2i32..6, oa in -20i32..20, ob in -20i32..20,
        ) {
            let ha = hist(sa, oa, &a.iter().map(|&c| f64::from(c)).collect::<Vec<_>>());
            let hb = hist(sb, ob, &b.iter().map(|&c| f64::from(c)).collect::<Vec<_>>());
            let m = merge(&ha, &hb).unwrap();
            prop_assert_eq!(m.count(), ha.count() + hb.count());
            prop_assert_eq!(m.scale, sa.min(sb));
            // Merging with itself leaves quantiles unchanged.
            let self_merged = merge(&ha, &ha).unwrap();
            for q in [0.1, 0.5, 0.9] {
                let (x, y) = (ha.quantile(q), self_merged.quantile(q));
                prop_assert!((x.is_nan() && y.is_nan()) || (x - y).abs() <= 1e-12 * x.abs());
            }
            // Explicit conversion keeps the total.
            prop_assert_eq!(m.to_explicit().unwrap().total(), m.count());
        }
    }
}
