#!/usr/bin/env python3
"""Reference values for the latency part of issue 11's sequential gates.

Howard & Ramdas, "Sequential estimation of quantiles with applications to A/B-testing and
best-arm identification", Bernoulli 28(3), 2022, and Howard, Ramdas, McAuliffe & Sekhon,
"Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist. 49(2), 2021:
the uniform boundaries and the two-sample quantile test of their package `confseq` 0.0.11.

confseq 0.0.11 has no wheel and its sdist pins pybind11~=2.6 (which does not compile on
Python 3.11) and builds with the legacy scikit-build. It builds here without the pin:

    python3 -m pip install scikit-build==0.19.1          # plus pybind11 >= 2.10 installed
    CMAKE_POLICY_VERSION_MINIMUM=3.5 python3 -m pip install --no-build-isolation \\
        --no-binary :all: --no-deps confseq==0.0.11

(CMake 4 refuses the package's old cmake_minimum_required without the policy variable.)
Run from the repository root:

    python3 tests/reference/generate_confseq_reference.py

It rewrites tests/reference/confseq_reference.json deterministically (seeded RNG).
"""

import json
import math
import pathlib

import numpy as np
from confseq import boundaries, quantiles

OUT = pathlib.Path(__file__).with_name("confseq_reference.json")
RNG = np.random.default_rng(20261204)
# A second stream for the sections added with the latency gate, so the earlier sections keep
# their values.
RNG2 = np.random.default_rng(20261205)


def quantile_cs(values, p, alpha, t_opt, alpha_opt=0.05):
    """The confidence sequence for the p-quantile at the sample `values`, as confseq's
    demo/quantiles.py `fixed_quantile_confidence_bounds` builds it from the two-sided
    beta-binomial mixture boundary (None for an unbounded end)."""
    xs = sorted(values)
    t = len(xs)
    lower = boundaries.beta_binomial_mixture_bound(
        p * (1 - p) * t, alpha, p * (1 - p) * t_opt, 1 - p, p, alpha_opt, False) / t
    upper = boundaries.beta_binomial_mixture_bound(
        p * (1 - p) * t, alpha, p * (1 - p) * t_opt, p, 1 - p, alpha_opt, False) / t
    lo = math.floor(t * (p - lower) + 1)
    hi = math.ceil(t * (p + upper))
    # Where the bound is at its cap (the mixture never reaches 1/alpha; confseq returns
    # v/g) nothing is excluded: canalyst leaves that end unbounded, where the demo would take
    # the extreme order statistic.
    if lower * t >= p * t * (1 - 1e-12):
        lo = 0
    if upper * t >= (1 - p) * t * (1 - 1e-12):
        hi = t + 1
    return (None if lo < 1 else float(xs[lo - 1]), None if hi > t else float(xs[hi - 1]))


def main():
    out = {"package": "confseq 0.0.11", "beta_binomial": [], "normal": [], "quantile_ab": []}
    for v in [1.0, 10.0, 100.0, 1000.0, 1e5]:
        for one_sided in [True, False]:
            for g, h in [(0.5, 0.5), (0.05, 0.95), (0.99, 0.01)]:
                b = float(boundaries.beta_binomial_mixture_bound(v, 0.05, 100.0, g, h, 0.05, one_sided))
                lm = float(boundaries.beta_binomial_log_mixture(b, v, 100.0, g, h, 0.05, one_sided))
                out["beta_binomial"].append({
                    "v": v, "alpha": 0.05, "v_opt": 100.0, "g": g, "h": h,
                    "one_sided": one_sided, "bound": b, "log_mixture_at_bound": lm,
                })
            n = float(boundaries.normal_mixture_bound(v, 0.05, 100.0, 0.05, one_sided))
            out["normal"].append({
                "v": v, "alpha": 0.05, "v_opt": 100.0, "one_sided": one_sided, "bound": n,
                "log_mixture_at_bound": float(boundaries.normal_log_mixture(n, v, 100.0, 0.05, one_sided)),
            })
    # Two-sample test of equal quantiles on log-normal latencies: A/A and a ×1.5 canary.
    for q in [0.5, 0.9, 0.99]:
        for factor in [1.0, 1.5]:
            for n_a, n_b in [(200, 40), (800, 160)]:
                # Milliseconds to the microsecond, so the JSON holds exactly the tested values.
                a = np.round(RNG.lognormal(np.log(50.0), 0.5, n_a), 3)
                b = np.round(RNG.lognormal(np.log(50.0 * factor), 0.5, n_b), 3)
                p = float(quantiles.quantile_ab_p_value(a, b, q, 100, 0.05))
                out["quantile_ab"].append({
                    "quantile": q, "factor": factor, "t_opt": 100, "alpha_opt": 0.05,
                    "a": [float(x) for x in a], "b": [float(x) for x in b], "p_value": p,
                })
    # Per-arm confidence sequences for a quantile.
    out["quantile_cs"] = []
    for q in [0.5, 0.9, 0.99]:
        for alpha in [0.05, 0.001]:
            for n in [10, 60, 400, 3000]:
                x = np.round(RNG2.lognormal(np.log(50.0), 0.5, n), 3)
                lo, hi = quantile_cs(x, q, alpha, 100)
                out["quantile_cs"].append({
                    "quantile": q, "alpha": alpha, "t_opt": 100, "alpha_opt": 0.05,
                    "values": [float(v) for v in x], "low": lo, "high": hi,
                })
    # The two-sample test at growing prefixes of one recording (the looks of a rollout), with
    # whole-millisecond values so ties are common.
    out["quantile_ab_looks"] = []
    for q, factor in [(0.5, 1.0), (0.5, 1.3), (0.99, 2.0)]:
        a = np.round(RNG2.lognormal(np.log(50.0), 0.6, 1500))
        b = np.round(RNG2.lognormal(np.log(50.0 * factor), 0.6, 300))
        looks = [(n_a, n_a // 5) for n_a in [50, 150, 400, 900, 1500]]
        out["quantile_ab_looks"].append({
            "quantile": q, "factor": factor, "t_opt": 100, "alpha_opt": 0.05,
            "a": [float(v) for v in a], "b": [float(v) for v in b],
            "looks": [{"n_a": n_a, "n_b": n_b,
                       "p_value": float(quantiles.quantile_ab_p_value(a[:n_a], b[:n_b], q, 100, 0.05))}
                      for n_a, n_b in looks],
        })
    OUT.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
