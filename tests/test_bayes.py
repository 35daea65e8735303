"""Bayesian fits through Bambi with lme4 semantics, checked against lme4's REML values.

Posterior means are not REML estimates; with these data and weak priors they lie
within a fraction of a posterior SD of them, which is what the tolerances encode.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import FitError, PriorError

pytestmark = pytest.mark.slow


def _lme4_sd(ref, grp, var1, var2=None):
    row = next(r for r in ref["varcorr"] if r["grp"] == grp and r["var1"] == var1 and r["var2"] == var2)
    return row["sdcor"]


def test_fixef_match_lme4_within_posterior_sd(bayes_ss_slopes, lme4_ref):
    ref = lme4_ref["ss_rs_reml"]
    summary = bayes_ss_slopes.summary()
    for name, value in ref["fixef"].items():
        assert abs(bayes_ss_slopes.fixef[name] - value) < 0.5 * summary.loc[name, "sd"], name


def test_correlated_block_has_lkj_correlation(bayes_ss_slopes, lme4_ref):
    ref = lme4_ref["ss_rs_reml"]
    vc = bayes_ss_slopes.varcorr
    assert list(vc.columns) == ["grp", "var1", "var2", "vcov", "sdcor"]
    assert vc["grp"].tolist() == ["Subject", "Subject", "Subject", "Residual"]
    assert vc["var1"].tolist()[:3] == ["(Intercept)", "Days", "(Intercept)"]
    assert vc["var2"].tolist()[2] == "Days"
    corr = bayes_ss_slopes.posterior["corr|Subject"].values
    assert corr.shape[-2:] == (2, 2)
    np.testing.assert_allclose(corr[..., 0, 0], 1.0)
    summary = bayes_ss_slopes.summary()
    for row, (var1, var2) in {"sd__(Intercept)|Subject": ("(Intercept)", None),
                              "sd__Days|Subject": ("Days", None)}.items():
        assert abs(summary.loc[row, "estimate"] - _lme4_sd(ref, "Subject", var1, var2)) < summary.loc[row, "sd"]
    # the correlation is estimated (lme4: 0.066) and lies well inside (-1, 1)
    cor = summary.loc["cor__(Intercept).Days|Subject"]
    assert cor["lower"] < 0.066 < cor["upper"]
    assert abs(summary.loc["sigma", "estimate"] - ref["sigma"]) < summary.loc["sigma", "sd"]


def test_ranef_in_lme4_level_order(bayes_ss_slopes, lme4_ref):
    ref = lme4_ref["ss_rs_reml"]["ranef_first3"]
    table = bayes_ss_slopes.ranef["Subject"]
    assert list(table.columns) == ["(Intercept)", "Days"]
    assert table.index.tolist()[:3] == ref["subjects"]
    draws = bayes_ss_slopes.ranef_draws()["Subject"]
    assert draws.shape == (4000, 18, 2)
    sd = draws.std(axis=0)
    for j, col in enumerate(["Intercept", "Days"]):
        diff = np.abs(table.iloc[:3, j].to_numpy() - np.array(ref[col]))
        assert np.all(diff < 0.5 * sd[:3, j]), col


def test_summary_layout_and_interval_kinds(bayes_ss_slopes):
    eti = bayes_ss_slopes.summary()
    assert list(eti.columns) == ["estimate", "sd", "lower", "upper", "r_hat", "ess_bulk", "ess_tail",
                                 "mcse_mean"]
    assert eti.index.tolist() == ["(Intercept)", "Days", "sd__(Intercept)|Subject", "sd__Days|Subject",
                                  "cor__(Intercept).Days|Subject", "sigma"]
    hdi = bayes_ss_slopes.summary(kind="hdi")
    narrow = bayes_ss_slopes.summary(ci=0.5)
    assert (narrow["upper"] - narrow["lower"] < eti["upper"] - eti["lower"]).all()
    assert not np.allclose(hdi["lower"], eti["lower"])
    assert eti.attrs["kind"] == "eti" and hdi.attrs["kind"] == "hdi"
    # the ETI is the 2.5 % and 97.5 % quantiles of the draws
    days = bayes_ss_slopes.fixef_draws()["Days"]
    np.testing.assert_allclose([eti.loc["Days", "lower"], eti.loc["Days", "upper"]],
                               np.quantile(days, [0.025, 0.975]), rtol=1e-6)
    with pytest.raises(FitError, match="kind"):
        bayes_ss_slopes.summary(kind="wald")


def test_fit_records_sampler_and_keeps_log_likelihood(bayes_ss_slopes):
    assert bayes_ss_slopes.sampler in ("nutpie", "pymc")
    ll = bayes_ss_slopes.idata.log_likelihood["Reaction"]
    assert ll.shape == (4, 1000, 180)
    assert bayes_ss_slopes.convergence.ok, str(bayes_ss_slopes.convergence)
    assert "Convergence" in repr(bayes_ss_slopes)


def test_covariance_draws_match_varcorr(bayes_ss_slopes):
    cov = bayes_ss_slopes.covariance_draws()["Subject"]
    vc = bayes_ss_slopes.varcorr
    assert cov.shape == (4000, 2, 2)
    np.testing.assert_allclose(cov[:, 0, 1].mean(), vc.loc[2, "vcov"], rtol=1e-10)
    np.testing.assert_allclose(cov[:, 1, 1].mean(), vc.loc[1, "vcov"], rtol=1e-10)


def test_double_bar_is_diagonal(sleepstudy, bayes_small):
    fit = ml.fit("Reaction ~ Days + (Days || Subject)", sleepstudy, **bayes_small)
    assert not any(name.startswith("corr|") for name in fit.posterior.data_vars)
    assert fit.varcorr["grp"].tolist() == ["Subject", "Subject.1", "Residual"]
    assert list(fit.ranef) == ["Subject"]
    assert list(fit.ranef["Subject"].columns) == ["(Intercept)", "Days"]


def test_nested_and_crossed_terms_follow_lme4_names(bayes_small):
    # Pastes' batch SD has a funnel: one divergence of 4000 at 0.95
    fit = ml.fit("strength ~ 1 + (1 | batch/cask)", "Pastes", target_accept=0.99, **bayes_small)
    assert fit.varcorr["grp"].tolist() == ["cask:batch", "batch", "Residual"]
    assert fit.ranef["cask:batch"].index[0] == "a:A"
    assert len(fit.ranef["cask:batch"]) == 30


def test_binomial_cbind_close_to_glmer(lme4_ref, bayes_small):
    ref = lme4_ref["cbpp_glmer"]
    fit = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
                 family="binomial", **bayes_small)
    summary = fit.summary()
    for name, value in ref["fixef"].items():
        assert abs(summary.loc[name, "estimate"] - value) < summary.loc[name, "sd"], name
    assert summary.loc["sd__(Intercept)|herd", "lower"] < ref["theta"]["herd.(Intercept)"] < \
        summary.loc["sd__(Intercept)|herd", "upper"]


@pytest.mark.parametrize(
    "family, formula, data, aux",
    [
        ("poisson", "TICKS ~ YEAR + (1 | BROOD)", "grouseticks", None),
        ("negativebinomial", "TICKS ~ YEAR + (1 | BROOD)", "grouseticks", "alpha"),
        ("t", "Reaction ~ Days + (1 | Subject)", "sleepstudy", "nu"),
    ],
)
def test_other_families_fit_and_keep_log_likelihood(family, formula, data, aux):
    fit = ml.fit(formula, data, family=family, draws=200, tune=300, chains=2, seed=3,
                 progress=False, check=False)
    assert fit.idata.log_likelihood.sizes["__obs__"] == fit.nobs
    if aux:
        assert aux in fit.posterior


def test_bernoulli_factor_response():
    data = ml.datasets.load("VerbAgg")
    data = data[data["item"].isin(data["item"].cat.categories[:6])]
    fit = ml.fit("r2 ~ btype + (1 | id)", data, family="bernoulli", draws=200, tune=300,
                 chains=2, seed=3, progress=False, check=False)
    assert fit.fixef.index.tolist() == ["(Intercept)", "btypescold", "btypeshout"]
    assert fit.fixef["btypeshout"] < 0  # shouting is done less than cursing (lme4: -1.06)


def test_same_seed_same_draws(sleepstudy):
    kwargs = dict(draws=30, tune=30, chains=2, seed=11, progress=False, check=False)
    a = ml.fit("Reaction ~ Days + (1 | Subject)", sleepstudy, **kwargs)
    b = ml.fit("Reaction ~ Days + (1 | Subject)", sleepstudy, **kwargs)
    pd.testing.assert_frame_equal(a.fixef_draws(), b.fixef_draws())


def test_user_prior_per_term_moves_the_posterior(sleepstudy):
    import bambi as bmb

    fit = ml.fit("Reaction ~ Days + (1 | Subject)", sleepstudy,
                 priors={"Days": bmb.Prior("Normal", mu=0, sigma=0.01)},
                 draws=200, tune=300, chains=2, seed=5, progress=False, check=False)
    assert abs(fit.fixef["Days"]) < 0.05


def test_prior_errors_name_the_term(sleepstudy):
    with pytest.raises(PriorError, match="'Dayz'.*Days"):
        ml.fit("Reaction ~ Days + (1 | Subject)", sleepstudy, priors={"Dayz": 1.0})
    with pytest.raises(PriorError, match="'period'"):
        ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
               family="binomial", priors={"period2": 1.0})
    with pytest.raises(PriorError, match="preset"):
        ml.fit("Reaction ~ Days + (1 | Subject)", sleepstudy, priors=[1, 2])


def test_sampler_and_settings_errors(sleepstudy):
    with pytest.raises(FitError, match="Unknown sampler 'stan'"):
        ml.fit("Reaction ~ Days + (1 | Subject)", sleepstudy, sampler="stan")
    with pytest.raises(FitError, match="draws"):
        ml.fit("Reaction ~ Days + (1 | Subject)", sleepstudy, draws=0)


def test_import_does_not_load_pymc():
    code = "import sys, multilevel; print(any(m in sys.modules for m in ('pymc', 'bambi', 'arviz')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _with_nan(data):
    data = data.copy()
    data.loc[data.index[:3], "Reaction"] = float("nan")
    return data


@pytest.mark.parametrize(
    "formula, family, transform, error, match",
    [
        ("Reaction ~ Dayz + (1 | Subject)", "gaussian", None, ml.errors.FormulaError, "'Dayz' is not a column"),
        ("Subject ~ Days + (1 | Subject)", "gaussian", None, ml.errors.DataError, "needs numbers"),
        ("Reaction ~ Days + (1 | one)", "gaussian", lambda d: d.assign(one="a"),
         ml.errors.DataError, "only 1 level"),
        ("Reaction ~ Days + (1 | Subject)", "multinomial", None, ml.errors.FamilyError, "family='multinomial' is not available"),
        ("Reaction ~ Days + (1 | Subject)", "categorical", None, ml.errors.DataError, "'Reaction' has non-integer"),
        ("Reaction ~ Days + (1 | Subject", "gaussian", None, ml.errors.FormulaError, "Unbalanced"),
        ("Reaction ~ Days + (1 | Subject)", "gaussian", _with_nan, ml.errors.DataError,
         "3 of 180 rows have missing values in column\\(s\\) 'Reaction'"),
    ],
)
def test_bad_input_raises_before_sampling(sleepstudy, formula, family, transform, error, match):
    data = transform(sleepstudy) if transform else sleepstudy
    with pytest.raises(error, match=match):
        ml.fit(formula, data, family=family, na="error")


def test_missing_rows_dropped_with_count(sleepstudy):
    from multilevel.bayes import build_model

    with pytest.warns(ml.errors.DataWarning, match="Removed 3 of 180 rows"):
        built = build_model("Reaction ~ Days + (1 | Subject)", _with_nan(sleepstudy))
    assert built.design.n == 177


def test_crossed_factors_each_get_a_component(bayes_small):
    fit = ml.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", target_accept=0.95,
                 **{**bayes_small, "check": False})
    assert fit.varcorr["grp"].tolist() == ["plate", "sample", "Residual"]
    assert {name: cov.shape[1:] for name, cov in fit.covariance_draws().items()} == \
        {"plate": (1, 1), "sample": (1, 1)}


def test_transformed_slope_in_a_bar_builds(sleepstudy):
    # Bambi respells I(Days**2) as "I(Days ** 2)"; the block must still find its terms
    from multilevel.bayes import build_model

    built = build_model("Reaction ~ Days + I(Days**2) + (Days + I(Days**2) | Subject)", sleepstudy)
    [block] = built.blocks
    assert block.cnms == ("(Intercept)", "Days", "I(Days^2)")
    assert block.bambi_terms == ("1|Subject", "Days|Subject", "I(Days ** 2)|Subject")
    assert block.correlated and "corr|Subject" in built.pymc.named_vars
