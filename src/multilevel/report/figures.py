"""The figures of a fit's report: forest and rank plots, the posterior predictive check,
and the diagnostics engineer's residual, group and caterpillar plots.

Plain matplotlib ``Figure`` objects, not pyplot: no display, no global figure state,
nothing to close. :func:`report_figures` renders them to PNG bytes with captions.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

DPI = 110
MAX_RANK_PANELS = 24  # beyond this, the parameters with the worst R-hat (the caption says so)
# forest panels: one per kind of parameter, so an intercept of 250 does not squash a correlation
PANELS = (("fixed effects", r"^(?!sd__|cor__|sigma$|nu$|alpha$|ar1_phi$|cs_rho$)"),
          ("standard deviations", r"^(?:sd__|sigma$)"),
          ("correlations", r"^(?:cor__|ar1_phi$|cs_rho$)"),   # incl. the residual correlation
          ("family parameters", r"^(?:nu|alpha)$"))
# rendered first: the group panels (one per group) take as long as the others together
COSTLY = frozenset({"groups"})
# figures that set their own margins (multilevel.diagnostics.plots.group_panels), saved
# without a tight bounding box, which would draw them twice
FIXED_MARGINS = frozenset({"groups"})
INTERVAL_WORDS = {"eti": "equal-tailed credible intervals", "hdi": "highest-density credible intervals",
                  "wald": "Wald confidence intervals"}


@dataclass(frozen=True)
class ReportFigure:
    """One plot of a report: a file-name stem, a caption and the PNG image."""

    name: str
    caption: str
    png: bytes


def interval_words(table: pd.DataFrame) -> str:
    """``"95% equal-tailed credible intervals"`` from an interval table's ``attrs``."""
    return f"{table.attrs['ci']:.0%} {INTERVAL_WORDS[table.attrs['kind']]}"


def forest_plot(table: pd.DataFrame):
    """Estimates and intervals of an interval table, one panel per kind of parameter.

    Parameters
    ----------
    table : DataFrame
        From :func:`multilevel.report.interval_table` (columns estimate, lower, upper).
    """
    names = table.index.to_series()
    groups = [(title, table[names.str.contains(pattern, regex=True)]) for title, pattern in PANELS]
    groups = [(title, rows) for title, rows in groups if len(rows)]
    heights = [len(rows) + 1.0 for _, rows in groups]
    fig = Figure(figsize=(7, 0.35 * sum(heights) + 0.8))
    axes = fig.subplots(len(groups), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (title, rows) in zip(axes[:, 0], groups):
        y = np.arange(len(rows))[::-1]
        est = rows["estimate"].to_numpy(float)
        ax.errorbar(est, y, xerr=[est - rows["lower"].to_numpy(float), rows["upper"].to_numpy(float) - est],
                    fmt="o", color="C0", capsize=3)
        if title in ("fixed effects", "correlations"):
            ax.axvline(0, color="grey", lw=0.8, ls=":")
        ax.set_yticks(y, [str(i) for i in rows.index])
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_title(title, loc="left", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Estimates with {interval_words(table)}", fontsize=10)
    fig.tight_layout()
    return fig


def rank_plot(fit, bins: int = 20, names: list[str] | None = None):
    """Rank histograms per chain for the summary parameters (Vehtari et al. 2021).

    Well-mixed chains give flat, overlapping histograms near the dotted line.
    """
    data = fit.summary_draws  # summary parameters under lme4 names, (chain, draw) each
    names = list(data.data_vars) if names is None else names
    cols = min(4, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig = Figure(figsize=(3.2 * cols, 2.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.flat, names):
        values = np.asarray(data[name].values)                    # (chain, draw)
        ranks = values.reshape(-1).argsort().argsort().reshape(values.shape)
        edges = np.linspace(0, ranks.size, bins + 1)
        for chain in range(values.shape[0]):
            counts, _ = np.histogram(ranks[chain], bins=edges)
            ax.step(edges[:-1], counts, where="post", lw=1)
        ax.axhline(values.shape[1] / bins, color="k", lw=0.8, ls=":")
        ax.set_title(name, fontsize=8)
        ax.set_yticks([])
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    fig.suptitle("Rank plots (one line per chain)", fontsize=10)
    fig.tight_layout()
    return fig


def data_vs_simulations(y: np.ndarray, sims: np.ndarray, edges: np.ndarray, *, title: str,
                        label: str, color: str = "C0") -> Figure:
    """The observed response's histogram (black) over those of simulated data sets."""
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    for sim in sims:
        counts, _ = np.histogram(sim, bins=edges, density=True)
        ax.step(edges[:-1], counts, where="post", color=color, alpha=0.15, lw=1)
    counts, _ = np.histogram(y, bins=edges, density=True)
    ax.step(edges[:-1], counts, where="post", color="k", lw=2, label="observed")
    ax.plot([], [], color=color, alpha=0.5, label=label)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def ppc_plot(fit, n_draws: int = 50, seed: int = 0):
    """Posterior predictive check: the data's distribution against replicated data sets."""
    from multilevel.predict.bayes import predictive_draws

    reps = predictive_draws(fit, n_draws=n_draws, seed=seed)
    y = np.asarray(fit.design.y, dtype=float)
    lo, hi = np.quantile(np.concatenate([y, reps.ravel()]), [0.005, 0.995])
    edges = np.linspace(lo, hi, 40) if fit.family in ("gaussian", "t") else \
        np.arange(np.floor(lo) - 0.5, np.ceil(hi) + 1.5)
    return data_vs_simulations(y, reps, edges, title="Posterior predictive check",
                               label=f"{len(reps)} replicated data sets")


def report_figures(fit, table: pd.DataFrame, alongside: Sequence[Callable[[], object]] = ()
                   ) -> tuple[list[ReportFigure], list[str]]:
    """The report's figures as PNG with captions, in display order, and what was not drawn.

    Forest plot of the interval table; residuals against fitted values; for models with
    groups, one panel per group with its fitted line and a caterpillar plot of the group
    effects (:mod:`multilevel.diagnostics.plots`); for Bayesian fits, rank plots and a
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
    from multilevel.diagnostics import plots
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
