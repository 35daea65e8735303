"""R's column names in formulas (yield, x.1, Petal.Width, `my var`, class) and lme4's names of
nested grouping factors (tests/reference/make_realdata.R)."""

from __future__ import annotations

import pytest
from realdata_check import check_fit

import multilevel as ml
from multilevel.errors import FormulaError
from multilevel.formula import parse_formula


def test_r_names_fit_as_lmer(realdata_ref, realdata):
    r = realdata_ref["rnames"]
    assert r["formula"] == "yield ~ x.1 + Petal.Width + `my var` + (1 | class)"
    m = ml.fit(r["formula"], realdata["rnames"], method="reml")
    check_fit(m, r, se=1e-5, vcov=1e-5)   # includes the names: (Intercept), x.1, Petal.Width, `my var`


@pytest.mark.parametrize("formula", ["yield ~ x.2 + (1 | class)", "yield ~ Petal.Length + (1 | class)",
                                     "yield ~ `your var` + (1 | class)"])
def test_a_missing_name_is_named_whole(formula, realdata):
    missing = formula.split("~ ")[1].split(" +")[0].strip("`")
    with pytest.raises(FormulaError, match=f"'{missing}' is not a column"):
        ml.fit(formula, realdata["rnames"], method="reml")


def test_keywords_and_transforms_of_dotted_names(realdata):
    data = realdata["rnames"].rename(columns={"x.1": "lambda"})
    m = ml.fit("yield ~ lambda + log(Petal.Width) + (1 | class)", data, method="ml")
    assert list(m.fixef.index) == ["(Intercept)", "lambda", "log(Petal.Width)"]


@pytest.mark.parametrize("formula", ["y ~ x.__class__", "y ~ np.log(x)", "y ~ x[0]", "y ~ `x"])
def test_names_cannot_run_code(formula):
    with pytest.raises(FormulaError):
        f = parse_formula(formula)
        ml.formula.parse.check_names(f, ["y", "x", "x.__class__"])


def test_three_level_nesting_names(realdata_ref, realdata):
    r = realdata_ref["nested3"]
    m = ml.fit(r["formula"], realdata["sim"], method="reml")
    check_fit(m, r, se=1e-4, vcov=1e-4)
    assert list(m.ranef) == r["ranef_names"] == ["c:(b:a)", "b:a", "a"]
    for name, levels in r["ranef_levels"].items():
        assert sorted(m.ranef[name].index) == sorted(levels)
    bars = parse_formula("y ~ 1 + (1 | a/b/c/d)").bars
    assert [b.group for b in bars] == ["a", "b:a", "c:(b:a)", "d:(c:(b:a))"]


@pytest.mark.slow
def test_bayesian_fits_take_r_names_and_nesting_names(realdata_ref, realdata):
    tiny = dict(draws=100, tune=100, chains=2, seed=1, progress=False, check=False)
    r = realdata_ref["rnames"]
    m = ml.fit(r["formula"], realdata["rnames"], **tiny)
    assert list(m.fixef.index) == list(r["fixef"])
    n = ml.fit(realdata_ref["nested3"]["formula"], realdata["sim"], **tiny)
    assert n.varcorr["grp"].tolist() == ["c:(b:a)", "b:a", "a", "Residual"]
