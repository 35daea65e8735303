"""Missing values: mean/median imputation, forward fill within groups, an explicit
"unknown" level for categories. Each returns a copy of the data and a report of every
value it filled; nothing is dropped.

Imputing with a single value shrinks the variance of the column and, with a
response, biases slopes towards zero; ``indicator=True`` keeps the information that a
value was missing as a 0/1 column that the model can use.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from multilevel.errors import DataError
from multilevel.prepare.report import PrepReport, PrepResult

STRATEGIES = ("mean", "median")
POSITION = "__multilevel_row_position__"   # temporary sort key


def check_columns(data, columns, what: str) -> list[str]:
    """Validate the data frame and the named columns (None → all columns)."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{what} needs a pandas DataFrame, got {type(data).__name__}.")
    if columns is None:
        return list(data.columns)
    columns = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DataError(f"{what}: column(s) {missing} are not in the data; available: {list(data.columns)}.")
    return columns


def impute(data: pd.DataFrame, columns=None, strategy: str = "mean", *, indicator: bool = False) -> PrepResult:
    """Fill missing numbers with the column's mean or median.

    Parameters
    ----------
    data : DataFrame
    columns : str or list of str, optional
        Numeric columns to fill; default: every numeric column with a missing value.
    strategy : {"mean", "median"}
    indicator : bool
        Add a 0/1 column ``<column>_missing`` for each filled column.

    Returns
    -------
    PrepResult
        ``data`` (a copy) and ``report`` with one row per column: ``strategy``, ``value``,
        ``n_filled``, ``rows`` (index labels that were filled).

    Examples
    --------
    >>> import pandas as pd
    >>> import multilevel as ml
    >>> df = pd.DataFrame({"x": [1.0, None, 3.0], "g": ["a", "b", None]})
    >>> data, report = ml.prepare.impute(df, strategy="median")
    >>> data["x"].tolist(), int(report.table.loc["x", "n_filled"])
    ([1.0, 2.0, 3.0], 1)
    """
    if strategy not in STRATEGIES:
        raise DataError(f"strategy={strategy!r}; use one of {STRATEGIES}.")
    chosen = check_columns(data, columns, "impute")
    if columns is None:
        chosen = [c for c in chosen if pd.api.types.is_numeric_dtype(data[c]) and data[c].isna().any()]
    not_numeric = [c for c in chosen if not pd.api.types.is_numeric_dtype(data[c])
                   or pd.api.types.is_bool_dtype(data[c])]
    if not_numeric:
        raise DataError(
            f"impute fills numbers; column(s) {not_numeric} are not numeric. Use "
            "unknown_level() for categories."
        )
    out = data.copy()
    rows = []
    for col in chosen:
        missing = out[col].isna()
        if missing.all():
            raise DataError(f"Column {col!r} has no observed values to compute a {strategy} from.")
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # inf - inf: checked just below
            value = float(getattr(out[col], strategy)())
        if not np.isfinite(value):  # an inf in the column, or a sum that overflowed
            observed = out.loc[~missing, col].to_numpy(dtype=float)
            n_inf = int(np.isinf(observed).sum())
            raise DataError(
                f"Column {col!r}: its {strategy} is {value}, not a number to fill missing values "
                f"with ({n_inf} infinite value(s); otherwise the values are too large to add up). "
                "Remove or fix the infinite values, or rescale the column, before imputing."
            )
        if missing.any() and pd.api.types.is_integer_dtype(out[col].dtype):
            out[col] = out[col].astype(float)    # a mean is not an integer
        out.loc[missing, col] = value
        if indicator:
            out[f"{col}_missing"] = missing.astype(int)
        rows.append((col, strategy, value, int(missing.sum()), list(data.index[missing])))
    table = pd.DataFrame(rows, columns=["column", "strategy", "value", "n_filled", "rows"]).set_index("column")
    notes = [f"indicator columns added: {', '.join(c + '_missing' for c in chosen)}"] if indicator and chosen else []
    if not chosen:
        notes.append("no numeric column had missing values; nothing changed")
    return PrepResult(out, PrepReport("impute", table, notes))


def fill_forward(data: pd.DataFrame, columns, group: str, order: str | None = None) -> PrepResult:
    """Carry the last observed value forward within each group (ordered data: panels, visits).

    Parameters
    ----------
    data : DataFrame
    columns : str or list of str
        Columns to fill.
    group : str
        Values are never carried from one group into another.
    order : str, optional
        Column that orders rows within a group (time, visit); default: the row order.

    Returns
    -------
    PrepResult
        ``data`` in its original row order; the report gives per column ``n_filled`` and
        ``n_left`` (values still missing because nothing was observed before them in
        their group) and ``rows_left``.

    Examples
    --------
    >>> import pandas as pd
    >>> import multilevel as ml
    >>> df = pd.DataFrame({"id": [1, 1, 2, 2], "t": [1, 2, 1, 2], "x": [5.0, None, None, 7.0]})
    >>> data, report = ml.prepare.fill_forward(df, "x", group="id", order="t")
    >>> data["x"].tolist()
    [5.0, 5.0, nan, 7.0]
    """
    chosen = check_columns(data, columns, "fill_forward")
    check_columns(data, [group] + ([order] if order is not None else []), "fill_forward")
    if data[group].isna().any():
        raise DataError(f"group column {group!r} has missing values; fill or drop them first.")
    if order is not None and data[order].isna().any():
        raise DataError(f"order column {order!r} has missing values; rows cannot be ordered.")
    if order is not None and data.duplicated([group, order]).any():
        dup = data.loc[data.duplicated([group, order], keep=False), [group, order]].drop_duplicates()
        raise DataError(
            f"{len(dup)} ({group}, {order}) pair(s) occur more than once (e.g. {dup.iloc[0].tolist()}); "
            "the order within a group is ambiguous."
        )
    positions = np.arange(len(data))
    sort_keys = [group] + ([order] if order is not None else [])
    ordered = data.assign(**{POSITION: positions}).sort_values(sort_keys + [POSITION], kind="stable")
    filled = ordered.groupby(group, sort=False)[chosen].ffill()
    out = data.copy()
    rows = []
    for col in chosen:
        new = filled[col].copy()
        new.index = ordered[POSITION].to_numpy()
        new = new.sort_index()          # back to the original row order, dtype kept
        before, after = data[col].isna().to_numpy(), new.isna().to_numpy()
        out[col] = new.array
        rows.append((col, int((before & ~after).sum()), int(after.sum()), list(data.index[after])))
    table = pd.DataFrame(rows, columns=["column", "n_filled", "n_left", "rows_left"]).set_index("column")
    notes = []
    if table["n_left"].any():
        notes.append("values before a group's first observation stay missing (nothing to carry forward)")
    return PrepResult(out, PrepReport("fill_forward", table, notes))


def unknown_level(data: pd.DataFrame, columns=None, label: str = "unknown") -> PrepResult:
    """Replace missing categories by an explicit level, so that rows are kept and the
    model estimates an effect for "missing".

    Parameters
    ----------
    data : DataFrame
    columns : str or list of str, optional
        Categorical or text columns; default: every such column with a missing value.
    label : str
        The new level; refused if a column already uses it.

    Returns
    -------
    PrepResult
        The report has one row per column: ``n_filled`` and ``rows``.

    Examples
    --------
    >>> import pandas as pd
    >>> import multilevel as ml
    >>> df = pd.DataFrame({"g": ["a", None, "b"]})
    >>> ml.prepare.unknown_level(df).data["g"].tolist()
    ['a', 'unknown', 'b']
    """
    chosen = check_columns(data, columns, "unknown_level")

    def categorical(col):
        s = data[col]
        return isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(s) \
            or pd.api.types.is_string_dtype(s) or pd.api.types.is_bool_dtype(s)

    if columns is None:
        chosen = [c for c in chosen if categorical(c) and data[c].isna().any()]
    numeric = [c for c in chosen if not categorical(c)]
    if numeric:
        raise DataError(f"unknown_level is for categories; column(s) {numeric} are numeric. Use impute().")
    out = data.copy()
    rows = []
    for col in chosen:
        s = out[col]
        present = s.dropna().astype(str).unique()
        if label in present:
            raise DataError(f"Column {col!r} already has a level {label!r}; choose another label=.")
        missing = s.isna()
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.cat.add_categories([label])
        else:
            s = s.astype(object)
        s[missing] = label
        out[col] = s
        rows.append((col, int(missing.sum()), list(data.index[missing])))
    table = pd.DataFrame(rows, columns=["column", "n_filled", "rows"]).set_index("column")
    notes = [] if chosen else ["no categorical column had missing values; nothing changed"]
    return PrepResult(out, PrepReport("unknown_level", table, notes))
