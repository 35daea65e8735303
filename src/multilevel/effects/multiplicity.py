"""p-value and interval adjustments for families of contrasts, as emmeans does them."""

from __future__ import annotations

import numpy as np
import pandas as pd

ADJUSTMENTS = ("tukey", "bonferroni", "holm", "sidak", "none")


def _dist_sf(stat, df):
    from scipy import stats

    return np.where(np.isfinite(df), stats.t.sf(stat, np.where(np.isfinite(df), df, 1.0)), stats.norm.sf(stat))


def _dist_ppf(p, df):
    from scipy import stats

    return np.where(np.isfinite(df), stats.t.ppf(p, np.where(np.isfinite(df), df, 1.0)), stats.norm.ppf(p))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment (R's p.adjust(method = "holm"))."""
    order = np.argsort(p, kind="stable")
    m = p.size
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(adj, 1.0)
    return out


def adjust_table(c: pd.DataFrame, family: np.ndarray, n_means: np.ndarray, adjust: str,
                 ci: float) -> pd.DataFrame:
    """Adds two-sided ``p_value`` and ``lower``/``upper`` to a table of contrasts
    (``estimate``, ``std_error``, ``df``, ``statistic``), adjusted within each family.

    Tukey uses the studentized range of the family's number of means (emmeans'
    ``ptukey(√2·|t|, k, df)``); Holm's intervals are Bonferroni's, as emmeans gives them.
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
        elif adjust in ("bonferroni", "holm"):
            p[sel] = np.minimum(raw[sel] * m, 1.0) if adjust == "bonferroni" else holm(raw[sel])
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
