"""Column names as R users write them: backticks, dotted names and Python keywords.

R formulas name columns such as ``x.1``, ``Petal.Width``, ``yield`` or, in backticks,
``` `my var` ```. formulae (which builds the matrices) reads all of them; Python's own
tokenizer does not (``x.1`` is a name and a number to it, ``Petal.Width`` an attribute
access, ``yield`` a keyword). :func:`formula_tokens` splits a formula the way R does,
so that the formula layer's checks see whole names, and :func:`r_label` spells a
coefficient as R's ``fixef`` does (backticks around a non-syntactic name).
"""

from __future__ import annotations

import re
import tokenize

from multilevel.errors import FormulaError

# R's syntactic names: letters, digits, '.' and '_', starting with a letter or a '.' not
# followed by a digit. A leading '_' is accepted here so that the checks downstream can
# refuse dunders by name.
_NAME = r"(?:[A-Za-z_]|\.(?![0-9]))[A-Za-z0-9._]*"
_NUMBER = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[jJ]?"
_TOKEN = re.compile(
    rf"(?P<space>\s+)|(?P<backtick>`[^`]*`)|(?P<name>{_NAME})|(?P<number>{_NUMBER})"
    r"|(?P<string>'[^']*'|\"[^\"]*\")|(?P<op>\*\*|//|==|!=|<=|>=|->|[^\sA-Za-z0-9_`'\"])"
)
_R_SYNTACTIC = re.compile(r"^(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*$")
_R_RESERVED = frozenset({"if", "else", "repeat", "while", "function", "for", "next", "break",
                         "TRUE", "FALSE", "NULL", "Inf", "NaN", "NA", "in"})


def formula_tokens(text: str) -> list[tokenize.TokenInfo]:
    """Tokens of a one-line formula, R's way: ``x.1`` and ``` `my var` ``` are one NAME each.

    Returns :class:`tokenize.TokenInfo` tuples (type NAME, NUMBER, STRING or OP; the
    position is the column in ``text``) so that callers can treat them as Python's.
    A backticked name's token string is the name without the backticks.

    Examples
    --------
    >>> [t.string for t in formula_tokens("yield ~ x.1 + `my var` + log(Petal.Width)")]
    ['yield', '~', 'x.1', '+', 'my var', '+', 'log', '(', 'Petal.Width', ')']
    """
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:  # an unterminated quote or backtick
            raise FormulaError(f"Cannot read formula {text!r} from column {pos}: a quote or "
                               "backtick is not closed.")
        kind, value = match.lastgroup, match.group()
        if kind != "space":
            if kind == "backtick":
                value = value[1:-1]
                if not value:
                    raise FormulaError(f"Empty backticks `` at column {pos} of formula {text!r}.")
            ttype = {"backtick": tokenize.NAME, "name": tokenize.NAME, "number": tokenize.NUMBER,
                     "string": tokenize.STRING, "op": tokenize.OP}[kind]
            tokens.append(tokenize.TokenInfo(ttype, value, (1, pos), (1, match.end()), text))
        pos = match.end()
    return tokens


def strip_backticks(name: str) -> str:
    """``` `my var` ``` → ``my var``; other names unchanged."""
    name = name.strip()
    return name[1:-1] if len(name) > 1 and name[0] == name[-1] == "`" else name


def r_label(label: str, columns) -> str:
    """A coefficient named after a column as R spells it: backticks around a name that is
    not syntactic in R (``my var`` → ``` `my var` ```); every other label unchanged.

    >>> r_label("my var", {"my var"}), r_label("x.1", {"x.1"})
    ('`my var`', 'x.1')
    """
    if label in columns and (not _R_SYNTACTIC.match(label) or label in _R_RESERVED):
        return f"`{label}`"
    return label
