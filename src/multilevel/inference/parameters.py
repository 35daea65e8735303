"""The parameters of an LMM as lme4's ``confint``/``profile`` name and order them:
for each random-effects term, in θ order, the SD of each column (diagonal positions)
and the correlation of each pair (off-diagonal positions) — ``.sig01``, ``.sig02``, ...;
then the residual SD ``.sigma``; then the fixed effects."""

from __future__ import annotations

import numpy as np
import pandas as pd

# families with a residual scale σ (lme4's useSc): a ``.sigma`` row. For gamma and the
# inverse Gaussian (σ = √dispersion) the SDs stay on θ's scale, as lme4's confint has them.
SCALE_FAMILIES = ("gaussian", "gamma", "wald")


def variance_parameters(fit) -> pd.DataFrame:
    """One row per variance parameter: ``parameter`` (lme4's ``.sig01``..., ``.sigma``),
    ``name`` (lme4's ``sd_(Intercept)|Subject``, ``cor_Days.(Intercept)|Subject``, ``sigma``),
    ``grp``, ``var1``, ``var2`` (as in ``fit.varcorr``), ``kind`` ("sd", "cor", "sigma")."""
    rows, k = [], 0
    for term in fit.design.reterms:
        for j in range(term.q):
            for i in range(j, term.q):
                k += 1
                if i == j:
                    rows.append((f".sig{k:02d}", f"sd_{term.cnms[i]}|{term.name}", term.name,
                                 term.cnms[i], None, "sd"))
                else:
                    rows.append((f".sig{k:02d}", f"cor_{term.cnms[i]}.{term.cnms[j]}|{term.name}",
                                 term.name, term.cnms[j], term.cnms[i], "cor"))
    if getattr(fit, "family", "gaussian") in SCALE_FAMILIES:
        rows.append((".sigma", "sigma", "Residual", None, None, "sigma"))
    return pd.DataFrame(rows, columns=["parameter", "name", "grp", "var1", "var2", "kind"], dtype=object)


def varpar_from_theta(theta: np.ndarray, sigma: float, qs: list[int]) -> np.ndarray:
    """(θ, σ) → the SD/correlation parameters in θ order, then σ."""
    out, start = [], 0
    for q in qs:
        k = q * (q + 1) // 2
        T = _factor(theta[start:start + k], q)
        cov = T @ T.T
        sd = np.sqrt(np.diag(cov))
        for j in range(q):
            for i in range(j, q):
                if i == j:
                    out.append(sigma * sd[i])
                else:
                    out.append(cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else 0.0)
        start += k
    return np.array(out + [sigma])


def variance_estimates(fit, theta: np.ndarray) -> np.ndarray:
    """The variance rows of ``confint`` at ``theta`` (a refit's, for the bootstrap):
    SDs and correlations, then σ where the family has one (SDs times σ for gaussian)."""
    qs = [t.q for t in fit.design.reterms]
    if fit.family == "gaussian":
        return varpar_from_theta(theta, fit.sigma, qs)
    v = varpar_from_theta(theta, 1.0, qs)[:-1]
    return np.append(v, fit.sigma) if fit.family in SCALE_FAMILIES else v


def theta_from_varpar(v: np.ndarray, qs: list[int]) -> np.ndarray | None:
    """SD/correlation parameters and σ → θ (None where the correlations are not a valid
    correlation matrix or σ ≤ 0)."""
    sigma = v[-1]
    if not sigma > 0:
        return None
    out, start = [], 0
    for q in qs:
        k = q * (q + 1) // 2
        block = v[start:start + k]
        sd, R, pos = np.zeros(q), np.eye(q), 0
        for j in range(q):
            for i in range(j, q):
                if i == j:
                    sd[i] = block[pos]
                else:
                    R[i, j] = R[j, i] = block[pos]
                pos += 1
        if np.any(sd < 0):
            return None
        try:
            C = np.linalg.cholesky(R)
        except np.linalg.LinAlgError:
            return None
        T = (sd[:, None] * C) / sigma
        out += [T[i, j] for j in range(q) for i in range(j, q)]
        start += k
    return np.array(out)


def _factor(theta_term: np.ndarray, q: int) -> np.ndarray:
    T, pos = np.zeros((q, q)), 0
    for j in range(q):
        for i in range(j, q):
            T[i, j] = theta_term[pos]
            pos += 1
    return T
