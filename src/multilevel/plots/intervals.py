"""The interval table of a fit: estimate and interval per parameter, labelled with the
interval's kind and level (the table the forest plot draws and the report prints)."""

from __future__ import annotations

import pandas as pd

from multilevel.errors import MultilevelError

KINDS = {"eti": "equal-tailed", "hdi": "highest-density"}


def is_bayes(fit) -> bool:
    return hasattr(fit, "idata")


def check_interval(ci, kind: str) -> tuple[float, str]:
    """Validate the interval's level and kind; return them normalised."""
    kind = str(kind).lower()
    if kind not in KINDS:
        raise MultilevelError(f"kind={kind!r} is not an interval kind; use one of {tuple(KINDS)}.")
    try:
        level = float(ci)
    except (TypeError, ValueError):
        level = float("nan")
    if not 0 < level < 1:
        raise MultilevelError(f"ci must be a probability strictly between 0 and 1, got {ci!r}.")
    return level, kind


def interval_table(fit, ci: float = 0.95, kind: str = "eti", ddf: str | None = None) -> pd.DataFrame:
    """Estimate and interval per parameter, labelled with the interval's kind and level.

    Parameters
    ----------
    fit : BayesFit, FreqFit or OLSFit
    ci : float
        Probability of the interval.
    kind : {"eti", "hdi"}
        Equal-tailed or highest-density credible interval (Bayesian fits). ML/REML
        fits get the Wald intervals of their ``summary(ci=...)`` whatever ``kind``
        says: normal quantiles for mixed models and GLMs (lme4's ``confint(method =
        "Wald")``), Student-t with n − p degrees of freedom for least squares (R's
        ``confint.lm``).
    ddf : {None, "satterthwaite", "kenward-roger"}
        Linear mixed models (REML/ML): None keeps lme4's Wald table; otherwise the
        table has lmerTest's df and p and Student-t intervals with those df (spec key
        ``[report] ddf``). Other fits have their own tests and ignore it.

    Returns
    -------
    DataFrame
        Bayesian fits: ``estimate, sd, lower, upper, r_hat, ess_bulk, ess_tail,
        mcse_mean``; ML/REML fits: their ``summary()`` columns then ``lower, upper``.
        ``attrs`` holds ``ci`` and ``kind`` ("eti", "hdi" or "wald").

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("mpg ~ wt", "mtcars", method="ml")
    >>> interval_table(m)[["lower", "upper"]].round(4)
                   lower    upper
    (Intercept)  33.4505  41.1198
    wt           -6.4863  -4.2026
    """
    level, kind = check_interval(ci, kind)
    if is_bayes(fit):
        table = fit.summary(ci=level, kind=kind).copy()
    else:
        # lme4's Wald table (normal intervals); a summary that takes ddf= (REML/ML mixed
        # models, multilevel.inference) defaults to Satterthwaite t intervals instead
        import inspect

        takes_ddf = "ddf" in inspect.signature(fit.summary).parameters
        table = (fit.summary(ci=level, ddf=ddf) if takes_ddf else fit.summary(ci=level)).copy()
        kind = "wald"
        if takes_ddf and ddf is not None:
            table.attrs["ddf"] = ddf
    table.attrs.update(ci=level, kind=kind)
    return table
