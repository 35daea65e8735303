"""``fit_bayes``: build → sample → :class:`BayesFit` (what ``ml.fit(method="bayes")`` runs)."""

from __future__ import annotations

import dataclasses
import time
import warnings

import pandas as pd

from multilevel.bayes import loglik
from multilevel.bayes.model import build_model
from multilevel.bayes.result import BayesFit
from multilevel.bayes.sampling import (
    SamplingSettings,
    check_settings,
    choose_sampler,
    prefers_marginal,
    run,
)

TARGET_ACCEPT = 0.9
# a non-centred group term on a factor of at most FEW_LEVELS levels: its SD's posterior is
# wide and skewed, and NUTS at 0.9 diverged in most seeds (4 x 1000, seeds 1-8: Dyestuff's
# 6 batches 7/8 fits warned, 0/8 at 0.95; sleepstudy's (Days | Subject) on 6 subjects 3/3,
# 0/4; Pastes' 10 batches with casks nested 6/8, 4/8; bench/README "Few levels")
FEW_LEVELS = 10
FEW_LEVELS_TARGET_ACCEPT = 0.95


def fit_bayes(formula: str | list[str], data: pd.DataFrame, family: str = "gaussian", priors=None, *,
              draws: int = 1000, tune: int = 1000, chains: int = 4, seed: int | None = None,
              sampler: str = "auto", progress: bool = True, na: str = "drop",
              target_accept: float | None = None, lkj_eta: float = 1.0, check: bool = True,
              noncentered: bool | str = "auto", weights: str | None = None,
              link: str | None = None, data2: dict | None = None,
              log_likelihood: bool = True, keep_unconstrained: bool = False) -> BayesFit:
    """Fit a Bayesian multilevel model (see :func:`multilevel.fit` for the arguments).

    Parameters
    ----------
    target_accept : float, optional
        NUTS target acceptance rate; raise it (0.95, 0.99) when there are divergences.
        ``None``: :func:`default_target_accept` (0.9; the coefficient preset's own, as the
        horseshoe's and the learned lasso's scale mixtures need smaller steps; 0.95 for a
        non-centred group term on a factor with few levels).
    lkj_eta : float
        LKJ shape of the correlation prior of ``(x | g)`` blocks.
    check : bool
        Run the convergence report after sampling and warn (:class:`ConvergenceWarning`)
        with the fix when a check fails.
    noncentered : bool or "auto"
        Parameterization of scalar group effects (see :func:`build_model`); ``"auto"``
        (the default) centres a term whose levels the data pin down.
    weights, link, data2
        See :func:`build_model`.
    log_likelihood : bool
        Store the pointwise log-likelihood of the fitted rows (``idata.log_likelihood``,
        what LOO and WAIC read). Refits that only score held-out rows (K-fold, reloo)
        pass ``False`` and skip it.
    keep_unconstrained : bool
        Keep nutpie's unconstrained parameter vector of every draw
        (``idata.sample_stats.unconstrained_draw``, with its ``logp``): the points at
        which the model's log density is evaluated, which bridge sampling needs. NUTS
        only: ``sampler="auto"`` then samples with nutpie even where it would integrate
        the group effects out (``"marginal"``).
    """
    check_settings(draws, tune, chains, TARGET_ACCEPT if target_accept is None else target_accept)
    chosen = choose_sampler(sampler)
    start = time.perf_counter()
    built = build_model(formula, data, family=family, priors=priors, na=na, lkj_eta=lkj_eta,
                        noncentered=noncentered, weights=weights, link=link, data2=data2)
    if target_accept is None:
        target_accept = default_target_accept(priors, built)
    settings = SamplingSettings(sampler=chosen, draws=draws, tune=tune, chains=chains, seed=seed,
                                target_accept=float(target_accept))
    if keep_unconstrained and settings.sampler != "nutpie":
        from multilevel.errors import FitError

        raise FitError(f"keep_unconstrained=True keeps nutpie's unconstrained draws; sampler={sampler!r} "
                       f"samples with {settings.sampler!r}: use sampler='auto' or 'nutpie'.")
    if built.aux and settings.sampler == "marginal":
        from multilevel.errors import FitError

        raise FitError("sampler='marginal' integrates the group effects out under one residual SD; "
                       "a model with a formula for an auxiliary parameter runs with NUTS: use "
                       "sampler='auto', 'nutpie' or 'pymc'.")
    collapsed = None
    if str(sampler).lower() == "auto" and not keep_unconstrained and prefers_marginal(built):
        from multilevel.bayes.marginal.model import NotCollapsible, collapse

        try:
            collapsed = collapse(built)
            settings = dataclasses.replace(settings, sampler="marginal")
        except NotCollapsible:
            pass   # NUTS as chosen above
    # PyMC compiles a log-likelihood function per fit; the common families need none (and
    # the marginal sampler only takes models of those families)
    numpy_loglik = log_likelihood and loglik.supports(built)
    built_at = time.perf_counter()
    with warnings.catch_warnings():
        # PyMC/nutpie chatter (e.g. FutureWarnings of their own dependencies) is not the user's.
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        # PyTensor's C backend notice on machines without a linkable BLAS (pip installs):
        # an environment fact, documented in the README's performance notes.
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        compile_stats: dict = {}
        if settings.sampler == "marginal":
            from multilevel.bayes.marginal.run import sample_marginal

            idata = sample_marginal(built, settings, stats=compile_stats, collapsed=collapsed)
        else:
            idata = run(built.bambi, settings, progress=progress, stats=compile_stats,
                        log_likelihood=log_likelihood and not numpy_loglik,
                        keep_unconstrained=keep_unconstrained)
    done = time.perf_counter()
    timings = {"build": built_at - start, "sample": done - built_at}
    if "cache" in compile_stats:  # nutpie: "hit" = compiled model loaded from the disk cache
        timings["compile_cache"] = compile_stats["cache"]
        timings["compilations"] = compile_stats.get("compiled", 0)  # 0: reused (cache.compilations)
    if settings.sampler == "marginal":  # its stages' seconds, warm-up length, acceptance rate
        timings["marginal"] = compile_stats
    fit = BayesFit(built=built, idata=idata, settings=settings, timings=timings)
    if numpy_loglik:
        loglik.attach(fit)
        timings["log_likelihood"] = time.perf_counter() - done
    if check:
        fit.check_convergence()
    return fit


def default_target_accept(priors, built=None) -> float:
    """NUTS's target acceptance when none is given: a shrinkage preset's own (its funnel
    needs smaller steps); else :data:`FEW_LEVELS_TARGET_ACCEPT` when ``built`` (a
    :class:`~multilevel.bayes.model.BuiltModel`) has a non-centred group term on a factor
    of at most :data:`FEW_LEVELS` levels; else :data:`TARGET_ACCEPT`."""
    preset = priors.get("common") if isinstance(priors, dict) else priors
    own = getattr(preset, "target_accept", None)
    if own is not None:
        return float(own)
    if built is not None and few_level_noncentred_terms(built):
        return FEW_LEVELS_TARGET_ACCEPT
    return TARGET_ACCEPT


def few_level_noncentred_terms(built) -> list[str]:
    """lme4's names of ``built``'s non-centred group terms whose factor has at most
    :data:`FEW_LEVELS` levels (a correlated block is always non-centred)."""
    from multilevel.bayes.model import parameterization

    centred, _, noncentered = parameterization(built)
    levels = {term.name: len(term.levels) for term in built.design.reterms}
    return [block.name for block in built.blocks
            if levels.get(block.name, FEW_LEVELS + 1) <= FEW_LEVELS
            and (block.correlated or (noncentered if centred is None
                                      else not set(block.bambi_terms) <= centred))]
