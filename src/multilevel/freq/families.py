"""GLM families and links as R's family objects (``binomial(link = "probit")``, ``Gamma``,
``inverse.gaussian`` (family ``"wald"``), MASS's ``negative.binomial(theta)``).

The log-likelihood includes the normalizing constants R includes (the binomial
coefficient, ``log y!``), so logLik/AIC/BIC equal R's ``glm`` and lme4's ``glmer``.
For the Gamma and inverse Gaussian families the log-likelihood is R's ``Gamma()$aic`` and
``inverse.gaussian()$aic``: the dispersion is plugged in as the mean deviance (deviance /
Σ weights) and the ``+2`` R adds for it is kept, so glmer's Laplace deviance and logLik
are reproduced exactly.

For non-binomial families ``n`` holds the prior weights (1 without ``weights=``); for
binomial families it holds the trials.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from multilevel.errors import FamilyError
from multilevel.formula.links import LINKS as ALLOWED_LINKS
from multilevel.formula.links import default_link, inverse_link_fn

LINKS = {"binomial": "logit", "bernoulli": "logit", "poisson": "log", "gamma": "log",
         "negativebinomial": "log", "wald": "log"}
DISPERSION = ("gamma", "wald")   # families with a dispersion plugged into R's aic()
_TINY = 1e-300


def _linkfun(link: str, mu: np.ndarray) -> np.ndarray:
    return {"logit": special.logit, "probit": special.ndtri,
            "cloglog": lambda m: np.log(-np.log1p(-m)), "log": np.log, "identity": lambda m: m,
            "sqrt": np.sqrt, "inverse": lambda m: 1.0 / m, "1/mu^2": lambda m: 1.0 / (m * m)}[link](mu)


def _mu_eta(link: str, eta: np.ndarray) -> np.ndarray:
    """dμ/dη, clipped away from 0 as R's family objects do."""
    eps = np.finfo(float).eps
    if link == "logit":
        e = np.exp(-np.abs(eta))
        return np.maximum(e / (1 + e) ** 2, eps)
    if link == "probit":
        # φ(η) without scipy.stats (its import costs ~0.3 s of every REML fit's start)
        return np.maximum(np.exp(-0.5 * eta * eta) / np.sqrt(2.0 * np.pi), eps)
    if link == "cloglog":
        eta = np.minimum(eta, 700)
        return np.maximum(np.exp(eta) * np.exp(-np.exp(eta)), eps)
    if link == "log":
        return np.maximum(np.exp(eta), eps)
    if link == "sqrt":
        return 2 * eta
    if link == "inverse":
        return -1.0 / eta ** 2
    if link == "1/mu^2":
        return -1.0 / (2.0 * eta ** 1.5)
    return np.ones_like(eta)


@dataclass(frozen=True)
class Family:
    """Link, inverse link, variance and log-likelihood of a GLM family.

    Parameters
    ----------
    name : {"binomial", "bernoulli", "poisson", "gamma", "negativebinomial", "wald"}
    link : str, optional
        R's link name; None is the family's default (R's: logit, log, inverse for gamma;
        log for the negative binomial; log for the inverse Gaussian, whose R default is
        ``"1/mu^2"``).
    theta : float, optional
        The negative binomial's shape θ (variance μ + μ²/θ), fixed.

    Examples
    --------
    >>> Family("binomial", "probit").mu(np.array([0.0])).tolist()
    [0.5]
    """

    name: str
    link_name: str | None = None
    theta: float | None = None

    def __post_init__(self):
        if self.name not in LINKS:
            raise FamilyError(f"No GLM family {self.name!r}; use one of {tuple(LINKS)}.")
        if self.link_name is not None and self.link_name not in ALLOWED_LINKS.get(self.name, ()):
            raise FamilyError(f"Link {self.link_name!r} is not available for family {self.name!r}; "
                              f"use one of {ALLOWED_LINKS.get(self.name, ())}.")
        if self.name == "negativebinomial" and (self.theta is None or not self.theta > 0):
            raise FamilyError("The negative binomial family needs a positive theta.")

    @property
    def binomial(self) -> bool:
        return self.name in ("binomial", "bernoulli")

    @property
    def link(self) -> str:
        return self.link_name or default_link(self.name)

    @property
    def canonical(self) -> bool:
        return self.link == {"binomial": "logit", "bernoulli": "logit", "poisson": "log",
                             "gamma": "inverse", "wald": "1/mu^2"}.get(self.name)

    @property
    def has_dispersion(self) -> bool:
        """True for the Gamma and inverse Gaussian families (a dispersion parameter counted
        in logLik's df, as lme4)."""
        return self.name in DISPERSION

    def mu(self, eta: np.ndarray) -> np.ndarray:
        """Mean per trial (probability) or per row.

        A probability is bounded as lme4's glmFamily.cpp bounds it: cloglog in
        [ε, 1 − ε], probit ≤ 1 − ε. Unbounded, a group whose rows are all successes drives
        μ to exactly 1, V(μ) to 0 and the working weight (dμ/dη)²/V(μ) to overflow.
        """
        mu = inverse_link_fn(self.link)(eta)
        if self.binomial and self.link in ("cloglog", "probit"):
            eps = np.finfo(float).eps
            mu = np.clip(mu, eps if self.link == "cloglog" else None, 1.0 - eps)
        return mu

    def linkfun(self, mu: np.ndarray) -> np.ndarray:
        """η = g(μ) (R's ``family$linkfun``)."""
        return _linkfun(self.link, mu)

    def valid(self, eta: np.ndarray) -> bool:
        """R's ``valideta`` and ``validmu``: a finite mean inside the family's range (a
        probability in [0, 1]: R's logit inverse keeps it off the bounds, ours may round to
        them under separation; else positive)."""
        with np.errstate(all="ignore"):
            mu = self.mu(eta)
            if not np.all(np.isfinite(mu)):
                return False
            if self.link in ("inverse", "1/mu^2") and np.any(eta <= 0):
                return False
            return bool(np.all((mu >= 0) & (mu <= 1)) if self.binomial else np.all(mu > 0))

    def mu_eta(self, eta: np.ndarray) -> np.ndarray:
        """dμ/dη (R's ``family$mu.eta``)."""
        return _mu_eta(self.link, eta)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        if self.binomial:
            return mu * (1 - mu)
        if self.name == "poisson":
            return mu
        if self.name == "gamma":
            return mu * mu
        if self.name == "wald":
            return mu ** 3
        return mu + mu * mu / self.theta

    def start(self, y: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Starting linear predictor from the data (R's ``mustart`` through the link)."""
        if self.binomial:
            mu = (y + 0.5) / (n + 1.0)
        elif self.name == "poisson":
            mu = y + 0.1
        elif self.name in DISPERSION:
            mu = y
        else:
            mu = y + (y == 0) / 6.0
        return _linkfun(self.link, mu)

    def score_weight(self, eta: np.ndarray, y: np.ndarray, n: np.ndarray):
        """Derivative of log p wrt η and the Fisher (IRLS working) weight n·(dμ/dη)²/V(μ)
        (for canonical links equal to the negative second derivative)."""
        mu = self.mu(eta)
        if self.binomial and self.link == "logit":
            return y - n * mu, np.maximum(n * mu * (1 - mu), _TINY)
        if self.name == "poisson" and self.link == "log":
            return n * (y - mu), np.maximum(n * mu, _TINY)
        d = _mu_eta(self.link, eta)
        v = np.maximum(self.variance(mu), _TINY)
        resid = y / n - mu if self.binomial else y - mu
        return n * resid * d / v, np.maximum(n * d * d / v, _TINY)

    def log_constant(self, y: np.ndarray, n: np.ndarray) -> np.ndarray:
        """The part of log p(yᵢ | ηᵢ) free of η: log C(n, y) or −log y! (0 for gamma, the
        inverse Gaussian and the negative binomial, whose log-likelihood is computed whole)."""
        if self.binomial:
            return special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
        if self.name == "poisson":
            return -special.gammaln(y + 1)
        return np.zeros_like(y, dtype=float)

    def pointwise_loglik(self, eta: np.ndarray, y: np.ndarray, n: np.ndarray,
                         const: np.ndarray | None = None) -> np.ndarray:
        """log p(yᵢ | ηᵢ) as R's d* functions (times the prior weight for non-binomial families).

        ``const`` is :meth:`log_constant` when precomputed (it does not depend on η).
        """
        const = self.log_constant(y, n) if const is None else const
        if self.binomial:
            if self.link == "logit":  # y log μ + (n − y) log(1 − μ) = y η − n log(1 + eᶯ)
                return const + y * eta - n * np.logaddexp(0.0, eta)
            mu = np.clip(self.mu(eta), _TINY, 1 - 1e-16)
            return const + special.xlogy(y, mu) + special.xlog1py(n - y, -mu)
        if self.name == "poisson":
            if self.link == "log":
                return n * (const + y * eta - np.exp(eta))
            mu = np.maximum(self.mu(eta), _TINY)
            return n * (const + special.xlogy(y, mu) - mu)
        mu = self.mu(eta)
        if self.name == "gamma":
            disp = self.deviance(eta, y, n) / np.sum(n)
            from scipy import stats   # deferred: see _mu_eta

            return n * stats.gamma.logpdf(y, 1.0 / disp, scale=mu * disp)
        if self.name == "wald":   # R's inverse.gaussian()$aic, term by term
            disp = self.deviance(eta, y, n) / np.sum(n)
            return n * (-0.5 * np.log(2.0 * np.pi * disp * y ** 3)
                        - (y - mu) ** 2 / (2.0 * disp * y * mu * mu))
        th = self.theta
        return n * (special.gammaln(th + y) - special.gammaln(th) - special.gammaln(y + 1)
                    + th * np.log(th) + special.xlogy(y, mu) - (th + y) * np.log(th + mu))

    def loglik(self, eta: np.ndarray, y: np.ndarray, n: np.ndarray,
               const: np.ndarray | None = None) -> float:
        """Σ log p(yᵢ | ηᵢ); for the Gamma and inverse Gaussian families R's ``−aic/2`` (with
        its −1 for the dispersion)."""
        total = float(np.sum(self.pointwise_loglik(eta, y, n, const)))
        return total - 1.0 if self.has_dispersion else total

    def deviance_residuals(self, eta: np.ndarray, y: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Squared deviance residuals per row (R's ``family$dev.resids``)."""
        mu = self.mu(eta)
        if self.binomial:
            term1 = special.xlogy(y, y) - special.xlogy(y, n * mu)
            term2 = special.xlogy(n - y, n - y) - (n - y) * np.log(np.maximum(n * (1 - mu), _TINY))
            return 2 * (term1 + term2)
        if self.name == "poisson":
            return 2 * n * (special.xlogy(y, y) - special.xlogy(y, mu) - (y - mu))
        if self.name == "gamma":
            return -2 * n * (np.log(y / mu) - (y - mu) / mu)
        if self.name == "wald":
            return n * (y - mu) ** 2 / (y * mu * mu)
        th = self.theta
        return 2 * n * (special.xlogy(y, y / np.maximum(mu, _TINY))
                        - (y + th) * np.log((y + th) / (mu + th)))

    def deviance(self, eta: np.ndarray, y: np.ndarray, n: np.ndarray) -> float:
        return float(np.sum(self.deviance_residuals(eta, y, n)))
