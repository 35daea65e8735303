"""Basis functions in formulas keep their fitted state for new data; LOO sees overfitting."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import FormulaError
from multilevel.formula import build_design, model_frame, parse_formula

DATA = pd.DataFrame({"y": np.arange(20.0), "x": np.linspace(0, 10, 20)})


def _design(formula, data=DATA):
    parsed = parse_formula(formula)
    return build_design(parsed, model_frame(parsed, data))


@pytest.mark.parametrize("formula, columns", [
    ("y ~ rbf(x, centers=4)", 4), ("y ~ sigmoid(x, centers=3, scale=2)", 3),
    ("y ~ poly(x, 3)", 3), ("y ~ poly(x, 2, raw=True)", 2),
])
def test_state_is_reused_on_new_data(formula, columns):
    design = _design(formula)
    assert design.X.shape == (20, columns + 1)
    # three fitted rows evaluated alone give the fitted rows: centres/scales were kept
    np.testing.assert_allclose(design.spec.fixed_X(DATA.iloc[:3]), design.X[:3])


def test_rbf_values_closed_form():
    design = _design("y ~ rbf(x, centers=2, width=1.5, lower=0, upper=10)")
    new = pd.DataFrame({"x": [0.0, 4.0]})
    expected = np.exp(-(np.array([[0.0, 10.0], [4.0, 6.0]]) ** 2) / (2 * 1.5 ** 2))
    np.testing.assert_allclose(design.spec.fixed_X(new)[:, 1:], expected)


def test_raw_poly_is_powers_and_orthogonal_poly_is_orthonormal():
    raw = _design("y ~ poly(x, 3, raw=True)").X[:, 1:]
    np.testing.assert_allclose(raw, np.column_stack([DATA.x, DATA.x ** 2, DATA.x ** 3]))
    orth = _design("y ~ poly(x, 3)").X[:, 1:]
    np.testing.assert_allclose(orth.T @ orth, np.eye(3), atol=1e-10)


def test_bad_basis_arguments():
    with pytest.raises(FormulaError, match="centers must be a positive integer"):
        _design("y ~ rbf(x, centers=0)")


@pytest.mark.slow
def test_polynomial_degree_overfits_in_loo_not_in_sample():
    import arviz as az

    rng = np.random.default_rng(4)
    x = np.sort(rng.uniform(-2, 2, 30))
    data = pd.DataFrame({"x": x, "y": 1 + x - 0.8 * x ** 2 + rng.normal(0, 0.5, x.size)})
    elpd, r2 = {}, {}
    for degree in (1, 2, 10):
        fit = ml.fit(f"y ~ poly(x, {degree})", data, draws=400, tune=600, chains=2, seed=2,
                     progress=False, check=False)
        with warnings.catch_warnings():
            # the degree-10 fit has influential points (Pareto k > 0.7): part of the lesson
            warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
            elpd[degree] = az.loo(fit.idata).elpd
        resid = data["y"] - fit.predict()["estimate"]
        r2[degree] = 1 - resid.var() / data["y"].var()
    assert r2[10] > r2[2] > r2[1]               # in-sample fit keeps improving
    assert elpd[2] > elpd[10] and elpd[2] > elpd[1]   # out of sample, degree 2 wins


@pytest.mark.slow
def test_comma_names_keep_nutpie_under_auto():
    # nutpie splits dimension names at ", "; multilevel.bayes.nutpie_names hands it
    # comma-free names and restores them, so "auto" no longer falls back to PyMC's sampler
    fit = ml.fit("y ~ poly(x, 2)", DATA, draws=50, tune=50, chains=1, seed=1, progress=False, check=False)
    assert fit.sampler == "nutpie"
    assert "poly(x, 2)" in " ".join(fit.fixef.index)
    explicit = ml.fit("y ~ poly(x, 2)", DATA, sampler="nutpie", draws=50, tune=50, chains=1, seed=1,
                      progress=False, check=False)
    assert explicit.fixef.equals(fit.fixef)
