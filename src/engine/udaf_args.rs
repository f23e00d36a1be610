//! Reading constant arguments of canalyst's aggregate functions at planning time.
//!
//! Shared by the sample UDAFs ([`super::udaf`]) and the histogram UDAFs
//! ([`super::histogram_udaf`]); it lives below both so that neither imports the other.

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Schema};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use std::sync::Arc;

/// Value of a constant argument (a literal), as DataFusion's own percentile functions read it.
pub(super) fn constant_f64(expr: &Arc<dyn PhysicalExpr>, fname: &str, what: &str) -> Result<f64> {
    let batch = RecordBatch::new_empty(Arc::new(Schema::empty()));
    let v = match expr.evaluate(&batch) {
        Ok(ColumnarValue::Scalar(s)) => s,
        _ => return plan_err!("{fname}: {what} must be a constant"),
    };
    match v.cast_to(&DataType::Float64)? {
        ScalarValue::Float64(Some(x)) => Ok(x),
        _ => plan_err!("{fname}: {what} must be a non-null number"),
    }
}
