"""Frequentist convergence checks (lme4's checkConv) and the Bayesian report through one call."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel.diagnostics import FreqConvergenceReport, check_convergence
from multilevel.errors import FitError

EXTRA = json.loads((Path(__file__).parent / "reference" / "diagnostics_extra.json").read_text())
FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.mark.parametrize("key, method", [("derivs_ss_rs", "reml"), ("derivs_ss_rs_ml", "ml")])
def test_derivatives_match_lme4_and_the_fit_passes(sleepstudy, key, method):
    ref = EXTRA[key]
    report = check_convergence(ml.fit(FORMULA, sleepstudy, method=method))
    assert isinstance(report, FreqConvergenceReport) and report.ok and not report.problems
    # lme4's deriv12 Hessian at its θ̂ (ours differs from it by ~1e-6)
    np.testing.assert_allclose(report.hessian.to_numpy(), ref["Hessian"], rtol=1e-4)
    assert report.hessian.index.tolist() == ["Subject.(Intercept)", "Subject.Days.(Intercept)",
                                             "Subject.Days"]
    # both gradients are finite-difference noise at the optimum
    assert np.max(np.abs(report.gradient)) < 1e-4 and np.max(np.abs(ref["gradient"])) < 1e-4
    assert report.table["passed"].all()
    assert str(report).startswith("Convergence: no problems")


def test_gradient_check_catches_an_optimizer_that_stopped_early(sleepstudy):
    fit = ml.fit(FORMULA, sleepstudy, method="reml", rhoend=0.3)   # a trust region far too coarse
    assert fit.converged                                          # the optimizer is satisfied...
    report = check_convergence(fit)
    assert not report.ok                                          # ...the gradient is not
    assert report.table.loc["max scaled gradient", "value"] > 0.1
    assert any("stopped away from the optimum" in p for p in report.problems)


def test_singular_fit_is_reported_and_the_boundary_is_a_true_optimum(sleepstudy):
    rng = np.random.default_rng(1)
    data = sleepstudy.assign(noise=rng.integers(0, 6, len(sleepstudy)).astype(str))
    with pytest.warns(ml.errors.SingularFitWarning):
        fit = ml.fit("Reaction ~ Days + (1 | Subject) + (1 | noise)", data, method="reml")
    report = check_convergence(fit)
    assert not report.ok and len(report.problems) == 1
    assert "singular fit: the variance of noise: (Intercept)" in report.problems[0]
    # the deviance rises when the zero variance moves into the interior
    assert report.gradient["noise.(Intercept)"] > 0
    assert report.table.loc["boundary slopes into the interior", "passed"]
    assert report.table.loc["max scaled gradient", "passed"]
    assert report.hessian.index.tolist() == ["Subject.(Intercept)"]


def test_least_squares_and_glmm_fits():
    ols = check_convergence(ml.fit("mpg ~ wt", "mtcars", method="ml"))
    assert ols.ok and "closed-form least squares" in ols.table.index
    glmm = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
                  family="binomial", method="ml")
    report = check_convergence(glmm)
    assert report.ok and report.table.loc["gradient check", "threshold"] == "LMMs only"
    with pytest.raises(FitError, match="got int"):
        check_convergence(3)


@pytest.mark.slow
def test_bayesian_fits_return_their_sampler_report(bayes_ss_slopes):
    report = check_convergence(bayes_ss_slopes)
    assert report is bayes_ss_slopes.convergence
    assert "max R-hat" in report.table.index


def _summary_diagnostics(draws):
    import arviz as az

    return az.summary(draws, kind="diagnostics", round_to="none")[
        ["r_hat", "ess_bulk", "ess_tail", "mcse_mean"]]


def _summary_intervals(draws, ci, kind):
    import arviz as az

    table = az.summary(draws, kind="stats", ci_prob=ci, ci_kind=kind, round_to="none")
    table.columns = ["estimate", "sd", "lower", "upper"]
    return table


@pytest.mark.slow
def test_bayesian_summary_is_arviz_summarys_numbers(bayes_ss_slopes):
    """One call of ArviZ's array functions on all the rows gives az.summary's numbers."""
    import pandas as pd

    draws = bayes_ss_slopes.summary_draws
    ours = bayes_ss_slopes._diagnostics
    pd.testing.assert_frame_equal(ours, _summary_diagnostics(draws), check_exact=True)
    assert "cor__(Intercept).Days|Subject" in ours.index
    for ci, kind in [(0.95, "eti"), (0.8, "hdi")]:
        table = bayes_ss_slopes.summary(ci=ci, kind=kind)
        pd.testing.assert_frame_equal(table[["estimate", "sd", "lower", "upper"]],
                                      _summary_intervals(draws, ci, kind), check_exact=True)


def test_summary_of_awkward_draws_is_arviz_summarys_numbers():
    """A constant row, a row with a NaN, heavy tails, a bimodal row and chains stuck apart."""
    import warnings
    from types import SimpleNamespace

    import pandas as pd
    import xarray as xr

    from multilevel.bayes.result import BayesFit

    rng = np.random.default_rng(3)
    rows = {"constant": np.full((4, 300), 2.5),
            "with a nan": np.where(np.arange(1200).reshape(4, 300) == 7, np.nan,
                                   rng.normal(size=(4, 300))),
            "cauchy": rng.standard_cauchy((4, 300)),
            "bimodal": rng.normal(size=(4, 300)) + rng.choice([-4.0, 4.0], size=(4, 300)),
            "stuck": rng.normal(size=(4, 300)) + np.arange(4)[:, None] * 5.0}
    draws = xr.Dataset({k: (("chain", "draw"), v) for k, v in rows.items()})
    fit = SimpleNamespace(summary_draws=draws, family="gaussian")
    with warnings.catch_warnings():   # the constant row's R-hat is 0/0 in both (NaN)
        warnings.simplefilter("ignore", RuntimeWarning)
        fit._summary_array = BayesFit._summary_array.func(fit)
        fit._diagnostics = BayesFit._diagnostics.func(fit)
        theirs = _summary_diagnostics(draws)
    pd.testing.assert_frame_equal(fit._diagnostics, theirs, check_exact=True)
    assert fit._diagnostics.loc["stuck", "r_hat"] > 1.5
    for ci, kind in [(0.95, "eti"), (0.5, "hdi"), (0.99, "hdi")]:
        table = BayesFit._interval_table(fit, ci, kind)
        pd.testing.assert_frame_equal(table[["estimate", "sd", "lower", "upper"]],
                                      _summary_intervals(draws, ci, kind), check_exact=True)
        assert table.attrs == {"ci": ci, "kind": kind}
    empty = SimpleNamespace(summary_draws=xr.Dataset(), family="gaussian")
    empty._summary_array = BayesFit._summary_array.func(empty)
    empty._diagnostics = BayesFit._diagnostics.func(empty)
    assert empty._diagnostics.empty and list(empty._diagnostics.columns) == [
        "r_hat", "ess_bulk", "ess_tail", "mcse_mean"]
    table = BayesFit._interval_table(empty, 0.9, "eti")
    assert table.empty and table.attrs == {"ci": 0.9, "kind": "eti"}
