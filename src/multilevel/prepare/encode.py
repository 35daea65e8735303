"""Encodings of categories with many levels: out-of-fold target encoding with smoothing,
and frequency encoding.

Target encoding replaces a category by the mean response of its rows. Computed on the
same rows it encodes, it leaks the response: a category with 3 rows is encoded by
their own mean, so even a category unrelated to the response "predicts" it. Here each
row is encoded from the *other* folds only (K seeded folds; whole groups per fold with
``groups=``), and the mean is shrunk towards the overall mean with weight
``smoothing`` (an m-estimate: ``(n_c·ȳ_c + m·ȳ) / (n_c + m)``, the posterior mean of a
normal model with ``m`` pseudo-observations at ``ȳ``).

In a multilevel model the usual alternative is a random intercept for the category,
which does the same shrinkage with an estimated ``m``; encodings suit many-level
categories used as predictors of a different grouping, or as inputs to other models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from multilevel.errors import DataError, check_seed
from multilevel.prepare.missing import check_columns
from multilevel.prepare.report import PrepReport, PrepResult


@dataclass(frozen=True)
class CategoryEncoder:
    """A fitted category → number mapping for new data.

    Attributes
    ----------
    column : str
        The category column it reads.
    output : str
        The name of the encoded column.
    mapping : Series
        Category → value (fitted on all rows).
    default : float
        Value for categories not seen when fitting (the overall mean for target
        encoding, 0 for frequency encoding).
    """

    column: str
    output: str
    mapping: pd.Series
    default: float

    def transform(self, newdata: pd.DataFrame) -> pd.Series:
        """Encode the ``column`` of new rows; unseen categories get ``default``."""
        check_columns(newdata, [self.column], "transform")
        values = newdata[self.column].map(self.mapping).astype(float)
        unseen = values.isna() & newdata[self.column].notna()
        values[unseen] = self.default
        return values.rename(self.output)


def make_folds(n: int, folds: int, seed: int | None, groups=None) -> np.ndarray:
    """Fold number per row: a seeded random split, or whole groups per fold."""
    rng = np.random.default_rng(check_seed(seed))
    if groups is None:
        out = np.empty(n, dtype=int)
        out[rng.permutation(n)] = np.arange(n) % folds
        return out
    codes, uniques = pd.factorize(pd.Series(groups), use_na_sentinel=False)
    if len(uniques) < folds:
        raise DataError(f"{len(uniques)} groups cannot fill {folds} folds; use folds <= {len(uniques)}.")
    group_fold = np.empty(len(uniques), dtype=int)
    group_fold[rng.permutation(len(uniques))] = np.arange(len(uniques)) % folds
    return group_fold[codes]


def target_encode(data: pd.DataFrame, column: str, target: str, *, folds: int = 5,
                  smoothing: float = 10.0, seed: int | None = 0, groups: str | None = None,
                  name: str | None = None) -> PrepResult:
    """Out-of-fold target encoding with smoothing (no leak of the response).

    Parameters
    ----------
    data : DataFrame
    column : str
        The category to encode (no missing values: use ``unknown_level`` first).
    target : str
        The numeric (or 0/1) response.
    folds : int
        K: each row is encoded from the other K − 1 folds (at least 2).
    smoothing : float
        m, the weight of the overall mean (pseudo-observations); 0 gives raw fold means.
    seed : int or None
        Seeds the fold assignment.
    groups : str, optional
        A column whose groups stay whole within a fold (rows of one subject are not
        independent; splitting them would leak through the subject).
    name : str, optional
        The new column (default ``"<column>_te"``).

    Returns
    -------
    PrepResult
        ``data`` with the encoded column added; ``report.table`` per category: ``n``,
        ``target_mean`` and ``encoding`` (fitted on all rows, the mapping for new data);
        ``report.encoder.transform(newdata)`` applies it. Rows with a missing target are
        encoded with the all-rows mapping (they took no part in any fold).

    Examples
    --------
    >>> import multilevel as ml
    >>> data = ml.datasets.load("sleepstudy")
    >>> out, report = ml.prepare.target_encode(data, "Subject", "Reaction", folds=5, seed=1)
    >>> bool(out["Subject_te"].notna().all()), report.encoder.output
    (True, 'Subject_te')
    """
    check_columns(data, [column, target] + ([groups] if groups else []), "target_encode")
    output = name or f"{column}_te"
    if output in data.columns:
        raise DataError(f"Column {output!r} already exists; pass name= for the encoded column.")
    if data[column].isna().any():
        raise DataError(f"Column {column!r} has missing categories; give them a level with "
                        "unknown_level() first.")
    y = _numeric_target(data[target], target)
    if not isinstance(folds, (int, np.integer)) or folds < 2:
        raise DataError(f"folds must be an integer >= 2, got {folds!r}.")
    if smoothing < 0:
        raise DataError(f"smoothing must be >= 0, got {smoothing}.")
    categories = data[column].to_numpy()
    fold = make_folds(len(data), int(folds), seed, None if groups is None else data[groups])
    observed = ~np.isnan(y)
    encoded = np.full(len(data), np.nan)
    for f in range(int(folds)):
        train = (fold != f) & observed
        if not train.any():
            raise DataError(f"Fold {f} leaves no rows with an observed {target!r} to fit on.")
        mapping, prior = _smoothed_means(categories[train], y[train], smoothing)
        rows = (fold == f) & observed
        encoded[rows] = pd.Series(categories[rows]).map(mapping).fillna(prior).to_numpy(float)
    full, prior = _smoothed_means(categories[observed], y[observed], smoothing)
    encoded[~observed] = pd.Series(categories[~observed]).map(full).fillna(prior).to_numpy(float)
    out = data.copy()
    out[output] = encoded
    stats = pd.DataFrame({"category": categories[observed], "y": y[observed]}).groupby(
        "category", sort=True)["y"].agg(["size", "mean"])
    table = pd.DataFrame({"n": stats["size"], "target_mean": stats["mean"],
                          "encoding": full.reindex(stats.index)})
    table.index.name = column
    notes = [f"out-of-fold: {folds} folds (seed {seed}){' with whole groups of ' + repr(groups) if groups else ''}"
             f", smoothing m = {smoothing:g} towards the overall mean {prior:.6g}",
             f"new column {output!r}; report.encoder.transform(newdata) encodes new rows"]
    if (~observed).any():
        notes.append(f"{int((~observed).sum())} row(s) with missing {target!r} encoded with the all-rows mapping")
    encoder = CategoryEncoder(column=column, output=output, mapping=full, default=prior)
    return PrepResult(out, PrepReport("target_encode", table, notes, encoder))


def frequency_encode(data: pd.DataFrame, columns, *, normalize: bool = True) -> PrepResult:
    """Replace categories by how often they occur (share of rows, or counts).

    Parameters
    ----------
    data : DataFrame
    columns : str or list of str
    normalize : bool
        Shares (True) or counts (False).

    Returns
    -------
    PrepResult
        ``data`` with ``<column>_freq`` added per column; ``report.table`` indexed by
        (column, category) with ``count`` and ``share``. Missing categories stay missing
        (they are not counted); ``report.encoder`` is the encoder of the last column.

    Examples
    --------
    >>> import pandas as pd
    >>> import multilevel as ml
    >>> out, report = ml.prepare.frequency_encode(pd.DataFrame({"g": ["a", "a", "b", "a"]}), "g")
    >>> out["g_freq"].tolist()
    [0.75, 0.75, 0.25, 0.75]
    """
    chosen = check_columns(data, columns, "frequency_encode")
    out = data.copy()
    tables, notes, encoder = [], [], None
    for col in chosen:
        output = f"{col}_freq"
        if output in data.columns:
            raise DataError(f"Column {output!r} already exists; rename it before encoding {col!r}.")
        counts = data[col].value_counts(dropna=True)
        share = counts / counts.sum()
        values = share if normalize else counts.astype(float)
        out[output] = data[col].map(values).astype(float)
        tables.append(pd.DataFrame({"column": col, "category": counts.index, "count": counts.to_numpy(),
                                    "share": share.to_numpy()}))
        n_missing = int(data[col].isna().sum())
        if n_missing:
            notes.append(f"{n_missing} missing value(s) of {col!r} left missing in {output!r}")
        encoder = CategoryEncoder(column=col, output=output, mapping=values, default=0.0)
    table = pd.concat(tables).set_index(["column", "category"])
    notes.append(f"new column(s): {', '.join(c + '_freq' for c in chosen)} "
                 f"({'shares' if normalize else 'counts'})")
    return PrepResult(out, PrepReport("frequency_encode", table, notes, encoder))


def _numeric_target(s: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float).to_numpy()
    if not pd.api.types.is_numeric_dtype(s):
        raise DataError(f"target {name!r} must be numeric or 0/1; it has dtype {s.dtype}.")
    y = s.to_numpy(dtype=float, na_value=np.nan)
    if np.isinf(y).any():  # the encoded means would be inf or NaN
        raise DataError(f"target {name!r} has {int(np.isinf(y).sum())} infinite value(s); remove "
                        "or fix them before encoding.")
    return y


def _smoothed_means(categories: np.ndarray, y: np.ndarray, m: float) -> tuple[pd.Series, float]:
    prior = float(y.mean())
    grouped = pd.Series(y).groupby(categories).agg(["sum", "size"])
    return (grouped["sum"] + m * prior) / (grouped["size"] + m), prior
