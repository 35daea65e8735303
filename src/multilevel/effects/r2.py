"""Bayesian R² (Gelman, Goodrich, Gabry & Vehtari 2019) as brms's ``bayes_R2``.

Per posterior draw s: ŷ_s is the expected response of every fitted row (brms's
``posterior_epred``: the mean, times the trials for binomial models), e_s = y − ŷ_s, and

    R²_s = var(ŷ_s) / (var(ŷ_s) + var(e_s)),

variances across the rows (the same n − 1 denominator in both, as matrixStats::rowVars).
Conditional: ŷ with the group effects; marginal: fixed effects only (brms's
``re_formula = NA``).

LOO-R² (brms's ``loo_R2``): the leave-one-out expected response of each row by
Pareto-smoothed importance sampling (weights ∝ 1/p(y_i | θ_s)), its errors e_i, and
per Bayesian-bootstrap draw (Dirichlet(1, …, 1) weights w over the rows)
R² = 1 − var_w(e) / var_w(y), with the weighted variances scaled by n / (n − 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError, check_seed


def r2_draws(fit, group_effects: bool = True) -> np.ndarray:
    """R² per posterior draw."""
    ypred = _epred(fit, group_effects)
    y = np.asarray(fit.design.y, dtype=float)
    var_pred = ypred.var(axis=1, ddof=1)
    var_res = (y[None, :] - ypred).var(axis=1, ddof=1)
    return var_pred / (var_pred + var_res)


def r2_bayes(fit, ci: float = 0.95, return_draws: bool = False):
    """Bayesian R²: conditional (with group effects) and marginal (fixed effects only).

    Parameters
    ----------
    fit : BayesFit
    ci : float
        Equal-tailed interval (brms reports 2.5 % and 97.5 %).
    return_draws : bool
        Also return the per-draw values: a DataFrame with columns conditional, marginal.

    Returns
    -------
    DataFrame indexed by ``conditional`` and ``marginal`` with ``estimate`` (posterior mean,
    as brms), ``est_error`` (SD), ``lower``, ``upper``. A model without group effects has
    the ``conditional`` row only.

    Examples
    --------
    >>> fit = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy")   # doctest: +SKIP
    >>> ml.effects.r2_bayes(fit)                                           # doctest: +SKIP
    """
    from multilevel.effects._engine import check_ci, is_bayes, refuse_ordinal

    if not is_bayes(fit):
        raise DataError("r2_bayes() needs a Bayesian fit (method='bayes').")
    refuse_ordinal(fit, "r2_bayes")
    ci = check_ci(ci)
    draws = {"conditional": r2_draws(fit, True)}
    if fit.design.reterms:
        draws["marginal"] = r2_draws(fit, False)
    draws = pd.DataFrame(draws)
    lo, hi = np.quantile(draws.to_numpy(), [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    out = pd.DataFrame({"estimate": draws.mean().to_numpy(), "est_error": draws.std(ddof=1).to_numpy(),
                        "lower": lo, "upper": hi}, index=draws.columns)
    return (out, draws) if return_draws else out


def _epred(fit, group_effects: bool = True) -> np.ndarray:
    from multilevel.effects._engine import family_inverse_link
    from multilevel.predict.bayes import linear_predictor_draws

    if fit.family == "categorical":
        from multilevel.errors import FamilyError

        raise FamilyError("Bayesian R² needs one numeric response; family='categorical' has "
                          "categories. Compare models by LOO (ml.compare) instead.")
    eta = linear_predictor_draws(fit, None, group_effects, "population", None)
    ypred = family_inverse_link(fit.family, eta)
    trials = fit.design.frame.trials
    if fit.family == "binomial" and trials is not None:
        ypred = ypred * np.asarray(trials, dtype=float)
    return ypred


def loo_weights(fit) -> np.ndarray:
    """Normalized PSIS weights (rows × draws) for leaving each row out (r_eff = 1)."""
    from arviz_stats.base import array_stats

    group = fit.idata["log_likelihood"]
    names = list(group.data_vars)
    if len(names) != 1:
        raise DataError(f"loo_r2 needs one log-likelihood variable, the fit has {names}.")
    ll = np.asarray(group[names[0]].values, dtype=float)
    ll = ll.reshape(-1, ll.shape[-1])  # (chain, draw, row) -> (draws, rows), as fixef_draws
    # arviz-stats' psislw takes the log-likelihood and negates it itself (ratios 1/p(y_i | θ))
    log_w, _ = array_stats.psislw(ll.T, r_eff=1)
    return np.exp(log_w)


def loo_r2(fit, ci: float = 0.95, draws: int | None = None, seed: int | None = 0,
           return_draws: bool = False):
    """LOO-R² as brms's ``loo_R2``: leave-one-out predictions by PSIS, uncertainty by the
    Bayesian bootstrap over rows (seeded).

    Parameters
    ----------
    fit : BayesFit
    ci : float
    draws : int, optional
        Bootstrap draws (default: as many as posterior draws).
    seed : int or None

    Returns
    -------
    DataFrame with one row ``loo`` and ``estimate`` (mean), ``est_error``, ``lower``, ``upper``.

    Examples
    --------
    >>> fit = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy")   # doctest: +SKIP
    >>> ml.effects.loo_r2(fit)                                             # doctest: +SKIP
    """
    from multilevel.effects._engine import check_ci, is_bayes, refuse_ordinal

    if not is_bayes(fit):
        raise DataError("loo_r2() needs a Bayesian fit (method='bayes').")
    refuse_ordinal(fit, "loo_r2")
    ci = check_ci(ci)
    ypred = _epred(fit)
    weights = loo_weights(fit)
    if weights.shape != ypred.T.shape:
        raise DataError(f"the log-likelihood has shape {weights.shape[::-1]}, the predictions "
                        f"{ypred.shape}; refit with the log-likelihood stored.")
    y = np.asarray(fit.design.y, dtype=float)
    err = np.sum(weights * ypred.T, axis=1) - y
    values = bootstrap_r2(y, err, draws or ypred.shape[0], seed)
    lo, hi = np.quantile(values, [(1 - ci) / 2, (1 + ci) / 2])
    out = pd.DataFrame({"estimate": [values.mean()], "est_error": [values.std(ddof=1)],
                        "lower": [lo], "upper": [hi]}, index=["loo"])
    return (out, values) if return_draws else out


def bootstrap_r2(y: np.ndarray, err: np.ndarray, draws: int, seed: int | None) -> np.ndarray:
    """1 − var_w(err) / var_w(y) per Dirichlet(1, …, 1) weight vector w (brms's loo_R2)."""
    n = y.size
    w = np.random.default_rng(check_seed(seed)).dirichlet(np.ones(n), size=draws)
    var_y = n / (n - 1) * (w @ y**2 - (w @ y) ** 2)
    var_e = n / (n - 1) * (w @ err**2 - (w @ err) ** 2)
    return 1 - var_e / var_y
