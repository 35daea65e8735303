"""ml.compare on sampled fits: LOO/WAIC columns, the high-k fixes, K-fold with group folds, errors."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import binom, norm

import multilevel as ml
from multilevel.compare import ParetoKWarning, waic_from_array
from multilevel.compare import crossval as loo_module
from multilevel.compare import refit as refit_module
from multilevel.compare.pointwise import heldout_loglik
from multilevel.compare.infocrit import log_likelihood_array
from multilevel.errors import ComparisonError
from multilevel.formula import build_design, model_frame, parse_formula

# Refits only need a usable posterior for a few held-out rows: few draws, two chains.
SMALL_REFIT = {"draws": 300, "tune": 300, "chains": 2}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ss_pair(bayes_ss_intercept, bayes_ss_slopes):
    return {"intercept": bayes_ss_intercept, "slopes": bayes_ss_slopes}


def _high_k(fit) -> np.ndarray:
    """The rows of ``fit`` with Pareto k > 0.7: the slopes model has a few; the intercept
    model's row 56 has k 0.6 +- 0.12 over seeds (4 x 1000 draws), above 0.7 by chance."""
    return np.flatnonzero(np.asarray(loo_module.psis_loo(fit).pareto_k.values) > 0.7)


@pytest.fixture(scope="module")
def cmp_warn(ss_pair):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ParetoKWarning)
        out = ml.compare(ss_pair)
    said = [str(w.message) for w in caught if issubclass(w.category, ParetoKWarning)]
    for name, fit in ss_pair.items():
        n = len(_high_k(fit))
        assert any(m.startswith(f"{name}: {n} observation(s) with Pareto k > 0.7") for m in said) == (n > 0)
    return out


@pytest.fixture(scope="module")
def cbpp_bayes():
    """A small binomial GLMM (few draws: only its log-likelihood identities are tested)."""
    return ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
                  family="binomial", draws=250, tune=250, chains=2, seed=5, progress=False,
                  check=False)


def _psis(fit):
    return loo_module.psis_loo(fit)


# ------------------------------------------------------------------ Bayesian columns
def test_bayesian_columns_rank_the_slopes_model_first(cmp_warn, ss_pair):
    t = cmp_warn.table
    assert t.loc["slopes", "rank"] == 0 and t.loc["intercept", "rank"] == 1
    assert t.loc["slopes", "elpd_diff"] == 0.0
    assert t.loc["intercept", "elpd_diff"] < -t.loc["intercept", "dse"]  # about 2 SE here
    assert t["weight"].sum() == pytest.approx(1.0, abs=1e-6)
    assert t.loc["slopes", "weight"] > t.loc["intercept", "weight"]
    for name, fit in ss_pair.items():
        base = _psis(fit)
        assert t.loc[name, "elpd_loo"] == pytest.approx(base.elpd, rel=1e-12)
        assert t.loc[name, "se"] == pytest.approx(base.se, rel=1e-12)
        assert t.loc[name, "p_loo"] == pytest.approx(base.p, rel=1e-12)
        w = waic_from_array(log_likelihood_array(fit))
        assert t.loc[name, ["elpd_waic", "se_waic", "p_waic"]].tolist() == pytest.approx(
            [w.elpd, w.se, w.p], rel=1e-12)
        # WAIC and PSIS-LOO agree to within their noise on well-behaved models
        assert abs(w.elpd - base.elpd) < 5


def test_bayesian_fits_get_lme4s_anova_from_their_ml_companions(cmp_warn, lme4_ref):
    ref = lme4_ref["lrt_ss_ri_vs_rs"]
    t = cmp_warn.table
    assert list(t.index) == ["intercept", "slopes"]  # anova()'s order, by npar
    for col in ("AIC", "BIC", "logLik"):
        np.testing.assert_allclose(t[col].astype(float), ref[col], rtol=1e-6, err_msg=col)
    assert t["AIC"].round(3).tolist() == [1802.079, 1763.939]
    assert t.loc["slopes", "Chisq"] == pytest.approx(42.139, abs=1e-3)
    assert t.loc["slopes", "Df"] == 2
    # both criteria agree here: the slopes model is better by elpd and by AIC
    assert t["AIC"].idxmin() == t["rank"].idxmin() == "slopes"


def test_high_k_rows_of_the_slopes_model_are_counted_and_named(cmp_warn, bayes_ss_slopes, ss_pair):
    t = cmp_warn.table
    k = np.asarray(_psis(bayes_ss_slopes).pareto_k.values)
    n_high = int(np.sum(k > 0.7))
    assert n_high >= 1  # the correlated-slopes fit has influential rows
    assert t.loc["slopes", "n_high_k"] == n_high == t.loc["slopes", "high_k_left"]
    assert t.loc["intercept", "n_high_k"] == len(_high_k(ss_pair["intercept"]))
    assert (t["cv"] == "psis").all()
    rows = cmp_warn.loo["slopes"].high_k_rows
    assert rows == list(np.flatnonzero(k > 0.7))
    assert any(", ".join(map(str, rows)) in note for note in cmp_warn.notes)


def test_reloo_resolves_the_high_k_rows_with_exact_refits(ss_pair, monkeypatch):
    calls = []
    real = refit_module.run_jobs  # the executor seam: every refit goes through it
    monkeypatch.setattr(refit_module, "run_jobs", lambda jobs, **kw: calls.append(jobs) or real(jobs, **kw))
    cmp = ml.compare(ss_pair, high_k="reloo", refit=SMALL_REFIT)
    t = cmp.table
    res = cmp.loo["slopes"]
    assert t.loc["slopes", "cv"] == "psis+reloo" and t.loc["slopes", "high_k_left"] == 0
    assert t.loc["slopes", "n_high_k"] == res.n_refits == len(res.high_k_rows) >= 1
    assert cmp.loo["intercept"].n_refits == len(_high_k(ss_pair["intercept"]))
    # one job per bad row, each leaving out exactly that row (the slopes model's call)
    jobs = next(c for c in calls if [j.test_index for j in c] == [(r,) for r in res.high_k_rows])
    assert all(len(j.train) == 179 for j in jobs)
    base = _psis(ss_pair["slopes"])
    new = np.asarray(res.elpd.elpd_i.values)
    old = np.asarray(base.elpd_i.values)
    bad = np.array(res.high_k_rows)
    keep = np.setdiff1d(np.arange(180), bad)
    np.testing.assert_array_equal(new[keep], old[keep])  # only the refitted rows change
    assert np.all(np.asarray(res.elpd.pareto_k.values)[bad] == 0.0)
    assert res.elpd.elpd == pytest.approx(new.sum())
    assert abs(res.elpd.elpd - base.elpd) < 10  # exact LOO of a handful of rows moves elpd a little
    assert t.loc["slopes", "rank"] == 0


def test_moment_matching_reduces_high_k_without_refits(ss_pair):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ParetoKWarning)
        cmp = ml.compare(ss_pair, high_k="moment_match")
    res = cmp.loo["slopes"]
    assert res.method == "psis+moment_match" and res.n_refits == 0
    assert res.high_k_left < res.n_high_k
    assert cmp.table.loc["slopes", "high_k_left"] == res.high_k_left
    # a warning exactly when rows are left above the threshold (by either model)
    left = max(r.high_k_left for r in cmp.loo.values())
    assert any(issubclass(w.category, ParetoKWarning) for w in caught) == (left > 0)
    base = _psis(ss_pair["slopes"])
    keep = np.setdiff1d(np.arange(180), res.high_k_rows)
    np.testing.assert_allclose(np.asarray(res.elpd.elpd_i.values)[keep],
                               np.asarray(base.elpd_i.values)[keep])


def test_kfold_with_group_by_leaves_whole_subjects_out(bayes_ss_intercept, monkeypatch):
    calls = []
    real = refit_module.run_jobs  # the executor seam: every refit goes through it
    monkeypatch.setattr(refit_module, "run_jobs", lambda jobs, **kw: calls.append(jobs) or real(jobs, **kw))
    res = ml.compare.loo(bayes_ss_intercept, high_k="kfold", group_by="Subject", k_folds=2,
                         refit={"draws": 200, "tune": 200, "chains": 2}, seed=4)
    assert res.method == "kfold(2)" and res.n_refits == 2
    jobs = calls[0]
    subjects = bayes_ss_intercept.design.frame.data["Subject"].astype(str)
    held = [set(subjects.iloc[list(j.test_index)]) for j in jobs]
    for job, s in zip(jobs, held):
        assert s.isdisjoint(set(job.train["Subject"].astype(str)))  # whole subjects held out
    assert sorted(i for j in jobs for i in j.test_index) == list(range(180))
    assert held[0].isdisjoint(held[1]) and len(held[0] | held[1]) == 18
    elpd_i = np.asarray(res.elpd.elpd_i.values)
    assert elpd_i.shape == (180,) and np.all(np.isfinite(elpd_i))
    # predicting new subjects is harder than predicting new days of known subjects
    assert res.elpd.elpd < _psis(bayes_ss_intercept).elpd
    assert any("whole groups per fold" in n for n in res.notes)


# ------------------------------------------------------------ held-out log-likelihood
def test_heldout_loglik_reproduces_the_fits_log_likelihood(bayes_ss_slopes, cbpp_bayes):
    for fit in (bayes_ss_slopes, cbpp_bayes):
        frame = fit.design.frame
        ours = heldout_loglik(fit, frame.data, fit.design.y, frame.trials)
        np.testing.assert_allclose(ours, log_likelihood_array(fit), rtol=0, atol=1e-9)


def test_new_groups_are_integrated_out_for_gaussian(bayes_ss_slopes):
    fit = bayes_ss_slopes
    rows = fit.design.frame.data.iloc[[0, 5, 9]].copy()
    rows["Subject"] = "new subject"
    ll = heldout_loglik(fit, rows, fit.design.y[[0, 5, 9]]).reshape(-1, 3)
    beta = fit.fixef_draws().to_numpy()
    cov = fit.covariance_draws()["Subject"]
    sigma = fit.sigma_draws()
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(3), rows["Days"].to_numpy(float)])
    for s in (0, 1234, 3999):  # Monte Carlo over the new subject's effects, per draw
        b = rng.multivariate_normal(np.zeros(2), cov[s], size=200_000)
        dens = norm.pdf(fit.design.y[[0, 5, 9]], X @ beta[s] + b @ X.T, sigma[s])
        se_log = dens.std(axis=0) / (dens.mean(axis=0) * np.sqrt(len(b)))  # delta method
        np.testing.assert_allclose(ll[s], np.log(dens.mean(axis=0)), atol=5 * se_log.max() + 1e-4)


def test_new_groups_are_sampled_for_binomial(cbpp_bayes):
    fit = cbpp_bayes
    frame = fit.design.frame
    rows = frame.data.iloc[:4].copy()
    rows["herd"] = "new herd"
    y, n = fit.design.y[:4], frame.trials[:4]
    dens = np.array([np.exp(heldout_loglik(fit, rows, y, n, seed=s).reshape(-1, 4))
                     for s in range(300)])                 # (seeds, S, 4): new-herd effects drawn
    beta = fit.fixef_draws().to_numpy()
    sd = np.sqrt(fit.covariance_draws()["herd"][:, 0, 0])
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)   # ∫ f(b) N(b; 0, sd²) db
    X = fit.design.X[:4]
    eta = beta @ X.T
    exact = np.einsum("k,skm->sm", weights / weights.sum(),
                      binom.pmf(y, n, expit(eta[:, None, :] + sd[:, None, None] * nodes[None, :, None])))
    est = dens.mean(axis=(0, 1))
    se_log = dens.std(axis=(0, 1)) / (est * np.sqrt(dens.shape[0] * dens.shape[1]))  # conservative
    np.testing.assert_allclose(np.log(est), np.log(exact.mean(axis=0)), atol=5 * se_log.max() + 1e-4)


def test_bayesian_and_frequentist_glmm_in_one_table(cbpp_bayes, lme4_ref):
    """Issue 9: a Bayesian and an lme4-style fit of the same binomial GLMM side by side."""
    glmer = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
                   method="ml", family="binomial")
    with pytest.warns(ParetoKWarning, match="bayes: "):  # 56 herds-periods, ~15 parameters
        cmp = ml.compare({"bayes": cbpp_bayes, "glmer": glmer})
    t = cmp.table
    assert list(t.index) == ["bayes", "glmer"]
    assert np.isfinite(t.loc["bayes", "elpd_loo"]) and np.isnan(t.loc["glmer", "elpd_loo"])
    ref = lme4_ref["cbpp_glmer"]
    for name in ("bayes", "glmer"):  # the Bayesian fit's ML companion is the same glmer fit
        assert t.loc[name, "AIC"] == pytest.approx(ref["AIC"], rel=1e-5)
        assert t.loc[name, "logLik"] == pytest.approx(ref["logLik"], rel=1e-5)
    assert t["Chisq"].isna().all()
    assert any("the same number of parameters" in n for n in cmp.notes)
    assert any("Only one Bayesian model" in n for n in cmp.notes)


# ----------------------------------------------------------------------------- errors
def _with_design(fit, data, formula=None):
    parsed = parse_formula(formula or fit.formula)
    design = build_design(parsed, model_frame(parsed, data, family=fit.family))
    return dataclasses.replace(fit, built=dataclasses.replace(fit.built, design=design))


def test_fits_on_different_rows_are_refused(ss_pair, sleepstudy):
    other = _with_design(ss_pair["slopes"], sleepstudy.iloc[:170])
    with pytest.raises(ComparisonError, match=r"'intercept' and 'slopes' were fit to different "
                                              r"data: 180 vs 170 rows"):
        ml.compare({"intercept": ss_pair["intercept"], "slopes": other})


def test_fits_of_different_responses_are_refused(ss_pair, sleepstudy):
    data = sleepstudy.assign(logR=np.log(sleepstudy["Reaction"]))
    other = _with_design(ss_pair["slopes"], data, "logR ~ Days + (Days | Subject)")
    with pytest.raises(ComparisonError, match=r"different responses \('Reaction' vs 'logR'"):
        ml.compare({"intercept": ss_pair["intercept"], "slopes": other})


def test_fit_without_log_likelihood_is_refused(ss_pair):
    idata = ss_pair["slopes"].idata.copy()
    del idata["log_likelihood"]
    bare = dataclasses.replace(ss_pair["slopes"], idata=idata)
    with pytest.raises(ComparisonError, match="'slopes' has no log_likelihood group"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", ParetoKWarning)   # the intercept model's, if any
        ml.compare({"intercept": ss_pair["intercept"], "slopes": bare})
    with pytest.raises(ComparisonError, match="no log_likelihood group"):
        ml.compare.waic(bare)


def test_continuous_and_discrete_families_are_not_compared(ss_pair):
    as_poisson = dataclasses.replace(ss_pair["slopes"],
                                     built=dataclasses.replace(ss_pair["slopes"].built, family="poisson"))
    with pytest.raises(ComparisonError, match=r"'intercept' \(gaussian\), 'slopes' \(poisson\).*"
                                              "density"):
        ml.compare({"intercept": ss_pair["intercept"], "slopes": as_poisson})


@pytest.mark.parametrize("fits, kwargs, match", [
    ("one", {}, r"at least two models, got 1 \('a'\)"),
    ("list", {}, "takes a dict"),
    ("pair", {"high_k": "refit"}, "high_k='refit' is not valid; use one of: warn, reloo"),
    ("pair", {"weights": "bma"}, "weights='bma' is not valid"),
    ("pair", {"high_k": "kfold", "group_by": "Herd"}, "group_by='Herd' is a column of none"),
    ("pair", {"high_k": "kfold", "refit": {"draw": 10}}, "refit= has unknown key\\(s\\) 'draw'"),
    ("pair", {"group_by": "Subject"}, "group_by set the folds of high_k='kfold', not of high_k='warn'"),
    ("pair", {"high_k": "reloo", "k_folds": 5}, "not of high_k='reloo'"),
    ("pair", {"high_k": "moment_match", "refit": {"draws": 10}}, "high_k='moment_match' does not"),
])
def test_bad_requests_are_refused_with_the_fix(ss_pair, fits, kwargs, match):
    arg = {"one": {"a": ss_pair["slopes"]}, "list": list(ss_pair.values()), "pair": ss_pair}[fits]
    with pytest.raises(ComparisonError, match=match):
        ml.compare(arg, **kwargs)


# ------------------------------------------------------------------ rendering and plot
def test_markdown_and_plot_of_a_bayesian_comparison(cmp_warn, tmp_path):
    text = cmp_warn.to_markdown()
    assert text.startswith("## Model comparison")
    assert "| model | elpd_loo | se | p_loo | elpd_diff |" in text
    assert "Notes:" in text and "Pareto k > 0.7" in text
    assert "| Chisq | Df | Pr(>Chisq) |" in text
    fig = cmp_warn.plot(tmp_path / "plot.png")
    assert len(fig.axes) == 2  # elpd with SE bars; AIC/BIC differences
    assert (tmp_path / "plot.png").stat().st_size > 1000
    assert isinstance(cmp_warn.table, pd.DataFrame) and cmp_warn.table.index.name == "model"
