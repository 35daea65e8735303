"""K-fold with folds of unequal size (k = 7 on sleepstudy's 180 rows: training sets of
154 and 155 rows): compilations and time of ``ml.compare.loo(fit, high_k="kfold", k_folds=7)``
with the refits' rows fixed (the code before) or symbolic (now). Run each mode in its own
process with an empty compile cache (``--group-by Days --k 3``: whole days per fold,
training sets of 108 and 126 rows, every subject in each):

    MULTILEVEL_CACHE_DIR=$(mktemp -d) PYTHONPATH=src .venv/bin/python bench/bench_kfold_unequal.py fixed
    MULTILEVEL_CACHE_DIR=$(mktemp -d) PYTHONPATH=src .venv/bin/python bench/bench_kfold_unequal.py symbolic
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import multilevel as ml
from multilevel.bayes import cache
from multilevel.compare import crossval, refit

parser = argparse.ArgumentParser()
parser.add_argument("rows", choices=["fixed", "symbolic"])
parser.add_argument("--draws", type=int, default=1000)
parser.add_argument("--chains", type=int, default=4)
parser.add_argument("--k", type=int, default=7)
parser.add_argument("--group-by", default=None, help="e.g. Days: whole days per fold")
args = parser.parse_args()
if args.rows == "fixed":   # the jobs as before: no symbolic rows
    make_jobs = refit.make_jobs
    crossval.make_jobs = lambda *a, **k: [dataclasses.replace(j, symbolic_rows=False)
                                          for j in make_jobs(*a, **k)]
fit = ml.fit("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"), method="bayes",
             draws=args.draws, tune=args.draws, chains=args.chains, seed=1, progress=False)
before, start = cache.compilations(), time.perf_counter()
res = ml.compare.loo(fit, high_k="kfold", k_folds=args.k, group_by=args.group_by)
print(f"{args.rows} rows: {res.method}, {res.n_refits} refits, {res.n_compilations} compilation(s), "
      f"{time.perf_counter() - start:.1f} s, elpd {res.elpd.elpd:.2f} (SE {res.elpd.se:.2f})")
