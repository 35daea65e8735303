"""Pointwise log-likelihood of (held-out) rows under a fit's posterior.

K-fold cross-validation and exact refits (reloo) need ``log p(y_i | θ_s)`` for rows
the refit did not see, evaluated at each draw of the refit's posterior. The
linear predictor ``X β + Σ_terms Z b`` comes from the prediction code
(:func:`multilevel.predict.bayes.linear_predictor_draws`): group levels the refit
knows use their posterior effects; levels it never saw (whole subjects left out
by ``group_by`` folds) are *new groups*:

* gaussian: the new effect is integrated out exactly, ``y ~ N(xβ, z'Σz + σ²)``
  per draw (brms' ``sample_new_levels`` in the limit of infinitely many draws);
* other families: one effect per new level and draw is drawn from ``N(0, Σ_s)``
  (seeded), brms' ``sample_new_levels = "gaussian"``.

The family densities are the fit's own (:func:`multilevel.bayes.loglik.family_loglik`,
Bambi's parameterisations), so on the fitted rows this reproduces the
``log_likelihood`` group of the fit (tested).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from multilevel.bayes.loglik import AUXILIARY, family_loglik
from multilevel.errors import ComparisonError, DataError, check_seed
from multilevel.formula.design import level_codes, term_matrix
from multilevel.formula.families import ORDINAL_FAMILIES, category_scores, ordinal_codes
from multilevel.predict.bayes import linear_predictor_draws


def heldout_loglik(fit, newdata: pd.DataFrame, y: np.ndarray, trials: np.ndarray | None = None,
                   seed: int | None = None) -> np.ndarray:
    """``log p(y_new | θ_s)`` for every draw ``s`` of a Bayesian fit.

    Parameters
    ----------
    fit : BayesFit
    newdata : DataFrame
        Rows with the columns the formula uses.
    y : array, shape (m,)
        Their response (successes for binomial).
    trials : array, optional
        Binomial trials per row.
    seed : int, optional
        Seed of the draws of new group effects (non-gaussian families only).

    Returns
    -------
    ndarray, shape (chains, draws, m)
    """
    residuals = fit.design.spec.parsed.residuals
    if residuals is not None:
        # held-out rows of an ar1/cs fit depend on their neighbours' residuals; the
        # independent-density formula below would score them wrongly
        raise ComparisonError(
            f"Held-out densities of a fit with {residuals.source!r} are not computed: its rows are "
            "correlated within groups. Use high_k='warn' or 'moment_match' (PSIS-LOO on the "
            "conditional pointwise terms) instead of refits."
        )
    post = fit.posterior
    chains, draws = post["chain"].size, post["draw"].size
    family = fit.family
    if family == "categorical":   # one η per category (multilevel.bayes.categorical)
        return _categorical_loglik(fit, newdata, y, seed).reshape(chains, draws, -1)
    y = np.asarray(y, dtype=float)
    eta, extra_var = _linear_predictor(fit, newdata, family, seed)
    params = _aux_params(fit, newdata, seed)
    ll = _family_loglik(fit, family, eta, extra_var, y, trials, _weights(fit, newdata), params)
    return ll.reshape(chains, draws, -1)


def _linear_predictor(fit, newdata, family, seed):
    """(η of shape (S, m), extra gaussian variance of shape (S, m) from new groups)."""
    rng = np.random.default_rng(check_seed(seed))
    try:
        if family == "gaussian":  # new groups at the population mean, their variance added
            eta = linear_predictor_draws(fit, newdata, True, "population", rng)
            return eta, _new_group_variance(fit, newdata, eta.shape)
        return linear_predictor_draws(fit, newdata, True, "sample", rng), np.zeros(0)
    except (DataError, ValueError) as exc:  # e.g. a factor level the refit never saw
        raise ComparisonError(f"Cannot evaluate {fit.formula!r} on the held-out rows: {exc}") from None


def _new_group_variance(fit, newdata, shape) -> np.ndarray:
    """Σ over terms of z'Σ_s z for rows whose level the fit never saw (0 elsewhere)."""
    extra = np.zeros(shape)
    covariances = None
    for term in fit.design.reterms:
        unseen = level_codes(term, newdata) < 0
        if unseen.any():
            covariances = fit.covariance_draws() if covariances is None else covariances
            z = term_matrix(term, newdata)[unseen]                          # (m_new, q)
            extra[:, unseen] += np.einsum("mq,sqr,mr->sm", z, covariances[term.name], z)
    return extra


def _aux_params(fit, newdata, seed) -> dict | None:
    """Parameters with formulas of their own (``sigma ~ x``) on the held-out rows, new group
    levels drawn from N(0, Σ_s) as for the mean of non-gaussian families; None without any."""
    if not getattr(getattr(fit, "built", None), "aux", ()):
        return None
    from multilevel.bayes.distributional import parameter_draws

    rng = np.random.default_rng(None if seed is None else seed + 1)
    try:
        return parameter_draws(fit, newdata, True, "sample", rng)
    except (DataError, ValueError) as exc:
        raise ComparisonError(f"Cannot evaluate {fit.formula!r} on the held-out rows: {exc}") from None


def _param(fit, name):
    if name not in fit.posterior:
        raise ComparisonError(f"The {fit.family} fit lacks the parameter {name!r} in its posterior.")
    values = np.asarray(fit.posterior[name].values, dtype=float)
    return values.reshape(values.shape[0] * values.shape[1], -1)   # ordinal thresholds: (draws, K - 1)


def _weights(fit, newdata) -> np.ndarray | None:
    """The held-out rows' gaussian prior weights (the fit's ``weights=`` column), or None."""
    built = getattr(fit, "built", None)
    column = getattr(built, "weights", None)
    if column is None or fit.family != "gaussian":
        return None
    if column not in newdata.columns:
        raise ComparisonError(f"The held-out rows lack the weights column {column!r}.")
    return newdata[column].to_numpy(dtype=float)


def _family_loglik(fit, family, eta, extra_var, y, trials, weights=None, params=None):
    """The family's density (:func:`multilevel.bayes.loglik.family_loglik`) at the fit's draws."""
    if family not in AUXILIARY:
        raise ComparisonError(f"No held-out log-likelihood for family {family!r}.")
    if family in ("binomial", "beta_binomial", "zero_inflated_binomial") and trials is None:
        raise ComparisonError(f"The {family} log-likelihood needs the trials of the held-out rows.")
    if params is None:
        params = {name: _param(fit, name) for name in AUXILIARY[family]}
    if family in ORDINAL_FAMILIES:   # the design's scores -> the density's category codes
        categories = fit.design.frame.categories
        codes = ordinal_codes(y, categories)
        known = (codes < len(categories)) & np.isin(y, category_scores(categories))
        if not known.all():
            raise ComparisonError(
                f"Held-out rows have response values {sorted(set(np.asarray(y)[~known].tolist()))[:5]} "
                f"outside the fit's categories {list(categories)} (a fold without any row of a "
                "category): use fewer folds, or an ordered Categorical response listing every category.")
        y = codes
    return family_loglik(family, eta, y, params, trials, extra_var, link=getattr(fit, "link", None),
                         weights=weights)


def _categorical_loglik(fit, newdata, y, seed) -> np.ndarray:
    """Held-out rows of a categorical fit: their categories (read from the response column
    when the rows carry it, else ``y`` as the fit's codes), new levels drawn from N(0, sd²)."""
    from multilevel.bayes.categorical import loglik
    from multilevel.predict.categorical import eta_draws

    categories = [str(c) for c in fit.design.frame.categories]
    name = fit.design.spec.parsed.response.text
    if name in newdata.columns:
        labels = newdata[name].astype(str).to_numpy()
        codes = np.array([categories.index(v) if v in categories else -1 for v in labels])
    else:
        codes = np.asarray(y, dtype=float)
        codes = np.where((codes == np.round(codes)) & (codes >= 0) & (codes < len(categories)),
                         codes, -1).astype(np.int64)
    if np.any(codes < 0):
        raise ComparisonError(
            f"Held-out rows have categories outside the fit's {categories} (a fold without any row "
            "of a category): use fewer folds so that every training set has every category.")
    try:
        eta = eta_draws(fit, newdata, True, "sample", np.random.default_rng(check_seed(seed)))
    except (DataError, ValueError) as exc:
        raise ComparisonError(f"Cannot evaluate {fit.formula!r} on the held-out rows: {exc}") from None
    return loglik(eta, codes)
