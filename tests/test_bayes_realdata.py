"""Bayesian fits with an offset, prior weights (binomial trials), a probit link and the gamma
family: posterior means within one posterior SD of the ML estimates on the same data, a numpy
log-likelihood equal to PyMC's, and LOO on it. K-fold/reloo carry the offset and the link."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import multilevel as ml
from multilevel.bayes import loglik
from multilevel.compare.pointwise import heldout_loglik

SAMPLE = dict(draws=1000, tune=1000, chains=2, seed=20261203, progress=False, check=False)
TINY = dict(draws=40, tune=40, chains=2, seed=11, progress=False, check=False)
CASES = {
    "offset": ("count ~ x + offset(log(exposure)) + (1 | g)", "sim", "poisson", {}),
    "probit": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "binomial",
               {"link": "probit"}),
    "gamma": ("ygam ~ x + (1 | g)", "sim", "gamma", {"link": "log"}),
    "weights": ("prop ~ period + (1 | herd)", "cbpp", "binomial", {"weights": "size"}),
    "gaussian_weights": ("yn ~ x + (1 | g)", "sim", "gaussian", {"weights": "w"}),
}


@pytest.fixture(scope="module")
def fits(realdata):
    out = {}
    for key, (formula, data, family, kw) in CASES.items():
        out[key] = (ml.fit(formula, realdata[data], family=family, **kw, **SAMPLE),
                    ml.fit(formula, realdata[data], family=family, method="ml", **kw))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("key", list(CASES))
def test_posterior_means_are_near_the_ml_estimates(key, fits):
    bayes, freq = fits[key]
    draws = bayes.fixef_draws()
    assert list(draws.columns) == list(freq.fixef.index)
    gap = np.abs(draws.mean() - freq.fixef) / draws.std()
    assert np.all(gap < 1.0), gap
    # converged (issue 20's bar for every family): R-hat <= 1.01, no divergent transitions
    with warnings.catch_warnings():   # the ESS advice; R-hat is asserted
        warnings.simplefilter("ignore", ml.errors.ConvergenceWarning)
        table = bayes.summary()
    assert table["r_hat"].max() <= 1.01, table["r_hat"].to_dict()
    assert int(bayes.idata["sample_stats"]["diverging"].sum()) == 0


@pytest.mark.slow
@pytest.mark.parametrize("key", list(CASES))
def test_loo_accepts_the_log_likelihood(key, fits):
    import arviz as az

    bayes, _ = fits[key]
    assert "log_likelihood" in bayes.timings          # our numpy log-likelihood
    with warnings.catch_warnings():   # cbpp's 56 rows give a few Pareto k > 0.7: not the point here
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        result = az.loo(bayes.idata)
    assert np.isfinite(result.elpd)
    # held-out scoring (K-fold / reloo) of the fitted rows equals the fit's own pointwise terms
    ll = heldout_loglik(bayes, bayes.design.frame.data, bayes.design.y, bayes.design.frame.trials)
    [name] = list(bayes.idata["log_likelihood"].data_vars)
    np.testing.assert_allclose(ll, bayes.idata["log_likelihood"][name].values, rtol=1e-9, atol=1e-9)


@pytest.mark.slow
def test_offset_in_bayesian_predictions(fits, realdata):
    bayes, _ = fits["offset"]
    new = realdata["sim"].head(4)
    once = bayes.predict(new, group_effects=False)["estimate"].to_numpy()
    twice = bayes.predict(new.assign(exposure=2 * new["exposure"]), group_effects=False)["estimate"]
    np.testing.assert_allclose(twice.to_numpy(), 2 * once, rtol=1e-10)
    with pytest.raises(ml.errors.DataError, match="exposure"):
        bayes.predict(new.drop(columns="exposure"))


@pytest.mark.slow
@pytest.mark.parametrize("key", ["offset", "probit", "gamma", "gaussian_weights"])
def test_numpy_log_likelihood_equals_pymc(key, realdata, monkeypatch):
    formula, data, family, kw = CASES[key]
    fit = ml.fit(formula, realdata[data], family=family, **kw, **TINY)
    monkeypatch.setattr(loglik, "supports", lambda built: False)
    reference = ml.fit(formula, realdata[data], family=family, **kw, **TINY)
    ours, theirs = fit.idata["log_likelihood"], reference.idata["log_likelihood"]
    [name] = list(theirs.data_vars)
    np.testing.assert_allclose(ours[name].values, theirs[name].values, rtol=1e-9, atol=1e-11)


def test_bayesian_weights_of_other_families_are_refused(realdata):
    with pytest.raises(ml.errors.FamilyError, match="proportion"):
        ml.fit("count ~ x + (1 | g)", realdata["sim"], family="poisson", weights="w", **TINY)


@pytest.mark.slow
def test_gaussian_weights_scale_the_residual_sd(fits):
    """σ/√w per row: the posterior σ is near lme4's weighted σ (ML fit on the same data)."""
    bayes, freq = fits["gaussian_weights"]
    sigma = bayes.posterior["sigma"].values.ravel()
    assert abs(sigma.mean() - freq.sigma) < sigma.std()


@pytest.mark.slow
def test_compare_fits_ml_companions_with_the_link_and_weights(fits):
    """ml.compare's ML columns come from ML refits with the same link and weights."""
    probit, probit_ml = fits["probit"]
    weighted, weighted_ml = fits["weights"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        warnings.filterwarnings("ignore", message=".*Pareto k > 0.7")   # cbpp: 56 rows
        cmp = ml.compare({"probit": probit, "logit": weighted})
    np.testing.assert_allclose(cmp.table.loc[["probit", "logit"], "logLik"],
                               [probit_ml.loglik, weighted_ml.loglik], rtol=1e-10)


@pytest.mark.slow
def test_kfold_refits_carry_the_offset_and_the_link(fits, monkeypatch):
    """K-fold refits: the formula keeps offset(), the options keep link=; each held-out
    density uses both (finite elpd close to PSIS-LOO's for these well-behaved rows)."""
    import arviz as az

    from multilevel.compare import refit as refit_module

    calls = []
    real = refit_module.run_jobs
    monkeypatch.setattr(refit_module, "run_jobs", lambda jobs, **kw: calls.append(jobs) or real(jobs, **kw))
    bayes, _ = fits["offset"]
    res = ml.compare.loo(bayes, high_k="kfold", k_folds=2,
                         refit={"draws": 300, "tune": 300, "chains": 2}, seed=3)
    assert res.n_refits == 2 and "offset(log(exposure))" in calls[0][0].formula
    assert np.isfinite(res.elpd.elpd)
    with warnings.catch_warnings():   # PSIS's k-hat of 1-3 rows is 0.70-0.83 on these draws
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        psis = az.loo(bayes.idata).elpd
    assert abs(res.elpd.elpd - psis) < 3 * res.elpd.se
    gamma, _ = fits["gamma"]
    assert refit_module.refit_options(gamma, None)["link"] == "log"
