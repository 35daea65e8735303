"""Standard errors of REML/ML predictions (``fit.predict(..., se_fit=True)``).

- Population predictions (``group_effects=False``, any model): SE(xβ̂) = √(x V x'), V the
  fit's ``vcov`` (lme4's, the Hessian's for a GLMM), as ``predict(..., se.fit = TRUE,
  re.form = NA)`` of glmmTMB and lme4 1.1-35+ and AICcmodavg's ``predictSE`` compute it.
- Predictions with the group effects of a linear mixed model: the conditional SE of
  xβ̂ + z Λ û given θ̂, σ √(a' M⁻¹ a) with a = (Λ'z', x) and M the penalized least-squares
  matrix of the fit (the joint conditional covariance of β̂ and û that lme4's ``condVar``
  takes its blocks from); computed with the fit's factor of A = Λ'Z'WZΛ + I and R_X, as
  :mod:`multilevel.freq.leverage` computes the hat matrix. A level the fit never saw is
  at the population mean, so its SE is the population one. Neither includes the
  uncertainty of θ̂.

On the response scale (``type="response"``) the SE is the delta method's, |dμ/dη|·SE.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError

ROWS_PER_BLOCK = 2048   # rows whose A⁻¹b columns are held at once


def link_standard_errors(fit, rows: pd.DataFrame | None, group_effects) -> np.ndarray:
    """SE of the linear predictor of each row (the fitted rows when ``rows`` is None)."""
    if not isinstance(group_effects, (bool, np.bool_)):
        raise DataError("se_fit=True takes group_effects=True or False; a formula of some group "
                        "terms (re.form) has no standard errors here.")
    X = fit.design.X if rows is None else fit.design.spec.fixed_X(rows)
    X = np.asarray(X, dtype=float)
    reterms = [t for t in fit.design.reterms if t.smooth is None]
    if not group_effects or not reterms:
        V = fit.vcov.to_numpy()
        return np.sqrt(np.maximum(np.sum((X @ V) * X, axis=1), 0.0))
    if fit.family != "gaussian" or any(t.is_general for t in fit.design.reterms):
        raise DataError("se_fit=True with group_effects=True is available for linear mixed models "
                        "without smooths or known covariances; for this fit use "
                        "group_effects=False (the fixed effects' SE), or method='bayes', whose "
                        "predictions carry the group effects' uncertainty.")
    return fit.sigma * np.sqrt(conditional_quadratic(fit, rows, X))


def conditional_quadratic(fit, rows, X: np.ndarray) -> np.ndarray:
    """a' M⁻¹ a per row (the fitted rows when ``rows`` is None; X their fixed-effects rows):
    b'A⁻¹b plus d' (R_X'R_X)⁻¹ d, d = x − C'A⁻¹b, b = Λ'z', C = Λ'Z'WX."""
    import scipy.sparse as sp

    from multilevel.formula.design import level_codes, term_matrix
    from multilevel.freq.factor import lambda_matrix, term_factors
    from multilevel.freq.layout import Layout

    layout = Layout.from_design(fit.design)
    Ts = term_factors(layout, fit.pls.theta)
    w = np.ones(layout.n) if layout.weights is None else np.asarray(layout.weights, dtype=float)
    ZL = (layout.Z @ lambda_matrix(layout, Ts)).tocsc()
    C = np.asarray(ZL.T @ (w[:, None] * layout.X))          # Λ'Z'WX, q × p
    factor = fit.pls.factor
    # b = Λ'z' of each row: the term's columns times T at the row's level (none if unseen)
    n = X.shape[0]
    pieces, start = [], 0
    for term, T, q, m in zip(fit.design.reterms, Ts, layout.qs, layout.n_levels):
        codes = term.codes if rows is None else level_codes(term, rows, "population")
        Xt = np.asarray(term.X if rows is None else term_matrix(term, rows), dtype=float) @ T
        seen = np.flatnonzero(codes >= 0)
        r = np.repeat(seen, q)
        c = (start + codes[seen, None] * q + np.arange(q)[None, :]).ravel()
        pieces.append(sp.csr_matrix((Xt[seen].ravel(), (r, c)), shape=(n, layout.Q1 + layout.Q2)))
        start += q * m
    B = sum(pieces[1:], pieces[0]).tocsr()                 # rows × q
    out = np.empty(n)
    for lo in range(0, n, ROWS_PER_BLOCK):                  # never the whole q × rows at once
        Bt = B[lo:lo + ROWS_PER_BLOCK].T.toarray()
        AiB = factor.solve(Bt)
        D = X[lo:lo + ROWS_PER_BLOCK] - AiB.T @ C           # x − b'A⁻¹C
        out[lo:lo + ROWS_PER_BLOCK] = (np.sum(Bt * AiB, axis=0)
                                       + np.sum(np.linalg.solve(fit.pls.RXtRX, D.T).T * D, axis=1))
    return np.maximum(out, 0.0)
