"""The figures of a fit's report: forest and rank plots, the posterior predictive check,
residual, group, caterpillar and conditional-effects plots (all drawn by
:mod:`multilevel.plots`).

:func:`report_figures` renders them to PNG bytes with captions.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from multilevel.plots.draw import forest_plot, interval_words, ppc_plot, rank_plot

DPI = 110
MAX_RANK_PANELS = 24  # beyond this, the parameters with the worst R-hat (the caption says so)
MAX_EFFECT_PANELS = 4  # conditional effects of the first numeric predictors (the caption says so)
# What a figure costs to build and render, relative (sleepstudy's, in CPU centiseconds in
# a figure worker, 2026-12-05; the first job of each worker also warms it up). The two
# worker processes take the jobs costliest first (longest first), so that neither is left
# with a long one while the other is done: with the group panels first and the rank plot
# near the end, one worker idled for 0.3 s of the ~1.5 s.
COST = {"groups": 39, "rank": 29, "forest": 16, "caterpillar": 13, "residuals": 12, "ppc": 7,
        "effects": 6}
COST_OTHER = 14   # a smooth's figure; the work run alongside (the CLI's NetCDF file, 0.14 s)
# zlib level of the PNGs: 3 writes them 30-40 % faster than level 6, 1-10 % larger, same pixels
PNG_COMPRESSION = 3


@dataclass(frozen=True)
class ReportFigure:
    """One plot of a report: a file-name stem, a caption and the PNG image."""

    name: str
    caption: str
    png: bytes


def report_x(fit, spec) -> str | None:
    """The spec's ``[report] x``, checked against the fitted model: a numeric predictor.

    Raises
    ------
    SpecError
        Naming the key and listing the model's numeric predictors.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.spec import parse_spec
    >>> spec = parse_spec({"data": "sleepstudy", "formula": "Reaction ~ Days + (1 | Subject)",
    ...                    "method": "reml", "report": {"x": "Days"}})
    >>> report_x(ml.fit(spec.formula, "sleepstudy", method="reml"), spec)
    'Days'
    """
    x = (getattr(spec, "report", None) or {}).get("x")
    if x is None:
        return None
    numeric = numeric_predictors(fit)
    if x not in numeric:
        from multilevel.errors import SpecError

        where = str(spec.path) if getattr(spec, "path", None) else "spec"
        raise SpecError(f"{where} [report] x = {x!r} is not a numeric predictor of {fit.formula!r}; "
                        f"use one of {numeric} (the x axis of the group panels), or leave x out.")
    return x


def numeric_predictors(fit, fixed_only: bool = False) -> list[str]:
    """The model's numeric (not boolean) predictor columns, in formula order.

    Examples
    --------
    >>> import multilevel as ml
    >>> numeric_predictors(ml.fit("angle ~ recipe * temp + (1 | recipe:replicate)", "cake", method="reml"))
    ['temp']
    """
    from multilevel.effects.grid import is_factor, predictor_columns

    data = fit.design.frame.data
    return [c for c in predictor_columns(fit, fixed_only=fixed_only) if not is_factor(data[c])]


def effects_figure(fit, names: Sequence[str], ci: float):
    """One panel per predictor: :func:`multilevel.plots.conditional_effects` side by side.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> [ax.get_xlabel() for ax in effects_figure(m, ["Days"], 0.95).axes]
    ['Days']
    """
    from matplotlib.figure import Figure

    from multilevel.plots import conditional_effects

    fig = Figure(figsize=(3.6 * len(names) + 0.6, 3.4), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        conditional_effects(fit, name, ci=ci, ax=ax)
    fig.suptitle(f"Conditional effects with {ci:.0%} intervals (population level)", fontsize=10)
    return fig


def report_figures(fit, table: pd.DataFrame, alongside: Sequence[Callable[[], object]] = (),
                   x: str | None = None) -> tuple[list[ReportFigure], list[str]]:
    """The report's figures as PNG with captions, in display order, and what was not drawn.

    Forest plot of the interval table; residuals against fitted values; for models with
    groups, one panel per group with its fitted line (points per group for a model
    without a numeric predictor) and a caterpillar plot of the group effects
    (:mod:`multilevel.plots`); the conditional effects of the numeric predictors; for
    Bayesian fits, rank plots and a posterior predictive check.

    Parameters
    ----------
    fit : BayesFit, FreqFit or OLSFit
    table : DataFrame
        The report's interval table, drawn by the forest plot.
    alongside : sequence of callables
        Other work run by the same worker processes while the figures render (the CLI
        writes the posterior's NetCDF file meanwhile); their results are discarded and
        their exceptions propagate.
    x : str, optional
        The group panels' x variable (spec key ``[report] x``, checked by :func:`report_x`);
        default: the first numeric predictor of the first term.

    Returns
    -------
    figures : list of ReportFigure
    not_drawn : list of str
        One sentence per figure that does not apply to this model, saying why.
    """
    from multilevel import plots
    from multilevel.blas import single_blas_thread
    from multilevel.errors import MultilevelError
    from multilevel.forked import map_forked
    from multilevel.plots.fits import group_x

    bayes = hasattr(fit, "idata")
    level = table.attrs["ci"]
    skipped = []   # figures that do not apply, known before drawing
    interval = "equal-tailed credible" if bayes else "conditional-variance"
    candidates = [
        ("forest", f"Estimates with {interval_words(table)}.", lambda: forest_plot(table)),
        ("residuals", "Residuals against fitted values (group effects included) with their binned "
                      "mean, and a normal Q-Q plot of the residuals.", lambda: plots.residuals(fit))]
    if any(t.smooth is None for t in fit.design.reterms):   # a smooth's block is no grouping
        groups = ("The data per group with the group's fitted line (dashed: the population line)."
                  if group_x(fit, x) is not None else
                  "The data per group (open circles) and the fitted values with the group effects "
                  "(orange); grey ticks: the population prediction. The model has no numeric "
                  "predictor to put on an x axis.")
        candidates += [
            ("groups", groups, lambda: plots.group_panels(fit, x, ci=level)),
            ("caterpillar", f"Group effects with {level:.0%} {interval} intervals, sorted.",
             lambda: plots.caterpillar(fit, ci=level))]
    for term in [t for t in fit.design.reterms if t.smooth is not None]:
        candidates.append((f"smooth-{term.smooth.spec.var}",
                           f"The smooth {term.name} (its centred contribution) with its {level:.0%} "
                           f"{'credible' if bayes else 'conditional-covariance'} band and the partial "
                           "residuals.", lambda name=term.name: plots.smooth(fit, name, ci=level)))
    numeric = numeric_predictors(fit, fixed_only=True)
    if numeric:
        shown = numeric[:MAX_EFFECT_PANELS]
        caption = (f"Conditional effects: the expected response against {', '.join(shown)}, at "
                   "population level (group effects left out), the other predictors at their mean "
                   f"or reference level, with {level:.0%} intervals.")
        if len(numeric) > len(shown):
            caption += f" Shown: the first {len(shown)} of {len(numeric)} numeric predictors."
        candidates.append(("effects", caption, lambda: effects_figure(fit, shown, level)))
    else:
        skipped.append("effects: the model has no numeric predictor to draw a conditional effect "
                       "against.")
    if bayes:
        names = list(table.index)
        caption = ("Rank plots: each chain's share of the pooled draws' ranks; converged chains "
                   "give flat, overlapping histograms.")
        if len(names) > MAX_RANK_PANELS:
            names = list(table["r_hat"].sort_values(ascending=False).index[:MAX_RANK_PANELS])
            caption += f" Shown: the {MAX_RANK_PANELS} of {len(table)} parameters with the highest R-hat."
        candidates += [
            ("rank", caption, lambda: rank_plot(fit, names=names)),
            ("ppc", "Posterior predictive check: the observed response (black) against data sets "
                    "replicated from random posterior draws (blue).", lambda: ppc_plot(fit))]
    if getattr(fit, "family", None) == "categorical":   # a probability per row and category
        drop = {"residuals", "groups", "effects"}
        skipped += [f"{c[0]}: family='categorical' has no single fitted value per row (one "
                    "probability per category; ml.predict.category_probabilities gives them)."
                    for c in candidates if c[0] in drop]
        candidates = [c for c in candidates if c[0] not in drop]

    def render(candidate):
        name, caption, draw = candidate
        try:
            # one BLAS thread: the workers share the cores, and the predictions' products
            # on two threads only made the workers wait for each other's spinning threads
            with _lazy_jax_hidden(), single_blas_thread():
                return ReportFigure(name, caption, _png(draw())), None
        except MultilevelError as exc:   # a plot that does not apply says why, in the report
            return None, f"{name}: {exc}"

    # one process per core: rendering six PNGs is seconds of single-threaded Agg work;
    # the jobs costliest first (COST), the other work among them by its cost
    jobs = [(COST.get(c[0], COST_OTHER), i, lambda c=c: render(c)) for i, c in enumerate(candidates)]
    jobs += [(COST_OTHER, None, job) for job in alongside]
    jobs.sort(key=lambda job: -job[0])                   # stable: equal costs keep their order
    done = map_forked(lambda job: job[2](), jobs)
    rendered = dict((i, out) for (_, i, _), out in zip(jobs, done) if i is not None)
    rendered = [rendered[i] for i in range(len(candidates))]
    not_drawn = [why for _, why in rendered if why is not None] + skipped
    return [f for f, _ in rendered if f is not None], not_drawn


@contextlib.contextmanager
def _lazy_jax_hidden():
    """Keep ArviZ's lazy ``jax`` module out of ``sys.modules`` while drawing.

    matplotlib reads ``sys.modules["jax"].Array`` for every array it plots (to unwrap
    JAX arrays it assumes are already imported); where jax is installed, ArviZ registers
    it as a lazy module, so that read imports jax, 0.5 s in every process that draws.
    Put back afterwards.
    """
    lazy_type = getattr(importlib.util, "_LazyModule", None)
    stub = sys.modules.get("jax")
    if lazy_type is None or type(stub) is not lazy_type:   # absent, or really imported
        yield
        return
    del sys.modules["jax"]
    try:
        yield
    finally:
        sys.modules.setdefault("jax", stub)


def _png(fig) -> bytes:
    """The figure as PNG bytes, at its own size, drawn once.

    Every report figure is laid out when drawn (constrained layout, or margins measured
    by the group panels), so it needs no ``bbox_inches="tight"``, which draws the
    figure once more only to measure it. And ``savefig`` of a figure with a layout
    engine draws it twice, the first time only to run the layout; here the layout runs
    once, at the PNG's resolution, and the figure is then drawn once without its engine
    (the report's figures: 2.0 CPU s before, 1.7 s after, bench/README.md 2026-12-05).
    A figure that is one grid of panels is laid out from its labels' sizes
    (:func:`multilevel.plots.layout.place_axes`: the axes where constrained layout puts
    them, without its two passes over every tick); another keeps its engine.
    """
    import matplotlib as mpl
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    from multilevel.plots.layout import place_axes

    engine = fig.get_layout_engine()
    fig.set_dpi(DPI)
    # a user's matplotlibrc must not change this: the layout measured with the PNG
    # renderer's text, no engine put back by the rc, no bounding box of the rc's
    rc = {"savefig.format": "png", "savefig.bbox": "standard", "figure.autolayout": False,
          "figure.constrained_layout.use": False}
    with mpl.rc_context(rc):
        if engine is not None:
            # a grid of panels: margins from its labels, measured by the Agg renderer that
            # draws them (multilevel.plots.layout); anything else: the figure's engine
            grid = isinstance(engine, ConstrainedLayoutEngine) and not getattr(engine, "_compress", False)
            if not (grid and place_axes(fig)):
                engine.execute(fig)   # the axes' positions, kept when the engine is removed
            fig.set_layout_engine(None)   # here: no engine at all (not the rc's default one)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": PNG_COMPRESSION})
    return buffer.getvalue()
