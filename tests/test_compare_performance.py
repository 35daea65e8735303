"""``ml.compare_performance`` against performance 0.10.2's ``compare_performance`` on lme4
1.1-31 and lm fits (``tests/reference/make_compare_performance.R`` writes
``compare_performance.json``): the column set and order (R's ``merge`` of the models'
rows, weights after their criterion, or at the end when ``rank = TRUE`` drops the
criteria), the row order of the ranking, and every value — AIC, AICc and BIC with the ML
likelihood at REML estimates (performance's default ``estimator = "ML"``) or the REML one,
their weights, Nakagawa's R², the ICC, RMSE, Sigma and the performance score.

Tolerances: criteria 1e-6 relative, other indices and weights 1e-5 (absolute floor 1e-9),
the score 1e-5 absolute: the two optimizers stop within ~1e-7 of each other.

Not compared (documented differences, in Nakagawa's R² that performance takes from
insight): a random slope whose variable is not also a fixed effect
(``Reaction ~ 1 + (Days | Subject)``) and ``||`` terms (``(Days || Subject)``) — insight
leaves the slope's variance out of the random-effect variance (conditional R² 0.481 and
0.696 on sleepstudy), ours includes it as for ``(Days | Subject)`` (0.864 and 0.790;
the correlated model's is 0.799 in both).
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import DataError, DataWarning, FamilyError, SpecError

REF = json.loads((Path(__file__).parent / "reference" / "compare_performance.json").read_text())


@functools.cache
def fitted(name: str):
    spec = REF["models"][name]
    kw = {"family": spec["family"], "optimizer": "bobyqa"} if "family" in spec else {}
    return ml.fit(spec["formula"], spec["data"], method=spec["method"], **kw)


@pytest.mark.parametrize("case", REF["cases"], ids=[c["id"] for c in REF["cases"]])
def test_compare_performance_as_performance(case):
    args = case["args"] if isinstance(case["args"], dict) else {}
    ours = ml.compare_performance({name: fitted(name) for name in case["fits"]}, **args)
    assert ours.columns.tolist() == case["columns"]
    ref = case["table"]
    assert ours["Name"].tolist() == ref["Name"]
    assert ours["Model"].tolist() == ref["Model"]
    for col in case["columns"][2:]:
        theirs = np.array([np.nan if v is None else v for v in ref[col]], dtype=float)
        tol = 1e-6 if col in ("AIC", "AICc", "BIC") else 1e-5
        # the score rescales each index by its range across the models, which magnifies the
        # optimizers' ~1e-7 differences where two models' values are close: 1e-5 absolute
        atol = 1e-5 if col == "Performance_Score" else 1e-9
        np.testing.assert_allclose(ours[col].to_numpy(dtype=float), theirs, rtol=tol, atol=atol,
                                   err_msg=f"{case['id']} {col}")


def test_different_responses_are_flagged_and_bad_arguments_refused():
    other = ml.fit("Reaction ~ Days + (1 | Subject)",
                   ml.datasets.load("sleepstudy").assign(Reaction=lambda d: d["Reaction"] * 2),
                   method="reml")
    with pytest.warns(DataWarning, match="responses differ"):
        ml.compare_performance({"a": fitted("m1"), "b": other})
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # the same response: no warning
        ml.compare_performance({"a": fitted("m1"), "b": fitted("m2")})
    with pytest.raises(SpecError, match="dict of named fits"):
        ml.compare_performance([fitted("m1")])
    with pytest.raises(DataError, match="takes a fit from ml.fit, got int"):
        ml.compare_performance({"a": fitted("m1"), "b": 3})
    with pytest.raises(SpecError, match="rank must be"):
        ml.compare_performance({"a": fitted("m1")}, rank="yes")
    with pytest.raises(SpecError, match="estimator must be"):
        ml.compare_performance({"a": fitted("m1")}, estimator="OLS")
    glm = ml.fit("cbind(incidence, size - incidence) ~ period", "cbpp", family="binomial", method="ml")
    with pytest.raises(FamilyError, match="GLM"):
        ml.compare_performance({"a": fitted("g1"), "glm": glm})


def test_weights_are_akaike_weights():
    table = ml.compare_performance({n: fitted(n) for n in ("m1", "m2", "m4")})
    for ic in ("AIC", "AICc", "BIC"):
        w = np.exp(-0.5 * (table[ic] - table[ic].min()))
        np.testing.assert_allclose(table[f"{ic}_wt"], w / w.sum(), rtol=1e-12)
        assert table[f"{ic}_wt"].sum() == pytest.approx(1.0)
