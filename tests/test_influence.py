"""``ml.influence`` against lme4 1.1-31's ``influence.merMod`` (``tests/reference/
make_influence.R``): deleting each subject of sleepstudy's random-slope model, each row of
Dyestuff, each plate of the crossed Penicillin model, and each herd of the cbpp binomial
GLMM, with lme4's ``dfbeta``, ``dfbetas`` and ``cooks.distance`` of the refits.

lme4's refits stop at its default tolerances (started at the fit's estimates, at most
1000 evaluations) and ours at our optimizer's, so the refits' estimates are compared to
1e-4 relative (variance components: 1e-3, covariances near zero to 1e-4 of the largest
variance), dfbetas to 2e-4 absolute and Cook's distances to
1e-3 relative (GLMM: 2e-3 throughout; glmer's default stops early, ours replays it from
the default start, lme4's from the fit's estimates).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import SpecError

REF = json.loads((Path(__file__).parent / "reference" / "influence.json").read_text())
DATA = {"ss": "sleepstudy", "dye": "Dyestuff", "pen": "Penicillin", "cbpp": "cbpp"}


@pytest.fixture(scope="module")
def results() -> dict:
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, case in REF.items():
            options = {"method": "reml"} if case["family"] == "gaussian" else {"method": "ml", "family": case["family"]}
            fit = ml.fit(case["formula"], DATA[case["data"]], **options)
            out[key] = ml.influence(fit, groups=case["groups"] or None)
    return out


@pytest.mark.parametrize("key", list(REF))
def test_deletion_refits_match_lme4(results, key):
    case, inf = REF[key], results[key]
    tol = 1e-4 if case["family"] == "gaussian" else 2e-3
    if case["groups"]:
        assert list(inf.fixed_deleted.index) == case["units"]
    else:   # one row at a time: our labels are the data's index (0, 1, ...), R's its row names
        assert len(inf.fixed_deleted) == len(case["units"])
    np.testing.assert_allclose(inf.fixed_deleted.to_numpy(), np.atleast_2d(np.array(case["fixed_deleted"]).T).T
                               if np.ndim(case["fixed_deleted"]) == 1 else case["fixed_deleted"], rtol=tol)
    assert list(inf.var_cov_deleted.columns) == case["var_cov_names"]
    ref = np.array(case["var_cov_deleted"])   # a covariance near 0: absolute to the variances' scale
    np.testing.assert_allclose(inf.var_cov_deleted.to_numpy(), ref, rtol=max(tol, 1e-3), atol=1e-4 * np.abs(ref).max())
    np.testing.assert_allclose(inf.dfbetas().to_numpy(), np.reshape(case["dfbetas"], inf.dfbetas().shape),
                               atol=2e-4 if case["family"] == "gaussian" else 2e-3)
    np.testing.assert_allclose(inf.cooks_distance().to_numpy(), case["cooks"],
                               rtol=1e-3 if case["family"] == "gaussian" else 2e-3, atol=1e-7)
    assert inf.converged.all()


def test_dfbeta_is_refit_minus_fit(results):
    inf = results["sleepstudy_subject"]
    np.testing.assert_allclose(inf.dfbeta().loc["308"], inf.fixed_deleted.loc["308"] - inf.fixed)
    np.testing.assert_allclose(inf.dfbeta("var.cov").iloc[0], inf.var_cov_deleted.iloc[0] - inf.var_cov)


def test_groups_from_data_the_model_does_not_use():
    """lme4's data=: delete by a column outside the formula (here each subject's first and
    second half of days are units of their own)."""
    ss = ml.datasets.load("sleepstudy").assign(half=lambda d: d["Subject"].astype(str) + (d["Days"] < 5).map(
        {True: "a", False: "b"}))
    fit = ml.fit("Reaction ~ Days + (1 | Subject)", ss, method="reml")
    inf = ml.influence(fit, groups="half", data=ss)
    assert len(inf.fixed_deleted) == 36
    first = ml.fit("Reaction ~ Days + (1 | Subject)", ss[ss["half"] != "308a"], method="reml")
    np.testing.assert_allclose(inf.fixed_deleted.loc["308a"], first.fixef, rtol=1e-10)


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"groups": "Subjekt"}, "not columns"),
    ({"groups": "half"}, "pass data="),
    ({"groups": 3}, "column name"),
    ({"data": [1, 2]}, "DataFrame"),
])
def test_influence_refuses_bad_input(kwargs, words):
    fit = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml")
    with pytest.raises(SpecError, match=words):
        ml.influence(fit, **kwargs)


@pytest.mark.parametrize("family", ["gaussian", "binomial"])
def test_weighted_fits_are_refitted_with_their_weights(family):
    """Prior weights (a proportion's trials for binomial) go with the rows into each refit:
    deleting a subject equals fitting the weighted rows without it."""
    rng = np.random.default_rng(7)
    ss = ml.datasets.load("sleepstudy").assign(w=lambda d: rng.uniform(0.5, 2.0, len(d)),
                                                n=lambda d: rng.integers(5, 20, len(d)))
    ss["prop"] = rng.binomial(ss["n"], 1 / (1 + np.exp(-(ss["Reaction"] - 300) / 60))) / ss["n"]
    if family == "gaussian":
        formula, options, weights = "Reaction ~ Days + (1 | Subject)", {"method": "reml"}, "w"
    else:
        formula, options, weights = "prop ~ Days + (1 | Subject)", {"method": "ml", "family": "binomial"}, "n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ml.fit(formula, ss, weights=weights, **options)
        inf = ml.influence(fit, groups="Subject")
        alone = ml.fit(formula, ss[ss["Subject"] != "309"], weights=weights, **options)
    np.testing.assert_allclose(inf.fixed_deleted.loc["309"], alone.fixef, rtol=1e-8)
    with pytest.raises(SpecError, match="prior weights"):
        ml.influence(fit, groups="Subject", data=ss)


def test_influence_refuses_a_bayesian_fit():
    with pytest.raises(SpecError, match="reml"):
        ml.influence(object())
