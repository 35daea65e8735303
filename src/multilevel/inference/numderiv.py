"""Richardson-extrapolated central differences (the method of R's numDeriv, which
lmerTest uses for its Hessian and Jacobian), written from the textbook formulas."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

ZERO_TOL = np.sqrt(np.finfo(float).eps / 7e-7)  # numDeriv's zero.tol


def _steps(x: np.ndarray, d: float, eps: float) -> np.ndarray:
    """Initial step per coordinate: d·|x|, or eps where x is (near) zero."""
    return np.where(np.abs(x) < ZERO_TOL, eps, d * np.abs(x))


def _extrapolate(estimates: list) -> np.ndarray:
    """Richardson extrapolation of central differences at steps h, h/2, h/4, ...
    (their errors are series in h², so level m removes the h^(2m) term)."""
    a = [np.asarray(e, dtype=float) for e in estimates]
    for m in range(1, len(a)):
        a = [(a[k + 1] * 4 ** m - a[k]) / (4 ** m - 1) for k in range(len(a) - 1)]
    return a[0]


def jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, d: float = 1e-4,
             eps: float = 1e-4, r: int = 4) -> np.ndarray:
    """∂f/∂x_j for an array-valued f: result has shape f(x).shape + (len(x),)."""
    x = np.asarray(x, dtype=float)
    h0 = _steps(x, d, eps)
    cols = []
    for j in range(len(x)):
        def central(h, j=j):
            e = np.zeros_like(x)
            e[j] = h
            return (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h)
        cols.append(_extrapolate([central(h0[j] / 2 ** k) for k in range(r)]))
    return np.stack(cols, axis=-1)


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray, d: float = 0.1, eps: float = 1e-4,
            r: int = 4) -> np.ndarray:
    """Second derivatives of a scalar f at x (numDeriv's defaults d = 0.1, r = 4)."""
    x = np.asarray(x, dtype=float)
    k = len(x)
    h0 = _steps(x, d, eps)
    f0 = float(f(x))
    H = np.zeros((k, k))

    def at(steps):
        return float(f(x + steps))

    for i in range(k):
        def diag(h, i=i):
            e = np.zeros(k)
            e[i] = h
            return (at(e) - 2 * f0 + at(-e)) / h ** 2
        H[i, i] = _extrapolate([diag(h0[i] / 2 ** m) for m in range(r)])
        for j in range(i):
            def cross(s, i=i, j=j):
                hi, hj = h0[i] * s, h0[j] * s
                ei, ej = np.zeros(k), np.zeros(k)
                ei[i], ej[j] = hi, hj
                return (at(ei + ej) - at(ei - ej) - at(-ei + ej) + at(-ei - ej)) / (4 * hi * hj)
            H[i, j] = H[j, i] = _extrapolate([cross(1 / 2 ** m) for m in range(r)])
    return H
