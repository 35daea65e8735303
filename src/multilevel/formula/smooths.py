"""Penalized smooths ``s(x, k = 10, bs = "tp" | "cr")`` as mixed-model terms (mgcv's gamm).

A smooth f(x) = X₀(x) β with wiggliness penalty β'Sβ is a mixed model (Wood 2017,
section 5.8; mgcv's ``smooth2random``): after the sum-to-zero constraint (f sums to zero
over the data, so the intercept stays identifiable) the penalty's eigenvectors split β
into an unpenalized null space, fitted as fixed-effect columns (``s(x)Fx1``: the linear
part), and a penalized part whose columns X₀ Z U_r D^(-1/2) carry iid effects
b ~ N(0, σ²_s I) — a group-effect block with covariance σ²_s S⁺. REML on that mixed model
is mgcv's ``gamm``: σ²/σ²_s is gamm's smoothing parameter.

The bases follow mgcv's constructions (written from their definitions, Wood 2017
sections 5.3.1 and 5.5.1, and mgcv's documented algorithm, not copied from its code):

* ``bs = "cr"``: the cubic regression spline with ``k`` knots at the quantiles of the
  unique x values, parameterized by its values at the knots (natural end conditions,
  linear beyond the outer knots), penalty ∫f''² = D'B⁻¹D. The basis, penalty and mgcv's
  penalty scaling (S / (‖S‖₁ / ‖X‖²_∞)) are mgcv's exactly, so σ²_s equals gamm's.
* ``bs = "tp"`` (default): the thin-plate regression spline of order 2 in one dimension:
  the TPS kernel η(r) = r³/12 on the unique x values (at most :data:`TP_MAX_KNOTS`; mgcv
  subsamples more at random, which is refused here: use ``bs = "cr"``), truncated to its ``k`` eigenvectors of
  largest |eigenvalue|, the constraint T'δ = 0 absorbed by Householder reflections, the
  linear null space {1, x} added and the columns scaled to unit root mean square — mgcv's
  parameterization (eigenvector signs aside, which change no norm), so its penalty
  scaling and σ²_s are mgcv's too.

The constructed basis is kept (knots, eigenvectors, constraint, shift) so that
predictions on new x use it; x beyond the data range is extrapolated linearly (cr) or by
the thin-plate spline itself (tp), as mgcv does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.errors import DataError, FormulaError

BASES = ("tp", "cr")
TP_MAX_KNOTS = 2000   # mgcv's max.knots: beyond it mgcv subsamples the knots at random
_SMOOTH = re.compile(r"^s\s*\((.*)\)$")
_NAME = re.compile(r"^`?([A-Za-z_][A-Za-z0-9_.]*)`?$")


@dataclass(frozen=True)
class SmoothSpec:
    """``s(x, k = 10, bs = "tp")`` as written: the variable, basis dimension and basis."""

    var: str
    k: int
    bs: str
    source: str

    @property
    def label(self) -> str:
        return f"s({self.var})"


def parse_smooth(term: str) -> SmoothSpec | None:
    """The :class:`SmoothSpec` of a formula term ``s(...)``, or None for other terms.

    >>> parse_smooth('s(times, k = 12, bs = "cr")')
    SmoothSpec(var='times', k=12, bs='cr', source='s(times, k = 12, bs = "cr")')
    >>> parse_smooth("x") is None
    True
    """
    m = _SMOOTH.match(term.strip())
    if m is None:
        return None
    args = [a.strip() for a in m.group(1).split(",") if a.strip()]
    usage = 'write s(x), s(x, k = 10) or s(x, k = 10, bs = "cr") with one numeric column x'
    if not args or "=" in args[0]:
        raise FormulaError(f"Cannot read {term!r}: {usage}.")
    var = _NAME.match(args[0])
    if var is None:
        raise FormulaError(f"{term!r}: the smooth's variable must be one column name ({usage}); "
                           "smooths of several variables (s(x, z), te()) are not available.")
    k, bs = None, "tp"
    for arg in args[1:]:
        key, eq, value = (p.strip() for p in arg.partition("="))
        if not eq:
            raise FormulaError(f"{term!r}: {arg!r} is a second variable; {usage}.")
        value = value.strip("'\"")
        if key == "k":
            try:
                k = int(value)
            except ValueError:
                raise FormulaError(f"{term!r}: k must be an integer, got {value!r}.") from None
        elif key == "bs":
            if value not in BASES:
                raise FormulaError(f"{term!r}: bs = {value!r} is not available; use one of {BASES}.")
            bs = value
        else:
            raise FormulaError(f"{term!r}: unknown argument {key!r}; s() takes k and bs.")
    k = 10 if k is None else k
    if k < 3:
        raise FormulaError(f"{term!r}: k must be at least 3 (mgcv's minimum basis dimension).")
    return SmoothSpec(var=var.group(1), k=k, bs=bs, source=term.strip())


# ----------------------------------------------------------------------------- bases
@dataclass(frozen=True)
class CRBasis:
    """mgcv's cubic regression spline: values at ``knots``, second derivatives F β."""

    knots: np.ndarray
    F: np.ndarray = field(repr=False)   # (k, k): f'' at the knots = F β (zero rows at the ends)

    @classmethod
    def construct(cls, x: np.ndarray, k: int) -> tuple[CRBasis, np.ndarray]:
        """The basis and its penalty ∫f''² = D'B⁻¹D."""
        knots = np.quantile(np.unique(x), np.linspace(0.0, 1.0, k))   # R's quantile type 7
        h = np.diff(knots)
        D = np.zeros((k - 2, k))
        B = np.zeros((k - 2, k - 2))
        for i in range(k - 2):
            D[i, i], D[i, i + 1], D[i, i + 2] = 1 / h[i], -1 / h[i] - 1 / h[i + 1], 1 / h[i + 1]
            B[i, i] = (h[i] + h[i + 1]) / 3
            if i + 1 < k - 2:
                B[i, i + 1] = B[i + 1, i] = h[i + 1] / 6
        BinvD = np.linalg.solve(B, D)
        F = np.vstack([np.zeros(k), BinvD, np.zeros(k)])
        S = D.T @ BinvD
        return cls(knots=knots, F=F), 0.5 * (S + S.T)

    def matrix(self, x: np.ndarray) -> np.ndarray:
        xk, F = self.knots, self.F
        k = len(xk)
        X = np.zeros((len(x), k))
        j = np.clip(np.searchsorted(xk, x, side="right") - 1, 0, k - 2)
        h = xk[j + 1] - xk[j]
        rows = np.arange(len(x))
        inside = (x >= xk[0]) & (x <= xk[-1])
        am, ap = (xk[j + 1] - x) / h, (x - xk[j]) / h
        cm = ((xk[j + 1] - x) ** 3 / h - h * (xk[j + 1] - x)) / 6
        cp = ((x - xk[j]) ** 3 / h - h * (x - xk[j])) / 6
        X[rows, j] += np.where(inside, am, 0.0)
        X[rows, j + 1] += np.where(inside, ap, 0.0)
        X += np.where(inside, cm, 0.0)[:, None] * F[j] + np.where(inside, cp, 0.0)[:, None] * F[j + 1]
        # beyond the outer knots: f(x_end) + (x − x_end) f'(x_end) (f'' = 0 there)
        for end, lo in ((x < xk[0], True), (x > xk[-1], False)):
            if not np.any(end):
                continue
            i = 0 if lo else k - 2
            hh = xk[i + 1] - xk[i]
            # derivative at the left (right) end of interval i
            d = np.zeros(k)
            d[i], d[i + 1] = -1 / hh, 1 / hh
            d += (-hh / 3 * F[i] - hh / 6 * F[i + 1]) if lo else (hh / 6 * F[i] + hh / 3 * F[i + 1])
            at = 0 if lo else k - 1
            value = np.zeros(k)
            value[at] = 1.0
            X[end] = value[None] + (x[end] - xk[at])[:, None] * d[None]
        return X


def _eta(r: np.ndarray) -> np.ndarray:
    """The 1-D, order-2 thin-plate kernel η(r) = r³/12."""
    return np.abs(r) ** 3 / 12.0


def _right_householder(A: np.ndarray) -> np.ndarray:
    """Orthogonal Q with A Q = [0, R] (A is m × k, m < k): row i's first k − i entries are
    reflected onto entry k − i − 1, the sign chosen to avoid cancellation."""
    A = np.array(A, dtype=float)
    m, k = A.shape
    Q = np.eye(k)
    for i in range(m):
        n = k - i
        p = A[i, :n] / np.max(np.abs(A[i, :n]))
        norm = np.sqrt(p @ p) * (-1.0 if p[-1] < 0 else 1.0)
        p[-1] += norm
        u = np.zeros(k)
        u[:n] = p * np.sqrt(1.0 / (norm * p[-1]))           # H = I − u u'
        A = A - np.outer(A @ u, u)
        Q = Q - np.outer(Q @ u, u)
    return Q


@dataclass(frozen=True)
class TPBasis:
    """Thin-plate regression spline (order 2, one dimension) truncated to k eigenvectors."""

    knots: np.ndarray                        # unique x minus shift
    shift: float
    UZ: np.ndarray = field(repr=False)       # (n_knots, k − 2): kernel coefficients of the basis
    scale: np.ndarray = field(repr=False)    # column scaling (rms 1 on the data, as mgcv)

    @classmethod
    def construct(cls, x: np.ndarray, k: int) -> tuple[TPBasis, np.ndarray]:
        shift = float(np.mean(x))
        knots = np.unique(x) - shift
        if len(knots) > TP_MAX_KNOTS:
            raise DataError(f"s() with bs='tp' has {len(knots)} distinct values; more than "
                            f"{TP_MAX_KNOTS} (where mgcv subsamples knots at random) are not "
                            "available. Use bs = 'cr'.")
        E = _eta(knots[:, None] - knots[None, :])
        T = np.column_stack([np.ones_like(knots), knots])
        w, V = np.linalg.eigh(E)
        top = np.argsort(-np.abs(w), kind="stable")[:k]      # the k of largest magnitude,
        top = top[np.argsort(-w[top], kind="stable")]         # ordered by value as mgcv's Lanczos
        U, v = V[:, top], w[top]
        # δ = U Q z: Q from Householder reflections that rotate T'U into its last two
        # columns (mgcv's right-sided QT factorization), so Q's first k − 2 columns span
        # T'U's null space; the same rotation as mgcv's gives its parameterization
        Q = _right_householder(T.T @ U)
        UZ = U @ Q[:, :k - 2]
        S = np.zeros((k, k))
        S[:k - 2, :k - 2] = (Q.T @ (v[:, None] * Q))[:k - 2, :k - 2]
        basis = cls(knots=knots, shift=shift, UZ=UZ, scale=np.ones(k))
        X = basis.matrix(x)
        scale = np.sqrt(np.mean(X ** 2, axis=0))
        S = S / np.outer(scale, scale)
        return cls(knots=knots, shift=shift, UZ=UZ, scale=scale), 0.5 * (S + S.T)

    def matrix(self, x: np.ndarray) -> np.ndarray:
        t = x - self.shift
        K = _eta(t[:, None] - self.knots[None, :])
        return np.column_stack([K @ self.UZ, np.ones_like(t), t]) / self.scale


# ----------------------------------------------------------------------- the smooth
@dataclass(frozen=True)
class Smooth:
    """A constructed smooth: its basis and the split into fixed and random columns.

    ``fixed_matrix(data)`` gives the unpenalized columns (``fixed_names``), and
    ``random_matrix(data)`` the penalized columns whose effects are iid N(0, σ²_s).
    """

    spec: SmoothSpec
    basis: object = field(repr=False)
    to_fixed: np.ndarray = field(repr=False)     # (k, n_fixed)
    to_random: np.ndarray = field(repr=False)    # (k, n_random)
    penalty_scale: float = 1.0                   # mgcv's S.scale (S was divided by it)

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def fixed_names(self) -> list[str]:
        return [f"{self.label}Fx{i + 1}" for i in range(self.to_fixed.shape[1])]

    def _x(self, data: pd.DataFrame) -> np.ndarray:
        return smooth_values(self.spec, data)

    def raw_matrix(self, data: pd.DataFrame) -> np.ndarray:
        return self.basis.matrix(self._x(data))

    def fixed_matrix(self, data: pd.DataFrame) -> np.ndarray:
        return self.raw_matrix(data) @ self.to_fixed

    def random_matrix(self, data: pd.DataFrame) -> np.ndarray:
        return self.raw_matrix(data) @ self.to_random


def smooth_values(spec: SmoothSpec, data: pd.DataFrame) -> np.ndarray:
    """The smooth's variable as finite numbers, or a DataError naming it."""
    if spec.var not in data.columns:
        raise DataError(f"The data lack column {spec.var!r} used by {spec.source!r}.")
    column = data[spec.var]
    if not pd.api.types.is_numeric_dtype(column) or column.dtype == bool:
        raise DataError(f"{spec.source!r}: column {spec.var!r} must be numeric, got {column.dtype}.")
    x = column.to_numpy(dtype=float)
    if not np.all(np.isfinite(x)):
        raise DataError(f"{spec.source!r}: column {spec.var!r} has missing or infinite values.")
    return x


def build_smooth(spec: SmoothSpec, data: pd.DataFrame) -> Smooth:
    """Construct the basis on the data and split it as mgcv's ``smooth2random``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> d = pd.DataFrame({"x": np.linspace(0, 1, 50)})
    >>> sm = build_smooth(parse_smooth("s(x, bs = 'cr')"), d)
    >>> sm.fixed_matrix(d).shape, sm.random_matrix(d).shape
    ((50, 1), (50, 8))
    """
    x = smooth_values(spec, data)
    n_unique = len(np.unique(x))
    if n_unique < spec.k:
        raise DataError(f"{spec.source!r}: column {spec.var!r} has {n_unique} distinct values, fewer "
                        f"than the basis dimension k = {spec.k}. Reduce k.")
    basis, S = (CRBasis if spec.bs == "cr" else TPBasis).construct(x, spec.k)
    X = basis.matrix(x)
    # mgcv's smoothCon: scale S so that its size matches X'X's (the ∞-norm of X squared)
    scale = float(np.max(np.sum(np.abs(S), axis=0)) / np.max(np.sum(np.abs(X), axis=1)) ** 2)
    S = S / scale
    # sum-to-zero constraint over the data: β = Z β_c with Z spanning the complement of colMeans
    C = X.mean(axis=0)[:, None]
    Q, _ = np.linalg.qr(C, mode="complete")
    Z = Q[:, 1:]
    w, V = np.linalg.eigh(Z.T @ S @ Z)
    order = np.argsort(-w)
    w, V = w[order], V[:, order]
    rank = spec.k - 2        # both bases: a linear null space {1, x}, one column left after centring
    to_random = Z @ (V[:, :rank] / np.sqrt(w[:rank]))
    fixed = Z @ V[:, rank:]
    fixed = fixed * np.sign(fixed[np.argmax(np.abs(fixed[:, 0])), 0])   # a reproducible sign
    return Smooth(spec=spec, basis=basis, to_fixed=fixed, to_random=to_random, penalty_scale=scale)
