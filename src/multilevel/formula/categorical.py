"""Unordered categorical responses (``family="categorical"``): the categories and their codes.

The response may be a pandas Categorical (its categories' order, ordered or not), strings or
booleans (sorted, as R's ``factor()`` and formulae sort them) or whole numbers (numeric order).
The first category is the reference (brms and Bambi): its linear predictor is 0, and every
other category has one of its own (:mod:`multilevel.bayes.categorical`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError
from multilevel.formula.families import check_every_category_occurs, whole_number_codes


def categorical_response(column: pd.Series, name: str) -> tuple[np.ndarray, tuple]:
    """Category codes (0 .. K-1) and the categories in order, of an unordered response.

    Every category must occur (a category without rows has no identified linear predictor)
    and there must be at least two. Numbers must be whole (labels such as 1, 2, 3);
    a continuous response is refused.

    Examples
    --------
    >>> codes, levels = categorical_response(pd.Series(["b", "a", "c", "a"]), "species")
    >>> codes.tolist(), levels
    ([1, 0, 2, 0], ('a', 'b', 'c'))
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        levels = tuple(column.cat.categories)
        codes = column.cat.codes.to_numpy().astype(np.int64)
    elif pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        values = column.astype(str) if not pd.api.types.is_bool_dtype(column) else column
        levels = tuple(sorted(pd.unique(values)))
        codes = pd.Categorical(values, categories=list(levels)).codes.astype(np.int64)
    else:
        codes, levels = whole_number_codes(column, lambda shown: DataError(
            f"Response column {name!r} has non-integer values ({shown}); family 'categorical' "
            "needs categories: strings, a pandas Categorical, or whole numbers used as labels. "
            "For a continuous response choose another family (e.g. 'gaussian')."))
    check_every_category_occurs(codes, levels, name, "its linear predictor is not identified",
                                "another")
    if len(levels) < 2:
        raise DataError(
            f"Response column {name!r} has a single category ({levels[0]!r}); family "
            "'categorical' needs at least 2."
        )
    return codes, levels
