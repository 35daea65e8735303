"""brms' draw arrays: ``ml.posterior_linpred``, ``ml.posterior_epred`` and
``ml.posterior_predict`` (draws × rows, chains then draws, as brms).

What is checked: the arrays are the per-draw quantities :func:`predict_bayes` summarizes
(their column means are its estimates, exactly, for the linear predictor and expected
response); the linear predictor equals the fixed-effect and group-effect draws applied to
the design by hand; ``transform`` is the inverse link; predictive draws have the family's
moments within Monte Carlo error (Poisson: variance = mean; gaussian: variance = σ² +
var(μ)); categorical and ordinal fits give per-category probabilities summing to one;
``n_draws`` picks seeded draws; rows with a missing predictor are NaN columns, left out
or refused as lme4's ``na.action``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, DataWarning

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def poisson_fit(bayes_small):
    data = ml.datasets.load("grouseticks")
    return ml.fit("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", data, family="poisson", **{**bayes_small, "seed": 2})


def test_linpred_is_the_draws_applied_to_the_design(bayes_ss_slopes):
    fit = bayes_ss_slopes
    eta = ml.posterior_linpred(fit)
    assert eta.shape == (fit.n_draws, fit.nobs)
    data = fit.design.frame.data
    beta = fit.fixef_draws()
    subject = fit.ranef_draws()
    by_hand = beta["(Intercept)"].to_numpy()[:, None] + beta["Days"].to_numpy()[:, None] * data["Days"].to_numpy()
    term = fit.design.reterms[0]
    u = subject[term.name]                      # draws x levels x columns
    by_hand = by_hand + u[:, term.codes, 0] + u[:, term.codes, 1] * data["Days"].to_numpy()
    np.testing.assert_allclose(eta, by_hand, rtol=1e-10)
    population = ml.posterior_linpred(fit, group_effects=False)
    np.testing.assert_allclose(population, by_hand - u[:, term.codes, 0] - u[:, term.codes, 1]
                               * data["Days"].to_numpy(), rtol=1e-10)


def test_column_means_are_predict_estimates(poisson_fit):
    fit = poisson_fit
    new = fit.design.frame.data.iloc[:7]
    epred = ml.posterior_epred(fit, new)
    np.testing.assert_allclose(epred.mean(axis=0), fit.predict(new)["estimate"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(ml.posterior_linpred(fit, new, transform=True), epred, rtol=1e-12)
    np.testing.assert_allclose(np.exp(ml.posterior_linpred(fit, new)), epred, rtol=1e-12)


def test_predictive_draws_have_the_family_moments(poisson_fit, bayes_ss_slopes):
    fit = poisson_fit
    yrep = ml.posterior_predict(fit, seed=3)
    mu = ml.posterior_epred(fit)
    assert yrep.shape == mu.shape and np.all(yrep == np.round(yrep)) and yrep.min() >= 0
    # over draws and rows: E[y] = E[mu], Var[y] = E[mu] + Var[mu] (Poisson)
    mc = np.sqrt(mu.mean() / yrep.size) * 10
    assert abs(yrep.mean() - mu.mean()) < mc + 0.01 * mu.mean()
    col_var = yrep.var(axis=0)
    expected = mu.mean(axis=0) + mu.var(axis=0)
    assert np.median(col_var / expected) == pytest.approx(1, abs=0.1)
    g = bayes_ss_slopes
    yrep = ml.posterior_predict(g, seed=4)
    mu = ml.posterior_epred(g)
    sigma = g.sigma_draws() if hasattr(g, "sigma_draws") else None
    resid_var = (yrep - mu).var()
    s2 = float(np.mean(np.asarray(sigma) ** 2)) if sigma is not None else float(g.sigma) ** 2
    assert resid_var == pytest.approx(s2, rel=0.05)


def test_n_draws_seeded_subset(poisson_fit):
    a = ml.posterior_epred(poisson_fit, n_draws=25, seed=9)
    b = ml.posterior_epred(poisson_fit, n_draws=25, seed=9)
    full = ml.posterior_epred(poisson_fit)
    assert a.shape == (25, poisson_fit.nobs)
    np.testing.assert_array_equal(a, b)
    rows = [np.flatnonzero((full == r).all(axis=1))[0] for r in a]
    assert len(set(rows)) == 25 and rows == sorted(rows)   # distinct draws, in the posterior's order
    assert ml.posterior_epred(poisson_fit, n_draws=10**6).shape[0] == poisson_fit.n_draws


def test_missing_predictors_follow_na_action(bayes_ss_slopes):
    fit = bayes_ss_slopes
    new = pd.DataFrame({"Days": [1.0, np.nan, 3.0], "Subject": ["308", "309", "new"]})
    with pytest.warns(DataWarning, match="predicted as NaN"):
        out = ml.posterior_epred(fit, new)
    assert out.shape == (fit.n_draws, 3) and np.isnan(out[:, 1]).all() and np.isfinite(out[:, [0, 2]]).all()
    with pytest.warns(DataWarning, match="1 of 3 rows"):
        omitted = ml.posterior_epred(fit, new, na_action="omit")
    assert omitted.shape == (fit.n_draws, 2)
    with pytest.raises(DataError):
        ml.posterior_epred(fit, new, na_action="fail")


def test_refusals(bayes_ss_slopes):
    freq = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml")
    with pytest.raises(DataError, match="Bayesian fit"):
        ml.posterior_epred(freq)
    with pytest.raises(DataError, match="n_draws"):
        ml.posterior_predict(bayes_ss_slopes, n_draws=0)
    with pytest.raises(DataError, match="new_groups"):
        ml.posterior_linpred(bayes_ss_slopes, new_groups="drop")
    new = pd.DataFrame({"Days": [1.0], "Subject": ["new"]})
    with pytest.raises(DataError):
        ml.posterior_epred(bayes_ss_slopes, new, new_groups="error")


def test_categorical_and_ordinal_fits_give_category_probabilities():
    """brms' shapes: epred (draws, rows, categories) summing to one per draw and row, the
    means those of category_probabilities / predict; predictions are codes (categorical)
    or scores (ordinal)."""
    kw = {"draws": 200, "tune": 200, "chains": 2, "seed": 1, "progress": False, "check": False}
    iris = ml.datasets.load("iris")
    cat = ml.fit("Species ~ Sepal.Length", iris, family="categorical", **kw)
    probs = ml.posterior_epred(cat)
    assert probs.shape == (cat.n_draws, len(iris), 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0)
    np.testing.assert_allclose(ml.posterior_epred(cat, iris.iloc[:3]).mean(0),
                               ml.predict.category_probabilities(cat, iris.iloc[:3]).to_numpy(), rtol=1e-12)
    assert ml.posterior_linpred(cat).shape == (cat.n_draws, len(iris), 2)
    assert set(np.unique(ml.posterior_predict(cat, seed=1))) <= {0.0, 1.0, 2.0}
    wine = ml.datasets.load("wine")
    ordinal = ml.fit("rating ~ temp + contact + (1 | judge)", wine, family="cumulative", **kw)
    probs = ml.posterior_epred(ordinal)
    assert probs.shape == (ordinal.n_draws, len(wine), 5)
    np.testing.assert_allclose(probs.sum(-1), 1.0)
    scores = probs @ np.arange(1, 6)
    np.testing.assert_allclose(scores.mean(0), ordinal.predict()["estimate"].to_numpy(), rtol=1e-10)
    assert set(np.unique(ml.posterior_predict(ordinal, seed=2))) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    with pytest.raises(DataError, match="posterior_epred"):
        ml.posterior_linpred(ordinal, transform=True)
