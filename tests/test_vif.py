"""VIF and generalized VIF against R (performance::check_collinearity, car::vif)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, DataWarning, FitError, FormulaError

EXTRA = json.loads((Path(__file__).parent / "reference" / "diagnostics_extra.json").read_text())
TOL = 1e-6


@pytest.fixture(scope="module")
def mtcars():
    data = ml.datasets.load("mtcars")
    data["cyl"] = data["cyl"].astype(str)   # R's factor(cyl)
    return data


def test_vif_matches_performance(mtcars, diagnostics_ref):
    ref = diagnostics_ref["vif_mtcars"]
    table = ml.vif(mtcars, ref["formula"])
    assert list(table.columns) == ["term", "VIF", "tolerance"]
    assert table["term"].tolist() == ref["terms"]
    np.testing.assert_allclose(table["VIF"], ref["VIF"], rtol=TOL)
    np.testing.assert_allclose(table["tolerance"], ref["tolerance"], rtol=TOL)
    assert table.attrs["notes"] == ["VIF between 5 and 10 (moderate): disp, wt"]


def test_generalized_vif_for_a_factor_matches_car(mtcars):
    ref = EXTRA["gvif_mtcars_cyl"]
    table = ml.vif(mtcars, "mpg ~ disp + C(cyl) + wt + drat")
    assert list(table.columns) == ["term", "VIF", "tolerance", "GVIF", "Df", "GVIF^(1/(2Df))"]
    assert table["term"].tolist() == [t.replace("factor", "C") for t in ref["terms"]]
    np.testing.assert_allclose(table["GVIF"], ref["GVIF"], rtol=TOL)
    np.testing.assert_allclose(table["Df"], ref["Df"])
    np.testing.assert_allclose(table["GVIF^(1/(2Df))"], ref["GVIF_adj"], rtol=TOL)
    np.testing.assert_allclose(table["VIF"] * table["tolerance"], 1.0)


def test_vif_of_one_column_terms_is_one_over_one_minus_r2(mtcars):
    # closed form: VIF_j = 1 / (1 - R²) of x_j regressed on the other predictors
    cols = ["disp", "hp", "wt", "drat"]
    table = ml.vif(mtcars, "mpg ~ " + " + ".join(cols)).set_index("term")
    for col in cols:
        others = np.column_stack([np.ones(len(mtcars))] + [mtcars[c] for c in cols if c != col])
        x = mtcars[col].to_numpy(float)
        resid = x - others @ np.linalg.lstsq(others, x, rcond=None)[0]
        r2 = 1 - resid @ resid / np.sum((x - x.mean()) ** 2)
        assert table.loc[col, "VIF"] == pytest.approx(1 / (1 - r2), rel=1e-10)


def test_vif_of_a_fit_uses_its_vcov_as_car(mtcars):
    # least squares: vcov ∝ (X'X)⁻¹, so the fit and the data give the same VIFs
    ols = ml.fit("mpg ~ disp + C(cyl) + wt + drat", mtcars, method="ml")
    from_fit, from_data = ml.vif(ols), ml.vif(mtcars, "mpg ~ disp + C(cyl) + wt + drat")
    pd.testing.assert_frame_equal(from_fit, from_data, rtol=1e-8)
    ref = EXTRA["gvif_cake_lmer"]
    fit = ml.fit(ref["formula"], "cake", method="reml")
    table = ml.vif(fit)
    assert table["term"].tolist() == ref["terms"]
    np.testing.assert_allclose(table["GVIF"], ref["GVIF"], atol=1e-8)   # balanced design: 1
    np.testing.assert_allclose(table["Df"], ref["Df"])


def test_bars_are_ignored_and_rows_with_missing_values_dropped_with_warning(mtcars):
    data = mtcars.assign(g=np.arange(len(mtcars)) % 4)
    base = ml.vif(data, "mpg ~ disp + hp + wt + drat")
    with_bar = ml.vif(data, "mpg ~ disp + hp + wt + drat + (1 | g)")
    pd.testing.assert_frame_equal(base, with_bar)
    holes = data.copy()
    holes.loc[holes.index[:3], "hp"] = np.nan
    with pytest.warns(DataWarning, match="Removed 3 of 32 rows"):
        dropped = ml.vif(holes, "mpg ~ disp + hp + wt + drat")
    expected = ml.vif(data.iloc[3:], "mpg ~ disp + hp + wt + drat")
    pd.testing.assert_frame_equal(dropped, expected)


def test_interactions_warn_that_main_effect_vifs_depend_on_centring(mtcars):
    with pytest.warns(DataWarning, match=r"interactions \(wt:hp\)"):
        table = ml.vif(mtcars, "mpg ~ wt * hp")
    assert table["term"].tolist() == ["wt", "hp", "wt:hp"]


@pytest.mark.parametrize("formula, error, match", [
    ("mpg ~ wt", FormulaError, "at least two terms"),
    ("mpg ~ wt + I(2 * wt) + hp", DataError, r"aliased columns \(I\(2 \* wt\)\)"),
])
def test_bad_models_are_refused(mtcars, formula, error, match):
    with pytest.raises(error, match=match):
        ml.vif(mtcars, formula)


def test_bad_arguments_are_refused(mtcars):
    with pytest.raises(FormulaError, match="needs a formula"):
        ml.vif(mtcars)
    with pytest.raises(DataError, match="got list"):
        ml.vif([1, 2, 3], "y ~ x")
    with pytest.raises(FitError, match="no covariance"):
        ml.vif(type("Fake", (), {"design": None, "fixef": None})())


def test_vif_prepare_and_frequentist_diagnostics_do_not_import_pymc():
    code = ("import sys, multilevel as ml; d = ml.datasets.load('sleepstudy'); "
            "ml.vif(ml.datasets.load('mtcars'), 'mpg ~ disp + hp'); "
            "m = ml.fit('Reaction ~ Days + (Days | Subject)', d, method='reml'); ml.icc(m); "
            "ml.diagnostics.check_convergence(m); "
            "ml.diagnostics.panel_f_test('Reaction ~ Days', d, group='Subject'); "
            "ml.prepare.impute(d); ml.prepare.target_encode(d, 'Subject', 'Reaction'); "
            "print(sorted(m for m in ('pymc', 'bambi', 'arviz', 'pytensor', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
