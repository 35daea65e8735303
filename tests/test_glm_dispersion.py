"""Gamma, inverse Gaussian and negative binomial GLMs (no group terms) against R's ``glm``
and MASS's ``glm.nb`` (``tests/reference/make_glm_dispersion.R``, ``make_glm_nb.R``): log,
inverse and ``1/mu^2`` links, prior
weights; logLik (R's ``logLik.glm``, the dispersion counted in df), AIC, BIC, deviances,
R's ``sigma`` and ``summary.glm``'s Pearson dispersion, coefficients with t tests on
n − p df, fitted values, Pearson residuals, and response-scale predictions with their SE.

Tolerances: R's IRLS stops at a relative deviance change of 1e-8, ours at 1e-12, so
coefficients differ by up to ~5e-7: criteria, deviances and σ 1e-7
relative (second order in the coefficients), the rest 1e-5 relative or 1e-6 absolute
(t and p 2e-5: a coefficient's 1e-7 over an SE of 0.02).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "glm_dispersion.json").read_text())
DATA = pd.read_csv(HERE / "inverse_gaussian.csv")
TOL = {"rtol": 1e-5, "atol": 1e-6}
TIGHT = {"logLik", "df", "AIC", "BIC", "deviance", "null_deviance", "sigma"}   # the dispersion: first order


@pytest.fixture(scope="module")
def fits() -> dict:
    out = {}
    for key, case in REF.items():
        link = None if case["link"] in ("inverse",) and case["family"] == "gamma" else case["link"]
        out[key] = ml.fit(case["formula"], DATA, family=case["family"], link=link, method="ml",
                          weights="w" if case["weights"] else None)
    return out


QUANTITIES = {
    "logLik": lambda g: g.loglik, "df": lambda g: g.df, "AIC": lambda g: g.aic, "BIC": lambda g: g.bic,
    "deviance": lambda g: g.deviance, "null_deviance": lambda g: g.null_deviance,
    "sigma": lambda g: g.sigma, "dispersion": lambda g: g.dispersion,
    "coef": lambda g: g.fixef.to_numpy(), "se": lambda g: g.se.to_numpy(),
    "t": lambda g: g.summary()["t_value"].to_numpy(), "p": lambda g: g.summary()["p_value"].to_numpy(),
    "fitted_head": lambda g: g.fitted().to_numpy()[:6],
    "pearson_head": lambda g: g.residuals(type="pearson").to_numpy()[:6],
}


@pytest.mark.parametrize("quantity", list(QUANTITIES))
@pytest.mark.parametrize("key", list(REF))
def test_glm_matches_r(fits, key, quantity):
    tol = {"rtol": 1e-7} if quantity in TIGHT else {"rtol": 1e-5, "atol": 2e-5} if quantity in "tp" else TOL
    np.testing.assert_allclose(QUANTITIES[quantity](fits[key]), REF[key][quantity], **tol,
                               err_msg=f"{key} {quantity}")


@pytest.mark.parametrize("key", list(REF))
def test_response_predictions_and_their_standard_errors(fits, key):
    ref = REF[key]
    new = pd.DataFrame({"cond": ref["new_cond"], "x": ref["new_x"]})
    ours = fits[key].predict(new, type="response", se_fit=True)
    np.testing.assert_allclose(ours["estimate"], ref["predict_response"], **TOL)
    np.testing.assert_allclose(ours["std_error"], ref["predict_response_se"], **TOL)


NB = json.loads((HERE / "glm_nb.json").read_text())
NB_QUANTITIES = {"theta": lambda g: g.nb_theta, "logLik": lambda g: g.loglik, "df": lambda g: g.df,
                 "AIC": lambda g: g.aic, "BIC": lambda g: g.bic, "deviance": lambda g: g.deviance,
                 "null_deviance": lambda g: g.null_deviance, "coef": lambda g: g.fixef.to_numpy(),
                 "se": lambda g: g.se.to_numpy(), "z": lambda g: g.summary()["z_value"].to_numpy(),
                 "fitted_head": lambda g: g.fitted().to_numpy()[:6]}


@pytest.mark.parametrize("key", list(NB))
def test_negative_binomial_glm_is_mass_glm_nb(key):
    """MASS's glm.nb (make_glm_nb.R): θ by ML (its alternation and our Brent search on the
    profile meet at the same optimum), criteria, deviances, coefficients and z tests."""
    fit = ml.fit(NB[key]["formula"], "grouseticks", family="negativebinomial", method="ml")
    for name, value in NB_QUANTITIES.items():
        tol = {"rtol": 1e-7} if name in TIGHT else {"rtol": 1e-5, "atol": 1e-6}
        np.testing.assert_allclose(value(fit), NB[key][name], **tol, err_msg=f"{key} {name}")
