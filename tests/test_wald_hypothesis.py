"""``ml.hypothesis`` of REML/ML fits: Wald tests by the delta method, against car 3.1's
``deltaMethod`` (tests/reference/make_wald_hypothesis.R): non-linear and linear
equalities of an LMM's, a binomial GLMM's and a linear model's coefficients."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import multilevel as ml
from multilevel.errors import DataError

REF = json.loads((Path(__file__).parent / "reference" / "wald_hypothesis.json").read_text())
RTOL = 1e-5   # the estimates' optimizer precision and the central-difference gradient


@pytest.mark.parametrize("key", list(REF))
def test_wald_hypotheses_equal_cars_delta_method(key):
    case = REF[key]
    fit = ml.fit(case["formula"], case["data"], method=case["method"], family=case["family"])
    table = ml.hypothesis(fit, case["hypotheses"])
    assert list(table["hypothesis"]) == case["hypotheses"]
    for ours, theirs in [("estimate", "estimate"), ("std_error", "se"), ("lower", "lower"), ("upper", "upper")]:
        np.testing.assert_allclose(table[ours], case[theirs], rtol=RTOL, err_msg=f"{key} {ours}")
    z = table["estimate"] / table["std_error"]
    np.testing.assert_allclose(table["statistic"], z)
    np.testing.assert_allclose(table["p_value"], 2 * stats.norm.sf(np.abs(z)))


def test_one_sided_and_unknown_names_are_refused():
    fit = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    with pytest.raises(DataError, match="one-sided"):
        ml.hypothesis(fit, "Days > 5")
    with pytest.raises(DataError, match="not a parameter"):
        ml.hypothesis(fit, "Nights = 0")
    with pytest.raises(DataError, match="sigma"):
        ml.hypothesis(fit, "sigma = 25")   # the fixed effects only, as marginaleffects
