"""What each response family needs of the data, and its parameters besides the mean.

One table for every stage: the model frame validates the response with
:data:`RESPONSE` (:func:`check_family_response`), the Bayesian engine reads the
auxiliary parameters from :data:`AUXILIARY` (the names Bambi gives them in the
posterior, with Bambi's default priors), and the summary lists them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError
from multilevel.formula.validate import check_counts

# The family's parameters besides the mean, as named in Bambi's posterior.
AUXILIARY = {
    "gaussian": ("sigma",), "t": ("sigma", "nu"), "negativebinomial": ("alpha",),
    "bernoulli": (), "binomial": (), "poisson": (), "gamma": ("alpha",),
    "beta": ("kappa",), "exponential": (), "weibull": ("alpha",), "laplace": ("b",),
    "zero_inflated_poisson": ("psi",),
    "zero_inflated_negativebinomial": ("alpha", "psi"), "hurdle_poisson": ("psi",),
    "hurdle_negativebinomial": ("alpha", "psi"), "hurdle_gamma": ("alpha", "psi"),
    "beta_binomial": ("kappa",), "zero_inflated_binomial": ("psi",),
    "wald": ("lam",), "lognormal": ("sigma",), "hurdle_lognormal": ("sigma", "psi"),
    "cumulative": ("threshold",), "sratio": ("threshold",), "categorical": (),
}
# Bambi 0.21 families this package does not fit, and why (check_family says so).
UNSUPPORTED = {
    "multinomial": (
        "its response is several count columns per row (Bambi's c(y1, y2, ...)), which an lme4 "
        "formula's single response column does not express"),
    "dirichlet_multinomial": (
        "its response is several count columns per row (Bambi's c(y1, y2, ...)), which an lme4 "
        "formula's single response column does not express"),
    "vonmises": (
        "its response is an angle: the mean lives on the circle (tan-half link), while this "
        "package's predictions, posterior predictive checks and effects treat the response as "
        "a line"),
    "exgaussian": "it is not brought through the package's path yet (use 'gaussian', 't' or 'lognormal')",
    "asymmetriclaplace": (
        "it is quantile regression (a fixed quantile q), which the package's predictions and "
        "summaries do not represent yet"),
}
# Ordered categorical responses: thresholds (one per boundary between categories) take
# the intercept's place.
ORDINAL_FAMILIES = ("cumulative", "sratio")
# Families whose response is successes out of trials (cbind(s, f) or p(s, n)).
TRIALS_FAMILIES = ("binomial", "beta_binomial", "zero_inflated_binomial")
# Unordered categorical responses: one linear predictor per non-reference category
# (multilevel.formula.categorical, multilevel.bayes.categorical).
CATEGORICAL_FAMILIES = ("categorical",)

# What the response must be: "real", "positive", "nonnegative", "unit" (strictly between 0 and 1),
# "counts" (non-negative whole numbers); bernoulli and binomial are read elsewhere.
RESPONSE = {
    "gaussian": "real", "t": "real", "laplace": "real",
    "gamma": "positive", "exponential": "positive", "weibull": "positive",
    "wald": "positive", "lognormal": "positive", "hurdle_lognormal": "nonnegative",
    "beta": "unit",
    "poisson": "counts", "negativebinomial": "counts", "zero_inflated_poisson": "counts",
    "zero_inflated_negativebinomial": "counts", "hurdle_poisson": "counts",
    "hurdle_negativebinomial": "counts", "hurdle_gamma": "nonnegative",
}


def check_family_response(y: np.ndarray, family: str, name: str) -> None:
    """Refuse a response outside the family's support, naming the column.

    Examples
    --------
    >>> check_family_response(np.array([0.2, 0.9]), "beta", "share")
    >>> check_family_response(np.array([0.2, 1.0]), "beta", "share")
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: Response column 'share' must lie strictly between 0 and 1 ...
    """
    kind = RESPONSE.get(family, "real")
    if kind == "counts":
        check_counts(y, family, name)
        return
    if kind == "positive":
        bad = y <= 0
        need = "must be positive"
    elif kind == "nonnegative":
        bad = y < 0
        need = "must be non-negative (zeros, and positive amounts)"
    elif kind == "unit":
        bad = (y <= 0) | (y >= 1)
        need = "must lie strictly between 0 and 1"
    else:
        return
    if bad.any():
        shown = ", ".join(f"{v:g}" for v in np.unique(y[bad])[:5])
        hint = (" (proportions of exactly 0 or 1: squeeze them, e.g. (y * (n - 1) + 0.5) / n, "
                "or model the counts with family='binomial')") if kind == "unit" else ""
        raise DataError(
            f"Response column {name!r} {need} for family {family!r}; {int(bad.sum())} row(s) "
            f"have other values ({shown}){hint}."
        )


def discrete_response(family: str) -> bool:
    """Whether the response takes whole values (counts, successes, 0/1, ordered categories):
    posterior predictive checks draw bars for these, histograms otherwise."""
    return (RESPONSE.get(family) == "counts" or family in TRIALS_FAMILIES
            or family in ("bernoulli", *ORDINAL_FAMILIES, *CATEGORICAL_FAMILIES))


def category_scores(categories) -> np.ndarray:
    """The number each ordered category stands for (the response's values in the design,
    predictions and plots): its value when the categories are numbers (ratings 1-5), else
    its position 1..K. Increasing, so a score's code is its rank.

    Examples
    --------
    >>> category_scores((1, 2, 9)).tolist(), category_scores(("low", "high")).tolist()
    ([1.0, 2.0, 9.0], [1.0, 2.0])
    """
    if all(isinstance(c, (int, float, np.integer, np.floating)) and not isinstance(c, bool)
           for c in categories):
        return np.asarray(categories, dtype=float)
    return np.arange(1.0, len(categories) + 1.0)


def ordinal_codes(scores: np.ndarray, categories) -> np.ndarray:
    """Category codes 0..K-1 of responses given as scores (:func:`category_scores`)."""
    return np.searchsorted(category_scores(categories), np.asarray(scores, dtype=float))


def check_every_category_occurs(codes, levels, name: str, because: str, merge_with: str) -> None:
    """Refuse a category of the response without rows, naming it: ``because`` says what
    the model cannot identify then, ``merge_with`` what to merge it with."""
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=len(levels))
    if np.any(counts == 0):
        empty = [str(levels[i]) for i in np.flatnonzero(counts == 0)]
        raise DataError(
            f"Response column {name!r}: categor{'y' if len(empty) == 1 else 'ies'} "
            f"{', '.join(map(repr, empty))} of {list(map(str, levels))} ha"
            f"{'s' if len(empty) == 1 else 've'} no rows, so {because}. Drop it "
            f"(Series.cat.remove_unused_categories()) or merge it with {merge_with}."
        )


def ordinal_response(column: pd.Series, family: str, name: str) -> tuple[np.ndarray, tuple]:
    """Category codes (0 .. K-1) and the categories in their order, of an ordinal response.

    The order is the categories' order of an *ordered* pandas Categorical, or the numeric
    order of whole numbers (ratings 1-5). Strings, unordered categoricals and booleans are
    refused: their order would be a guess (alphabetical order puts "high" before "low").
    Every category must occur and there must be at least three (two: family='bernoulli').

    Examples
    --------
    >>> codes, levels = ordinal_response(pd.Series([3, 1, 2, 3]), "cumulative", "rating")
    >>> codes.tolist(), levels
    ([2.0, 0.0, 1.0, 2.0], (1, 2, 3))
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        if not column.dtype.ordered:
            raise DataError(
                f"Response column {name!r} is an unordered categorical; family {family!r} needs "
                "the categories' order: make it ordered, e.g. "
                f"data[{name!r}] = pd.Categorical(data[{name!r}], categories=[lowest, ..., highest], "
                "ordered=True)."
            )
        levels = tuple(column.cat.categories)
        codes = column.cat.codes.to_numpy()
    elif pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        codes, levels = whole_number_codes(
            column, lambda shown: DataError(
                f"Response column {name!r} has non-integer values; family {family!r} reads numbers "
                "as ordered categories (ratings 1, 2, 3, ...): use whole numbers or an ordered "
                "pandas Categorical."))
    else:
        raise DataError(
            f"Response column {name!r} has type {column.dtype}; family {family!r} needs ordered "
            "categories: an ordered pandas Categorical (pd.Categorical(values, categories=[lowest, "
            "..., highest], ordered=True)) or whole numbers, whose numeric order is used."
        )
    check_every_category_occurs(codes, levels, name, "the thresholds around it are not identified",
                                "a neighbour")
    if len(levels) < 3:
        raise DataError(
            f"Response column {name!r} has {len(levels)} categories; family {family!r} needs at "
            "least 3 (for two, use family='bernoulli')."
        )
    return codes.astype(float), levels


def whole_number_codes(column: pd.Series, error) -> tuple[np.ndarray, tuple[int, ...]]:
    """A numeric response read as category labels: codes in numeric order and the levels.

    ``error(shown)`` builds the exception for non-integer values (``shown``: a few of them).
    """
    values = column.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
        shown = ", ".join(f"{v:g}" for v in np.unique(values[values != np.round(values)])[:3])
        raise error(shown)
    numbers = np.unique(values)
    return np.searchsorted(numbers, values).astype(np.int64), tuple(int(v) for v in numbers)
