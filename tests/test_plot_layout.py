"""The report's layout of a grid of panels (multilevel.plots.layout, issue 24): margins
measured from the labels place the axes where matplotlib's constrained layout does,
every text inside the figure; anything else keeps its layout engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from multilevel.plots.layout import place_axes

DPI = 110
# how far (inches) an axes' edge may be from constrained layout's: font metrics rounding
EDGE_TOLERANCE = 0.02


def _both_ways(make):
    """The figure laid out by constrained layout and by place_axes, each drawn."""
    out = []
    for fixed in (False, True):
        fig = make()
        fig.set_dpi(DPI)
        renderer = FigureCanvasAgg(fig).get_renderer()
        engine = fig.get_layout_engine()
        if fixed:
            fig.set_layout_engine(None)
            assert place_axes(fig, renderer)
        else:
            engine.execute(fig)
            fig.set_layout_engine(None)
        fig.canvas.draw()
        out.append((fig, renderer))
    return out


def _edges(fig):
    """Each visible axes' left, bottom, right and top edge in inches."""
    w, h = fig.get_size_inches()
    return np.array([[b.x0 * w, b.y0 * h, b.x1 * w, b.y1 * h]
                     for b in (ax.get_position() for ax in fig.axes if ax.get_visible())])


def _sleepstudy_millions(sleepstudy):
    import multilevel as ml

    data = sleepstudy.assign(Reaction=sleepstudy["Reaction"] * 1e6)   # "1e8" offset texts
    return ml.fit("Reaction ~ Days + (Days | Subject)", data, method="reml")


def _long_levels(sleepstudy):
    import multilevel as ml

    data = sleepstudy.assign(Subject="participant number " + sleepstudy["Subject"].astype(str))
    return ml.fit("Reaction ~ Days + (Days | Subject)", data, method="reml")


def _figures(bayes_ss_slopes, sleepstudy):
    """(name, maker) of report figures of several fits: the Bayesian one's rank plot and
    posterior predictive check, offset texts, long tick labels, several rows of panels."""
    from multilevel import plots
    from multilevel.plots.draw import forest_plot, ppc_plot, rank_plot
    from multilevel.plots.intervals import interval_table
    from multilevel.report.figures import effects_figure

    millions, long_levels = _sleepstudy_millions(sleepstudy), _long_levels(sleepstudy)
    table = interval_table(bayes_ss_slopes)
    return [
        ("forest", lambda: forest_plot(table)),
        ("rank", lambda: rank_plot(bayes_ss_slopes, names=list(table.index))),
        ("rank, one row", lambda: rank_plot(bayes_ss_slopes, names=list(table.index)[:3])),
        ("ppc", lambda: ppc_plot(bayes_ss_slopes)),
        ("residuals", lambda: plots.residuals(bayes_ss_slopes)),
        ("caterpillar", lambda: plots.caterpillar(bayes_ss_slopes)),
        ("effects", lambda: effects_figure(bayes_ss_slopes, ["Days"], 0.95)),
        ("residuals with offset texts", lambda: plots.residuals(millions)),
        ("effects with offset texts", lambda: effects_figure(millions, ["Days"], 0.95)),
        ("forest with offset texts", lambda: forest_plot(interval_table(millions))),
        ("caterpillar with long levels", lambda: plots.caterpillar(long_levels)),
    ]


def test_report_grids_are_placed_where_constrained_layout_places_them(bayes_ss_slopes, sleepstudy):
    for name, make in _figures(bayes_ss_slopes, sleepstudy):
        (constrained, _), (fixed, renderer) = _both_ways(make)
        np.testing.assert_allclose(_edges(fixed), _edges(constrained), atol=EDGE_TOLERANCE, err_msg=name)
        # every text inside the figure (constrained layout leaves its pad at the edges)
        box = fixed.get_tightbbox(renderer)
        width, height = fixed.get_size_inches()
        assert box.x0 >= 0 and box.y0 >= 0, name
        assert box.x1 <= width and box.y1 <= height, name


def test_no_panel_reaches_into_another(bayes_ss_slopes, sleepstudy):
    for name, make in _figures(bayes_ss_slopes, sleepstudy):
        _, (fig, renderer) = _both_ways(make)
        axes = [ax for ax in fig.axes if ax.get_visible()]
        for ax in axes:
            reach = ax.get_tightbbox(renderer)   # the axes with its labels and titles
            for other in axes:
                if other is not ax:
                    frame = other.get_window_extent(renderer)
                    assert not reach.overlaps(frame), (name, ax.get_title(loc="left"))


def _legend(fig):
    fig.legend(["a line"], loc="outside lower center")


@pytest.mark.parametrize("add, why", [
    (_legend, "a figure legend"),
    (lambda fig: fig.axes[0].twinx(), "two axes in one cell"),
    (lambda fig: fig.colorbar(fig.axes[0].imshow(np.eye(3)), ax=fig.axes[0]), "a colorbar"),
    (lambda fig: fig.add_axes([0.6, 0.6, 0.2, 0.2]), "an inset outside the grid"),
    (lambda fig: fig.supxlabel("shared x"), "a figure's x label"),
    (lambda fig: fig.axes[1].set_yscale("log"), "a log axis, whose minor ticks may be labelled"),
])
def test_other_figures_keep_their_layout_engine(add, why):
    fig = Figure(figsize=(6, 3), layout="constrained")
    fig.subplots(1, 2)[0].plot([0, 1], [0, 1])
    add(fig)
    before = [ax.get_position().bounds for ax in fig.axes]
    assert not place_axes(fig, FigureCanvasAgg(fig).get_renderer()), why
    assert [ax.get_position().bounds for ax in fig.axes] == before, why


def test_a_panel_spanning_cells_keeps_the_engine():
    fig = Figure(figsize=(6, 4), layout="constrained")
    grid = fig.add_gridspec(2, 2)
    fig.add_subplot(grid[0, :])
    fig.add_subplot(grid[1, 0])
    assert not place_axes(fig, FigureCanvasAgg(fig).get_renderer())


def test_labels_that_leave_no_room_keep_the_engine():
    fig = Figure(figsize=(1.5, 1.0), layout="constrained")
    ax = fig.subplots()
    ax.set_yticks([0, 1], ["a very long parameter name, longer than the figure", "b"])
    fig.suptitle("moved to the top only when the axes are placed")
    before = ax.get_position().bounds
    title_at = fig._suptitle.get_position()
    assert not place_axes(fig, FigureCanvasAgg(fig).get_renderer())
    assert ax.get_position().bounds == before
    assert fig._suptitle.get_position() == title_at


def test_hidden_axes_and_axes_without_ticks_take_no_room():
    # the rank plot hides the grid's unused cells; group panels hide inner axes
    fig = Figure(figsize=(8, 4), layout="constrained")
    axes = fig.subplots(2, 3)
    for ax in axes.flat:
        ax.plot([0, 1], [0, 100])
    axes[1, 2].set_visible(False)
    for ax in axes[:, 1:].flat:
        ax.yaxis.set_visible(False)
    renderer = FigureCanvasAgg(fig).get_renderer()
    assert place_axes(fig, renderer)
    left = [axes[0, c].get_position().x0 for c in range(3)]
    gaps = np.diff(left) * 8
    # only the first column has y tick labels: the others sit close to their neighbour
    assert gaps[0] == pytest.approx(gaps[1])
    fig.canvas.draw()
    assert fig.get_tightbbox(renderer).x0 >= 0


def test_math_and_multiline_labels_fit():
    fig = Figure(figsize=(5, 3.5), layout="constrained")
    ax = fig.subplots()
    ax.plot(pd.Series([1e-3, 2e-3]), [0, 1])
    ax.set_xlabel("group effect: deviation from\nthe population $\\beta_1$ coefficient")
    ax.set_ylabel("$\\sigma^2$ of the residual")
    ax.set_title("two lines\nof title", loc="left")
    fig.suptitle("A figure")
    renderer = FigureCanvasAgg(fig).get_renderer()
    assert place_axes(fig, renderer)
    fig.canvas.draw()
    box = fig.get_tightbbox(renderer)
    assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= 5 and box.y1 <= 3.5
    # the suptitle stays above the left title
    assert fig._suptitle.get_window_extent(renderer).y0 >= ax._left_title.get_window_extent(renderer).y1


@pytest.mark.parametrize("scale", [1.0, 1e-5, 1e6])
def test_group_panels_fit_their_tick_labels(sleepstudy, scale):
    # the group panels' margins were fixed inches: "0.0045" or a "1e8" reached past the edge
    import multilevel as ml

    data = sleepstudy.assign(Reaction=sleepstudy["Reaction"] * scale)
    fig = ml.plots.group_panels(ml.fit("Reaction ~ Days + (Days | Subject)", data, method="reml"), "Days")
    fig.set_dpi(DPI)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.canvas.draw()
    box = fig.get_tightbbox(renderer)
    width, height = fig.get_size_inches()
    assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height
