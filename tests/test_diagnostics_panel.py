"""Panel F test (pooled OLS vs group fixed effects) against a numpy dummy-variable fit
and R's plm::pFtest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from multilevel.diagnostics import panel_f_test
from multilevel.errors import DataError, DataWarning, FormulaError

EXTRA = json.loads((Path(__file__).parent / "reference" / "diagnostics_extra.json").read_text())


def _lsdv_f(y, X, groups):
    """Closed form: RSS of y ~ X and of y ~ X + group dummies (least-squares dummy variables)."""
    dummies = (groups[:, None] == np.unique(groups)[None, 1:]).astype(float)
    rss, ranks = [], []
    for M in (X, np.column_stack([X, dummies])):
        resid = y - M @ np.linalg.lstsq(M, y, rcond=None)[0]
        rss.append(resid @ resid)
        ranks.append(np.linalg.matrix_rank(M))
    df1, df2 = ranks[1] - ranks[0], len(y) - ranks[1]
    F = ((rss[0] - rss[1]) / df1) / (rss[1] / df2)
    return F, df1, df2, rss


def _unbalanced(sleepstudy):
    keep = (np.arange(len(sleepstudy)) + 1) % 7 != 3     # the R script's rows 3, 10, 17, ... removed
    return sleepstudy[keep]


@pytest.mark.parametrize("key, subset", [("pftest_ss", None), ("pftest_ss_unbalanced", _unbalanced)])
def test_f_test_matches_lsdv_and_plm(sleepstudy, key, subset):
    data = sleepstudy if subset is None else subset(sleepstudy)
    result = panel_f_test("Reaction ~ Days", data, group="Subject")
    X = np.column_stack([np.ones(len(data)), data["Days"]])
    F, df1, df2, rss = _lsdv_f(data["Reaction"].to_numpy(float), X, data["Subject"].to_numpy())
    assert (result.df1, result.df2) == (df1, df2)
    assert result.F == pytest.approx(F, rel=1e-10)
    assert (result.rss_pooled, result.rss_within) == pytest.approx(tuple(rss), rel=1e-10)
    assert result.p == pytest.approx(stats.f.sf(F, df1, df2), rel=1e-10)
    ref = EXTRA[key]
    assert (result.n, result.df1, result.df2) == (ref["nobs"], ref["df1"], ref["df2"])
    assert result.F == pytest.approx(ref["F"], rel=1e-8)
    assert result.p == pytest.approx(ref["p"], rel=1e-6)
    assert "do not pool" in str(result)


def test_no_group_effect_gives_a_uniform_p():
    # simulated truth: no group intercepts; p-values over replications are uniform
    rng = np.random.default_rng(7)
    ps = []
    for _ in range(200):
        g = np.repeat(np.arange(10), 6)
        x = rng.normal(size=60)
        data = pd.DataFrame({"y": 1 + 2 * x + rng.normal(size=60), "x": x, "g": g})
        ps.append(panel_f_test("y ~ x", data, group="g").p)
    assert stats.kstest(ps, "uniform").pvalue > 0.01


def test_time_invariant_predictors_are_absorbed(sleepstudy):
    data = sleepstudy.assign(z=sleepstudy["Subject"].astype(str).str[-1].astype(float))
    result = panel_f_test("Reaction ~ Days + z", data, group="Subject")
    X = np.column_stack([np.ones(len(data)), data["Days"], data["z"]])
    F, df1, df2, _ = _lsdv_f(data["Reaction"].to_numpy(float), X, data["Subject"].to_numpy())
    assert result.dropped == ["z"]
    assert (result.df1, result.df2) == (df1, df2)
    assert result.F == pytest.approx(F, rel=1e-10)
    assert "absorbed by the group effects: z" in str(result)


def test_missing_values_are_dropped_with_a_warning(sleepstudy):
    data = sleepstudy.copy()
    data["Subject"] = data["Subject"].astype(object)
    data.loc[data.index[:2], "Subject"] = None
    with pytest.warns(DataWarning, match="Removed 2 of 180 rows"):
        result = panel_f_test("Reaction ~ Days", data, group="Subject")
    assert result.n == 178


def test_bad_inputs_are_refused(sleepstudy):
    with pytest.raises(FormulaError, match="without random-effect terms"):
        panel_f_test("Reaction ~ Days + (1 | Subject)", sleepstudy, group="Subject")
    with pytest.raises(DataError, match="not a column"):
        panel_f_test("Reaction ~ Days", sleepstudy, group="subject")
    with pytest.raises(DataError, match="one level"):
        panel_f_test("Reaction ~ Days", sleepstudy.assign(one="a"), group="one")
