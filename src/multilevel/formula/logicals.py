"""Logical predictors as R has them: factors with the levels ``FALSE`` and ``TRUE``.

R's ``model.matrix`` codes a logical column as a factor, so lme4 names its coefficient
``flagTRUE``, and a logical inside an interaction gets the factor codings
(``flag + x:flag`` has the columns ``flagTRUE``, ``flagFALSE:x`` and ``flagTRUE:x``: four
columns, not three). formulae (and so Bambi) would use a bool column as the numbers 0/1:
another model. The model frame therefore turns every bool column that the formula uses as
a variable into a categorical with the categories ``["FALSE", "TRUE"]``
(:func:`logicals_as_factors`), and the design does the same to new data, so that both
engines and every prediction see R's factor. Inside a call (``I(x * flag)``,
``log1p(flag)``) R computes with the logical as 0/1, and so do we: such a column stays
bool. A boolean response (family ``bernoulli``) is not a predictor and stays as it is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError, FormulaError

LEVELS = ("FALSE", "TRUE")   # R's levels of a logical, in its order


def logical_predictors(texts, data: pd.DataFrame) -> tuple[str, ...]:
    """The bool columns of ``data`` that the formula texts use as variables (bare or in ``C()``).

    Parameters
    ----------
    texts : iterable of str
        The fixed part and the bars' left-hand sides.
    data : DataFrame

    Raises
    ------
    FormulaError
        A bool column used both as a variable (a factor) and inside a call (numbers 0/1):
        one column cannot be both to formulae.

    Examples
    --------
    >>> data = pd.DataFrame({"x": [1.0, 2.0], "flag": [True, False], "on": [False, True]})
    >>> logical_predictors(["x + flag + I(x * on)"], data)
    ('flag',)
    """
    bare, called = _variables(texts)
    bools = [c for c in data.columns if (c in bare or c in called) and _is_bool(data[c])]
    mixed = [c for c in bools if c in bare and c in called]
    if mixed:
        raise FormulaError(
            f"The logical column(s) {mixed} appear both as a variable (a factor with levels FALSE, "
            "TRUE, as R's model.matrix codes a logical) and inside a call that computes with them "
            "as 0/1. Use one of the two: e.g. a 0/1 copy of the column (data['flag01'] = "
            "data['flag'].astype(int)) for the arithmetic."
        )
    return tuple(c for c in bools if c in bare)


def logicals_as_factors(data: pd.DataFrame, columns) -> pd.DataFrame:
    """``data`` with the bool columns among ``columns`` as categoricals of ``"FALSE"``/``"TRUE"``;
    other columns (and columns already categorical, e.g. an effects grid's) as they are.

    Examples
    --------
    >>> out = logicals_as_factors(pd.DataFrame({"flag": [True, False]}), ["flag"])
    >>> out["flag"].tolist(), list(out["flag"].cat.categories)
    (['TRUE', 'FALSE'], ['FALSE', 'TRUE'])
    """
    convert = [c for c in columns if c in data.columns and _is_bool(data[c])]
    for column in (c for c in columns if c in data.columns and c not in convert):
        other = sorted({str(v) for v in pd.unique(data[column].dropna())} - set(LEVELS))
        if other:   # R: "variable 'flag' was fitted with type "logical" but type ... was supplied"
            raise DataError(f"Column {column!r} is logical in the model (a factor with levels FALSE, "
                            f"TRUE, as in R) but the new data have {other[:5]}: give True/False.")
    if not convert:
        return data
    return data.assign(**{c: pd.Categorical(np.where(data[c].to_numpy(dtype=bool), *LEVELS[::-1]),
                                            categories=list(LEVELS)) for c in convert})


def _is_bool(column: pd.Series) -> bool:
    """A bool column, nullable ``boolean``, or Python bools in an object column."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return False
    if column.dtype == object:
        return len(column) > 0 and bool(column.map(lambda v: isinstance(v, (bool, np.bool_))).all())
    return pd.api.types.is_bool_dtype(column)


def _variables(texts) -> tuple[set[str], set[str]]:
    """(names used as variables or inside ``C()``, names used inside other calls)."""
    import formulae

    bare: set[str] = set()
    called: set[str] = set()
    for text in texts:
        try:
            terms = formulae.model_description(text).common_terms
        except Exception:  # noqa: BLE001 - formulae's own error, with context, comes later
            continue
        for term in terms:
            for component in getattr(term, "components", ()):
                if type(component).__name__ == "Variable" or component.name.startswith("C("):
                    bare |= set(component.var_names)
                else:
                    called |= set(component.var_names)
    return bare, called
