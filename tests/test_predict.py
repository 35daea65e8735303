"""Bayesian predictions: lme4's group-effect choices, new groups, predictive draws."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError

pytestmark = pytest.mark.slow

NEW = pd.DataFrame({"Days": [0, 5, 10], "Subject": ["308", "new", "new"]})


def test_fitted_predictions_close_to_lme4(bayes_ss_slopes, lme4_ref):
    r = lme4_ref["ss_rs_reml"]
    pred = bayes_ss_slopes.predict()
    width = (pred["upper"] - pred["lower"]).iloc[:5].to_numpy()
    assert np.all(np.abs(pred["estimate"].iloc[:5] - r["pred_cond_first5"]) < 0.25 * width)
    marg = bayes_ss_slopes.predict(group_effects=False)
    assert np.all(np.abs(marg["estimate"].iloc[:5] - r["pred_marg_first5"]) < 0.25 *
                  (marg["upper"] - marg["lower"]).iloc[:5].to_numpy())


def test_new_subject_population_and_sample(bayes_ss_slopes, lme4_ref):
    pop = bayes_ss_slopes.predict(NEW)
    ref = lme4_ref["ss_rs_reml"]["pred_newlevel"]
    assert abs(pop["estimate"].iloc[1] - ref[1]) < 0.25 * (pop["upper"] - pop["lower"]).iloc[1]
    sampled = bayes_ss_slopes.predict(NEW, new_groups="sample", seed=3)
    seen_width = (sampled["upper"] - sampled["lower"]).iloc[0]
    new_width = (sampled["upper"] - sampled["lower"]).iloc[1]
    assert new_width > 2 * seen_width  # a new subject is far less certain than a seen one
    again = bayes_ss_slopes.predict(NEW, new_groups="sample", seed=3)
    pd.testing.assert_frame_equal(sampled, again)
    with pytest.raises(DataError, match=r"Levels \['new'\] of 'Subject'"):
        bayes_ss_slopes.predict(NEW, new_groups="error")


def test_predictive_interval_wider_than_mean(bayes_ss_slopes):
    mean = bayes_ss_slopes.predict(NEW.iloc[:1])
    obs = bayes_ss_slopes.predict(NEW.iloc[:1], kind="predictive", seed=1)
    assert (obs["upper"] - obs["lower"]).iloc[0] > 2 * (mean["upper"] - mean["lower"]).iloc[0]
    with pytest.raises(DataError, match="kind"):
        bayes_ss_slopes.predict(kind="median")


@pytest.mark.parametrize(("newdata", "kwargs", "message"), [
    ({"Days": [1], "Subject": ["308"]}, {}, "must be a pandas DataFrame"),
    (pd.DataFrame({"Subject": ["308"]}), {}, "lacks column 'Days'"),
    (pd.DataFrame({"Days": [1]}), {}, r"grouping column\(s\) \['Subject'\]"),
    # missing values: NaN by default (lme4's na.pass, tests/test_predict_na.py), refused here
    (pd.DataFrame({"Days": [np.nan, 1], "Subject": ["308", "308"]}), {"na_action": "fail"},
     r"missing values in column\(s\) \['Days'\]"),
    (pd.DataFrame({"Days": [1, 2], "Subject": [None, "308"]}), {"new_groups": "error"},
     r"\['Subject'\] \(rows \[0\]\)"),
    (pd.DataFrame({"Days": ["a"], "Subject": ["308"]}), {}, "Cannot evaluate the fixed effects"),
])
def test_bad_newdata(bayes_ss_slopes, newdata, kwargs, message):
    with pytest.raises(DataError, match=message):
        bayes_ss_slopes.predict(newdata, **kwargs)
    reml = _reml_slopes()
    with pytest.raises(DataError, match=message):  # the REML fit refuses the same input
        reml.predict(newdata, **kwargs)


@functools.cache
def _reml_slopes():
    return ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")


def test_bad_arguments(bayes_ss_slopes):
    for kwargs, message in [({"new_groups": "zero"}, "new_groups"), ({"ci": 1.5}, "ci"),
                            ({"kind": "median"}, "kind")]:
        with pytest.raises(DataError, match=message):
            bayes_ss_slopes.predict(NEW, **kwargs)


def test_population_choices(bayes_ss_slopes):
    # the response may be absent or missing in newdata
    new = NEW.assign(Reaction=np.nan)
    pop = bayes_ss_slopes.predict(new)
    marg = bayes_ss_slopes.predict(new, group_effects=False)
    pd.testing.assert_series_equal(pop["estimate"].iloc[1:], marg["estimate"].iloc[1:])
    assert pop["estimate"].iloc[0] != marg["estimate"].iloc[0]      # 308 has its own effects
    narrow = bayes_ss_slopes.predict(new, ci=0.5)
    assert ((narrow["upper"] - narrow["lower"]) < (pop["upper"] - pop["lower"])).all()
    other = bayes_ss_slopes.predict(new, new_groups="sample", seed=4)
    sampled = bayes_ss_slopes.predict(new, new_groups="sample", seed=3)
    assert other["estimate"].iloc[1] != sampled["estimate"].iloc[1]
    assert other["estimate"].iloc[0] == sampled["estimate"].iloc[0]   # seen rows draw nothing
