#!/usr/bin/env python3
"""Reference values for canalyst's histogram statistics (`src/stats/histogram_quantile.rs`,
`src/stats/exponential_histogram.rs`, `src/stats/binned_rank_test.rs`).

Independent Python transcriptions of
  * Prometheus `promql/quantile.go` `BucketQuantile` (classic histograms, with
    `coalesceBuckets`, `ensureMonotonicAndIgnoreSmallDeltas` and `util/almost.Equal`) and
    `HistogramQuantile` (native/exponential histograms, with the bucket order and zero-threshold
    clamping of `model/histogram/float_histogram.go` `allFloatBucketIterator`);
  * the OpenTelemetry data model's reference mapping functions (`MapToIndexScale0`, negative
    scale shift, logarithm mapping with the power-of-two special case, `LowerBoundary`),
    also checked against 60-digit mpmath;
  * scipy.stats.mannwhitneyu on the *expanded* binned data (bin k -> value k), the Newcombe
    (2006) / Hanley-McNeil score interval solved with scipy.optimize.brentq, and the
    order-statistic ranks of the quantile interval from scipy.stats.binom.

Run from the repository root:

    python3 tests/reference/generate_histogram_reference.py

It rewrites tests/reference/histogram_reference.json deterministically (seeded RNG). The Rust
tests embed the JSON at compile time; python is not needed to run them.
"""

import bisect
import json
import math
import pathlib
import struct

import mpmath
import numpy as np
import scipy
from scipy import stats
from scipy.optimize import brentq

RNG = np.random.default_rng(20261122)
OUT = pathlib.Path(__file__).with_name("histogram_reference.json")
INF = float("inf")


def fl(v):
    """JSON-safe float: None for NaN, strings for infinities."""
    v = float(v)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


# ------------------------------------------------------------------ Prometheus classic
MIN_NORMAL = struct.unpack("<d", struct.pack("<Q", 0x0010000000000000))[0]


def almost_equal(a, b, eps):
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < MIN_NORMAL:
        return diff < eps * MIN_NORMAL
    return diff / min(abs_sum, 1.7976931348623157e308) < eps


def go_div(a, b):
    """IEEE 754 division as in Go (Python raises on division by zero)."""
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(INF, a) * math.copysign(1.0, b)
    return a / b


def bucket_quantile(q, buckets):
    """promql BucketQuantile. buckets: list of [upper_bound, cumulative_count]."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -INF
    if q > 1:
        return INF
    buckets = sorted([list(b) for b in buckets], key=lambda b: b[0])
    if buckets[-1][0] != INF:
        return math.nan
    merged = [buckets[0]]
    for b in buckets[1:]:
        if b[0] == merged[-1][0]:
            merged[-1][1] += b[1]
        else:
            merged.append(b)
    buckets = merged
    prev = buckets[0][1]
    for i in range(1, len(buckets)):
        curr = buckets[i][1]
        if curr == prev:
            continue
        if almost_equal(prev, curr, 1e-12):
            buckets[i][1] = prev
            continue
        if curr < prev:
            buckets[i][1] = prev
            continue
        prev = curr
    if len(buckets) < 2:
        return math.nan
    observations = buckets[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = len(buckets) - 1
    for i in range(len(buckets) - 1):
        if buckets[i][1] >= rank:
            b = i
            break
    if b == len(buckets) - 1:
        return buckets[-2][0]
    if b == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start, end, count = 0.0, buckets[b][0], buckets[b][1]
    if b > 0:
        start = buckets[b - 1][0]
        count -= buckets[b - 1][1]
        rank -= buckets[b - 1][1]
    return start + (end - start) * go_div(rank, count)


def otlp_to_classic(bounds, counts):
    out, running = [], 0.0
    for i, c in enumerate(counts):
        running += c
        out.append([bounds[i] if i < len(bounds) else INF, running])
    return out


QS = [-0.5, 0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0, 1.5]


def explicit():
    latency_bounds = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                      7.5, 10.0]
    cases = {
        "simple": ([1.0, 2.0], [10.0, 10.0, 0.0]),
        "inf_bucket_heavy": ([1.0, 2.0], [1.0, 1.0, 8.0]),
        "negative_first_bound": ([-1.0, 0.0, 2.0], [3.0, 2.0, 5.0, 1.0]),
        "zero_first_bound": ([0.0, 1.0, 5.0], [4.0, 3.0, 2.0, 1.0]),
        "empty_middle_buckets": ([1.0, 2.0, 4.0, 8.0, 16.0], [0.0, 5.0, 0.0, 0.0, 5.0, 0.0]),
        "single_bucket_all": ([3.0], [0.0, 0.0]),
        "only_inf": ([], [7.0]),
        "weighted_counts": ([0.1, 0.2, 0.4], [2.5, 0.25, 1e-3, 3.75]),
        "otel_default_bounds": ([0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000,
                                 7500, 10000],
                                [float(c) for c in RNG.multinomial(100000, np.r_[
                                    0.01, np.full(14, 0.07), 0.01] / np.r_[
                                    0.01, np.full(14, 0.07), 0.01].sum())]),
        "latency_lognormal": (latency_bounds,
                              [float(c) for c in np.bincount(
                                  np.searchsorted(latency_bounds,
                                                  RNG.lognormal(-3, 1.2, 20000), side="left"),
                                  minlength=len(latency_bounds) + 1)]),
        "huge_counts": ([1.0, 10.0, 100.0], [3e15, 4e15, 2e15, 1e15]),
    }
    out = []
    for name, (bounds, counts) in cases.items():
        classic = otlp_to_classic(bounds, counts)
        out.append({"name": name, "bounds": bounds, "counts": counts,
                    "quantiles": [[fl(q), fl(bucket_quantile(q, classic))] for q in QS]})
    # Classic-layout cases exercising sorting, coalescing and the fix-ups.
    classic_cases = {
        "unsorted": [[INF, 10.0], [1.0, 2.0], [0.5, 1.0], [2.0, 8.0]],
        "duplicate_bounds": [[1.0, 2.0], [1.0, 3.0], [2.0, 9.0], [INF, 10.0]],
        "non_monotonic": [[1.0, 10.0], [2.0, 8.0], [3.0, 15.0], [INF, 20.0]],
        "precision_noise": [[1.0, 1e15], [2.0, 1e15 + 0.5], [3.0, 1e15 - 0.25],
                            [INF, 2e15]],
        "no_inf": [[1.0, 1.0], [2.0, 2.0]],
        "inf_only": [[INF, 5.0]],
        "zero_total": [[1.0, 0.0], [INF, 0.0]],
        "negative_bounds": [[-5.0, 1.0], [-1.0, 4.0], [3.0, 8.0], [INF, 8.0]],
    }
    classic_out = []
    for name, b in classic_cases.items():
        classic_out.append({"name": name,
                            "buckets": [[fl(u), c] for u, c in b],
                            "quantiles": [[fl(q), fl(bucket_quantile(q, b))] for q in QS]})
    # Merged histograms: sum by bucket, then quantile.
    bounds = [1.0, 2.0, 5.0, 10.0]
    parts = [[float(c) for c in RNG.integers(0, 50, 5)] for _ in range(4)]
    summed = [sum(p[i] for p in parts) for i in range(5)]
    merged = {"bounds": bounds, "parts": parts,
              "quantiles": [[q, fl(bucket_quantile(q, otlp_to_classic(bounds, summed)))]
                            for q in [0.1, 0.5, 0.9, 0.99]]}
    return {"otlp": out, "classic": classic_out, "merged": merged}


# ------------------------------------------------------------------ OTLP exponential
def map_to_index_scale0(value):
    raw = struct.unpack("<Q", struct.pack("<d", value))[0]
    raw_exponent = (raw & 0x7FF0000000000000) >> 52
    raw_fragment = raw & ((1 << 52) - 1)
    if raw_exponent == 0:
        lz = 64 - (raw_fragment - 1).bit_length()
        raw_exponent -= lz - 12
    ieee_exponent = raw_exponent - 1023
    if raw_fragment == 0:
        return ieee_exponent - 1
    return ieee_exponent


def map_to_index(value, scale):
    value = abs(value)
    if scale <= 0:
        return map_to_index_scale0(value) >> -scale
    frac, exp = math.frexp(value)
    if frac == 0.5:
        return ((exp - 1) << scale) - 1
    scale_factor = math.ldexp(math.log2(math.e), scale)
    return min(math.floor(math.log(value) * scale_factor), (1024 << scale) - 1)


def lower_boundary(index, scale):
    if scale <= 0:
        e = index << -scale
        # Rust's libm::ldexp saturates to inf / 0; Python's raises on overflow.
        return INF if e >= 1024 else math.ldexp(1.0, max(e, -4000))
    inverse_factor = math.ldexp(math.log(2), -scale)
    return 2.0 * math.exp(float(index - (1 << scale)) * inverse_factor)


mpmath.mp.dps = 60


def exact_index(value, scale):
    """ceil(log2(v)·2^scale) − 1 in 60-digit arithmetic, or None within 1e-9 of a boundary."""
    t = mpmath.log(mpmath.mpf(value), 2) * mpmath.mpf(2) ** scale
    k = mpmath.nint(t)
    if abs(t - k) < mpmath.mpf("1e-9") and t != k:
        return None
    return int(mpmath.ceil(t)) - 1


def exponential():
    # Boundaries: transcription (bitwise) and 60-digit truth.
    boundaries = []
    for scale in [-10, -4, -1, 0, 1, 2, 3, 8, 14, 20]:
        top = map_to_index(1.7976931348623157e308, scale)
        bottom = map_to_index(5e-324, scale)
        idx = sorted({0, 1, -1, 5, -7, 100, -100, 1 << max(scale, 0), top, top - 1, bottom,
                      bottom + 1, 12345 % (top + 1), -(54321 % (-bottom))})
        for i in idx:
            if scale > 0:
                exact = mpmath.mpf(2) ** (mpmath.mpf(i) / 2 ** scale)
            else:
                exact = mpmath.mpf(2) ** (i * 2 ** -scale)
            boundaries.append({"index": i, "scale": scale,
                               "transcription": fl(lower_boundary(i, scale)),
                               "exact": fl(float(exact)) if 2.3e-308 < exact < 1.7e308 else None,
                               "ln_abs": float(abs(mpmath.log(exact)))})
    # Index mapping.
    values = sorted(set(
        [float(v) for v in RNG.lognormal(0, 30, 60)]
        + [float(v) for v in RNG.uniform(0.5, 4.0, 40)]
        + [2.0 ** e for e in [-1074, -1070, -1023, -1022, -100, -1, 0, 1, 2, 10, 1023]]
        + [1.5, 3.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1e-300]
        + [math.nextafter(2.0 ** e, INF) for e in [-3, 0, 1, 7]]
        + [math.nextafter(2.0 ** e, 0.0) for e in [-3, 0, 1, 7]]))
    mapping = []
    for scale in [-10, -4, -3, -1, 0, 1, 2, 3, 5, 8, 12, 20]:
        for v in values:
            mapping.append({"value": v, "scale": scale, "transcription": map_to_index(v, scale),
                            "exact": exact_index(v, scale)})
    return {"boundaries": boundaries, "map_to_index": mapping,
            "quantile": exponential_quantiles()}


def all_buckets(h):
    scale, zt = h["scale"], h["zero_threshold"]
    out = []
    neg = h["negative"]
    for i in reversed(range(len(neg["counts"]))):
        idx = neg["offset"] + i
        upper = -lower_boundary(idx, scale)
        if upper > -zt:
            upper = -zt
        out.append((-lower_boundary(idx + 1, scale), upper, neg["counts"][i]))
    if h["zero_count"] > 0:
        out.append((-zt, zt, h["zero_count"]))
    pos = h["positive"]
    for i, c in enumerate(pos["counts"]):
        idx = pos["offset"] + i
        lower = lower_boundary(idx, scale)
        if lower < zt:
            lower = zt
        out.append((lower, lower_boundary(idx + 1, scale), c))
    return out


def histogram_quantile(q, h):
    """promql HistogramQuantile for a non-custom-bucket histogram whose Sum is not NaN."""
    if q < 0:
        return -INF
    if q > 1:
        return INF
    total = h["zero_count"] + sum(h["positive"]["counts"]) + sum(h["negative"]["counts"])
    if total == 0 or math.isnan(q):
        return math.nan
    buckets = all_buckets(h)
    forward = q < 0.5
    if forward:
        rank = q * total
    else:
        buckets = buckets[::-1]
        rank = (1 - q) * total
    count = 0.0
    lower = upper = bcount = 0.0
    for (lo, up, c) in buckets:
        lower, upper, bcount = lo, up, c
        if c == 0:
            continue
        count += c
        if count >= rank:
            break
    if lower < 0 and upper > 0:
        if len(h["negative"]["counts"]) == 0 and len(h["positive"]["counts"]) > 0:
            lower = 0.0
        elif len(h["positive"]["counts"]) == 0 and len(h["negative"]["counts"]) > 0:
            upper = 0.0
    if count > total:
        count = total
    if count < rank:
        return upper
    if forward:
        rank -= count - bcount
    else:
        rank = count - rank
    fraction = go_div(rank, bcount)
    if lower <= 0 and upper >= 0:
        return lower + (upper - lower) * fraction
    log_lower = math.log2(abs(lower))
    log_upper = math.log2(abs(upper))
    if lower > 0:
        return math.exp2(log_lower + (log_upper - log_lower) * fraction)
    return -math.exp2(log_upper + (log_lower - log_upper) * (1 - fraction))


def exp_hist(scale, pos_offset, pos, neg_offset=0, neg=(), zero_count=0.0, zt=0.0):
    return {"scale": scale, "zero_threshold": zt, "zero_count": zero_count,
            "positive": {"offset": pos_offset, "counts": [float(c) for c in pos]},
            "negative": {"offset": neg_offset, "counts": [float(c) for c in neg]}}


def from_values(values, scale, zt=0.0):
    pos, neg, zero = {}, {}, 0
    for v in values:
        if abs(v) <= zt:
            zero += 1
        elif v > 0:
            i = map_to_index(v, scale)
            pos[i] = pos.get(i, 0) + 1
        else:
            i = map_to_index(v, scale)
            neg[i] = neg.get(i, 0) + 1

    def dense(d):
        if not d:
            return 0, []
        lo, hi = min(d), max(d)
        return lo, [d.get(i, 0) for i in range(lo, hi + 1)]

    po, pc = dense(pos)
    no, nc = dense(neg)
    return exp_hist(scale, po, pc, no, nc, float(zero), zt)


def exponential_quantiles():
    cases = {
        "one_bucket_scale0": exp_hist(0, 0, [10]),
        "two_buckets_scale1": exp_hist(1, -1, [3, 0, 7]),
        "zero_bucket_positive_only": exp_hist(0, 0, [5], zero_count=5.0, zt=0.5),
        "zero_bucket_threshold_0": exp_hist(2, 3, [1, 2, 3], zero_count=4.0),
        "negative_only": exp_hist(0, 0, [], 0, [4, 6]),
        "negative_only_zero_bucket": exp_hist(0, 0, [], 0, [4, 6], zero_count=2.0, zt=0.25),
        "mixed_signs": exp_hist(3, -4, [1, 0, 2, 5, 1], -2, [2, 2, 1], zero_count=1.0, zt=0.1),
        "zero_threshold_inside_bucket": exp_hist(0, -2, [4, 4, 4], zero_count=3.0, zt=0.3),
        "weighted": exp_hist(-1, -1, [0.5, 2.25, 0.125]),
        "latency_scale8": from_values(list(RNG.lognormal(-3, 1.0, 5000)), 8),
        "latency_scale3_with_zeros": from_values(
            list(RNG.lognormal(2, 0.7, 3000)) + [0.0] * 40, 3, 1e-3),
        "symmetric_scale5": from_values(list(RNG.normal(0, 10, 2000)), 5, 1e-2),
        "empty": exp_hist(0, 0, []),
    }
    out = []
    for name, h in cases.items():
        out.append({"name": name, "histogram": h,
                    "quantiles": [[fl(q), fl(histogram_quantile(q, h))] for q in QS]})
    return out


# ------------------------------------------------------------------ binned rank test
def expand(counts):
    return np.repeat(np.arange(len(counts), dtype=float), np.asarray(counts, dtype=np.int64))


def newcombe_variance(t, n, m):
    star = (n + m) / 2 - 1
    return t * (1 - t) / (n * m) * (1 + star * ((1 - t) / (2 - t) + t / (1 + t)))


def score_interval(theta, n, m, conf):
    z = stats.norm.ppf(1 - (1 - conf) / 2)

    def f(t):
        return (theta - t) ** 2 - z * z * newcombe_variance(t, n, m)

    lo = 0.0 if theta == 0 or f(0.0) <= 0 else brentq(f, 0.0, theta if f(theta) < 0 else
                                                       theta - 1e-15, xtol=1e-15, rtol=1e-15)
    hi = 1.0 if theta == 1 or f(1.0) <= 0 else brentq(f, theta if f(theta) < 0 else
                                                       theta + 1e-15, 1.0, xtol=1e-15,
                                                       rtol=1e-15)
    return lo, hi


def quantile_ci_ranks(n, q, conf):
    half = (1 - conf) / 2
    r = np.arange(n)
    lower_ok = np.nonzero(stats.binom.cdf(r, n, q) <= half)[0]
    upper_ok = np.nonzero(stats.binom.sf(r, n, q) <= half)[0]
    if len(lower_ok) == 0 or len(upper_ok) == 0:
        return None
    return int(lower_ok[-1]) + 1, int(upper_ok[0]) + 1


def binned():
    bounds = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]

    def hist_counts(values):
        return [float(c) for c in np.bincount(np.searchsorted(bounds, values, side="left"),
                                              minlength=len(bounds) + 1)]

    cases = {
        "small": ([3, 1, 0, 2, 0, 0, 0], [0, 2, 2, 1, 1, 0, 0]),
        "all_in_one_bin": ([0, 0, 12, 0, 0, 0, 0], [0, 0, 9, 0, 0, 0, 0]),
        "separated": ([20, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 15]),
        "one_each": ([0, 1, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0]),
        "empty_canary": ([3, 4, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0]),
        "empty_baseline": ([0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0]),
        "lognormal_shift": (hist_counts(RNG.lognormal(1.5, 0.8, 3000)),
                            hist_counts(RNG.lognormal(1.6, 0.8, 2500))),
        "large_null": (hist_counts(RNG.lognormal(2.0, 1.0, 60000)),
                       hist_counts(RNG.lognormal(2.0, 1.0, 40000))),
        "large_tail_shift": (hist_counts(RNG.lognormal(2.0, 1.0, 50000)),
                             hist_counts(np.r_[RNG.lognormal(2.0, 1.0, 49000),
                                               RNG.lognormal(3.5, 0.5, 1000)])),
    }
    out = []
    for name, (x, y) in cases.items():
        x = [float(c) for c in x]
        y = [float(c) for c in y]
        xe, ye = expand(x), expand(y)
        rec = {"name": name, "x": x, "y": y}
        for alt in ["two-sided", "greater", "less"]:
            if len(xe) == 0 or len(ye) == 0:
                rec[alt] = {"u": None, "p": None}
                continue
            r = stats.mannwhitneyu(ye, xe, alternative=alt, method="asymptotic",
                                   use_continuity=True)
            rec[alt] = {"u": fl(r.statistic), "p": fl(r.pvalue)}
        if len(xe) and len(ye):
            n, m = float(len(xe)), float(len(ye))
            # θ by brute force on the expanded data: P(Y > X) + ½ P(Y = X).
            cx = np.r_[0.0, np.cumsum(x)]
            theta = float(sum(y[k] * (cx[k] + 0.5 * x[k]) for k in range(len(x))) / (n * m))
            lo, hi = score_interval(theta, n, m, 0.95)
            rec["effect"] = {"estimate": theta, "low": lo, "high": hi}
        else:
            rec["effect"] = None
        if len(x) == len(bounds) + 1 and len(xe) and len(ye):
            rec["quantile_ratio"] = quantile_ratio_reference(bounds, x, y)
        out.append(rec)
    return {"bounds": bounds, "cases": out}


def bucket_range(bounds, b):
    lower = (0.0 if bounds[0] > 0 else -INF) if b == 0 else bounds[b - 1]
    upper = bounds[b] if b < len(bounds) else INF
    return lower, upper


def bucket_at_rank(counts, rank):
    cum = np.cumsum(counts)
    for i in range(len(cum) - 1):
        if cum[i] >= rank:
            return i
    return len(cum) - 1


def quantile_ratio_reference(bounds, x, y):
    out = []
    for q in [0.5, 0.9, 0.99]:
        sides = []
        for c in (x, y):
            total = sum(c)
            b = bucket_at_rank(c, q * total)
            ranks = quantile_ci_ranks(int(round(total)), q, 1 - 0.05 / 2)
            ci = None
            if ranks is not None:
                ci = [bucket_range(bounds, bucket_at_rank(c, ranks[0]))[0],
                      bucket_range(bounds, bucket_at_rank(c, ranks[1]))[1]]
            est = bucket_quantile(q, otlp_to_classic(bounds, c))
            sides.append((est, bucket_range(bounds, b), ci))
        (ex, rx, cx), (ey, ry, cy) = sides

        def div_low(a, b):
            return 0.0 if b == INF or a <= 0 else a / b

        def div_high(a, b):
            return INF if b <= 0 or a == INF else a / b

        rec = {"q": q, "estimate": fl(ey / ex),
               "baseline_bucket": [fl(v) for v in rx], "canary_bucket": [fl(v) for v in ry],
               "resolution": [fl(div_low(max(ry[0], 0.0), rx[1])),
                              fl(div_high(ry[1], max(rx[0], 0.0)))],
               "confidence_interval": None if cx is None or cy is None else
               [fl(div_low(max(cy[0], 0.0), cx[1])), fl(div_high(cy[1], max(cx[0], 0.0)))]}
        out.append(rec)
    return out


def main():
    ref = {
        "generator": {"scipy": scipy.__version__, "numpy": np.__version__,
                      "mpmath": mpmath.__version__},
        "explicit": explicit(),
        "exponential": exponential(),
        "binned": binned(),
    }
    OUT.write_text(json.dumps(ref, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
