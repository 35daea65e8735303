"""lme4 formula (parsed) → the Bambi formula and the blocks Bambi cannot express.

Bambi 0.21 reads ``(x | g)`` as independent terms ``1|g`` and ``x|g`` and rejects
``||``. Our parser has already expanded ``||`` and ``a/b`` into plain bars
(:mod:`multilevel.formula.parse`), so the Bambi formula is just those bars written
out; what Bambi loses is which of its terms form one correlated block. That is
recorded here as :class:`Block` and honoured by :mod:`multilevel.bayes.backend`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from multilevel.errors import FormulaError, PriorError
from multilevel.formula import Design, lme4_name
from multilevel.formula.families import AUXILIARY as FAMILY_AUXILIARY
from multilevel.formula.frame import SUCCESSES, TRIALS
from multilevel.formula.parse import Bar, ParsedFormula, _split_top
from multilevel.formula.structures import Structure

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
    "wald": "wald",
    "lognormal": "lognormal",
    "hurdle_lognormal": "hurdle_lognormal",
    "cumulative": "cumulative",
    "sratio": "sratio",
    "categorical": "categorical",
}
# Links passed to Bambi where ours differ from Bambi's default. wald: Bambi's (and R's)
# 1/μ² gives no mean for η <= 0, yet its Normal priors put mass there and PyMC starts the
# intercept at 0 (μ = ∞) with Uniform(-1, 1) jitter, so chains start at η < 0 (logp NaN:
# "Initial evaluation failed") and wander there while sampling; the log link has a mean
# for every η.
BAMBI_LINKS = {"wald": "log"}


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
        True when the block has more than one column and correlations: an unstructured
        covariance with an LKJ prior on its correlation matrix, or a cs/ar1/toep structure.
    known : KnownCov or None
        ``(1 | gr(g, cov = A))``: the effects are N(0, sd² A) (:mod:`multilevel.bayes.known`).
    smooth : ReTerm or None
        An ``s(x)``'s penalized block (:mod:`multilevel.bayes.smooths`).
    structure : Structure or None
        lme4 2.0's covariance structure of the term (``cs(x | g)``): its prior is built by
        :mod:`multilevel.bayes.structures` instead of the LKJ (None or ``us``: LKJ).
    """

    name: str
    cnms: tuple[str, ...]
    bambi_terms: tuple[str, ...]
    correlated: bool
    known: object = field(default=None, compare=False, repr=False)
    smooth: object = field(default=None, compare=False, repr=False)   # the smooth's ReTerm
    structure: Structure | None = None
    prefix: str = ""   # an auxiliary parameter's blocks: "sigma_" (multilevel.bayes.distributional)

    @property
    def lkj(self) -> bool:
        """An unstructured correlated block: an LKJ prior on its correlation matrix."""
        return self.correlated and self.structure is None and self.smooth is None

    @property
    def corr_name(self) -> str:
        return f"corr|{self.prefix}{self.name}"

    @property
    def chol_name(self) -> str:
        return f"chol|{self.prefix}{self.name}"

    @property
    def offset_name(self) -> str:
        return f"{self.prefix}{self.name}_block_offset"


def bambi_group(bar: Bar) -> str:
    """Bambi's spelling of a grouping factor (columns joined by ``:``, outer first; a name
    that is not an identifier in backticks)."""
    for v in bar.group_vars:
        if "|" in v:   # Bambi splits its term names at '|', backticks or not
            raise FormulaError(f"Grouping column {v!r} of {bar.source!r} has a '|' in its name, which "
                               "Bambi reads as a bar: rename the column (e.g. "
                               f"data.rename(columns={{{v!r}: {v.replace('|', '_')!r}}})) or fit "
                               "with method='REML'.")
    return ":".join(v if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", v) else f"`{v}`"
                    for v in bar.group_vars)


def bambi_formula(parsed: ParsedFormula, trials: bool = False, smooth_columns=()) -> str:
    """The formula Bambi receives: response, fixed part, offsets, one bar per expanded bar.

    ``trials``: the model frame holds binomial successes and trials (``cbind``, ``p()`` or
    a proportion with ``weights=``). ``smooth_columns``: the data columns of the smooths'
    unpenalized parts (:func:`multilevel.bayes.smooths.bambi_column`), after the fixed part.
    """
    resp = parsed.response
    lhs = f"p({SUCCESSES}, {TRIALS})" if trials or resp.kind in ("cbind", "trials") else resp.text
    offsets = [f"offset({expr})" for expr in parsed.offsets]
    bars = [f"({bar.expr} | {bambi_group(bar)})" for bar in parsed.bars]
    return f"{lhs} ~ " + " + ".join([parsed.fixed, *smooth_columns, *offsets, *bars])


def bar_term_names(bar: Bar, prefix: str = "") -> list[str]:
    """Bambi's names of the group-specific terms one bar produces (an auxiliary parameter's
    terms carry its name: ``prefix="sigma_"`` gives ``sigma_1|g``)."""
    parts = [t.lstrip("+").strip() for t in _split_top(bar.expr, "+-")]
    expanded = [t for part in parts if part not in {"0", "1", "-1"} for t in _products(part)]
    labels = list(dict.fromkeys(expanded))   # in place, the order of the design's columns
    group = ":".join(bar.group_vars)   # Bambi names a term without the formula's backticks
    return [f"{prefix}{label}|{group}" for label in (["1"] if bar.has_intercept else []) + labels]


def _products(part: str) -> list[str]:
    """``f*x`` → ``f``, ``x``, ``f:x`` (every interaction of the factors, as formulae
    expands it); anything else as it is."""
    factors = _split_top(part, "*", keep_sign=False)
    if len(factors) < 2 or "**" in part:
        return [part]
    return [":".join(combo) for k in range(1, len(factors) + 1)
            for combo in itertools.combinations(factors, k)]


def blocks(design: Design, bambi_terms, prefix: str = "") -> list[Block]:
    """Match the design's random-effects terms (lme4 order) to Bambi's terms.

    Parameters
    ----------
    design : Design
    bambi_terms : Mapping
        Bambi's ``group_specific_terms`` of the parent component (of an auxiliary
        parameter's component: keyed by the terms' names, ``sigma_1|g``).
    prefix : str
        ``"<param>_"`` for an auxiliary parameter's terms.
    """
    out = []
    # Bambi spaces its term names its own way ("I(Days ** 2)|Subject" for I(Days**2))
    spelled = {name.replace(" ", ""): name for name in bambi_terms}
    claimed: dict[str, str] = {}   # Bambi term -> the bar that uses it
    for term in design.reterms:
        if term.smooth is not None:   # built by multilevel.bayes.smooths, not by Bambi
            out.append(Block(name=term.name, cnms=tuple(term.cnms), bambi_terms=(term.name,),
                             correlated=False, smooth=term))
            continue
        names = [spelled.get(n.replace(" ", ""), n) for n in bar_term_names(term.bar, prefix)]
        missing = [n for n in names if n not in bambi_terms]
        if missing:
            raise FormulaError(
                f"Bambi did not create the term(s) {missing} for {term.bar.source!r}; "
                f"it has {sorted(bambi_terms)}. Rewrite the term with plain column names."
            )
        for name in names:
            if name in claimed:
                what = _column_phrase(name.split("|")[0][len(prefix):])
                raise FormulaError(
                    f"{claimed[name]!r} and {term.bar.source!r} both give grouping factor "
                    f"{term.group!r} {what}: Bambi builds each "
                    f"group-specific term once ({name!r}), so the Bayesian model cannot hold it "
                    "twice (nor are two variances of one column identified). Remove the repeat "
                    "from one of the terms, or fit this formula with method='REML'."
                )
            claimed[name] = term.bar.source
        width = sum(_width(bambi_terms[n]) for n in names)
        if width != term.q:
            raise FormulaError(
                f"{term.bar.source!r} has {term.q} columns in lme4's design but {width} in "
                "Bambi's: lme4 gives a factor one column per level where it has no main effect "
                "in the term (after '||', or in an interaction such as x:f alone), Bambi codes "
                "it with contrasts. Write that factor's columns as numeric 0/1 indicator "
                "columns, or fit this term with method='REML'."
            )
        structure = term.bar.structure if term.bar.structure and term.bar.structure.kind != "us" else None
        out.append(Block(name=term.name, cnms=tuple(term.cnms), bambi_terms=tuple(names),
                         correlated=term.q > 1 and not (structure and structure.kind == "diag"),
                         known=term.known, structure=structure, prefix=prefix))
    return out


def _column_phrase(label: str) -> str:
    return "the intercept" if label == "1" else f"the column {label!r}"


def _width(term) -> int:
    predictor = term.predictor
    return 1 if predictor.ndim == 1 else predictor.shape[1]


def sd_names(design: Design, block_list: list[Block]) -> dict[str, tuple[str, str]]:
    """``{sd__<column>|<group>: (Bambi term, column)}``: the summary's names of the
    group-effect SDs (as :meth:`BayesFit.summary` writes them) and the term behind each."""
    groups = {t.name: t.group for t in design.reterms}
    # a Bambi term with several columns (a factor) has one SD per column: no single term
    return {f"sd__{cnm}|{groups[block.name]}": (term, cnm)
            for block in block_list if len(block.cnms) == len(block.bambi_terms)
            for cnm, term in zip(block.cnms, block.bambi_terms)}


# the auxiliary parameters each family has (formula.families): a prior for another one
# would be ignored by Bambi
AUXILIARY = tuple(sorted({p for params in FAMILY_AUXILIARY.values() for p in params}))


def translate_priors(user: dict, design: Design, block_list: list[Block], common_terms,
                     auxiliary: tuple[str, ...] | None = None) -> dict:
    """Per-parameter user priors keyed by the summary's names → Bambi's keys.

    Keys are the names of :meth:`BayesFit.summary` rows: ``(Intercept)``, a fixed-effect
    term (``Days``; a factor's term ``period``, since a coefficient of a factor such as
    ``period2`` cannot carry its own prior in Bambi, and the error says so),
    ``sd__<column>|<group>`` (the prior of that group-effect SD: the term's effects get
    ``Normal(0, sd)``) and the family's auxiliary parameters (``sigma``, ``nu``,
    ``alpha``). Bambi's names are accepted as well: ``Intercept``, and a group term's
    whole prior (``1|Subject``: ``Normal(mu=0, sigma=HalfNormal(...))``).
    ``auxiliary``: the scalar auxiliary parameters (default: all of the family's; a
    parameter with a formula of its own is not one, :mod:`multilevel.bayes.distributional`).
    """
    family_aux = FAMILY_AUXILIARY.get(design.frame.family, ()) if auxiliary is None else auxiliary
    sds = sd_names(design, block_list)
    intercept = ["(Intercept)"] if "(Intercept)" in design.x_names else []
    # a term as the summary spells it (R's: exp(wt/3)) or as Bambi does (exp(wt / 3))
    spelled = {lme4_name(t): t for t in common_terms}
    parameters = [*intercept, *spelled, *sds, *family_aux]
    known = {**{name: name for name in parameters}, **spelled, **{t: t for t in common_terms}}
    if intercept:
        known.update({"(Intercept)": "Intercept", "Intercept": "Intercept"})
    terms = [t for block in block_list for t in block.bambi_terms]
    known.update({t: t for t in terms})
    out: dict = {}
    given: dict = {}
    for key, prior in user.items():
        if key not in known:
            hint = ""
            if key in design.x_names:
                owner = [r for r, t in spelled.items() if key.startswith(r)]
                hint = f" Put the prior on the term {owner[0]!r} instead." if owner else ""
            elif key in AUXILIARY:
                hint = f" Family {design.frame.family!r} has no parameter {key!r}."
            also = (f" A group term's whole prior may also be given under Bambi's term name "
                    f"({', '.join(terms)}).") if terms else ""
            raise PriorError(
                f"No parameter {key!r} to put a prior on.{hint} Parameters of this model: "
                f"{', '.join(parameters)}.{also}"
            )
        target = sds[key][0] if key in sds else known[key]
        if target in given:
            raise PriorError(f"Priors {given[target]!r} and {key!r} are for the same parameter "
                             f"({target!r}); give one of them.")
        given[target] = key
        out[target] = _sd_prior(prior, key) if key in sds else prior
    return out


def check_prior_sizes(priors: dict, common_terms: dict) -> None:
    """A coefficient prior's parameter array has one value per column of its term (or one):
    Bambi's own failure is a ValueError about a dot product, naming no term."""
    import numpy as np

    for key, prior in priors.items():
        term = common_terms.get(key)
        if term is None or not hasattr(prior, "args"):
            continue
        width = 1 if np.ndim(term.data) < 2 else term.data.shape[1]
        for arg, value in prior.args.items():
            size = np.size(value) if isinstance(value, (list, tuple, np.ndarray)) else 1
            if size not in (1, width):
                raise PriorError(f"The prior of {key!r} gives {arg} {size} values, but {key!r} has "
                                 f"{width} coefficient(s); give one value, or one per coefficient.")


def _sd_prior(sd, key: str):
    """The group term's prior given the prior of its SD: ``Normal(0, sd)``."""
    from multilevel.priors.base import Prior

    if hasattr(sd, "to_bambi") or (isinstance(sd, (int, float)) and not isinstance(sd, bool)):
        return Prior("Normal", mu=0, sigma=sd)
    if type(sd).__module__.startswith("bambi"):
        import bambi as bmb

        return bmb.Prior("Normal", mu=0, sigma=sd)
    raise PriorError(f"The prior for {key!r} must be ml.priors.Prior(...), bambi.Prior(...) or a "
                     f"positive number (a fixed SD); got {type(sd).__name__}.")
