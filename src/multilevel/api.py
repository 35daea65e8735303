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
        binomial counts.
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
        ``gaussian``, ``bernoulli``, ``binomial``, ``poisson``, ``t`` or ``negativebinomial``.
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
        Engine-specific settings (e.g. ``target_accept`` for Bayesian fits,
        ``optimizer`` for REML/ML).

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
        _attach_inference_methods()
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


# --- fit methods from multilevel.inference
# Thin aliases on the REML/ML result classes; the verbs in multilevel.inference are the API.
def _freq_summary(self, ci: float | None = None, ddf: str | None = "satterthwaite"):
    """Fixed-effects table with df and p, as lmerTest's ``summary``.

    Parameters
    ----------
    ci : float, optional
        Adds intervals ``lower``, ``upper`` at this level (t quantiles with the table's
        df; normal quantiles when ``ddf=None``).
    ddf : {"satterthwaite", "kenward-roger", None}
        Satterthwaite (default, lmerTest's; REML or ML fits) or Kenward-Roger (REML fits)
        denominator df: columns ``estimate``, ``std_error``, ``df``, ``t_value``, ``p``.
        None: lme4's table (``estimate``, ``std_error``, ``t_value``), no df or p.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> m.summary().round(4)
                 estimate  std_error    df  t_value    p
    (Intercept)  251.4051     6.8246  17.0  36.8383  0.0
    Days          10.4673     1.5458  17.0   6.7715  0.0
    """
    from multilevel.freq.result import wald_table

    if ddf is None:
        return wald_table(self.fixef, self.se, "t_value", ci)
    from scipy import stats

    from multilevel.errors import DataError
    from multilevel.inference import coef_table

    table = coef_table(self, ddf=ddf)
    if ci is not None:
        if not 0 < float(ci) < 1:
            raise DataError(f"ci must lie strictly between 0 and 1, got {ci!r}.")
        half = stats.t.ppf(0.5 + float(ci) / 2, table["df"]) * table["std_error"]
        table["lower"], table["upper"] = table["estimate"] - half, table["estimate"] + half
        table.attrs.update(ci=float(ci), kind="wald")
    table.attrs.update(ddf=ddf)
    return table


def _freq_confint(self, method: str = "profile", level: float = 0.95, nsim: int = 500,
                  seed: int | None = None, client=None, progress=None):
    """Intervals for every parameter (lme4's ``confint``): see :func:`multilevel.inference.confint`."""
    from multilevel.inference import confint

    return confint(self, method=method, level=level, nsim=nsim, seed=seed, client=client,
                   progress=progress)


def _freq_simulate(self, nsim: int = 1, seed: int | None = None, group_effects: bool = True):
    """Simulated responses (lme4's ``simulate``): see :func:`multilevel.inference.simulate`."""
    from multilevel.inference import simulate

    return simulate(self, nsim=nsim, seed=seed, group_effects=group_effects)


def lrt(smaller, larger, names: tuple[str, str] = ("smaller", "larger"), bootstrap: int | None = None,
        seed: int | None = None, client=None, progress=None):
    """Likelihood-ratio test of nested fits (:func:`multilevel.freq.lrt`), optionally with
    pbkrtest's parametric-bootstrap p-value.

    Parameters
    ----------
    smaller, larger, names
        As :func:`multilevel.freq.lrt`.
    bootstrap : int, optional
        Number of responses simulated from the smaller model and refitted with both
        (:func:`multilevel.inference.bootstrap_lrt`); adds the column ``p_bootstrap``
        to the larger model's row; ``result.table.attrs["bootstrap"]`` holds the
        :class:`~multilevel.inference.BootstrapLRT` (the simulated statistics).
    seed, client, progress
        Seed of the simulations; where the refits run; progress (see
        :func:`multilevel.distributed.run_jobs`).

    Examples
    --------
    >>> import multilevel as ml
    >>> d = ml.datasets.load("sleepstudy")
    >>> a = ml.fit("Reaction ~ Days + (1 | Subject)", d, method="ml")
    >>> b = ml.fit("Reaction ~ Days + (Days | Subject)", d, method="ml")
    >>> res = ml.lrt(a, b, bootstrap=20, seed=1)
    >>> round(float(res.table["p_bootstrap"].iloc[1]), 4)
    0.0476
    """
    from multilevel.freq.lrt import lrt as freq_lrt

    result = freq_lrt(smaller, larger, names=names)
    if bootstrap is None:
        return result
    from multilevel.inference import bootstrap_lrt

    boot = bootstrap_lrt(smaller, larger, nsim=int(bootstrap), seed=seed, client=client,
                         progress=progress)
    import dataclasses

    table = result.table.copy()
    table["p_bootstrap"] = [float("nan"), boot.p_bootstrap]
    table.attrs["bootstrap"] = boot
    notes = [*result.notes, f"p_bootstrap: parametric bootstrap (pbkrtest's PBmodcomp) with "
                            f"{len(boot.reference)} simulations from the smaller model."]
    return dataclasses.replace(result, table=table, notes=notes)


def _attach_inference_methods() -> None:
    """Put the aliases on FreqFit (GLMMFit keeps its own z-test summary). Called when the
    frequentist engine is loaded (by ``fit`` or already in ``sys.modules``), so that
    ``import multilevel`` does not import the engine."""
    from multilevel.freq.result import FreqFit

    if getattr(FreqFit, "_inference_methods", False):
        return
    FreqFit.summary = _freq_summary
    FreqFit.confint = _freq_confint
    FreqFit.simulate = _freq_simulate
    FreqFit._inference_methods = True


if "multilevel.freq.result" in __import__("sys").modules:
    _attach_inference_methods()
