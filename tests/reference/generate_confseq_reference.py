#!/usr/bin/env python3
"""Reference values for the latency part of issue 11's sequential gates (not consumed yet).

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
import pathlib

import numpy as np
from confseq import boundaries, quantiles

OUT = pathlib.Path(__file__).with_name("confseq_reference.json")
RNG = np.random.default_rng(20261204)


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
    OUT.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
