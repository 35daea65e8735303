"""``ml.bootmer``, lme4's ``bootMer``: a parametric bootstrap of any statistic of a REML/ML
mixed model. Its refits are those of ``confint(method="boot")`` (checked against lme4 in
tests/test_inference_bootstrap.py): with the same seed the fixed effects' replicates are
identical; a statistic failing on some refits gives NaN rows and a warning.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataWarning, FitError, SpecError


@pytest.fixture(scope="module")
def slopes():
    return ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")


def test_replicates_are_confints_bootstrap_refits(slopes):
    boot = ml.bootmer(slopes, lambda m: m.fixef, nsim=25, seed=1)
    reps = ml.confint(slopes, method="boot", nsim=25, seed=1).attrs["replicates"]
    np.testing.assert_array_equal(boot.t.to_numpy(), reps[:, -2:])
    pd.testing.assert_series_equal(boot.t0, slopes.fixef.rename(None), check_names=False)
    table = boot.confint(0.9)
    assert list(table.columns) == ["estimate", "std_error", "lower", "upper"]
    assert (table["lower"] < table["estimate"]).all() and (table["estimate"] < table["upper"]).all()
    again = ml.bootmer(slopes, lambda m: m.fixef, nsim=25, seed=1)
    pd.testing.assert_frame_equal(again.t, boot.t)
    assert "Parametric bootstrap (lme4's bootMer), 25 simulated responses" in repr(boot)


def test_statistics_of_any_shape_and_a_glmm():
    cbpp = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
                  family="binomial", method="ml")
    boot = ml.bootmer(cbpp, lambda m: {"sd_herd": m.varcorr["sdcor"].iloc[0], "b2": m.fixef.iloc[1]},
                      nsim=10, seed=3)
    assert list(boot.t.columns) == ["sd_herd", "b2"] and boot.t.shape == (10, 2)
    assert boot.t0["b2"] == pytest.approx(cbpp.fixef.iloc[1])
    scalar = ml.bootmer(cbpp, lambda m: m.loglik, nsim=5, seed=3)
    assert list(scalar.t.columns) == ["t1"]


def test_a_statistic_that_fails_on_some_refits_gives_nan_rows(slopes):
    def slope_if_positive_intercept_shift(m):
        if m.fixef.iloc[0] > slopes.fixef.iloc[0]:
            raise FitError("not this one")
        return m.fixef.iloc[1]

    with pytest.warns(DataWarning, match=r"could not be computed on \d+ of 20 refits"):
        boot = ml.bootmer(slopes, slope_if_positive_intercept_shift, nsim=20, seed=4)
    assert 0 < boot.failed < 20 and boot.t["t1"].isna().sum() == boot.failed
    assert np.isfinite(boot.confint().to_numpy()).all()


@pytest.mark.parametrize(("statistic", "match"), [
    ("fixef", "statistic must be a function of a fit"),
    (lambda m: "high", "statistic\\(fit\\) must give numbers"),
    (lambda m: np.ones((2, 2)), "flat sequence"),
])
def test_bad_statistics_are_refused(slopes, statistic, match):
    with pytest.raises(SpecError, match=match):
        ml.bootmer(slopes, statistic, nsim=2, seed=1)


def test_what_cannot_be_bootstrapped_is_refused(slopes):
    lm = ml.fit("Reaction ~ Days", "sleepstudy", method="reml")
    with pytest.raises(SpecError, match="mixed models fitted with method='reml' or 'ml'"):
        ml.bootmer(lm, lambda m: m.fixef, nsim=2)
    with pytest.raises(SpecError, match="nsim"):
        ml.bootmer(slopes, lambda m: m.fixef, nsim=0)
