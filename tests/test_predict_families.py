"""Predictive draws per family have the distribution of Bambi's likelihood (PyMC's draws
with Bambi's parametrisation and inverse link), and binomial trials come from newdata."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from multilevel.errors import DataError
from multilevel.formula import parse_formula
from multilevel.predict.bayes import _predictive
from multilevel.formula.links import inverse_link

DRAWS = 100_000
CASES = [  # family, eta, auxiliary parameters
    ("gaussian", 1.5, {"sigma": 2.0}),
    ("t", 1.5, {"sigma": 2.0, "nu": 4.0}),
    ("bernoulli", -0.4, {}),
    ("binomial", 0.3, {}),
    ("poisson", 1.2, {}),
    ("negativebinomial", 1.2, {"alpha": 2.5}),
]
TRIALS = 7


def stub_fit(family, aux, formula="y ~ x", trials=None):
    post = {k: SimpleNamespace(values=np.full(DRAWS, v)) for k, v in aux.items()}
    design = SimpleNamespace(spec=SimpleNamespace(parsed=parse_formula(formula)),
                             frame=SimpleNamespace(trials=trials))
    return SimpleNamespace(family=family, posterior=post, design=design)


@pytest.mark.parametrize(("family", "eta", "aux"), CASES)
def test_predictive_matches_bambi_likelihood(family, eta, aux):
    import pymc as pm
    import pytensor
    from bambi.defaults import get_builtin_family

    bambi_family = get_builtin_family(family)
    likelihood = bambi_family.likelihood
    parent = float(bambi_family.link[likelihood.parent].linkinv(np.array([eta]))[0])
    mean = inverse_link(family, np.full((DRAWS, 1), eta))
    assert mean[0, 0] == pytest.approx(parent, rel=1e-12)
    params = {likelihood.parent: parent, **aux}
    if family == "binomial":
        params["n"] = TRIALS
    rv = getattr(pm, likelihood.name).dist(**params, size=DRAWS)
    rv.owner.inputs[0].set_value(np.random.default_rng(1))
    # one vector of draws, compiled without numba (pm.draw would take seconds per family)
    reference = pytensor.function([], rv, mode="FAST_COMPILE")()
    fit = stub_fit(family, aux, trials=np.array([TRIALS]) if family == "binomial" else None)
    ours = _predictive(fit, mean, pd.DataFrame({"x": [0.0]}), True, np.random.default_rng(2))[:, 0]
    assert abs(ours.mean() - reference.mean()) < 5 * reference.std() / np.sqrt(DRAWS / 2)
    assert stats.ks_2samp(ours, np.asarray(reference, dtype=float)).pvalue > 0.001


@pytest.mark.parametrize(("formula", "newdata", "trials"), [
    ("cbind(s, f) ~ x", pd.DataFrame({"s": [1, 2], "f": [3, 8], "x": 0.0}), [4, 10]),
    ("p(s, n) ~ x", pd.DataFrame({"s": [1, 2], "n": [4, 10], "x": 0.0}), [4, 10]),
])
def test_binomial_trials_from_newdata(formula, newdata, trials):
    fit = stub_fit("binomial", {}, formula)
    draws = _predictive(fit, np.full((DRAWS, 2), 0.5), newdata, False, np.random.default_rng(0))
    assert draws.max(axis=0).tolist() == trials
    np.testing.assert_allclose(draws.mean(axis=0), np.array(trials) / 2, rtol=0.02)
    with pytest.raises(DataError, match="need the trials in newdata"):
        _predictive(fit, np.full((DRAWS, 2), 0.5), newdata[["x"]], False, np.random.default_rng(0))
