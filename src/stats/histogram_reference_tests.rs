//! Comparison of the histogram statistics with `tests/reference/histogram_reference.json`,
//! written by `tests/reference/generate_histogram_reference.py` (independent Python
//! transcriptions of Prometheus' `BucketQuantile`/`HistogramQuantile` and of the OTLP mapping
//! functions, 60-digit mpmath boundaries, scipy's `mannwhitneyu` on the expanded data).
//! `docs/statistics.md` lists the tolerances.

use super::binned_rank_test::{
    binned_mann_whitney, binned_quantile_ratio, probability_of_superiority,
};
use super::exponential_histogram::{
    lower_boundary, map_to_index, ExponentialBuckets, ExponentialHistogram,
};
use super::histogram_quantile::{
    bucket_quantile, merged_quantile, CumulativeBucket, ExplicitHistogram,
};
use super::Alternative;
use serde_json::Value;

const REFERENCE: &str = include_str!("../../tests/reference/histogram_reference.json");

/// Quantiles of explicit and exponential histograms against the Python transcriptions of
/// Prometheus: the same IEEE operations in the same order (and the same C library for `log2`,
/// `exp2`, `exp`), so bit-for-bit. Largest difference seen: 0.
const TRANSCRIPTION_ULPS: f64 = 0.0;
/// OTLP lower boundaries at positive scales against 60-digit mpmath, relative, per unit of
/// `1 + |ln boundary|` (the argument of `exp` is rounded, and `exp` amplifies that absolute
/// error into a relative one). Largest seen: 1.0·ε·(1 + |ln b|).
const BOUNDARY_RTOL_PER_LN: f64 = 4.0 * f64::EPSILON;
/// Binned Mann–Whitney p-values against scipy on the expanded data (scipy computes the tie
/// term as `Σ(t³ − t)` with cancellation, we as a sum of non-negative terms). Largest seen:
/// 5.6e-15.
const ASYMPTOTIC_P_RTOL: f64 = 1e-12;
/// U statistic against scipy (scipy sums midranks of up to 1e5 values). Largest seen: 0.
const U_RTOL: f64 = 1e-12;
/// Newcombe interval limits: our bisection vs `scipy.optimize.brentq` (xtol 1e-15). Largest seen:
/// 1.4e-16.
const ROOT_ATOL: f64 = 1e-12;

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

fn assert_ulps(actual: f64, expected: f64, ulps: f64, what: &str) {
    if expected.is_nan() {
        assert!(actual.is_nan(), "{what}: expected NaN, got {actual}");
        return;
    }
    if expected.is_infinite() || expected == 0.0 {
        assert_eq!(actual, expected, "{what}");
        return;
    }
    let err = (actual - expected).abs();
    assert!(
        err <= ulps * f64::EPSILON * expected.abs(),
        "{what}: got {actual:e}, reference {expected:e}, diff {err:e}"
    );
}

fn assert_rel(actual: f64, expected: f64, rtol: f64, what: &str) {
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
        err <= rtol * expected.abs() + 1e-300,
        "{what}: got {actual:e}, reference {expected:e}, rel err {:e} > {rtol:e}",
        err / expected.abs()
    );
}

#[test]
fn explicit_quantiles_match_prometheus_transcription() {
    let r = reference();
    let e = &r["explicit"];
    for case in e["otlp"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let h = ExplicitHistogram::new(nums(&case["bounds"]), nums(&case["counts"])).unwrap();
        for pair in case["quantiles"].as_array().unwrap() {
            let (q, want) = (num(&pair[0]), num(&pair[1]));
            assert_ulps(
                h.quantile(q),
                want,
                TRANSCRIPTION_ULPS,
                &format!("{name} q={q}"),
            );
        }
    }
    for case in e["classic"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let buckets: Vec<CumulativeBucket> = case["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| CumulativeBucket {
                upper_bound: num(&b[0]),
                count: num(&b[1]),
            })
            .collect();
        for pair in case["quantiles"].as_array().unwrap() {
            let (q, want) = (num(&pair[0]), num(&pair[1]));
            let got = bucket_quantile(q, &mut buckets.clone()).value;
            assert_ulps(got, want, TRANSCRIPTION_ULPS, &format!("{name} q={q}"));
        }
    }
    let m = &e["merged"];
    let bounds = nums(&m["bounds"]);
    let parts: Vec<ExplicitHistogram> = m["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| ExplicitHistogram::new(bounds.clone(), nums(p)).unwrap())
        .collect();
    for pair in m["quantiles"].as_array().unwrap() {
        let (q, want) = (num(&pair[0]), num(&pair[1]));
        let got = merged_quantile(&parts, q).unwrap();
        assert_ulps(got, want, TRANSCRIPTION_ULPS, &format!("merged q={q}"));
    }
}

#[test]
fn exponential_boundaries_and_mapping_match_spec() {
    let r = reference();
    let x = &r["exponential"];
    for b in x["boundaries"].as_array().unwrap() {
        let (index, scale) = (b["index"].as_i64().unwrap(), b["scale"].as_i64().unwrap());
        let got = lower_boundary(index, scale as i32);
        let what = format!("lower_boundary({index}, {scale})");
        assert_ulps(got, num(&b["transcription"]), TRANSCRIPTION_ULPS, &what);
        let exact = num(&b["exact"]);
        if exact.is_finite() {
            let rtol = BOUNDARY_RTOL_PER_LN * (1.0 + num(&b["ln_abs"]));
            assert_rel(got, exact, rtol, &format!("{what} vs mpmath"));
            if scale <= 0 {
                assert_eq!(got, exact, "{what} is exact at scale ≤ 0");
            }
        }
    }
    let mut checked_exact = 0;
    for m in x["map_to_index"].as_array().unwrap() {
        let (v, scale) = (num(&m["value"]), m["scale"].as_i64().unwrap() as i32);
        let got = map_to_index(v, scale).expect("positive finite value") as i64;
        assert_eq!(
            got,
            m["transcription"].as_i64().unwrap(),
            "map_to_index({v:e}, {scale})"
        );
        if let Some(exact) = m["exact"].as_i64() {
            assert_eq!(got, exact, "map_to_index({v:e}, {scale}) vs mpmath");
            checked_exact += 1;
        }
    }
    assert!(checked_exact > 1000);
}

fn exp_buckets(v: &Value) -> ExponentialBuckets {
    ExponentialBuckets {
        offset: v["offset"].as_i64().unwrap() as i32,
        bucket_counts: nums(&v["counts"]),
    }
}

#[test]
fn exponential_quantiles_match_prometheus_native_transcription() {
    let r = reference();
    for case in r["exponential"]["quantile"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let h = &case["histogram"];
        let hist = ExponentialHistogram {
            scale: h["scale"].as_i64().unwrap() as i32,
            zero_threshold: num(&h["zero_threshold"]),
            zero_count: num(&h["zero_count"]),
            positive: exp_buckets(&h["positive"]),
            negative: exp_buckets(&h["negative"]),
        };
        for pair in case["quantiles"].as_array().unwrap() {
            let (q, want) = (num(&pair[0]), num(&pair[1]));
            assert_ulps(
                hist.quantile(q),
                want,
                TRANSCRIPTION_ULPS,
                &format!("{name} q={q}"),
            );
        }
    }
}

#[test]
fn binned_tests_match_scipy_on_expanded_data() {
    let r = reference();
    let b = &r["binned"];
    let bounds = nums(&b["bounds"]);
    for case in b["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (x, y) = (nums(&case["x"]), nums(&case["y"]));
        for (key, alt) in [
            ("two-sided", Alternative::TwoSided),
            ("greater", Alternative::Greater),
            ("less", Alternative::Less),
        ] {
            let got = binned_mann_whitney(&x, &y, alt);
            let want = &case[key];
            assert_rel(got.u, num(&want["u"]), U_RTOL, &format!("{name} {key} U"));
            assert_rel(
                got.p_value,
                num(&want["p"]),
                ASYMPTOTIC_P_RTOL,
                &format!("{name} {key} p"),
            );
        }
        let effect = probability_of_superiority(&x, &y, 0.95);
        match (&case["effect"], effect) {
            (Value::Null, None) => {}
            (want, Some(got)) => {
                assert_eq!(got.estimate, num(&want["estimate"]), "{name} θ");
                for (g, w, end) in [
                    (got.low, &want["low"], "low"),
                    (got.high, &want["high"], "high"),
                ] {
                    let w = num(w);
                    assert!((g - w).abs() <= ROOT_ATOL, "{name} θ {end}: {g} vs {w}");
                }
            }
            (want, got) => panic!("{name}: effect {got:?}, reference {want}"),
        }
        let Some(ratios) = case["quantile_ratio"].as_array() else {
            continue;
        };
        let hx = ExplicitHistogram::new(bounds.clone(), x.clone()).unwrap();
        let hy = ExplicitHistogram::new(bounds.clone(), y.clone()).unwrap();
        for want in ratios {
            let q = num(&want["q"]);
            let got = binned_quantile_ratio(&hx, &hy, q, 0.95).unwrap();
            let what = format!("{name} ratio q={q}");
            assert_ulps(got.estimate, num(&want["estimate"]), 0.0, &what);
            let pair = |v: &Value| (num(&v[0]), num(&v[1]));
            assert_eq!(
                (got.baseline.bucket.low, got.baseline.bucket.high),
                pair(&want["baseline_bucket"]),
                "{what}"
            );
            assert_eq!(
                (got.canary.bucket.low, got.canary.bucket.high),
                pair(&want["canary_bucket"]),
                "{what}"
            );
            assert_eq!(
                (got.resolution.low, got.resolution.high),
                pair(&want["resolution"]),
                "{what}"
            );
            match (&want["confidence_interval"], got.confidence_interval) {
                (Value::Null, None) => {}
                (w, Some(ci)) => assert_eq!((ci.low, ci.high), pair(w), "{what} CI"),
                (w, g) => panic!("{what}: CI {g:?}, reference {w}"),
            }
        }
    }
}
