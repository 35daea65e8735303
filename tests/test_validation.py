"""Data validation before any engine runs (issue 18): inputs that gave silently wrong numbers
or raw exceptions are refused with a DataError/FormulaError naming the column or term.

Every case runs through each method that shares the formula layer: REML, ML, least squares
(no bars), GLM(M), and the Bayesian model build (validation only, nothing is sampled).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, DataWarning, FormulaError, MultilevelError


def _data(n_groups: int = 8, per: int = 6, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat([f"g{i}" for i in range(n_groups)], per)
    x = rng.normal(size=len(g))
    u = rng.normal(size=n_groups)[np.repeat(np.arange(n_groups), per)]
    y = 2.0 + 0.5 * x + u + rng.normal(scale=0.5, size=len(g))
    return pd.DataFrame({"y": y, "x": x, "g": g, "pos": np.exp(y / 4)})


def _build_bayes(formula, data, family="gaussian", priors=None):
    from multilevel.bayes import build_model

    return build_model(formula, data, family=family, priors=priors)


# (label, fit function); each is called as fn(formula, data, family)
METHODS = [
    ("reml", lambda f, d, fam="gaussian": ml.fit(f, d, method="reml", family=fam)),
    ("ml", lambda f, d, fam="gaussian": ml.fit(f, d, method="ml", family=fam)),
    ("bayes-build", lambda f, d, fam="gaussian": _build_bayes(f, d, fam)),
]
GAUSSIAN_METHODS = [pytest.param(fn, id=name) for name, fn in METHODS]


# ----------------------------------------------------------------- non-finite values

@pytest.mark.parametrize("fit", GAUSSIAN_METHODS)
@pytest.mark.parametrize("formula", ["y ~ x + (1 | g)", "y ~ x"])
def test_infinite_predictor_is_refused_naming_column_and_rows(fit, formula):
    d = _data()
    d.loc[[3, 7], "x"] = [np.inf, -np.inf]
    with pytest.raises(DataError, match=r"2 of 48 rows .*'x'"):
        fit(formula, d)


@pytest.mark.parametrize("fit", GAUSSIAN_METHODS)
def test_log_of_zero_response_is_refused(fit):
    d = _data()
    d.loc[5, "pos"] = 0.0
    with pytest.raises(DataError, match=r"1 of 48 rows .*-inf.*'log\(pos\)'"):
        fit("log(pos) ~ x + (1 | g)", d)


@pytest.mark.parametrize("fit", GAUSSIAN_METHODS)
def test_log_of_negative_predictor_is_refused(fit):
    d = _data()
    with pytest.raises(DataError, match=r"non-finite values \(NaN\).*'log\(x\)'"):
        fit("y ~ log(x) + (1 | g)", d)


def test_missing_values_are_still_dropped_with_a_count():
    d = _data()
    d.loc[[1, 2, 3], "x"] = np.nan
    with pytest.warns(DataWarning, match="Removed 3 of 48 rows"):
        m = ml.fit("y ~ x + (1 | g)", d, method="reml")
    assert m.nobs == 45


# ----------------------------------------------------------------- scales

@pytest.mark.parametrize("fit", GAUSSIAN_METHODS)
@pytest.mark.parametrize("factor", [1e300, 1e-300])
def test_overflow_prone_scale_is_refused_not_dropped(fit, factor):
    d = _data()
    d["big"] = d["x"] * factor
    with pytest.raises(DataError, match=r"'big'.*Rescale"):
        fit("y ~ big + (1 | g)", d)


def test_large_but_safe_scale_still_fits_exactly():
    d = _data()
    d["big"] = d["x"] * 1e50
    a = ml.fit("y ~ x + (1 | g)", d, method="ml")
    b = ml.fit("y ~ big + (1 | g)", d, method="ml")
    assert b.fixef["big"] * 1e50 == pytest.approx(a.fixef["x"], rel=1e-6)
    assert b.loglik == pytest.approx(a.loglik, rel=1e-9)


# ----------------------------------------------------------------- reserved names

@pytest.mark.parametrize("fit", GAUSSIAN_METHODS)
def test_column_named_intercept_is_refused(fit):
    d = _data().rename(columns={"x": "Intercept"})
    with pytest.raises(DataError, match=r"'Intercept'.*[Rr]ename"):
        fit("y ~ Intercept + (1 | g)", d)


@pytest.mark.parametrize("fit", GAUSSIAN_METHODS)
@pytest.mark.parametrize("name", ["sigma", "mu"])
def test_column_named_like_a_family_parameter_is_refused(fit, name):
    d = _data().rename(columns={"x": name})
    with pytest.raises(DataError, match=rf"'{name}'.*[Rr]ename"):
        fit(f"y ~ {name} + (1 | g)", d)


def test_unused_reserved_column_is_harmless():
    d = _data()
    d["Intercept"] = 5.0
    a = ml.fit("y ~ x + (1 | g)", d, method="reml")
    b = ml.fit("y ~ x + (1 | g)", d.drop(columns="Intercept"), method="reml")
    assert a.fixef.to_dict() == pytest.approx(b.fixef.to_dict())


def test_family_parameter_names_depend_on_family():
    d = _data()
    d["b"] = (d["y"] > d["y"].median()).astype(int)
    d = d.rename(columns={"x": "p"})
    with pytest.raises(DataError, match="'p'"):
        ml.fit("b ~ p + (1 | g)", d, method="ml", family="bernoulli")
    ml.fit("y ~ p + (1 | g)", d, method="reml")  # no parameter p in a gaussian model


# ----------------------------------------------------------------- group labels

@pytest.mark.parametrize("fit", GAUSSIAN_METHODS)
def test_group_values_that_read_alike_are_refused(fit):
    d = _data()
    labels = pd.Series(np.repeat(np.arange(8), 6), dtype=object)
    labels.iloc[0] = "1"   # the string "1" beside the integer 1
    labels.iloc[6] = 1
    d["h"] = labels.to_numpy()
    with pytest.raises(DataError, match=r"1 and '1'|'1' and 1"):
        fit("y ~ x + (1 | h)", d)


@pytest.mark.parametrize("fit", GAUSSIAN_METHODS)
def test_colon_in_interaction_values_that_collide_is_refused(fit):
    d = _data()
    d["a"] = np.where(np.arange(48) % 2 == 0, "p:q", "p")
    d["b"] = np.where(np.arange(48) % 2 == 0, "r", "q:r")
    d["a"] = d["a"] + np.where(np.arange(48) % 4 < 2, "", "2")
    with pytest.raises(DataError, match=r"read alike"):
        fit("y ~ x + (1 | a:b)", d)


def test_colons_without_collision_predict_the_fitted_values():
    d = _data()
    d["a"] = np.where(np.arange(48) % 3 == 0, "p:q", "s")
    m = ml.fit("y ~ x + (1 | a:g)", d, method="reml")
    assert np.allclose(m.predict(d)["estimate"], m.predict()["estimate"])


def test_float_categories_predict_the_fitted_values():
    # categories 1.0, 2.0, ... were labelled "1.0" in the fit but "1" for new rows
    d = _data()
    d["h"] = pd.Categorical(np.repeat(np.arange(8) + 1.0, 6))
    m = ml.fit("y ~ x + (1 | h)", d, method="reml")
    assert np.allclose(m.predict(d)["estimate"], m.predict()["estimate"])


# ----------------------------------------------------------------- responses per family

@pytest.mark.parametrize("fit", GAUSSIAN_METHODS)
def test_constant_gaussian_response_is_refused(fit):
    d = _data()
    d["y"] = 3.0
    with pytest.raises(DataError, match=r"'y' is constant"):
        fit("y ~ x + (1 | g)", d)


@pytest.mark.parametrize("formula", ["b ~ x + (1 | g)", "b ~ x"])
@pytest.mark.parametrize("value", [0, 1])
def test_constant_bernoulli_response_is_refused(formula, value):
    d = _data()
    d["b"] = value
    with pytest.raises(DataError, match="Response is constant"):
        ml.fit(formula, d, method="ml", family="bernoulli")
    with pytest.raises(DataError, match="Response is constant"):
        _build_bayes(formula, d, family="bernoulli")


def test_constant_binomial_proportions_are_refused():
    d = _data()
    d["s"], d["n"] = 0, 5
    with pytest.raises(DataError, match="Response is constant"):
        ml.fit("cbind(s, n - s) ~ x + (1 | g)", d, method="ml", family="binomial")


@pytest.mark.parametrize("s, n", [(6, 5), (-1, 5), (2.5, 5), (2, np.inf)])
def test_invalid_binomial_counts_are_refused(s, n):
    d = _data()
    d["s"], d["n"] = 2.0, 5.0
    d.loc[4, ["s", "n"]] = [s, n]
    with pytest.raises(DataError):
        ml.fit("p(s, n) ~ x + (1 | g)", d, method="ml", family="binomial")


@pytest.mark.parametrize("family", ["poisson", "negativebinomial"])
@pytest.mark.parametrize("bad", [2.5, -1.0, 1e6 + 0.5])
def test_non_integer_or_negative_counts_are_refused(family, bad):
    d = _data()
    d["c"] = np.arange(48) % 4
    d["c"] = d["c"].astype(float)
    d.loc[2, "c"] = bad
    fit = (lambda: _build_bayes("c ~ x + (1 | g)", d, family)) if family == "negativebinomial" \
        else (lambda: ml.fit("c ~ x + (1 | g)", d, method="ml", family=family))
    with pytest.raises(DataError, match="whole counts"):
        fit()


def test_all_zero_counts_are_refused():
    d = _data()
    d["c"] = 0
    with pytest.raises(DataError, match="0 in every used row"):
        ml.fit("c ~ x + (1 | g)", d, method="ml", family="poisson")


def test_transformed_count_response_must_be_whole():
    d = _data()
    d["c"] = (np.arange(48) % 4) + 1
    with pytest.raises(DataError, match="whole counts"):
        ml.fit("log(c) ~ x + (1 | g)", d, method="ml", family="poisson")


# ----------------------------------------------------------------- transforms and prepare

@pytest.mark.parametrize("transform", ["rbf", "sigmoid"])
@pytest.mark.parametrize("method", ["reml", "ml"])
def test_too_many_basis_centres_is_a_formula_error(transform, method):
    d = _data()
    formula = f"y ~ {transform}(x, centers=60)" + (" + (1 | g)" if method == "reml" else "")
    with pytest.raises(FormulaError, match=r"centers=60.*48 distinct"):
        ml.fit(formula, d, method=method)


def test_as_many_fixed_columns_as_rows_is_refused():
    d = _data().iloc[:12]
    d = d.assign(f=[f"l{i}" for i in range(12)])
    with pytest.raises(DataError, match="12 identified columns for 12 rows"):
        ml.fit("y ~ f", d, method="ml")


@pytest.mark.parametrize("values", [[1.0, np.inf, None, 3.0], [1e308, 1e308, None, 1.0],
                                    [np.inf, -np.inf, None, 0.0]])
def test_mean_imputation_never_fills_infinity(values):
    df = pd.DataFrame({"x": values})
    with pytest.raises(DataError, match="'x'"):
        ml.prepare.impute(df, strategy="mean")


def test_mean_imputation_still_fills_finite_means():
    df = pd.DataFrame({"x": [1.0, None, 3.0]})
    out, _ = ml.prepare.impute(df, strategy="mean")
    assert out["x"].tolist() == [1.0, 2.0, 3.0]


# ----------------------------------------------------------------- errors are MultilevelErrors

def test_every_refusal_is_a_multilevel_error():
    d = _data()
    d.loc[0, "x"] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MultilevelError):
            ml.fit("y ~ x + (1 | g)", d, method="reml")


# ----------------------------------------------------------------- column types

def test_duplicate_column_names_are_refused():
    d = _data()
    d = pd.concat([d, d[["x"]]], axis=1)
    with pytest.raises(DataError, match="2 columns named 'x'"):
        ml.fit("y ~ x + (1 | g)", d, method="reml")


def test_complex_numbers_are_refused_not_truncated():
    d = _data()
    d["x"] = d["x"] + 1j
    with pytest.raises(DataError, match="complex"):
        ml.fit("y ~ x", d, method="ml")


def test_dates_as_values_are_refused_but_fine_as_groups():
    d = _data()
    d["when"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(48) % 8, "D")
    with pytest.raises(DataError, match="dates or times"):
        ml.fit("y ~ when + (1 | g)", d, method="reml")
    d["when"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.repeat(np.arange(8), 6), "D")
    m = ml.fit("y ~ x + (1 | when)", d, method="reml")  # the same groups as g
    assert m.nobs == 48
    assert np.allclose(m.predict(d)["estimate"], m.predict()["estimate"])


def test_mixed_type_object_predictor_is_refused():
    d = _data()
    d["o"] = pd.Series(np.where(np.arange(48) % 2, "a", "b"), dtype=object)
    d.loc[0, "o"] = 3
    with pytest.raises(DataError, match="mixes values of types"):
        ml.fit("y ~ o + (1 | g)", d, method="reml")


def test_scale_of_an_infinite_column_names_the_cause():
    d = _data()
    d.loc[0, "x"] = np.inf
    with pytest.raises(DataError, match="infinite values"):
        ml.fit("y ~ scale(x) + (1 | g)", d, method="reml")


# ----------------------------------------------------------------- Bayesian group levels

GROUP_KINDS = {
    "float": lambda c: c + 1.0,
    "halves": lambda c: c / 2,
    "float-categories": lambda c: pd.Categorical(c + 1.0),
    "dates": lambda c: pd.Timestamp("2024-01-01") + pd.to_timedelta(c, "D"),
    "int": lambda c: c,
    "Int64": lambda c: pd.array(c, dtype="Int64"),
    "boolean": lambda c: pd.array(c % 2 == 0, dtype="boolean"),
    "strings": lambda c: np.array([f"s{v}" for v in c]),
}


@pytest.mark.parametrize("kind", list(GROUP_KINDS))
def test_bambi_levels_are_the_design_levels(kind):
    # the posterior's group effects are matched to the design's levels by label: Bambi
    # labelled float groups "1.0" (ours "1") and could not make levels of dates at all
    d = _data()
    d["h"] = GROUP_KINDS[kind](np.repeat(np.arange(8), 6))
    built = _build_bayes("y ~ x + (x | h)", d)
    (term,) = built.design.reterms
    dims = [k for k in built.pymc.coords if k.endswith("__factor_dim")]
    assert dims
    for dim in dims:
        assert sorted(str(v) for v in built.pymc.coords[dim]) == sorted(term.levels)


def test_group_column_also_used_as_a_value_keeps_its_numbers():
    d = _data()
    d["h"] = np.repeat(np.arange(8), 6) + 0.0
    built = _build_bayes("y ~ h + (1 | h)", d)
    assert "h" in built.design.x_names


@pytest.mark.slow
@pytest.mark.parametrize("formula", ["y ~ x + (1 | h)", "y ~ h + (1 | h)"])
def test_sampled_fit_with_float_groups_lines_up_levels(formula):
    d = _data()
    d["h"] = np.repeat(np.arange(8), 6) + 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ml.fit(formula, d, draws=100, tune=100, chains=1, seed=3, progress=False)
        ranef = fit.ranef["h"]
        assert list(ranef.index) == [str(i) for i in range(1, 9)]
        assert np.allclose(fit.predict(d)["estimate"], fit.predict()["estimate"])


def test_infinite_time_of_a_residual_structure_is_refused():
    from multilevel.formula import model_frame, parse_formula

    d = _data()
    d["t"] = np.tile(np.arange(6.0), 8)
    d.loc[3, "t"] = np.inf
    parsed = parse_formula("y ~ x + ar(time = t, gr = g)")
    with pytest.raises(DataError, match=r"1 of 48 rows .*'t'"):
        model_frame(parsed, d)


# ----------------------------------------------------------------- nested records

def test_cyclic_record_is_a_data_error():
    record = {"school": "A", "info": {}}
    record["info"]["self"] = record["info"]
    with pytest.raises(DataError, match="cyclic"):
        ml.prepare.flatten_records([record])


def test_very_deep_record_is_a_data_error():
    inner: dict = {"v": 1}
    for _ in range(3000):
        inner = {"n": inner}
    with pytest.raises(DataError, match="deeper than"):
        ml.prepare.flatten_records([{"school": "A", "deep": inner}])
    text = '[{"a": ' + "[" * 100_000 + "]" * 100_000 + "}]"
    with pytest.raises(DataError):
        ml.prepare.flatten_records(text)


def test_nested_records_still_flatten():
    schools = [{"school": "A", "classes": [{"teacher": {"name": "T1"},
                "students": [{"score": 3}, {"score": 5}]}]}]
    data, _ = ml.prepare.flatten_records(schools, "classes.students")
    assert data["students_score"].tolist() == [3, 5]


def test_target_encoding_refuses_an_infinite_target():
    df = pd.DataFrame({"c": list("aabbcc") * 4, "t": np.arange(24.0)})
    df.loc[2, "t"] = np.inf
    with pytest.raises(DataError, match="infinite"):
        ml.prepare.target_encode(df, "c", "t", seed=1)


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "boolean"])
def test_bayesian_build_takes_nullable_columns(dtype):
    # Bambi's group-specific terms failed on pandas' extension arrays
    d = _data()
    d["n"] = pd.array((np.arange(48) % 4) if dtype != "boolean" else (np.arange(48) % 2 == 0),
                      dtype=dtype)
    d.loc[5, "n"] = pd.NA
    with pytest.warns(DataWarning, match="Removed 1 of 48"):
        built = _build_bayes("y ~ n + (n | g)", d)
    assert len(built.design.y) == 47
