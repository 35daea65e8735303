"""R's factors in formulas: the conversions ``factor()``, ``as.factor()``, ``relevel()``
and ``as.numeric()``, and R's contrasts ``C(f, contr.sum)``, ``contr.helmert``,
``contr.poly``, ``contr.treatment`` and ``contr.SAS``.

The conversions label levels as R prints them and hand formulae the level order (formulae
sorts the labels of a plain categorical as text). For the contrasts:

R codes a factor in a model with an intercept by its contrast matrix and names the
columns as R's ``C()`` does: ``C(f, contr.sum)1, 2, ...`` (sum-to-zero and Helmert
contrasts have no column names, so R numbers them), ``C(f, contr.poly).L, .Q, .C, ^4``,
``C(f, contr.treatment)2, 3, ...`` (the level's position) and ``C(f, contr.SAS)1, 2,
...``. Where a factor must span the intercept (no intercept, or an interaction whose
margin is absent), R uses one indicator column per level, named by the level, whatever
the contrast. :class:`RContrast` gives formulae these matrices and labels; ``C()``
(:func:`r_C`) takes them, or formulae's own ``Sum``/``Treatment``.
"""

from __future__ import annotations

import tokenize
import types

import numpy as np
import pandas as pd
from formulae.categorical import CategoricalBox, ContrastMatrix, Encoding

from multilevel.errors import DataError, FormulaError
from multilevel.formula.names import CONTRAST_KINDS as KINDS
from multilevel.formula.names import formula_tokens


class RContrast(Encoding):
    """One of R's contrast functions, as a formulae encoding.

    Examples
    --------
    >>> m = RContrast("sum").code_without_intercept(["a", "b", "c"])
    >>> m.matrix.tolist(), m.labels
    ([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]], ['1', '2'])
    """

    def __init__(self, kind: str):
        if kind not in KINDS:
            raise ValueError(f"unknown contrast {kind!r}")
        self.kind = kind

    def __repr__(self) -> str:
        return f"contr.{self.kind}"

    def code_with_intercept(self, levels):
        return ContrastMatrix(np.eye(len(levels)), [str(level) for level in levels])

    def code_without_intercept(self, levels):
        n = len(levels)
        if self.kind == "treatment":
            return ContrastMatrix(np.eye(n)[:, 1:], [str(k) for k in range(2, n + 1)])
        if self.kind == "SAS":
            return ContrastMatrix(np.eye(n)[:, :-1], [str(k) for k in range(1, n)])
        if self.kind == "sum":
            return ContrastMatrix(np.vstack([np.eye(n - 1), -np.ones(n - 1)]),
                                  [str(k) for k in range(1, n)])
        if self.kind == "helmert":
            matrix = np.zeros((n, n - 1))
            for j in range(n - 1):
                matrix[:j + 1, j] = -1.0
                matrix[j + 1, j] = j + 1.0
            return ContrastMatrix(matrix, [str(k) for k in range(1, n)])
        return ContrastMatrix(poly_contrasts(n), poly_labels(n))


def poly_contrasts(n: int) -> np.ndarray:
    """R's ``contr.poly(n)``: orthonormal polynomials in the scores 1..n, degrees 1..n-1,
    each with a positive last entry (R's signs).

    >>> np.round(poly_contrasts(3), 4).tolist()
    [[-0.7071, 0.4082], [0.0, -0.8165], [0.7071, 0.4082]]
    """
    scores = np.arange(1, n + 1, dtype=float)
    powers = np.vander(scores - scores.mean(), n, increasing=True)
    q, _ = np.linalg.qr(powers)
    q = q[:, 1:]
    q *= np.where(q[-1] < 0, -1.0, 1.0)
    q[np.abs(q) < 1e-15] = 0.0
    return q


def poly_labels(n: int) -> list[str]:
    """``.L``, ``.Q``, ``.C``, ``^4``, ... as R names ``contr.poly`` columns."""
    return [".L", ".Q", ".C", *(f"^{k}" for k in range(4, n))][:n - 1]


def r_C(x, contr=None, how_many=None, levels=None):
    """R's ``C(f, contr)``: the factor ``f`` (a column, ``factor(x)``, or anything R's
    ``as.factor`` reads) coded by one of R's contrasts (``contr.sum``, ...), with R's
    levels and names; with formulae's ``Sum``/``Treatment`` or none, formulae's ``C``.
    ``how.many`` (fewer contrast columns) is not available."""
    from formulae.transforms import C as formulae_C

    if how_many is not None:
        raise FormulaError("C(f, contr, how.many): fewer contrast columns than levels - 1 are not "
                           "available; use the full contrast.")
    if not isinstance(contr, RContrast):
        return formulae_C(x, contr, levels)
    box = x if isinstance(x, CategoricalBox) and x.levels is not None else r_factor(
        x.data if isinstance(x, CategoricalBox) else x, levels=levels)
    return level_box(box.data, contr, box.levels)


def level_box(data, contrast, levels) -> CategoricalBox:
    """formulae's ``CategoricalBox`` with ``levels`` that may include levels absent from
    ``data``: new data with some levels only (predictions for one group), or an empty
    level of ``factor(x, levels = ...)``. formulae's setter would refuse them; what it
    reads afterwards (the fitted levels, new data's values) needs no such equality."""
    box = CategoricalBox(data, contrast, None)
    box._levels = list(levels)
    return box


# ``contr.sum`` in a formula: formulae looks a dotted variable up by its whole name
CONTRASTS = {f"contr.{kind}": RContrast(kind) for kind in KINDS}


def r_level_label(value) -> str:
    """A value as R's ``as.character`` spells it in a factor level: whole numbers without a
    decimal point (``4``, not ``4.0``), other doubles to 15 significant digits (``0.3``,
    not ``0.30000000000000004``), logicals ``TRUE``/``FALSE``."""
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else format(value, ".15g")
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def r_factor(x, levels=None):
    """R's ``factor(x)`` (also ``as.factor``): a categorical with R's levels.

    Numbers and logicals: the distinct values in increasing order (``FALSE`` before
    ``TRUE``), labelled as R prints them, so ``factor(gear)`` has the columns
    ``factor(gear)4`` and ``factor(gear)5`` as in lme4 (and ``10`` comes after ``9``).
    A categorical keeps its category order and drops unused categories (as R's
    ``factor`` of a factor); strings are sorted. ``levels=c(8, 6, 4)`` gives the order
    (the first is the reference); a value outside them is refused (R would make it
    ``NA``). New data are matched to the fitted levels by these labels (formulae
    refuses a level the fit did not see).

    Returns formulae's ``CategoricalBox``: formulae would sort the labels of a plain
    categorical as text.

    Examples
    --------
    >>> r_factor(np.array([4.0, 10.0, 4.0, 0.5])).levels
    ['0.5', '4', '10']
    >>> r_factor(np.array([True, False])).levels, r_factor(np.array([3, 4]), levels=[4, 3]).levels
    (['FALSE', 'TRUE'], ['4', '3'])
    """
    values = pd.Series(np.asarray(x) if not isinstance(x, (pd.Series, pd.Categorical)) else x)
    if values.isna().any():
        raise DataError("factor() got missing values; the rows with a missing value are "
                        "dropped before the formula is evaluated (na='drop').")
    if isinstance(values.dtype, pd.CategoricalDtype):
        distinct = list(values.cat.remove_unused_categories().cat.categories)
        values = values.astype(object)
    else:
        distinct = _distinct_in_order(values)
    labels = [r_level_label(v) for v in (distinct if levels is None else _as_list(levels))]
    if len(set(labels)) < len(labels):
        raise DataError(f"factor() would give two levels the same label ({labels}); convert the "
                        "column to strings first, or list each level once in levels=.")
    data = values.map(r_level_label).to_numpy(dtype=object)
    outside = sorted(set(data) - set(labels))
    if outside:
        raise DataError(f"factor(..., levels = ...) leaves out the value(s) {outside[:5]} of the "
                        f"data (R would make them NA); list every level: {labels + outside}.")
    return level_box(data, None, labels)


class Relevel:
    """R's ``relevel(f, ref)``: the factor ``f`` (or ``factor(x)`` of a column) with the
    level ``ref`` first, as the reference level. A ``ref`` that is not a level of the
    fitted data is refused, as in R; new data may lack it (a prediction for one group).

    >>> Relevel()(np.array([4, 6, 8]), ref="8").levels
    ['8', '4', '6']
    """

    __transform_name__ = "relevel"
    __stateful_transform__ = True

    def __init__(self):
        self.fitted = False

    def __call__(self, x, ref):
        box = r_factor(x.data if isinstance(x, CategoricalBox) else x,
                       levels=x.levels if isinstance(x, CategoricalBox) else None)
        label = r_level_label(ref)
        if label not in box.levels and not self.fitted:
            raise DataError(f"relevel(..., ref = {ref!r}): {label!r} is not a level; the levels "
                            f"are {box.levels}.")
        self.fitted = True
        return level_box(box.data, None, [label, *(lv for lv in box.levels if lv != label)])


def dummy_levels(call_text: str) -> list[str]:
    """The levels that ``dummy(f, levelsToKeep)`` keeps, read from the call's text (they
    name its columns).

    >>> dummy_levels('dummy(f, c("b", "c"))'), dummy_levels("dummy(g, levelsToKeep='x')")
    (['b', 'c'], ['x'])
    """
    import ast

    node = ast.parse(call_text, mode="eval").body
    args = list(node.args[1:]) + [k.value for k in node.keywords if k.arg == "levelsToKeep"]
    if not args:
        return []
    value = args[0]
    items = value.args if isinstance(value, ast.Call) else [value]
    return [r_level_label(ast.literal_eval(item)) for item in items]


class Dummy:
    """lme4's ``dummy(f, levelsToKeep)``: indicator columns of some levels of ``f``, most
    often a group effect for one level only, ``(0 + dummy(f, "b") | g)``.

    One level gives one column (named ``dummy(f, "b")``, as lme4's); several give one
    column per level, in the order asked for (``dummy(f, c("b", "c"))b``, ...). The levels
    must be named: lme4's default without ``levelsToKeep`` (every level but the first) is
    refused, since the levels name the columns. They are fixed when the model is fitted;
    new data may lack some of them.

    >>> Dummy()(np.array(["a", "b", "c", "b"]), "b").tolist()
    [0.0, 1.0, 0.0, 1.0]
    >>> Dummy()(np.array(["a", "b", "c"]), ["b", "c"]).tolist()
    [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    """

    __transform_name__ = "dummy"
    __stateful_transform__ = True

    def __init__(self):
        self.keep = None

    def __call__(self, f, levelsToKeep=None):
        box = r_factor(f.data if isinstance(f, CategoricalBox) else f,
                       levels=f.levels if isinstance(f, CategoricalBox) else None)
        if self.keep is None:
            if levelsToKeep is None:
                raise FormulaError(
                    f'dummy() needs the levels to keep, as in dummy(f, "{box.levels[-1]}") or '
                    f"dummy(f, c({', '.join(chr(34) + v + chr(34) for v in box.levels[1:])})) (the levels are "
                    f"{box.levels}): they name the columns. lme4's default, every level but the "
                    "first, is not available.")
            keep = [r_level_label(v) for v in _as_list(levelsToKeep)]
            unknown = [lv for lv in keep if lv not in box.levels]
            if unknown or not keep:
                raise DataError(f"dummy(..., levelsToKeep = {levelsToKeep!r}): "
                                + (f"{unknown} are not levels; " if unknown else "no level is kept; ")
                                + f"the levels are {box.levels}.")
            self.keep = keep
        values = np.asarray(box.data, dtype=object)
        columns = np.column_stack([(values == lv).astype(np.float64) for lv in self.keep])
        return columns[:, 0] if len(self.keep) == 1 else columns


def r_I(x):
    """R's ``I(x)``: ``x`` as it is, except that a logical (``I(wt > 3)``) is coded as R's
    ``model.matrix`` codes a logical, a factor with levels ``FALSE``, ``TRUE``
    (lme4's column ``I(wt > 3)TRUE``).

    >>> r_I(np.array([1.0, 2.0])).tolist(), r_I(np.array([True, False])).levels
    ([1.0, 2.0], ['FALSE', 'TRUE'])
    """
    values = np.asarray(x)
    if values.dtype == bool and values.ndim == 1:
        return r_factor(values, levels=[False, True])
    return x


def _distinct_in_order(values: pd.Series) -> list:
    """A column's distinct values in R's level order: numbers and logicals increasing,
    anything else sorted as text."""
    distinct = pd.unique(values.to_numpy())
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return list(np.sort(distinct))
    return sorted(distinct, key=str)


def _as_list(levels) -> list:
    return list(levels) if isinstance(levels, (list, tuple, np.ndarray, pd.Index)) else [levels]


def r_as_numeric(x):
    """R's ``as.numeric(x)`` of numbers and logicals: the values as doubles (``TRUE`` is
    1). A categorical or text column is refused: R would return the level codes (or NA),
    which is rarely what was meant.

    Examples
    --------
    >>> r_as_numeric(np.array([True, False])).tolist()
    [1.0, 0.0]
    """
    values = pd.Series(np.asarray(x) if not isinstance(x, (pd.Series, pd.Categorical)) else x)
    if isinstance(values.dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values)):
        raise DataError("as.numeric() takes a numeric or logical column; a factor or text column "
                        "would become level codes. Convert the column in the data instead.")
    return values.to_numpy(dtype=np.float64)


# calls whose first argument becomes a factor
FACTOR_CALLS = frozenset({"factor", "as.factor", "relevel", "C"})


def factor_only_columns(text: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each column that the formula uses only as the first argument of
    ``factor()``, ``as.factor()``, ``relevel()`` or ``C()`` turned into a categorical of
    its values in R's level order.

    The model is the same (the calls give the same columns either way); what changes
    is what the rest of the package reads from the model's data: the effects grids,
    emmeans and the report's figures then treat ``cyl`` of ``factor(cyl)`` as the
    factor it is in the model, not as a number to average or draw a line against.

    Examples
    --------
    >>> frame = pd.DataFrame({"cyl": [6, 4, 8, 4], "wt": [2.0, 3.0, 4.0, 5.0]})
    >>> list(factor_only_columns("mpg ~ factor(cyl) + wt", frame)["cyl"].cat.categories)
    [4, 6, 8]
    """
    tokens = formula_tokens(text)
    as_factor, anywhere = set(), set()
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.NAME or tok.string not in frame.columns:
            continue
        first_argument = (2 <= i < len(tokens) - 1 and tokens[i - 1].string == "("
                          and tokens[i - 2].string in FACTOR_CALLS and tokens[i + 1].string in (")", ","))
        (as_factor if first_argument else anywhere).add(tok.string)
    only = [c for c in as_factor - anywhere if not isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if not only:
        return frame
    out = frame.copy()
    for column in only:
        out[column] = pd.Categorical(out[column], categories=_distinct_in_order(out[column]))
    return out


def categorical_level_order(columns, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each unordered categorical among ``columns`` whose categories are not
    in sorted order made ordered, so that formulae codes it in the category order.

    A pandas categorical is R's factor: lme4 codes ``y ~ f`` by ``levels(f)``, the first
    level the reference, whatever their alphabetical order. formulae sorts the values of
    an unordered categorical as text instead, so ``categories=["r", "q", "p"]`` gave the
    reference ``p`` and the columns ``fq``, ``fr`` where lme4 has ``fq``, ``fp``. formulae
    keeps the order of an ordered categorical (with the same treatment contrasts), so the
    column is marked ordered; the categories not used in the frame's rows are dropped
    first, as lme4's ``model.frame(drop.unused.levels = TRUE)``. A categorical already in
    sorted order is left as it is: formulae's coding of it is R's.

    Examples
    --------
    >>> frame = pd.DataFrame({"f": pd.Categorical(["p", "r"], categories=["r", "q", "p"])})
    >>> list(categorical_level_order(["f"], frame)["f"].cat.categories)
    ['r', 'p']
    """
    out = frame
    for column in columns:
        values = frame[column]
        if not isinstance(values.dtype, pd.CategoricalDtype) or values.cat.ordered:
            continue
        used = values.cat.remove_unused_categories()
        categories = list(used.cat.categories)
        try:
            in_order = categories == sorted(categories)
        except TypeError:   # categories of mixed types: formulae could not sort them either
            in_order = False
        if not in_order:
            out = out.copy() if out is frame else out
            out[column] = used.cat.as_ordered()
    return out


def check_factor_levels(texts, frame: pd.DataFrame, logicals=()) -> None:
    """Refuse a factor with fewer than two levels in the used rows (R's model.matrix: "contrasts
    can be applied only to factors with 2 or more levels"); formulae drops its one column
    silently, so ``y ~ f + x`` with a constant ``f`` was fitted as ``y ~ x``.

    A factor is a text or categorical column used as a variable, or any column that is the
    first argument of ``factor()``, ``as.factor()``, ``relevel()`` or ``C()``. ``texts``: the
    fixed part and the bars' left-hand sides. ``logicals``: bool columns, now factors, which R
    codes by a TRUE column even when constant (then dropped as rank deficient): not refused.

    Examples
    --------
    >>> frame = pd.DataFrame({"f": ["a", "a"], "x": [1.0, 2.0]})
    >>> check_factor_levels(["x + factor(x)"], frame)
    >>> check_factor_levels(["x + f"], frame)
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: Column 'f' is a factor with 1 level ('a') ...
    """
    for column in _factor_uses(texts, frame) - set(logicals):
        levels = pd.unique(frame[column].dropna())
        if len(levels) < 2:
            raise DataError(
                f"Column {column!r} is a factor with {len(levels)} level"
                f"{'' if len(levels) == 1 else 's'} ({', '.join(repr(str(v)) for v in levels)}) "
                "in the rows used; R refuses it too (contrasts need 2 or more levels). Remove it "
                "from the formula, or check the rows that removing missing values left."
            )


def _factor_uses(texts, frame: pd.DataFrame) -> set[str]:
    found: set[str] = set()
    for text in texts:
        tokens = formula_tokens(text)
        calls: list[str | None] = []   # for each open parenthesis: the called name, or None
        for i, tok in enumerate(tokens):
            called = i + 1 < len(tokens) and tokens[i + 1].string == "("
            if tok.string == "(":
                calls.append(tokens[i - 1].string if i and tokens[i - 1].type == tokenize.NAME else None)
            elif tok.string == ")" and calls:
                calls.pop()
            elif tok.type == tokenize.NAME and tok.string in frame.columns and not called:
                inside = [c for c in calls if c is not None]
                dtype = frame[tok.string].dtype
                text_like = not pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
                converted = bool(inside) and inside[-1] in FACTOR_CALLS and tokens[i - 1].string == "("
                if converted or (not inside and text_like):
                    found.add(tok.string)
    return found


# R's conversions under their R names. formulae reads a dotted call ``as.factor(x)`` as
# the attribute ``factor`` of the name ``as`` (as it reads ``np.log(x)``), hence ``as``.
R_CONVERSIONS: dict[str, object] = {
    "factor": r_factor, "relevel": Relevel, "dummy": Dummy, "c": lambda *values: list(values), **CONTRASTS,
    "as": types.SimpleNamespace(factor=r_factor, numeric=r_as_numeric)}
