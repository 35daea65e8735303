"""p-value and interval adjustments for families of contrasts, as emmeans does them."""

from __future__ import annotations

import numpy as np
import pandas as pd

ADJUSTMENTS = ("tukey", "dunnettx", "bonferroni", "holm", "fdr", "BH", "sidak", "none")


def _dist_sf(stat, df):
    from scipy import stats

    return np.where(np.isfinite(df), stats.t.sf(stat, np.where(np.isfinite(df), df, 1.0)), stats.norm.sf(stat))


def _dist_ppf(p, df):
    from scipy import stats

    return np.where(np.isfinite(df), stats.t.ppf(p, np.where(np.isfinite(df), df, 1.0)), stats.norm.ppf(p))


def dunnettx_cdf(x: np.ndarray, k: int, df: np.ndarray) -> np.ndarray:
    """emmeans' "dunnettx" approximation to P(max |t_j| <= x) over k two-sided comparisons
    with a control: a (k − 1)/k : 1/k mixture of the studentized range (for m means with
    m(m − 1)/2 = k pairs) and the Šidák bound."""
    from scipy import stats

    x, df = np.asarray(x, dtype=float), np.asarray(df, dtype=float)
    m = (1 + np.sqrt(1 + 8 * k)) / 2
    tukey = stats.studentized_range.cdf(np.sqrt(2) * x, m, df) if k > 1 else 0.0
    finite = np.isfinite(df)
    f = np.where(finite, stats.f.cdf(x**2, 1, np.where(finite, df, 1.0)), stats.chi2.cdf(x**2, 1))
    weight = (k - 1) / k
    return weight * tukey + (1 - weight) * f**k


def dunnettx_quantile(p: float, k: int, df: float) -> float:
    """x with dunnettx_cdf(x) = p (emmeans solves it to 5e-4; here to 1e-10)."""
    from scipy import optimize

    hi = 1.0
    while dunnettx_cdf(hi, k, df) < p:
        hi *= 2
    return float(optimize.brentq(lambda x: float(dunnettx_cdf(x, k, df)) - p, 0.0, hi, xtol=1e-12))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment (R's p.adjust(method = "holm"))."""
    order = np.argsort(p, kind="stable")
    m = p.size
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adj, 1.0)
    return out


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini and Hochberg's false-discovery-rate adjustment (R's p.adjust "fdr"/"BH")."""
    order = np.argsort(p, kind="stable")[::-1]     # largest first
    m = p.size
    ranks = m - np.arange(m)                          # the rank of each, largest first
    adj = np.minimum.accumulate(m / ranks * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adj, 1.0)
    return out


def adjust_table(c: pd.DataFrame, family: np.ndarray, n_means: np.ndarray, adjust: str,
                 ci: float) -> pd.DataFrame:
    """Adds two-sided ``p_value`` and ``lower``/``upper`` to a table of contrasts
    (``estimate``, ``std_error``, ``df``, ``statistic``), adjusted within each family.

    Tukey uses the studentized range of the family's number of means (emmeans'
    ``ptukey(√2·|t|, k, df)``), "dunnettx" emmeans' approximation for comparisons with a
    control; Holm's and the false discovery rate's ("fdr", "BH") intervals are Bonferroni's,
    as emmeans gives them (neither has intervals of its own).
    """
    from scipy import stats

    t = np.abs(c["statistic"].to_numpy())
    df = c["df"].to_numpy(dtype=float)
    raw = 2 * _dist_sf(t, df)
    p = raw.copy()
    crit = _dist_ppf(0.5 + ci / 2, df)
    for f in np.unique(family):
        sel = family == f
        m = int(sel.sum())
        if adjust == "tukey":
            k = int(n_means[f])
            dfs = np.where(np.isfinite(df[sel]), df[sel], np.inf)
            p[sel] = stats.studentized_range.sf(np.sqrt(2) * t[sel], k, dfs)
            crit[sel] = stats.studentized_range.ppf(ci, k, dfs) / np.sqrt(2)
        elif adjust == "dunnettx":
            p[sel] = 1 - dunnettx_cdf(t[sel], m, df[sel])
            crit[sel] = [dunnettx_quantile(ci, m, d) for d in df[sel]]
        elif adjust in ("bonferroni", "holm", "fdr", "BH"):
            p[sel] = (np.minimum(raw[sel] * m, 1.0) if adjust == "bonferroni" else holm(raw[sel])
                      if adjust == "holm" else benjamini_hochberg(raw[sel]))
            crit[sel] = _dist_ppf(1 - (1 - ci) / (2 * m), df[sel])
        elif adjust == "sidak":
            p[sel] = 1 - (1 - raw[sel]) ** m
            crit[sel] = _dist_ppf(0.5 + ci ** (1 / m) / 2, df[sel])
    est, se = c["estimate"].to_numpy(), c["std_error"].to_numpy()
    out = c.copy()
    out["p_value"] = np.clip(p, 0.0, 1.0)
    out["lower"], out["upper"] = est - crit * se, est + crit * se
    out.attrs["adjust"] = adjust
    return out
