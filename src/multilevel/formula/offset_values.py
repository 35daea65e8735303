"""The values of ``offset(expr)`` terms on a data frame (their syntax: :mod:`multilevel.formula.offset`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError, FormulaError
from multilevel.formula.namespace import safe_environment
from multilevel.formula.parse import column_names
from multilevel.formula.transforms import design_matrices
from multilevel.formula.validate import check_scale


def evaluate_offset(offsets: tuple[str, ...], data: pd.DataFrame, what: str = "data") -> np.ndarray | None:
    """The sum of the offset expressions on the rows of ``data`` (None without offsets).

    Raises
    ------
    DataError
        When a column of an offset is missing from ``data`` or a value is not finite.
    """
    if not offsets:
        return None
    total = np.zeros(len(data))
    for expr in offsets:
        missing = [c for c in column_names(expr) if c not in data.columns]
        if missing:
            raise DataError(f"The {what} lack column(s) {missing} of the offset 'offset({expr})'; "
                            "add them (predictions of a model with an offset need its values).")
        logical = [c for c in column_names(expr) if pd.api.types.is_bool_dtype(data[c].dtype)]
        if logical:   # R's arithmetic reads TRUE/FALSE as 1/0; formulae would make a factor of them
            data = data.assign(**{c: data[c].astype(float) for c in logical})
        for column in column_names(expr):   # text would be coded as a factor: a column of ones
            dtype = data[column].dtype
            if not pd.api.types.is_numeric_dtype(dtype):
                raise DataError(f"Column {column!r} of the offset 'offset({expr})' has type {dtype}; "
                                "an offset must be numbers. Convert it, e.g. "
                                "pd.to_numeric(data[col]) or data[col].astype(float).")
        try:
            with np.errstate(divide="ignore", invalid="ignore"):  # reported below, by row count
                dm = design_matrices(f"0 + I({expr})", data, na_action="error", env=safe_environment())
            values = np.asarray(dm.common.design_matrix, dtype=float).reshape(len(data), -1)
        except Exception as exc:  # noqa: BLE001 - formulae raises bare errors
            raise FormulaError(f"Cannot evaluate the offset 'offset({expr})': {exc}") from None
        if values.shape[1] != 1:
            raise FormulaError(f"The offset 'offset({expr})' must give one number per row.")
        if not np.all(np.isfinite(values)):
            bad = int(np.sum(~np.isfinite(values)))
            raise DataError(f"The offset 'offset({expr})' is not finite in {bad} row(s) of the "
                            f"{what} (e.g. log of a zero exposure); fix or remove those rows.")
        check_scale(values, [f"offset({expr})"], "The offset")
        total += values[:, 0]
    return total
