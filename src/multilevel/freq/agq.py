"""Adaptive Gauss-Hermite quadrature for a GLMM with one scalar random effect (glmer nAGQ > 1).

With a single ``(1 | g)``-type term the likelihood factorizes over the levels of g,
each a one-dimensional integral over the spherical effect u_l ~ N(0, 1). Centred at
the conditional mode û_l and scaled by its Laplace standard deviation
σ_l = (1 + θ² Σᵢ wᵢ zᵢ²)^(-1/2) (i in level l), the integral is evaluated with
K Gauss-Hermite points z_k, weights ω_k:

    −2 log L_l ≈ −2 log(σ_l/√π) − 2 log Σ_k ω_k exp(z_k² − f_l(û_l + √2 σ_l z_k)/2),

where f_l(u) = −2 log p(y_l | u) + u². With K = 1 this is the Laplace approximation.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp


class AGQDeviance:
    """−2 log-likelihood by AGQ as a function of ``concat(θ, β)``."""

    def __init__(self, problem, nagq: int, warm: dict):
        self.problem, self.warm = problem, warm
        self.nodes, self.weights = np.polynomial.hermite.hermgauss(nagq)
        term = problem.design.reterms[0]
        self.codes, self.x, self.levels = term.codes, term.X[:, 0], term.n_levels

    def __call__(self, par) -> float:
        pb = self.problem
        par = np.asarray(par, dtype=float)
        theta, beta = par[:pb.nth], par[pb.nth:]
        _, u, eta, _ = pb.pirls_u(theta, beta, self.warm.get("u"))
        if np.all(np.isfinite(u)):   # a failed point must not seed the next
            self.warm["u"] = u
        _, w = pb.family.score_weight(eta, pb.y, pb.n)
        t = float(theta[0])
        curvature = 1.0 + t * t * np.bincount(self.codes, weights=w * self.x ** 2, minlength=self.levels)
        sd = 1.0 / np.sqrt(curvature)                                        # σ_l
        offset = pb.X @ beta + pb.off
        terms = []
        for z, omega in zip(self.nodes, self.weights):
            uk = u + np.sqrt(2.0) * sd * z                                   # per level
            eta_k = offset + t * self.x * uk[self.codes]
            ll = np.bincount(self.codes, weights=pb.family.pointwise_loglik(eta_k, pb.y, pb.n, pb.const),
                             minlength=self.levels)
            f = -2.0 * ll + uk ** 2
            terms.append(np.log(omega) + z * z - f / 2.0)
        per_level = -2.0 * np.log(sd / np.sqrt(np.pi)) - 2.0 * logsumexp(np.vstack(terms), axis=0)
        return float(np.sum(per_level))
