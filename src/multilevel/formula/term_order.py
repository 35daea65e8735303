"""R's order of the fixed-effect terms: main effects first, then two-way interactions, ...

R's ``terms()`` sorts the expanded terms of a formula by their order (the number of
variables they multiply), keeping the written order within one order, so lme4's
``fixef(lmer(y ~ x*z + f + (1|g)))`` lists ``x, z, f, x:z``. formulae keeps the
expanded terms in the written order (``x, z, x:z, f``). The order is more than
cosmetics: contrasts and hypotheses written as coefficient vectors (lmerTest's
``contest(m, L)``) are positional, and which of two aliased columns is dropped
depends on the column order. :func:`r_term_order` rewrites the fixed part so that
formulae, and Bambi, which gets the same text, build the columns in R's order.

Inside an interaction R orders the variables by their first appearance in the formula,
whatever the order written in the term: ``y ~ x + f:x`` has the term ``x:f`` and the
columns ``x:fb``, ``x:fc``, and ``y ~ flag + x:flag`` has ``flagFALSE:x``. The rewrite
spells each interaction with its variables in that order, so the coefficient names are
lme4's (formulae's choice between full and contrast coding of a factor does not depend
on the order of the variables in a term: tests/test_r_model_matrix.py checks the columns
against R's ``model.matrix``).
"""

from __future__ import annotations

import tokenize


def r_term_order(fixed: str) -> str:
    """``fixed`` with its expanded terms in R's order, or ``fixed`` itself when that is
    already R's order or formulae cannot read it back unchanged.

    Examples
    --------
    >>> r_term_order("x*z + f")
    '1 + x + z + f + x:z'
    >>> r_term_order("0 + a:b + c")
    '0 + c + a:b'
    >>> r_term_order("x + I(x ** 2)")
    'x + I(x ** 2)'
    >>> r_term_order("x + f:x")
    '1 + x + x:f'
    >>> r_term_order("f/x")
    '1 + f + f:x'
    """
    labels = r_term_labels(fixed)
    if labels is None:
        return fixed   # formulae's own error, with the model's context, comes later
    intercept, ordered, named = labels
    if ordered == named and not _nests(fixed):
        return fixed
    text = " + ".join(["1" if intercept else "0", *(name for name, _ in ordered)])
    # the rewrite must read back as the same terms (a name formulae spells differently
    # from its input, e.g. a backticked column, would not): else keep what was written
    back = _expanded_terms(text)
    return text if back is not None and (back[0], [(":".join(p), len(p)) for p in back[1]]) == (
        intercept, ordered) else fixed


def r_term_labels(fixed: str):
    """(has an intercept, R's terms as (label, order) in R's order, the same as formulae
    expands and orders them), or None when formulae cannot parse ``fixed``.

    R's ``terms()`` labels: ``f * x`` has ``f``, ``x``, ``f:x``; ``(x + z)^2 - x`` has ``z``,
    ``x:z``.

    >>> r_term_labels("f * x")[1]
    [('f', 1), ('x', 1), ('f:x', 2)]
    """
    terms = _expanded_terms(fixed)
    if terms is None:
        return None
    intercept, written = terms
    # each variable's first appearance, as R's terms() lists the variables: in the formula
    # as written, removed terms included (y ~ f*x - f has the term f:x, not x:f)
    every = _expanded_terms(_removals_kept(fixed))
    first = {}
    for parts in (every[1] if every is not None else []) + written:
        for part in parts:
            first.setdefault(part, len(first))
    named = [(":".join(parts), len(parts)) for parts in written]
    ordered = sorted(((":".join(sorted(parts, key=first.__getitem__)), len(parts)) for parts in written),
                     key=lambda term: term[1])   # stable: the written order within an order
    return intercept, ordered, named


def _removals_kept(fixed: str) -> str:
    """``fixed`` with each ``-`` between terms made ``+``: its terms are those of every
    variable the formula names, removed ones included, in the written order.

    >>> _removals_kept("f*x - f - 1 + log(x - 1)")
    'f*x + f + 1 + log(x - 1)'
    """
    tokens = _tokens_outside_calls(fixed)
    if tokens is None:   # the model's own parse reports the problem
        return fixed
    out = list(fixed)
    for tok in tokens:
        if tok.string == "-" and tok.start[0] == 1:
            out[tok.start[1]] = "+"
    return "".join(out)


def _nests(fixed: str) -> bool:
    """Whether ``fixed`` has R's nesting operator (``f/x``, ``(a + b)/c``) outside a call.

    formulae expands ``f/x`` to R's terms ``f + f:x`` and builds R's columns, but labels
    the ``f`` term as if it spanned the intercept (three labels for its two columns), so
    every name after it was shifted by one (``f10``, ``f11``, ``f9``, ``f10:x``, ``f11:x`` for
    lme4's ``f11``, ``f9``, ``f10:x``, ``f11:x``, ``f9:x``). The expanded terms, written out,
    are labelled right.
    """
    tokens = _tokens_outside_calls(fixed)   # None: the model's own parse reports the problem
    return tokens is not None and any(tok.string == "/" for tok in tokens)


def _tokens_outside_calls(fixed: str) -> list | None:
    """The tokens of ``fixed`` that are not inside a call's parentheses (``log(x - 1)``'s
    ``-`` is the call's); None when ``fixed`` does not tokenize."""
    from multilevel.formula.names import formula_tokens

    try:
        tokens = formula_tokens(fixed)
    except Exception:  # noqa: BLE001 - the caller leaves the text to the model's own parse
        return None
    out, calls, depth = [], [], 0   # calls: the depths at which a call's parenthesis opened
    for i, tok in enumerate(tokens):
        if tok.string == "(":
            depth += 1
            if i and tokens[i - 1].type == tokenize.NAME:
                calls.append(depth)
        elif tok.string == ")":
            if calls and calls[-1] == depth:
                calls.pop()
            depth -= 1
        elif not calls:
            out.append(tok)
    return out


def _expanded_terms(fixed: str):
    """(has an intercept, [the names of each term's variables]) as formulae expands
    ``fixed``; ``None`` when formulae cannot parse it."""
    import formulae

    try:
        model = formulae.model_description(fixed)
    except Exception:  # noqa: BLE001 - formulae raises several unrelated types
        return None
    intercept, named = False, []
    for term in model.common_terms:
        components = getattr(term, "components", None)
        if components is None:   # formulae's Intercept
            intercept = True
            continue
        names = tuple(component.name for component in components)
        if not all(isinstance(name, str) for name in names):   # a column named None, ...
            return None
        named.append(names)
    return intercept, named
