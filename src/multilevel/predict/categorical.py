"""Predictions of ``family="categorical"`` fits: one probability per row and category.

A categorical prediction is a distribution over the K categories, so these predictions
have one row per data row *and* category (a ``(row, category)`` MultiIndex, the categories
in the response's order, the reference first) with the columns every family has:

* ``kind="mean"``: P(y = k) per posterior draw, summarised (estimate, sd, interval);
* ``kind="predictive"``: a category drawn per posterior draw, summarised as the indicator
  [drawn = k] (estimate: the share of draws in category k; interval 0 or 1), as a
  0/1 response's predictive draws are.

:func:`category_draws` gives the drawn categories themselves (labels), and
:func:`multilevel.predict.category_probabilities` the posterior mean probabilities as a
rows × categories table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import check_seed
from multilevel.formula.design import level_codes, term_matrix


def eta_draws(fit, newdata, group_effects: bool, new_groups: str, rng) -> np.ndarray:
    """η of the non-reference categories, shape (draws, rows, K − 1); lme4's choices for
    group effects (unseen levels at 0, a fresh N(0, sd²) draw, or an error)."""
    from multilevel.bayes import (
        categorical as C,  # deferred: PyMC is behind multilevel.bayes
    )

    design = fit.design
    X = design.X if newdata is None else design.spec.fixed_X(newdata)
    data = design.frame.data if newdata is None else newdata
    reterms = {t.name: t for t in design.reterms}
    terms = []
    for block in fit.built.blocks if group_effects else ():
        term = reterms[block.name]
        codes = term.codes if newdata is None else level_codes(term, data, new_groups)
        Xt = term.X if newdata is None else term_matrix(term, data)
        new = (C.new_level_effects(fit, block, data, codes, Xt, rng)
               if new_groups == "sample" and (codes < 0).any() else None)
        terms.append((block, codes, Xt, new))
    return C.eta_draws(fit, X, terms, group_effects)


def probabilities(fit, newdata, group_effects: bool, new_groups: str, rng) -> np.ndarray:
    """P(y = k) per draw, row and category, shape (draws, rows, K)."""
    from multilevel.bayes.categorical import probabilities as softmax

    return softmax(eta_draws(fit, newdata, group_effects, new_groups, rng))


def predict_categorical(fit, data: pd.DataFrame, newdata, group_effects: bool, new_groups: str,
                        kind: str, ci: float, rng) -> pd.DataFrame:
    """The ``(row, category)`` table of :func:`multilevel.predict.predict_bayes`."""
    probs = probabilities(fit, newdata, group_effects, new_groups, rng)
    if kind == "mean":
        values = probs
    else:
        from multilevel.bayes.categorical import draw_codes

        codes = draw_codes(probs, rng)
        values = (codes[..., None] == np.arange(probs.shape[-1])).astype(float)
    lo, hi = np.quantile(values, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    categories = list(fit.design.frame.categories)
    index = pd.MultiIndex.from_product([data.index, categories],
                                       names=[data.index.name or "row", "category"])
    return pd.DataFrame({"estimate": values.mean(axis=0).reshape(-1),
                         "sd": values.std(axis=0, ddof=1).reshape(-1),
                         "lower": lo.reshape(-1), "upper": hi.reshape(-1)}, index=index)


def category_draws(fit, newdata: pd.DataFrame | None = None, n_draws: int | None = None,
                   group_effects: bool = True, new_groups: str = "population",
                   seed: int | None = None) -> pd.DataFrame:
    """Categories drawn from the posterior predictive distribution: one row per posterior
    draw (all, or ``n_draws`` at random), one column per data row, the categories' labels.

    Examples
    --------
    >>> fit = ml.fit("Species ~ Sepal_Length", ml.datasets.load("iris"),
    ...              family="categorical")                               # doctest: +SKIP
    >>> category_draws(fit, n_draws=5, seed=1).iloc[:, :3]               # doctest: +SKIP
    """
    codes = predictive_codes(fit, newdata, group_effects, new_groups, n_draws, seed)
    data = fit.design.frame.data if newdata is None else newdata
    labels = np.asarray(fit.design.frame.categories, dtype=object)
    return pd.DataFrame(labels[codes], columns=data.index)


def predictive_codes(fit, newdata=None, group_effects: bool = True, new_groups: str = "population",
                     n_draws: int | None = None, seed: int | None = None) -> np.ndarray:
    """Drawn category codes (0..K − 1), shape (draws, rows), ``n_draws`` posterior draws at random."""
    from multilevel.bayes.categorical import draw_codes
    from multilevel.bayes.categorical import probabilities as softmax

    rng = np.random.default_rng(check_seed(seed))
    eta = eta_draws(fit, newdata, group_effects, new_groups, rng)
    if n_draws is not None:
        eta = eta[rng.choice(eta.shape[0], size=min(n_draws, eta.shape[0]), replace=False)]
    return draw_codes(softmax(eta), rng)
