"""Property-based tests (hypothesis) of the parser and the data validation (issue 18).

The property: any formula text and any data give a fit or a MultilevelError, never another
exception, and a fit uses exactly the rows a careful user expects (those complete in every
used column), with predictions on those rows equal to the fitted values. Bayesian fits are
not sampled here; their shared validation and model build are checked on a few examples.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import multilevel as ml
from multilevel.errors import MultilevelError
from multilevel.formula import parse_formula

FAST = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FITS = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


# ------------------------------------------------------------------ the parser

TOKENS = ["y", "x", "z", "g", "h", "1", "0", "2.5", "1e-3", "+", "-", "*", "/", ":", "**", "^",
          "|", "||", "~", "(", ")", ",", "=", "log", "scale", "C", "rbf", "cbind", "p", "ar1",
          "cs", "offset", "'a'", "`x`", "__import__", ".", "[", "]", "lambda", "yield", " "]


@FAST
@given(st.text(max_size=200))
def test_any_text_parses_or_is_a_formula_error(text):
    try:
        parse_formula(text)
    except MultilevelError:
        pass


@FAST
@given(st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup_parses_or_is_a_formula_error(tokens):
    try:
        parsed = parse_formula(" ".join(tokens))
    except MultilevelError:
        return
    assert parsed.response.text and parsed.fixed


# ------------------------------------------------------------------ data and fits

def _column(draw, kind: str, n: int, rng: np.random.Generator) -> pd.Series:
    """One predictor column of a given kind, with missing values sometimes."""
    holes = draw(st.booleans())
    mask = rng.random(n) < 0.15 if holes else np.zeros(n, dtype=bool)
    if kind == "float":
        values = rng.normal(size=n)
        special = draw(st.sampled_from([None] * 6 + [np.inf, -np.inf, 1e300, 0.0]))
        if special is not None:
            values[rng.integers(n)] = special
        s = pd.Series(values)
        return s.mask(pd.Series(mask))
    if kind == "Int64":
        return pd.Series(rng.integers(-3, 4, size=n), dtype="Int64").mask(pd.Series(mask))
    if kind == "boolean":
        return pd.Series(rng.random(n) < 0.5, dtype="boolean").mask(pd.Series(mask))
    if kind == "string":
        return pd.Series(rng.choice(["a", "b", "c"], size=n), dtype="string").mask(pd.Series(mask))
    if kind == "category":
        cat = pd.Categorical(rng.choice(["lo", "mid"], size=n), categories=["lo", "mid", "unused"])
        return pd.Series(cat).mask(pd.Series(mask))
    if kind == "datetime":
        return pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 30, size=n), "D")
                         ).mask(pd.Series(mask))
    if kind == "object-mixed":
        values = rng.choice(["1", "2", "3"], size=n).astype(object)
        if draw(st.booleans()):
            values[0] = 1  # the integer 1 beside the string "1"
        return pd.Series(values, dtype=object).mask(pd.Series(mask))
    raise AssertionError(kind)


def _group(draw, n: int, rng: np.random.Generator) -> pd.Series:
    kind = draw(st.sampled_from(["int", "str", "category", "Int64", "object-mixed", "colon", "float",
                                 "datetime", "boolean"]))
    k = draw(st.integers(2, 6))
    codes = rng.integers(0, k, size=n)
    codes[:k] = np.arange(k)  # every level at least once
    if kind == "int":
        return pd.Series(codes)
    if kind == "float":
        return pd.Series(codes + 1.0)
    if kind == "str":
        return pd.Series([f"s{c}" for c in codes])
    if kind == "category":
        return pd.Series(pd.Categorical([f"c{c}" for c in codes],
                                        categories=[f"c{c}" for c in range(k + 2)]))
    if kind == "Int64":
        return pd.Series(codes, dtype="Int64")
    if kind == "datetime":
        return pd.Series(pd.Timestamp("2024-03-01") + pd.to_timedelta(codes, "h"))
    if kind == "boolean":
        return pd.Series(codes % 2 == 0, dtype="boolean")
    if kind == "colon":
        return pd.Series([f"a:{c % 2}" if c % 3 else f"a{c}" for c in codes])
    values = pd.Series(codes.astype(object))
    values[0] = str(values[0])  # 0 and "0" (or another level) in one object column
    return values


@st.composite
def datasets(draw):
    n = draw(st.integers(8, 40))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x_kind = draw(st.sampled_from(["float", "float", "Int64", "boolean", "string", "category",
                                   "datetime", "object-mixed"]))
    data = pd.DataFrame({
        "y": rng.normal(size=n) + rng.integers(0, 3, size=n),
        "x": _column(draw, x_kind, n, rng),
        "z": _column(draw, "float", n, rng),
        "g": _group(draw, n, rng),
        "h": _group(draw, n, rng),
    })
    response = draw(st.sampled_from(["y", "y", "float-holes", "constant", "counts"]))
    if response == "float-holes":
        data.loc[rng.random(n) < 0.1, "y"] = np.nan
    elif response == "constant":
        data["y"] = 2.0
    elif response == "counts":
        data["y"] = rng.poisson(2.0, size=n).astype(float)
    return data


FIXED = ["x", "z", "x:z", "x * z", "log(z)", "scale(z)", "I(z ** 2)", "C(g)", "0", "exp(z)"]
BARS = ["(1 | g)", "(1 | h)", "(z | g)", "(z || g)", "(1 | g:h)", "(1 | g/h)", "(x | h)"]


@st.composite
def formulas(draw, max_bars: int = 2):
    fixed = draw(st.lists(st.sampled_from(FIXED), min_size=1, max_size=3, unique=True))
    bars = draw(st.lists(st.sampled_from(BARS), max_size=max_bars, unique=True))
    lhs = draw(st.sampled_from(["y", "y", "log(y)", "sqrt(y)"]))
    return f"{lhs} ~ " + " + ".join(fixed + bars)


def _used_columns(formula: str, data: pd.DataFrame) -> list[str]:
    from multilevel.formula.parse import column_names

    return [c for c in column_names(parse_formula(formula).text) if c in data.columns]


def _fit_or_refuse(formula, data, method, family="gaussian"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = ml.fit(formula, data, method=method, family=family)
        except MultilevelError as exc:
            event(f"refused: {type(exc).__name__}: {str(exc)[:50]}")
            return None
    event("fitted")
    return fit


@FITS
@given(data=datasets(), formula=formulas(), method=st.sampled_from(["reml", "ml"]))
def test_fit_or_multilevel_error_and_the_expected_rows(data, formula, method):
    fit = _fit_or_refuse(formula, data, method)
    if fit is None:
        return
    used = _used_columns(formula, data)
    complete = ~data[used].isna().any(axis=1)
    assert fit.nobs == int(complete.sum())
    rows = data.loc[complete]
    assert np.all(np.isfinite(fit.fixef.to_numpy()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = fit.predict(rows)["estimate"].to_numpy()
    assert np.allclose(again, fit.predict()["estimate"].to_numpy(), rtol=1e-9, atol=1e-9)


# one random-effects term at most: a GLMM with two terms on a dozen rows can take the
# Laplace optimizer tens of seconds, which tests nothing more about validation
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=datasets(), formula=formulas(max_bars=1),
       family=st.sampled_from(["bernoulli", "poisson"]))
def test_glm_and_glmm_fit_or_multilevel_error(data, formula, family):
    if family == "bernoulli":
        data = data.assign(y=(data["y"] > data["y"].median()).astype(float).where(data["y"].notna()))
    formula = "y ~ " + formula.split("~", 1)[1]
    fit = _fit_or_refuse(formula, data, "ml", family)
    if fit is None:
        return
    used = _used_columns(formula, data)
    assert fit.nobs == int((~data[used].isna().any(axis=1)).sum())


@pytest.fixture(scope="module")
def bambi_imported():
    pytest.importorskip("bambi")


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=datasets(), formula=formulas())
def test_bayesian_build_or_multilevel_error(bambi_imported, data, formula):
    """The Bayesian path's validation and model build (no sampling)."""
    from multilevel.bayes import build_model

    formula = formula.replace("(z || g)", "(1 | g)")  # keep the builds small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            built = build_model(formula, data)
        except MultilevelError as exc:
            event(f"refused: {type(exc).__name__}: {str(exc)[:50]}")
            return
    event("built")
    used = _used_columns(formula, data)
    assert len(built.design.y) == int((~data[used].isna().any(axis=1)).sum())


NAMES = st.one_of(
    st.sampled_from(["Intercept", "intercept", "sigma", "mu", "nu", "alpha", "p", "x.1", "yield",
                     "_x", "log", "C", "I", "scale", "TRUE", "True", "None", "e", "inf", "nan",
                     "pi", "np", "successes_", "trials_", "g", "y", "1x", "x y", "a:b", "a|b"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,12}", fullmatch=True),
    st.text(max_size=8),
)


@FITS
@given(name=NAMES, method=st.sampled_from(["reml", "ml"]), bars=st.booleans())
def test_any_column_name_fits_or_is_a_multilevel_error(name, method, bars):
    rng = np.random.default_rng(7)
    data = pd.DataFrame({"y": rng.normal(size=30), "g": np.repeat(["a", "b", "c"], 10)})
    data[name] = rng.normal(size=30)
    formula = f"y ~ {name}" + (" + (1 | g)" if bars else "")
    fit = _fit_or_refuse(formula, data, method)
    if fit is None:
        return
    assert fit.nobs == 30
    assert np.all(np.isfinite(fit.fixef.to_numpy()))
