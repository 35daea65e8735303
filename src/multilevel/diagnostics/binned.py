"""Binned residuals of a model of a 0/1 response, as R's ``performance::binned_residuals``
(Gelman & Hill 2007, ch. 5.6).

The rows are sorted by the fitted probability (or by a predictor, ``term``) and cut into
``n_bins`` bins of about equal size (default round(√n)) at the sorted values' quantile
positions, as performance cuts them (intervals closed on the right; equal break values
merge bins). Per bin: the mean fitted value (or predictor) ``xbar``, the mean response
residual y − p̂ ``ybar``, the count ``n``, the range of the binned values, and ±1.96 ×
SD/√n bounds; a bin whose mean residual lies inside its bounds is ``inside``. Bins
without two rows (no SD) are left out, as performance's ``complete.cases``. About 95 % of
bins inside is what a well-calibrated model gives; performance's print calls a share
below 80 % a probably bad fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError, FamilyError

Z = 1.959963984540054   # qnorm(0.975)


def binned_residuals(fit, term: str | None = None, n_bins: int | None = None) -> pd.DataFrame:
    """Binned residuals of a fit of a 0/1 response (performance's ``binned_residuals``).

    Parameters
    ----------
    fit : FreqFit or BayesFit
        A ``bernoulli`` model, or ``binomial`` with one trial per row (GLMM, GLM or
        Bayesian; for a Bayesian fit the fitted value is the posterior mean probability).
    term : str, optional
        Bin by this numeric predictor (a data column) instead of the fitted values.
    n_bins : int, optional
        Number of bins; default round(√n).

    Returns
    -------
    DataFrame
        One row per bin: ``xbar``, ``ybar``, ``n``, ``x_lo``, ``x_hi``, ``se`` (the
        bounds' half-width 1.96 SD/√n, performance's ``se``), ``ci_low``, ``ci_high``
        (ybar ± 1.96 SD/√n) and ``inside`` (|ybar| ≤ se). ``attrs["share_inside"]`` is the
        share of bins inside (performance's ``resid_ok``).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("am ~ wt", "mtcars", family="bernoulli", method="ml")
    >>> b = ml.binned_residuals(m)
    >>> len(b), round(b.attrs["share_inside"], 3)
    (6, 0.667)
    """
    if not hasattr(fit, "design") or not hasattr(fit, "family"):
        raise DataError(f"binned_residuals() takes a fit from ml.fit, got {type(fit).__name__}.")
    if fit.family not in ("bernoulli", "binomial"):
        raise FamilyError(f"binned_residuals() is for models of a 0/1 response (bernoulli or binomial "
                          f"with one trial per row); this fit's family is {fit.family!r}.")
    y = np.asarray(fit.design.y, dtype=float)
    trials = getattr(fit.design.frame, "trials", None)
    if (trials is not None and np.any(np.asarray(trials) != 1)) or not np.all((y == 0) | (y == 1)):
        raise FamilyError("binned_residuals() is for a 0/1 response; a binomial count with more than "
                          "one trial per row has proportions to check: use "
                          "ml.check_overdispersion(fit) and fit.residuals(type='pearson').")
    fitted = fit.fitted()
    p = np.asarray(fitted["estimate"] if isinstance(fitted, pd.DataFrame) else fitted, dtype=float)
    if term is None:
        pred = p
    else:
        data = fit.design.frame.data
        if not isinstance(term, str) or term not in data.columns:
            raise DataError(f"binned_residuals: term={term!r} is not a column of the fitted data; "
                            f"columns: {list(data.columns)}.")
        if not pd.api.types.is_numeric_dtype(data[term]) or pd.api.types.is_bool_dtype(data[term]):
            raise DataError(f"binned_residuals: term={term!r} is not numeric; bins need a numeric "
                            "predictor (or leave term out to bin by the fitted values).")
        pred = data[term].to_numpy(dtype=float)
    n = len(pred)
    if n_bins is None:
        n_bins = int(round(np.sqrt(n)))
    elif isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise DataError(f"n_bins must be a positive integer, got {n_bins!r}.")
    n_bins = int(n_bins)
    resid = y - p
    # performance: breaks at the sorted values' positions floor(n k / n_bins), k = 1..n_bins−1
    # (1-based; position 0 is no value), unique, between -inf and +inf
    ordered = np.sort(pred)
    positions = np.floor(n * np.arange(1, n_bins) / n_bins).astype(int)
    inner = ordered[positions[positions >= 1] - 1]
    breaks = np.unique(np.concatenate([[-np.inf], inner, [np.inf]]))
    bins = np.searchsorted(breaks, pred, side="left")   # (breaks[k-1], breaks[k]] -> k
    rows = []
    for k in range(1, n_bins + 1):
        members = bins == k
        count = int(members.sum())
        if count < 2:   # no SD: performance's complete.cases drops the bin
            continue
        sd = float(np.std(resid[members], ddof=1))
        half = Z * sd / np.sqrt(count)
        ybar = float(resid[members].mean())
        rows.append({"xbar": float(pred[members].mean()), "ybar": ybar, "n": count,
                     "x_lo": float(pred[members].min()), "x_hi": float(pred[members].max()),
                     "se": half, "ci_low": ybar - half, "ci_high": ybar + half,
                     "inside": bool(abs(ybar) <= half)})
    table = pd.DataFrame(rows, columns=["xbar", "ybar", "n", "x_lo", "x_hi", "se", "ci_low", "ci_high",
                                        "inside"])
    table.attrs["share_inside"] = float(table["inside"].mean()) if len(table) else float("nan")
    table.attrs["term"] = term
    return table
