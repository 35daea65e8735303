"""log p(y | η) for the families lme4 lacks, with Bambi's links and parameterisations.

Each density is written as PyMC writes the likelihood Bambi builds, so that the
pointwise log-likelihood (LOO, WAIC, K-fold) equals PyMC's to rounding
(``tests/test_families.py``):

* beta: mean μ = logistic(η), precision κ; Beta(μκ, (1 − μ)κ);
* exponential: mean μ = exp(η), rate 1/μ;
* weibull: mean μ = exp(η), shape α, scale μ / Γ(1 + 1/α);
* laplace: location μ = η, scale b;
* zero_inflated_poisson / _negativebinomial: count mean μ = exp(η), ψ the probability
  of the count component (PyMC's ψ, not brms's zero-inflation probability);
* hurdle_poisson / _negativebinomial: ψ the probability of a non-zero count, then a
  zero-truncated Poisson(μ) / negative binomial(μ, α);
* hurdle_gamma: ψ the probability of y > 0, then Gamma with mean μ = exp(η), shape α;
* beta_binomial: successes of n trials, p ~ Beta(μκ, (1 − μ)κ) with μ = logistic(η);
* zero_inflated_binomial: ψ the probability of the Binomial(n, logistic(η)) component;
* wald: mean μ = exp(η) (our link, not Bambi's 1/μ²), shape λ;
* lognormal: log(y) ~ Normal(η, σ), E[y] = exp(η + σ²/2);
* hurdle_lognormal: ψ the probability of y > 0, then LogNormal(η, σ);
* cumulative: y the category code 0..K-1, P(y <= k) = F(τ_k − η) with F logistic and the
  thresholds τ (params ``threshold``, draws × (K − 1)); sratio: P(y = k | y >= k) = F(τ_k − η).
  F is clipped into [ε, 1 − ε] as Bambi's logit link does.
"""

from __future__ import annotations

import numpy as np
from scipy import special

FAMILIES = ("beta", "exponential", "weibull", "laplace", "zero_inflated_poisson",
            "zero_inflated_negativebinomial", "hurdle_poisson", "hurdle_negativebinomial",
            "hurdle_gamma", "beta_binomial", "zero_inflated_binomial", "wald", "lognormal",
            "hurdle_lognormal", "cumulative", "sratio")
_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)


def _poisson(y, log_mu):
    return y * log_mu - np.exp(log_mu) - special.gammaln(y + 1)


def _negbin(y, log_mu, alpha):
    log_mu_alpha = np.logaddexp(log_mu, np.log(alpha))                 # log(μ + α)
    return (special.gammaln(y + alpha) - special.gammaln(alpha) - special.gammaln(y + 1)
            + alpha * (np.log(alpha) - log_mu_alpha) + y * (log_mu - log_mu_alpha))


def _zero_inflated(y, psi, count_logp):
    """log of (1 − ψ)·[y = 0] + ψ·p(y)."""
    with np.errstate(divide="ignore"):
        zero = np.logaddexp(np.log1p(-psi), np.log(psi) + count_logp)
        return np.where(y == 0, zero, np.log(psi) + count_logp)


def _lognormal(y, mu, sigma):
    z = (np.log(y) - mu) / sigma
    return -np.log(y) - np.log(sigma) - _HALF_LOG_2PI - 0.5 * z * z


def category_probabilities(family: str, eta: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """P(y = k) per draw, row and category, shape (*eta.shape, K), from η (draws, rows) and
    the thresholds (draws, K − 1), computed as PyMC computes the likelihood Bambi builds."""
    eps = np.finfo(np.float64).eps
    F = special.expit(threshold[:, None, :] - eta[..., None])
    F = np.where(F == 0, eps, np.where(F == 1, 1 - eps, F))
    if family == "cumulative":
        return np.concatenate([F[..., :1], F[..., 1:] - F[..., :-1], 1 - F[..., -1:]], axis=-1)
    # sratio: F_k · Π_{j<k} (1 − F_j), the last category Π (1 − F_j)
    survive = np.cumprod(1 - F, axis=-1)
    return np.concatenate([F[..., :1], F[..., 1:] * survive[..., :-1], survive[..., -1:]], axis=-1)


def _binomln(n, y):
    return special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)


def density(family: str, eta: np.ndarray, y: np.ndarray, params: dict,
            trials: np.ndarray | None = None) -> np.ndarray:
    """log p(y | η, params) per draw and row, shape of ``eta``.

    Examples
    --------
    >>> import numpy as np
    >>> round(float(density("exponential", np.array([0.0]), np.array([1.0]), {})[0]), 6)
    -1.0
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        if family == "beta":
            kappa = params["kappa"]
            mu = special.expit(eta)
            a, b = mu * kappa, (1 - mu) * kappa
            return ((a - 1) * np.log(y) + (b - 1) * np.log1p(-y)
                    - (special.gammaln(a) + special.gammaln(b) - special.gammaln(a + b)))
        if family == "exponential":
            return -eta - y * np.exp(-eta)
        if family == "weibull":
            alpha = params["alpha"]
            scale = np.exp(eta) / special.gamma(1 + 1 / alpha)
            return (np.log(alpha) - np.log(scale) + (alpha - 1) * np.log(y / scale)
                    - (y / scale) ** alpha)
        if family == "laplace":
            b = params["b"]
            return -np.log(2 * b) - np.abs(y - eta) / b
        if family == "zero_inflated_poisson":
            return _zero_inflated(y, params["psi"], _poisson(y, eta))
        if family == "zero_inflated_negativebinomial":
            return _zero_inflated(y, params["psi"], _negbin(y, eta, params["alpha"]))
        if family == "hurdle_poisson":
            psi = params["psi"]
            # log P(Y > 0) = log(1 − e^{−μ})
            truncated = _poisson(y, eta) - np.log(-np.expm1(-np.exp(eta)))
            return np.where(y == 0, np.log1p(-psi), np.log(psi) + truncated)
        if family == "hurdle_negativebinomial":
            psi, alpha = params["psi"], params["alpha"]
            log_p0 = alpha * (np.log(alpha) - np.logaddexp(eta, np.log(alpha)))   # log P(Y = 0)
            truncated = _negbin(y, eta, alpha) - np.log(-np.expm1(log_p0))
            return np.where(y == 0, np.log1p(-psi), np.log(psi) + truncated)
        if family == "hurdle_gamma":
            psi, alpha = params["psi"], params["alpha"]
            mu = np.exp(eta)
            gamma = (alpha * np.log(alpha / mu) - special.gammaln(alpha) + (alpha - 1) * np.log(y)
                     - alpha * y / mu)
            return np.where(y == 0, np.log1p(-psi), np.log(psi) + gamma)
        if family == "beta_binomial":
            n = np.asarray(trials, dtype=float)
            kappa = params["kappa"]
            mu = special.expit(eta)
            a, b = mu * kappa, (1 - mu) * kappa
            return _binomln(n, y) + special.betaln(y + a, n - y + b) - special.betaln(a, b)
        if family == "zero_inflated_binomial":
            n = np.asarray(trials, dtype=float)
            binomial = (_binomln(n, y) - y * np.logaddexp(0.0, -eta) - (n - y) * np.logaddexp(0.0, eta))
            return _zero_inflated(y, params["psi"], binomial)
        if family == "wald":
            lam, mu = params["lam"], np.exp(eta)
            return (0.5 * np.log(lam / (2 * np.pi)) - 1.5 * np.log(y)
                    - lam / (2 * y) * ((y - mu) / mu) ** 2)
        if family == "lognormal":
            return _lognormal(y, eta, params["sigma"])
        if family == "hurdle_lognormal":
            psi = params["psi"]
            positive = _lognormal(np.where(y == 0, 1.0, y), eta, params["sigma"])
            return np.where(y == 0, np.log1p(-psi), np.log(psi) + positive)
        if family in ("cumulative", "sratio"):
            probs = category_probabilities(family, eta, params["threshold"])
            codes = np.broadcast_to(np.asarray(y, dtype=np.int64), eta.shape)
            return np.log(np.take_along_axis(probs, codes[..., None], axis=-1)[..., 0])
    raise ValueError(f"no closed-form log-likelihood for the family {family!r}")


def response_mean(family: str, mu: np.ndarray, params: dict) -> np.ndarray:
    """E[y] from the parent parameter μ (they differ for zero-inflated and hurdle counts)."""
    if family in ("zero_inflated_poisson", "zero_inflated_negativebinomial", "zero_inflated_binomial"):
        return params["psi"] * mu
    if family == "hurdle_poisson":
        return params["psi"] * mu / -np.expm1(-mu)
    if family == "hurdle_negativebinomial":
        alpha = params["alpha"]
        return params["psi"] * mu / -np.expm1(alpha * np.log(alpha / (alpha + mu)))
    if family == "hurdle_gamma":
        return params["psi"] * mu
    if family in ("lognormal", "hurdle_lognormal"):   # μ here is η, the mean of log(y)
        mean = np.exp(mu + params["sigma"] ** 2 / 2)
        return mean if family == "lognormal" else params["psi"] * mean
    return mu


def simulate(family: str, mu: np.ndarray, params: dict, rng, trials=None) -> np.ndarray:
    """New observations given the parent parameter μ (draws, rows) and the auxiliary
    parameters (draws, 1), with Bambi's parameterisations."""
    if family == "beta":
        kappa = params["kappa"]
        return rng.beta(mu * kappa, (1 - mu) * kappa)
    if family == "exponential":
        return rng.exponential(mu)
    if family == "weibull":
        alpha = params["alpha"]
        return mu / special.gamma(1 + 1 / alpha) * rng.weibull(np.broadcast_to(alpha, mu.shape))
    if family == "laplace":
        return rng.laplace(mu, np.broadcast_to(params["b"], mu.shape))
    if family in ("zero_inflated_poisson", "zero_inflated_negativebinomial"):
        if family == "zero_inflated_poisson":
            counts = rng.poisson(mu)
        else:
            alpha = params["alpha"]
            counts = rng.negative_binomial(alpha, alpha / (alpha + mu))
        return np.where(rng.random(mu.shape) < params["psi"], counts, 0).astype(float)
    if family == "hurdle_poisson":
        # a zero-truncated Poisson by inversion: u uniform on (P(0), 1)
        from scipy import stats

        p0 = np.exp(-mu)
        u = p0 + (1 - p0) * rng.random(mu.shape)
        positive = np.maximum(stats.poisson.ppf(u, mu), 1.0)
        return np.where(rng.random(mu.shape) < params["psi"], positive, 0.0)
    if family == "hurdle_negativebinomial":
        from scipy import stats

        alpha = params["alpha"]
        p = alpha / (alpha + mu)
        p0 = p ** alpha
        u = p0 + (1 - p0) * rng.random(mu.shape)
        positive = np.maximum(stats.nbinom.ppf(u, alpha, p), 1.0)
        return np.where(rng.random(mu.shape) < params["psi"], positive, 0.0)
    if family == "hurdle_gamma":
        alpha = params["alpha"]
        amounts = rng.gamma(np.broadcast_to(alpha, mu.shape), mu / alpha)
        return np.where(rng.random(mu.shape) < params["psi"], amounts, 0.0)
    if family in ("beta_binomial", "zero_inflated_binomial"):
        n = np.broadcast_to(np.asarray(trials, dtype=np.int64), mu.shape)
        if family == "beta_binomial":
            kappa = params["kappa"]
            return rng.binomial(n, rng.beta(mu * kappa, (1 - mu) * kappa)).astype(float)
        return np.where(rng.random(mu.shape) < params["psi"], rng.binomial(n, mu), 0).astype(float)
    if family == "wald":
        return rng.wald(mu, np.broadcast_to(params["lam"], mu.shape))
    if family in ("lognormal", "hurdle_lognormal"):
        amounts = rng.lognormal(mu, np.broadcast_to(params["sigma"], mu.shape))
        if family == "lognormal":
            return amounts
        return np.where(rng.random(mu.shape) < params["psi"], amounts, 0.0)
    raise ValueError(f"no simulation for the family {family!r}")
