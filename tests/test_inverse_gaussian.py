"""Inverse Gaussian GLMMs by maximum likelihood: lme4's ``glmer(family = inverse.gaussian)``
as ``family="wald"``, against lme4 1.1-31 (``tests/reference/make_inverse_gaussian.R``:
simulated response times with crossed subjects and items; log, ``1/mu^2`` and identity
links; a random slope; prior weights).

Tolerances: logLik, AIC and BIC 1e-7 relative (the Laplace criterion at two optimizers'
optima, bobyqa at rhoend 1e-12 in R); fixed effects 1e-4 relative or 2e-5 absolute; θ and
the scale σ 1e-4; standard errors (from the Hessian) 1e-4 relative; fitted values,
residuals and linear predictors 2e-5 absolute (they are O(0.1-2)).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, FamilyError

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "inverse_gaussian.json").read_text())
DATA = pd.read_csv(HERE / "inverse_gaussian.csv")


@pytest.fixture(scope="module")
def fits() -> dict:
    out = {}
    for key, ref in REF.items():
        link = None if ref["link"] == "log" else ref["link"]
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # no warning: these fits converge cleanly in R too
            out[key] = ml.fit(ref["formula"], DATA, family="wald", link=link, method="ml",
                              weights="w" if ref["weights"] else None)
    return out


QUANTITIES = {   # name: (our value, R's value, tolerances)
    "logLik": (lambda m: m.loglik, lambda r: r["logLik"], {"rtol": 1e-7}),
    "AIC": (lambda m: m.aic, lambda r: r["AIC"], {"rtol": 1e-7}),
    "BIC": (lambda m: m.bic, lambda r: r["BIC"], {"rtol": 1e-7}),
    "df": (lambda m: m.df, lambda r: r["df"], {"rtol": 0}),
    "fixef": (lambda m: m.fixef.to_numpy(), lambda r: list(r["fixef"].values()), {"rtol": 1e-4, "atol": 2e-5}),
    "se": (lambda m: m.se.to_numpy(), lambda r: r["se"], {"rtol": 1e-4}),
    "theta": (lambda m: m.theta.to_numpy(), lambda r: r["theta"], {"atol": 1e-4}),
    "sigma": (lambda m: m.sigma, lambda r: r["sigma"], {"rtol": 1e-4}),
    "vcov": (lambda m: m.varcorr["vcov"].to_numpy(), lambda r: r["vcov"], {"rtol": 1e-3, "atol": 1e-6}),
    "fitted": (lambda m: m.fitted().to_numpy()[:8], lambda r: r["fitted_head"], {"atol": 2e-5}),
    "pearson": (lambda m: m.residuals(type="pearson").to_numpy()[:8], lambda r: r["pearson_head"],
                {"atol": 2e-5}),
    "deviance_resid": (lambda m: m.residuals(type="deviance").to_numpy()[:8],
                       lambda r: r["deviance_resid_head"], {"atol": 2e-5}),
    "predict_link": (lambda m: m.predict()["estimate"].to_numpy()[:8], lambda r: r["predict_link_head"],
                     {"atol": 2e-5}),
}


@pytest.mark.parametrize("quantity", list(QUANTITIES))
@pytest.mark.parametrize("case", list(REF))
def test_glmer_inverse_gaussian(fits, case, quantity):
    ours, theirs, tol = QUANTITIES[quantity]
    np.testing.assert_allclose(ours(fits[case]), theirs(REF[case]), **tol, err_msg=f"{case} {quantity}")


def test_printed_as_lme4_prints_it(fits):
    text = repr(fits["log"])
    assert "Family: inverse.gaussian  ( log )" in text
    residual = [line for line in text.splitlines() if line.lstrip().startswith("Residual")]
    assert residual and "0.2666" in residual[0] and "0.5163" in residual[0]   # lme4: 0.266593 0.51633


def test_what_is_refused_names_the_way_out():
    with pytest.raises(DataError, match="'rt'.*positive"):
        ml.fit("rt ~ cond + (1 | subject)", DATA.assign(rt=DATA["rt"] - 0.5), family="wald", method="ml")
    with pytest.raises(FamilyError, match="link='1/mu\\^2' for family 'wald' is fitted by method='ml'"):
        ml.fit("rt ~ cond + (1 | subject)", DATA, family="wald", link="1/mu^2")
    with pytest.raises(FamilyError, match="link='sqrt' is not available for family 'wald'"):
        ml.fit("rt ~ cond + (1 | subject)", DATA, family="wald", link="sqrt", method="ml")
