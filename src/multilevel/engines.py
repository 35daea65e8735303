"""The engine dispatch behind ``ml.fit``: ``method`` -> the lme4-style profiled-deviance
engine (:mod:`multilevel.freq`), the Bayesian engine (:mod:`multilevel.bayes`) or the
penalized posterior mode (:func:`multilevel.priors.map_estimate`).

``method="bayes"`` builds the model through Bambi and samples it with PyMC/nutpie;
``method="reml"`` / ``"ml"`` runs the lme4-style profiled-deviance engine, which
imports neither PyMC nor Bambi. Both parse the formula with the same layer
(:mod:`multilevel.formula`).

This module sits in the engines' layer, so that the verbs that refit (cross-validation,
prior comparisons, SBC, regularization paths, the evidence for a random effect) call
:func:`fit` without importing the entry layer; users call it as ``ml.fit``
(:mod:`multilevel.api`).
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

from multilevel.errors import (
    DataError,
    FamilyError,
    FitError,
    FormulaError,
    MultilevelError,
)

if TYPE_CHECKING:   # pandas is imported where data are read: `import multilevel` stays light
    import pandas as pd

METHODS = ("bayes", "reml", "ml", "map")
# Engine options of method="bayes": name -> (check, what it must be)
BAYES_OPTIONS = {
    "target_accept": (lambda v: _real(v) and 0.5 <= v < 1, "a number in [0.5, 1)"),
    "lkj_eta": (lambda v: _real(v) and v > 0, "a number > 0"),
    "check": (lambda v: _bool(v), "True or False"),
    "noncentered": (lambda v: _bool(v) or v == "auto", "True, False or 'auto'"),
    "log_likelihood": (lambda v: _bool(v), "True or False"),
    "keep_unconstrained": (lambda v: _bool(v), "True or False"),
}
_ARGUMENTS = ("draws", "tune", "chains", "seed", "sampler", "progress", "na")
FREQ_OPTIONS = {
    "rhoend": (lambda v: _real(v) and 0 < v < 1, "a number in (0, 1)"),
    "maxeval": (lambda v: _integer(v) and v >= 1, "an integer >= 1"),
    "solver": (lambda v: isinstance(v, str), "a string ('auto', 'block', 'cholmod' or 'splu')"),
    # its range (a positive integer; one scalar random effect when > 1) is the engine's check
    "nAGQ": (lambda v: _integer(v), "an integer"),
    "optimizer": (lambda v: isinstance(v, str), "a string ('glmer' or 'bobyqa')"),
}


def fit(
    formula: str | list[str],
    data: pd.DataFrame | str,
    method: str = "bayes",
    family: str = "gaussian",
    priors=None,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    sampler: str = "auto",
    progress: bool = True,
    na: str = "drop",
    **options,
):
    """Fit a (multilevel) regression model written in lme4's formula language.

    Parameters
    ----------
    formula : str or list of str
        lme4 syntax: ``"y ~ x + (x | g)"`` (correlated intercept and slope),
        ``"(x || g)"`` (uncorrelated), ``"(1 | a/b)"`` (nested), several bars on
        different factors (crossed). ``cbind(s, f)`` or ``p(s, n)`` on the left for
        binomial counts; ``offset(log(exposure))`` adds a term with coefficient 1. Column
        names as R writes them: ``x.1``, ``Petal.Width``, ``yield``, ```my var```.
        Bayesian only, a list: the response's formula, then ``"<parameter> ~ terms"`` for
        the family's auxiliary parameters (distributional regression, Bambi's
        ``bmb.Formula``): ``["y ~ x + (1 | g)", "sigma ~ x"]``, ``["n ~ x", "psi ~ x"]``.
    data : DataFrame or str
        The data, or the name of a shipped data set (see :mod:`multilevel.datasets`).
    method : {"bayes", "reml", "ml"}
        ``"bayes"``: posterior sampling (returns :class:`~multilevel.bayes.BayesFit`).
        ``"reml"``/``"ml"``: lme4's (RE)ML estimates (returns
        :class:`~multilevel.freq.FreqFit`); a formula without bars gives least squares
        (or a GLM for other families). ``"map"``: the posterior mode of a Gaussian
        regression under a fixed-scale ridge/lasso/elastic-net prior with σ held fixed
        (``sigma=``, default the least-squares σ̂) — the penalized least-squares
        solution, as a Series (see :func:`multilevel.priors.map_estimate`).
    family : str
        ``gaussian``, ``bernoulli``, ``binomial``, ``poisson``, ``t``, ``negativebinomial``
        or ``gamma``; Bayesian only: ``beta``, ``exponential``, ``weibull``, ``laplace``,
        ``zero_inflated_poisson``, ``zero_inflated_negativebinomial``, ``hurdle_poisson``,
        ``hurdle_negativebinomial``, ``hurdle_gamma``, ``beta_binomial``,
        ``zero_inflated_binomial``, ``wald``, ``lognormal``, ``hurdle_lognormal``, and the
        ordinal ``cumulative`` and ``sratio``, and ``categorical`` (README's family table).
    priors : None, str, dict or preset
        Bayesian only. ``None``: the weakly-informative defaults. A preset such as
        ``ml.priors.ridge()`` for the fixed effects, or a dict mapping term names to
        priors (see :mod:`multilevel.priors`).
    draws, tune, chains, seed, sampler, progress
        Bayesian sampling settings; ``sampler="auto"`` uses the fastest installed
        sampler (the choice is recorded on the fit).
    na : {"drop", "error"}
        Rows with missing values in used columns are dropped with a warning that says
        how many (lme4's ``na.omit``), or refused.
    **options
        ``weights="column"`` (lme4's prior weights), ``offset="column"`` (glmer's
        ``offset=`` argument: the same as ``offset(column)`` in the formula, to which it is
        added, so new data for predictions need the column), ``link="probit"`` (R's link names,
        :data:`multilevel.formula.links.LINKS`) and engine-specific settings (e.g.
        ``target_accept`` for Bayesian fits, ``optimizer`` or ``nAGQ`` for REML/ML).
        ``keep_unconstrained=True`` (Bayesian, NUTS) keeps every draw of the sampler's
        unconstrained parameter vector, which :func:`multilevel.compare.bridge_sampler`
        and :func:`multilevel.compare.bayes_factor` need (brms' ``save_pars(all = TRUE)``).

    Returns
    -------
    BayesFit or FreqFit

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> round(m.reml_criterion, 3)
    1743.628
    """
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise MultilevelError(f"Unknown method {method!r}. Use one of: {', '.join(METHODS)}.")
    method = method.lower()
    offset = options.pop("offset", None)
    _check_arguments(formula, family, method, draws, tune, chains, seed, sampler, progress, options)
    draws, tune, chains = int(draws), int(tune), int(chains)   # numpy integers included
    seed = None if seed is None else int(seed)
    data = _resolve_data(data)
    if offset is not None:
        formula = _with_offset(formula, offset, data)
    if isinstance(formula, (list, tuple)) and len(formula) == 1:
        formula = formula[0]   # a list of one: the response's formula alone
    if method != "bayes":
        from multilevel.formula import parse_formula

        residuals = parse_formula(formula).residuals
        if residuals is not None:
            raise FormulaError(f"{residuals.source!r} (correlated residuals within groups) is fitted "
                               f"with method='bayes'; method={method!r} assumes independent residuals.")
    if method == "map":
        from multilevel.priors import map_estimate

        sigma = options.pop("sigma", None)
        if sigma is None:  # hold σ at the least-squares estimate
            sigma = fit(formula, data, method="ml", family=family, na=na).sigma
        return map_estimate(formula, data, priors, sigma=sigma)
    if method in ("reml", "ml"):
        if priors is not None:
            raise MultilevelError(
                f"priors are for method='bayes'; method={method!r} estimates without priors. "
                "Remove priors= or use method='bayes'."
            )
        from multilevel import freq

        return freq.fit_freq(formula, data, reml=(method == "reml"), family=family, na=na, **options)
    from multilevel import bayes  # imports PyMC and Bambi: only for method="bayes"

    return bayes.fit_bayes(
        formula, data, family=family, priors=priors, draws=draws, tune=tune, chains=chains,
        seed=seed, sampler=sampler, progress=progress, na=na, **options,
    )


def _with_offset(formula, offset, data: pd.DataFrame):
    """The formula with ``+ offset(column)`` added: lme4's ``offset=`` argument is summed
    with the formula's offsets, so it is one more offset term (kept by every refit)."""
    if not isinstance(offset, str):
        raise DataError(f"offset= takes the name of a data column, got {type(offset).__name__}. "
                        "Add the offset to the data and pass the column's name, or write "
                        "offset(expr) in the formula.")
    if offset not in data.columns:
        shown = ", ".join(map(str, list(data.columns)[:30]))
        raise DataError(f"The offset column {offset!r} is not in the data. Available columns: {shown}.")
    name = offset if offset.isidentifier() else f"`{offset}`"
    if isinstance(formula, (list, tuple)):
        return [f"{formula[0]} + offset({name})", *formula[1:]]
    return f"{formula} + offset({name})"


def _real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value


def _integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _bool(value) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_"


def _check_arguments(formula, family, method, draws, tune, chains, seed, sampler, progress,
                     options) -> None:
    """Wrong-typed arguments are refused here, naming the argument, before any work."""
    if isinstance(formula, (list, tuple)) and formula and all(isinstance(f, str) for f in formula):
        if len(formula) > 1 and method != "bayes":
            raise FormulaError(
                f"A list of formulas (a distributional model: {list(formula)!r}) is fitted with "
                f"method='bayes'; method={method!r} is lme4's, and lme4 has no distributional "
                "models (formulas for sigma, psi, ...). Use method='bayes', or give only the "
                "response's formula."
            )
    elif not isinstance(formula, str):
        raise FormulaError(f"formula must be a string such as 'y ~ x + (1 | g)', or a list such as "
                           f"['y ~ x + (1 | g)', 'sigma ~ x']; got {type(formula).__name__}.")
    if not isinstance(family, str):
        raise FamilyError(f"family must be a string such as 'gaussian', got {family!r}.")
    for name, value, low in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        if not _integer(value) or value < low:
            raise FitError(f"{name} must be an integer >= {low}, got {value!r}.")
    if seed is not None and (not _integer(seed) or seed < 0):
        raise FitError(f"seed must be None or an integer >= 0, got {seed!r}.")
    if not isinstance(sampler, str):
        raise FitError(f"sampler must be a string such as 'auto', 'nutpie' or 'pymc', got {sampler!r}.")
    if not _bool(progress):
        raise FitError(f"progress must be True or False, got {progress!r}.")
    data2 = options.get("data2")
    if data2 is not None and not (isinstance(data2, dict) and all(isinstance(k, str) for k in data2)):
        raise FitError(f"data2 must be a dict from names (as in gr(g, cov = A)) to matrices, got "
                       f"{type(data2).__name__}.")
    if method == "map":
        return
    valid = BAYES_OPTIONS if method == "bayes" else FREQ_OPTIONS
    if method == "bayes":   # the frequentist engine lists its own unknown options (SpecError)
        import inspect

        from multilevel.bayes.fit import fit_bayes

        accepted = [name for name, p in inspect.signature(fit_bayes).parameters.items()
                    if p.kind is p.KEYWORD_ONLY and name not in _ARGUMENTS]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise FitError(f"Unknown option(s) {', '.join(map(repr, unknown))} for method='bayes'. "
                           f"Valid: {', '.join(accepted)}.")
    for name, value in options.items():
        check, what = valid.get(name, (lambda v: True, ""))
        if not check(value):
            raise FitError(f"{name} must be {what}, got {value!r}.")


def _resolve_data(data) -> pd.DataFrame:
    import pandas as pd

    if isinstance(data, str):
        from multilevel import datasets

        return datasets.load(data)
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"data must be a pandas DataFrame or a shipped dataset name, got {type(data).__name__}."
        )
    return data
