#!/usr/bin/env python3
"""Reference values for canalyst's `src/stats/sequential.rs` (Lindon & Malek 2022 count test).

The e-values, always-valid p-values and confidence sequences come from the independent
implementation `savvi.multinomial.Multinomial` (savvi 0.3.1, pinned in tests/requirements.txt):
one `update` + `infer` per look, with theta_0 = [1 - rho, rho] (stable, canary) and the
default concentration k = 100.  savvi solves the confidence set with cvxpy, so its bounds are
only solver-accurate; the same bounds are also solved to ~1e-12 with scipy's brentq on the
published inequality (Lindon & Malek 2022, the Dirichlet-mixture confidence set), and the Rust
test compares against both with separate tolerances.  Run from the repository root:

    python3 tests/reference/generate_sequential_reference.py

It rewrites tests/reference/sequential_reference.json deterministically (seeded RNG).
"""

import json
import math
import pathlib

import numpy as np
from scipy.optimize import brentq
from scipy.special import betaln, xlogy
from savvi.multinomial import Multinomial

RNG = np.random.default_rng(20261204)
OUT = pathlib.Path(__file__).with_name("sequential_reference.json")
K = 100.0
ALPHA = 0.05


def brentq_set(c, s, rho):
    """Per-look confidence set for the canary share, solved with brentq."""
    a, b = K * rho, K * (1 - rho)
    bound = betaln(a + c, b + s) - betaln(a, b) + math.log(ALPHA)
    g = lambda t: xlogy(c, t) + xlogy(s, 1 - t) - bound
    mle = c / (c + s) if c + s > 0 else rho
    low = 0.0 if g(0.0) >= 0 else brentq(g, 0.0, mle, xtol=1e-15, rtol=1e-15)
    high = 1.0 if g(1.0) >= 0 else brentq(g, mle, 1.0, xtol=1e-15, rtol=1e-15)
    return low, high


def case(name, rho, looks):
    m = Multinomial(ALPHA, np.array([1 - rho, rho]), k=K)
    out = []
    low, high = 0.0, 1.0
    c = s = 0
    for dc, ds in looks:
        m.update(np.array([ds, dc], dtype=np.int64))
        m.infer()
        c, s = c + dc, s + ds
        bl, bh = brentq_set(c, s, rho)
        low, high = max(low, bl), min(high, bh)
        # savvi's conf_int row 1 is the canary share theta_1.
        out.append({
            "canary": c,
            "stable": s,
            "log_e_value": float(math.log(m.odds)),
            "p_value": float(m.p_value[0]),
            "savvi_share": [float(m.conf_int[1, 0]), float(m.conf_int[1, 1])],
            "share": [low, high],
        })
    return {"name": name, "rho": rho, "alpha": ALPHA, "k": K, "looks": [list(l) for l in looks],
            "expected": out}


def looks_from(rho_true, n_per_look, n_looks):
    looks = []
    for _ in range(n_looks):
        n = int(RNG.poisson(n_per_look))
        c = int(RNG.binomial(n, rho_true))
        looks.append((c, n - c))
    return looks


def main():
    cases = [
        case("aa_split_half", 0.5, looks_from(0.5, 40, 12)),
        case("aa_split_5pct", 0.05, looks_from(0.05, 200, 12)),
        case("broken_split_25_vs_35", 0.25, looks_from(0.35, 100, 12)),
        case("errors_canary_x3_at_10pct", 0.1, looks_from(0.25, 6, 15)),
        case("low_traffic_errors", 0.25, [(0, 1), (1, 0), (0, 0), (2, 1), (1, 2), (3, 0)]),
        case("large_counts", 0.2, looks_from(0.2, 20000, 6)),
    ]
    OUT.write_text(json.dumps({"generator": "savvi 0.3.1 Multinomial + scipy brentq",
                               "cases": cases}, indent=1) + "\n")


if __name__ == "__main__":
    main()
