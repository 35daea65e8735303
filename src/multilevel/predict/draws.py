"""Posterior draws of predictions as arrays, brms' ``posterior_linpred``,
``posterior_epred`` and ``posterior_predict``.

Each returns one row per posterior draw (chains in order, then draws: brms' order) and
one column per data row (of the fitted data, or ``newdata``), from the same computation
as :func:`multilevel.predict.predict_bayes`, whose ``estimate`` is the columns' mean:

* ``posterior_linpred``: the linear predictor η (offsets included; brms' default
  ``transform = FALSE``); ``transform=True`` gives the inverse link of η;
* ``posterior_epred``: the expected response E[y] (for zero-inflated and hurdle counts
  the mixture's mean, not the inverse link of η); for ordinal and categorical fits the
  probability of each category, shape (draws, rows, categories), as brms;
* ``posterior_predict``: new observations drawn from the family given each draw's
  parameters (binomial rows need their trials: in ``newdata`` or the fit's data);
  ordinal fits: the drawn categories' scores; categorical fits: category codes 0..K−1.

``n_draws`` picks that many posterior draws at random without replacement (``seed``), as
brms' ``ndraws``; ``group_effects``, ``new_groups`` and ``na_action`` are those of
:func:`~multilevel.predict.predict_bayes` (a row with a missing predictor is a column
of NaN under ``"pass"``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError, check_seed
from multilevel.formula.families import CATEGORICAL_FAMILIES, ORDINAL_FAMILIES
from multilevel.formula.links import inverse_link
from multilevel.formula.newdata import check_newdata, predictable_rows
from multilevel.formula.reform import all_or_none

NEW_GROUPS = ("population", "sample", "error")


def posterior_linpred(fit, newdata: pd.DataFrame | None = None, group_effects: bool | str = True,
                      new_groups: str = "population", transform: bool = False,
                      n_draws: int | None = None, seed: int | None = None,
                      na_action: str = "pass") -> np.ndarray:
    """The linear predictor per posterior draw and row (brms' ``posterior_linpred``).

    Parameters
    ----------
    fit : BayesFit
    newdata : DataFrame, optional
        Rows to predict; default the fitted rows.
    group_effects, new_groups, na_action
        As :func:`multilevel.predict.predict_bayes`.
    transform : bool
        The inverse link of η (the parent parameter μ) instead of η.
    n_draws : int, optional
        That many posterior draws at random (brms' ``ndraws``); default all.
    seed : int, optional
        Seeds the choice of draws and new groups' effects (``new_groups="sample"``).

    Returns
    -------
    ndarray, shape (draws, rows); categorical fits: (draws, rows, categories − 1), one η
    per non-reference category.

    Examples
    --------
    >>> fit = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", seed=1)  # doctest: +SKIP
    >>> posterior_linpred(fit).shape                                            # doctest: +SKIP
    (4000, 180)
    """
    def compute(data, rng):
        from multilevel.predict.bayes import linear_predictor_draws

        if fit.family in CATEGORICAL_FAMILIES:
            from multilevel.predict.categorical import eta_draws

            if transform:
                raise DataError("transform=True of a categorical fit: use posterior_epred for the "
                                "categories' probabilities.")
            return eta_draws(fit, data, all_or_none(group_effects, "categorical fits"), new_groups, rng)
        eta = linear_predictor_draws(fit, data, group_effects, new_groups, rng)
        if transform and fit.family not in ORDINAL_FAMILIES:
            return inverse_link(fit.family, eta, fit.link)
        if transform:
            raise DataError("transform=True of an ordinal fit: use posterior_epred for the "
                            "categories' probabilities.")
        return eta

    return _per_draw(fit, newdata, new_groups, n_draws, seed, na_action, compute)


def posterior_epred(fit, newdata: pd.DataFrame | None = None, group_effects: bool | str = True,
                    new_groups: str = "population", n_draws: int | None = None,
                    seed: int | None = None, na_action: str = "pass") -> np.ndarray:
    """The expected response per posterior draw and row (brms' ``posterior_epred``).

    Arguments as :func:`posterior_linpred`. Returns shape (draws, rows); ordinal and
    categorical fits (draws, rows, categories): each category's probability.
    """
    def compute(data, rng):
        from multilevel.predict import bayes as B

        if fit.family in CATEGORICAL_FAMILIES:
            from multilevel.predict.categorical import probabilities as categorical

            return categorical(fit, data, all_or_none(group_effects, "categorical fits"), new_groups, rng)
        if fit.family in ORDINAL_FAMILIES:
            from multilevel.predict.ordinal import probabilities

            return probabilities(fit, B.linear_predictor_draws(fit, data, group_effects, new_groups, rng))
        if data is not None:
            B._check_aux_newdata(fit, data)
        return B.expected_draws(fit, data, group_effects, new_groups, rng)[0]

    return _per_draw(fit, newdata, new_groups, n_draws, seed, na_action, compute)


def posterior_predict(fit, newdata: pd.DataFrame | None = None, group_effects: bool | str = True,
                      new_groups: str = "population", n_draws: int | None = None,
                      seed: int | None = None, na_action: str = "pass") -> np.ndarray:
    """New observations per posterior draw and row (brms' ``posterior_predict``).

    Arguments as :func:`posterior_linpred`. Returns shape (draws, rows): values of the
    response (binomial: successes out of the row's trials; ordinal: the drawn category's
    score; categorical: category codes 0..K−1, labels in ``fit.design.frame.categories``).
    """
    def compute(data, rng):
        from multilevel.predict import bayes as B

        if fit.family in CATEGORICAL_FAMILIES:
            from multilevel.bayes.categorical import draw_codes
            from multilevel.predict.categorical import probabilities as categorical

            probs = categorical(fit, data, all_or_none(group_effects, "categorical fits"), new_groups, rng)
            return draw_codes(probs, rng).astype(float)
        if fit.family in ORDINAL_FAMILIES:
            from multilevel.predict.ordinal import ordinal_values

            eta = B.linear_predictor_draws(fit, data, group_effects, new_groups, rng)
            return ordinal_values(fit, eta, "predictive", rng)
        if data is not None:
            B._check_aux_newdata(fit, data)
        mean, params = B.parent_draws(fit, data, group_effects, new_groups, rng)
        rows = fit.design.frame.data if data is None else data
        return B._predictive(fit, mean, rows, data is None, rng, params)

    return _per_draw(fit, newdata, new_groups, n_draws, seed, na_action, compute)


def _per_draw(fit, newdata, new_groups, n_draws, seed, na_action, compute) -> np.ndarray:
    """Checks, lme4's ``na.action`` on ``newdata``, then ``compute(data, rng)`` and the
    chosen draws."""
    if not hasattr(fit, "fixef_draws"):
        raise DataError(f"Posterior draws need a Bayesian fit (method='bayes'), got {type(fit).__name__}; "
                        "a REML/ML fit predicts with fit.predict().")
    if new_groups not in NEW_GROUPS:
        raise DataError(f"new_groups={new_groups!r}; use one of {NEW_GROUPS}.")
    if n_draws is not None and (isinstance(n_draws, bool) or not isinstance(n_draws, (int, np.integer))
                                or n_draws < 1):
        raise DataError(f"n_draws must be a positive integer (or None for all draws), got {n_draws!r}.")
    rng = np.random.default_rng(check_seed(seed))
    keep = None
    if newdata is not None and fit.family not in CATEGORICAL_FAMILIES:
        keep = predictable_rows(fit.design, newdata, new_groups, na_action)
    elif newdata is not None:
        check_newdata(fit.design, newdata)
    total = fit.n_draws
    pick = None if n_draws is None else np.sort(rng.choice(total, size=min(int(n_draws), total), replace=False))
    if keep is None:
        values = compute(newdata, rng)
        return values if pick is None else values[pick]
    rows = int(keep.sum())
    part = compute(newdata[keep], rng) if rows else None
    if part is not None and pick is not None:
        part = part[pick]
    if na_action == "omit":
        return part if part is not None else np.empty((total if pick is None else len(pick), 0))
    shape = ((total if pick is None else len(pick)), len(newdata)) + (() if part is None else part.shape[2:])
    out = np.full(shape, np.nan)
    if part is not None:
        out[:, np.asarray(keep)] = part
    return out
