"""Plots run headless and return figures with the expected panels (axes and the data
drawn in them are counted and compared, never pixels)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from scipy import stats

import multilevel as ml
from multilevel.errors import DataError, FitError

plots = ml.plots


@pytest.fixture(scope="module")
def reml(sleepstudy):
    return ml.fit("Reaction ~ Days + (Days | Subject)", sleepstudy, method="reml")


def _lines(ax):
    return [line for line in ax.get_lines() if len(line.get_xdata())]


def test_group_panels_one_panel_per_subject_with_its_fitted_line(reml):
    fig = plots.group_panels(reml)          # x defaults to the random slope: Days
    assert len(fig.axes) == 18
    assert [ax.get_title() for ax in fig.axes] == reml.design.reterms[0].levels
    first = fig.axes[0]
    points, fitted, population = _lines(first)
    rows = reml.design.frame.data["Subject"].astype(str) == "308"
    np.testing.assert_allclose(points.get_ydata(), reml.design.y[rows.to_numpy()])
    np.testing.assert_allclose(fitted.get_ydata(), reml.predict()["estimate"][rows])
    np.testing.assert_allclose(population.get_ydata(),
                               reml.predict(group_effects=False)["estimate"][rows])
    assert "Reaction vs Days by Subject" in fig.get_suptitle()


def test_group_panels_options_and_errors(reml):
    fig = plots.group_panels(reml, "Days", group="Subject", max_panels=6, ncols=3, population=False)
    assert len(fig.axes) == 6 and all(len(_lines(ax)) == 2 for ax in fig.axes)
    assert "first 6 of 18 groups" in fig.get_suptitle()
    with pytest.raises(DataError, match="not a grouping factor"):
        plots.group_panels(reml, group="Days")
    with pytest.raises(DataError, match="numeric column"):
        plots.group_panels(reml, "Subject")
    with pytest.raises(FitError, match="no random effects"):
        plots.group_panels(ml.fit("mpg ~ wt", "mtcars", method="ml"))
    with pytest.raises(FitError, match="need a fit"):
        plots.residuals("not a fit")


def test_residuals_vs_fitted_and_qq(reml):
    fig = plots.residuals(reml)
    assert len(fig.axes) == 2
    fitted = reml.predict()["estimate"].to_numpy()
    offsets = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(offsets[:, 0], fitted)
    np.testing.assert_allclose(offsets[:, 1], reml.design.y - fitted)
    assert fig.axes[1].get_title() == "Normal Q-Q"
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)     # renders without a display
    assert buffer.getvalue()[:4] == b"\x89PNG"


def test_caterpillar_of_conditional_modes_with_condvar_intervals(reml):
    fig = plots.caterpillar(reml, ci=0.9)
    assert [ax.get_title() for ax in fig.axes] == ["Subject: (Intercept)", "Subject: Days"]
    modes = reml.ranef["Subject"]
    sd = np.sqrt(np.diagonal(reml.ranef_condvar()["Subject"], axis1=1, axis2=2))
    order = np.argsort(modes["(Intercept)"].to_numpy(), kind="stable")
    for j, ax in enumerate(fig.axes):
        assert [t.get_text() for t in ax.get_yticklabels()] == list(modes.index[order])
        markers = ax.get_lines()[0]
        np.testing.assert_allclose(markers.get_xdata(), modes.iloc[order, j])
        segments = ax.collections[0].get_segments()
        half = np.array([s[1, 0] - s[0, 0] for s in segments]) / 2
        np.testing.assert_allclose(half, stats.norm.ppf(0.95) * sd[order, j])


def test_caterpillar_of_crossed_factors():
    fit = ml.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", method="reml")
    fig = plots.caterpillar(fit)
    assert [ax.get_title() for ax in fig.axes] == ["plate: (Intercept)", "sample: (Intercept)"]
    assert [len(ax.get_yticks()) for ax in fig.axes] == [24, 6]


def test_forest_of_fixed_effects(reml):
    fig = plots.forest(reml)
    assert len(fig.axes) == 1
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["(Intercept)", "Days"]
    fig = plots.forest(reml, intercept=False)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["Days"]


def test_ppc_needs_a_bayesian_fit(reml):
    with pytest.raises(FitError, match="needs a Bayesian fit"):
        plots.ppc(reml)


@pytest.mark.slow
def test_bayesian_plots(bayes_ss_slopes):
    fig = plots.group_panels(bayes_ss_slopes, "Days")
    assert len(fig.axes) == 18
    assert all(sum(isinstance(c, PolyCollection) for c in ax.collections) == 1 for ax in fig.axes)
    assert "95% band" in fig.get_suptitle()
    assert len(plots.ppc(bayes_ss_slopes, n_draws=20).axes) == 1
    assert len(plots.residuals(bayes_ss_slopes).axes) == 2
    fig = plots.caterpillar(bayes_ss_slopes)
    assert len(fig.axes) == 2
    means = bayes_ss_slopes.ranef["Subject"]["Days"].to_numpy()
    np.testing.assert_allclose(np.sort(fig.axes[1].get_lines()[0].get_xdata()), np.sort(means))
    fig = plots.forest(bayes_ss_slopes)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["(Intercept)", "Days"]
