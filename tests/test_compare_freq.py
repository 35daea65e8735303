"""Frequentist columns of ml.compare: lme4's anova() numbers, nesting, notes and errors."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml
from multilevel.freq.lrt import nesting_problem as nesting
from multilevel.errors import ComparisonError

RI = "Reaction ~ Days + (1 | Subject)"
RS = "Reaction ~ Days + (Days | Subject)"
UNCORR = "Reaction ~ Days + (Days || Subject)"

# Tolerances: AIC/BIC/logLik to 1e-6 relative (lme4 prints 3 decimals and its optimum is
# reproduced to ~1e-7); the χ² statistic, a difference of logLiks, to 1e-4 absolute.
ANOVA_TOL = {"AIC": 1e-6, "BIC": 1e-6, "logLik": 1e-6, "deviance": 1e-6}


@pytest.fixture(scope="module")
def reml_fits(sleepstudy):
    return {name: ml.fit(f, sleepstudy, method="reml")
            for name, f in (("ri", RI), ("rs", RS), ("uncorr", UNCORR))}


@pytest.mark.parametrize("key, small, large", [
    ("lrt_ss_ri_vs_rs", "ri", "rs"),
    ("lrt_ss_uncorr_vs_corr", "uncorr", "rs"),
])
def test_frequentist_columns_equal_lme4_anova(reml_fits, lme4_ref, key, small, large):
    ref = lme4_ref[key]
    # given in the "wrong" order: rows come back in anova()'s order, by npar
    t = ml.compare({large: reml_fits[large], small: reml_fits[small]}).table
    assert list(t.index) == [small, large]
    assert t["npar"].tolist() == ref["npar"]
    for col, rtol in ANOVA_TOL.items():
        if col not in ref:
            continue
        np.testing.assert_allclose(t[col].astype(float), ref[col], rtol=rtol, err_msg=col)
    assert t.loc[large, "Chisq"] == pytest.approx(ref["Chisq"], abs=1e-4)
    assert t.loc[large, "Df"] == ref["Df"]
    assert t.loc[large, "Pr(>Chisq)"] == pytest.approx(ref["p"], rel=1e-3)
    assert np.isnan(t.loc[small, "Chisq"])
    assert "elpd_loo" not in t  # no Bayesian fit, no Bayesian columns


def test_done_when_numbers(reml_fits):
    t = ml.compare({"ri": reml_fits["ri"], "rs": reml_fits["rs"]}).table
    assert t["AIC"].round(3).tolist() == [1802.079, 1763.939]
    assert round(t.loc["rs", "Chisq"], 3) == 42.139 and t.loc["rs", "Df"] == 2
    t2 = ml.compare({"uncorr": reml_fits["uncorr"], "rs": reml_fits["rs"]}).table
    assert round(t2.loc["rs", "Chisq"], 4) == 0.0639 and round(t2.loc["rs", "Pr(>Chisq)"], 2) == 0.80


def test_three_models_are_tested_in_sequence_with_notes(reml_fits):
    cmp = ml.compare(reml_fits)
    t = cmp.table
    assert list(t.index) == ["ri", "uncorr", "rs"]
    assert t["Df"].tolist()[1:] == [1, 1]
    assert any(n.startswith("ri, rs, uncorr: refitted with ML") for n in cmp.notes)
    assert any("boundary" in n for n in cmp.notes)  # an added variance is tested on its boundary


def test_models_that_are_not_nested_get_a_note_instead_of_a_test(sleepstudy):
    a = ml.fit("Reaction ~ Days + (1 | Subject)", sleepstudy, method="ml")
    b = ml.fit("Reaction ~ 1 + (Days | Subject)", sleepstudy, method="ml")
    cmp = ml.compare({"a": a, "b": b})
    assert np.isnan(cmp.table.loc["b", "Chisq"]) and cmp.table["AIC"].notna().all()
    assert any(n.startswith("b vs a: no likelihood-ratio test, fixed effect(s) Days are not in "
                            "the larger model") for n in cmp.notes)
    with pytest.raises(ComparisonError, match="b vs a: no likelihood-ratio test.*lrt='auto'"):
        ml.compare({"a": a, "b": b}, lrt=True)
    assert ml.compare({"a": a, "b": b}, lrt=False).table["Chisq"].isna().all()


def test_nesting_follows_the_covariance_structure(reml_fits, sleepstudy):
    rs, uncorr = reml_fits["rs"].refit_ml(), reml_fits["uncorr"].refit_ml()
    assert nesting(uncorr, rs) is None                # (Days || S) restricts (Days | S)
    assert nesting(rs, uncorr) == "the smaller model has more parameters"
    data = sleepstudy.assign(Days2=sleepstudy["Days"] ** 2, Days3=sleepstudy["Days"] ** 3)
    bigger = ml.fit("Reaction ~ Days + Days2 + Days3 + (Days || Subject)", data, method="ml")
    assert bigger.df == 7 > rs.df
    # more parameters, but the correlated block of rs is not within one of its terms
    assert "the random-effects term (1 + Days | Subject) is not within a term" in nesting(rs, bigger)


def test_mixing_families_gives_no_lrt_and_lrt_true_refuses(sleepstudy):
    data = ml.datasets.load("cbpp")
    binomial = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", data,
                      method="ml", family="binomial")
    poisson = ml.fit("incidence ~ period + (1 | herd)", data, method="ml", family="poisson")
    cmp = ml.compare({"binomial": binomial, "poisson": poisson})
    assert cmp.table["AIC"].notna().all() and cmp.table["Chisq"].isna().all()
    assert any("different families (binomial vs poisson)" in n for n in cmp.notes)
    with pytest.raises(ComparisonError, match="different families"):
        ml.compare({"binomial": binomial, "poisson": poisson}, lrt=True)


def test_frequentist_only_comparison_renders_and_plots(reml_fits, tmp_path):
    cmp = ml.compare(reml_fits)
    text = cmp.to_markdown()
    assert "| model | npar | AIC | BIC | logLik | deviance | Chisq | Df | Pr(>Chisq) |" in text
    assert "| ri | 4 | 1802.079 | 1814.850 | -897.039 | 1794.079 |  |  |  |" in text
    fig = cmp.plot(tmp_path / "p.png")
    assert len(fig.axes) == 1  # AIC/BIC panel only


@pytest.mark.parametrize("lrt", ["yes", 2])
def test_bad_lrt_argument(reml_fits, lrt):
    with pytest.raises(ComparisonError, match="lrt=.* is not valid"):
        ml.compare(reml_fits, lrt=lrt)


@pytest.mark.parametrize("kwargs", [dict(high_k="reloo"), dict(high_k="kfold", k_folds=5),
                                    dict(high_k="moment_match"),
                                    dict(high_k="reloo", refit={"draws": 100})])
def test_loo_options_without_a_bayesian_fit_are_refused(reml_fits, kwargs):
    """They were ignored silently: REML/ML fits have no LOO to fix."""
    with pytest.raises(ComparisonError, match="none of the fits is Bayesian"):
        ml.compare({"a": reml_fits["ri"], "b": reml_fits["rs"]}, **kwargs)
