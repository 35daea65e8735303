"""lme4 formula (parsed) → the Bambi formula and the blocks Bambi cannot express.

Bambi 0.21 reads ``(x | g)`` as independent terms ``1|g`` and ``x|g`` and rejects
``||``. Our parser has already expanded ``||`` and ``a/b`` into plain bars
(:mod:`multilevel.formula.parse`), so the Bambi formula is just those bars written
out; what Bambi loses is which of its terms form one correlated block. That is
recorded here as :class:`Block` and honoured by :mod:`multilevel.bayes.backend`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from multilevel.errors import FormulaError, PriorError
from multilevel.formula import Design
from multilevel.formula.families import AUXILIARY as FAMILY_AUXILIARY
from multilevel.formula.frame import SUCCESSES, TRIALS
from multilevel.formula.parse import Bar, ParsedFormula, _split_top

# Bambi's family names for ours.
BAMBI_FAMILIES = {
    "gaussian": "gaussian",
    "bernoulli": "bernoulli",
    "binomial": "binomial",
    "poisson": "poisson",
    "t": "t",
    "negativebinomial": "negativebinomial",
    "gamma": "gamma",
    "beta": "beta",
    "exponential": "exponential",
    "weibull": "weibull",
    "laplace": "laplace",
    "zero_inflated_poisson": "zero_inflated_poisson",
    "zero_inflated_negativebinomial": "zero_inflated_negativebinomial",
    "hurdle_poisson": "hurdle_poisson",
    "hurdle_negativebinomial": "hurdle_negativebinomial",
    "hurdle_gamma": "hurdle_gamma",
    "beta_binomial": "beta_binomial",
    "zero_inflated_binomial": "zero_inflated_binomial",
}


@dataclass(frozen=True)
class Block:
    """One random-effects term of the design as Bambi names its pieces.

    Attributes
    ----------
    name : str
        lme4's name of the term (``Subject``, ``Subject.1``, ``cask:batch``).
    cnms : tuple of str
        lme4's column names, in the order of the stacked Bambi columns.
    bambi_terms : tuple of str
        Bambi's group-specific terms making up the block (``1|Subject``, ``Days|Subject``).
    correlated : bool
        True when the block has more than one column: an unstructured covariance
        with an LKJ prior on its correlation matrix.
    """

    name: str
    cnms: tuple[str, ...]
    bambi_terms: tuple[str, ...]
    correlated: bool

    @property
    def corr_name(self) -> str:
        return f"corr|{self.name}"


def bambi_group(bar: Bar) -> str:
    """Bambi's spelling of a grouping factor (columns joined by ``:``, outer first; a name
    that is not an identifier in backticks)."""
    return ":".join(v if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", v) else f"`{v}`"
                    for v in bar.group_vars)


def bambi_formula(parsed: ParsedFormula, trials: bool = False) -> str:
    """The formula Bambi receives: response, fixed part, offsets, one bar per expanded bar.

    ``trials``: the model frame holds binomial successes and trials (``cbind``, ``p()`` or
    a proportion with ``weights=``).
    """
    resp = parsed.response
    lhs = f"p({SUCCESSES}, {TRIALS})" if trials or resp.kind in ("cbind", "trials") else resp.text
    offsets = [f"offset({expr})" for expr in parsed.offsets]
    bars = [f"({bar.expr} | {bambi_group(bar)})" for bar in parsed.bars]
    return f"{lhs} ~ " + " + ".join([parsed.fixed, *offsets, *bars])


def bar_term_names(bar: Bar) -> list[str]:
    """Bambi's names of the group-specific terms one bar produces."""
    parts = [t.lstrip("+").strip() for t in _split_top(bar.expr, "+-")]
    labels = ["1"] if bar.has_intercept else []
    labels += [t for t in parts if t not in {"0", "1", "-1"}]
    group = bambi_group(bar)
    return [f"{label}|{group}" for label in labels]


def blocks(design: Design, bambi_terms) -> list[Block]:
    """Match the design's random-effects terms (lme4 order) to Bambi's terms.

    Parameters
    ----------
    design : Design
    bambi_terms : Mapping
        Bambi's ``group_specific_terms`` of the parent component.
    """
    out = []
    # Bambi spaces its term names its own way ("I(Days ** 2)|Subject" for I(Days**2))
    spelled = {name.replace(" ", ""): name for name in bambi_terms}
    for term in design.reterms:
        names = [spelled.get(n.replace(" ", ""), n) for n in bar_term_names(term.bar)]
        missing = [n for n in names if n not in bambi_terms]
        if missing:
            raise FormulaError(
                f"Bambi did not create the term(s) {missing} for {term.bar.source!r}; "
                f"it has {sorted(bambi_terms)}. Rewrite the term with plain column names."
            )
        width = sum(_width(bambi_terms[n]) for n in names)
        if width != term.q:
            raise FormulaError(
                f"{term.bar.source!r} has {term.q} columns in lme4's design but {width} in "
                "Bambi's; write factors in random-effect terms without contrasts tricks."
            )
        out.append(Block(name=term.name, cnms=tuple(term.cnms), bambi_terms=tuple(names),
                         correlated=term.q > 1))
    return out


def _width(term) -> int:
    predictor = term.predictor
    return 1 if predictor.ndim == 1 else predictor.shape[1]


# the auxiliary parameters each family has: a prior for another one would be ignored by Bambi
AUXILIARY = tuple(sorted({p for params in FAMILY_AUXILIARY.values() for p in params}))


def translate_priors(user: dict, design: Design, block_list: list[Block], common_terms) -> dict:
    """Per-term user priors keyed by lme4 or Bambi names → Bambi's keys.

    A fixed-effect coefficient of a factor (``period2``) cannot carry its own prior in
    Bambi; the prior goes on the term (``period``), and the error says so.
    """
    known = {"(Intercept)": "Intercept", "Intercept": "Intercept"}
    known.update({name: name for name in FAMILY_AUXILIARY.get(design.frame.family, ())})
    known.update({t: t for t in common_terms})
    known.update({t: t for block in block_list for t in block.bambi_terms})
    out = {}
    for key, prior in user.items():
        if key not in known:
            hint = ""
            if key in design.x_names:
                owner = [t for t in common_terms if key.startswith(t)]
                hint = f" Put the prior on the term {owner[0]!r} instead." if owner else ""
            elif key in AUXILIARY:
                hint = f" Family {design.frame.family!r} has no parameter {key!r}."
            raise PriorError(
                f"No term {key!r} to put a prior on.{hint} Terms of this model: "
                f"{', '.join(sorted(set(known)))}."
            )
        out[known[key]] = prior
    return out
