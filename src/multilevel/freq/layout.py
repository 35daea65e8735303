"""θ-independent pieces of a mixed model: index maps and the data's cross-products.

Everything here is computed once per fit (or once per PIRLS step of a GLMM, where the
rows carry weights) and reused by every evaluation of the deviance.

The random-effects terms are in lme4's order (most levels first). The first term's
block of Z'WZ is block diagonal (each row belongs to one level), stored as a stack
of q₁×q₁ blocks; its coupling to the other ("rest") terms is stored as one q₁×qⱼ
block per (level of term 1, level of term j) pair that occurs in the data; the rest
terms among themselves are kept as a sparse matrix. :mod:`multilevel.freq.deviance`
turns these into the Cholesky factor of Λ'Z'WZΛ + I for each θ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from multilevel.formula import Design


GRAM_PAIRS_MAX = 20_000_000   # entry pairs kept for C'C by bincount (3 int64 arrays: 480 MB)
DENSE_GRAM_MAX = 4_000_000    # entries of C up to which C'C may be a dense product (32 MB)


def _indicator(codes: np.ndarray, n_levels: int) -> sp.csr_matrix:
    """Levels × rows 0/1 matrix: ``G @ v`` sums ``v`` within each level."""
    n = len(codes)
    return sp.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_levels, n))


def _row_outer(A: np.ndarray, B: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Row-wise outer products ``w_i a_i b_iᵀ`` flattened to shape (n, qa*qb)."""
    out = (A[:, :, None] * B[:, None, :]).reshape(len(A), -1)
    return out if w is None else out * w[:, None]


@dataclass(frozen=True)
class Pairs:
    """The (level of term 1, level of term j) pairs present in the data."""

    level1: np.ndarray      # (m,) level of the first term
    levelj: np.ndarray      # (m,) level of term j
    G: sp.csr_matrix        # (m, n) row → pair indicator


@dataclass(frozen=True)
class Layout:
    """Index structure of a design's random effects (θ- and weight-independent).

    Attributes
    ----------
    qs, n_levels : tuple of int
        Columns and levels of each term, lme4's order.
    X, y : ndarray
    Z : csc_matrix
        The full (n, Q) random-effects matrix, level-major within each term.
    Xt : list of ndarray
        Each term's (n, q) model matrix.
    codes : list of ndarray
        Each term's level index per row.
    G1 : csr_matrix
        Levels of term 1 × rows indicator.
    pairs : list of Pairs
        One per rest term.
    """

    qs: tuple[int, ...]
    n_levels: tuple[int, ...]
    X: np.ndarray
    y: np.ndarray
    Z: sp.csc_matrix
    Xt: list
    codes: list
    G1: sp.csr_matrix
    pairs: list
    weights: np.ndarray | None = None   # prior weights of a weighted LMM (residual variance σ²/w)

    @classmethod
    def from_design(cls, design: Design) -> Layout:
        terms = design.reterms
        first = terms[0]
        pairs = []
        for term in terms[1:]:
            key = first.codes.astype(np.int64) * term.n_levels + term.codes
            uniq, inverse = np.unique(key, return_inverse=True)
            pairs.append(Pairs(level1=uniq // term.n_levels, levelj=uniq % term.n_levels,
                               G=_indicator(inverse.reshape(-1), len(uniq))))
        return cls(qs=tuple(t.q for t in terms), n_levels=tuple(t.n_levels for t in terms),
                   X=design.X, y=np.asarray(design.y, dtype=float) - design.offset_or_zero,
                   Z=design.Z().tocsc(), weights=design.weights,
                   Xt=[t.X for t in terms], codes=[t.codes for t in terms],
                   G1=_indicator(first.codes, first.n_levels), pairs=pairs)

    # ------------------------------------------------------------------ sizes
    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def widths(self) -> list[int]:
        return [q * m for q, m in zip(self.qs, self.n_levels)]

    @property
    def Q1(self) -> int:
        return self.widths[0]

    @property
    def Q2(self) -> int:
        return sum(self.widths[1:])

    @cached_property
    def Zr(self) -> sp.csc_matrix:
        """The rest terms' columns of Z."""
        return self.Z[:, self.Q1:].tocsc()

    @cached_property
    def a12_structure(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSR ``indptr``, ``indices`` and the permutation from stacked blocks to CSR order.

        The coupling blocks of all rest terms, flattened term by term, pair by pair,
        row-major within a block, are permuted into the CSR data of the (Q1, Q2) matrix.
        """
        q1 = self.qs[0]
        rows, cols, offset = [], [], 0
        for j, pr in enumerate(self.pairs, start=1):
            qj = self.qs[j]
            a, b = np.meshgrid(np.arange(q1), np.arange(qj), indexing="ij")
            rows.append((pr.level1[:, None, None] * q1 + a[None]).ravel())
            cols.append((offset + pr.levelj[:, None, None] * qj + b[None]).ravel())
            offset += self.widths[j]
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        order = np.lexsort((cols, rows))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=self.Q1))])
        return indptr, cols[order], order

    @cached_property
    def rest_products(self) -> tuple[np.ndarray, np.ndarray]:
        """Flat positions in the dense (Q2, Q2) matrix and values of each row's products
        of rest-term columns: R₂₂ = Zr'WZr is a weighted bincount of them."""
        cols, vals, offset = [], [], 0
        for j in range(1, len(self.qs)):
            q = self.qs[j]
            cols.append(offset + self.codes[j][:, None] * q + np.arange(q)[None, :])
            vals.append(self.Xt[j])
            offset += self.widths[j]
        C, V = np.hstack(cols), np.hstack(vals)                          # (n, m)
        flat = (C[:, :, None] * self.Q2 + C[:, None, :]).reshape(self.n, -1)
        prod = (V[:, :, None] * V[:, None, :]).reshape(self.n, -1)
        return flat, prod

    @cached_property
    def schur_degree(self) -> float:
        """Mean nonzeros per column in the pattern of the Schur complement A₂₂ − A₂₁A₁₁⁻¹A₁₂
        (a graph of mean degree ≳ 10 fills in when factored, whatever the ordering)."""
        indptr, indices, _ = self.a12_structure
        C = sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(self.Q1, self.Q2))
        flat = np.unique(self.rest_products[0])
        R22 = sp.csr_matrix((np.ones(len(flat)), (flat // self.Q2, flat % self.Q2)),
                            shape=(self.Q2, self.Q2))
        return float((R22 + C.T @ C).nnz) / self.Q2

    @cached_property
    def _gram_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """For C'C of the (Q1, Q2) coupling pattern: the pairs of stored entries that share
        a row and whose product lands in the upper triangle, sorted by that position, the
        start of each position's run, and the positions; None when there are too many
        pairs (then a sparse product is used)."""
        indptr, indices, _ = self.a12_structure
        counts = np.diff(indptr)
        n_pairs = int(np.sum(counts.astype(np.int64) ** 2))
        if n_pairs > GRAM_PAIRS_MAX or self.Q1 * self.Q2 ** 2 <= 20 * n_pairs:
            return None  # too many pairs, or a dense C'C (BLAS) is cheaper
        row_of = np.repeat(np.arange(len(counts)), counts)
        # for entry e in row r: pair it with every entry of row r
        reps = counts[row_of]
        first = np.repeat(np.arange(len(indices)), reps)
        offsets = np.arange(len(first)) - np.repeat(np.cumsum(reps) - reps, reps)
        second = indptr[row_of[first]] + offsets
        upper = indices[first] <= indices[second]
        first, second = first[upper], second[upper]
        flat = indices[first].astype(np.int64) * self.Q2 + indices[second]
        order = np.argsort(flat, kind="stable")
        first, second, flat = first[order], second[order], flat[order]
        starts = np.flatnonzero(np.concatenate([[True], flat[1:] != flat[:-1]]))
        return first, second, starts, flat[starts]

    def gram(self, C: sp.csr_matrix) -> np.ndarray:
        """C'C as a dense (Q2, Q2) array, for C with the coupling pattern: entry products
        summed per upper-triangle position in position order (no sparse-matrix product,
        no scattered accumulation), then mirrored."""
        pairs = self._gram_pairs
        if pairs is None:
            if self.Q1 * self.Q2 <= DENSE_GRAM_MAX:
                dense = C.toarray()
                return dense.T @ dense
            return (C.T @ C).toarray()
        first, second, starts, positions = pairs
        out = np.zeros(self.Q2 * self.Q2)
        out[positions] = np.add.reduceat(C.data[first] * C.data[second], starts)
        out = out.reshape(self.Q2, self.Q2)
        diagonal = out.diagonal().copy()
        out += out.T
        out[np.diag_indices(self.Q2)] = diagonal
        return out

    def csr_from_blocks(self, blocks: list[np.ndarray]) -> sp.csr_matrix:
        """Assemble per-term pair blocks (m_j, q1, q_j) into the (Q1, Q2) sparse matrix."""
        indptr, indices, order = self.a12_structure
        data = np.concatenate([b.ravel() for b in blocks])[order]
        return sp.csr_matrix((data, indices, indptr), shape=(self.Q1, self.Q2))

    # ------------------------------------------------------------- products
    def Zt(self, V: np.ndarray) -> np.ndarray:
        """Z'V for a vector or (n, k) matrix."""
        return np.asarray(self.Z.T @ V)

    def crossproducts(self, w: np.ndarray | None = None, z: np.ndarray | None = None) -> Crossproducts:
        """Cross-products of the rows weighted by ``w`` (None: unweighted) with response ``z``
        (None: the design's y)."""
        y = self.y if z is None else z
        X1 = self.Xt[0]
        q1, L1 = self.qs[0], self.n_levels[0]
        Xy = np.column_stack([self.X, y])
        wXy = Xy if w is None else Xy * w[:, None]
        D1 = np.asarray(self.G1 @ _row_outer(X1, X1, w)).reshape(L1, q1, q1)
        Z1Xy = np.asarray(self.G1 @ _row_outer(X1, Xy, w)).reshape(L1, q1, -1)
        P = [np.asarray(pr.G @ _row_outer(X1, self.Xt[j], w)).reshape(len(pr.level1), q1, self.qs[j])
             for j, pr in enumerate(self.pairs, start=1)]
        ZrXy = np.asarray(self.Zr.T @ wXy) if self.pairs else np.zeros((0, Xy.shape[1]))
        XyXy = Xy.T @ wXy
        return Crossproducts(D1=D1, Z1Xy=Z1Xy, P=P, ZrXy=ZrXy, XyXy=XyXy, weights=w, layout=self)


@dataclass(frozen=True)
class Crossproducts:
    """Z'WZ, Z'W[X y] and [X y]'W[X y] in the layout's block form.

    Attributes
    ----------
    D1 : (L1, q1, q1)
        Diagonal blocks of the first term.
    Z1Xy : (L1, q1, p+1)
        First term × [X, y].
    P : list of (m_j, q1, q_j)
        First term × rest term j, one block per level pair.
    ZrXy : (Q2, p+1)
    XyXy : (p+1, p+1)
    weights : ndarray or None
    """

    D1: np.ndarray
    Z1Xy: np.ndarray
    P: list
    ZrXy: np.ndarray
    XyXy: np.ndarray
    weights: np.ndarray | None
    layout: Layout = field(repr=False)

    @cached_property
    def R22_dense(self) -> np.ndarray:
        """Zr'WZr, dense (only built by the block backend, whose Schur complement is dense)."""
        lay = self.layout
        flat, prod = lay.rest_products
        weights = prod if self.weights is None else prod * self.weights[:, None]
        return np.bincount(flat.ravel(), weights=weights.ravel(),
                           minlength=lay.Q2 * lay.Q2).reshape(lay.Q2, lay.Q2)

    @cached_property
    def scalar_coupling(self):
        """C'C for designs whose terms are all scalar, as one sparse product per θ.

        With q = 1 everywhere the coupling entry of level l (first term) and column c is
        C_lc = T₁ t_c P_lc / √A₁₁,l, so C'C[c, d] = T₁² t_c t_d Σ_l P_lc P_ld / A₁₁,l: a
        fixed sparse matrix M (upper-triangle positions × first-term levels, entries
        P_lc P_ld) times the vector 1/A₁₁. Returns ``(M, rows, cols)`` or None when the
        layout has no pair list (see :meth:`Layout.gram`).
        """
        lay = self.layout
        pairs = lay._gram_pairs
        if pairs is None or any(q != 1 for q in lay.qs) or self.weights is not None:
            return None  # (PIRLS builds new weights every step: M would not be reused)
        first, second, starts, positions = pairs
        indptr, _, order = lay.a12_structure
        data = np.concatenate([P.ravel() for P in self.P])[order]
        row_of_entry = np.repeat(np.arange(lay.Q1), np.diff(indptr))
        segment = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(first))))
        M = sp.csr_matrix((data[first] * data[second], (segment, row_of_entry[first])),
                          shape=(len(starts), lay.Q1))
        return M, positions // lay.Q2, positions % lay.Q2

    @cached_property
    def ZtWZ(self):
        """The whole Z'WZ as a sparse matrix (for the sparse-Cholesky backends)."""
        Z = self.layout.Z
        ZW = Z if self.weights is None else sp.diags(self.weights) @ Z
        return (Z.T @ ZW).tocsc()

    @cached_property
    def ZtWZ_columns(self) -> np.ndarray:
        """Column index of each stored entry of :attr:`ZtWZ` (CSC)."""
        M = self.ZtWZ
        return np.repeat(np.arange(M.shape[1]), np.diff(M.indptr))

    @cached_property
    def cholmod_symbolic(self):
        """CHOLMOD's symbolic analysis (fill-reducing ordering) of Z'WZ + I, done once."""
        from sksparse.cholmod import analyze

        M = self.ZtWZ
        return analyze((M + sp.identity(M.shape[0], format="csc")).tocsc())
