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

FREQ_COLUMNS = ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "Pr(>Chisq)"]
LRT_MODES = ("auto", True, False)


def ml_companions(fits: dict) -> tuple[dict, list[str]]:
    """``{name: ML fit or None}`` and notes (refits, failures, warnings of the ML fits)."""
    import multilevel as ml

    out, notes, refitted = {}, [], []
    for name, fit in fits.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            try:
                if is_bayes(fit):
                    out[name] = ml.fit(fit.formula, fit.design.frame.data, method="ml",
                                       family=fit.family)
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


def nesting(small, large) -> str | None:
    """Why ``small`` is not nested in ``large`` (None when it is).

    Nested: same family; the fixed-effect columns of ``small`` are a subset of those
    of ``large``; every random-effects term of ``small`` lies within one term of
    ``large`` on the same grouping factor (so ``(Days || g)`` is nested in
    ``(Days | g)`` but not the reverse); and ``small`` has fewer parameters.
    """
    if small.family != large.family:
        return (f"different families ({small.family} vs {large.family}): their likelihoods are "
                "not a restriction of one another")
    if small.df >= large.df:
        return f"the same number of parameters ({small.df})" if small.df == large.df else \
            "the smaller model has more parameters"
    missing = [x for x in small.design.x_names if x not in large.design.x_names]
    if missing:
        return f"fixed effect(s) {', '.join(missing)} are not in the larger model"
    for term in small.design.reterms:
        if not any(t.group == term.group and set(term.cnms) <= set(t.cnms)
                   for t in large.design.reterms):
            cols = " + ".join("1" if c == "(Intercept)" else c for c in term.cnms)
            return (f"the random-effects term ({cols} | {term.group}) is not within a term of "
                    "the larger model")
    return None


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
        reason = nesting(fitted[above], fitted[name])
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

