//! Aggregate functions over histogram metric points: the quantile of the histograms of a group,
//! merged bucket by bucket (the SQL form of Prometheus' `histogram_quantile(q, sum by (le) …)`).
//!
//! - `histogram_quantile(q, bounds, bucket_counts)`: explicit-bucket histograms
//!   (`histogram_points`). The bucket counts of the group are added elementwise, then the
//!   quantile is [`ExplicitHistogram::quantile`] (Prometheus `BucketQuantile`: linear
//!   interpolation inside the bucket holding rank `q·total`, the lowest bucket starting at 0,
//!   the highest finite bound when the rank falls in the `+∞` bucket).
//!
//!   **Different bounds in one group** are merged onto the bounds they have in common (the
//!   intersection of the bound lists). This is exact: every common bound is a bucket edge of
//!   every input, so each input's count below it is known without assuming anything about the
//!   distribution inside a bucket; only resolution is lost (the coarser layout wins, as when an
//!   SDK upgrade adds buckets). Bounds are compared as exact `f64` values. Inputs that share no
//!   finite bound at all cannot be combined and the query fails naming both bound lists.
//!
//!   Intermediate state, one field per member, in this order: `bounds` `List<Float64>` (the
//!   common bounds so far; NULL when the partial aggregate saw no histogram), `bucket_counts`
//!   `List<UInt64>` (the summed counts, `bounds + 1` entries; counts are added as integers, so
//!   merging is exact and order-independent). Merging states applies the same rule as rows.
//!
//! - `exp_histogram_quantile(q, scale, zero_count, positive_offset, positive_bucket_counts,
//!   negative_offset, negative_bucket_counts [, zero_threshold])`: exponential histograms
//!   (`exp_histogram_points`). Histograms are merged with
//!   [`exponential_histogram::merge`]: downscaled to the smallest scale of the group (OTLP data
//!   model "perfect subsetting", no error), zero buckets reconciled to the largest zero threshold;
//!   the quantile is [`ExponentialHistogram::quantile`] (Prometheus `HistogramQuantile` for
//!   native histograms: exponential interpolation inside a bucket). `zero_threshold` defaults to
//!   0 when not given.
//!
//!   Intermediate state, one field per member, in this order: `scale` Int32 (NULL when the
//!   partial aggregate saw no histogram), `zero_threshold` Float64, `zero_count` Float64,
//!   `positive_offset` Int32, `positive_bucket_counts` `List<Float64>`, `negative_offset` Int32,
//!   `negative_bucket_counts` `List<Float64>`. Counts are `f64` as in
//!   [`crate::stats::exponential_histogram`] (exact while the group's total stays below 2^53).
//!
//! Both functions: `q` must be a constant in `[0, 1]`; rows whose bucket counts are NULL (the
//! baseline point of a cumulative series, see `docs/metrics.md`) or empty (a point reported
//! without buckets) are skipped; the result is NULL when the group has no observations
//! (Prometheus returns NaN there). Malformed rows (bounds not strictly increasing, a bucket
//! count list whose length is not `bounds + 1`, a scale outside −10..=20) fail the query with
//! the offending values.

use super::udaf_args::constant_f64;
use crate::stats::exponential_histogram::{self, ExponentialBuckets, ExponentialHistogram};
use crate::stats::histogram_quantile::ExplicitHistogram;
use arrow::array::{Array, ArrayRef, AsArray, ListArray};
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int32Type, UInt64Type};
use datafusion::common::{exec_err, plan_err, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use std::sync::Arc;

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(t, true)))
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || *t == DataType::Null
}

fn is_numeric_list(t: &DataType) -> bool {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            is_numeric(f.data_type())
        }
        DataType::Null => true,
        _ => false,
    }
}

fn q_arg(args: &AccumulatorArgs, fname: &str) -> Result<f64> {
    let q = constant_f64(&args.exprs[0], fname, "the quantile")?;
    if !(0.0..=1.0).contains(&q) {
        return plan_err!("{fname}: quantile must be in [0, 1], got {q}");
    }
    Ok(q)
}

/// The quantile as SQL returns it: NULL for NaN (no observations).
fn finite_or_null(v: f64) -> ScalarValue {
    ScalarValue::Float64((!v.is_nan()).then_some(v))
}

fn list_state(name: &str, field: &str, item: DataType) -> FieldRef {
    Arc::new(Field::new_list(
        format_state_name(name, field),
        Field::new_list_field(item, true),
        true,
    ))
}

fn fmt_bounds(b: &[f64]) -> String {
    let shown: Vec<String> = b.iter().take(20).map(|x| x.to_string()).collect();
    let more = if b.len() > 20 { ", …" } else { "" };
    format!("[{}{more}]", shown.join(", "))
}

/// `histogram_quantile(q, bounds, bucket_counts)` (module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistogramQuantile {
    signature: Signature,
}

impl Default for HistogramQuantile {
    fn default() -> Self {
        Self::new()
    }
}

impl HistogramQuantile {
    /// The function; arguments are coerced to `(Float64, List<Float64>, List<UInt64>)`.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for HistogramQuantile {
    fn name(&self) -> &str {
        "histogram_quantile"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 3
            || !is_numeric(&arg_types[0])
            || !is_numeric_list(&arg_types[1])
            || !is_numeric_list(&arg_types[2])
        {
            return plan_err!(
                "histogram_quantile(q, bounds, bucket_counts) takes a number and two numeric \
                 lists, got {arg_types:?}"
            );
        }
        Ok(vec![
            DataType::Float64,
            list_of(DataType::Float64),
            list_of(DataType::UInt64),
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ExplicitAccumulator {
            q: q_arg(&args, self.name())?,
            merged: None,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            list_state(args.name, "bounds", DataType::Float64),
            list_state(args.name, "bucket_counts", DataType::UInt64),
        ])
    }
}

/// Summed explicit-bucket histogram: `counts.len() == bounds.len() + 1`.
#[derive(Debug, Clone, PartialEq)]
struct Summed {
    bounds: Vec<f64>,
    counts: Vec<u64>,
}

/// Counts of a histogram with `bounds` re-bucketed onto `common ⊆ bounds`: original bucket `i`
/// (upper edge `bounds[i]`, or `+∞`) lies inside the first common bucket whose upper edge is
/// `≥` its own.
fn coarsen(bounds: &[f64], counts: &[u64], common: &[f64]) -> Vec<u64> {
    let mut out = vec![0u64; common.len() + 1];
    let mut j = 0;
    for (i, &c) in counts.iter().enumerate() {
        let upper = bounds.get(i).copied().unwrap_or(f64::INFINITY);
        while j < common.len() && common[j] < upper {
            j += 1;
        }
        out[j] += c;
    }
    out
}

fn add_counts(acc: &mut [u64], other: &[u64]) -> Result<()> {
    for (a, b) in acc.iter_mut().zip(other) {
        *a = a.checked_add(*b).ok_or_else(|| {
            DataFusionError::Execution("histogram_quantile: bucket count overflows u64".into())
        })?;
    }
    Ok(())
}

impl Summed {
    /// Adds one histogram (validated by the caller), merging onto common bounds if needed.
    fn add(&mut self, bounds: &[f64], counts: &[u64]) -> Result<()> {
        if self.bounds == bounds {
            return add_counts(&mut self.counts, counts);
        }
        let common: Vec<f64> = self
            .bounds
            .iter()
            .copied()
            .filter(|b| bounds.contains(b))
            .collect();
        if common.is_empty() {
            return exec_err!(
                "histogram_quantile: bucket bounds {} and {} share no bound, so their counts \
                 cannot be added without assuming how values spread inside buckets",
                fmt_bounds(&self.bounds),
                fmt_bounds(bounds)
            );
        }
        let mut mine = coarsen(&self.bounds, &self.counts, &common);
        add_counts(&mut mine, &coarsen(bounds, counts, &common))?;
        self.bounds = common;
        self.counts = mine;
        Ok(())
    }
}

#[derive(Debug)]
struct ExplicitAccumulator {
    q: f64,
    merged: Option<Summed>,
}

impl ExplicitAccumulator {
    fn add(&mut self, bounds: &[f64], counts: &[u64]) -> Result<()> {
        if counts.is_empty() {
            return Ok(());
        }
        if counts.len() != bounds.len() + 1 {
            return exec_err!(
                "histogram_quantile: {} bucket counts for {} bounds {} (expected {})",
                counts.len(),
                bounds.len(),
                fmt_bounds(bounds),
                bounds.len() + 1
            );
        }
        if let Some(i) = (0..bounds.len())
            .find(|&i| !bounds[i].is_finite() || (i > 0 && bounds[i] <= bounds[i - 1]))
        {
            return exec_err!(
                "histogram_quantile: bounds {} are not finite and strictly increasing (at \
                 position {i})",
                fmt_bounds(bounds)
            );
        }
        match &mut self.merged {
            None => {
                self.merged = Some(Summed {
                    bounds: bounds.to_vec(),
                    counts: counts.to_vec(),
                });
                Ok(())
            }
            Some(m) => m.add(bounds, counts),
        }
    }

    fn add_lists(&mut self, bounds: &ArrayRef, counts: &ArrayRef) -> Result<()> {
        let bounds = bounds.as_list::<i32>();
        let counts = counts.as_list::<i32>();
        for i in 0..counts.len() {
            if counts.is_null(i) {
                continue;
            }
            let c = counts.value(i);
            let c = c.as_primitive::<UInt64Type>();
            if c.null_count() > 0 {
                return exec_err!("histogram_quantile: NULL inside bucket_counts");
            }
            let b: Vec<f64> = if bounds.is_null(i) {
                Vec::new()
            } else {
                let b = bounds.value(i);
                let b = b.as_primitive::<Float64Type>();
                if b.null_count() > 0 {
                    return exec_err!("histogram_quantile: NULL inside bounds");
                }
                b.values().to_vec()
            };
            self.add(&b, c.values())?;
        }
        Ok(())
    }
}

impl Accumulator for ExplicitAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add_lists(&values[1], &values[2])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let Some(m) = &self.merged else {
            return Ok(ScalarValue::Float64(None));
        };
        let h = ExplicitHistogram::new(
            m.bounds.clone(),
            m.counts.iter().map(|&c| c as f64).collect(),
        )
        .map_err(|e| DataFusionError::Execution(format!("histogram_quantile: {e}")))?;
        Ok(finite_or_null(h.quantile(self.q)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.merged.as_ref().map_or(0, |m| {
                m.bounds.capacity() * std::mem::size_of::<f64>()
                    + m.counts.capacity() * std::mem::size_of::<u64>()
            })
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (b, c) = match &self.merged {
            Some(m) => (
                Some(m.bounds.iter().map(|v| Some(*v)).collect::<Vec<_>>()),
                Some(m.counts.iter().map(|v| Some(*v)).collect::<Vec<_>>()),
            ),
            None => (None, None),
        };
        let bounds = ListArray::from_iter_primitive::<Float64Type, _, _>(std::iter::once(b));
        let counts = ListArray::from_iter_primitive::<UInt64Type, _, _>(std::iter::once(c));
        Ok(vec![
            ScalarValue::List(Arc::new(bounds)),
            ScalarValue::List(Arc::new(counts)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        if states.len() != 2 {
            return Err(DataFusionError::Internal(format!(
                "histogram_quantile: expected 2 state fields, got {}",
                states.len()
            )));
        }
        self.add_lists(&states[0], &states[1])
    }
}

/// `exp_histogram_quantile(q, scale, zero_count, positive_offset, positive_bucket_counts,
/// negative_offset, negative_bucket_counts [, zero_threshold])` (module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ExpHistogramQuantile {
    signature: Signature,
}

impl Default for ExpHistogramQuantile {
    fn default() -> Self {
        Self::new()
    }
}

impl ExpHistogramQuantile {
    /// The function; arguments are coerced to `(Float64, Int32, Float64, Int32, List<Float64>,
    /// Int32, List<Float64> [, Float64])`.
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

const EXP_ARGS: &str = "exp_histogram_quantile(q, scale, zero_count, positive_offset, \
    positive_bucket_counts, negative_offset, negative_bucket_counts [, zero_threshold])";

impl AggregateUDFImpl for ExpHistogramQuantile {
    fn name(&self) -> &str {
        "exp_histogram_quantile"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        let ok = (t.len() == 7 || t.len() == 8)
            && [0, 1, 2, 3, 5].iter().all(|&i| is_numeric(&t[i]))
            && is_numeric_list(&t[4])
            && is_numeric_list(&t[6])
            && t.get(7).is_none_or(is_numeric);
        if !ok {
            return plan_err!("{EXP_ARGS}: wrong argument types {t:?}");
        }
        let mut out = vec![
            DataType::Float64,
            DataType::Int32,
            DataType::Float64,
            DataType::Int32,
            list_of(DataType::Float64),
            DataType::Int32,
            list_of(DataType::Float64),
        ];
        if t.len() == 8 {
            out.push(DataType::Float64);
        }
        Ok(out)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ExpAccumulator {
            q: q_arg(&args, self.name())?,
            merged: None,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let f =
            |n: &str, t: DataType| Arc::new(Field::new(format_state_name(args.name, n), t, true));
        Ok(vec![
            f("scale", DataType::Int32),
            f("zero_threshold", DataType::Float64),
            f("zero_count", DataType::Float64),
            f("positive_offset", DataType::Int32),
            list_state(args.name, "positive_bucket_counts", DataType::Float64),
            f("negative_offset", DataType::Int32),
            list_state(args.name, "negative_bucket_counts", DataType::Float64),
        ])
    }
}

#[derive(Debug)]
struct ExpAccumulator {
    q: f64,
    merged: Option<ExponentialHistogram>,
}

fn f64_list(list: &ListArray, i: usize) -> Result<Vec<f64>> {
    if list.is_null(i) {
        return Ok(Vec::new());
    }
    let v = list.value(i);
    let v = v.as_primitive::<Float64Type>();
    if v.null_count() > 0 {
        return exec_err!("exp_histogram_quantile: NULL inside a bucket count list");
    }
    Ok(v.values().to_vec())
}

impl ExpAccumulator {
    fn add(&mut self, h: ExponentialHistogram) -> Result<()> {
        let err = |e: exponential_histogram::ExponentialError| {
            DataFusionError::Execution(format!("exp_histogram_quantile: {e}"))
        };
        let merged = match &self.merged {
            // Merging with an empty histogram of the same scale validates `h` and normalises it.
            None => exponential_histogram::merge(
                &h,
                &ExponentialHistogram {
                    scale: h.scale,
                    zero_threshold: 0.0,
                    zero_count: 0.0,
                    positive: ExponentialBuckets::default(),
                    negative: ExponentialBuckets::default(),
                },
            ),
            Some(m) => exponential_histogram::merge(m, &h),
        }
        .map_err(err)?;
        self.merged = Some(merged);
        Ok(())
    }

    /// Adds rows given as the seven state/argument columns (scale, zero_threshold, zero_count,
    /// positive_offset, positive counts, negative_offset, negative counts).
    #[allow(clippy::too_many_arguments)]
    fn add_rows(
        &mut self,
        scale: &ArrayRef,
        zero_threshold: Option<&ArrayRef>,
        zero_count: &ArrayRef,
        pos_offset: &ArrayRef,
        pos: &ArrayRef,
        neg_offset: &ArrayRef,
        neg: &ArrayRef,
    ) -> Result<()> {
        let scale = scale.as_primitive::<Int32Type>();
        let zt = zero_threshold.map(|a| a.as_primitive::<Float64Type>());
        let zero = zero_count.as_primitive::<Float64Type>();
        let po = pos_offset.as_primitive::<Int32Type>();
        let pos = pos.as_list::<i32>();
        let no = neg_offset.as_primitive::<Int32Type>();
        let neg = neg.as_list::<i32>();
        for i in 0..scale.len() {
            // A baseline point (NULL counts) or a missing scale carries no observations.
            if scale.is_null(i) || pos.is_null(i) || zero.is_null(i) {
                continue;
            }
            let h = ExponentialHistogram {
                scale: scale.value(i),
                zero_threshold: zt.filter(|a| a.is_valid(i)).map_or(0.0, |a| a.value(i)),
                zero_count: zero.value(i),
                positive: ExponentialBuckets {
                    offset: if po.is_valid(i) { po.value(i) } else { 0 },
                    bucket_counts: f64_list(pos, i)?,
                },
                negative: ExponentialBuckets {
                    offset: if no.is_valid(i) { no.value(i) } else { 0 },
                    bucket_counts: f64_list(neg, i)?,
                },
            };
            self.add(h)?;
        }
        Ok(())
    }
}

impl Accumulator for ExpAccumulator {
    fn update_batch(&mut self, v: &[ArrayRef]) -> Result<()> {
        self.add_rows(&v[1], v.get(7), &v[2], &v[3], &v[4], &v[5], &v[6])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(match &self.merged {
            Some(h) => finite_or_null(h.quantile(self.q)),
            None => ScalarValue::Float64(None),
        })
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.merged.as_ref().map_or(0, |h| {
                (h.positive.bucket_counts.capacity() + h.negative.bucket_counts.capacity())
                    * std::mem::size_of::<f64>()
            })
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let list = |b: Option<&ExponentialBuckets>| {
            ScalarValue::List(Arc::new(
                ListArray::from_iter_primitive::<Float64Type, _, _>(std::iter::once(
                    b.map(|b| b.bucket_counts.iter().map(|c| Some(*c)).collect::<Vec<_>>()),
                )),
            ))
        };
        let h = self.merged.as_ref();
        Ok(vec![
            ScalarValue::Int32(h.map(|h| h.scale)),
            ScalarValue::Float64(h.map(|h| h.zero_threshold)),
            ScalarValue::Float64(h.map(|h| h.zero_count)),
            ScalarValue::Int32(h.map(|h| h.positive.offset)),
            list(h.map(|h| &h.positive)),
            ScalarValue::Int32(h.map(|h| h.negative.offset)),
            list(h.map(|h| &h.negative)),
        ])
    }

    fn merge_batch(&mut self, s: &[ArrayRef]) -> Result<()> {
        if s.len() != 7 {
            return Err(DataFusionError::Internal(format!(
                "exp_histogram_quantile: expected 7 state fields, got {}",
                s.len()
            )));
        }
        self.add_rows(&s[0], Some(&s[1]), &s[2], &s[3], &s[4], &s[5], &s[6])
    }
}

#[cfg(test)]
mod tests;
