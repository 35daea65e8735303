"""Model frame → design matrices: X (fixed effects) and Z (random effects), lme4's layout.

lme4's ``mkReTrms``: every bar becomes a random-effects term with ``q`` columns per
level; the terms are ordered by decreasing number of levels; Z's columns for a term
run level by level (all ``q`` columns of level 1, then level 2, ...); θ holds the
lower triangle of each term's relative covariance factor, column by column.

The fixed-effects matrix and each term's model matrix come from formulae (the same
library Bambi uses), so the Bayesian and the frequentist fits see the same columns.
The :class:`DesignSpec` keeps what is needed to rebuild the matrices for new data.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from multilevel.errors import DataError, DataWarning, FormulaError, warn
from multilevel.formula.frame import ModelFrame, group_codes, group_labels
from multilevel.formula.logicals import logicals_as_factors
from multilevel.formula.names import BASIS_CALLS, r_deparse, r_label
from multilevel.formula.namespace import safe_environment
from multilevel.formula.offset_values import evaluate_offset
from multilevel.formula.parse import Bar, ParsedFormula, column_names
from multilevel.formula.rfactors import dummy_levels
from multilevel.formula.structures import check_term_columns
from multilevel.formula.transforms import design_matrices, integers_as_doubles
from multilevel.formula.validate import (
    check_counts,
    check_finite,
    check_group_effect_count,
    check_residual_df,
    check_response,
    check_scale,
)


@dataclass(frozen=True)
class ReTerm:
    """One random-effects term of the design (one bar after expansion).

    Attributes
    ----------
    bar : Bar
    name : str
        lme4's grouping name, made unique across terms (``"Subject"``, ``"Subject.1"``).
    cnms : list of str
        Column names of the term, lme4 style (``"(Intercept)"``, ``"Days"``).
    levels : list of str
        Level labels of the grouping factor, in the order of Z's columns.
    X : ndarray, shape (n, q)
        The term's model matrix.
    codes : ndarray, shape (n,)
        Level index of each row.
    """

    bar: Bar
    name: str
    cnms: list[str]
    levels: list[str]
    X: np.ndarray
    codes: np.ndarray
    expr_matrix: object = field(repr=False, compare=False)
    known: object = field(default=None, repr=False, compare=False)  # formula.known.KnownCov
    smooth: object = field(default=None, repr=False, compare=False)  # formula.smooths.Smooth
    smooth_Z: np.ndarray | None = field(default=None, repr=False, compare=False)
    logicals: tuple[str, ...] = ()   # bool columns coded as factors FALSE/TRUE (formula.logicals)
    # which of expr_matrix's columns the term keeps (None: all); a term reduced to some of
    # its columns (lmerTest's ranova) evaluates new data through the same selection
    columns: tuple[int, ...] | None = None

    @property
    def is_general(self) -> bool:
        """Whether Z's rows touch more than one level of the term (a known covariance's
        effects b = θ R u, a smooth's penalized columns): fitted by multilevel.freq.known."""
        return self.known is not None or self.smooth is not None

    @property
    def q(self) -> int:
        return self.X.shape[1]

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def group(self) -> str:
        return self.bar.group

    @property
    def n_theta(self) -> int:
        return self.q * (self.q + 1) // 2

    def theta_names(self) -> list[str]:
        """lme4's names of this term's θ entries: ``g.(Intercept)``, ``g.Days.(Intercept)``, ..."""
        names = []
        for j in range(self.q):
            for i in range(j, self.q):
                names.append(f"{self.group}.{self.cnms[i]}" if i == j
                             else f"{self.group}.{self.cnms[i]}.{self.cnms[j]}")
        return names

    def theta_lower(self) -> np.ndarray:
        """Lower bounds of θ: 0 on the diagonal of the factor, -inf below it."""
        return np.array([0.0 if i == j else -np.inf
                         for j in range(self.q) for i in range(j, self.q)])

    def Z(self) -> sp.csc_matrix:
        if self.smooth_Z is not None:
            return sp.csc_matrix(self.smooth_Z)
        n, q = self.X.shape
        rows = np.repeat(np.arange(n), q)
        cols = (self.codes[:, None] * q + np.arange(q)[None, :]).ravel()
        return sp.csc_matrix((self.X.ravel(), (rows, cols)), shape=(n, q * self.n_levels))


@dataclass(frozen=True)
class DesignSpec:
    """What is needed to rebuild X and the terms' matrices for new data (formulaic's ModelSpec)."""

    parsed: ParsedFormula
    fixed_matrix: object = field(repr=False)
    x_names: list[str] = field(default_factory=list)
    kept_columns: np.ndarray | None = None
    smooths: tuple = ()   # formula.smooths.Smooth: their unpenalized columns follow the formula's
    logicals: tuple[str, ...] = ()   # bool columns coded as factors FALSE/TRUE (formula.logicals)
    column_order: np.ndarray | None = None   # formulae's columns in R's order (r_column_order)

    def bambi_positions(self) -> np.ndarray | None:
        """Where each design column is among Bambi's fixed-effect columns (its common terms'
        columns one after the other, in formulae's order), or None where they are the same.

        Bambi builds its columns with formulae, which varies the last variable of an
        interaction fastest; the design has R's order (:func:`r_column_order`). Posterior
        draws stacked term by term are put in the design's order with these positions.
        """
        if self.column_order is None:
            return None
        n_smooth = sum(len(sm.fixed_names) for sm in self.smooths)
        source = np.concatenate([self.column_order, len(self.column_order) + np.arange(n_smooth)])
        if self.kept_columns is not None:
            source = source[self.kept_columns]
        return np.searchsorted(np.sort(source), source)

    def in_design_order(self, draws: np.ndarray) -> np.ndarray:
        """Fixed-effect draws (chain, draw, Bambi's columns) with their last axis in the
        design's column order."""
        positions = self.bambi_positions()
        return draws if positions is None else draws[:, :, positions]

    def in_bambi_order(self, names: list[str]) -> list[str]:
        """``names`` (one per design column) in the order of Bambi's columns."""
        positions = self.bambi_positions()
        if positions is None:
            return list(names)
        out = list(names)
        for j, position in enumerate(positions):
            out[position] = names[j]
        return out

    def term_widths(self) -> dict[str, int]:
        """Fixed-effect columns per formulae term (Bambi's common terms have the same names),
        aliased columns not counted: ``{"Intercept": 1, "x": 1, "x:f": 2}``."""
        kept = None if self.kept_columns is None else set(np.asarray(self.kept_columns).tolist())
        widths, start = {}, 0
        for name, term in getattr(self.fixed_matrix, "terms", {}).items():
            n = len(term.labels)
            widths[name] = n if kept is None else sum(j in kept for j in range(start, start + n))
            start += n
        return widths

    def offset(self, newdata: pd.DataFrame) -> np.ndarray | None:
        """The formula's ``offset()`` terms on new rows (None without offsets)."""
        return evaluate_offset(self.parsed.offsets, newdata, what="new data")

    def fixed_X(self, newdata: pd.DataFrame) -> np.ndarray:
        """Fixed-effects matrix for new rows, same columns as the fit."""
        new = _factor_labels(logicals_as_factors(newdata, self.logicals), self.fixed_matrix,
                             column_names(self.parsed.text))
        try:
            with np.errstate(all="ignore"):   # a value outside a transform's domain: warned below
                X = np.asarray(self.fixed_matrix.evaluate_new_data(integers_as_doubles(
                    new, self.parsed.fixed)).design_matrix, dtype=float)
        except KeyError as exc:
            raise DataError(f"newdata lacks column {exc.args[0]!r} used by the fixed effects.") from None
        except ValueError as exc:
            raise DataError(f"Cannot evaluate the fixed effects on newdata: {exc}") from None
        if X.ndim == 1:
            X = X[:, None]
        if self.column_order is not None:
            X = X[:, self.column_order]
        if self.smooths:
            X = np.column_stack([X, *(sm.fixed_matrix(newdata) for sm in self.smooths)])
        if self.kept_columns is not None:
            X = X[:, self.kept_columns]
        _warn_not_finite(X, self.x_names if len(self.x_names) == X.shape[1] else None, newdata)
        return X


def _variables(fixed_matrix) -> dict[str, list | None]:
    """Column -> fitted levels of each plain factor variable of the fixed effects (None for a
    numeric variable)."""
    out = {}
    for term in getattr(fixed_matrix, "terms", {}).values():
        for comp in getattr(term, "components", ()):
            if type(comp).__name__ == "Variable":
                kind = getattr(comp, "kind", None)
                out[comp.name] = list(comp.levels) if kind == "categoric" else None
    return out


def _numeric_column(col: str, values: pd.Series) -> None:
    """A fitted numeric variable must come as real numbers: a date, a complex number or a
    bool has no value on the fitted scale (numpy's promotion error, or the real part or
    True = 1 taken silently); R refuses them too ("fitted with type numeric")."""
    kind = values.dtype.kind
    if kind in "mMcb" or (kind == "O" and any(isinstance(v, (bool, np.bool_, complex)) for v in values)):
        raise DataError(f"newdata column {col!r} is {values.dtype} but the fit used it as numbers; "
                        f"give real numbers (e.g. days as 0, 1, 2, not dates).")


def _factor_labels(newdata: pd.DataFrame, fixed_matrix, used=()) -> pd.DataFrame:
    """New values of a fitted factor matched by label, as lme4 matches levels: ``period = 1``
    (a number) is the level ``"1"``, a categorical's value is its label whatever its
    categories; a label the fit never saw is refused by name. Numeric
    variables must be numbers, and a variable's column may appear only once."""
    if not isinstance(newdata, pd.DataFrame):
        return newdata
    variables = _variables(fixed_matrix)
    twice = sorted({c for c in newdata.columns[newdata.columns.duplicated()]
                    if c in variables or c in set(used)})
    if twice:
        raise DataError(f"newdata has more than one column named {twice}; keep one of each.")
    changed = {}
    for col, levels in variables.items():
        if col not in newdata.columns:
            continue
        if levels is None:
            _numeric_column(col, newdata[col])
            continue
        values = newdata[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            labels = {str(lev): lev for lev in levels}
            values = changed[col] = pd.Series([_level_of(v, labels) for v in values],
                                              index=values.index, dtype=object)
        elif isinstance(values.dtype, pd.CategoricalDtype):
            # matched by label: a categorical whose categories differ from the fit's (one the
            # fit dropped as unused, another order) would be recoded by pandas, not matched
            values = changed[col] = values.astype(object)
        seen = set(map(str, levels))
        unseen = [v for v in pd.unique(values.astype(object)) if str(v) not in seen]
        if unseen:
            raise DataError(f"newdata has level(s) {unseen[:10]} of the factor {col!r} that the fit "
                            f"never saw; its levels are {levels}. A fixed effect has no estimate for "
                            "a new level (lme4 refuses it too): predict only the fitted levels.")
    return newdata.assign(**changed) if changed else newdata


def _level_of(value, labels: dict):
    """The fitted level whose label a number spells (175.0 -> "175"), else the value."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return labels.get(str(value), value)


def _warn_not_finite(X: np.ndarray, names: list[str] | None, newdata: pd.DataFrame) -> None:
    """R predicts NaN where a transform leaves its domain (``log(x)`` of x < 0); so do we,
    but say which rows and columns instead of numpy's warning from inside pandas."""
    bad = ~np.isfinite(X)
    if not bad.any():
        return
    rows = np.flatnonzero(bad.any(axis=1))
    cols = np.flatnonzero(bad.any(axis=0))
    shown = [names[j] for j in cols] if names is not None else [int(j) for j in cols]
    warn(f"newdata rows {newdata.index[rows[:10]].tolist()}{' ...' if len(rows) > 10 else ''} give "
         f"non-finite values of the fixed-effect column(s) {shown} (a value outside a transform's "
         "domain, e.g. log of a negative number): their predictions are NaN or infinite, as R's.",
         DataWarning)


@dataclass(frozen=True)
class Design:
    """Design matrices of a mixed model in lme4's layout."""

    y: np.ndarray
    X: np.ndarray
    x_names: list[str]
    reterms: list[ReTerm]
    spec: DesignSpec
    frame: ModelFrame
    dropped_columns: list[str] = field(default_factory=list)
    offset: np.ndarray | None = None    # the offset() terms' sum per row (coefficient 1)

    @property
    def weights(self) -> np.ndarray | None:
        """Prior weights (lme4's ``weights``; binomial trials are kept as ``frame.trials``)."""
        return self.frame.weights

    @property
    def offset_or_zero(self) -> np.ndarray:
        return np.zeros(self.n) if self.offset is None else self.offset

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def q(self) -> int:
        return sum(t.q * t.n_levels for t in self.reterms)

    def Z(self) -> sp.csc_matrix:
        if not self.reterms:
            return sp.csc_matrix((self.n, 0))
        return sp.hstack([t.Z() for t in self.reterms], format="csc")

    def theta_names(self) -> list[str]:
        return [name for t in self.reterms for name in t.theta_names()]

    def theta_lower(self) -> np.ndarray:
        if not self.reterms:
            return np.zeros(0)
        return np.concatenate([t.theta_lower() for t in self.reterms])

    def theta_start(self) -> np.ndarray:
        """lme4's start: identity relative factors (1 on diagonals, 0 below)."""
        return np.where(np.isfinite(self.theta_lower()), 1.0, 0.0)


def lme4_name(label: str) -> str:
    """formulae column label → lme4 coefficient name.

    Factor levels are appended (``period[2]`` → ``period2``), expressions are spelled as
    R deparses them (``I(Days ** 2)`` → ``I(Days^2)``, ``exp(wt / 3)`` → ``exp(wt/3)``),
    and the columns of ``poly()`` and ``bs()`` are numbered from 1 as in R
    (``poly(x, 2)[0]`` → ``poly(x, 2)1``).

    >>> lme4_name("poly(Days, 2)[0]:f[b]"), lme4_name("bs(x, df=4)[3]"), lme4_name("C(g)[0]")
    ('poly(Days, 2)1:fb', 'bs(x, df = 4)4', 'C(g)0')
    """
    if label == "Intercept":
        return "(Intercept)"
    return ":".join(_component_name(part) for part in _top_level_split(label, ":"))


def _top_level_split(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside parentheses and brackets. A column label, not
    formula text: its factor levels may hold quotes and ':' inside brackets, which
    :func:`multilevel.formula.parse._split_top` (quote-aware, no brackets) would misread."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def _component_name(part: str) -> str:
    match = re.fullmatch(r"(?P<expr>.*\))\[(?P<level>[^\]]*)\]|(?P<plain>.*?)(?:\[(?P<lvl>[^\]]*)\])?",
                         part, flags=re.DOTALL)
    if match.group("expr") is not None:   # a call with a column index or a level
        expr, level = match.group("expr"), match.group("level")
        call = expr.split("(", 1)[0].strip()
        if call in BASIS_CALLS and level.isdigit():
            level = str(int(level) + 1)
        elif call == "dummy" and level.isdigit():   # lme4 names its columns by the level
            level = dummy_levels(expr)[int(level)]
        return r_deparse(expr) + level
    plain, level = match.group("plain"), match.group("lvl") or ""
    return (r_deparse(plain) if "(" in plain else plain) + level


def _fixed_columns(parsed: ParsedFormula, data: pd.DataFrame):
    """formulae's fixed-effect matrix, X and its names in R's column order, and that order."""
    fixed_matrix, X, x_names = _matrix(parsed.fixed, data, "fixed effects")
    column_order = r_column_order(fixed_matrix)
    if column_order is not None:
        X, x_names = X[:, column_order], [x_names[j] for j in column_order]
    return fixed_matrix, X, x_names, column_order


def least_squares_design(parsed: ParsedFormula, frame: ModelFrame):
    """The fixed part of :func:`build_design` for one least-squares fit (R's ``lm``, as
    ``lmList`` fits one per group), without the checks that a model with a residual
    variance needs: a constant response and an exact fit are allowed, as in R.

    Returns
    -------
    X : ndarray
        The linearly independent columns (earliest kept, as R's pivoted QR).
    y : ndarray
    names : list of str
        X's column names.
    dropped : list of str
        The aliased columns (R's NA coefficients).
    offset : ndarray or None
    """
    if parsed.smooths or parsed.bars:
        raise FormulaError("A least-squares design has only fixed effects (no bars, no s()).")
    data = frame.data
    _, X, x_names, _ = _fixed_columns(parsed, data)
    kept, dropped = _full_rank_columns(X, x_names)
    y = frame.y if frame.y is not None else _evaluate_response(parsed, data, frame.family)
    return X[:, kept], y, [x_names[j] for j in kept], dropped, evaluate_offset(parsed.offsets, data)


def _evaluate(formula: str, data: pd.DataFrame):
    """formulae's design matrices; a transform outside its domain (log(0)) gives inf/NaN
    quietly here and is refused by :func:`~multilevel.formula.validate.check_finite`."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return design_matrices(formula, data, na_action="error", env=safe_environment())


def _matrix(formula: str, data: pd.DataFrame, what: str):
    try:
        dm = _evaluate(formula, data)
    except (FormulaError, DataError):
        raise
    except Exception as exc:  # formulae raises bare ValueError/ParseError/KeyError
        raise FormulaError(f"Cannot build the {what} from {formula!r}: {exc}") from None
    common = dm.common
    if common is None and what == "fixed effects":   # y ~ 0 + (1 | g): lme4 fits it, we do not
        raise FormulaError(f"The fixed effects {formula!r} have no columns: a model without fixed "
                           "effects is not available (lme4 fits one). Keep the intercept, as in "
                           "'y ~ 1 + (1 | g)', or name a predictor.")
    if common is None:
        raise FormulaError(f"The {what} {formula!r} has no columns.")
    labels = [lbl for term in common.terms.values() for lbl in term.labels]
    X = np.asarray(common.design_matrix, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    names = [r_label(lme4_name(lbl), data.columns) for lbl in labels]
    check_finite(X, names, f"the {what}' column" if what.endswith("effects") else f"the {what}, column")
    check_scale(X, names, f"The {what}' column" if what.endswith("effects") else f"The {what}, column")
    return common, X, names


def build_design(parsed: ParsedFormula, frame: ModelFrame, drop_rank_deficient: bool = True,
                 data2: dict | None = None) -> Design:
    """Build X, the random-effects terms and the reusable :class:`DesignSpec`.

    Parameters
    ----------
    parsed : ParsedFormula
    frame : ModelFrame
    drop_rank_deficient : bool
        Drop aliased fixed-effect columns (lme4's ``rankX.chk = "message+drop.cols"``);
        the names of dropped columns are kept on the design.
    data2 : dict, optional
        Named objects the formula refers to (brms's ``data2``): the known covariance
        matrices of ``gr(g, cov = A)`` terms (:mod:`multilevel.formula.known`).
    """
    data = frame.data
    fixed_matrix, X, x_names, column_order = _fixed_columns(parsed, data)
    smooths = ()
    if parsed.smooths:   # s(x): unpenalized columns here, penalized ones a group-effect block
        from multilevel.formula.smooths import build_smooth

        smooths = tuple(build_smooth(spec, data) for spec in parsed.smooths)
        X = np.column_stack([X, *(sm.fixed_matrix(data) for sm in smooths)])
        x_names = [*x_names, *(name for sm in smooths for name in sm.fixed_names)]
    kept, dropped = (np.arange(X.shape[1]), [])
    if drop_rank_deficient:
        kept, dropped = _full_rank_columns(X, x_names)
        X = X[:, kept]
        x_names = [x_names[i] for i in kept]
    y = frame.y if frame.y is not None else _evaluate_response(parsed, data, frame.family)
    response = parsed.response.text
    check_finite(y, [response], "the response")
    check_scale(y, [response], "The response")
    check_response(y, frame.family, response, frame.trials)
    if frame.family in ("gaussian", "t"):
        check_residual_df(len(y), X.shape[1])
    reterms = [_reterm(bar, data, data2, frame.logicals) for bar in parsed.bars]
    check_group_effect_count([(t.bar.source, t.group, t.n_levels, t.q) for t in reterms
                              if t.known is None], len(y), frame.family)
    reterms += [_smooth_term(sm, data) for sm in smooths]
    reterms = sorted(reterms, key=lambda t: -t.n_levels)  # lme4 orders by decreasing levels
    reterms = _unique_names(reterms)
    spec = DesignSpec(parsed=parsed, fixed_matrix=fixed_matrix, x_names=x_names,
                      kept_columns=kept if dropped else None, smooths=smooths, logicals=frame.logicals,
                      column_order=column_order)
    return Design(y=np.asarray(y, dtype=float), X=X, x_names=x_names, reterms=reterms,
                  spec=spec, frame=frame, dropped_columns=dropped,
                  offset=evaluate_offset(parsed.offsets, data))


def r_column_order(matrix) -> np.ndarray | None:
    """formulae's fixed-effect columns in R's order, or None where the orders agree.

    Within an interaction R's ``model.matrix`` varies the first variable fastest
    (``f*g``: ``fb:gy, fc:gy, fb:gz, fc:gz``), formulae the last (``fb:gy, fb:gz, ...``).
    A term whose columns are not the product of its variables' columns (formulae's own
    coding of ``f:g`` without main effects) keeps formulae's order.
    """
    order, start = [], 0
    for term in getattr(matrix, "terms", {}).values():
        n = len(term.labels)
        block = np.arange(start, start + n)
        widths = [_width(component) for component in getattr(term, "components", ())]
        if len(widths) > 1 and int(np.prod(widths)) == n:
            block = block.reshape(widths).T.ravel()
        order.append(block)
        start += n
    order = np.concatenate(order) if order else np.arange(0)
    return None if np.array_equal(order, np.arange(start)) else order


def _width(component) -> int:
    value = getattr(component, "value", None)
    return int(np.shape(value)[1]) if np.ndim(value) == 2 else 1


def term_matrix(term: ReTerm, newdata: pd.DataFrame) -> np.ndarray:
    """A term's model matrix for new rows."""
    if term.expr_matrix is None and term.bar.expr == "1":   # (1 | g) made without formulae
        return np.ones((len(newdata), 1))
    try:
        X = np.asarray(term.expr_matrix.evaluate_new_data(integers_as_doubles(
            logicals_as_factors(newdata, term.logicals), term.bar.expr)).design_matrix, dtype=float)
    except KeyError as exc:
        raise DataError(f"newdata lacks column {exc.args[0]!r} used by {term.bar.source!r}.") from None
    X = X[:, None] if X.ndim == 1 else X
    return X if term.columns is None else X[:, list(term.columns)]


def _reterm(bar: Bar, data: pd.DataFrame, data2: dict | None = None,
            logicals: tuple[str, ...] = ()) -> ReTerm:
    matrix, X, cnms = _matrix(bar.expr, data, f"random-effect term {bar.source!r}")
    codes, levels = group_codes(data, bar.group_vars)
    check_term_columns(bar.structure, X.shape[1], bar.source)
    known = None
    if bar.cov is not None:
        from multilevel.formula.known import known_cov

        if not data2 or bar.cov not in data2:
            raise DataError(f"{bar.source!r} refers to a known covariance matrix {bar.cov!r}: pass it "
                            f"as data2={{{bar.cov!r}: matrix}} (a spec: a [data2] table naming a CSV "
                            f"or NPZ file). data2 has: {sorted(data2 or {})}.")
        known = known_cov(bar.cov, data2[bar.cov], levels, bar.source)
    return ReTerm(bar=bar, name=bar.group, cnms=cnms, levels=levels, X=X, codes=codes,
                  expr_matrix=matrix, known=known, logicals=logicals)


def _smooth_term(smooth, data: pd.DataFrame) -> ReTerm:
    """A smooth's penalized part as a term: one "level" per basis column, iid N(0, σ²_s)."""
    Zs = smooth.random_matrix(data)
    bar = Bar(expr="1", group=smooth.label, group_vars=(), source=smooth.spec.source)
    n, r = Zs.shape
    return ReTerm(bar=bar, name=smooth.label, cnms=[smooth.label],
                  levels=[str(i + 1) for i in range(r)], X=np.ones((n, 1)),
                  codes=np.zeros(n, dtype=np.int64), expr_matrix=None, smooth=smooth, smooth_Z=Zs)


def _unique_names(reterms: list[ReTerm]) -> list[ReTerm]:
    """R's make.unique on the grouping names: Subject, Subject.1, ..."""
    seen: dict[str, int] = {}
    out = []
    for t in reterms:
        k = seen.get(t.group, 0)
        seen[t.group] = k + 1
        name = t.group if k == 0 else f"{t.group}.{k}"
        out.append(dataclasses.replace(t, name=name))
    return out


# Above this many columns the column-by-column check below (O(n p^2) in Python steps: 16 s
# for a 2000-level factor on 4000 rows) is first tried as one LAPACK QR.
FAST_RANK_COLUMNS = 50


def _full_rank_columns(X: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Keep a maximal set of linearly independent columns, earliest first (pivoted QR as lme4)."""
    if X.shape[1] == 0:
        return np.arange(0), []
    if X.shape[1] > FAST_RANK_COLUMNS and _clearly_full_rank(X):
        return np.arange(X.shape[1]), []
    kept: list[int] = []
    Q = np.zeros((X.shape[0], 0))
    scale = np.linalg.norm(X, axis=0)
    for j in range(X.shape[1]):
        col = X[:, j] / (scale[j] if scale[j] > 0 else 1.0)
        resid = col - Q @ (Q.T @ col)
        norm = np.linalg.norm(resid)
        if norm > 1e-7 * max(1.0, np.linalg.norm(col)):
            kept.append(j)
            Q = np.column_stack([Q, resid / norm])
    dropped = [names[j] for j in range(X.shape[1]) if j not in kept]
    return np.array(kept, dtype=int), dropped


def _clearly_full_rank(X: np.ndarray) -> bool:
    """Whether every column keeps, after projecting out the columns before it, well over the
    1e-7 of its norm at which :func:`_full_rank_columns` drops it: |R_jj| of an unpivoted QR
    is that residual's norm. Near the threshold (or with a zero column) the caller decides
    column by column, so the fast path never changes which columns are kept."""
    import scipy.linalg

    scale = np.linalg.norm(X, axis=0)
    if X.shape[0] < X.shape[1] or np.any(scale == 0):
        return False
    R = scipy.linalg.qr(X / scale, mode="r", check_finite=False)[0]
    return bool(np.min(np.abs(np.diag(R))) > 1e-4)


def _evaluate_response(parsed: ParsedFormula, data: pd.DataFrame, family: str) -> np.ndarray:
    try:
        dm = _evaluate(f"{parsed.response.text} ~ 1", data)
    except (FormulaError, DataError):
        raise
    except Exception as exc:
        raise FormulaError(f"Cannot evaluate the response {parsed.response.text!r}: {exc}") from None
    y = np.asarray(dm.response.design_matrix, dtype=float)
    if family == "bernoulli" and y.ndim > 1 and y.shape[1] == 2:
        # a comparison such as I(s > 0): formulae gives FALSE/TRUE indicator columns; the
        # second category (TRUE, a factor's second level) is success, as R's binomial() reads it
        y = y[:, 1]
    if y.ndim > 1 and y.shape[1] != 1:
        raise FormulaError(f"The response {parsed.response.text!r} must be one column.")
    y = y.reshape(-1)
    check_finite(y, [parsed.response.text], "the response")
    if family in ("poisson", "negativebinomial"):
        check_counts(y, family, parsed.response.text)
    elif family == "bernoulli" and not np.all(np.isin(y, (0.0, 1.0))):
        raise DataError(f"The response {parsed.response.text!r} must be 0/1 for family "
                        "'bernoulli'.")
    return y


def level_codes(term: ReTerm, data: pd.DataFrame, new_groups: str = "population") -> np.ndarray:
    """Index of each row's level in ``term.levels``; -1 for levels not seen in the fit.

    Raises DataError naming the unseen levels when ``new_groups == "error"``.
    """
    labels = group_labels(data, term.bar.group_vars)
    index = {level: i for i, level in enumerate(term.levels)}
    codes = np.array([index.get(label, -1) for label in labels], dtype=np.int64)
    # a missing grouping value is no level (not the label "nan"): lme4's NA level, new
    codes[data[list(term.bar.group_vars)].isna().any(axis=1).to_numpy()] = -1
    unseen = sorted({lab for lab, c in zip(labels, codes) if c < 0})
    if unseen and new_groups == "error":
        raise DataError(
            f"Levels {unseen[:5]} of {term.group!r} were not in the fitted data. Use "
            "new_groups='population' to predict them at the population mean."
        )
    return codes
