"""confint (Wald, profile) against lme4 1.1-31 and r2_nakagawa against performance 0.10.2
(tests/reference/make_inference.R)."""

import json
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import SpecError
from multilevel.inference import confint, r2, r2_nakagawa

REF = json.loads((Path(__file__).parent / "reference" / "inference.json").read_text())
MODELS = {
    "sleepstudy": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "reml"),
    "penicillin": ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", "reml"),
    "sleepstudy_ml": ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "ml"),
    # glmer's default fit (ml.fit's default optimizer replays it); profile over (θ, β)
    "cbpp": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "ml"),
}


@pytest.fixture(scope="module")
def fits():
    return {k: ml.fit(f, d, method=m, family="binomial" if k == "cbpp" else "gaussian")
            for k, (f, d, m) in MODELS.items()}


def bounds(ref):
    return (np.array([np.nan if v is None else v for v in ref["lower"]], float),
            np.array([np.nan if v is None else v for v in ref["upper"]], float))


@pytest.mark.parametrize("model", list(MODELS))
def test_wald(fits, model):
    ref = REF["confint"][model]["wald"]
    table = confint(fits[model], method="wald")
    assert list(table.index) == ref["parameter"]
    lo, hi = bounds(ref)
    np.testing.assert_allclose(table["lower"], lo, rtol=1e-6)   # NaN where lme4 has NA
    np.testing.assert_allclose(table["upper"], hi, rtol=1e-6)


@pytest.mark.parametrize("model", list(MODELS))
def test_profile(fits, model):
    """lme4 inverts a spline through its profile grid; we solve ζ = ±z exactly, so the
    two agree to the spline's accuracy (observed ≤ 5e-5 relative)."""
    ref = REF["confint"][model]["profile"]
    table = confint(fits[model], method="profile")
    assert list(table.index) == ref["parameter"]
    lo, hi = bounds(ref)
    np.testing.assert_allclose(table["lower"], lo, rtol=1e-3)
    np.testing.assert_allclose(table["upper"], hi, rtol=1e-3)
    assert np.all(table["lower"] <= table["estimate"]) and np.all(table["estimate"] <= table["upper"])


def test_names_follow_varcorr(fits):
    table = confint(fits["sleepstudy"], method="wald")
    assert list(table["name"]) == ["sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject",
                                   "sd_Days|Subject", "sigma", "(Intercept)", "Days"]
    vc = fits["sleepstudy"].varcorr
    sd_days = vc[(vc.var1 == "Days") & vc.var2.isna()]["sdcor"].item()
    assert table.loc[".sig03", "estimate"] == pytest.approx(sd_days)
    assert table.loc[".sig02", ["var1", "var2"]].tolist() == ["(Intercept)", "Days"]


def test_bad_arguments(fits):
    with pytest.raises(SpecError, match="method="):
        confint(fits["sleepstudy"], method="bca")
    with pytest.raises(SpecError, match="level"):
        confint(fits["sleepstudy"], method="wald", level=95)


@pytest.mark.parametrize("key", list(REF["r2"]))
def test_r2_nakagawa(key):
    ref = REF["r2"][key]
    family = {"binomial": "binomial", "poisson": "poisson"}.get(key, "gaussian")
    fit = ml.fit(ref["formula"], ref["data"], method="reml" if ref["REML"] else "ml", family=family)
    got = r2_nakagawa(fit)
    assert got["marginal"] == pytest.approx(ref["marginal"], rel=1e-4)
    assert got["conditional"] == pytest.approx(ref["conditional"], rel=1e-4)
    assert r2(fit).equals(got)


def test_r2_refuses_least_squares():
    with pytest.raises(SpecError, match="FreqFit"):
        r2(ml.fit("Reaction ~ Days", "sleepstudy", method="ml"))
