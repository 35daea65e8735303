"""Bayesian speed: multilevel against plain Bambi, side by side, in one run.

    .venv/bin/python bench/bench_bayes.py            # everything (~15 min on 2 cores)
    .venv/bin/python bench/bench_bayes.py --only sleepstudy
    .venv/bin/python bench/bench_bayes.py --only insteval --inst-draws 300

Every figure is measured in a fresh Python process (``subprocess``), so imports and
compilation count as a user sees them, with Python's bytecode cache on as in an installed
package (``PYTHONDONTWRITEBYTECODE`` is removed from their environment). Rows:

* sleepstudy ``Reaction ~ Days + (Days | Subject)``, 4 chains x 1000 draws (tune 1000):
  cold CLI ``multilevel fit models/sleepstudy.toml`` with an empty compile cache, then
  ``--repeat`` times (median, range) with the cache filled by the first run, with and
  without the report's figures (such a rerun samples in a child started at the command's
  start: ``multilevel.bayes.speculate``; the empty-cache rows have no record to start from); plain Bambi's default (PyMC) sampler in a fresh
  process, ``--repeat`` times — note Bambi fits ``(Days|Subject)`` *without* the correlation,
  an easier model than ours; max R-hat of each. Warm: the second ``ml.fit`` in one
  process, samplers nutpie and pymc.
* InstEval ``y ~ service + (1|s) + (1|d) + (1|dept)`` (73,421 rows, 4,116 group
  effects): min bulk-ESS over the fixed effects, group SDs and sigma per second of
  wall time in a fresh process (imports excluded, build and compile included), 2 chains
  x 1000 draws: ours with ``sampler="auto"`` (which picks the marginal sampler for this
  size) and with nutpie (``noncentered=False``: centred, 20+ rows per level), against
  Bambi + nutpie (Bambi's default non-centred effects, tune 1000), with each process's
  peak memory (max RSS).
  With ``multilevel[jax]`` installed, also ``sampler="numpyro"`` (on whatever device
  JAX finds: the CPU here, a GPU where ``jax[cuda12]`` is installed).
* K-fold (``--only kfold``): leave-one-subject-out cross-validation of sleepstudy
  ``(Days | Subject)`` (18 training sets of 170 rows, 4 x 1000 draws each), in a fresh
  process with an empty compile cache: ``ml.compare.loo(fit, high_k="kfold",
  group_by="Subject")`` (one compilation serves all 18 refits), against plain Bambi
  fitting the same 18 training sets in a loop in one process (its default PyMC sampler;
  PyTensor caches that compilation itself). Only the K-fold (or the loop) is timed, not
  the original fit.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
CLI = str(Path(PY).with_name("multilevel"))
LAST_CPU = [0.0]  # user + system CPU seconds of the last run_script process

PRELUDE = """
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
T0 = time.perf_counter()
def out(**kw):
    kw["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(kw))
def scalar_min(summary, names):
    rows = [r for r in summary.index if r.split("[")[0] in names]
    return float(summary.loc[rows, "ess_bulk"].min()), float(summary.loc[rows, "r_hat"].max())
"""

BAMBI_SS = PRELUDE + """
import arviz as az, bambi as bmb
import multilevel as ml
data = ml.datasets.load("sleepstudy")
model = bmb.Model("Reaction ~ Days + (Days | Subject)", data)
idata = model.fit(draws=1000, tune=1000, chains=4, random_seed=20261122, progressbar=False)
s = az.summary(idata, kind="diagnostics")
out(rhat=float(s["r_hat"].max()))
"""

WARM = PRELUDE + """
import multilevel as ml
data = ml.datasets.load("sleepstudy")
kw = dict(draws=1000, tune=1000, chains=4, seed=20261122, sampler=sys.argv[1], progress=False)
ml.fit("Reaction ~ Days + (Days | Subject)", data, **kw)
t = time.perf_counter()
fit = ml.fit("Reaction ~ Days + (Days | Subject)", data, **kw)
out(warm=time.perf_counter() - t, rhat=float(fit.summary()["r_hat"].max()))
"""

INST_OURS = PRELUDE + """
import multilevel as ml
data = ml.datasets.load("InstEval")
draws, sampler, nc = int(sys.argv[1]), sys.argv[2], sys.argv[3]
nc = nc if nc == "auto" else nc == "True"
import bambi, nutpie  # imports are not what this row measures
t = time.perf_counter()
fit = ml.fit("y ~ service + (1|s) + (1|d) + (1|dept)", data, draws=draws, tune=draws,
             chains=2, seed=1, sampler=sampler, progress=False, check=False, noncentered=nc)
wall = time.perf_counter() - t
s = fit.summary()
out(wall=wall, min_ess=float(s["ess_bulk"].min()), rhat=float(s["r_hat"].max()), sampler=fit.sampler)
"""

INST_BAMBI = PRELUDE + """
import arviz as az, bambi as bmb, nutpie
import multilevel as ml
data = ml.datasets.load("InstEval")
draws = int(sys.argv[1])
t = time.perf_counter()
model = bmb.Model("y ~ service + (1|s) + (1|d) + (1|dept)", data)
idata = model.fit(draws=draws, tune=draws, chains=2, random_seed=1, inference_method="nutpie",
                  progressbar=False)
wall = time.perf_counter() - t
names = ["Intercept", "service", "sigma", "1|s_sigma", "1|d_sigma", "1|dept_sigma"]
ess, rhat = scalar_min(az.summary(idata, var_names=names, kind="diagnostics"), names)
out(wall=wall, min_ess=ess, rhat=rhat)
"""


KFOLD_OURS = PRELUDE + """
import multilevel as ml
from multilevel.bayes import cache
data = ml.datasets.load("sleepstudy")
fit = ml.fit("Reaction ~ Days + (Days | Subject)", data, draws=1000, tune=1000, chains=4,
             seed=20261122, sampler="nutpie", progress=False)
before = cache.compilations()
t = time.perf_counter()
res = ml.compare.loo(fit, high_k="kfold", group_by="Subject")
wall = time.perf_counter() - t
out(wall=wall, compilations=cache.compilations() - before, refits=res.n_refits,
    elpd=float(getattr(res.elpd, "elpd", float("nan"))))
"""

KFOLD_BAMBI = PRELUDE + """
import bambi as bmb
import multilevel as ml
data = ml.datasets.load("sleepstudy")
subjects = sorted(data["Subject"].astype(str).unique())
t = time.perf_counter()
for subject in subjects:
    train = data[data["Subject"].astype(str) != subject].reset_index(drop=True)
    train["Subject"] = train["Subject"].astype(str)
    model = bmb.Model("Reaction ~ Days + (Days | Subject)", train)
    model.fit(draws=1000, tune=1000, chains=4, random_seed=20261122, progressbar=False)
out(wall=time.perf_counter() - t, refits=len(subjects))
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def user_env(**extra: str) -> dict:
    """The environment of a measured process: this one's, with Python's bytecode cache on.

    PYTHONDONTWRITEBYTECODE (set in some sandboxes) makes every process compile this
    package's modules from source again (0.3 s per CLI run); an installed package has
    its bytecode, written by pip or by the first run.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def run_script(script: str, *args, env=None) -> tuple[float, dict]:
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run([PY, "-c", script, *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env or user_env())
    wall = time.perf_counter() - start
    LAST_CPU[0] = _children_cpu() - cpu
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"benchmark process failed:\n{proc.stderr[-3000:]}")
    return wall, json.loads(lines[-1][7:])


def cli_cold(cache: str, spec: str = "models/sleepstudy.toml", kernels: str | None = None,
             generic: bool = True) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as out:
        env = user_env(MULTILEVEL_CACHE_DIR=cache)
        if kernels is not None:   # the generic kernels' folder (multilevel.bayes.generic)
            env["MULTILEVEL_KERNEL_DIR"] = kernels
        if not generic:           # the per-structure compilation (multilevel.bayes.cache)
            env["MULTILEVEL_GENERIC"] = "0"
        start, cpu = time.perf_counter(), _children_cpu()
        out = str(Path(out) / "run")   # the CLI writes only into a folder it made
        proc = subprocess.run([CLI, "fit", spec, "--out", out, "--no-progress"],
                              capture_output=True, text=True, cwd=ROOT, env=env)
        wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
        if proc.returncode:
            raise RuntimeError(proc.stderr[-3000:])
        import pandas as pd

        rhat = float(pd.read_csv(Path(out) / "summary.csv", index_col=0)["r_hat"].max())
    return wall, rhat, cpu


def sleepstudy(rows: list, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as kernels:
        # a new installation: no compiled model and no generic kernels (compiled in this run,
        # then kept in `kernels` for the rows after it, as an installation keeps them)
        with tempfile.TemporaryDirectory() as cache:
            fresh = cli_cold(cache, kernels=kernels)
        with tempfile.TemporaryDirectory() as cache:   # the route before the generic density
            per_structure = cli_cold(cache, kernels=kernels, generic=False)
        with tempfile.TemporaryDirectory() as cache:
            miss, rhat_miss, cpu_miss = cli_cold(cache, kernels=kernels)
            hits = [cli_cold(cache, kernels=kernels) for _ in range(repeat)]
            with tempfile.TemporaryDirectory() as folder:  # the same spec without the report figures
                spec = Path(folder) / "sleepstudy-noplots.toml"
                spec.write_text((ROOT / "models/sleepstudy.toml").read_text().replace(
                    "[report]", "[report]\nplots = false"))
                bares = [cli_cold(cache, str(spec), kernels=kernels) for _ in range(repeat)]
    anchors = []
    for _ in range(repeat):
        wall, bambi = run_script(BAMBI_SS)
        anchors.append((wall, bambi["rhat"], LAST_CPU[0]))
    anchor = median(a[0] for a in anchors)

    def row(label, runs):
        walls = [r[0] for r in runs]
        spread = f"median of {len(walls)} ({min(walls):.1f}-{max(walls):.1f} s), " \
            if len(walls) > 1 else ""
        rows.append((label, f"{median(walls):.1f} s", f"{spread}R-hat {max(r[1] for r in runs):.3f}, "
                     f"CPU {median(r[2] for r in runs):.1f} s, time {median(walls) / anchor:.2f}x "
                     "Bambi's", f"{anchor / median(walls):.1f}x"))

    row("sleepstudy CLI on a new installation (no compiled model, no generic kernels)", [fresh])
    row("sleepstudy cold CLI, empty compile cache (nutpie)", [(miss, rhat_miss, cpu_miss)])
    row("  same, compiled per structure (MULTILEVEL_GENERIC=0)", [per_structure])
    row("sleepstudy cold CLI, compile cache filled (nutpie)", hits)
    row("  same, [report] plots = false (no figures in the run folder)", bares)
    row("  anchor: plain Bambi, default PyMC sampler, fresh process (uncorrelated!)", anchors)
    for sampler in ("nutpie", "pymc"):
        _, warm = run_script(WARM, sampler)
        rows.append((f"sleepstudy warm ml.fit, sampler={sampler}", f"{warm['warm']:.1f} s",
                     f"R-hat {warm['rhat']:.3f}", ""))


def kfold(rows: list) -> None:
    with tempfile.TemporaryDirectory() as cache:
        _, ours = run_script(KFOLD_OURS, env=user_env(MULTILEVEL_CACHE_DIR=cache))
    _, bambi = run_script(KFOLD_BAMBI)
    # the ratio column of these two rows is time over the anchor's time (lower is faster)
    rows.append((f"sleepstudy LOSO K-fold, ours ({ours['refits']} refits, 4x1000, cache empty)",
                 f"{ours['wall']:.1f} s", f"{ours['compilations']} compilation(s), "
                 f"elpd {ours['elpd']:.1f}", f"{ours['wall'] / bambi['wall']:.2f}x"))
    rows.append((f"  anchor: plain Bambi, the same {bambi['refits']} training sets in a loop",
                 f"{bambi['wall']:.1f} s", "default PyMC sampler, one process", "1.00x"))


def insteval(rows: list, draws: int, jax: bool = True) -> None:
    _, bambi = run_script(INST_BAMBI, draws)
    base = bambi["min_ess"] / bambi["wall"]
    # nutpie rows centred (noncentered=False: the measured choice for 20+ rows per level;
    # "auto" keeps InstEval's d-within-dept terms non-centred, multilevel.bayes.parameterization)
    runs = [("auto", "auto", "n/a"), ("nutpie", "False", "empty"), ("nutpie", "False", "filled")]
    if jax and importlib.util.find_spec("numpyro") is not None:  # the JAX path (CPU here)
        runs.append(("numpyro", "False", "n/a"))
    with tempfile.TemporaryDirectory() as cache:
        env = user_env(MULTILEVEL_CACHE_DIR=cache)
        for sampler, nc, state in runs:
            _, ours = run_script(INST_OURS, draws, sampler, nc, env=env)
            rate = ours["min_ess"] / ours["wall"]
            where = f", compile cache {state}" if sampler == "nutpie" else ""
            what = f"sampler={sampler} -> {ours['sampler']}" if sampler == "auto" else \
                f"{sampler}, noncentered={nc}{where}"
            rows.append((f"InstEval ours, {what} (2x{draws})",
                         f"{rate:.2f} ESS/s",
                         f"min ESS {ours['min_ess']:.0f} in {ours['wall']:.0f} s, "
                         f"R-hat {ours['rhat']:.3f}, peak {ours['peak_mb']:.0f} MB",
                         f"{rate / base:.1f}x"))
    rows.append((f"  anchor: Bambi + nutpie, non-centred (2x{draws})", f"{base:.2f} ESS/s",
                 f"min ESS {bambi['min_ess']:.0f} in {bambi['wall']:.0f} s, R-hat "
                 f"{bambi['rhat']:.3f}, peak {bambi['peak_mb']:.0f} MB", "1.0x"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=("sleepstudy", "insteval", "kfold"), action="append",
                        help="run only these rows (repeatable)")
    parser.add_argument("--inst-draws", type=int, default=1000)
    parser.add_argument("--no-jax", action="store_true", help="skip the numpyro row")
    parser.add_argument("--repeat", type=int, default=5,
                        help="runs of each cached sleepstudy CLI row and of its anchor (median)")
    args = parser.parse_args()
    rows: list = []
    only = set(args.only or ("sleepstudy", "insteval", "kfold"))
    if "sleepstudy" in only:
        sleepstudy(rows, args.repeat)
    if "kfold" in only:
        kfold(rows)
    if "insteval" in only:
        insteval(rows, args.inst_draws, jax=not args.no_jax)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load average at the end {os.getloadavg()[0]:.1f}")
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'figure':>12}  {'ratio':>6}  detail")
    for name, figure, detail, ratio in rows:
        print(f"{name:<{width}}  {figure:>12}  {ratio:>6}  {detail}")


if __name__ == "__main__":
    main()
