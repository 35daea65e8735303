"""The comparison plot: elpd with SE bars (Bayesian), AIC/BIC differences (frequentist)."""

from __future__ import annotations

import numpy as np


def plot_comparison(comparison, path=None):
    """Draw the comparison; one panel per kind of criterion present in the table.

    Parameters
    ----------
    comparison : Comparison
    path : str or Path, optional
        Where to save the figure (PNG by extension); the figure is returned either way.

    Returns
    -------
    matplotlib.figure.Figure
        Left panel: ``elpd_loo`` ± SE per model and ``elpd_waic`` (Bayesian fits);
        right panel: ΔAIC and ΔBIC to the best model (frequentist columns).

    Examples
    --------
    >>> fig = cmp.plot("comparison.png")          # doctest: +SKIP
    >>> len(fig.axes)                              # doctest: +SKIP
    2
    """
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global figure list

    table = comparison.table
    panels = []
    if "elpd_loo" in table and table["elpd_loo"].notna().any():
        panels.append("elpd")
    if "AIC" in table and table["AIC"].notna().any():
        panels.append("ic")
    if not panels:
        from multilevel.errors import ComparisonError

        raise ComparisonError("The comparison has neither elpd nor AIC/BIC values to plot.")
    fig = Figure(figsize=(5.0 * len(panels), 0.6 * len(table) + 2.0))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        (_elpd_panel if panel == "elpd" else _ic_panel)(ax, table)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _elpd_panel(ax, table):
    rows = table[table["elpd_loo"].notna()]
    y = np.arange(len(rows))[::-1]
    ax.errorbar(rows["elpd_loo"].astype(float), y, xerr=rows["se"].astype(float), fmt="o",
                color="C0", capsize=3, label="elpd_loo ± SE")
    if "elpd_waic" in rows:
        ax.plot(rows["elpd_waic"].astype(float), y - 0.15, "s", color="C1", ms=4, label="elpd_waic")
    ax.set_yticks(y, [str(n) for n in rows.index])
    ax.set_xlabel("expected log predictive density (higher is better)")
    ax.set_title(", ".join(sorted(set(map(str, rows["cv"])))) if "cv" in rows else "elpd")
    ax.legend(loc="best", fontsize="small")


def _ic_panel(ax, table):
    rows = table[table["AIC"].notna()]
    y = np.arange(len(rows))[::-1]
    d_aic = rows["AIC"].astype(float) - rows["AIC"].astype(float).min()
    d_bic = rows["BIC"].astype(float) - rows["BIC"].astype(float).min()
    ax.barh(y + 0.2, d_aic, height=0.4, color="C2", label="ΔAIC")
    ax.barh(y - 0.2, d_bic, height=0.4, color="C3", label="ΔBIC")
    ax.set_yticks(y, [str(n) for n in rows.index])
    ax.set_xlabel("difference to the best model (lower is better)")
    ax.set_title("ML fits: AIC and BIC")
    ax.legend(loc="best", fontsize="small")
