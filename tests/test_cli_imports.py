"""What a Bayesian `multilevel fit` in its own process leaves out (multilevel.cli._lighter_bayes_imports)."""

import contextlib
import subprocess
import sys

import pytest

SCRIPT = """
import inspect, sys
stack = inspect.stack
import multilevel.cli as cli
cli._lighter_bayes_imports()
assert inspect.stack is stack, "inspect.stack not restored"
import arviz_base
try:
    import dask
except ImportError:
    print("dask absent")
import xarray.namedarray.pycompat as pycompat
print("dask arrays", pycompat.array_type("dask"))
from arviz_base import io_numpyro
try:
    io_numpyro.numpyro.infer
except ModuleNotFoundError as exc:
    print("numpyro:", str(exc).splitlines()[0])
    print("where:", "io_numpyro.py, line" in str(exc))
except AttributeError:
    print("numpyro installed")
"""


def test_fit_process_leaves_dask_out_and_keeps_lazy_errors():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert "dask absent" in lines
    assert "dask arrays ()" in lines                 # xarray sees no dask array type
    # an absent optional package still says so when used (lazy_loader's message)
    # and where it was asked for (file and line, from the frames without source)
    assert ("numpyro: No module named 'numpyro'" in lines and "where: True" in lines) \
        or "numpyro installed" in lines


def test_main_in_a_callers_process_keeps_dask():
    import multilevel.cli as cli

    assert cli._OWN_PROCESS["value"] is False         # only console_main sets it


@pytest.mark.parametrize("fails", [False, True], ids=["read", "a spec error"])
def test_fit_process_imports_without_collections_then_freezes(monkeypatch, fails):
    """console_main's process reads the spec and data and imports with the collector off;
    afterwards it is on again (also after an error) and the imported objects are frozen."""
    import gc

    import multilevel.cli as cli

    monkeypatch.setitem(cli._OWN_PROCESS, "value", True)
    frozen = gc.get_freeze_count()
    assert gc.isenabled()
    try:
        with pytest.raises(ValueError) if fails else contextlib.nullcontext():
            with cli._imports_without_gc():
                assert not gc.isenabled()
                if fails:
                    raise ValueError("no such column")
        assert gc.isenabled() and gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()   # frozen objects are never collected: not in the test session


def test_a_callers_process_keeps_its_collector(monkeypatch):
    import gc

    import multilevel.cli as cli

    assert cli._OWN_PROCESS["value"] is False
    frozen = gc.get_freeze_count()
    with cli._imports_without_gc():
        assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_import_multilevel_is_light():
    """``import multilevel`` (and the CLI module) imports no pandas, SciPy or matplotlib:
    the console script imports them itself, with the collector paused."""
    script = ("import sys, multilevel, multilevel.cli\n"
              "print(sorted(m for m in ('pandas', 'scipy', 'matplotlib', 'numpy', 'bambi') if m in sys.modules))\n"
              "import multilevel as ml\n"
              "import multilevel.api\n"
              "print(ml.fit is multilevel.api.fit, ml.datasets.__name__, 'fit' in dir(ml))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[]", "True multilevel.datasets True"]
