"""Estimated marginal trends: the slope of the linear predictor in a numeric predictor,
averaged over a reference grid as marginal means are, with their contrasts (R's
``emmeans::emtrends``).

As emtrends, the trend at a grid row is the difference quotient of the fixed-effect
design row, (x(v + h) − x(v)) / h, with the step h ``delta_var`` (default: 0.001 × the
range of the variable in the fitted rows), so that a term not linear in the variable
(``poly(v, 2)``, ``log(v)``, ``I(v^2)``) gives emtrends' number, which is that quotient
and not the derivative itself. The variable sits at its mean in the grid, or at the
values ``at`` gives; offsets do not enter a trend. Everything after the rows (degrees of
freedom, contrasts, multiplicity adjustments, Bayesian summaries) is
:func:`multilevel.effects.emm.emmeans`'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.effects import _engine as E
from multilevel.effects.emm import cell_rows, full_rows, grid_weights, marginal_tables, parse_specs
from multilevel.effects.grid import is_factor, predictor_columns, reference_grid
from multilevel.errors import DataError, FamilyError
from multilevel.formula.families import ORDINAL_FAMILIES

OVERALL = ("1", "~1", "~ 1")   # emmeans' ``~ 1``: one trend, averaged over the whole grid


def emtrends(fit, specs, var: str, by=None, at: dict | None = None, contrasts=None,
             adjust: str | None = None, ddf: str = "auto", ci: float = 0.95,
             weights: str = "equal", delta_var: float | None = None):
    """Estimated marginal trends of a numeric predictor (and contrasts among them), as R's
    ``emmeans::emtrends``.

    Parameters
    ----------
    fit : FreqFit, OLSFit or BayesFit
    specs : str or list of str
        The factor(s) whose trends are wanted (``"recipe"``, ``"~ a | b"``), or ``"1"``
        (emmeans' ``~ 1``) for one trend averaged over the whole reference grid.
    var : str
        The numeric predictor (a data column) to differentiate in; it may enter the
        model through transformations (``poly(temp, 2)``, ``log(temp)``, ``scale(x)``).
    by, at, contrasts, adjust, ddf, ci, weights
        As in :func:`multilevel.effects.emm.emmeans`. ``at={var: [...]}`` gives the
        trends at those values of the variable (averaged over them unless ``var`` is in
        ``specs`` or ``by``).
    delta_var : float, optional
        The difference quotient's step (emtrends' ``delta.var``); default 0.001 × the
        variable's range in the fitted rows.

    Returns
    -------
    DataFrame of trends (spec and by columns, ``estimate``, ``std_error``, ``df``,
    ``lower``, ``upper``, and for REML/ML fits ``statistic`` and ``p_value``, the t (or
    z) test of a zero trend, as emmeans' ``infer = TRUE``), or with ``contrasts`` a dict ``{"emtrends": ..., "contrasts":
    ...}``. Trends are on the link scale (emtrends drops the response transformation);
    Bayesian fits: posterior medians, SD and equal-tailed intervals. The tables' attribute
    ``trend`` names the variable.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("angle ~ recipe * temp + (1 | recipe:replicate)", "cake", method="reml")
    >>> ml.emtrends(m, "recipe", var="temp").round(4).drop(columns="p_value")
      recipe  estimate  std_error     df   lower   upper  statistic
    0      A    0.1537     0.0282  222.0  0.0981  0.2093     5.4494
    1      B    0.1646     0.0282  222.0  0.1090  0.2202     5.8343
    2      C    0.1558     0.0282  222.0  0.1002  0.2114     5.5237
    """
    E.check_fit(fit)
    ci = E.check_ci(ci)
    if fit.family in ORDINAL_FAMILIES:
        raise FamilyError(f"emtrends of an ordinal fit ({fit.family!r}) is not implemented: its "
                          "linear predictor is a latent score without the thresholds. Compare "
                          "ml.emmeans(fit, specs, at={var: [...]}, mode='prob') at two values instead.")
    h = _step(fit, var, delta_var)
    overall = isinstance(specs, str) and specs.strip() in OVERALL
    if overall:   # no spec variables, only by variables
        if by is not None and not isinstance(by, (str, list, tuple)):
            raise DataError(f"by must be a variable name or a list of names, got {by!r}.")
        names, by = [], ([] if by is None else parse_specs(by, None)[0])
    else:
        names, by = parse_specs(specs, by)

    def quotient(spec, grid):
        shifted = grid.copy()
        shifted[var] = shifted[var] + h
        return (spec.fixed_X(shifted) - spec.fixed_X(grid)) / h

    if overall and not by:   # one mean over all the grid's rows
        grid = reference_grid(fit, at)
        X, W, labels = quotient(fit.design.spec, grid), grid_weights(fit, grid, [], weights)[None, :], \
            pd.DataFrame(index=[0])
    else:   # overall with by variables: one mean per by group
        X, W, labels = cell_rows(fit, by if overall else names, [] if overall else by, at, weights,
                                 design=quotient)
    if overall:
        labels = labels.assign(**{"1": "overall"})[["1", *by]]
        names = ["1"]
    with np.errstate(invalid="ignore", divide="ignore"):   # a mean whose weights are all 0: NaN
        W = W / W.sum(axis=1, keepdims=True)
    full = full_rows(fit, at, design=quotient)
    L = W @ X
    out = marginal_tables(fit, L, labels, None if full is None else W @ full, np.zeros(len(L)),
                          names, by, contrasts, adjust, "link", ddf, ci)
    if isinstance(out, dict):
        out = {"emtrends": _tested(fit, out["emmeans"]), "contrasts": out["contrasts"]}
        for table in out.values():
            table.attrs["trend"] = var
    else:
        out = _tested(fit, out)
        out.attrs["trend"] = var
    return out


def _tested(fit, table: pd.DataFrame) -> pd.DataFrame:
    """A REML/ML fit's trends with emmeans' ``infer = TRUE`` test of each against zero
    (t with the trend's df, z where the df are infinite); a Bayesian table as it is."""
    if E.is_bayes(fit):
        return table
    from scipy import stats

    t = table["estimate"] / table["std_error"]
    df = table["df"].to_numpy(dtype=float)
    p = np.where(np.isfinite(df), 2 * stats.t.sf(np.abs(t), np.where(np.isfinite(df), df, 1.0)),
                 2 * stats.norm.sf(np.abs(t)))
    return table.assign(statistic=t, p_value=p)


def _step(fit, var: str, delta_var) -> float:
    """emtrends' ``delta.var``, checked: the variable is a numeric fixed-effect predictor."""
    if not isinstance(var, str):
        raise DataError(f"var must be the name of a numeric predictor, got {var!r}.")
    data = E.fit_data(fit)
    names = predictor_columns(fit, fixed_only=True)
    if var not in names:
        raise DataError(f"emtrends: var={var!r} is not a fixed-effect predictor of {fit.formula!r}; "
                        f"predictors: {names}.")
    if is_factor(data[var]):
        raise DataError(f"emtrends: {var!r} is a factor; a trend needs a numeric predictor "
                        "(compare the factor's levels with ml.emmeans(..., contrasts=...)).")
    if delta_var is None:
        values = pd.to_numeric(data[var]).to_numpy(dtype=float)
        h = 0.001 * float(np.nanmax(values) - np.nanmin(values))
        if not h > 0:
            raise DataError(f"emtrends: {var!r} takes one value in the fitted rows, so it has no "
                            "range to take emtrends' default step from; pass delta_var=.")
        return h
    if isinstance(delta_var, bool) or not isinstance(delta_var, (int, float, np.number)) \
            or not np.isfinite(delta_var) or delta_var == 0:
        raise DataError(f"delta_var must be a finite nonzero number (the difference quotient's "
                        f"step), got {delta_var!r}.")
    return float(delta_var)
