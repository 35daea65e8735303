"""Missing values and outlier flags: each step reports what it changed, none removes rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError


@pytest.fixture()
def holes():
    return pd.DataFrame({
        "id": [1, 1, 1, 2, 2, 2],
        "t": [3, 1, 2, 1, 2, 3],
        "x": [np.nan, 1.0, np.nan, np.nan, 4.0, 10.0],
        "n": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
        "k": [1, 2, 3, 4, 5, 6],
        "g": ["a", None, "b", "a", None, "a"],
        "c": pd.Categorical(["u", "v", None, "u", "v", "v"]),
    }, index=[10, 11, 12, 13, 14, 15])


@pytest.mark.parametrize("strategy, value", [("mean", 5.0), ("median", 4.0)])
def test_impute_fills_numbers_and_reports_each_value(holes, strategy, value):
    data, report = ml.prepare.impute(holes, "x", strategy=strategy)
    assert data["x"].tolist() == [value, 1.0, value, value, 4.0, 10.0]
    row = report.table.loc["x"]
    assert (row["strategy"], row["value"], row["n_filled"], row["rows"]) == (strategy, value, 3, [10, 12, 13])
    assert holes["x"].isna().sum() == 3      # the input is not modified
    assert len(data) == len(holes)


def test_impute_default_columns_and_indicators(holes):
    data, report = ml.prepare.impute(holes, indicator=True)
    assert report.table.index.tolist() == ["x", "n"]           # numeric columns with holes only
    assert data["x_missing"].tolist() == [1, 0, 1, 1, 0, 0]
    assert data["n"].tolist() == [1, 3.8, 3, 4, 5, 6]          # Int64 → float: a mean is not an integer
    assert "indicator columns added: x_missing, n_missing" in str(report)


def test_impute_refuses_categories_and_empty_columns(holes):
    with pytest.raises(DataError, match=r"\['g'\] are not numeric.*unknown_level"):
        ml.prepare.impute(holes, ["x", "g"])
    with pytest.raises(DataError, match="no observed values"):
        ml.prepare.impute(holes.assign(x=np.nan), "x")
    with pytest.raises(DataError, match="strategy='mode'"):
        ml.prepare.impute(holes, "x", strategy="mode")
    with pytest.raises(DataError, match=r"\['zz'\] are not in the data"):
        ml.prepare.impute(holes, "zz")


def test_fill_forward_within_groups_in_time_order(holes):
    data, report = ml.prepare.fill_forward(holes, ["x", "n"], group="id", order="t")
    # id 1 in time order: t1 x=1, t2 NaN → 1, t3 NaN → 1; id 2: t1 NaN (nothing before) stays
    pd.testing.assert_series_equal(data["x"], pd.Series([1.0, 1.0, 1.0, np.nan, 4.0, 10.0],
                                                         index=holes.index, name="x"))
    # Int64 keeps its dtype; id 1's first time point (row 11) has nothing before it
    pd.testing.assert_series_equal(data["n"], holes["n"])
    assert report.table.loc["n", ["n_filled", "n_left"]].tolist() == [0, 1]
    assert report.table.loc["x", ["n_filled", "n_left"]].tolist() == [2, 1]
    assert report.table.loc["x", "rows_left"] == [13]
    assert list(data.index) == list(holes.index)
    assert "stay missing" in str(report)


def test_fill_forward_never_crosses_groups():
    df = pd.DataFrame({"g": ["a", "b", "b"], "x": [5.0, np.nan, 2.0]})
    data, _ = ml.prepare.fill_forward(df, "x", group="g")
    assert np.isnan(data.loc[1, "x"])


def test_fill_forward_refuses_ambiguous_order(holes):
    with pytest.raises(DataError, match=r"\(id, t\) pair\(s\) occur more than once"):
        ml.prepare.fill_forward(holes.assign(t=1), "x", group="id", order="t")
    with pytest.raises(DataError, match="group column 'g' has missing values"):
        ml.prepare.fill_forward(holes, "x", group="g")


def test_unknown_level_for_text_and_categorical_columns(holes):
    data, report = ml.prepare.unknown_level(holes)
    assert data["g"].tolist() == ["a", "unknown", "b", "a", "unknown", "a"]
    assert data["c"].tolist() == ["u", "v", "unknown", "u", "v", "v"]
    assert "unknown" in data["c"].cat.categories
    assert report.table["n_filled"].to_dict() == {"g": 2, "c": 1}
    assert report.table.loc["g", "rows"] == [11, 14]
    with pytest.raises(DataError, match="already has a level 'a'"):
        ml.prepare.unknown_level(holes, "g", label="a")
    with pytest.raises(DataError, match="numeric"):
        ml.prepare.unknown_level(holes, "x")


def test_unknown_level_keeps_rows_a_fit_would_drop(sleepstudy):
    data = sleepstudy.assign(site=np.where(np.arange(len(sleepstudy)) % 9 == 0, None, "s1"))
    data.loc[data.index[1::9], "site"] = "s2"
    filled, _ = ml.prepare.unknown_level(data, "site")
    fit = ml.fit("Reaction ~ Days + site + (1 | Subject)", filled, method="reml")
    assert fit.nobs == len(data) and "siteunknown" in fit.fixef.index


def test_outlier_flags_by_zscore_and_iqr():
    x = np.r_[np.linspace(-1, 1, 50), 8.0, np.nan]
    df = pd.DataFrame({"x": x, "label": "a"}, index=np.arange(100, 152))
    report = ml.prepare.flag_outliers(df)
    assert report.flags.columns.tolist() == ["x:zscore", "x:iqr"]
    obs = x[~np.isnan(x)]
    mean, sd = obs.mean(), obs.std(ddof=1)
    q1, q3 = np.percentile(obs, [25, 75])
    expected = {"zscore": (mean - 3 * sd, mean + 3 * sd), "iqr": (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1))}
    for method, (lo, hi) in expected.items():
        row = report.table.loc[("x", method)]
        assert (row["lower"], row["upper"]) == pytest.approx((lo, hi))
        assert row["n_flagged"] == 1 and row["rows"] == [150]
    assert not report.flags.iloc[-1].any()          # a missing value is never flagged
    assert report.any.sum() == 1


def test_outliers_within_groups_and_no_rows_removed(sleepstudy):
    data = sleepstudy.copy()
    data.loc[data.index[5], "Reaction"] = 900.0   # extreme for its subject
    report = ml.prepare.flag_outliers(data, "Reaction", methods="iqr", by="Subject")
    assert data.index[5] in report.table.loc[("Reaction", "iqr"), "rows"]
    assert len(report.flags) == len(data)
    assert np.isnan(report.table.loc[("Reaction", "iqr"), "lower"])
    assert "within groups of 'Subject'" in str(report)


def test_outlier_arguments_are_checked(holes):
    with pytest.raises(DataError, match="methods="):
        ml.prepare.flag_outliers(holes, "x", methods="mad")
    with pytest.raises(DataError, match="not"):
        ml.prepare.flag_outliers(holes, "g")
    with pytest.raises(DataError, match="must be positive"):
        ml.prepare.flag_outliers(holes, "x", z=0)
