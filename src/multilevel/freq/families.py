"""GLM families with canonical links (binomial/bernoulli: logit; poisson: log), as R's.

The log-likelihood includes the normalizing constants R includes (the binomial
coefficient, ``log y!``), so logLik/AIC/BIC equal R's ``glm`` and lme4's ``glmer``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from multilevel.errors import FamilyError
from multilevel.formula.links import inverse_link

LINKS = {"binomial": "logit", "bernoulli": "logit", "poisson": "log"}


@dataclass(frozen=True)
class Family:
    """Link, inverse link, variance and log-likelihood of a GLM family."""

    name: str

    def __post_init__(self):
        if self.name not in LINKS:
            raise FamilyError(f"No GLM family {self.name!r}; use one of {tuple(LINKS)}.")

    @property
    def binomial(self) -> bool:
        return self.name in ("binomial", "bernoulli")

    @property
    def link(self) -> str:
        return LINKS[self.name]

    def mu(self, eta: np.ndarray) -> np.ndarray:
        """Mean per trial (probability) or per row (Poisson rate)."""
        return inverse_link(self.name, eta)

    def start(self, y: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Starting linear predictor from the data (R's ``mustart``)."""
        if self.binomial:
            p = (y + 0.5) / (n + 1.0)
            return np.log(p / (1 - p))
        return np.log(y + 0.1)

    def score_weight(self, eta: np.ndarray, y: np.ndarray, n: np.ndarray):
        """Derivative of log p wrt η and the Fisher weight (canonical links: equal to the
        negative second derivative)."""
        mu = self.mu(eta)
        if self.binomial:
            return y - n * mu, np.maximum(n * mu * (1 - mu), 1e-300)
        return y - mu, np.maximum(mu, 1e-300)

    def log_constant(self, y: np.ndarray, n: np.ndarray) -> np.ndarray:
        """The part of log p(yᵢ | ηᵢ) free of η: log C(n, y) or −log y!."""
        if self.binomial:
            return special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
        return -special.gammaln(y + 1)

    def pointwise_loglik(self, eta: np.ndarray, y: np.ndarray, n: np.ndarray,
                         const: np.ndarray | None = None) -> np.ndarray:
        """log p(yᵢ | ηᵢ), with the binomial coefficient / log y! (R's dbinom / dpois).

        ``const`` is :meth:`log_constant` when precomputed (it does not depend on η).
        """
        const = self.log_constant(y, n) if const is None else const
        if self.binomial:  # y log μ + (n − y) log(1 − μ) = y η − n log(1 + eᶯ)
            return const + y * eta - n * np.logaddexp(0.0, eta)
        return const + y * eta - np.exp(eta)

    def loglik(self, eta: np.ndarray, y: np.ndarray, n: np.ndarray,
               const: np.ndarray | None = None) -> float:
        return float(np.sum(self.pointwise_loglik(eta, y, n, const)))

    def deviance_residuals(self, eta: np.ndarray, y: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Squared deviance residuals per row (R's ``family$dev.resids``)."""
        mu = self.mu(eta)
        if self.binomial:
            term1 = special.xlogy(y, y) - special.xlogy(y, n * mu)
            term2 = special.xlogy(n - y, n - y) - (n - y) * np.log(np.maximum(n * (1 - mu), 1e-300))
            return 2 * (term1 + term2)
        return 2 * (special.xlogy(y, y) - special.xlogy(y, mu) - (y - mu))

    def deviance(self, eta: np.ndarray, y: np.ndarray, n: np.ndarray) -> float:
        return float(np.sum(self.deviance_residuals(eta, y, n)))
