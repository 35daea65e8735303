"""The conditional-effects plot draws the predictions of ml.predictions on its grid."""

from __future__ import annotations

import numpy as np
import pytest

import multilevel as ml
from multilevel.errors import DataError
from multilevel.plots.conditional import conditional_effects, conditional_grid


@pytest.fixture(scope="module")
def cake():
    return ml.fit("angle ~ recipe * temp + (1 | recipe:replicate)", "cake", method="reml")


def test_numeric_x_by_factor(cake):
    fig = conditional_effects(cake, "temp", by="recipe", n=20)
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and len(ax.collections) == 3
    grid = conditional_grid(cake, "temp", "recipe", n=20)
    pred = ml.predictions(cake, newdata=grid, group_effects=False)
    line = ax.lines[1]
    b = pred[grid["recipe"].astype(str) == "B"]
    np.testing.assert_allclose(line.get_xdata(), b["temp"])
    np.testing.assert_allclose(line.get_ydata(), b["estimate"])
    band = ax.collections[1].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(b["lower"].min())
    assert band[:, 1].max() == pytest.approx(b["upper"].max())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["recipe = A", "recipe = B", "recipe = C"]


def test_factor_x_and_defaults(cake):
    fig = conditional_effects(cake, "recipe", points=True)
    grid = fig.grid
    assert grid["recipe"].astype(str).tolist() == ["A", "B", "C"]
    assert grid["temp"].unique().tolist() == [pytest.approx(cake.design.frame.data["temp"].mean())]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["A", "B", "C"]
    numeric_by = conditional_grid(cake, "recipe", by="temp")
    sd = cake.design.frame.data["temp"].std()
    assert np.ptp(numeric_by["temp"]) == pytest.approx(2 * sd)


def test_bad_variable(cake):
    with pytest.raises(DataError, match="angle"):
        conditional_effects(cake, "angle")
