"""Fixed rows against symbolic rows (the row count an input of the compiled log density).

For each model: compile time (twice each, interleaved; the second round has PyTensor's
kernels in its own cache), time per log density + gradient evaluation (the C callback
called through ctypes, interleaved blocks, the median block), the largest difference of
the two codes' log density and gradient at random points, and a seeded nutpie run of
each (identical draws? posterior means apart in Monte Carlo SEs).

    PYTHONPATH=src .venv/bin/python bench/bench_shapes.py [--draws 1000] [--chains 2]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ["MULTILEVEL_CACHE"] = "0"   # every compile_nutpie call compiles

from nutpie_calls import caller, stored  # bench/, beside this script

CASES = [
    ("sleepstudy (Days | Subject), 155 rows", "Reaction ~ Days + (Days | Subject)", "sleepstudy",
     "gaussian", 155),
    ("grouseticks Poisson TICKS ~ YEAR + cHEIGHT + (1 | BROOD)",
     "TICKS ~ YEAR + cHEIGHT + (1 | BROOD)", "grouseticks", "poisson", None),
]


def copying(call):
    """The call, its gradient copied (two calls' gradients are compared)."""
    def copied(x):
        logp, grad = call(x)
        return logp, grad.copy()
    return copied


def main() -> None:
    import nutpie

    import multilevel as ml
    from multilevel.bayes import cache
    from multilevel.bayes.model import build_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=2)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    for title, formula, dataset, family, rows in CASES:
        data = ml.datasets.load(dataset)
        data = data.iloc[:rows] if rows else data
        model = build_model(formula, data, family=family).pymc
        compiled, seconds = {}, {"fixed": [], "symbolic": []}
        for _ in range(2):
            for mode in ("fixed", "symbolic"):
                stats: dict = {}
                start = time.perf_counter()
                with cache.symbolic_rows(mode == "symbolic"):
                    compiled[mode] = cache.compile_nutpie(model, stored(model), stats=stats)
                seconds[mode].append(time.perf_counter() - start)
                assert (stats.get("rows") == "symbolic") == (mode == "symbolic"), stats
        n_dim = compiled["fixed"].n_dim
        rng = np.random.default_rng(3)
        points = [rng.normal(scale=rng.choice([0.1, 0.5, 1.0, 2.0]), size=n_dim) for _ in range(2000)]
        calls = {mode: copying(caller(c)) for mode, c in compiled.items()}
        worst_logp = worst_grad = 0.0
        n_logp = n_grad = 0
        for x in points:
            (a, ga), (b, gb) = calls["fixed"](x), calls["symbolic"](x)
            n_logp += not np.array_equal(a, b, equal_nan=True)
            n_grad += not np.array_equal(ga, gb, equal_nan=True)
            if np.isfinite(a) and np.isfinite(ga).all():
                worst_logp = max(worst_logp, abs(a - b) / abs(a))
                worst_grad = max(worst_grad, float(np.max(np.abs(ga - gb)) / np.max(np.abs(ga))))
        blocks = {"fixed": [], "symbolic": []}
        reps = 2000
        for _ in range(7):
            for mode, call in calls.items():
                start = time.perf_counter()
                for i in range(reps):
                    call(points[i % len(points)])
                blocks[mode].append((time.perf_counter() - start) / reps * 1e6)
        draws = {}
        for mode, c in compiled.items():
            trace = nutpie.sample(c, draws=args.draws, tune=args.draws, chains=args.chains, seed=7,
                                  progress_bar=False)
            draws[mode] = trace.posterior
        post_f, post_s = draws["fixed"], draws["symbolic"]
        identical = all(np.array_equal(post_f[v].values, post_s[v].values) for v in post_f.data_vars)
        worst_z = 0.0
        for v in post_f.data_vars:
            f, s = post_f[v].values, post_s[v].values
            f2 = f.reshape(-1, *f.shape[2:]) if f.ndim > 2 else f.reshape(-1)
            s2 = s.reshape(-1, *s.shape[2:]) if s.ndim > 2 else s.reshape(-1)
            se = np.sqrt(f2.var(axis=0) / len(f2) * 4 + s2.var(axis=0) / len(s2) * 4)  # ESS ~ N/4
            with np.errstate(invalid="ignore", divide="ignore"):
                z = np.abs(f2.mean(axis=0) - s2.mean(axis=0)) / se
            worst_z = max(worst_z, float(np.nanmax(z)))
        print(f"\n{title}: {n_dim} parameters")
        for mode in ("fixed", "symbolic"):
            print(f"  {mode:9s} compile {seconds[mode][0]:5.1f} s, then {seconds[mode][1]:5.1f} s;"
                  f" logp+gradient {np.median(blocks[mode]):6.2f} µs (median of 7 blocks of {reps},"
                  f" range {min(blocks[mode]):.2f}-{max(blocks[mode]):.2f})")
        print(f"  fixed vs symbolic at {len(points)} random points: log density different at "
              f"{n_logp} (largest relative difference {worst_logp:.1e}), gradient at {n_grad}"
              f" (largest difference {worst_grad:.1e} of the gradient's largest element)")
        print(f"  seeded nutpie {args.chains} x {args.draws}: identical draws: {identical};"
              f" largest |mean difference| {worst_z:.2f} Monte Carlo SEs (ESS taken as N/4)")


if __name__ == "__main__":
    main()
