//! DDSketch: a mergeable quantile sketch with a relative-error guarantee.
//!
//! Masson, Rim & Lee, "DDSketch: A Fast and Fully-Mergeable Quantile Sketch with Relative-Error
//! Guarantees", PVLDB 12(12), 2019. With relative accuracy `α` and `γ = (1 + α)/(1 − α)`, a
//! positive value `x` goes to bucket `k = ⌈log_γ x⌉`, which covers `(γ^(k−1), γ^k]`, and the
//! bucket is represented by `2γ^k/(γ + 1)`; every value of the bucket is within relative error
//! `α` of that representative. The `q`-quantile is defined as the paper does, as the sorted
//! sample element of 0-based rank `⌊q(n − 1)⌋`, and the estimate is the representative of the
//! bucket holding that rank, so `|estimate − x_q| ≤ α·x_q`. The estimate is clamped to the
//! observed `[min, max]`, which never moves it away from `x_q`.
//!
//! Values `≤` [`MIN_INDEXABLE`] (zero, and anything negative, which durations never are) are
//! counted in a separate zero bucket and estimated as `0`. When more than `max_buckets`
//! buckets would be needed, the lowest buckets are collapsed into one (paper §2.2), which keeps
//! the guarantee for every quantile whose rank falls above the collapsed buckets (the upper
//! quantiles that latency analysis cares about). With `α = 0.01` and 2048 buckets collapsing
//! only starts when the data spans a ratio of `γ^2048 ≈ 6·10^17` between smallest and largest.
//!
//! Merging adds bucket counts, so a sketch of a union equals the merge of the parts' sketches
//! (exactly, when no collapsing happened), in any order.

use serde::{Deserialize, Serialize};

/// Default relative accuracy `α`.
pub const DEFAULT_RELATIVE_ACCURACY: f64 = 0.01;
/// Default maximum number of buckets before the lowest ones are collapsed.
pub const DEFAULT_MAX_BUCKETS: usize = 2048;
/// Largest accepted bucket limit (keeps key arithmetic in `i32` and states bounded).
pub const MAX_MAX_BUCKETS: usize = 1 << 20;
/// Values at or below this go to the zero bucket (for milliseconds: one picosecond).
pub const MIN_INDEXABLE: f64 = 1e-9;

/// Errors building or merging sketches.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SketchError {
    /// `α` outside `(0, 1)` or `max_buckets` outside `1..=`[`MAX_MAX_BUCKETS`].
    #[error("invalid DDSketch parameters: relative accuracy {alpha} (must be in (0,1)), max buckets {max_buckets} (must be in 1..=1048576)")]
    InvalidParameters {
        /// The relative accuracy given.
        alpha: f64,
        /// The bucket limit given.
        max_buckets: usize,
    },
    /// The two sketches have different relative accuracies, so their buckets do not line up.
    #[error("cannot merge DDSketches with relative accuracy {0} and {1}")]
    IncompatibleAccuracy(f64, f64),
    /// A serialised state is inconsistent (counts do not add up, too many buckets…).
    #[error("invalid DDSketch state: {0}")]
    InvalidState(String),
}

/// A DDSketch over non-negative values (see the module docs for the definition).
#[derive(Debug, Clone, PartialEq)]
pub struct DDSketch {
    alpha: f64,
    ln_gamma: f64,
    max_buckets: usize,
    /// Bucket key of `bins[0]`.
    offset: i32,
    /// Dense counts for keys `offset .. offset + bins.len()`.
    bins: Vec<u64>,
    zero_count: u64,
    count: u64,
    min: f64,
    max: f64,
}

/// The serialisable state of a [`DDSketch`]; also the layout of the `ddsketch_quantile`
/// aggregate's intermediate state (one field per member, `bins` as a list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DDSketchState {
    /// Relative accuracy `α`.
    pub alpha: f64,
    /// Bucket limit.
    pub max_buckets: u64,
    /// Number of values added (zero bucket included).
    pub count: u64,
    /// Values in the zero bucket.
    pub zero_count: u64,
    /// Smallest value added (`+inf` when empty).
    pub min: f64,
    /// Largest value added (`-inf` when empty).
    pub max: f64,
    /// Bucket key of `bins[0]`.
    pub offset: i32,
    /// Counts of consecutive bucket keys starting at `offset`.
    pub bins: Vec<u64>,
}

impl Default for DDSketch {
    fn default() -> Self {
        Self::new(DEFAULT_RELATIVE_ACCURACY, DEFAULT_MAX_BUCKETS).expect("valid defaults")
    }
}

impl DDSketch {
    /// An empty sketch with relative accuracy `alpha` and at most `max_buckets` buckets.
    pub fn new(alpha: f64, max_buckets: usize) -> Result<Self, SketchError> {
        if !(alpha > 0.0 && alpha < 1.0) || max_buckets == 0 || max_buckets > MAX_MAX_BUCKETS {
            return Err(SketchError::InvalidParameters { alpha, max_buckets });
        }
        let gamma = (1.0 + alpha) / (1.0 - alpha);
        Ok(Self {
            alpha,
            ln_gamma: gamma.ln(),
            max_buckets,
            offset: 0,
            bins: Vec::new(),
            zero_count: 0,
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        })
    }

    /// Relative accuracy `α`.
    pub fn relative_accuracy(&self) -> f64 {
        self.alpha
    }

    /// Number of values added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Number of non-zero buckets in use (memory is proportional to the key range).
    pub fn bucket_count(&self) -> usize {
        self.bins.len()
    }

    fn key(&self, x: f64) -> i32 {
        (x.ln() / self.ln_gamma).ceil() as i32
    }

    fn representative(&self, key: i32) -> f64 {
        let gamma = self.ln_gamma.exp();
        2.0 * (key as f64 * self.ln_gamma).exp() / (gamma + 1.0)
    }

    /// Adds one value. NaN is ignored; values `≤` [`MIN_INDEXABLE`] go to the zero bucket.
    pub fn add(&mut self, x: f64) {
        self.add_n(x, 1);
    }

    /// Adds `n` copies of a value.
    pub fn add_n(&mut self, x: f64, n: u64) {
        if x.is_nan() || n == 0 {
            return;
        }
        self.count += n;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        if x <= MIN_INDEXABLE {
            self.zero_count += n;
            return;
        }
        let k = self.key(x.min(f64::MAX));
        self.ensure_range(k, k);
        let k = k.max(self.offset);
        self.bins[(k - self.offset) as usize] += n;
    }

    /// Makes the dense range cover `[lo, hi]`, collapsing the lowest keys if that would exceed
    /// `max_buckets` (so afterwards `offset` may be above `lo`: callers clamp keys to `offset`).
    fn ensure_range(&mut self, lo: i32, hi: i32) {
        let (cur_lo, cur_hi) = if self.bins.is_empty() {
            (lo, hi)
        } else {
            (self.offset, self.offset + self.bins.len() as i32 - 1)
        };
        let new_hi = cur_hi.max(hi);
        let mut new_lo = cur_lo.min(lo);
        if (new_hi as i64 - new_lo as i64 + 1) > self.max_buckets as i64 {
            new_lo = new_hi - self.max_buckets as i32 + 1;
        }
        if !self.bins.is_empty() && new_lo == self.offset && new_hi == cur_hi {
            return;
        }
        let mut bins = vec![0u64; (new_hi - new_lo + 1) as usize];
        for (i, c) in self.bins.iter().enumerate() {
            let key = (self.offset + i as i32).max(new_lo);
            bins[(key - new_lo) as usize] += c;
        }
        self.offset = new_lo;
        self.bins = bins;
    }

    /// Adds every value of `other` (paper §2.3). Both must have the same relative accuracy.
    pub fn merge(&mut self, other: &DDSketch) -> Result<(), SketchError> {
        if self.alpha != other.alpha {
            return Err(SketchError::IncompatibleAccuracy(self.alpha, other.alpha));
        }
        if other.count == 0 {
            return Ok(());
        }
        self.count += other.count;
        self.zero_count += other.zero_count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        if other.bins.is_empty() {
            return Ok(());
        }
        let hi = other.offset + other.bins.len() as i32 - 1;
        self.ensure_range(other.offset, hi);
        for (i, c) in other.bins.iter().enumerate() {
            let key = (other.offset + i as i32).max(self.offset);
            self.bins[(key - self.offset) as usize] += c;
        }
        Ok(())
    }

    /// Estimate of the `q`-quantile (`q` clamped to `[0, 1]`): the bucket representative of the
    /// element of rank `⌊q(n − 1)⌋`. `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        let rank = (q * (self.count - 1) as f64).floor() as u64;
        if rank < self.zero_count {
            return Some(0.0f64.clamp(self.min.min(0.0), self.max.max(0.0)));
        }
        let mut seen = self.zero_count;
        for (i, c) in self.bins.iter().enumerate() {
            seen += c;
            if seen > rank {
                let est = self.representative(self.offset + i as i32);
                return Some(est.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// The serialisable state.
    pub fn to_state(&self) -> DDSketchState {
        DDSketchState {
            alpha: self.alpha,
            max_buckets: self.max_buckets as u64,
            count: self.count,
            zero_count: self.zero_count,
            min: self.min,
            max: self.max,
            offset: self.offset,
            bins: self.bins.clone(),
        }
    }

    /// Rebuilds a sketch from [`DDSketch::to_state`], checking that it is consistent.
    pub fn from_state(s: DDSketchState) -> Result<Self, SketchError> {
        let mut sk = Self::new(s.alpha, s.max_buckets as usize)?;
        if s.bins.len() as u64 > s.max_buckets {
            return Err(SketchError::InvalidState(format!(
                "{} buckets exceed the limit {}",
                s.bins.len(),
                s.max_buckets
            )));
        }
        let binned: u64 = s.bins.iter().sum();
        if binned.checked_add(s.zero_count) != Some(s.count) {
            return Err(SketchError::InvalidState(format!(
                "count {} is not zero count {} plus bucket counts {binned}",
                s.count, s.zero_count
            )));
        }
        sk.count = s.count;
        sk.zero_count = s.zero_count;
        sk.min = s.min;
        sk.max = s.max;
        sk.offset = s.offset;
        sk.bins = s.bins;
        Ok(sk)
    }

    /// Approximate heap and inline size in bytes (for DataFusion's memory accounting).
    pub fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.bins.capacity() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The paper's quantile of the raw data: the element of 0-based rank ⌊q(n−1)⌋.
    fn exact_rank_quantile(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    fn check_bound(values: &[f64], sk: &DDSketch, qs: &[f64]) -> Result<(), TestCaseError> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        for &q in qs {
            let exact = exact_rank_quantile(&sorted, q);
            let est = sk.quantile(q).unwrap();
            let tol = sk.relative_accuracy() * exact * (1.0 + 1e-9) + 1e-12;
            prop_assert!(
                (est - exact).abs() <= tol,
                "q={} exact={} est={} (n={})",
                q,
                exact,
                est,
                values.len()
            );
        }
        Ok(())
    }

    fn values_strategy() -> impl Strategy<Value = Vec<f64>> {
        // Log-uniform over 12 orders of magnitude, like latencies in ms, plus some exact zeros.
        prop::collection::vec(
            prop_oneof![
                9 => (-4.0f64..8.0).prop_map(|e| 10f64.powf(e)),
                1 => Just(0.0),
            ],
            1..400,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, rng_seed: proptest::test_runner::RngSeed::Fixed(7), ..ProptestConfig::default() })]

        #[test]
        fn relative_error_guarantee(values in values_strategy(), q in 0.0f64..=1.0) {
            let mut sk = DDSketch::default();
            for &v in &values { sk.add(v); }
            check_bound(&values, &sk, &[q, 0.5, 0.9, 0.99, 0.999, 0.0, 1.0])?;
        }

        #[test]
        fn merge_equals_union(a in values_strategy(), b in values_strategy(), q in 0.0f64..=1.0) {
            let mut sa = DDSketch::default();
            for &v in &a { sa.add(v); }
            let mut sb = DDSketch::default();
            for &v in &b { sb.add(v); }
            let mut all = DDSketch::default();
            for &v in a.iter().chain(&b) { all.add(v); }
            let mut ab = sa.clone();
            ab.merge(&sb).unwrap();
            let mut ba = sb.clone();
            ba.merge(&sa).unwrap();
            prop_assert_eq!(ab.quantile(q), all.quantile(q));
            prop_assert_eq!(ba.quantile(q), all.quantile(q));
            let union: Vec<f64> = a.iter().chain(&b).copied().collect();
            check_bound(&union, &ab, &[q])?;
        }

        #[test]
        fn state_round_trip(values in values_strategy()) {
            let mut sk = DDSketch::default();
            for &v in &values { sk.add(v); }
            let json = serde_json::to_string(&sk.to_state()).unwrap();
            let back = DDSketch::from_state(serde_json::from_str(&json).unwrap()).unwrap();
            prop_assert_eq!(back, sk);
        }
    }

    #[test]
    fn collapsing_keeps_upper_quantiles_accurate() {
        // 1e-6 .. 1e6 needs ~1400 buckets at α = 1%; allow only 300.
        let values: Vec<f64> = (0..5000)
            .map(|i| 10f64.powf(-6.0 + 12.0 * i as f64 / 4999.0))
            .collect();
        let mut sk = DDSketch::new(0.01, 300).unwrap();
        for &v in &values {
            sk.add(v);
        }
        assert!(sk.bucket_count() <= 300);
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        for q in [0.9, 0.95, 0.99, 0.999, 1.0] {
            let exact = exact_rank_quantile(&sorted, q);
            let est = sk.quantile(q).unwrap();
            assert!((est - exact).abs() <= 0.01 * exact * (1.0 + 1e-9), "q={q}");
        }
        // The lowest quantiles are in the collapsed bucket and over-estimated, as documented.
        assert!(sk.quantile(0.0).unwrap() > sorted[0] * 1.01);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(DDSketch::new(0.0, 10).is_err());
        assert!(DDSketch::new(0.01, 0).is_err());
        assert!(DDSketch::new(0.01, MAX_MAX_BUCKETS + 1).is_err());
        let a = DDSketch::new(0.01, 10).unwrap();
        let mut b = DDSketch::new(0.02, 10).unwrap();
        assert!(matches!(
            b.merge(&a),
            Err(SketchError::IncompatibleAccuracy(..))
        ));
        let mut st = DDSketch::default().to_state();
        st.count = 3;
        assert!(DDSketch::from_state(st).is_err());
        assert_eq!(DDSketch::default().quantile(0.5), None);
    }

    #[test]
    fn zero_bucket_and_nan() {
        let mut sk = DDSketch::default();
        sk.add(0.0);
        sk.add(f64::NAN);
        sk.add(0.0);
        sk.add(10.0);
        assert_eq!(sk.count(), 3);
        assert_eq!(sk.quantile(0.5), Some(0.0));
        let top = sk.quantile(1.0).unwrap();
        assert!((top - 10.0).abs() <= 0.1);
    }
}
