"""Bayesian R² (Gelman, Goodrich, Gabry & Vehtari 2019) as brms's ``bayes_R2``.

Per posterior draw s: ŷ_s is the expected response of every fitted row (brms's
``posterior_epred``: the mean, times the trials for binomial models), e_s = y − ŷ_s, and

    R²_s = var(ŷ_s) / (var(ŷ_s) + var(e_s)),

variances across the rows (the same n − 1 denominator in both, as matrixStats::rowVars).
Conditional: ŷ with the group effects; marginal: fixed effects only (brms's
``re_formula = NA``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError


def r2_draws(fit, group_effects: bool = True) -> np.ndarray:
    """R² per posterior draw."""
    from multilevel.effects._engine import family_inverse_link
    from multilevel.predict.bayes import linear_predictor_draws

    eta = linear_predictor_draws(fit, None, group_effects, "population", None)
    ypred = family_inverse_link(fit.family, eta)
    trials = fit.design.frame.trials
    if fit.family == "binomial" and trials is not None:
        ypred = ypred * np.asarray(trials, dtype=float)
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
    from multilevel.effects._engine import check_ci, is_bayes

    if not is_bayes(fit):
        raise DataError("r2_bayes() needs a Bayesian fit (method='bayes').")
    ci = check_ci(ci)
    draws = {"conditional": r2_draws(fit, True)}
    if fit.design.reterms:
        draws["marginal"] = r2_draws(fit, False)
    draws = pd.DataFrame(draws)
    lo, hi = np.quantile(draws.to_numpy(), [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    out = pd.DataFrame({"estimate": draws.mean().to_numpy(), "est_error": draws.std(ddof=1).to_numpy(),
                        "lower": lo, "upper": hi}, index=draws.columns)
    return (out, draws) if return_draws else out
