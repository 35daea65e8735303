"""Nakagawa's marginal and conditional R² for REML/ML mixed models, as
``performance::r2_nakagawa`` (Nakagawa & Schielzeth 2013; Johnson 2014 for random
slopes; Nakagawa, Johnson & Schielzeth 2017 for GLMMs).

    σ²_f = var(Xβ̂)  (sample variance, n − 1)
    σ²_r = Σ_terms mean_i z_i' Σ_term z_i   (the term's covariance averaged over the rows'
           random-effect covariates; the intercept variance for a random intercept)
    σ²_ε = σ² (gaussian); π²/3 (binomial/bernoulli, logit); log(1 + 1/λ) with
           λ = exp(β₀ of the model refitted with an intercept only and the same group
           effects) (Poisson, log link: the lognormal approximation, as insight 0.19)

    R²_marginal = σ²_f / (σ²_f + σ²_r + σ²_ε),  R²_conditional = (σ²_f + σ²_r) / (σ²_f + σ²_r + σ²_ε).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import SpecError


def variance_components(fit) -> dict:
    """σ²_f, σ²_r and σ²_ε as above."""
    from multilevel.freq import FreqFit

    if not isinstance(fit, FreqFit):
        raise SpecError(f"r2_nakagawa needs a mixed model fitted with method='reml' or 'ml'; got "
                        f"{type(fit).__name__}.")
    fixed = np.var(fit.design.X @ fit.pls.beta, ddof=1)
    random = 0.0
    for term, cov in zip(fit.design.reterms, fit.covariance().values()):
        Z = np.asarray(term.X, dtype=float)
        random += float(np.mean(np.einsum("ij,jk,ik->i", Z, cov, Z)))
    family = fit.family
    if family == "gaussian":
        resid = fit.sigma ** 2
    elif family in ("binomial", "bernoulli"):
        link = getattr(fit, "link", "logit")
        if link not in (None, "logit"):
            raise SpecError(f"r2_nakagawa implements the logit link for binomial models, not {link!r}.")
        resid = np.pi ** 2 / 3
    elif family == "poisson":
        resid = float(np.log1p(1 / np.exp(_null_intercept(fit))))
    else:
        raise SpecError(f"r2_nakagawa covers gaussian, binomial, bernoulli and poisson models; "
                        f"got {family!r}.")
    return {"fixed": float(fixed), "random": float(random), "residual": float(resid)}


def _null_intercept(fit) -> float:
    """The intercept of the model refitted without its fixed effects (same group
    effects): insight's ``null_model``, whose exp() is the λ of the lognormal
    approximation (insight 0.19 / performance 0.10)."""
    import warnings

    from multilevel.formula import parse_formula
    from multilevel.freq import fit_freq

    parsed = parse_formula(fit.formula)
    bars = list(dict.fromkeys(b.source for b in parsed.bars))
    null = f"{parsed.response.text} ~ 1 + " + " + ".join(bars)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the null model's own singularity notes
        null_fit = fit_freq(null, fit.design.frame.data, reml=False, family=fit.family)
    return float(null_fit.pls.beta[0])


def r2_nakagawa(fit) -> pd.Series:
    """Marginal (fixed effects) and conditional (fixed + group effects) R².

    Parameters
    ----------
    fit : FreqFit or GLMMFit

    Returns
    -------
    Series with ``marginal`` and ``conditional``; ``.attrs`` holds the variance components.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.inference import r2_nakagawa
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> r2_nakagawa(m).round(4)
    marginal       0.2787
    conditional    0.7992
    Name: r2, dtype: float64
    """
    parts = variance_components(fit)
    total = parts["fixed"] + parts["random"] + parts["residual"]
    out = pd.Series({"marginal": parts["fixed"] / total,
                     "conditional": (parts["fixed"] + parts["random"]) / total}, name="r2")
    out.attrs.update(parts)
    return out


def r2(fit) -> pd.Series:
    """R² of a fit: Nakagawa's marginal and conditional R² for REML/ML mixed models
    (:func:`r2_nakagawa`). Bayesian R² lives with the posterior-analysis verbs.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml")
    >>> ml.r2(m).round(4).tolist()
    [0.2799, 0.7043]
    """
    from multilevel.freq import FreqFit

    if isinstance(fit, FreqFit):
        return r2_nakagawa(fit)
    raise SpecError(f"r2() here covers REML/ML mixed models (FreqFit); got {type(fit).__name__}. "
                    "For Bayesian fits use the posterior R² of the effects verbs.")
