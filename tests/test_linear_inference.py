"""``ml.anova``, ``ml.drop1`` and ``ml.confint`` of a linear model (no group terms),
against R: ``anova(lm)`` (type 1), ``car::Anova(lm, type = 2)``, ``car::Anova`` type 3
with sum-to-zero contrasts (the coding-free hypotheses lmerTest's type III builds),
``drop1(lm, test = "F")``, ``confint(lm)`` at 95 % and 90 %, and ``car::linearHypothesis``
for ``ml.contest``.

Reference: tests/reference/make_linear_inference.R → linear_inference.json (R 4.2, car
3.1). Models: factor × numeric interactions (mtcars, cake), an unbalanced two-factor
design with a covariate, the same with prior weights, and ``poly()``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from r_data import csv_with_factors

import multilevel as ml
from multilevel.errors import SpecError

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "linear_inference.json").read_text())
CONTEST = REF.pop("contest")
F_RTOL, P_RTOL, P_ATOL, CI_RTOL = 1e-7, 1e-6, 1e-14, 1e-9
# type 3's hypotheses are built as lmerTest builds them (entries below 1e-6 zeroed): 1e-5
F_RTOL_TYPE3 = 1e-5
# Not compared: type 3 of mtcars' wt * factor(cyl). car's type III with sum-to-zero
# contrasts tests factor(cyl) at wt = 0; ml.anova follows lmerTest's coding-free
# hypotheses for a factor-by-covariate interaction (the same tests as for a mixed model).
NOT_CAR = {("mtcars", 3)}


def data_for(name: str) -> pd.DataFrame:
    if name == "sim":
        return csv_with_factors(HERE / "linear_inference_sim.csv", ["a", "b"])
    return ml.datasets.load(name)


@pytest.fixture(scope="module")
def fits():
    out = {}
    for key, case in REF.items():
        weights = {"weights": case["weights"]} if case["weights"] else {}
        out[key] = ml.fit(case["formula"], data_for(case["data"]), method="reml", **weights)
    return out


def check(ours: pd.DataFrame, theirs: dict, what: str, rtol: float = F_RTOL):
    assert list(ours.index) == theirs["rows"], what
    np.testing.assert_array_equal(ours["NumDF"], theirs["Df"], err_msg=what)
    np.testing.assert_allclose(ours["F"], theirs["F"], rtol=rtol, err_msg=what)
    np.testing.assert_allclose(ours["p"], theirs["p"], rtol=max(rtol, P_RTOL), atol=P_ATOL, err_msg=what)


@pytest.mark.parametrize("key", list(REF))
@pytest.mark.parametrize("kind", [1, 2, 3])
def test_anova_types_equal_r(fits, key, kind):
    table = ml.anova(fits[key], type=kind)
    if (key, kind) not in NOT_CAR:
        check(table, REF[key][f"type{kind}"], f"{key} type {kind}",
              rtol=F_RTOL_TYPE3 if kind == 3 else F_RTOL)
    fit = fits[key]
    assert (table["DenDF"] == fit.nobs - fit.design.p).all()


@pytest.mark.parametrize("key", list(REF))
def test_drop1_equals_rs_f_test(fits, key):
    check(ml.drop1(fits[key]), REF[key]["drop1"], f"{key} drop1")


@pytest.mark.parametrize("key", list(REF))
def test_confint_equals_confint_lm(fits, key):
    ref = REF[key]["confint"]
    for level, tag in [(0.95, "95"), (0.9, "90")]:
        table = ml.confint(fits[key], level=level)
        assert list(table.index) == ref["rows"], key
        np.testing.assert_allclose(table["lower"], ref[f"lower{tag}"], rtol=CI_RTOL, err_msg=key)
        np.testing.assert_allclose(table["upper"], ref[f"upper{tag}"], rtol=CI_RTOL, err_msg=key)
    assert ml.confint(fits[key], method="wald").equals(ml.confint(fits[key]))


def test_contest_equals_car_linear_hypothesis(fits):
    fit = fits["mtcars"]
    assert list(fit.design.x_names) == CONTEST["columns"]
    L, rhs = np.array(CONTEST["L"], dtype=float), np.array(CONTEST["rhs"], dtype=float)
    joint = ml.contest(fit, L, rhs=rhs).iloc[0]
    assert (joint["NumDF"], joint["DenDF"]) == (CONTEST["NumDF"], CONTEST["DenDF"])
    np.testing.assert_allclose([joint["F"], joint["p"]], [CONTEST["F"], CONTEST["p"]], rtol=1e-7)
    rows = ml.contest(fit, L, rhs=rhs, joint=False)
    np.testing.assert_allclose(rows["estimate"], CONTEST["estimate"], rtol=1e-9)
    np.testing.assert_allclose(rows["std_error"], CONTEST["std_error"], rtol=1e-9)
    np.testing.assert_allclose(rows["t_value"], CONTEST["t"], rtol=1e-9)
    np.testing.assert_allclose(rows["p"], CONTEST["p_t"], rtol=1e-7)
    assert (rows["df"] == CONTEST["DenDF"]).all()


def test_the_tests_of_an_ml_fit_are_the_same_exact_tests(fits):
    ml_fit = ml.fit(REF["cake"]["formula"], "cake", method="ml")
    pd.testing.assert_frame_equal(ml.anova(ml_fit), ml.anova(fits["cake"]))


def test_what_does_not_apply_to_a_linear_model_is_refused(fits):
    with pytest.raises(SpecError, match="boot"):
        ml.confint(fits["cake"], method="boot")
    with pytest.raises(SpecError, match="ddf"):
        ml.anova(fits["cake"], ddf="bogus")
    glm = ml.fit("am ~ wt", "mtcars", family="bernoulli", method="ml")
    assert list(ml.anova(glm).columns) == ["LR Chisq", "Df", "p"]   # a GLM: tests/test_glm_anova.py
