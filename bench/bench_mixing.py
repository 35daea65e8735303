"""Mixing per draw at default settings: the old defaults against the new, in one run.

    .venv/bin/python bench/bench_mixing.py                 # 3 models x 2 settings x 3 seeds
    .venv/bin/python bench/bench_mixing.py --seeds 1 --only penicillin

Every fit is 4 chains x 1000 draws (tune 1000), sampler "auto" (nutpie), in this process
after one warm-up fit per model (compilation excluded: this is about draws, not seconds).
"old" is the previous default: every scalar group term non-centred, nutpie's diagonal
mass matrix (``noncentered=True, low_rank=False``); "new" is today's default (per-term
centring by :mod:`multilevel.bayes.parameterization`, nutpie's low-rank mass matrix).
For each fit: min bulk/tail ESS over the summary's rows, max R-hat, divergences, whether
the ConvergenceWarning fired; then, pooled over seeds, the largest difference of posterior
means between old and new in units of its Monte Carlo standard error (the same model:
it should look like a draw from N(0, 1) — |z| < 4 over ~20 rows).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import multilevel as ml
from multilevel.bayes import sampling
from multilevel.bayes.fit import fit_bayes
from multilevel.errors import ConvergenceWarning

MODELS = {
    "penicillin": ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", "gaussian"),
    "epilepsy": ("count ~ zAge + zBase * Trt + (1 | patient)", "epilepsy", "poisson"),
    "sleepstudy": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "gaussian"),
    "cbpp": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "binomial"),
}
SETTINGS = {"old": {"noncentered": True, "low_rank": False}, "new": {"noncentered": "auto", "low_rank": True}}


def one_fit(name: str, seed: int, noncentered, low_rank: bool):
    formula, data, family = MODELS[name]
    before = sampling.LOW_RANK_MASS_MATRIX
    sampling.LOW_RANK_MASS_MATRIX = low_rank
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            fit = fit_bayes(formula, ml.datasets.load(data), family=family, seed=seed,
                            progress=False, noncentered=noncentered)
            seconds = time.perf_counter() - start
    finally:
        sampling.LOW_RANK_MASS_MATRIX = before
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
    parser.add_argument("--only", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    for name in args.only:
        one_fit(name, 0, "auto", True)   # compile (and cache) outside the measurement
        one_fit(name, 0, True, False)
        pooled = {}
        for label, options in SETTINGS.items():
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
