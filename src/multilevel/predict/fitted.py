"""brms's ``fitted()`` and ``residuals()`` of a BayesFit: per fitted row, a posterior summary.

* ``fitted``: the expected response E[y | draw] of every fitted row, group effects
  included (brms's ``fitted``/``posterior_epred``; lme4's ``fitted`` for a REML fit).
  A binomial response is the proportion of successes, as lme4's ``fitted`` gives it
  (brms gives counts: multiply by the trials).
* ``residuals``: per draw, ``"response"`` y − E[y] (brms's ``"ordinary"``) or
  ``"pearson"`` (y − E[y]) / SD(y | draw), then summarized over the draws. The Pearson SD
  is the family's: σ/√w (gaussian, prior weights w), √(μ(1 − μ)/n) (binomial, a
  proportion of n trials), √μ (poisson), √(μ + μ²/α) (negative binomial), μ/√α (gamma),
  √(μ(1 − μ)/(1 + κ)) (beta), μ (exponential), √2·b (laplace).

Each summary has brms's columns in this package's names: ``estimate`` (posterior mean),
``sd``, ``lower`` and ``upper`` (equal-tailed interval), indexed by the fitted rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError, check_level
from multilevel.formula.families import CATEGORICAL_FAMILIES, ORDINAL_FAMILIES, TRIALS_FAMILIES

RESIDUAL_TYPES = ("response", "pearson")
PEARSON_FAMILIES = ("gaussian", "bernoulli", "binomial", "poisson", "negativebinomial", "gamma",
                    "beta", "exponential", "laplace")


def fitted_bayes(fit, group_effects: bool | str = True, ci: float = 0.95) -> pd.DataFrame:
    """The expected response of each fitted row: posterior mean, SD and interval.

    Parameters
    ----------
    fit : BayesFit
    group_effects : bool or str
        True (default) includes every group effect; False none (lme4's ``re.form = NA``);
        a formula such as ``"~ (1 | Subject)"`` only those.
    ci : float
        Level of the equal-tailed interval.

    Returns
    -------
    DataFrame
        ``estimate``, ``sd``, ``lower``, ``upper`` per fitted row.

    Raises
    ------
    DataError
        For categorical and ordinal fits (no single expected value per row:
        ``ml.predict.category_probabilities`` gives the probabilities).
    """
    ci = _check(fit, "fitted()", ci)
    return _summary(_expected_draws(fit, group_effects)[0], ci, fit.design.frame.data.index)


def residuals_bayes(fit, type: str = "response", group_effects: bool | str = True,
                    ci: float = 0.95) -> pd.DataFrame:
    """Residuals of each fitted row, per posterior draw, summarized (brms's ``residuals``).

    Parameters
    ----------
    fit : BayesFit
    type : {"response", "pearson"}
        y − E[y] (brms's ``"ordinary"``), or divided by the family's SD of y per draw.
    group_effects : bool or str
        As in :func:`fitted_bayes`.
    ci : float
        Level of the equal-tailed interval.

    Returns
    -------
    DataFrame
        ``estimate``, ``sd``, ``lower``, ``upper`` per fitted row.

    Raises
    ------
    DataError
        For an unknown ``type``, for Pearson residuals of a family without a variance
        here (the message lists those with one), and for categorical and ordinal fits.
    """
    if type not in RESIDUAL_TYPES:
        raise DataError(f"type={type!r} is not a residual type of a Bayesian fit; use one of "
                        f"{RESIDUAL_TYPES} (brms's 'ordinary' is 'response').")
    ci = _check(fit, "residuals()", ci)
    if type == "pearson" and fit.family not in PEARSON_FAMILIES:
        raise DataError(f"type='pearson' needs the variance of family={fit.family!r}, which is "
                        f"not available here (it is for {', '.join(PEARSON_FAMILIES)}); use "
                        "type='response'.")
    mean, params = _expected_draws(fit, group_effects)
    y = np.asarray(fit.design.y, dtype=float)
    trials = None
    if fit.family in TRIALS_FAMILIES:   # lme4's scale: the proportion of successes
        trials = np.asarray(fit.design.frame.trials, dtype=float)
        y = y / trials
    values = y - mean
    if type == "pearson":
        values = values / np.sqrt(_variance(fit, mean, params, trials))
    return _summary(values, ci, fit.design.frame.data.index)


def _check(fit, what: str, ci) -> float:
    if fit.family in CATEGORICAL_FAMILIES or fit.family in ORDINAL_FAMILIES:
        raise DataError(f"{what} needs one expected value per row; family={fit.family!r} has a "
                        "probability per category (ml.predict.category_probabilities gives them).")
    return check_level(ci)


def _expected_draws(fit, group_effects) -> tuple[np.ndarray, dict]:
    """E[y] per (draw, fitted row) and the family's parameters per draw."""
    from multilevel.predict.bayes import expected_draws

    return expected_draws(fit, None, group_effects, "population", np.random.default_rng(0))


def _variance(fit, mu: np.ndarray, params: dict, trials) -> np.ndarray:
    """Var(y | draw) on the residuals' scale, by family (see the module)."""
    family = fit.family
    if family == "gaussian":
        w = 1.0 if fit.design.weights is None else np.asarray(fit.design.weights, dtype=float)
        return params["sigma"] ** 2 / w
    if family in ("bernoulli", "binomial"):
        return mu * (1 - mu) / (1.0 if trials is None else trials)
    if family == "poisson":
        return mu
    if family == "negativebinomial":
        return mu + mu ** 2 / params["alpha"]
    if family == "gamma":
        return mu ** 2 / params["alpha"]
    if family == "beta":
        return mu * (1 - mu) / (1 + params["kappa"])
    if family == "exponential":
        return mu ** 2
    return 2 * params["b"] ** 2   # laplace


def _summary(values: np.ndarray, ci: float, index) -> pd.DataFrame:
    lo, hi = np.quantile(values, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    return pd.DataFrame({"estimate": values.mean(axis=0), "sd": values.std(axis=0, ddof=1),
                         "lower": lo, "upper": hi}, index=index)
