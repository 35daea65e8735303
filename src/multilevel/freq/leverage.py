"""Leverage and Cook's distance of linear mixed models and linear models: lme4's
``hatvalues.merMod`` and ``cooks.distance.merMod``, R's ``hatvalues(lm)`` and
``cooks.distance(lm)``.

The hat matrix of an LMM maps y to the fitted values with the conditional modes: with
B = W^½ZΛ, C = W^½X and A = B'B + I (the factor of the fit),
H = B A⁻¹ B' + D (R_X'R_X)⁻¹ D', D = C − B A⁻¹ B'C (lme4's ``CL``/``CR``). Its diagonal is
computed a block of rows at a time, so a model with many levels never holds the q × n
matrix A⁻¹B'. Cook's distance is lme4's (and ``lm``'s) from the Pearson residuals:
(rᵢ / (1 − hᵢ))² hᵢ / (σ² p), p the rank of X.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from multilevel.errors import FamilyError

ROWS_PER_BLOCK = 2048   # rows whose A⁻¹B' columns are held at once


def hat_values(fit) -> pd.Series:
    """The diagonal of the hat matrix per fitted row (lme4's ``hatvalues``)."""
    _check(fit, "hatvalues")
    index = fit.design.frame.data.index
    if not fit.design.reterms:   # a linear model: X (X'WX)⁻¹ X'W, from R of the QR
        return pd.Series(_linear_model_hat(fit), index=index, name="hat")
    from multilevel.freq.factor import lambda_matrix, term_factors
    from multilevel.freq.layout import Layout

    layout = Layout.from_design(fit.design)
    w = np.ones(layout.n) if layout.weights is None else np.asarray(layout.weights, dtype=float)
    sw = np.sqrt(w)
    B = (sp.diags(sw) @ layout.Z @ lambda_matrix(layout, term_factors(layout, fit.pls.theta))).tocsr()
    C = sw[:, None] * layout.X
    factor = fit.pls.factor
    AiBtC = factor.solve(np.asarray(B.T @ C))
    D = C - B @ AiBtC
    h = np.sum(np.linalg.solve(fit.pls.RXtRX, D.T).T * D, axis=1)
    for start in range(0, layout.n, ROWS_PER_BLOCK):
        Bt = B[start:start + ROWS_PER_BLOCK].T.toarray()
        h[start:start + ROWS_PER_BLOCK] += np.sum(Bt * factor.solve(Bt), axis=0)
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
