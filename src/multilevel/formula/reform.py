"""Which group effects a prediction conditions on: lme4's ``re.form``.

``group_effects`` of the prediction functions is ``True`` (all of the model's group
effects, lme4's ``re.form = NULL``), ``False`` (none: ``re.form = NA``) or a formula of
random-effect terms, as lme4's ``predict(..., re.form = ~ (1 | Subject))``: per grouping
factor, only the columns the formula names. In ``(Days | Subject)`` the formula
``~ (1 | Subject)`` keeps each subject's intercept effect and leaves out its slope effect;
in ``(1 | plate) + (1 | sample)``, ``~ (1 | plate)`` leaves out the samples (and new data
need no ``sample`` column). As lme4 (``mkNewReTrms``), the terms of a grouping factor are
taken together, so ``~ (1 | Subject)`` selects the intercept of ``(Days || Subject)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multilevel.errors import FormulaError

_NONE = {"~0", "~ 0", "0", "~-1", "~ -1", "NA", "~NA"}


@dataclass(frozen=True)
class GroupEffectsFormula:
    """A parsed ``re.form``: its text and its bars (after ``||`` and ``/`` expansion)."""

    text: str
    bars: tuple


def read_group_effects(value) -> bool | GroupEffectsFormula:
    """``True``/``False`` as given; a formula string parsed into its bars.

    Raises
    ------
    FormulaError
        For another type, a formula with terms that are not random-effect terms, or one
        that cannot be parsed.

    Examples
    --------
    >>> read_group_effects(True), read_group_effects("~0")
    (True, False)
    >>> [(b.expr, b.group) for b in read_group_effects("~ (1 | a/b)").bars]
    [('1', 'a'), ('1', 'b:a')]
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if not isinstance(value, str):
        raise FormulaError(f"group_effects must be True, False or a formula of group-effect terms "
                           f"such as '~ (1 | Subject)' (lme4's re.form), not {type(value).__name__}.")
    text = " ".join(value.split())
    if text in _NONE:
        return False
    from multilevel.formula.parse import parse_formula

    rhs = text[1:].strip() if text.startswith("~") else text
    try:
        parsed = parse_formula(f"group_effects_response ~ 0 + {rhs}")
    except FormulaError as exc:
        raise FormulaError(f"group_effects={value!r} is not a formula of group-effect terms: {exc}") from None
    if parsed.fixed.strip() not in ("0", "-1", "0 + 0") or parsed.offsets or parsed.smooths:
        raise FormulaError(f"group_effects={value!r} may hold only group-effect terms such as "
                           "(1 | g) or (x | g), as lme4's re.form; the population part is always "
                           "included.")
    if not parsed.bars:
        return False
    return GroupEffectsFormula(text=value, bars=parsed.bars)


def group_effect_masks(reterms, group_effects, data) -> list[np.ndarray | None]:
    """Per term of ``reterms``: the mask of its columns a prediction includes, or ``None``
    when the term is left out (smooths are the population curve: always included).

    ``data`` (the fitted rows) names the columns of a formula's terms as the model names
    them (``(0 + f | g)``: one column per level of ``f``).

    Raises
    ------
    FormulaError
        Naming a grouping factor or a column the formula asks for that the model lacks.
    """
    chosen = read_group_effects(group_effects)
    if chosen is True or chosen is False:
        return [np.ones(t.q, dtype=bool) if chosen or t.smooth is not None else None
                for t in reterms]
    from multilevel.formula.design import _matrix

    groups = {t.group for t in reterms if t.smooth is None}
    wanted: dict[str, set] = {}
    for bar in chosen.bars:
        if bar.group not in groups:
            raise FormulaError(f"group_effects={chosen.text!r}: {bar.group!r} is not a grouping "
                               f"factor of the model; its grouping factors are {sorted(groups)}.")
        _, _, names = _matrix(bar.expr, data, f"group_effects term {bar.source!r}")
        wanted.setdefault(bar.group, set()).update(names)
    for group, names in wanted.items():
        present = {c for t in reterms if t.group == group for c in t.cnms}
        missing = sorted(names - present)
        if missing:
            raise FormulaError(f"group_effects={chosen.text!r} asks for {missing} of {group!r}, which "
                               f"the model's terms of {group!r} do not have ({sorted(present)}).")
    masks = []
    for t in reterms:
        if t.smooth is not None:
            masks.append(np.ones(t.q, dtype=bool))
        elif t.group in wanted:
            mask = np.array([c in wanted[t.group] for c in t.cnms])
            masks.append(mask if mask.any() else None)
        else:
            masks.append(None)
    return masks


def all_or_none(group_effects, where: str) -> bool:
    """``group_effects`` for code that conditions on all group effects or none.

    Raises
    ------
    FormulaError
        For a formula (a subset of the group effects), naming ``where``.
    """
    chosen = read_group_effects(group_effects)
    if isinstance(chosen, GroupEffectsFormula):
        raise FormulaError(f"group_effects={chosen.text!r} (some of the group effects) is not "
                           f"available for {where}; use True or False.")
    return chosen
