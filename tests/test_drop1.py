"""lmerTest's ``drop1()``: F tests of deleting each marginal fixed-effect term
(:func:`multilevel.inference.drop1`), Satterthwaite's and Kenward-Roger's df.

References: ``tests/reference/drop1.json`` from ``make_drop1.R`` (R 4.2.2, lme4 1.1-31,
lmerTest 3.1-3, pbkrtest 0.5.1): only an interaction droppable (cake), a covariate,
three main effects, an interaction with a main effect beside it, and an aliased column
(its deletion tests nothing: NaN, as lmerTest's NA).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml

HERE = Path(__file__).parent / "reference"
REF = {case["formula"][0]: case for case in json.loads((HERE / "drop1.json").read_text())}
DDF = {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger"}


def _na(values) -> np.ndarray:
    return np.array([np.nan if v == "NA" else v for v in values], dtype=float)


@pytest.fixture(scope="module")
def fits():
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the aliased column is dropped with a message
        for formula, ref in REF.items():
            name = ref["data"][0]
            data = pd.read_csv(HERE / "model_matrix.csv") if name == "model_matrix" else ml.datasets.load(name)
            out[formula] = ml.fit(formula, data, method="reml")
    return out


@pytest.mark.parametrize("ddf", sorted(DDF))
@pytest.mark.parametrize("formula", sorted(REF))
def test_drop1_matches_lmertest(fits, formula, ddf):
    ref = REF[formula][DDF[ddf]]
    table = ml.drop1(fits[formula], ddf=ddf)
    assert list(table.index) == ref["terms"]
    np.testing.assert_allclose(table["NumDF"], _na(ref["NumDF"]))
    np.testing.assert_allclose(table["DenDF"], _na(ref["DenDF"]), rtol=1e-4)
    np.testing.assert_allclose(table["F"], _na(ref["F"]), rtol=1e-5)
    np.testing.assert_allclose(table["p"], _na(ref["p"]), rtol=1e-4, atol=1e-12)
