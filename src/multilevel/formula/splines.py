"""R's natural cubic splines, ``splines::ns(x, df, knots, intercept)``, as a formula term.

The basis is R's: cubic B-splines on the boundary knots (the range of ``x``) and the
interior knots (quantiles of ``x`` at equal steps, R's type 7), constrained to be linear
beyond the boundary (second derivatives 0 there) by projecting on the null space of the
constraints with the same Householder QR as R's ``qr.qty``, so the columns and therefore
the coefficients equal lme4's (``ns(x, df = 3)1, 2, 3``). Stateful: new data reuse the
fitted knots and are extrapolated linearly beyond the boundary, as R's ``predict``.
"""

from __future__ import annotations

import numpy as np

from multilevel.errors import FormulaError

ORDER = 4   # cubic


def _bsplines(knots: np.ndarray, x: np.ndarray, derivative: int = 0) -> np.ndarray:
    """R's ``splineDesign(knots, x, 4, derivs)``: every cubic B-spline on ``knots`` (or its
    derivative) at ``x`` (within the boundary knots; the right end is the left limit)."""
    from scipy.interpolate import BSpline

    n_basis = len(knots) - ORDER
    spline = BSpline(knots, np.eye(n_basis), ORDER - 1, extrapolate=False)
    if derivative:
        spline = spline.derivative(derivative)
    lo, hi = knots[ORDER - 1], knots[n_basis]
    values = spline(np.clip(x, lo, hi))
    at_right = x >= hi   # BSpline gives NaN past its last interval's right end
    if np.any(at_right):
        left = np.nextafter(hi, lo)
        values[at_right] = spline(np.full(int(at_right.sum()), left))
    return np.nan_to_num(values)


class NaturalSpline:
    """``ns(x, df = NULL, knots = NULL, intercept = FALSE)`` as in R's splines package."""

    __transform_name__ = "ns"
    __stateful_transform__ = True

    def __init__(self):
        self.knots = None        # interior knots
        self.boundary = None
        self.intercept = False

    def __call__(self, x, df=None, knots=None, intercept=False):
        from multilevel.formula.transforms import r_rows

        full = None if self.boundary is not None else r_rows(x)
        x = np.asarray(x, dtype=float).reshape(-1)
        if self.boundary is None:   # knots from R's rows (before na.omit), as model.frame
            self._fit(x if full is None else np.asarray(full, dtype=float).reshape(-1), df, knots, intercept)
        all_knots = np.sort(np.concatenate([np.repeat(self.boundary, ORDER), self.knots]))
        lo, hi = self.boundary
        basis = _bsplines(all_knots, x)
        for side, pivot in ((x < lo, lo), (x > hi, hi)):   # linear beyond the boundary
            if np.any(side):
                value = _bsplines(all_knots, np.array([pivot]))
                slope = _bsplines(all_knots, np.array([pivot]), derivative=1)
                basis[side] = value + (x[side] - pivot)[:, None] * slope
        const = _bsplines(all_knots, self.boundary, derivative=2)
        if not self.intercept:
            const, basis = const[:, 1:], basis[:, 1:]
        q, _ = np.linalg.qr(const.T, mode="complete")   # Householder, R's qr() signs
        return basis @ q[:, 2:]

    def _fit(self, x, df, knots, intercept) -> None:
        if isinstance(intercept, (bool, np.bool_)) is False:
            raise FormulaError(f"ns(..., intercept = {intercept!r}): use TRUE or FALSE.")
        self.intercept = bool(intercept)
        self.boundary = np.array([np.min(x), np.max(x)])
        if not self.boundary[1] > self.boundary[0]:
            raise FormulaError("ns() needs an argument with at least two distinct values.")
        if knots is not None:
            inner = np.sort(np.asarray(knots if isinstance(knots, (list, tuple, np.ndarray)) else [knots],
                                       dtype=float))
            if np.any(inner <= self.boundary[0]) or np.any(inner >= self.boundary[1]):
                raise FormulaError(f"ns(..., knots = ...): the knots must lie strictly inside the "
                                   f"range of the argument, {self.boundary.tolist()}.")
        elif df is not None:
            if isinstance(df, bool) or not float(df).is_integer() or df < 1:
                raise FormulaError(f"ns(..., df = {df!r}): df must be a whole number >= 1.")
            n_inner = max(int(df) - 1 - int(self.intercept), 0)
            distinct = len(np.unique(x))
            if n_inner + 2 > distinct:
                raise FormulaError(f"ns(..., df = {df}) needs more distinct values than the "
                                   f"argument's {distinct}; use df = {max(1, distinct - 2)} or less.")
            probs = np.linspace(0, 1, n_inner + 2)[1:-1]
            inner = np.quantile(x, probs) if n_inner else np.array([])
        else:
            inner = np.array([])
        self.knots = inner
