"""The profiled deviance of designs with known-covariance terms, ``(1 | gr(g, cov = A))``.

lme4's profiled deviance (:mod:`multilevel.freq.deviance`) with a general relative
covariance factor: Λθ is block diagonal with I_m ⊗ T(θ) for ordinary terms and θ·R for a
term whose effects are N(0, σ²θ² A), A = R R' (:mod:`multilevel.formula.known`). So
b = Λθ u with u ~ N(0, σ² I) as in lme4, and with the same PLS equations,

    A(θ) = Λ'Z'WZΛ + I = L L',  -2ℓ_R = log|A| + log|R_X'R_X| + (n−p)(1 + log(2π r²/(n−p))).

The block backend of :mod:`multilevel.freq.factor` relies on every row of Z touching one
level per term, which ZR does not; here A(θ) is factored as a whole: densely (LAPACK) up
to :data:`DENSE_MAX` random effects, else by a sparse factorization (CHOLMOD when
scikit-sparse is installed, SuperLU otherwise). The result is a
:class:`~multilevel.freq.deviance.PLSSolution`, so :class:`~multilevel.freq.FreqFit` reads
it as any other; :func:`~multilevel.freq.deviance.make_deviance` dispatches here.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from multilevel.freq.factor import cholmod_available, term_factor

DENSE_MAX = 3000   # random effects up to which A(θ) is factored as a dense matrix
CHUNK = 512        # right-hand sides per solve when extracting blocks of A⁻¹


def has_general_terms(design) -> bool:
    """Whether any term of the design has a known covariance or is a smooth's random part."""
    return any(t.is_general for t in design.reterms)


def lambda_general(design, theta: np.ndarray) -> sp.csc_matrix:
    """Λθ: I_m ⊗ T for ordinary terms, θ·R for known-covariance terms."""
    blocks, start = [], 0
    for term in design.reterms:
        k = term.n_theta
        T = term_factor(theta[start:start + k], term.q)
        start += k
        if term.known is not None:
            root = term.known.root
            blocks.append(sp.csc_matrix(root) * T[0, 0] if sp.issparse(root)
                          else sp.csc_matrix(np.asarray(root) * T[0, 0]))
        else:
            blocks.append(sp.kron(sp.identity(term.n_levels, format="csc"), sp.csc_matrix(T),
                                  format="csc"))
    return sp.block_diag(blocks, format="csc")


class GeneralFactor:
    """Cholesky factor of A(θ) = Λ'Z'WZΛ + I, dense or sparse (see the module docstring)."""

    def __init__(self, design, Lam: sp.csc_matrix, ZtWZ: sp.csc_matrix):
        self.design, self.Lam = design, Lam
        Q = Lam.shape[0]
        A = (Lam.T @ ZtWZ @ Lam + sp.identity(Q, format="csc")).tocsc()
        self.dense = Q <= DENSE_MAX or not cholmod_available() and A.nnz > 0.2 * Q * Q
        if self.dense:
            self.L = sla.cholesky(A.toarray(), lower=True, check_finite=False)
            self.logdet = 2.0 * float(np.sum(np.log(np.diag(self.L))))
        elif cholmod_available():
            from sksparse.cholmod import cholesky

            self._f = cholesky(A)
            self.logdet = float(self._f.logdet())
        else:
            from scipy.sparse.linalg import splu

            self._f = splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                           options={"SymmetricMode": True})
            self.logdet = float(np.sum(np.log(np.abs(self._f.U.diagonal()))))

    def solve(self, B: np.ndarray) -> np.ndarray:
        """A⁻¹B."""
        B = np.asarray(B, dtype=float)
        if self.dense:
            return sla.cho_solve((self.L, True), B, check_finite=False)
        if cholmod_available():
            return np.asarray(self._f.solve_A(B))
        return np.asarray(self._f.solve(B))

    def inverse_diagonal_blocks(self) -> list[np.ndarray]:
        """Per term, (levels, q, q) blocks of A⁻¹ — for a known-covariance term the diagonal
        of R (A⁻¹)ₖₖ R', so that θ² times it is the conditional variance of b/σ². Solved
        :data:`CHUNK` columns at a time, so memory stays O(Q · CHUNK)."""
        Q = self.Lam.shape[0]
        out, start = [], 0
        for term in self.design.reterms:
            q, m = term.q, term.n_levels
            if term.known is not None:
                R = term.known.root
                diag = np.empty(m)
                for lo in range(0, m, CHUNK):
                    hi = min(m, lo + CHUNK)
                    Rt = R[lo:hi].toarray().T if hasattr(R, "toarray") else np.asarray(R[lo:hi]).T
                    rhs = np.zeros((Q, hi - lo))
                    rhs[start:start + m] = Rt
                    diag[lo:hi] = np.sum(Rt * self.solve(rhs)[start:start + m], axis=0)
                out.append(diag.reshape(m, 1, 1))
            else:
                blocks = np.empty((m, q, q))
                step = max(1, CHUNK // q)
                for lo in range(0, m, step):
                    hi = min(m, lo + step)
                    cols = start + np.arange(lo * q, hi * q)
                    rhs = np.zeros((Q, len(cols)))
                    rhs[cols, np.arange(len(cols))] = 1.0
                    X = self.solve(rhs)[cols].reshape(hi - lo, q, hi - lo, q)
                    blocks[lo:hi] = X[np.arange(hi - lo), :, np.arange(hi - lo), :]
                out.append(blocks)
            start += q * m
        return out


def make_general_deviance(design, reml: bool, solution_class):
    """The profiled deviance of a design with known-covariance terms, a pure function of θ.

    Returns ``deviance(theta) -> float`` with ``deviance.solution(theta)`` giving a
    ``solution_class`` (:class:`~multilevel.freq.deviance.PLSSolution`, passed in by
    :func:`multilevel.freq.deviance.make_deviance`, which calls this), as that function.
    """
    X = design.X
    y = np.asarray(design.y, dtype=float) - design.offset_or_zero
    w = design.weights
    Z = design.Z().tocsc()
    ZW = Z if w is None else sp.diags(w) @ Z
    ZtWZ = (Z.T @ ZW).tocsc()
    Xy = np.column_stack([X, y])
    wXy = Xy if w is None else Xy * w[:, None]
    ZtXy = np.asarray(Z.T @ wXy)
    XyXy = Xy.T @ wXy
    n, p = X.shape
    logdet_W = float(np.sum(np.log(w))) if w is not None else 0.0

    def solution(theta):
        theta = np.asarray(theta, dtype=float)
        Lam = lambda_general(design, theta)
        factor = GeneralFactor(design, Lam, ZtWZ)
        rhs = np.asarray(Lam.T @ ZtXy)
        sol = factor.solve(rhs)
        AiX, Aiy = sol[:, :p], sol[:, p]
        rhsX = rhs[:, :p]
        RXtRX = XyXy[:p, :p] - rhsX.T @ AiX
        RXtRX = 0.5 * (RXtRX + RXtRX.T)
        RX = np.linalg.cholesky(RXtRX)
        beta = np.linalg.solve(RX.T, np.linalg.solve(RX, XyXy[:p, p] - rhsX.T @ Aiy))
        u = Aiy - AiX @ beta
        resid = y - X @ beta - Z @ (Lam @ u)
        r2 = float(resid @ (resid if w is None else w * resid) + u @ u)
        return solution_class(theta=theta, beta=beta, u=u, r2=r2, logdet_A=factor.logdet,
                           logdet_RX=2.0 * float(np.sum(np.log(np.diag(RX)))), RXtRX=RXtRX,
                           factor=factor, logdet_W=logdet_W)

    def deviance(theta) -> float:
        return solution(theta).deviance(n, p, reml)

    deviance.solution = solution
    return deviance
