"""The formula layer: lme4's bar expansions, model frames, design matrices, and safety."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, DataWarning, FamilyError, FormulaError
from multilevel.formula import build_design, model_frame, parse_formula

PARSE_CASES = [
    # formula, fixed part, [(expr, group)]
    ("Reaction ~ Days + (Days | Subject)", "Days", [("1 + Days", "Subject")]),
    ("Reaction ~ Days + (Days || Subject)", "Days", [("1", "Subject"), ("0 + Days", "Subject")]),
    ("y ~ (1 + x + z || g)", "1", [("1", "g"), ("0 + x", "g"), ("0 + z", "g")]),
    ("y ~ (0 + x || g)", "1", [("0 + x", "g")]),
    ("strength ~ 1 + (1 | batch/cask)", "1", [("1", "batch"), ("1", "cask:batch")]),
    ("y ~ x + (x | a/b/c)", "x", [("1 + x", "a"), ("1 + x", "b:a"), ("1 + x", "c:(b:a)")]),
    ("y ~ (1 | plate) + (1 | sample)", "1", [("1", "plate"), ("1", "sample")]),
    ("y ~ x - 1 + (0 + x | g:h)", "x - 1", [("0 + x", "g:h")]),
    ("y ~ (-1 + x | g)", "1", [("0 + x", "g")]),
    ("y ~ poly(x, degree=2) + C(z)", "poly(x, degree=2) + C(z)", []),
]


@pytest.mark.parametrize("formula, fixed, bars", PARSE_CASES)
def test_parse_expands_bars_like_lme4(formula, fixed, bars):
    parsed = parse_formula(formula)
    assert parsed.fixed == fixed
    assert [(b.expr, b.group) for b in parsed.bars] == bars


def test_parse_binomial_responses():
    cb = parse_formula("cbind(incidence, size - incidence) ~ period + (1 | herd)").response
    assert (cb.kind, cb.args) == ("cbind", ("incidence", "size - incidence"))
    pr = parse_formula("p(y, n) ~ x").response
    assert (pr.kind, pr.args) == ("trials", ("y", "n"))


SYNTAX_ERRORS = [
    ("y ~ x + (1 | g", "Unbalanced"),
    ("y x", "exactly one '~'"),
    ("~ x", "exactly one '~'"),
    ("y ~ (x | )", "grouping factor"),
    ("y ~ (1 | g | h)", "more than one"),
    ("y ~ x + (1 | log(g))", "must be a column name"),
    ("y ~ x.__class__", "not allowed"),
    ("y ~ os.system(1)", "not allowed"),
    ("y ~ x[0]", "not allowed"),
    ("y ~ `weird col", "not closed"),
    ("", "non-empty"),
]


@pytest.mark.parametrize("formula, message", SYNTAX_ERRORS)
def test_syntax_errors_point_at_the_problem(formula, message):
    with pytest.raises(FormulaError, match=message):
        parse_formula(formula)


def test_unknown_function_refused_before_evaluation():
    data = ml.datasets.load("sleepstudy")
    with pytest.raises(FormulaError, match="Function 'eval' is not allowed"):
        model_frame(parse_formula("Reaction ~ eval(Days)"), data)


def test_python_keywords_are_column_names_not_code():
    # `lambda: 1` is the interaction of a column 'lambda' with 1; no such column here
    data = ml.datasets.load("sleepstudy")
    with pytest.raises(FormulaError, match="'lambda' is not a column"):
        model_frame(parse_formula("Reaction ~ lambda: 1"), data)


@pytest.mark.parametrize("name", ["B", "C", "I", "log", "scale"])
def test_grouping_column_named_like_a_transform(name):
    # a bare name after '|' is a column, even where formulae also has a transform of that name
    from multilevel.bayes.model import build_model

    data = ml.datasets.load("sleepstudy").rename(columns={"Subject": name})
    ours = ml.fit(f"Reaction ~ Days + (1 | {name})", data, method="REML")
    plain = ml.fit("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"), method="REML")
    assert ours.deviance == pytest.approx(plain.deviance, rel=1e-12)
    assert build_model(f"Reaction ~ Days + (1 | {name})", data).blocks[0].bambi_terms == (f"1|{name}",)


def test_missing_column_is_named():
    data = ml.datasets.load("sleepstudy")
    with pytest.raises(FormulaError, match="'Dayz' is not a column"):
        model_frame(parse_formula("Reaction ~ Dayz + (1 | Subject)"), data)


def test_rows_with_missing_values_dropped_and_counted():
    data = ml.datasets.load("sleepstudy").copy()
    data.loc[[0, 5, 7], "Days"] = np.nan
    data["unused"] = np.nan  # not in the formula: must not cause drops
    parsed = parse_formula("Reaction ~ Days + (1 | Subject)")
    with pytest.warns(DataWarning, match="Removed 3 of 180 rows"):
        frame = model_frame(parsed, data)
    assert len(frame.data) == 177 and frame.n_dropped == 3
    with pytest.raises(DataError, match="3 of 180 rows have missing values in column"):
        model_frame(parsed, data, na="error")


def test_non_numeric_response_for_gaussian():
    data = ml.datasets.load("sleepstudy").assign(R=lambda d: d.Reaction.astype(str))
    with pytest.raises(DataError, match="Response column 'R' has type"):
        model_frame(parse_formula("R ~ Days + (1 | Subject)"), data)


def test_group_with_one_level():
    data = ml.datasets.load("sleepstudy").assign(one="a")
    with pytest.raises(DataError, match="'one' .* has only 1 level"):
        model_frame(parse_formula("Reaction ~ Days + (1 | one)"), data)


def test_unknown_family():
    with pytest.raises(FamilyError, match="Unknown family 'gamma2'"):
        model_frame(parse_formula("Reaction ~ Days"), ml.datasets.load("sleepstudy"), "gamma2")


def test_binomial_needs_trials():
    with pytest.raises(FamilyError, match="cbind"):
        model_frame(parse_formula("incidence ~ period"), ml.datasets.load("cbpp"), "binomial")


def test_cbind_arguments_cannot_call_functions():
    data = ml.datasets.load("cbpp")
    with pytest.raises(FormulaError, match="may only combine column names"):
        model_frame(parse_formula("cbind(incidence, abs(size)) ~ period"), data, "binomial")


def test_bernoulli_two_level_factor_is_coded_like_r():
    data = pd.DataFrame({"y": pd.Categorical(["no", "yes", "no", "yes"]), "x": [1.0, 2, 3, 4]})
    frame = model_frame(parse_formula("y ~ x"), data, "bernoulli")
    assert frame.y.tolist() == [0.0, 1.0, 0.0, 1.0]


DESIGN_CASES = [
    # dataset, formula, family, X columns, [(term name, columns, levels)], theta names
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "gaussian", ["(Intercept)", "Days"],
     [("Subject", ["(Intercept)", "Days"], 18)],
     ["Subject.(Intercept)", "Subject.Days.(Intercept)", "Subject.Days"]),
    ("sleepstudy", "Reaction ~ Days + (Days || Subject)", "gaussian", ["(Intercept)", "Days"],
     [("Subject", ["(Intercept)"], 18), ("Subject.1", ["Days"], 18)],
     ["Subject.(Intercept)", "Subject.Days"]),
    ("Pastes", "strength ~ 1 + (1 | batch/cask)", "gaussian", ["(Intercept)"],
     [("cask:batch", ["(Intercept)"], 30), ("batch", ["(Intercept)"], 10)],
     ["cask:batch.(Intercept)", "batch.(Intercept)"]),
    ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", "gaussian", ["(Intercept)"],
     [("plate", ["(Intercept)"], 24), ("sample", ["(Intercept)"], 6)],
     ["plate.(Intercept)", "sample.(Intercept)"]),
    ("cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial",
     ["(Intercept)", "period2", "period3", "period4"], [("herd", ["(Intercept)"], 15)],
     ["herd.(Intercept)"]),
]


@pytest.mark.parametrize("dataset, formula, family, xcols, terms, theta", DESIGN_CASES)
def test_design_matches_lme4_layout(dataset, formula, family, xcols, terms, theta):
    parsed = parse_formula(formula)
    design = build_design(parsed, model_frame(parsed, ml.datasets.load(dataset), family))
    assert design.x_names == xcols
    assert [(t.name, t.cnms, t.n_levels) for t in design.reterms] == terms
    assert design.theta_names() == theta
    Z = design.Z()
    assert Z.shape == (design.n, sum(len(c) * k for _, c, k in terms))
    # every row has exactly one level per term: row sums of the indicator part equal #terms
    first_cols = np.concatenate([[0], np.cumsum([len(c) * k for _, c, k in terms])[:-1]])
    assert Z.nnz <= design.n * sum(len(c) for _, c, _ in terms)
    assert first_cols[0] == 0


# R's terms() order: main effects first, then interactions, written order within an order;
# expected columns from lme4 1.1-31, names(fixef(lmer(formula, mtcars)))
TERM_ORDER_CASES = [
    ("mpg ~ wt*hp + qsec + (1|cyl)", ["(Intercept)", "wt", "hp", "qsec", "wt:hp"]),
    ("mpg ~ wt:hp + am + wt + (1|cyl)", ["(Intercept)", "am", "wt", "wt:hp"]),
    ("mpg ~ (wt + hp + qsec)^2 - wt:qsec + am + (1|cyl)",
     ["(Intercept)", "wt", "hp", "qsec", "am", "wt:hp", "hp:qsec"]),
    ("mpg ~ wt + hp + (1|cyl)", ["(Intercept)", "wt", "hp"]),           # already in order
]


@pytest.mark.parametrize("formula, xcols", TERM_ORDER_CASES)
def test_fixed_columns_in_lme4s_term_order(formula, xcols):
    """Positional contrasts (lmerTest's contest) and lme4's choice of an aliased column
    depend on it; Bambi gets the same order, so its coefficients line up with the design."""
    from multilevel.bayes.model import build_model

    parsed = parse_formula(formula)
    data = ml.datasets.load("mtcars")
    assert build_design(parsed, model_frame(parsed, data, "gaussian")).x_names == xcols
    bambi = build_model(formula, data).bambi
    component = bambi.conditional_parameters[bambi.family.likelihood.parent]
    assert list(component.common_terms) == xcols[1:]


@pytest.mark.parametrize("formula, where", [
    ("y ~ (a+b+c+d+e+f+g+h+i+j+k+l+m+n+o+p+q+r+s+t)^20 + (1|g)", "fixed part"),   # 2^20 - 1
    ("y ~ x + ((a+b+c+d+e+f+g+h+i+j+k+l+m+n+o)^15 | g)", "term"),
    ("y ~ a*b*c*d*e*f*g*h*i*j*k*l*m*n", "fixed part"),                          # 2^14 - 1
])
def test_formulas_that_expand_to_millions_of_terms_are_refused_before_expanding(formula, where):
    """A few dozen characters, within the operator limit, but R's (and formulae's) expansion
    would run for minutes: refused from the text, naming the part."""
    with pytest.raises(FormulaError, match=rf"The {where} .* expands to [\d,]+ terms"):
        parse_formula(formula)


@pytest.mark.parametrize("formula, message", [
    ("Reaction ~ poly(Days, 100000) + (1|Subject)", r"less than the number of distinct values of 'Days' \(10\)"),
    ("Reaction ~ poly(Days, degree = 10) + (1|Subject)", r"'Days' \(10\)"),
    ("Reaction ~ poly(log(Days + 1), 500) + (1|Subject)", r"at most the model's 180 rows"),
    ("Reaction ~ poly(Days, 0) + (1|Subject)", "at least 1"),
])
def test_poly_degree_refused_as_r_does_before_building_the_basis(formula, message):
    """formulae built poly(Days, 100000)'s columns for 20 s, then failed on their NaNs."""
    with pytest.raises(FormulaError, match=message):
        ml.fit(formula, "sleepstudy", method="reml")
    assert len(ml.fit("Reaction ~ poly(Days, 9) + (1|Subject)", "sleepstudy", method="reml").fixef) == 10


def test_integer_columns_compute_as_doubles_like_r():
    """numpy's int64 arithmetic wraps around silently: I(pop^2) with pop near 4e10 gave a
    wrong coefficient and no message. R computes with doubles; so do both engines now,
    for the fit and for new data."""
    from multilevel.bayes.model import build_model

    data = ml.datasets.load("sleepstudy").copy()
    data["pop"] = (data["Days"].astype("int64") + 1) * 4_000_000_000
    as_double = data.assign(pop=data["pop"].astype(float))
    formula = "Reaction ~ I(pop^2) + (1 | Subject)"
    fit, reference = (ml.fit(formula, d, method="reml") for d in (data, as_double))
    np.testing.assert_allclose(fit.fixef.to_numpy(), reference.fixef.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(fit.predict(data.head(5)).to_numpy(),
                               reference.predict(as_double.head(5)).to_numpy(), rtol=1e-9)
    built = build_model(formula, data)   # Bambi gets the same numbers as the design
    bambi = built.bambi.conditional_parameters[built.bambi.family.likelihood.parent]
    np.testing.assert_array_equal(np.asarray(bambi.design.common.design_matrix), built.design.X)


def test_expanded_term_counts():
    from multilevel.formula.expansion import expanded_terms

    cases = {"x*z + f": 4, "(a + b + c)**2 - a:b": 6, "a/b + c": 3, "(a+b)*(c+d)": 8,
             "poly(x, 2) * g + h": 4, "0 + x": 1, "-1 + x": 1, "a:b:c": 1,
             "(a+b+c+d+e+f+g+h+i+j)**10": 1023}
    assert {f: expanded_terms(f) for f in cases} == cases


def test_term_order_keeps_what_formulae_cannot_read_back():
    from multilevel.formula.term_order import r_term_order

    assert r_term_order("x*z + f") == "1 + x + z + f + x:z"
    assert r_term_order("0 + a:b + c") == "0 + c + a:b"
    assert r_term_order("`my x`:z + w") == "`my x`:z + w"    # backticks do not round-trip
    assert r_term_order("x + (") == "x + ("                  # formulae's error comes later


def test_z_is_level_major_with_term_columns_inside():
    parsed = parse_formula("Reaction ~ Days + (Days | Subject)")
    data = ml.datasets.load("sleepstudy")
    design = build_design(parsed, model_frame(parsed, data))
    Z = design.Z().toarray()
    row = 12  # subject 309 (second level), Days = 2
    assert data.Subject.iloc[row] == "309" and data.Days.iloc[row] == 2
    assert Z[row, 2] == 1.0 and Z[row, 3] == 2.0 and Z[row].sum() == 3.0


def test_rank_deficient_columns_are_dropped():
    data = ml.datasets.load("sleepstudy").assign(Days2=lambda d: 2 * d.Days)
    parsed = parse_formula("Reaction ~ Days + Days2 + (1 | Subject)")
    design = build_design(parsed, model_frame(parsed, data))
    assert design.x_names == ["(Intercept)", "Days"]
    assert design.dropped_columns == ["Days2"]


def _two_factors():
    rng = np.random.default_rng(1)
    return pd.DataFrame({"g": np.repeat([f"g{i}" for i in range(12)], 10), "f": np.tile(["a", "b"], 60),
                         "x": rng.normal(size=120), "z": rng.normal(size=120), "y": rng.normal(size=120)})


@pytest.mark.parametrize("formula, cnms, terms", [
    ("y ~ f*x + (f*x | g)", ("(Intercept)", "fb", "x", "fb:x"), ("1|g", "f|g", "x|g", "f:x|g")),
    # R's model.matrix of the term: main effects first, as lme4's cnms
    ("y ~ x + (x*z + f | g)", ("(Intercept)", "x", "z", "fb", "x:z"), ("1|g", "x|g", "z|g", "f|g", "x:z|g")),
    ("y ~ x + (0 + x*z | g)", ("x", "z", "x:z"), ("x|g", "z|g", "x:z|g")),
])
def test_products_in_a_bar_reach_bambi_term_by_term(formula, cnms, terms):
    # the Bayesian block stacks Bambi's terms in the design's column order
    from multilevel.bayes.model import build_model

    [block] = build_model(formula, _two_factors()).blocks
    assert (block.cnms, block.bambi_terms) == (cnms, terms)


def test_a_factor_coded_differently_by_bambi_is_refused_with_what_to_do():
    from multilevel.bayes.model import build_model

    with pytest.raises(FormulaError, match=r"'\(z \+ x:f \| g\)' has 4 columns.*indicator"):
        build_model("y ~ x + (z + x:f | g)", _two_factors())
