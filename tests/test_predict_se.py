"""``fit.predict(..., se_fit=True)``: standard errors of REML/ML predictions against R
(``tests/reference/make_predict_se.R``): the fixed effects' √(x V x') with lme4's ``vcov``
for LMMs and GLMMs (glmmTMB's and lme4 1.1-35's ``se.fit`` with ``re.form = NA``), R's
``predict.lm``/``predict.glm(se.fit = TRUE)`` (link and response scales), and an LMM's SE
with its group effects conditional on θ̂, σ√(a'M⁻¹a), from lme4's own L, RZX and RX.

Tolerances: 1e-5 relative (θ̂ and the GLMM's Hessian at lme4's optimum against ours);
the linear model 1e-9.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "predict_se.json").read_text())
IG = pd.read_csv(HERE / "inverse_gaussian.csv")


def _data(name):
    return IG if name == "inverse_gaussian" else ml.datasets.load(name)


def _case(key):
    case = REF[key]
    data = _data(case["data"])
    method = "reml" if case["family"] == "gaussian" and "|" in case["formula"] else "ml"
    fit = ml.fit(case["formula"], data, family=case["family"], method=method, weights=case.get("weights"))
    rows = (data.iloc[np.array(case["rows"]) - 1] if isinstance(case["rows"], list)
            else pd.DataFrame(case["rows"]))
    return fit, rows, case


@pytest.mark.parametrize("key", list(REF))
def test_population_standard_errors_match_r(key):
    fit, rows, case = _case(key)
    rtol = 1e-9 if key == "lm" else 1e-5   # glm: R stops its IRLS at a relative 1e-8 in deviance
    ours = fit.predict(rows, group_effects=False, se_fit=True)
    np.testing.assert_allclose(ours["std_error"], case["population"], rtol=rtol)
    if "response" in case:
        response = fit.predict(rows, group_effects=False, se_fit=True, type="response")
        np.testing.assert_allclose(response["std_error"], case["response"], rtol=rtol)


@pytest.mark.parametrize("key", ["sleepstudy", "weighted_crossed"])
def test_conditional_standard_errors_match_lme4s_pieces(key):
    fit, rows, case = _case(key)
    ours = fit.predict(rows, se_fit=True)
    np.testing.assert_allclose(ours["std_error"], case["conditional"], rtol=1e-5)
    pd.testing.assert_series_equal(ours["estimate"], fit.predict(rows)["estimate"])
    if "conditional_fitted_head" in case:   # the fitted rows, newdata=None
        np.testing.assert_allclose(fit.predict(se_fit=True)["std_error"].iloc[:6],
                                   case["conditional_fitted_head"], rtol=1e-5)


def test_an_unseen_group_has_the_population_standard_error():
    fit, rows, _ = _case("sleepstudy")
    new = rows.assign(Subject="new")
    pd.testing.assert_series_equal(fit.predict(new, se_fit=True)["std_error"],
                                   fit.predict(new, group_effects=False, se_fit=True)["std_error"])


def test_what_has_no_standard_error_here_is_refused():
    fit, rows, _ = _case("sleepstudy")
    with pytest.raises(DataError, match="group_effects=True or False"):
        fit.predict(rows, group_effects="~ (1 | Subject)", se_fit=True)
    with pytest.raises(DataError, match="se_fit must be True or False"):
        fit.predict(rows, se_fit="yes")
    glmm, rows, _ = _case("cbpp")
    with pytest.raises(DataError, match="linear mixed models"):
        glmm.predict(rows, se_fit=True)
