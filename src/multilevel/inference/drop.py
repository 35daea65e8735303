"""lme4's ``drop1(fit, test = "Chisq")``: each droppable fixed-effect term deleted in turn,
the model refitted by maximum likelihood, AIC and the likelihood-ratio test against the
full model (lme4's ``drop1.merMod``; lmerTest's F-test ``drop1`` is
:func:`multilevel.inference.tests.drop1` without ``test``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.errors import SpecError


def drop1_lrt(fit) -> pd.DataFrame:
    """lme4's ``drop1(fit, test = "Chisq")`` for a REML/ML LMM or a GLMM.

    Each term that no other term contains (R's ``drop.scope``) is deleted by removing
    the fixed-effect columns it owns, and the model is refitted by ML (a REML fit is
    compared through its ML refit, as lme4's ``extractAIC`` does; a GLMM keeps its
    ``nAGQ``, link and optimizer). ``npar`` is the number of parameters deleted,
    ``LRT`` the rise in deviance (−2 logLik), ``Pr(Chi)`` its χ² tail probability.

    Returns
    -------
    DataFrame indexed by ``<none>`` and the terms: ``npar``, ``AIC``, ``LRT``, ``Pr(Chi)``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> ml.drop1(m, test="Chisq").round(4)
            npar        AIC      LRT  Pr(Chi)
    <none>   NaN  1763.9393      NaN      NaN
    Days     1.0  1785.4759  23.5365      0.0
    """
    from multilevel.freq import FreqFit
    from multilevel.inference.contrasts import droppable, fixed_terms

    if not isinstance(fit, FreqFit) or not fit.design.reterms:
        raise SpecError("drop1(test='Chisq') needs a mixed model fitted with method='reml' or "
                        f"'ml' (got {type(fit).__name__}).")
    if getattr(fit, "family", "gaussian") == "negativebinomial":
        raise SpecError("drop1(test='Chisq') refits Gaussian and binomial/Poisson/Gamma mixed models; "
                        "compare negative-binomial models (θ re-estimated) with ml.lrt(reduced, full).")
    from multilevel.freq.structures import refuse_structured

    refuse_structured(fit, "drop1(test='Chisq')")
    if fit.design.spec.smooths:
        raise SpecError("drop1() tests fixed-effect terms; a model with smooths s(x) has columns of "
                        "no term. Compare the models with ml.lrt(reduced, full).")
    if "(Intercept)" not in fit.design.x_names:
        raise SpecError("drop1(test='Chisq') needs a model with an intercept: without one, R "
                        "recodes the remaining factors when a term is deleted. Compare the models "
                        "with ml.lrt(reduced, full).")
    full = fit.refit_ml()
    rows = {"<none>": (np.nan, full.aic, np.nan, np.nan)}
    for term in droppable(fixed_terms(fit.design)):
        reduced = _refit_without(full, term.columns)
        npar = full.df - reduced.df
        lrt = max(-2.0 * reduced.loglik + 2.0 * full.loglik, 0.0)
        rows[term.name] = (npar, reduced.aic, lrt, float(stats.chi2.sf(lrt, npar)) if npar > 0 else np.nan)
    return pd.DataFrame.from_dict(rows, orient="index", columns=["npar", "AIC", "LRT", "Pr(Chi)"])


def _refit_without(fit, columns: list[int]):
    """The ML fit of ``fit``'s model without the fixed-effect columns ``columns``."""
    design = fit.design
    keep = [j for j in range(design.p) if j not in set(columns)]
    reduced = dataclasses.replace(design, X=design.X[:, keep], x_names=[design.x_names[j] for j in keep])
    if getattr(fit, "family", "gaussian") == "gaussian":
        from multilevel.freq.fit import fit_design

        return fit_design(fit.formula, reduced, reml=False, solver=fit.solver, warn=False)
    from multilevel.freq.glmm import fit_glmm

    return fit_glmm(fit.formula, reduced, solver=fit.solver, nAGQ=fit.nagq, optimizer=fit.optimizer,
                    link=fit.link, warn=False)
