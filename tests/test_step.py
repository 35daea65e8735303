"""``ml.step``: lmerTest 3.1-3's backward elimination (``step()``), against R.

Reference: tests/reference/make_step.R → step.json. Cases: lmerTest's own example (ham,
three crossed intercept terms, Product * Information), the same with Kenward–Roger df,
a three-way interaction eliminated term by term, ``keep=``, ``reduce_random=False`` on
an ML fit, a reduction to ``(1 | Subject)`` that merges with a term already there
(R's formula algebra), a ``keep``-protected term under a tiny alpha, and a model whose
only group term is eliminated (the fixed terms then tested by R's exact F test of a
linear model, ``drop1(lm, test = "F")``), and one with a missing response, prior
weights, an offset and a non-syntactic column name (``my noise``) in an eliminated
interaction.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from r_data import csv_with_factors

import multilevel as ml
from multilevel.errors import DataWarning, FamilyError, SpecError

HERE = Path(__file__).parent / "reference"
CASES = json.loads((HERE / "step.json").read_text())
# per column: relative tolerance (LRT also 1e-6 absolute: a zero LRT is optimizer noise;
# p-values: P_RTOL with an absolute floor)
TOL = {"npar": 0, "Df": 0, "NumDF": 0, "logLik": 1e-7, "AIC": 1e-7, "LRT": 1e-4, "Sum Sq": 1e-5,
       "Mean Sq": 1e-5, "DenDF": 1e-4, "F": 1e-5}
P_RTOL, P_ATOL = 1e-3, 1e-12
# R's column names of the two tables as ml.step names them
RANDOM_COLS = {"npar": "npar", "logLik": "logLik", "AIC": "AIC", "LRT": "LRT", "Df": "Df", "Pr(>Chisq)": "p"}
FIXED_COLS = {"Sum Sq": "Sum Sq", "Mean Sq": "Mean Sq", "NumDF": "NumDF", "DenDF": "DenDF",
              "F value": "F", "Pr(>F)": "p"}
LM_COLS = {"Df": "NumDF", "Sum of Sq": "Sum Sq", "F value": "F", "Pr(>F)": "p"}


def data_for(name: str) -> pd.DataFrame:
    if name == "ham":
        return csv_with_factors(HERE / "lmertest_suite_ham.csv",
                                ["Consumer", "Product", "Information", "Gender"])
    if name == "step_sim":
        return csv_with_factors(HERE / "step_sim.csv", ["Subject"])
    return ml.datasets.load(name)


@pytest.fixture(scope="module")
def results():
    out = {}
    for key, case in CASES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # singular fits on the way, as R's messages
            weights = {"weights": case["weights"]} if case.get("weights") else {}
            fit = ml.fit(case["formula"], data_for(case["data"]), method="reml" if case["reml"] else "ml",
                         **weights)
            out[key] = ml.step(fit, **(case["args"] or {}))   # R writes list() as []
    return out


def compare(ours: pd.DataFrame, theirs: dict, columns: dict, what: str):
    rows = [re.sub(r"\)\d+$", ")", r) for r in theirs["rows"]]   # R's make.unique of row names
    assert list(ours.index) == rows, what
    assert ours["Eliminated"].fillna(-1).tolist() == [-1 if v is None else v for v in theirs["Eliminated"]], what
    for r_col, col in columns.items():
        want = np.array([np.nan if v is None else v for v in theirs[r_col]], dtype=float)
        got = ours[col].to_numpy(dtype=float)
        if col == "p":
            np.testing.assert_allclose(got, want, rtol=P_RTOL, atol=P_ATOL, err_msg=f"{what} {col}")
        else:
            np.testing.assert_allclose(got, want, rtol=TOL[col], atol=1e-6 if col == "LRT" else 0,
                                       err_msg=f"{what} {col}")


@pytest.mark.parametrize("key", list(CASES))
def test_the_elimination_tables_equal_lmertests(results, key):
    out, result = CASES[key]["out"], results[key]
    compare(result.random, out["random"], RANDOM_COLS, f"{key} random")
    compare(result.fixed, out["fixed"], LM_COLS if out["final"]["lm"] else FIXED_COLS, f"{key} fixed")


@pytest.mark.parametrize("key", list(CASES))
def test_the_model_found_is_lmertests(results, key):
    final, model = CASES[key]["out"]["final"], results[key].model
    assert (not model.design.reterms) == final["lm"], key
    coef = pd.Series(np.asarray(model.beta if final["lm"] else model.fixef, dtype=float),
                     index=model.design.x_names)
    assert sorted(coef.index) == sorted(final["coef"]), key
    np.testing.assert_allclose(coef[list(final["coef"])], list(final["coef"].values()), rtol=1e-5,
                               atol=1e-7, err_msg=key)
    np.testing.assert_allclose(model.loglik, final["logLik"], rtol=1e-7, err_msg=key)
    assert results[key].formula == model.formula


def test_the_result_prints_lmertests_tables(results):
    text = repr(results["ham"])
    assert "Backward reduced random-effect table:" in text and "Model found:" in text
    assert "Degrees of freedom method: Satterthwaite" in text
    assert results["ham"].formula in text


def test_bad_arguments_are_refused_by_name():
    fit = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    for kwargs, word in [({"alpha_random": 1.5}, "alpha_random"), ({"alpha_fixed": "0.05"}, "alpha_fixed"),
                         ({"keep": "Days"}, "keep"), ({"reduce_fixed": "no"}, "reduce_fixed"),
                         ({"ddf": None}, "ddf"), ({"ddf": "bogus"}, "ddf")]:
        with pytest.raises(SpecError, match=word):
            ml.step(fit, **kwargs)
    with pytest.warns(DataWarning, match="keep names no fixed-effect term"):
        ml.step(fit, keep=["Nights"])
    glmm = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", method="ml",
                  family="binomial")
    with pytest.raises(FamilyError, match="ranova"):
        ml.step(glmm)
