"""``ml.re_pca`` against lme4 1.1-31's ``rePCA`` (``tests/reference/make_repca.R``): a
correlated random slope, the same split by ``||`` (two terms of one factor, put
block-diagonally as lme4 does), crossed factors, and a binomial GLMM with a slope.

Tolerances: standard deviations 1e-4 relative (θ̂ agrees to ~1e-6 for LMMs; the GLMM is
glmer's default fit, which ours replays), rotations 1e-3 absolute up to sign (each
column's sign is arbitrary, as in R).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import DataError

REF = json.loads((Path(__file__).parent / "reference" / "repca.json").read_text())


def _fit(case: dict):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case["family"] == "gaussian":
            return ml.fit(case["formula"], case["data"], method="reml")
        return ml.fit(case["formula"], case["data"], family=case["family"], method="ml")


@pytest.mark.parametrize("key", list(REF))
def test_re_pca_matches_lme4(key):
    case = REF[key]
    ours = ml.re_pca(_fit(case))
    assert list(ours) == list(case["groups"])
    for group, ref in case["groups"].items():
        sdev = np.atleast_1d(ref["sdev"])
        np.testing.assert_allclose(ours[group].sdev, sdev, rtol=1e-4, atol=1e-6, err_msg=group)
        rot = np.atleast_2d(ref["rotation"])
        signs = np.sign(np.sum(ours[group].rotation.to_numpy() * rot, axis=0))
        np.testing.assert_allclose(ours[group].rotation.to_numpy() * signs, rot, atol=1e-3, err_msg=group)
        summary = ours[group].summary()
        np.testing.assert_allclose(summary.loc["Cumulative Proportion"].iloc[-1], 1.0)


def test_a_singular_structure_shows_a_zero_component():
    """Days entered twice for one subject factor: a direction with (nearly) no variance
    (lme4: SD 3e-5 against 0.97; the REML criterion is flat along it, so the optimizers stop
    at different small values)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ml.fit("Reaction ~ Days + (Days | Subject) + (0 + Days | Subject)", "sleepstudy", method="reml")
    pca = ml.re_pca(fit)["Subject"]
    assert list(pca.rotation.index) == ["Subject: (Intercept)", "Subject: Days", "Subject.1: Days"]
    assert pca.sdev[-1] < 1e-2 * pca.sdev[0]


def test_re_pca_refuses_a_fit_without_group_terms():
    with pytest.raises(DataError, match="group terms"):
        ml.re_pca(ml.fit("Reaction ~ Days", "sleepstudy", method="reml"))
