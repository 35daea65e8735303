"""``fit.refit(newresp)``, lme4's ``refit``: the same model fitted to a new response.

A refit must equal a fresh ``ml.fit`` of the same formula to the data with the response
column replaced (the fresh fits are checked against lme4 elsewhere): criteria to 1e-7
relative, fixed effects and θ to 1e-5, for an LMM (REML and weighted ML), binomial
``cbind`` and Poisson-with-offset GLMMs, and a gamma GLMM with the log link.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, SingularFitWarning, SpecError

IG = pd.read_csv(Path(__file__).parent / "reference" / "inverse_gaussian.csv")
CASES = {   # name: (formula, data, response column, fit options)
    "lmm_reml": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "Reaction", {"method": "reml"}),
    "lmm_ml_weights": ("rt ~ cond + x + (1 | subject) + (1 | item)", IG, "rt",
                       {"method": "ml", "weights": "w"}),
    "binomial": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "incidence",
                 {"method": "ml", "family": "binomial"}),
    "poisson_offset": ("TICKS ~ YEAR + offset(log(HEIGHT)) + (1 | LOCATION)", "grouseticks", "TICKS",
                       {"method": "ml", "family": "poisson"}),
    "gamma_log": ("rt ~ cond + x + (1 | subject)", IG, "rt", {"method": "ml", "family": "gamma", "link": "log"}),
}


def _data(data):
    return ml.datasets.load(data) if isinstance(data, str) else data


@pytest.mark.parametrize("case", list(CASES))
def test_refit_equals_a_fresh_fit_of_the_new_response(case):
    formula, data, column, options = CASES[case]
    data = _data(data)
    fit = ml.fit(formula, data, **options)
    y = fit.simulate(seed=7)["sim_1"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # a simulated response may give a singular fit: both do
        again = fit.refit(y)
        fresh = ml.fit(formula, data.assign(**{column: y}), **options)
    assert type(again) is type(fresh)
    np.testing.assert_allclose(again.loglik, fresh.loglik, rtol=1e-7)
    np.testing.assert_allclose(again.fixef, fresh.fixef, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(again.theta, fresh.theta, rtol=1e-5, atol=1e-5)
    assert (again.method, again.family, again.nobs) == (fit.method, fit.family, fit.nobs)
    if options.get("method") == "reml":
        np.testing.assert_allclose(again.reml_criterion, fresh.reml_criterion, rtol=1e-7)


def test_refit_of_the_fitted_response_is_the_fit_and_keeps_its_warnings():
    fit = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    assert fit.refit(fit.design.y).reml_criterion == pytest.approx(fit.reml_criterion, rel=1e-10)
    flat = fit.predict(group_effects=False)["estimate"].to_numpy()   # no group differences left
    noise = np.random.default_rng(1).normal(0, 25, fit.nobs)
    with pytest.warns(SingularFitWarning):
        fit.refit(flat + noise)


def test_negative_binomial_refit_keeps_theta():
    grouse = ml.datasets.load("grouseticks").iloc[:200]
    fit = ml.fit("TICKS ~ YEAR + (1 | LOCATION)", grouse, family="negativebinomial", method="ml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = fit.refit(fit.simulate(seed=3)["sim_1"])
    assert again.nb_theta == fit.nb_theta   # lme4's refit keeps the family, θ included


@pytest.mark.parametrize(("newresp", "error", "match"), [
    (lambda y: y[:5], SpecError, r"one value per fitted row \(180\); got shape \(5,\)"),
    (lambda y: np.r_[y[:-1], np.nan], SpecError, "1 missing or infinite value"),
    (lambda y: ["a"] * len(y), SpecError, "must be numbers"),
])
def test_refit_refuses_a_response_that_does_not_fit_the_rows(newresp, error, match):
    fit = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="ml")
    with pytest.raises(error, match=match):
        fit.refit(newresp(fit.design.y))


def test_refit_refuses_a_constant_response_as_ml_fit_does():
    fit = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="ml")
    with pytest.raises(DataError, match="'newresp' is constant"):
        fit.refit(np.ones(fit.nobs))
    cbpp = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
                  method="ml", family="binomial")
    with pytest.raises(DataError, match="Response is constant"):
        cbpp.refit(np.zeros(cbpp.nobs))


def test_refit_refuses_values_outside_the_family():
    cbpp = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
                  method="ml", family="binomial")
    with pytest.raises(DataError, match="whole numbers of successes between 0 and the model's trials"):
        cbpp.refit(cbpp.design.y + 0.5)
    gamma = ml.fit(*CASES["gamma_log"][:2], **CASES["gamma_log"][3])
    with pytest.raises(DataError, match="'newresp' must be positive"):
        gamma.refit(-gamma.design.y)
