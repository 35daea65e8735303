"""Analysis of deviance of GLMs without group terms against R (make_glm_anova.R):
``ml.anova(glm, type=1)`` is ``anova(glm, test = "Chisq")``, ``type=2``/``3`` car's
``Anova(glm)`` likelihood-ratio tests, ``ml.drop1(glm)`` ``drop1(glm, test = "Chisq")``,
``ml.confint(glm)`` MASS's ``confint(glm)`` and ``confint.default``;
Poisson with an interaction, binomial (cbind), Gamma (deviances scaled by the estimated
dispersion) and glm.nb (θ kept, as R's anova and drop1 keep it).

Tolerances: 1e-6 relative (R's IRLS stops at a relative deviance change of 1e-8), p-values
1e-5 relative or 1e-300 absolute.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import SpecError

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "glm_anova.json").read_text())
OURS = {"Pr(>Chi)": "p", "Pr(>Chisq)": "p", "scaled dev.": "LRT"}   # R's column → ours


def _fit(case):
    data = (pd.read_csv(HERE / "inverse_gaussian.csv") if case["data"] == "inverse_gaussian"
            else ml.datasets.load(case["data"]))
    return ml.fit(case["formula"], data, family=case["family"], link=case.get("link"), method="ml")


@pytest.fixture(scope="module")
def fits():
    return {key: _fit(case) for key, case in REF.items()}


TABLES = [(key, table) for key in REF for table in ("type1", "type2", "type3", "drop1") if table in REF[key]]


@pytest.mark.parametrize(("key", "table"), TABLES, ids=[f"{k}-{t}" for k, t in TABLES])
def test_analysis_of_deviance_matches_r(fits, key, table):
    ref = REF[key][table]
    fit = fits[key]
    ours = ml.drop1(fit) if table == "drop1" else ml.anova(fit, type=int(table[-1]))
    assert list(ours.index) == ref["rows"]
    for column, values in ref.items():
        if column == "rows":
            continue
        want = np.array([np.nan if v is None else v for v in values], dtype=float)
        got = ours[OURS.get(column, column)].to_numpy(dtype=float)
        tol = {"rtol": 1e-5, "atol": 1e-300} if column.startswith("Pr") else {"rtol": 1e-6, "atol": 1e-9}
        np.testing.assert_allclose(got, want, **tol, err_msg=f"{key} {table} {column}")


def test_a_glm_without_intercept_is_refused():
    fit = ml.fit("TICKS ~ 0 + YEAR + cHEIGHT", "grouseticks", family="poisson", method="ml")
    with pytest.raises(SpecError, match="needs a model with an intercept"):
        ml.anova(fit, type=1)


CI = json.loads((HERE / "glm_confint.json").read_text())


@pytest.mark.parametrize("key", list(CI))
def test_confint_is_mass_confint_glm(fits, key):
    """MASS's profile intervals (a spline through profile points in R, an exact root here:
    2e-4 relative) and confint.default's Wald intervals (1e-5)."""
    for method, rtol in (("profile", 2e-4), ("wald", 1e-5)):
        ours = ml.confint(fits[key], method=method)[["lower", "upper"]].to_numpy()
        np.testing.assert_allclose(ours, np.array(CI[key][method]), rtol=rtol, atol=1e-6,
                                   err_msg=f"{key} {method}")
    with pytest.raises(SpecError, match="a GLM has none"):
        ml.confint(fits[key], method="boot")
