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

from multilevel.formula.families import discrete_response

# forest panels: one per kind of parameter, so an intercept of 250 does not squash a
# correlation; (title, name pattern, x-axis label, zero line, split by scale)
PANELS = (("intercept", r"^(?:\(Intercept\)|Intercept)$", "estimate", False, False),
          ("fixed effects", r"^(?!\(Intercept\)$|Intercept$|sd__|cor__|sigma$|nu$|alpha$|ar1_phi$|cs_rho$)",
           "estimate", True, True),
          ("group-level standard deviations", r"^sd__", "standard deviation", False, True),
          ("correlations", r"^(?:cor__|ar1_phi$|cs_rho$)", "correlation", True, False),   # incl. residual
          ("residual and family parameters", r"^(?:sigma|nu|alpha)$", "estimate", False, False))
# within one panel the largest |bound| is at most this many times the smallest: a slope
# of 10 is never drawn on the axis of an effect of 1000
SCALE_RATIO = 10.0
INTERVAL_WORDS = {"eti": "equal-tailed credible intervals", "hdi": "highest-density credible intervals",
                  "wald": "Wald confidence intervals"}


def ddf_name(table: pd.DataFrame) -> str:
    """The printed name of an interval table's df method (``attrs["ddf"]``)."""
    ddf = str(table.attrs.get("ddf")).lower()
    return {"kenward-roger": "Kenward-Roger", "kr": "Kenward-Roger"}.get(ddf, ddf.capitalize())


def interval_words(table: pd.DataFrame) -> str:
    """``"95% equal-tailed credible intervals"`` from an interval table's ``attrs``
    (t intervals with their df method where the table has one)."""
    if table.attrs["kind"] == "wald" and table.attrs.get("ddf"):
        return f"{table.attrs['ci']:.0%} confidence intervals (t with {ddf_name(table)} df)"
    return f"{table.attrs['ci']:.0%} {INTERVAL_WORDS[table.attrs['kind']]}"


def scale_groups(rows: pd.DataFrame, ratio: float = SCALE_RATIO) -> list[pd.DataFrame]:
    """Split an interval table's rows into groups of similar size (largest absolute bound
    within ``ratio`` times the group's smallest), each kept in table order, the groups in
    the order of their first row.

    Examples
    --------
    >>> t = pd.DataFrame({"estimate": [250., 10., 3.], "lower": [230., 7., 1.],
    ...                   "upper": [270., 13., 5.]}, index=["a", "b", "c"])
    >>> [list(g.index) for g in scale_groups(t)]
    [['a'], ['b', 'c']]
    """
    size = rows[["estimate", "lower", "upper"]].abs().max(axis=1).to_numpy(float)
    size = np.where(np.isfinite(size), size, 0.0)
    clusters: list[list[int]] = []
    for i in np.argsort(size, kind="stable"):
        if clusters and size[i] <= ratio * max(size[clusters[-1][0]], np.finfo(float).tiny):
            clusters[-1].append(int(i))
        else:
            clusters.append([int(i)])
    return [rows.iloc[sorted(c)] for c in sorted(clusters, key=min)]


def forest_panels(table: pd.DataFrame) -> list[tuple[str, str, bool, pd.DataFrame]]:
    """The forest plot's panels: (title, x label, zero line, rows), each on its own x axis.

    The intercept, the fixed effects (split into groups of similar size), the group-level
    SDs (likewise), the correlations, and sigma with the family's parameters.

    Examples
    --------
    >>> t = pd.DataFrame({"estimate": [251.4, 10.5, 25.6], "lower": [237.7, 7.4, 22.9],
    ...                   "upper": [265.1, 13.5, 28.6]}, index=["(Intercept)", "Days", "sigma"])
    >>> [(title, list(rows.index)) for title, _, _, rows in forest_panels(t)]
    [('intercept', ['(Intercept)']), ('fixed effects', ['Days']), ('residual and family parameters', ['sigma'])]
    """
    names = table.index.to_series()
    panels = []
    for title, pattern, xlabel, zero, split in PANELS:
        rows = table[names.str.contains(pattern, regex=True)]
        if not len(rows):
            continue
        parts = scale_groups(rows) if split else [rows]
        for k, part in enumerate(parts):
            name = title if len(parts) == 1 else f"{title} ({k + 1} of {len(parts)}, own scale)"
            panels.append((name, xlabel, zero, part))
    return panels


def forest_plot(table: pd.DataFrame):
    """Estimates and intervals of an interval table, one panel per kind of parameter, each
    on its own x axis (:func:`forest_panels`).

    Parameters
    ----------
    table : DataFrame
        From :func:`multilevel.report.interval_table` (columns estimate, lower, upper).

    Returns
    -------
    Figure
        One axes per panel; the y ticks name the parameters.

    Examples
    --------
    >>> t = pd.DataFrame({"estimate": [251.4, 10.5], "lower": [237.7, 7.4],
    ...                   "upper": [265.1, 13.5]}, index=["(Intercept)", "Days"])
    >>> t.attrs.update(ci=0.95, kind="wald")
    >>> [ax.get_title(loc="left") for ax in forest_plot(t).axes]
    ['intercept', 'fixed effects']
    """
    panels = forest_panels(table)
    heights = [0.3 * len(rows) + 0.75 for *_, rows in panels]
    fig = Figure(figsize=(7, sum(heights) + 0.6), layout="constrained")
    axes = fig.subplots(len(panels), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (title, xlabel, zero, rows) in zip(axes[:, 0], panels):
        y = np.arange(len(rows))[::-1]
        est = rows["estimate"].to_numpy(float)
        ax.errorbar(est, y, xerr=[est - rows["lower"].to_numpy(float), rows["upper"].to_numpy(float) - est],
                    fmt="o", color="C0", capsize=3)
        if zero:
            ax.axvline(0, color="grey", lw=0.8, ls=":")
        ax.set_yticks(y, [str(i) for i in rows.index], fontsize=8)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_title(title, loc="left", fontsize=9, y=1.0)   # fixed: named y ticks, no offset text
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("parameter", fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Estimates with {interval_words(table)}", fontsize=10)
    fig.align_ylabels(axes[:, 0])   # one column of "parameter" labels, whatever the names' widths
    return fig


def rank_plot(fit, bins: int = 20, names: list[str] | None = None):
    """Rank histograms per chain for the summary parameters (Vehtari et al. 2021).

    Well-mixed chains give flat, overlapping histograms near the dotted line.
    """
    data = fit.summary_draws  # summary parameters under lme4 names, (chain, draw) each
    names = list(data.data_vars) if names is None else names
    cols = min(4, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig = Figure(figsize=(3.2 * cols, 2.2 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.flat, names):
        values = np.asarray(data[name].values)                    # (chain, draw)
        ranks = values.reshape(-1).argsort().argsort().reshape(values.shape)
        edges = np.linspace(0, ranks.size, bins + 1)
        for chain in range(values.shape[0]):
            counts, _ = np.histogram(ranks[chain], bins=edges)
            ax.step(edges[:-1], counts, where="post", lw=1)
        ax.axhline(values.shape[1] / bins, color="k", lw=0.8, ls=":")
        # counts in plain numbers (no "1e3" or offset above the axis), so the title is
        # placed without measuring the y axis at every draw
        ax.yaxis.get_major_formatter().set_useOffset(False)
        ax.yaxis.get_major_formatter().set_scientific(False)
        ax.set_title(name, fontsize=8, y=1.0)
        ax.set_xlabel("rank of the draw (chains pooled)", fontsize=7)
        ax.set_ylabel("draws per bin", fontsize=7)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    fig.suptitle("Rank plots (one line per chain)", fontsize=10)
    return fig


def data_vs_simulations(y: np.ndarray, sims: np.ndarray, edges: np.ndarray, *, title: str,
                        label: str, color: str = "C0", xlabel: str = "response") -> Figure:
    """The observed response's histogram (black) over those of simulated data sets;
    ``xlabel`` names the response."""
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    def bars(values):   # the last height repeated: a step at every edge closes the last bar
        counts, _ = np.histogram(values, bins=edges, density=True)
        return np.append(counts, counts[-1])

    for sim in sims:
        ax.step(edges, bars(sim), where="post", color=color, alpha=0.15, lw=1)
    ax.step(edges, bars(y), where="post", color="k", lw=2, label="observed")
    ax.plot([], [], color=color, alpha=0.5, label=label)
    return _finish(fig, ax, title, xlabel, "density")


def ppc_plot(fit, n_draws: int = 50, seed: int = 0):
    """Posterior predictive check: the data's distribution against replicated data sets."""
    from multilevel.predict.bayes import predictive_draws

    reps = predictive_draws(fit, n_draws=n_draws, seed=seed)
    y = np.asarray(fit.design.y, dtype=float)
    lo, hi = np.quantile(np.concatenate([y, reps.ravel()]), [0.005, 0.995])
    # bars at whole values for counts, successes and ordered categories (codes 0..K-1)
    edges = np.arange(np.floor(lo) - 0.5, np.ceil(hi) + 1.5) if discrete_response(fit.family) \
        else np.linspace(lo, hi, 40)
    if fit.family == "categorical":   # a bar per category, every one shown
        return category_bars(y, reps, fit.design.frame.categories,
                             xlabel=fit.design.spec.parsed.response.text)
    return data_vs_simulations(y, reps, edges, title="Posterior predictive check",
                               label=f"{len(reps)} replicated data sets",
                               xlabel=fit.design.spec.parsed.response.text)


def category_bars(codes: np.ndarray, sims: np.ndarray, categories, *, xlabel: str = "response",
                  title: str = "Posterior predictive check") -> Figure:
    """Observed share of each category (bars) against the replicated data sets' shares
    (median and 95 % interval); ``codes`` and ``sims`` hold category codes 0..K-1."""
    k = len(categories)
    observed = np.bincount(np.asarray(codes, dtype=np.int64), minlength=k) / len(codes)
    shares = np.array([np.bincount(np.asarray(s, dtype=np.int64), minlength=k) / len(s) for s in sims])
    lo, mid, hi = np.quantile(shares, [0.025, 0.5, 0.975], axis=0)
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.subplots()
    x = np.arange(k)
    ax.bar(x, observed, color="0.75", edgecolor="k", label="observed")
    ax.errorbar(x, mid, yerr=[mid - lo, hi - mid], fmt="o", color="C0",
                label=f"{len(sims)} replicated data sets (median, 95%)")
    ax.set_xticks(x, [str(c) for c in categories])
    return _finish(fig, ax, title, xlabel, "share of rows")


def _finish(fig, ax, title: str, xlabel: str, ylabel: str) -> Figure:
    """Legend, title and axis labels of a one-panel check figure, laid out."""
    ax.legend(fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig

