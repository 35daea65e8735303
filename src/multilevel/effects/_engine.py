"""What the effect verbs need from a fit, the same way for both engines.

A frequentist fit gives a function of β (the group effects held at their conditional
modes, as lme4's ``predict`` and R's marginaleffects do) whose Jacobian is taken
numerically for delta-method standard errors; a Bayesian fit gives draws (draws × rows)
of the same quantity, so every summary is computed from per-draw values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError, FamilyError, check_level

TYPES = ("response", "link")


def is_bayes(fit) -> bool:
    """A BayesFit (posterior draws) rather than a FreqFit (estimates and vcov)."""
    return hasattr(fit, "fixef_draws")


def check_fit(fit) -> None:
    if not hasattr(fit, "design") or not hasattr(fit, "fixef"):
        raise DataError(f"Expected a fit from ml.fit (FreqFit or BayesFit), got {type(fit).__name__}.")
    if getattr(fit, "family", None) == "categorical":   # one linear predictor per category
        raise FamilyError(
            "Marginal effects and estimated marginal means are not available for "
            "family='categorical' (one linear predictor per non-reference category, no single "
            "response scale): use ml.predict.category_probabilities(fit, grid) on a grid of "
            "predictor values, and compare the categories' probabilities.")


def refuse_ordinal(fit, verb: str) -> None:
    """Ordinal fits (``cumulative``, ``sratio``) have thresholds in place of an intercept and
    no inverse link from η to a mean: η alone is a latent score, not a response."""
    from multilevel.errors import FamilyError
    from multilevel.formula.families import ORDINAL_FAMILIES

    if getattr(fit, "family", None) in ORDINAL_FAMILIES:
        raise FamilyError(
            f"{verb}() is not defined for the ordinal family {fit.family!r}: its linear predictor "
            "is a latent score without the thresholds, not a mean. Use "
            "ml.predict.category_probabilities(fit, newdata) for P(y = k) per row, "
            "fit.predict(newdata) for the expected category score, or "
            "ml.emmeans(fit, specs, mode='prob') for marginal category probabilities.")


def check_ci(ci: float) -> float:
    return check_level(ci)


def check_type(type: str) -> None:
    if type not in TYPES:
        raise DataError(f"type={type!r} is not valid; use one of {TYPES}.")


def fit_data(fit) -> pd.DataFrame:
    """The rows the model was fitted to."""
    return fit.design.frame.data


def family_inverse_link(family: str, eta: np.ndarray) -> np.ndarray:
    """The family's inverse link: the package's one table (:mod:`multilevel.formula.links`)."""
    from multilevel.formula.links import inverse_link as family_link

    return family_link(family, eta)


# links whose response-scale contrasts emmeans reports as ratios (log) or odds ratios (logit)
RATIO_LINKS = ("log", "logit")


def contrast_ratios(C: np.ndarray, type: str, link: str, regrid: bool = False) -> bool:
    """Whether response-scale contrasts (rows of C over the means) are reported as ratios
    (log link) or odds ratios (logit), as emmeans: only when every row is a true contrast
    (its weights sum to 0, relative to the largest); other weights (one mean, an average)
    stay on the link scale, where exp() of them would be no ratio of means. After
    ``regrid`` contrasts are differences on the response scale."""
    if regrid or type != "response" or link not in RATIO_LINKS or not len(C):
        return False
    return bool(np.all(np.abs(C.sum(axis=1)) / (1e-6 + np.abs(C).max(axis=1)) < 1e-6))


def fit_link(fit) -> str:
    """The fit's link (R's name): its ``link=`` or the family's default."""
    from multilevel.formula.links import default_link

    return getattr(fit, "link", None) or default_link(fit.family)


def inverse_link(fit, eta: np.ndarray) -> np.ndarray:
    """The fit's own inverse link (either engine may carry a non-canonical ``link=``)."""
    if is_bayes(fit):
        from multilevel.formula.links import inverse_link_fn

        return inverse_link_fn(fit_link(fit))(eta)
    return fit._inverse_link(eta)


class FreqLinear:
    """η(β) = X β + (group part at the conditional modes) for one data set."""

    def __init__(self, fit, data: pd.DataFrame, group_effects: bool):
        self.X = fit.design.spec.fixed_X(data)
        beta = fit.fixef.to_numpy()
        full = fit.linear_predictor(data, group_effects=group_effects, new_groups="population")
        self.offset = np.asarray(full, dtype=float) - self.X @ beta

    def eta(self, beta: np.ndarray) -> np.ndarray:
        return self.X @ beta + self.offset


def bayes_eta(fit, data: pd.DataFrame, group_effects: bool) -> np.ndarray:
    """η per posterior draw and row (draws × rows); unseen groups at the population mean."""
    from multilevel.formula.newdata import check_newdata
    from multilevel.predict.bayes import linear_predictor_draws

    check_newdata(fit.design, data)
    return linear_predictor_draws(fit, data, group_effects, "population", None)


def jacobian(fun, beta: np.ndarray) -> np.ndarray:
    """Central-difference Jacobian of ``fun`` (a vector function of β), m × p."""
    base = np.asarray(fun(beta), dtype=float)
    jac = np.empty((base.size, beta.size))
    for j in range(beta.size):
        h = 1e-6 * max(1.0, abs(beta[j]))
        up, down = beta.copy(), beta.copy()
        up[j] += h
        down[j] -= h
        jac[:, j] = (np.asarray(fun(up)) - np.asarray(fun(down))) / (2 * h)
    return jac


def wald_columns(estimate: np.ndarray, jac: np.ndarray, vcov: np.ndarray, ci: float) -> dict:
    """Delta-method SE, z statistic, two-sided p and normal interval."""
    from scipy import stats

    se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", jac, vcov, jac), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = estimate / se
    half = stats.norm.ppf(0.5 + ci / 2) * se
    return {"estimate": estimate, "std_error": se, "statistic": z,
            "p_value": 2 * stats.norm.sf(np.abs(z)), "lower": estimate - half, "upper": estimate + half}


def draw_columns(draws: np.ndarray, ci: float) -> dict:
    """Posterior median and equal-tailed interval of each column of ``draws``."""
    lo, hi = np.quantile(draws, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    return {"estimate": np.median(draws, axis=0), "std_error": draws.std(axis=0, ddof=1),
            "lower": lo, "upper": hi}


def group_index(data: pd.DataFrame, by) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer group of each row and the groups' labels, for ``by`` = None (each row its own
    group), True (one group) or column name(s)."""
    n = len(data)
    if by is None or by is False:
        return np.arange(n), pd.DataFrame(index=range(n))
    if by is True:
        return np.zeros(n, dtype=int), pd.DataFrame(index=range(1))
    if not isinstance(by, (str, list, tuple)):
        raise DataError(f"by={by!r} is not valid; use None (per row), True (overall), a column name "
                        "or a list of names.")
    cols = [by] if isinstance(by, str) else list(by)
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise DataError(f"by={cols!r}: column(s) {missing} are not in the data; "
                        f"available: {list(data.columns)}.")
    keys = data[cols].astype(str).agg("\x1f".join, axis=1) if len(cols) > 1 else data[cols[0]].astype(str)
    first = ~keys.duplicated()
    order = pd.Index(keys[first])
    codes = order.get_indexer(keys)
    labels = data.loc[first.to_numpy(), cols].reset_index(drop=True)
    sort = labels.sort_values(cols, kind="stable").index.to_numpy()
    remap = np.empty_like(sort)
    remap[sort] = np.arange(sort.size)
    return remap[codes], labels.iloc[sort].reset_index(drop=True)


def average(values: np.ndarray, codes: np.ndarray, m: int) -> np.ndarray:
    """Mean of the last axis within groups: (..., n) -> (..., m)."""
    counts = np.bincount(codes, minlength=m).astype(float)
    onehot = np.zeros((codes.size, m))
    onehot[np.arange(codes.size), codes] = 1.0
    return (values @ onehot) / counts
