"""Predictions of ordinal fits (``cumulative``, ``sratio``): category probabilities, the
expected score and draws of new categories.

A row's prediction is one number, as for every family: the category's *score* (its value
when the categories are numbers, such as ratings 1-5, else its position 1..K;
:func:`multilevel.formula.families.category_scores`). ``kind="mean"`` is the expected score
Σ_k score_k · P(y = k); ``kind="predictive"`` draws categories and reports their scores.
:func:`category_probabilities` gives P(y = k) per row and category (what Bambi's
``predict(kind="response_params")`` returns for these families).
"""

from __future__ import annotations

import numpy as np


def probabilities(fit, eta: np.ndarray) -> np.ndarray:
    """P(y = k), shape (draws, rows, K)."""
    from multilevel.bayes.densities import (
        category_probabilities as probs,  # deferred: PyMC
    )

    threshold = np.asarray(fit.posterior["threshold"].values, dtype=float)
    threshold = threshold.reshape(-1, threshold.shape[-1])
    if threshold.shape[0] != eta.shape[0]:   # η must come from every posterior draw, in order
        raise ValueError(f"η has {eta.shape[0]} draws, the posterior {threshold.shape[0]}.")
    return probs(fit.family, eta, threshold)


def draw_codes(fit, eta: np.ndarray, rng) -> np.ndarray:
    """One category code (0..K-1) per draw and row."""
    cumulative = np.cumsum(probabilities(fit, eta), axis=-1)
    u = rng.random(eta.shape)
    return np.minimum((u[..., None] > cumulative).sum(axis=-1), cumulative.shape[-1] - 1)


def ordinal_values(fit, eta: np.ndarray, kind: str, rng) -> np.ndarray:
    """Expected scores (``kind="mean"``) or scores of drawn categories, shape of ``eta``."""
    from multilevel.formula.families import category_scores

    score = category_scores(fit.design.frame.categories)
    if kind == "mean":
        return probabilities(fit, eta) @ score
    return score[draw_codes(fit, eta, rng)]
