"""Cholesky factor of A = Λ'Z'WZΛ + I for one θ: a block backend and sparse backends.

``block`` (default, numpy/scipy only): the first term's block A₁₁ is block diagonal,
one q₁×q₁ block per level, so its factor is a stack of small Cholesky factors;
C = L₁₁⁻¹A₁₂ stays sparse (one block per level pair seen in the data) and the rest
terms enter through the dense Schur complement S = A₂₂ − C'C = L_S L_S'. This is the
sparse Cholesky factor that lme4/CHOLMOD would compute with the first term ordered
first, without needing CHOLMOD. It is exact and fast while the rest terms have a few
thousand columns (InstEval: 1142).

``cholmod`` (scikit-sparse, the optional ``fast`` extra) and ``splu`` (scipy's
SuperLU, always available) factor the whole sparse A with a fill-reducing ordering.
They win only when the Schur complement is large *and* sparse (rest terms nested in
one another, e.g. schools and districts under classes); for crossed factors the
complement fills in and dense BLAS is faster (``bench/bench_freq.py --crossed``: 8000 ×
5000 crossed levels, one factorization: block 4.3 s, CHOLMOD 19-45 s by ordering, SuperLU 33 s).
``auto`` chooses by the size of S and its nonzeros per column (:func:`choose_solver`).
"""

from __future__ import annotations

import importlib.util
from functools import cached_property, lru_cache

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.linalg import lapack

from multilevel.errors import SpecError

SMALL_SCHUR = 1500          # below this many columns the dense Schur complement is always cheap
DENSE_SCHUR_MAX = 16000     # above this many columns (2 GB) it is never built densely
SPARSE_DEGREE = 10          # Schur complements with fewer nonzeros per column stay sparse
SOLVERS = ("auto", "block", "cholmod", "splu")
_CHUNK = 512                # columns per batch when extracting blocks of A⁻¹


@lru_cache(maxsize=32)
def _lower_indices(q: int) -> tuple[np.ndarray, np.ndarray]:
    """Row/column indices of a lower triangle, column by column (lme4's θ order)."""
    cols, rows = np.triu_indices(q)          # (j, i) with i >= j, ordered by j then i
    return rows, cols


def term_factor(theta_term: np.ndarray, q: int) -> np.ndarray:
    """One term's q×q lower-triangular relative factor T from its θ entries (column-major)."""
    T = np.zeros((q, q))
    T[_lower_indices(q)] = theta_term
    return T


def term_factors(layout, theta: np.ndarray) -> list[np.ndarray]:
    """Split θ into the per-term relative factors T (lme4's θ order)."""
    out, start = [], 0
    for q in layout.qs:
        k = q * (q + 1) // 2
        out.append(term_factor(theta[start:start + k], q))
        start += k
    return out


def _lt(qs, ms, Ts, B: np.ndarray) -> np.ndarray:
    """Λ'B for block-diagonal Λ = diag(I_m ⊗ T) and B of shape (Σ q·m, k)."""
    out, start = np.empty_like(B), 0
    for q, m, T in zip(qs, ms, Ts):
        if q == 1:  # a scalar factor: plain scaling (much faster than m tiny products)
            np.multiply(B[start:start + m], T[0, 0], out=out[start:start + m])
        else:
            block = B[start:start + q * m].reshape(m, q, -1)
            out[start:start + q * m] = (T.T[None] @ block).reshape(q * m, -1)
        start += q * m
    return out


def lambda_t_times(layout, Ts: list[np.ndarray], B: np.ndarray) -> np.ndarray:
    """Λ'B for B of shape (Q, k)."""
    return _lt(layout.qs, layout.n_levels, Ts, B)


def lambda_times(layout, Ts: list[np.ndarray], u: np.ndarray) -> np.ndarray:
    """b = Λu for a vector u (each level's q entries multiplied by T)."""
    out, start = np.empty_like(u), 0
    for q, m, T in zip(layout.qs, layout.n_levels, Ts):
        out[start:start + q * m] = (u[start:start + q * m].reshape(m, q) @ T.T).ravel()
        start += q * m
    return out


def lambda_matrix(layout, Ts: list[np.ndarray]) -> sp.csc_matrix:
    """Λθ as a sparse block-diagonal matrix."""
    blocks = [sp.kron(sp.identity(m, format="csc"), sp.csc_matrix(T), format="csc")
              for m, T in zip(layout.n_levels, Ts)]
    return sp.block_diag(blocks, format="csc")


@lru_cache(maxsize=8)
def _block_positions(qs: tuple[int, ...], ms: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every entry of Λ's diagonal blocks (term by term, level by level,
    each block's q×q entries row-major): Λ[rows, cols] = concat(tile(T.ravel(), m))."""
    rows, cols, start = [], [], 0
    for q, m in zip(qs, ms):
        a, b = np.divmod(np.arange(q * q), q)
        base = start + q * np.arange(m)[:, None]
        rows.append((base + a[None]).ravel())
        cols.append((base + b[None]).ravel())
        start += q * m
    return np.concatenate(rows), np.concatenate(cols)


def lambda_dense(layout, Ts: list[np.ndarray], extra: int = 0) -> np.ndarray:
    """Λθ as a dense (Q + extra)² array, with an identity block of size ``extra`` appended
    (for [X y] in the augmented system). Any per-term T (not only lower-triangular)."""
    Q = sum(layout.widths)
    out = np.zeros((Q + extra, Q + extra))
    rows, cols = _block_positions(tuple(layout.qs), tuple(layout.n_levels))
    out[rows, cols] = np.concatenate([np.tile(T.ravel(), m) for T, m in zip(Ts, layout.n_levels)])
    idx = np.arange(Q, Q + extra)
    out[idx, idx] = 1.0
    return out


def cholmod_available() -> bool:
    return importlib.util.find_spec("sksparse") is not None


def choose_solver(layout) -> str:
    """``block`` unless the Schur complement is large and sparse, i.e. has few nonzeros per
    column as nested rest terms give (then CHOLMOD, or SuperLU when scikit-sparse is not
    installed). Crossed rest terms give a pattern that fills in: 8000 × 5000 random crossed
    levels have 90 nonzeros per column and factor in 7 s densely, 34-42 s sparsely."""
    if layout.Q2 <= SMALL_SCHUR:
        return "block"
    if layout.Q2 <= DENSE_SCHUR_MAX and layout.schur_degree >= SPARSE_DEGREE:
        return "block"
    return "cholmod" if cholmod_available() else "splu"


def make_factor(layout, cp, Ts: list[np.ndarray], solver: str = "auto"):
    """Factor A = Λ'Z'WZΛ + I with the chosen backend."""
    if solver not in SOLVERS:
        raise SpecError(f"solver={solver!r} is not valid; use one of {SOLVERS}.")
    if solver == "auto":
        solver = choose_solver(layout)
    if solver == "block":
        return BlockFactor(layout, cp, Ts)
    if solver == "cholmod" and not cholmod_available():
        raise SpecError("solver='cholmod' needs scikit-sparse (pip install 'multilevel[fast]', which "
                        "needs the SuiteSparse headers, e.g. Debian's libsuitesparse-dev); "
                        "solver='block' or 'splu' need nothing extra.")
    return SparseFactor(layout, cp, Ts, solver)


def _coupling_block(L11inv_rows: np.ndarray, T1: np.ndarray, P: np.ndarray, Tj: np.ndarray) -> np.ndarray:
    """L₁₁⁻¹ T₁' P Tⱼ for a stack of level-pair blocks P (elementwise when both q = 1)."""
    if P.shape[1] == 1 and P.shape[2] == 1:
        return L11inv_rows * (T1[0, 0] * Tj[0, 0]) * P
    return L11inv_rows @ (T1.T[None] @ P @ Tj[None])


def _cholesky_in_place(S: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of the symmetric S, overwriting it: LAPACK's dpotrf on Sᵀ (the
    same matrix; for a C-ordered S it is in Fortran order, so no copy). 20-30 % faster than
    scipy.linalg.cholesky's batched path on the 1000-column Schur complements of crossed
    designs."""
    L, info = lapack.dpotrf(S if S.flags.f_contiguous else S.T, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"The Schur complement is not positive definite (dpotrf info {info}).")
    return L


class DenseFactor:
    """A dense lower Cholesky factor L of A (only its lower triangle is read; the dense
    PIRLS steps of small GLMMs)."""

    def __init__(self, L: np.ndarray):
        self.L = L
        self.logdet = 2.0 * float(np.sum(np.log(np.diagonal(L))))

    def solve(self, B: np.ndarray) -> np.ndarray:
        """A⁻¹B."""
        return sla.cho_solve((self.L, True), B, check_finite=False)


class BlockFactor:
    """L = [[L₁₁, 0], [C', L_S]] with L₁₁ block diagonal (see the module docstring)."""

    def __init__(self, layout, cp, Ts: list[np.ndarray]):
        self.layout = layout
        q1 = layout.qs[0]
        T1 = Ts[0]
        A11 = T1.T[None] @ cp.D1 @ T1[None] + np.eye(q1)[None]
        if q1 == 1:
            diag = np.sqrt(A11[:, 0, 0])
            self.L11inv = (1.0 / diag)[:, None, None]
            logdet = 2.0 * float(np.sum(np.log(diag)))
        elif q1 == 2:  # closed form: LAPACK's per-call overhead dominates 2×2 blocks
            l11 = np.sqrt(A11[:, 0, 0])
            l21 = A11[:, 1, 0] / l11
            l22 = np.sqrt(A11[:, 1, 1] - l21 * l21)
            self.L11inv = np.zeros_like(A11)
            self.L11inv[:, 0, 0], self.L11inv[:, 1, 1] = 1.0 / l11, 1.0 / l22
            self.L11inv[:, 1, 0] = -l21 / (l11 * l22)
            logdet = 2.0 * float(np.sum(np.log(l11)) + np.sum(np.log(l22)))
        else:
            L11 = np.linalg.cholesky(A11)
            self.L11inv = np.linalg.inv(L11)
            logdet = 2.0 * float(np.sum(np.log(np.diagonal(L11, axis1=1, axis2=2))))
        self.C = None
        self.LS = np.zeros((0, 0))
        if layout.Q2:
            blocks = [_coupling_block(self.L11inv[pr.level1], T1, P, Ts[j])
                      for j, (pr, P) in enumerate(zip(layout.pairs, cp.P), start=1)]
            self.C = layout.csr_from_blocks(blocks)                     # L₁₁⁻¹ A₁₂
            qs, ms, Tr = layout.qs[1:], layout.n_levels[1:], Ts[1:]
            S = _lt(qs, ms, Tr, _lt(qs, ms, Tr, cp.R22_dense).T).T     # Λr' R₂₂ Λr
            S[np.diag_indices_from(S)] += 1.0
            S -= self._coupling_gram(layout, cp, Ts)                    # − C'C
            self.LS = _cholesky_in_place(S)
            logdet += 2.0 * float(np.sum(np.log(np.diag(self.LS))))
        self.logdet = logdet

    def _coupling_gram(self, layout, cp, Ts) -> np.ndarray:
        scalar = cp.scalar_coupling
        if scalar is None:
            return layout.gram(self.C)
        M, rows, cols = scalar
        t = np.repeat([T[0, 0] for T in Ts[1:]], layout.n_levels[1:])
        values = (M @ self.L11inv[:, 0, 0] ** 2) * (Ts[0][0, 0] ** 2) * t[rows] * t[cols]
        out = np.zeros((layout.Q2, layout.Q2))
        out[rows, cols] = values
        out[cols, rows] = values
        return out

    def solve(self, B: np.ndarray) -> np.ndarray:
        """A⁻¹B for B of shape (Q, k)."""
        lay = self.layout
        q1, L1, k = lay.qs[0], lay.n_levels[0], B.shape[1]
        z1 = (self.L11inv @ B[:lay.Q1].reshape(L1, q1, k)).reshape(lay.Q1, k)
        if self.C is None:
            x2 = np.zeros((0, k))
        else:
            z2 = sla.solve_triangular(self.LS, B[lay.Q1:] - self.C.T @ z1, lower=True, check_finite=False)
            x2 = sla.solve_triangular(self.LS, z2, lower=True, trans="T", check_finite=False)
            z1 = z1 - self.C @ x2
        x1 = (np.transpose(self.L11inv, (0, 2, 1)) @ z1.reshape(L1, q1, k)).reshape(lay.Q1, k)
        return np.vstack([x1, x2])

    def inverse_diagonal_blocks(self) -> list[np.ndarray]:
        """Per term, the (levels, q, q) diagonal blocks of A⁻¹ (conditional variances)."""
        lay = self.layout
        q1, L1 = lay.qs[0], lay.n_levels[0]
        Li = self.L11inv
        first = np.transpose(Li, (0, 2, 1)) @ Li                        # A₁₁⁻¹
        out = [first]
        if self.C is None:
            return out
        # (A⁻¹)₁₁ = A₁₁⁻¹ + L₁₁⁻ᵀ C S⁻¹ C' L₁₁⁻¹; per level, V_l = L_S⁻¹ C_l'
        Ct = self.C.T.tocsc()
        extra = np.empty((L1, q1, q1))
        step = max(1, _CHUNK // q1)
        for lo in range(0, L1, step):
            hi = min(L1, lo + step)
            V = sla.solve_triangular(self.LS, Ct[:, lo * q1:hi * q1].toarray(), lower=True,
                                     check_finite=False).reshape(lay.Q2, hi - lo, q1)
            extra[lo:hi] = np.einsum("kla,klb->lab", V, V)
        out[0] = first + np.transpose(Li, (0, 2, 1)) @ extra @ Li
        Sinv = sla.cho_solve((self.LS, True), np.eye(lay.Q2), check_finite=False)
        start = 0
        for q, m in zip(lay.qs[1:], lay.n_levels[1:]):
            idx = start + np.arange(m)[:, None] * q + np.arange(q)[None, :]
            out.append(Sinv[idx[:, :, None], idx[:, None, :]])
            start += q * m
        return out


class SparseFactor:
    """Sparse factorization of the whole A with a fill-reducing ordering (CHOLMOD or SuperLU)."""

    def __init__(self, layout, cp, Ts: list[np.ndarray], method: str):
        self.layout, self.method = layout, method
        M = cp.ZtWZ
        if all(q == 1 for q in layout.qs):
            # Λ diagonal: scale the data of Z'WZ in place, so the pattern (and CHOLMOD's
            # symbolic analysis, done once per Z'WZ) stays fixed even where θ = 0
            lam = np.repeat([T[0, 0] for T in Ts], layout.n_levels)
            rows, cols = M.indices, cp.ZtWZ_columns
            A = sp.csc_matrix((M.data * lam[rows] * lam[cols] + (rows == cols), M.indices, M.indptr),
                              shape=M.shape)
        else:
            Lam = lambda_matrix(layout, Ts)
            A = (Lam.T @ M @ Lam + sp.identity(Lam.shape[0], format="csc")).tocsc()
        if method == "cholmod":
            if all(q == 1 for q in layout.qs):
                self._factor = cp.cholmod_symbolic.cholesky(A)
            else:
                from sksparse.cholmod import cholesky

                self._factor = cholesky(A)
            self.logdet = float(self._factor.logdet())
            self._solve = self._factor.solve_A
        else:
            from scipy.sparse.linalg import splu

            # A is symmetric positive definite: no pivoting, symmetric ordering
            lu = splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                      options={"SymmetricMode": True})
            self.logdet = float(np.sum(np.log(np.abs(lu.U.diagonal()))))
            self._solve = lu.solve

    def solve(self, B: np.ndarray) -> np.ndarray:
        return np.asarray(self._solve(np.asarray(B, dtype=float)))

    @cached_property
    def _inverse_blocks(self) -> list[np.ndarray]:
        lay = self.layout
        out, start = [], 0
        for q, m in zip(lay.qs, lay.n_levels):
            blocks = np.empty((m, q, q))
            step = max(1, _CHUNK // q)
            for lo in range(0, m, step):
                hi = min(m, lo + step)
                cols = start + np.arange(lo * q, hi * q)
                E = np.zeros((sum(lay.widths), len(cols)))
                E[cols, np.arange(len(cols))] = 1.0
                X = self.solve(E)[cols].reshape(hi - lo, q, hi - lo, q)
                blocks[lo:hi] = X[np.arange(hi - lo), :, np.arange(hi - lo), :]
            out.append(blocks)
            start += q * m
        return out

    def inverse_diagonal_blocks(self) -> list[np.ndarray]:
        return self._inverse_blocks
