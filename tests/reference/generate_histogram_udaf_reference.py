#!/usr/bin/env python3
"""Reference values for canalyst's SQL aggregates `histogram_quantile` and
`exp_histogram_quantile` (`src/engine/histogram_udaf.rs`).

Independent of the Rust code and of `generate_histogram_reference.py`: groups of histograms are
merged with numpy (explicit buckets: cumulative counts read at the bounds every histogram of the
group shares, then summed; exponential buckets: indices shifted right to the group's smallest
scale, the OTLP "perfect subsetting" downscale) and the quantile is computed the Prometheus way:
linear interpolation inside the bucket holding rank q*total for classic histograms
(`promql/quantile.go` BucketQuantile, lowest bucket starting at 0, highest finite bound for the
+Inf bucket), exponential interpolation for native histograms (HistogramQuantile, buckets
walked from the top for q >= 0.5).

Run from the repository root:

    python3 tests/reference/generate_histogram_udaf_reference.py

It rewrites tests/reference/histogram_udaf_reference.json deterministically (seeded RNG).
The Rust test embeds the JSON at compile time; python is not needed to run it.
"""

import json
import math
import pathlib

import numpy as np

RNG = np.random.default_rng(20261121)
OUT = pathlib.Path(__file__).with_name("histogram_udaf_reference.json")
QS = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0]
HTTP_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0]


def fl(v):
    v = float(v)
    return None if math.isnan(v) else v


# ------------------------------------------------------------------ explicit buckets
def classic_quantile(q, bounds, cum):
    """Prometheus BucketQuantile on cumulative counts `cum` (len(bounds) + 1, last = total)."""
    bounds = np.asarray(bounds, dtype=float)
    cum = np.asarray(cum, dtype=float)
    total = cum[-1]
    if len(bounds) == 0 or total == 0:
        return math.nan
    rank = q * total
    b = int(np.searchsorted(cum[: len(bounds)], rank, side="left"))
    if b == len(bounds):
        return float(bounds[-1])
    if b == 0 and bounds[0] <= 0:
        return float(bounds[0])
    start = 0.0 if b == 0 else bounds[b - 1]
    below = 0.0 if b == 0 else cum[b - 1]
    return float(start + (bounds[b] - start) * ((rank - below) / (cum[b] - below)))


def merge_explicit(group):
    common = sorted(set.intersection(*[set(h["bounds"]) for h in group]))
    cum = np.zeros(len(common) + 1, dtype=np.int64)
    for h in group:
        hc = np.cumsum(np.asarray(h["counts"], dtype=np.int64))
        idx = [h["bounds"].index(c) for c in common]
        cum[:-1] += hc[idx]
        cum[-1] += hc[-1]
    return common, cum


def bucketise(values, bounds):
    # Upper-inclusive buckets (OTLP): first bound >= v.
    idx = np.searchsorted(np.asarray(bounds), values, side="left")
    return np.bincount(idx, minlength=len(bounds) + 1).astype(np.int64).tolist()


def explicit_cases():
    cases = []
    # Same bounds: latency-like lognormal samples per instance.
    group = []
    for sigma in (0.5, 0.8, 1.2):
        v = RNG.lognormal(mean=math.log(0.08), sigma=sigma, size=int(RNG.integers(50, 400)))
        group.append({"bounds": HTTP_BOUNDS, "counts": bucketise(v, HTTP_BOUNDS)})
    cases.append(("same_bounds_lognormal", group))
    # Different bounds: a finer layout (extra bounds) merged with the default one.
    fine = sorted(set(HTTP_BOUNDS + [0.02, 0.04, 0.2, 0.3, 2.0]))
    v1 = RNG.lognormal(mean=math.log(0.05), sigma=0.7, size=300)
    v2 = RNG.lognormal(mean=math.log(0.2), sigma=0.5, size=120)
    cases.append((
        "finer_and_default_bounds",
        [{"bounds": fine, "counts": bucketise(v1, fine)},
         {"bounds": HTTP_BOUNDS, "counts": bucketise(v2, HTTP_BOUNDS)}],
    ))
    # Three layouts whose intersection is only part of each.
    a = [0.1, 0.5, 1.0, 5.0]
    b = [0.1, 0.25, 1.0, 2.5, 5.0]
    c = [0.05, 0.1, 1.0, 5.0, 10.0]
    vals = [RNG.exponential(scale=s, size=n) for s, n in ((0.4, 200), (1.0, 80), (2.0, 40))]
    cases.append((
        "three_layouts",
        [{"bounds": x, "counts": bucketise(v, x)} for x, v in zip((a, b, c), vals)],
    ))
    # Mass in the +Inf bucket, and empty low buckets.
    cases.append((
        "tail_in_inf_bucket",
        [{"bounds": [1.0, 2.0, 4.0], "counts": [0, 3, 5, 12]},
         {"bounds": [1.0, 2.0, 4.0], "counts": [0, 0, 1, 9]}],
    ))
    out = []
    for name, group in cases:
        common, cum = merge_explicit(group)
        out.append({
            "name": name,
            "histograms": group,
            "merged_bounds": common,
            "merged_cumulative": cum.tolist(),
            "quantiles": [[q, fl(classic_quantile(q, common, cum))] for q in QS],
        })
    return out


# ------------------------------------------------------------------ exponential buckets
def lower_boundary(index, scale):
    if scale <= 0:
        return math.ldexp(1.0, index << (-scale))
    return 2.0 * math.exp((index - (1 << scale)) * math.ldexp(math.log(2), -scale))


def merge_exponential(group):
    scale = min(h["scale"] for h in group)
    pos = {}
    zero = 0
    for h in group:
        shift = h["scale"] - scale
        for k, c in enumerate(h["positive_bucket_counts"]):
            i = (h["positive_offset"] + k) >> shift
            pos[i] = pos.get(i, 0) + c
        zero += h["zero_count"]
    return scale, zero, pos


def native_quantile(q, scale, zero, pos):
    """Prometheus HistogramQuantile for a histogram with a zero bucket (threshold 0) and
    positive buckets only."""
    idx = sorted(pos)
    buckets = []  # (lower, upper, count) ascending
    if zero > 0:
        buckets.append((0.0, 0.0, zero))
    for i in idx:
        buckets.append((lower_boundary(i, scale), lower_boundary(i + 1, scale), pos[i]))
    total = zero + sum(pos.values())
    if total == 0:
        return math.nan
    forward = q < 0.5
    if forward:
        rank = q * total
    else:
        buckets = buckets[::-1]
        rank = (1 - q) * total
    count = 0.0
    cur = None
    for b in buckets:
        cur = b
        if b[2] == 0:
            continue
        count += b[2]
        if count >= rank:
            break
    lower, upper, bc = cur
    if count < rank:
        return upper
    if forward:
        rank -= count - bc
    else:
        rank = count - rank
    f = rank / bc
    if lower <= 0 <= upper:
        return lower + (upper - lower) * f
    ll, lu = math.log2(lower), math.log2(upper)
    return 2.0 ** (ll + (lu - ll) * f)


def exp_hist_from(values, scale):
    # Index by exact comparison against the boundaries (values are far from edges with
    # probability 1; the boundary formula is the one the spec recommends).
    idx = np.floor(np.log2(values) * 2.0 ** scale).astype(np.int64)
    # Fix any off-by-one at the edges: bucket i is (base^i, base^(i+1)].
    for k, (v, i) in enumerate(zip(values, idx)):
        while v <= lower_boundary(int(i), scale):
            i -= 1
        while v > lower_boundary(int(i) + 1, scale):
            i += 1
        idx[k] = i
    lo = int(idx.min())
    counts = np.bincount(idx - lo).astype(np.int64).tolist()
    return {"scale": scale, "zero_count": 0, "positive_offset": lo,
            "positive_bucket_counts": counts}


def exponential_cases():
    out = []
    cases = []
    g = [exp_hist_from(RNG.lognormal(math.log(0.08), 0.6, 250), s) for s in (3, 5, 2)]
    g[1]["zero_count"] = 7
    cases.append(("three_scales_lognormal", g))
    cases.append((
        "negative_scale_and_zero",
        [exp_hist_from(RNG.exponential(3.0, 90), -1),
         {"scale": 1, "zero_count": 4, "positive_offset": -3,
          "positive_bucket_counts": [2, 0, 5, 1]}],
    ))
    for name, group in cases:
        scale, zero, pos = merge_exponential(group)
        lo = min(pos)
        dense = [pos.get(i, 0) for i in range(lo, max(pos) + 1)]
        out.append({
            "name": name,
            "histograms": group,
            "merged_scale": scale,
            "merged_zero_count": zero,
            "merged_positive_offset": lo,
            "merged_positive_bucket_counts": dense,
            "quantiles": [[q, fl(native_quantile(q, scale, zero, pos))] for q in QS],
        })
    return out


def main():
    doc = {
        "generator": {"numpy": np.__version__},
        "explicit": explicit_cases(),
        "exponential": exponential_cases(),
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
