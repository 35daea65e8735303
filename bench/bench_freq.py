"""The ML/REML engine against lme4 (and statsmodels), timed in one run.

    .venv/bin/python bench/bench_freq.py                    # every case
    .venv/bin/python bench/bench_freq.py --only InstEval    # cases whose name contains a word
    .venv/bin/python bench/bench_freq.py --no-r             # skip R; print the DESIGN.md anchors
    .venv/bin/python bench/bench_freq.py --crossed          # one factorization per backend, 8000 x 5000 crossed
    .venv/bin/python bench/bench_freq.py --rounds 3         # lme4 and ours alternated 3 times, medians

For each case: our wall time (best of the repeats, after one warm-up fit), peak
memory of one fit (tracemalloc: numpy's buffers included), the criterion (REML
criterion or −2 logLik); when ``Rscript`` with lme4 is installed, lme4's time and
criterion on the same CSV data in the same run (lme4's default settings), and the
ratio ours / lme4. statsmodels' MixedLM is timed on sleepstudy when installed. The
factorization backends (block, CHOLMOD, SuperLU) are compared on the designs where
the choice matters. Other work on the machine inflates times: the load average is
printed, and ratios within one run are the figures to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import multilevel as ml
from multilevel.freq.factor import cholmod_available

DATA = Path(ml.__file__).parent / "datasets" / "data"
ANCHORS = {"sleepstudy (Days|Subject) REML": 0.026, "InstEval (1|s)+(1|d)+(1|dept) REML": 31.0}


@dataclass
class Case:
    name: str
    formula: str            # multilevel's formula
    data: str               # shipped data set or "synthetic_nested"
    method: str = "reml"
    family: str = "gaussian"
    repeat: int = 1
    r_call: str = ""        # the lme4 call on data frame `d`
    solvers: tuple = ()     # extra backends to time
    options: dict = field(default_factory=dict)


def synthetic_nested(seed: int = 2) -> pd.DataFrame:
    """200,000 pupils in 40,000 classes in 8,000 schools in 500 districts (fully nested)."""
    rng = np.random.default_rng(seed)
    cls = np.repeat(np.arange(40_000), 5)
    sch = (np.arange(40_000) % 8_000)[cls]
    dis = (np.arange(8_000) % 500)[sch]
    y = (rng.normal(size=cls.size) + 0.5 * rng.normal(size=40_000)[cls]
         + rng.normal(size=8_000)[sch] + rng.normal(size=500)[dis])
    return pd.DataFrame({"y": y, "cls": cls, "sch": sch, "dis": dis})


CASES = [
    Case("sleepstudy (Days|Subject) REML", "Reaction ~ Days + (Days | Subject)", "sleepstudy",
         repeat=20, r_call="lmer(Reaction ~ Days + (Days | Subject), d)"),
    Case("Penicillin crossed REML", "diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin",
         repeat=20, r_call="lmer(diameter ~ 1 + (1 | plate) + (1 | sample), d)"),
    Case("InstEval (1|s)+(1|d)+(1|dept) REML", "y ~ service + (1|s) + (1|d) + (1|dept)", "InstEval",
         r_call="lmer(y ~ service + (1|s) + (1|d) + (1|dept), d)", solvers=("cholmod",)),
    Case("nested 200k rows (1|cls)+(1|sch)+(1|dis) REML", "y ~ 1 + (1|cls) + (1|sch) + (1|dis)",
         "synthetic_nested", r_call="lmer(y ~ 1 + (1|cls) + (1|sch) + (1|dis), d)",
         solvers=("splu",)),
    Case("cbpp glmer binomial", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
         method="ml", family="binomial", repeat=5,
         r_call="glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), d, binomial)"),
    Case("grouseticks Poisson with obs-level effect", "TICKS ~ YEAR + (1|INDEX) + (1|BROOD) + (1|LOCATION)",
         "grouseticks", method="ml", family="poisson",
         r_call="glmer(TICKS ~ YEAR + (1|INDEX) + (1|BROOD) + (1|LOCATION), d, poisson)"),
    Case("VerbAgg glmer bernoulli crossed", "r2 ~ Anger + Gender + btype + situ + (1|id) + (1|item)",
         "VerbAgg", method="ml", family="bernoulli",
         r_call="glmer(r2 ~ Anger + Gender + btype + situ + (1|id) + (1|item), d, binomial)"),
]


def crossed_factorizations() -> None:
    """One factorization of Λ'Z'ZΛ + I per backend for 64,000 rows in 8,000 × 5,000 crossed
    levels (each first-factor level meets 8 random second-factor levels)."""
    from threadpoolctl import threadpool_limits

    from multilevel.formula import build_design, model_frame, parse_formula
    from multilevel.freq.factor import choose_solver, make_factor, term_factors
    from multilevel.freq.layout import Layout

    rng = np.random.default_rng(1)
    a = np.repeat(np.arange(8_000), 8)
    b = rng.integers(0, 5_000, size=a.size)
    data = pd.DataFrame({"y": rng.normal(size=a.size), "a": a, "b": b})
    parsed = parse_formula("y ~ 1 + (1 | a) + (1 | b)")
    layout = Layout.from_design(build_design(parsed, model_frame(parsed, data)))
    cp = layout.crossproducts()
    Ts = term_factors(layout, np.array([0.8, 0.9]))
    print(f"crossed 8000 x 5000 levels: Schur complement {layout.Q2} columns, "
          f"{layout.schur_degree:.0f} nonzeros per column -> auto picks {choose_solver(layout)}")
    for solver in ("block", "splu") + (("cholmod",) if cholmod_available() else ()):
        with threadpool_limits(limits=1, user_api="blas"):
            start = time.perf_counter()
            make_factor(layout, cp, Ts, solver)
        print(f"  one factorization, solver={solver}: {time.perf_counter() - start:.2f} s")


def load(case: Case) -> pd.DataFrame:
    return synthetic_nested() if case.data == "synthetic_nested" else ml.datasets.load(case.data)


def fit(case: Case, data: pd.DataFrame, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ml.fit(case.formula, data, method=case.method, family=case.family, **case.options, **options)


def criterion(m) -> float:
    return m.reml_criterion if m.reml_criterion is not None else -2 * m.loglik


def time_ours(case: Case, data: pd.DataFrame, **options) -> tuple[float, float, float]:
    """(best seconds, peak MB, criterion)."""
    m = fit(case, data, **options)  # warm-up: imports, caches
    times = []
    for _ in range(case.repeat):
        start = time.perf_counter()
        m = fit(case, data, **options)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fit(case, data, **options)
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    return min(times), peak, criterion(m)


R_TEMPLATE = r"""
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
fac <- function(x) factor(x, levels = if (is.numeric(x)) sort(unique(x)) else
  sort(unique(as.character(x)), method = "radix"))
run <- function(name, file, factors, call, repeat_) {
  con <- if (grepl("gz$", file)) gzfile(file) else file
  d <- read.csv(con, stringsAsFactors = FALSE)
  for (v in factors) d[[v]] <- fac(d[[v]])
  m <- suppressMessages(suppressWarnings(eval(parse(text = call))))
  times <- sapply(seq_len(repeat_), function(i)
    system.time(suppressMessages(suppressWarnings(eval(parse(text = call)))))[["elapsed"]])
  crit <- if (isLMM(m) && isREML(m)) REMLcrit(m) else -2 * as.numeric(logLik(m))
  cat(toJSON(list(name = name, seconds = min(times), criterion = crit), auto_unbox = TRUE,
             digits = NA), "\n")
}
"""


def time_lme4(cases: list[Case], frames: dict, tmp: Path) -> dict:
    """lme4's best time and criterion per case (same CSV data), or {} without R."""
    if shutil.which("Rscript") is None:
        return {}
    lines = [R_TEMPLATE]
    for case in cases:
        data = frames[case.name]
        path = tmp / f"{len(lines)}.csv"
        data.to_csv(path, index=False)
        factors = [c for c in data.columns if isinstance(data[c].dtype, pd.CategoricalDtype)]
        if case.data == "synthetic_nested":
            factors = ["cls", "sch", "dis"]
        lines.append(f"run({json.dumps(case.name)}, {json.dumps(str(path))}, "
                     f"c({', '.join(json.dumps(f) for f in factors)}), {json.dumps(case.r_call)}, "
                     f"{case.repeat})")
    script = tmp / "bench.R"
    script.write_text("\n".join(lines))
    out = subprocess.run(["Rscript", str(script)], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"Rscript failed (lme4 installed?): {out.stderr.strip()[-300:]}")
        return {}
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return {row["name"]: row for row in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="run cases whose name contains this text "
                        "(several: comma-separated)")
    parser.add_argument("--no-r", action="store_true", help="do not run lme4")
    parser.add_argument("--crossed", action="store_true",
                        help="only time one factorization per backend on a large crossed design")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate lme4's and our timings this many times (each side's best "
                             "of its repeats per round; the medians over rounds are reported)")
    args = parser.parse_args()
    if args.crossed:
        crossed_factorizations()
        return
    words = [w.strip().lower() for w in args.only.split(",")]
    cases = [c for c in CASES if any(w in c.name.lower() for w in words)]
    frames = {c.name: load(c) for c in cases}
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"CHOLMOD {'installed' if cholmod_available() else 'not installed'}")
    # interleaved rounds: R then us, R then us, ... (load drifts; medians over rounds)
    r_rounds, our_rounds = [], []
    for _ in range(max(1, args.rounds)):
        with tempfile.TemporaryDirectory() as tmp:
            r_rounds.append({} if args.no_r else time_lme4(cases, frames, Path(tmp)))
        our_rounds.append({case.name: time_ours(case, frames[case.name]) for case in cases})
    lme4 = {name: {**row, "seconds": float(np.median([r[name]["seconds"] for r in r_rounds if name in r]))}
            for name, row in r_rounds[-1].items()}
    if args.rounds > 1:
        print(f"{args.rounds} interleaved rounds (lme4, ours); medians of each side's per-round best; "
              f"load average {os.getloadavg()[0]:.1f} now")
    header = (f"{'model':48s} {'ours s':>8s} {'peak MB':>8s} {'lme4 s':>8s} {'ratio':>6s} "
              f"{'criterion (ours - lme4)':>24s}")
    print(header)
    for case in cases:
        _, peak, crit = our_rounds[-1][case.name]
        ours = float(np.median([r[case.name][0] for r in our_rounds]))
        ref = lme4.get(case.name)
        their = ref["seconds"] if ref else ANCHORS.get(case.name)
        ratio = f"{ours / their:6.2f}" if their else "     -"
        diff = f"{crit:.4f} ({crit - ref['criterion']:+.1e})" if ref else f"{crit:.4f}"
        label = f"{their:8.3f}" if their else "       -"
        print(f"{case.name:48s} {ours:8.3f} {peak:8.1f} {label} {ratio} {diff:>24s}")
        for solver in case.solvers:
            if solver == "cholmod" and not cholmod_available():
                continue
            t, p, c = time_ours(Case(**{**case.__dict__, "repeat": 1}), frames[case.name], solver=solver)
            print(f"{'  same, solver=' + solver:48s} {t:8.3f} {p:8.1f} {'':8s} {'':6s} {c:24.4f}")
    statsmodels_row()
    code = ("import multilevel as ml; ml.fit('Reaction ~ Days + (Days | Subject)', 'sleepstudy', "
            "method='reml')")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    print(f"cold start, python -c 'import multilevel; sleepstudy REML fit': "
          f"{time.perf_counter() - start:.2f} s")


def statsmodels_row() -> None:
    try:
        import statsmodels.formula.api as smf
    except ImportError:
        print("statsmodels not installed: no MixedLM row (anchor: 0.18 s on sleepstudy)")
        return
    data = ml.datasets.load("sleepstudy")
    case = CASES[0]
    times = []
    for _ in range(5):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sm = smf.mixedlm("Reaction ~ Days", data, groups=data["Subject"], re_formula="~Days").fit(reml=True)
        times.append(time.perf_counter() - start)
    ours, _, crit = time_ours(case, data)
    print(f"{'sleepstudy vs statsmodels MixedLM (REML)':48s} {ours:8.3f} {'':8s} {min(times):8.3f} "
          f"{ours / min(times):6.2f} {f'{crit:.4f} ({crit + 2 * sm.llf:+.1e})':>24s}")


if __name__ == "__main__":
    main()
