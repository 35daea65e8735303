"""Analysis of deviance for GLMs without group terms, as R gives it.

- ``ml.anova(glm, type=1)``: R's ``anova(glm, test = "Chisq")``, the terms added in turn
  (a first ``NULL`` row for the intercept-only model);
- ``type=2``: car's ``Anova(glm)`` likelihood-ratio tests, each term added to the model of
  every term that does not contain it;
- ``type=3``: each term's columns dropped from the full model (car's type III LR test in
  the model's own coding: with treatment contrasts a main effect is tested at the other
  factors' reference levels, so it depends on the coding, as car warns);
- ``ml.drop1(glm)``: R's ``drop1(glm, test = "Chisq")``.

The refits keep the family, link, offset and prior weights (and a negative binomial's θ,
as R's ``anova``/``drop1`` keep ``glm.nb``'s family). Deviance differences are divided
by the dispersion (summary.glm's Pearson estimate of the full model) for gamma and the
inverse Gaussian, as R scales them, and referred to χ².
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import SpecError


def is_glm(fit) -> bool:
    """A GLM without group terms fitted by IRLS (:class:`multilevel.freq.glm.GLMFit`)."""
    from multilevel.freq.glm import GLMFit

    return isinstance(fit, GLMFit)


def glm_anova(fit, type: int) -> pd.DataFrame:
    """The analysis-of-deviance table of ``type`` 1, 2 or 3 (module docstring)."""
    from scipy import stats

    from multilevel.inference.contrasts import fixed_terms

    terms = fixed_terms(fit.design)
    base = _intercept(fit)
    dispersion = fit.dispersion
    if type == 1:
        dev, rank = _deviance(fit, base)
        rows = {"NULL": (np.nan, np.nan, fit.nobs - rank, dev, np.nan)}
        columns = list(base)
        for term in terms:
            columns += term.columns
            new_dev, new_rank = _deviance(fit, columns)
            df, drop = new_rank - rank, dev - new_dev
            p = float(stats.chi2.sf(drop / dispersion, df)) if df > 0 else np.nan
            rows[term.name] = (df, drop, fit.nobs - new_rank, new_dev, p)
            dev, rank = new_dev, new_rank
        return _frame(rows, ["Df", "Deviance", "Resid. Df", "Resid. Dev", "p"])
    rows = {}
    full = [j for t in terms for j in t.columns]
    for term in terms:
        if type == 2:   # the terms that do not contain this one, without and with it
            others = [j for u in terms if u is not term and not term.names <= u.names for j in u.columns]
            reduced, larger = base + others, base + others + term.columns
        else:
            reduced = base + [j for j in full if j not in set(term.columns)]
            larger = base + full
        (dev0, rank0), (dev1, rank1) = _deviance(fit, reduced), _deviance(fit, larger)
        df, lr = rank1 - rank0, max(dev0 - dev1, 0.0) / dispersion
        rows[term.name] = (lr, df, float(stats.chi2.sf(lr, df)) if df > 0 else np.nan)
    return _frame(rows, ["LR Chisq", "Df", "p"])


def glm_drop1(fit) -> pd.DataFrame:
    """R's ``drop1(glm, test = "Chisq")``: each term no other term contains deleted in
    turn; ``Deviance`` and ``AIC`` of each reduced model, ``LRT`` its scaled rise in
    deviance (R's "scaled dev." where the dispersion is estimated) and its χ² p."""
    from scipy import stats

    from multilevel.inference.contrasts import droppable, fixed_terms

    base = _intercept(fit)
    terms = fixed_terms(fit.design)
    full = base + [j for t in terms for j in t.columns]
    dev_full, rank_full = _deviance(fit, full)
    # R's extractAIC of a glm.nb fit counts the coefficients only (θ is left out): 2 less
    aic_full = fit.aic - 2.0 if fit.family == "negativebinomial" else fit.aic
    rows = {"<none>": (np.nan, dev_full, aic_full, np.nan, np.nan)}
    for term in droppable(terms):
        dev, rank = _deviance(fit, [j for j in full if j not in set(term.columns)])
        df = rank_full - rank
        lrt = max(dev - dev_full, 0.0) / fit.dispersion
        aic = aic_full + (dev - dev_full) / fit.dispersion - 2 * df
        rows[term.name] = (df, dev, aic, lrt, float(stats.chi2.sf(lrt, df)) if df > 0 else np.nan)
    return _frame(rows, ["Df", "Deviance", "AIC", "LRT", "p"])


def _intercept(fit) -> list[int]:
    if "(Intercept)" not in fit.design.x_names:
        raise SpecError("An analysis of deviance needs a model with an intercept here: without one, "
                        "R recodes the factors as terms come and go. Compare the models with "
                        "ml.lrt(reduced, full).")
    return [fit.design.x_names.index("(Intercept)")]


def _deviance(fit, columns: list[int]) -> tuple[float, int]:
    """The deviance of the GLM refitted on X's ``columns`` (family, link, θ, offset and
    weights kept), and the rank of those columns."""
    X = np.asarray(fit.design.X, dtype=float)[:, sorted(set(columns))]
    return _refit_deviance(fit, X, fit.design.offset_or_zero), int(np.linalg.matrix_rank(X))


def _refit_deviance(fit, X: np.ndarray, offset: np.ndarray) -> float:
    """The deviance of ``fit``'s GLM refitted by IRLS on the columns ``X`` with ``offset``
    (η = offset when X has no columns)."""
    from multilevel.freq.glm import irls
    from multilevel.freq.glmm import trials_or_weights

    design, family = fit.design, fit.family_object
    y, n = np.asarray(design.y, dtype=float), trials_or_weights(design)
    if X.shape[1] == 0:
        return family.deviance(offset, y, n)
    beta, *_ = irls(X, y, n, family, offset)
    return family.deviance(X @ beta + offset, y, n)


def _frame(rows: dict, columns: list[str]) -> pd.DataFrame:
    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    if "Df" in table:
        table["Df"] = table["Df"].astype("Int64")
    return table


def glm_confint(fit, method: str, level: float) -> pd.DataFrame:
    """R's intervals for a GLM's coefficients: ``"profile"`` is MASS's ``confint.glm`` (the
    profile of the deviance, scaled by the dispersion, inverted at ±z; solved exactly where
    MASS interpolates a spline through profile points), ``"wald"`` ``confint.default``
    (β ± z·SE). Columns as :func:`multilevel.inference.confint`'s."""
    from scipy import optimize, stats

    if method == "boot":
        raise SpecError("confint(method='boot') resamples group effects; a GLM has none. Use "
                        "method='profile' (R's confint(glm)) or 'wald'.")
    z = stats.norm.ppf(0.5 + level / 2)
    est, se = np.asarray(fit.beta, dtype=float), fit.se.to_numpy()
    if method == "wald":
        lower, upper = est - z * se, est + z * se
    else:
        dev_hat = fit.deviance
        lower, upper = np.empty_like(est), np.empty_like(est)
        for j in range(len(est)):
            def zeta(b, j=j):
                drop = max(_deviance_at(fit, j, b) - dev_hat, 0.0) / fit.dispersion
                return np.sign(b - est[j]) * np.sqrt(drop)
            lower[j] = _bracketed_root(lambda b: zeta(b) + z, est[j], -se[j], optimize)
            upper[j] = _bracketed_root(lambda b: zeta(b) - z, est[j], se[j], optimize)
    names = list(fit.design.x_names)
    table = pd.DataFrame({"name": names, "grp": None, "var1": None, "var2": None, "estimate": est,
                          "lower": lower, "upper": upper}, index=pd.Index(names))
    table.attrs.update(method=method, level=float(level))
    return table


def _deviance_at(fit, j: int, value: float) -> float:
    """The deviance with coefficient ``j`` fixed at ``value`` (an offset), the others refitted."""
    X = np.asarray(fit.design.X, dtype=float)
    return _refit_deviance(fit, np.delete(X, j, axis=1), fit.design.offset_or_zero + value * X[:, j])


def _bracketed_root(f, start: float, step: float, optimize) -> float:
    """The root of f beyond ``start`` in the direction of ``step`` (NaN if none within 64
    steps: a profile that never reaches the cutoff, as under separation)."""
    a, fa = start, f(start)
    for k in range(1, 7):
        b = start + step * 2.0 ** k
        fb = f(b)
        if np.sign(fb) != np.sign(fa):
            return float(optimize.brentq(f, a, b, xtol=1e-12, rtol=1e-12))
        a, fa = b, fb
    return float("nan")
