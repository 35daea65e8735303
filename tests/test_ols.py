"""Formulas without random effects: least squares (R's lm) and GLMs by IRLS (R's glm),
against closed forms, scikit-learn and ill-conditioned designs (R's numbers are in
tests/test_freq_reference.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression, PoissonRegressor

import multilevel as ml


def test_ols_equals_lstsq_and_sklearn():
    data = ml.datasets.load("mtcars")
    m = ml.fit("mpg ~ wt + hp + qsec", data, method="ml")
    X = data[["wt", "hp", "qsec"]].to_numpy()
    sk = LinearRegression().fit(X, data["mpg"])
    np.testing.assert_allclose(m.fixef.to_numpy(), [sk.intercept_, *sk.coef_], rtol=1e-10)
    rss = float(np.sum((data["mpg"] - sk.predict(X)) ** 2))
    n = len(data)
    assert m.loglik == pytest.approx(-n / 2 * (np.log(2 * np.pi * rss / n) + 1), rel=1e-12)
    assert m.sigma == pytest.approx(np.sqrt(rss / (n - 4)), rel=1e-12)
    assert m.df == 5 and m.ranef == {} and m.theta.empty and not m.singular
    assert m.varcorr["grp"].tolist() == ["Residual"]
    assert m.predict(data.iloc[:3])["estimate"].to_numpy() == pytest.approx(sk.predict(X[:3]))


def test_ill_conditioned_design_is_solved_by_qr():
    """x and x + 1e-5·noise: cond(X) ~ 1e5, cond(X'X) ~ 1e10. The QR solve recovers the
    exact coefficients of y = 1 + 2x + 3z to ~1e-10; the normal equations lose 5 more digits."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    z = x + 1e-5 * rng.normal(size=200)
    y = 1.0 + 2.0 * x + 3.0 * z
    m = ml.fit("y ~ x + z", pd.DataFrame({"x": x, "z": z, "y": y}), method="ml")
    truth = np.array([1.0, 2.0, 3.0])
    ours = np.max(np.abs(m.fixef.to_numpy() - truth))
    X = np.column_stack([np.ones(200), x, z])
    normal = np.max(np.abs(np.linalg.solve(X.T @ X, X.T @ y) - truth))
    assert ours < 1e-8 and ours < normal / 100


def test_reml_loglik_and_refit():
    data = ml.datasets.load("sleepstudy")
    reml = ml.fit("Reaction ~ Days", data, method="reml")
    mlfit = ml.fit("Reaction ~ Days", data, method="ml")
    # R: logLik(lm(Reaction ~ Days, sleepstudy), REML = TRUE) = -946.8318 (df = 3)
    assert reml.loglik == pytest.approx(-946.8318, abs=1e-4)
    assert reml.reml_criterion == pytest.approx(-2 * reml.loglik)
    assert reml.refit_ml().loglik == pytest.approx(mlfit.loglik, rel=1e-12)
    np.testing.assert_allclose(reml.fixef, mlfit.fixef)


def test_logistic_glm_equals_sklearn_without_penalty():
    data = ml.datasets.load("mtcars")
    m = ml.fit("am ~ wt + hp", data, family="bernoulli", method="ml")
    sk = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(data[["wt", "hp"]], data["am"])
    np.testing.assert_allclose(m.fixef.to_numpy(), [sk.intercept_[0], *sk.coef_[0]], rtol=1e-5)
    assert m.converged and m.df == 3 and m.sigma == 1.0 and m.varcorr.empty
    prob = m.predict(type="response")["estimate"]
    np.testing.assert_allclose(prob, sk.predict_proba(data[["wt", "hp"]])[:, 1], rtol=1e-5, atol=1e-9)
    assert list(m.summary().columns) == ["estimate", "std_error", "z_value", "p_value"]


def test_poisson_glm_equals_sklearn_without_penalty():
    data = ml.datasets.load("grouseticks")
    m = ml.fit("TICKS ~ cHEIGHT", data, family="poisson", method="ml")
    sk = PoissonRegressor(alpha=0.0, tol=1e-12, max_iter=10_000).fit(data[["cHEIGHT"]], data["TICKS"])
    np.testing.assert_allclose(m.fixef.to_numpy(), [sk.intercept_, *sk.coef_], rtol=1e-6)


def test_binomial_glm_equals_the_expanded_bernoulli_glm():
    """cbind(s, n - s) is the same likelihood as n 0/1 rows, up to the binomial coefficient."""
    cbpp = ml.datasets.load("cbpp")
    agg = ml.fit("cbind(incidence, size - incidence) ~ period", cbpp, family="binomial", method="ml")
    rows = cbpp.loc[cbpp.index.repeat(cbpp["size"])].copy()
    rows["y"] = np.concatenate([[1] * i + [0] * (s - i) for i, s in zip(cbpp["incidence"], cbpp["size"])])
    long = ml.fit("y ~ period", rows, family="bernoulli", method="ml")
    np.testing.assert_allclose(agg.fixef, long.fixef, rtol=1e-9)
    np.testing.assert_allclose(agg.se, long.se, rtol=1e-8)


def test_separation_is_reported():
    data = pd.DataFrame({"x": np.arange(10.0), "y": [0] * 5 + [1] * 5})
    with pytest.warns(ml.errors.ConvergenceWarning, match="numerically 0 or 1"):
        m = ml.fit("y ~ x", data, family="bernoulli", method="ml")
    assert "separation" in repr(m)


def test_no_random_effects_refuse_mixed_model_options():
    with pytest.raises(ml.errors.SpecError, match="apply to mixed models"):
        ml.fit("mpg ~ wt", "mtcars", method="ml", solver="block")
