"""Warnings as a user sees them (issue 25): each shown once, pointing at the user's line
(not at the package's file), with advice that fits the model; PyTensor's BLAS notice
never reaches the user's output."""

from __future__ import annotations

import dataclasses
import inspect
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import multilevel as ml
from multilevel.bayes.convergence import convergence_report
from multilevel.errors import (
    PACKAGE_DIR,
    ConvergenceWarning,
    DataWarning,
    SingularFitWarning,
)

ROOT = Path(__file__).resolve().parents[1]
HERE = str(Path(__file__).resolve())


def caught(category, call):
    """Run ``call()`` with every warning recorded; return (result, the ``category`` ones)."""
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        result = call()
    return result, [w for w in records if issubclass(w.category, category)]


def line_of(marker: str) -> int:
    """The line of this file that contains ``marker`` (the user's call in a test)."""
    lines = Path(__file__).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if marker in line and "line_of(" not in line)


# ------------------------------------------------------------------ where a warning points
def test_data_warning_points_at_the_users_call():
    data = ml.datasets.load("sleepstudy")
    data.loc[3, "Reaction"] = np.nan
    _, found = caught(DataWarning, lambda: ml.fit("Reaction ~ Days + (1 | Subject)", data, method="reml"))  # CALL-A
    assert len(found) == 1
    assert "Removed 1 of 180 rows" in str(found[0].message)
    assert (found[0].filename, found[0].lineno) == (HERE, line_of("# CALL-A"))


def test_singular_fit_warning_points_at_the_users_call():
    rng = np.random.default_rng(4)
    data = pd.DataFrame({"y": rng.normal(size=60), "g": np.repeat(list("abcdef"), 10)})
    fit, found = caught(SingularFitWarning, lambda: ml.fit("y ~ 1 + (1 | g)", data, method="reml"))  # CALL-B
    assert fit.singular
    assert len(found) == 1
    assert (found[0].filename, found[0].lineno) == (HERE, line_of("# CALL-B"))


def test_every_warning_of_the_package_goes_through_errors_warn():
    """A fixed stacklevel is right for one call path only; ``errors.warn`` skips the
    package's frames from any entry. No module calls ``warnings.warn`` itself."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "src" / "multilevel").rglob("*.py")
                 if p.name != "errors.py" and "warnings.warn(" in p.read_text()]
    assert offenders == []
    assert PACKAGE_DIR == os.path.dirname(inspect.getfile(ml)) + os.sep


# ------------------------------------------------------------------ advice that fits the model
def _idata(divergent: int, chains: int = 2, draws: int = 100):
    diverging = np.zeros((chains, draws), dtype=bool)
    diverging.flat[:divergent] = True
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    posterior = xr.Dataset({"b": (("chain", "draw"), np.zeros((chains, draws)))}, coords=coords)
    stats = xr.Dataset({"diverging": (("chain", "draw"), diverging)}, coords=coords)
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})


SUMMARY = pd.DataFrame({"r_hat": [1.0], "ess_bulk": [900.0], "ess_tail": [900.0]}, index=["b"])


@pytest.mark.parametrize("group_effects, shrinkage, target_accept, says, never", [
    (True, False, 0.9, ["raise target_accept from 0.9 (e.g. 0.95 or 0.99)", "non-centred"], []),
    (False, False, 0.9, ["raise target_accept from 0.9", "rescale the predictors"],
     ["group", "random-effects", "non-centred"]),
    (False, True, 0.99, ["at target_accept 0.99 already", "regularized_horseshoe"],
     ["group", "random-effects", "non-centred", "raise target_accept"]),
    (False, False, 0.95, ["raise target_accept from 0.95 (e.g. 0.99)"], ["0.95 or", "group"]),
])
def test_divergence_advice_fits_the_model(group_effects, shrinkage, target_accept, says, never):
    report = convergence_report(_idata(3), SUMMARY, group_effects=group_effects,
                                target_accept=target_accept, shrinkage=shrinkage)
    assert not report.ok and len(report.problems) == 1
    assert report.problems[0].startswith("3 divergent transitions of 200")
    for text in says:
        assert text in report.problems[0]
    for text in never:
        assert text not in report.problems[0]


# ------------------------------------------------------------------ a sampled fit without groups
@pytest.fixture(scope="module")
def short_regression():
    """1 chain x 60 draws of a regression without group terms: the ESS check must fail."""
    rng = np.random.default_rng(2)
    data = pd.DataFrame({"x": rng.normal(size=40)})
    data["y"] = 1 + 0.5 * data["x"] + rng.normal(size=40)
    fit, found = caught(Warning, lambda: ml.fit("y ~ x", data, draws=60, tune=60, chains=1, seed=5, progress=False))  # CALL-C
    return fit, found


@pytest.mark.slow
def test_convergence_warning_once_at_the_users_line(short_regression):
    fit, found = short_regression
    convergence = [w for w in found if issubclass(w.category, ConvergenceWarning)]
    assert len(convergence) == 1, [str(w.message) for w in found]
    assert (convergence[0].filename, convergence[0].lineno) == (HERE, line_of("# CALL-C"))
    assert "Effective sample size below 100" in str(convergence[0].message)
    # nothing else from the sampler or its dependencies reaches the user
    assert [w for w in found if not issubclass(w.category, ConvergenceWarning)] == []
    # summary() and check_convergence() report the problem again, but do not warn twice
    table, again = caught(Warning, fit.summary)
    assert again == [] and "Effective sample size" in table.attrs["convergence"]
    report, again = caught(Warning, fit.check_convergence)
    assert again == [] and not report.ok


@pytest.mark.slow
def test_a_fit_without_groups_gets_no_group_effect_advice(short_regression):
    fit, _ = short_regression
    stats = fit.idata["sample_stats"].to_dataset()
    diverging = np.zeros(stats["diverging"].shape, dtype=bool)
    diverging.flat[:4] = True
    stats["diverging"] = (stats["diverging"].dims, diverging)
    idata = fit.idata.copy()
    idata["sample_stats"] = xr.DataTree(stats)
    same_model = dataclasses.replace(fit, idata=idata)   # its convergence report is computed anew
    problems = " ".join(same_model.convergence.problems)
    assert "4 divergent transitions" in problems and "raise target_accept from 0.9" in problems
    assert "group" not in problems and "random-effects" not in problems


# ------------------------------------------------------------------ PyTensor's BLAS notice
def test_no_blas_notice_once_the_bayesian_backend_is_loaded():
    """PyTensor probes for a BLAS the first time a C function needs one (moment matching
    does) and warns on installs without one; after the backend is imported it does not."""
    code = ("import multilevel.bayes.backend, pytensor, pytensor.tensor as pt\n"
            "x, y = pt.matrix('x'), pt.vector('y')\n"
            "pytensor.function([x, y], pt.dot(x, y), mode='FAST_RUN')\n"
            "print('flags', repr(pytensor.config.blas__ldflags))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True,
                          text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "flags" in done.stdout
    assert "could not link to a BLAS" not in done.stderr
    assert "Warning" not in done.stderr


@pytest.mark.slow
def test_prior_predictive_draws_log_nothing(bayes_ss_intercept, capfd, caplog):
    """PyMC logs "Sampling: [names]" for every prior draw (notebooks showed it under each
    prior predictive check); the package's prior draws are quiet, its warnings not."""
    import logging

    with caplog.at_level(logging.INFO):
        idata = bayes_ss_intercept.prior_predictive(draws=20, seed=1)
    assert idata["prior_predictive"]["Reaction"].shape == (1, 20, 180)
    assert not [r for r in caplog.records if r.name.startswith("pymc") and r.levelno < logging.WARNING]
    captured = capfd.readouterr()
    assert "Sampling:" not in captured.out + captured.err
    assert logging.getLogger("pymc").level == logging.NOTSET or logging.getLogger("pymc").level <= logging.INFO
