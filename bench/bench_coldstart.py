"""The first-ever fit of sleepstudy (issue 24): where its compilation goes, and routes to it.

    .venv/bin/python bench/bench_coldstart.py stages                   # compile stage by stage
    .venv/bin/python bench/bench_coldstart.py stages --nutpie-wrappers # same, nutpie's wrappers
    .venv/bin/python bench/bench_coldstart.py stages --serial          # same, callbacks not forked
    .venv/bin/python bench/bench_coldstart.py stages --src OLD/src     # same, another tree
    .venv/bin/python bench/bench_coldstart.py cold --before OLD/src    # cold CLI, OLD vs this tree vs Bambi
    .venv/bin/python bench/bench_coldstart.py cli --before OLD/src     # same, compile_nutpie's seconds
    .venv/bin/python bench/bench_coldstart.py jax                      # nutpie's JAX backend (needs jax)

``stages`` runs in a fresh process with an empty compile cache (PyTensor's own kernel
cache as it is) and prints the seconds of nutpie's graph building (PyTensor rewrites and
kernels), of each C callback's numba compile (the expansion's in the forked child where it
was forked), of both callbacks together, and of the whole compile. ``cold`` runs
``multilevel fit models/sleepstudy.toml`` with an empty compile cache from two source
trees in turn, then plain Bambi (bench_bayes.py's anchor), ``--rounds`` times, and prints
medians and the ratios to Bambi. ``cli`` runs the same fit in a process that times
``compile_nutpie`` and the whole process, OLD and this tree alternating. ``jax`` times ``nutpie.compile_pymc_model(...,
backend="jax", gradient_backend="jax")`` and nutpie's sampling (4 x 1000) of the same model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STAGES = r"""
import os, sys, tempfile, time, warnings
os.environ["MULTILEVEL_CACHE_DIR"] = tempfile.mkdtemp()
warnings.filterwarnings("ignore")
import multilevel as ml
import multilevel.bayes.cache as C
import nutpie.compile_pymc as ncp
from multilevel.bayes.model import build_model
C.NUTPIE_WRAPPERS = sys.argv[1] == "1"
def timed(mod, name, label):
    f = getattr(mod, name)
    def g(*a, **k):
        t = time.perf_counter(); r = f(*a, **k)
        print(f"  {label:58s} {time.perf_counter() - t:6.2f} s", flush=True); return r
    setattr(mod, name, g)
timed(ncp, "_make_functions", "nutpie's graphs (PyTensor rewrites, numba kernels)")
try:   # since the parallel compile: the expansion compiled in a forked child
    import multilevel.bayes.parallel_compile as P
    P.ENABLED = sys.argv[2] == "1"
except ImportError:   # a tree before it: the two callbacks one after the other
    P = None
    labels = iter(["log-density C callback", "expansion C callback"])
    f = C._compile_callback
    def cb(*a):
        t = time.perf_counter(); r = f(*a)
        print(f"  {next(labels):58s} {time.perf_counter() - t:6.2f} s", flush=True); return r
    C._compile_callback = cb
built = build_model("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy"))
t = time.perf_counter()
C.compile_nutpie(built.pymc, stats={})
whole = time.perf_counter() - t
if P is not None:
    L = P.LAST
    print(f"  {'log-density C callback':58s} {L['first_s']:6.2f} s")
    print(f"  {'expansion C callback (' + L['mode'] + ')':58s} {L['second_s']:6.2f} s")
    print(f"  {'both callbacks (wall)':58s} {L['both_s']:6.2f} s  CPU {L['cpu_s']:5.2f} s")
print(f"  {'whole compile (incl. support point, start plan, check, store)':58s} {whole:6.2f} s")
"""

CLI = r"""
import atexit, os, sys, time
t0 = time.perf_counter()
import multilevel.bayes.cache as C
seconds = []
compile_nutpie = C.compile_nutpie
def timed(*a, **k):
    t = time.perf_counter(); r = compile_nutpie(*a, **k); seconds.append(time.perf_counter() - t)
    return r
C.compile_nutpie = timed
def report():
    try:
        import multilevel.bayes.parallel_compile as P
        mode = P.LAST.get("mode", "-")
    except ImportError:
        mode = "serial (before the parallel compile)"
    print(f"RESULT   {sys.argv[1]:10s} compile_nutpie {sum(seconds):5.2f} s  whole process "
          f"{time.perf_counter() - t0:5.2f} s  {mode}  load {os.getloadavg()[0]:.1f}",
          file=sys.stderr, flush=True)
atexit.register(report)
from multilevel.cli import main
main(["fit", "models/sleepstudy.toml", "--out", sys.argv[2], "--no-progress"])
"""

JAX = r"""
import time, warnings
warnings.filterwarnings("ignore")
import multilevel as ml, nutpie
from multilevel.bayes.model import build_model
m = build_model("Reaction ~ Days + (Days | Subject)", ml.datasets.load("sleepstudy")).pymc
t = time.perf_counter()
c = nutpie.compile_pymc_model(m, backend="jax", gradient_backend="jax")
print(f"  jax compile {time.perf_counter() - t:.2f} s")
for label in ("first sampling (jit on first call)", "second sampling"):
    t = time.perf_counter()
    nutpie.sample(c, draws=1000, tune=1000, chains=4, seed=1, progress_bar=False)
    print(f"  4 x 1000, {label}: {time.perf_counter() - t:.2f} s")
"""


def _run(script: str, *args: str, src: str | None = None) -> None:
    env = {**os.environ, "PYTHONPATH": src or str(ROOT / "src")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", script, *args], check=True, cwd=ROOT, env=env)


def cold(before: str, rounds: int) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_bayes as bench

    srcs = {"before": before, "this tree": str(ROOT / "src")}
    res: dict = {"before": [], "this tree": [], "Bambi": []}
    for _ in range(rounds):
        for name, src in srcs.items():
            os.environ["PYTHONPATH"] = src
            with tempfile.TemporaryDirectory() as cache:
                wall, rhat, cpu = bench.cli_cold(cache)
            res[name].append((wall, cpu))
            print(f"  {name:10s} {wall:6.1f} s  CPU {cpu:5.1f} s  R-hat {rhat:.4f}", flush=True)
        wall, _ = bench.run_script(bench.BAMBI_SS)
        res["Bambi"].append((wall, bench.LAST_CPU[0]))
        print(f"  {'Bambi':10s} {wall:6.1f} s  CPU {bench.LAST_CPU[0]:5.1f} s", flush=True)
    anchor = statistics.median(w for w, _ in res["Bambi"])
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; medians of {rounds}")
    for name, runs in res.items():
        wall, cpu = (statistics.median(r[i] for r in runs) for i in (0, 1))
        print(f"  cold CLI {name:10s} {wall:6.1f} s  CPU {cpu:5.1f} s  {wall / anchor:.2f}x Bambi's")


def cli(before: str, rounds: int) -> None:
    """The CLI fit in-process timed, OLD and this tree alternating, each with an empty cache."""
    for _ in range(rounds):
        for name, src in (("before", before), ("this tree", str(ROOT / "src"))):
            with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
                env = {**os.environ, "PYTHONPATH": src, "MULTILEVEL_CACHE_DIR": cache}
                env.pop("PYTHONDONTWRITEBYTECODE", None)
                proc = subprocess.run([sys.executable, "-c", CLI, name, str(Path(out) / "run")],
                                      check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True)
                print(*[line[6:] for line in proc.stderr.splitlines() if line.startswith("RESULT")],
                      sep="\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    stages = sub.add_parser("stages")
    stages.add_argument("--nutpie-wrappers", action="store_true")
    stages.add_argument("--serial", action="store_true",
                        help="both callbacks in this process (parallel_compile.ENABLED off)")
    stages.add_argument("--src", help="src folder of the code to time (default: this tree's)")
    old = sub.add_parser("cold")
    old.add_argument("--before", required=True, help="src folder of the code to compare with")
    old.add_argument("--rounds", type=int, default=3)
    timed = sub.add_parser("cli")
    timed.add_argument("--before", required=True, help="src folder of the code to compare with")
    timed.add_argument("--rounds", type=int, default=3)
    sub.add_parser("jax")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.what == "stages":
        _run(STAGES, "1" if args.nutpie_wrappers else "0", "0" if args.serial else "1",
             src=args.src)
    elif args.what == "cold":
        cold(args.before, args.rounds)
    elif args.what == "cli":
        cli(args.before, args.rounds)
    else:
        _run(JAX)


if __name__ == "__main__":
    main()
