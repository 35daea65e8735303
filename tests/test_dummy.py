"""lme4's ``dummy(f, levelsToKeep)`` in formulas against lme4 1.1-31
(``tests/reference/make_dummy.R``): a group effect for one level of a factor, beside a
random intercept, for two levels (correlated), indicator columns among the fixed effects
(named by level, in the order asked for) and in a glmer.

Tolerances: log-likelihood 1e-7 relative, fixed effects 1e-5, SDs and correlations 1e-4
(θ̂ to ~1e-7 on both sides, lme4 with bobyqa at rhoend 1e-12), fitted values 1e-5.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, FormulaError

REF = json.loads((Path(__file__).parent / "reference" / "dummy.json").read_text())


def _list(value) -> list:
    """jsonlite writes a one-element vector as a scalar (auto_unbox)."""
    return value if isinstance(value, list) else [value]


def _fit(case: dict):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the glmer case is singular, as in lme4
        if case["data"] == "cbpp":
            return ml.fit(case["formula"], "cbpp", family="binomial", method="ml")
        return ml.fit(case["formula"], "cake", method="reml")


@pytest.fixture(scope="module")
def fits() -> dict:
    return {key: _fit(case) for key, case in REF.items()}


@pytest.mark.parametrize("key", list(REF))
def test_dummy_terms_match_lme4(fits, key):
    fit, ref = fits[key], REF[key]
    np.testing.assert_allclose(fit.loglik, ref["loglik"], rtol=1e-7)
    assert list(fit.fixef.index) == list(ref["fixef"])
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(ref["fixef"].values()), rtol=1e-5, atol=1e-7)
    vc = fit.varcorr
    assert [v or "" for v in vc["var1"]] == _list(ref["vc_var1"])
    assert [v or "" for v in vc["var2"]] == _list(ref["vc_var2"])
    np.testing.assert_allclose(vc["sdcor"].to_numpy(dtype=float), _list(ref["sdcor"]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(fit.fitted()[:10], ref["fitted"], rtol=1e-5)


def test_new_data_without_a_kept_level_predict_zero_indicators(fits):
    """A prediction for rows of recipe A only: the indicator of B is 0, so the group
    effect of dummy(recipe, "B") does not enter (lme4's predict gives the same)."""
    fit = fits["one_level"]
    rows = ml.datasets.load("cake").query("recipe == 'A'").head(4)
    population = fit.predict(rows, group_effects=False)["estimate"].to_numpy()
    np.testing.assert_allclose(fit.predict(rows)["estimate"].to_numpy(), population, rtol=1e-12)


@pytest.mark.parametrize(("formula", "error", "words"), [
    ("angle ~ temp + (0 + dummy(recipe) | replicate)", FormulaError, 'needs the levels to keep'),
    ("angle ~ temp + (0 + dummy(recipe, \"D\") | replicate)", DataError, "['D'] are not levels"),
    ("angle ~ temp + (0 + dummy(recipe, c()) | replicate)", DataError, "no level is kept"),
])
def test_dummy_refuses_what_it_cannot_name(formula, error, words):
    with pytest.raises(error) as info:
        ml.fit(formula, "cake", method="reml")
    assert words in str(info.value)


def test_fitted_and_a_plain_indicator_column_agree():
    """dummy(recipe, "B") is the column recipe == "B": the same fit."""
    cake = ml.datasets.load("cake").assign(isB=lambda d: (d["recipe"] == "B").astype(float))
    a = ml.fit('angle ~ temp + (0 + dummy(recipe, "B") | replicate)', cake, method="reml")
    b = ml.fit("angle ~ temp + (0 + isB | replicate)", cake, method="reml")
    np.testing.assert_allclose(a.loglik, b.loglik, rtol=1e-10)
    assert isinstance(a.fixef, pd.Series)
