"""Prior weights (lme4's ``weights=``): a data column, validated, and what it means per family.

* gaussian: observation i has residual variance σ²/wᵢ;
* binomial with a proportion response: wᵢ is the number of trials and the proportion
  times wᵢ the successes (R's "proportion and weights" form, equal to ``cbind``);
* other families: the log-likelihood of row i counts wᵢ times (R's prior weights).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError, FamilyError


def check_weights_column(weights, data: pd.DataFrame) -> str | None:
    """The name of the weights column (None without weights); refuses a missing column."""
    if weights is None:
        return None
    if not isinstance(weights, str):
        raise DataError(f"weights= takes the name of a data column, got {type(weights).__name__}. "
                        "Add the weights to the data and pass the column's name.")
    if weights not in data.columns:
        shown = ", ".join(map(str, list(data.columns)[:30]))
        raise DataError(f"The weights column {weights!r} is not in the data. Available columns: {shown}.")
    return weights


def weight_values(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The weights of the model frame's rows: finite, non-negative, not all zero."""
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"The weights column {column!r} has type {values.dtype}; weights must be numbers.")
    w = values.to_numpy(dtype=float)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError(f"The weights column {column!r} must hold finite, non-negative numbers.")
    if np.any(w == 0):
        raise DataError(f"The weights column {column!r} has {int(np.sum(w == 0))} zero weight(s); "
                        "remove those rows from the data (a zero weight drops the row).")
    return w


def binomial_proportions(y: pd.Series, w: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Successes and trials from a proportion response and its weights (the trials).

    R's binomial family takes ``y = successes / trials`` with ``weights = trials``; the
    model equals ``cbind(successes, trials - successes)``.
    """
    if not pd.api.types.is_numeric_dtype(y):
        raise FamilyError(f"family='binomial' with weights needs a proportion response; "
                          f"{name!r} has type {y.dtype}.")
    p = y.to_numpy(dtype=float)
    if np.any(p < 0) or np.any(p > 1):
        raise DataError(f"The response {name!r} must be a proportion in [0, 1] for family='binomial' "
                        "with weights (the weights are the trials).")
    successes = p * w
    if not (np.allclose(successes, np.round(successes), atol=1e-7) and np.allclose(w, np.round(w))):
        raise DataError(f"With family='binomial', the weights (trials) times the proportion {name!r} "
                        "must give whole numbers of successes, as in R.")
    return np.round(successes), np.round(w)
