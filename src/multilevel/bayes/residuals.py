"""AR(1) residuals within groups for Gaussian models: ``y ~ x + (1 | g) + ar1(time | g)``.

The errors e = y − μ of each group, ordered by ``time``, follow a stationary AR(1)
process with coefficient φ ∈ (−1, 1) and innovation SD σ (brms' ``ar(p = 1)``):

    e_1 ~ N(0, σ / sqrt(1 − φ²)),    e_t | e_{t−1} ~ N(φ e_{t−1}, σ).

The likelihood is this exact factorisation, so each observation's log-likelihood
term is conditional on the previous one in its group: LOO computed from these terms
leaves out an observation's conditional contribution (as brms does for ``ar``
terms), not the observation from the whole series. Consecutive rows are
consecutive time steps; gaps in ``time`` are not stretched. Compound symmetry is the
random intercept ``(1 | g)`` (for non-negative within-group correlation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from multilevel.errors import DataError, FamilyError
from multilevel.formula.frame import group_codes
from multilevel.formula.parse import Residuals

PHI_NAME = "ar1_phi"


@dataclass(frozen=True)
class AR1Layout:
    """For each row, the row of the previous time point in its group (−1 for the first)."""

    previous: np.ndarray
    residuals: Residuals


def ar1_layout(residuals: Residuals, data: pd.DataFrame, family: str) -> AR1Layout:
    """Order each group's rows by time and link every row to its predecessor."""
    if family != "gaussian":
        raise FamilyError(f"{residuals.source!r} needs family='gaussian' (AR(1) errors of a normal "
                          f"response), not {family!r}.")
    for column in (residuals.time, residuals.group):
        if column not in data.columns:
            raise DataError(f"{residuals.source!r}: no column {column!r} in the data.")
    codes, _ = group_codes(data, (residuals.group,))
    time = pd.to_numeric(data[residuals.time], errors="coerce").to_numpy()
    if np.isnan(time).any():
        raise DataError(f"{residuals.source!r}: the time column {residuals.time!r} must be numeric.")
    order = np.lexsort((time, codes))
    sorted_codes, sorted_time = codes[order], time[order]
    same = sorted_codes[1:] == sorted_codes[:-1]
    if np.any(same & (sorted_time[1:] == sorted_time[:-1])):
        raise DataError(f"{residuals.source!r}: a group has two rows at the same time; AR(1) needs "
                        "one observation per time point and group.")
    previous = np.full(len(codes), -1, dtype=np.int64)
    previous[order[1:][same]] = order[:-1][same]
    return AR1Layout(previous=previous, residuals=residuals)


def build_ar1_likelihood(layout: AR1Layout, name: str, mu, sigma, y: np.ndarray):
    """The observed AR(1) likelihood in the active PyMC model (pointwise log-densities)."""
    import pymc as pm
    import pytensor.tensor as pt

    phi = pm.Uniform(PHI_NAME, -1.0, 1.0)
    previous = np.asarray(layout.previous)
    has_prev = previous >= 0
    prev_index = np.where(has_prev, previous, 0)

    def logp(value, mu_, sigma_, phi_):
        e = value - mu_
        mean = pt.where(has_prev, phi_ * e[prev_index], 0.0)
        sd = pt.where(has_prev, sigma_, sigma_ / pt.sqrt(1.0 - phi_ ** 2))
        return pm.logp(pm.Normal.dist(mean, sd), e)

    return pm.CustomDist(name, mu, sigma, phi, logp=logp, observed=y, dims="__obs__")
