"""Satterthwaite and Kenward-Roger t and F tests against lmerTest 3.1-3 / pbkrtest 0.5.2
(tests/reference/make_inference.R)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import SpecError
from multilevel.inference import anova, coef_table, contest, contrast_rows, vcov_adjusted

REF = json.loads((Path(__file__).parent / "reference" / "inference.json").read_text())
MODELS = {
    "sleepstudy": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "reml"),
    "sleepstudy_ml": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "ml"),
    "cake": ("angle ~ recipe * temperature + (1 | recipe:replicate)", "cake", "reml"),
    "cake_ml": ("angle ~ recipe * temperature + (1 | recipe:replicate)", "cake", "ml"),
    "cake_numeric": ("angle ~ recipe * temp + (1 | recipe:replicate)", "cake", "reml"),
}
DDF = {"satterthwaite": "satterthwaite", "kenward_roger": "kenward-roger"}
# relative tolerance per quantity: the df come from numerical derivatives (Richardson
# extrapolation on both sides), the rest is closed form given the fit
TOL = {"estimate": 1e-6, "std_error": 1e-6, "df": 1e-5, "t_value": 1e-6, "p": 1e-4}
ANOVA_TOL = {"Sum Sq": 1e-6, "Mean Sq": 1e-6, "NumDF": 0, "DenDF": 1e-5, "F": 1e-6, "p": 1e-4}
ANOVA_COLS = {"Sum Sq": "sum_sq", "Mean Sq": "mean_sq", "NumDF": "num_df", "DenDF": "den_df",
              "F": "F", "p": "p"}


@pytest.fixture(scope="module")
def fits():
    return {k: ml.fit(f, d, method=m) for k, (f, d, m) in MODELS.items()}


def vec(x):
    return np.atleast_1d(np.asarray(x, dtype=float))


CASES = [(m, d) for m in MODELS for d in DDF if d in REF["tests"][m]]


@pytest.mark.parametrize("model,ddf", CASES)
def test_coef_table(fits, model, ddf):
    ref = REF["tests"][model][ddf]
    table = coef_table(fits[model], DDF[ddf]).loc[ref["term"]]   # R orders interactions differently
    for col, tol in TOL.items():
        np.testing.assert_allclose(table[col].to_numpy(), vec(ref[col]), rtol=tol, err_msg=col)


@pytest.mark.parametrize("model,ddf", CASES)
@pytest.mark.parametrize("type", [1, 2, 3])
def test_anova(fits, model, ddf, type):
    ref = REF["tests"][model]["anova"][f"type{type}_{ddf}"]
    table = anova(fits[model], type=type, ddf=DDF[ddf])
    assert list(table.index) == list(np.atleast_1d(ref["term"]))
    for col, tol in ANOVA_TOL.items():
        np.testing.assert_allclose(table[col].to_numpy(float), vec(ref[ANOVA_COLS[col]]), rtol=tol,
                                   atol=1e-12, err_msg=col)


def user_L(fit):
    ref = REF["contest"]
    return pd.DataFrame(np.asarray(ref["L"], dtype=float), columns=ref["columns"])


@pytest.mark.parametrize("ddf", list(DDF))
def test_contest(fits, ddf):
    ref = REF["contest"][ddf]
    fit = fits["cake"]
    rows = contest(fit, user_L(fit), ddf=DDF[ddf], joint=False)
    for col in ["estimate", "std_error", "df", "t_value", "p"]:
        np.testing.assert_allclose(rows[col], vec(ref["rows"][col]), rtol=TOL[col], err_msg=col)
    joint = contest(fit, user_L(fit), ddf=DDF[ddf]).iloc[0]
    for col, tol in ANOVA_TOL.items():
        assert joint[col] == pytest.approx(ref["joint"][ANOVA_COLS[col]], rel=tol), col


@pytest.mark.parametrize("model", ["sleepstudy", "cake"])
def test_vcov_adjusted(fits, model):
    fit = fits[model]
    ref = np.asarray(REF["vcov_adj"][model])
    names = REF["tests"][model]["kenward_roger"]["term"]
    got = vcov_adjusted(fit).loc[names, names].to_numpy()
    # 1e-5: θ̂ agrees with lme4's to the optimizer's tolerance (~1e-6), and the adjusted
    # covariance, built from derivatives in θ, carries that difference (2e-6 on sleepstudy)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-10 * np.abs(ref).max())


def test_contrast_rows_kr_uses_adjusted_se(fits):
    fit = fits["cake"]
    L = user_L(fit)
    kr = contrast_rows(fit, L, ddf="kenward-roger")
    wald = contrast_rows(fit, L, ddf=None)
    assert list(kr.columns) == ["estimate", "std_error", "df"]
    assert np.all(kr["std_error"] >= wald["std_error"] - 1e-12)
    assert np.all(np.isinf(wald["df"]))
    np.testing.assert_allclose(kr["std_error"], vec(REF["contest"]["kenward_roger"]["rows"]["std_error"]),
                               rtol=1e-6)


def test_bad_input(fits):
    fit = fits["sleepstudy"]
    with pytest.raises(SpecError, match="one column per fixed effect"):
        contest(fit, [1, 0, 0])
    with pytest.raises(SpecError, match="not fixed effects"):
        contest(fit, pd.DataFrame({"Dayz": [1.0]}))
    with pytest.raises(SpecError, match="ddf="):
        coef_table(fit, ddf="bogus")
    with pytest.raises(SpecError, match="REML"):
        coef_table(fits["sleepstudy_ml"], ddf="kenward-roger")
    with pytest.raises(SpecError, match="type="):
        anova(fit, type=4)


def test_glmm_refused():
    fit = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
                 family="binomial", method="ml")
    with pytest.raises(SpecError, match="linear mixed model"):
        coef_table(fit)
