"""``ml.check_overdispersion`` and ``ml.check_zeroinflation`` against performance 0.10.2's
``check_overdispersion`` and ``check_zeroinflation`` of glmer, glmer.nb and glm fits
(``tests/reference/make_dispersion.R``).

Tolerances: Pearson's χ² and the ratio 1e-5 relative (they depend on the fitted means;
glmer.nb's θ search stops a little before the optimum in R), the p-value 1e-4 relative
(1e-60 absolute for the tiny ones); the counts of zeros exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import FamilyError

REF = json.loads((Path(__file__).parent / "reference" / "dispersion.json").read_text())


@pytest.fixture(scope="module")
def fits() -> dict:
    return {key: ml.fit(case["formula"], case["data"], family=case["family"], method="ml")
            for key, case in REF.items()}


@pytest.mark.parametrize("key", list(REF))
def test_overdispersion_matches_performance(fits, key):
    ref, check = REF[key], ml.check_overdispersion(fits[key])
    assert check.df_resid == ref["df_resid"]
    np.testing.assert_allclose([check.chisq, check.ratio], [ref["chisq"], ref["ratio"]], rtol=1e-5)
    np.testing.assert_allclose(check.p_value, ref["p_value"], rtol=1e-4, atol=1e-60)
    assert check.overdispersed == (ref["p_value"] < 0.05)


@pytest.mark.parametrize("key", [k for k in REF if REF[k]["family"] != "binomial"])
def test_zeroinflation_matches_performance(fits, key):
    ref, check = REF[key], ml.check_zeroinflation(fits[key])
    assert (check.observed, check.predicted) == (ref["observed_zeros"], ref["predicted_zeros"])
    assert check.ratio == pytest.approx(ref["zero_ratio"], rel=1e-12)


def test_printed_as_performance_prints_it(fits):
    text = repr(ml.check_overdispersion(fits["poisson"]))
    assert "dispersion ratio =    2.719" in text and "Overdispersion detected." in text
    assert "Model is underfitting zeros (probable zero-inflation)." in repr(ml.check_zeroinflation(fits["poisson"]))
    assert "within the tolerance range" in repr(ml.check_zeroinflation(fits["negbin"]))


def test_what_cannot_be_checked_is_refused_by_name():
    lmm = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml")
    with pytest.raises(FamilyError, match="poisson, negativebinomial, binomial, bernoulli models; this fit's family is 'gaussian'"):
        ml.check_overdispersion(lmm)
    bernoulli = ml.fit("I(TICKS > 0) ~ YEAR + (1 | LOCATION)", "grouseticks", family="binomial", method="ml")
    with pytest.raises(FamilyError, match="trials > 1"):
        ml.check_overdispersion(bernoulli)
    counts = ml.datasets.load("grouseticks").assign(TICKS=lambda d: d["TICKS"] + 1)
    no_zeros = ml.fit("TICKS ~ YEAR + (1 | LOCATION)", counts, family="poisson", method="ml")
    with pytest.raises(FamilyError, match="no zeros"):
        ml.check_zeroinflation(no_zeros)
