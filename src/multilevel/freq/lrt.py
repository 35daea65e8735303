"""Likelihood-ratio tests as lme4's ``anova(m1, m2)``.

REML fits are refitted by ML first (their REML criteria are not comparable when
the fixed effects differ), and the result says so. When the larger model adds
variance components, the null value lies on the boundary of the parameter space
(a variance of 0) and the χ² reference is conservative; beside the naive p-value we
give the χ̄² mixture Σⱼ C(k, j) 2⁻ᵏ χ²(df − k + j) for k added variances (Self &
Liang 1987; Stram & Lee 1994): exact for one added variance with its covariances
(0.5 χ²(df−1) + 0.5 χ²(df)), approximate for several.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb

import numpy as np
import pandas as pd

from multilevel.errors import ComparisonError


@dataclass(frozen=True)
class LRTResult:
    """The anova table and the test.

    Attributes
    ----------
    table : DataFrame
        One row per model (smaller first): npar, AIC, BIC, logLik, deviance (−2 logLik),
        Chisq, Df, p (and p_boundary when the null is on the boundary).
    chisq, df, p : float
    p_boundary : float or None
        The χ̄²-mixture p-value when the test is on the boundary, else None.
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
        lines = [self.table.to_string(float_format=lambda v: f"{v:.6g}")]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def nesting_problem(small, large) -> str | None:
    """Why ``small`` is not nested in ``large`` (None when it is).

    Nested: same family; the fixed-effect columns of ``small`` are a subset of those
    of ``large``; every random-effects term of ``small`` lies within one term of
    ``large`` on the same grouping factor (so ``(Days || g)`` is nested in
    ``(Days | g)`` but not the reverse); and ``small`` has fewer parameters.
    """
    if small.family != large.family:
        return (f"different families ({small.family} vs {large.family}): their likelihoods are "
                "not a restriction of one another")
    if _link(small) != _link(large):
        return (f"different links ({_link(small)} vs {_link(large)}): neither model restricts "
                "the other")
    if small.df >= large.df:
        return f"the same number of parameters ({small.df})" if small.df == large.df else \
            "the smaller model has more parameters"
    missing = [x for x in small.design.x_names if x not in large.design.x_names]
    if missing:
        return f"fixed effect(s) {', '.join(missing)} are not in the larger model"
    from multilevel.freq.structures import term_within

    for term in small.design.reterms:
        # the same columns on the same factor, with a covariance structure inside the
        # larger one (cs within us, ar1 within toep, ...; multilevel.freq.structures)
        if not any(term_within(term, t) for t in large.design.reterms):
            if term.bar.structure is not None or any(t.bar.structure for t in large.design.reterms):
                return (f"the random-effects term {term.bar.source} is not a restriction of a term "
                        "of the larger model (its covariance structure is not within theirs)")
            cols = " + ".join("1" if c == "(Intercept)" else c for c in term.cnms)
            return f"the random-effects term ({cols} | {term.group}) is not within a term of the larger model"
    return None


def lrt(smaller, larger, names: tuple[str, str] | None = None) -> LRTResult:
    """Likelihood-ratio test of two nested models fitted by the frequentist engine.

    Parameters
    ----------
    smaller, larger : FreqFit, GLMMFit, OLSFit or GLMFit
        Fits to the same rows and response; ``smaller`` nested in ``larger`` (the order
        is taken from the parameter counts, as ``anova()`` does).
    names : tuple of str, optional
        Row labels of the two fits, in the order given (a label follows its fit when the
        table puts the fits in order); default ``("smaller", "larger")`` by their roles.

    Returns
    -------
    LRTResult

    Raises
    ------
    ComparisonError
        Bayesian fits, different rows or responses, different families, models that
        are not nested.

    Examples
    --------
    >>> import multilevel as ml
    >>> m1 = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", method="reml")
    >>> m2 = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> res = ml.lrt(m1, m2)
    >>> round(res.chisq, 3), res.df, res.refitted
    (42.139, 2, True)
    """
    from scipy import stats  # imported here: scipy.stats costs ~0.5 s of start-up

    for fit in (smaller, larger):
        if not hasattr(fit, "refit_ml"):
            raise ComparisonError(
                f"lrt needs frequentist fits (method='reml' or 'ml'); got {type(fit).__name__}. "
                "Use ml.compare for Bayesian fits: it fits the ML companions for you."
            )
    if smaller.family != larger.family:
        raise ComparisonError(
            f"Models of different families ({smaller.family} vs {larger.family}) have "
            "likelihoods on different scales; a likelihood-ratio test between them is meaningless. "
            "Compare them by AIC/BIC or with ml.compare."
        )
    if _link(smaller) != _link(larger):
        raise ComparisonError(f"Models with different links ({_link(smaller)} vs {_link(larger)}) are "
                              "not nested; compare them by AIC/BIC or with ml.compare.")
    if names is not None and (isinstance(names, str) or len(names) != 2 or len(set(names)) != 2):
        raise ComparisonError("names must give each of the 2 fits its own label, e.g. ('small', 'large'); "
                              f"got {names!r}.")
    _check_same_data(smaller, larger)
    refitted = smaller.method == "reml" or larger.method == "reml"
    small, large = smaller.refit_ml(), larger.refit_ml()
    if small.df > large.df:
        small, large = large, small
        names = None if names is None else names[::-1]
    names = ("smaller", "larger") if names is None else names   # role labels after ordering
    if small.df == large.df:
        return _no_test(small, large, names, refitted, notes=offset_notes(smaller, larger))
    problem = nesting_problem(small, large)
    if problem is not None:
        raise ComparisonError(f"The models are not nested: {problem}. A likelihood-ratio test needs "
                              "nested models; compare them by AIC/BIC or with ml.compare.")
    df = large.df - small.df
    chisq = max(0.0, 2.0 * (large.loglik - small.loglik))
    p = float(stats.chi2.sf(chisq, df))
    added = _added_variances(small, large)
    notes = ["refitting model(s) with ML (instead of REML)"] if refitted else []
    notes += offset_notes(smaller, larger)
    from multilevel.freq.structures import structure_note

    nested = structure_note(small, large)
    if nested:
        notes.append(f"nested covariance structures: {nested}")
    p_boundary = None
    if added:
        k = min(len(added), df)
        p_boundary = float(sum(comb(k, j) / 2 ** k * (stats.chi2.sf(chisq, df - k + j) if df - k + j > 0
                                                       else float(chisq <= 0))
                               for j in range(k + 1)))
        exact = "exact for one variance" if k == 1 else f"approximate for {k} variances"
        notes.append(
            f"the null value of {', '.join(added)} is on the boundary (variance = 0): the naive "
            f"χ² p-value is conservative; the χ̄² mixture ({exact}) gives p = {p_boundary:.4g}"
        )
    table = _pair_table(small, large, names, chisq, df, p)
    if p_boundary is not None:
        table["p_boundary"] = [np.nan, p_boundary]
    return LRTResult(table=table, chisq=chisq, df=int(df), p=p, p_boundary=p_boundary,
                     refitted=refitted, notes=notes)


def _pair_table(small, large, names, chisq: float, df: int, p: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"npar": [small.df, large.df], "AIC": [small.aic, large.aic], "BIC": [small.bic, large.bic],
         "logLik": [small.loglik, large.loglik], "deviance": [-2 * small.loglik, -2 * large.loglik],
         "Chisq": [np.nan, chisq], "Df": [np.nan, df], "p": [np.nan, p]},
        index=list(names),
    )


def _no_test(first, second, names, refitted: bool, notes: list[str]) -> LRTResult:
    """Two fits with the same number of parameters: no likelihood-ratio test. lme4's
    ``anova()`` prints their rows with ``Chisq`` = max(0, 2 Δ logLik), ``Df`` 0 and no
    p-value; so does this table, with a note (their AIC and BIC compare them)."""
    chisq = max(0.0, 2.0 * (second.loglik - first.loglik))
    notes = (["refitting model(s) with ML (instead of REML)"] if refitted else []) + notes + [
        (f"{names[1]} vs {names[0]}: the same number of parameters ({first.df}), so no "
         "likelihood-ratio test (Df 0, no p-value, as lme4 prints it); compare them by AIC/BIC "
         "or elpd.")]
    return LRTResult(table=_pair_table(first, second, names, chisq, 0, np.nan), chisq=chisq, df=0,
                     p=float("nan"), p_boundary=None, refitted=refitted, notes=notes)


def lrt_sequence(fits, names) -> LRTResult:
    """lme4's ``anova(m0, m1, m2, ...)``: the fits ordered by parameter count, each
    tested against the one before it (each pair as :func:`lrt` tests it: same rows and
    response, nested, refitted by ML). The table has one row per fit; ``chisq``, ``df``
    and ``p`` of the result are the last row's (the largest model against the next)."""
    fits, names = list(fits), (names if isinstance(names, str) else list(names))
    if isinstance(names, str) or len(fits) != len(names) or len(set(names)) != len(names):
        raise ComparisonError(f"names must give each of the {len(fits)} fits its own label; got {names}.")
    order = sorted(range(len(fits)), key=lambda i: fits[i].refit_ml().df)   # stable, as lme4
    fits, names = [fits[i] for i in order], [names[i] for i in order]
    # each pair checked as two fits are (equal parameter counts: Df 0 and no test, as lme4)
    pairs = [lrt(fits[i], fits[i + 1], names=(names[i], names[i + 1])) for i in range(len(fits) - 1)]
    table = pd.concat([pairs[0].table.iloc[:1]] + [pair.table.iloc[1:] for pair in pairs])
    notes = list(dict.fromkeys(note for pair in pairs for note in pair.notes))
    last = pairs[-1]
    return LRTResult(table=table, chisq=last.chisq, df=last.df, p=last.p,
                     p_boundary=last.p_boundary, refitted=any(pair.refitted for pair in pairs),
                     notes=notes)


def _link(fit) -> str:
    """The fit's link (R's name; a GLMM records it, other fits use the family's default)."""
    from multilevel.formula.links import default_link

    return getattr(fit, "link", None) or default_link(fit.family)


def _check_same_data(a, b) -> None:
    ya, yb = a.design.y, b.design.y
    if len(ya) != len(yb) or not a.design.frame.data.index.equals(b.design.frame.data.index):
        raise ComparisonError(
            f"The models were fitted to different rows ({len(ya)} vs {len(yb)} rows), e.g. because "
            "of missing values in different columns; fit both to the same rows."
        )
    ta, tb = a.design.frame.trials, b.design.frame.trials
    same_trials = (ta is None) == (tb is None) and (ta is None or np.array_equal(ta, tb))
    if not np.allclose(ya, yb) or not same_trials:
        raise ComparisonError("The models have different responses; a likelihood-ratio test "
                              "compares models of the same response.")
    wa, wb = a.design.weights, b.design.weights
    if (wa is None) != (wb is None) or (wa is not None and not np.array_equal(wa, wb)):
        raise ComparisonError("The models have different prior weights (weights=): their "
                              "likelihoods weigh the rows differently and are not comparable. "
                              "Fit both with the same weights.")


def offset_notes(a, b) -> list[str]:
    """A note when the two models' offsets differ: the test is then of the offsets too."""
    oa, ob = a.design.spec.parsed.offsets, b.design.spec.parsed.offsets
    if oa == ob:
        return []
    show = lambda o: " + ".join(f"offset({x})" for x in o) or "none"  # noqa: E731
    return [f"the models have different offsets ({show(oa)} vs {show(ob)}): the offsets are fixed "
            "parts of each model, not counted in npar, so the LRT's df count only the estimated "
            "parameters"]


def _variance_names(fit) -> set[tuple[str, str]]:
    return {(t.group, c) for t in fit.design.reterms for c in t.cnms}


def _added_variances(small, large) -> list[str]:
    added = _variance_names(large) - _variance_names(small)
    return [f"{c}|{g}" for g, c in sorted(added)]
