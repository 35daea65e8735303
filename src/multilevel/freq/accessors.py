"""lme4's ``fitted()``, ``residuals()`` and ``coef()`` of a REML/ML fit.

- fitted values: the expected response with the group effects (the conditional modes),
  on the response scale (lme4's ``fitted``);
- residuals by lme4's types: for linear mixed models ``"response"``/``"working"``
  (y − μ, the default) and ``"pearson"``/``"deviance"`` (√w (y − μ)); for GLMMs
  ``"deviance"`` (the default: sign(y − μ) √dᵢ), ``"pearson"`` ((y − μ) √(w / V(μ))),
  ``"working"`` ((y − μ) / (dμ/dη)) and ``"response"``; ``scaled=True`` divides by σ.
  A binomial response is the proportion of successes, its weights the trials, as in R;
- coefficients per group (lme4's ``coef``): the fixed effects with each level's group
  effects added, one table per grouping factor; a column with a group effect but no
  fixed effect counts the fixed effect as 0 and comes first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import SpecError

TYPES_LMM = ("response", "working", "pearson", "deviance")
TYPES_GLMM = ("deviance", "pearson", "working", "response")


def _family(fit):
    return getattr(fit, "family_object", None)   # None: gaussian with the identity link


def _response_and_weights(fit, family) -> tuple[np.ndarray, np.ndarray]:
    """y on R's scale (a binomial proportion) and the prior weights (the trials)."""
    design = fit.design
    if family is not None:   # the family's n: binomial trials, else the prior weights
        n = next((np.asarray(v, dtype=float) for v in (design.frame.trials, design.weights)
                  if v is not None), np.ones(design.n))
        y = np.asarray(design.y, dtype=float)
        return (y / n if family.binomial else y), n
    w = np.ones(design.n) if design.weights is None else np.asarray(design.weights, dtype=float)
    return np.asarray(design.y, dtype=float), w


def fitted_values(fit) -> pd.Series:
    """The expected response of the fitted rows, group effects included (lme4's ``fitted``)."""
    eta = fit.linear_predictor()
    mu = fit._inverse_link(eta)
    return pd.Series(mu, index=fit.design.frame.data.index, name="fitted")


def residual_values(fit, type: str | None = None, scaled: bool = False) -> pd.Series:
    """lme4's ``residuals(fit, type, scaled)`` of the fitted rows (see the module).

    Raises
    ------
    SpecError
        For a type lme4 does not have (``"partial"`` is not implemented in lme4 either).
    """
    family = _family(fit)
    glmm = family is not None
    types = TYPES_GLMM if glmm else TYPES_LMM
    type = types[0] if type is None else type
    if type not in types:
        raise SpecError(f"type={type!r} is not a residual type; use one of {types} (lme4's).")
    if not isinstance(scaled, (bool, np.bool_)):   # "no" would be truthy: residuals divided by σ
        raise SpecError(f"scaled must be True or False, got {scaled!r}.")
    y, w = _response_and_weights(fit, family)
    eta = fit.linear_predictor()
    mu = fit._inverse_link(eta)
    if type in ("response", "working") and not glmm or type == "response":
        r = y - mu
    elif not glmm:   # pearson, deviance of a linear mixed model: lme4's weighted residuals
        r = np.sqrt(w) * (y - mu)
    elif type == "pearson":
        r = (y - mu) * np.sqrt(w / family.variance(mu))
    elif type == "working":
        from multilevel.freq.families import _mu_eta

        r = (y - mu) / _mu_eta(family.link, eta)
    else:   # deviance
        d = family.deviance_residuals(eta, np.asarray(fit.design.y, dtype=float), w)
        r = np.sign(y - mu) * np.sqrt(np.maximum(d, 0.0))
    if scaled:
        r = r / fit.sigma
    return pd.Series(r, index=fit.design.frame.data.index, name=f"{type} residuals")


def group_coefficients(fit) -> dict[str, pd.DataFrame]:
    """lme4's ``coef``: per grouping factor, levels × coefficients (see the module)."""
    fixef = fit.fixef
    ranef = fit.ranef
    # as lme4: the columns missing from the fixed effects (of any factor) come first, in
    # every factor's table
    missing = list(dict.fromkeys(c for modes in ranef.values() for c in modes.columns
                                 if c not in fixef.index))
    base = pd.concat([pd.Series(0.0, index=missing), fixef]) if missing else fixef
    out = {}
    for group, modes in ranef.items():
        table = pd.DataFrame(np.tile(base.to_numpy(), (len(modes), 1)), index=modes.index,
                             columns=list(base.index))
        table[list(modes.columns)] += modes.to_numpy()
        out[group] = table
    return out
