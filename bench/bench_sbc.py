"""Simulation-based calibration of the default Bayesian fits (Talts et al. 2018).

    nice -n 10 .venv/bin/python bench/bench_sbc.py --replicates 200 --out /tmp/sbc
    .venv/bin/python bench/bench_sbc.py --report /tmp/sbc      # merge and print only

Two models, both at the package's default priors and parameterization:

* sleepstudy ``Reaction ~ Days + (Days | Subject)``: the LKJ block (two SDs and the
  correlation), the fixed effects and σ;
* cbpp's binomial GLMM ``(1 | herd)`` written per animal, ``y ~ period + (1 | herd)``
  with ``family="bernoulli"`` (842 rows; the same likelihood up to a constant, so the same
  posterior): ``ml.sbc`` simulates a plain response column and refuses ``cbind``.

Replicates run in chunks of ``--chunk`` (one ``ml.sbc`` call each, its own seed, so the
prior draws of different chunks are independent) and each chunk is saved as it
finishes; the report merges the chunks of a model. Each replicate: 2 chains x 250 draws
(tune 250), every 5th draw kept (100 ranks); the merged ranks are binned as ``ml.sbc``
bins (about 5 replicates expected per bin, at most 20 bins); the χ² uniformity test per
parameter and the ranks' histogram as text.
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd

MODELS = {
    "sleepstudy": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "gaussian"),
    "cbpp": ("y ~ period + (1 | herd)", "cbpp-animals", "bernoulli"),
}


def animals():
    """cbpp with one row per animal: y = 1 for the ``incidence`` cases of each herd-period."""
    import multilevel as ml

    cbpp = ml.datasets.load("cbpp")
    size = cbpp["size"].to_numpy()
    rows = cbpp.loc[cbpp.index.repeat(size), ["herd", "period"]].reset_index(drop=True)
    within = np.concatenate([np.arange(n) for n in size])
    rows["y"] = (within < np.repeat(cbpp["incidence"].to_numpy(), size)).astype(int)
    return rows
SETTINGS = {"draws": 250, "tune": 250, "chains": 2, "thin": 5, "bins": 20}


def run(out: Path, replicates: int, chunk: int, models=tuple(MODELS)) -> None:
    import multilevel as ml

    out.mkdir(parents=True, exist_ok=True)
    for k in range(replicates // chunk):
        for name, (formula, data, family) in MODELS.items():
            if name not in models:
                continue
            file = out / f"{name}-{k:03d}.pkl"
            if file.exists():
                continue
            start = time.perf_counter()
            frame = animals() if data == "cbpp-animals" else data
            result = ml.sbc(formula, frame, family=family, n=chunk, seed=1000 * (k + 1), **SETTINGS)
            seconds = time.perf_counter() - start
            file.write_bytes(pickle.dumps({"result": result, "seconds": seconds}))
            print(f"{name} chunk {k}: {result.n} replicates in {seconds:.0f} s", flush=True)


def merge(out: Path, name: str):
    from multilevel.sbc import SBCResult

    parts = [pickle.loads(f.read_bytes()) for f in sorted(out.glob(f"{name}-*.pkl"))]
    if not parts:
        return None, 0.0
    results = [p["result"] for p in parts]
    offset, ranks, truth, rhat, div, failures = 0, [], [], [], [], []
    for r in results:
        ranks.append(r.ranks.set_axis(r.ranks.index + offset))
        truth.append(r.truth.set_axis(r.truth.index + offset))
        rhat.append(r.max_rhat.set_axis(r.max_rhat.index + offset))
        div.append(r.divergences.set_axis(r.divergences.index + offset))
        failures += r.failures
        offset += len(r.truth)
    n_ranks, n = results[0].n_ranks, sum(len(r.ranks) for r in results)
    # as ml.sbc's default, ~5 replicates expected per bin, a divisor of the n_ranks + 1 values
    bins = max([b for b in range(2, min(20, n // 5) + 1) if (n_ranks + 1) % b == 0], default=2)
    merged = SBCResult(ranks=pd.concat(ranks), truth=pd.concat(truth), n_ranks=n_ranks,
                       bins=bins, max_rhat=pd.concat(rhat), divergences=pd.concat(div),
                       failures=failures, formula=results[0].formula,
                       n_compilations=sum(getattr(r, "n_compilations", 0) for r in results))
    return merged, sum(p["seconds"] for p in parts)


def report(out: Path) -> None:
    for name in MODELS:
        result, seconds = merge(out, name)
        if result is None:
            continue
        print(f"\n{name}: {MODELS[name][0]} ({MODELS[name][2]}), {result.n} replicates, "
              f"{len(result.failures)} failed, {seconds / 60:.1f} min wall "
              f"({seconds / max(result.n, 1):.1f} s per replicate), {result.n_compilations} "
              "compilation(s); replicates with R-hat > 1.01: "
              f"{int((result.max_rhat > 1.01).sum())}, with divergences: "
              f"{int((result.divergences > 0).sum())}")
        print(result.test().round(3).to_string())
        counts = result.counts()
        print(f"rank histograms (replicates per bin, {result.bins} bins):")
        for column in counts.columns:
            print(f"  {column:32s} " + " ".join(f"{c:2d}" for c in counts[column]))
        try:
            import matplotlib
            matplotlib.use("Agg")
            result.plot().savefig(out / f"{name}-ranks.png", dpi=80)
        except (ImportError, ValueError, RuntimeError) as exc:  # the figure is a convenience
            print(f"(no figure: {exc})")
    np.seterr(all="warn")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("/tmp/sbc"))
    parser.add_argument("--report", type=Path, default=None, help="only merge and print")
    parser.add_argument("--model", choices=tuple(MODELS), action="append",
                        help="only these models (default: all)")
    args = parser.parse_args()
    if args.report is None:
        run(args.out, args.replicates, args.chunk, tuple(args.model or MODELS))
    report(args.report or args.out)


if __name__ == "__main__":
    main()
