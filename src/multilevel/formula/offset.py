"""``offset(expr)``: a term of the linear predictor whose coefficient is fixed at 1 (lme4's).

The parser takes offset terms out of the fixed part (:func:`split_offset`), so the
design gets no column for them; :func:`multilevel.formula.offset_values.evaluate_offset`
computes their sum for the fitted rows or for new data, with the same whitelisted
transforms as any term (``offset(log(exposure))``).
"""

from __future__ import annotations

import re

from multilevel.errors import FormulaError

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
