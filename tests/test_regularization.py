"""The regularization path: shrinkage grows as the prior scale falls; LOO picks a scale."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

import multilevel as ml
from multilevel.regularization import regularization_path

pytestmark = pytest.mark.slow
matplotlib.use("Agg")


@pytest.fixture(scope="module")
def path():
    return regularization_path("target ~ bmi + bp + s5 + age", ml.datasets.load("diabetes"), kind="ridge",
                               scales=[0.3, 30.0], draws=300, tune=400, chains=2)


def test_path_shrinks_toward_zero_with_small_scales(path):
    size = path.table.assign(a=lambda t: t["estimate"].abs()).groupby("scale")["a"].sum()
    assert size.is_monotonic_increasing
    assert list(path.loo["scale"]) == [0.3, 30.0]
    assert path.best_scale == 30.0               # τ = 0.3 over-shrinks these strong effects
    assert path.loo.set_index("scale").loc[0.3, "elpd_loo"] < path.loo["elpd_loo"].max()


def test_sklearn_choice_and_learned_fit_are_reported(path):
    assert path.sklearn_alpha > 0 and path.sklearn_scale > 0
    assert "bmi" in path.learned.index
    fig = path.plot()
    assert len(fig.axes) == 2
    assert len(fig.axes[0].get_lines()) >= 4 + 2   # one path per coefficient + two choices
    assert np.isfinite(path.table[["estimate", "lower", "upper"]].to_numpy()).all()
