"""``ml.model_performance`` against R performance 0.10.2's ``model_performance()``.

Reference: tests/reference/make_model_performance.R → model_performance.json. Models: a
random-slope LMM (REML; also with ``estimator="ML"``: the ML likelihood at the REML
estimates) and a random-intercept LMM (ML; performance's default REML likelihood at
its estimates), binomial (cbind), Bernoulli
(singular), Poisson and negative binomial (glmer.nb) GLMMs, and two linear models (ML and REML: AIC(lm) is ML either
way). Differences kept on purpose (``ml.model_performance``'s docstring): a singular fit
keeps its conditional R² (= marginal) and ICC (0) where performance gives NA, and
binomial models have no scoring rules.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import FamilyError

REF = json.loads((Path(__file__).parent / "reference" / "model_performance.json").read_text())
# relative tolerance per index: criteria and RMSE to the optimizer's precision, R² and
# ICC as tests/test_performance_suite.py checks them
RTOL = {"AIC": 1e-7, "AICc": 1e-7, "BIC": 1e-7, "RMSE": 1e-5, "Sigma": 1e-5, "R2": 1e-9,
        "R2_adjusted": 1e-9, "R2_conditional": 1e-4, "R2_marginal": 1e-4, "ICC": 1e-4,
        "Log_loss": 1e-5, "Score_log": 1e-5, "Score_spherical": 1e-5}
NOT_COMPUTED = {"Score_log", "Score_spherical"}   # binomial: performance's size = sum(y)
# glmer.nb's θ search stops short of the optimum in R: our logLik is 3.4e-4 higher
CASE_RTOL = {"negbin": {"AIC": 1e-6, "AICc": 1e-6, "BIC": 1e-6, "RMSE": 1e-4, "Score_log": 1e-4,
                        "Score_spherical": 1e-4}}


def data_for(name: str):
    if name == "cbpp_any":
        data = ml.datasets.load("cbpp")
        return data.assign(any=(data["incidence"] > 0).astype(int))
    return ml.datasets.load(name)


@pytest.mark.parametrize("key", list(REF))
def test_indices_equal_performances(key):
    case = REF[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the Bernoulli model is singular, as in R
        fit = ml.fit(case["formula"], data_for(case["data"]), method=case["method"], family=case["family"])
    ours = ml.model_performance(fit, estimator=case["estimator"])
    theirs = {k: v for k, v in case["values"].items() if v is not None}
    skipped = set(NOT_COMPUTED) if case["family"] in ("binomial", "bernoulli") else set()
    assert set(theirs) - skipped <= set(ours.index), key
    for name, value in theirs.items():
        if name in skipped:
            continue
        rtol = CASE_RTOL.get(key, {}).get(name, RTOL[name])
        np.testing.assert_allclose(ours[name], value, rtol=rtol, err_msg=f"{key} {name}")
    if fit.family != "gaussian" and fit.singular:   # performance: NA; here the limits
        assert ours["R2_conditional"] == pytest.approx(ours["R2_marginal"], rel=1e-9)
        assert ours["ICC"] == pytest.approx(0.0, abs=1e-9)


def test_bayesian_fits_and_glms_are_sent_elsewhere(bayes_ss_intercept):
    fit = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml")
    with pytest.raises(ml.errors.SpecError, match="estimator"):
        ml.model_performance(fit, estimator="reml")
    with pytest.raises(FamilyError, match="ml.compare"):
        ml.model_performance(bayes_ss_intercept)
    glm = ml.fit("am ~ wt", "mtcars", family="bernoulli", method="ml")
    with pytest.raises(FamilyError, match="GLM"):
        ml.model_performance(glm)


def test_r2_of_a_linear_model_is_performances_r2():
    case = REF["lm"]
    fit = ml.fit(case["formula"], data_for(case["data"]), method=case["method"])
    r2 = ml.r2(fit)
    assert list(r2.index) == ["R2", "R2_adjusted"]
    np.testing.assert_allclose(r2.to_numpy(), [case["values"]["R2"], case["values"]["R2_adjusted"]],
                               rtol=1e-9)
