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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from multilevel.formula import Design
from multilevel.freq.factor import lambda_dense, lambda_t_times, lambda_times, make_factor, term_factors
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


DENSE_MAX = 160   # Q + p + 1 up to which the augmented system is factored densely


class DenseDeviance:
    """The profiled deviance from one dense Cholesky factor of the augmented system

        Ω = Λ̃'[Z X y]'W[Z X y]Λ̃ + diag(I_Q, 0),    Λ̃ = diag(Λθ, I_{p+1}),

    whose factor holds L (first Q columns), R_X (next p) and √r² (the last diagonal entry),
    as MixedModels.jl's blocked factor does. For small Q (sleepstudy, Penicillin) this is
    one LAPACK call and a few array operations per θ, where :func:`solve_pls` spends
    ~100-400 µs in Python and sparse-matrix overhead. Λθ comes from :func:`term_factors`
    (the θ → Λ mapping) as dense per-term blocks, so any block structure works; all-scalar
    terms take the elementwise shortcut Ω = M ∘ λ̃λ̃'.
    """

    def __init__(self, layout: Layout, cp: Crossproducts):
        self.layout = layout
        Q, p = sum(layout.widths), layout.p
        self.Q, self.p = Q, p
        M = np.empty((Q + p + 1, Q + p + 1))
        M[:Q, :Q] = cp.ZtWZ.toarray()
        M[:Q, Q:] = np.concatenate([cp.Z1Xy.reshape(layout.Q1, -1), cp.ZrXy])
        M[Q:, :Q] = M[:Q, Q:].T
        M[Q:, Q:] = cp.XyXy
        self.M = M
        self.scalar = all(q == 1 for q in layout.qs)
        self.logdet_W = float(np.sum(np.log(cp.weights))) if cp.weights is not None else 0.0

    def terms(self, theta) -> tuple[float, float, float] | None:
        """(log|A|, log|R_X'R_X|, r²) at θ, or None where the augmented factor breaks down
        (a rank-deficient X or an exact fit: the general path decides what to report)."""
        lay, Q, p = self.layout, self.Q, self.p
        Ts = term_factors(lay, np.asarray(theta, dtype=float))
        if self.scalar:
            lam = np.ones(Q + p + 1)
            lam[:Q] = np.repeat([T[0, 0] for T in Ts], lay.n_levels)
            Om = self.M * lam[:, None] * lam[None, :]
        else:
            Lam = lambda_dense(lay, Ts, p + 1)
            Om = Lam.T @ self.M @ Lam
        Om.ravel()[:Q * (Q + p + 2):Q + p + 2] += 1.0          # + I on the Z block's diagonal
        # symmetric: its transpose is the same matrix in Fortran order (no copy)
        L, info = lapack.dpotrf(Om.T, lower=1, clean=0, overwrite_a=1)
        if info != 0:
            return None
        d = np.log(L.ravel()[::Q + p + 2])
        return 2.0 * float(d[:Q].sum()), 2.0 * float(d[Q:Q + p].sum()), float(L[-1, -1]) ** 2


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
    layout = Layout.from_design(design)
    cp = layout.crossproducts(layout.weights)
    n, p = layout.n, layout.p

    def solution(theta) -> PLSSolution:
        return solve_pls(layout, cp, theta, solver)

    dense = DenseDeviance(layout, cp) if solver == "auto" and sum(layout.widths) + p + 1 <= DENSE_MAX \
        else None

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
