"""Backward elimination of a linear mixed model: lmerTest's ``step()``.

First the group-effect terms: :func:`multilevel.inference.ranova` (``reduce_terms=True``),
and while some reduction has p > ``alpha_random`` the one with the largest p is made and
the model refitted; a model left without group-effect terms is a linear model (R's
``lm``). Then the fixed-effect terms: :func:`multilevel.inference.drop1` (lmerTest's F
tests; for a linear model the exact F test, R's ``drop1(lm, test = "F")``), and while a
term not in ``keep`` has p > ``alpha_fixed`` the one with the largest p is deleted and
the model refitted. Each refit is the reduced formula fitted to the rows the model
used, with its prior weights and criterion (REML or ML), as lmerTest's ``update()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from multilevel.errors import DataWarning, FitError, SpecError, warn


@dataclass(frozen=True)
class StepResult:
    """What :func:`step` eliminated, and the model it found.

    Attributes
    ----------
    random : DataFrame
        lmerTest's "Backward reduced random-effect table": ``Eliminated`` (the step in
        which the row's reduction was made, NaN for the full model, 0 for reductions
        tested in the final model and kept) and ranova's columns.
    fixed : DataFrame
        The "Backward reduced fixed-effect table": ``Eliminated`` (1, 2, ... in order of
        deletion, 0 for the terms kept) and drop1's columns.
    model : FreqFit or OLSFit
        The final model (lmerTest's ``get_model()``).
    formula : str
        The final model's formula.
    ddf : str or None
        The denominator df of the fixed-effect tests; None when the model found is a
        linear model (its F tests are exact).
    """

    random: pd.DataFrame
    fixed: pd.DataFrame
    model: object
    formula: str
    ddf: str | None

    def __repr__(self) -> str:
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            return "\n".join([
                "Backward reduced random-effect table:", self.random.to_string(float_format=_fmt), "",
                "Backward reduced fixed-effect table:",
                f"Degrees of freedom method: {self.ddf}" if self.ddf else "Exact F tests of a linear model",
                self.fixed.to_string(float_format=_fmt) if len(self.fixed) else "(no fixed-effect terms)",
                "", "Model found:", self.formula])


def _fmt(value: float) -> str:
    return f"{value:.5g}"


def step(fit, ddf: str = "satterthwaite", alpha_random: float = 0.1, alpha_fixed: float = 0.05,
         reduce_fixed: bool = True, reduce_random: bool = True, keep=()) -> StepResult:
    """lmerTest's ``step()``: backward elimination of group-effect terms, then of
    fixed-effect terms.

    Parameters
    ----------
    fit : FreqFit
        A gaussian REML or ML fit with group-effect terms (lmerTest's ``lmer``).
    ddf : {"satterthwaite", "kenward-roger"}
        Denominator df of the fixed-effect F tests.
    alpha_random, alpha_fixed : float
        A reduction whose p-value exceeds alpha is made (lmerTest's defaults 0.1, 0.05).
    reduce_fixed, reduce_random : bool
        Whether to reduce that part at all (``False``: its tests are still reported).
    keep : sequence of str
        Fixed-effect terms never deleted (R's term labels, as :func:`drop1` names them);
        the terms they contain stay with them. Names that are not terms of the model
        are ignored with a warning, as lmerTest does.

    Returns
    -------
    StepResult

    Raises
    ------
    FamilyError
        For GLMMs and Bayesian fits.
    SpecError
        For an alpha outside [0, 1] or ``keep`` that is not a list of names.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", "sleepstudy",
    ...            method="reml")
    >>> result = ml.step(m)
    >>> result.formula
    'Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)'
    >>> result.random["Eliminated"].tolist()
    [nan, 0.0, 0.0]
    """
    from multilevel.inference.ranova import _check, ranova
    from multilevel.inference.tests import normalize_ddf

    _check(fit)   # ranova's: gaussian REML/ML fits with plain (x | g) terms
    ddf = normalize_ddf(ddf)
    if ddf is None:
        raise SpecError("step() tests fixed effects with ddf='satterthwaite' or 'kenward-roger' "
                        "(lmerTest's ddf); got None.")
    for name, alpha in (("alpha_random", alpha_random), ("alpha_fixed", alpha_fixed)):
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)) or not 0 <= alpha <= 1:
            raise SpecError(f"{name} must be a number in [0, 1], got {alpha!r}.")
    for name, flag in (("reduce_fixed", reduce_fixed), ("reduce_random", reduce_random)):
        if not isinstance(flag, (bool, np.bool_)):
            raise SpecError(f"{name} must be True or False, got {flag!r}.")
    if isinstance(keep, str) or not all(isinstance(k, str) for k in keep):
        raise SpecError(f"keep must be a list of fixed-effect term names, e.g. ['Days']; got {keep!r}.")
    # as lmerTest: a part not reduced is still tested, at alpha 1 nothing is reduced
    alpha_random = alpha_random if reduce_random else 1.0
    alpha_fixed = alpha_fixed if reduce_fixed else 1.0
    model, random = _reduce_random(fit, float(alpha_random), ranova)
    model, fixed = _reduce_fixed(model, ddf, float(alpha_fixed), list(keep))
    named = {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger"}[ddf]
    return StepResult(random=random, fixed=fixed, model=model, formula=model.formula,
                      ddf=named if model.design.reterms else None)


def _reduce_random(fit, alpha: float, ranova):
    from multilevel.inference.ranova import reduced_bars

    table = _plain(ranova(fit))
    eliminated = [table.iloc[[0]]]
    model = fit
    while True:
        p = table["p"].iloc[1:]
        above = p[p.notna() & (p > alpha)]
        if above.empty:
            final = table.iloc[1:]
            break
        row = above.index[int(np.argmax(above.to_numpy()))]   # R's which.max: the first largest
        eliminated.append(table.loc[[row]])
        model = _refit(model, bars=reduced_bars(model.design, row))
        if not model.design.reterms:   # a linear model: lmerTest's ranova_lm, the <none> row alone
            final = table.iloc[:0]
            break
        table = _plain(ranova(model))
    out = pd.concat(eliminated + [final])
    out.insert(0, "Eliminated", [np.nan] + list(range(1, len(eliminated))) + [0] * len(final))
    return model, out


def _plain(table: pd.DataFrame) -> pd.DataFrame:
    """The table without its ``attrs`` (ranova's refitted models, drop1's ddf)."""
    table = table.copy()
    table.attrs = {}
    return table


def _reduce_fixed(model, ddf: str, alpha: float, keep: list[str]):
    table = _plain(_drop1(model, ddf))
    unknown = [k for k in keep if k not in table.index and k not in _all_terms(model)]
    if unknown:
        warn(f"keep names no fixed-effect term of the model: {', '.join(map(repr, unknown))} "
             f"(ignored). Its terms: {', '.join(_all_terms(model)) or 'none'}.", DataWarning)
    removed, rows = [], []
    while True:
        consider = table.loc[[t for t in table.index if t not in keep], "p"]
        above = consider[consider.notna() & (consider > alpha)]
        if above.empty:
            break
        term = above.index[int(np.argmax(above.to_numpy()))]
        rows.append(table.loc[[term]])
        removed.append(term)
        n = model.nobs
        model = _refit(model, removed=[term])
        if model.nobs != n:   # cannot happen on the rows used; lmerTest checks the same
            raise FitError(f"deleting {term!r} changed the rows used ({n} → {model.nobs}).")
        table = _plain(_drop1(model, ddf))
    out = pd.concat(rows + [table]) if rows else table.copy()
    out.insert(0, "Eliminated", list(range(1, len(rows) + 1)) + [0] * len(table))
    return model, out


def _all_terms(model) -> list[str]:
    from multilevel.inference.contrasts import fixed_terms

    return [t.name for t in fixed_terms(model.design)]


def _drop1(model, ddf: str) -> pd.DataFrame:
    """lmerTest's drop1 of an LMM; R's ``drop1(lm, test = "F")`` of a linear model, in the
    same columns (the F test of a linear model is exact: DenDF = n − rank X)."""
    if model.design.reterms:
        from multilevel.inference.tests import drop1

        return drop1(model, ddf=ddf)
    from multilevel.inference.linear import lm_drop1

    return lm_drop1(model)


def _refit(model, bars: list[str] | None = None, removed: tuple[str, ...] = ()):
    """``model`` refitted with other group-effect terms (``bars``) or without the fixed
    terms ``removed``, on the rows it used, with its weights and criterion."""
    from multilevel.freq.fit import fit_freq

    design = model.design
    parsed = design.spec.parsed
    if bars is None:
        bars = _current_bars(model) if design.reterms else []
    rhs = parsed.fixed
    if removed:   # the terms left, written out as R's update() prints them
        from multilevel.inference.contrasts import fixed_terms

        left = [t.name for t in fixed_terms(design) if t.name not in removed]
        rhs = " + ".join(["1" if "Intercept" in design.spec.fixed_matrix.terms else "0"] + left)
    rhs += "".join(f" + offset({o})" for o in parsed.offsets)
    rhs += "".join(f" + ({b})" for b in bars)
    formula = f"{parsed.response.text} ~ {rhs}"
    data = design.frame.data
    weights = None
    if design.weights is not None:
        weights = "weights"
        while weights in data.columns:
            weights += "_"
        data = data.assign(**{weights: design.weights})
    options = {"solver": model.solver} if bars and hasattr(model, "solver") else {}
    refit = fit_freq(formula, data, reml=model.reml, family="gaussian", weights=weights, **options)
    return refit


def _current_bars(model) -> list[str]:
    from multilevel.inference.ranova import _labels

    return [label for _, label in _labels(model.design)]
