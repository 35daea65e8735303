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

import numpy as np

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


# R's deparse: spaces around these binary operators, none around / ^ : and %op%
_SPACED_OPS = frozenset({"+", "-", "*", "==", "!=", "<", ">", "<=", ">=", "&", "|", "&&", "||",
                         "=", "~"})
# R's contrast functions a formula may name, C(f, contr.sum) (multilevel.formula.rfactors)
CONTRAST_KINDS = ("treatment", "sum", "helmert", "poly", "SAS")
CONTRAST_NAMES = frozenset(f"contr.{kind}" for kind in CONTRAST_KINDS)
# basis calls whose matrix columns R numbers 1, 2, ... (formulae numbers them from 0)
BASIS_CALLS = frozenset({"poly", "bs", "ns"})


def r_number(text: str) -> str:
    """A numeric literal as R's deparse prints it: 15 significant digits, the shorter of
    fixed and scientific notation (fixed on a tie), ``1e+05`` style exponents.

    >>> [r_number(t) for t in ("0.50", "1e-3", "100000", "123456789", "1e-4", "4.50", "3")]
    ['0.5', '0.001', '1e+05', '123456789', '1e-04', '4.5', '3']
    """
    try:
        value = float(text)
    except ValueError:
        return text
    if not np.isfinite(value) or text.lower().endswith("j"):
        return text
    fixed = format(value, ".15g")
    if "e" in fixed:   # Python chose scientific: R's fixed form spelled out
        fixed = np.format_float_positional(value, precision=15, unique=True, trim="-")
    mantissa, exponent = format(value, ".15e").split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    sci = f"{mantissa}e{exponent[0]}{abs(int(exponent)):02d}"
    return fixed if len(fixed) <= len(sci) else sci


def _divisions_back(text: str) -> str:
    """``divide(a, b)`` and ``mod(a, b)`` (how the formula layer hands a division and R's
    remainder inside a call to formulae, :func:`multilevel.formula.parse.divisions_as_calls`)
    written back as ``a / b`` and ``a %% b``."""
    if "divide(" not in text and "mod(" not in text:
        return text
    import ast

    ops = {"divide": ast.Div, "mod": ast.Mod}

    class Back(ast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            if (isinstance(node.func, ast.Name) and node.func.id in ops and len(node.args) == 2
                    and not node.keywords):
                return ast.BinOp(left=node.args[0], op=ops[node.func.id](), right=node.args[1])
            return node

    try:
        back = ast.unparse(Back().visit(ast.parse(text, mode="eval")))
    except SyntaxError:
        return text
    if "%" not in back:
        return back
    # Python's remainder '%' is R's '%%' (a '%' inside a quoted level stays as it is)
    tokens = formula_tokens(back)
    out, last = [], 0
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string == "%":
            out += [back[last:tok.start[1]], "%%"]
            last = tok.end[1]
    return "".join(out) + back[last:]


def r_deparse(text: str) -> str:
    """An expression spelled as R's ``deparse`` spells it, which is how lme4 names the
    coefficient of a transformed predictor: ``exp(wt / 3)`` → ``exp(wt/3)``,
    ``bs(x, df=4)`` → ``bs(x, df = 4)``, ``I(x ** 2)`` → ``I(x^2)``, ``I(0.50*x)`` →
    ``I(0.5 * x)``. Text that cannot be tokenized is returned unchanged.

    >>> r_deparse("exp(wt / 3)"), r_deparse("poly(x,2,raw=TRUE)"), r_deparse("I(-x ** 2 + 1e-3)")
    ('exp(wt/3)', 'poly(x, 2, raw = TRUE)', 'I(-x^2 + 0.001)')
    """
    text = _divisions_back(text)
    try:
        tokens = formula_tokens(text)
    except FormulaError:
        return text
    out: list[str] = []
    previous = None   # the previous token's (type, string)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        kind, value = tok.type, tok.string
        if kind == tokenize.OP and value == "%":   # %%, %/%, %in%: one operator
            j = i + 1
            while j < len(tokens) and tokens[j].string != "%":
                j += 1
            value = "".join(t.string for t in tokens[i:j + 1])
            i = j
        if kind == tokenize.NAME:
            piece = value if _R_SYNTACTIC.match(value) else f"`{value}`"
        elif kind == tokenize.NUMBER:
            piece = r_number(value)
        elif kind == tokenize.STRING:
            piece = '"' + value[1:-1] + '"'
        elif value == "**":
            piece = "^"
        elif value == ",":
            piece = ", "
        elif value in ("+", "-") and (previous is None or (previous[0] == tokenize.OP
                                                          and previous[1] not in (")", "]"))):
            piece = value   # unary
        elif value in _SPACED_OPS:
            piece = f" {value} "
        else:
            piece = value
        out.append(piece)
        previous = (kind, value)
        i += 1
    return "".join(out)


def check_juxtaposed(toks, i: int, text: str) -> None:
    """Refuse two operands side by side (``y ~ x z``, ``(1 | g)(1 | h)``): R's parser stops
    there (unexpected symbol), formulae's would read the first and drop the rest silently."""
    if i == 0:
        return
    prev, tok = toks[i - 1], toks[i]
    ends = prev.type in (tokenize.NAME, tokenize.NUMBER, tokenize.STRING) or prev.string in (")", "}")
    starts = tok.type in (tokenize.NAME, tokenize.NUMBER, tokenize.STRING) or tok.string == "{" or (
        tok.string == "(" and prev.type != tokenize.NAME)   # name( is a call
    if ends and starts:
        raise FormulaError(f"Missing operator between {prev.string!r} and {tok.string!r} at column "
                           f"{tok.start[1]} of formula {text!r}: join terms with '+' (or '*', ':'), "
                           "and write a name with spaces in backticks, e.g. `my var`.")


def check_power(exponent, column: int, text: str) -> None:
    """A power of terms, ``(a + b)^2``, takes a whole number >= 1 (R: "invalid power in
    formula"); formulae's own messages for the others name none of it."""
    value = exponent.string if exponent is not None else ""
    if exponent is None or exponent.type != tokenize.NUMBER or not value.isdigit() or int(value) < 1:
        raise FormulaError(
            f"Power '^{value}' at column {column} of formula {text.replace('**', '^')!r}: a power "
            "of terms must be a whole number >= 1, as in (a + b + c)^2 (the interactions up to "
            "order 2). For the arithmetic power of a column write I(x^2) or poly(x, 2)."
        )


# Names a formula evaluator reads as constants: Python's, and R's TRUE/FALSE (bound for calls)
CONSTANTS = ("True", "False", "None", "TRUE", "FALSE")


def constants_as_names(expr: str) -> list[str]:
    """The constants (``True``, ``FALSE``...) an expression writes where a column could stand,
    i.e. not as a keyword's value (``scale = FALSE``); :func:`column_names` leaves them out."""
    toks = formula_tokens(expr)
    return [tok.string for i, tok in enumerate(toks)
            if tok.type == tokenize.NAME and tok.string in CONSTANTS and (i == 0 or toks[i - 1].string != "=")]
