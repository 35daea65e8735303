"""The numpy log-likelihood (multilevel.bayes.loglik) equals PyMC's, family by family,
in PyMC's layout: LOO and WAIC must not depend on which computed it. Computed a block of
draws at a time, it equals the whole computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from family_sim import TRUTH, formula as family_formula, simulate, simulate_ordinal
from multilevel.bayes import loglik

TINY = dict(draws=40, tune=40, chains=2, seed=11, progress=False, check=False)


def _bernoulli_data():
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(12), 15)
    x = rng.normal(size=g.size)
    eta = -0.3 + 1.2 * x + rng.normal(0, 0.8, 12)[g]
    return pd.DataFrame({"y": np.where(rng.random(g.size) < 1 / (1 + np.exp(-eta)), "yes", "no"),
                         "x": x, "g": g.astype(str)})


def _sleep_halves():
    data = ml.datasets.load("sleepstudy")
    return data.assign(half=np.where(data["Days"] < 5, "early", "late"))


CASES = [
    ("gaussian", "Reaction ~ Days + (Days | Subject)", "sleepstudy", None),
    ("gaussian", "Reaction ~ 0 + scale(Days) + I(Days**2) + (1 | Subject)", "sleepstudy", None),
    ("gaussian", "strength ~ 1 + (1 | batch/cask)", "Pastes", None),
    # a two-level factor slope: one column whose coefficient keeps its expression dim
    ("gaussian", "Reaction ~ half + (1 + half | Subject)", "sleephalf", None),
    ("gaussian", "mpg ~ wt + hp", "mtcars", "lasso"),   # a preset, no groups
    ("binomial", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", None),
    ("poisson", "TICKS ~ YEAR + (1 | BROOD) + (1 | LOCATION)", "grouseticks", None),
    ("bernoulli", "y ~ x + (1 | g)", "bernoulli", None),
    ("t", "Reaction ~ Days + (1 | Subject)", "sleepstudy", None),
    ("negativebinomial", "TICKS ~ YEAR + (1 | LOCATION)", "grouseticks", None),
    # the families lme4 lacks (multilevel.bayes.densities), on data simulated from them
    # (wald, lognormal and hurdle_lognormal take the same path; their densities are checked
    # against PyMC's in test_families, which keeps this test's time)
    *[(family, family_formula(family), "simulated", None) for family in TRUTH
      if family not in ("wald", "lognormal", "hurdle_lognormal")],
    # ordinal: category codes and per-draw threshold vectors (sratio takes the same path),
    # no fixed-effect column at all (the thresholds replace the intercept)
    ("cumulative", "y ~ 1 + (1 | g)", "ordinal", None),
]


@pytest.mark.slow
@pytest.mark.parametrize("family, formula, data, preset", CASES)
def test_numpy_log_likelihood_equals_pymc(family, formula, data, preset, monkeypatch):
    frame = (_bernoulli_data() if data == "bernoulli" else
             _sleep_halves() if data == "sleephalf" else
             simulate(family, groups=10, per_group=10) if data == "simulated" else
             simulate_ordinal(family, groups=10, per_group=10) if data == "ordinal" else
             ml.datasets.load(data))
    options = {"priors": getattr(ml.priors, preset)()} if preset else {}
    fit = ml.fit(formula, frame, family=family, **TINY, **options)
    assert "log_likelihood" in fit.timings      # computed by multilevel.bayes.loglik
    monkeypatch.setattr(loglik, "supports", lambda built: False)
    reference = ml.fit(formula, frame, family=family, **TINY, **options)  # same draws, PyMC's
    assert "log_likelihood" not in reference.timings
    ours, theirs = fit.idata["log_likelihood"], reference.idata["log_likelihood"]
    [name] = list(theirs.data_vars)
    assert list(ours.data_vars) == [name]
    assert ours[name].dims == theirs[name].dims
    for dim in ours[name].dims:
        np.testing.assert_array_equal(ours[dim].values, theirs[dim].values)
    np.testing.assert_allclose(ours[name].values, theirs[name].values, rtol=1e-9, atol=1e-11)


def test_dependent_rows_keep_pymc(sleepstudy):
    from multilevel.bayes.model import build_model

    assert loglik.supports(build_model("Reaction ~ Days + (1 | Subject)", sleepstudy, family="t"))
    assert not loglik.supports(build_model("Reaction ~ Days + ar(time = Days, gr = Subject)", sleepstudy))


def test_chunks_of_draws_give_the_whole_computation(bayes_ss_slopes):
    from multilevel.bayes.loglik import fitted_eta_chunks
    from multilevel.predict.bayes import linear_predictor_draws

    whole = linear_predictor_draws(bayes_ss_slopes, None, True, "population", None)
    chunks = list(fitted_eta_chunks(bayes_ss_slopes, rows_times_draws=180 * 700))
    assert len(chunks) > 1
    np.testing.assert_allclose(np.concatenate([eta for _, eta in chunks]), whole, rtol=1e-13)
