"""``fit_freq``: lme4's modular pipeline — lFormula → mkLmerDevfun → optimizeLmer → mkMerMod."""

from __future__ import annotations

import warnings

import pandas as pd

from multilevel.errors import ConvergenceWarning, FamilyError, SingularFitWarning
from multilevel.formula import Design, build_design, model_frame, parse_formula
from multilevel.freq.deviance import Crossproducts, make_deviance, solve_pls
from multilevel.freq.optimize import minimize_theta
from multilevel.freq.result import FreqFit


def fit_freq(formula: str, data: pd.DataFrame, reml: bool = True, family: str = "gaussian",
             na: str = "drop", **options):
    """Fit by REML/ML (mixed models) or least squares / a GLM (no random effects).

    Parameters
    ----------
    formula : str
    data : DataFrame
    reml : bool
        REML (lme4's default) or maximum likelihood. Ignored for GLMs, which are ML.
    family : str
    na : {"drop", "error"}
    **options
        ``rhoend``: the optimizer's final trust-region radius.

    Returns
    -------
    FreqFit, or an ``OLSFit``/``GLMFit``/``GLMMFit`` for the other cases.
    """
    parsed = parse_formula(formula)
    frame = model_frame(parsed, data, family=family, na=na)
    design = build_design(parsed, frame)
    if not design.reterms:
        from multilevel.freq.ols import fit_linear

        return fit_linear(formula, design, reml=reml)
    if frame.family != "gaussian":
        if frame.family not in ("binomial", "bernoulli", "poisson"):
            raise FamilyError(
                f"The frequentist engine fits gaussian, binomial, bernoulli and poisson mixed "
                f"models; {frame.family!r} is available with method='bayes'."
            )
        from multilevel.freq.glmm import fit_glmm

        return fit_glmm(formula, design, **options)
    return fit_design(formula, design, reml=reml, **options)


def fit_design(formula: str, design: Design, reml: bool = True, rhoend: float | None = None) -> FreqFit:
    """Optimize the profiled deviance of a built design and assemble the result."""
    from threadpoolctl import threadpool_limits

    deviance = make_deviance(design, reml=reml)
    kwargs = {} if rhoend is None else {"rhoend": rhoend}
    # The dense pieces (Schur complement ~10³) are too small to gain from BLAS threads and
    # lose badly when cores are shared: measured 8.8 s vs 44 s on InstEval (bench/bench_freq.py).
    with threadpool_limits(limits=1, user_api="blas"):
        opt = minimize_theta(deviance, design.theta_start(), design.theta_lower(), **kwargs)
    pls = solve_pls(design, Crossproducts.from_design(design), opt.theta)
    messages = []
    if design.dropped_columns:
        messages.append(
            f"fixed-effect model matrix is rank deficient so dropping {len(design.dropped_columns)} "
            f"column(s): {', '.join(design.dropped_columns)}"
        )
    fit = FreqFit(formula=formula, design=design, method="reml" if reml else "ml", opt=opt, pls=pls,
                  messages=messages)
    for message in messages:
        warnings.warn(message, UserWarning, stacklevel=3)
    if not opt.converged:
        warnings.warn(f"The optimizer did not converge: {opt.message}. Try rhoend=1e-10 or a "
                      "simpler random-effects structure.", ConvergenceWarning, stacklevel=3)
    if fit.singular:
        warnings.warn(
            f"boundary (singular) fit: the variance of {', '.join(fit.singular_terms())} is "
            "estimated as zero (lme4's isSingular). Consider removing that term.",
            SingularFitWarning, stacklevel=3,
        )
    return fit
