"""Reading the CSVs of tests/reference as R's make_*.R scripts read them (read_data.R)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def r_factor(values: pd.Series) -> pd.Categorical:
    """R's fac() of read_data.R: numeric levels in numeric order (whole numbers written
    without a decimal point), else C-locale order; missing values stay missing."""
    if pd.api.types.is_numeric_dtype(values):
        def text(v):
            return str(int(v)) if float(v).is_integer() else str(v)

        levels = [text(v) for v in sorted(values.dropna().unique())]
        return pd.Categorical(values.map(lambda v: v if pd.isna(v) else text(v)), categories=levels)
    return pd.Categorical(values, categories=sorted(values.dropna().astype(str).unique()))


def csv_with_factors(path: str | Path, factors=()) -> pd.DataFrame:
    """The CSV at ``path`` with the columns ``factors`` made factors as R's fac() makes them."""
    data = pd.read_csv(path)
    for column in factors:
        data[column] = r_factor(data[column])
    return data
