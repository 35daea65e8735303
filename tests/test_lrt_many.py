"""lme4's ``anova(m0, m1, m2)``: three or more nested fits, ordered by parameter count,
each tested against the next smaller (``ml.lrt(m0, m1, m2)``). Reference:
``tests/reference/lrt_many.json`` from ``make_lrt_many.R`` (R 4.2.2, lme4 1.1-31), the
fits given out of order as there."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import ComparisonError

REF = json.loads((Path(__file__).parent / "reference" / "lrt_many.json").read_text())


@pytest.fixture(scope="module")
def fits():
    return {name: ml.fit(formula, "sleepstudy", method="reml")
            for name, formula in zip(("m0", "m1", "m2"), REF["formulas"])}


def _na(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def test_three_fits_match_lme4s_anova(fits):
    result = ml.lrt(fits["m2"], fits["m0"], fits["m1"], names=["m2", "m0", "m1"])
    table = result.table
    assert list(table.index) == REF["rows"]
    assert table["npar"].tolist() == REF["npar"]
    for column in ("AIC", "BIC", "logLik", "deviance"):
        np.testing.assert_allclose(table[column], REF[column], rtol=1e-9, err_msg=column)
    np.testing.assert_allclose(table["Chisq"], _na(REF["Chisq"]), rtol=1e-6)
    np.testing.assert_allclose(table["Df"], _na(REF["Df"]))
    np.testing.assert_allclose(table["p"], _na(REF["p"]), rtol=1e-5)
    assert result.chisq == pytest.approx(REF["Chisq"][-1], rel=1e-6) and result.refitted


def test_default_names_and_what_is_refused(fits):
    assert list(ml.lrt(fits["m0"], fits["m1"], fits["m2"]).table.index) == ["model1", "model2", "model3"]
    with pytest.raises(ComparisonError, match="bootstrap= tests one pair"):
        ml.lrt(fits["m0"], fits["m1"], fits["m2"], bootstrap=10)
    with pytest.raises(ComparisonError, match="its own label"):
        ml.lrt(fits["m0"], fits["m1"], fits["m2"], names=["a", "a", "b"])
    with pytest.raises(ComparisonError, match="two or more"):
        ml.lrt(fits["m0"])
    with pytest.raises(ComparisonError, match="same number of parameters"):
        slope = ml.fit(REF["equal_npar"]["formula"], "sleepstudy", method="reml")
        ml.lrt(fits["m1"], slope, bootstrap=10)


def test_equal_parameter_counts_print_df_0_without_a_test_as_lme4(fits):
    ref = REF["equal_npar"]
    slope = ml.fit(ref["formula"], "sleepstudy", method="reml")
    result = ml.anova(fits["m1"], slope, fits["m2"])
    table = result.table
    assert table["npar"].tolist() == ref["npar"]
    for column in ("AIC", "logLik"):
        np.testing.assert_allclose(table[column], ref[column], rtol=1e-9, err_msg=column)
    np.testing.assert_allclose(table["Chisq"], _na(ref["Chisq"]), rtol=1e-6)
    np.testing.assert_allclose(table["Df"], _na(ref["Df"]))
    np.testing.assert_allclose(table["p"], _na(ref["p"]), rtol=1e-6)
    assert any("model2 vs model1: the same number of parameters (4)" in n for n in result.notes)
    # the tie keeps the order given, as lme4's: the second row's Chisq is then 0
    reversed_ = ml.lrt(slope, fits["m1"], names=REF["equal_npar_reversed"]["rows"])
    assert list(reversed_.table.index) == REF["equal_npar_reversed"]["rows"]
    np.testing.assert_allclose(reversed_.table["Chisq"], _na(REF["equal_npar_reversed"]["Chisq"]))
    assert reversed_.df == 0 and np.isnan(reversed_.p)


def test_anova_of_several_fits_is_their_likelihood_ratio_test(fits):
    two = ml.anova(fits["m1"], fits["m2"])
    assert list(two.table.index) == ["model1", "model2"]
    assert two.chisq == pytest.approx(REF["Chisq"][-1], rel=1e-6)
    three = ml.anova(fits["m2"], fits["m0"], fits["m1"])
    assert list(three.table.index) == ["model2", "model3", "model1"]
    np.testing.assert_allclose(three.table["Chisq"], _na(REF["Chisq"]), rtol=1e-6)
    assert list(ml.anova(fits["m2"]).index) == ["Days"]   # one fit: lmerTest's F tests
