"""Nakagawa's marginal and conditional R² for REML/ML mixed models, as
``performance::r2_nakagawa`` (Nakagawa & Schielzeth 2013; Johnson 2014 for random
slopes; Nakagawa, Johnson & Schielzeth 2017 for GLMMs).

    σ²_f = var(Xβ̂)  (sample variance, n − 1)
    σ²_r = Σ_terms mean_i z_i' Σ_term z_i   (the term's covariance averaged over the rows'
           random-effect covariates; the intercept variance for a random intercept)
    σ²_ε = σ² (gaussian); the variance of the latent link distribution for
           binomial/bernoulli: π²/3 (logit), 1 (probit), π²/6 (cloglog); log(1 + 1/λ)
           with λ = exp(β₀ of the model refitted with an intercept only, the same group
           effects, offsets and prior weights, on the fit's rows) (Poisson, log link:
           the lognormal approximation, as insight 0.19 — whose null model, refitted by
           ``update()``, also takes rows the fit dropped for a missing covariate);
           log(1 + 1/λ + 1/θ) for the negative binomial (glmer.nb; θ the fit's, λ from the
           null model refitted by glmer.nb, as insight's ``update()`` refits it)

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
    return {"fixed": float(fixed), "random": float(random), "residual": residual_variance(fit)}


# variance of the standard distribution behind each binomial link (the latent scale):
# logistic π²/3, normal 1, Gumbel (minimum) π²/6 — insight's distribution-specific variance
LATENT_VARIANCE = {"logit": np.pi ** 2 / 3, "probit": 1.0, "cloglog": np.pi ** 2 / 6}


def residual_variance(fit) -> float:
    """σ²_ε of a REML/ML fit (module docstring): σ², the latent link variance, or the
    lognormal approximation for Poisson.

    Parameters
    ----------
    fit : FreqFit or GLMMFit

    Returns
    -------
    float

    Raises
    ------
    SpecError
        Families and links without a distribution-specific variance here.
    """
    family = fit.family
    if family == "gaussian":
        return float(fit.sigma ** 2)
    link = getattr(fit, "link", None)
    if family in ("binomial", "bernoulli"):
        link = link or "logit"
        if link not in LATENT_VARIANCE:
            raise SpecError(f"r2_nakagawa implements the {', '.join(LATENT_VARIANCE)} links for "
                            f"binomial models, not {link!r}.")
        return float(LATENT_VARIANCE[link])
    if family in ("poisson", "negativebinomial"):
        if link not in (None, "log"):
            raise SpecError(f"r2_nakagawa implements the log link for {family} models, not {link!r}.")
        cv2 = 1 / np.exp(_null_intercept(fit))   # Var(y)/μ² at the null model's μ
        if family == "negativebinomial":
            cv2 += 1 / fit.nb_theta
        return float(np.log1p(cv2))
    raise SpecError(f"r2_nakagawa covers gaussian, binomial, bernoulli, poisson and negative "
                    f"binomial models; got {family!r}.")


def _null_intercept(fit) -> float:
    """The intercept of the model refitted without its fixed effects (same group
    effects): insight's ``null_model``, whose exp() is the λ of the lognormal
    approximation (insight 0.19 / performance 0.10)."""
    import warnings

    from multilevel.formula import parse_formula
    from multilevel.freq import fit_freq

    parsed = parse_formula(fit.formula)
    bars = list(dict.fromkeys(b.source for b in parsed.bars))
    # insight keeps the offsets (and update() the prior weights): without them the null
    # intercept, and so λ, is on another scale (log exposure left out)
    offsets = [f"offset({o})" for o in parsed.offsets]
    null = f"{parsed.response.text} ~ " + " + ".join(["1", *offsets, *bars])
    data = fit.design.frame.data
    weights = None
    if getattr(fit.design, "weights", None) is not None:
        weights = "null_model_prior_weights_"
        data = data.assign(**{weights: np.asarray(fit.design.weights, dtype=float)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the null model's own singularity notes
        if fit.family == "negativebinomial":   # insight's null model keeps the fit's θ
            from multilevel.formula import build_design, model_frame
            from multilevel.freq.glmm import fit_glmm

            null_parsed = parse_formula(null)
            design = build_design(null_parsed, model_frame(null_parsed, data, family=fit.family))
            return float(fit_glmm(null, design, nb_theta=fit.nb_theta, warn=False).pls.beta[0])
        null_fit = fit_freq(null, data, reml=False, family=fit.family, weights=weights)
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
