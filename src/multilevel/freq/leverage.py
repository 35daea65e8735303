"""Leverage and Cook's distance of linear mixed models and linear models: lme4's
``hatvalues.merMod`` and ``cooks.distance.merMod``, R's ``hatvalues(lm)`` and
``cooks.distance(lm)``.

The hat matrix of an LMM maps y to the fitted values with the conditional modes: with
B = W^½ZΛ, C = W^½X and A = B'B + I (the factor of the fit),
H = B A⁻¹ B' + D (R_X'R_X)⁻¹ D', D = C − B A⁻¹ B'C (lme4's ``CL``/``CR``), so hᵢ = wᵢ aᵢ'M⁻¹aᵢ
with aᵢ = (Λ'zᵢ', xᵢ): the quadratic form of the conditional prediction SE
(:mod:`multilevel.freq.predict_se`), computed a block of rows at a time, so a model with
many levels never holds the q × n matrix A⁻¹B'. Cook's distance is lme4's (and ``lm``'s) from the Pearson residuals:
(rᵢ / (1 − hᵢ))² hᵢ / (σ² p), p the rank of X.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import FamilyError


def hat_values(fit) -> pd.Series:
    """The diagonal of the hat matrix per fitted row (lme4's ``hatvalues``)."""
    _check(fit, "hatvalues")
    index = fit.design.frame.data.index
    if not fit.design.reterms:   # a linear model: X (X'WX)⁻¹ X'W, from R of the QR
        return pd.Series(_linear_model_hat(fit), index=index, name="hat")
    from multilevel.freq.predict_se import conditional_quadratic

    w = fit.design.weights
    w = np.ones(fit.nobs) if w is None else np.asarray(w, dtype=float)
    h = w * conditional_quadratic(fit, None, np.asarray(fit.design.X, dtype=float))
    return pd.Series(h, index=index, name="hat")


def cooks_distances(fit) -> pd.Series:
    """lme4's ``cooks.distance`` (R's for ``lm``): (rᵢ/(1 − hᵢ))² hᵢ / (σ² rank X), rᵢ the
    Pearson residual; NaN where hᵢ = 1."""
    _check(fit, "cooks_distance")
    hat = hat_values(fit).to_numpy()
    resid = fit.residuals(type="pearson").to_numpy()
    rank = np.linalg.matrix_rank(fit.design.X)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (resid / (1.0 - hat)) ** 2 * hat / (fit.sigma ** 2 * rank)
    d[~np.isfinite(d)] = np.nan
    return pd.Series(d, index=fit.design.frame.data.index, name="cooks_distance")


def _check(fit, verb: str) -> None:
    if getattr(fit, "family", "gaussian") != "gaussian":
        raise FamilyError(f"{verb}() is defined here for gaussian models (lmer, lm); a "
                          f"{fit.family} GLMM's hat matrix depends on its working weights (lme4 "
                          "warns that it 'may not make sense'). Use residuals(type='pearson') "
                          "for outlying rows.")
    general = [t.bar.source for t in fit.design.reterms if t.is_general]
    if general:
        raise FamilyError(f"{verb}() needs the model's Λ; {', '.join(general)} (smooths, known "
                          "covariances) are not covered.")


def _linear_model_hat(fit) -> np.ndarray:
    w = fit.design.weights
    sw = np.ones(fit.nobs) if w is None else np.sqrt(np.asarray(w, dtype=float))
    Q, _ = np.linalg.qr(sw[:, None] * fit.design.X)
    return np.sum(Q * Q, axis=1)
