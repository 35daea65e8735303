"""ml.emmeans against emmeans 1.8.4 (tests/reference/make_effects.R): cake LMM (KR,
Satterthwaite and asymptotic df), a covariate at its mean, and the cbpp binomial GLMM on
the link and the response scale."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel.effects.emm import emmeans
from multilevel.errors import DataError

REF = json.loads((Path(__file__).parent / "reference" / "effects.json").read_text())
TOL = 1e-4


@pytest.fixture(scope="module")
def cake():
    return ml.fit(REF["cake"]["formula"], "cake", method="reml")


@pytest.fixture(scope="module")
def cake_temp():
    return ml.fit(REF["cake_temp"]["formula"], "cake", method="reml")


@pytest.fixture(scope="module")
def cbpp():
    # bobyqa to the optimum, as the reference (glmerControl with tight tolerances)
    return ml.fit(REF["cbpp"]["formula"], "cbpp", family="binomial", method="ml", optimizer="bobyqa")


def close(ours, theirs, tol=TOL, what=""):
    theirs = np.array([np.inf if v is None else v for v in theirs], dtype=float)
    ours = np.asarray(ours, dtype=float)
    assert ours.shape == theirs.shape, what
    both_inf = np.isinf(ours) & np.isinf(theirs)
    with np.errstate(invalid="ignore"):
        ok = both_inf | (np.abs(ours - theirs) <= tol * np.maximum(1.0, np.abs(theirs)))
    assert ok.all(), f"{what}: ours {ours} vs emmeans {theirs}"


def check_means(table, ref, cols=("estimate", "std_error", "df", "lower", "upper")):
    names = {"estimate": "estimate", "std_error": "SE", "df": "df", "lower": "lower", "upper": "upper"}
    for c in cols:
        close(table[c], ref[names[c]], what=c)


def check_contrasts(table, ref):
    close(table["estimate"], ref["estimate"], what="estimate")
    close(table["std_error"], ref["SE"], what="SE")
    close(table["df"], ref["df"], what="df")
    close(table["statistic"], ref["stat"], what="t")
    close(table["p_value"], ref["p_value"], what="p")


# (our call, the reference's key)
MEANS = [
    (dict(specs="recipe"), "recipe"),
    (dict(specs="temperature"), "temperature"),
    (dict(specs="~ temperature | recipe"), "temperature_by_recipe"),
]
CONTRASTS = [
    (dict(specs="recipe", contrasts="pairwise"), "recipe_pairwise_tukey"),
    (dict(specs="recipe", contrasts="pairwise", adjust="none"), "recipe_pairwise_none"),
    (dict(specs="temperature", contrasts="pairwise", adjust="tukey"), "temperature_pairwise_tukey"),
    (dict(specs="temperature", contrasts="pairwise", adjust="holm"), "temperature_pairwise_holm"),
    (dict(specs="temperature", contrasts="pairwise", adjust="bonferroni"), "temperature_pairwise_bonferroni"),
    (dict(specs="temperature", contrasts="trt.vs.ctrl", adjust="none"), "temperature_trt_vs_ctrl_none"),
    (dict(specs="temperature", contrasts="trt.vs.ctrl", adjust="bonferroni"), "temperature_trt_vs_ctrl_bonferroni"),
    (dict(specs="temperature", contrasts="trt.vs.ctrl"), "temperature_trt_vs_ctrl_dunnettx"),
    (dict(specs="temperature", by="recipe", contrasts="pairwise"), "temperature_by_recipe_pairwise_tukey"),
]
# asymptotic: fully ours; KR and Satterthwaite: multilevel.inference.contrast_rows
DDF = ["asymptotic", "kenward-roger", "satterthwaite"]


@pytest.mark.parametrize("ddf", DDF)
@pytest.mark.parametrize("call, key", MEANS)
def test_cake_means(cake, ddf, call, key):
    table = emmeans(cake, ddf=ddf, **call)
    ref = REF["cake"][ddf][key]
    for col in ("recipe", "temperature"):
        if col in ref:
            assert table[col].astype(str).tolist() == ref[col]
    check_means(table, ref)


@pytest.mark.parametrize("ddf", DDF)
@pytest.mark.parametrize("call, key", CONTRASTS)
def test_cake_contrasts(cake, ddf, call, key):
    out = emmeans(cake, ddf=ddf, **call)
    ref = REF["cake"][ddf][key]
    check_contrasts(out["contrasts"], ref)
    assert out["contrasts"]["contrast"].str.count(" - ").eq(1).all()


def test_default_ddf_is_kenward_roger(cake):
    close(emmeans(cake, "recipe")["df"], REF["cake"]["kenward-roger"]["recipe"]["df"], what="df")


def test_covariate_at_its_mean(cake_temp):
    check_means(emmeans(cake_temp, "recipe"), REF["cake_temp"]["recipe"])


def test_covariate_at_a_value(cake_temp):
    check_means(emmeans(cake_temp, "recipe", at={"temp": 200}, ddf="asymptotic"), REF["cake_temp"]["recipe_at"])


def test_linear_model_uses_residual_df():
    m = ml.fit(REF["cake_lm"]["formula"], "cake", method="ml")
    out = emmeans(m, "recipe", contrasts="pairwise")
    check_means(out["emmeans"], REF["cake_lm"]["recipe"])
    check_contrasts(out["contrasts"], REF["cake_lm"]["pairwise_tukey"])


def test_cbpp_link(cbpp):
    out = emmeans(cbpp, "period", contrasts="pairwise")
    check_means(out["emmeans"], REF["cbpp"]["link"])
    check_contrasts(out["contrasts"], REF["cbpp"]["pairwise_tukey"])
    out = emmeans(cbpp, "period", contrasts="trt.vs.ctrl", adjust="none")
    check_contrasts(out["contrasts"], REF["cbpp"]["trt_vs_ctrl_none"])
    out = emmeans(cbpp, "period", contrasts="trt.vs.ctrl")   # emmeans' default: dunnettx
    check_contrasts(out["contrasts"], REF["cbpp"]["trt_vs_ctrl_dunnettx"])
    assert out["contrasts"].attrs["adjust"] == "dunnettx"


def test_cbpp_response(cbpp):
    out = emmeans(cbpp, "period", contrasts="pairwise", adjust="none", type="response")
    check_means(out["emmeans"], REF["cbpp"]["response"])
    check_contrasts(out["contrasts"], REF["cbpp"]["pairwise_none_response"])
    assert out["contrasts"]["contrast"].iloc[0] == "period1 / period2"   # emmeans 1.8.4: numeric levels carry the name


def test_contrast_weights_and_matrix(cake):
    means = emmeans(cake, "recipe", ddf="asymptotic")
    out = emmeans(cake, "recipe", contrasts={"A vs rest": [1, -0.5, -0.5]}, ddf="asymptotic")
    c = out["contrasts"].iloc[0]
    assert c["estimate"] == pytest.approx(means["estimate"][0] - means["estimate"][1:].mean(), abs=1e-9)
    V = cake.vcov.to_numpy()
    # the same contrast through L: rows of the reference grid averaged over temperature
    grid = ml.effects.grid.reference_grid(cake)
    X = cake.design.spec.fixed_X(grid)
    rec = grid["recipe"].astype(str).to_numpy()
    L = X[rec == "A"].mean(0) - 0.5 * X[rec == "B"].mean(0) - 0.5 * X[rec == "C"].mean(0)
    assert c["std_error"] == pytest.approx(np.sqrt(L @ V @ L), rel=1e-10)
    mat = emmeans(cake, "recipe", contrasts=np.array([[1, -0.5, -0.5]]), ddf="asymptotic")["contrasts"]
    assert mat["estimate"].iloc[0] == pytest.approx(c["estimate"], abs=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(specs="nope"), "nope"),
    (dict(specs="recipe", contrasts="everything"), "contrasts"),
    (dict(specs="recipe", contrasts="pairwise", adjust="tukeyx"), "adjust"),
    (dict(specs="recipe", contrasts={"x": [1, -1]}), "3 means"),
    (dict(specs="recipe", ddf="containment"), "ddf"),
    (dict(specs="recipe", at={"recipe": "Z"}), "level"),
])
def test_bad_input(cake, kwargs, match):
    with pytest.raises(DataError, match=match):
        emmeans(cake, **kwargs)


def test_kr_refused_for_a_glmm(cbpp):
    with pytest.raises(DataError, match="asymptotic"):
        emmeans(cbpp, "period", ddf="kenward-roger")


def test_dunnettx_interval_is_consistent_with_its_p_value(cbpp):
    """The adjusted interval's half-width is where the adjusted p-value crosses 1 − ci."""
    from multilevel.effects.multiplicity import dunnettx_cdf

    out = emmeans(cbpp, "period", contrasts="trt.vs.ctrl", ci=0.9)["contrasts"]
    crit = (out["upper"] - out["estimate"]) / out["std_error"]
    np.testing.assert_allclose(dunnettx_cdf(crit.to_numpy(), 3, np.full(3, np.inf)), 0.9, atol=1e-9)
    one = emmeans(cbpp, "period", contrasts={"2 - 1": [-1, 1, 0, 0]}, adjust="dunnettx")["contrasts"]
    unadjusted = emmeans(cbpp, "period", contrasts={"2 - 1": [-1, 1, 0, 0]}, adjust="none")["contrasts"]
    assert one["p_value"].iloc[0] == pytest.approx(unadjusted["p_value"].iloc[0], rel=1e-9)
