"""Target encoding out of fold (no leak of the response) and frequency encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import multilevel as ml
from multilevel.errors import DataError
from multilevel.prepare.encode import make_folds


@pytest.fixture(scope="module")
def noise():
    # 400 categories of 5 rows, the response independent of the category
    rng = np.random.default_rng(11)
    n = 2000
    return pd.DataFrame({"cat": np.repeat([f"c{i}" for i in range(400)], 5),
                         "y": rng.normal(size=n)}).sample(frac=1, random_state=1)


def test_pure_noise_category_gets_no_signal_out_of_fold(noise):
    data, report = ml.prepare.target_encode(noise, "cat", "y", folds=5, smoothing=1.0, seed=3)
    y = noise["y"].to_numpy()
    oof = data["cat_te"].to_numpy()
    in_sample = report.encoder.transform(noise).to_numpy()      # encoded from the rows themselves
    r_in, p_in = stats.pearsonr(in_sample, y)
    r_oof, p_oof = stats.pearsonr(oof, y)
    # in-sample: corr(y_i, its own category mean) ≈ 1/sqrt(5) — pure leak
    assert r_in > 0.35 and p_in < 1e-50
    # out of fold: nothing (slightly negative at most: a row's own value is left out)
    assert abs(r_oof) < 3 / np.sqrt(len(y)) and p_oof > 0.01


def test_a_real_category_effect_is_recovered_out_of_fold():
    rng = np.random.default_rng(5)
    effects = rng.normal(scale=2.0, size=50)
    cat = rng.integers(0, 50, 3000)
    df = pd.DataFrame({"cat": cat.astype(str), "y": effects[cat] + rng.normal(size=3000)})
    data, _ = ml.prepare.target_encode(df, "cat", "y", seed=0)
    assert stats.pearsonr(data["cat_te"], effects[cat])[0] > 0.99


def test_encoding_equals_the_m_estimate_of_the_other_folds():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"cat": rng.choice(list("abcd"), 60), "y": rng.normal(size=60)})
    m = 4.0
    data, report = ml.prepare.target_encode(df, "cat", "y", folds=3, smoothing=m, seed=9)
    fold = make_folds(60, 3, 9)
    for i in [0, 17, 42]:
        train = df[fold != fold[i]]
        prior = train["y"].mean()
        same = train.loc[train["cat"] == df["cat"].iloc[i], "y"]
        assert data["cat_te"].iloc[i] == pytest.approx((same.sum() + m * prior) / (len(same) + m))
    full = df.groupby("cat")["y"].agg(["sum", "size"])
    expected = (full["sum"] + m * df["y"].mean()) / (full["size"] + m)
    pd.testing.assert_series_equal(report.table["encoding"], expected, check_names=False)
    assert report.table["n"].tolist() == full["size"].tolist()


def test_folds_keep_whole_groups_together(sleepstudy):
    data, report = ml.prepare.target_encode(sleepstudy.assign(day=sleepstudy["Days"].astype(str)),
                                            "day", "Reaction", groups="Subject", folds=6, seed=1)
    fold = make_folds(len(sleepstudy), 6, 1, sleepstudy["Subject"])
    assert (pd.Series(fold).groupby(sleepstudy["Subject"].to_numpy()).nunique() == 1).all()
    assert "whole groups of 'Subject'" in str(report)
    with pytest.raises(DataError, match="18 groups cannot fill 20 folds"):
        ml.prepare.target_encode(sleepstudy, "Days", "Reaction", groups="Subject", folds=20)


def test_unseen_categories_and_missing_targets_get_the_prior():
    df = pd.DataFrame({"cat": ["a", "a", "b", "b", "c"], "y": [1.0, 3.0, 5.0, 7.0, np.nan]})
    data, report = ml.prepare.target_encode(df, "cat", "y", folds=2, smoothing=0.0, seed=0)
    assert data.loc[4, "cat_te"] == pytest.approx(4.0)    # 'c' never observed: overall mean
    new = report.encoder.transform(pd.DataFrame({"cat": ["a", "zzz"]}))
    assert new.tolist() == [2.0, 4.0]
    assert "1 row(s) with missing 'y'" in str(report)


def test_target_encode_refuses_bad_input(noise):
    with pytest.raises(DataError, match="missing categories.*unknown_level"):
        ml.prepare.target_encode(noise.assign(cat=None), "cat", "y")
    with pytest.raises(DataError, match="must be numeric"):
        ml.prepare.target_encode(noise, "cat", "cat")
    with pytest.raises(DataError, match="folds must be an integer >= 2"):
        ml.prepare.target_encode(noise, "cat", "y", folds=1)
    with pytest.raises(DataError, match="'y' already exists"):
        ml.prepare.target_encode(noise, "cat", "y", name="y")


def test_frequency_encoding():
    df = pd.DataFrame({"g": ["a", "b", "a", None, "a", "c"], "h": ["x"] * 6})
    data, report = ml.prepare.frequency_encode(df, ["g", "h"])
    assert data["g_freq"].iloc[[0, 1, 5]].tolist() == [0.6, 0.2, 0.2]
    assert np.isnan(data["g_freq"].iloc[3])
    assert data["h_freq"].eq(1.0).all()
    assert report.table.loc[("g", "a"), "count"] == 3
    assert "1 missing value(s) of 'g'" in str(report)
    counts, _ = ml.prepare.frequency_encode(df, "g", normalize=False)
    assert counts["g_freq"].iloc[0] == 3.0
    assert report.encoder.transform(pd.DataFrame({"h": ["x", "new"]})).tolist() == [1.0, 0.0]
    with pytest.raises(DataError, match="'g_freq' already exists"):
        ml.prepare.frequency_encode(data, "g")
