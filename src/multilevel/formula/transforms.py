"""Basis-function transforms that formulas may call: ``rbf`` and ``sigmoid``.

Both are formulae *stateful* transforms: the centres and the width/scale are
computed from the data the model is fitted to and kept, so predicting on new data
evaluates the same basis (formulae calls ``__call__`` again on the stored object).
``poly(x, degree, raw=False)`` — orthogonal polynomials, or raw powers with
``raw=True`` — is formulae's own and behaves the same way.

Examples
--------
``y ~ rbf(x, centers=6)``: six Gaussian bumps at the quantiles of x, width the
median spacing of the centres. ``y ~ sigmoid(x, centers=4, scale=2)``.
"""

from __future__ import annotations

import numpy as np

from multilevel.errors import FormulaError


def _centres(x: np.ndarray, centers, lower, upper) -> np.ndarray:
    if isinstance(centers, bool) or not isinstance(centers, (int, np.integer)) or centers < 1:
        raise FormulaError(f"centers must be a positive integer (the number of centres), got {centers!r}.")
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


FORMULA_TRANSFORMS: dict[str, object] = {"rbf": RadialBasis, "sigmoid": SigmoidBasis}
