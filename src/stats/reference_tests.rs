//! Comparison with scipy/numpy reference values.
//!
//! `tests/reference/generate_stats_reference.py` computes the values with the scipy/numpy
//! function named in each doc comment and writes `tests/reference/stats_reference.json`, which
//! is embedded here at compile time (python is not needed to run the tests). The tolerances
//! below are named so that a loosening shows up in review; `docs/statistics.md` lists them.

use super::distributions::*;
use super::fisher::fisher_exact;
use super::hodges_lehmann::{hodges_lehmann, moses_rank};
use super::mann_whitney::{mann_whitney_u, mann_whitney_u_exact_when_possible};
use super::multiple_testing::benjamini_hochberg;
use super::power::{mde_log_shift, mde_rate_difference};
use super::proportion::{newcombe_difference, rate_ratio, wilson_interval};
use super::quantile::{quantile_ci_ranks, quantile_type7};
use super::quantile_difference::{quantile_difference, quantile_ratio};
use super::{Alternative, Estimate};
use serde_json::Value;

const REFERENCE: &str = include_str!("../../tests/reference/stats_reference.json");

/// Normal cdf/sf/ppf and ln Γ against scipy. In the far tail erfc's relative condition number
/// grows like x², so two correct implementations drift apart: at x = −30 scipy is 5.7e-14 and
/// we are 3.3e-14 from the 40-digit mpmath value; elsewhere they agree to a few ulps.
const NORMAL_RTOL: f64 = 1e-13;
/// Binomial pmf/cdf/sf for n up to 1e7 (Loader + continued fraction vs. scipy/boost). The
/// largest difference seen is 2.8e-12 (n = 1e7 near the mean, where the continued fraction needs
/// thousands of terms).
const BINOMIAL_RTOL: f64 = 1e-11;
/// p-values of exact tests (Mann–Whitney exact distribution, Fisher with total count < 1e5).
const EXACT_P_RTOL: f64 = 1e-12;
/// Fisher p-values against scipy when the table total is ≥ 1e5: scipy's hypergeometric tails
/// are themselves only ~1e-9 accurate there (checked against 50-digit mpmath sums).
const SCIPY_LARGE_COUNT_RTOL: f64 = 2e-9;
/// Fisher one-sided p-values against the 50-digit mpmath tail sums (largest seen: 2.4e-11 for
/// a 2e7-count table with a cell of 10).
const MPMATH_LARGE_COUNT_RTOL: f64 = 1e-10;
/// p-values from the normal approximation (same formula as scipy; largest seen 1.6e-14).
const ASYMPTOTIC_P_RTOL: f64 = 1e-12;
/// Closed-form intervals (Wilson, Newcombe, Katz, quantile ratio/difference, BH, MDE).
const FORMULA_RTOL: f64 = 1e-12;
/// Absolute floor for quantities that are (near) zero.
const ATOL: f64 = 1e-300;

fn reference() -> Value {
    serde_json::from_str(REFERENCE).expect("reference JSON parses")
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Null => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        other => other
            .as_f64()
            .unwrap_or_else(|| panic!("not a number: {other}")),
    }
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(num).collect()
}

fn assert_close(actual: f64, expected: f64, rtol: f64, what: &str) {
    if expected.is_nan() {
        assert!(actual.is_nan(), "{what}: expected NaN, got {actual}");
        return;
    }
    if expected.is_infinite() {
        assert_eq!(actual, expected, "{what}");
        return;
    }
    let err = (actual - expected).abs();
    assert!(
        err <= rtol * expected.abs() + ATOL,
        "{what}: got {actual:e}, scipy {expected:e}, rel err {:e} > {rtol:e}",
        err / expected.abs()
    );
}

fn assert_estimate(actual: Option<Estimate>, expected: &Value, rtol: f64, what: &str) {
    match (actual, expected) {
        (None, Value::Null) => {}
        (Some(a), Value::Object(e)) => {
            assert_close(
                a.estimate,
                num(&e["estimate"]),
                rtol,
                &format!("{what} estimate"),
            );
            assert_close(a.low, num(&e["low"]), rtol, &format!("{what} low"));
            assert_close(a.high, num(&e["high"]), rtol, &format!("{what} high"));
        }
        (a, e) => panic!("{what}: got {a:?}, reference {e}"),
    }
}

fn alternative(name: &str) -> Alternative {
    match name {
        "two-sided" => Alternative::TwoSided,
        "greater" => Alternative::Greater,
        "less" => Alternative::Less,
        other => panic!("unknown alternative {other}"),
    }
}

#[test]
fn normal_and_gamma_match_scipy() {
    let r = reference();
    let d = &r["distributions"];
    for pair in d["normal_cdf"].as_array().unwrap() {
        let (x, e) = (num(&pair[0]), num(&pair[1]));
        assert_close(normal_cdf(x), e, NORMAL_RTOL, &format!("normal_cdf({x})"));
    }
    for pair in d["normal_sf"].as_array().unwrap() {
        let (x, e) = (num(&pair[0]), num(&pair[1]));
        assert_close(normal_sf(x), e, NORMAL_RTOL, &format!("normal_sf({x})"));
    }
    for pair in d["normal_ppf"].as_array().unwrap() {
        let (p, e) = (num(&pair[0]), num(&pair[1]));
        assert_close(normal_ppf(p), e, NORMAL_RTOL, &format!("normal_ppf({p})"));
    }
    for pair in d["ln_gamma"].as_array().unwrap() {
        let (x, e) = (num(&pair[0]), num(&pair[1]));
        assert_close(ln_gamma(x), e, NORMAL_RTOL, &format!("ln_gamma({x})"));
    }
}

#[test]
fn binomial_matches_scipy() {
    let r = reference();
    for c in r["distributions"]["binomial"].as_array().unwrap() {
        let (k, n, p) = (
            c["k"].as_u64().unwrap(),
            c["n"].as_u64().unwrap(),
            num(&c["p"]),
        );
        let what = format!("binomial k={k} n={n} p={p}");
        assert_close(
            binomial_pmf(k, n, p),
            num(&c["pmf"]),
            BINOMIAL_RTOL,
            &format!("{what} pmf"),
        );
        assert_close(
            binomial_cdf(k, n, p),
            num(&c["cdf"]),
            BINOMIAL_RTOL,
            &format!("{what} cdf"),
        );
        assert_close(
            binomial_sf(k, n, p),
            num(&c["sf"]),
            BINOMIAL_RTOL,
            &format!("{what} sf"),
        );
    }
}

#[test]
fn quantiles_match_numpy_and_binomial_rule() {
    let r = reference();
    let qs = &r["quantiles"];
    for c in qs["type7"].as_array().unwrap() {
        let sample = nums(&qs["samples"][c["sample"].as_str().unwrap()]);
        let q = num(&c["q"]);
        let got = quantile_type7(&sample, q);
        // Same arithmetic as numpy's lerp: bit-for-bit.
        assert_eq!(
            got,
            num(&c["value"]),
            "numpy.quantile({}, {q})",
            c["sample"]
        );
    }
    for c in qs["ci_ranks"].as_array().unwrap() {
        let n = c["n"].as_u64().unwrap() as usize;
        let (q, conf) = (num(&c["q"]), num(&c["confidence"]));
        let expected = c["ranks"].as_array().map(|a| {
            (
                a[0].as_u64().unwrap() as usize,
                a[1].as_u64().unwrap() as usize,
            )
        });
        assert_eq!(
            quantile_ci_ranks(n, q, conf),
            expected,
            "ranks n={n} q={q} conf={conf}"
        );
    }
}

#[test]
fn mann_whitney_matches_scipy() {
    let r = reference();
    for c in r["mann_whitney"].as_array().unwrap() {
        let (x, y) = (nums(&c["x"]), nums(&c["y"]));
        let name = c["name"].as_str().unwrap();
        for alt in ["two-sided", "greater", "less"] {
            let got = mann_whitney_u(&x, &y, alternative(alt));
            let e = &c[alt];
            assert_close(got.u, num(&e["u"]), 1e-15, &format!("{name} {alt} U"));
            let rtol = if got.exact {
                EXACT_P_RTOL
            } else {
                ASYMPTOTIC_P_RTOL
            };
            assert_close(got.p_value, num(&e["p"]), rtol, &format!("{name} {alt} p"));
            let expect_exact = name.starts_with("exact");
            assert_eq!(got.exact, expect_exact, "{name}: method choice");
        }
    }
}

/// The small-sample test (exact whenever there are no ties) against scipy's `method="exact"`
/// at 20/80 … 99/150, and its tie fallback against `method="asymptotic"`
/// (`tests/reference/generate_small_sample_reference.py`).
#[test]
fn small_sample_mann_whitney_matches_scipy_exact() {
    let r: Value = serde_json::from_str(include_str!(
        "../../tests/reference/small_sample_reference.json"
    ))
    .expect("reference JSON parses");
    for c in r["mann_whitney"].as_array().unwrap() {
        let (x, y) = (nums(&c["x"]), nums(&c["y"]));
        let name = c["name"].as_str().unwrap();
        let exact = c["method"] == "exact";
        for alt in ["two-sided", "greater", "less"] {
            let got = mann_whitney_u_exact_when_possible(&x, &y, alternative(alt));
            let e = &c[alt];
            assert_eq!(got.exact, exact, "{name}: method choice");
            assert_close(got.u, num(&e["u"]), 1e-15, &format!("{name} {alt} U"));
            let rtol = if exact {
                EXACT_P_RTOL
            } else {
                ASYMPTOTIC_P_RTOL
            };
            assert_close(got.p_value, num(&e["p"]), rtol, &format!("{name} {alt} p"));
        }
    }
}

#[test]
fn hodges_lehmann_matches_brute_force() {
    let r = reference();
    for c in r["hodges_lehmann"].as_array().unwrap() {
        let (x, y) = (nums(&c["x"]), nums(&c["y"]));
        let conf = num(&c["confidence"]);
        let what = format!("{} @ {conf}", c["name"]);
        assert_eq!(
            moses_rank(x.len(), y.len(), conf),
            c["k"].as_u64(),
            "{what}: Moses rank"
        );
        // Selection returns exactly the brute-force order statistics.
        assert_estimate(hodges_lehmann(&x, &y, conf), &c["result"], 0.0, &what);
    }
}

#[test]
fn quantile_ratio_and_difference_match_reference() {
    let r = reference();
    let qd = &r["quantile_difference"];
    for c in qd["cases"].as_array().unwrap() {
        let x = nums(&qd[c["x"].as_str().unwrap()]);
        let y = nums(&qd[c["y"].as_str().unwrap()]);
        let (q, conf) = (num(&c["q"]), num(&c["confidence"]));
        let what = format!("{}/{} q={q} conf={conf}", c["y"], c["x"]);
        assert_estimate(
            quantile_ratio(&x, &y, q, conf),
            &c["ratio"],
            FORMULA_RTOL,
            &what,
        );
        assert_estimate(
            quantile_difference(&x, &y, q, conf),
            &c["difference"],
            FORMULA_RTOL,
            &what,
        );
    }
}

#[test]
fn fisher_matches_scipy() {
    let r = reference();
    for c in r["fisher"].as_array().unwrap() {
        let t = c["table"].as_array().unwrap();
        let cell = |i: usize, j: usize| t[i][j].as_u64().unwrap();
        let table = [[cell(0, 0), cell(0, 1)], [cell(1, 0), cell(1, 1)]];
        let large = table.iter().flatten().sum::<u64>() >= 100_000;
        let rtol = if large {
            SCIPY_LARGE_COUNT_RTOL
        } else {
            EXACT_P_RTOL
        };
        for alt in ["two-sided", "greater", "less"] {
            let got = fisher_exact(table, alternative(alt));
            let e = &c[alt];
            let what = format!("fisher {table:?} {alt}");
            assert_close(got.p_value, num(&e["p"]), rtol, &format!("{what} p"));
            if large && alt != "two-sided" {
                let exact = num(&c[format!("{alt}_mpmath")]);
                assert_close(
                    got.p_value,
                    exact,
                    MPMATH_LARGE_COUNT_RTOL,
                    &format!("{what} mpmath"),
                );
            }
            assert_close(
                got.odds_ratio,
                num(&e["odds_ratio"]),
                1e-15,
                &format!("{what} OR"),
            );
        }
    }
}

#[test]
fn proportions_match_reference() {
    let r = reference();
    let p = &r["proportions"];
    for c in p["wilson"].as_array().unwrap() {
        let (k, n, conf) = (num(&c["k"]), num(&c["n"]), num(&c["confidence"]));
        let w = wilson_interval(k, n, conf);
        let what = format!("wilson {k}/{n} @ {conf}");
        assert_close(w.low, num(&c["low"]), FORMULA_RTOL, &format!("{what} low"));
        assert_close(
            w.high,
            num(&c["high"]),
            FORMULA_RTOL,
            &format!("{what} high"),
        );
    }
    for c in p["newcombe"].as_array().unwrap() {
        let g = |f: &str| num(&c[f]);
        let e = newcombe_difference(g("k1"), g("n1"), g("k2"), g("n2"), g("confidence"));
        assert_estimate(Some(e), c, FORMULA_RTOL, &format!("newcombe {c}"));
    }
    for c in p["rate_ratio"].as_array().unwrap() {
        let g = |f: &str| num(&c[f]);
        let e = rate_ratio(g("k1"), g("n1"), g("k2"), g("n2"), g("confidence"));
        assert_estimate(e, c, FORMULA_RTOL, &format!("rate ratio {c}"));
    }
}

#[test]
fn benjamini_hochberg_matches_scipy() {
    let r = reference();
    for c in r["benjamini_hochberg"].as_array().unwrap() {
        let got = benjamini_hochberg(&nums(&c["p"]));
        for (g, e) in got.iter().zip(nums(&c["adjusted"])) {
            assert_close(*g, e, FORMULA_RTOL, &format!("BH {}", c["p"]));
        }
    }
}

#[test]
fn power_matches_reference() {
    let r = reference();
    for c in r["power"]["rate_difference"].as_array().unwrap() {
        let g = |f: &str| num(&c[f]);
        let got = mde_rate_difference(g("n1"), g("n2"), g("p_base"), g("alpha"), g("power"));
        assert_close(got, g("mde"), 1e-9, &format!("mde_rate_difference {c}"));
    }
    for c in r["power"]["log_shift"].as_array().unwrap() {
        let g = |f: &str| num(&c[f]);
        let got = mde_log_shift(g("n1"), g("n2"), g("sd_log"), g("alpha"), g("power"));
        assert_close(got, g("mde"), FORMULA_RTOL, &format!("mde_log_shift {c}"));
    }
}
