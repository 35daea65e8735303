"""``fit_freq``: lme4's modular pipeline — lFormula → mkLmerDevfun → optimizeLmer → mkMerMod.

Stages, each a plain function: :func:`~multilevel.formula.build_design` (design),
:func:`~multilevel.freq.deviance.make_deviance` (deviance(θ)),
:func:`~multilevel.freq.optimize.minimize_theta` (optimize) and
:class:`~multilevel.freq.result.FreqFit` (result).
"""

from __future__ import annotations

import pandas as pd

from multilevel.errors import FamilyError, SpecError
from multilevel.formula import Design, build_design, model_frame, parse_formula
from multilevel.freq.messages import rank_message, warn_fit
from multilevel.freq.optimize import optimize_design
from multilevel.freq.result import FreqFit
from multilevel.freq.structures import check_family as check_structures
from multilevel.formula.links import check_link
from multilevel.formula.validate import check_glmm_response_varies

GLMM_FAMILIES = ("binomial", "bernoulli", "poisson", "gamma", "negativebinomial", "wald")
OPTIONS = {"rhoend": "the optimizer's final θ tolerance (default 1e-10)",
           "maxeval": "deviance evaluations allowed per optimizer run (default 100000)",
           "solver": "factorization of Λ'Z'ZΛ + I: 'auto', 'block', 'cholmod' or 'splu'",
           "nAGQ": "GLMMs: 1 = Laplace (default); > 1 adaptive Gauss-Hermite points for one "
                   "scalar random effect",
           "optimizer": "GLMMs: 'glmer' (default; replays R's default glmer() run and prints its "
                        "numbers) or 'bobyqa' (to the optimum of the Laplace/AGQ deviance)"}


def fit_freq(formula: str, data: pd.DataFrame, reml: bool = True, family: str = "gaussian",
             na: str = "drop", weights: str | None = None, link: str | None = None,
             data2: dict | None = None, **options):
    """Fit by REML/ML (mixed models) or least squares / a GLM (no random effects).

    Parameters
    ----------
    formula : str
        lme4 syntax; without ``( | )`` terms the model is a linear model (R's ``lm``)
        or, for other families, a GLM (R's ``glm``).
    data : DataFrame
    reml : bool
        REML (lme4's default) or maximum likelihood. GLMs and GLMMs are fitted by ML
        (there is no REML for them, as in lme4); asking for REML raises FamilyError.
    family : {"gaussian", "binomial", "bernoulli", "poisson"}
    na : {"drop", "error"}
    weights : str, optional
        A column of prior weights, as lme4's ``weights=``: gaussian residual variance σ²/w;
        binomial with a proportion response: the trials (see :mod:`multilevel.formula.weights`).
    link : str, optional
        R's link for GLMs/GLMMs (``"probit"``, ``"cloglog"``, ``"sqrt"``, ``"inverse"``, ...;
        :data:`multilevel.formula.links.LINKS`); None: the family's default.
    data2 : dict, optional
        Known covariance matrices of ``(1 | gr(g, cov = A))`` terms by name (brms's
        ``data2``; :mod:`multilevel.formula.known`).
    **options
        ``rhoend`` (θ tolerance), ``maxeval`` (evaluations per optimizer run), ``solver`` (see :mod:`multilevel.freq.factor`),
        ``nAGQ`` and ``optimizer`` (GLMMs; see :func:`~multilevel.freq.glmm.fit_glmm`).

    Returns
    -------
    FreqFit, GLMMFit, OLSFit or GLMFit

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.freq import fit_freq
    >>> m = fit_freq("Reaction ~ Days + (1 | Subject)", ml.datasets.load("sleepstudy"), reml=False)
    >>> round(m.loglik, 3)
    -897.039
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise SpecError(f"Unknown option(s) {unknown} for method='reml'/'ml'. Valid: "
                        + "; ".join(f"{k}: {v}" for k, v in OPTIONS.items()))
    parsed = parse_formula(formula)
    frame = model_frame(parsed, data, family=family, na=na, weights=weights)
    if frame.family not in ("gaussian", *GLMM_FAMILIES):
        raise FamilyError(
            f"The frequentist engine fits gaussian, binomial, bernoulli, poisson, gamma, "
            f"negative binomial and inverse Gaussian ('wald') models; "
            f"{frame.family!r} is available with method='bayes'."
        )
    if frame.family != "gaussian" and reml:
        raise FamilyError(
            f"REML is defined for gaussian models only; a {frame.family} model is fitted by "
            "maximum likelihood (the Laplace approximation with random effects, as glmer). "
            "Use method='ml'."
        )
    design = build_design(parsed, frame, data2=data2)
    link = check_link(frame.family, link)
    general = [t.bar.source for t in design.reterms if t.is_general]
    if general and frame.family != "gaussian":
        raise FamilyError(f"Smooths and known-covariance terms ({', '.join(general)}) are fitted for "
                          "gaussian models by method='reml'/'ml' (glmer has neither); for other "
                          "families use method='bayes' for gr(g, cov = A).")
    nagq = options.pop("nAGQ", 1)
    if weights is not None and frame.family == "negativebinomial":
        raise FamilyError("weights= with family='negativebinomial' is not available yet (gaussian, "
                          "binomial, poisson and gamma prior weights are); fit without weights.")
    if frame.family == "gaussian" and link not in (None, "identity"):
        raise FamilyError(f"link={link!r} for a gaussian mixed model is available with method='bayes'; "
                          "method='reml'/'ml' fits the identity link (lmer).")
    if not design.reterms:
        if options:
            raise SpecError(f"Option(s) {sorted(options)} apply to mixed models; {formula!r} "
                            "has no random-effects terms.")
        if frame.family == "gaussian":
            from multilevel.freq.ols import fit_linear

            return fit_linear(formula, design, reml=reml)
        from multilevel.freq.glm import fit_glm, fit_glm_nb

        if frame.family == "negativebinomial":   # MASS's glm.nb
            return fit_glm_nb(formula, design, link=link)
        return fit_glm(formula, design, link=link)
    check_structures(design, frame.family)   # structured terms: gaussian LMMs only
    if frame.family != "gaussian":
        check_glmm_response_varies(design.y, parsed.response.text, frame.trials)
    if frame.family == "negativebinomial":
        from multilevel.freq.negbin import fit_glmer_nb

        return fit_glmer_nb(formula, design, nAGQ=nagq, link=link, **options)
    if frame.family != "gaussian":
        from multilevel.freq.glmm import fit_glmm

        return fit_glmm(formula, design, nAGQ=nagq, link=link, **options)
    if nagq != 1:
        raise SpecError("nAGQ applies to GLMMs; a gaussian mixed model's likelihood is exact.")
    if "optimizer" in options:
        raise SpecError("optimizer applies to GLMMs; a gaussian mixed model is always optimized "
                        "to its optimum (BOBYQA, tuned with rhoend/maxeval).")
    return fit_design(formula, design, reml=reml, **options)


def fit_design(formula: str, design: Design, reml: bool = True, rhoend: float | None = None,
               solver: str = "auto", warn: bool = True, maxeval: int | None = None) -> FreqFit:
    """Optimize the profiled deviance of a built design and assemble the result.

    ``warn=False`` suppresses the warnings (used for ML refits of REML fits, whose
    warnings the user has already seen).
    """
    opt, pls = optimize_design(design, reml=reml, solver=solver, rhoend=rhoend, maxeval=maxeval)
    fit = FreqFit(formula=formula, design=design, method="reml" if reml else "ml", opt=opt, pls=pls,
                  messages=rank_message(design), solver=solver)
    if warn:
        warn_fit(fit)
    return fit
