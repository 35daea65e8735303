"""Checks on ``newdata`` shared by the prediction paths."""

from __future__ import annotations

import pandas as pd

from multilevel.errors import DataError
from multilevel.formula.parse import column_names


def check_newdata(design, newdata) -> None:
    """Refuse what would otherwise give silent NaN or unrelated errors: a non-DataFrame,
    and missing values in the columns the predictors use (the response may be absent or
    missing; lme4 returns NA for such rows, we say which rows to drop or impute)."""
    if not isinstance(newdata, pd.DataFrame):
        raise DataError(f"newdata must be a pandas DataFrame, got {type(newdata).__name__}; "
                        "e.g. pd.DataFrame({'Days': [0, 5], 'Subject': ['308', '308']}).")
    parsed = design.spec.parsed
    response = set(column_names(parsed.response.text))
    used = [c for c in column_names(parsed.text) if c in newdata.columns and c not in response]
    missing = newdata[used].isna()
    if missing.to_numpy().any():
        rows = list(newdata.index[missing.any(axis=1).to_numpy()])
        cols = [c for c in used if missing[c].any()]
        raise DataError(f"newdata has missing values in column(s) {cols} (rows {rows[:5]}"
                        f"{' ...' if len(rows) > 5 else ''}); drop or impute those rows first.")
