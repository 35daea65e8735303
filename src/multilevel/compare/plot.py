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
    fig = Figure(figsize=(4.5 * len(panels) + 2.0, 0.7 * len(table) + 1.8), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)
    y = np.arange(len(table))[::-1]  # one row per model, top to bottom as in the table
    for ax, panel in zip(axes[0], panels):
        (_elpd_panel if panel == "elpd" else _ic_panel)(ax, table, y)
    axes[0][0].set_yticks(y, [str(n) for n in table.index])
    axes[0][0].set_ylim(-0.6, len(table) - 0.4)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _elpd_panel(ax, table, y_all):
    present = table["elpd_loo"].notna().to_numpy()
    rows, y = table[present], y_all[present]
    ax.errorbar(rows["elpd_loo"].astype(float), y, xerr=rows["se"].astype(float), fmt="o",
                color="C0", capsize=3, label="elpd_loo ± SE")
    if "elpd_waic" in rows:
        ax.plot(rows["elpd_waic"].astype(float), y - 0.15, "s", color="C1", ms=4, label="elpd_waic")
    ax.set_xlabel("elpd (higher is better)")
    ax.set_title(", ".join(sorted(set(map(str, rows["cv"])))) if "cv" in rows else "elpd")
    ax.legend(loc="best", fontsize="small")


def _ic_panel(ax, table, y_all):
    present = table["AIC"].notna().to_numpy()
    rows, y = table[present], y_all[present]
    d_aic = rows["AIC"].astype(float) - rows["AIC"].astype(float).min()
    d_bic = rows["BIC"].astype(float) - rows["BIC"].astype(float).min()
    ax.barh(y + 0.2, d_aic, height=0.4, color="C2", label="ΔAIC")
    ax.barh(y - 0.2, d_bic, height=0.4, color="C3", label="ΔBIC")
    ax.set_xlabel("difference to the best model (lower is better)")
    ax.set_title("ML fits: AIC and BIC")
    ax.legend(loc="best", fontsize="small")
