"""``multilevel.fit``: one entry point, two engines.

``method="bayes"`` builds the model through Bambi and samples it with PyMC/nutpie;
``method="reml"`` / ``"ml"`` runs the lme4-style profiled-deviance engine, which
imports neither PyMC nor Bambi. Both parse the formula with the same layer
(:mod:`multilevel.formula`).
"""

from __future__ import annotations

import importlib

import pandas as pd

from multilevel.errors import DataError, FormulaError, MultilevelError

METHODS = ("bayes", "reml", "ml", "map")


def fit(
    formula: str,
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
    formula : str
        lme4 syntax: ``"y ~ x + (x | g)"`` (correlated intercept and slope),
        ``"(x || g)"`` (uncorrelated), ``"(1 | a/b)"`` (nested), several bars on
        different factors (crossed). ``cbind(s, f)`` or ``p(s, n)`` on the left for
        binomial counts; ``offset(log(exposure))`` adds a term with coefficient 1. Column
        names as R writes them: ``x.1``, ``Petal.Width``, ``yield``, ```my var```.
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
        or ``gamma``.
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
        ``weights="column"`` (lme4's prior weights), ``link="probit"`` (R's link names,
        :data:`multilevel.predict.links.LINKS`) and engine-specific settings (e.g.
        ``target_accept`` for Bayesian fits, ``optimizer`` or ``nAGQ`` for REML/ML).

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
    method = str(method).lower()
    if method not in METHODS:
        raise MultilevelError(f"Unknown method {method!r}. Use one of: {', '.join(METHODS)}.")
    data = _resolve_data(data)
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
        freq = importlib.import_module("multilevel.freq")
        return freq.fit_freq(formula, data, reml=(method == "reml"), family=family, na=na, **options)
    bayes = importlib.import_module("multilevel.bayes")
    return bayes.fit_bayes(
        formula, data, family=family, priors=priors, draws=draws, tune=tune, chains=chains,
        seed=seed, sampler=sampler, progress=progress, na=na, **options,
    )


def _resolve_data(data) -> pd.DataFrame:
    if isinstance(data, str):
        from multilevel import datasets

        return datasets.load(data)
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"data must be a pandas DataFrame or a shipped dataset name, got {type(data).__name__}."
        )
    return data
