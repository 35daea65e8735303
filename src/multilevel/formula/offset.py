"""``offset(expr)``: a term of the linear predictor whose coefficient is fixed at 1 (lme4's).

The parser takes offset terms out of the fixed part (:func:`split_offset`), so the
design gets no column for them; :func:`evaluate_offset` computes their sum for the
fitted rows or for new data, with the same whitelisted transforms as any term
(``offset(log(exposure))``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from multilevel.errors import DataError, FormulaError

_OFFSET = re.compile(r"offset\s*\((.*)\)", re.DOTALL)


def split_offset(term: str) -> str | None:
    """The argument of a fixed-part term ``offset(expr)``, or None for any other term.

    ``- offset(x)`` is refused: R would drop it silently, which hides a mistake.

    >>> split_offset("+ offset(log(exposure))"), split_offset("x")
    ('log(exposure)', None)
    """
    body = term.lstrip("+-").strip()
    match = _OFFSET.fullmatch(body)
    if match is None or not _wraps(body[match.start(1) - 1:]):
        return None
    if term.startswith("-"):
        raise FormulaError(f"The offset {body!r} cannot be subtracted; write '+ {body}' (its "
                           "coefficient is fixed at 1), with a minus sign inside if needed.")
    inner = match.group(1).strip()
    if not inner:
        raise FormulaError("offset() needs an expression, e.g. offset(log(exposure)).")
    return inner


def _wraps(text: str) -> bool:
    """True when the parenthesis opening ``text`` closes at its end."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return i == len(text) - 1
    return False


def check_no_offset_in_bar(expr: str, source: str) -> None:
    """lme4 has no offsets inside random-effect terms: refuse them by name."""
    if re.search(r"(?<![A-Za-z0-9._])offset\s*\(", expr):
        raise FormulaError(f"offset() inside the random-effect term {source!r} is not allowed; "
                           "put it in the fixed part: y ~ x + offset(log(exposure)) + (1 | g).")


def evaluate_offset(offsets: tuple[str, ...], data: pd.DataFrame, what: str = "data") -> np.ndarray | None:
    """The sum of the offset expressions on the rows of ``data`` (None without offsets).

    Raises
    ------
    DataError
        When a column of an offset is missing from ``data`` or a value is not finite.
    """
    if not offsets:
        return None
    from multilevel.formula.namespace import safe_environment
    from multilevel.formula.parse import column_names
    from multilevel.formula.transforms import design_matrices

    total = np.zeros(len(data))
    for expr in offsets:
        missing = [c for c in column_names(expr) if c not in data.columns]
        if missing:
            raise DataError(f"The {what} lack column(s) {missing} of the offset 'offset({expr})'; "
                            "add them (predictions of a model with an offset need its values).")
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
        total += values[:, 0]
    return total
