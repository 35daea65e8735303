"""brms's fitted() and residuals() of a BayesFit (multilevel.predict.fitted).

The sampled fit's expected values are checked against the draws of its coefficients and
group effects, assembled here independently of the prediction code; the Pearson variances
per family against scipy's distributions with Bambi's parameterisations.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from multilevel.errors import DataError, MultilevelError
from multilevel.predict.fitted import PEARSON_FAMILIES, _variance

pytestmark = pytest.mark.slow

MU, N = 0.3, 7
# family, auxiliary parameters, scipy's distribution of y (of y/n for the binomial)
VARIANCES = [
    ("gaussian", {"sigma": 2.0}, stats.norm(MU, 2.0)),
    ("bernoulli", {}, stats.bernoulli(MU)),
    ("binomial", {}, stats.binom(N, MU)),
    ("poisson", {}, stats.poisson(MU)),
    ("negativebinomial", {"alpha": 2.5}, stats.nbinom(2.5, 2.5 / (2.5 + MU))),
    ("gamma", {"alpha": 3.0}, stats.gamma(3.0, scale=MU / 3.0)),
    ("beta", {"kappa": 4.0}, stats.beta(MU * 4.0, (1 - MU) * 4.0)),
    ("exponential", {}, stats.expon(scale=MU)),
    ("laplace", {"b": 1.5}, stats.laplace(MU, 1.5)),
]


def test_every_pearson_family_has_a_variance_case():
    assert [case[0] for case in VARIANCES] == list(PEARSON_FAMILIES)


@pytest.mark.parametrize(("family", "params", "dist"), VARIANCES)
def test_pearson_variance_is_the_familys(family, params, dist):
    fit = SimpleNamespace(family=family, design=SimpleNamespace(weights=None))
    trials = np.array([float(N)]) if family == "binomial" else None
    ours = _variance(fit, np.array([[MU]]), {k: np.array([[v]]) for k, v in params.items()}, trials)
    expected = dist.var() / (N ** 2 if family == "binomial" else 1)   # the proportion's variance
    assert ours[0, 0] == pytest.approx(expected, rel=1e-12)


def test_gaussian_weights_divide_the_variance():
    fit = SimpleNamespace(family="gaussian", design=SimpleNamespace(weights=np.array([1.0, 4.0])))
    ours = _variance(fit, np.zeros((1, 2)), {"sigma": np.array([[2.0]])}, None)
    np.testing.assert_allclose(ours, [[4.0, 1.0]])


@pytest.fixture(scope="module")
def by_hand(bayes_ss_slopes):
    """Draws of E[y] of the fitted rows from the fixed and group effects' draws."""
    fit = bayes_ss_slopes
    data = fit.design.frame.data
    beta = fit.fixef_draws()
    effects = next(iter(fit.ranef_draws().values()))                 # (draws, levels, 2)
    level = pd.Categorical(data["Subject"].astype(str),
                           categories=[str(v) for v in fit.ranef["Subject"].index]).codes
    days = data["Days"].to_numpy(dtype=float)
    mu = (beta["(Intercept)"].to_numpy()[:, None] + beta["Days"].to_numpy()[:, None] * days
          + effects[:, level, 0] + effects[:, level, 1] * days)
    return mu, fit.sigma_draws()[:, None], data["Reaction"].to_numpy(dtype=float)


def test_fitted_is_the_posterior_of_the_expected_response(bayes_ss_slopes, by_hand):
    mu, _, _ = by_hand
    table = bayes_ss_slopes.fitted(ci=0.9)
    assert list(table.columns) == ["estimate", "sd", "lower", "upper"]
    assert table.index.equals(bayes_ss_slopes.design.frame.data.index)
    np.testing.assert_allclose(table["estimate"], mu.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(table["sd"], mu.std(axis=0, ddof=1), rtol=1e-8)
    np.testing.assert_allclose(table["lower"], np.quantile(mu, 0.05, axis=0), rtol=1e-10)
    np.testing.assert_allclose(table["upper"], np.quantile(mu, 0.95, axis=0), rtol=1e-10)


def test_population_fitted_values_leave_the_group_effects_out(bayes_ss_slopes):
    fit = bayes_ss_slopes
    beta = fit.fixef_draws().mean()
    days = fit.design.frame.data["Days"].to_numpy(dtype=float)
    np.testing.assert_allclose(fit.fitted(group_effects=False)["estimate"],
                               beta["(Intercept)"] + beta["Days"] * days, rtol=1e-10)


@pytest.mark.parametrize("kind", ["response", "pearson"])
def test_residuals_per_draw(bayes_ss_slopes, by_hand, kind):
    mu, sigma, y = by_hand
    values = (y - mu) / (sigma if kind == "pearson" else 1.0)
    table = bayes_ss_slopes.residuals(type=kind)
    np.testing.assert_allclose(table["estimate"], values.mean(axis=0), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(table["sd"], values.std(axis=0, ddof=1), rtol=1e-8)
    np.testing.assert_allclose(table["lower"], np.quantile(values, 0.025, axis=0), rtol=1e-8,
                               atol=1e-10)


def test_residuals_are_close_to_lme4s_for_this_weakly_informed_model(bayes_ss_slopes, sleepstudy):
    """A sanity bound, not an identity: the posterior means sit near the REML modes."""
    import multilevel as ml

    reml = ml.fit("Reaction ~ Days + (Days | Subject)", sleepstudy, method="reml")
    diff = bayes_ss_slopes.residuals()["estimate"].to_numpy() - reml.residuals().to_numpy()
    assert np.abs(diff).max() < 3.0    # ms, against residuals with SD ≈ 25 ms


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"type": "deviance"}, "not a residual type"),
    ({"type": "pearson", "ci": 1.0}, "ci must lie"),
    ({"ci": "0.9"}, "ci must lie"),
    ({"group_effects": "~ (1 | nosuch)"}, "nosuch"),
])
def test_bad_arguments_are_named(bayes_ss_slopes, kwargs, message):
    with pytest.raises(MultilevelError, match=message):
        bayes_ss_slopes.residuals(**kwargs)


def test_pearson_refused_for_a_family_without_a_variance_here():
    from multilevel.predict.fitted import residuals_bayes

    fit = SimpleNamespace(family="t")
    with pytest.raises(DataError, match="type='response'"):
        residuals_bayes(fit, type="pearson")


@pytest.mark.parametrize("family", ["categorical", "cumulative"])
def test_category_families_point_to_the_probabilities(family):
    from multilevel.predict.fitted import fitted_bayes

    with pytest.raises(DataError, match="category_probabilities"):
        fitted_bayes(SimpleNamespace(family=family))
