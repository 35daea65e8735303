"""Frequentist columns: logLik, AIC, BIC of ML fits and likelihood-ratio tests, as lme4's anova().

Every model gets an ML companion of the same formula and rows: a frequentist fit
is used as it is (REML fits are refitted with ML, as ``anova()`` does), a Bayesian
fit is refitted by :func:`multilevel.fit` with ``method="ml"``. Rows are ordered by
the number of parameters (``npar``), as ``anova()`` orders them, and each model is
tested against the one above it when it is nested in it; pairs that are not
nested, or of different families, get a note instead of a test.
"""

from __future__ import annotations

import warnings

import pandas as pd

from multilevel.compare.checks import is_bayes
from multilevel.errors import ComparisonError, MultilevelError
from multilevel.freq.lrt import nesting_problem

FREQ_COLUMNS = ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "Pr(>Chisq)"]
LRT_MODES = ("auto", True, False)


def ml_companions(fits: dict) -> tuple[dict, list[str]]:
    """``{name: ML fit or None}`` and notes (refits, failures, warnings of the ML fits)."""
    from multilevel.engines import fit as fit_model

    out, notes, refitted = {}, [], []
    for name, fit in fits.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            try:
                if is_bayes(fit):
                    out[name] = fit_model(fit.formula, fit.design.frame.data, method="ml",
                                       family=fit.family, **fit.data_options())
                else:
                    out[name] = fit.refit_ml()
                    if getattr(fit, "method", "ml") == "reml":
                        refitted.append(name)
            except MultilevelError as exc:
                out[name] = None
                notes.append(f"{name}: no maximum-likelihood fit, so no logLik/AIC/BIC/LRT ({exc}).")
        for w in caught:  # the engine's own warnings (singular fit, convergence) go in the notes
            if issubclass(w.category, UserWarning):
                notes.append(f"{name} (ML fit): {w.message}")
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if refitted:
        notes.insert(0, f"{', '.join(refitted)}: refitted with ML (instead of REML) for logLik, "
                        "AIC, BIC and the LRT, as lme4's anova() does.")
    return out, notes


def frequentist_table(fits: dict, lrt="auto") -> tuple[pd.DataFrame, list[str]]:
    """The anova-style columns for every model, rows in ``npar`` order, and notes."""
    if lrt not in LRT_MODES:
        raise ComparisonError(f"lrt={lrt!r} is not valid; use 'auto', True or False.")
    companions, notes = ml_companions(fits)
    fitted = {n: f for n, f in companions.items() if f is not None}
    order = sorted(fitted, key=lambda n: fitted[n].df)  # stable: ties keep the given order
    order += [n for n in fits if n not in fitted]
    table = pd.DataFrame(index=pd.Index(order, name="model"), columns=FREQ_COLUMNS, dtype=float)
    for name, fit in fitted.items():
        # anova()'s deviance column is -2 logLik for every model (not deviance(lm) = RSS,
        # nor glmer's conditional deviance)
        table.loc[name, ["npar", "AIC", "BIC", "logLik", "deviance"]] = [
            fit.df, fit.aic, fit.bic, fit.loglik, -2.0 * fit.loglik]
    if lrt is False:
        return table, notes
    from multilevel.freq.lrt import lrt as likelihood_ratio

    ranked = [n for n in order if n in fitted]
    for above, name in zip(ranked, ranked[1:]):
        reason = nesting_problem(fitted[above], fitted[name])
        if reason is not None:
            message = (f"{name} vs {above}: no likelihood-ratio test, {reason}; compare them by "
                       "AIC/BIC or elpd.")
            if lrt is True:
                raise ComparisonError(message + " Pass lrt='auto' to get the table without it.")
            notes.append(message)
            continue
        test = likelihood_ratio(fitted[above], fitted[name], names=(above, name))
        table.loc[name, ["Chisq", "Df", "Pr(>Chisq)"]] = [test.chisq, test.df, test.p]
        notes += [f"{name} vs {above}: {n}" for n in test.notes
                  if not n.startswith("refitting model")]  # refits are noted per model above
    table["npar"] = table["npar"].astype("Int64")
    table["Df"] = table["Df"].astype("Int64")
    return table, notes

