"""Accuracy of ml.bridge_sampler against the exact log marginal likelihood.

Dyestuff ``Yield ~ 1 + (1 | Batch)`` with the priors of tests/test_bridge.py, whose
intercept and group effects integrate out in closed form (the exact value is a
quadrature over the two SDs). Fits with seeds 10-21 (4 x 1000 draws), three bridge
repetitions each; prints each estimate's error, its expected relative error (cv) and the
repetitions' spread, then the mean and SD of the errors.

    PYTHONPATH=src:tests .venv/bin/python bench/bench_bridge.py
"""

import time
import warnings

import numpy as np
import pandas as pd
import test_bridge as T

import multilevel as ml

warnings.simplefilter("ignore")
d = ml.datasets.load("Dyestuff")
y, Z = d["Yield"].to_numpy(float), pd.get_dummies(d["Batch"]).to_numpy(float)
exact = T.exact_gaussian(y, Z)
print(f"exact log p(y) {exact:.4f}")
rows = []
for seed in range(10, 22):
    fit = ml.fit("Yield ~ 1 + (1 | Batch)", d, priors=T.GROUP_PRIORS, seed=seed, progress=False,
                 keep_unconstrained=True)
    start = time.perf_counter()
    b = ml.bridge_sampler(fit, repetitions=3)
    rows.append((b.logml - exact, b.cv, b.logmls.std(), time.perf_counter() - start))
    print(f"seed {seed}: error {rows[-1][0]:+.4f}  cv {b.cv:.4f}  spread {rows[-1][2]:.4f}  "
          f"({rows[-1][3]:.2f} s)", flush=True)
errors = np.array(rows)
print(f"mean error {errors[:, 0].mean():+.4f}, SD {errors[:, 0].std():.4f}, mean cv {errors[:, 1].mean():.4f}")
