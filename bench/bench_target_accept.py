"""Default fits of models with few levels at several target_accept values, per seed.

    .venv/bin/python bench/bench_target_accept.py --accept 0.9 0.95 --seeds 1 2 3 4 5 6 7 8
    .venv/bin/python bench/bench_target_accept.py --accept 0.95 --only sleepstudy6 --seeds 1 2 3 4

Each fit: 4 chains x 1000 draws (tune 1000), every other setting the default; printed: min
ESS_bulk, max R-hat, divergences, whether the ConvergenceWarning fired. What decides
``multilevel.bayes.fit.default_target_accept`` for non-centred terms on few levels
(bench/README.md, "Few levels").
"""

from __future__ import annotations

import argparse
import warnings

import multilevel as ml
from multilevel.errors import ConvergenceWarning


def _sleepstudy6():
    data = ml.datasets.load("sleepstudy")
    return data[data["Subject"].isin(data["Subject"].unique()[:6])].reset_index(drop=True)


MODELS = {
    "dyestuff": ("Yield ~ 1 + (1 | Batch)", lambda: ml.datasets.load("Dyestuff")),
    "pastes": ("strength ~ 1 + (1 | batch/cask)", lambda: ml.datasets.load("Pastes")),
    "sleepstudy6": ("Reaction ~ Days + (Days | Subject)", _sleepstudy6),
    "wine": ("rating ~ temp + contact + (1 | judge)", lambda: ml.datasets.load("wine"), "cumulative"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accept", type=float, nargs="+", default=[0.9, 0.95])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--only", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    for name in args.only:
        formula, data, *family = MODELS[name]
        for accept in args.accept:
            warned_fits = 0
            for seed in args.seeds:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    fit = ml.fit(formula, data(), family=(family or ["gaussian"])[0], seed=seed,
                                 progress=False, target_accept=accept)
                warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
                warned_fits += warned
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    table = fit.summary()
                divergences = int(fit.convergence.table.loc["divergent transitions", "value"])
                print(f"{name:11s} target_accept {accept:g} seed {seed}: min ESS bulk "
                      f"{table['ess_bulk'].min():6.0f}, max R-hat {table['r_hat'].max():.3f}, "
                      f"divergences {divergences}, warning {'yes' if warned else 'no'}", flush=True)
            print(f"{name:11s} target_accept {accept:g}: {warned_fits}/{len(args.seeds)} fits warned", flush=True)


if __name__ == "__main__":
    main()
