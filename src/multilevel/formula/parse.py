"""lme4 formula syntax → a parsed formula: response, fixed part, random-effect bars.

This stage is pure text processing; it knows nothing about the data except, in
:func:`check_names`, the column names. It implements lme4's ``findbars`` and
``expandDoubleVerts`` / ``expandSlash`` semantics:

* ``(x | g)``: one bar, intercept and slope in one correlated block;
* ``(x || g)``: ``(1 | g) + (0 + x | g)``, one independent bar per column;
* ``(x | a/b)``: ``(x | a) + (x | b:a)`` (lme4 names the nested factor ``b:a``);
* bars on different factors are crossed: they simply coexist.

Formulas are never executed here; :func:`check_names` makes sure that later
evaluation (by formulae) can only see data columns, numbers, strings and a
whitelist of transforms, so that a model spec cannot run code.
"""

from __future__ import annotations

import re
import tokenize
from dataclasses import dataclass, field, replace

from multilevel.errors import FormulaError
from multilevel.formula.expansion import MAX_TERMS, expanded_terms
from multilevel.formula.known import quote_cov_names, split_gr
from multilevel.formula.names import (
    CONTRAST_NAMES,
    check_juxtaposed,
    check_power,
    formula_tokens,
    strip_backticks,
)
from multilevel.formula.offset import check_no_offset_in_bar, split_offset
from multilevel.formula.smooths import SmoothSpec, parse_smooth
from multilevel.formula.structures import (
    RESIDUAL_START,
    STRUCTURE_START,
    Structure,
    parse_residual_call,
    parse_structure,
)
from multilevel.formula.term_order import r_term_labels, r_term_order

# Transforms a formula may call. Everything else that looks like a call is refused.
ALLOWED_FUNCTIONS = frozenset(
    {
        # formulae built-ins
        "C", "I", "S", "T", "B", "binary", "p", "prop", "proportion",
        "center", "scale", "standardize", "poly", "bs", "ns",
        # element-wise maths provided in the evaluation namespace
        "log", "log2", "log10", "log1p", "exp", "sqrt", "abs", "round", "ifelse",
        "floor", "ceiling", "trunc", "sign", "sin", "cos", "tan", "asin", "acos", "atan",
        "sinh", "cosh", "tanh", "expm1", "pmin", "pmax",
        # multilevel's basis functions and R's conversions (multilevel.formula.transforms)
        "rbf", "sigmoid", "factor", "as.factor", "as.numeric", "relevel", "dummy", "c", "divide", "mod",
        # lme4's two-column binomial response
        "cbind",
        # lme4 2.0's group-effect structures (multilevel.formula.structures)
        "us", "diag", "cs", "ar1", "toep",
        # brms's residual structures (multilevel.bayes.residuals)
        "ar", "cosy",
        # lme4's offset (coefficient fixed at 1; multilevel.formula.offset)
        "offset",
        # brms's known covariance of group effects, (1 | gr(id, cov = A)) (formula.known)
        "gr",
    }
)
# Calls that are formula terms, not transforms: penalized smooths s(x, k, bs)
# (multilevel.formula.smooths). Kept apart from ALLOWED_FUNCTIONS, whose names cannot be
# grouping factors (InstEval's grouping column is called ``s``).
TERM_FUNCTIONS = frozenset({"s"})
# Calls that formulae knows but this package does not carry through, with what to do.
UNSUPPORTED_FUNCTIONS: dict[str, str] = {}
# Values a keyword argument may take besides numbers and strings; TRUE/FALSE are R's
# spellings (scale(x, scale = FALSE)), bound in multilevel.formula.namespace.
# (and R's contrasts, as in C(f, contr.sum): multilevel.formula.rfactors)
_KEYWORD_VALUES = frozenset({"True", "False", "None", "TRUE", "FALSE", *CONTRAST_NAMES})
_ALLOWED_OPS = frozenset({"~", "+", "-", "*", "/", ":", "**", "(", ")", "|", ",", "=", "{", "}", "%", "^"})
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")

# Size limits, checked before anything else so that no input can make parsing slow or deep.
# MAX_LENGTH: characters. MAX_NESTING: depth of parentheses. MAX_OPERATORS: binary operators
# (+ - * / : ** | %); formulae (and so Bambi) resolves a sum recursively, about two Python
# frames per operator, so this bound keeps every formula well inside Python's default
# recursion limit (1000) whatever the caller's own depth.
MAX_LENGTH = 10_000
MAX_NESTING = 50
MAX_OPERATORS = 300
_BINARY_OPS = frozenset({"+", "-", "*", "/", ":", "**", "|", "%"})
# comparisons make a logical, R's I(x > 3); allowed only inside a call's parentheses
_COMPARISONS = frozenset({">", "<", ">=", "<=", "==", "!="})


@dataclass(frozen=True)
class Bar:
    """One random-effect term ``(expr | group)`` after lme4's expansions.

    Attributes
    ----------
    expr : str
        The term's model formula, e.g. ``"1 + Days"`` or ``"0 + Days"``.
    group : str
        The grouping factor as lme4 names it, e.g. ``"Subject"`` or ``"cask:batch"``.
    group_vars : tuple of str
        The data columns whose interaction forms the grouping factor.
    source : str
        The text of the bar as the user wrote it (for messages).
    structure : Structure or None
        lme4 2.0's covariance structure (``cs(x | g)``); None for a plain bar.
    """

    expr: str
    group: str
    group_vars: tuple[str, ...]
    source: str
    cov: str | None = None   # gr(id, cov = A): the name of a known covariance in data2
    structure: Structure | None = None

    @property
    def has_intercept(self) -> bool:
        return _has_intercept(_split_top(self.expr, "+-"))


@dataclass(frozen=True)
class Response:
    """The left-hand side: a plain expression, or a successes/trials pair for binomial data."""

    text: str
    kind: str = "plain"            # "plain" | "cbind" | "trials"
    args: tuple[str, ...] = ()     # cbind: (successes, failures); trials: (successes, trials)


@dataclass(frozen=True)
class Residuals:
    """A residual correlation structure within each level of ``group``: ``ar(time = t, gr = g)``
    (kind ``"ar1"``: AR(1) errors ordered by ``time``) or ``cosy(gr = g)`` (kind ``"cs"``:
    compound symmetry, ``time`` None)."""

    kind: str
    time: str | None
    group: str
    source: str


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into response, fixed-effects part and random-effect bars."""

    text: str
    response: Response
    fixed: str
    bars: tuple[Bar, ...] = field(default_factory=tuple)
    residuals: Residuals | None = None
    offsets: tuple[str, ...] = ()   # arguments of offset() terms, not part of ``fixed``
    smooths: tuple[SmoothSpec, ...] = ()   # s(x, k, bs) terms, not part of ``fixed``

    @property
    def has_bars(self) -> bool:
        return bool(self.bars)

    def names(self) -> set[str]:
        """Every identifier the formula mentions (columns and function names)."""
        return _identifiers(self.text)

    def fixed_formula(self) -> str:
        """The fixed part as a one-sided formulae formula."""
        return self.fixed


def parse_formula(text: str) -> ParsedFormula:
    """Parse an lme4-style formula.

    Parameters
    ----------
    text : str
        For example ``"Reaction ~ Days + (Days | Subject)"``.

    Returns
    -------
    ParsedFormula

    Raises
    ------
    FormulaError
        On syntax errors, pointing at the offending term; beyond the size limits, checked
        before anything else: :data:`MAX_LENGTH` (10,000) characters, :data:`MAX_NESTING`
        (50) levels of parentheses, :data:`MAX_OPERATORS` (300) operators after expanding
        ``||`` and ``/``. Parsing takes time linear in the length and no recursion deeper
        than the nesting, so it never depends on Python's recursion limit.

    Examples
    --------
    >>> f = parse_formula("y ~ x + (x || g) + (1 | a/b)")
    >>> [(b.expr, b.group) for b in f.bars]
    [('1', 'g'), ('0 + x', 'g'), ('1', 'a'), ('1', 'b:a')]
    """
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("The formula must be a non-empty string such as 'y ~ x + (x | g)'.")
    if len(text) > MAX_LENGTH:
        raise FormulaError(
            f"The formula has {len(text)} characters; formulas may have at most {MAX_LENGTH}. "
            "Shorten it (fewer terms, shorter column names)."
        )
    # R spells powers '^' (I(x^2), (a + b)^2); formulae spells both '**'.
    text = " ".join(text.split()).replace("^", "**")
    text = quote_cov_names(divisions_as_calls(r_percent_operators(positional_numbers(text))))
    _check_balanced(text)
    tildes = sum(tok.type == tokenize.OP and tok.string == "~" for tok in _tokens(text))
    sides = _split_top(text, "~", keep_sign=False)
    if tildes != 1 or len(sides) != 2 or not sides[0].strip() or not sides[1].strip():
        raise FormulaError(
            f"Formula {text!r} must have exactly one '~' with a response on the left and "
            "terms on the right, e.g. 'Reaction ~ Days + (Days | Subject)'."
        )
    _check_tokens(text)
    response = _parse_response(sides[0].strip())
    if _find_top(sides[1], "|") >= 0:
        # lme4's findbars reads a bar outside parentheses as one term over the whole
        # right-hand side ('|' binds looser than '+'): y ~ x + z | g is y ~ 1 + (x + z | g)
        sides[1] = f"({sides[1]})"
    fixed_terms: list[str] = []
    bars: list[Bar] = []
    residuals = None
    offsets: list[str] = []
    smooths: list[SmoothSpec] = []
    for term in _flatten_grouped_bars(_split_top(sides[1], "+-")):
        body = term.lstrip("+-").strip()
        offset = split_offset(term)
        if offset is not None:   # R's terms() keeps one of identical terms: offset(o) + offset(o) is o
            if all(offset.replace(" ", "") != seen.replace(" ", "") for seen in offsets):
                offsets.append(offset)
            continue
        smooth = parse_smooth(body)
        if smooth is not None:
            if term.startswith("-") or any(s.var == smooth.var for s in smooths):
                raise FormulaError(f"The smooth {body!r} cannot be subtracted or repeated.")
            smooths.append(smooth)
            continue
        if RESIDUAL_START.match(body):
            residuals = _parse_residuals(term, body, residuals)
            continue
        if STRUCTURE_START.match(body):
            bar_text, structure = parse_structure(term, body, _split_top, _find_top)
            bars.extend(replace(b, structure=structure) for b in _parse_bar(bar_text, body))
            continue
        inner = _strip_outer_parens(body)
        if inner is not None and _find_top(inner, "|") >= 0:
            if term.startswith("-"):
                raise FormulaError(f"Random-effect term {body!r} cannot be subtracted.")
            bars.extend(_parse_bar(inner, body))
        else:
            fixed_terms.append(term)
    # R removes a term from those before it: '-x' ahead of every added term removes nothing
    # (y ~ -x is y ~ 1; y ~ -x + z is y ~ z), which formulae cannot subtract from its intercept
    while fixed_terms and fixed_terms[0].startswith("-") and fixed_terms[0][1:].strip() not in ("0", "1"):
        fixed_terms.pop(0)
    fixed = " ".join(fixed_terms).strip().lstrip("+").strip()
    if not fixed:
        fixed = "1"
    elif fixed.startswith("-"):
        fixed = "1 " + fixed
    _check_expanded_size(fixed, bars)
    fixed = r_term_order(fixed)   # lme4's column order: main effects, then interactions
    bars = [replace(bar, expr=r_term_order(bar.expr)) for bar in bars]   # lme4's cnms likewise
    _check_response_not_a_term(response, fixed_terms, bars)
    return ParsedFormula(text=text, response=response, fixed=fixed, bars=tuple(bars),
                         residuals=residuals, offsets=tuple(offsets), smooths=tuple(smooths))


def _check_response_not_a_term(response: Response, fixed_terms: list[str], bars: list[Bar]) -> None:
    """``y ~ y``: the response as a predictor fits it exactly (σ = 0); R drops the term with a
    warning, we refuse it."""
    terms = [t.lstrip("+-").strip() for t in fixed_terms]
    terms += [t.lstrip("+-").strip() for bar in bars for t in _split_top(bar.expr, "+-")]
    if response.kind == "plain" and response.text in terms:
        raise FormulaError(f"The response {response.text!r} is also a term on the right-hand side; "
                           "it would predict itself exactly. Remove it from the terms.")


def _check_expanded_size(fixed: str, bars: list[Bar]) -> None:
    """The operator limit on the formula as the engines receive it: ``||`` and ``a/b`` expand
    one bar into several, so a short formula can still become a very long sum."""
    expanded = " + ".join([fixed, *(f"({b.expr} | {':'.join(b.group_vars)})" for b in bars)])
    operators = sum(tok.type == tokenize.OP and tok.string in _BINARY_OPS for tok in _tokens(expanded))
    if operators > MAX_OPERATORS:
        raise FormulaError(
            f"After expanding '||' and '/', the formula has {operators} operators; formulas may "
            f"have at most {MAX_OPERATORS} (about as many terms). Use fewer terms."
        )
    # few operators can still expand to millions of terms: (a + ... + t)^20 has 2^20 - 1
    for part, where in [(fixed, "fixed part"), *((b.expr, f"term ({b.expr} | {b.group})") for b in bars)]:
        count = expanded_terms(part)
        if count > MAX_TERMS:
            shown = f"more than {MAX_TERMS:,}" if count >= 10 ** 12 else f"{count:,}"
            raise FormulaError(
                f"The {where} {part.replace('**', '^')!r} expands to {shown} terms (R's expansion of *, ^ and /); "
                f"formulas may have at most {MAX_TERMS:,}. Lower the power (e.g. (a + b + c)^2 "
                "for the two-way interactions) or list the interactions you need."
            )


def _parse_residuals(term: str, body: str, previous: Residuals | None) -> Residuals:
    """``ar(time = t, gr = g)`` or ``cosy(gr = g)``; one per formula."""
    call = parse_residual_call(term, body, _split_top)
    if previous is not None:
        raise FormulaError(f"Only one residual structure per formula; got {previous.source!r} "
                           f"and {body!r}.")
    return Residuals(kind=call.kind, time=call.time, group=call.group, source=body)


def _flatten_grouped_bars(terms: list[str]) -> list[str]:
    """Unwrap parentheses around a sum of bars, as lme4 prints expanded ``||`` terms:
    ``((1 | g) + (0 + x | g))`` → ``(1 | g)``, ``(0 + x | g)``."""
    out: list[str] = []
    for term in terms:
        body = term.lstrip("+").strip()
        inner = _strip_outer_parens(body)
        if inner is not None and _find_top(inner, "|") < 0 and "|" in inner and not term.startswith("-"):
            out.extend(_flatten_grouped_bars(_split_top(inner, "+-")))
        else:
            out.append(term)
    return out


def divisions_as_calls(text: str) -> str:
    """``text`` with each division inside a call written ``divide(a, b)``: ``I(Days/2)``
    → ``I(divide(Days, 2))``.

    PyMC names a model's variables after Bambi's terms and refuses a name with ``/``
    (ArviZ's groups are paths), so ``I(x/2)`` or ``exp(wt/3)`` could not be fitted in the
    Bayesian engine. ``divide`` is numpy's, so the values are bit-identical;
    coefficient names spell it back as ``/`` (:func:`multilevel.formula.names.r_deparse`).
    A ``/`` outside a call, or in a call around a bar, is nesting (``(1 | a/b)``,
    ``cs(0 + f | a/b)``) and is left alone.

    >>> divisions_as_calls("y ~ I(x/2) + exp(-(a + b)/c**2) + (1 | g/h) + cs(0 + I(f/2) | a/b)")
    'y ~ I(divide(x, 2)) + exp(divide(-(a + b), c ** 2)) + (1 | g/h) + cs(0 + I(divide(f, 2)) | a/b)'
    """
    import ast

    if "/" not in text and "%%" not in text:
        return text
    try:
        tokens = formula_tokens(text)
    except FormulaError:
        return text
    out, last, i = [], 0, 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == tokenize.NAME and i + 1 < len(tokens) and tokens[i + 1].string == "(":
            depth, j = 0, i + 1
            while j < len(tokens):
                depth += {"(": 1, ")": -1}.get(tokens[j].string, 0)
                if depth == 0:
                    break
                j += 1
            inside = [t.string for t in tokens[i + 2:j]]
            # a call around a bar (cs(0 + f | a/b), gr(...)) nests with '/': look inside it
            if j < len(tokens) and ("/" in inside or "%" in inside) and "|" not in inside:
                start, end = tok.start[1], tokens[j].end[1]
                rewritten = _divide_calls(text[start:end], ast)
                if rewritten is not None:
                    out += [text[last:start], rewritten]
                    last = end
                i = j + 1
                continue
        i += 1
    return "".join(out) + text[last:]


def _divide_calls(call_text: str, ast):
    """One call's text with its divisions as ``divide()`` and R's remainders ``a %% b`` as
    ``mod(a, b)``; ``None`` when Python cannot read it (backticks).

    ``/`` has the same precedence in R and Python. R's ``%%`` binds tighter than ``*`` and
    ``/`` (``a * b %% c`` is ``a * (b %% c)``) where Python's ``%`` does not, so a remainder
    whose left operand is an unparenthesized product or quotient is regrouped R's way.
    """
    text = call_text.replace("%%", "%")

    def parenthesized(node) -> bool:
        rest = text[node.end_col_offset:].lstrip()
        return rest.startswith(")") and text[:node.col_offset].rstrip().endswith("(")

    def call(name, left, right):
        return ast.Call(func=ast.Name(name, ast.Load()), args=[left, right], keywords=[])

    def r_grouping(node):
        """Mod(BinOp(a, * or /, b), c) as R reads it: BinOp(a, * or /, Mod(b, c))."""
        left = node.left
        if (isinstance(left, ast.BinOp) and isinstance(left.op, (ast.Mult, ast.Div))
                and not parenthesized(left)):
            inner = r_grouping(ast.BinOp(left=left.right, op=ast.Mod(), right=node.right))
            return ast.BinOp(left=left.left, op=left.op, right=inner)
        return node

    class Rewrite(ast.NodeTransformer):
        def visit_BinOp(self, node):
            if isinstance(node.op, ast.Mod):
                regrouped = r_grouping(node)
                if regrouped is not node:
                    return self.visit(regrouped)
            self.generic_visit(node)
            if isinstance(node.op, ast.Div):
                return call("divide", node.left, node.right)
            if isinstance(node.op, ast.Mod):
                return call("mod", node.left, node.right)
            return node

    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None
    return ast.unparse(Rewrite().visit(tree))


# R's %op% operators: %in% is ':' between terms; %% (remainder) is arithmetic inside a call
_PERCENT_HELP = {
    "%/%": "R's integer division is not available; write floor(a / b) inside the call",
    "%*%": "matrix products have no meaning in a formula",
    "%o%": "outer products have no meaning in a formula",
}


def _percent_error(operator: str, in_call: bool, column: int, text: str) -> FormulaError:
    """Why an R ``%...%`` operator cannot be read where it stands."""
    if operator == "%in%":   # inside a call: R's membership
        return FormulaError("R's x %in% c(...) (membership) is not available inside a call; make "
                            "the indicator a column of the data, or write a comparison such as "
                            "I(x == 3).")
    if operator == "%%":   # between terms
        return FormulaError("R's remainder %% must be inside a call, as in I(x %% 2).")
    if operator == "%":
        return FormulaError(f"A lone '%' at column {column} of formula {text!r}: R's remainder is "
                            "written %%, as in I(x %% 2).")
    why = _PERCENT_HELP.get(operator, "it is not an operator of R's model formulas")
    return FormulaError(f"Operator {operator} in formula {text!r}: {why}.")


def r_percent_operators(text: str) -> str:
    """R's ``%...%`` operators in ``text`` made readable: ``%in%`` between terms is
    ``:`` (R's terms read ``b %in% a`` as ``a:b``); ``%%`` inside a call is R's remainder
    (rewritten to ``mod()`` by :func:`divisions_as_calls`). Any other, and these two where
    they mean something else, are refused by name.

    >>> r_percent_operators("y ~ cyl + wt %in% cyl + I(hp %% 7)")
    'y ~ cyl + wt : cyl + I(hp %% 7)'
    """
    if "%" not in text:
        return text
    try:
        tokens = formula_tokens(text)
    except FormulaError:
        return text   # the checks that follow name the problem
    out, last, i = [], 0, 0
    calls: list[bool] = []   # per open parenthesis: whether it is a call's
    while i < len(tokens):
        tok = tokens[i]
        if tok.string == "(":
            calls.append(i > 0 and tokens[i - 1].type == tokenize.NAME)
        elif tok.string == ")" and calls:
            calls.pop()
        if tok.type != tokenize.OP or tok.string != "%":
            i += 1
            continue
        j = i + 1   # the operator runs to the next '%' with no space inside
        while (j < len(tokens) and tokens[j].string != "%" and tokens[j].start == tokens[j - 1].end
               and tokens[j].type in (tokenize.NAME, tokenize.OP) and tokens[j].string not in "()"):
            j += 1
        closed = j < len(tokens) and tokens[j].string == "%" and tokens[j].start == tokens[j - 1].end
        operator = text[tok.start[1]:tokens[j].end[1]] if closed else "%"
        in_call = any(calls)
        if operator == "%in%" and not in_call:
            out += [text[last:tok.start[1]], ":"]
            last = tokens[j].end[1]
        elif operator != "%%" or not in_call:   # %% inside a call is kept: R's remainder
            raise _percent_error(operator, in_call, tok.start[1], text)
        i = j + 1 if closed else i + 1
    return "".join(out) + text[last:]


def positional_numbers(text: str) -> str:
    """``text`` with numbers in scientific notation written out (``1e5`` → ``100000``,
    ``2.5e-3`` → ``0.0025``): R reads both, formulae's scanner only the second.

    >>> positional_numbers("y ~ I(x / 1e5) + I(2.5E-3 * z) + x1e5")
    'y ~ I(x / 100000) + I(0.0025 * z) + x1e5'
    """
    import numpy as np

    try:
        tokens = formula_tokens(text)
    except FormulaError:
        return text   # the checks that follow name the problem
    out, last = [], 0
    for tok in tokens:
        if tok.type == tokenize.NUMBER and re.search(r"[eE]", tok.string) and not tok.string.endswith(("j", "J")):
            start, end = tok.start[1], tok.end[1]
            value = float(tok.string)
            if np.isfinite(value):
                out += [text[last:start], np.format_float_positional(value, trim="-")]
                last = end
    return "".join(out) + text[last:]


def check_names(parsed: ParsedFormula, columns) -> None:
    """Check that every identifier is a column or an allowed transform.

    Raises
    ------
    FormulaError
        Naming the unknown identifier and listing the available columns.
    """
    columns = set(map(str, columns))
    in_c = sum(1 for _, args in calls(parsed.text, {"C"}) for a in args[1:2] if a.strip() in CONTRAST_NAMES)
    written = [t.string for t in _tokens(parsed.text) if t.string in CONTRAST_NAMES]
    if len(written) > in_c:
        raise FormulaError(f"{written[0]!r} is one of R's contrasts: it codes a factor as the second "
                           f"argument of C(), as in C(f, {written[0]}); it is not a column.")
    for name, is_call, is_kwarg in _name_roles(parsed.text):
        if is_kwarg or name in _KEYWORD_VALUES:
            continue
        if is_call:
            if name in UNSUPPORTED_FUNCTIONS:
                raise FormulaError(UNSUPPORTED_FUNCTIONS[name])
            if name not in ALLOWED_FUNCTIONS and name not in TERM_FUNCTIONS:
                raise FormulaError(
                    f"Function {name!r} is not allowed in a formula. Allowed transforms: "
                    f"{', '.join(sorted(ALLOWED_FUNCTIONS))}."
                )
            continue
        if name not in columns:
            if name.startswith("contr."):
                raise FormulaError(f"{name!r} is not a column, nor one of R's contrasts that C() "
                                   f"takes: {', '.join(sorted(CONTRAST_NAMES))}.")
            shown = ", ".join(sorted(columns)[:30])
            raise FormulaError(
                f"Formula term {name!r} is not a column of the data. Available columns: {shown}."
            )


# --------------------------------------------------------------------------- bars


def _parse_bar(inner: str, source: str) -> list[Bar]:
    pos = _find_top(inner, "|")
    double = inner[pos: pos + 2] == "||"
    lhs = inner[:pos].strip()
    rhs = inner[pos + (2 if double else 1):].strip()
    if not lhs or not rhs:
        raise FormulaError(
            f"Random-effect term {source!r} needs an expression and a grouping factor, "
            "as in '(1 | g)' or '(x | g)'."
        )
    if _find_top(rhs, "|") >= 0:
        raise FormulaError(f"Random-effect term {source!r} has more than one '|'.")
    check_no_offset_in_bar(lhs, source)
    rhs, cov = split_gr(rhs, source)
    exprs = _expand_double_bar(lhs, source) if double else [_normalise_expr(lhs, source)]
    if cov is not None and (exprs != ["1"] or "/" in rhs):
        raise FormulaError(f"{source!r}: a known covariance gr(g, cov = A) is available for an "
                           "intercept on one grouping factor, '(1 | gr(g, cov = A))'.")
    return [
        Bar(expr=expr, group=name, group_vars=gvars, source=source, cov=cov)
        for name, gvars in _expand_groups(rhs, source)
        for expr in exprs
    ]


def _expand_groups(rhs: str, source: str) -> list[tuple[str, tuple[str, ...]]]:
    """Grouping factors of a bar as (lme4 name, columns).

    ``a`` → ``a``; ``a:b`` → ``a:b``; ``a/b`` → ``a`` and ``b:a``; ``a/b/c`` → ``a``,
    ``b:a`` and ``c:(b:a)`` (lme4's expandSlash names the nested factor innermost first,
    each level's name wrapping the one above it in parentheses). Backticked column
    names are read without their backticks.
    """
    nested = [part.strip() for part in rhs.split("/")]
    out: list[tuple[str, tuple[str, ...]]] = []
    outer: list[str] = []
    for part in nested:
        factors = [strip_backticks(f) for f in part.split(":")]
        for f in factors:
            if not (_IDENT.match(f) or f"`{f}`" in part):
                raise FormulaError(
                    f"Grouping factor {f!r} in {source!r} must be a column name; "
                    "use ':' for interactions and '/' for nesting, e.g. '(1 | a/b)'."
                )
        if len(nested) == 1:
            out.append((":".join(factors), tuple(factors)))
        else:
            above = out[-1][0] if out else ""
            name = ":".join(reversed(factors)) if not above else \
                ":".join([*reversed(factors), f"({above})" if ":" in above else above])
            outer = outer + factors
            out.append((name, tuple(reversed(outer))))
    return out


def _expand_double_bar(lhs: str, source: str) -> list[str]:
    """lme4's ``expandDoubleVerts``: ``(a + b || g)`` is ``(1 | g) + (0 + a | g) + (0 + b | g)``,
    one term per label of R's ``terms()`` of the left side, so ``(f * x || g)`` is
    ``(1 | g) + (0 + f | g) + (0 + x | g) + (0 + f:x | g)`` (a factor stays whole)."""
    terms = [t.strip() for t in _split_top(lhs, "+-")]
    intercept = _has_intercept(terms)
    others = [t.lstrip("+").strip() for t in terms if t.lstrip("+-").strip() not in {"0", "1"}]
    for t in others:
        if t.startswith("-"):
            raise FormulaError(f"Cannot subtract {t!r} inside {source!r}.")
    if any(_find_top(t, op) >= 0 for t in others for op in ("*", "/", "^")) or any(
            t.startswith("(") for t in others):
        # a product, nesting, power or group: R's terms() expands it into its terms
        labels = r_term_labels(" + ".join(["1" if intercept else "0", *others]))
        if labels is not None:
            others = [label for label, _ in labels[1]]
    exprs = (["1"] if intercept else []) + [f"0 + {t}" for t in others]
    if not exprs:
        raise FormulaError(f"Random-effect term {source!r} has no columns.")
    return exprs


def _normalise_expr(lhs: str, source: str) -> str:
    terms = [t.strip() for t in _split_top(lhs, "+-")]
    body = [t.lstrip("+").strip() for t in terms if t.lstrip("+-").strip() not in {"0", "1"}]
    intercept = _has_intercept(terms)
    if not intercept and not body:
        raise FormulaError(f"Random-effect term {source!r} has no columns.")
    if intercept:
        return " + ".join(["1", *body])
    return " + ".join(["0", *body])


def _has_intercept(terms: list[str]) -> bool:
    stripped = [t.replace(" ", "") for t in terms]
    if any(t in {"0", "+0", "-1"} for t in stripped):
        return False
    return True


# ----------------------------------------------------------------------- response


def _parse_response(lhs: str) -> Response:
    m = re.fullmatch(r"(cbind|p|prop|proportion)\((.*)\)", lhs)
    if m:
        args = [a.strip() for a in _split_top(m.group(2), ",", keep_sign=False)]
        if len(args) != 2 or not all(args):
            raise FormulaError(
                f"Response {lhs!r} needs two arguments: cbind(successes, failures) or "
                "p(successes, trials)."
            )
        kind = "cbind" if m.group(1) == "cbind" else "trials"
        return Response(text=lhs, kind=kind, args=tuple(args))
    if _find_top(lhs, "|") >= 0:
        raise FormulaError(f"The response {lhs!r} cannot contain '|'.")
    return Response(text=lhs)


# ------------------------------------------------------------------ text helpers


def _check_balanced(text: str) -> None:
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            raise FormulaError(f"Unbalanced ')' at position {i} in formula {_short(text)!r}.")
        if depth > MAX_NESTING:
            raise FormulaError(f"Parentheses in the formula nest deeper than {MAX_NESTING} levels "
                               f"(at position {i}); remove the redundant ones.")
    if depth:
        raise FormulaError(f"Unbalanced '(' in formula {_short(text)!r}: {depth} not closed.")


def _short(text: str, limit: int = 200) -> str:
    """The formula for messages, cut to ``limit`` characters."""
    return text if len(text) <= limit else text[:limit] + " ..."


def _find_top(text: str, char: str) -> int:
    depth, quote = 0, None
    for i, ch in enumerate(text):
        if quote:   # a backticked name or a string: `a|b` is one column
            quote = None if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif ch == char and depth == 0:
            return i
    return -1


def _split_top(text: str, seps: str, keep_sign: bool = True) -> list[str]:
    """Split at top-level separators. With ``keep_sign`` the separator starts the next part.

    One pass, in time linear in the text's length.
    """
    parts, depth, start = [], 0, 0
    quote = None
    last = -1  # index of the last non-space character before i
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif depth == 0 and ch in seps:
            # '-' or '+' right after '*', '/', '(' or the 'e' of a number is not a separator
            if not (ch in "+-" and (last < 0 or text[last] in "*/:~^(,=" or _exponent_at(text, last))):
                parts.append(text[start:i])
                start = i if keep_sign else i + 1
        if not ch.isspace():
            last = i
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _exponent_at(text: str, j: int) -> bool:
    """Whether ``text[j]`` is the 'e' of a number's exponent (``1e`` of ``1e-5``), not the
    end of a name such as ``x1e``."""
    if text[j] not in "eE" or j == 0 or not text[j - 1].isdigit():
        return False
    k = j - 1
    while k >= 0 and (text[k].isdigit() or text[k] == "."):
        k -= 1
    return k < 0 or not (text[k].isalnum() or text[k] == "_")


def _strip_outer_parens(text: str) -> str | None:
    if not (text.startswith("(") and text.endswith(")")):
        return None
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(text) - 1:
            return None
    return text[1:-1].strip()


def _tokens(text: str):
    """R's tokens (:func:`multilevel.formula.names.formula_tokens`): ``x.1``, ``Petal.Width``,
    ``yield`` and backticked names are whole names."""
    return formula_tokens(text)


def _check_tokens(text: str) -> None:
    """Refuse anything that could execute code: attribute access, indexing, lambdas, dunders.

    A name is data (a column) or a whitelisted call; Python keywords such as ``yield`` are
    column names like any other (formulae never hands names to Python's parser). Backticked
    names are single NAME tokens, so their text never counts as operators.
    """
    toks = _tokens(text)
    operators = 0
    parens: list[bool] = []   # for each open parenthesis: whether it is a call's
    for i, tok in enumerate(toks):
        operators += tok.type == tokenize.OP and tok.string in _BINARY_OPS
        if tok.string in ("(", "{"):
            parens.append(i > 0 and toks[i - 1].type == tokenize.NAME)
        elif tok.string in (")", "}") and parens:
            parens.pop()
        if operators > MAX_OPERATORS:
            raise FormulaError(
                f"The formula has more than {MAX_OPERATORS} operators (+ - * / : ** |); formulas "
                f"may have at most {MAX_OPERATORS} (about as many terms). Use fewer terms, e.g. "
                "summarize many predictors (principal components, sums) before fitting."
            )
        called = i + 1 < len(toks) and toks[i + 1].string == "("
        check_juxtaposed(toks, i, text)
        if tok.string == "**" and tok.type == tokenize.OP and not any(parens):
            check_power(toks[i + 1] if i + 1 < len(toks) else None, tok.start[1], text)
        if tok.string == "," and tok.type == tokenize.OP and not (parens and parens[-1]):
            raise FormulaError(f"',' at column {tok.start[1]} of formula {text!r} is outside a call: "
                               "join terms with '+', as in 'y ~ x + z'.")
        if tok.type == tokenize.NAME and called and tok.string not in ALLOWED_FUNCTIONS | TERM_FUNCTIONS:
            raise FormulaError(f"Function {tok.string!r} is not allowed in a formula. Allowed "
                               f"transforms: {', '.join(sorted(ALLOWED_FUNCTIONS))}.")
        if tok.type == tokenize.OP and tok.string in _COMPARISONS:
            if not any(parens):
                raise FormulaError(
                    f"Comparison {tok.string!r} at column {tok.start[1]} of formula {text!r} must be "
                    "inside a call, as in R: I(x > 3) (a logical, coded FALSE/TRUE).")
            continue
        if tok.type == tokenize.OP and tok.string not in _ALLOWED_OPS:
            raise FormulaError(
                f"Operator {tok.string!r} at column {tok.start[1]} of formula {text!r} is not "
                "allowed: formulas may use column names, numbers, + - * / : ** | and the "
                "whitelisted transforms, not attribute access or indexing."
            )
        if tok.type == tokenize.NAME:
            if any(part.startswith("__") for part in tok.string.split(".")):
                raise FormulaError(f"Name {tok.string!r} is not allowed in a formula.")
        if tok.type not in (tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING):
            raise FormulaError(f"Unexpected {tok.string!r} in formula {text!r}.")
        if tok.type == tokenize.STRING and "*" in (toks[i - 1].string if i else "",
                                                   toks[i + 1].string if i + 1 < len(toks) else ""):
            # I('a' * 10**10) would build a string of that many characters (memory, not a model)
            raise FormulaError(f"A string cannot be multiplied in a formula ({tok.string} * ... in "
                               f"{text[:200]!r}); strings are arguments of transforms, such as "
                               "C(g, levels = ...).")


def _name_roles(text: str):
    toks = _tokens(text)
    for i, tok in enumerate(toks):
        if tok.type != tokenize.NAME:
            continue
        nxt = toks[i + 1].string if i + 1 < len(toks) else ""
        yield tok.string, nxt == "(", nxt == "="


def _identifiers(text: str) -> set[str]:
    return {name for name, _, is_kwarg in _name_roles(text) if not is_kwarg}


def column_names(expr: str) -> list[str]:
    """Identifiers of an expression that are not called or keywords: its candidate columns."""
    seen = {name: None for name, is_call, is_kwarg in _name_roles(expr)
            if not is_call and not is_kwarg and name not in _KEYWORD_VALUES}
    return list(seen)


def call_arguments(parsed: ParsedFormula, functions) -> list[str]:
    """The first argument's text of every call to one of ``functions`` in the formula.

    >>> call_arguments(parse_formula("y ~ scale(log(x), scale=FALSE) + (scale(z) | g)"), {"scale"})
    ['log(x)', 'z']
    """
    return [args[0] for _, args in calls(parsed.text, functions) if args]


def calls(text: str, functions) -> list[tuple[str, list[str]]]:
    """(call text, [argument texts]) of every call to one of ``functions`` in ``text``.

    >>> calls("y ~ poly(x, 3) + log(z) + (poly(w, degree=2) | g)", {"poly"})
    [('poly(x, 3)', ['x', '3']), ('poly(w, degree=2)', ['w', 'degree=2'])]
    """
    toks = _tokens(text)
    out = []
    for i, tok in enumerate(toks[:-1]):
        if tok.type != tokenize.NAME or tok.string not in functions or toks[i + 1].string != "(":
            continue
        depth, start, args = 0, toks[i + 1].end[1], []
        for t in toks[i + 1:]:
            depth += t.string in ("(", "[", "{")
            depth -= t.string in (")", "]", "}")
            if depth == 0 or (depth == 1 and t.string == ","):
                args.append(text[start:t.start[1]].strip())
                start = t.end[1]
            if depth == 0:
                out.append((text[tok.start[1]:t.end[1]], args))
                break
    return out
