"""Basis sizes of ``poly()`` checked against the data before formulae builds them.

R's ``poly(x, degree)`` refuses a degree at or above the number of distinct values of
``x`` ("'degree' must be less than number of unique points"). formulae builds the
basis anyway, one column per degree: ``poly(Days, 100000)`` on sleepstudy spent 20 s
building 100,000 columns and then failed on their NaNs with a message about column
931. :func:`check_poly_degrees` gives R's refusal at once, naming the call. It also
refuses ``bs(x, df)`` with more basis columns than the model has rows: formulae's
``bs(Days, df = 100000)`` ran for over a minute (R builds it, and lme4 drops the
columns beyond the rank).
"""

from __future__ import annotations

import pandas as pd

from multilevel.errors import FormulaError
from multilevel.formula.parse import calls


def check_poly_degrees(text: str, frame: pd.DataFrame) -> None:
    """Refuse ``poly(x, degree)`` with a degree R refuses: at least the number of distinct
    values of the column ``x`` in the model's rows (or not a positive whole number).

    Raises
    ------
    FormulaError
        Naming the call, the column's number of distinct values and what to write.
    """
    for call, args in calls(text, {"poly"}):
        degree = _degree(args)
        if degree is None:
            continue   # not a literal: formulae evaluates it (and reports what it finds)
        if degree < 1:
            raise FormulaError(f"{call}: the degree must be a whole number of at least 1.")
        column = args[0] if args else ""
        if column in frame.columns:
            unique, what = frame[column].nunique(), f"({frame[column].nunique()})"
        else:   # an expression has at most as many distinct values as the model has rows
            unique, what = len(frame), f"(at most the model's {len(frame)} rows)"
        if degree >= unique:
            raise FormulaError(
                f"{call}: the degree must be less than the number of distinct values of "
                f"{column!r} {what}, as R's poly() requires. Use a degree below {unique}."
            )
    for call, args in calls(text, {"bs"}):
        df = _degree(args, name="df", default=None)
        if df is not None and df > len(frame):
            # R builds it and lme4 drops the columns beyond the rank; formulae's basis takes
            # quadratic time in df (df = 100,000: over a minute) before any such check
            raise FormulaError(f"{call}: df = {df} asks for more basis columns than the model's "
                               f"{len(frame)} rows; at most {len(frame)} can be estimated. Use a "
                               "smaller df.")


def _degree(args: list[str], name: str = "degree", default: str | None = "1") -> int | None:
    """The argument ``name`` (``degree``; ``df`` of ``bs``) as a whole number (positional
    second or by name; ``default`` when absent; None when not a literal)."""
    text = default
    for position, arg in enumerate(args[1:], start=1):
        key, _, value = arg.partition("=")
        if value and key.strip() == name:
            text = value.strip()
        elif not value and position == 1:
            text = arg
    try:
        number = float(text)
    except (TypeError, ValueError):   # absent (None) or not a literal
        return None
    return int(number) if number.is_integer() else None
