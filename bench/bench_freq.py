"""Frequentist engine against lme4's measured anchors (DESIGN.md, this machine kind).

    python bench/bench_freq.py            # sleepstudy and InstEval, one run each

Prints our wall time beside lme4 1.1-31's (R is not needed: the anchors were
measured with R on this machine kind and are listed in ../shared/DESIGN.md) and,
when statsmodels is installed, its MixedLM on sleepstudy in the same run.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time

import multilevel as ml

ANCHORS = {  # seconds, lme4 1.1-31 REML on the same formulas
    "sleepstudy (Days|Subject)": 0.026,
    "InstEval (1|s)+(1|d)+(1|dept)": 31.0,
}
CASES = {
    "sleepstudy (Days|Subject)": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", 20),
    "InstEval (1|s)+(1|d)+(1|dept)": ("y ~ service + (1|s) + (1|d) + (1|dept)", "InstEval", 1),
}


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    print(f"{'model':34s} {'multilevel s':>13s} {'lme4 s':>8s} {'ratio':>7s}")
    for name, (formula, data_name, repeat) in CASES.items():
        data = ml.datasets.load(data_name)
        ours = best_of(lambda: ml.fit(formula, data, method="reml"), repeat)
        print(f"{name:34s} {ours:13.3f} {ANCHORS[name]:8.3f} {ours / ANCHORS[name]:7.2f}")
    if importlib.util.find_spec("statsmodels"):
        import statsmodels.formula.api as smf

        data = ml.datasets.load("sleepstudy")
        sm = best_of(lambda: smf.mixedlm("Reaction ~ Days", data, groups=data["Subject"],
                                         re_formula="~Days").fit(reml=True), 5)
        ours = best_of(lambda: ml.fit("Reaction ~ Days + (Days | Subject)", data, method="reml"), 20)
        print(f"{'sleepstudy vs statsmodels MixedLM':34s} {ours:13.3f} {sm:8.3f} {ours / sm:7.2f}")
    code = ("import multilevel as ml; ml.fit('Reaction ~ Days + (Days | Subject)', 'sleepstudy', "
            "method='reml')")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    print(f"cold start, import + sleepstudy REML fit: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
