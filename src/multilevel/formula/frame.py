"""Data + parsed formula → a model frame: the complete rows, checked and typed.

lme4's ``model.frame`` with ``na.action = na.omit``: only the columns the formula
uses are checked for missing values, removed rows are counted and reported, and
grouping factors, the response and binomial trials are validated here so that
the Bayesian and the frequentist paths see the same rows and the same errors.

``scale()`` (R's, :class:`multilevel.formula.transforms.Scale`) takes its mean and SD
from the rows R's ``model.frame`` uses, which include rows dropped afterwards for a
missing value in another column: when rows are dropped, the arguments of the formula's
``scale()``/``center()`` calls (and of ``poly()``, ``ns()``, ``bs()``, whose bases and knots R
also fits there) on those rows travel with the frame's data
(``data.attrs``), so that our design and Bambi's fit them alike.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np
import pandas as pd

from multilevel.errors import DataError, DataWarning, FamilyError, FormulaError, warn
from multilevel.formula.bases import check_poly_degrees
from multilevel.formula.families import (
    CATEGORICAL_FAMILIES,
    ORDINAL_FAMILIES,
    TRIALS_FAMILIES,
    UNSUPPORTED,
    category_scores,
    check_family_response,
    ordinal_response,
)
from multilevel.formula.logicals import logical_predictors, logicals_as_factors
from multilevel.formula.names import constants_as_names
from multilevel.formula.namespace import safe_environment
from multilevel.formula.parse import (
    ParsedFormula,
    call_arguments,
    check_names,
    column_names,
)
from multilevel.formula.rfactors import check_factor_levels, factor_only_columns
from multilevel.formula.transforms import (
    ROW_DEPENDENT_CALLS,
    SCALE_ROWS,
    ScaleRows,
    design_matrices,
)
from multilevel.formula.validate import (
    check_constant_names,
    check_finite,
    check_reserved,
    check_unique_columns,
    check_unique_labels,
    check_value_columns,
)
from multilevel.formula.weights import (
    binomial_proportions,
    check_weights_column,
    weight_values,
)

FAMILIES = ("gaussian", "bernoulli", "binomial", "poisson", "t", "negativebinomial", "gamma",
            "beta", "exponential", "weibull", "laplace", "zero_inflated_poisson",
            "zero_inflated_negativebinomial", "hurdle_poisson", "hurdle_negativebinomial",
            "hurdle_gamma", "beta_binomial", "zero_inflated_binomial", "wald", "lognormal",
            "hurdle_lognormal", "cumulative", "sratio", "categorical")
NA_ACTIONS = ("drop", "error")
# Derived binomial columns; formulae refuses identifiers that start with "_".
SUCCESSES, TRIALS = "successes_", "trials_"


@dataclass(frozen=True)
class ModelFrame:
    """The rows a model is fitted to, and the response as numbers.

    Attributes
    ----------
    data : DataFrame
        Complete rows of the used columns (original index kept); for binomial
        responses given as ``cbind`` or ``p()``, the columns ``SUCCESSES`` (``successes_``) and
        ``TRIALS`` (``trials_``) are added (formulae refuses names that start with ``_``).
    y : ndarray
        The response: numbers for gaussian/t/count families, 0/1 for bernoulli,
        successes for binomial.
    trials : ndarray or None
        Binomial trials per row.
    n_dropped : int
        Rows removed because of missing values in used columns.
    family : str
    """

    data: pd.DataFrame
    y: np.ndarray
    trials: np.ndarray | None
    n_dropped: int
    family: str
    weights: np.ndarray | None = None   # prior weights (binomial: folded into ``trials``)
    categories: tuple | None = None   # ordinal families: the categories in order (y: their scores)
    logicals: tuple[str, ...] = ()   # bool predictors, now factors FALSE/TRUE (formula.logicals)


def check_family(family: str) -> str:
    """Normalise and validate a family name."""
    name = str(family).lower().replace("_", "").replace(" ", "")
    aliases = {"normal": "gaussian", "logistic": "bernoulli", "studentt": "t",
               "negbinomial": "negativebinomial", "negbin": "negativebinomial"}
    aliases.update({f.replace("_", ""): f for f in FAMILIES})   # zero_inflated_poisson, ziPoisson...
    name = aliases.get(name, name)
    unsupported = {f.replace("_", ""): f for f in UNSUPPORTED}
    if name in unsupported:
        raise FamilyError(f"family={family!r} is not available: {UNSUPPORTED[unsupported[name]]}.")
    if name not in FAMILIES:
        raise FamilyError(
            f"Unknown family {family!r}. Use one of: {', '.join(FAMILIES)}."
        )
    return name


def model_frame(parsed: ParsedFormula, data, family: str = "gaussian", na: str = "drop",
                weights: str | None = None) -> ModelFrame:
    """Select, check and clean the rows used by a model.

    Parameters
    ----------
    parsed : ParsedFormula
    data : DataFrame
    family : str
    na : {"drop", "error"}
        ``"drop"`` removes incomplete rows with a :class:`DataWarning` saying how many
        (lme4's ``na.omit``); ``"error"`` raises :class:`DataError` instead.
    weights : str, optional
        A column of prior weights (lme4's ``weights=``; see :mod:`multilevel.formula.weights`).

    Returns
    -------
    ModelFrame
    """
    family = check_family(family)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    if na not in NA_ACTIONS:
        raise DataError(f"na={na!r} is not valid; use one of {NA_ACTIONS}.")
    if len(data) == 0:
        raise DataError("The data have no rows.")
    check_names(parsed, data.columns)
    used = [c for c in column_names(parsed.text) if c in data.columns]
    derived = (SUCCESSES, TRIALS) if parsed.response.kind in ("cbind", "trials") else ()
    check_unique_columns(data.columns, used)
    check_reserved(used, family, derived)
    check_constant_names([c for c in constants_as_names(parsed.text) if c in data.columns])
    check_value_columns(data, _value_columns(parsed, used))
    weights = check_weights_column(weights, data)
    used += [weights] if weights is not None and weights not in used else []
    frame = data[used]
    incomplete = frame.isna().any(axis=1).to_numpy()
    n_dropped = int(incomplete.sum())
    if n_dropped:
        cols = [c for c in used if frame[c].isna().any()]
        if na == "error":
            raise DataError(
                f"{n_dropped} of {len(frame)} rows have missing values in column(s) "
                f"{', '.join(map(repr, cols))}. Impute them (see multilevel.prepare) or pass "
                "na='drop' to remove those rows."
            )
        warn(
            f"Removed {n_dropped} of {len(frame)} rows with missing values in column(s) "
            f"{', '.join(map(repr, cols))} (lme4's na.omit).",
            DataWarning,
        )
        frame = frame.loc[~incomplete]
    if len(frame) == 0:
        raise DataError("No complete rows remain after removing missing values.")
    frame = frame.copy()
    # every engine computes in double precision; PyTensor refuses float128 columns outright;
    # an object column of numbers (say, one None among floats) is numbers to R, not text
    wide = [c for c in frame.columns if isinstance(frame[c].dtype, np.dtype)
            and frame[c].dtype.kind == "f" and frame[c].dtype.itemsize > 8]
    wide += [c for c in _value_columns(parsed, used) if _numbers_as_objects(frame[c])]
    frame[wide] = frame[wide].astype(np.float64)
    frame.attrs.pop(SCALE_ROWS, None)  # left by an earlier model frame of these rows
    logicals = logical_predictors([parsed.fixed, *(bar.expr for bar in parsed.bars)], frame)
    frame = logicals_as_factors(frame, logicals)   # R's model.matrix codes a logical as a factor
    _check_groups(parsed, frame, family)
    frame = factor_only_columns(parsed.text, frame)   # cyl of factor(cyl): a factor for the effects
    check_factor_levels([parsed.fixed, *(bar.expr for bar in parsed.bars)], frame, logicals)
    check_poly_degrees(parsed.text, frame)
    time = parsed.residuals.time if parsed.residuals is not None else None
    if time in frame.columns and pd.api.types.is_numeric_dtype(frame[time]):
        check_finite(frame[time].to_numpy(dtype=float), [time], "the residual structure's time")
    w = None if weights is None else weight_values(frame, weights)
    if w is not None and family == "bernoulli":
        raise FamilyError("weights= with family='bernoulli': R reads a 0/1 response with weights as "
                          "successes out of w trials; write it as family='binomial' with the "
                          "proportion as response and weights= as the trials.")
    categories = None
    if w is not None and family == "binomial" and parsed.response.kind == "plain":
        name = parsed.response.text   # a column, or arithmetic such as incidence / size
        values = frame[name] if name in frame.columns else pd.Series(eval_arithmetic(name, frame))
        y, trials = binomial_proportions(values, w, name)
        frame[SUCCESSES], frame[TRIALS], w = y, trials, None
    else:
        y, trials, frame = _response(parsed, frame, family)
        if family in (*ORDINAL_FAMILIES, *CATEGORICAL_FAMILIES):   # the response is now a Categorical
            categories = tuple(frame[parsed.response.text].cat.categories)
    if w is not None and trials is not None:
        raise FamilyError("weights= with a cbind()/p() response: the trials already weight each row; "
                          "give either cbind(successes, failures) or a proportion with weights=trials.")
    if n_dropped:
        _record_scale_rows(parsed, data, ~incomplete, frame)
    return ModelFrame(data=frame, y=y, trials=trials, n_dropped=n_dropped, family=family, weights=w,
                      categories=categories, logicals=logicals)


def _numbers_as_objects(column: pd.Series) -> bool:
    return column.dtype == object and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in column)


def _value_columns(parsed: ParsedFormula, used: list[str]) -> list[str]:
    """Used columns whose values enter the model as numbers or contrasts (not only as
    grouping factors, whose values are just labels)."""
    texts = [parsed.response.text, parsed.fixed, *(bar.expr for bar in parsed.bars)]
    if parsed.residuals is not None and parsed.residuals.time:
        texts.append(parsed.residuals.time)
    names = {name for text in texts for name in column_names(text)}
    return [c for c in used if c in names]


def _record_scale_rows(parsed: ParsedFormula, data: pd.DataFrame, kept: np.ndarray,
                       frame: pd.DataFrame) -> None:
    """R's rows for ``scale()``: its arguments on every row where their own columns are present.

    R evaluates the formula's variables before ``na.omit``, so ``scale(x)`` takes the mean
    and SD of x over all rows with x, including rows dropped for a missing value in another
    column. Each argument is evaluated here on those rows and left, beside its values on the
    kept rows, in ``frame.attrs`` for :class:`multilevel.formula.transforms.Scale`.
    """
    entries = []
    for arg in dict.fromkeys(call_arguments(parsed, ROW_DEPENDENT_CALLS)):
        cols = [c for c in column_names(arg) if c in data.columns]
        if not cols:
            continue
        present = data[cols].notna().all(axis=1).to_numpy()
        try:
            dm = design_matrices(f"0 + I({arg})", data.loc[present, cols], na_action="error",
                                 env=safe_environment())
            values = np.asarray(dm.common.design_matrix, dtype=float)
        except Exception:  # noqa: BLE001 - the model's own evaluation reports the problem
            continue
        values = values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values
        entries.append((values[kept[present]], values))
    if entries:
        frame.attrs[SCALE_ROWS] = ScaleRows(entries)


def group_codes(frame: pd.DataFrame, group_vars: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Integer codes and level labels of a (possibly interacted) grouping factor.

    Levels are those present in the rows, in R's order: categorical order, natural
    numeric order for integer-like labels, lexical otherwise; for interactions the
    first factor varies fastest (R's ``interaction``).
    """
    per_var = [_factor(frame[v], v) for v in group_vars]
    if len(per_var) == 1:
        codes, levels = per_var[0]
        return codes, levels
    stacked = np.column_stack([c for c, _ in per_var])
    order_key = stacked[:, ::-1]  # last factor slowest
    uniq, inverse = np.unique(order_key, axis=0, return_inverse=True)
    parts = [tuple(per_var[j][1][code] for j, code in enumerate(row[::-1])) for row in uniq]
    labels = [":".join(p) for p in parts]
    # "a:b" + "c" and "a" + "b:c" both read "a:b:c": one label, two groups
    check_unique_labels(labels, parts, ":".join(group_vars))
    return inverse.reshape(-1).astype(np.int64), labels


def group_labels(data: pd.DataFrame, group_vars: tuple[str, ...]) -> list[str]:
    """Level labels of each row of (new) data, spelled as :func:`group_codes` spells levels."""
    missing = [v for v in group_vars if v not in data.columns]
    if missing:
        raise DataError(f"The data lack the grouping column(s) {missing}.")
    cols = [data[v].map(_label).astype(str).to_numpy() for v in group_vars]
    return [":".join(parts) for parts in zip(*cols)]


def labelled_groups(parsed: ParsedFormula, data: pd.DataFrame) -> pd.DataFrame:
    """``data`` with each column used only as a grouping factor replaced by its level labels
    (a categorical in :func:`group_codes`' order).

    Bambi (formulae) labels levels its own way (``1.0`` for a float 1, and it cannot make
    levels of dates); giving it our labels makes its levels the design's, so that group
    effects, ``ranef`` and predictions line up level by level.
    """
    groups = {v for bar in parsed.bars for v in bar.group_vars}
    only = [c for c in groups - set(_value_columns(parsed, list(data.columns))) if c in data.columns]
    if not only:
        return data
    data = data.copy()
    for column in only:
        codes, levels = _factor(data[column], column)
        data[column] = pd.Categorical.from_codes(codes, categories=levels)
    return data


def _factor(values: pd.Series, name: str | None = None) -> tuple[np.ndarray, list[str]]:
    name = str(values.name) if name is None else name
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.cat.remove_unused_categories()
        categories = list(values.cat.categories)
        labels = [_label(c) for c in categories]  # spelled as group_labels spells new rows
        check_unique_labels(labels, categories, name)
        return values.cat.codes.to_numpy().astype(np.int64), labels
    uniq = pd.unique(values)
    if pd.api.types.is_numeric_dtype(values):
        uniq = np.sort(uniq)
    else:
        try:
            uniq = sorted(uniq, key=lambda v: (float(v), str(v)))
        except (TypeError, ValueError):
            uniq = sorted(uniq, key=str)
    labels = [_label(v) for v in uniq]
    check_unique_labels(labels, uniq, name)  # 1 and "1" in one object column
    lookup = {v: i for i, v in enumerate(uniq)}
    codes = np.fromiter((lookup[v] for v in values), dtype=np.int64, count=len(values))
    return codes, labels


def _label(value) -> str:
    if isinstance(value, (bool, np.bool_)):   # R's spelling, as a logical predictor's levels
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    # pd.unique gives numpy datetimes, a column's values are Timestamps: spell them alike
    if isinstance(value, np.datetime64):
        return str(pd.Timestamp(value))
    if isinstance(value, np.timedelta64):
        return str(pd.Timedelta(value))
    return str(value)


def _check_groups(parsed: ParsedFormula, frame: pd.DataFrame, family: str) -> None:
    for bar in parsed.bars:
        codes, levels = group_codes(frame, bar.group_vars)
        if len(levels) < 2:
            raise DataError(
                f"Grouping factor {bar.group!r} in {bar.source!r} has only {len(levels)} level "
                f"({levels[0] if levels else 'none'}); a random effect needs at least 2 groups. "
                "Remove the term or model the factor as a fixed effect."
            )
        if family in ("gaussian", "t") and len(levels) >= len(frame):
            raise DataError(
                f"Grouping factor {bar.group!r} has {len(levels)} levels for {len(frame)} rows: "
                "with one observation per group the group variance cannot be told apart from "
                "the residual variance. Remove the term or use a coarser grouping."
            )


# ------------------------------------------------------------------- response


def _response(parsed: ParsedFormula, frame: pd.DataFrame, family: str):
    resp = parsed.response
    if resp.kind in ("cbind", "trials"):
        if family not in TRIALS_FAMILIES:
            raise FamilyError(
                f"The response {resp.text!r} gives successes and trials, which needs "
                f"family='binomial' (or {', '.join(map(repr, TRIALS_FAMILIES[1:]))}), not {family!r}."
            )
        first = eval_arithmetic(resp.args[0], frame)
        second = eval_arithmetic(resp.args[1], frame)
        trials = first + second if resp.kind == "cbind" else second
        successes = first
        check_finite(np.column_stack([successes, trials]), ["successes", "trials"],
                     f"the binomial response {resp.text!r},")
        if np.any(successes < 0) or np.any(trials < successes) or np.any(trials <= 0):
            raise DataError(
                f"Binomial response {resp.text!r} needs 0 <= successes <= trials and trials > 0 "
                "in every row."
            )
        if not (_whole(successes) and _whole(trials)):
            raise DataError(f"Binomial response {resp.text!r} must count whole successes and trials.")
        frame[SUCCESSES] = successes
        frame[TRIALS] = trials
        return successes.astype(float), trials.astype(float), frame
    if family in TRIALS_FAMILIES:
        raise FamilyError(
            f"family={family!r} needs successes and trials: write the response as "
            f"cbind(successes, failures) or p(successes, trials), not {resp.text!r}. "
            "For a 0/1 response use family='bernoulli'."
        )
    if family in (*ORDINAL_FAMILIES, *CATEGORICAL_FAMILIES) and resp.text not in frame.columns:
        kind = "ordered categories" if family in ORDINAL_FAMILIES else "categories"
        raise FormulaError(f"family={family!r} needs the response as a column of {kind}, "
                           f"not the expression {resp.text!r}.")
    if resp.text not in frame.columns:
        # a transformed response such as log(y): evaluated later by formulae
        return None, None, frame
    column = frame[resp.text]
    if family in ORDINAL_FAMILIES:   # y: category scores; Bambi reads the ordered categorical
        codes, categories = ordinal_response(column, family, resp.text)
        frame[resp.text] = pd.Categorical.from_codes(codes.astype(int), categories=list(categories),
                                                      ordered=True)
        return category_scores(categories)[codes.astype(int)], None, frame
    if family in CATEGORICAL_FAMILIES:   # y: category codes 0..K-1; Bambi reads the Categorical
        from multilevel.formula.categorical import categorical_response

        codes, categories = categorical_response(column, resp.text)
        frame[resp.text] = pd.Categorical.from_codes(codes, categories=list(categories))
        return codes.astype(float), None, frame
    if family == "bernoulli":
        y = _binary(column, resp.text)
        frame[resp.text] = y
        return y, None, frame
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise DataError(
            f"Response column {resp.text!r} has type {column.dtype} but family {family!r} needs "
            "numbers. Convert it, or choose family='bernoulli' for a two-level response."
        )
    y = column.to_numpy(dtype=float)
    check_finite(y, [resp.text], "the response")
    check_family_response(y, family, resp.text)
    return y, None, frame


def _whole(x: np.ndarray) -> bool:
    return bool(np.all(np.abs(x - np.round(x)) <= 1e-8 * np.maximum(1.0, np.abs(x))))


def _binary(column: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy().astype(float)
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=float)
        if not np.all(np.isin(values, (0.0, 1.0))):
            raise DataError(
                f"Response column {name!r} must be 0/1 for family 'bernoulli'; found values "
                f"{', '.join(f'{v:g}' for v in np.setdiff1d(values, (0.0, 1.0))[:5])}. Recode it "
                "(e.g. (data[col] > 0).astype(int)), or use family='binomial' for proportions."
            )
        return values
    codes, levels = _factor(column)
    if len(levels) != 2:
        raise DataError(
            f"Response column {name!r} has {len(levels)} levels; family 'bernoulli' needs two "
            "(the first level is failure, the second success, as in R)."
        )
    return codes.astype(float)


_ARITH_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Load,
                ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd)


def eval_arithmetic(expr: str, frame: pd.DataFrame) -> np.ndarray:
    """Evaluate ``+ - * /`` arithmetic over columns and numbers, nothing else.

    Used for the arguments of ``cbind(successes, failures)``; refuses any other syntax.
    """
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        raise FormulaError(f"Cannot read {expr!r}: use column names, numbers and + - * /.") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ARITH_NODES):
            raise FormulaError(
                f"{expr!r} may only combine column names and numbers with + - * /."
            )
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise FormulaError(f"{expr!r} contains a non-numeric constant {node.value!r}.")
        if isinstance(node, ast.Name) and node.id not in frame.columns:
            raise FormulaError(f"Column {node.id!r} in {expr!r} is not in the data.")

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Name):
            col = frame[node.id]
            if not pd.api.types.is_numeric_dtype(col):
                raise DataError(f"Column {node.id!r} in {expr!r} must be numeric.")
            return col.to_numpy(dtype=float)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.UnaryOp):
            val = ev(node.operand)
            return -val if isinstance(node.op, ast.USub) else val
        left, right = ev(node.left), ev(node.right)
        op = type(node.op)
        return {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
                ast.Div: np.divide}[op](left, right)

    return np.broadcast_to(np.asarray(ev(tree), dtype=float), (len(frame),)).copy()
