"""lmerTest's type I/II/III anova where terms lack some of their margins.

R codes a variable of a term by indicators for every level when the term without it is
absent (``x:f`` without ``x``; ``2`` in ``attr(terms, "factors")``), and lmerTest's
containment of terms reads only the contrast-coded variables, so such terms are tested
by type II's ordered rows rather than marginally (``flag + x:f``: ``x:f`` is "contained"
in ``flag``). References: ``tests/reference/anova_margins.json`` from
``make_anova_margins.R`` (R 4.2.2, lme4 1.1-31, lmerTest 3.1-3), data ``model_matrix.csv``.
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
REF = {case["formula"][0]: case for case in json.loads((HERE / "anova_margins.json").read_text())}
# f:g without f and g keeps formulae's coding (README "Formula semantics"): other terms
NOT_RS_CODING = {"y ~ f:g + (1 | s)"}


@pytest.fixture(scope="module")
def fits():
    data = pd.read_csv(HERE / "model_matrix.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # rank-deficient designs, as lme4 says too
        return {f: ml.fit(f, data, method="reml") for f in REF}


def test_the_cases_in_rs_coding_are_all_but_the_documented_one(fits):
    same = {f for f, fit in fits.items() if list(fit.fixef.index) == REF[f]["fixef_names"]}
    assert set(REF) - same == NOT_RS_CODING


@pytest.mark.parametrize("kind", [1, 2, 3])
@pytest.mark.parametrize("formula", sorted(set(REF) - NOT_RS_CODING))
def test_anova_matches_lmertest(fits, formula, kind):
    ref = REF[formula][f"type{kind}"]
    table = ml.anova(fits[formula], type=kind)
    assert list(table.index) == ref["terms"]
    np.testing.assert_allclose(table["NumDF"], ref["NumDF"])
    np.testing.assert_allclose(table["F"], ref["F"], rtol=1e-5)
    np.testing.assert_allclose(table["DenDF"], ref["DenDF"], rtol=1e-4)
