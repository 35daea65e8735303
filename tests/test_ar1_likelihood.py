"""Correlated residuals without sampling: the spelling, the likelihood against nlme's gls
(corAR1 with gaps and shuffled rows, corCompSymm with a negative correlation), the
PyTensor graph against numpy, joint draws against the model's covariance, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

import multilevel as ml
from multilevel.bayes.residuals import (
    conditional_moments, marginal_sd, pointwise_loglik, residual_layout, simulate,
)
from multilevel.errors import DataError, FamilyError, FormulaError
from multilevel.formula import parse_formula

REF = json.loads((Path(__file__).parent / "reference" / "nlme_residuals.json").read_text())
FORMULAS = {"ar1": "y ~ x + ar(time = t, gr = g)", "cs": "y ~ x + cosy(gr = g)"}


def reference(kind):
    r = REF[kind]
    data = pd.DataFrame(r["data"])
    return r, data, residual_layout(parse_formula(FORMULAS[kind]).residuals, data)


def innovation_sd(kind, marginal, param):
    """nlme's sigma is the marginal SD; ours is the innovation SD for ar1."""
    return marginal * np.sqrt(1 - param ** 2) if kind == "ar1" else marginal


@pytest.mark.parametrize(("text", "expected"), [
    ("y ~ x + (1 | g) + ar(time = t, gr = g)", ("ar1", "t", "g")),
    ("y ~ x + ar ( time=time,gr=Subject )", ("ar1", "time", "Subject")),
    ("y ~ x + cosy(gr = g)", ("cs", None, "g")),
])
def test_spelling(text, expected):
    parsed = parse_formula(text)
    r = parsed.residuals
    assert (r.kind, r.time, r.group) == expected
    assert parsed.fixed == "x"   # not a fixed-effect term


@pytest.mark.parametrize(("text", "message"), [
    ("y ~ x + ar(t)", "gr = must name one column"),
    ("y ~ x + ar(time = 1, gr = g)", "time = must name one column"),
    ("y ~ x + ar(time = t, gr = a:b)", "gr = must name one column"),
    ("y ~ x + cosy(gr = g, p = 1)", "unknown or repeated"),
    # the package's former spellings now mean group-effect structures (lme4 2.0): the error
    # says what to write for the residual structure they used to mean
    ("y ~ x + ar1(t | g)", r"ar\(time = t, gr = g\)"),
    ("y ~ x + cs(1 | g)", r"cosy\(gr = g\)"),
    ("y ~ x - ar(time = t, gr = g)", "cannot be subtracted"),
    ("y ~ x + ar(time = t, gr = g) + cosy(gr = g)", "Only one residual structure"),
])
def test_spelling_errors(text, message):
    with pytest.raises(FormulaError, match=message):
        parse_formula(text)


@pytest.mark.parametrize("kind", ["ar1", "cs"])
def test_loglik_equals_nlme_at_its_estimates(kind):
    r, data, layout = reference(kind)
    e = data["y"].to_numpy() - r["coef"][0] - r["coef"][1] * data["x"].to_numpy()
    sigma = innovation_sd(kind, r["sigma"], r["param"])
    assert pointwise_loglik(layout, e, sigma, r["param"]).sum() == pytest.approx(r["logLik"], abs=1e-8)


@pytest.mark.parametrize("kind", ["ar1", "cs"])
def test_maximum_likelihood_equals_nlme(kind):
    """The whole likelihood surface, not one point: its maximum is nlme's."""
    r, data, layout = reference(kind)
    X = np.column_stack([np.ones(len(data)), data["x"]])
    y = data["y"].to_numpy()
    lower = layout.bounds[0]

    def param(u):
        return lower + (1 - lower) * special.expit(u)

    def nll(p):
        return -pointwise_loglik(layout, y - X @ p[:2], np.exp(p[2]), param(p[3])).sum()

    res = optimize.minimize(nll, [0.0, 0.0, 0.0, 0.0], method="BFGS", options={"gtol": 1e-9})
    phi = param(res.x[3])
    assert -res.fun == pytest.approx(r["logLik"], abs=1e-6)
    np.testing.assert_allclose(res.x[:2], r["coef"], atol=1e-4)
    assert phi == pytest.approx(r["param"], abs=1e-4)
    assert marginal_sd(kind, np.exp(res.x[2]), phi) == pytest.approx(r["sigma"], rel=1e-4)


@pytest.mark.parametrize("kind", ["ar1", "cs"])
def test_pytensor_graph_equals_numpy(kind):
    import pytensor
    import pytensor.tensor as pt

    r, data, layout = reference(kind)
    e = np.random.default_rng(0).normal(size=len(data))
    ev, sv, pv = pt.dvector("e"), pt.dscalar("s"), pt.dscalar("p")
    fn = pytensor.function([ev, sv, pv], list(conditional_moments(layout, ev, sv, pv, xp=pt)))
    for sigma, param in [(1.3, r["param"]), (0.7, 0.9 if kind == "ar1" else -0.15)]:
        got = fn(e, sigma, param)
        want = conditional_moments(layout, e, sigma, param)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


@pytest.mark.parametrize(("kind", "param"), [("ar1", 0.6), ("ar1", -0.5), ("cs", -0.15), ("cs", 0.4)])
def test_joint_draws_have_the_model_covariance(kind, param):
    _, data, layout = reference(kind)
    sigma, draws = 1.3, 40_000
    e = simulate(layout, np.full(draws, sigma), np.full(draws, param), np.random.default_rng(1))
    g = data["g"].to_numpy()
    same = g[:, None] == g[None, :]
    if kind == "ar1":
        lag = np.abs(data["t"].to_numpy()[:, None] - data["t"].to_numpy()[None, :])
        cov = same * marginal_sd(kind, sigma, param) ** 2 * param ** lag
    else:
        cov = same * sigma ** 2 * np.where(np.eye(len(g), dtype=bool), 1.0, param)
    emp = e.T @ e / draws
    var = np.diag(cov)
    se = np.sqrt((np.outer(var, var) + cov ** 2) / draws)   # SE of a sample covariance
    assert np.all(np.abs(emp - cov) < 5 * se)


def test_layout_orders_groups_and_measures_gaps():
    data = pd.DataFrame({"g": ["b", "a", "a", "b", "a"], "t": [3, 4, 0, 1, 1]})
    layout = residual_layout(parse_formula("y ~ ar(time = t, gr = g)").residuals, data)
    np.testing.assert_array_equal(layout.previous, [3, 4, -1, -1, 2])
    np.testing.assert_array_equal(layout.gap, [2, 3, 1, 1, 1])
    np.testing.assert_array_equal(layout.position, [1, 2, 0, 0, 1])
    assert layout.max_size == 3 and layout.bounds == (-1.0, 1.0)
    cs = residual_layout(parse_formula("y ~ cosy(gr = g)").residuals, data)
    assert cs.bounds == (-0.5, 1.0) and cs.param == "cs_rho"


@pytest.mark.parametrize(("data", "formula", "message"), [
    (pd.DataFrame({"g": ["a", "a"], "t": [0.0, 0.5]}), "ar(time = t, gr = g)", "whole time steps"),
    (pd.DataFrame({"g": ["a", "a"], "t": [1, 1]}), "ar(time = t, gr = g)", "one row per time point"),
    (pd.DataFrame({"g": ["a", "a"], "t": ["x", "y"]}), "ar(time = t, gr = g)", "must be numeric"),
    (pd.DataFrame({"g": ["a", "b"], "t": [0, 0]}), "ar(time = t, gr = g)", "one row"),
    (pd.DataFrame({"g": ["a", "a"]}), "ar(time = t, gr = g)", "no column 't'"),
])
def test_layout_errors(data, formula, message):
    with pytest.raises(DataError, match=message):
        residual_layout(parse_formula(f"y ~ 1 + {formula}").residuals, data)


def test_cs_draws_refuse_groups_a_negative_rho_cannot_hold():
    data = pd.DataFrame({"g": ["a"] * 6})
    layout = residual_layout(parse_formula("y ~ cosy(gr = g)").residuals, data)
    with pytest.raises(DataError, match="negative correlation"):
        simulate(layout, [1.0], [-0.3], np.random.default_rng(0))


def test_fit_refuses_before_sampling():
    r, data, _ = reference("ar1")
    with pytest.raises(FamilyError, match="family='gaussian'"):
        ml.fit(FORMULAS["ar1"], data.assign(y=(data.y > 1).astype(int)), family="bernoulli")
    with pytest.raises(FormulaError, match="same within-group correlation"):
        ml.fit("y ~ x + (1 | g) + cosy(gr = g)", data)
    for method in ("reml", "ml", "map"):
        with pytest.raises(FormulaError, match="method='bayes'"):
            ml.fit(FORMULAS["ar1"], data, method=method, **({"sigma": 1.0} if method == "map" else {}))


def test_cs_maximum_equals_lme4_random_intercept_ml(lme4_ref, sleepstudy):
    """With ρ ≥ 0 compound symmetry is the marginal likelihood of a random intercept:
    its maximum on sleepstudy is lme4's ML fit of Reaction ~ Days + (1 | Subject)."""
    r = lme4_ref["ss_ri_ml"]
    layout = residual_layout(parse_formula("Reaction ~ Days + cosy(gr = Subject)").residuals, sleepstudy)
    X = np.column_stack([np.ones(len(sleepstudy)), sleepstudy["Days"]])
    y = sleepstudy["Reaction"].to_numpy()

    def nll(p):
        return -pointwise_loglik(layout, y - X @ p[:2], np.exp(p[2]), np.tanh(p[3])).sum()

    res = optimize.minimize(nll, [250.0, 10.0, 4.0, 0.5], method="BFGS", options={"gtol": 1e-8})
    tau2, sigma2 = (row["vcov"] for row in r["varcorr"])
    assert -res.fun == pytest.approx(r["logLik"], abs=1e-5)
    np.testing.assert_allclose(res.x[:2], list(r["fixef"].values()), rtol=1e-5)
    assert np.exp(2 * res.x[2]) == pytest.approx(tau2 + sigma2, rel=1e-4)
    assert np.tanh(res.x[3]) == pytest.approx(tau2 / (tau2 + sigma2), rel=1e-4)
