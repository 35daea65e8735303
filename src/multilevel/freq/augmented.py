"""The profiled deviance from one Cholesky factor of the augmented system, without the
general path's per-θ Python and sparse-matrix work.

The augmented system of a linear mixed model at θ is

    Ω = Λ̃'[Z X y]'W[Z X y]Λ̃ + diag(I_Q, 0),    Λ̃ = diag(Λθ, I_{p+1}),

and its lower Cholesky factor holds the factor of A = Λ'Z'WZΛ + I (first Q columns),
R_X (next p) and √r² (the last diagonal entry), so log|A|, log|R_X'R_X| and r² come
out of one factorization, as in MixedModels.jl's blocked factor. Two forms:

* :class:`DenseDeviance` (small Q + p + 1): Ω whole and dense, one LAPACK call.
* :class:`ScalarSchurDeviance` (every term scalar, the block backend's designs such as
  InstEval): the first term's diagonal block is eliminated in closed form, and the rest
  terms with [X y] form one dense Schur complement, assembled from fixed sparse products
  (no C matrix, no triangular solves or residual vector per θ).

Both build Λθ from :func:`~multilevel.freq.factor.term_factors` (the θ → Λ mapping): any
block structure works in the dense form; the Schur form applies when all blocks are 1×1.
:func:`solve_pls` (the general path) still gives the whole solution at θ̂.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from multilevel.freq.factor import choose_solver, lambda_dense, term_factors
from multilevel.freq.layout import Crossproducts, Layout

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


class ScalarSchurDeviance:
    """log|A|, log|R_X'R_X| and r² for designs whose terms are all scalar (q = 1).

    With the first term's block A₁₁ = diag(aₗ), aₗ = 1 + θ₁² dₗ (dₗ = Σ wᵢ zᵢ² in level l),
    eliminated, the rest of Ω is the Schur complement (t = the rest terms' θ per column)

        S_rr = I + t t' ∘ (R₂₂ − θ₁² P' diag(1/a) P)      P = Z₁'WZ_r (level pairs)
        S_ry = t ∘ (Z_r'W[X y] − θ₁² P' diag(1/a) Z₁'W[X y])
        S_yy = [X y]'W[X y] − θ₁² (Z₁'W[X y])' diag(1/a) Z₁'W[X y]

    and log|A| = Σ log aₗ + log|L_rr|², the rest from the factor of S. P' diag(1/a) P is
    a fixed sparse matrix times 1/a (``cp.scalar_coupling``); only the upper triangle is
    filled, which is what LAPACK reads.
    """

    def __init__(self, layout: Layout, cp: Crossproducts):
        M, rows, cols = cp.scalar_coupling
        lay = layout
        Q2, p = lay.Q2, lay.p
        K = Q2 + p + 1
        self.Q2, self.p, self.K, self.layout = Q2, p, K, lay
        R22 = cp.R22_dense
        r_rows, r_cols = np.nonzero(np.triu(R22))
        # union of the upper-triangle positions of R₂₂ and of P' diag(1/a) P
        flat_cc, flat_r = rows * Q2 + cols, r_rows * Q2 + r_cols
        union, inverse = np.unique(np.concatenate([flat_cc, flat_r]), return_inverse=True)
        self.u_rows, self.u_cols = union // Q2, union % Q2
        self.flat = self.u_rows * K + self.u_cols
        self.R22u = np.zeros(len(union))
        self.R22u[inverse[len(flat_cc):]] = R22[r_rows, r_cols]
        M = M.tocoo()
        self.Mu = sp.csr_matrix((M.data, (inverse[M.row], M.col)), shape=(len(union), lay.Q1))
        self.d1 = cp.D1[:, 0, 0]
        self.Z1Xy = cp.Z1Xy[:, 0, :]                                      # (L1, p+1)
        indptr, indices, order = lay.a12_structure
        data = np.concatenate([P.ravel() for P in cp.P])[order]
        self.PT = sp.csr_matrix((data, indices, indptr), shape=(lay.Q1, Q2)).T.tocsr()
        self.ZrXy, self.XyXy = cp.ZrXy, cp.XyXy
        self.logdet_W = 0.0

    def terms(self, theta) -> tuple[float, float, float] | None:
        lay, Q2, p, K = self.layout, self.Q2, self.p, self.K
        Ts = term_factors(lay, np.asarray(theta, dtype=float))
        t1 = float(Ts[0][0, 0])
        t = np.repeat([T[0, 0] for T in Ts[1:]], lay.n_levels[1:])
        a = 1.0 + t1 * t1 * self.d1
        inv = 1.0 / a
        S = np.zeros((K, K))
        S.ravel()[self.flat] = t[self.u_rows] * t[self.u_cols] * (self.R22u - (t1 * t1) * (self.Mu @ inv))
        S.ravel()[:Q2 * (K + 1):K + 1] += 1.0
        scaled = (t1 * t1) * (inv[:, None] * self.Z1Xy)
        S[:Q2, Q2:] = t[:, None] * (self.ZrXy - self.PT @ scaled)
        S[Q2:, Q2:] = np.triu(self.XyXy - self.Z1Xy.T @ scaled)
        # the upper triangle of S is the lower triangle of its Fortran-ordered transpose
        L, info = lapack.dpotrf(S.T, lower=1, clean=0, overwrite_a=1)
        if info != 0:
            return None
        d = np.log(L.ravel()[::K + 1])
        return (float(np.sum(np.log(a))) + 2.0 * float(d[:Q2].sum()), 2.0 * float(d[Q2:Q2 + p].sum()),
                float(L[-1, -1]) ** 2)


def fast_path(layout: Layout, cp: Crossproducts, solver: str = "auto"):
    """The augmented-system deviance for this design (an object with ``terms(θ)`` and
    ``logdet_W``), or None where the general path is used: an explicit ``solver``, or a
    design too large to factor densely whose terms are not all scalar."""
    if solver != "auto":
        return None
    if sum(layout.widths) + layout.p + 1 <= DENSE_MAX:
        return DenseDeviance(layout, cp)
    if (all(q == 1 for q in layout.qs) and layout.Q2 and choose_solver(layout) == "block"
            and cp.scalar_coupling is not None):
        return ScalarSchurDeviance(layout, cp)
    return None
