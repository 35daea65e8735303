"""The fixed-effect design has R's model.matrix columns, as lme4 names and orders them.

Reference: tests/reference/model_matrix.json, made by tests/reference/make_model_matrix.R
(R 4.2, lme4 1.1-31) on the simulated data tests/reference/model_matrix.csv (a logical
``flag``, factors ``f`` and ``g`` with three levels, a numeric ``x``, groups ``s``):
for each formula R's ``colnames(model.matrix(nobars(formula)))``, lme4's ``names(fixef)``,
``fixef``, standard errors, REML criterion and the random-effect columns (``cnms``).

What is checked, per formula:

* logicals are R factors (levels FALSE, TRUE): ``flagTRUE``, ``flagFALSE:x``,
  ``x:flagTRUE``, ``0 + flag`` with two columns, ``(flag | s)`` with a ``flagTRUE`` column;
* interaction labels spell their variables in the order of first appearance
  (``x + f:x`` has ``x:fb``);
* the REML criterion, the estimates (1e-6 relative) and their standard errors.

* the random-effect columns are lme4's ``cnms`` (``(x + f:x | s)``: ``x:fb``; ``(x * flag | s)``:
  ``flagTRUE``, ``x:flagTRUE``; main effects before interactions);
* within an interaction the first variable varies fastest (``f*g``: ``fb:gy, fc:gy, fb:gz,
  fc:gz``; formulae varies the last), in the design and in the Bayesian fit's draws.

One documented difference remains (README, "Formula semantics"): ``f:g`` without main
effects is coded by formulae's own rule (the same column space, other coefficients):
for it only the REML criterion (the same model) is compared.
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

HERE = Path(__file__).parent / "reference"
REFERENCE = {r["formula"]: r for r in json.loads((HERE / "model_matrix.json").read_text())["fits"]}
# f:g without main effects: formulae's coding, the same column space as R's
OWN_CODING = {"y ~ f:g + (1 | s)"}
RTOL = {"fixef": 1e-6, "se": 1e-5, "reml": 1e-8}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    frame = pd.read_csv(HERE / "model_matrix.csv")
    assert frame["flag"].dtype == bool   # pandas reads R's TRUE/FALSE as bool
    return frame


@pytest.fixture(scope="module")
def fits(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # some of these fits are singular, as in lme4
        return {formula: ml.fit(formula, data, method="reml") for formula in REFERENCE}


@pytest.mark.parametrize("formula", sorted(REFERENCE))
def test_reml_criterion_is_lme4s(fits, formula):
    # the same column space as R's model.matrix (a logical coded 0/1 gave another model)
    ref = REFERENCE[formula]
    assert fits[formula].reml_criterion == pytest.approx(ref["reml"], rel=RTOL["reml"])


@pytest.mark.parametrize("formula", sorted(set(REFERENCE) - OWN_CODING))
def test_fixed_effects_are_lme4s_by_name_and_order(fits, formula):
    ref = REFERENCE[formula]
    fixef = fits[formula].fixef
    assert list(fixef.index) == ref["fixef_names"] == ref["model_matrix"]
    expected = pd.Series(ref["fixef"], index=ref["fixef_names"])
    np.testing.assert_allclose(fixef[expected.index].to_numpy(), expected.to_numpy(),
                               rtol=RTOL["fixef"], atol=1e-9)
    se = pd.Series(np.sqrt(np.diag(np.asarray(fits[formula].vcov, dtype=float))), index=fixef.index)
    np.testing.assert_allclose(se[expected.index].to_numpy(), ref["se"], rtol=RTOL["se"])


@pytest.mark.parametrize("formula", sorted(REFERENCE))
def test_random_effect_columns_are_lme4s(fits, formula):
    assert [t.cnms for t in fits[formula].design.reterms] == REFERENCE[formula]["random_columns"]


def test_new_data_with_logicals_predicts_as_the_fitted_rows(fits, data):
    # bools in new data are coded as the fit's factor: the fitted rows predict their own
    # population means, and a new row with flag=True uses flagTRUE and flagTRUE:x
    fit = fits["y ~ flag + x:flag + (1 | s)"]
    beta = fit.fixef
    population = fit.predict(data, group_effects=False)["estimate"].to_numpy()
    np.testing.assert_allclose(population, fit.design.X @ beta.to_numpy(), rtol=1e-12)
    new = pd.DataFrame({"flag": [True, False], "x": [2.0, 2.0], "s": ["s01", "s01"]})
    got = fit.predict(new, group_effects=False)["estimate"].to_numpy()
    want = [beta["(Intercept)"] + beta["flagTRUE"] + 2 * beta["flagTRUE:x"],
            beta["(Intercept)"] + 2 * beta["flagFALSE:x"]]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_numbers_for_a_logical_in_new_data_are_refused_naming_it(fits):
    # as R's predict ("fitted with type logical"): 0/1 is not FALSE/TRUE to a factor
    with pytest.raises(DataError, match=r"'flag' is logical.*\['0', '1'\].*True/False"):
        fits["y ~ flag + x:flag + (1 | s)"].predict(pd.DataFrame({"flag": [1, 0], "x": [1.0, 2.0]}),
                                                     group_effects=False)


def test_a_logical_inside_a_call_is_its_0_1_numbers(data):
    # R computes I(x * flag) with TRUE = 1, as formulae does with a bool column
    fit = ml.fit("y ~ I(x * flag) + (1 | s)", data, method="reml")
    np.testing.assert_array_equal(fit.design.X[:, 1], data["x"] * data["flag"])


def test_a_logical_both_factor_and_number_is_refused_naming_it(data):
    with pytest.raises(FormulaError, match=r"\['flag'\].*both as a variable"):
        ml.fit("y ~ flag + I(x * flag) + (1 | s)", data, method="reml")


def test_effects_treat_a_logical_as_a_factor(fits):
    # emmeans treats a logical as a factor with levels FALSE, TRUE
    emm = ml.emmeans(fits["y ~ flag * x + (1 | s)"], "flag")
    assert [str(v) for v in emm["flag"]] == ["FALSE", "TRUE"]
    beta = fits["y ~ flag * x + (1 | s)"].fixef
    xbar = pd.read_csv(HERE / "model_matrix.csv")["x"].mean()
    np.testing.assert_allclose(emm["estimate"].diff().iloc[1],
                               beta["flagTRUE"] + beta["flagTRUE:x"] * xbar, rtol=1e-10)


def test_bambi_values_are_labelled_and_reordered_by_their_coordinates(data):
    # Bambi stores f:g with formulae's order ('b, y', 'b, z', 'c, y', 'c, z'); the summary's
    # names of those values follow the coordinates, and the draws go to R's columns
    import xarray as xr

    from multilevel.bayes.draws import fixef_draws
    from multilevel.bayes.model import build_model
    from multilevel.bayes.names import summary_names

    built = build_model("y ~ flag * x + f * g + (1 | s)", data)
    assert built.design.x_names == REFERENCE["y ~ flag * x + f * g + (1 | s)"]["fixef_names"]
    coords = built.pymc.coords["f:g_dim"]
    assert summary_names(built)["f:g"] == ["f{}:g{}".format(*label.split(", ")) for label in coords]
    component = built.bambi.conditional_parameters[built.bambi.family.likelihood.parent]
    variables, start = {"Intercept": xr.DataArray(np.zeros((1, 1)), dims=("chain", "draw"))}, 1
    for name in component.common_terms:   # each stored value: its position among Bambi's columns
        width = len(built.pymc.coords.get(f"{name}_dim", [None]))
        values = np.arange(start, start + width, dtype=float)[None, None, :]
        variables[name] = xr.DataArray(values, dims=("chain", "draw", f"{name}_dim"))
        start += width
    draws = fixef_draws(xr.Dataset(variables), built.bambi, built.design)[0, 0]
    first = 1 + sum(len(built.pymc.coords.get(f"{n}_dim", [None])) for n in
                    list(component.common_terms)[:list(component.common_terms).index("f:g")])
    stored = {"f{}:g{}".format(*label.split(", ")): first + i for i, label in enumerate(coords)}
    for name, position in stored.items():
        assert draws[built.design.x_names.index(name)] == position, name


@pytest.mark.slow
def test_bayesian_summary_names_are_lme4s(data):
    # Bambi gets the same formula text and the same factors: its columns line up with lme4's
    formula = "y ~ flag * x + f * g + (1 | s)"
    ref = REFERENCE[formula]
    with warnings.catch_warnings():   # few draws: the ESS warning is expected, names are the point
        warnings.simplefilter("ignore", ml.errors.ConvergenceWarning)
        fit = ml.fit(formula, data, chains=1, draws=150, tune=150, seed=3, progress=False)
    assert list(fit.fixef.index) == ref["fixef_names"]
    summary = fit.summary()
    assert list(summary.index[:len(ref["fixef_names"])]) == ref["fixef_names"]
    # posterior means near lme4's estimates (weak priors), column by column
    np.testing.assert_array_less(np.abs(fit.fixef.to_numpy() - ref["fixef"]),
                                 0.6 * np.asarray(ref["se"]))
