"""Marginal means and contrasts of a BayesFit: computed per draw, then summarized."""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.effects._engine import contrast_ratios, draw_columns
from multilevel.formula.links import inverse_link_fn


def bayes_tables(fit, L: np.ndarray, C: np.ndarray, type: str, link: str, ci: float,
                 regrid: bool = False, offset: np.ndarray | None = None):
    B = fit.fixef_draws().to_numpy()
    eta = B @ L.T + (0.0 if offset is None else offset)   # emmeans' .offset.
    response = type == "response" and link != "identity"
    means = pd.DataFrame(draw_columns(inverse_link_fn(link)(eta) if response else eta, ci))
    if not len(C):
        return means, None
    if regrid and response:   # emmeans' regrid(): differences of the back-transformed means
        return means, pd.DataFrame(draw_columns(inverse_link_fn(link)(eta) @ C.T, ci))
    diff = eta @ C.T
    # as emmeans: ratios (log) and odds ratios (logit) of true contrasts on the response
    # scale; differences of other links (and other weights) stay on the link scale
    ratio = contrast_ratios(C, type, link)
    cons = pd.DataFrame(draw_columns(np.exp(diff) if ratio else diff, ci))
    return means, cons


def emmeans_draws(fit, L: np.ndarray) -> np.ndarray:
    """Per-draw marginal means on the link scale (draws × means)."""
    return fit.fixef_draws().to_numpy() @ L.T
