"""F tests and intervals of a linear model (a gaussian formula without group terms,
R's ``lm``): what :func:`multilevel.inference.anova`, :func:`~multilevel.inference.drop1`
and :func:`~multilevel.inference.confint` give for such a fit.

The tests are exact: σ² is the residual mean square (n − rank X df) and every F has
``DenDF`` n − rank X, whatever ``ddf`` asks (Satterthwaite's and Kenward–Roger's df
reduce to it). Type 1 is R's ``anova(lm)`` (sequential sums of squares of the weighted
fit), type 2 ``car::Anova(lm, type = 2)`` (a term after every term that does not
contain it), type 3 the coding-free hypotheses lmerTest builds for mixed models, which
equal ``car::Anova(type = 3)`` with sum-to-zero contrasts (SAS's type III) for models
without factor-by-covariate interactions; for those, lmerTest's convention (its type III
of ``f * x`` tests ``f`` as its type II does). ``drop1`` is R's
``drop1(lm, test = "F")`` and the intervals are R's ``confint(lm)`` (t quantiles).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

F_COLUMNS = ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F", "p"]


def is_linear_model(fit) -> bool:
    """Whether ``fit`` is a gaussian least-squares fit (an OLSFit)."""
    from multilevel.freq.ols import OLSFit

    return isinstance(fit, OLSFit) and getattr(fit, "family", "gaussian") == "gaussian"


def lm_f_test(fit, L: np.ndarray, rhs=None) -> dict:
    """The exact F test of H0: Lβ = rhs (default 0; a basis of L's estimable rows)."""
    from scipy import stats

    beta = np.asarray(fit.beta, dtype=float)
    if rhs is not None and np.any(rhs != 0):   # as the mixed models' contest: β shifted by L⁺ rhs
        beta = beta - np.linalg.pinv(L) @ rhs
    V = fit.vcov.to_numpy()
    d, P = np.linalg.eigh(L @ V @ L.T)
    d, P = d[::-1], P[:, ::-1]
    k = int(np.sum(d > max(np.sqrt(np.finfo(float).eps) * d[0], 0))) if len(d) else 0
    if k == 0:
        return dict.fromkeys(F_COLUMNS, np.nan)
    F = float(np.sum((P[:, :k].T @ L @ beta) ** 2 / d[:k]) / k)
    den = float(fit.nobs - fit.design.p)
    s2 = fit.sigma ** 2
    return {"Sum Sq": F * k * s2, "Mean Sq": F * s2, "NumDF": float(k), "DenDF": den, "F": F,
            "p": float(stats.f.sf(F, k, den))}


def lm_anova(fit, type: int) -> pd.DataFrame:
    """Type 1, 2 or 3 F tests of the model's terms (see the module docstring)."""
    from multilevel.inference.contrasts import fixed_terms, term_contrasts

    if type == 2:
        table = _table(_type2_rows(fit, _weighted(fit.design), fixed_terms(fit.design)))
    else:   # type 1's order of fitting is the weighted fit's; type 3's hypotheses have no weights
        design = _weighted(fit.design) if type == 1 else fit.design
        contrasts = {name: L for name, L in term_contrasts(design, type).items() if len(L)}
        table = _table({name: lm_f_test(fit, L) for name, L in contrasts.items()})
    table.attrs["type"] = type
    return table


def _weighted(design):
    """The design with X (and y) scaled by √w: least squares of the weighted fit."""
    if design.weights is None:
        return design
    import dataclasses

    w = np.sqrt(np.asarray(design.weights, dtype=float))
    return dataclasses.replace(design, X=np.asarray(design.X, dtype=float) * w[:, None],
                               y=np.asarray(design.y, dtype=float) * w)


def _type2_rows(fit, design, terms) -> dict:
    """car's type II: SS(term | every term that does not contain it), a term containing
    another when it has all of its variables (factors and covariates alike: in
    ``f * x``, ``f:x`` contains ``f``), from the residual sums of squares of the two
    least-squares fits."""
    from scipy import stats

    X, y = np.asarray(design.X, dtype=float), np.asarray(design.y, dtype=float)
    den = float(fit.nobs - fit.design.p)
    s2 = fit.sigma ** 2

    def rss_rank(drop: set) -> tuple[float, int]:
        keep = [j for j in range(X.shape[1]) if j not in drop]
        if not keep:
            return float(y @ y), 0
        coef, _, rank, _ = np.linalg.lstsq(X[:, keep], y, rcond=None)
        r = y - X[:, keep] @ coef
        return float(r @ r), int(rank)

    rows = {}
    for t in terms:
        relatives = {c for u in terms if u is not t and t.names <= u.names for c in u.columns}
        rss_without, rank_without = rss_rank(relatives | set(t.columns))
        rss_with, rank_with = rss_rank(relatives)
        k = rank_with - rank_without
        if k == 0:
            rows[t.name] = dict.fromkeys(F_COLUMNS, np.nan)
            continue
        ss = max(rss_without - rss_with, 0.0)
        F = ss / k / s2
        rows[t.name] = {"Sum Sq": ss, "Mean Sq": ss / k, "NumDF": float(k), "DenDF": den, "F": F,
                        "p": float(stats.f.sf(F, k, den))}
    return rows


def lm_drop1(fit) -> pd.DataFrame:
    """R's ``drop1(lm, test = "F")``: deleting each term no other term contains."""
    from multilevel.inference.contrasts import deletion_contrast, droppable, fixed_terms

    return _table({term.name: lm_f_test(fit, deletion_contrast(fit.design, term))
                   for term in droppable(fixed_terms(fit.design))})


def lm_t_tests(fit, L: np.ndarray, rhs) -> pd.DataFrame:
    """One exact t test per row of L (H0: Lβ = rhs), df n − rank X."""
    from scipy import stats

    est = L @ np.asarray(fit.beta, dtype=float)
    se = np.sqrt(np.einsum("ij,jk,ik->i", L, fit.vcov.to_numpy(), L))
    df = float(fit.nobs - fit.design.p)
    t = (est - rhs) / se
    return pd.DataFrame({"estimate": est, "std_error": se, "df": df, "t_value": t,
                         "p": 2 * stats.t.sf(np.abs(t), df)})


def lm_confint(fit, method: str, level: float) -> pd.DataFrame:
    """R's ``confint(lm, level=)``: β ± t(n − rank X) × SE, per coefficient, in
    :func:`~multilevel.inference.confint`'s columns (R gives no interval for σ)."""
    from scipy import stats

    from multilevel.errors import SpecError

    if method == "boot":
        raise SpecError("confint(method='boot') resamples group effects; this model has none. Its "
                        "t intervals (R's confint(lm)) are exact: use method='profile' or 'wald'.")
    half = stats.t.ppf(0.5 + level / 2, fit.nobs - fit.design.p) * fit.se.to_numpy()
    est = np.asarray(fit.beta, dtype=float)
    names = list(fit.design.x_names)
    table = pd.DataFrame({"name": names, "grp": None, "var1": None, "var2": None, "estimate": est,
                          "lower": est - half, "upper": est + half}, index=pd.Index(names))
    table.attrs.update(method="t", level=float(level))
    return table


def _table(rows: dict) -> pd.DataFrame:
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=F_COLUMNS)
    table.attrs["ddf"] = "exact"
    return table
