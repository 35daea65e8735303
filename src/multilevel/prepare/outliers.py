"""Outlier flags by z-score and by the interquartile range, as a report.

Rows are never removed: whether a flagged value is an error, a rare but real
observation, or a sign that the model needs a heavier-tailed likelihood (``family="t"``)
is the analyst's call. The flags come back aligned with the data's index.

* z-score: ``|x − mean| / sd > z`` (sample SD, ``n − 1``);
* IQR (Tukey's fences): ``x < Q1 − k·IQR`` or ``x > Q3 + k·IQR`` (quartiles as R's
  ``quantile(type = 7)``, numpy's default).

With ``by=`` the statistics are computed within each group (a value can be ordinary
in the data but extreme for its subject).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.errors import DataError
from multilevel.prepare.missing import check_columns

METHODS = ("zscore", "iqr")


@dataclass(frozen=True)
class OutlierReport:
    """Flags and a summary; the data are not changed.

    Attributes
    ----------
    flags : DataFrame
        Boolean, indexed like the data: one column per (column, method), named
        ``"<column>:zscore"`` and ``"<column>:iqr"``. Missing values are never flagged.
    table : DataFrame
        One row per (column, method): ``n_flagged``, ``lower`` and ``upper`` fences (NaN
        with ``by=``, where they differ by group), ``rows`` (flagged index labels).
    notes : list of str
    """

    flags: pd.DataFrame
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def any(self) -> pd.Series:
        """True for rows flagged by any column and method."""
        return self.flags.any(axis=1)

    def __str__(self) -> str:
        cols = ["n_flagged", "lower", "upper"]
        lines = ["Outlier flags (no rows removed):", self.table[cols].to_string()]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def flag_outliers(data: pd.DataFrame, columns=None, methods=METHODS, *, z: float = 3.0,
                  k: float = 1.5, by: str | None = None) -> OutlierReport:
    """Flag extreme values by z-score and/or Tukey's IQR fences, without removing rows.

    Parameters
    ----------
    data : DataFrame
    columns : str or list of str, optional
        Numeric columns; default: every numeric column (booleans excluded).
    methods : str or sequence of {"zscore", "iqr"}
    z : float
        z-score threshold (3 by default).
    k : float
        Fence multiplier of the IQR (1.5 by default; 3 for "far out").
    by : str, optional
        Compute the statistics within the groups of this column.

    Returns
    -------
    OutlierReport

    Examples
    --------
    >>> import pandas as pd
    >>> import multilevel as ml
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 2.5, 3.0, 2.0, 40.0]})
    >>> report = ml.prepare.flag_outliers(df, "x", methods="iqr")
    >>> report.flags["x:iqr"].tolist()
    [False, False, False, False, False, True]
    """
    methods = [methods] if isinstance(methods, str) else list(methods)
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise DataError(f"methods={bad or methods!r}; use one or both of {METHODS}.")
    if z <= 0 or k <= 0:
        raise DataError(f"z and k must be positive, got z={z}, k={k}.")
    chosen = check_columns(data, columns, "flag_outliers")
    if columns is None:
        chosen = [c for c in chosen if _numeric(data[c]) and c != by]
    not_numeric = [c for c in chosen if not _numeric(data[c])]
    if not_numeric:
        raise DataError(f"flag_outliers needs numeric columns; {not_numeric} are not.")
    if by is not None:
        check_columns(data, [by], "flag_outliers")
        if data[by].isna().any():
            raise DataError(f"by column {by!r} has missing values; fill them (unknown_level) first.")
    flags, rows, notes = {}, [], []
    codes = np.zeros(len(data), dtype=int) if by is None else pd.factorize(data[by])[0]
    for col in chosen:
        x = data[col].to_numpy(dtype=float, na_value=np.nan)
        for method in methods:
            flagged = np.zeros(len(data), dtype=bool)
            for g in np.unique(codes):
                rows_g = codes == g
                lo, hi = _fences(x[rows_g & ~np.isnan(x)], method, z, k)
                flagged[rows_g] = (x[rows_g] < lo) | (x[rows_g] > hi)   # NaN compares False
            flags[f"{col}:{method}"] = flagged
            if by is not None:
                lo, hi = np.nan, np.nan
            rows.append((col, method, int(flagged.sum()), lo, hi, list(data.index[flagged])))
    table = pd.DataFrame(rows, columns=["column", "method", "n_flagged", "lower", "upper", "rows"])
    table = table.set_index(["column", "method"])
    if by is not None:
        notes.append(f"statistics within groups of {by!r}: fences differ by group")
    if "zscore" in methods:
        notes.append("z-scores use the mean and SD that the outliers themselves inflate; "
                     "the IQR fences are robust to them")
    return OutlierReport(flags=pd.DataFrame(flags, index=data.index), table=table, notes=notes)


def _numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _fences(x: np.ndarray, method: str, z: float, k: float) -> tuple[float, float]:
    if x.size < 2:
        return -np.inf, np.inf      # one value: nothing to compare it with
    if method == "zscore":
        mean, sd = float(x.mean()), float(x.std(ddof=1))
        if sd == 0:
            return -np.inf, np.inf
        return mean - z * sd, mean + z * sd
    q1, q3 = np.percentile(x, [25, 75])
    iqr = q3 - q1
    return float(q1 - k * iqr), float(q3 + k * iqr)
