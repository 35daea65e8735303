"""Figures drawn from tables and draws: forest and rank plots, data against simulated
data sets (posterior and prior predictive checks).

Plain matplotlib ``Figure`` objects, not pyplot: no display, no global figure state,
nothing to close. The report (:mod:`multilevel.report.figures`) and the fit plots
(:mod:`multilevel.plots.fits`) draw with them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

# forest panels: one per kind of parameter, so an intercept of 250 does not squash a correlation
PANELS = (("fixed effects", r"^(?!sd__|cor__|sigma$|nu$|alpha$|ar1_phi$|cs_rho$)"),
          ("standard deviations", r"^(?:sd__|sigma$)"),
          ("correlations", r"^(?:cor__|ar1_phi$|cs_rho$)"),   # incl. the residual correlation
          ("family parameters", r"^(?:nu|alpha)$"))
INTERVAL_WORDS = {"eti": "equal-tailed credible intervals", "hdi": "highest-density credible intervals",
                  "wald": "Wald confidence intervals"}


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

