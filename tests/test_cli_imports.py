"""What a Bayesian `multilevel fit` in its own process leaves out (multilevel.cli._lighter_bayes_imports)."""

import subprocess
import sys

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
