"""R's conversions in formulas and R's spelling of coefficient names, against lme4.

``factor(x)``, ``as.factor(x)`` and ``as.numeric(x)`` as R evaluates them; the columns of
``poly()`` and ``bs()`` numbered from 1; transformed predictors named as R's ``deparse``
spells them (``exp(wt/3)``, ``I(0.5 * hp)``, ``bs(wt, df = 4)1``). References:
``tests/reference/r_calls.json`` from ``tests/reference/make_r_calls.R`` (R 4.2.2,
lme4 1.1-31, lmerTest 3.1-3).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, FormulaError
from multilevel.formula.names import r_deparse, r_number
from multilevel.formula.rfactors import Relevel, r_as_numeric, r_factor

REF = json.loads((Path(__file__).parent / "reference" / "r_calls.json").read_text())
CASES = sorted(k for k, v in REF.items() if isinstance(v, dict) and "fixef_names" in v)
NEWDATA = pd.DataFrame({k: v for k, v in REF["newdata"].items()})


def data(name: str) -> pd.DataFrame:
    return ml.datasets.load(name)


@pytest.fixture(scope="module")
def fits():
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # singular fits (lme4 says so too)
        for key in CASES:
            ref = REF[key]
            out[key] = ml.fit(ref["formula"][0], data(ref["data"][0]), method="reml")
    return out


@pytest.mark.parametrize("key", CASES)
def test_names_values_and_criterion_match_lme4(fits, key):
    ref, fit = REF[key], fits[key]
    assert list(fit.fixef.index) == ref["fixef_names"]
    np.testing.assert_allclose(fit.fixef.to_numpy(), ref["fixef"], rtol=2e-5, atol=1e-7)
    assert fit.reml_criterion == pytest.approx(ref["reml"][0], rel=1e-7)
    for group, cnms in ref["cnms"].items():
        assert [t.cnms for t in fit.design.reterms if t.group == group] == [cnms]


@pytest.mark.parametrize("key", [k for k in CASES if "predict_population" in REF[k]])
def test_population_predictions_on_new_data(fits, key):
    ours = fits[key].predict(NEWDATA, group_effects=False)
    np.testing.assert_allclose(ours["estimate"].to_numpy(),
                               REF[key]["predict_population"], rtol=1e-5)


# comparisons: type II of I(hp > 120):wt without wt, a term lmerTest finds "contained"
# in I(wt > 3) (inference.contrasts.containment)
ANOVA = [(k, kind) for k in CASES if "anova3" in REF[k] for kind in (2, 3)]


@pytest.mark.parametrize("key, kind", ANOVA)
def test_anova_of_a_factor_call_matches_lmertest(fits, key, kind):
    ref = REF[key][f"anova{kind}"]
    table = ml.anova(fits[key], type=kind)
    assert list(table.index) == ref["terms"]
    np.testing.assert_allclose(table["F"], ref["F"], rtol=1e-5)
    np.testing.assert_allclose(table["p"], ref["p"], rtol=1e-4)


def test_emmeans_over_the_column_of_a_factor_call(fits):
    """``cyl`` of ``factor(cyl)`` is a factor for emmeans (its levels, not a mean of 6.19)."""
    ref = REF["emmeans_factor"]["emmeans"]
    table = ml.emmeans(fits["emmeans_factor"], "cyl")
    assert [float(v) for v in table["cyl"]] == ref["cyl"]
    np.testing.assert_allclose(table["estimate"], ref["emmean"], rtol=1e-6)
    np.testing.assert_allclose(table["std_error"], ref["SE"], rtol=1e-5)
    np.testing.assert_allclose(table["df"], ref["df"], rtol=1e-4)


def test_bayesian_names_follow_the_same_spelling():
    from multilevel.bayes.model import build_model
    from multilevel.bayes.names import summary_names

    built = build_model("mpg ~ wt * factor(cyl) + bs(hp, df=4) + (1 | gear)", data("mtcars"))
    names = summary_names(built)   # before sampling: widths from the design's terms
    assert names["factor(cyl)"] == ["factor(cyl)6", "factor(cyl)8"]
    assert names["bs(hp, df=4)"] == [f"bs(hp, df = 4){k}" for k in range(1, 5)]
    assert names["wt:factor(cyl)"] == ["wt:factor(cyl)6", "wt:factor(cyl)8"]


def test_factor_levels_and_labels_as_r():
    assert r_factor(np.array([4.0, 10.0, 4.0, 0.5])).levels == ["0.5", "4", "10"]
    assert r_factor(np.array([True, False, True])).levels == ["FALSE", "TRUE"]
    assert r_factor(np.array([0.1 + 0.2, 1.0])).levels == ["0.3", "1"]
    cat = pd.Series(pd.Categorical(["b", "a"], categories=["c", "b", "a"]))
    assert r_factor(cat).levels == ["b", "a"]   # order kept, unused dropped
    assert r_factor(np.array([3, 4]), levels=[4, 3]).levels == ["4", "3"]
    assert Relevel()(np.array([4, 6, 8]), ref=8).levels == ["8", "4", "6"]
    with pytest.raises(DataError, match="leaves out"):
        r_factor(np.array([3, 4, 5]), levels=[4, 3])
    with pytest.raises(DataError, match="not a level"):
        Relevel()(np.array([4, 6]), ref="5")
    assert r_as_numeric(np.array([True, False])).tolist() == [1.0, 0.0]
    with pytest.raises(DataError, match="as.numeric"):
        r_as_numeric(pd.Series(["a", "b"]))


@pytest.mark.parametrize("key", ["factor_levels", "relevel", "contr_sum", "comparisons", "factor_main"])
def test_new_data_with_some_levels_only(fits, key):
    """One row at a time (so one level of each factor): the rows' predictions as a whole."""
    fit = fits[key]
    whole = fit.predict(NEWDATA, group_effects=False)["estimate"].to_numpy()
    for i in range(len(NEWDATA)):
        one = fit.predict(NEWDATA.iloc[[i]], group_effects=False)["estimate"].to_numpy()
        assert one == pytest.approx(whole[i:i + 1], rel=1e-12)


def test_comparisons_only_inside_calls():
    with pytest.raises(FormulaError, match="inside a call"):
        ml.fit("mpg ~ wt > 3 + (1 | cyl)", data("mtcars"), method="reml")


def test_unseen_level_of_a_factor_call_is_refused_by_name(fits):
    new = NEWDATA.assign(cyl=[4, 5, 6])
    with pytest.raises(ml.errors.MultilevelError, match="factor\\(cyl\\)"):
        fits["factor_interaction"].predict(new, group_effects=False)


def test_a_grouping_factor_must_be_a_column():
    with pytest.raises(FormulaError, match="must be a column name"):
        ml.fit("Reaction ~ Days + (1 | factor(Subject))", "sleepstudy", method="reml")


@pytest.mark.parametrize("text, r", [
    ("exp(wt / 3)", "exp(wt/3)"), ("I(wt*2)", "I(wt * 2)"), ("I(wt ** 2)", "I(wt^2)"),
    ("poly(x,2,raw=TRUE)", "poly(x, 2, raw = TRUE)"), ("I(-x)", "I(-x)"), ("I((x+1)/2)", "I((x + 1)/2)"),
    ("I(x %% 2)", "I(x%%2)"), ("I(1e-3*x)", "I(0.001 * x)"), ("I(x*100000)", "I(x * 1e+05)"),
    ("I(x*123456789)", "I(x * 123456789)"), ("I(x - 4.50)", "I(x - 4.5)"), ("log1p(x)", "log1p(x)"),
])
def test_r_deparse_spelling(text, r):
    # the right-hand sides are R 4.2's deparse(str2lang(text))
    assert r_deparse(text) == r


def test_r_number():
    assert [r_number(t) for t in ("1e-4", "0.0001234", "1e15", "2.5e-7")] == \
        ["1e-04", "0.0001234", "1e+15", "2.5e-07"]


def test_contrast_matrices_equal_rs():
    """R 4.2: contr.poly(5), contr.helmert(4), contr.sum(3), printed by R."""
    from multilevel.formula.rfactors import RContrast

    poly = RContrast("poly").code_without_intercept(list("abcde"))
    np.testing.assert_allclose(poly.matrix, [
        [-6.324555e-01, 0.5345225, -3.162278e-01, 0.1195229],
        [-3.162278e-01, -0.2672612, 6.324555e-01, -0.4780914],
        [0.0, -0.5345225, 0.0, 0.7171372],
        [3.162278e-01, -0.2672612, -6.324555e-01, -0.4780914],
        [6.324555e-01, 0.5345225, 3.162278e-01, 0.1195229]], atol=5e-7)
    assert poly.labels == [".L", ".Q", ".C", "^4"]
    helmert = RContrast("helmert").code_without_intercept(list("abcd"))
    assert helmert.matrix.tolist() == [[-1, -1, -1], [1, -1, -1], [0, 2, -1], [0, 0, 3]]
    assert RContrast("sum").code_without_intercept(list("abc")).matrix.tolist() == [[1, 0], [0, 1], [-1, -1]]
    # spanning the intercept, R codes every level by an indicator named by the level
    full = RContrast("sum").code_with_intercept(["4", "6", "8"])
    assert full.labels == ["4", "6", "8"] and full.matrix.tolist() == np.eye(3).tolist()


@pytest.mark.parametrize("key, args", [("df3", {"df": 3}), ("df4_intercept", {"df": 4, "intercept": True}),
                                       ("knots_3_6", {"knots": [3, 6]})])
def test_natural_spline_basis_equals_rs(key, args):
    from multilevel.formula.splines import NaturalSpline

    ref = REF["ns_basis"]
    spline = NaturalSpline()
    np.testing.assert_allclose(spline(np.array(ref["x"]), **args), ref[key], atol=1e-12)
    if key == "df3":   # new data: the fitted knots, linear beyond the boundary
        np.testing.assert_allclose(spline(np.array(ref["new"])), ref["df3_new"], atol=1e-12)


def test_natural_spline_arguments_are_checked():
    from multilevel.formula.splines import NaturalSpline

    x = np.arange(5.0)
    with pytest.raises(FormulaError, match="df must be"):
        NaturalSpline()(x, df=0)
    with pytest.raises(FormulaError, match="inside the range"):
        NaturalSpline()(x, knots=[9])
    with pytest.raises(FormulaError, match="distinct values"):
        NaturalSpline()(np.array([1.0, 2.0, 1.0]), df=5)


def test_calls_of_one_function_with_a_call_and_a_column_as_arguments():
    """formulae compared C(factor(g), ...) with C(h, ...) by reading a column's 'callee'."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # a singular fit of a small data set
        fit = ml.fit("mpg ~ log(exp(hp)) + log(wt) + C(factor(gear), contr.sum) + C(carb, contr.poly) "
                     "+ (1 | cyl)", data("mtcars"), method="reml")
    assert list(fit.fixef.index)[:3] == ["(Intercept)", "log(exp(hp))", "log(wt)"]
    assert "C(carb, contr.poly).L" in fit.fixef.index


def test_divisions_inside_calls_reach_the_bayesian_model():
    """PyMC refuses '/' in a variable's name; I(x/2) and exp(wt/3) are fitted through
    divide() and named as R spells them."""
    from multilevel.bayes.model import build_model
    from multilevel.bayes.names import summary_names

    ref = REF["deparse_names"]
    built = build_model(ref["formula"][0] + "", data("mtcars"))
    fixed = [n for names in summary_names(built).values() for n in names
             if not n.startswith(("sd__", "sigma"))]
    assert fixed == ref["fixef_names"]
    slope = build_model("Reaction ~ Days + (I(Days/2) | Subject)", data("sleepstudy"))
    assert "sd__I(Days/2)|Subject" in summary_names(slope)["I(divide(Days, 2))|Subject_sigma"]


def test_a_division_python_cannot_read_is_refused_by_name():
    from multilevel.bayes.model import build_model

    renamed = data("sleepstudy").rename(columns={"Days": "x.1"})
    with pytest.raises(FormulaError, match="Compute the column"):
        build_model("Reaction ~ log1p(x.1/2) + (1 | Subject)", renamed)


@pytest.mark.parametrize("text, r_grouping", [
    ("I(a * b %% c)", "I(a * mod(b, c))"),          # R's %% binds tighter than * and /
    ("I((a * b) %% c)", "I(mod(a * b, c))"),
    ("I(a / b %% c + d)", "I(divide(a, mod(b, c)) + d)"),
    ("I(-q %% 3)", "I(mod(-q, 3))"),                # and looser than unary minus
    ("I(a %% b * c)", "I(mod(a, b) * c)"),
    ("I(a * b * c %% d)", "I(a * b * mod(c, d))"),
])
def test_remainders_group_as_in_r(text, r_grouping):
    import ast

    from multilevel.formula.parse import _divide_calls

    assert _divide_calls(text, ast) == r_grouping


def test_the_remainder_reaches_the_bayesian_model_under_rs_name():
    from multilevel.bayes.model import build_model
    from multilevel.bayes.names import summary_names

    built = build_model(REF["modulo"]["formula"][0], data("mtcars"))
    fixed = [n for names in summary_names(built).values() for n in names
             if not n.startswith(("sd__", "sigma"))]
    assert fixed == REF["modulo"]["fixef_names"]


@pytest.mark.parametrize("formula, message", [
    ("mpg ~ I(cyl %in% c(4, 6)) + (1 | gear)", "membership"),
    ("mpg ~ wt %% cyl + (1 | gear)", "must be inside a call"),
    ("mpg ~ I(hp % 7) + (1 | gear)", "lone '%'"),
    ("mpg ~ I(hp %/% 7) + (1 | gear)", r"%/%.*floor\(a / b\)"),
    ("mpg ~ I(hp %foo% 7) + (1 | gear)", "%foo%"),
    ("mpg ~ C(factor(cyl), contr.bogus) + (1 | gear)", "nor one of R's contrasts.*contr.sum"),
])
def test_other_percent_operators_and_unknown_contrasts_are_refused_by_name(formula, message):
    with pytest.raises(FormulaError, match=message):
        ml.fit(formula, data("mtcars"), method="reml")
