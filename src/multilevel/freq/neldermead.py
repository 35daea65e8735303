"""The Nelder-Mead simplex method exactly as lme4's ``Nelder_Mead`` runs it.

glmer's default second stage optimizes (θ, β) with lme4's own Nelder-Mead (its C++
``optimizer::Nelder_Mead``, ported from NLopt 2.2's ``nldrmd``). Its default settings
stop long before the optimum, so reproducing glmer's printed numbers means
reproducing its sequence of simplices, not just reaching a minimum. NLopt's current
``LN_NELDERMEAD`` is not that sequence: it keeps the simplex in a sorted tree, stops on
function-value tolerances and accepts an expansion only when it beats the reflection.
This module follows lme4's variant step for step:

* The start simplex is x₀ and x₀ + sᵢeᵢ (i = 1..n); a vertex beyond a bound is put on
  the bound, or stepped the other way when the bound is within 0.1|sᵢ| of x₀.
* Each iteration takes the lowest (first on ties) and highest (first on ties) vertex and
  the centroid c of the others, then reflects the highest through c
  (x_r = c + (c − x_h)); every trial point is clamped to the bounds.
* f_r < f_low: expand to c + 2(c − x_h) and keep the expanded point when it is below the
  *old highest value* (lme4's test; NLopt compares with f_r), else the reflection.
* f_low ≤ f_r < f_high: accept the reflection.
* Otherwise contract inside, c − ½(c − x_h); accepted when below both f_r and f_high,
  else every vertex but the lowest moves halfway towards it and all n + 1 vertices are
  evaluated again (the lowest one too, as lme4 does).
* The only convergence test (lme4 sets FtolAbs through a setter that writes the
  relative tolerance, which the next line overwrites, and never tests f): every
  coordinate's largest distance from the centroid below its ``xtol_abs`` (lme4's
  ``xt``), or a trial point that coincides with the centroid or the vertex it
  replaces to 1e-13 relative. Also ``maxfun`` evaluations (non-convergence).

The point returned is the best point evaluated, which need not be a vertex any more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multilevel.errors import FitError

ALPHA, BETA, GAMMA, DELTA = 1.0, 0.5, 2.0, 0.5   # reflection, contraction, expansion, shrink
COINCIDE = 1e-13                                  # lme4's close(): |a − b| <= 1e-13 (|a| + |b|)
MAXFUN = 10_000
XTOL_PER_STEP = 5e-4                              # lme4's default xt = xst * 5e-4


@dataclass(frozen=True)
class NMResult:
    """The best point, its value and how the search ended."""

    x: np.ndarray
    fval: float
    evaluations: int
    converged: bool
    message: str


class _Stop(Exception):
    """Raised inside the search when the evaluation budget is spent."""


def _close(a, b) -> np.ndarray:
    return np.abs(a - b) <= COINCIDE * (np.abs(a) + np.abs(b))


def start_simplex(x0: np.ndarray, step: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Vertices (rows) x₀ and x₀ + step_i e_i, moved inside the bounds as lme4 does."""
    n = x0.size
    pts = np.tile(x0, (n + 1, 1))
    for i in range(n):
        v, s = x0[i] + step[i], abs(step[i])
        if v > upper[i]:
            v = upper[i] if upper[i] - x0[i] > 0.1 * s else x0[i] - s
        if v < lower[i]:
            if x0[i] - lower[i] > 0.1 * s:
                v = lower[i]
            else:  # the bound is too close: step the other way (towards the farther bound)
                v = x0[i] + s
                if v > upper[i]:
                    v = 0.5 * ((upper[i] if upper[i] - x0[i] > x0[i] - lower[i] else lower[i]) + x0[i])
        if _close(v, x0[i]):
            raise FitError(f"Nelder-Mead cannot build a start simplex: coordinate {i} of the start "
                           f"({x0[i]!r}) cannot move by {step[i]!r} within its bounds.")
        pts[i + 1, i] = v
    return pts


def nelder_mead(fun, x0, step, lower=None, upper=None, xtol_abs=None, maxfun: int = MAXFUN) -> NMResult:
    """Minimize ``fun`` from ``x0`` by lme4's Nelder-Mead.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> float``; +inf marks a point to avoid.
    x0 : array_like
        Start; must lie within the bounds.
    step : array_like
        Initial simplex steps (lme4's ``xst``); none may be zero.
    lower, upper : array_like, optional
        Bounds (``-inf``/``inf`` for none).
    xtol_abs : array_like, optional
        Per-coordinate convergence tolerance on the simplex's spread around its centroid
        (lme4's ``xt``; default ``step * XTOL_PER_STEP``).
    maxfun : int
        Evaluations allowed; the one after the last allowed stops the search unconverged.

    Returns
    -------
    NMResult

    Examples
    --------
    >>> res = nelder_mead(lambda x: (x[0] - 1) ** 2 + 10 * (x[1] + 2) ** 2, [0.0, 0.0], [0.5, 0.5],
    ...                   xtol_abs=[1e-8, 1e-8])
    >>> res.converged, np.round(res.x, 5).tolist()
    (True, [1.0, -2.0])
    """
    x0 = np.asarray(x0, dtype=float)
    n = x0.size
    step = np.broadcast_to(np.asarray(step, dtype=float), (n,)).copy()
    lower = np.full(n, -np.inf) if lower is None else np.asarray(lower, dtype=float)
    upper = np.full(n, np.inf) if upper is None else np.asarray(upper, dtype=float)
    xtol = step * XTOL_PER_STEP if xtol_abs is None else np.broadcast_to(np.asarray(xtol_abs, dtype=float), (n,))
    if np.any(step == 0):
        raise FitError(f"Nelder-Mead steps must be nonzero, got {step.tolist()}.")
    if np.any(x0 < lower) or np.any(x0 > upper):
        raise FitError(f"The Nelder-Mead start {x0.tolist()} is outside its bounds.")
    pts = start_simplex(x0, step, lower, upper)
    best = {"x": x0.copy(), "f": np.inf, "count": 0}

    def evaluate(x):
        value = float(fun(x))
        best["count"] += 1
        if value < best["f"]:
            best["x"], best["f"] = x.copy(), value
        if best["count"] > maxfun:
            raise _Stop
        return value

    def result(converged: bool = True, message: str = "parameter values converged to within "
               "tolerance") -> NMResult:
        return NMResult(x=best["x"], fval=best["f"], evaluations=best["count"], converged=converged,
                        message=message)

    try:
        vals = np.array([evaluate(p) for p in pts])
        while True:
            il, ih = int(np.argmin(vals)), int(np.argmax(vals))
            fl, fh = vals[il], vals[ih]
            c = (pts.sum(axis=0) - pts[ih]) / n
            spread = np.max(np.abs(pts - c), axis=0)
            if np.all((spread < xtol) | (spread == 0)):
                return result()

            def reflect(centre, scale, old):
                """centre + scale (centre − old), clamped; None when it coincides with the
                centroid or with ``old`` (lme4's reflectpt returns false)."""
                new = np.clip(centre + scale * (centre - old), lower, upper)
                return None if np.all(_close(new, c)) or np.all(_close(new, old)) else new

            xr = reflect(c, ALPHA, pts[ih])
            if xr is None:
                return result()
            fr = evaluate(xr)
            if fr < fl:                                    # new best: try expanding
                xe = reflect(c, GAMMA, pts[ih])
                if xe is None:
                    return result()
                fe = evaluate(xe)
                pts[ih], vals[ih] = (xe, fe) if fe < vals[ih] else (xr, fr)
            elif fr < fh:                                  # accept the reflection
                pts[ih], vals[ih] = xr, fr
            else:                                          # new worst: contract inside
                xc = reflect(c, -BETA, pts[ih])
                if xc is None:
                    return result()
                fc = evaluate(xc)
                if fc < fr and fc < fh:
                    pts[ih], vals[ih] = xc, fc
                else:                                      # shrink towards the lowest vertex
                    for i in range(n + 1):
                        if i != il:
                            moved = reflect(pts[il], -DELTA, pts[i])
                            if moved is None:
                                return result()
                            pts[i] = moved
                    vals = np.array([evaluate(p) for p in pts])
    except _Stop:
        return result(False, f"failure to converge in {maxfun} evaluations")
