"""Estimated marginal means of ordinal fits (``cumulative``, ``sratio``), as emmeans'
``mode = "prob"`` and ``mode = "mean.class"`` for ordinal::clm/clmm.

Per posterior draw: the reference grid's linear predictor (fixed effects only: the group
effects at zero, as emmeans for clmm), each grid row's category probabilities from the
draw's thresholds, then their equally weighted average over the rows of each marginal
mean (emmeans averages on the probability scale). ``"mean.class"`` is the same average
of the expected category score Σ_k score_k P(y = k) (emmeans' classes 1..K; here a
category's score: its value when the categories are numbers, else its position).
Summaries: posterior median, SD and equal-tailed interval, as for every Bayesian mean.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.effects._engine import draw_columns
from multilevel.errors import DataError, FamilyError
from multilevel.formula.families import ORDINAL_FAMILIES

MODES = ("prob", "mean.class")


def check_mode(fit, mode: str | None, type: str, contrasts) -> bool:
    """Whether ``emmeans`` takes the ordinal path; refuses what it does not offer."""
    if fit.family not in ORDINAL_FAMILIES:
        if mode is not None:
            raise DataError(f"mode={mode!r} applies to ordinal fits ({', '.join(ORDINAL_FAMILIES)}); "
                            f"this fit's family is {fit.family!r}: use type='link' or 'response'.")
        return False
    if mode is not None and mode not in MODES:
        raise DataError(f"mode={mode!r} is not valid for an ordinal fit; use one of {MODES}. Its "
                        "linear predictor alone is a latent score without the thresholds.")
    if type != "link":
        raise DataError(f"type={type!r} does not apply to an ordinal fit, which has no inverse "
                        f"link to a mean: choose the scale with mode= (one of {MODES}).")
    if contrasts is not None:
        raise FamilyError("contrasts of an ordinal fit's marginal means are not implemented; "
                          "ml.emmeans(fit, specs, mode='prob') gives the marginal probabilities "
                          "themselves, ml.predict.category_probabilities those of given rows.")
    return True


def ordinal_emmeans(fit, X: np.ndarray, masks: list, labels: pd.DataFrame, mode: str,
                    ci: float) -> pd.DataFrame:
    """Marginal category probabilities (one row per mean and category, category fastest)
    or expected scores (one row per mean)."""
    from multilevel.formula.families import category_scores
    from multilevel.predict.ordinal import probabilities

    eta = fit.fixef_draws().to_numpy() @ X.T            # draws × grid rows
    probs = probabilities(fit, eta)                      # draws × grid rows × K
    weights = np.vstack([mask / mask.sum() for mask in masks])   # means × grid rows
    means = np.einsum("mr,drk->dmk", weights, probs)     # draws × means × K
    if mode == "mean.class":
        scores = means @ category_scores(fit.design.frame.categories)
        return pd.concat([labels, pd.DataFrame(draw_columns(scores, ci))], axis=1)
    categories = list(fit.design.frame.categories)
    k = len(categories)
    response = fit.design.spec.parsed.response.text
    rows = labels.loc[labels.index.repeat(k)].reset_index(drop=True)
    rows.insert(0, response, categories * len(labels))
    flat = means.reshape(means.shape[0], -1)              # mean-major, category fastest
    return pd.concat([rows, pd.DataFrame(draw_columns(flat, ci))], axis=1)
