"""The Gaussian mixed model with its coefficients and group effects integrated out.

Model, in lme4's notation with the Bayesian model's Normal prior on β::

    y | β, u ~ N(Xβ + ZΛθ u, σ² I),   u ~ N(0, σ² I),   β ~ N(m, P⁻¹).

Given (θ, σ), (β, u) is jointly Gaussian. Its mode minimises the penalized sum of
squares ``||y − Xβ − ZΛu||² + ||u||² + σ²(β − m)'P(β − m)`` — lme4's penalized least
squares with σ²P added to X'X — so the frequentist engine's factorization of
A = Λ'Z'ZΛ + I (:mod:`multilevel.freq.factor`) does the sparse work. With r² the
minimum and R_X'R_X = X'X + σ²P − X'ZΛ A⁻¹ Λ'Z'X::

    log p(y | θ, σ) = −n/2 log(2πσ²) + p log σ + ½ log|P| − r²/(2σ²)
                      − ½ log|A| − ½ log|R_X'R_X|.

Draws of (β, u) given (θ, σ) come from the same solve with a perturbed right-hand
side (y + σε, u-prior centre σηᵤ, β-prior centre m + P^{-½}η_β; "perturb and
optimise", Papandreou & Yuille 2010): the minimiser of the perturbed objective is an
exact draw from N(mode, σ²H⁻¹).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from multilevel.formula import Design
from multilevel.freq.factor import lambda_t_times, lambda_times, make_factor, term_factors
from multilevel.freq.layout import Layout

LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class ConditionalState:
    """Everything one (θ, σ) determines: the marginal log-likelihood and what a draw needs."""

    theta: np.ndarray
    sigma: float
    loglik: float
    Ts: list
    factor: object
    AiX: np.ndarray          # A⁻¹Λ'Z'X
    rhsX: np.ndarray         # Λ'Z'X
    RX: np.ndarray           # lower Cholesky factor of R_X'R_X


class MarginalGaussian:
    """log p(y | θ, σ) with β and u integrated out, and draws of (β, u) given (θ, σ).

    Parameters
    ----------
    design : Design
        Supplies y and the random-effects terms (lme4's layout and θ order).
    X : ndarray (n, p)
        The fixed-effects matrix in the parameterization of the prior (the Bayesian
        model's: Bambi centres the slopes' columns when there is an intercept).
    prior_mean, prior_sd : ndarray (p,)
        Independent Normal priors on the coefficients.
    solver : str
        Backend of the factorization (:func:`multilevel.freq.factor.make_factor`).
    """

    def __init__(self, design: Design, X: np.ndarray, prior_mean, prior_sd, solver: str = "auto"):
        self.layout = dataclasses.replace(Layout.from_design(design), X=np.asarray(X, dtype=float))
        self.cp = self.layout.crossproducts()
        self.solver = solver
        self.m = np.asarray(prior_mean, dtype=float)
        self.prec = 1.0 / np.asarray(prior_sd, dtype=float) ** 2
        lay = self.layout
        self.n, self.p = lay.n, lay.p
        self.Zty = np.concatenate([self.cp.Z1Xy.reshape(lay.Q1, -1)[:, -1], self.cp.ZrXy[:, -1]])
        self.ZtX = np.concatenate([self.cp.Z1Xy.reshape(lay.Q1, -1)[:, :-1], self.cp.ZrXy[:, :-1]])
        self.XtX = self.cp.XyXy[:-1, :-1]
        self.Xty = self.cp.XyXy[:-1, -1]
        self.half_logdet_prec = 0.5 * float(np.sum(np.log(self.prec)))

    # ------------------------------------------------------------------ density
    def state(self, theta: np.ndarray, sigma: float) -> ConditionalState:
        """Factor at (θ, σ) and evaluate the marginal log-likelihood there."""
        lay = self.layout
        theta = np.asarray(theta, dtype=float)
        Ts = term_factors(lay, theta)
        factor = make_factor(lay, self.cp, Ts, self.solver)
        rhs = lambda_t_times(lay, Ts, np.column_stack([self.ZtX, self.Zty]))
        sol = factor.solve(rhs)
        rhsX, AiX, Aiy = rhs[:, :-1], sol[:, :-1], sol[:, -1]
        s2 = sigma * sigma
        RXtRX = self.XtX + np.diag(s2 * self.prec) - rhsX.T @ AiX
        RX = np.linalg.cholesky(0.5 * (RXtRX + RXtRX.T))
        beta = sla.cho_solve((RX, True), self.Xty + s2 * self.prec * self.m - rhsX.T @ Aiy)
        u = Aiy - AiX @ beta
        resid = lay.y - lay.X @ beta - lay.Z @ lambda_times(lay, Ts, u)
        db = beta - self.m
        r2 = float(resid @ resid + u @ u + s2 * np.sum(self.prec * db * db))
        loglik = (-0.5 * self.n * (LOG_2PI + np.log(s2)) + self.p * np.log(sigma) + self.half_logdet_prec
                  - 0.5 * r2 / s2 - 0.5 * factor.logdet - float(np.sum(np.log(np.diag(RX)))))
        return ConditionalState(theta=theta, sigma=float(sigma), loglik=float(loglik), Ts=Ts,
                                factor=factor, AiX=AiX, rhsX=rhsX, RX=RX)

    # -------------------------------------------------------------------- draws
    def draw(self, state: ConditionalState, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One exact draw of (β, b) given (θ, σ); b = Λu on the data scale, lme4's order."""
        lay, sigma = self.layout, state.sigma
        eps = rng.standard_normal(self.n)
        eta_u = rng.standard_normal(len(self.Zty))
        eta_b = rng.standard_normal(self.p)
        y_t = lay.y + sigma * eps
        rhs_y = lambda_t_times(lay, state.Ts, (lay.Z.T @ y_t)[:, None])[:, 0] + sigma * eta_u
        Aiy = state.factor.solve(rhs_y[:, None])[:, 0]
        s2 = sigma * sigma
        m_t = self.m + eta_b / np.sqrt(self.prec)
        beta = sla.cho_solve((state.RX, True), lay.X.T @ y_t + s2 * self.prec * m_t - state.rhsX.T @ Aiy)
        u = Aiy - state.AiX @ beta
        return beta, lambda_times(lay, state.Ts, u)
