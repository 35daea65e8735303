"""The figures of a fit's report: rank plots, a forest plot, a posterior predictive check.

Plain matplotlib from the posterior draws (headless: no display needed); each
function returns the Figure.
"""

from __future__ import annotations

import numpy as np

MAX_RANK_PANELS = 8


def rank_plot(fit, bins: int = 20):
    """Rank histograms per chain for the summary parameters (Vehtari et al. 2021).

    Well-mixed chains give flat, overlapping histograms.
    """
    import matplotlib.pyplot as plt

    data = fit._summary_dataset()
    names = list(data.data_vars)[:MAX_RANK_PANELS]
    cols = min(4, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
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


def forest_plot(fit, ci: float = 0.95, kind: str = "eti"):
    """Fixed effects with their credible (Bayes) or Wald (REML/ML) intervals."""
    import matplotlib.pyplot as plt

    names = list(fit.fixef.index)
    if hasattr(fit, "idata"):
        table = fit._interval_table(ci, kind).loc[names]
        est, lo, hi = table["estimate"], table["lower"], table["upper"]
    else:
        from scipy import stats

        z = stats.norm.ppf(0.5 + ci / 2)
        est, se = fit.fixef, fit.se
        lo, hi = est - z * se, est + z * se
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(names) + 1.2))
    y = np.arange(len(names))[::-1]
    ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", color="C0", capsize=3)
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    ax.set_yticks(y, names)
    ax.set_title(f"Fixed effects ({kind.upper() if hasattr(fit, 'idata') else 'Wald'} {ci:.0%})")
    fig.tight_layout()
    return fig


def ppc_plot(fit, n_draws: int = 50, seed: int = 0):
    """Posterior predictive check: the data's distribution against replicated data sets."""
    import matplotlib.pyplot as plt

    from multilevel.predict.bayes import predictive_draws

    reps = predictive_draws(fit, n_draws=n_draws, seed=seed)
    y = np.asarray(fit.design.y, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    lo, hi = np.quantile(np.concatenate([y, reps.ravel()]), [0.005, 0.995])
    edges = np.linspace(lo, hi, 40) if fit.family in ("gaussian", "t") else \
        np.arange(np.floor(lo) - 0.5, np.ceil(hi) + 1.5)
    for rep in reps:
        counts, _ = np.histogram(rep, bins=edges, density=True)
        ax.step(edges[:-1], counts, where="post", color="C0", alpha=0.15, lw=1)
    counts, _ = np.histogram(y, bins=edges, density=True)
    ax.step(edges[:-1], counts, where="post", color="k", lw=2, label="observed")
    ax.plot([], [], color="C0", alpha=0.5, label=f"{n_draws} replicated data sets")
    ax.legend(fontsize=8)
    ax.set_title("Posterior predictive check")
    fig.tight_layout()
    return fig


def report_figures(fit, ci: float = 0.95, kind: str = "eti") -> dict:
    """name → Figure: the figures a report embeds (the predictive check for Bayes fits)."""
    figures = {"forest": forest_plot(fit, ci, kind)}
    if hasattr(fit, "idata"):
        figures["rank"] = rank_plot(fit)
        figures["ppc"] = ppc_plot(fit)
    return figures
