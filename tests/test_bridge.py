"""Marginal likelihoods by bridge sampling (``ml.bridge_sampler``), Bayes factors and
posterior model probabilities, against the exact marginal likelihood of each model.

Exact values: for Gaussian models with normal priors on the intercept the intercept and
the group effects integrate out in closed form, y | τ, σ ~ N(m₀1, σ²I + τ²ZZ' + s₀²11'),
so log p(y) is a quadrature over (log τ, log σ) (or log σ alone) on a fine grid; for a
Poisson regression with a centred predictor, a quadrature over the two coefficients.
The priors are given explicitly, so the integrand is written from them.

Tolerances: each estimate is within 4 × its expected relative error (``cv``, ~0.02-0.04
here on 4 × 500 draws, seeded) of the exact log p(y), and the quadratures are accurate
to ~1e-4 (checked by halving the grid step).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel as ml
from multilevel.errors import ComparisonError, FitError
from multilevel.priors import Prior

pytestmark = pytest.mark.slow
SAMPLING = dict(draws=500, tune=500, chains=4, progress=False, keep_unconstrained=True)
M0, S0, TAU_S, SIG_S = 1500.0, 100.0, 100.0, 100.0
PRIORS = {"(Intercept)": Prior("Normal", mu=M0, sigma=S0), "sigma": Prior("HalfNormal", sigma=SIG_S)}
GROUP_PRIORS = {**PRIORS, "sd__(Intercept)|Batch": Prior("HalfNormal", sigma=TAU_S)}


def _log_trapezoid(values: np.ndarray, *grids: np.ndarray) -> float:
    top = values.max()
    total = np.exp(values - top)
    for grid in reversed(grids):
        total = np.trapezoid(total, grid, axis=-1)
    return float(top + np.log(total))


def exact_gaussian(y: np.ndarray, Z: np.ndarray | None, steps: int = 241) -> float:
    """log p(y) of ``y ~ 1 (+ (1 | g))``: the intercept (and group effects) integrated out
    in closed form, then the SDs by trapezoids over their logs (Jacobian included).

    With U = [1 Z] and D = diag(s₀², τ², ..., τ²), C = σ²I + UDU'; by the matrix
    determinant lemma and Woodbury's identity, through M = σ²D⁻¹ + U'U (small):
    log|C| = n log σ² + log|M| + log|D/σ²| and r'C⁻¹r = (r'r − r'U M⁻¹ U'r)/σ²."""
    n = len(y)
    U = np.ones((n, 1)) if Z is None else np.column_stack([np.ones(n), Z])
    r = y - M0
    UtU, Utr = U.T @ U, U.T @ r
    log_sig = np.linspace(np.log(5.0), np.log(400.0), steps)
    log_tau = np.array([0.0]) if Z is None else np.linspace(np.log(0.5), np.log(600.0), steps)
    T, S = np.meshgrid(log_tau, log_sig, indexing="ij")
    sig2 = np.exp(2 * S)[..., None]
    D = np.full(T.shape + (U.shape[1],), S0 ** 2)
    D[..., 1:] = np.exp(2 * T)[..., None]
    M = UtU + (sig2 / D)[..., None] * np.eye(U.shape[1])
    logdet = n * np.log(sig2[..., 0]) + np.linalg.slogdet(M)[1] + np.log(D / sig2).sum(-1)
    solved = np.linalg.solve(M, np.broadcast_to(Utr, D.shape)[..., None])[..., 0]
    quad = (r @ r - solved @ Utr) / sig2[..., 0]
    loglik = -0.5 * (n * np.log(2 * np.pi) + logdet + quad)
    logprior = stats.halfnorm.logpdf(np.exp(S), scale=SIG_S) + S
    if Z is None:
        return _log_trapezoid((loglik + logprior)[0], log_sig)
    logprior = logprior + stats.halfnorm.logpdf(np.exp(T), scale=TAU_S) + T
    return _log_trapezoid(loglik + logprior, log_tau, log_sig)


@pytest.fixture(scope="module")
def dyestuff():
    d = ml.datasets.load("Dyestuff")
    return d, d["Yield"].to_numpy(float), pd.get_dummies(d["Batch"]).to_numpy(float)


@pytest.fixture(scope="module")
def fits(dyestuff):
    d = dyestuff[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"groups": ml.fit("Yield ~ 1 + (1 | Batch)", d, priors=GROUP_PRIORS, seed=3, **SAMPLING),
                "pooled": ml.fit("Yield ~ 1", d, priors=PRIORS, seed=4, **SAMPLING)}


def test_the_quadrature_is_converged(dyestuff):
    _, y, Z = dyestuff
    for z in (None, Z):
        assert exact_gaussian(y, z, 241) == pytest.approx(exact_gaussian(y, z, 481), abs=1e-4)


@pytest.mark.parametrize("name", ["groups", "pooled"])
def test_log_marginal_likelihood_is_exact_within_its_error(fits, dyestuff, name):
    _, y, Z = dyestuff
    exact = exact_gaussian(y, Z if name == "groups" else None)
    b = ml.bridge_sampler(fits[name])
    assert 0 < b.cv < 0.1 and 0 < b.mcse_logml < 0.1
    assert abs(b.logml - exact) < 4 * b.cv, (b.logml, exact, b.cv)
    assert b.n_posterior == b.n_proposal == 4 * 250
    assert "log marginal likelihood" in str(b)


def test_same_seed_same_estimate_and_repetitions_spread(fits):
    a = ml.bridge_sampler(fits["groups"], seed=11)
    b = ml.bridge_sampler(fits["groups"], seed=11)
    assert a.logml == b.logml
    r = ml.bridge_sampler(fits["groups"], seed=11, repetitions=4)
    assert r.logmls.shape == (4,) and r.logmls[0] == a.logml
    assert r.logml == pytest.approx(r.logmls.mean())
    assert 0 < r.logmls.std() < 4 * a.cv


def test_bayes_factor_and_posterior_probabilities(fits, dyestuff):
    _, y, Z = dyestuff
    exact = exact_gaussian(y, Z) - exact_gaussian(y, None)
    bf = ml.bayes_factor(fits["groups"], fits["pooled"])
    assert bf.log_bf == pytest.approx(bf.logml1 - bf.logml2)
    assert bf.bf == pytest.approx(np.exp(bf.log_bf))
    assert abs(bf.log_bf - exact) < 4 * bf.cv
    p = ml.post_prob(fits)
    assert list(p.index) == ["groups", "pooled"] and p.sum() == pytest.approx(1)
    assert p["groups"] == pytest.approx(1 / (1 + np.exp(-bf.log_bf)))
    skewed = ml.post_prob(fits, prior_prob={"groups": 1, "pooled": 3})
    odds = skewed["groups"] / skewed["pooled"]
    assert odds == pytest.approx(np.exp(bf.log_bf) / 3)


def test_poisson_regression_against_quadrature():
    rng = np.random.default_rng(5)
    x = rng.normal(size=60)
    x = x - x.mean()   # centred: Bambi's intercept is the intercept of the centred predictor
    data = pd.DataFrame({"x": x, "y": rng.poisson(np.exp(0.8 + 0.5 * x))})
    priors = {"(Intercept)": Prior("Normal", mu=0, sigma=2), "x": Prior("Normal", mu=0, sigma=1)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ml.fit("y ~ x", data, family="poisson", priors=priors, seed=6, **SAMPLING)
    a = np.linspace(0.2, 1.4, 401)
    b = np.linspace(-0.2, 1.2, 401)
    A, B = np.meshgrid(a, b, indexing="ij")
    eta = A[..., None] + B[..., None] * x
    loglik = stats.poisson.logpmf(data["y"].to_numpy(), np.exp(eta)).sum(-1)
    logpost = loglik + stats.norm.logpdf(A, 0, 2) + stats.norm.logpdf(B, 0, 1)
    exact = _log_trapezoid(logpost, a, b)
    est = ml.bridge_sampler(fit)
    assert abs(est.logml - exact) < 4 * est.cv, (est.logml, exact, est.cv)


def test_refusals(fits, dyestuff):
    d = dyestuff[0]
    freq = ml.fit("Yield ~ 1 + (1 | Batch)", d, method="reml")
    with pytest.raises(FitError, match="Bayesian fit"):
        ml.bridge_sampler(freq)
    with pytest.raises(FitError, match="repetitions"):
        ml.bridge_sampler(fits["groups"], repetitions=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = ml.fit("Yield ~ 1", d, priors=PRIORS, seed=4, draws=100, tune=100, chains=2, progress=False)
    with pytest.raises(FitError, match="keep_unconstrained=True"):
        ml.bridge_sampler(plain)
    with pytest.raises(FitError, match="keep_unconstrained=True keeps nutpie"):
        ml.fit("Yield ~ 1", d, sampler="marginal", keep_unconstrained=True, progress=False)
    other = d.assign(Yield=d["Yield"] + 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shifted = ml.fit("Yield ~ 1", other, priors=PRIORS, seed=4, draws=100, tune=100, chains=2,
                         progress=False, keep_unconstrained=True)
    with pytest.raises(ComparisonError, match="different response values"):
        ml.bayes_factor(fits["pooled"], shifted)
    with pytest.raises(ComparisonError, match="at least two"):
        ml.post_prob({"a": fits["pooled"]})
    with pytest.raises(ComparisonError, match="prior_prob"):
        ml.post_prob(fits, prior_prob=[1, -1])
    with pytest.raises(ComparisonError, match="prior_prob"):
        ml.post_prob(fits, prior_prob={"groups": 1})
