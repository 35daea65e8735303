"""lmerTest's ``ranova``: likelihood-ratio tests of the group-effect terms
(:mod:`multilevel.inference.ranova`).

References: ``tests/reference/ranova.json`` from ``make_ranova.R`` (R 4.2.2, lme4 1.1-31,
lmerTest 3.1-3): row labels, parameter counts, log-likelihoods, LRT, df and p-values,
for slopes reduced part by part, terms removed whole, ``||`` and nested terms, crossed
factors, a reduction to a linear model (REML and ML), and lmerTest's rules for a term's
only part (``(0 + x | s)`` becomes ``(1 | s)``) and for a reduced term equal to another.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import FamilyError, FormulaError

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "ranova.json").read_text())


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(HERE / "model_matrix.csv") if name == "model_matrix" else ml.datasets.load(name)


@pytest.fixture(scope="module")
def tables():
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # a nearly unidentifiable quadratic term, as lme4 says
        for key, ref in REF.items():
            fit = ml.fit(ref["formula"], _data(ref["data"]), method="reml" if ref["reml"] else "ml")
            out[key] = ml.ranova(fit, reduce_terms=ref["reduce_terms"])
    return out


def _values(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@pytest.mark.parametrize("key", sorted(REF))
def test_ranova_matches_lmertest(tables, key):
    ref, table = REF[key], tables[key]
    assert list(table.index) == ref["rows"]
    assert table["npar"].tolist() == ref["npar"]
    np.testing.assert_allclose(table["logLik"], ref["logLik"], rtol=1e-9)
    np.testing.assert_allclose(table["AIC"], ref["AIC"], rtol=1e-9)
    np.testing.assert_allclose(table["LRT"], _values(ref["LRT"]), atol=1e-6)
    np.testing.assert_allclose(table["Df"], _values(ref["Df"]))
    np.testing.assert_allclose(table["p"], _values(ref["p"]), rtol=1e-5, atol=1e-12)


def test_the_reduced_fits_are_kept(tables):
    fits = tables["slopes"].attrs["fits"]
    reduced = fits["Days in (Days | Subject)"]
    assert [t.cnms for t in reduced.design.reterms] == [["(Intercept)"]]


@pytest.mark.parametrize("key, row", [("slopes", "Days in (Days | Subject)"),
                                      ("factor_slope", "flag in (1 + flag | s)"),
                                      ("factor_slope", "x in (0 + x | s)")])
def test_a_reduced_fit_predicts_new_rows_with_its_own_columns(tables, key, row):
    reduced = tables[key].attrs["fits"][row]
    rows = reduced.design.frame.data.iloc[[0, 7, 12]]
    np.testing.assert_allclose(reduced.predict(rows)["estimate"],
                               reduced.predict()["estimate"].iloc[[0, 7, 12]], rtol=1e-12)


def test_a_bayesian_fit_is_sent_to_loo(bayes_ss_intercept):
    with pytest.raises(FamilyError, match="ml.compare"):
        ml.ranova(bayes_ss_intercept)


def test_what_ranova_cannot_reduce_is_refused_by_name():
    with pytest.raises(FormulaError, match="has none"):
        ml.ranova(ml.fit("Reaction ~ Days", "sleepstudy", method="reml"))
    cbpp = ml.datasets.load("cbpp")
    glmm = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp,
                  family="binomial", method="ml")
    with pytest.raises(FamilyError, match="ml.lrt"):
        ml.ranova(glmm)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structured = ml.fit("Reaction ~ Days + cs(1 + Days | Subject)", "sleepstudy", method="reml")
    with pytest.raises(FormulaError, match="structure"):
        ml.ranova(structured)
