"""brms's ``conditional_effects`` plot: the expected outcome against one predictor, with
its interval band, the other predictors held at their means (numeric) or reference levels
(factors), optionally one line per level of a second variable.

Layer 4 (presentation): it reads fits and calls the effects verbs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError


def _values(series: pd.Series, n: int) -> list:
    from multilevel.effects.grid import is_factor

    if is_factor(series):
        return list(series.cat.categories) if isinstance(series.dtype, pd.CategoricalDtype) \
            else sorted(series.unique().tolist())
    return list(np.linspace(float(series.min()), float(series.max()), n))


def conditional_grid(fit, x: str, by: str | None = None, n: int = 100) -> pd.DataFrame:
    """The grid the plot predicts on: ``x`` over its range (or levels), ``by`` over its
    levels (numeric ``by``: mean − SD, mean, mean + SD, as brms), every other predictor at
    its mean or first level."""
    from multilevel.effects.grid import as_model_dtypes, is_factor, predictor_columns

    data = fit.design.frame.data
    names = predictor_columns(fit)
    for v in [x] + ([by] if by else []):
        if v not in names:
            raise DataError(f"conditional_effects: {v!r} is not a predictor of {fit.formula!r}; "
                            f"predictors: {names}.")
    at = {x: _values(data[x], n)}
    if by:
        col = data[by]
        at[by] = _values(col, n) if is_factor(col) else \
            [float(col.mean() - col.std()), float(col.mean()), float(col.mean() + col.std())]
    rows = pd.MultiIndex.from_product(list(at.values()), names=list(at)).to_frame(index=False)
    for name in names:
        if name not in at:
            col = data[name]
            rows[name] = _values(col, 1)[0] if is_factor(col) else float(col.mean())
    return as_model_dtypes(rows[names], data)


def conditional_effects(fit, x: str, by: str | None = None, group_effects: bool = False,
                        ci: float = 0.95, points: bool = False, n: int = 100, ax=None):
    """Plot the expected outcome against ``x`` with its interval band (brms's
    ``conditional_effects``).

    Parameters
    ----------
    fit : FreqFit or BayesFit
    x : str
        A predictor: numeric (a line and band over its range) or a factor (points with
        error bars).
    by : str, optional
        One line per level of this variable (numeric: mean − SD, mean, mean + SD).
    group_effects : bool
        False (brms's default ``re_formula = NA``): population level.
    ci : float
        Bayesian: equal-tailed interval of the per-draw expected outcome; REML/ML: Wald
        (delta method) interval.
    points : bool
        Also draw the observed data.
    n : int
        Grid points along a numeric ``x``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Figure; ``fig.grid`` holds the predictions that were drawn.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.plots import conditional_effects
    >>> m = ml.fit("angle ~ recipe * temp + (1 | recipe:replicate)", "cake", method="reml")
    >>> fig = conditional_effects(m, "temp", by="recipe")
    >>> len(fig.axes[0].lines)
    3
    """
    from multilevel.effects import predictions

    grid = conditional_grid(fit, x, by, n)
    pred = predictions(fit, newdata=grid, group_effects=group_effects, ci=ci)
    if ax is None:
        from matplotlib.figure import Figure  # on use: import multilevel stays light

        fig = Figure(figsize=(6, 4), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    data = fit.design.frame.data
    numeric = pd.api.types.is_numeric_dtype(data[x]) and not pd.api.types.is_bool_dtype(data[x])
    groups = [(None, pred)] if by is None else list(pred.groupby(by, sort=False, observed=True))
    for i, (level, part) in enumerate(groups):
        color = f"C{i}"
        label = None if by is None else f"{by} = {level:.3g}" if isinstance(level, float) else f"{by} = {level}"
        xs = part[x].to_numpy(dtype=float) if numeric else np.arange(len(part)) + 0.1 * (i - (len(groups) - 1) / 2)
        if numeric:
            ax.plot(xs, part["estimate"], color=color, label=label)
            ax.fill_between(xs, part["lower"], part["upper"], color=color, alpha=0.2, linewidth=0)
        else:
            err = np.vstack([part["estimate"] - part["lower"], part["upper"] - part["estimate"]])
            ax.errorbar(xs, part["estimate"], yerr=err, fmt="o", color=color, label=label, capsize=3)
    if not numeric:
        levels = groups[0][1][x].astype(str).tolist()
        ax.set_xticks(np.arange(len(levels)), levels)
    if points:
        y = np.asarray(fit.design.y, dtype=float)
        trials = fit.design.frame.trials
        if fit.family == "binomial" and trials is not None:
            y = y / np.asarray(trials, dtype=float)
        xv = data[x].to_numpy(dtype=float) if numeric else data[x].cat.codes.to_numpy()
        ax.scatter(xv, y, s=8, color="0.4", alpha=0.5, zorder=0)
    response = fit.design.spec.parsed.response.text
    ax.set_xlabel(x)
    ax.set_ylabel(response if fit.family in ("gaussian", "t") else f"E[{response}]")
    if by is not None:
        ax.legend(frameon=False)
    fig.grid = pred
    return fig
