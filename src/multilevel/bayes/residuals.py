"""Correlated residuals within groups for Gaussian models (Bayesian fits).

Two structures, spelled in the formula next to the group effects:

``ar(time = t, gr = g)`` (brms's spelling; ``p = 1`` only)
    The errors e = y − μ of each group follow a stationary AR(1) process in ``time``
    with coefficient φ ∈ (−1, 1) and innovation SD σ (``sigma``):
    corr(e_s, e_t) = φ^|t − s| and var(e_t) = σ² / (1 − φ²), as nlme's
    ``corAR1(form = ~ time | g)``. ``time`` must step in whole units within a group;
    a gap of d steps (unobserved time points) is exact: e_t | e_{t−d} ~
    N(φ^d e_{t−d}, σ² (1 − φ^{2d}) / (1 − φ²)). Prior: φ ~ Uniform(−1, 1).
``cosy(gr = g)`` (brms's spelling)
    Compound symmetry: every pair of errors in a group has correlation ρ and every error
    has SD σ (``sigma``), as nlme's ``corCompSymm(form = ~ 1 | g)``. Unlike a random
    intercept, ρ may be negative: ρ ~ Uniform(−1 / (n_max − 1), 1), where n_max is the
    largest group, the bound that keeps the correlation matrix positive definite.

The likelihood is exact: the joint normal density of each group is factorised into
conditional densities in time order (``cs``: in row order within the group), whose
logarithms form the pointwise ``log_likelihood`` group. LOO from these terms therefore
leaves out an observation's *conditional* contribution given the earlier observations
of its group (as brms does for ``ar`` terms), not the observation from the whole series.
Rows may come in any order; each group is sorted here and the terms mapped back to rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from multilevel.errors import DataError, FamilyError, FormulaError
from multilevel.formula.frame import group_codes
from multilevel.formula.parse import Residuals

PARAMS = {"ar1": "ar1_phi", "cs": "cs_rho"}
PHI_NAME = PARAMS["ar1"]


@dataclass(frozen=True)
class ResidualLayout:
    """Where each row sits in its group's series.

    Attributes
    ----------
    residuals : Residuals
        The parsed structure.
    order : ndarray
        Row indices sorted by group, then time (``cs``: row order within the group).
    inverse : ndarray
        Position of each row in ``order``.
    previous : ndarray
        The row of the previous observation in the same group, −1 for the first.
    gap : ndarray
        Time steps since the previous observation (1 for first rows and for ``cs``).
    position : ndarray
        Number of earlier observations in the group, per row.
    start : ndarray
        Per sorted position, the sorted position of its group's first row.
    max_size : int
        Rows in the largest group.
    """

    residuals: Residuals
    order: np.ndarray
    inverse: np.ndarray
    previous: np.ndarray
    gap: np.ndarray
    position: np.ndarray
    start: np.ndarray
    max_size: int

    @property
    def kind(self) -> str:
        return self.residuals.kind

    @property
    def param(self) -> str:
        """Name of the correlation parameter in the posterior (``ar1_phi``, ``cs_rho``)."""
        return PARAMS[self.kind]

    @property
    def bounds(self) -> tuple[float, float]:
        """Support of the correlation parameter (the Uniform prior's limits)."""
        return (-1.0, 1.0) if self.kind == "ar1" else (-1.0 / (self.max_size - 1), 1.0)


def residual_layout(residuals: Residuals, data: pd.DataFrame, family: str = "gaussian",
                    bars=(), single_rows: bool = False) -> ResidualLayout:
    """Check a residual structure against the data and order each group's rows.

    ``bars`` (the formula's random-effect bars) are checked for a random intercept on
    the ``cs`` group, which would describe the same correlation twice. A fit needs a
    group with two or more rows; ``single_rows=True`` (new data to predict) does not.
    """
    source = residuals.source
    if family != "gaussian":
        raise FamilyError(f"{source!r} needs family='gaussian' (correlated errors of a normal "
                          f"response), not {family!r}.")
    if residuals.kind == "cs" and any(b.group == residuals.group and b.has_intercept for b in bars):
        raise FormulaError(f"{source!r} and a random intercept on {residuals.group!r} describe the same "
                           "within-group correlation (not identifiable together); keep one of them.")
    columns = (residuals.group,) if residuals.time is None else (residuals.time, residuals.group)
    for column in columns:
        if column not in data.columns:
            raise DataError(f"{source!r}: no column {column!r} in the data.")
    if data[residuals.group].isna().any():
        raise DataError(f"{source!r}: the grouping column {residuals.group!r} has missing values.")
    codes, _ = group_codes(data, (residuals.group,))
    n = len(codes)
    if residuals.time is None:
        order = np.argsort(codes, kind="stable")
        time = np.arange(n, dtype=float)[order]
    else:
        time_col = data[residuals.time]
        if not (pd.api.types.is_numeric_dtype(time_col) or pd.api.types.is_bool_dtype(time_col)):
            raise DataError(f"{source!r}: the time column {residuals.time!r} must be numeric "
                            f"(got {time_col.dtype}); use integer time steps.")
        values = time_col.to_numpy(dtype=float)
        if not np.isfinite(values).all():
            raise DataError(f"{source!r}: the time column {residuals.time!r} has missing or "
                            "infinite values.")
        order = np.lexsort((values, codes))
        time = values[order]
    sorted_codes = codes[order]
    same = sorted_codes[1:] == sorted_codes[:-1]
    steps = np.diff(time)
    if residuals.time is not None:
        bad = same & ((steps == 0) | (np.abs(steps - np.round(steps)) > 1e-8))
        if bad.any():
            i = int(np.argmax(bad))
            group = data[residuals.group].to_numpy()[order[i]]
            raise DataError(
                f"{source!r}: group {group!r} has rows at times {time[i]:g} and {time[i + 1]:g}. AR(1) "
                "needs one row per time point and whole time steps between rows (nlme's corAR1); "
                "a gap of d steps is modelled as phi**d. Use an integer time index."
            )
    previous = np.full(n, -1, dtype=np.int64)
    previous[order[1:][same]] = order[:-1][same]
    gap = np.ones(n)
    if residuals.time is not None:
        gap[order[1:][same]] = np.round(steps[same])
    first = np.r_[True, ~same]
    start_sorted = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    position_sorted = np.arange(n) - start_sorted
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    max_size = int(position_sorted.max()) + 1
    if max_size < 2 and not single_rows:
        raise DataError(f"{source!r}: every level of {residuals.group!r} has one row, so there is no "
                        "within-group correlation to estimate.")
    return ResidualLayout(residuals=residuals, order=order, inverse=inverse, previous=previous,
                          gap=gap, position=position_sorted[inverse].astype(float),
                          start=start_sorted, max_size=max_size)


def conditional_moments(layout: ResidualLayout, e, sigma, param, xp=np):
    """Mean and SD of each error given the earlier errors of its group.

    ``e`` has rows on its last axis; ``sigma`` and ``param`` broadcast against it.
    ``xp`` is numpy or ``pytensor.tensor`` (the same algebra builds the PyMC likelihood).
    """
    if layout.kind == "ar1":
        has_prev = layout.previous >= 0
        prev = e[..., np.where(has_prev, layout.previous, 0)]
        power = param ** layout.gap
        mean = xp.where(has_prev, power * prev, 0.0)
        # var(e_t | e_{t-d}) / var(e_t) = 1 - phi^(2d); var(e_t) = sigma^2 / (1 - phi^2)
        ratio = xp.where(layout.gap == 1, 1.0, (1.0 - power ** 2) / (1.0 - param ** 2))
        scale = xp.where(has_prev, sigma * xp.sqrt(ratio), sigma / xp.sqrt(1.0 - param ** 2))
        return mean, scale
    # cs: with k earlier errors summing to s, e | earlier ~ N(rho s / (1 + (k-1) rho),
    # sigma^2 (1 - rho)(1 + k rho) / (1 + (k-1) rho))
    sorted_e = e[..., layout.order]
    cumulative = xp.cumsum(sorted_e, axis=-1)
    prefix = xp.concatenate([xp.zeros_like(sorted_e[..., :1]), cumulative], axis=-1)
    earlier = (prefix[..., np.arange(len(layout.order))] - prefix[..., layout.start])[..., layout.inverse]
    k = layout.position
    denom = 1.0 + (k - 1.0) * param
    mean = param * earlier / denom
    scale = sigma * xp.sqrt((1.0 - param) * (1.0 + k * param) / denom)
    return mean, scale


def pointwise_loglik(layout: ResidualLayout, e: np.ndarray, sigma, param) -> np.ndarray:
    """Log-density of each error given the earlier ones (numpy; sums to the joint density)."""
    from scipy import stats

    mean, scale = conditional_moments(layout, np.asarray(e, dtype=float), sigma, param)
    return stats.norm.logpdf(e, mean, scale)


def marginal_sd(kind: str, sigma, param):
    """SD of one error: σ / sqrt(1 − φ²) for ``ar1``, σ for ``cs``."""
    return sigma / np.sqrt(1.0 - param ** 2) if kind == "ar1" else sigma


def simulate(layout: ResidualLayout, sigma, param, rng: np.random.Generator) -> np.ndarray:
    """Joint draws of the errors, shape (draws, rows), one per (sigma, param) pair."""
    sigma = np.atleast_1d(np.asarray(sigma, dtype=float)).reshape(-1, 1)
    param = np.atleast_1d(np.asarray(param, dtype=float)).reshape(-1, 1)
    draws, n = max(len(sigma), len(param)), len(layout.order)
    e = np.zeros((draws, n))
    z = rng.standard_normal((draws, n))
    if layout.kind == "cs":
        codes = np.cumsum(layout.position[layout.order] == 0)[layout.inverse] - 1
        running = np.zeros((draws, int(codes.max()) + 1))
    for p in range(layout.max_size):
        rows = np.flatnonzero(layout.position == p)
        if layout.kind == "ar1":
            if p == 0:
                e[:, rows] = z[:, rows] * sigma / np.sqrt(1.0 - param ** 2)
                continue
            power = param ** layout.gap[rows]
            sd = sigma * np.sqrt(np.where(layout.gap[rows] == 1, 1.0,
                                          (1.0 - power ** 2) / (1.0 - param ** 2)))
            e[:, rows] = power * e[:, layout.previous[rows]] + sd * z[:, rows]
            continue
        denom = 1.0 + (p - 1.0) * param
        var = sigma ** 2 * (1.0 - param) * (1.0 + p * param) / denom
        if np.any(var <= 0):
            raise DataError(
                f"{layout.residuals.source!r}: a group of {layout.max_size} rows is more than a "
                f"negative correlation rho = {float(param.min()):.3g} allows (at most 1 - 1/rho rows)."
            )
        e[:, rows] = param * running[:, codes[rows]] / denom + np.sqrt(var) * z[:, rows]
        running[:, codes[rows]] += e[:, rows]
    return e


def build_likelihood(layout: ResidualLayout, name: str, mu, sigma, y: np.ndarray):
    """The observed likelihood in the active PyMC model (pointwise log-densities), with the
    correlation parameter's Uniform prior; draws for predictive sampling via :func:`simulate`."""
    import pymc as pm
    import pytensor.tensor as pt

    lower, upper = layout.bounds
    # Uniform(lower, upper) as a scaled Beta(1, 1): the same prior and the same logit-scale
    # sampling as pm.Uniform, but a transform the nutpie compile cache can digest
    # (pm.Uniform's interval transform holds a closure, which makes the model uncacheable)
    unit = pm.Beta(f"{layout.param}_unit", 1.0, 1.0)
    param = pm.Deterministic(layout.param, lower + (upper - lower) * unit)

    def logp(value, mu_, sigma_, param_):
        e = value - mu_
        mean, scale = conditional_moments(layout, e, sigma_, param_, xp=pt)
        return pm.logp(pm.Normal.dist(mean, scale), e)

    def random(mu_, sigma_, param_, rng=None, size=None):
        e = simulate(layout, np.asarray(sigma_).reshape(-1)[:1], np.asarray(param_).reshape(-1)[:1],
                     rng if rng is not None else np.random.default_rng())
        return np.asarray(mu_) + e[0]

    return pm.CustomDist(name, mu, sigma, param, logp=logp, random=random, observed=y,
                         dims="__obs__")
