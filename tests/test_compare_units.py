"""Model comparison pieces that need no sampling: WAIC, folds, family densities, rendering."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from multilevel.compare import make_folds, waic_from_array
from multilevel.compare.pointwise import _family_loglik
from multilevel.compare.render import format_cell, markdown_table
from multilevel.errors import ComparisonError


def _direct_waic(ll):
    """WAIC by the textbook formulas, one observation at a time (Vehtari et al. 2017, eq. 3-5)."""
    ll = ll.reshape(-1, ll.shape[-1])
    S, n = ll.shape
    elpd_i = np.empty(n)
    p_i = np.empty(n)
    for i in range(n):
        col = ll[:, i]
        lppd = np.log(np.sum(np.exp(col)) / S)
        mean = sum(col) / S
        p_i[i] = sum((c - mean) ** 2 for c in col) / (S - 1)
        elpd_i[i] = lppd - p_i[i]
    mean_e = elpd_i.mean()
    se = np.sqrt(n * sum((e - mean_e) ** 2 for e in elpd_i) / (n - 1))
    return elpd_i.sum(), p_i.sum(), se, p_i


@pytest.mark.parametrize("shape, scale", [((2, 50, 7), 1.0), ((400, 12), 0.3), ((3, 30, 5), 2.0)])
def test_waic_matches_a_direct_computation(shape, scale):
    rng = np.random.default_rng(7)
    # log-likelihood-like values: negative, varying across draws and observations
    ll = -1.0 - np.abs(rng.normal(0.0, scale, size=shape)) - rng.uniform(0, 2, size=shape[-1])
    res = waic_from_array(ll)
    elpd, p, se, p_i = _direct_waic(ll)
    assert res.elpd == pytest.approx(elpd, rel=1e-12)
    assert res.p == pytest.approx(p, rel=1e-12)
    assert res.se == pytest.approx(se, rel=1e-10)
    assert res.waic == pytest.approx(-2 * elpd, rel=1e-12)
    assert res.n_high_p == int(np.sum(p_i > 0.4))


def test_waic_of_a_degenerate_posterior_is_the_log_likelihood():
    # every draw the same: no penalty, elpd = sum of the log-likelihood
    ll = np.tile(np.log([0.1, 0.2, 0.3]), (100, 1))
    res = waic_from_array(ll)
    assert res.p == pytest.approx(0.0, abs=1e-14)
    assert res.elpd == pytest.approx(np.log(0.006), rel=1e-12)


@pytest.mark.parametrize("bad, match", [
    (np.zeros(5), "draws and observations"),
    (np.zeros((1, 5)), "at least two posterior draws"),
    (np.array([[0.0, np.nan], [0.0, 1.0]]), "non-finite values for 1 observation"),
])
def test_waic_refuses_bad_arrays(bad, match):
    with pytest.raises(ComparisonError, match=match):
        waic_from_array(bad)


def test_group_folds_keep_whole_groups_together():
    groups = np.repeat([f"s{i}" for i in range(18)], 10)
    for k in (3, 5, None):
        folds = make_folds(len(groups), k, groups, seed=3)
        per_group = pd.Series(folds).groupby(groups).nunique()
        assert (per_group == 1).all()                     # no group split across folds
        n_folds = len(np.unique(folds))
        assert n_folds == (18 if k is None else k)        # None: leave-one-group-out
        sizes = pd.Series(folds).value_counts()
        assert sizes.max() - sizes.min() <= 10            # groups dealt evenly
    assert np.array_equal(make_folds(180, 4, groups, seed=1), make_folds(180, 4, groups, seed=1))


def test_random_folds_are_balanced_and_seeded():
    folds = make_folds(23, 5, seed=2)
    assert sorted(np.bincount(folds)[1:]) == [4, 4, 5, 5, 5]
    assert not np.array_equal(folds, make_folds(23, 5, seed=4))


@pytest.mark.parametrize("n, k, groups, match", [
    (10, 1, None, "between 2 and the number of rows"),
    (10, 11, None, "between 2 and the number of rows"),
    (4, 3, ["a", "a", "b", "b"], "number of groups \\(2\\)"),
    (4, None, ["a", "a", "a", "a"], "at least two groups"),
    (4, 2, ["a", "b"], "2 values for 4 rows"),
])
def test_bad_fold_requests_are_refused(n, k, groups, match):
    with pytest.raises(ComparisonError, match=match):
        make_folds(n, k, groups)


def _pymc_logp(dist, y):
    import pymc as pm

    return pm.logp(dist, y).eval()


@pytest.mark.parametrize("family", ["t", "bernoulli", "binomial", "poisson", "negativebinomial"])
def test_heldout_densities_use_bambis_parameterisation(family):
    """Our scipy densities equal PyMC's distributions with Bambi's links, value by value."""
    import pymc as pm

    rng = np.random.default_rng(11)
    eta = rng.normal(0.5, 0.7, size=(3, 6))               # 3 draws x 6 rows
    params = {"sigma": np.array([0.8, 1.3, 2.0]), "nu": np.array([3.0, 7.0, 30.0]),
              "alpha": np.array([0.7, 2.0, 9.0])}
    fit = SimpleNamespace(family=family, posterior={
        k: xr.DataArray(v.reshape(1, 3), dims=("chain", "draw")) for k, v in params.items()})
    trials = np.array([5, 8, 1, 12, 3, 6], dtype=float)
    y = {"t": rng.normal(0.5, 2, 6), "bernoulli": np.array([0, 1, 1, 0, 1, 0.0]),
         "binomial": np.array([2, 8, 0, 5, 1, 6.0]), "poisson": np.array([0, 1, 4, 2, 9, 3.0]),
         "negativebinomial": np.array([0, 1, 4, 2, 9, 3.0])}[family]
    ours = _family_loglik(fit, family, eta, np.zeros_like(eta), y, trials)
    for s in range(3):
        e = eta[s]
        dist = {
            "t": lambda: pm.StudentT.dist(nu=params["nu"][s], mu=e, sigma=params["sigma"][s]),
            "bernoulli": lambda: pm.Bernoulli.dist(p=1 / (1 + np.exp(-e))),
            "binomial": lambda: pm.Binomial.dist(n=trials, p=1 / (1 + np.exp(-e))),
            "poisson": lambda: pm.Poisson.dist(mu=np.exp(e)),
            "negativebinomial": lambda: pm.NegativeBinomial.dist(mu=np.exp(e), alpha=params["alpha"][s]),
        }[family]()
        np.testing.assert_allclose(ours[s], _pymc_logp(dist, y), rtol=1e-10, atol=1e-10)


def test_markdown_table_formats_each_column():
    table = pd.DataFrame({"elpd_loo": [-861.894, np.nan], "AIC": [1802.0786, 1763.9393],
                          "Pr(>Chisq)": [np.nan, 7.07e-10], "cv": ["psis+reloo", "psis"]},
                         index=pd.Index(["a", "b|c"], name="model"))
    text = markdown_table(table)
    lines = text.splitlines()
    assert lines[0] == "| model | elpd_loo | AIC | Pr(>Chisq) | cv |"
    assert lines[2] == "| a | -861.89 | 1802.079 |  | psis+reloo |"
    assert lines[3] == "| b\\|c |  | 1763.939 | 7.07e-10 | psis |"
    assert format_cell("Df", 2.0) == "2"
