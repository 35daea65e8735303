"""Hostile formulas and data through every path that shares the formula layer: REML, ML
(GLMM for other families) and the Bayesian model build (nothing is sampled).

Each case was an input that gave a silently wrong number (a term dropped, a column read
as a constant), a raw exception (KeyError, LinAlgError, PyMC's ValueError) or lme4's
numbers refused; now it is a MultilevelError naming the term or column, or lme4's fit.
"""

from __future__ import annotations

import decimal
import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, FitError, FormulaError


def _data(n_groups: int = 6, per: int = 5, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_groups * per
    g = np.repeat([f"g{i}" for i in range(n_groups)], per)
    x = rng.normal(size=n)
    y = 2 + 0.5 * x + rng.normal(size=n_groups)[np.repeat(np.arange(n_groups), per)] \
        + rng.normal(scale=0.5, size=n)
    return pd.DataFrame({"y": y, "x": x, "z": rng.normal(size=n), "g": g,
                         "cnt": rng.poisson(3, size=n)})


def _build(formula, data, family="gaussian"):
    from multilevel.bayes import build_model

    return build_model(formula, data, family=family)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


PATHS = [
    pytest.param(lambda f, d, fam="gaussian": ml.fit(f, d, method="reml", family=fam), id="reml"),
    pytest.param(lambda f, d, fam="gaussian": ml.fit(f, d, method="ml", family=fam), id="ml"),
    pytest.param(_build, id="bayes-build"),
]


@pytest.fixture(scope="module")
def bambi_imported():
    pytest.importorskip("bambi")


# ------------------------------------------------------------------ formula syntax

@pytest.mark.parametrize("fit", PATHS)
@pytest.mark.parametrize("formula, message", [
    # formulae read the first name and dropped the rest silently: y ~ x x was y ~ x
    ("y ~ x x", r"Missing operator between 'x' and 'x'"),
    ("y ~ x z + (1 | g)", r"Missing operator between 'x' and 'z'"),
    ("y ~ x + (1 | g)(1 | g)", r"Missing operator between '\)' and '\('"),
    ("y ~ x, z", r"',' at column 5 .* outside a call"),   # was y ~ x: z dropped
    ("y ~~ x", "exactly one '~'"),                         # R: invalid model formula
    # R: invalid power in formula; formulae's messages named none of it
    ("y ~ x^0", r"Power '\^0'.*whole number >= 1"),
    ("y ~ (x + z)^1.5", r"Power '\^1.5'.*I\(x\^2\)"),
    ("y ~ (x + z)^x", r"Power '\^x'"),
    ("y ~ x ** z", r"Power '\^z'"),
])
def test_malformed_formulas_are_formula_errors_naming_the_place(fit, formula, message):
    with pytest.raises(FormulaError, match=message):
        fit(formula, _data())


def test_commas_powers_and_constants_inside_calls_still_parse():
    fit = _quiet(ml.fit, "y ~ (x + z)^2 + I(x^2) + poly(z, 2, raw = TRUE) + ifelse(x > 0, 1, 0)"
                 " + scale(z, scale = FALSE) + (1 | g)", _data(), method="reml")
    assert "x:z" in fit.fixef.index and fit.nobs == 30


@pytest.mark.parametrize("bare, parenthesized", [
    # lme4's findbars: a bar outside parentheses takes the whole right-hand side
    # (lme4's own tests fit lmer(z ~ 1|f) and lmer(log(y) ~ x | z))
    ("y ~ x | g", "y ~ 1 + (x | g)"),
    ("y ~ 1 | g", "y ~ (1 | g)"),
    ("y ~ x + z | g", "y ~ (x + z | g)"),
    ("y ~ x || g", "y ~ (x || g)"),
])
def test_a_bar_without_parentheses_is_lme4s_term_over_the_whole_right_side(bare, parenthesized):
    d = _data()
    a = _quiet(ml.fit, bare, d, method="reml")
    b = _quiet(ml.fit, parenthesized, d, method="reml")
    assert list(a.fixef.index) == ["(Intercept)"]
    assert a.reml_criterion == pytest.approx(b.reml_criterion, rel=1e-12)
    assert np.allclose(a.fixef, b.fixef, rtol=1e-10)


def test_a_bare_bar_matches_lme4_on_sleepstudy():
    # lme4 1.1-31: REMLcrit(m), fixef(m) of m <- lmer(Reaction ~ Days | Subject, sleepstudy);
    # the intercept within the optimizers' stopping difference (relative 1.5e-6)
    fit = ml.fit("Reaction ~ Days | Subject", "sleepstudy", method="reml")
    assert fit.reml_criterion == pytest.approx(1769.84490386, abs=1e-6)
    assert fit.fixef["(Intercept)"] == pytest.approx(257.762168357, rel=1e-5)


def test_a_backticked_column_with_a_bar_in_its_name_is_not_a_bar():
    d = _data().rename(columns={"z": "a|b"})
    fit = ml.fit("y ~ `a|b` + (1 | g)", d, method="reml")
    assert len(fit.fixef) == 2 and len(fit.varcorr) == 2


# ------------------------------------------------------------ group-effect counts

def _pairs(d: pd.DataFrame) -> pd.DataFrame:
    return d.assign(g2=[f"l{i // 2}" for i in range(len(d))], gi=[f"o{i}" for i in range(len(d))])


@pytest.mark.parametrize("fit", PATHS)
def test_as_many_group_effects_as_rows_is_refused_for_an_lmm(fit):
    # lme4: number of observations (=30) <= number of random effects (=30) for term (x | g2)
    with pytest.raises(DataError, match=r"'\(x \| g2\)' has 30 group effects \(15 levels of 'g2' "
                                        r"x 2 columns\) for 30 rows.*check.nobs.vs.nRE"):
        fit("y ~ x + (x | g2)", _pairs(_data()))


def test_the_same_effects_split_by_double_bar_still_fit():
    fit = _quiet(ml.fit, "y ~ x + (x || g2)", _pairs(_data()), method="reml")
    assert fit.nobs == 30 and len(fit.varcorr) == 3


@pytest.mark.parametrize("fit", [PATHS[1], PATHS[2]])
def test_more_group_effects_than_rows_is_refused_for_a_glmm(fit):
    with pytest.raises(DataError, match=r"'\(x \| gi\)' has 60 group effects .* for 30 rows"):
        fit("cnt ~ x + (x | gi)", _pairs(_data()), "poisson")


def test_a_glmm_may_have_as_many_group_effects_as_rows():
    # glmer's check is n < effects (allow.n = TRUE): 15 levels x 2 columns on 30 rows fits
    fit = _quiet(ml.fit, "cnt ~ x + (x | g2)", _pairs(_data()), method="ml", family="poisson")
    assert fit.nobs == 30


# ----------------------------------------------------- Bayesian build: repeated terms

@pytest.mark.parametrize("formula, first", [
    ("y ~ (1 | g) + (1 | g)", r"'\(1 \| g\)'"),
    ("y ~ x + (x | g) + (1 | g)", r"'\(x \| g\)'"),
    ("y ~ x + (1 + x | g) + (1 + x | g)", r"'\(1 \+ x \| g\)'"),   # was PyMC's ValueError
])
def test_a_column_twice_for_one_factor_is_refused_by_the_bayesian_build(bambi_imported, formula, first):
    with pytest.raises(FormulaError, match=first + r" and .* both give grouping factor 'g' "
                                                   r"the intercept.*method='REML'"):
        _build(formula, _data())
    assert _quiet(ml.fit, formula, _data(), method="reml").nobs == 30   # lme4 fits it


def test_intercept_and_slope_in_separate_terms_still_build(bambi_imported):
    built = _build("y ~ x + (1 | g) + (0 + x | g)", _data())
    assert [b.bambi_terms for b in built.blocks] == [("1|g",), ("x|g",)]


@pytest.mark.parametrize("name", ["my col", "x-y", "1x", "ü"])
def test_a_backticked_grouping_column_builds_its_correlated_block(bambi_imported, name):
    d = _data().rename(columns={"g": name})
    (block,) = _build(f"y ~ x + (x | `{name}`)", d).blocks   # was "Bambi did not create..."
    assert block.correlated and block.bambi_terms == (f"1|{name}", f"x|{name}")


# ------------------------------------------------------------------ column names

@pytest.mark.parametrize("fit", PATHS)
@pytest.mark.parametrize("name", ["True", "False", "None", "TRUE", "FALSE"])
@pytest.mark.parametrize("role", ["predictor", "group", "response"])
def test_a_column_named_like_a_constant_is_refused(fit, name, role):
    # y ~ True + (1 | g) fitted the intercept only (the column silently left out);
    # (1 | True) was a raw KeyError
    d = _data()
    d[name] = {"predictor": d["x"], "group": d["g"], "response": d["y"]}[role]
    formula = {"predictor": f"y ~ {name} + (1 | g)", "group": f"y ~ x + (1 | {name})",
               "response": f"{name} ~ x + (1 | g)"}[role]
    with pytest.raises(DataError, match=rf"Column '{name}' has the name of a constant.*rename"):
        fit(formula, d)


# ------------------------------------------------------------------ column types

@pytest.mark.parametrize("fit", PATHS)
@pytest.mark.parametrize("values, shown", [
    (lambda n: [b"a", b"b"] * (n // 2), "values of type bytes"),
    (lambda n: [[1, 2]] * n, "values of type list"),
    (lambda n: [{"a": 1}] * n, "values of type dict"),
    (lambda n: [decimal.Decimal(i) for i in range(n)], "values of type Decimal"),
    (lambda n: pd.period_range("2020-01", periods=n, freq="M"), r"period\[M\] values"),
    (lambda n: pd.arrays.IntervalArray.from_breaks(np.arange(n + 1)), "interval.* values"),
])
def test_values_a_formula_cannot_code_are_data_errors_naming_the_column(fit, values, shown):
    # formulae: "Variable is of an unrecognized type (<class 'pandas.Series'>)"
    d = _data()
    d["x"] = values(len(d))
    with pytest.raises(DataError, match=rf"Column 'x' holds {shown}.*convert it"):
        fit("y ~ x + (1 | g)", d)


@pytest.mark.parametrize("column", ["y", "x"])
def test_long_double_columns_fit_as_doubles(bambi_imported, column):
    d = _data()
    wide = d.assign(**{column: d[column].astype(np.longdouble)})
    assert np.allclose(ml.fit("y ~ x + (1 | g)", wide, method="reml").fixef,
                       ml.fit("y ~ x + (1 | g)", d, method="reml").fixef, rtol=1e-12)
    assert _build("y ~ x + (1 | g)", wide).design.y.dtype == np.float64   # was PyTensor's TypeError


def test_a_non_binary_bernoulli_response_lists_the_values_readably():
    d = _data().assign(b=lambda t: (t["x"] > 0).astype(float))
    d.loc[0, "b"] = 2.0
    with pytest.raises(DataError, match=r"must be 0/1 for family 'bernoulli'; found values 2\. Recode"):
        ml.fit("b ~ z + (1 | g)", d, method="ml", family="bernoulli")


# ------------------------------------------------------------------ GLMM breakdowns

@pytest.mark.parametrize("family, make", [
    ("bernoulli", lambda d: d.assign(cnt=(d["x"] > 0).astype(int))),   # complete separation
    ("poisson", lambda d: d.assign(cnt=d["cnt"] * 10 ** 15)),
])
def test_a_glmm_pirls_breakdown_is_a_fit_error(family, make):
    # lme4 stops too ("pwrssUpdate did not converge", "Downdated VtV is not positive
    # definite"); ours was numpy's LinAlgError from inside PIRLS
    with pytest.raises(FitError, match=r"cannot be fitted: PIRLS.*glmer stops on such data too"):
        _quiet(ml.fit, "cnt ~ x + (1 | g)", make(_data()), method="ml", family=family)


# ------------------------------------------------------------------ offsets

@pytest.mark.parametrize("fit", PATHS)
@pytest.mark.parametrize("values, message", [
    # a text column was coded as a factor: offset(o) silently added 1 to every row (REML/ML)
    # and Bambi raised a bare ValueError
    (lambda n: ["a"] * n, r"Column 'o' of the offset 'offset\(o\)' has type str"),
    (lambda n: pd.Categorical(["a", "b"] * (n // 2)), "has type category"),
    # overflowed X'X silently (RuntimeWarning only, estimates of 1e200)
    (lambda n: np.full(n, 1e200), r"The offset 'offset\(o\)' has values of magnitude 1e\+200"),
])
def test_an_offset_that_is_not_usable_numbers_is_refused(fit, values, message):
    d = _data()
    d["o"] = values(len(d))
    with pytest.raises(DataError, match=message):
        fit("y ~ x + offset(o) + (1 | g)", d)


def test_a_repeated_offset_counts_once_as_in_r():
    # R: coef(lm(y ~ x + offset(o) + offset(o))) equals coef(lm(y ~ x + offset(o)));
    # ours added the offset twice (and Bambi, which deduplicates terms, once)
    d = _data().assign(o=lambda t: t["z"])
    once = ml.fit("y ~ x + offset(o) + (1 | g)", d, method="ml").fixef
    twice = ml.fit("y ~ x + offset(o) + offset( o ) + (1 | g)", d, method="ml").fixef
    assert np.allclose(once, twice, rtol=1e-10)
    assert not np.allclose(once, ml.fit("y ~ x + offset(2 * o) + (1 | g)", d, method="ml").fixef)


def test_a_logical_offset_is_ones_and_zeros_as_in_r():
    d = _data().assign(o=lambda t: t["z"] > 0)
    assert np.allclose(ml.fit("y ~ x + offset(o) + (1 | g)", d, method="ml").fixef,
                       ml.fit("y ~ x + offset(o) + (1 | g)", d.assign(o=d["o"].astype(float)),
                              method="ml").fixef, rtol=1e-10)


# ------------------------------------------------------------ one-level factors

@pytest.mark.parametrize("fit", PATHS)
@pytest.mark.parametrize("formula, h", [
    # lme4: "contrasts can be applied only to factors with 2 or more levels"; formulae
    # dropped the one column, so these were fitted silently without the term
    ("y ~ x + h + (1 | g)", lambda n: ["a"] * n),
    ("y ~ x + h + (1 | g)", lambda n: pd.Categorical(["a"] * n, categories=["a", "b"])),
    ("y ~ x + factor(h) + (1 | g)", lambda n: [1] * n),
    ("y ~ x + C(h) + (1 | g)", lambda n: ["a"] * n),
    ("y ~ x + (0 + h | g)", lambda n: ["a"] * n),
])
def test_a_factor_with_one_level_is_refused_as_in_r(fit, formula, h):
    d = _data()
    d["h"] = h(len(d))
    with pytest.raises(DataError, match=r"Column 'h' is a factor with 1 level \('(a|1)'\)"):
        fit(formula, d)


def test_a_factor_left_with_one_level_by_missing_values_is_refused():
    d = _data().assign(h=["a"] * 29 + ["b"])
    d.loc[29, "x"] = np.nan
    with pytest.raises(DataError, match=r"'h' is a factor with 1 level"):
        _quiet(ml.fit, "y ~ x + h + (1 | g)", d, method="reml")


def test_a_constant_logical_still_fits_as_r_does():
    # R codes a logical by its TRUE column, then drops it as rank deficient
    fit = _quiet(ml.fit, "y ~ x + flag + (1 | g)", _data().assign(flag=True), method="reml")
    assert list(fit.fixef.index) == ["(Intercept)", "x"]


@pytest.mark.parametrize("column", ["x", "y"])
def test_an_object_column_of_numbers_is_numbers(column):
    # one None among floats leaves an object column: R reads numbers; formulae refused
    # the predictor ("unrecognized type") and the response was "type object"
    d = _data()
    holed = d.assign(**{column: np.array([None, *d[column].iloc[1:]], dtype=object)})
    with pytest.warns(Warning, match="Removed 1 of 30 rows"):
        fit = ml.fit("y ~ x + (1 | g)", holed, method="reml")
    assert np.allclose(fit.fixef, ml.fit("y ~ x + (1 | g)", d.iloc[1:], method="reml").fixef, rtol=1e-10)


@pytest.mark.parametrize("nagq", [101, 10 ** 6])
def test_more_quadrature_points_than_lme4_allows_is_a_spec_error(nagq):
    # lme4: "ord < 101L is not TRUE"; ours overflowed the Hermite rule (1000) or raised a raw
    # MemoryError allocating a 10^6 x 10^6 matrix
    from multilevel.errors import SpecError

    with pytest.raises(SpecError, match=rf"nAGQ={nagq} is more quadrature points than lme4's GHrule allows \(100\)"):
        ml.fit("cnt ~ x + (1 | g)", _data(), method="ml", family="poisson", nAGQ=nagq)


# ------------------------------------------------------------ many fixed columns

def _designs():
    rng = np.random.default_rng(3)
    n = 400
    onehot = np.eye(150)[np.arange(n) % 150]
    dense = rng.normal(size=(n, 120))
    aliased = np.column_stack([dense, dense[:, 3] - 2 * dense[:, 7], dense[:, :5]])
    near = np.column_stack([dense, dense[:, 0] + 1e-9 * rng.normal(size=n)])
    with_zero = np.column_stack([dense, np.zeros(n)])
    return {"factor": np.column_stack([np.ones(n), onehot[:, 1:]]), "dense": dense,
            "aliased": aliased, "nearly aliased": near, "zero column": with_zero,
            "wide": rng.normal(size=(60, 90))}


@pytest.mark.parametrize("name", list(_designs()))
def test_the_one_qr_rank_check_keeps_the_columns_the_column_by_column_check_keeps(name, monkeypatch):
    # a 2000-level fixed factor on 4000 rows spent 16 s of 20 s in the column-by-column
    # check; designs of more than FAST_RANK_COLUMNS columns now try one LAPACK QR first
    from multilevel.formula import design

    X = _designs()[name]
    names = [f"c{j}" for j in range(X.shape[1])]
    fast = design._full_rank_columns(X, names)
    monkeypatch.setattr(design, "FAST_RANK_COLUMNS", 10 ** 9)
    slow = design._full_rank_columns(X, names)
    assert list(fast[0]) == list(slow[0]) and fast[1] == slow[1]
    assert (len(slow[1]) == 0) == (name in ("factor", "dense"))


@pytest.mark.parametrize("family, response, data, shown", [
    # glmer: "Response is constant" (check.response.not.const); ours was a PIRLS breakdown
    # (poisson, negative binomial) or "PIRLS did not converge" (gamma)
    ("poisson", "r", lambda d: d.assign(r=3), "3 in every used row"),
    ("negativebinomial", "r", lambda d: d.assign(r=1), "1 in every used row"),
    ("gamma", "r", lambda d: d.assign(r=1.5), "1.5 in every used row"),
    ("binomial", "cbind(s, t - s)", lambda d: d.assign(s=5, t=10), "0.5 as a share of the trials"),
])
def test_a_constant_glmm_response_is_refused_as_glmer_does(bambi_imported, family, response, data, shown):
    d = data(_data())
    with pytest.raises(DataError, match=rf"is constant \({shown}.*check.response.not.const"):
        ml.fit(f"{response} ~ x + (1 | g)", d, method="ml", family=family)
    _build(f"{response} ~ x + (1 | g)", d, family)   # the priors identify the Bayesian model


def test_a_constant_count_without_group_effects_fits_as_rs_glm():
    fit = ml.fit("r ~ x", _data().assign(r=3), method="ml", family="poisson")
    assert fit.fixef["(Intercept)"] == pytest.approx(np.log(3), abs=1e-8)


@pytest.mark.parametrize("fit", PATHS)
@pytest.mark.parametrize("formula", ["y ~ 0 + (1 | g)", "y ~ -1 + (0 + x | g)", "y ~ 0"])
def test_a_model_without_fixed_effects_is_refused_as_not_available(fit, formula):
    # lme4 fits y ~ 0 + (1 | g) (numeric(0) fixed effects); ours said only "has no columns"
    with pytest.raises(FormulaError, match=r"have no columns: a model without fixed effects is "
                                           r"not available \(lme4 fits one\)"):
        fit(formula, _data())


@pytest.mark.parametrize("formula, same_as", [
    # R: a term removed ahead of every added one removes nothing (lm(y ~ -x) has the
    # intercept only, lm(y ~ -x + z + x) has z and x); formulae could not subtract a term
    # from its intercept: "unsupported operand type(s) for -: 'Intercept' and 'Term'"
    ("y ~ -x + (1 | g)", "y ~ 1 + (1 | g)"),
    ("y ~ -x + z + x + (1 | g)", "y ~ z + x + (1 | g)"),
    ("y ~ -x - z + (1 | g)", "y ~ 1 + (1 | g)"),
    ("y ~ (1 | g) - x", "y ~ 1 + (1 | g)"),
])
def test_a_leading_removal_removes_nothing_as_in_r(formula, same_as):
    d = _data()
    a = _quiet(ml.fit, formula, d, method="reml")
    b = _quiet(ml.fit, same_as, d, method="reml")
    assert list(a.fixef.index) == list(b.fixef.index)
    assert np.allclose(a.fixef, b.fixef, rtol=1e-10)


@pytest.mark.parametrize("method", ["reml", "ml"])
def test_sparse_columns_fit_as_dense_ones(bambi_imported, method):
    d = _data()
    sparse = d.assign(x=pd.arrays.SparseArray(d["x"].to_numpy()), y=pd.arrays.SparseArray(d["y"].to_numpy()))
    assert np.allclose(ml.fit("y ~ x + (1 | g)", sparse, method=method).fixef,
                       ml.fit("y ~ x + (1 | g)", d, method=method).fixef, rtol=1e-12)
    assert len(_build("y ~ x + (1 | g)", sparse).design.y) == 30


def test_a_grouping_column_with_a_bar_in_its_name(bambi_imported):
    d = _data().rename(columns={"g": "a|b"})
    assert ml.fit("y ~ x + (1 | `a|b`)", d, method="reml").nobs == 30   # lme4 reads `a|b` too
    with pytest.raises(FormulaError, match=r"Grouping column 'a\|b' .* Bambi reads as a bar"):
        _build("y ~ x + (1 | `a|b`)", d)   # was Bambi's "too many values to unpack"
