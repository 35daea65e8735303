"""Transforms that formulas may call: ``rbf`` and ``sigmoid`` basis functions, and R's
``scale`` (also ``standardize``) and ``center`` in place of formulae's.

All are formulae *stateful* transforms: the centres and the width/scale (the mean and
SD) are computed from the data the model is fitted to and kept, so predicting on new
data evaluates the same basis (formulae calls ``__call__`` again on the stored object).
``poly(x, degree, raw=False)`` — orthogonal polynomials, or raw powers with
``raw=True`` — is formulae's own and behaves the same way.

Examples
--------
``y ~ rbf(x, centers=6)``: six Gaussian bumps at the quantiles of x, width the
median spacing of the centres. ``y ~ sigmoid(x, centers=4, scale=2)``.

``scale(x)`` is R's: centred and divided by the *sample* SD (n − 1), so coefficients
match lme4's (formulae's own ``scale`` divides by the population SD). ``scale(x,
center=False)``, ``scale(x, scale=FALSE)``, ``scale(x, center=2, scale=10)`` as in R.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd

from multilevel.errors import DataError, FormulaError
from multilevel.formula.rfactors import FACTOR_CALLS, R_CONVERSIONS, r_C, r_I


def _centres(x: np.ndarray, centers, lower, upper) -> np.ndarray:
    if isinstance(centers, bool) or not isinstance(centers, (int, np.integer)) or centers < 1:
        raise FormulaError(f"centers must be a positive integer (the number of centres), got {centers!r}.")
    distinct = len(np.unique(x[np.isfinite(x)]))
    if centers >= max(distinct, 2):
        # more basis columns than distinct x values: the columns are (nearly) collinear and
        # every engine's linear algebra breaks down (a LinAlgError, wild coefficients)
        raise FormulaError(
            f"centers={centers} basis functions need fewer centres than the {distinct} distinct "
            f"values of their argument; use centers={max(1, min(distinct - 1, distinct // 2))} or fewer."
        )
    lo = np.min(x) if lower is None else float(lower)
    hi = np.max(x) if upper is None else float(upper)
    if lower is None and upper is None:
        return np.quantile(x, np.linspace(0, 1, centers + 2)[1:-1]) if centers > 1 else np.array([np.median(x)])
    return np.linspace(lo, hi, centers)


def _spacing(c: np.ndarray, x: np.ndarray) -> float:
    return float(np.median(np.diff(c))) if len(c) > 1 else float(np.std(x))


class RadialBasis:
    """Gaussian radial basis exp(−(x − c_k)² / (2 w²)), one column per centre."""

    __transform_name__ = "rbf"
    __stateful_transform__ = True

    def __init__(self):
        self.centres = None
        self.width = None

    def __call__(self, x, centers=5, width=None, lower=None, upper=None):
        x = np.asarray(x, dtype=float)
        if self.centres is None:
            self.centres = _centres(x, centers, lower, upper)
            self.width = _spacing(self.centres, x) if width is None else float(width)
            if not self.width > 0:
                raise FormulaError(f"rbf width must be positive, got {self.width!r}.")
        return np.exp(-((x[:, None] - self.centres[None, :]) ** 2) / (2.0 * self.width ** 2))


class SigmoidBasis:
    """Logistic steps 1 / (1 + exp(−(x − c_k)/s)), one column per centre."""

    __transform_name__ = "sigmoid"
    __stateful_transform__ = True

    def __init__(self):
        self.centres = None
        self.scale = None

    def __call__(self, x, centers=5, scale=None, lower=None, upper=None):
        x = np.asarray(x, dtype=float)
        if self.centres is None:
            self.centres = _centres(x, centers, lower, upper)
            self.scale = _spacing(self.centres, x) / 2 if scale is None else float(scale)
            if not self.scale > 0:
                raise FormulaError(f"sigmoid scale must be positive, got {self.scale!r}.")
        z = (x[:, None] - self.centres[None, :]) / self.scale
        return 0.5 * (1.0 + np.tanh(z / 2.0))  # the logistic function, overflow-free


# ------------------------------------------------------------------ R's scale()

SCALE_ROWS = "multilevel.scale_rows"
"""Key of ``DataFrame.attrs`` under which :func:`multilevel.formula.model_frame` leaves the
values of each ``scale()``/``center()`` argument on the rows R would use (see :class:`Scale`)."""


class ScaleRows:
    """The arguments of a formula's ``scale()`` calls evaluated on the rows of the data
    before ``na.omit`` (where each argument's own columns are present), beside their values
    on the model frame's rows. Kept by identity: pandas deep-copies ``attrs`` on every
    operation, so copying returns the same object."""

    def __init__(self, entries: list[tuple[np.ndarray, np.ndarray]]):
        self.entries = entries  # (values on the kept rows, values on R's rows)

    def __deepcopy__(self, memo):
        return self

    def rows_for(self, x: np.ndarray) -> np.ndarray | None:
        """R's rows of the argument whose model-frame values are ``x``; None if none is."""
        for kept, full in self.entries:
            if kept.shape == x.shape and np.array_equal(np.isnan(kept), np.isnan(x)) and \
                    np.allclose(kept, x, rtol=1e-13, atol=0.0, equal_nan=True):
                return full
        return None


def _flag_or_numbers(value, what: str):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    try:
        out = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        out = None
    if out is None or out.ndim > 1 or not np.all(np.isfinite(out)):
        raise FormulaError(f"scale()'s {what} must be True, False or finite number(s) (one per "
                           f"column), got {value!r}.")
    return out


def r_scale_parameters(x: np.ndarray, center=True, scale=True):
    """R's ``scale.default`` parameters of the columns of ``x``: (centre or None, scale or None).

    ``center=True``: the column means; ``scale=True``: sqrt(Σv²/(n − 1)) of the centred
    column — the sample SD when centred, the root mean square (with n − 1) when not, as R.
    Missing values (NaN) are left out of both, as R's ``na.rm``. Numbers are used as given.
    """
    x = np.asarray(x, dtype=float)
    x2 = x.reshape(len(x), -1)
    center = _flag_or_numbers(center, "center")
    scale = _flag_or_numbers(scale, "scale")
    ncol = x2.shape[1]
    for name, value in (("center", center), ("scale", scale)):
        if not isinstance(value, bool) and value.size not in (1, ncol):
            raise FormulaError(f"scale()'s {name} has {value.size} numbers for {ncol} column(s).")
    infinite = np.isinf(x2).any(axis=1)
    if infinite.any():  # the mean and SD would be inf/NaN, and the column NaN throughout
        raise DataError(f"scale() of a column with infinite values in {int(infinite.sum())} of "
                        f"{len(x2)} rows: remove or fix those rows.")
    ok = ~np.isnan(x2)
    n = ok.sum(axis=0)
    if center is True:
        if np.any(n == 0):
            raise FormulaError("scale() of a column with no non-missing values.")
        c = np.where(ok, x2, 0.0).sum(axis=0) / n
    else:
        c = None if center is False else np.broadcast_to(center, (ncol,)).astype(float)
    xc = x2 - c if c is not None else x2
    if scale is True:
        s = np.sqrt((np.where(ok, xc, 0.0) ** 2).sum(axis=0) / np.maximum(1, n - 1))
    else:
        s = None if scale is False else np.broadcast_to(scale, (ncol,)).astype(float)
    if s is not None and not np.all(s > 0):
        raise FormulaError("scale() would divide by zero: the column is constant (its SD is 0) "
                           "or the scale given is 0. Remove the term or use center() instead.")
    return c, s


class Scale:
    """R's ``scale(x, center = TRUE, scale = TRUE)``: subtract the mean and divide by the
    sample SD (n − 1), not formulae's population SD.

    ``center``/``scale`` may be True, False or numbers (one, or one per column of a matrix
    argument) as in R; ``TRUE``/``FALSE`` are accepted spellings. Stateful: the mean and SD
    come from the data the model is fitted to and are reused for new data (predictions),
    R's ``makepredictcall``.

    Rows: R evaluates ``scale()`` in ``model.frame`` *before* ``na.omit``, so its mean and
    SD use every row where the argument itself is present, including rows later dropped for
    a missing value in another used column. :func:`multilevel.formula.model_frame` records
    the argument on those rows (``attrs[SCALE_ROWS]`` of the frame's data); this transform
    fits on them when its argument matches, and on the rows it is given otherwise.
    """

    __transform_name__ = "scale"
    __stateful_transform__ = True

    def __init__(self):
        self.center = None
        self.scale = None
        self.fitted = False

    def __call__(self, x, center=True, scale=True):
        values = np.asarray(x, dtype=float)
        if values.ndim not in (1, 2):
            raise FormulaError(f"scale() needs a column or a matrix, got {values.ndim} dimensions.")
        if not self.fitted:
            rows = getattr(x, "attrs", {}).get(SCALE_ROWS)
            fit_on = rows.rows_for(values) if isinstance(rows, ScaleRows) else None
            self.center, self.scale = r_scale_parameters(values if fit_on is None else fit_on,
                                                          center, scale)
            self.fitted = True
        out = values.reshape(len(values), -1)
        if self.center is not None:
            out = out - self.center
        if self.scale is not None:
            out = out / self.scale
        return out.reshape(values.shape)


class Center(Scale):
    """``center(x)``: ``scale(x, scale=False)`` — subtract the mean of the fitted rows."""

    __transform_name__ = "center"

    def __call__(self, x):
        return super().__call__(x, center=True, scale=False)


SCALE_TRANSFORMS: dict[str, type] = {"scale": Scale, "standardize": Scale, "center": Center}


def r_rows(x) -> np.ndarray | None:
    """The argument ``x`` of a data-dependent call on R's rows (every row where its own
    columns are present, before ``na.omit``), when :func:`multilevel.formula.model_frame`
    recorded it (``attrs[SCALE_ROWS]``); None otherwise (then the rows given are R's)."""
    rows = getattr(x, "attrs", {}).get(SCALE_ROWS)
    if not isinstance(rows, ScaleRows):
        return None
    return rows.rows_for(np.asarray(x, dtype=float))


def _formulae_bases():
    from formulae.transforms import BSpline, Polynomial

    class Poly(Polynomial):
        """formulae's ``poly()`` (R's orthonormal polynomials) with its recurrence fitted on
        R's rows: R evaluates ``poly(x, 2)`` in ``model.frame`` before ``na.omit``, so rows
        dropped for a missing response still shape the basis (lme4's coefficients differ
        otherwise)."""

        def __call__(self, x, degree=1, raw=False):
            full = None if self.alpha or raw else r_rows(x)
            if full is not None:
                super().__call__(full, degree, raw)   # caches the recurrence's alpha and norms
            return super().__call__(x, degree, raw)

    class BS(BSpline):
        """formulae's ``bs()`` with its knots (quantiles, boundary) from R's rows, as ``Poly``."""

        def __call__(self, x, df=None, knots=None, degree=3, intercept=False, lower_bound=None,
                     upper_bound=None):
            full = None if self.params_set else r_rows(x)
            if full is not None:
                self._initialize(full, df, knots, degree, intercept, lower_bound, upper_bound)
            return super().__call__(x, df, knots, degree, intercept, lower_bound, upper_bound)

    return {"poly": Poly, "bs": BS}


#: the calls whose fitted state depends on the rows (their arguments' R rows are recorded)
ROW_DEPENDENT_CALLS = (*SCALE_TRANSFORMS, "poly", "bs", "ns")


@contextlib.contextmanager
def r_transforms():
    """formulae's transform table with R's ``scale``/``standardize``/``center``, ``C``
    (:func:`multilevel.formula.rfactors.r_C`) and ``I`` (:func:`~multilevel.formula.rfactors.r_I`),
    for as long as a formula is evaluated (ours or Bambi's).

    formulae looks its own transforms up before the evaluation environment, so an entry in
    the environment alone would be ignored. Each evaluated call keeps a snapshot of the table
    (formulae's ``Call.env``), so predictions on new data later use the same transform; the
    table itself is restored afterwards, so formulae and Bambi used outside this package
    keep their own ``scale``.
    """
    from formulae import transforms as formulae_transforms

    ours = {**SCALE_TRANSFORMS, **_formulae_bases(), "C": r_C, "I": r_I}
    table = formulae_transforms.TRANSFORMS
    saved = {name: table[name] for name in ours if name in table}
    table.update(ours)
    try:
        yield
    finally:
        for name in ours:
            table.pop(name, None)
        table.update(saved)


def design_matrices(formula, data, *args, **kwargs):
    """``formulae.design_matrices`` with R's scale (see :func:`r_transforms`) and R's
    double arithmetic (see :func:`integers_as_doubles`)."""
    import formulae

    with r_transforms():
        return formulae.design_matrices(formula, integers_as_doubles(data, formula), *args, **kwargs)


def integers_as_doubles(data, text: str, keep=()):
    """``data`` with the integer columns that ``text`` uses as numbers as float64.

    R computes with doubles: ``I(pop^2)`` of an integer column is a double, and R's
    integer ``*`` overflows to ``NA`` with a warning. numpy's int64 arithmetic wraps
    around silently, so ``I(pop**2)`` with ``pop`` near 4e10 gave formulae (and so
    Bambi) wrapped numbers and a fit with a wrong coefficient and no message. Columns
    inside ``C()``, ``factor()`` and the like (categories; their labels stay whole numbers) and those in ``keep``
    (responses, grouping factors) are left as they are; other data are not copied.
    """
    if not isinstance(data, pd.DataFrame):
        return data
    from multilevel.formula.parse import calls, column_names

    named = set(column_names(text))
    categorical = {c for _, args in calls(text, FACTOR_CALLS) for c in column_names(args[0] if args else "")}
    cast = [c for c in data.columns if c in named and c not in categorical and c not in keep
            and pd.api.types.is_integer_dtype(data[c].dtype)
            and not isinstance(data[c].dtype, pd.CategoricalDtype)]
    if not cast:
        return data
    return data.assign(**{c: data[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in cast})


def _typed_call_equality() -> None:
    """formulae 0.6 compares two calls of one function argument by argument, and a call
    compared with a plain variable raises AttributeError (``LazyCall.__eq__`` reads the
    other's ``callee``): ``log(exp(hp)) + log(wt)`` or ``C(factor(g), contr.sum) +
    C(h, contr.poly)`` could not be built. A call equals only a call, as formulae's other
    lazy values already compare."""
    from formulae.terms.call_resolver import LazyCall

    if getattr(LazyCall.__eq__, "_typed", False):
        return
    untyped = LazyCall.__eq__

    def __eq__(self, other):
        return isinstance(other, LazyCall) and untyped(self, other)

    __eq__._typed = True
    hashing = LazyCall.__hash__   # a class given __eq__ keeps its own __hash__ explicitly
    LazyCall.__eq__ = __eq__
    LazyCall.__hash__ = hashing


_typed_call_equality()

FORMULA_TRANSFORMS: dict[str, object] = {"rbf": RadialBasis, "sigmoid": SigmoidBasis, **SCALE_TRANSFORMS,
                                         **R_CONVERSIONS}

