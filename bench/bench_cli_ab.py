"""Cached CLI fit of a spec, two source trees side by side: interleaved runs, medians.

    PYTHONPATH=src .venv/bin/python bench/bench_cli_ab.py --before /tmp/base/src --repeat 3

Runs ``multilevel fit models/sleepstudy.toml`` (the console script, so as a user runs
it) with ``PYTHONPATH`` set to each tree in turn: before, after, before, after, ... each
into a fresh run folder, with a compile cache per tree filled by one warm-up run; then
the same with ``[report] plots = false``; then plain Bambi (bench_bayes.py's anchor).
Alternating the trees spreads the machine's other load over both (bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
PY = sys.executable
CLI = str(Path(PY).with_name("multilevel"))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(command: list[str], env: dict) -> tuple[float, float]:
    """Wall and CPU seconds of one process (its children included)."""
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return time.perf_counter() - start, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the src folder of the code before")
    parser.add_argument("--after", default=str(ROOT / "src"), help="the src folder of the code after")
    parser.add_argument("--spec", default="models/sleepstudy.toml")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-anchor", action="store_true", help="leave plain Bambi out")
    args = parser.parse_args()
    from bench_bayes import BAMBI_SS, user_env

    trees = {"before": args.before, "after": args.after}
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bare = tmp / "noplots.toml"
        bare.write_text((ROOT / args.spec).read_text().replace("[report]", "[report]\nplots = false"))
        specs = {"figures": args.spec, "no figures": str(bare)}
        envs = {name: user_env(PYTHONPATH=src, MULTILEVEL_CACHE_DIR=str(tmp / f"cache-{name}"))
                for name, src in trees.items()}
        for name, env in envs.items():   # fill each tree's compile cache
            run([CLI, "fit", args.spec, "--out", str(tmp / f"warm-{name}"), "--no-progress"], env)
        count = 0
        for what, spec in specs.items():
            for _ in range(args.repeat):
                for name, env in envs.items():
                    count += 1
                    out = tmp / f"run{count}" / "run"
                    wall, cpu = run([CLI, "fit", spec, "--out", str(out), "--no-progress"], env)
                    results.setdefault((what, name), []).append((wall, cpu))
                    print(f"{what:10s} {name:6s} {wall:5.2f} s wall, CPU {cpu:5.2f} s", flush=True)
        anchor = []
        if not args.no_anchor:
            env = user_env()
            for _ in range(args.repeat):
                wall, cpu = run([PY, "-c", BAMBI_SS], env)
                anchor.append((wall, cpu))
                print(f"Bambi      {wall:5.2f} s wall, CPU {cpu:5.2f} s", flush=True)
    a = median(w for w, _ in anchor) if anchor else float("nan")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    print(f"{'cached CLI':22s} {'median wall':>12s} {'range':>13s} {'CPU':>6s} {'x Bambi':>8s}")
    for (what, name), runs in results.items():
        walls = [w for w, _ in runs]
        print(f"{what + ', ' + name:22s} {median(walls):10.2f} s {min(walls):5.2f}-{max(walls):5.2f} s "
              f"{median(c for _, c in runs):5.1f} s {median(walls) / a:7.2f}x")
    if anchor:
        walls = [w for w, _ in anchor]
        print(f"{'plain Bambi':22s} {a:10.2f} s {min(walls):5.2f}-{max(walls):5.2f} s "
              f"{median(c for _, c in anchor):5.1f} s")


if __name__ == "__main__":
    main()
