"""Known covariance matrices of group effects: brms's ``(1 | gr(id, cov = A))``.

The group effects of such a term are N(0, σ² A) with A a known matrix over the levels
of ``id`` (a relationship matrix from a pedigree, a phylogenetic covariance), passed by
name as ``ml.fit(..., data2={"A": matrix})``. A is validated and factored once here:
A = R R' with R lower triangular (Cholesky; CHOLMOD's sparse Cholesky when A is a
scipy sparse matrix and scikit-sparse is installed; a symmetric square root when A is
only positive semidefinite), so that b = R u with u ~ N(0, σ² I): the REML/ML engine
uses θ·R as the term's block of Λθ and the Bayesian engine b = sd · R · z.

Only the levels present in the data enter the fit (the marginal of N(0, σ² A) on them
is N(0, σ² A_sub), so the likelihood is exact); levels of A not in the data are not
predicted with their relatives' information, they are new levels like any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from multilevel.errors import DataError, FormulaError

# gr(id, cov = A) or gr(id, cov = "A"): the group and the name of the matrix in data2
_GR = re.compile(r"^gr\s*\((.*)\)$")
_COV_NAME = re.compile(r"gr\s*\(([^()]*?),\s*cov\s*=\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\)")
SYMMETRY_TOL = 1e-8   # relative asymmetry allowed in a known matrix
PSD_TOL = 1e-10       # relative negative eigenvalue allowed (rounding)


def quote_cov_names(text: str) -> str:
    """``gr(id, cov = A)`` → ``gr(id, cov = "A")``: the matrix's name is a key of data2, not a
    column, so it is written as a string for the formula's name checks.

    >>> quote_cov_names("y ~ 1 + (1 | gr(id, cov = A))")
    'y ~ 1 + (1 | gr(id, cov = "A"))'
    """
    return _COV_NAME.sub(lambda m: f'gr({m.group(1).strip()}, cov = "{m.group(2)}")', text)


def split_gr(rhs: str, source: str) -> tuple[str, str | None]:
    """The grouping expression and the matrix name of a bar's right-hand side.

    >>> split_gr('gr(id, cov = "A")', "(1 | gr(id, cov = A))")
    ('id', 'A')
    >>> split_gr("g", "(1 | g)")
    ('g', None)
    """
    m = _GR.match(rhs.strip())
    if m is None:
        return rhs, None
    args = [a.strip() for a in m.group(1).split(",")]
    group, cov = args[0], None
    for arg in args[1:]:
        key, _, value = arg.partition("=")
        key, value = key.strip(), value.strip().strip("'\"")
        if key != "cov" or not value:
            raise FormulaError(f"In {source!r}, gr() takes the grouping column and cov = <name of a "
                               f"matrix in data2>, e.g. '(1 | gr(id, cov = A))'; got {arg!r}.")
        cov = value
    if not group or any(ch in group for ch in "/()"):
        raise FormulaError(f"In {source!r}, gr()'s first argument must be one grouping column "
                           "(or a:b), e.g. gr(id, cov = A).")
    return group, cov


@dataclass(frozen=True)
class KnownCov:
    """A known covariance over a term's levels, factored: A_sub = R R'.

    Attributes
    ----------
    name : str
        The matrix's key in ``data2``.
    levels : list of str
        The term's levels (the order of R's rows and columns).
    root : ndarray or sparse matrix, shape (m, m)
        R with R R' = A restricted to ``levels``.
    """

    name: str
    levels: list[str]
    root: object = field(repr=False)

    def dense_root(self) -> np.ndarray:
        return self.root.toarray() if sp.issparse(self.root) else np.asarray(self.root)

    def effects(self, u: np.ndarray, scale: float) -> np.ndarray:
        """b = scale · R u as a (levels, 1) column."""
        return (scale * np.asarray(self.root @ np.asarray(u).reshape(-1))).reshape(-1, 1)


def known_cov(name: str, matrix, levels: list[str], term: str) -> KnownCov:
    """Validate the matrix ``data2[name]`` for a term with ``levels`` and factor it.

    Parameters
    ----------
    name : str
        The key in ``data2`` (for messages).
    matrix : DataFrame, ndarray or scipy sparse matrix
        A DataFrame's index and columns name the levels (the same set; order free). An
        array or sparse matrix without names has one row per level of the term, in the
        order of the fitted levels (``sorted`` as R's factor levels, see ``fit.ranef``).
    levels : list of str
        The term's levels in the data.
    term : str
        The term as written (for messages).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> A = pd.DataFrame([[1.0, 0.5], [0.5, 1.0]], index=["a", "b"], columns=["a", "b"])
    >>> kc = known_cov("A", A, ["b", "a"], "(1 | gr(id, cov = A))")
    >>> np.allclose(kc.dense_root() @ kc.dense_root().T, [[1.0, 0.5], [0.5, 1.0]])
    True
    """
    where = f"data2[{name!r}] (the known covariance of {term!r})"
    if isinstance(matrix, pd.DataFrame):
        index = [_label(v) for v in matrix.index]
        columns = [_label(v) for v in matrix.columns]
        if len(set(index)) != len(index):
            raise DataError(f"{where} has repeated row names; each level must appear once.")
        if set(index) != set(columns):
            raise DataError(f"{where} must have the same level names on its rows (index) and columns.")
        missing = [lv for lv in levels if lv not in set(index)]
        if missing:
            raise DataError(f"{where} lacks level(s) {missing[:10]} of the grouping factor"
                            f"{f' ({len(missing)} in all)' if len(missing) > 10 else ''}: every level "
                            "in the data needs a row and a column of the matrix.")
        try:
            values = matrix.to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise DataError(f"{where} must hold numbers.") from None
        pos = {lv: i for i, lv in enumerate(index)}
        cpos = {lv: i for i, lv in enumerate(columns)}
        rows = [pos[lv] for lv in levels]
        cols = [cpos[lv] for lv in levels]
        A = values[np.ix_(rows, cols)]
        return _factor(name, A, levels, where)
    if sp.issparse(matrix):
        A = sp.csc_matrix(matrix, dtype=float)
    else:
        try:
            A = np.asarray(matrix, dtype=float)
        except (TypeError, ValueError):
            raise DataError(f"{where} must be a numeric matrix (numpy array, scipy sparse matrix or "
                            "DataFrame named by level).") from None
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise DataError(f"{where} must be a square matrix; got shape {A.shape}.")
    if A.shape[0] != len(levels):
        raise DataError(f"{where} has {A.shape[0]} rows but the grouping factor has {len(levels)} "
                        "levels in the data. Pass a DataFrame whose index and columns name the "
                        "levels (then it may have more levels than the data).")
    return _factor(name, A, levels, where)


def _label(value) -> str:
    """A level name as the formula layer spells group levels (integers without '.0')."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _factor(name: str, A, levels: list[str], where: str) -> KnownCov:
    if sp.issparse(A):
        data = A.data
        if not np.all(np.isfinite(data)):
            raise DataError(f"{where} has missing or infinite entries.")
        asym = abs(A - A.T).max() if A.nnz else 0.0
        scale = abs(A).max() if A.nnz else 0.0
        if asym > SYMMETRY_TOL * max(scale, 1e-300):
            raise DataError(f"{where} is not symmetric (largest |A - A'| = {asym:.3g}).")
        root = _sparse_root(A)
        if root is not None:
            return KnownCov(name=name, levels=list(levels), root=root)
        A = A.toarray()
    if not np.all(np.isfinite(A)):
        raise DataError(f"{where} has missing or infinite entries.")
    scale = float(np.max(np.abs(A))) if A.size else 0.0
    if scale == 0.0:
        raise DataError(f"{where} is zero: the group effects would all be 0.")
    asym = float(np.max(np.abs(A - A.T)))
    if asym > SYMMETRY_TOL * scale:
        raise DataError(f"{where} is not symmetric (largest |A - A'| = {asym:.3g}); a covariance "
                        "matrix must equal its transpose.")
    A = 0.5 * (A + A.T)
    try:
        root = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(A)
        if w[0] < -PSD_TOL * max(w[-1], 1e-300) * len(w):
            raise DataError(f"{where} is not positive semidefinite (smallest eigenvalue {w[0]:.3g}); "
                            "a covariance matrix cannot have negative variances.") from None
        root = V * np.sqrt(np.clip(w, 0.0, None))       # R R' = A (a symmetric square root)
    return KnownCov(name=name, levels=list(levels), root=root)


def _sparse_root(A: sp.csc_matrix):
    """P'L with A = (P'L)(P'L)' from CHOLMOD (scikit-sparse), or None without it or when A is
    not positive definite (then the dense path decides)."""
    try:
        from sksparse.cholmod import CholmodNotPositiveDefiniteError, cholesky
    except ImportError:
        return None
    try:
        f = cholesky(A)
        L, P = f.L(), f.P()
    except CholmodNotPositiveDefiniteError:
        return None
    root = sp.csc_matrix(L[np.argsort(P), :] if P is not None else L)   # rows in the levels' order
    # checked once (cheap for a sparse A): a factor that does not reproduce A is not used
    error = abs(root @ root.T - A).max() if A.nnz else 0.0
    return root if error <= 1e-8 * abs(A).max() else None


def read_matrix(file, name: str) -> pd.DataFrame:
    """A known covariance matrix from a file, named by level; nothing in the file is executed.

    ``.csv``: a header row of level names and one row per level whose first column is its
    name (R's ``write.csv(A)``). ``.npz`` (``numpy.savez``, read without pickles): an array
    ``matrix`` and an array ``levels`` of names, or a single square array whose rows are the
    levels in the fitted order.

    Raises
    ------
    DataError
        Naming the file and what is wrong with it.
    """
    from pathlib import Path

    file = Path(file)
    where = f"data2 {name!r} file {str(file)!r}"
    if not file.is_file():
        raise DataError(f"{where} does not exist or is not a regular file.")
    suffix = file.suffix.lower()
    if suffix == ".csv":
        try:
            with open(file, "rb") as fh:
                table = pd.read_csv(fh, index_col=0, encoding="utf-8-sig")
        except Exception as exc:  # pandas raises many kinds for an unreadable file
            raise DataError(f"{where} cannot be read as CSV ({type(exc).__name__}: {str(exc)[:200]}).") from None
        table.index = [_label(v) for v in table.index]
        table.columns = [str(c) for c in table.columns]
        return table
    if suffix == ".npz":
        try:
            with np.load(file, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except Exception as exc:  # noqa: BLE001 - a corrupt or pickled archive
            raise DataError(f"{where} cannot be read as NPZ without pickles "
                            f"({type(exc).__name__}: {str(exc)[:200]}).") from None
        if "matrix" in arrays:
            matrix = arrays["matrix"]
            if "levels" not in arrays:
                return matrix
            levels = [_label(v) for v in arrays["levels"].tolist()]
            if matrix.ndim != 2 or len(levels) != matrix.shape[0]:
                raise DataError(f"{where}: 'levels' must name each row of 'matrix'.")
            return pd.DataFrame(matrix, index=levels, columns=levels)
        if len(arrays) == 1:
            return next(iter(arrays.values()))
        raise DataError(f"{where} must hold arrays 'matrix' (and 'levels'), or one array; it has "
                        f"{sorted(arrays)}.")
    raise DataError(f"{where} must be .csv or .npz.")
