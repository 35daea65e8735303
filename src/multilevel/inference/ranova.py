"""Likelihood-ratio tests of the group-effect terms: lmerTest's ``ranova()``.

Each term of the model is reduced in turn and the reduced model refitted on the same rows,
with the same criterion (REML fits are compared by their REML log-likelihoods, as
lmerTest does: the fixed effects are the same). A term with slopes loses one droppable
part of its left-hand side at a time (``Days in (Days | Subject)``: the model with
``(1 | Subject)`` in its place); an intercept-only term is removed (``(1 | Subject)``);
with ``reduce_terms=False`` every term is removed whole. As lmerTest does:

- the parts that may be dropped are those no other part of the term contains (R's
  ``drop.scope``: in ``(x * f | g)`` only ``x:f``);
- a term whose only part is dropped becomes ``(1 | g)``, even ``(0 + x | g)``; a reduced
  term equal to another term of the model merges with it (R's formula algebra);
- a model left without group-effect terms is a linear model (R's ``lm``), compared by
  its REML or ML log-likelihood.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import stats

from multilevel.errors import FamilyError, FormulaError, SpecError
from multilevel.formula import lme4_name
from multilevel.formula.names import r_deparse, r_label


def ranova(fit, reduce_terms: bool = True) -> pd.DataFrame:
    """lmerTest's ``ranova``: one likelihood-ratio test per group-effect term.

    Parameters
    ----------
    fit : FreqFit
        A gaussian REML or ML fit with group-effect terms.
    reduce_terms : bool
        Reduce terms with slopes part by part (lmerTest's default) or remove every term
        whole.

    Returns
    -------
    DataFrame
        Indexed by ``"<none>"`` (the model) and one label per reduced model as lmerTest
        labels it; columns ``npar``, ``logLik``, ``AIC``, ``LRT``, ``Df``, ``p``
        (lmerTest's ``Pr(>Chisq)``; NaN where the reduction leaves the parameter count
        unchanged). The reduced fits are in ``table.attrs["fits"]``.

    Raises
    ------
    FamilyError
        For GLMMs (lmerTest's ``ranova`` is for ``lmer`` fits).
    FormulaError
        For a model without group-effect terms, or with terms it cannot reduce (lme4
        2.0's structures, known covariances, smooths).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> table = ranova(m)
    >>> list(table.index), table["Df"].tolist()[1:]
    (['<none>', 'Days in (Days | Subject)'], [2.0])
    """
    _check(fit)
    if not isinstance(reduce_terms, (bool, np.bool_)):   # "no" would be truthy
        raise SpecError(f"reduce_terms must be True or False (lmerTest's reduce.terms), got {reduce_terms!r}.")
    design = fit.design
    labels = _labels(design)
    rows = [("<none>", fit)]
    for term, label in labels:
        reductions = _reductions(term, label, design.frame.data) if reduce_terms else []
        if not reductions:   # the whole term removed
            reductions = [(f"({label})", [])]
        for row, kept in reductions:
            rows.append((row, _refit(fit, _reduced_terms(design, term, kept, labels))))
    ll = np.array([f.loglik for _, f in rows])
    npar = np.array([f.df for _, f in rows], dtype=float)
    lrt = np.r_[np.nan, 2 * (ll[0] - ll[1:])]
    df = np.r_[np.nan, npar[0] - npar[1:]]
    with np.errstate(invalid="ignore"):
        p = np.where(df > 0, stats.chi2.sf(lrt, np.where(df > 0, df, 1)), np.nan)
    table = pd.DataFrame({"npar": npar.astype(int), "logLik": ll, "AIC": -2 * ll + 2 * npar,
                          "LRT": lrt, "Df": df, "p": p}, index=[r for r, _ in rows])
    table.attrs["fits"] = {r: f for r, f in rows[1:]}
    return table


def _check(fit) -> None:
    if hasattr(fit, "idata"):
        raise FamilyError("ranova compares REML/ML fits (lmerTest's ranova); compare Bayesian "
                          "models with ml.compare (LOO), or fit with method='reml'.")
    if getattr(fit, "family", "gaussian") != "gaussian" or not hasattr(fit, "pls"):
        if not getattr(fit.design, "reterms", None):
            raise FormulaError(f"ranova tests group-effect terms; {fit.formula!r} has none.")
        raise FamilyError("ranova compares REML/ML fits of gaussian mixed models (lmerTest's "
                          f"ranova is for lmer); this fit's family is {fit.family!r}: compare "
                          "GLMMs with ml.lrt(reduced, full).")
    for term in fit.design.reterms:
        if term.smooth is not None or term.known is not None or term.bar.structure is not None:
            raise FormulaError(f"ranova reduces plain (x | g) terms; {term.bar.source!r} is a "
                               "smooth, a known covariance or an lme4 2.0 structure. Compare "
                               "the models you mean with ml.lrt(reduced, full).")


def _labels(design) -> list[tuple]:
    """The terms in lme4's ``findbars`` order, each with R's spelling of its bar."""
    by_bar = {id(t.bar): t for t in design.reterms}
    bars = list(design.spec.parsed.bars)
    out = []
    i = 0
    while i < len(bars):   # one source may expand to several bars: (1 | a/b), (x || g)
        j = i
        while j + 1 < len(bars) and bars[j + 1].source == bars[i].source:
            j += 1
        group = bars[i:j + 1]
        if len(group) > 1 and "/" in group[0].source:
            group = group[::-1]   # findbars: the innermost nesting first (b:a, then a)
        for bar in group:
            text = (bar.source.strip()[1:-1] if len(bars[i:j + 1]) == 1
                    else f"{bar.expr} | {bar.group}")
            out.append((by_bar[id(bar)], r_deparse(text)))
        i = j + 1
    return out


def _parts(term, data) -> list[tuple[str, list[str], set]]:
    """The term's left-hand side as R's terms: (R's label, its columns as ``term.cnms``
    names them, its variables), the intercept left out."""
    out = []
    for name, part in term.expr_matrix.terms.items():
        if name == "Intercept":
            continue
        columns = [r_label(lme4_name(lbl), data.columns) for lbl in part.labels]
        out.append((r_deparse(lme4_name(name)), columns, {c.name for c in part.components}))
    return out


def _reductions(term, label: str, data) -> list[tuple[str, list[str] | None]]:
    """lmerTest's ``get_newforms`` for one term: (row label, the columns kept, None for
    a new intercept-only term) per droppable part; empty when the term is removed."""
    parts = _parts(term, data)
    droppable = [p for p in parts if not any(p[2] < q[2] for q in parts if q is not p)]
    if not droppable:
        return []
    out = []
    for name, columns, _ in droppable:
        if len(parts) == 1:   # its only part: lmerTest's new term is (1 | g)
            kept = ["(Intercept)"] if "(Intercept)" in term.cnms else None
        else:
            kept = [c for c in term.cnms if c not in columns]
        out.append((f"{name} in ({label})", kept))
    return out


def _reduced_terms(design, term, kept, labels) -> list:
    """The design's terms with ``term`` reduced to the columns ``kept``: ``[]`` removes
    it, ``None`` puts a new intercept-only term ``(1 | g)`` in its place."""
    if kept is None:
        new = dataclasses.replace(term, X=np.ones((design.n, 1)), cnms=["(Intercept)"],
                                  bar=dataclasses.replace(term.bar, expr="1"), expr_matrix=None,
                                  columns=None)
        # R's formula algebra: (1 | g) where the model has (1 | g) already is that term
        if _has_intercept_term(labels, term):
            new = None
    elif kept:
        index = [term.cnms.index(c) for c in kept]
        columns = tuple(index if term.columns is None else (term.columns[i] for i in index))
        new = dataclasses.replace(term, X=term.X[:, index], cnms=list(kept), columns=columns)
        # (Days | g) reduced to (1 | g) where (1 | g) is a term already: R's formula keeps
        # one of two equal terms (lmerTest: 4 parameters, not 5, in sleepstudy's
        # Days + (1 | Subject) + (Days | Subject))
        if kept == ["(Intercept)"] and _has_intercept_term(labels, term):
            new = None
    else:
        new = None
    return [new if t is term else t for t in design.reterms if t is not term or new is not None]


def _has_intercept_term(labels, term) -> bool:
    """Whether a term of the model other than ``term`` is ``(1 | g)`` on ``term``'s factor."""
    return any(label == f"1 | {term.group}" for t, label in labels if t is not term)


def _refit(fit, reterms):
    from multilevel.freq.fit import fit_design
    from multilevel.freq.ols import fit_linear

    design = dataclasses.replace(fit.design, reterms=reterms)
    if not reterms:
        return fit_linear(fit.formula, design, reml=fit.reml)
    return fit_design(fit.formula, design, reml=fit.reml, solver=fit.solver, warn=False)


def reduced_bars(design, row: str) -> list[str]:
    """The group-effect terms (``"expr | group"``, R's spelling) of the model that
    :func:`ranova`'s row ``row`` fits, with ``reduce_terms=True`` (lmerTest's
    ``formulae`` attribute, the bars only): what :func:`multilevel.inference.step`
    writes into the formula of a reduced model.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> reduced_bars(m.design, "Days in (Days | Subject)")
    ['1 | Subject']
    """
    labels = _labels(design)
    data = design.frame.data
    for term, label in labels:
        reductions = _reductions(term, label, data) or [(f"({label})", [])]
        for name, kept in reductions:
            if name != row:
                continue
            group = label.split("|", 1)[1].strip()
            if kept == []:   # the whole term removed
                new = None
            elif kept is None or kept == ["(Intercept)"]:   # (1 | g), merged with one already there
                new = None if _has_intercept_term(labels, term) else f"1 | {group}"
            else:
                dropped = name.split(" in (", 1)[0]
                parts = [p for p, _, _ in _parts(term, data) if p != dropped]
                new = " + ".join(["1" if "(Intercept)" in term.cnms else "0"] + parts) + f" | {group}"
            return [new if t is term else lbl for t, lbl in labels if t is not term or new is not None]
    raise FormulaError(f"{row!r} is not a row of ranova's table for this model.")
