"""Predictions, comparisons and slopes with marginaleffects' semantics.

Each quantity is computed per unit (a row of the data or of a grid), then averaged
within the ``by`` groups. Frequentist fits: the group effects are held at their
conditional modes and the standard errors come from the delta method with a numerical
Jacobian of the averaged quantity with respect to β (as marginaleffects). Bayesian fits:
the quantity is computed per posterior draw and averaged per draw; the summary (median,
equal-tailed interval) is taken last, so intervals of averages are intervals of the
averaged draws, never averages of intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.effects import _engine as E
from multilevel.effects.grid import as_model_dtypes, column_values, is_factor, predictor_columns
from multilevel.errors import DataError

COMPARISONS = {
    "difference": (lambda hi, lo: hi - lo, False),
    "ratio": (lambda hi, lo: hi / lo, False),
    "lnratio": (lambda hi, lo: np.log(hi / lo), False),
    "lnor": (lambda hi, lo: np.log(hi / (1 - hi)) - np.log(lo / (1 - lo)), False),
    "differenceavg": (lambda hi, lo: hi - lo, True),
    "ratioavg": (lambda hi, lo: hi / lo, True),
    "lnratioavg": (lambda hi, lo: np.log(hi / lo), True),
}
SLOPES = ("dydx", "eyex", "eydx", "dyex")
NUMDERIV = ("fdforward", "fdcenter")


def _evaluate(fit, datasets, combine, by, group_effects, type, ci, avg_first=False):
    """Summary columns of ``combine(predictions on each data set)`` averaged by groups."""
    E.check_type(type)
    ci = E.check_ci(ci)
    codes, labels = E.group_index(datasets[0], by)
    m = len(labels)

    def scale(eta):
        return E.inverse_link(fit, eta) if type == "response" else eta

    def reduce(preds):
        if avg_first:
            return combine([E.average(p, codes, m) for p in preds])
        return E.average(combine(preds), codes, m)

    if E.is_bayes(fit):
        etas = [E.bayes_eta(fit, d, group_effects) for d in datasets]
        draws = reduce([scale(eta) for eta in etas])
        return labels, E.draw_columns(draws, ci), draws
    lins = [E.FreqLinear(fit, d, group_effects) for d in datasets]

    def fun(beta):
        return reduce([scale(lin.eta(beta)) for lin in lins])

    beta = fit.fixef.to_numpy()
    estimate = fun(beta)
    return labels, E.wald_columns(estimate, E.jacobian(fun, beta), fit.vcov.to_numpy(), ci), None


def _frame(labels: pd.DataFrame, columns: dict, lead: dict | None = None) -> pd.DataFrame:
    out = pd.DataFrame(lead or {}, index=range(len(labels)))
    out = pd.concat([out, labels.reset_index(drop=True)], axis=1)
    for k, v in columns.items():
        out[k] = np.asarray(v)
    return out


def _data(fit, newdata):
    if newdata is None:
        return E.fit_data(fit).reset_index(drop=True)
    if not isinstance(newdata, pd.DataFrame):
        raise DataError(f"newdata must be a pandas DataFrame (see ml.datagrid), got {type(newdata).__name__}.")
    return as_model_dtypes(newdata.reset_index(drop=True).copy(), E.fit_data(fit))


def _finite(fun, comparison: str, name: str, label: str):
    """``fun(hi, lo)`` refusing NaN or infinite values (a ratio over a zero prediction, the
    log of a negative ratio, odds of a value outside (0, 1)) rather than averaging them."""
    def combine(p):
        with np.errstate(all="ignore"):
            value = fun(p[0], p[1])
        if not np.all(np.isfinite(value)):
            raise DataError(f"comparison={comparison!r} of {name!r} ({label}) is not finite (NaN or "
                            "infinite): a ratio over a zero prediction, the log of a negative ratio, "
                            "or the odds of a prediction outside (0, 1). Use comparison='difference', "
                            "or 'lnor' only on probabilities (a binomial fit with type='response').")
        return value
    return combine


def _focal_columns(data: pd.DataFrame, variables) -> None:
    """newdata must carry the variables whose effect is estimated (they are shifted per unit)."""
    missing = [v for v in variables if v not in data.columns]
    if missing:
        raise DataError(f"newdata lacks column(s) {missing}, the variable(s) whose effect is estimated; "
                        "add them (ml.datagrid(fit) builds a complete grid).")


def _units(data: pd.DataFrame, by) -> pd.DataFrame:
    return data if by is None or by is False else pd.DataFrame(index=range(0))


def predictions(fit, newdata: pd.DataFrame | None = None, by=None, group_effects: bool = True,
                ci: float = 0.95, type: str = "response", return_draws: bool = False):
    """Predictions per unit, or averaged within ``by`` groups (marginaleffects' ``predictions``
    and ``avg_predictions``).

    Parameters
    ----------
    fit : FreqFit or BayesFit
    newdata : DataFrame or None
        Units to predict (e.g. from :func:`datagrid`); None uses the fitted rows.
    by : None, True, str or list of str
        None: one row per unit; True: the average over all units; column name(s):
        averages within their groups.
    group_effects : bool
        Include the group effects (conditional modes / per-draw group effects); unseen
        levels get the population mean.
    ci : float
    type : {"response", "link"}
    return_draws : bool
        Bayesian fits: also return the per-draw values (draws × rows).

    Returns
    -------
    DataFrame with the units' columns (or the ``by`` columns) and ``estimate``, ``std_error``,
    ``lower``, ``upper``; frequentist fits add ``statistic`` (z) and ``p_value``. Bayesian
    estimates are posterior medians with equal-tailed intervals, ``std_error`` the
    posterior SD.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> ml.predictions(m, by=True, group_effects=False)[["estimate", "std_error"]].round(3)
       estimate  std_error
    0   298.508       9.05
    """
    E.check_fit(fit)
    E.refuse_ordinal(fit, "predictions")
    data = _data(fit, newdata)
    labels, cols, draws = _evaluate(fit, [data], lambda p: p[0], by, group_effects, type, ci)
    units = data if by is None or by is False else labels
    out = _frame(units, cols)
    return (out, draws) if return_draws else out


def _contrast_pairs(data: pd.DataFrame, fit_data: pd.DataFrame, name: str, spec):
    """(label, lo values, hi values) for one variable."""
    col = fit_data[name]
    if is_factor(col):
        levels = list(col.cat.categories) if isinstance(col.dtype, pd.CategoricalDtype) \
            else sorted(col.unique().tolist())
        spec = "reference" if spec is None else spec
        if isinstance(spec, (tuple, list)) and len(spec) == 2:
            lo, hi = column_values(fit_data, name, spec)
            pairs = [(lo, hi)]
        elif spec == "reference":
            pairs = [(levels[0], lv) for lv in levels[1:]]
        elif spec == "sequential":
            pairs = list(zip(levels[:-1], levels[1:]))
        elif spec == "pairwise":
            pairs = [(levels[i], levels[j]) for i in range(len(levels)) for j in range(i + 1, len(levels))]
        else:
            raise DataError(f"variables={{{name!r}: {spec!r}}}: for a factor use 'reference', "
                            "'sequential', 'pairwise' or a (lo, hi) pair of levels.")
        return [(f"{hi} - {lo}", lo, hi) for lo, hi in pairs]
    x = data[name].to_numpy(dtype=float)
    spec = 1 if spec is None else spec
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and all(_real(v) for v in spec):
        lo, hi = float(spec[0]), float(spec[1])
        return [(f"{hi:g} - {lo:g}", np.full_like(x, lo), np.full_like(x, hi))]
    if isinstance(spec, str) and spec == "sd":
        sd = float(col.std())
        return [("+sd", x - sd / 2, x + sd / 2)]
    if _real(spec):
        return [(f"+{spec:g}", x, x + float(spec))]
    raise DataError(f"variables={{{name!r}: {spec!r}}}: for a numeric variable use a finite step "
                    "(e.g. 1), 'sd' or a (lo, hi) pair of finite numbers.")


def _real(value) -> bool:
    """A finite real number (not a bool, a string or NaN)."""
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)) and bool(np.isfinite(value)))


def _variables(fit, variables, numeric_only=False) -> dict:
    names = predictor_columns(fit, fixed_only=True)
    if variables is None:
        if not names:
            raise DataError(f"{fit.formula!r} has no fixed-effect predictor whose effect could be "
                            "estimated; use ml.predictions for its predictions.")
        variables = names
    if isinstance(variables, str):
        variables = [variables]
    if not isinstance(variables, (dict, list, tuple)) or not variables:
        raise DataError(f"variables={variables!r} is not valid; give a predictor's name, a list of "
                        f"names or a dict {{name: contrast}}; predictors: {names}.")
    if not isinstance(variables, dict):
        variables = {v: None for v in variables}
    data = E.fit_data(fit)
    for v in variables:
        if v not in names:
            raise DataError(f"variables: {v!r} is not a fixed-effect predictor of {fit.formula!r}; "
                            f"predictors: {names}.")
        if numeric_only and is_factor(data[v]):
            raise DataError(f"slopes: {v!r} is a factor; use ml.comparisons for factors.")
    if numeric_only:
        variables = {v: s for v, s in variables.items() if not is_factor(data[v])}
    return variables


def comparisons(fit, variables=None, comparison: str = "difference", by=None,
                newdata: pd.DataFrame | None = None, group_effects: bool = True, ci: float = 0.95,
                type: str = "response", return_draws: bool = False):
    """Differences (or ratios ...) between predictions at two values of a variable, per unit or
    averaged within ``by`` groups (marginaleffects' ``comparisons``/``avg_comparisons``).

    Parameters
    ----------
    fit : FreqFit or BayesFit
    variables : str, list or dict, optional
        The focal variables (default: every fixed-effect predictor). A dict gives the contrast
        per variable: numeric — a step (default 1: x+1 vs x), ``"sd"`` (x ± SD/2) or a
        ``(lo, hi)`` pair; factor — ``"reference"`` (default: each level vs the first),
        ``"sequential"``, ``"pairwise"`` or a ``(lo, hi)`` pair of levels.
    comparison : str
        ``"difference"``, ``"ratio"``, ``"lnratio"``, ``"lnor"`` (unit-level, then averaged) or
        ``"differenceavg"``, ``"ratioavg"``, ``"lnratioavg"`` (of the averaged predictions).
    by, newdata, group_effects, ci, type, return_draws
        As :func:`predictions`.

    Returns
    -------
    DataFrame with ``term``, ``contrast``, the unit or ``by`` columns, and the estimate columns
    of :func:`predictions`.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> ml.comparisons(m, "Days", by=True)[["term", "contrast", "estimate"]].round(3)
       term contrast  estimate
    0  Days       +1    10.467
    """
    E.check_fit(fit)
    E.refuse_ordinal(fit, "comparisons")
    if comparison not in COMPARISONS:
        raise DataError(f"comparison={comparison!r} is not valid; use one of {list(COMPARISONS)}.")
    fun, avg_first = COMPARISONS[comparison]
    data = _data(fit, newdata)
    fdata = E.fit_data(fit)
    frames, all_draws = [], []
    variables = _variables(fit, variables)
    _focal_columns(data, variables)
    for name, spec in variables.items():
        for label, lo, hi in _contrast_pairs(data, fdata, name, spec):
            lo_d, hi_d = data.copy(), data.copy()
            lo_d[name], hi_d[name] = lo, hi
            lo_d, hi_d = as_model_dtypes(lo_d, fdata), as_model_dtypes(hi_d, fdata)
            labels, cols, draws = _evaluate(fit, [hi_d, lo_d], _finite(fun, comparison, name, label),
                                            by, group_effects, type, ci, avg_first)
            units = data if by is None or by is False else labels
            frames.append(_frame(units, cols, {"term": name, "contrast": label}))
            all_draws.append(draws)
    out = pd.concat(frames, ignore_index=True)
    if return_draws:
        return out, (np.concatenate(all_draws, axis=1) if E.is_bayes(fit) else None)
    return out


def slopes(fit, variables=None, by=None, newdata: pd.DataFrame | None = None,
           group_effects: bool = True, slope: str = "dydx", ci: float = 0.95, type: str = "response",
           eps: float | None = None, numderiv: str = "fdforward", return_draws: bool = False):
    """Partial derivatives of the prediction with respect to numeric variables, per unit or
    averaged within ``by`` groups (marginaleffects' ``slopes``/``avg_slopes``).

    Parameters
    ----------
    fit : FreqFit or BayesFit
    variables : str or list, optional
        Numeric predictors (default: all numeric fixed-effect predictors).
    slope : {"dydx", "eyex", "eydx", "dyex"}
        The derivative, or an elasticity (``eyex`` = dy/dx · x/y) per unit.
    eps : float, optional
        Step of the finite difference; default 1e-4 × the variable's range in the fitted
        data (marginaleffects' default).
    numderiv : {"fdforward", "fdcenter"}
        Forward difference (marginaleffects' default) or centered.
    by, newdata, group_effects, ci, type, return_draws
        As :func:`predictions`.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> ml.slopes(m, "Days", by=True)[["term", "estimate", "std_error"]].round(3)
       term  estimate  std_error
    0  Days    10.467      1.546
    """
    E.check_fit(fit)
    E.refuse_ordinal(fit, "slopes")
    if slope not in SLOPES:
        raise DataError(f"slope={slope!r} is not valid; use one of {SLOPES}.")
    if numderiv not in NUMDERIV:
        raise DataError(f"numderiv={numderiv!r} is not valid; use one of {NUMDERIV}.")
    data = _data(fit, newdata)
    fdata = E.fit_data(fit)
    frames, all_draws = [], []
    variables = _variables(fit, variables, numeric_only=True)
    _focal_columns(data, variables)
    for name in variables:
        x = data[name].to_numpy(dtype=float)
        if eps is not None and not _real(eps):
            raise DataError(f"slopes: eps={eps!r} is not a number; pass a step > 0 or None (the default).")
        step = float(eps) if eps is not None else 1e-4 * float(fdata[name].max() - fdata[name].min())
        if not step > 0:
            raise DataError(f"slopes: the step for {name!r} is {step}; pass eps > 0.")
        lo_x, hi_x = (x, x + step) if numderiv == "fdforward" else (x - step / 2, x + step / 2)
        lo_d, hi_d, at_d = data.copy(), data.copy(), data.copy()
        lo_d[name], hi_d[name] = lo_x, hi_x

        def combine(p, x=x, step=step):
            dydx = (p[0] - p[1]) / step
            y = p[2]
            return {"dydx": dydx, "eyex": dydx * x / y, "eydx": dydx / y, "dyex": dydx * x}[slope]

        labels, cols, draws = _evaluate(fit, [hi_d, lo_d, at_d], combine, by, group_effects, type, ci)
        units = data if by is None or by is False else labels
        frames.append(_frame(units, cols, {"term": name, "contrast": slope}))
        all_draws.append(draws)
    if not frames:
        raise DataError(f"slopes: {fit.formula!r} has no numeric predictor; use ml.comparisons.")
    out = pd.concat(frames, ignore_index=True)
    if return_draws:
        return out, (np.concatenate(all_draws, axis=1) if E.is_bayes(fit) else None)
    return out
