"""lme4's ``lmList``: one least-squares fit per group (:func:`multilevel.lmlist`).

References: ``tests/reference/lmlist.json`` from ``make_lmlist.R`` (R 4.2.2, lme4 1.1-31):
sleepstudy, and a ragged copy where one subject has two rows (an exact fit) and one a
single row (its slope aliased: NA). Coefficients and each group's ``lm`` intervals
(what lme4's ``confint(lmList)`` computes) equal R's. The pooled SD uses each group's
``df.residual`` (n − rank): lme4 1.1-31's ``pooledSD`` counts an aliased coefficient as
a used df (127 instead of 128 in the ragged case), so there it is checked against
R's ``df.residual``-based value.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError, FormulaError

REF = json.loads((Path(__file__).parent / "reference" / "lmlist.json").read_text())


def _data(key: str) -> pd.DataFrame:
    ss = ml.datasets.load("sleepstudy")
    if key == "full":
        return ss
    subject = ss["Subject"].astype(str)
    return ss[~((subject == "309") & (ss["Days"] > 1)) & ~((subject == "310") & (ss["Days"] > 0))]


def _matrix(columns) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in col] for col in columns], dtype=float).T


@pytest.mark.parametrize("key", sorted(REF))
def test_lmlist_matches_lme4(key):
    ref = REF[key]
    fits = ml.lmlist("Reaction ~ Days | Subject", _data(key))
    table = fits.coef
    assert list(table.index) == ref["levels"] and list(table.columns) == ref["columns"]
    np.testing.assert_allclose(table.to_numpy(), _matrix(ref["coef"]), rtol=1e-10)
    intervals = fits.confint()
    np.testing.assert_allclose(intervals.xs("lower", axis=1, level=1), _matrix(ref["lower"]), rtol=1e-10)
    np.testing.assert_allclose(intervals.xs("upper", axis=1, level=1), _matrix(ref["upper"]), rtol=1e-10)
    assert fits.df_resid == ref["df_residual"]
    assert fits.sigma == pytest.approx(ref["sigma_df_residual"], rel=1e-12)
    if key == "full":
        assert fits.sigma == pytest.approx(ref["sigma"], rel=1e-12) and fits.df_resid == ref["df"]


def test_pooled_intervals_use_the_pooled_sd_and_df():
    from scipy import stats

    fits = ml.lmlist("Reaction ~ Days | Subject", "sleepstudy")
    pooled = fits.confint(0.9, pool=True).loc["308", "Days"]
    se = np.sqrt(fits.fits["308"].cov_unscaled.loc["Days", "Days"])
    half = stats.t.ppf(0.95, fits.df_resid) * fits.sigma * se
    assert pooled["upper"] - fits.coef.loc["308", "Days"] == pytest.approx(half)


def test_what_lmlist_needs_is_said():
    with pytest.raises(FormulaError, match="a bar and a grouping column"):
        ml.lmlist("Reaction ~ Days", "sleepstudy")
    with pytest.raises(FormulaError, match="one column"):
        ml.lmlist("Reaction ~ Days | Subject:Days", "sleepstudy")
    with pytest.raises(DataError, match="'Group' is not in the data"):
        ml.lmlist("Reaction ~ Days | Group", "sleepstudy")


def test_a_dotted_or_backticked_grouping_name_is_one_column():
    data = ml.datasets.load("sleepstudy").rename(columns={"Subject": "subject.id"})
    dotted = ml.lmlist("Reaction ~ Days | subject.id", data).coef
    spaced = ml.lmlist("Reaction ~ Days | `subject id`",
                       data.rename(columns={"subject.id": "subject id"})).coef
    np.testing.assert_allclose(dotted.to_numpy(), spaced.to_numpy())
    assert dotted.index.name == "subject.id" and len(dotted) == 18
