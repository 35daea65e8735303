"""A penalized smooth s(x) drawn with its interval band (mgcv's ``plot.gam``).

The curve is the smooth's own, centred contribution f(x) = X_f(x) β_f + X_r(x) b (its
unpenalized columns and its penalized block; the intercept and the other terms are left
out, as ``plot.gam`` does). The band:

* REML/ML fits: ± z·SE from the joint conditional covariance of (β, u) given the data at
  the estimated variances — σ² times the inverse of the mixed model equations' matrix,
  mgcv's Bayesian covariance ``Vp`` of the smooth's coefficients;
* Bayesian fits: equal-tailed quantiles of f(x) over the posterior draws.

Layer 4 (presentation): reads fits; matplotlib is imported when a plot is drawn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError


def _smooth_term(fit, term: str | None):
    terms = [t for t in fit.design.reterms if t.smooth is not None]
    if not terms:
        raise DataError(f"The model {fit.formula!r} has no smooth s(x) to draw.")
    if term is None:
        if len(terms) > 1:
            raise DataError(f"The model has several smooths ({[t.name for t in terms]}); name one.")
        return terms[0]
    for t in terms:
        if term in (t.name, t.smooth.spec.var, t.smooth.spec.source):
            return t
    raise DataError(f"No smooth {term!r} in {fit.formula!r}; smooths: {[t.name for t in terms]}.")


def smooth_curve(fit, term: str | None = None, x=None, ci: float = 0.95, n: int = 200) -> pd.DataFrame:
    """The smooth's curve and interval on a grid of its variable.

    Parameters
    ----------
    fit : FreqFit or BayesFit
    term : str, optional
        ``"s(x)"``, ``"x"`` or the term as written; optional when the model has one smooth.
    x : array-like, optional
        Where to evaluate; default ``n`` points over the data's range.
    ci : float

    Returns
    -------
    DataFrame with the variable's column, ``estimate``, ``lower`` and ``upper``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("accel ~ s(times, bs = 'cr')", "mcycle", method="reml")
    >>> curve = smooth_curve(m, "s(times)", n=5)
    >>> list(curve.columns)
    ['times', 'estimate', 'lower', 'upper']
    """
    from scipy.stats import norm

    if not 0 < ci < 1:
        raise DataError(f"ci must lie in (0, 1), got {ci!r}.")
    t = _smooth_term(fit, term)
    sm = t.smooth
    var = sm.spec.var
    if x is None:
        data_x = fit.design.frame.data[var].to_numpy(dtype=float)
        x = np.linspace(data_x.min(), data_x.max(), n)
    grid = pd.DataFrame({var: np.asarray(x, dtype=float)})
    Xf, Xr = sm.fixed_matrix(grid), sm.random_matrix(grid)
    fixed_idx = [fit.design.x_names.index(name) for name in sm.fixed_names]
    if hasattr(fit, "pls"):
        estimate, se = _freq_curve(fit, t, fixed_idx, Xf, Xr)
        z = norm.ppf(0.5 + ci / 2)
        lower, upper = estimate - z * se, estimate + z * se
    else:
        beta = fit.fixef_draws().to_numpy()[:, fixed_idx]
        b = fit.ranef_draws()[t.name][:, :, 0]
        draws = beta @ Xf.T + b @ Xr.T
        estimate = draws.mean(axis=0)
        lower, upper = np.quantile(draws, [0.5 - ci / 2, 0.5 + ci / 2], axis=0)
    return pd.DataFrame({var: grid[var], "estimate": estimate, "lower": lower, "upper": upper})


def _freq_curve(fit, term, fixed_idx, Xf, Xr):
    """Estimate and SE of f(x) from Cov(u, β | y) = σ² [[Λ'Z'WZΛ + I, Λ'Z'WX], [X'WZΛ, X'WX]]⁻¹."""
    from multilevel.freq.known import lambda_general

    design = fit.design
    Lam = lambda_general(design, np.asarray(fit.pls.theta, dtype=float))
    ZL = np.asarray((design.Z() @ Lam).todense())
    C = np.column_stack([ZL, design.X])
    w = design.weights
    CtC = C.T @ (C if w is None else C * w[:, None])
    Q = ZL.shape[1]
    CtC[np.arange(Q), np.arange(Q)] += 1.0
    cov = fit.sigma ** 2 * np.linalg.inv(CtC)
    start = sum(t.q * t.n_levels for t in design.reterms[:design.reterms.index(term)])
    u_idx = np.arange(start, start + term.n_levels)
    theta_s = (Lam[u_idx][:, u_idx]).diagonal()                   # b = θ_s u on this block
    idx = np.concatenate([u_idx, Q + np.asarray(fixed_idx, dtype=int)])
    G = np.column_stack([Xr * theta_s[None, :], Xf])              # f = G · (u_s, β_f)
    coef = np.concatenate([fit.pls.u[u_idx], fit.pls.beta[fixed_idx]])
    V = cov[np.ix_(idx, idx)]
    return G @ coef, np.sqrt(np.einsum("ij,jk,ik->i", G, V, G))


def smooth(fit, term: str | None = None, ci: float = 0.95, points: bool = True, n: int = 200, ax=None):
    """Draw a smooth s(x) with its interval band (mgcv's ``plot.gam``).

    Parameters
    ----------
    fit : FreqFit or BayesFit
    term : str, optional
        ``"s(x)"`` or the variable; optional when the model has one smooth.
    ci : float
        Interval level (REML/ML: Wald band from the conditional covariance; Bayesian:
        posterior quantiles).
    points : bool
        Add the partial residuals (the response minus everything but this smooth).
    n : int
        Grid points.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Figure

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("accel ~ s(times, bs = 'cr')", "mcycle", method="reml")
    >>> fig = ml.plots.smooth(m, "s(times)")
    >>> fig.axes[0].get_xlabel()
    'times'
    """
    from matplotlib.figure import Figure

    curve = smooth_curve(fit, term, ci=ci, n=n)
    t = _smooth_term(fit, term)
    var = t.smooth.spec.var
    if ax is None:
        fig = Figure(figsize=(6, 4), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    ax.fill_between(curve[var], curve["lower"], curve["upper"], alpha=0.3, color="C0",
                    label=f"{ci:.0%} interval")
    ax.plot(curve[var], curve["estimate"], color="C0", label=t.name)
    if points:
        data = fit.design.frame.data
        own = smooth_curve(fit, t.name, x=data[var].to_numpy(dtype=float), ci=ci)["estimate"].to_numpy()
        if hasattr(fit, "pls"):
            fitted = fit.linear_predictor()
        else:
            fitted = fit.predict()["estimate"].to_numpy() if hasattr(fit, "predict") else None
        if fitted is not None:
            partial = fit.design.y - np.asarray(fitted) + own
            ax.scatter(data[var], partial, s=8, color="0.4", alpha=0.6, label="partial residuals")
    ax.set_xlabel(var)
    ax.set_ylabel(t.name)
    ax.legend(frameon=False, fontsize="small")
    return fig
