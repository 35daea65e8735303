"""Hostile input to the post-fit verbs: each case once gave a raw exception, a silently wrong
label or a number that meant nothing; each now gets a MultilevelError naming the argument,
or lme4's/lmerTest's answer where R accepts the input.

Cheap REML fits shared per module; the Bayesian case reuses the session's small fit."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.effects.hypothesis import evaluate, split_hypothesis
from multilevel.errors import DataError, FitError, FormulaError, SpecError


@pytest.fixture(scope="module")
def ss():
    return ml.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def fits(ss):
    return {
        "m0": ml.fit("Reaction ~ 1 + (1 | Subject)", ss, method="reml"),
        "m1": ml.fit("Reaction ~ Days + (1 | Subject)", ss, method="reml"),
        "m2": ml.fit("Reaction ~ Days + (Days | Subject)", ss, method="reml"),
        "ols": ml.fit("Reaction ~ Days", ss, method="ml"),
        "cake": ml.fit("angle ~ recipe + temperature + (1 | recipe:replicate)", "cake", method="reml"),
    }


# --- verb(fit, ...) -> the error class and a phrase of its message -----------------------
def _marginal_missing(fits, ss, verb):
    return getattr(ml, verb)(fits["m2"], "Days", newdata=ss.drop(columns="Days"))


CASES = [
    # comparisons/slopes shift the focal variable per unit: newdata without it was a KeyError
    ("comparisons, newdata lacks the variable", lambda f, d: _marginal_missing(f, d, "comparisons"),
     DataError, r"newdata lacks column\(s\) \['Days'\], the variable"),
    ("slopes, newdata lacks the variable", lambda f, d: _marginal_missing(f, d, "slopes"),
     DataError, r"newdata lacks column\(s\) \['Days'\]"),
    # variables= of a wrong type was "'int' object is not iterable"; an empty list a concat error
    ("comparisons, variables=3", lambda f, d: ml.comparisons(f["m2"], 3),
     DataError, r"variables=3 is not valid.*predictors: \['Days'\]"),
    ("comparisons, variables=[]", lambda f, d: ml.comparisons(f["m2"], []),
     DataError, r"variables=\[\] is not valid"),
    ("comparisons, intercept-only model", lambda f, d: ml.comparisons(f["m0"]),
     DataError, "no fixed-effect predictor"),
    # contest's L as a name was numpy's "could not convert string to float"
    ("contest, L a string", lambda f, d: ml.contest(f["m2"], "Days"),
     SpecError, r"L must be a numeric \(k × p\) matrix.*'\(Intercept\)', 'Days'"),
    ("contest, L ragged", lambda f, d: ml.contest(f["m2"], [[0, 1], [1]]),
     SpecError, "L must be a numeric"),
    # anova's type: 3.7 was truncated to 3, "2" and True taken as numbers; 4 refused as before
    ("anova, type=3.7", lambda f, d: ml.anova(f["m2"], type=3.7), SpecError, r"type=3.7 is not valid"),
    ("anova, type=True", lambda f, d: ml.anova(f["m2"], type=True), SpecError, r"type=True is not valid"),
    ("anova, type='IV'", lambda f, d: ml.anova(f["m2"], type="IV"), SpecError, r"'I', 'II', 'III'"),
    # bootstrap counts: 0 was numpy's "need at least one array", -3 "negative dimensions",
    # "x" int()'s message, 2.5 silently truncated to 2
    ("lrt, bootstrap=0", lambda f, d: ml.lrt(f["m1"], f["m2"], bootstrap=0),
     SpecError, r"bootstrap \(number of simulated responses\) must be a whole number of at least 1, got 0"),
    ("lrt, bootstrap=-3", lambda f, d: ml.lrt(f["m1"], f["m2"], bootstrap=-3), SpecError, "got -3"),
    ("lrt, bootstrap='x'", lambda f, d: ml.lrt(f["m1"], f["m2"], bootstrap="x"), SpecError, "got 'x'"),
    ("confint boot, nsim=2.5", lambda f, d: ml.confint(f["m1"], method="boot", nsim=2.5),
     SpecError, r"nsim \(bootstrap replicates\) must be a whole number of at least 2, got 2.5"),
    ("simulate, nsim='3'", lambda f, d: f["m1"].simulate(nsim="3"), SpecError, "got '3'"),
    # two fits need two distinct labels (a table with the wrong number of labels was pandas')
    ("lrt, one name for two fits", lambda f, d: ml.lrt(f["m1"], f["m2"], names=["a"]),
     ml.errors.ComparisonError, "its own label"),
    # not a fit at all: 'this fit ('str') has none' read as if a model lacked group terms
    ("icc, not a fit", lambda f, d: ml.icc("m1"), FitError, r"icc\(\) needs a fit from ml.fit\(\).*got str"),
    # a fit where lmlist wants a formula printed the fit's whole summary table in the message
    ("lmlist, a fit for the formula", lambda f, d: ml.lmlist(f["m2"], d),
     FormulaError, r"got a FreqFit\.$"),
    # no complete row was an lmList of 0 groups, silently (after a DataWarning)
    ("lmlist, no complete row", lambda f, d: ml.lmlist("Reaction ~ Days | Subject", d.assign(Days=np.nan)),
     DataError, r"No row of the data is complete in the columns of 'Reaction ~ Days \| Subject'"),
    # datagrid kept an empty list (a grid of no rows) and a string in a numeric column
    # (refused later as "could not convert string to float: 'a'", naming no column)
    ("datagrid, Days=[]", lambda f, d: ml.datagrid(f["m2"], Days=[]), DataError, r"Days=\[\] gives no values"),
    ("datagrid, Days='a'", lambda f, d: ml.predictions(f["m2"], newdata=ml.datagrid(f["m2"], Days=["a"])),
     DataError, r"'Days' is numeric in the model's data; 'a' is not a number"),
    ("emmeans, at Days=True", lambda f, d: ml.emmeans(f["m2"], "Days", at={"Days": True}),
     DataError, "True is not a number"),
    # contest with an L of no rows was numpy's IndexError
    ("contest, L without rows", lambda f, d: ml.contest(f["m2"], np.zeros((0, 2)), joint=False),
     SpecError, r"L has no rows"),
    # emmeans: specs=3 / by=3 were "'int' object is not iterable", a bar with nothing after it
    # was dropped, non-numeric weights numpy's "could not convert string to float"
    ("emmeans, specs=3", lambda f, d: ml.emmeans(f["m2"], 3), DataError, "specs must be a variable name"),
    ("emmeans, by=3", lambda f, d: ml.emmeans(f["m2"], "Days", by=3), DataError, "by must be a variable name"),
    ("emmeans, '~ Days |'", lambda f, d: ml.emmeans(f["m2"], "~ Days |"), DataError, "nothing after '|'"),
    ("emmeans, weights not numbers", lambda f, d: ml.emmeans(f["cake"], "recipe", contrasts={"a": ["x", "y", "z"]}),
     DataError, r"contrast 'a' must be 3 numeric weights, one per mean \(\['A', 'B', 'C'\]\)"),
    ("emmeans, a weight NaN", lambda f, d: ml.emmeans(f["cake"], "recipe", contrasts={"a": [1, np.nan, 0]}),
     DataError, r"contrast 'a' has missing or infinite weights"),
    # a fixed factor's new level was formulae's "The levels (999.0) ... original data set"
    ("predict, a new level of a fixed factor",
     lambda f, d: f["cake"].predict(ml.datasets.load("cake").head(2).assign(temperature=999)),
     DataError, (r"level\(s\) \[999\] of the factor 'temperature' that the fit never saw; its levels "
                 r"are \['175', '185'")),
    # a column twice was pandas' "'DataFrame' object has no attribute 'dtype'" (or a TypeError
    # for a grouping column); a date numpy's DTypePromotionError; a complex number its real
    # part and a bool 1/0, silently (R refuses both: "fitted with type numeric")
    ("predict, Days twice", lambda f, d: f["m2"].predict(pd.concat([d.head(2), d.head(2)[["Days"]]], axis=1)),
     DataError, r"more than one column named \['Days'\]"),
    ("predict, Subject twice", lambda f, d: f["m2"].predict(pd.concat([d.head(2), d.head(2)[["Subject"]]], axis=1)),
     DataError, r"more than one column named \['Subject'\]"),
    ("predict, Days as dates", lambda f, d: f["m2"].predict(d.head(2).assign(Days=pd.to_datetime(["2020-01-01"] * 2))),
     DataError, r"column 'Days' is datetime64\[.*\] but the fit used it as numbers"),
    ("predict, Days complex", lambda f, d: f["m2"].predict(d.head(2).assign(Days=[1 + 1j, 2])),
     DataError, "column 'Days' is complex128"),
    ("predict, Days bool", lambda f, d: f["m2"].predict(d.head(2).assign(Days=[True, False])),
     DataError, "column 'Days' is bool"),
    # steps that are not finite numbers: float()'s message for (1, "a") and eps="x", and an
    # infinite or NaN step reported as missing values in newdata
    ("comparisons, a pair with a string", lambda f, d: ml.comparisons(f["m2"], {"Days": (1, "a")}),
     DataError, r"variables=\{'Days': \(1, 'a'\)\}: for a numeric variable use a finite step"),
    ("comparisons, step inf", lambda f, d: ml.comparisons(f["m2"], {"Days": np.inf}), DataError, "finite step"),
    ("comparisons, step nan", lambda f, d: ml.comparisons(f["m2"], {"Days": np.nan}), DataError, "finite step"),
    ("slopes, eps='x'", lambda f, d: ml.slopes(f["m2"], "Days", eps="x"), DataError, r"eps='x' is not a number"),
    # by=3 was "'int' object is not iterable"
    ("predictions, by=3", lambda f, d: ml.predictions(f["m2"], by=3), DataError, r"by=3 is not valid"),
    # a truthy string was taken as True; a string of two letters as two labels
    ("ranova, reduce_terms='no'", lambda f, d: ml.ranova(f["m2"], reduce_terms="no"),
     SpecError, r"reduce_terms must be True or False"),
    ("lrt, names='ab'", lambda f, d: ml.lrt(f["m1"], f["m2"], names="ab"),
     ml.errors.ComparisonError, r"its own label.*got 'ab'"),
    ("lrt of three, names='abc'", lambda f, d: ml.lrt(f["m0"], f["m1"], f["m2"], names="abc"),
     ml.errors.ComparisonError, r"its own label"),
    # residuals(scaled="no") were divided by σ (a truthy string); anova of two fits dropped
    # type= and ddf= silently
    ("residuals, scaled='no'", lambda f, d: f["m2"].residuals(scaled="no"), SpecError,
     r"scaled must be True or False, got 'no'"),
    ("anova of two fits, type=2", lambda f, d: ml.anova(f["m1"], f["m2"], type=2), SpecError,
     r"anova\(\) of several fits is their likelihood-ratio test \(got type=2"),
    ("anova of two fits, ddf='x'", lambda f, d: ml.anova(f["m1"], f["m2"], ddf="x"), SpecError,
     r"got type=3, ddf='x'"),
    # the log odds ratio of gaussian predictions was a row of NaN
    ("comparisons, lnor of a gaussian fit", lambda f, d: ml.comparisons(f["m2"], "Days", comparison="lnor", by=True),
     DataError, r"comparison='lnor' of 'Days' \(\+1\) is not finite"),
]


@pytest.mark.parametrize("name, call, error, match", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_gets_a_named_error(fits, ss, name, call, error, match):
    with pytest.raises(error, match=match):
        call(fits, ss)


# --- ci= / level= that are not numbers: float()'s or '<''s own message before, at 8 places ---
LEVEL_VERBS = {
    "fit.summary(ci=)": (lambda f, v: f["m2"].summary(ci=v), DataError, "ci"),
    "fit.summary(ddf=None, ci=)": (lambda f, v: f["m2"].summary(ddf=None, ci=v), DataError, "ci"),
    "ols.summary(ci=)": (lambda f, v: f["ols"].summary(ci=v), DataError, "ci"),
    "confint(level=)": (lambda f, v: ml.confint(f["m2"], method="wald", level=v), SpecError, "level"),
    "predictions(ci=)": (lambda f, v: ml.predictions(f["m2"], ci=v), DataError, "ci"),
    "icc(ci=)": (lambda f, v: ml.icc(f["m1"], ci=v), FitError, "ci"),
    "lmlist.confint(level=)": (lambda f, v: ml.lmlist("Reaction ~ Days | Subject", "sleepstudy").confint(level=v),
                               DataError, "level"),
}


@pytest.mark.parametrize("value", ["x", [0.9], True, "0.9"])
@pytest.mark.parametrize("verb", list(LEVEL_VERBS))
def test_interval_levels_must_be_numbers(fits, verb, value):
    call, error, name = LEVEL_VERBS[verb]
    with pytest.raises(error, match=rf"{name} must lie strictly between 0 and 1 \(a number such as 0.95\), "
                                    rf"got {re.escape(repr(value))}"):
        call(fits, value)


# --- hypotheses: values that are not numbers are refused, not averaged into NaN/inf ----------
DRAWS = pd.DataFrame({"(Intercept)": [250.0, 251.0, 252.0], "Days": [10.0, 9.0, 11.0],
                      "sigma": [25.0, 26.0, 24.0]})


@pytest.mark.parametrize("text, match", [
    ("Days / 0 = 1", r"not finite \(NaN or infinite\) in 3 of 3 posterior draws"),
    ("log(Days - 100) > 0", "not finite"),
    ("exp(Days * 1000) < 0", "not finite"),
    ("Days = 1e400", "not finite"),
    ("Days = True", "'True' .* is not a parameter or arithmetic"),   # a bool is not the number 1
])
def test_hypothesis_values_must_be_finite_numbers(text, match):
    expr, _ = split_hypothesis(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # and numpy says nothing of a division by zero
        with pytest.raises(DataError, match=match):
            evaluate(expr, DRAWS)


@pytest.mark.parametrize("hypotheses", [3, [], None, {"Days": 0}])
def test_hypothesis_needs_statements(bayes_ss_intercept, hypotheses):
    # 3 was "'int' object is not iterable"; [] an empty table, silently
    with pytest.raises(DataError, match="hypotheses must be a string such as 'Days > 5'"):
        ml.hypothesis(bayes_ss_intercept, hypotheses)


# --- where lme4/lmerTest answer, we answer the same ---------------------------------------
def test_lrt_labels_follow_the_models_in_either_order(fits):
    # given larger-first, the table sorted the rows but kept the positional labels: the
    # 4-parameter model was labelled "larger"
    forward, backward = ml.lrt(fits["m1"], fits["m2"]), ml.lrt(fits["m2"], fits["m1"])
    assert list(backward.table.index) == ["smaller", "larger"]
    assert list(backward.table["npar"]) == [4, 6]
    pd.testing.assert_frame_equal(backward.table, forward.table)
    # the same for a linear model against a mixed one (lme4's anova(lmer, lm) order)
    assert ml.lrt(fits["m1"], fits["ols"]).table.loc["smaller", "npar"] == 3
    # names a user gives stay with their fits
    named = ml.lrt(fits["m2"], fits["m1"], names=("slopes", "intercepts"))
    assert list(named.table.index) == ["intercepts", "slopes"]


@pytest.mark.parametrize("spelling", ["III", "iii", "3", 3, np.int64(3)])
def test_anova_type_as_lmertest_spells_it(fits, spelling):
    # lmerTest: type = c("III", "II", "I", "3", "2", "1"); "III" was int()'s ValueError
    table = ml.anova(fits["m2"], type=spelling)
    assert table.attrs["type"] == 3
    assert table.loc["Days", "F"] == pytest.approx(45.852986, rel=1e-5)   # lmerTest's F
    assert ml.anova(fits["m2"], type="I").attrs["type"] == 1


@pytest.mark.parametrize("verb", ["anova", "drop1"])
def test_intercept_only_model_has_an_empty_table_with_its_columns(fits, verb):
    # lmerTest prints the header without rows; ours had neither rows nor columns
    table = getattr(ml, verb)(fits["m0"])
    assert table.empty and list(table.columns) == ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F", "p"]


def test_datagrid_takes_a_function_of_the_column(fits, ss):
    # marginaleffects' datagrid(Days = mean); the function object itself was put in the grid
    grid = ml.datagrid(fits["m2"], Days=np.mean)
    assert grid["Days"].tolist() == [ss["Days"].mean()]


def test_prediction_outside_a_transforms_domain_is_nan_and_said(ss):
    # R: predict(lmer(Reaction ~ log(Days + 1) + ...), data.frame(Days = -5, ...)) is NaN
    # (log(0) -Inf); we gave the same numbers under numpy's warning from inside pandas
    fit = ml.fit("Reaction ~ log(Days + 1) + (1 | Subject)", ss, method="reml")
    new = pd.DataFrame({"Days": [-5, 1, -1], "Subject": ["308"] * 3})
    with pytest.warns(ml.errors.DataWarning, match=r"rows \[0, 2\] give non-finite values of the "
                      r"fixed-effect column\(s\) \['log\(Days \+ 1\)'\]"):
        pred = fit.predict(new)["estimate"].to_numpy()
    assert np.isnan(pred[0]) and pred[2] == -np.inf and np.isfinite(pred[1])


def test_fixed_factor_levels_match_by_label(fits):
    # as the grouping factors (and lme4's levels): temperature 175 is the level "175"; the
    # number was refused as "The levels (175.0) ... are not present in the original data set"
    cake = ml.datasets.load("cake").head(4)
    as_labels = fits["cake"].predict(cake, group_effects=False)
    as_numbers = fits["cake"].predict(cake.assign(temperature=cake["temperature"].astype(int)),
                                      group_effects=False)
    pd.testing.assert_frame_equal(as_numbers, as_labels)
    floats = cake.assign(temperature=cake["temperature"].astype(float))
    pd.testing.assert_frame_equal(fits["cake"].predict(floats, group_effects=False), as_labels)


def test_whole_float_counts_are_counts(fits):
    sims = fits["m1"].simulate(nsim=2.0, seed=1)
    assert list(sims.columns) == ["sim_1", "sim_2"]


@pytest.mark.parametrize("seed", ["x", -1, 1.5, True])
@pytest.mark.parametrize("verb", [
    lambda f, b, seed: f["m1"].simulate(2, seed=seed),
    lambda f, b, seed: f["m1"].confint(method="boot", nsim=2, seed=seed),
    lambda f, b, seed: ml.lrt(f["m1"], f["m2"], bootstrap=2, seed=seed),
    lambda f, b, seed: b.predict(kind="predictive", seed=seed),
])
def test_seeds_must_be_non_negative_integers(fits, bayes_ss_intercept, verb, seed):
    """numpy's SeedSequence TypeError/ValueError before; one check, errors.check_seed."""
    with pytest.raises(DataError, match="seed must be None or an integer >= 0"):
        verb(fits, bayes_ss_intercept, seed)
