//! Comparison of [`super::sequential`] with `savvi` 0.3.1 (Lindon & Malek's own package).
//!
//! `tests/reference/generate_sequential_reference.py` runs `savvi.multinomial.Multinomial` look
//! by look and writes `tests/reference/sequential_reference.json`, embedded here at compile time
//! (python is not needed to run the tests).

use super::sequential::SequentialCountTest;
use serde_json::Value;

const REFERENCE: &str = include_str!("../../tests/reference/sequential_reference.json");
/// log e-values: the same closed form as savvi (differences of ln Γ), so the rounding error is
/// relative to the ln Γ terms, ≈ n ln n for n events, not to the (small) difference; the
/// absolute tolerance is this factor times `1 + n ln(n + 2)` (largest seen: 3e-11 at n = 2e4).
const LOG_E_ULPS: f64 = 1e-14;
/// Confidence-sequence bounds against scipy brentq on the same inequality.
const SHARE_ATOL: f64 = 1e-10;
/// Against savvi's own bounds, which cvxpy solves only to its solver tolerance (largest
/// difference seen 6e-9).
const SAVVI_SHARE_ATOL: f64 = 1e-7;

fn f(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

#[test]
fn matches_savvi_multinomial() {
    let doc: Value = serde_json::from_str(REFERENCE).expect("reference JSON parses");
    let mut checked = 0;
    for case in doc["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let mut t = SequentialCountTest::new(f(&case["rho"]), f(&case["alpha"]), f(&case["k"]))
            .expect("valid parameters");
        let looks = case["looks"].as_array().expect("looks");
        let expected = case["expected"].as_array().expect("expected");
        assert_eq!(looks.len(), expected.len(), "{name}");
        for (i, (look, want)) in looks.iter().zip(expected).enumerate() {
            let (c, s) = (look[0].as_u64().unwrap(), look[1].as_u64().unwrap());
            let got = t.update(c, s);
            let ctx = format!("{name} look {i}");
            assert_eq!(got.canary, want["canary"].as_u64().unwrap(), "{ctx}");
            let le = f(&want["log_e_value"]);
            let n = (got.canary + got.stable) as f64;
            let tol = LOG_E_ULPS * (1.0 + n * (n + 2.0).ln());
            assert!(
                (got.log_e_value - le).abs() <= tol,
                "{ctx}: log e {} vs {le}",
                got.log_e_value
            );
            let p = f(&want["p_value"]);
            assert!(
                (got.p_value - p).abs() <= tol * p,
                "{ctx}: p {} vs {p}",
                got.p_value
            );
            for (key, tol) in [("share", SHARE_ATOL), ("savvi_share", SAVVI_SHARE_ATOL)] {
                let (lo, hi) = (f(&want[key][0]), f(&want[key][1]));
                assert!(
                    (got.share.low - lo).abs() <= tol && (got.share.high - hi).abs() <= tol,
                    "{ctx}: share [{}, {}] vs {key} [{lo}, {hi}]",
                    got.share.low,
                    got.share.high
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} looks checked");
}
