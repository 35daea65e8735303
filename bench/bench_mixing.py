"""Mixing per draw at default settings: the old defaults against the new, in one run.

    .venv/bin/python bench/bench_mixing.py                 # 3 models x 2 settings x 3 seeds
    .venv/bin/python bench/bench_mixing.py --seeds 1 --only penicillin
    .venv/bin/python bench/bench_mixing.py --against grad-diag --only sleepstudy epilepsy_slope \
        simulated_block sleepstudy6                        # the mass matrix of LKJ blocks

Every fit is 4 chains x 1000 draws (tune 1000), sampler "auto" (nutpie), in this process
after one warm-up fit per model (compilation excluded: this is about draws, not seconds).
"old" is the previous default: every scalar group term non-centred, nutpie's diagonal
mass matrix (``noncentered=True, low_rank=False``); "new" is today's default (per-term
centring by :mod:`multilevel.bayes.parameterization`, nutpie's low-rank mass matrix).
For each fit: min bulk/tail ESS over the summary's rows, max R-hat, divergences, whether
the ConvergenceWarning fired; then, pooled over seeds, the largest difference of posterior
means between old and new in units of its Monte Carlo standard error (the same model:
it should look like a draw from N(0, 1) — |z| < 4 over ~20 rows).

``--against grad-diag``: "old" is today's default with nutpie's gradient-based diagonal
mass matrix in place of the draw-variance one that models with a correlated LKJ block
take (``sampling.DRAW_VARIANCE_MASS_MATRIX = False``).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import multilevel as ml
from multilevel.bayes import sampling
from multilevel.bayes.fit import fit_bayes
from multilevel.errors import ConvergenceWarning


def _epilepsy_visits():
    data = ml.datasets.load("epilepsy")
    return data.assign(v=data["visit"].astype(str).astype(float))


def _simulated_block(n_groups=30, per_group=8, seed=7):
    """y ~ x1 + x2 + (x1 + x2 | g) + (1 | h): a 3 x 3 correlated block and a crossed term."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per_group)
    h = rng.integers(0, 12, len(g))
    x1, x2 = rng.normal(size=len(g)), rng.normal(size=len(g))
    chol = np.linalg.cholesky(np.array([[1, .4, -.3], [.4, 1, .2], [-.3, .2, 1]])) * np.array([1.0, .5, .3])
    b = rng.normal(size=(n_groups, 3)) @ chol.T
    y = (1 + .5 * x1 - .3 * x2 + b[g, 0] + b[g, 1] * x1 + b[g, 2] * x2 + rng.normal(0, .3, 12)[h]
         + rng.normal(size=len(g)))
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": [f"g{i}" for i in g], "h": [f"h{i}" for i in h]})


def _sleepstudy6():
    data = ml.datasets.load("sleepstudy")
    return data[data["Subject"].isin(data["Subject"].unique()[:6])].reset_index(drop=True)


MODELS = {
    "penicillin": ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", "gaussian"),
    "epilepsy": ("count ~ zAge + zBase * Trt + (1 | patient)", "epilepsy", "poisson"),
    "sleepstudy": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "gaussian"),
    "cbpp": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "binomial"),
    "epilepsy_slope": ("count ~ zAge + zBase * Trt + v + (1 + v | patient)", _epilepsy_visits, "poisson"),
    "simulated_block": ("y ~ x1 + x2 + (x1 + x2 | g) + (1 | h)", _simulated_block, "gaussian"),
    "sleepstudy6": ("Reaction ~ Days + (Days | Subject)", _sleepstudy6, "gaussian"),
}
AGAINST = {
    "old-parameterization": {"old": {"noncentered": True, "low_rank": False},
                             "new": {"noncentered": "auto", "low_rank": True}},
    "grad-diag": {"old": {"noncentered": "auto", "low_rank": True, "draw_variance": False},
                  "new": {"noncentered": "auto", "low_rank": True}},
}


def one_fit(name: str, seed: int, noncentered, low_rank: bool, draw_variance: bool = True):
    formula, data, family = MODELS[name]
    data = data() if callable(data) else ml.datasets.load(data)
    before = sampling.LOW_RANK_MASS_MATRIX, sampling.DRAW_VARIANCE_MASS_MATRIX
    sampling.LOW_RANK_MASS_MATRIX, sampling.DRAW_VARIANCE_MASS_MATRIX = low_rank, draw_variance
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            fit = fit_bayes(formula, data, family=family, seed=seed,
                            progress=False, noncentered=noncentered)
            seconds = time.perf_counter() - start
    finally:
        sampling.LOW_RANK_MASS_MATRIX, sampling.DRAW_VARIANCE_MASS_MATRIX = before
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = fit.summary()
    report = fit.convergence
    row = {"ess_bulk": float(table["ess_bulk"].min()), "ess_tail": float(table["ess_tail"].min()),
           "rhat": float(table["r_hat"].max()),
           "div": int(report.table.loc["divergent transitions", "value"]), "warned": warned,
           "seconds": seconds, "worst": str(table["ess_bulk"].idxmin())}
    means = {k: (float(table.loc[k, "estimate"]), float(table.loc[k, "mcse_mean"])) for k in table.index}
    return row, means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=list(MODELS)[:4])
    parser.add_argument("--against", choices=list(AGAINST), default="old-parameterization")
    args = parser.parse_args()
    settings = AGAINST[args.against]
    for name in args.only:
        for options in settings.values():   # compile (and cache) outside the measurement
            one_fit(name, 0, **options)
        pooled = {}
        for label, options in settings.items():
            rows = []
            for seed in range(1, args.seeds + 1):
                row, means = one_fit(name, seed, **options)
                rows.append(row)
                for k, (m, se) in means.items():
                    pooled.setdefault(label, {}).setdefault(k, []).append((m, se))
                print(f"{name:11s} {label} seed {seed}: min ESS bulk {row['ess_bulk']:6.0f} "
                      f"({row['worst']}), tail {row['ess_tail']:6.0f}, max R-hat {row['rhat']:.4f}, "
                      f"divergences {row['div']}, warning {'yes' if row['warned'] else 'no'}, "
                      f"{row['seconds']:.1f} s", flush=True)
            print(f"{name:11s} {label} median min ESS bulk "
                  f"{np.median([r['ess_bulk'] for r in rows]):.0f}, worst R-hat "
                  f"{max(r['rhat'] for r in rows):.4f}, warnings {sum(r['warned'] for r in rows)}"
                  f"/{len(rows)}", flush=True)
        z = {}
        for k in pooled["old"]:
            old, new = np.array(pooled["old"][k]), np.array(pooled["new"][k])
            # the seeds' means averaged; MC SE of an average of independent runs
            se = np.sqrt((old[:, 1] ** 2).sum() / len(old) ** 2 + (new[:, 1] ** 2).sum() / len(new) ** 2)
            z[k] = (new[:, 0].mean() - old[:, 0].mean()) / se
        worst = max(z, key=lambda k: abs(z[k]))
        print(f"{name:11s} old vs new posterior means: max |z| {abs(z[worst]):.2f} ({worst}) over "
              f"{len(z)} rows", flush=True)


if __name__ == "__main__":
    main()
