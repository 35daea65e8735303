"""Plots to look at instead of tables: groups with their fitted lines, residuals,
posterior predictive check, caterpillar plot of group effects, forest plot.

Each function returns a matplotlib ``Figure`` (not pyplot: no display, no global
state, runs headless); save it with ``fig.savefig(path)``. They take fits from both
engines: REML/ML fits draw estimates with Wald or conditional-variance intervals,
Bayesian fits posterior means with credible intervals and bands.

Examples
--------
>>> import multilevel as ml
>>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
>>> fig = ml.plots.group_panels(m, "Days")
>>> len(fig.axes)
18
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.errors import DataError, FitError, check_level
from multilevel.plots.layout import place_axes


def _figure(**kwargs):
    from matplotlib.figure import Figure  # imported on use: the package stays light

    return Figure(**kwargs)


def _is_bayes(fit) -> bool:
    return hasattr(fit, "idata")


def _check_fit(fit, need_groups: bool = False):
    design = getattr(fit, "design", None)
    if design is None or not hasattr(fit, "fixef"):
        raise FitError(f"Plots need a fit from ml.fit, got {type(fit).__name__}.")
    if need_groups and not design.reterms:
        raise FitError(f"{fit.formula!r} has no random effects: there are no groups to plot.")
    return design


def _mean_prediction(fit, data=None, group_effects: bool = True, ci: float = 0.95) -> pd.DataFrame:
    """estimate (and lower/upper for Bayesian fits) of the expected response per row."""
    if _is_bayes(fit):   # the verb, not the alias fit.predict that the entry layer attaches
        from multilevel.predict import predict_bayes

        return predict_bayes(fit, data, group_effects=group_effects, ci=ci)
    if getattr(fit, "family", "gaussian") != "gaussian" and hasattr(fit, "pls"):
        return fit.predict(data, group_effects=group_effects, type="response")
    return fit.predict(data, group_effects=group_effects)


# ------------------------------------------------------------------ groups
def group_panels(fit, x: str | None = None, *, group: str | None = None, max_panels: int = 30,
                 ncols: int = 6, ci: float = 0.95, population: bool = True):
    """One panel per group: the response against ``x`` with the group's fitted line
    (lme4's ``xyplot(Reaction ~ Days | Subject)`` view); for a model without a numeric
    predictor, one row per group with its observed and fitted values as points.

    Parameters
    ----------
    fit : FreqFit or BayesFit
    x : str, optional
        A numeric column of the data; default: the first slope of the first random
        term, else the first numeric predictor, else none (points per group).
    group : str, optional
        Grouping factor (a term's group name, e.g. ``"Subject"``); default: the first term.
    max_panels : int
        At most this many groups are drawn (the first ones, in the fit's level order).
    ncols : int
    ci : float
        Bayesian fits: the credible band of the group's expected response.
    population : bool
        Also draw the population line (fixed effects only), dashed.

    Returns
    -------
    Figure
        One axes per group drawn (with ``x``), or one axes with a row per group.
    """
    design = _check_fit(fit, need_groups=True)
    term = _term(design, group)
    data = design.frame.data
    x = _choose_x(design, term, x)
    if x is None:
        return _group_points(fit, design, term, max_panels, ci, population)
    codes = term.codes
    shown = list(range(min(term.n_levels, max_panels)))
    pred = _mean_prediction(fit, None, True, ci)
    pop = _mean_prediction(fit, None, False, ci)["estimate"].to_numpy() if population else None
    xs, y = data[x].to_numpy(dtype=float), np.asarray(design.y, dtype=float)
    nrows = int(np.ceil(len(shown) / ncols))
    ncol = min(ncols, len(shown))
    width, height = 2.0 * ncol + 0.6, 1.8 * nrows + 0.8
    fig = _figure(figsize=(width, height), layout="none")   # its own margins, whatever the rc says
    axes = fig.subplots(nrows, ncol, squeeze=False, sharex=True, sharey=True).ravel()
    # no constrained layout: of many small panels it measures every tick label over
    # several passes (it was 60 % of this figure's rendering time); the margins are
    # measured from the outer panels' labels at the end (place_axes), these kept where
    # they cannot be
    fig.subplots_adjust(left=0.45 / width, right=1 - 0.1 / width, bottom=0.35 / height,
                        top=1 - 0.55 / height, wspace=0.08, hspace=0.3)
    for ax in axes[len(shown):]:
        fig.delaxes(ax)
    axes = axes[:len(shown)]
    # The limits are computed once, when the figure is drawn, from all panels' data:
    # with autoscaling on, every band (fill_between) rescaled the whole shared group
    # at once, 18 panels x 18 (40 % of this figure's build). Same limits, same image.
    for ax in axes:
        ax.set_autoscale_on(False)
    for k, (ax, level) in enumerate(zip(axes, shown)):
        # Axes only on the outer panels, as lattice's xyplot draws them: the inner panels
        # share their limits, and their tick marks were half of this figure's cost
        # (matplotlib makes five artists per tick, per axis)
        if k + ncol >= len(shown):      # nothing drawn below it: its column's x axis
            ax.set_xlabel(x, fontsize=8)
            ax.xaxis.set_tick_params(labelbottom=True)
        else:
            ax.xaxis.set_visible(False)
        if k % ncol == 0:
            ax.set_ylabel(design.spec.parsed.response.text, fontsize=8)
        else:
            ax.yaxis.set_visible(False)
        rows = np.flatnonzero(codes == level)
        rows = rows[np.argsort(xs[rows], kind="stable")]
        ax.plot(xs[rows], y[rows], "o", ms=3, color="C0")
        ax.plot(xs[rows], pred["estimate"].to_numpy()[rows], "-", color="C1", lw=1.5)
        if "lower" in pred:
            ax.fill_between(xs[rows], pred["lower"].to_numpy()[rows], pred["upper"].to_numpy()[rows],
                            color="C1", alpha=0.25, lw=0)
        if pop is not None:
            ax.plot(xs[rows], pop[rows], "--", color="grey", lw=1)
        # An inner panel (shared y axis, tick labels hidden) shows no y offset text for a
        # title to avoid, so its title is placed at the top without matplotlib measuring
        # its y axis for it at every draw; the first column keeps the automatic position
        # (its offset text, "1e6", can be there).
        ax.set_title(str(term.levels[level]), fontsize=8, y=None if k % ncol == 0 else 1.0)
        ax.tick_params(labelsize=7)
    for ax in axes:
        ax.autoscale()   # on again: the limits of all the data, when drawn
    title = f"{design.spec.parsed.response.text} vs {x} by {term.group}"
    if _is_bayes(fit):
        title += f" (posterior mean and {ci:.0%} band)"
    if len(shown) < term.n_levels:
        title += f"; first {len(shown)} of {term.n_levels} groups"
    fig.suptitle(title, fontsize=10)
    place_axes(fig)   # margins from the outer panels' labels; the fixed ones where it cannot
    return fig


def _term(design, group: str | None):
    if group is None:
        return design.reterms[0]
    for term in design.reterms:
        if group in (term.group, term.name):
            return term
    raise DataError(f"group={group!r} is not a grouping factor of the model; use one of "
                    f"{sorted({t.group for t in design.reterms})}.")


def _choose_x(design, term, x: str | None) -> str:
    data = design.frame.data
    if x is not None:
        if x not in data.columns or not pd.api.types.is_numeric_dtype(data[x]):
            raise DataError(f"x={x!r} must be a numeric column of the fitted data; columns: "
                            f"{list(data.columns)}.")
        return x
    candidates = [c for c in term.cnms if c != "(Intercept)"] + list(design.x_names)
    for name in candidates:
        if name in data.columns and pd.api.types.is_numeric_dtype(data[name]):
            return name
    return None


def group_x(fit, x: str | None = None, group: str | None = None) -> str | None:
    """The x variable :func:`group_panels` puts on its panels' axis; None when the model
    has no numeric predictor (then it draws points per group).

    Examples
    --------
    >>> import multilevel as ml
    >>> group_x(ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml"))
    'Days'
    >>> group_x(ml.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", method="reml")) is None
    True
    """
    design = _check_fit(fit, need_groups=True)
    return _choose_x(design, _term(design, group), x)


def _group_points(fit, design, term, max_groups: int, ci: float, population: bool):
    """One row per group: observed (grey) and fitted (orange) values as points, population
    predictions as grey ticks."""
    response = design.spec.parsed.response.text
    y = np.asarray(design.y, dtype=float)
    if design.frame.trials is not None:          # binomial: proportions, as the fitted values
        y = y / np.asarray(design.frame.trials, dtype=float)
    fitted = _mean_prediction(fit, None, True, ci)["estimate"].to_numpy()
    pop = _mean_prediction(fit, None, False, ci)["estimate"].to_numpy() if population else None
    shown = list(range(min(term.n_levels, max_groups)))
    fig = _figure(figsize=(7, 0.28 * len(shown) + 1.4), layout="constrained")
    ax = fig.subplots()
    for k, level in enumerate(shown):
        rows = np.flatnonzero(term.codes == level)
        pos = len(shown) - 1 - k                 # the first group on top
        ax.plot(y[rows], np.full(len(rows), pos + 0.15), "o", ms=4, mfc="none", color="0.35",
                label="observed" if k == 0 else None)
        ax.plot(fitted[rows], np.full(len(rows), pos - 0.15), "o", ms=3.5, color="C1",
                label="fitted (group effects included)" if k == 0 else None)
        if pop is not None:
            ax.plot(pop[rows], np.full(len(rows), float(pos)), "|", ms=9, color="grey",
                    label="population (fixed effects only)" if k == 0 else None)
    ax.set_yticks(np.arange(len(shown))[::-1], [str(term.levels[i]) for i in shown], fontsize=7)
    ax.set_ylim(-0.7, len(shown) - 0.3)
    ax.set_xlabel(response)
    ax.set_ylabel(term.group)
    ax.grid(axis="x", alpha=0.3)
    fig.legend(fontsize=7, loc="outside lower center", ncols=3, frameon=False)   # below, in any height
    title = f"{response} by {term.group}: observed and fitted"
    if _is_bayes(fit):
        title += " (posterior means)"
    if len(shown) < term.n_levels:
        title += f"; first {len(shown)} of {term.n_levels} groups"
    ax.set_title(title, fontsize=10)
    return fig


# ---------------------------------------------------------------- residuals
def residuals(fit):
    """Residuals against fitted values (with a binned-mean trend), and a normal Q-Q plot.

    Fitted values include the group effects (lme4's ``plot(m)``); for Bayesian fits
    they are posterior means. Non-gaussian fits use response-scale residuals.

    Returns
    -------
    Figure
        Two axes: residuals vs fitted, normal Q-Q.
    """
    design = _check_fit(fit)
    fitted = _mean_prediction(fit)["estimate"].to_numpy()
    y = np.asarray(design.y, dtype=float)
    if design.frame.trials is not None:          # binomial: compare proportions
        y = y / design.frame.trials
    resid = y - fitted
    response = design.spec.parsed.response.text
    fig = _figure(figsize=(9, 3.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ax1.scatter(fitted, resid, s=8, alpha=0.6, color="C0")
    ax1.axhline(0, color="grey", lw=0.8, ls=":")
    centres, means = _binned_means(fitted, resid)
    ax1.plot(centres, means, "-", color="C3", lw=1.5, label="binned mean")
    ax1.set_xlabel(f"fitted {response} (group effects included)")
    ax1.set_ylabel(f"residual ({response} − fitted)")
    ax1.legend(fontsize=8)
    ax1.set_title("Residuals vs fitted")
    theo = stats.norm.ppf((np.arange(1, len(resid) + 1) - 0.5) / len(resid))
    ordered = np.sort(resid)
    ax2.scatter(theo, ordered, s=8, alpha=0.6, color="C0")
    slope, intercept = np.std(resid, ddof=1), np.mean(resid)
    ax2.plot(theo[[0, -1]], intercept + slope * theo[[0, -1]], color="C3", lw=1)
    ax2.set_xlabel("standard normal quantiles")
    ax2.set_ylabel("residual quantiles (sorted residuals)")
    ax2.set_title("Normal Q-Q")
    return fig


def _binned_means(x: np.ndarray, y: np.ndarray, bins: int = 12):
    edges = np.unique(np.quantile(x, np.linspace(0, 1, min(bins, len(x)) + 1)))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    keep = np.bincount(which, minlength=len(edges) - 1) > 0
    sums = np.bincount(which, weights=y, minlength=len(edges) - 1)
    counts = np.bincount(which, minlength=len(edges) - 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    return centres[keep], sums[keep] / counts[keep]


# ---------------------------------------------------------------------- ppc
def ppc(fit, n_draws: int = 50, seed: int = 0):
    """Posterior predictive check: the response's distribution against replicated data
    sets drawn from the posterior (the report's figure).

    Returns
    -------
    Figure
        One axes.
    """
    if not _is_bayes(fit):
        raise FitError(
            f"A posterior predictive check needs a Bayesian fit (method='bayes'); got "
            f"{type(fit).__name__}. For REML/ML fits look at residuals(fit)."
        )
    from multilevel.plots.draw import ppc_plot

    return ppc_plot(fit, n_draws=n_draws, seed=seed)


# --------------------------------------------------------------- caterpillar
def caterpillar(fit, ci: float = 0.95, max_levels: int = 60):
    """Group effects with intervals, one panel per term and column, levels sorted by
    the term's first column (lme4's ``dotplot(ranef(m, condVar = TRUE))``).

    REML/ML fits: conditional modes ± z·sqrt(conditional variance); Bayesian fits:
    posterior means and equal-tailed intervals.

    Returns
    -------
    Figure
        One axes per (term, column), e.g. ``Subject: (Intercept)`` and ``Subject: Days``.
    """
    design = _check_fit(fit, need_groups=True)
    ci = check_level(ci)
    panels = []
    for term, (est, lo, hi) in zip(design.reterms, _effects_with_intervals(fit, design, ci)):
        order = np.argsort(est[:, 0], kind="stable")
        if len(order) > max_levels:   # the extremes matter most
            half = max_levels // 2
            order = np.r_[order[:half], order[-half:]]
        cnms = term.cnms
        if est.shape[1] != len(cnms):   # categorical: a column per category, (Intercept)[b]
            from multilevel.bayes.categorical import labelled

            cnms = labelled(cnms, design)
        for j, cnm in enumerate(cnms):
            panels.append((f"{term.name}: {cnm}", [term.levels[i] for i in order],
                           est[order, j], lo[order, j], hi[order, j], term.group, cnm))
    n_levels = max(len(p[1]) for p in panels)
    fig = _figure(figsize=(3.2 * len(panels) + 0.8, 0.16 * n_levels + 1.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, labels, est, lo, hi, group, cnm) in zip(axes, panels):
        pos = np.arange(len(labels))
        ax.errorbar(est, pos, xerr=[est - lo, hi - est], fmt="o", ms=3, color="C0", lw=1, capsize=0)
        ax.axvline(0, color="grey", lw=0.8, ls=":")
        ax.set_yticks(pos, [str(v) for v in labels], fontsize=7)
        ax.set_title(title, fontsize=9, y=1.0)   # fixed: labelled y ticks have no offset text
        what = "intercept" if cnm == "(Intercept)" else f"{cnm} coefficient"
        ax.set_xlabel(f"group effect: deviation from\nthe population {what}", fontsize=8)
        ax.set_ylabel(group, fontsize=8)
    kind = "credible" if _is_bayes(fit) else "conditional-variance"
    fig.suptitle(f"Group effects with {ci:.0%} {kind} intervals", fontsize=10)
    return fig


def _effects_with_intervals(fit, design, ci: float):
    """Per term: estimate, lower, upper, each (levels, q)."""
    out = []
    if _is_bayes(fit):
        draws = fit.ranef_draws()
        for term in design.reterms:
            d = draws[term.name]
            d = d.reshape(*d.shape[:2], -1)   # a categorical fit's (q, K - 1) columns, flat
            lo, hi = np.quantile(d, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
            out.append((d.mean(axis=0), lo, hi))
        return out
    z = stats.norm.ppf(0.5 + ci / 2)
    condvar = fit.ranef_condvar()
    tables = fit.ranef
    for term in design.reterms:
        est = tables[term.group][term.cnms].to_numpy()
        if est.shape[0] != term.n_levels:
            raise FitError(f"ranef of {term.group!r} does not line up with term {term.name!r}.")
        sd = np.sqrt(np.diagonal(condvar[term.name], axis1=1, axis2=2))
        out.append((est, est - z * sd, est + z * sd))
    return out


# -------------------------------------------------------------------- forest
def forest(fit, ci: float = 0.95, kind: str = "eti", intercept: bool = True):
    """Fixed effects with intervals (Wald for REML/ML fits, credible for Bayesian fits).

    Parameters
    ----------
    fit : FreqFit, OLSFit or BayesFit
    ci : float
    kind : {"eti", "hdi"}
        Bayesian interval kind.
    intercept : bool
        Draw the intercept (in a panel of its own).

    Returns
    -------
    Figure
        One axes per panel, each on its own x axis: the intercept, then the other fixed
        effects in groups of similar size (:func:`multilevel.plots.draw.forest_panels`).
    """
    from multilevel.plots.draw import forest_plot
    from multilevel.plots.intervals import interval_table

    design = _check_fit(fit)
    table = interval_table(fit, ci=ci, kind=kind)
    names = [n for n in design.x_names if intercept or n != "(Intercept)"]
    if not names:
        raise DataError("No fixed effects left to draw; pass intercept=True.")
    rows = table.loc[names].copy()
    rows.attrs.update(table.attrs)
    return forest_plot(rows)


# ----------------------------------------------------------- prior predictive
def prior_predictive(fit, draws: int = 100, seed: int | None = 0):
    """The observed response against data sets simulated from the prior alone
    (:func:`multilevel.sensitivity.prior_predictive`); formerly
    ``multilevel.sensitivity.plot_prior_predictive``."""
    from multilevel.plots.draw import data_vs_simulations
    from multilevel.sensitivity import prior_predictive

    idata = prior_predictive(fit, draws=draws, seed=seed)
    group = idata["prior_predictive"]
    name = next(iter(group.data_vars))
    sims = np.asarray(group[name].values).reshape(-1, fit.nobs)[:draws]
    y = np.asarray(fit.design.y, dtype=float)
    lo, hi = np.quantile(sims, [0.01, 0.99])
    edges = np.linspace(min(lo, y.min()), max(hi, y.max()), 50)
    return data_vs_simulations(y, sims, edges, title="Prior predictive check",
                               label=f"{draws} prior predictive data sets", color="C1",
                               xlabel=fit.design.spec.parsed.response.text)
