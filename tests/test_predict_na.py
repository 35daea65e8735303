"""Predictions of new data with missing values, as lme4's ``predict.merMod`` and R's
``predict.lm`` give them (tests/reference/make_predict_na.R, after lme4's own
tests/test-predict.R): a missing predictor is NaN (``na_action="pass"``, lme4's default,
or "exclude"), left out ("omit") or refused ("fail"); a missing grouping value is a new
level, at the population mean with ``new_groups="population"`` and refused otherwise.
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel import datasets
from multilevel.errors import DataError, DataWarning

REF = json.loads((Path(__file__).parent / "reference" / "predict_na.json").read_text())
# lme4's optimum (bobyqa, rhoend 1e-12) against ours: LMM predictions O(10-300) agree to
# 1e-5 relative; the Poisson GLMM's Laplace optima differ by ~4e-6 on the link scale
TOL = {"cake": {"rtol": 1e-5}, "sleepstudy": {"rtol": 1e-5}, "lm": {"rtol": 1e-9},
       "grouseticks": {"rtol": 1e-4, "atol": 2e-5}}


def _ref(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@functools.cache
def _cake():
    cake = datasets.load("cake")
    fit = ml.fit("angle ~ temp + (1 | recipe) + (1 | replicate)", cake, method="reml")
    missing_temp = cake.copy()
    missing_temp.loc[missing_temp.index[:5], "temp"] = np.nan
    missing_group = cake.copy()
    missing_group["replicate"] = missing_group["replicate"].astype(object)
    missing_group.loc[missing_group.index[[0, 1, 2, 3, 4, 39]], "replicate"] = np.nan
    return fit, missing_temp, missing_group


@functools.cache
def _grouse():
    grouse = datasets.load("grouseticks")
    fit = ml.fit("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", grouse, family="poisson", method="ml")
    missing_x = grouse.iloc[:40].copy()
    missing_x.loc[missing_x.index[[1, 6]], "cHEIGHT"] = np.nan
    missing_group = grouse.iloc[:40].copy()
    missing_group["LOCATION"] = missing_group["LOCATION"].astype(object)
    missing_group.loc[missing_group.index[[2, 10]], "LOCATION"] = np.nan
    return fit, missing_x, missing_group


@functools.cache
def _sleep():
    ss = datasets.load("sleepstudy")
    rows = np.array(REF["sleepstudy"]["rows"]) - 1
    missing_x = ss.iloc[rows].copy()
    missing_x.loc[missing_x.index[[1, 14]], "Days"] = np.nan
    missing_group = ss.iloc[rows].copy()
    missing_group["Subject"] = missing_group["Subject"].astype(object)
    missing_group.loc[missing_group.index[[3, 19]], "Subject"] = None
    return (ml.fit("Reaction ~ Days + (Days | Subject)", ss, method="reml"),
            ml.fit("Reaction ~ Days", ss, method="reml"), missing_x, missing_group)


def _quiet(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return call()


CASES = {   # reference key: our prediction
    ("cake", "pass_population"): lambda: _cake()[0].predict(_cake()[1], group_effects=False),
    ("cake", "pass_groups"): lambda: _cake()[0].predict(_cake()[1], na_action="exclude"),
    ("cake", "omit_groups"): lambda: _cake()[0].predict(_cake()[1], na_action="omit"),
    ("cake", "new_level"): lambda: _cake()[0].predict(_cake()[2]),
    ("cake", "new_level_recipe"): lambda: _cake()[0].predict(_cake()[2], group_effects="~ (1 | recipe)"),
    ("cake", "new_level_population"): lambda: _cake()[0].predict(_cake()[2], group_effects=False),
    ("grouseticks", "link"): lambda: _grouse()[0].predict(_grouse()[1]),
    ("grouseticks", "response"): lambda: _grouse()[0].predict(_grouse()[1], type="response"),
    ("grouseticks", "response_omit"): lambda: _grouse()[0].predict(_grouse()[1], type="response",
                                                                   na_action="omit"),
    ("grouseticks", "new_level_response"): lambda: _grouse()[0].predict(_grouse()[2], type="response"),
    ("sleepstudy", "groups"): lambda: _sleep()[0].predict(_sleep()[2]),
    ("sleepstudy", "population"): lambda: _sleep()[0].predict(_sleep()[2], group_effects=False),
    ("sleepstudy", "new_level"): lambda: _sleep()[0].predict(_sleep()[3]),
    ("lm", "pass"): lambda: _sleep()[1].predict(_sleep()[2]),
    ("lm", "omit"): lambda: _sleep()[1].predict(_sleep()[2], na_action="omit"),
}


@pytest.mark.parametrize("key", list(CASES), ids=["-".join(k) for k in CASES])
def test_predictions_with_missing_values_match_lme4(key):
    ours = _quiet(CASES[key])["estimate"].to_numpy()
    ref = _ref(REF[key[0]][key[1]])
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours[~np.isnan(ours)], ref[~np.isnan(ref)], **TOL[key[0]])


def test_omit_keeps_the_index_of_the_complete_rows_and_pass_warns():
    fit, missing_temp, _ = _cake()
    with pytest.warns(DataWarning, match=r"5 of 270 rows of newdata have a missing value in \['temp'\] "
                                         r"\(rows \[0, 1, 2, 3, 4\]\) and are predicted as NaN"):
        passed = fit.predict(missing_temp)
    with pytest.warns(DataWarning, match="are left out"):
        omitted = fit.predict(missing_temp, na_action="omit")
    assert list(omitted.index) == list(missing_temp.index[5:])
    pd.testing.assert_frame_equal(passed.dropna(), omitted)
    # every row lacking: all NaN, or an empty table
    all_missing = missing_temp.assign(temp=np.nan)
    assert _quiet(lambda: fit.predict(all_missing))["estimate"].isna().all()
    assert len(_quiet(lambda: fit.predict(all_missing, na_action="omit"))) == 0


@pytest.mark.parametrize(("call", "message"), [
    (lambda fit, x, g: fit.predict(x, na_action="fail"),
     r"missing values in column\(s\) \['temp'\] \(rows \[0, 1, 2, 3, 4\]\).*na_action='pass'"),
    (lambda fit, x, g: fit.predict(g, new_groups="error"),
     r"missing values in grouping column\(s\) \['replicate'\] \(rows \[0, 1, 2, 3, 4\] \.\.\.\).*"
     r"new_groups='population'"),
    (lambda fit, x, g: fit.predict(x, na_action="drop"), r"na_action='drop' is not valid"),
    (lambda fit, x, g: fit.linear_predictor(x), r"missing values in column\(s\) \['temp'\]"),
])
def test_refusals_name_the_column_and_the_way_out(call, message):
    fit, missing_temp, missing_group = _cake()
    with pytest.raises(DataError, match=message):
        call(fit, missing_temp, missing_group)


def test_bayesian_predictions_follow_the_same_rules(bayes_ss_slopes):
    _, _, missing_x, missing_group = _sleep()
    complete = missing_x.dropna(subset=["Days"])
    with pytest.warns(DataWarning, match=r"2 of 23 rows"):
        passed = bayes_ss_slopes.predict(missing_x, seed=1)
    assert passed.loc[missing_x["Days"].isna()].isna().all().all()
    pd.testing.assert_frame_equal(passed.dropna(), bayes_ss_slopes.predict(complete, seed=1))
    omitted = _quiet(lambda: bayes_ss_slopes.predict(missing_x, na_action="omit", seed=1))
    pd.testing.assert_frame_equal(omitted, passed.dropna())
    with pytest.raises(DataError, match=r"\['Days'\]"):
        bayes_ss_slopes.predict(missing_x, na_action="fail")
    # a missing subject is a new one: the population prediction
    population = bayes_ss_slopes.predict(missing_group, group_effects=False)
    grouped = bayes_ss_slopes.predict(missing_group)
    lost = missing_group["Subject"].isna().to_numpy()
    pd.testing.assert_frame_equal(grouped[lost], population[lost])
    assert not np.allclose(grouped["estimate"][~lost], population["estimate"][~lost])
    with pytest.raises(DataError, match=r"grouping column\(s\) \['Subject'\].*new_groups='sample'"):
        bayes_ss_slopes.predict(missing_group, new_groups="sample", seed=1)
