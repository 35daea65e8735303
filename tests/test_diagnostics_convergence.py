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
