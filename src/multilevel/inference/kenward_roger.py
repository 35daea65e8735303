"""Kenward & Roger (1997): the adjusted covariance of β̂ and the denominator df.

As pbkrtest's ``vcovAdj`` and ``KRmodcomp`` (Halekoh & Højsgaard 2014, J. Stat. Softw.
59(9)): the marginal covariance of y is linear in the variance parameters γ (each
random-effect variance and covariance, then σ²),

    Σ = Σ_r γ_r G_r,   G_r = ∂Σ/∂γ_r,

and with Φ = (X'Σ⁻¹X)⁻¹, P_r = −X'Σ⁻¹G_rΣ⁻¹X, Q_rs = X'Σ⁻¹G_rΣ⁻¹G_sΣ⁻¹X, the expected
information of γ (REML) is I_rs = tr(Σ⁻¹G_rΣ⁻¹G_s) − 2 tr(Φ Q_rs) + tr(Φ P_r Φ P_s);
W = 2 I⁻¹ and

    Φ_A = Φ + 2 Φ [Σ_rs W_rs (Q_rs − P_r Φ P_s)] Φ

(the second-derivative term vanishes because Σ is linear in γ). The F statistic's
scaling and df follow Kenward & Roger's moment matching (their section 4).

Everything is dense in n (the n×n Σ⁻¹): fine for thousands of rows, refused beyond.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from multilevel.errors import SpecError
from multilevel.inference.varpar import check_lmm

MAX_ROWS = 4000  # dense n×n work: 4000² doubles = 128 MB per matrix, one per variance parameter


@dataclass(frozen=True)
class KRInfo:
    """Φ (lme4's vcov), Φ_A (the adjusted one) and the P_r, W that the df need."""

    vcov: np.ndarray
    vcov_adj: np.ndarray
    P: list
    W: np.ndarray


def covariance_derivatives(fit) -> tuple[np.ndarray, list[np.ndarray]]:
    """γ (variances and covariances per term in lme4's lower-triangle order, then σ²) and
    the dense G_r = ∂Σ/∂γ_r."""
    general = [t.bar.source for t in fit.design.reterms if t.is_general]
    if general:
        from multilevel.errors import SpecError

        raise SpecError(f"Kenward-Roger df are not available for {', '.join(general)} (their "
                        "covariance is not one block per level); use ddf='satterthwaite'.")
    gammas, G = [], []
    for term, cov in zip(fit.design.reterms, fit.covariance().values()):
        same = term.codes[:, None] == term.codes[None, :]
        same &= (term.codes >= 0)[:, None]
        Xt = np.asarray(term.X, dtype=float)
        for j in range(term.q):          # column-major lower triangle, as VarCorr's lower.tri
            for i in range(j, term.q):
                gammas.append(cov[i, j])
                outer = np.outer(Xt[:, i], Xt[:, j])
                G.append(same * (outer if i == j else outer + outer.T))
    gammas.append(fit.sigma ** 2)
    G.append(np.eye(fit.nobs))
    return np.asarray(gammas), G


_CACHE: dict[int, tuple] = {}


def kr_info(fit) -> KRInfo:
    """pbkrtest's ``vcovAdj`` for a REML fit (cached per fit)."""
    check_lmm(fit, "The Kenward-Roger method")
    if not fit.reml:
        raise SpecError("The Kenward-Roger method is defined for REML fits (as pbkrtest and "
                        "lmerTest); refit with method='reml' or use ddf='satterthwaite'.")
    if fit.nobs > MAX_ROWS:
        raise SpecError(f"The Kenward-Roger method works with dense {fit.nobs}×{fit.nobs} "
                        f"matrices; this model has more than {MAX_ROWS} rows. Use "
                        "ddf='satterthwaite'.")
    hit = _CACHE.get(id(fit))
    if hit is not None and hit[0]() is fit:
        return hit[1]
    gammas, G = covariance_derivatives(fit)
    X = np.asarray(fit.design.X, dtype=float)
    Sigma = sum(g * Gr for g, Gr in zip(gammas, G))
    Sinv = linalg.cho_solve(linalg.cho_factor(Sigma), np.eye(fit.nobs))
    Phi = fit.vcov.to_numpy()
    TT = Sinv @ X
    H = [Gr @ Sinv for Gr in G]
    del G, Sigma  # only G_r Σ⁻¹ is needed from here on
    O = [Hr @ X for Hr in H]
    k = len(H)
    P = [-(Or.T @ TT) for Or in O]
    P = [0.5 * (Pr + Pr.T) for Pr in P]
    Q = {(r, s): O[r].T @ Sinv @ O[s] for r in range(k) for s in range(r, k)}
    info = np.empty((k, k))
    for r in range(k):
        for s in range(r, k):
            info[r, s] = info[s, r] = (np.sum(H[r].T * H[s]) - 2 * np.sum(Phi * Q[r, s])
                                       + np.sum((Phi @ P[r]) * (P[s] @ Phi)))
    evals = np.linalg.eigvalsh(info)
    W = 2 * (np.linalg.inv(info) if np.min(np.abs(evals)) > 1e-10 else np.linalg.pinv(info))
    W = 0.5 * (W + W.T)
    U = np.zeros_like(Phi)
    for r in range(k):
        for s in range(k):
            Qrs = Q[r, s] if r <= s else Q[s, r].T
            U += W[r, s] * (Qrs - P[r] @ Phi @ P[s])
    adj = Phi + 2 * Phi @ U @ Phi
    out = KRInfo(vcov=Phi, vcov_adj=0.5 * (adj + adj.T), P=P, W=W)
    _CACHE[id(fit)] = (weakref.ref(fit, lambda _r, key=id(fit): _CACHE.pop(key, None)), out)
    return out


_ML_CACHE: dict = {}


def kr_info_emmeans(fit) -> KRInfo:
    """Kenward-Roger as emmeans applies it to any lmer fit, ML ones included.

    A REML fit: :func:`kr_info`. An ML fit: pbkrtest's ``vcovAdj`` refits the model by
    REML, so the adjusted covariance Φ_A and the P_r, W of the df are the REML fit's, while
    emmeans passes the ML fit's own ``vcov`` as the unadjusted Φ of ``Lb_ddf`` (its df thus
    mix the two fits: 36.99 where the REML fit's are 32.13). The estimates stay the ML fit's.
    """
    if fit.reml:
        return kr_info(fit)
    check_lmm(fit, "The Kenward-Roger method")
    hit = _ML_CACHE.get(id(fit))
    if hit is not None and hit[0]() is fit:
        return hit[1]
    from dataclasses import replace

    from multilevel.freq.optimize import optimize_design
    from multilevel.freq.result import FreqFit

    opt, pls = optimize_design(fit.design, reml=True, solver=fit.solver)
    reml = FreqFit(formula=fit.formula, design=fit.design, method="reml", opt=opt, pls=pls,
                   messages=fit.messages, solver=fit.solver)
    out = replace(kr_info(reml), vcov=fit.vcov.to_numpy())
    key = id(fit)
    _ML_CACHE[key] = (weakref.ref(fit, lambda _r, key=key: _ML_CACHE.pop(key, None)), out)
    return out


def _div_zero(x: float, y: float, tol: float = 1e-14) -> float:
    return 1.0 if abs(x) < tol and abs(y) < tol else x / y


def kr_statistics(info: KRInfo, L: np.ndarray, q: int | None = None) -> dict:
    """Kenward-Roger's df and F scaling for H0: Lβ = 0 (q = the rank of L; pbkrtest's
    ``Lb_ddf`` uses the number of rows)."""
    L = np.atleast_2d(L)
    Phi = info.vcov
    q = L.shape[0] if q is None else q
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    TP = Theta @ Phi
    u = [TP @ Pr @ Phi for Pr in info.P]
    A1 = A2 = 0.0
    k = len(u)
    for i in range(k):
        for j in range(i, k):
            e = 1.0 if i == j else 2.0
            A1 += e * info.W[i, j] * np.trace(u[i]) * np.trace(u[j])
            A2 += e * info.W[i, j] * np.sum(u[i] * u[j].T)
    B = (A1 + 6 * A2) / (2 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    c1 = g / (3 * q + 2 * (1 - g))
    c2 = (q - g) / (3 * q + 2 * (1 - g))
    c3 = (q + 2 - g) / (3 * q + 2 * (1 - g))
    V0 = 1 + c1 * B
    V0 = 0.0 if abs(V0) < 1e-10 else V0
    V1, V2 = 1 - c2 * B, 1 - c3 * B
    rho = _div_zero(1 - A2 / q, V1) ** 2 * V0 / V2 / q
    df = 4 + (q + 2) / (q * rho - 1)
    scale = 1.0 if abs(df - 2) < 1e-2 else df * (1 - A2 / q) / (df - 2)
    return {"df": float(df), "F_scaling": float(scale), "A1": float(A1), "A2": float(A2)}


def vcov_adjusted(fit):
    """Kenward-Roger's adjusted covariance Φ_A of the fixed effects (pbkrtest's ``vcovAdj``).

    Parameters
    ----------
    fit : FreqFit
        A REML fit of a linear mixed model.

    Returns
    -------
    DataFrame (p × p), indexed by the fixed-effect names.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.inference import vcov_adjusted
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> vcov_adjusted(m).round(3)
                 (Intercept)   Days
    (Intercept)       46.575 -1.451
    Days              -1.451  2.389
    """
    import pandas as pd

    names = fit.design.x_names
    return pd.DataFrame(kr_info(fit).vcov_adj, index=names, columns=names)
