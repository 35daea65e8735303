"""p-value and interval adjustments for families of contrasts, as emmeans does them."""

from __future__ import annotations

import numpy as np
import pandas as pd

ADJUSTMENTS = ("tukey", "dunnettx", "mvt", "scheffe", "bonferroni", "holm", "fdr", "BH", "sidak", "none")
# adjustments that need the correlation of the family's estimates (adjust_table's cov)
JOINT = frozenset({"mvt", "scheffe"})
# quasi-random directions of the spherical-radial integration (max_t_survival): a
# power of two for the Sobol sequence; p-values to ~2e-5 (1e-4 with 2**14), more precisely than
# mvtnorm's default (abseps 1e-3) that emmeans uses
MVT_DIRECTIONS = 2**17
MVT_SEED = 20261204


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


def mvt_df(df: np.ndarray) -> np.ndarray:
    """The whole degrees of freedom emmeans gives mvtnorm (its ``.fix.df``): at least 1,
    rounded down unless within 0.25 of the next integer; infinite or above 9999 is the
    normal distribution (``inf`` here)."""
    df = np.asarray(df, dtype=float)
    whole = np.floor(np.maximum(df, 1.0) + 0.25)
    return np.where(~np.isfinite(df) | (df > 9999), np.inf, whole)


def _factor(corr: np.ndarray) -> np.ndarray:
    """A with A A' = corr and one column per positive eigenvalue (the family's rank):
    pairwise comparisons of k means have k − 1."""
    values, vectors = np.linalg.eigh((corr + corr.T) / 2)
    keep = values > 1e-8 * max(values.max(), 1e-300)
    return vectors[:, keep] * np.sqrt(values[keep])


def max_t_survival(corr: np.ndarray, df: float):
    """P(max_j |T_j| > x) for T multivariate t with ``df`` degrees of freedom (normal when
    infinite) and correlation ``corr`` (possibly singular), as a function of x.

    The spherical-radial method (Genz and Bretz 2009, ch. 4): with T = A z / w, a direction
    s = z / |z| leaves max |T| = m(s) · R where R² / k is F(k, df) distributed (k = rank), so
    P(max |T| > x) = E_s F.sf((x / m(s))² / k) — exact along each direction, averaged over
    :data:`MVT_DIRECTIONS` scrambled-Sobol directions (fixed seed: the same numbers each
    call). Accurate to ~2e-5; emmeans' mvtnorm::pmvt is accurate to its abseps, 1e-3.

    Examples
    --------
    >>> sf = max_t_survival(np.eye(1), np.inf)   # one contrast: the two-sided normal tail
    >>> round(float(sf(1.959964)[0]), 6)
    0.05
    """
    from scipy import stats
    from scipy.stats import qmc

    A = _factor(corr)
    k = A.shape[1]
    z = stats.norm.ppf(qmc.Sobol(d=k, scramble=True, seed=MVT_SEED).random(MVT_DIRECTIONS))
    m = np.abs(z @ A.T).max(axis=1) / np.linalg.norm(z, axis=1)

    def sf(x):
        r2 = (np.atleast_1d(np.asarray(x, dtype=float))[:, None] / m) ** 2
        tail = stats.f.sf(r2 / k, k, df) if np.isfinite(df) else stats.chi2.sf(r2, k)
        return tail.mean(axis=1)

    return sf


def max_t_quantile(sf, p: float) -> float:
    """x with P(max |T| <= x) = p, for the survival function of :func:`max_t_survival`."""
    from scipy import optimize

    hi = 2.0
    while sf(hi)[0] > 1 - p:
        hi *= 2
    return float(optimize.brentq(lambda x: sf(x)[0] - (1 - p), 0.0, hi, xtol=1e-10))


def _mvt(t, df, corr, ci):
    """emmeans' "mvt": p-values P(max |T| > |t|) and the critical value of the intervals
    from the family's multivariate t, with each row's whole df (:func:`mvt_df`)."""
    whole = mvt_df(df)
    p, crit = np.empty(len(t)), np.empty(len(t))
    for d in np.unique(whole):
        rows = whole == d
        sf = max_t_survival(corr, d)
        p[rows] = sf(t[rows])
        crit[rows] = max_t_quantile(sf, ci)
    return p, crit


def _scheffe(t, df, r, ci):
    """Scheffé's p-values and critical value: F with the family's rank r, t² / r."""
    from scipy import stats

    finite = np.isfinite(df)
    dfs = np.where(finite, df, 1.0)
    p = np.where(finite, stats.f.sf(t**2 / r, r, dfs), stats.chi2.sf(t**2, r))
    crit = np.sqrt(np.where(finite, r * stats.f.ppf(ci, r, dfs), stats.chi2.ppf(ci, r)))
    return p, crit


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
                 ci: float, cov: np.ndarray | None = None,
                 ranks: np.ndarray | None = None) -> pd.DataFrame:
    """Adds two-sided ``p_value`` and ``lower``/``upper`` to a table of contrasts
    (``estimate``, ``std_error``, ``df``, ``statistic``), adjusted within each family.

    Tukey uses the studentized range of the family's number of means (emmeans'
    ``ptukey(√2·|t|, k, df)``), "dunnettx" emmeans' approximation for comparisons with a
    control; Holm's and the false discovery rate's ("fdr", "BH") intervals are Bonferroni's,
    as emmeans gives them (neither has intervals of its own). "mvt" (the exact max-|t|
    distribution of the family, :func:`max_t_survival`) and "scheffe" (F with the family's
    rank) need ``cov``, the covariance of the estimates; rows without a finite SE (not
    estimable) are left out of their family. ``ranks``: Scheffé's rank per family
    (emmeans': that of the family's linear functions, non-estimable ones included);
    default the rank of the estimable rows' correlation.
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
        elif adjust in JOINT:
            sel &= np.isfinite(c["std_error"].to_numpy())
            if sel.any():
                sd = np.sqrt(np.diag(cov)[sel])
                corr = cov[np.ix_(sel, sel)] / np.outer(sd, sd)
                if adjust == "mvt":
                    p[sel], crit[sel] = _mvt(t[sel], df[sel], corr, ci)
                else:
                    r = _factor(corr).shape[1] if ranks is None else int(ranks[f])
                    p[sel], crit[sel] = _scheffe(t[sel], df[sel], r, ci)
        elif adjust == "sidak":
            p[sel] = 1 - (1 - raw[sel]) ** m
            crit[sel] = _dist_ppf(0.5 + ci ** (1 / m) / 2, df[sel])
    est, se = c["estimate"].to_numpy(), c["std_error"].to_numpy()
    out = c.copy()
    out["p_value"] = np.clip(p, 0.0, 1.0)
    out["lower"], out["upper"] = est - crit * se, est + crit * se
    out.attrs["adjust"] = adjust
    return out
