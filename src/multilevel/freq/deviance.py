"""lme4's profiled deviance of a linear mixed model as a pure function of θ.

Bates, Mächler, Bolker & Walker (2015), J. Stat. Softw. 67(1), section 3. For a
given θ, with Λθ the relative covariance factor and u the spherical random effects,

    A = Λ'Z'ZΛ + I = L L',    solve the penalized least squares for (u, β),
    r² = ||y - Xβ - ZΛu||² + ||u||²,
    ML:   -2ℓ = log|A| + n (1 + log(2π r²/n))
    REML: -2ℓ_R = log|A| + log|R_X'R_X| + (n-p)(1 + log(2π r²/(n-p)))

β and σ are profiled out; only θ is optimized.

The factor L of A comes from one of the backends of :mod:`multilevel.freq.factor`:
by default a block factorization that needs only numpy/scipy (the first term's block
is block diagonal; the other terms form a small dense Schur complement), or a sparse
Cholesky (CHOLMOD through scikit-sparse, an optional extra) for designs whose
non-first terms have many thousands of levels.

With ``solver="auto"`` the optimizer's evaluations take a faster route where one applies
(:mod:`multilevel.freq.augmented`: the augmented system [Z X y] factored once per θ,
densely for small designs or as a Schur complement when every term is scalar); they give
the same criterion to rounding (~1e-13 relative), and :func:`solve_pls` still assembles
the fit at θ̂.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multilevel.formula import Design
from multilevel.freq.augmented import fast_path
from multilevel.freq.factor import lambda_t_times, lambda_times, make_factor, term_factors
from multilevel.freq.layout import Crossproducts, Layout


@dataclass(frozen=True)
class PLSSolution:
    """Everything the deviance at one θ determines."""

    theta: np.ndarray
    beta: np.ndarray
    u: np.ndarray
    r2: float
    logdet_A: float
    logdet_RX: float
    RXtRX: np.ndarray
    factor: object
    logdet_W: float = 0.0   # Σ log wᵢ of prior weights (lme4's ldW), 0 without weights

    def deviance(self, n: int, p: int, reml: bool) -> float:
        return criterion(self.logdet_A, self.logdet_RX, self.logdet_W, self.r2, n, p, reml)


def criterion(logdet_A: float, logdet_RX: float, logdet_W: float, r2: float, n: int, p: int,
              reml: bool) -> float:
    """The REML criterion or −2 log-likelihood from the pieces of the PLS solution."""
    if reml:
        nmp = n - p
        return float(logdet_A + logdet_RX - logdet_W + nmp * (1.0 + np.log(2.0 * np.pi * r2 / nmp)))
    return float(logdet_A - logdet_W + n * (1.0 + np.log(2.0 * np.pi * r2 / n)))


def solve_pls(layout: Layout, cp: Crossproducts, theta: np.ndarray, solver: str = "auto",
              residuals: bool = True) -> PLSSolution:
    """Penalized least squares at θ: conditional modes u, β̂(θ), r²(θ) and log-determinants.

    ``residuals`` computes r² from the residual vector (exact; weighted by ``cp.weights``,
    the prior weights of a weighted LMM); otherwise from the cross-products (PIRLS steps,
    where only β and u matter).
    """
    theta = np.asarray(theta, dtype=float)
    Ts = term_factors(layout, theta)
    factor = make_factor(layout, cp, Ts, solver)
    p = layout.p
    Zxy = np.concatenate([cp.Z1Xy.reshape(layout.Q1, -1), cp.ZrXy])
    rhs = lambda_t_times(layout, Ts, Zxy)                    # Λ'Z'W[X y]
    sol = factor.solve(rhs)
    AiX, Aiy = sol[:, :p], sol[:, p]
    rhsX, rhsy = rhs[:, :p], rhs[:, p]
    RXtRX = cp.XyXy[:p, :p] - rhsX.T @ AiX
    RXtRX = 0.5 * (RXtRX + RXtRX.T)
    RX = np.linalg.cholesky(RXtRX)
    beta = np.linalg.solve(RX.T, np.linalg.solve(RX, cp.XyXy[:p, p] - rhsX.T @ Aiy))
    u = Aiy - AiX @ beta
    if residuals:
        resid = layout.y - layout.X @ beta - layout.Z @ lambda_times(layout, Ts, u)
        w = cp.weights
        r2 = float(resid @ (resid if w is None else w * resid) + u @ u)
    else:
        r2 = float(cp.XyXy[p, p] - 2 * beta @ cp.XyXy[:p, p] + beta @ cp.XyXy[:p, :p] @ beta
                   - (rhsy - rhsX @ beta) @ u)
    logdet_W = float(np.sum(np.log(cp.weights))) if residuals and cp.weights is not None else 0.0
    return PLSSolution(theta=theta, beta=beta, u=u, r2=r2, logdet_A=factor.logdet,
                       logdet_RX=2.0 * float(np.sum(np.log(np.diag(RX)))), RXtRX=RXtRX, factor=factor,
                       logdet_W=logdet_W)


def make_deviance(design: Design, reml: bool = True, solver: str = "auto"):
    """The profiled deviance (REML criterion when ``reml``) as a pure function of θ.

    Parameters
    ----------
    design : Design
        From :func:`multilevel.formula.build_design`; needs at least one random-effects term.
    reml : bool
    solver : {"auto", "block", "cholmod", "splu"}
        How A = Λ'Z'ZΛ + I is factored (see :mod:`multilevel.freq.factor`).

    Returns
    -------
    callable
        ``deviance(theta) -> float``; θ in lme4's order (``design.theta_names()``).
        ``deviance.solution(theta)`` returns the :class:`PLSSolution` (β̂, u, r², factors).

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.formula import build_design, model_frame, parse_formula
    >>> parsed = parse_formula("Reaction ~ Days + (Days | Subject)")
    >>> design = build_design(parsed, model_frame(parsed, ml.datasets.load("sleepstudy")))
    >>> dev = make_deviance(design, reml=True)
    >>> round(dev([0.966741773967412, 0.0151690588960361, 0.230909953207795]), 4)
    1743.6283
    """
    if any(t.is_general for t in design.reterms):   # gr(g, cov = A), s(x): multilevel.freq.known
        from multilevel.freq.known import make_general_deviance

        return make_general_deviance(design, reml, PLSSolution)
    layout = Layout.from_design(design)
    cp = layout.crossproducts(layout.weights)
    n, p = layout.n, layout.p

    def solution(theta) -> PLSSolution:
        return solve_pls(layout, cp, theta, solver)

    dense = fast_path(layout, cp, solver)

    def deviance(theta) -> float:
        parts = None if dense is None else dense.terms(theta)
        if parts is None:
            return solution(theta).deviance(n, p, reml)
        logdet_A, logdet_RX, r2 = parts
        return criterion(logdet_A, logdet_RX, dense.logdet_W, r2, n, p, reml)

    deviance.solution = solution  # the whole PLS solution at θ, for assembling the fit
    if dense is not None:  # the general path, for decisions taken on rounding-level differences
        deviance.reference = lambda theta: solution(theta).deviance(n, p, reml)
    return deviance
