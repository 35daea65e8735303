"""The figures of a fit's report: forest and rank plots, the posterior predictive check,
residual, group and caterpillar plots (all drawn by :mod:`multilevel.plots`).

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
# rendered first: the group panels (one per group) take as long as the others together
COSTLY = frozenset({"groups"})
# figures that set their own margins (multilevel.plots.group_panels), saved
# without a tight bounding box, which would draw them twice
FIXED_MARGINS = frozenset({"groups"})


@dataclass(frozen=True)
class ReportFigure:
    """One plot of a report: a file-name stem, a caption and the PNG image."""

    name: str
    caption: str
    png: bytes


def report_figures(fit, table: pd.DataFrame, alongside: Sequence[Callable[[], object]] = ()
                   ) -> tuple[list[ReportFigure], list[str]]:
    """The report's figures as PNG with captions, in display order, and what was not drawn.

    Forest plot of the interval table; residuals against fitted values; for models with
    groups, one panel per group with its fitted line and a caterpillar plot of the group
    effects (:mod:`multilevel.plots`); for Bayesian fits, rank plots and a
    posterior predictive check.

    Parameters
    ----------
    fit : BayesFit, FreqFit or OLSFit
    table : DataFrame
        The report's interval table, drawn by the forest plot.
    alongside : sequence of callables
        Other work run by the same worker processes while the figures render (the CLI
        writes the posterior's NetCDF file meanwhile); their results are discarded and
        their exceptions propagate.

    Returns
    -------
    figures : list of ReportFigure
    not_drawn : list of str
        One sentence per figure that does not apply to this model, saying why.
    """
    from multilevel import plots
    from multilevel.errors import MultilevelError
    from multilevel.forked import map_forked

    bayes = hasattr(fit, "idata")
    level = table.attrs["ci"]
    interval = "equal-tailed credible" if bayes else "conditional-variance"
    candidates = [
        ("forest", f"Estimates with {interval_words(table)}.", lambda: forest_plot(table)),
        ("residuals", "Residuals against fitted values (group effects included) with their binned "
                      "mean, and a normal Q-Q plot of the residuals.", lambda: plots.residuals(fit))]
    if fit.design.reterms:
        candidates += [
            ("groups", "The data per group with the group's fitted line (dashed: the population "
                       "line).", lambda: plots.group_panels(fit, ci=level)),
            ("caterpillar", f"Group effects with {level:.0%} {interval} intervals, sorted.",
             lambda: plots.caterpillar(fit, ci=level))]
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
    def render(candidate):
        name, caption, draw = candidate
        try:
            with _lazy_jax_hidden():
                return ReportFigure(name, caption, _png(draw(), tight=name not in FIXED_MARGINS)), None
        except MultilevelError as exc:   # a plot that does not apply says why, in the report
            return None, f"{name}: {exc}"

    # one process per core: rendering six PNGs is seconds of single-threaded Agg work;
    # the costliest first, then the other work, so that the rest fills the other core
    order = sorted(range(len(candidates)), key=lambda i: candidates[i][0] not in COSTLY)
    n_costly = sum(candidates[i][0] in COSTLY for i in order)
    jobs = [lambda i=i: render(candidates[i]) for i in order]
    jobs[n_costly:n_costly] = list(alongside)            # after the costliest figures
    done = map_forked(lambda job: job(), jobs)
    del done[n_costly:n_costly + len(alongside)]         # their results are not figures
    rendered = dict(zip(order, done))
    rendered = [rendered[i] for i in range(len(candidates))]
    return [f for f, _ in rendered if f is not None], [why for _, why in rendered if why is not None]


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


def _png(fig, tight: bool = True) -> bytes:
    buffer = io.BytesIO()
    # a tight bounding box draws the figure twice (once to measure it)
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight" if tight else None)
    return buffer.getvalue()
