"""A rerun of ``multilevel fit`` samples its recorded problem in a child process
(multilevel.bayes.speculate): the draws are the ones the process would have drawn, and
anything that is not exactly this run's problem is sampled by the process itself.

Each run is the console script's own process (a subprocess here), with a kernel folder
of this module's.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from multilevel.bayes import cache, speculate
from multilevel.forked import can_fork

ROOT = Path(__file__).resolve().parents[1]
SPEC = str(ROOT / "models" / "sleepstudy.toml")
RUN = """
import atexit, json, sys
import multilevel.cli as cli
import multilevel.bayes.speculate as S
atexit.register(lambda: print("SPECULATE " + json.dumps(S.LAST), file=sys.stderr))
def linked():   # whether this process linked the generic kernel's machine code
    K = sys.modules.get("multilevel.bayes.generic.kernel")
    return K._MEMORY["kernel"].linked if K is not None and "kernel" in K._MEMORY else None
atexit.register(lambda: print("KERNEL " + json.dumps(linked()), file=sys.stderr))
sys.argv = ["multilevel", "fit", *sys.argv[1:]]
cli.console_main()
"""


# the child is forked only where forking is possible and there is a second core
needs_child = pytest.mark.skipif(not can_fork(), reason="no second core or no fork here: no child")


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    return tmp_path_factory.mktemp("kernels")


def fit(kernels, out, *extra, env=None, linked=None):
    """One ``multilevel fit`` of sleepstudy (200 + 200 draws): what speculate did (with
    ``linked={}``, ``linked["kernel"]`` says whether the process linked the kernel)."""
    environ = dict(os.environ, MULTILEVEL_KERNEL_DIR=str(kernels), **(env or {}))
    proc = subprocess.run([sys.executable, "-c", RUN, SPEC, "--out", str(out), "--draws", "200",
                           "--tune", "200", *extra], env=environ, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    line = [x for x in proc.stderr.splitlines() if x.startswith("SPECULATE ")][-1]
    if linked is not None:
        kernel = [x for x in proc.stderr.splitlines() if x.startswith("KERNEL ")][-1]
        linked["kernel"] = json.loads(kernel.removeprefix("KERNEL "))
    return json.loads(line.removeprefix("SPECULATE "))


def same_trace(a: Path, b: Path) -> bool:
    one, two = xr.open_datatree(a / "posterior.nc"), xr.open_datatree(b / "posterior.nc")
    for group in ("posterior", "sample_stats", "log_likelihood"):
        x, y = one[group].to_dataset(), two[group].to_dataset()
        if set(x.data_vars) != set(y.data_vars):
            return False
        for name in x.data_vars:
            if not np.array_equal(x[name].values, y[name].values, equal_nan=x[name].dtype.kind == "f"):
                return False
    return True


def rewrite(path: Path, change) -> None:
    """Change the stored record (``change(record)``), stored again as a trusted entry."""
    key = path.read_bytes().split(b"\n")[1].decode()
    record = pickle.loads(cache._read_entry(path, key))
    change(record)
    cache._write_atomic(path, record)


@pytest.fixture(scope="module")
def first(kernels, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "first"
    last = fit(kernels, out)
    (record,) = kernels.glob("problem-*.pkl")
    return out, last, record


def test_a_first_run_records_its_problem(first):
    _, last, record = first
    assert last == {"record": "written"}
    assert oct(record.stat().st_mode & 0o777) == "0o600"
    stored = pickle.loads(cache._read_entry(record, record.read_bytes().split(b"\n")[1].decode()))
    assert 0 < stored["sample_s"] < 60


@needs_child
def test_a_rerun_takes_the_childs_draws_which_are_this_processs(first, kernels, tmp_path):
    """The child samples on one thread, the first run's process on two: the same draws,
    sampling statistics and pointwise log-likelihood, bit for bit."""
    out = first[0]
    linked = {}
    last = fit(kernels, tmp_path / "again", linked=linked)
    assert last["record"] == "found" and last["used"] is True
    assert not Path(f"/proc/{last['child']}").exists()   # reaped
    assert same_trace(out, tmp_path / "again")
    # the process needed the kernel's key, never its code: not linked (the child linked it)
    assert linked["kernel"] is False


def test_another_run_of_the_spec_is_not_speculated(first, kernels, tmp_path):
    out = first[0]
    last = fit(kernels, tmp_path / "seed", "--seed", "5")
    assert last == {"record": "written"}   # another key: no record, no child
    assert not same_trace(out, tmp_path / "seed")
    linked = {}
    off = fit(kernels, tmp_path / "off", env={"MULTILEVEL_SPECULATE": "0"}, linked=linked)
    assert off == {"why": "off"} and linked["kernel"] is True   # it sampled: linked
    assert same_trace(out, tmp_path / "off")


@needs_child
def test_a_record_of_another_problem_is_sampled_here(first, kernels, tmp_path):
    """A record whose problem is not this run's (here: other data, hashed consistently,
    as a stale or forged record would be) is never used: the process samples itself."""
    out, _, record = first

    def other_data(record):
        floats = record["problem"]["packed"]["floats"].copy()
        floats[: len(floats) // 2] += 1.0
        record["problem"]["packed"]["floats"] = floats
        record["digest"] = speculate._digest(record["problem"], record["settings"])

    rewrite(record, other_data)
    last = fit(kernels, tmp_path / "stale")
    assert last["why"] == "the recorded problem is not this run's" and "used" not in last
    assert not Path(f"/proc/{last['child']}").exists()   # killed and reaped
    assert same_trace(out, tmp_path / "stale")
    assert fit(kernels, tmp_path / "fixed")["used"] is True   # the record was written again


@needs_child
def test_a_child_that_fails_leaves_the_sampling_to_the_process(first, kernels, tmp_path):
    out, _, record = first

    def other_settings(record):   # the child refuses settings that nutpie would not make
        record["settings"] = {**record["settings"], "sampler": "another"}

    rewrite(record, other_settings)
    last = fit(kernels, tmp_path / "failed")
    assert last["why"].startswith("the child did not sample it (RuntimeError: nutpie's settings")
    assert same_trace(out, tmp_path / "failed")


def test_a_long_sampling_is_left_to_the_process(first, kernels, tmp_path):
    """A child on one thread could finish after the process's own two-thread sampling."""
    out, _, record = first
    rewrite(record, lambda r: r.update(sample_s=speculate.MAX_SAMPLE_S + 1))
    last = fit(kernels, tmp_path / "long")
    assert last == {"record": "written", "why": "its sampling is long"}   # timed again
    assert same_trace(out, tmp_path / "long")


@pytest.mark.parametrize("call", [None, {"draws": 10, "zarr_store": object()},
                                  {"draws": 10, "sampler": "mclmc"},
                                  {"draws": 10, "adaptation": "low_rank"},
                                  {"draws": 10, "use_grad_based_mass_matrix": False},
                                  {"draws": 10, "init_mean": np.zeros(2)}])
def test_calls_a_record_cannot_reproduce_are_not_recorded(call):
    assert speculate._recipe(call) is None


def test_the_recipe_keeps_the_settings_and_drops_the_rest():
    call = {"draws": 10, "tune": 5, "chains": 2, "cores": 2, "seed": 3, "save_warmup": False,
            "progress_bar": False, "progress_callback": print, "target_accept": 0.9,
            "adaptation": "draw_diag", "store_unconstrained": False}
    assert speculate._recipe(call) == {"draws": 10, "tune": 5, "chains": 2, "seed": 3,
                                       "target_accept": 0.9, "adaptation": "draw_diag",
                                       "store_unconstrained": False}


def test_the_digest_survives_pickling_and_sees_every_value():
    problem = {"packed": {"ints": np.arange(4), "floats": np.linspace(0, 1, 3)},
               "coords": {"g": ["a", "b"]}, "shapes": [(), (2, 3)], "scales": None}
    settings = {"settings": {"seed": 1, "num_draws": 10}}
    digest = speculate._digest(problem, settings)
    assert speculate._digest(pickle.loads(pickle.dumps(problem)), settings) == digest
    changed = pickle.loads(pickle.dumps(problem))
    changed["packed"]["floats"][1] += 1e-12
    assert speculate._digest(changed, settings) != digest
    assert speculate._digest(problem, {"settings": {"seed": 2, "num_draws": 10}}) != digest


class _Compiled:
    """What attach needs of nutpie's compiled model."""

    def __init__(self):
        self.n_dim, self.n_expanded, self.dims, self._coords = 2, 2, {}, {}
        self.shape_info = (["a"], [slice(0, 2)], [(2,)])

    def _make_sampler(self, settings, *args):
        return "nutpie's sampler"


class _Settings:
    def as_dict(self):
        return {"settings": {"seed": 1}}


def _attached(monkeypatch, kernel):
    monkeypatch.setattr(speculate, "_STATE", {"key": "k"})
    monkeypatch.setattr(speculate, "LAST", {})
    compiled = _Compiled()
    speculate.attach(compiled, 1, kernel, {"ints": np.arange(2)},
                     {"support": {"a": np.zeros(2)}, "stream": {"a": 0}, "n_streams": 1}, None)
    return compiled


def test_a_failure_while_speculating_leaves_the_usual_sampling(monkeypatch):
    """Speculation is an optimization: an error in it never fails or changes a fit."""
    kernel = type("Kernel", (), {"key": "abc"})()
    compiled = _attached(monkeypatch, kernel)

    def broken(*args):
        raise ValueError("an unforeseen value")

    monkeypatch.setattr(speculate, "_digest", broken)
    token = speculate.CALL.set({"draws": 10, "seed": 1})
    try:
        assert compiled._make_sampler(_Settings(), 1, 2) == "nutpie's sampler"
    finally:
        speculate.CALL.reset(token)
    assert speculate.LAST["why"] == "not speculated (ValueError: an unforeseen value)"
    assert "pending" not in speculate._STATE   # nothing recorded either


def test_a_problem_that_cannot_be_read_is_not_attached(monkeypatch):
    compiled = _attached(monkeypatch, kernel=object())   # no key
    assert compiled._make_sampler.__func__ is _Compiled._make_sampler
    assert speculate.LAST["why"].startswith("not speculated (AttributeError")
