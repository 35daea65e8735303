"""Checks on the data a model is about to be fitted to, shared by every method.

Each function refuses one kind of input that would otherwise give a silently wrong
number (NaN estimates, a column dropped as "rank deficient", merged groups, σ = 0) or
a raw exception from an engine, with a :class:`~multilevel.errors.DataError` that names
the column or term and says what to do. :func:`multilevel.formula.model_frame` and
:func:`multilevel.formula.build_design` call them, so REML, ML, OLS, GLM(M) and
Bayesian fits see the same checks before any engine runs.
"""

from __future__ import annotations

import numpy as np

from multilevel.errors import DataError
from multilevel.formula.names import CONSTANTS as CONSTANT_NAMES

# Bambi names the model's parameters after the family's parameters and the intercept;
# a used column with one of these names collides with them (PyMC: "Variable name sigma
# already exists"; formulae: a column named Intercept silently replaces the intercept).
FAMILY_PARAMETERS = {
    "gaussian": ("mu", "sigma"),
    "t": ("mu", "sigma", "nu"),
    "bernoulli": ("p",),
    "binomial": ("p",),
    "poisson": ("mu",),
    "negativebinomial": ("mu", "alpha"),
    "gamma": ("mu", "alpha"),
    "beta": ("mu", "kappa"),
    "exponential": ("mu",),
    "weibull": ("mu", "alpha"),
    "laplace": ("mu", "b"),
    "zero_inflated_poisson": ("mu", "psi"),
    "zero_inflated_negativebinomial": ("mu", "alpha", "psi"),
    "hurdle_poisson": ("mu", "psi"),
    "hurdle_negativebinomial": ("mu", "alpha", "psi"),
    "hurdle_gamma": ("mu", "alpha", "psi"),
    "beta_binomial": ("mu", "kappa"),
    "zero_inflated_binomial": ("p", "psi"),
    "wald": ("mu", "lam"),
    "lognormal": ("mu", "sigma"),
    "hurdle_lognormal": ("mu", "sigma", "psi"),
    "cumulative": ("p", "threshold"),
    "sratio": ("p", "threshold"),
    "categorical": ("p",),
}
RESERVED_ALWAYS = ("Intercept",)

# Values beyond these magnitudes overflow (or underflow) the squares and cross products
# every engine forms (column norms, X'X, the scaling of predictors): refuse, say rescale.
MAX_ABS = 1e100
MIN_ABS = 1e-100


def reserved_names(family: str, derived=()) -> tuple[str, ...]:
    """Column names a model of ``family`` may not use (see :data:`FAMILY_PARAMETERS`)."""
    return (*RESERVED_ALWAYS, *FAMILY_PARAMETERS.get(family, ()), *derived)


def check_reserved(used, family: str, derived=()) -> None:
    """Refuse used columns whose names the model's parameters (or derived columns) take.

    Examples
    --------
    >>> check_reserved(["y", "x"], "gaussian")
    >>> check_reserved(["y", "Intercept"], "gaussian")
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: Column 'Intercept' has a name reserved ...
    """
    reserved = reserved_names(family, derived)
    for name in used:
        if name in reserved:
            raise DataError(
                f"Column {name!r} has a name reserved for the model's own terms and parameters "
                f"({', '.join(reserved)} with family {family!r}): it would collide with them. "
                f"Rename it, e.g. data.rename(columns={{{name!r}: {name + '_value'!r}}})."
            )


# Python types of an object column's values that formulae codes (numbers, or categories)
_VALUE_KINDS = frozenset({"number", "str", "bool", "bool_"})



def check_constant_names(used) -> None:
    """Refuse used columns named like a constant: formulae would read ``y ~ True`` as the
    intercept (the column silently left out) and ``(1 | True)`` as no column at all.

    Examples
    --------
    >>> check_constant_names(["y", "x"])
    >>> check_constant_names(["y", "TRUE"])
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: Column 'TRUE' has the name of a constant ...
    """
    for name in used:
        if name in CONSTANT_NAMES:
            raise DataError(
                f"Column {name!r} has the name of a constant ({', '.join(CONSTANT_NAMES)}), which "
                "a formula reads as that value, not as the column. Rename it, e.g. "
                f"data.rename(columns={{{name!r}: {name + '_value'!r}}})."
            )


def check_value_columns(data, columns) -> None:
    """Refuse columns used as values that formulae cannot make numbers or contrasts of:
    dates and times, and object columns that mix types (``1`` beside ``"a"``).

    As grouping factors they are fine (their values are labels).
    """
    import pandas as pd

    for name in columns:
        dtype = data[name].dtype
        if pd.api.types.is_complex_dtype(dtype):
            raise DataError(f"Column {name!r} holds complex numbers ({dtype}); a model needs real "
                            "numbers. Use its real part, modulus or angle as separate columns.")
        if dtype == object:
            kinds = {"number" if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                     else type(v).__name__ for v in data[name].dropna()}
            if len(kinds) > 1:
                raise DataError(
                    f"Column {name!r} mixes values of types {', '.join(sorted(kinds))}: convert it "
                    "to one type first, e.g. data[col].astype(str) for categories or "
                    "pd.to_numeric(data[col]) for numbers."
                )
            if kinds - _VALUE_KINDS:   # bytes, lists, dicts, ...: formulae has no coding for them
                raise DataError(
                    f"Column {name!r} holds values of type {kinds.pop()}, which a formula can use "
                    "neither as numbers nor as categories: convert it first, e.g. "
                    "data[col].astype(str) for categories or pd.to_numeric(data[col]) for numbers."
                )
        if isinstance(dtype, (pd.PeriodDtype, pd.IntervalDtype)):
            raise DataError(
                f"Column {name!r} holds {dtype} values, which a formula cannot use as numbers: "
                "convert it first, e.g. data[col].astype(str) (or pd.Categorical) for categories, "
                "or a number such as the period's or interval's start."
            )
        if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            raise DataError(
                f"Column {name!r} holds dates or times ({dtype}), which a formula cannot use as "
                "numbers. Convert it first: e.g. (data[col] - data[col].min()).dt.days for days "
                "since the start, or data[col].dt.year, or .astype(str) for categories."
            )


def check_unique_columns(columns, used) -> None:
    """Refuse data with two columns of one name that the formula uses: which one is meant?"""
    counts = {}
    for c in columns:
        counts[c] = counts.get(c, 0) + 1
    twice = [c for c in used if counts.get(c, 0) > 1]
    if twice:
        raise DataError(f"The data have {counts[twice[0]]} columns named {twice[0]!r}: rename "
                        "them so that each name is one column.")


def check_finite(values: np.ndarray, names, what: str) -> None:
    """Refuse inf, -inf or NaN in a matrix (or vector) computed from the data.

    ``values`` holds the columns after the formula's transforms (``log(y)`` with y = 0
    gives -inf); ``names`` labels its columns. Missing values in the data were dropped
    before, so anything not finite here came from the data's infinities or a transform.
    """
    values = np.asarray(values, dtype=float)
    matrix = values.reshape(len(values), -1)
    bad = ~np.isfinite(matrix)
    if not bad.any():
        return
    names = list(names) if names is not None else []
    worst = int(np.argmax(bad.sum(axis=0)))
    column = names[worst] if worst < len(names) else what
    rows = int(bad.any(axis=1).sum())
    kinds = sorted({"inf" if v > 0 else "-inf" if v < 0 else "NaN" for v in matrix[bad]})
    raise DataError(
        f"{rows} of {len(matrix)} rows have non-finite values ({', '.join(kinds)}) in {what} "
        f"{column!r}. Infinite data values, or a transform outside its domain (log or sqrt of "
        "values <= 0, ...), give estimates that are NaN or wrong. Remove or fix those rows, or "
        "change the transform (e.g. log1p(y) or log(y + 1) for zeros)."
    )


def check_scale(values: np.ndarray, names, what: str) -> None:
    """Refuse columns whose magnitude would overflow or underflow the engines' arithmetic."""
    matrix = np.abs(np.asarray(values, dtype=float).reshape(len(values), -1))
    if matrix.size == 0:
        return
    biggest = matrix.max(axis=0)
    names = list(names) if names is not None else []
    for j, top in enumerate(biggest):
        if top > MAX_ABS or 0 < top < MIN_ABS:
            column = names[j] if j < len(names) else what
            raise DataError(
                f"{what} {column!r} has values of magnitude {top:.3g}: beyond "
                f"[{MIN_ABS:g}, {MAX_ABS:g}] its squares over- or underflow and the fit would "
                "be wrong (a column silently dropped as rank deficient, NaN estimates). Rescale "
                f"it, e.g. divide it by {10.0 ** np.floor(np.log10(top)):g}."
            )


def check_response(y: np.ndarray, family: str, name: str, trials=None) -> None:
    """Refuse responses whose estimates would be degenerate for ``family``.

    A constant gaussian (or t) response has σ = 0; a constant 0/1 response (glmer:
    "Response is constant") or all-zero counts put the intercept at ±∞.
    """
    y = np.asarray(y, dtype=float).reshape(-1)
    if len(y) == 0:
        return
    if family in ("gaussian", "t"):
        spread = float(np.ptp(y))
        if spread <= 1e-12 * float(np.max(np.abs(y))):
            raise DataError(
                f"Response {name!r} is constant ({y[0]:g} in every used row): the residual SD "
                "would be 0 and nothing can be estimated. Check the data and the rows used."
            )
    elif family in ("bernoulli", "binomial", "beta_binomial", "zero_inflated_binomial"):
        share = y if trials is None else y / np.asarray(trials, dtype=float)
        if np.all(share == share[0]) and share[0] in (0.0, 1.0):
            outcome = "success" if share[0] == 1.0 else "failure"
            raise DataError(
                f"Response is constant: {name!r} is a {outcome} in every used row, so the "
                "estimates would be infinite (glmer refuses it the same way). Check the data "
                "and the rows used."
            )
    elif family in ("poisson", "negativebinomial", "zero_inflated_poisson",
                    "zero_inflated_negativebinomial", "hurdle_poisson", "hurdle_negativebinomial"):
        if np.all(y == 0):
            raise DataError(
                f"Response {name!r} is 0 in every used row: the log rate would be -infinite. "
                "Check the data and the rows used."
            )


def check_glmm_response_varies(y: np.ndarray, name: str, trials=None) -> None:
    """Refuse a GLMM response with one value (a proportion of the trials for binomial data):
    glmer stops with "Response is constant" (lme4's ``check.response.not.const``), whatever
    the value. Without random effects R's glm fits it; the Bayesian model, whose priors
    identify it, is not checked here.

    Examples
    --------
    >>> check_glmm_response_varies(np.array([1.0, 3.0]), "n")
    >>> check_glmm_response_varies(np.array([3.0, 3.0]), "n")
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: Response 'n' is constant (3 in every used row)...
    """
    y = np.asarray(y, dtype=float).reshape(-1)
    share = y if trials is None else y / np.asarray(trials, dtype=float)
    if len(share) and np.all(share == share[0]):
        what = " as a share of the trials" if trials is not None else ""
        raise DataError(
            f"Response {name!r} is constant ({share[0]:g}{what} in every used row): glmer refuses "
            "it (\"Response is constant\", lme4's check.response.not.const). Check the data and "
            "the rows used, or fit method='bayes', whose priors identify the model."
        )


def check_counts(y: np.ndarray, family: str, name: str) -> None:
    """Counts must be non-negative whole numbers (to 1e-8, relative)."""
    y = np.asarray(y, dtype=float).reshape(-1)
    negative = y < 0
    fractional = np.abs(y - np.round(y)) > 1e-8 * np.maximum(1.0, np.abs(y))
    bad = negative | fractional
    if bad.any():
        shown = ", ".join(f"{v:g}" for v in np.unique(y[bad])[:5])
        raise DataError(
            f"Response {name!r} must hold non-negative whole counts for family {family!r}; "
            f"{int(bad.sum())} row(s) have other values ({shown})."
        )


def check_residual_df(n: int, rank: int, what: str = "fixed effects") -> None:
    """Refuse a design with as many identified fixed-effect columns as rows."""
    if rank >= n:
        raise DataError(
            f"The {what} have {rank} identified columns for {n} rows: nothing is left to "
            "estimate the residual variation. Use fewer terms (fewer basis centres, fewer "
            "factor levels) or more data."
        )


def check_group_effect_count(terms, n: int, family: str) -> None:
    """Refuse a term with at least as many group effects (levels x columns) as rows.

    lme4's ``check.nobs.vs.nRE``: for a linear mixed model (gaussian, and t in the Bayesian
    path) ``n <= levels * columns`` stops, as the group-effect variances and the residual
    variance are then not identified; a GLMM (no residual variance) stops only at
    ``n < levels * columns``. ``terms`` are (source, group, levels, columns) tuples.

    Examples
    --------
    >>> check_group_effect_count([("(x | g)", "g", 15, 2)], 31, "gaussian")
    >>> check_group_effect_count([("(x | g)", "g", 15, 2)], 30, "poisson")
    >>> check_group_effect_count([("(x | g)", "g", 15, 2)], 30, "gaussian")
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: Term '(x | g)' has 30 group effects ...
    """
    lmm = family in ("gaussian", "t")
    for source, group, levels, columns in terms:
        effects = levels * columns
        if effects > n or (lmm and effects == n):
            raise DataError(
                f"Term {source!r} has {effects} group effects ({levels} levels of {group!r} x "
                f"{columns} column{'s' if columns > 1 else ''}) for {n} rows: the group-effect "
                f"variances{' and the residual variance' if lmm else ''} are not identified "
                "(lme4's check.nobs.vs.nRE stops here too). Drop columns from the term (e.g. "
                "keep the intercept only), use a coarser grouping factor, or collect more rows."
            )


def check_unique_labels(labels, values, group: str) -> None:
    """Refuse group levels whose labels coincide although their values differ.

    Levels are matched by their text labels when predicting (and by Bambi), so two
    values spelled alike (``1`` and ``"1"``; ``"a:b"``/``"c"`` and ``"a"``/``"b:c"`` in an
    interaction) would be one group in one place and two in another.
    """
    seen: dict[str, object] = {}
    for label, value in zip(labels, values):
        if label in seen:
            raise DataError(
                f"Grouping factor {group!r} has different values that read alike, "
                f"{seen[label]!r} and {value!r} (both {label!r}): they would be merged or split "
                "inconsistently between fitting and prediction. Make the column's values "
                "distinct strings (e.g. data[col].astype(str)), or remove ':' from values of "
                "factors used in interactions."
            )
        seen[label] = value
