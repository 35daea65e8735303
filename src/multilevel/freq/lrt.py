"""Likelihood-ratio tests as lme4's ``anova(m1, m2)``.

REML fits are refitted by ML first (their REML criteria are not comparable when
the fixed effects differ), and the result says so. When the larger model adds
variance components, the null value lies on the boundary of the parameter space
(a variance of 0) and the χ² reference is conservative; beside the naive p-value we
give the mixture 0.5 χ²(df−1) + 0.5 χ²(df) (Self & Liang 1987; Stram & Lee 1994),
exact for one added variance with its covariances.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.errors import ComparisonError


@dataclass(frozen=True)
class LRTResult:
    """The anova table and the test.

    Attributes
    ----------
    table : DataFrame
        One row per model (smaller first): npar, AIC, BIC, logLik, deviance, Chisq, Df, p.
    chisq, df, p : float
    p_boundary : float or None
        The χ²-mixture p-value when the test is on the boundary, else None.
    refitted : bool
        True when REML fits were refitted with ML.
    notes : list of str
    """

    table: pd.DataFrame
    chisq: float
    df: int
    p: float
    p_boundary: float | None
    refitted: bool
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        lines = [self.table.to_string()]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def lrt(smaller, larger, names: tuple[str, str] = ("smaller", "larger")) -> LRTResult:
    """Likelihood-ratio test of two nested models fitted by the frequentist engine.

    Parameters
    ----------
    smaller, larger : FreqFit or OLSFit
        Fits to the same rows and response; ``smaller`` nested in ``larger``.
    names : tuple of str
        Row labels of the table.

    Returns
    -------
    LRTResult

    Examples
    --------
    >>> import multilevel as ml
    >>> m1 = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml")
    >>> m2 = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> round(ml.lrt(m1, m2).chisq, 3)
    42.139
    """
    for fit in (smaller, larger):
        if not hasattr(fit, "refit_ml"):
            raise ComparisonError(
                f"lrt needs frequentist fits (method='reml' or 'ml'); got {type(fit).__name__}. "
                "Use ml.compare for Bayesian fits: it fits the ML companions for you."
            )
    _check_same_data(smaller, larger)
    if smaller.family != larger.family:
        raise ComparisonError(
            f"Models of different families ({smaller.family} vs {larger.family}) have "
            "likelihoods on different scales; a likelihood-ratio test between them is meaningless."
        )
    refitted = getattr(smaller, "method", "ml") == "reml" or getattr(larger, "method", "ml") == "reml"
    small, large = smaller.refit_ml(), larger.refit_ml()
    if small.df > large.df:
        small, large = large, small
        names = names[::-1]
    df = large.df - small.df
    if df == 0:
        raise ComparisonError("Both models have the same number of parameters; they are not nested.")
    if not _nested_fixed(small, large):
        raise ComparisonError(
            "The smaller model's fixed effects are not a subset of the larger model's "
            f"({small.design.x_names} vs {large.design.x_names}); the models are not nested."
        )
    chisq = max(0.0, 2.0 * (large.loglik - small.loglik))
    p = float(stats.chi2.sf(chisq, df))
    added = _added_variances(small, large)
    notes = []
    if refitted:
        notes.append("refitting model(s) with ML (instead of REML)")
    p_boundary = None
    if added:
        p_boundary = float(0.5 * stats.chi2.sf(chisq, df - 1) + 0.5 * p) if df > 1 \
            else float(0.5 * p)
        notes.append(
            f"the null value of {', '.join(added)} is on the boundary (variance = 0): the naive "
            f"χ² p-value is conservative; the χ² mixture gives p = {p_boundary:.4g}"
        )
    table = pd.DataFrame(
        {"npar": [small.df, large.df], "AIC": [small.aic, large.aic], "BIC": [small.bic, large.bic],
         "logLik": [small.loglik, large.loglik], "deviance": [small.deviance, large.deviance],
         "Chisq": [np.nan, chisq], "Df": [np.nan, df], "p": [np.nan, p]},
        index=list(names),
    )
    return LRTResult(table=table, chisq=chisq, df=int(df), p=p, p_boundary=p_boundary,
                     refitted=refitted, notes=notes)


def _check_same_data(a, b) -> None:
    ya, yb = a.design.y, b.design.y
    if len(ya) != len(yb):
        raise ComparisonError(
            f"The models were fitted to different numbers of rows ({len(ya)} vs {len(yb)}), "
            "e.g. because of missing values in different columns; fit both to the same rows."
        )
    if not np.allclose(ya, yb):
        raise ComparisonError("The models have different responses; a likelihood-ratio test "
                              "compares models of the same response.")


def _nested_fixed(small, large) -> bool:
    return set(small.design.x_names) <= set(large.design.x_names)


def _variance_names(fit) -> set[tuple[str, str]]:
    return {(t.group, c) for t in fit.design.reterms for c in t.cnms}


def _added_variances(small, large) -> list[str]:
    added = _variance_names(large) - _variance_names(small)
    return [f"{c}|{g}" for g, c in sorted(added)]
