"""ICC (Nakagawa adjusted/conditional) against R's performance::icc, closed forms and
the posterior of a Bayesian fit."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import FamilyError, FitError

EXTRA = json.loads((Path(__file__).parent / "reference" / "diagnostics_extra.json").read_text())["icc"]
TOL = 1e-4     # the tolerance for ICCs of lme4 fits


@pytest.fixture(scope="module")
def ss_slopes(sleepstudy):
    return ml.fit("Reaction ~ Days + (Days | Subject)", sleepstudy, method="reml")


@pytest.mark.parametrize("key, formula", [
    ("icc_ss_null", "Reaction ~ 1 + (1 | Subject)"),
    ("icc_ss_rs", "Reaction ~ Days + (Days | Subject)"),
])
def test_icc_matches_performance(sleepstudy, diagnostics_ref, key, formula):
    ref = diagnostics_ref[key]
    result = ml.icc(ml.fit(formula, sleepstudy, method="reml"))
    assert result.adjusted == pytest.approx(ref["adjusted"], abs=TOL)
    assert result.conditional == pytest.approx(ref["conditional"], abs=TOL)


# (reference key, data, method, family): more models from tests/reference/make_diagnostics_extra.R
EXTRA_CASES = [
    ("ss_null", "sleepstudy", "reml", "gaussian"),
    ("ss_ri", "sleepstudy", "reml", "gaussian"),
    ("ss_rs", "sleepstudy", "reml", "gaussian"),
    ("penicillin", "Penicillin", "reml", "gaussian"),     # crossed factors: both variances count
    ("cbpp", "cbpp", "ml", "binomial"),                   # latent logit scale, π²/3
]


@pytest.mark.parametrize("key, data, method, family", EXTRA_CASES)
def test_icc_matches_performance_on_more_models(key, data, method, family):
    ref = EXTRA[key]
    result = ml.icc(ml.fit(ref["formula"], data, method=method, family=family))
    assert result.adjusted == pytest.approx(ref["adjusted"], abs=TOL)
    assert result.conditional == pytest.approx(ref["conditional"], abs=TOL)
    assert result.draws is None and list(result.table.columns) == ["estimate"]


def test_null_model_icc_is_the_variance_ratio(sleepstudy):
    fit = ml.fit("Reaction ~ 1 + (1 | Subject)", sleepstudy, method="reml")
    vc = fit.varcorr.set_index("grp")["vcov"]
    expected = vc["Subject"] / (vc["Subject"] + vc["Residual"])
    result = ml.icc(fit)
    assert result.adjusted == pytest.approx(expected, rel=1e-12)
    assert result.conditional == pytest.approx(expected, rel=1e-12)   # no fixed-effect variance
    assert result.components["fixed"] == pytest.approx(0.0, abs=1e-9)


def test_random_slope_variance_is_averaged_over_rows(sleepstudy, ss_slopes):
    # closed form for (Days | Subject): Σ00 + 2 Σ01 mean(Days) + Σ11 mean(Days²)
    S = ss_slopes.covariance()["Subject"]
    days = sleepstudy["Days"].to_numpy(float)
    random = S[0, 0] + 2 * S[0, 1] * days.mean() + S[1, 1] * np.mean(days ** 2)
    fixed = ss_slopes.fixef["Days"] ** 2 * days.var(ddof=1)
    resid = ss_slopes.sigma ** 2
    result = ml.icc(ss_slopes)
    assert result.components["random"] == pytest.approx(random, rel=1e-12)
    assert result.components["random: Subject"] == pytest.approx(random, rel=1e-12)
    assert result.components["fixed"] == pytest.approx(fixed, rel=1e-12)
    assert result.conditional == pytest.approx(random / (random + fixed + resid), rel=1e-12)
    assert "averaged over the rows" in str(result)


def test_uncorrelated_slopes_count_where_performance_drops_them(sleepstudy):
    # insight 0.19 leaves the slope variance of (Days || Subject) out (see the reference
    # script); its value is the intercept-only share of our components.
    ref = EXTRA["ss_uncorr"]
    result = ml.icc(ml.fit("Reaction ~ Days + (Days || Subject)", sleepstudy, method="reml"))
    c = result.components
    assert c["random"] == pytest.approx(c["random: Subject"] + c["random: Subject.1"])
    assert c["random: Subject"] / (c["random: Subject"] + c["residual"]) == \
        pytest.approx(ref["adjusted"], abs=TOL)
    vc = ml.fit("Reaction ~ Days + (Days || Subject)", sleepstudy, method="reml").varcorr
    slope_var = vc.loc[vc["grp"] == "Subject.1", "vcov"].item()
    days = sleepstudy["Days"].to_numpy(float)
    assert c["random: Subject.1"] == pytest.approx(slope_var * np.mean(days ** 2), rel=1e-12)
    assert result.adjusted > ref["adjusted"] + 0.2


def test_icc_refuses_models_it_cannot_handle(sleepstudy):
    with pytest.raises(FitError, match="has none"):
        ml.icc(ml.fit("Reaction ~ Days", sleepstudy, method="ml"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the fit's own convergence notes are not under test
        gamma = ml.fit("Reaction ~ Days + (1 | Subject)", sleepstudy, method="ml", family="gamma")
    with pytest.raises(FamilyError, match="gamma model"):
        ml.icc(gamma)
    with pytest.raises(FitError, match="ci must lie"):
        ml.icc(ml.fit("Reaction ~ 1 + (1 | Subject)", sleepstudy, method="reml"), ci=1.5)


@pytest.mark.slow
def test_bayesian_icc_is_a_posterior_covering_the_reml_value(bayes_ss_slopes, ss_slopes):
    result = ml.icc(bayes_ss_slopes, ci=0.95)
    freq = ml.icc(ss_slopes)
    assert result.draws.shape == (bayes_ss_slopes.n_draws, 2)
    assert ((result.draws > 0) & (result.draws < 1)).all().all()
    table = result.table
    assert list(table.columns) == ["estimate", "sd", "lower", "upper"]
    for kind in ("adjusted", "conditional"):
        lo, hi = table.loc[kind, ["lower", "upper"]]
        assert lo < getattr(freq, kind) < hi
        assert table.loc[kind, "estimate"] == pytest.approx(result.draws[kind].mean())
    # per draw: adjusted = random / (random + σ²) from the fit's own draws
    cov = bayes_ss_slopes.covariance_draws()["Subject"]
    days = bayes_ss_slopes.design.X[:, 1]
    random = cov[:, 0, 0] + 2 * cov[:, 0, 1] * days.mean() + cov[:, 1, 1] * np.mean(days ** 2)
    adjusted = random / (random + bayes_ss_slopes.sigma_draws() ** 2)
    np.testing.assert_allclose(result.draws["adjusted"], adjusted, rtol=1e-10)
    assert "95% interval" in str(result)
    assert isinstance(result.components, pd.Series)


@pytest.mark.slow
@pytest.mark.parametrize("link, latent", [("probit", 1.0), ("cloglog", np.pi ** 2 / 6)])
def test_bayesian_icc_of_other_binomial_links_uses_their_latent_variance(link, latent):
    """σ²_e on the latent scale of the link (as the REML/ML ICC and performance): per draw,
    adjusted = σ²_herd / (σ²_herd + latent)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # 100 draws of one chain: convergence is not under test
        fit = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
                     family="binomial", link=link, draws=100, tune=100, chains=1, seed=3,
                     progress=False, check=False)
    result = ml.icc(fit)
    var_herd = fit.covariance_draws()["herd"][:, 0, 0]
    np.testing.assert_allclose(result.draws["adjusted"], var_herd / (var_herd + latent), rtol=1e-10)
    assert result.components["residual"] == pytest.approx(latent)
    assert any(f"latent {link} scale" in note for note in result.notes)
