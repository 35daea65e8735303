"""Marginal means and contrasts of a BayesFit: computed per draw, then summarized."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from multilevel.effects._engine import draw_columns


def bayes_tables(fit, L: np.ndarray, C: np.ndarray, type: str, link: str, ci: float):
    B = fit.fixef_draws().to_numpy()
    eta = B @ L.T
    inv = {"logit": special.expit, "log": np.exp}.get(link)
    response = type == "response" and inv is not None
    means = pd.DataFrame(draw_columns(inv(eta) if response else eta, ci))
    if not len(C):
        return means, None
    diff = eta @ C.T
    cons = pd.DataFrame(draw_columns(np.exp(diff) if response else diff, ci))
    return means, cons


def emmeans_draws(fit, L: np.ndarray) -> np.ndarray:
    """Per-draw marginal means on the link scale (draws × means)."""
    return fit.fixef_draws().to_numpy() @ L.T
