"""Distributional regression: a list of formulas, the response's first, then one per
auxiliary parameter (Bambi's ``bmb.Formula(main, *additionals)``, brms's ``bf()``).

``["y ~ x + (1 | g)", "sigma ~ x"]`` models the residual SD as well as the mean:
log σᵢ = (Xβ_σ + Zb_σ)ᵢ. The left side of each further formula names one of the
family's auxiliary parameters (:data:`multilevel.formula.families.AUXILIARY`, Bambi's
names: ``sigma``, ``nu``, ``alpha``, ``psi``, ``kappa``, ``b``); its right side is lme4
syntax, group effects included. Each parameter's predictor goes through the family's
link for that parameter (Bambi's: log for positive parameters, logit for ψ).

This module only reads the text; the rows come from one model frame over every
formula's columns (:func:`frame_formula`), so all parts see the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from multilevel.errors import FormulaError
from multilevel.formula.families import AUXILIARY
from multilevel.formula.parse import ParsedFormula, _split_top, column_names, parse_formula


@dataclass(frozen=True)
class AuxFormula:
    """The formula of one auxiliary parameter: ``param ~ terms``.

    Attributes
    ----------
    param : str
        The parameter (Bambi's name), e.g. ``"sigma"``.
    parsed : ParsedFormula
        Its right side parsed as lme4 syntax (``parsed.response.text`` is ``param``).
    """

    param: str
    parsed: ParsedFormula

    @property
    def text(self) -> str:
        return self.parsed.text


@dataclass(frozen=True)
class Formulas:
    """The response's formula and the auxiliary parameters' formulas (possibly none)."""

    main: str
    aux: tuple[AuxFormula, ...] = ()

    @property
    def distributional(self) -> bool:
        return bool(self.aux)

    def as_given(self) -> str | list[str]:
        """The formula as :func:`multilevel.fit` takes it: a string, or the list."""
        return [self.main, *(a.text for a in self.aux)] if self.aux else self.main


def is_distributional(formula) -> bool:
    """Whether ``formula`` is a list of formulas with at least one auxiliary formula."""
    return isinstance(formula, (list, tuple)) and len(formula) > 1


def main_formula(formula) -> str:
    """The response's formula of a string or a list of formulas."""
    if isinstance(formula, (list, tuple)):
        return formula[0] if formula else ""
    return formula


def split_formulas(formula, family: str) -> Formulas:
    """Check a formula or a list of formulas against the family's auxiliary parameters.

    Parameters
    ----------
    formula : str or list of str
        ``"y ~ x"`` or ``["y ~ x + (1 | g)", "sigma ~ x", ...]``.
    family : str
        A checked family name (:func:`multilevel.formula.check_family`).

    Returns
    -------
    Formulas

    Raises
    ------
    FormulaError
        A list that is not of strings, a left side that is not one of the family's
        auxiliary parameters (the message lists them), a parameter given twice, an
        auxiliary formula with ``offset()``, ``ar()``/``cosy()`` residuals or the response as a term.

    Examples
    --------
    >>> f = split_formulas(["y ~ x + (1 | g)", "sigma ~ x + (1 | g)"], "gaussian")
    >>> f.aux[0].param, f.aux[0].parsed.fixed, [b.group for b in f.aux[0].parsed.bars]
    ('sigma', 'x', ['g'])
    >>> split_formulas(["y ~ x", "psi ~ x"], "gaussian")
    Traceback (most recent call last):
    ...
    multilevel.errors.FormulaError: 'psi ~ x': 'psi' is not an auxiliary parameter of family 'gaussian'; its auxiliary parameters are: sigma. ...
    """
    if isinstance(formula, str):
        return Formulas(main=formula)
    if not isinstance(formula, (list, tuple)) or not formula:
        raise FormulaError("formula must be a string such as 'y ~ x + (1 | g)' or a non-empty list "
                           "of them such as ['y ~ x + (1 | g)', 'sigma ~ x'].")
    bad = [f for f in formula if not isinstance(f, str)]
    if bad:
        raise FormulaError(f"Every formula of the list must be a string; got {bad[0]!r}.")
    main, *rest = formula
    params = AUXILIARY.get(family, ())
    aux: list[AuxFormula] = []
    for text in rest:
        aux.append(_aux_formula(text, family, params))
        seen = [a.param for a in aux]
        if len(set(seen)) != len(seen):
            raise FormulaError(f"The parameter {aux[-1].param!r} has two formulas; give one "
                               f"(e.g. '{aux[-1].param} ~ x + z').")
    out = Formulas(main=main, aux=tuple(aux))
    response = set(column_names(parse_formula(main).response.text))
    for a in out.aux:
        terms = [t.lstrip("+-").strip() for t in _split_top(a.parsed.fixed, "+-")]
        terms += [t.lstrip("+-").strip() for b in a.parsed.bars for t in _split_top(b.expr, "+-")]
        used = {c for t in terms for c in column_names(t)}
        if used & response:
            raise FormulaError(f"{a.text!r} uses the response {sorted(used & response)[0]!r} as a "
                               "predictor; a parameter of the response's distribution cannot "
                               "depend on the response itself. Remove it.")
    return out


def _aux_formula(text: str, family: str, params: tuple[str, ...]) -> AuxFormula:
    sides = _split_top(" ".join(text.split()), "~", keep_sign=False)
    if len(sides) != 2 or not sides[0].strip():
        raise FormulaError(f"{text!r}: an auxiliary formula is '<parameter> ~ terms', e.g. "
                           f"'{params[0] if params else 'sigma'} ~ x + (1 | g)'.")
    param = sides[0].strip()
    if param not in params:
        if params:
            listed = ", ".join(params)
            hint = f"its auxiliary parameters are: {listed}. Write e.g. '{params[0]} ~ x'."
        else:
            hint = ("it has no auxiliary parameter (its distribution is set by the mean alone), "
                    "so it has no distributional model; give only the response's formula.")
        raise FormulaError(f"{text!r}: {param!r} is not an auxiliary parameter of family "
                           f"{family!r}; {hint}")
    parsed = parse_formula(text)
    if parsed.response.kind != "plain":
        raise FormulaError(f"{text!r}: the left side must be the parameter's name alone.")
    if parsed.residuals is not None:
        raise FormulaError(f"{text!r}: {parsed.residuals.source!r} is a structure of the response's "
                           "residuals; it belongs in the response's formula (without a formula "
                           "for sigma).")
    if parsed.offsets:
        raise FormulaError(f"{text!r}: offset() terms are taken in the response's formula only; "
                           f"remove offset({parsed.offsets[0]}) here.")
    return AuxFormula(param=param, parsed=parsed)


def frame_formula(main: ParsedFormula, aux: tuple[AuxFormula, ...]) -> ParsedFormula:
    """One parsed formula over every formula's columns, for the model frame only: its rows
    (complete in all columns), its checks of values and grouping factors are those of
    the whole model. Not for building a design."""
    if not aux:
        return main
    rhs = [a.text.split("~", 1)[1].strip() for a in aux]
    return ParsedFormula(
        text=" + ".join([main.text, *rhs]), response=main.response,
        fixed=" + ".join([main.fixed, *(a.parsed.fixed for a in aux)]),
        bars=main.bars + tuple(b for a in aux for b in a.parsed.bars),
        residuals=main.residuals, offsets=main.offsets,
    )
