"""``multilevel.fit``: one entry point, two engines — and the fit methods that call verbs.

``ml.fit`` is :func:`multilevel.engines.fit` (the dispatch lives in the engines' layer,
so the verbs that refit can call it). ``method="bayes"`` builds the model through Bambi
and samples it with PyMC/nutpie; ``method="reml"`` / ``"ml"`` runs the lme4-style
profiled-deviance engine, which imports neither PyMC nor Bambi.

The entry layer is also where convenience methods that call a verb or the report
(``fit.report()``, ``fit.predict()`` of Bayesian fits, ``fit.sensitivity()``...) are
attached to the result classes: result objects hold results and answer questions about
themselves, and nothing below this layer imports one above it (see the README's
"Architecture" section). The blocks at the end of this file, one per package, each
define thin functions with deferred imports; :func:`attach` sets them on a result class
when the class's module is first imported, so ``import multilevel`` imports neither the
engines nor the verbs, and every fit object, however it was made, has the methods.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from typing import TYPE_CHECKING

from multilevel.engines import METHODS, _resolve_data, fit  # noqa: F401 (_resolve_data: old home)

if TYPE_CHECKING:   # pandas is imported where it is used: `import multilevel` stays light
    import pandas as pd

__all__ = ["METHODS", "attach", "fit", "lrt", "r2"]

# module name -> [(class name, method name, function)]
_PENDING: dict[str, list[tuple[str, str, object]]] = {}


def attach(module: str, cls: str, name: str):
    """Decorator: set the function as method ``name`` of class ``module.cls``.

    Done at once when the module is already imported, otherwise right after its first
    import (a finder on ``sys.meta_path`` wraps that module's loader), so the classes'
    modules, and PyMC behind the Bayesian ones, are not imported to attach methods.
    """

    def register(function):
        method = _as_method(function, cls, name)
        _PENDING.setdefault(module, []).append((cls, name, method))
        if module in sys.modules:
            setattr(getattr(sys.modules[module], cls), name, method)
        return function

    return register


def _as_method(function, cls: str, name: str):
    """The function under the method's own name (``help(fit.report)``, tracebacks); no
    wrapper, so that warnings' stack levels stay those of a method defined in the class."""
    function.__name__, function.__qualname__ = name, f"{cls}.{name}"
    return function


def _attach_all(module) -> None:
    for cls, method, function in _PENDING.get(module.__name__, ()):
        setattr(getattr(module, cls), method, function)


class _AttachOnImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: for a module with pending methods it asks the path finder
    and wraps the loader so that the methods are attached once the module has run."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _PENDING or path is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_attach(module):
            exec_module(module)
            _attach_all(module)

        spec.loader.exec_module = exec_and_attach
        return spec


if not any(isinstance(finder, _AttachOnImport) for finder in sys.meta_path):
    sys.meta_path.insert(0, _AttachOnImport())


# Adding a method: a block headed "# --- fit methods from multilevel.<package>" with a
# function that imports the verb inside its body, decorated with
# @attach("<module of the class>", "<class>", "<method name>"). Code below this layer
# calls the verb itself, never the alias.


# --- fit methods from multilevel.report
@attach("multilevel.freq.result", "FreqFit", "report")
@attach("multilevel.freq.ols", "NoRandomEffects", "report")
def _freq_report(self, path, ci: float = 0.95):
    """Write the HTML and markdown report (model, data, Wald interval table, variance
    components, convergence checks, forest plot) into the folder ``path``.

    Returns the path of ``report.html``; the folder is written all or nothing
    (:func:`multilevel.report.write_report`).

    Examples
    --------
    >>> import multilevel as ml, tempfile
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> m.report(tempfile.mkdtemp() + "/report").name
    'report.html'
    """
    from multilevel.report import write_report

    return write_report(self, path, ci=ci)


@attach("multilevel.bayes.result", "BayesFit", "report")
def _bayes_report(self, path, ci: float = 0.95, kind: str = "eti"):
    """Write an HTML and markdown report (interval table, convergence, rank plots,
    forest plot, posterior predictive check) into the folder ``path``.

    Returns the path of ``report.html``; the folder is written all or nothing.
    """
    from multilevel.report import write_report

    return write_report(self, path, ci=ci, kind=kind)


# --- fit methods from multilevel.predict
@attach("multilevel.bayes.result", "BayesFit", "predict")
def _bayes_predict(self, newdata: pd.DataFrame | None = None, group_effects: bool | str = True,
                   new_groups: str = "population", kind: str = "mean", ci: float = 0.95,
                   seed: int | None = None, na_action: str = "pass") -> pd.DataFrame:
    """Posterior predictions per row: estimate, sd and a credible interval.

    Parameters
    ----------
    newdata : DataFrame or None
        None predicts the fitted rows.
    group_effects : bool or str
        False gives population-level predictions (lme4's ``re.form = NA``); a formula
        of group-effect terms, such as ``"~ (1 | Subject)"``, only those group effects
        (lme4's ``re.form = ~ (1 | Subject)``; :mod:`multilevel.formula.reform`).
    new_groups : {"population", "sample", "error"}
        Levels not seen in the fit: at the population mean (lme4's
        ``allow.new.levels``), with a new group effect drawn from the fitted group
        distribution per posterior draw, or a DataError.
    kind : {"mean", "predictive"}
        The expected response, or new observations drawn from the likelihood.
    ci : float
    seed : int or None
        Seeds the draws of new groups and of predictive observations.
    na_action : {"pass", "exclude", "omit", "fail"}
        Rows of ``newdata`` with a missing predictor value: NaN ("pass", lme4's default,
        or "exclude"), left out ("omit"), or a DataError ("fail"); a DataWarning says how
        many. A missing grouping value is a new level (``new_groups``).

    Examples
    --------
    >>> new = pd.DataFrame({"Days": [5, 5], "Subject": ["308", "new"]})  # doctest: +SKIP
    >>> fit.predict(new, new_groups="sample", seed=1)                    # doctest: +SKIP
    """
    from multilevel.predict import predict_bayes

    return predict_bayes(self, newdata, group_effects=group_effects, new_groups=new_groups,
                         kind=kind, ci=ci, seed=seed, na_action=na_action)


@attach("multilevel.bayes.result", "BayesFit", "fitted")
def _bayes_fitted(self, group_effects: bool | str = True, ci: float = 0.95) -> pd.DataFrame:
    """brms's ``fitted()``: the expected response of each fitted row (posterior mean,
    ``sd``, equal-tailed ``lower``/``upper``); a binomial response as a proportion.

    Examples
    --------
    >>> fit.fitted().head(2)   # doctest: +SKIP
    """
    from multilevel.predict.fitted import fitted_bayes

    return fitted_bayes(self, group_effects=group_effects, ci=ci)


@attach("multilevel.bayes.result", "BayesFit", "residuals")
def _bayes_residuals(self, type: str = "response", group_effects: bool | str = True,
                     ci: float = 0.95) -> pd.DataFrame:
    """brms's ``residuals()``: y − E[y] per draw (``"response"``, brms's ``"ordinary"``)
    or divided by the family's SD of y (``"pearson"``), summarized per fitted row.

    Examples
    --------
    >>> fit.residuals(type="pearson").head(2)   # doctest: +SKIP
    """
    from multilevel.predict.fitted import residuals_bayes

    return residuals_bayes(self, type=type, group_effects=group_effects, ci=ci)


# --- fit methods from multilevel.sensitivity
@attach("multilevel.bayes.result", "BayesFit", "prior_predictive")
def _bayes_prior_predictive(self, draws: int = 500, seed: int | None = None):
    """Draws from the prior and the prior predictive distribution (a DataTree)."""
    from multilevel.sensitivity import prior_predictive

    return prior_predictive(self, draws=draws, seed=seed)


@attach("multilevel.bayes.result", "BayesFit", "sensitivity")
def _bayes_sensitivity(self, var_names: list[str] | None = None) -> pd.DataFrame:
    """Power-scaling prior/likelihood sensitivity per parameter with a plain flag
    (prior-data conflict, weak likelihood, ok); see :mod:`multilevel.sensitivity`."""
    from multilevel.sensitivity import sensitivity

    return sensitivity(self, var_names=var_names)


# --- fit methods from multilevel.inference
# Thin aliases on FreqFit (GLMMFit keeps its own z-test summary); the verbs in
# multilevel.inference are the API. ml.lrt adds pbkrtest's bootstrap p to freq's LRT.
@attach("multilevel.freq.result", "FreqFit", "summary")
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

    from multilevel.errors import check_level
    from multilevel.inference import coef_table

    table = coef_table(self, ddf=ddf)
    if ci is not None:
        ci = check_level(ci)
        half = stats.t.ppf(0.5 + float(ci) / 2, table["df"]) * table["std_error"]
        table["lower"], table["upper"] = table["estimate"] - half, table["estimate"] + half
        table.attrs.update(ci=float(ci), kind="wald")
    table.attrs.update(ddf=ddf)
    return table


@attach("multilevel.freq.result", "FreqFit", "confint")
def _freq_confint(self, method: str = "profile", level: float = 0.95, nsim: int = 500,
                  seed: int | None = None, client=None, progress=None, parm=None):
    """Intervals for every parameter, or those ``parm`` names (lme4's ``confint``): see
    :func:`multilevel.inference.confint`."""
    from multilevel.inference import confint

    return confint(self, method=method, level=level, nsim=nsim, seed=seed, client=client,
                   progress=progress, parm=parm)


@attach("multilevel.freq.result", "FreqFit", "simulate")
def _freq_simulate(self, nsim: int = 1, seed: int | None = None, group_effects: bool = True):
    """Simulated responses (lme4's ``simulate``): see :func:`multilevel.inference.simulate`."""
    from multilevel.inference import simulate

    return simulate(self, nsim=nsim, seed=seed, group_effects=group_effects)


@attach("multilevel.freq.result", "FreqFit", "refit")
def _freq_refit(self, newresp):
    """The same model fitted to a new response (lme4's ``refit``): see
    :func:`multilevel.inference.bootstrap.refit`."""
    from multilevel.inference.bootstrap import refit

    return refit(self, newresp)


def lrt(*fits, names=None, bootstrap: int | None = None, seed: int | None = None, client=None,
        progress=None):
    """Likelihood-ratio test of nested fits (:func:`multilevel.freq.lrt`), optionally with
    pbkrtest's parametric-bootstrap p-value; with three or more fits, lme4's
    ``anova(m0, m1, m2)``: each tested against the next smaller one
    (:func:`multilevel.freq.lrt.lrt_sequence`).

    Parameters
    ----------
    *fits
        Two or more REML/ML fits of the same rows and response, nested in turn.
    names : sequence of str, optional
        Row labels in the order of the fits given (each label stays with its fit when the
        table orders the fits by parameter count); default ``("smaller", "larger")`` by role
        for two fits, ``model1``, ``model2``, ... (in the order given) for more.
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
    from multilevel.errors import ComparisonError
    from multilevel.freq.lrt import lrt as freq_lrt
    from multilevel.freq.lrt import lrt_sequence

    if len(fits) < 2:
        raise ComparisonError(f"lrt compares two or more fits; got {len(fits)}.")
    if len(fits) > 2:
        if bootstrap is not None:
            raise ComparisonError("bootstrap= tests one pair of fits; call ml.lrt(smaller, larger, "
                                  "bootstrap=...) for each pair.")
        return lrt_sequence(fits, names or [f"model{i + 1}" for i in range(len(fits))])
    smaller, larger = fits
    result = freq_lrt(smaller, larger, names=names if names is None or isinstance(names, str) else tuple(names))
    if bootstrap is None:
        return result
    if result.df == 0:
        raise ComparisonError("bootstrap= tests a smaller model nested in a larger one; these fits "
                              "have the same number of parameters. Compare them by AIC/BIC.")
    from multilevel.inference import bootstrap_lrt

    boot = bootstrap_lrt(smaller, larger, nsim=bootstrap, seed=seed, client=client,
                         progress=progress)
    import dataclasses

    table = result.table.copy()
    table["p_bootstrap"] = [float("nan"), boot.p_bootstrap]
    table.attrs["bootstrap"] = boot
    notes = [*result.notes, f"p_bootstrap: parametric bootstrap (pbkrtest's PBmodcomp) with "
                            f"{len(boot.reference)} simulations from the smaller model."]
    return dataclasses.replace(result, table=table, notes=notes)


def r2(fit, **kwargs):
    """R² of a fit: Nakagawa's marginal and conditional R² for REML/ML mixed models
    (:func:`multilevel.inference.r2`, as ``performance::r2_nakagawa``), R² and adjusted R²
    for a linear model (``performance::r2(lm)``, :func:`model_performance`), Gelman et al.'s
    Bayesian R² per draw for Bayesian fits (:func:`multilevel.effects.r2_bayes`, as brms's
    ``bayes_R2``; keyword arguments such as ``ci=`` go to it).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml")
    >>> ml.r2(m).round(4).tolist()
    [0.2799, 0.7043]
    """
    if hasattr(fit, "idata"):
        from multilevel.effects import r2_bayes

        return r2_bayes(fit, **kwargs)
    from multilevel.inference.linear import is_linear_model

    if is_linear_model(fit) and not kwargs:   # performance::r2(lm): R² and adjusted R²
        return model_performance(fit)[["R2", "R2_adjusted"]].rename("r2")
    from multilevel.inference import r2 as r2_freq

    return r2_freq(fit, **kwargs)


def model_performance(fit, estimator: str = "REML") -> pd.Series:
    """Indices of model quality in one row, as ``performance::model_performance``.

    For a REML/ML mixed model: ``AIC``, ``AICc``, ``BIC``, Nakagawa's ``R2_conditional`` and ``R2_marginal``
    (:func:`multilevel.r2`), the adjusted ``ICC`` (:func:`multilevel.icc`; families it
    covers), ``RMSE`` of the response residuals (group effects included), ``Sigma``
    (1 for binomial and Poisson), and for 0/1 responses ``Log_loss``; Poisson and negative
    binomial models add performance's ``Score_log`` and ``Score_spherical`` (the negative
    binomial's with performance's size exp(Pearson χ²/df), not θ). For a linear model (no group
    terms): ``AIC``, ``AICc``, ``BIC`` (maximum likelihood, as R's ``AIC(lm)``), ``R2``,
    ``R2_adjusted``, ``RMSE``, ``Sigma``. ``AICc`` is AIC + 2k(k + 1)/(n − k − 1), k the
    number of parameters.

    ``estimator`` chooses the likelihood of a gaussian mixed model's criteria, evaluated
    at the fit's estimates as performance does (not refitted): ``"REML"`` (performance's
    default, also for an ML fit) or ``"ML"``. GLMMs and linear models use the ML
    likelihood (R's ``AIC()``).

    A singular fit (a variance estimated as 0) keeps its R² and ICC: the conditional R²
    equals the marginal one and the ICC is 0, where performance gives NA. Not computed:
    performance's scoring rules for binomial models (it scores them with the binomial
    size set to the sum of all responses) and indices of Bayesian fits (use
    :func:`multilevel.compare` and :func:`multilevel.r2`).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> ml.model_performance(m).round(4).tolist()
    [1755.6283, 1756.1138, 1774.786, 0.7992, 0.2787, 0.7217, 23.4381, 25.5918]
    """
    import numpy as np
    import pandas as pd

    from multilevel.errors import FamilyError

    if not hasattr(fit, "design") or not hasattr(fit, "nobs"):
        from multilevel.errors import DataError

        raise DataError(f"model_performance() takes a fit from ml.fit, got {type(fit).__name__}.")
    if hasattr(fit, "idata"):
        raise FamilyError("model_performance() gives the indices of REML/ML fits; compare Bayesian "
                          "fits with ml.compare (LOO, WAIC) and ml.r2 (Bayesian R²).")
    if estimator not in ("REML", "ML"):
        from multilevel.errors import SpecError

        raise SpecError(f"estimator must be 'REML' or 'ML' (performance's estimator), got {estimator!r}.")
    from multilevel.inference.linear import is_linear_model

    n, k = fit.nobs, fit.df
    if is_linear_model(fit):
        ml_fit = fit.refit_ml()
        resid = np.asarray(fit.design.y, dtype=float) - fit.design.X @ np.asarray(fit.beta, dtype=float)
        y = np.asarray(fit.design.y, dtype=float)
        intercept = "(Intercept)" in fit.design.x_names
        total = np.sum((y - y.mean()) ** 2) if intercept else np.sum(y ** 2)
        r2 = 1.0 - fit.rss / total
        r2_adj = 1.0 - (1.0 - r2) * (n - int(intercept)) / (n - fit.design.p)
        aic = ml_fit.aic
        values = {"AIC": aic, "AICc": aic + 2 * k * (k + 1) / (n - k - 1), "BIC": ml_fit.bic,
                  "R2": r2, "R2_adjusted": r2_adj, "RMSE": float(np.sqrt(np.mean(resid ** 2))),
                  "Sigma": fit.sigma}
        return pd.Series(values, name="performance", dtype=float)
    if not getattr(fit.design, "reterms", None):
        raise FamilyError(f"model_performance() covers mixed models and linear models; this "
                          f"{fit.family} model without group terms (a GLM) has no R² here.")
    from multilevel.diagnostics.icc import icc

    aic, bic = fit.aic, fit.bic
    if fit.family == "gaussian" and hasattr(fit, "pls"):   # the criterion at the estimates
        deviance = fit.pls.deviance(n, fit.design.p, reml=estimator == "REML")
        aic, bic = deviance + 2 * k, deviance + np.log(n) * k
    r2 = r2_freq_values(fit)
    values = {"AIC": aic, "AICc": aic + 2 * k * (k + 1) / (n - k - 1), "BIC": bic,
              "R2_conditional": r2["conditional"], "R2_marginal": r2["marginal"]}
    try:
        adjusted = icc(fit).adjusted
    except FamilyError:   # no latent residual variance: no ICC column, as performance
        adjusted = None
    if adjusted is not None:
        values["ICC"] = adjusted
    resid = np.asarray(fit.residuals(type="response"), dtype=float)
    values["RMSE"] = float(np.sqrt(np.mean(resid ** 2)))
    values["Sigma"] = fit.sigma if fit.family == "gaussian" else 1.0
    y = np.asarray(fit.design.y, dtype=float)
    mean = np.asarray(fit.fitted(), dtype=float)
    if fit.family in ("bernoulli", "binomial") and np.all((y == 0) | (y == 1)) and \
            getattr(fit.design.frame, "trials", None) is None:
        values["Log_loss"] = float(-np.mean(np.log(1.0 - np.abs(y - mean))))
    elif fit.family in ("poisson", "negativebinomial"):
        from scipy import stats

        if fit.family == "poisson":
            p_y = stats.poisson.pmf(y, mean)
        else:   # performance's size: exp(Pearson χ² / residual df), not θ (its own choice)
            size = np.exp(np.sum(fit.residuals(type="pearson").to_numpy() ** 2) / fit.df_resid)
            p_y = stats.nbinom.pmf(y, size, size / (size + mean))
        values["Score_log"] = float(np.mean(np.log(p_y)))
        values["Score_spherical"] = float(np.mean(p_y / np.sqrt(np.sum(p_y ** 2))))
    return pd.Series(values, name="performance", dtype=float)


def r2_freq_values(fit) -> dict:
    """Nakagawa's marginal and conditional R² of a REML/ML mixed model, by name."""
    from multilevel.inference import r2 as r2_freq

    table = r2_freq(fit)
    return {"marginal": float(table["marginal"]), "conditional": float(table["conditional"])}


# information criteria that get Akaike weights, and the columns performance's ranking
# leaves out (the criteria themselves; their weights stay) or turns round (smaller is better)
_IC_WEIGHTED = ("AIC", "AICc", "BIC")
_RANK_INVERTED = ("RMSE", "Sigma")


def compare_performance(fits: dict, estimator: str = "ML", rank: bool = False) -> pd.DataFrame:
    """:func:`model_performance` of several REML/ML fits in one table, with Akaike and
    Schwarz weights, as ``performance::compare_performance``.

    Parameters
    ----------
    fits : dict
        ``{name: fit}``: mixed models (REML or ML) and linear models.
    estimator : {"ML", "REML"}
        The likelihood of a gaussian mixed model's AIC, AICc and BIC (performance's
        default here is ``"ML"``: the ML likelihood at each fit's estimates, so that fits
        differing in their fixed effects are comparable; not refitted).
    rank : bool
        As performance's ``rank = TRUE``: each numeric index without missing values is
        rescaled to [0, 1] across the models (RMSE and Sigma reversed: smaller is better),
        ``Performance_Score`` is their mean, the rows are sorted by it and the criteria
        themselves are dropped (their weights stay).

    Returns
    -------
    DataFrame
        ``Name``, ``Model`` (R's class: ``lmerMod``, ``glmerMod``, ``lm``), then the
        indices in the order R's ``merge`` of the models' rows gives (columns all models
        have first), ``AIC_wt``, ``AICc_wt`` and ``BIC_wt`` after their criterion
        (exp(−Δ/2), normalized). Indices a model does not have are NaN. A
        :class:`~multilevel.errors.DataWarning` says when the models' responses differ.

    Examples
    --------
    >>> import multilevel as ml
    >>> m1 = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml")
    >>> m2 = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> ml.compare_performance({"m1": m1, "m2": m2})[["Name", "AIC", "AIC_wt"]].round(4)
      Name        AIC  AIC_wt
    0   m1  1802.0994     0.0
    1   m2  1763.9859     1.0
    """
    import numpy as np
    import pandas as pd

    from multilevel.errors import DataWarning, SpecError, warn

    if not isinstance(fits, dict) or not fits:
        raise SpecError("compare_performance takes a dict of named fits, {'m1': fit1, 'm2': fit2}.")
    if not isinstance(rank, (bool, np.bool_)):
        raise SpecError(f"rank must be True or False, got {rank!r}.")
    rows, columns = [], ["Name", "Model"]
    for name, fit in fits.items():
        values = model_performance(fit, estimator=estimator)
        common = [c for c in columns if c in values.index or c in ("Name", "Model")]
        # R's merge(all = TRUE): the columns both sides have, then the left's, then the right's
        columns = common + [c for c in columns if c not in common] + \
            [c for c in values.index if c not in columns]
        rows.append({"Name": str(name), "Model": _r_class(fit), **values.to_dict()})
    table = pd.DataFrame(rows).reindex(columns=columns)
    for ic in _IC_WEIGHTED:
        if ic in table:
            delta = table[ic] - table[ic].min()
            weight = np.exp(-0.5 * delta)
            table.insert(table.columns.get_loc(ic) + 1, f"{ic}_wt", weight / weight.sum())
    responses = [np.asarray(fit.design.y, dtype=float) for fit in fits.values()]
    if any(r.shape != responses[0].shape or not np.array_equal(r, responses[0]) for r in responses[1:]):
        warn("The models' responses differ (other rows or another response): their criteria "
             "and weights are not comparable.", DataWarning)
    if not rank:
        return table
    # the criteria dropped; their weights end the table (performance places them after
    # their criterion only when it is still there)
    weights = [f"{ic}_wt" for ic in _IC_WEIGHTED if ic in table]
    scored = table[[c for c in table.columns if c not in _IC_WEIGHTED and c not in weights] + weights]
    numeric = [c for c in scored.columns if c not in ("Name", "Model")]
    scaled = pd.DataFrame(index=scored.index)
    for c in numeric:
        col = scored[c].astype(float)
        spread = col.max() - col.min()
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled[c] = (col - col.min()) / spread if col.notna().any() else col
        if c in _RANK_INVERTED:
            scaled[c] = 1 - scaled[c]
    usable = [c for c in numeric if scaled[c].notna().all()]
    scored = scored.assign(Performance_Score=scaled[usable].mean(axis=1) if usable else np.nan)
    return scored.sort_values("Performance_Score", ascending=False, kind="stable").reset_index(drop=True)


def _r_class(fit) -> str:
    """R's class of the equivalent fit: lm, lmerMod or glmerMod."""
    from multilevel.inference.linear import is_linear_model

    if is_linear_model(fit):
        return "lm"
    return "lmerMod" if fit.family == "gaussian" else "glmerMod"
