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
PIRLS_PAIRS_MAX = 2_000_000   # entry pairs of the coupling kept for ScalarSchurPirls's P'DP


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
    design too large to factor densely whose terms are not all scalar.

    Both forms take Λθ from :func:`term_factors` as Λ = ⊕ (I_m ⊗ T) per term; a term type
    whose Λ block is not of that form must make this return None (the general path)."""
    if solver != "auto":
        return None
    if sum(layout.widths) + layout.p + 1 <= DENSE_MAX:
        return DenseDeviance(layout, cp)
    if (all(q == 1 for q in layout.qs) and layout.Q2 and choose_solver(layout) == "block"
            and cp.scalar_coupling is not None):
        return ScalarSchurDeviance(layout, cp)
    return None


class LogdetFactor:
    """What a PIRLS state keeps of a factorization it never solves with again: log|A|."""

    def __init__(self, logdet: float):
        self.logdet = logdet


class ScalarSchurPirls:
    """glmer's weighted least-squares step for scalar-term designs too large to factor whole
    (grouseticks: an observation-level term, 584 columns in all), one per PIRLS iteration.

    As :class:`ScalarSchurDeviance`, with weights that change every iteration: with
    vₗ = θ₁ Σ_{i∈l} wᵢ x₁ᵢ [Z_rΛ_r (X) z]ᵢ the first term's rows (P its Z_r part, a sparse
    level-pair matrix of fixed pattern) and aₗ = 1 + θ₁² Σ_{i∈l} wᵢ x₁ᵢ², the Schur
    complement of the first term's block in the augmented system is

        S = [Z_rΛ_r (X) z]'W[Z_rΛ_r (X) z] + diag(I_Q2, 0) − V' diag(1/a) V,

    one dense Cholesky of Q₂ + p + 1 columns; (u_r, β) is a triangular solve and the first
    term's u₁ = (θ₁ V_z − V_r u_r − θ₁ V_X β)/a a division.
    """

    def __init__(self, layout: Layout):
        lay = self.layout = layout
        self.c1, self.x1, self.L1, self.Q2 = lay.codes[0], lay.Xt[0][:, 0], lay.n_levels[0], lay.Q2
        # every product below is a bincount over fixed index arrays (no sparse-matrix objects,
        # whose per-call overhead was most of the step's time)
        self.pair_of_row = [pr.G.tocsc().indices for pr in lay.pairs]      # row -> level pair
        self.xj = [lay.Xt[j][:, 0] for j in range(1, len(lay.qs))]
        indptr, self.indices, self.order = lay.a12_structure
        self.row_of_entry = np.repeat(np.arange(self.L1), np.diff(indptr))
        counts = np.diff(indptr)
        # entry pairs (e, f) sharing a first-term level, for P'DP, both orders
        reps = counts[self.row_of_entry]
        first = np.repeat(np.arange(len(self.indices)), reps)
        second = indptr[self.row_of_entry[first]] + (np.arange(len(first)) - np.repeat(np.cumsum(reps) - reps, reps))
        self.first, self.second = first, second
        self.gram_flat = self.indices[first].astype(np.int64) * self.Q2 + self.indices[second]
        flat, self.prod = lay.rest_products
        self.rest_flat = flat.ravel()
        self.rest_rows, self.rest_cols = flat // self.Q2, flat % self.Q2
        self.rest_col = np.column_stack([off + lay.codes[j] for j, off in
                                         zip(range(1, len(lay.qs)), np.cumsum([0, *lay.n_levels[1:-1]]))])
        self.prod_x = np.column_stack(self.xj)                              # (n, rest terms)
        self.all_flat = np.concatenate([self.rest_flat, self.gram_flat])
        # When no first-term level meets two levels of the second term (an observation-level
        # first term), that term's block of S is diagonal and is eliminated in closed form too,
        # leaving a much smaller dense factorization (grouseticks: 67 columns instead of 184).
        n2 = lay.n_levels[1]
        g_rows, g_cols = self.gram_flat // self.Q2, self.gram_flat % self.Q2
        self.n2 = n2 if not np.any((g_rows < n2) & (g_cols < n2) & (g_rows != g_cols)) else 0

    @staticmethod
    def fits(layout: Layout) -> bool:
        """Every term scalar, rest terms present, and few enough entry pairs for P'DP."""
        if not layout.Q2 or any(q != 1 for q in layout.qs):
            return False
        counts = np.diff(layout.a12_structure[0]).astype(np.int64)
        return int(np.sum(counts ** 2)) <= PIRLS_PAIRS_MAX

    def step(self, Ts, w, z, X: np.ndarray | None):
        """(u, β or None, :class:`LogdetFactor`, R_X'R_X or None) of one PIRLS step with
        weights ``w`` and working response ``z`` (β estimated when ``X`` is given)."""
        lay, Q2, L1 = self.layout, self.Q2, self.L1
        t1 = float(Ts[0][0, 0])
        t = np.repeat([T[0, 0] for T in Ts[1:]], lay.n_levels[1:])
        wx = w * self.x1
        a = 1.0 + t1 * t1 * np.bincount(self.c1, weights=wx * self.x1, minlength=L1)
        D = 1.0 / a
        Xz = z[:, None] if X is None else np.column_stack([X, z])
        kx = Xz.shape[1]
        K = Q2 + kx
        # P: the first term's rows of the rest columns, θ₁ t_c Σ wᵢ x₁ᵢ xⱼᵢ per level pair
        data = np.concatenate([np.bincount(pair, weights=wx * xj) for pair, xj in
                               zip(self.pair_of_row, self.xj)])[self.order] * (t1 * t[self.indices])
        wxz = w[:, None] * Xz
        Vxz = t1 * np.column_stack([np.bincount(self.c1, weights=wx * Xz[:, k], minlength=L1)
                                    for k in range(kx)])                       # (L1, kx)
        S = np.empty((K, K))
        Srr = np.bincount(self.all_flat,
                          weights=np.concatenate([
                              (self.prod * w[:, None] * t[self.rest_rows] * t[self.rest_cols]).ravel(),
                              -data[self.first] * data[self.second] * D[self.row_of_entry[self.first]]]),
                          minlength=Q2 * Q2).reshape(Q2, Q2)
        Srr.ravel()[::Q2 + 1] += 1.0
        S[:Q2, :Q2] = Srr
        pd_rows = D[self.row_of_entry] * data
        for k in range(kx):
            S[:Q2, Q2 + k] = t * np.bincount(self.rest_col.ravel(), weights=(self.prod_x * wxz[:, k:k + 1]).ravel(),
                                             minlength=Q2) \
                - np.bincount(self.indices, weights=pd_rows * Vxz[self.row_of_entry, k], minlength=Q2)
        S[Q2:, Q2:] = Xz.T @ wxz - Vxz.T @ (D[:, None] * Vxz)
        n2 = self.n2
        logdet = float(np.sum(np.log(a)))
        if n2:   # the second term's diagonal block: S ← R − B' diag(1/d₂) B
            d2, B = S.ravel()[:n2 * (K + 1):K + 1].copy(), S[:n2, n2:]
            Bs = B / d2[:, None]
            R = S[n2:, n2:]
            R -= B.T @ Bs
            logdet += float(np.sum(np.log(d2)))
        else:
            R = S
        Kr = K - n2
        L, info = lapack.dpotrf(R.T, lower=1, clean=0, overwrite_a=1)   # its upper triangle
        x = np.zeros(0)   # nothing left but z: (1 | g) + (0 + x | g) with β fixed
        if info == 0 and Kr > 1:
            x, info = lapack.dtrtrs(L[:Kr - 1, :Kr - 1], L[Kr - 1, :Kr - 1], lower=1, trans=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"PIRLS: the weighted system is singular (LAPACK info {info}).")
        if n2:
            x = np.concatenate([Bs[:, -1] - Bs[:, :-1] @ x, x])
        ur = x[:Q2]
        Pu = np.bincount(self.row_of_entry, weights=data * ur[self.indices], minlength=L1)
        u1 = (Vxz[:, -1] - Pu - (Vxz[:, :-1] @ x[Q2:] if X is not None else 0.0)) * D
        logdet += 2.0 * float(np.sum(np.log(L.ravel()[:(Q2 - n2) * (Kr + 1):Kr + 1])))
        u = np.concatenate([u1, ur])
        if X is None:
            return u, None, LogdetFactor(logdet), None
        RX = np.tril(L[Q2 - n2:Kr - 1, Q2 - n2:Kr - 1])
        return u, x[Q2:], LogdetFactor(logdet), RX @ RX.T
