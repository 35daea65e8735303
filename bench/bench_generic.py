"""The structure-generic log density against the per-structure compiled code, per gradient.

For each model: both C callbacks of the same PyMC model (``multilevel.bayes.generic`` and
the per-structure compilation of ``multilevel.bayes.cache``), each called through ctypes
at the same random points in interleaved blocks (the median block; ctypes' call overhead,
a few microseconds, is in both), their log densities compared, and the ratio printed;
then sleepstudy ``(Days | Subject)`` sampled 4 x 1000 by nutpie on each, in one process.
The size limit of the generic route (``layout.MAX_WORK``) is read from these numbers.

    PYTHONPATH=src .venv/bin/python bench/bench_generic.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

os.environ["MULTILEVEL_CACHE"] = "0"   # the per-structure code is compiled here, not loaded

from nutpie_calls import caller, stored  # bench/, beside this script

FORMULAS = {"gaussian": "y ~ x + (1 | g) + (x | h)", "poisson": "c ~ x + (1 | g) + (x | h)",
            "bernoulli": "yb ~ x + (1 | g) + (x | h)"}
SHIPPED = [("Penicillin crossed", "diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", "gaussian"),
           ("grouseticks Poisson", "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)",
            "grouseticks", "poisson")]
SIZES = {"gaussian": (1_500, 5_000, 20_000, 100_000), "poisson": (1_500, 20_000, 100_000),
         "bernoulli": (1_500, 20_000)}


def simulated(n: int, seed: int = 1) -> pd.DataFrame:
    """30 levels of g, 40 of h; a Gaussian, a count and a 0/1 response."""
    rng = np.random.default_rng(seed)
    g, h, x = rng.integers(0, 30, n), rng.integers(0, 40, n), rng.normal(size=n)
    u, v = rng.normal(size=30)[g], rng.normal(size=40)[h]
    return pd.DataFrame({
        "y": 1 + 0.5 * x + u + v * (1 + x) + rng.normal(size=n),
        "c": rng.poisson(np.exp(0.3 + 0.2 * x + 0.3 * u)),
        "yb": (rng.random(n) < 1 / (1 + np.exp(-(0.2 * x + 0.5 * u)))).astype(int),
        "x": x, "g": [f"g{i}" for i in g], "h": [f"h{i}" for i in h]})


def both(model):
    """(generic, per-structure) compiled models of ``model``; the compile time of the second."""
    from multilevel.bayes import cache, generic
    from multilevel.bayes.generic import layout

    limits = dict(layout.MAX_WORK)
    layout.MAX_WORK.clear()   # measured beyond the limit too
    saved_other, layout.MAX_WORK_OTHER = layout.MAX_WORK_OTHER, 10 ** 12
    try:
        gen = generic.compile_generic(model, stored(model), {})
    finally:
        layout.MAX_WORK.update(limits)
        layout.MAX_WORK_OTHER = saved_other
    assert gen is not None, "outside the generic class"
    generic.ENABLED = False
    try:
        start = time.perf_counter()
        per = cache.compile_nutpie(model, stored(model), stats={})
        seconds = time.perf_counter() - start
    finally:
        generic.ENABLED = True
    return gen, per, seconds


def per_gradient(title: str, model, rows: int) -> None:
    gen, per, seconds = both(model)
    calls = {"generic": caller(gen), "per structure": caller(per)}
    rng = np.random.default_rng(3)
    points = [rng.normal(scale=0.3, size=gen.n_dim) for _ in range(64)]
    values = {k: c(points[0])[0] for k, c in calls.items()}
    reps = max(100, 400_000 // max(rows, 1))
    blocks: dict = {k: [] for k in calls}
    for _ in range(7):
        for k, call in calls.items():
            start = time.perf_counter()
            for i in range(reps):
                call(points[i % len(points)])
            blocks[k].append((time.perf_counter() - start) / reps * 1e6)
    g, p = np.median(blocks["generic"]), np.median(blocks["per structure"])
    diff = abs(values["generic"] - values["per structure"]) / abs(values["per structure"])
    print(f"{title:46s} {rows:>7,} {g:9.1f} us {p:9.1f} us {g / p:7.2f}x   "
          f"compile {seconds:4.1f} s   logp rel. diff {diff:.0e}", flush=True)


def sampling() -> None:
    import nutpie

    import multilevel as ml
    from multilevel.bayes.model import build_model

    model = build_model("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy")).pymc
    gen, per, _ = both(model)
    walls: dict = {"generic": [], "per structure": []}
    for _ in range(3):   # interleaved; the best of three
        for name, compiled in (("generic", gen), ("per structure", per)):
            start = time.perf_counter()
            nutpie.sample(compiled, draws=1000, tune=1000, chains=4, seed=7,
                          progress_bar=False)
            walls[name].append(time.perf_counter() - start)
    for name, times in walls.items():
        print(f"sleepstudy (Days | Subject) 4 x 1000, {name:14s} {min(times):5.2f} s "
              f"(runs {', '.join(f'{t:.2f}' for t in times)})", flush=True)


def main() -> None:
    import multilevel as ml
    from multilevel.bayes.model import build_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="the two smallest sizes per family")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}; ratio = generic / per structure (below 1: "
          "the generic code is faster)")
    print(f"{'model':46s} {'rows':>7s} {'generic':>12s} {'per struct.':>12s} {'ratio':>8s}")
    for title, formula, dataset, family in SHIPPED:
        data = ml.datasets.load(dataset)
        per_gradient(title, build_model(formula, data, family=family).pymc, len(data))
    for family, sizes in SIZES.items():
        for n in sizes[:2] if args.quick else sizes:
            model = build_model(FORMULAS[family], simulated(n), family=family).pymc
            per_gradient(f"{family:9s} {FORMULAS[family]}", model, n)
    sampling()


if __name__ == "__main__":
    main()
