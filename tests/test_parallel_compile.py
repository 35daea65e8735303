"""The two C callbacks compiled at once (multilevel.bayes.parallel_compile): the expansion's
object code comes from a forked child, and the callbacks compute exactly what a serial
compile's compute; seeded draws are the same. Where the child fails, is killed, stalls,
runs too long or returns uncacheable code, or where nothing may be forked, the compile is
serial and its result the same.

The model tests compile sleepstudy's ``(Days | Subject)`` twice (the structure
tests/test_callbacks.py compiles); the fallback tests compile a one-line C callback.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time

import numpy as np
import pytest

from multilevel.bayes import cache
from multilevel.bayes import parallel_compile as pc
from multilevel.bayes.cache import _logp_at
from multilevel.bayes.model import build_model

# the per-structure compilation (models outside multilevel.bayes.generic's class)
pytestmark = pytest.mark.usefixtures("per_structure_route")

FORMULA = "Reaction ~ Days + (Days | Subject)"


def _expand_at(compiled, x: np.ndarray):
    proto = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p,
                             ctypes.c_void_p, ctypes.c_void_p)
    x = np.ascontiguousarray(x, dtype="float64")
    out = np.full(compiled.n_expanded, np.nan)
    code = proto(compiled.compiled_expand_func.address)(
        compiled.n_dim, compiled.n_expanded, x.ctypes.data, out.ctypes.data,
        compiled.user_data.ctypes.data)
    return int(code), out


@pytest.fixture(scope="module")
def pair(sleepstudy, tmp_path_factory):
    """Compiled serially, sampled (nutpie's threads have run in this process), then compiled
    with the expansion forked and sampled again with the same seed. The serial compile
    without the disk cache, the forked one stored in a fresh cache folder.

    Both after a first compile of the structure in this process: the first compile of a
    structure in a process gives, serial or forked, one gradient element of 42 1 ulp
    apart from every later compile in it (seen before this module existed: PyTensor's
    kernels are linked from its disk cache the first time, from memory later); later
    compiles agree exactly. A fresh process's first compile forked and serial agree
    (bench/README.md, "First-ever fit")."""
    import nutpie

    model = build_model(FORMULA, sleepstudy).pymc
    folder = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setattr(cache, "_MEMORY", {})
    mp.setenv("MULTILEVEL_CACHE_DIR", str(folder))
    out = {}
    try:
        for name, forked in (("first", False), ("serial", False), ("forked", True)):
            mp.setenv("MULTILEVEL_CACHE", "1" if forked else "0")
            mp.setattr(pc, "ENABLED", forked)
            compiled = cache.compile_nutpie(model, stats=(stats := {}))
            mode = pc.LAST["mode"]
            if name == "first":
                continue
            draws = nutpie.sample(compiled, draws=150, tune=150, chains=2, seed=7,
                                  progress_bar=False).posterior
            out[name] = (compiled, mode, draws, stats)
    finally:
        mp.undo()
    return model, out, folder


def test_expansion_was_compiled_in_a_child(pair):
    _, out, _ = pair
    assert out["serial"][1].startswith("serial: off")
    assert out["forked"][1] == "forked"


def test_both_callbacks_compute_exactly_the_serial_compiles_values(pair):
    model, out, _ = pair
    ours, serial = out["forked"][0], out["serial"][0]
    logp_fn = model.compile_logp(jacobian=True, mode="FAST_COMPILE")   # PyMC's own, no C
    names, slices, shapes = ours.shape_info
    value_names = {v.name for v in model.value_vars}
    rng = np.random.default_rng(5)
    for _ in range(5):
        x = rng.normal(scale=0.8, size=ours.n_dim)
        code, logp, grad = _logp_at(ours.compiled_logp_func.address, ours.n_dim, x, ours.user_data)
        ref = _logp_at(serial.compiled_logp_func.address, serial.n_dim, x, serial.user_data)
        assert code == ref[0] == 0
        assert logp == ref[1]
        np.testing.assert_array_equal(grad, ref[2])
        point = {n: x[s].reshape(sh) for n, s, sh in zip(names, slices, shapes) if n in value_names}
        assert logp == pytest.approx(float(logp_fn(point)), rel=1e-9)
        code, expanded = _expand_at(ours, x)
        ref_code, ref_expanded = _expand_at(serial, x)
        assert code == ref_code == 0
        assert np.isfinite(expanded).all()
        np.testing.assert_array_equal(expanded, ref_expanded)


def test_seeded_draws_are_the_serial_compiles(pair):
    _, out, _ = pair
    a, b = out["forked"][2], out["serial"][2]
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_a_forked_result_is_stored_and_loads(pair, monkeypatch):
    """The expansion rebuilt from the child's parts is written to the disk cache as it
    came (numba keeps no object code of a rebuilt library) and loads back."""
    model, out, folder = pair
    assert out["forked"][3]["cache"] == "miss"
    monkeypatch.setenv("MULTILEVEL_CACHE_DIR", str(folder))
    monkeypatch.setattr(cache, "_MEMORY", {})
    monkeypatch.setattr(cache, "compile_pair", _no_compile)   # must not be needed
    again = cache.compile_nutpie(model, stats=(stats := {}))
    assert (stats["cache"], stats["source"]) == ("hit", "disk")
    x = np.random.default_rng(2).normal(size=again.n_dim)
    np.testing.assert_array_equal(_expand_at(again, x)[1], _expand_at(out["serial"][0], x)[1])


def _no_compile(*args):
    raise AssertionError("called")


# ------------------------------------------------------------- fallbacks (a tiny callback)
def _twice(x):
    return 2.0 * x


def _plus_one(x):
    return x + 1.0


_SIG = "float64(float64)"
_PROTO = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)


def _pair():
    return pc.compile_pair((_twice, _SIG), (_plus_one, _SIG))


def _check(one, two) -> None:
    assert _PROTO(one.address)(3.0) == 6.0
    assert _PROTO(two.address)(3.0) == 4.0
    if "pid" in pc.LAST:   # the child was waited for: no zombie left
        with pytest.raises(ChildProcessError):
            os.waitpid(pc.LAST["pid"], os.WNOHANG)


def _in_child(monkeypatch, action) -> None:
    """``action()`` in the forked child before its compile; the parent compiles as usual."""
    parent, compile_callback = os.getpid(), pc.compile_callback

    def patched(*args):
        if os.getpid() != parent:
            action()
        return compile_callback(*args)

    monkeypatch.setattr(pc, "compile_callback", patched)


@pytest.fixture
def forking(monkeypatch):
    monkeypatch.setattr(pc, "ENABLED", True)
    monkeypatch.setattr(pc, "can_fork", lambda: True)
    return monkeypatch


def test_forked_pair_computes_the_functions(forking):
    _check(*_pair())
    assert pc.LAST["mode"] == "forked" and pc.LAST["pid"] != os.getpid()
    assert pc.LAST["both_s"] > 0 and pc.LAST["second_s"] > 0


@pytest.mark.parametrize(("action", "mode"), [
    (lambda: os.kill(os.getpid(), signal.SIGKILL), "serial: child failed (exit status -9)"),
    (lambda: os._exit(3), "serial: child failed (exit status 3)"),
    (lambda: 1 / 0, "serial: child failed (exit status 1)"),
], ids=["killed", "exits", "raises"])
def test_a_failing_child_means_a_serial_compile(forking, action, mode):
    _in_child(forking, action)
    _check(*_pair())
    assert pc.LAST["mode"] == mode


def test_uncacheable_code_is_compiled_here(forking):
    forking.setattr(pc, "cacheable", lambda cres: False)
    _check(*_pair())
    assert pc.LAST["mode"] == "serial: child uncacheable (dynamic globals)"


def test_a_child_blocked_on_a_lock_is_killed_and_the_compile_serial(forking):
    """The deadlock a fork can make: another thread held a lock at the fork that the
    child needs. The child uses no CPU; after STALL_S seconds it is killed."""
    held, release = threading.Lock(), threading.Event()
    holder = threading.Thread(target=lambda: (held.acquire(), release.wait(), held.release()))
    holder.start()
    try:
        while not held.locked():
            time.sleep(0.01)
        forking.setattr(pc, "STALL_S", 0.5)
        _in_child(forking, held.acquire)
        start = time.perf_counter()
        _check(*_pair())
        assert time.perf_counter() - start < 20
    finally:
        release.set()
        holder.join()
    assert pc.LAST["mode"] == "serial: child stalled"


def test_a_child_past_its_deadline_is_killed(forking):
    forking.setattr(pc, "MIN_WAIT_S", 0.5)
    forking.setattr(pc, "WAIT_RATIO", 0.0)

    def spin():
        while True:
            pass

    _in_child(forking, spin)
    _check(*_pair())
    assert pc.LAST["mode"] == "serial: child timed out"


@pytest.mark.parametrize("setting", ["off", "no fork"])
def test_no_child_where_forking_is_off_or_impossible(monkeypatch, setting):
    monkeypatch.setattr(pc, "ENABLED", setting != "off")
    monkeypatch.setattr(pc, "can_fork", lambda: False)
    monkeypatch.setattr(os, "fork", _no_compile)   # never called
    _check(*_pair())
    assert pc.LAST["mode"].startswith("serial: " + ("off" if setting == "off" else "no fork"))


def test_an_opt_level_applies_to_the_callbacks_only(monkeypatch):
    """bench/README.md's measurement of numba's optimization level for the callbacks:
    set while they compile (child included), numba's own level restored afterwards."""
    from numba.core import config

    before = config.OPT
    seen: list[int] = []
    monkeypatch.setattr(pc, "OPT_LEVEL", 1)
    callback = pc.compile_callback(_twice, _SIG)
    assert _PROTO(callback.address)(3.0) == 6.0
    assert config.OPT == before
    monkeypatch.setattr(pc, "_opt_level", _recording(pc._opt_level, seen))
    pc.compile_callback(_plus_one, _SIG)
    assert seen == [1] and config.OPT == before


def _recording(opt_level, seen):
    import contextlib

    from numba.core import config

    @contextlib.contextmanager
    def wrapped():
        with opt_level():
            seen.append(int(config.OPT))
            yield
    return wrapped
