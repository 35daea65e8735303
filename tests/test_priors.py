"""Priors as penalties: MAP = scikit-learn's penalized least squares; presets in specs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet, Lasso, Ridge
from sklearn.preprocessing import StandardScaler

import multilevel as ml
from multilevel.errors import PriorError

PREDICTORS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
FORMULA = "target ~ " + " + ".join(PREDICTORS)
SIGMA = 54.0  # roughly the residual SD of the full least-squares fit


@pytest.fixture(scope="module")
def diabetes():
    data = ml.datasets.load("diabetes")
    Z = StandardScaler().fit_transform(data[PREDICTORS].to_numpy())
    return data, Z, data["target"].to_numpy(), data[PREDICTORS].std(ddof=0).to_numpy()


def _sklearn_gamma(model, Z, y):
    return model.fit(Z, y).coef_


@pytest.mark.parametrize("alpha", [0.1, 10.0, 300.0])
def test_ridge_map_equals_sklearn(diabetes, alpha):
    data, Z, y, scale = diabetes
    gamma = _sklearn_gamma(Ridge(alpha=alpha), Z, y)
    ours = ml.priors.map_estimate(FORMULA, data, ml.priors.ridge.from_sklearn(alpha, SIGMA), SIGMA)
    np.testing.assert_allclose(ours[PREDICTORS].to_numpy() * scale, gamma, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("alpha", [0.05, 1.0, 5.0])
def test_lasso_map_equals_sklearn_with_exact_zeros(diabetes, alpha):
    data, Z, y, scale = diabetes
    gamma = _sklearn_gamma(Lasso(alpha=alpha, tol=1e-14, max_iter=1_000_000), Z, y)
    prior = ml.priors.lasso.from_sklearn(alpha, SIGMA, len(y))
    ours = ml.priors.map_estimate(FORMULA, data, prior, SIGMA)[PREDICTORS].to_numpy() * scale
    np.testing.assert_allclose(ours, gamma, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(ours == 0, gamma == 0)
    if alpha == 5.0:
        assert (ours == 0).sum() >= 3


@pytest.mark.parametrize("alpha, l1_ratio", [(0.05, 0.5), (1.0, 0.3), (3.0, 0.8)])
def test_elastic_net_map_equals_sklearn(diabetes, alpha, l1_ratio):
    data, Z, y, scale = diabetes
    gamma = _sklearn_gamma(ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=1_000_000), Z, y)
    prior = ml.priors.elastic_net.from_sklearn(alpha, l1_ratio, SIGMA, len(y))
    ours = ml.priors.map_estimate(FORMULA, data, prior, SIGMA)[PREDICTORS].to_numpy() * scale
    np.testing.assert_allclose(ours, gamma, rtol=1e-5, atol=1e-8)
    np.testing.assert_array_equal(ours == 0, gamma == 0)


def test_intercept_is_not_penalized(diabetes):
    data, *_ = diabetes
    strong = ml.priors.map_estimate(FORMULA, data, ml.priors.ridge(1e-6), SIGMA)
    assert strong["(Intercept)"] == pytest.approx(data["target"].mean(), rel=1e-6)
    assert np.all(np.abs(strong[PREDICTORS]) < 1e-3)


@pytest.mark.parametrize(
    "table, expected",
    [
        ({"preset": "ridge", "scale": 2.0}, "ridge(scale=2.0)"),
        ({"preset": "horseshoe", "expected_nonzero": 3}, "horseshoe(expected_nonzero=3)"),
        ({"preset": "weakly-informative"}, "None"),
        ({"terms": {"Days": {"dist": "Normal", "mu": 0, "sigma": 10}}},
         "{'Days': Prior('Normal', mu=0, sigma=10)}"),
    ],
)
def test_from_spec(table, expected):
    assert repr(ml.priors.from_spec(table)) == expected


@pytest.mark.parametrize(
    "table, match",
    [
        ({"preset": "ridgge"}, "preset 'ridgge' is unknown. Valid presets"),
        ({"preset": "ridge", "sigma": 1}, "'sigma' are not arguments of ridge"),
        ({"preset": "ridge", "scale": -1.0}, "positive"),
        ({"terms": {"Days": {"mu": 0}}}, "'dist' key"),
    ],
)
def test_from_spec_errors_name_the_key(table, match):
    with pytest.raises(PriorError, match=match):
        ml.priors.from_spec(table)


def test_priors_module_does_not_import_pymc():
    import subprocess
    import sys

    code = "import sys, multilevel as ml; ml.priors.ridge(1.0); print('pymc' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_fit_method_map(diabetes):
    data, *_ = diabetes
    prior = ml.priors.lasso(0.5)
    direct = ml.priors.map_estimate("target ~ bmi + bp", data, prior, sigma=40.0)
    via_fit = ml.fit("target ~ bmi + bp", data, method="map", priors=prior, sigma=40.0)
    np.testing.assert_allclose(via_fit.to_numpy(), direct.to_numpy())
    default_sigma = ml.fit("target ~ bmi + bp", data, method="ml").sigma
    np.testing.assert_allclose(ml.fit("target ~ bmi + bp", data, method="map", priors=prior).to_numpy(),
                               ml.priors.map_estimate("target ~ bmi + bp", data, prior,
                                                      sigma=default_sigma).to_numpy())
