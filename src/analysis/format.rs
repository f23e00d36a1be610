//! How numbers read in comparison reasons: values in their unit and p-values with their
//! relation, shared by the span, Kayenta and metric judges.

/// A value in its unit: ratios as a signed percent change, percentage points, probabilities
/// and plain values, milliseconds otherwise.
pub fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "ratio" => {
            if v.is_infinite() {
                "unbounded".into()
            } else {
                format!("{:+.1}%", (v - 1.0) * 100.0)
            }
        }
        "percentage_points" => format!("{v:+.2} pp"),
        "probability" => format!("{v:.3}"),
        "value" => format!("{v:.4}"),
        _ => format!("{v:.3} ms"),
    }
}

/// A p-value as text with its relation: `p = 0.012`, `p = 3.4e-5`, `p < 1e-10`.
pub fn fmt_p(p: f64) -> String {
    if p < 1e-10 {
        "< 1e-10".into()
    } else if p < 0.001 {
        format!("= {p:.1e}")
    } else {
        format!("= {p:.3}")
    }
}
