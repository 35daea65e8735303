"""Cold start: ``import multilevel`` and ``import + sleepstudy REML fit``, each in a fresh
interpreter, for one or more source trees timed in turn (interleaved, so that other work
on the machine inflates all of them alike).

    .venv/bin/python bench/bench_import.py                       # this checkout's src/
    .venv/bin/python bench/bench_import.py --src /tmp/before/src src --repeats 9

Prints, per tree and task, the median and the spread of the wall times of
``python -c ...`` (interpreter start included), how many modules the task left in
``sys.modules`` (a count that does not depend on the machine's load) and which heavy
libraries (PyMC, Bambi, ArviZ, matplotlib, PyTensor) among them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("pymc", "bambi", "arviz", "matplotlib", "pytensor")
TASKS = {
    "import multilevel": "import multilevel",
    "import + sleepstudy REML fit": (
        "import multilevel as ml; ml.fit('Reaction ~ Days + (Days | Subject)', 'sleepstudy', "
        "method='reml')"
    ),
}
REPORT = ("; import sys; print(len(sys.modules), ','.join(m for m in {heavy!r} if m in sys.modules) "
          "or 'none')")


def run(src: str, code: str) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(Path(src).resolve()), "PYTHONHASHSEED": "0"}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code + REPORT.format(heavy=HEAVY)], env=env,
                         capture_output=True, text=True, check=True)
    return time.perf_counter() - start, out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", nargs="+", default=["src"], help="source trees to time")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    times = {(s, t): [] for s in args.src for t in TASKS}
    heavy = {}
    for src in args.src:                      # warm the file cache and the .pyc files
        for code in TASKS.values():
            run(src, code)
    for _ in range(args.repeats):
        for task, code in TASKS.items():
            for src in args.src:
                seconds, loaded = run(src, code)
                times[src, task].append(seconds)
                heavy[src, task] = loaded
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"median (min-max) of {args.repeats} fresh interpreters")
    for task in TASKS:
        for src in args.src:
            t = times[src, task]
            print(f"{task:30s} {src:28s} {statistics.median(t):6.3f} s "
                  f"({min(t):.3f}-{max(t):.3f})  modules, heavy ones: {heavy[src, task]}")


if __name__ == "__main__":
    main()
