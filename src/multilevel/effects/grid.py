"""Data grids: marginaleffects' ``datagrid`` and emmeans' reference grid."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from multilevel.effects._engine import check_fit, fit_data
from multilevel.errors import DataError
from multilevel.formula.parse import column_names


def predictor_columns(fit, fixed_only: bool = False) -> list[str]:
    """Data columns the model's predictors use (response excluded), in formula order."""
    parsed = fit.design.spec.parsed
    response = set(column_names(parsed.response.text))
    text = parsed.fixed if fixed_only else parsed.text
    data = fit_data(fit)
    return [c for c in column_names(text) if c in data.columns and c not in response]


def group_columns(fit) -> list[str]:
    cols = []
    for bar in fit.design.spec.parsed.bars:
        cols += [v for v in bar.group_vars if v not in cols]
    return cols


def is_factor(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def typical(series: pd.Series):
    """marginaleffects' default for a variable not named: mean if numeric, else the mode
    (the first of the most frequent values in level order)."""
    if not is_factor(series):
        return float(series.mean())
    counts = series.value_counts(sort=False)
    return counts.index[int(np.argmax(counts.to_numpy()))]


def column_values(data: pd.DataFrame, name: str, values) -> list:
    """Values of column ``name`` as a list, checked against the levels of a factor."""
    if name not in data.columns:
        raise DataError(f"{name!r} is not a column of the model's data; "
                        f"columns: {list(data.columns)}.")
    col = data[name]
    if callable(values):   # marginaleffects' datagrid(x = mean): a function of the fitted column
        values = values(col)
    vals = list(values) if isinstance(values, (list, tuple, np.ndarray, pd.Series, pd.Index)) else [values]
    if not vals:
        raise DataError(f"{name}=[] gives no values; give a value or a list of values of {name!r}.")
    if isinstance(col.dtype, pd.CategoricalDtype):
        levels = list(col.cat.categories)
        strs = [str(v) for v in levels]
        out = []
        for v in vals:
            if v in levels:
                out.append(v)
            elif str(v) in strs:
                out.append(levels[strs.index(str(v))])
            else:
                raise DataError(f"{v!r} is not a level of {name!r}; levels: {levels}.")
        return out
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        wrong = [v for v in vals if isinstance(v, (bool, np.bool_))
                 or not isinstance(v, (int, float, np.integer, np.floating))]
        if wrong:
            raise DataError(f"{name!r} is numeric in the model's data; {wrong[0]!r} is not a number. "
                            f"Give numbers, e.g. {name}=[{float(col.min()):g}, {float(col.max()):g}].")
        bad = [v for v in vals if not np.isfinite(v)]
        if bad:   # a grid row at NaN or inf gives NaN means (or inf) without saying why
            raise DataError(f"{name}={bad[0]!r}: the values of {name!r} must be finite numbers, "
                            f"e.g. {name}=[{float(col.min()):g}, {float(col.max()):g}].")
    return vals


def as_model_dtypes(grid: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
    """Give grid columns the fit data's categories so the frozen design encodes them."""
    for name in grid.columns:
        if name in data.columns and isinstance(data[name].dtype, pd.CategoricalDtype):
            grid[name] = pd.Categorical(grid[name], categories=data[name].cat.categories,
                                        ordered=data[name].cat.ordered)
    return grid


def datagrid(fit, **at) -> pd.DataFrame:
    """A grid of predictor values, as marginaleffects' ``datagrid``.

    Every combination of the values given; every other predictor (grouping factors
    included) at its mean (numeric) or its most frequent level.

    Parameters
    ----------
    fit : FreqFit or BayesFit
    **at
        Column name -> a value or a list of values.

    Returns
    -------
    DataFrame, one row per combination.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> ml.datagrid(m, Days=[0, 9])
       Days Subject
    0     0     308
    1     9     308
    """
    check_fit(fit)
    data = fit_data(fit)
    names = predictor_columns(fit)
    for name in at:
        if name not in names:
            raise DataError(f"datagrid: {name!r} is not a predictor of {fit.formula!r}; "
                            f"predictors: {names}.")
    given = {k: column_values(data, k, v) for k, v in at.items()}
    rows = list(itertools.product(*given.values())) if given else [()]
    grid = pd.DataFrame(rows, columns=list(given))
    for name in names:
        if name not in given:
            grid[name] = [typical(data[name])] * len(grid)
    return as_model_dtypes(grid[names], data)


def reference_grid(fit, at: dict | None = None) -> pd.DataFrame:
    """emmeans' reference grid: every level of each factor predictor, numeric predictors
    at their means (or the values in ``at``), grouping factors left out (population level)."""
    data = fit_data(fit)
    at = dict(at or {})
    names = predictor_columns(fit, fixed_only=True)
    for name in at:
        if name not in names:
            raise DataError(f"at={{{name!r}: ...}}: not a fixed-effect predictor; predictors: {names}.")
    values = {}
    for name in names:
        if name in at:
            values[name] = column_values(data, name, at[name])
        elif is_factor(data[name]):
            col = data[name]
            values[name] = list(col.cat.categories) if isinstance(col.dtype, pd.CategoricalDtype) \
                else sorted(col.unique().tolist())
        else:
            values[name] = [float(data[name].mean())]
    grid = pd.DataFrame(list(itertools.product(*values.values())), columns=names)
    return as_model_dtypes(grid, data)
