"""Checks on ``newdata`` shared by the prediction paths, and lme4's ``na.action`` for
predictions (:func:`predictable_rows`, :func:`pad_rows`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError, DataWarning, warn
from multilevel.formula.parse import column_names

#: ``na_action`` of the predict methods, as lme4's ``predict.merMod(na.action=)``: rows with a
#: missing predictor get NaN ("pass", lme4's default, and "exclude", the same for new
#: data), are left out ("omit") or refused ("fail").
NA_ACTIONS = ("pass", "exclude", "omit", "fail")


def check_newdata(design, newdata) -> None:
    """Refuse what would otherwise give silent NaN or unrelated errors: a non-DataFrame,
    and missing values in the columns the predictors use (the response may be absent or
    missing). The verbs that average over rows (emmeans, slopes) and draw new data call
    this; predictions of single rows follow lme4's ``na.action`` (:func:`predictable_rows`)."""
    _check_frame(design, newdata)
    used = _used_columns(design, newdata)
    missing = newdata[used].isna()
    if missing.to_numpy().any():
        rows = list(newdata.index[missing.any(axis=1).to_numpy()])
        cols = [c for c in used if missing[c].any()]
        raise DataError(f"newdata has missing values in column(s) {cols} (rows {rows[:5]}"
                        f"{' ...' if len(rows) > 5 else ''}); drop or impute those rows first.")


def predictable_rows(design, newdata, new_groups: str, na_action: str) -> np.ndarray | None:
    """The rows of ``newdata`` that can be predicted, as lme4's ``predict.merMod`` decides.

    A row with a missing predictor value cannot: with ``na_action`` "pass" or "exclude"
    its prediction is NaN, with "omit" it is left out (a :class:`DataWarning` says how many
    rows either way), with "fail" the call is refused. A missing grouping value is an
    unseen level: at the population mean with ``new_groups="population"`` (lme4's
    ``allow.new.levels = TRUE``), refused otherwise, as lme4 refuses it.

    Returns
    -------
    None when every row can be predicted, else a boolean mask of those that can.
    """
    if na_action not in NA_ACTIONS:
        raise DataError(f"na_action={na_action!r} is not valid; use one of {NA_ACTIONS} "
                        "(lme4's na.pass, na.exclude, na.omit, na.fail).")
    _check_frame(design, newdata)
    groups_only = _group_only_columns(design, newdata)
    missing_groups = [c for c in groups_only if newdata[c].isna().any()]
    if missing_groups and new_groups != "population":
        rows = list(newdata.index[newdata[missing_groups].isna().any(axis=1).to_numpy()])
        raise DataError(
            f"newdata has missing values in grouping column(s) {missing_groups} (rows "
            f"{_rows_text(rows)}); a missing group is a new level, predicted at the population "
            f"mean only with new_groups='population' (lme4's allow.new.levels = TRUE), not with "
            f"new_groups={new_groups!r}. Fill or drop those rows, or use new_groups='population'.")
    used = [c for c in _used_columns(design, newdata) if c not in groups_only]
    missing = newdata[used].isna()
    lacking = missing.any(axis=1).to_numpy()
    if not lacking.any():
        return None
    rows = list(newdata.index[lacking])
    cols = [c for c in used if missing[c].any()]
    if na_action == "fail":
        raise DataError(f"newdata has missing values in column(s) {cols} (rows {_rows_text(rows)}); "
                        "drop or impute those rows, or pass na_action='pass' (NaN for those rows) "
                        "or 'omit' (left out).")
    done = "left out" if na_action == "omit" else "predicted as NaN"
    warn(f"{len(rows)} of {len(newdata)} rows of newdata have a missing value in {cols} "
         f"(rows {_rows_text(rows)}) and are {done} (na_action={na_action!r}).", DataWarning)
    return ~lacking


def pad_rows(table: pd.DataFrame, index: pd.Index, keep: np.ndarray | None,
             na_action: str) -> pd.DataFrame:
    """``table`` (one row per kept row of new data) on ``index``: NaN rows where ``keep`` is
    False ("pass", "exclude"), or only the kept rows ("omit")."""
    if keep is None:
        return table
    if na_action == "omit":
        return table.set_axis(index[keep])
    values = np.full((len(index), table.shape[1]), np.nan)
    values[keep] = table.to_numpy(dtype=float)
    return pd.DataFrame(values, index=index, columns=table.columns)


def _check_frame(design, newdata) -> None:
    if not isinstance(newdata, pd.DataFrame):
        raise DataError(f"newdata must be a pandas DataFrame, got {type(newdata).__name__}; "
                        "e.g. pd.DataFrame({'Days': [0, 5], 'Subject': ['308', '308']}).")
    names = set(column_names(design.spec.parsed.text))
    twice = sorted({c for c in newdata.columns[newdata.columns.duplicated()] if c in names})
    if twice:
        raise DataError(f"newdata has more than one column named {twice}; keep one of each.")


def _used_columns(design, newdata: pd.DataFrame) -> list[str]:
    parsed = design.spec.parsed
    response = set(column_names(parsed.response.text))
    return [c for c in column_names(parsed.text) if c in newdata.columns and c not in response]


def _group_only_columns(design, newdata: pd.DataFrame) -> list[str]:
    """Columns used only as grouping factors (their values are labels, not predictors)."""
    parsed = design.spec.parsed
    texts = [parsed.fixed, *(bar.expr for bar in parsed.bars), *parsed.offsets,
             *(s.var for s in parsed.smooths)]
    if parsed.residuals is not None:
        texts += [parsed.residuals.group, parsed.residuals.time or ""]
    values = {name for text in texts for name in column_names(text)}
    groups = dict.fromkeys(v for bar in parsed.bars for v in bar.group_vars)
    return [c for c in groups if c not in values and c in newdata.columns]


def _rows_text(rows: list) -> str:
    return f"{rows[:5]}{' ...' if len(rows) > 5 else ''}"
