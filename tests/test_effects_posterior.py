"""pd, ROPE, HDI/ETI and describe_posterior against bayestestR 0.13.0 on draws exported to R
(tests/reference/effects_draws.csv), the Savage–Dickey ratio against a conjugate normal model,
and the hypothesis parser."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from multilevel.effects import describe_posterior, eti, hdi, p_direction, rope_share, savage_dickey
from multilevel.effects.hypothesis import evaluate, split_hypothesis
from multilevel.errors import DataError

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "effects.json").read_text())["bayestestR"]
DRAWS = pd.read_csv(HERE / "effects_draws.csv")
ROPE = (-0.1, 0.1)


@pytest.mark.parametrize("name", list(DRAWS.columns))
def test_indices_equal_bayestestR(name):
    x, r = DRAWS[name].to_numpy(), REF[name]
    assert p_direction(x) == pytest.approx(r["pd"], abs=1e-9)
    assert rope_share(x, ROPE, 0.95) == pytest.approx(r["rope_95"], abs=1e-9)  # 0.13's default: ETI
    assert rope_share(x, ROPE, 1.0) == pytest.approx(r["rope_full"], abs=1e-9)
    assert rope_share(x, ROPE, 0.95, "hdi") == pytest.approx(r["rope_95_hdi"], abs=1e-9)
    assert hdi(x, 0.95) == pytest.approx(tuple(r["hdi_95"]), abs=1e-9)
    assert eti(x, 0.89) == pytest.approx(tuple(r["eti_89"]), abs=1e-9)


def test_ties_at_the_null_count_in_neither_direction():
    assert (DRAWS["b"] == 0).sum() == 40
    assert p_direction([0.0, 0.0, 1.0, -1.0, 2.0]) == pytest.approx(0.4)


def test_describe_posterior_equals_bayestestR():
    out = describe_posterior(DRAWS, rope=ROPE, ci=0.95)
    r = REF["describe_posterior"]
    assert out["Parameter"].tolist() == r["Parameter"]
    for ours, theirs in [("Median", "Median"), ("CI_low", "CI_low"), ("CI_high", "CI_high"),
                         ("pd", "pd"), ("ROPE_Percentage", "ROPE_Percentage")]:
        np.testing.assert_allclose(out[ours], r[theirs], rtol=0, atol=1e-9, err_msg=ours)
    assert (out["ROPE_CI"] == 0.95).all() and out.attrs["ci_method"] == "eti"


def test_describe_posterior_default_rope_for_draws_and_no_rope():
    out = describe_posterior(DRAWS[["a"]])
    assert (out["ROPE_low"].iloc[0], out["ROPE_high"].iloc[0]) == (-0.1, 0.1)
    assert "ROPE_Percentage" not in describe_posterior(DRAWS, rope=None).columns
    hd = describe_posterior(DRAWS[["c"]], ci_method="hdi")
    assert (hd["CI_low"].iloc[0], hd["CI_high"].iloc[0]) == pytest.approx(tuple(REF["c"]["hdi_95"]))


@pytest.mark.parametrize("kwargs, match", [
    (dict(rope="wide"), "rope"), (dict(rope=(1, 0)), "lo < hi"), (dict(ci=95), "ci"),
    (dict(ci_method="bci"), "ci_method"), (dict(bf=True), "prior"), (dict(rope_ci=0), "rope_ci"),
])
def test_describe_posterior_bad_input(kwargs, match):
    with pytest.raises(DataError, match=match):
        describe_posterior(DRAWS, **kwargs)


@pytest.mark.parametrize("point", [0.0, 0.25])
def test_savage_dickey_on_a_conjugate_normal_model(point):
    """y_i ~ N(μ, σ = 2) with σ known, μ ~ N(0, τ = 1.5): the posterior is normal and the
    Savage–Dickey ratio p(μ = point | y) / p(μ = point) has a closed form (the Bayes factor
    of the point null against the alternative). KDE from exact posterior draws, 1 %."""
    rng = np.random.default_rng(20261203)
    sigma, tau, n = 2.0, 1.5, 40
    y = rng.normal(0.5, sigma, n)
    prec = 1 / tau**2 + n / sigma**2
    post = stats.norm(y.sum() / sigma**2 / prec, prec**-0.5)
    prior = stats.norm(0, tau)
    exact = post.pdf(point) / prior.pdf(point)
    # the marginal likelihoods give the same Bayes factor: a check on the closed form itself
    cov0 = sigma**2 * np.eye(n)
    m1 = stats.multivariate_normal(np.zeros(n), cov0 + tau**2).logpdf(y)
    m0 = stats.multivariate_normal(np.full(n, point), cov0).logpdf(y)
    assert np.exp(m0 - m1) == pytest.approx(exact, rel=1e-9)
    draws = post.rvs(1_000_000, random_state=rng)
    assert savage_dickey(draws, prior.pdf, point) == pytest.approx(exact, rel=0.01)
    prior_draws = prior.rvs(1_000_000, random_state=rng)
    assert savage_dickey(draws, prior_draws, point) == pytest.approx(exact, rel=0.01)


def test_savage_dickey_beyond_the_draws_is_zero():
    draws = np.random.default_rng(1).normal(10, 1, 4000)
    assert savage_dickey(draws, stats.norm(0, 5).pdf, 0.0) == 0.0
    assert savage_dickey(draws, stats.norm(0, 5).pdf, 9.0) > 0


def test_savage_dickey_refuses_no_prior_density():
    with pytest.raises(DataError, match="prior density"):
        savage_dickey(np.random.default_rng(1).normal(size=100), lambda x: 0.0)


PARAMS = pd.DataFrame({"(Intercept)": [1.0, 2.0], "Days": [3.0, 4.0], "recipeB:temp185": [0.5, -0.5],
                       "x.1": [10.0, 20.0], "sigma": [1.0, 1.5]})


@pytest.mark.parametrize("text, expected, sign", [
    ("Days > 5", [-2.0, -1.0], ">"),
    ("Days - Intercept = 0", [2.0, 2.0], "="),
    ("Days = (Intercept)", [2.0, 2.0], "="),
    ("2 * Days^2 < x.1", [8.0, 12.0], "<"),
    ("`recipeB:temp185` + sigma = 0", [1.5, 1.0], "="),
    ("recipeB:temp185 > -1", [1.5, 0.5], ">"),
    ("log(exp(Days)) / 2 > 0", [1.5, 2.0], ">"),
])
def test_hypothesis_parser(text, expected, sign):
    expr, s = split_hypothesis(text)
    assert s == sign
    np.testing.assert_allclose(evaluate(expr, PARAMS), expected)


@pytest.mark.parametrize("text, match", [
    ("Days", "exactly one"), ("Days >= 5", "exactly one"), ("Days > 1 > 0", "exactly one"),
    ("Nope > 1", "Nope"), ("Days > ", "empty"), ("1 > 0", "names no parameter"),
    ("Days.x > 1", "Days.x"), ("__import__('os') > 1", "not a parameter"), ("`Nope` = 0", "Nope"),
])
def test_hypothesis_parser_refuses(text, match):
    with pytest.raises(DataError, match=match):
        expr, _ = split_hypothesis(text)
        evaluate(expr, PARAMS)
