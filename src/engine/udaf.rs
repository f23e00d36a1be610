//! canalyst's aggregate functions for DataFusion SQL.
//!
//! - `quantile_exact(value, q)`: exact Hyndman–Fan type-7 quantile (see [`super::quantile`]).
//!   Intermediate state: one field, `<name>[values]`, `List<Float64>` holding every non-null,
//!   non-NaN value seen by the partial aggregate; merging concatenates the lists. Memory is
//!   linear in the group size, which is what exactness costs.
//! - `ddsketch_quantile(value, q [, alpha])`: DDSketch estimate with relative accuracy `alpha`
//!   (default 0.01; see [`super::ddsketch`]). Intermediate state, one field per
//!   [`DDSketchState`] member, in this order: `alpha` Float64, `max_buckets` UInt64, `count`
//!   UInt64, `zero_count` UInt64, `min` Float64, `max` Float64, `offset` Int32 (bucket key of
//!   the first bin), `bins` `List<UInt64>` (counts of consecutive keys). Merging adds bins, so
//!   the state is bounded by the bucket limit whatever the group size.
//!
//! - `histogram_quantile` and `exp_histogram_quantile`: quantiles of merged histograms, see
//!   [`super::histogram_udaf`].
//!
//! `q` (and `alpha`) must be constant literals in `[0, 1]` (`(0, 1)` for `alpha`). Both
//! functions ignore NULL and NaN values and return NULL for an empty group.

use super::ddsketch::{DDSketch, DDSketchState, DEFAULT_MAX_BUCKETS, DEFAULT_RELATIVE_ACCURACY};
use super::quantile::{quantile_sorted, sort_values};
use super::udaf_args::constant_f64;
use arrow::array::{Array, ArrayRef, AsArray, ListArray};
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int32Type, UInt64Type};
use datafusion::common::{plan_err, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, TypeSignature, Volatility,
};
use std::sync::Arc;

/// Every aggregate function canalyst registers.
pub fn all() -> Vec<AggregateUDF> {
    vec![
        AggregateUDF::from(QuantileExact::new()),
        AggregateUDF::from(DDSketchQuantile::new()),
        AggregateUDF::from(super::histogram_udaf::HistogramQuantile::new()),
        AggregateUDF::from(super::histogram_udaf::ExpHistogramQuantile::new()),
    ]
}

fn quantile_arg(args: &AccumulatorArgs, fname: &str) -> Result<f64> {
    let q = constant_f64(&args.exprs[1], fname, "the quantile")?;
    if !(0.0..=1.0).contains(&q) {
        return plan_err!("{fname}: quantile must be in [0, 1], got {q}");
    }
    Ok(q)
}

/// Non-null, non-NaN values of a Float64 argument column.
fn finite_values(values: &ArrayRef) -> impl Iterator<Item = f64> + '_ {
    values
        .as_primitive::<Float64Type>()
        .iter()
        .flatten()
        .filter(|v| !v.is_nan())
}

/// `quantile_exact(value, q)`: exact type-7 quantile (module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct QuantileExact {
    signature: Signature,
}

impl Default for QuantileExact {
    fn default() -> Self {
        Self::new()
    }
}

impl QuantileExact {
    /// The function, taking `(Float64, Float64)` (numeric arguments are coerced).
    pub fn new() -> Self {
        Self {
            signature: Signature::exact(
                vec![DataType::Float64, DataType::Float64],
                Volatility::Immutable,
            ),
        }
    }
}

impl AggregateUDFImpl for QuantileExact {
    fn name(&self) -> &str {
        "quantile_exact"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(QuantileExactAccumulator {
            q: quantile_arg(&args, self.name())?,
            values: Vec::new(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new_list(
            format_state_name(args.name, "values"),
            Field::new_list_field(DataType::Float64, true),
            true,
        ))])
    }
}

#[derive(Debug)]
struct QuantileExactAccumulator {
    q: f64,
    values: Vec<f64>,
}

impl Accumulator for QuantileExactAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.values.extend(finite_values(&values[0]));
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.values.is_empty() {
            return Ok(ScalarValue::Float64(None));
        }
        sort_values(&mut self.values);
        Ok(ScalarValue::Float64(Some(quantile_sorted(
            &self.values,
            self.q,
        ))))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.capacity() * std::mem::size_of::<f64>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let list = ListArray::from_iter_primitive::<Float64Type, _, _>(std::iter::once(Some(
            self.values.iter().map(|v| Some(*v)),
        )));
        Ok(vec![ScalarValue::List(Arc::new(list))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for i in 0..lists.len() {
            if lists.is_valid(i) {
                let part = lists.value(i);
                self.values.extend(finite_values(&part));
            }
        }
        Ok(())
    }
}

/// `ddsketch_quantile(value, q [, alpha])`: DDSketch quantile estimate (module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DDSketchQuantile {
    signature: Signature,
}

impl Default for DDSketchQuantile {
    fn default() -> Self {
        Self::new()
    }
}

impl DDSketchQuantile {
    /// The function, taking `(Float64, Float64)` or `(Float64, Float64, Float64)`.
    pub fn new() -> Self {
        let f = DataType::Float64;
        Self {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![f.clone(), f.clone()]),
                    TypeSignature::Exact(vec![f.clone(), f.clone(), f]),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

impl AggregateUDFImpl for DDSketchQuantile {
    fn name(&self) -> &str {
        "ddsketch_quantile"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let q = quantile_arg(&args, self.name())?;
        let alpha = match args.exprs.get(2) {
            Some(e) => constant_f64(e, self.name(), "the relative accuracy")?,
            None => DEFAULT_RELATIVE_ACCURACY,
        };
        let sketch = DDSketch::new(alpha, DEFAULT_MAX_BUCKETS)
            .map_err(|e| DataFusionError::Plan(format!("{}: {e}", self.name())))?;
        Ok(Box::new(DDSketchAccumulator { q, sketch }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let f =
            |n: &str, t: DataType| Arc::new(Field::new(format_state_name(args.name, n), t, true));
        Ok(vec![
            f("alpha", DataType::Float64),
            f("max_buckets", DataType::UInt64),
            f("count", DataType::UInt64),
            f("zero_count", DataType::UInt64),
            f("min", DataType::Float64),
            f("max", DataType::Float64),
            f("offset", DataType::Int32),
            Arc::new(Field::new_list(
                format_state_name(args.name, "bins"),
                Field::new_list_field(DataType::UInt64, true),
                true,
            )),
        ])
    }
}

#[derive(Debug)]
struct DDSketchAccumulator {
    q: f64,
    sketch: DDSketch,
}

fn sketch_err(e: super::ddsketch::SketchError) -> DataFusionError {
    DataFusionError::Execution(format!("ddsketch_quantile: {e}"))
}

impl Accumulator for DDSketchAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for v in finite_values(&values[0]) {
            self.sketch.add(v);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.sketch.quantile(self.q)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) - std::mem::size_of_val(&self.sketch) + self.sketch.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let s = self.sketch.to_state();
        let bins = ListArray::from_iter_primitive::<UInt64Type, _, _>(std::iter::once(Some(
            s.bins.iter().map(|c| Some(*c)),
        )));
        Ok(vec![
            ScalarValue::Float64(Some(s.alpha)),
            ScalarValue::UInt64(Some(s.max_buckets)),
            ScalarValue::UInt64(Some(s.count)),
            ScalarValue::UInt64(Some(s.zero_count)),
            ScalarValue::Float64(Some(s.min)),
            ScalarValue::Float64(Some(s.max)),
            ScalarValue::Int32(Some(s.offset)),
            ScalarValue::List(Arc::new(bins)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        if states.len() != 8 {
            return Err(DataFusionError::Internal(format!(
                "ddsketch_quantile: expected 8 state fields, got {}",
                states.len()
            )));
        }
        let alpha = states[0].as_primitive::<Float64Type>();
        let max_buckets = states[1].as_primitive::<UInt64Type>();
        let count = states[2].as_primitive::<UInt64Type>();
        let zero = states[3].as_primitive::<UInt64Type>();
        let min = states[4].as_primitive::<Float64Type>();
        let max = states[5].as_primitive::<Float64Type>();
        let offset = states[6].as_primitive::<Int32Type>();
        let bins = states[7].as_list::<i32>();
        for i in 0..alpha.len() {
            if alpha.is_null(i) || bins.is_null(i) {
                continue;
            }
            let b = bins.value(i);
            let state = DDSketchState {
                alpha: alpha.value(i),
                max_buckets: max_buckets.value(i),
                count: count.value(i),
                zero_count: zero.value(i),
                min: min.value(i),
                max: max.value(i),
                offset: offset.value(i),
                bins: b.as_primitive::<UInt64Type>().values().to_vec(),
            };
            let part = DDSketch::from_state(state).map_err(sketch_err)?;
            self.sketch.merge(&part).map_err(sketch_err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Float64Array;

    #[test]
    fn exact_state_round_trip_and_merge() {
        let mut a = QuantileExactAccumulator {
            q: 0.5,
            values: vec![],
        };
        a.update_batch(&[Arc::new(Float64Array::from(vec![
            Some(1.0),
            None,
            Some(f64::NAN),
            Some(3.0),
        ])) as ArrayRef])
            .unwrap();
        let mut b = QuantileExactAccumulator {
            q: 0.5,
            values: vec![],
        };
        b.update_batch(&[Arc::new(Float64Array::from(vec![2.0, 10.0])) as ArrayRef])
            .unwrap();
        let st: Vec<ArrayRef> = a
            .state()
            .unwrap()
            .iter()
            .map(|s| s.to_array().unwrap())
            .collect();
        b.merge_batch(&st).unwrap();
        // values {1, 2, 3, 10}: median 2.5
        assert_eq!(b.evaluate().unwrap(), ScalarValue::Float64(Some(2.5)));
    }

    #[test]
    fn sketch_state_round_trip_and_merge() {
        let mut a = DDSketchAccumulator {
            q: 0.99,
            sketch: DDSketch::default(),
        };
        let mut b = DDSketchAccumulator {
            q: 0.99,
            sketch: DDSketch::default(),
        };
        let xs: Vec<f64> = (1..=1000).map(|i| i as f64).collect();
        a.update_batch(&[Arc::new(Float64Array::from(xs[..500].to_vec())) as ArrayRef])
            .unwrap();
        b.update_batch(&[Arc::new(Float64Array::from(xs[500..].to_vec())) as ArrayRef])
            .unwrap();
        let st: Vec<ArrayRef> = a
            .state()
            .unwrap()
            .iter()
            .map(|s| s.to_array().unwrap())
            .collect();
        b.merge_batch(&st).unwrap();
        let Ok(ScalarValue::Float64(Some(p99))) = b.evaluate() else {
            panic!()
        };
        // rank ⌊0.99·999⌋ = 989 → value 990.
        assert!((p99 - 990.0).abs() <= 0.01 * 990.0, "{p99}");
    }
}
