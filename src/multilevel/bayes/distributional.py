"""Auxiliary parameters with formulas of their own (``["y ~ x", "sigma ~ x + (1 | g)"]``).

Each auxiliary formula gets the same treatment as the response's: lme4's design
(:func:`multilevel.formula.build_design`, for names and for predictions on new data),
Bambi's term for it in ``bmb.Formula(main, *additionals)``, and correlated blocks for
``(x | g)`` (:class:`~multilevel.bayes.translate.Block` with the parameter's prefix).
The parameter is g⁻¹(η_param) per row, with Bambi's link for it (log for σ, α, κ, ν,
b; logit for ψ).

Names, one convention everywhere (summary, priors, reports): a term of the parameter
``p``'s formula is ``p_<lme4 column>`` — ``sigma_(Intercept)``, ``sigma_x``,
``psi_groupb`` — its group-effect SDs ``sd__p_<column>|<group>`` and correlations
``cor__p_<a>.p_<b>|<group>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from multilevel.bayes.translate import Block, bambi_group, blocks
from multilevel.errors import FormulaError, PriorError
from multilevel.formula import Design, build_design
from multilevel.formula.distributional import AuxFormula
from multilevel.formula.links import inverse_link_fn
from multilevel.formula.reform import all_or_none

# Bambi's links of auxiliary parameters that a formula can drive (others, such as the
# ordinal thresholds' identity, are not distributional parameters in Bambi)
AUX_LINKS = ("log", "logit")


@dataclass(frozen=True)
class AuxPart:
    """One auxiliary parameter's formula as built.

    Attributes
    ----------
    param : str
        Bambi's name of the parameter (``sigma``, ``psi``, ...).
    formula : AuxFormula
    design : Design
        lme4's layout of its terms on the model's rows.
    blocks : list of Block
        Its group-effect terms matched to Bambi's (names prefixed ``<param>_``).
    link : str
        Bambi's link for the parameter (``"log"`` or ``"logit"``).
    common_terms : tuple of str
        Bambi's common terms of the parameter's component, in its order (unprefixed).
    """

    param: str
    formula: AuxFormula
    design: Design = field(repr=False)
    blocks: tuple[Block, ...]
    link: str
    common_terms: tuple[str, ...] = ()

    @property
    def prefix(self) -> str:
        return f"{self.param}_"

    def names(self) -> list[str]:
        """The summary's names of this parameter's coefficients (``sigma_(Intercept)``, ...)."""
        return [f"{self.prefix}{x}" for x in self.design.x_names]

    def inverse_link(self, eta: np.ndarray) -> np.ndarray:
        return inverse_link_fn(self.link)(eta)


def aux_designs(aux: tuple[AuxFormula, ...], frame) -> list[tuple[AuxFormula, Design]]:
    """lme4 designs of the auxiliary formulas on the model frame's rows."""
    out = []
    for a in aux:
        design = build_design(a.parsed, frame)
        if design.dropped_columns:
            raise FormulaError(
                f"The terms of {a.text!r} are rank deficient: {', '.join(design.dropped_columns)} "
                "are linear combinations of other columns. Remove them from that formula."
            )
        out.append((a, design))
    return out


def bambi_aux_formula(a: AuxFormula) -> str:
    """The auxiliary formula as Bambi receives it (``||`` and ``a/b`` already expanded)."""
    bars = [f"({bar.expr} | {bambi_group(bar)})" for bar in a.parsed.bars]
    return f"{a.param} ~ " + " + ".join([a.parsed.fixed, *bars])


def build_parts(model, designs: list[tuple[AuxFormula, Design]]) -> list[AuxPart]:
    """Match each auxiliary design to Bambi's component of the parameter."""
    parts = []
    for a, design in designs:
        link = model.family.link[a.param].name
        if link not in AUX_LINKS:
            raise FormulaError(f"{a.text!r}: Bambi models {a.param!r} of family "
                               f"{model.family.name!r} as a constant (link {link!r}); it cannot "
                               "have a formula. Give only the response's formula.")
        component = model.conditional_parameters[a.param]
        named = {t.name: t for t in component.group_specific_terms.values()}
        parts.append(AuxPart(param=a.param, formula=a, design=design,
                             blocks=tuple(blocks(design, named, prefix=f"{a.param}_")), link=link,
                             common_terms=tuple(component.common_terms)))
    return parts


def split_priors(per_term: dict, parts: list[AuxPart]) -> tuple[dict, dict]:
    """(the response's priors, ``{param: {summary name: prior}}``) from one dict keyed by
    the summary's names; a key is the parameter's when it starts with ``<param>_`` or
    ``sd__<param>_`` and that parameter has a formula."""
    main, aux = {}, {p.param: {} for p in parts}
    for key, prior in per_term.items():
        owner = next((p for p in parts if key.startswith((p.prefix, f"sd__{p.prefix}"))), None)
        if owner is None:
            if key in aux:
                raise PriorError(
                    f"{key!r} has a formula of its own, so it is not one parameter: give priors "
                    f"to its terms ({', '.join(map(repr, _prior_keys(next(p for p in parts if p.param == key))))})."
                )
            main[key] = prior
        else:
            aux[owner.param][key] = prior
    return main, aux


def _prior_keys(part: AuxPart) -> list[str]:
    groups = {t.name: t.group for t in part.design.reterms}
    sds = [f"sd__{part.prefix}{cnm}|{groups[b.name]}" for b in part.blocks for cnm in b.cnms
           if len(b.cnms) == len(b.bambi_terms)]
    intercept = [f"{part.prefix}(Intercept)"] if "(Intercept)" in part.design.x_names else []
    # a factor's term takes one prior for all its coefficients (sigma_grp, not sigma_grpb)
    return [*intercept, *(f"{part.prefix}{t}" for t in part.common_terms), *sds]


def bambi_aux_priors(part: AuxPart, given: dict, model) -> dict:
    """Priors for one parameter's terms → Bambi's ``{param: {term: prior}}`` entry."""
    from multilevel.bayes.translate import translate_priors

    component = model.conditional_parameters[part.param]
    known = _prior_keys(part)
    unknown = [key for key in given if key not in known]
    if unknown:
        raise PriorError(f"No parameter {unknown[0]!r} to put a prior on in {part.param!r}'s formula "
                         f"{part.formula.text!r}; its parameters are {', '.join(known)}.")
    stripped = {}
    for key, prior in given.items():
        stripped[key.replace(part.prefix, "", 1)] = prior
    # the unprefixed names of the parameter's terms, as translate_priors knows them
    plain_blocks = [Block(name=b.name, cnms=b.cnms, correlated=b.correlated,
                          bambi_terms=tuple(t.replace(part.prefix, "", 1) for t in b.bambi_terms))
                    for b in part.blocks]
    return translate_priors(stripped, part.design, plain_blocks, component.common_terms,
                            auxiliary=())


# ------------------------------------------------------------------------ draws
def fixef_draws(posterior, part: AuxPart) -> np.ndarray:
    """The parameter's coefficients, shape (chain, draw, p), in ``part.design.x_names`` order."""
    from multilevel.bayes.draws import _as_3d

    pieces = []
    if "(Intercept)" in part.design.x_names:
        pieces.append(_as_3d(posterior[f"{part.prefix}Intercept"]))
    for name in part.common_terms:
        pieces.append(_as_3d(posterior[f"{part.prefix}{name}"]))
    if not pieces:
        return np.zeros((posterior["chain"].size, posterior["draw"].size, 0))
    out = np.concatenate(pieces, axis=2)
    if out.shape[2] != len(part.design.x_names):
        raise RuntimeError(f"Bambi has {out.shape[2]} columns for {part.formula.text!r}, the design "
                           f"{len(part.design.x_names)}: {part.design.x_names}.")
    return part.design.spec.in_design_order(out)   # formulae's order within interactions → R's


def ranef_draws(posterior, part: AuxPart) -> dict[str, np.ndarray]:
    """The parameter's group effects per term: name → (n_draws, levels, q), lme4 order."""
    from multilevel.bayes import draws as D

    out = {}
    for block in part.blocks:
        eff = D.block_effects(posterior, block, part.design)
        out[block.name] = eff.reshape(-1, *eff.shape[2:])
    return out


def covariance_draws(posterior, part: AuxPart) -> dict[str, np.ndarray]:
    """The parameter's group-effect covariance matrices per term: name → (n_draws, q, q)."""
    from multilevel.bayes import draws as D

    out = {}
    for block in part.blocks:
        cov = D.block_cov(posterior, block)
        out[block.name] = cov.reshape(-1, *cov.shape[2:])
    return out


def summary_draws(posterior, part: AuxPart) -> dict[str, np.ndarray]:
    """The parameter's summary rows as (chain, draw) arrays: ``p_<column>``,
    ``sd__p_<column>|<group>``, ``cor__p_<a>.p_<b>|<group>``."""
    from multilevel.bayes import draws as D

    data = {}
    fixef = fixef_draws(posterior, part)
    for j, name in enumerate(part.names()):
        data[name] = fixef[:, :, j]
    groups = {t.name: t.group for t in part.design.reterms}
    for block in part.blocks:
        group, cnms = groups[block.name], [f"{part.prefix}{c}" for c in block.cnms]
        sd = D.block_sds(posterior, block)
        for i, cnm in enumerate(cnms):
            data[f"sd__{cnm}|{group}"] = sd[..., i]
        if block.correlated:
            corr = D.block_corr(posterior, block)
            for i in range(len(cnms)):
                for j in range(i + 1, len(cnms)):
                    data[f"cor__{cnms[i]}.{cnms[j]}|{group}"] = corr[..., i, j]
    return data


def summary_names(part: AuxPart, posterior=None) -> dict[str, list[str]]:
    """``{Bambi variable: [summary names]}`` of the parameter's coefficients, SDs and
    correlations (:func:`multilevel.bayes.names.summary_names`), each variable's names in
    the order of its values (Bambi's)."""
    x_names = part.design.spec.in_bambi_order(part.names())
    out: dict[str, list[str]] = {}
    k = 0
    if "(Intercept)" in part.design.x_names:
        out[f"{part.prefix}Intercept"], k = [x_names[0]], 1
    widths = part.design.spec.term_widths()
    for name in part.common_terms:
        var = f"{part.prefix}{name}"
        if posterior is not None and var in posterior:
            width = int(np.prod(posterior[var].shape[2:], dtype=int))
        else:
            width = widths.get(name, 1)
        out[var], k = x_names[k:k + width], k + width
    groups = {t.name: t.group for t in part.design.reterms}
    for block in part.blocks:
        group, cnms = groups[block.name], [f"{part.prefix}{c}" for c in block.cnms]
        sds = [f"sd__{cnm}|{group}" for cnm in cnms]
        one_each = len(cnms) == len(block.bambi_terms)
        for i, term in enumerate(block.bambi_terms):
            out[f"{term}_sigma"] = [sds[i]] if one_each else sds
        if block.correlated:
            out[block.corr_name] = [f"cor__{cnms[i]}.{cnms[j]}|{group}"
                                    for i in range(len(cnms)) for j in range(i + 1, len(cnms))]
    return out


def linear_predictor(fit, part: AuxPart, newdata=None, group_effects: bool = True,
                     new_groups: str = "population", rng=None) -> np.ndarray:
    """η of the parameter per posterior draw and row, shape (draws, rows); ``newdata`` None:
    the fitted rows. Unseen levels as in :func:`multilevel.predict.bayes.predict_bayes`."""
    from multilevel.bayes.draws import group_contribution
    from multilevel.formula.design import level_codes, term_matrix

    design = part.design
    fixef = fixef_draws(fit.posterior, part)
    fixef = fixef.reshape(-1, fixef.shape[2])
    X = design.X if newdata is None else design.spec.fixed_X(newdata)
    eta = fixef @ X.T
    if not part.blocks or not all_or_none(group_effects, "a parameter's own formula with group terms"):
        return eta
    effects = ranef_draws(fit.posterior, part)
    covariances = covariance_draws(fit.posterior, part) if new_groups == "sample" else {}
    for term in design.reterms:
        codes = term.codes if newdata is None else level_codes(term, newdata, new_groups)
        Xt = term.X if newdata is None else term_matrix(term, newdata)
        seen = codes >= 0
        contribution = group_contribution(effects[term.name], np.maximum(codes, 0), Xt)
        contribution[:, ~seen] = 0.0
        if new_groups == "sample" and not seen.all():
            contribution[:, ~seen] = new_group_draws(term, newdata, codes, Xt,
                                                     covariances[term.name], rng)
        eta = eta + contribution
    return eta


def new_group_draws(term, data, codes, Xt, cov, rng) -> np.ndarray:
    """One N(0, Σ_s) effect per new level and draw, shared by that level's rows."""
    from multilevel.formula.frame import group_labels

    labels = np.array(group_labels(data, term.bar.group_vars))
    unseen = ~(codes >= 0)
    new_levels, inverse = np.unique(labels[unseen], return_inverse=True)
    S, q = cov.shape[0], cov.shape[1]
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(q))                # (S, q, q)
    z = rng.standard_normal((S, len(new_levels), q))
    effects = np.einsum("sij,slj->sli", chol, z)                     # (S, new levels, q)
    return np.einsum("snq,nq->sn", effects[:, inverse, :], Xt[unseen])


def parameter_draws(fit, newdata=None, group_effects: bool = True, new_groups: str = "population",
                    rng=None, names=None) -> dict[str, np.ndarray]:
    """The family's auxiliary parameters per draw: shape (draws, 1) for a scalar one
    ((draws, K - 1) for ordinal thresholds),
    (draws, rows) for one with a formula (g⁻¹ of its predictor on these rows)."""
    from multilevel.formula.families import AUXILIARY

    built = fit.built
    draws = fit.n_draws
    out = {}
    for name in (AUXILIARY.get(fit.family, ()) if names is None else names):
        part = built.aux_part(name)
        if part is None:
            # (draws, 1); ordinal thresholds (draws, K - 1)
            out[name] = np.asarray(fit.posterior[name].values, dtype=float).reshape(draws, -1)
        else:
            out[name] = part.inverse_link(linear_predictor(fit, part, newdata, group_effects,
                                                           new_groups, rng))
    return out


def check_newdata(fit, newdata) -> None:
    """New rows must carry the auxiliary formulas' columns too (none missing)."""
    from multilevel.errors import DataError
    from multilevel.formula.newdata import check_newdata as check
    from multilevel.formula.parse import column_names

    for part in fit.built.aux:
        parsed = part.formula.parsed
        used = [c for c in column_names(parsed.text) if c != part.param]
        lacking = [c for c in used if c not in newdata.columns]
        if lacking:
            raise DataError(f"newdata lacks column(s) {lacking} used by {part.formula.text!r}; "
                            f"the predictions need {part.param!r} of every row.")
        check(part.design, newdata)
