"""Plots run headless and return figures with the expected panels (axes and the data
drawn in them are counted and compared, never pixels)."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
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


def test_group_panels_draw_axes_on_the_outer_panels_only(reml):
    """As lattice's xyplot: x axes under each column's last panel (the incomplete last
    row's neighbours above included), y axes in the first column."""
    fig = plots.group_panels(reml, max_panels=5, ncols=3)
    assert [ax.xaxis.get_visible() for ax in fig.axes] == [False, False, True, True, True]
    assert [ax.yaxis.get_visible() for ax in fig.axes] == [True, False, False, True, False]
    assert fig.axes[3].get_xlabel() == "Days" and fig.axes[3].get_ylabel() == "Reaction"
    # shared limits: a panel without its axes shows the same ranges
    assert fig.axes[1].get_ylim() == fig.axes[0].get_ylim()
    assert fig.axes[1].get_xlim() == fig.axes[4].get_xlim()


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
    assert [[t.get_text() for t in ax.get_yticklabels()] for ax in fig.axes] == [["(Intercept)"], ["Days"]]
    fig = plots.forest(reml, intercept=False)
    assert [[t.get_text() for t in ax.get_yticklabels()] for ax in fig.axes] == [["Days"]]


def test_forest_puts_the_intercept_and_days_on_their_own_axes(reml):
    # issue 25: on one axis (240-265 and 7-14) the Days interval could not be read
    intercept, days = plots.forest(reml).axes
    assert not intercept.get_shared_x_axes().joined(intercept, days)
    lo, hi = plots.intervals.interval_table(reml).loc["Days", ["lower", "upper"]]
    left, right = days.get_xlim()
    assert left <= lo and hi <= right and (hi - lo) / (right - left) > 0.3   # readable: wide
    left, right = intercept.get_xlim()
    assert left > 200 and right < 300   # the intercept's panel does not stretch to 0


def test_forest_groups_fixed_effects_of_similar_size():
    from multilevel.plots.draw import scale_groups

    table = pd.DataFrame({"estimate": [250.0, 10.0, -3.0, 0.01, 2.0], "lower": [230, 7, -5, -0.02, 1.0],
                          "upper": [270, 13, -1, 0.04, 3.0]}, index=list("abcde"))
    assert [list(g.index) for g in scale_groups(table)] == [["a"], ["b", "c", "e"], ["d"]]


def _labels(ax):
    return ax.get_xlabel(), ax.get_ylabel()


def test_every_plot_labels_its_axes(reml):
    # issue 25: no axis labels on caterpillar, rank and PPC plots
    from multilevel.plots.draw import data_vs_simulations, rank_plot

    fig = plots.group_panels(reml)
    ncol = 6
    for k, ax in enumerate(fig.axes):
        assert ax.get_xlabel() == ("Days" if k >= len(fig.axes) - ncol else "")
        assert ax.get_ylabel() == ("Reaction" if k % ncol == 0 else "")
    for ax, what in zip(plots.caterpillar(reml).axes, ["intercept", "Days coefficient"]):
        xlabel, ylabel = _labels(ax)
        assert "group effect" in xlabel and what in xlabel and ylabel == "Subject"
    for ax, xlabel in zip(plots.forest(reml).axes, ["estimate", "estimate"]):
        assert _labels(ax) == (xlabel, "parameter")
    assert [_labels(ax) for ax in plots.residuals(reml).axes] == [
        ("fitted Reaction (group effects included)", "residual (Reaction − fitted)"),
        ("standard normal quantiles", "residual quantiles (sorted residuals)")]
    draws = xr.Dataset({name: (("chain", "draw"), np.random.default_rng(1).normal(size=(2, 100)))
                        for name in ("a", "b", "c")})
    fig = rank_plot(SimpleNamespace(summary_draws=draws))
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    assert all(_labels(ax) == ("rank of the draw (chains pooled)", "draws per bin") for ax in visible)
    y = np.arange(10.0)
    fig = data_vs_simulations(y, y[None] + 1, np.linspace(0, 11, 5), title="t", label="l", xlabel="Reaction")
    assert _labels(fig.axes[0]) == ("Reaction", "density")
    # every bar drawn to its right edge: the last bin (8.25, 11] holds 1 of 10 values
    observed = fig.axes[0].lines[-2]   # the observed steps, then the legend's empty line
    np.testing.assert_allclose(observed.get_xdata(), np.linspace(0, 11, 5))
    np.testing.assert_allclose(observed.get_ydata()[-2:], 0.1 / 2.75)


def test_group_points_for_a_model_without_a_numeric_predictor():
    # issue 25: the report said "pass x=" where a CLI user cannot
    fit = ml.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", method="reml")
    fig = plots.group_panels(fit)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    plates = fit.design.reterms[0]
    assert plates.group == "plate"
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(v) for v in plates.levels]   # first on top
    assert ax.get_yticks()[0] == plates.n_levels - 1
    assert _labels(ax) == ("diameter", "plate")
    observed, fitted, population = _lines(ax)[:3]      # the first plate's three series
    rows = plates.codes == 0
    np.testing.assert_allclose(observed.get_xdata(), fit.design.y[rows])
    np.testing.assert_allclose(fitted.get_xdata(), fit.predict()["estimate"].to_numpy()[rows])
    np.testing.assert_allclose(population.get_xdata(), fit.fixef["(Intercept)"])
    assert len(_lines(ax)) == 3 * plates.n_levels
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "observed", "fitted (group effects included)", "population (fixed effects only)"]
    fig = plots.group_panels(fit, group="sample", max_panels=4, population=False)
    assert len(fig.axes[0].get_yticks()) == 4 and "first 4 of 6 groups" in fig.axes[0].get_title()


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
    assert [[t.get_text() for t in ax.get_yticklabels()] for ax in fig.axes] == [["(Intercept)"], ["Days"]]
    fig = plots.ppc(bayes_ss_slopes, n_draws=20)
    assert _labels(fig.axes[0]) == ("Reaction", "density")
