"""``ml.anova`` of GLMMs: Wald χ² tests against car 3.1's ``Anova(glmer)`` (types 2 and 3;
type 3 with sum-to-zero contrasts, the coding-free hypotheses ml.anova builds).

Reference: tests/reference/make_glmm_anova.R → glmm_anova.json: binomial (cbind) and
Poisson GLMMs, and a Bernoulli GLMM with a factor-by-factor interaction and a covariate.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from r_data import csv_with_factors

import multilevel as ml
from multilevel.errors import SpecError

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "glmm_anova.json").read_text())
RTOL = 1e-4   # Laplace fits at glmer's optimizer precision
# type 3's reference is a second glmer fit (sum-to-zero coding), whose optimizer stops
# 1.5e-4 (relative) from the treatment-coded fit's optimum on the interaction model
RTOL_TYPE3 = 1e-3


def data_for(name: str):
    if name == "sim":
        return csv_with_factors(HERE / "glmm_anova_sim.csv", ["a", "b", "g"])
    return ml.datasets.load(name)


@pytest.fixture(scope="module")
def fits():
    return {key: ml.fit(case["formula"], data_for(case["data"]), method="ml", family=case["family"])
            for key, case in REF.items()}


@pytest.mark.parametrize("key", list(REF))
@pytest.mark.parametrize("kind", [2, 3])
def test_wald_chisq_tests_equal_cars(fits, key, kind):
    ref = REF[key][f"type{kind}"]
    table = ml.anova(fits[key], type=kind)
    assert list(table.index) == ref["rows"]
    np.testing.assert_array_equal(table["NumDF"], ref["Df"])
    assert np.isinf(table["DenDF"]).all()
    rtol = RTOL_TYPE3 if kind == 3 else RTOL
    np.testing.assert_allclose(table["F"] * table["NumDF"], ref["Chisq"], rtol=rtol, err_msg=f"{key} {kind}")
    # p on the log scale: a χ² of 70 at rtol 1e-4 moves p = 1e-15 by 0.1 %
    np.testing.assert_allclose(np.log(table["p"]), np.log(ref["p"]), rtol=rtol, err_msg=f"{key} {kind}")


def test_kenward_roger_is_refused_for_a_glmm(fits):
    with pytest.raises(SpecError, match="Kenward-Roger"):
        ml.anova(fits["cbpp"], ddf="kenward-roger")
    assert ml.drop1(fits["cbpp"]).loc["period", "NumDF"] == 3
