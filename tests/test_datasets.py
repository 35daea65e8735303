"""Shipped data: every file loads with R's factor columns as ordered categoricals."""

from __future__ import annotations

import pandas as pd
import pytest

import multilevel as ml
from multilevel.errors import DataError

SHAPES = {
    "sleepstudy": (180, 3), "Dyestuff": (30, 2), "Pastes": (60, 4), "Penicillin": (144, 3),
    "cake": (270, 5), "cbpp": (56, 4), "grouseticks": (403, 7), "InstEval": (73421, 7),
    "VerbAgg": (7584, 9), "oats": (72, 4), "visits": (480, 5), "mtcars": (32, 11),
    "diabetes": (442, 11), "mcycle": (133, 2),
    "Salamanders": (644, 9), "Owls": (599, 7), "USAirlines": (90, 6), "wine": (72, 6),
    "epilepsy": (236, 9), "iris": (150, 5),
}


@pytest.mark.parametrize("name, shape", SHAPES.items())
def test_load_shapes(name, shape):
    assert ml.datasets.load(name).shape == shape


def test_factor_levels_in_r_order():
    herd = ml.datasets.load("cbpp")["herd"]
    assert isinstance(herd.dtype, pd.CategoricalDtype)
    assert list(herd.cat.categories)[:11] == [str(i) for i in range(1, 12)]
    assert list(ml.datasets.load("sleepstudy").Subject.cat.categories)[:3] == ["308", "309", "310"]


def test_names_and_unknown():
    assert set(SHAPES) == set(ml.datasets.names())
    with pytest.raises(DataError, match="Unknown dataset 'sleep'.*sleepstudy"):
        ml.datasets.load("sleep")


def test_epilepsy_is_brms_data():
    """brms's ``epilepsy`` (exported by tools/export_epilepsy.R from brms 2.18): its
    standardized columns are those of the raw ones, and the totals are R's."""
    d = ml.datasets.load("epilepsy")
    assert list(d["Trt"].cat.categories) == ["0", "1"] and d["patient"].nunique() == 59
    assert (d.groupby("patient", observed=True).size() == 4).all()
    assert int(d["count"].sum()) == 1948 and int(d["Base"].sum()) == 4 * 1842   # R: sum(epilepsy$count)
    for raw, z in (("Age", "zAge"), ("Base", "zBase")):
        expected = (d[raw] - d[raw].mean()) / d[raw].std()
        assert abs(d[z] - expected).max() < 1e-12
