"""Predictions conditioned on some of the group effects: lme4's ``re.form``
(``group_effects="~ (1 | Subject)"``, :mod:`multilevel.formula.reform`).

References: ``tests/reference/reform.json`` from ``make_reform.R`` (R 4.2.2, lme4 1.1-31):
``predict(m, re.form = ...)`` on the fitted rows and on new data (new levels at the
population mean; Penicillin's new data lack the ``sample`` column the formula leaves
out), and ``type = "response"`` for the binomial GLMM.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import FormulaError

REF = json.loads((Path(__file__).parent / "reference" / "reform.json").read_text())


def _data(name: str) -> pd.DataFrame:
    data = ml.datasets.load(name)
    if name == "cbpp":   # an observation-level effect, as lme4's overdispersion idiom
        data = data.assign(obs=[str(i + 1) for i in range(len(data))])
    return data


@pytest.fixture(scope="module")
def fits():
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, ref in REF.items():
            family, method = ("binomial", "ml") if ref["data"] == "cbpp" else ("gaussian", "reml")
            out[key] = ml.fit(ref["fit"], _data(ref["data"]), family=family, method=method)
    return out


@pytest.mark.parametrize("key", sorted(REF))
def test_predictions_match_lme4s_re_form(fits, key):
    ref, fit = REF[key], fits[key]
    fitted = fit.predict(group_effects=ref["re_form"])["estimate"]
    np.testing.assert_allclose(fitted, ref["fitted_link"], rtol=1e-6, atol=1e-4)
    new = pd.DataFrame(ref["newdata"])
    np.testing.assert_allclose(fit.predict(new, group_effects=ref["re_form"])["estimate"],
                               ref["new_link"], rtol=1e-6, atol=1e-4)
    if "new_response" in ref:
        response = fit.predict(new, group_effects=ref["re_form"], type="response")["estimate"]
        np.testing.assert_allclose(response, ref["new_response"], rtol=1e-5)


def test_all_none_and_the_whole_term_agree_with_true_and_false(fits):
    fit = fits["slope_intercept_only"]
    full = fit.predict()["estimate"]
    np.testing.assert_allclose(fit.predict(group_effects="~ (Days | Subject)")["estimate"], full)
    np.testing.assert_allclose(fit.predict(group_effects="(1 + Days | Subject)")["estimate"], full)
    none = fit.predict(group_effects=False)["estimate"]
    for spelled in ("~0", "~ 0", "NA"):
        np.testing.assert_allclose(fit.predict(group_effects=spelled)["estimate"], none)
    # intercept part + slope part = the whole group part
    parts = (fit.predict(group_effects="~ (1 | Subject)")["estimate"]
             + fit.predict(group_effects="~ (0 + Days | Subject)")["estimate"] - none)
    np.testing.assert_allclose(parts, full, rtol=1e-12)


@pytest.mark.parametrize("group_effects, message", [
    ("~ (1 | Days)", r"'Days' is not a grouping factor of the model; its grouping factors are \['Subject'\]"),
    ("~ (Reaction | Subject)", r"asks for \['Reaction'\] of 'Subject'"),
    ("~ Days + (1 | Subject)", "only group-effect terms"),
    ("~ (1 | Subject", "not a formula of group-effect terms"),
    (3, "must be True, False or a formula"),
])
def test_what_the_model_lacks_is_refused_by_name(fits, group_effects, message):
    with pytest.raises(FormulaError, match=message):
        fits["slope_intercept_only"].predict(group_effects=group_effects)


def test_simulate_refuses_a_subset(fits):
    with pytest.raises(FormulaError, match="not available for simulate"):
        fits["slope_intercept_only"].simulate(group_effects="~ (1 | Subject)")


def test_bayesian_predictions_keep_only_the_named_columns(bayes_ss_slopes):
    fit = bayes_ss_slopes
    data = fit.design.frame.data
    beta = fit.fixef_draws().to_numpy()                              # (draws, 2)
    term = fit.design.reterms[0]
    effects = fit.ranef_draws()[term.name]                           # (draws, levels, 2)
    intercepts = effects[:, term.codes, term.cnms.index("(Intercept)")]
    expected = (beta @ fit.design.X.T + intercepts).mean(axis=0)
    ours = fit.predict(group_effects="~ (1 | Subject)")["estimate"].to_numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-10)
    new = pd.DataFrame({"Days": [0.0, 9.0], "Subject": [data["Subject"].iloc[0], "new"]})
    both = fit.predict(new, group_effects="~ (1 | Subject)")["estimate"].to_numpy()
    population = fit.predict(new, group_effects=False)["estimate"].to_numpy()
    assert both[1] == pytest.approx(population[1])                   # a new level: population
    assert both[0] == pytest.approx(population[0] + intercepts[:, 0].mean())
