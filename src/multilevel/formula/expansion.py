"""How many terms a formula's operators expand to, counted before anything expands them.

``(a + b + ... + t)^20`` is 50 characters and 40 operators, well inside the parser's
limits, but R's expansion of it has 2^20 − 1 terms; formulae (and so Bambi, and R)
would spend minutes building them before any data is read. :func:`expanded_terms`
bounds the count from the text alone, in time linear in its length, so that
:func:`multilevel.formula.parse_formula` can refuse such a formula at once.

Counted, as R expands them (an upper bound: removals and repeats are not subtracted)::

    a + b   →  |a| + |b|          a:b    →  |a|·|b|
    a * b   →  |a| + |b| + |a|·|b| a / b  →  |a| + |a|·|b|
    a ^ n   →  Σ_{i=1..min(n, |a|)} C(|a|, i)
    a - b   →  |a|                 a name or a call → 1, a number → 0
"""

from __future__ import annotations

import math
import tokenize

from multilevel.formula.names import formula_tokens

# above this many terms a formula is refused: the expansion alone would take long, and a
# design with more columns than this is not what an lme4 formula is for
MAX_TERMS = 5_000
_CAP = 10 ** 12   # counts saturate here (a ^ n with many terms is astronomically large)
# R's precedence, loosest first: + -, then * /, then :, then ^ (formulae spells it **)
_LEVELS = (("+", "-"), ("*", "/"), (":",), ("**",))


def expanded_terms(text: str) -> int:
    """An upper bound on the number of terms R's expansion of ``text`` has.

    Examples
    --------
    >>> expanded_terms("x*z + f")
    4
    >>> expanded_terms("(a + b + c)**2 - a:b")
    6
    >>> expanded_terms("(a + b + c + d + e + f + g + h + i + j)**10")
    1023
    """
    tokens = [t for t in formula_tokens(text) if t.type != tokenize.ENDMARKER]
    count, _ = _expression(tokens, 0, 0)
    return count


def _expression(tokens, pos: int, level: int) -> tuple[int, int]:
    """(count, next position) of the expression at ``pos`` whose operators bind at least
    as tightly as ``_LEVELS[level]``."""
    if level == len(_LEVELS):
        return _atom(tokens, pos)
    count, pos = _expression(tokens, pos, level + 1)
    while pos < len(tokens) and tokens[pos].type == tokenize.OP and tokens[pos].string in _LEVELS[level]:
        op = tokens[pos].string
        if op == "**":   # the exponent is a number (anything else: count the base's subsets)
            exponent = tokens[pos + 1].string if pos + 1 < len(tokens) else ""
            n = int(exponent) if exponent.isdigit() else count
            count, pos = _power(count, n), pos + 2
            continue
        other, pos = _expression(tokens, pos + 1, level + 1)
        count = {"+": count + other, "-": count, "*": count + other + count * other,
                 "/": count + count * other, ":": count * other}[op]
        count = min(count, _CAP)
    return count, pos


def _power(count: int, n: int) -> int:
    total = 0
    for i in range(1, min(n, count) + 1):
        total += math.comb(count, i)
        if total >= _CAP:
            return _CAP
    return total


def _atom(tokens, pos: int) -> tuple[int, int]:
    if pos >= len(tokens):
        return 0, pos
    tok = tokens[pos]
    if tok.type == tokenize.OP and tok.string in ("+", "-"):   # unary sign
        return _expression(tokens, pos + 1, len(_LEVELS) - 1)
    if tok.type == tokenize.OP and tok.string == "(":
        count, pos = _expression(tokens, pos + 1, 0)
        return count, _skip(tokens, pos, ")")
    if tok.type == tokenize.NAME and pos + 1 < len(tokens) and tokens[pos + 1].string == "(":
        return 1, _skip_call(tokens, pos + 1)   # a call is one term, whatever its arguments
    return (0 if tok.type == tokenize.NUMBER else 1), pos + 1


def _skip(tokens, pos: int, closing: str) -> int:
    return pos + 1 if pos < len(tokens) and tokens[pos].string == closing else pos


def _skip_call(tokens, pos: int) -> int:
    """The position after the parenthesised arguments starting at ``pos`` (``(``)."""
    depth = 0
    for i in range(pos, len(tokens)):
        if tokens[i].type == tokenize.OP and tokens[i].string in "([{":
            depth += 1
        elif tokens[i].type == tokenize.OP and tokens[i].string in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(tokens)
