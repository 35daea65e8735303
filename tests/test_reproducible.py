"""Seeded fits are bit-reproducible across processes: the compiled log density does not
depend on the state of PyTensor's own kernel cache (multilevel.bayes.cache.NUMBA_FLAGS).

With PyTensor's default fastmath kernels, a model compiled while PyTensor's cache was cold
(a fresh machine, CI) evaluated to different last bits than the same model compiled later
with the cache warm, so a seeded fit gave other draws on the first run than afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

PROBE = r"""
import hashlib, warnings
import numpy as np
warnings.simplefilter("ignore")
import multilevel as ml
from multilevel.bayes.cache import _logp_at, compile_nutpie
from multilevel.bayes.model import build_model

d = ml.datasets.load("diabetes")
rng = np.random.default_rng(0)
noise = [f"noise{k}" for k in range(5)]
for name in noise:
    d[name] = rng.normal(size=len(d))
formula = "target ~ " + " + ".join(["age", "sex", "bmi", "bp", "s3", "s5"] + noise)
built = build_model(formula, d, priors=ml.priors.horseshoe())
compiled = compile_nutpie(built.pymc, stats={})
h = hashlib.sha256()
points = np.random.default_rng(42).normal(size=(50, compiled.n_dim)) * 0.5
for x in points:
    code, logp, grad = _logp_at(compiled.compiled_logp_func.address, compiled.n_dim, x,
                                compiled.user_data)
    h.update(np.array([code, logp, *grad]).tobytes())
for seed in range(4):
    h.update(np.asarray(compiled.initial_point_func(seed)).tobytes())
print(h.hexdigest())
"""


def _run(compiledir, cache_dir) -> str:
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={compiledir}",
               MULTILEVEL_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def test_compiled_density_does_not_depend_on_pytensors_cache(tmp_path):
    compiledir = tmp_path / "pytensor"
    cold = _run(compiledir, tmp_path / "cache-a")          # PyTensor's kernel cache empty
    warm = _run(compiledir, tmp_path / "cache-b")          # the same kernels, now cached
    from_cache = _run(compiledir, tmp_path / "cache-b")    # this package's cached entry
    assert cold == warm == from_cache
