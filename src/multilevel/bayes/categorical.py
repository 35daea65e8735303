"""Unordered categorical responses (``family="categorical"``) in the package's layout.

Bambi (as brms) gives every category but the first (the reference, whose linear
predictor is 0) a linear predictor of its own: each fixed effect and each group-effect
term has one coefficient per non-reference category (Bambi's ``<response>_reduced_dim``),
and each group-effect term one SD per category. P(y = k) = softmax(0, η_2, ..., η_K)_k.

Everything shown to the user names a parameter once, with the category in brackets after
the package's name for it (:mod:`multilevel.bayes.names`): ``(Intercept)[versicolor]``,
``x[versicolor]``, ``sd__(Intercept)|g[versicolor]``. Arrays here carry the category as
their last axis (K − 1 non-reference categories, in the response's order).

What Bambi does not build for this family is refused with the reason
(:func:`check_supported`): correlated and structured blocks (Bambi's group terms of a
categorical model are independent per category), known covariances, smooths, offsets,
formulas for auxiliary parameters (the family has none) and coefficient presets.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from multilevel.errors import FamilyError, FormulaError


def categories(design) -> list[str]:
    """The response's categories as labels, the reference first."""
    return [str(c) for c in design.frame.categories]


def labelled(names, design) -> list[str]:
    """``name[category]`` for each name and non-reference category (name-major)."""
    return [f"{n}[{c}]" for n in names for c in categories(design)[1:]]


def check_supported(parsed, design, block_list, preset, aux) -> None:
    """Refuse what a categorical model cannot hold, naming the term and saying why."""
    why = ("family='categorical' gives each non-reference category its own group effects, "
           "independent across categories and columns (Bambi's categorical terms)")
    for block in block_list:
        term = next(t for t in design.reterms if t.name == block.name)
        source = term.bar.source if term.smooth is None else term.name
        if block.smooth is not None:
            raise FormulaError(f"{source!r}: smooths are not available with family='categorical' "
                               "(one penalized curve per category is not built); use a polynomial "
                               "or spline basis as fixed effects, e.g. poly(x, 3).")
        if block.known is not None or block.structure is not None or block.correlated:
            raise FormulaError(
                f"{source!r}: {why}, so a correlated or structured block is not built. Write it "
                "with '||' (e.g. (1 + x || g)) for independent effects.")
    if parsed.offsets:
        raise FormulaError(f"offset({parsed.offsets[0]}): family='categorical' has one linear "
                           "predictor per category, and an offset would shift all of them; remove it.")
    if parsed.residuals is not None:
        raise FormulaError(f"{parsed.residuals.source!r}: correlated residuals are for "
                           "family='gaussian'; a categorical response has none.")
    if aux:
        raise FamilyError("family='categorical' has no auxiliary parameters (its only parameters are "
                          "the categories' linear predictors): give a single formula.")
    if preset is not None:
        raise FamilyError("Coefficient presets (ridge, lasso, horseshoe, ...) build one coefficient "
                          "per column, while family='categorical' has one per column and category: "
                          "give per-term priors instead (priors={'x': ml.priors.Prior('Normal', "
                          "mu=0, sigma=1)}).")


def _reduced_dim(bambi) -> str:
    response = bambi.response_term
    return f"{response.alias or response.name}_reduced_dim"


def _category_last(da, bambi, design, first: tuple[str, ...] = ("chain", "draw")) -> np.ndarray:
    """A posterior variable's values with the categories last, in the response's order."""
    dim = _reduced_dim(bambi)
    others = [d for d in da.dims if d not in (*first, dim)]
    da = da.transpose(*first, *others, dim)
    order = [list(map(str, da[dim].values)).index(c) for c in categories(design)[1:]]
    return np.asarray(da.values, dtype=float)[..., order]


def fixef_draws(posterior, bambi, design) -> np.ndarray:
    """Fixed effects, shape (chain, draw, p, K − 1), columns in ``design.x_names`` order."""
    component = bambi.conditional_parameters[bambi.family.likelihood.parent]
    names = (["Intercept"] if component.intercept_term is not None else []) + list(component.common_terms)
    pieces = []
    for name in names:
        values = _category_last(posterior[name], bambi, design)
        pieces.append(values.reshape(*values.shape[:2], -1, values.shape[-1]))
    out = np.concatenate(pieces, axis=2)
    if out.shape[2] != len(design.x_names):
        raise RuntimeError(f"Bambi has {out.shape[2]} fixed-effect columns, the design "
                           f"{len(design.x_names)}: {design.x_names}.")
    return design.spec.in_design_order(out)   # formulae's order within interactions → R's


def block_effects(posterior, block, bambi, design) -> np.ndarray:
    """Group effects of one block, shape (chain, draw, levels, q, K − 1), levels in lme4 order."""
    from multilevel.bayes.draws import level_order

    reterm = next(t for t in design.reterms if t.name == block.name)
    pieces = []
    for term in block.bambi_terms:
        da = posterior[term]
        factor_dim = next(d for d in da.dims if d.endswith("__factor_dim"))
        values = _category_last(da, bambi, design, ("chain", "draw", factor_dim))
        values = values[:, :, level_order(da[factor_dim].values, reterm.levels)]
        pieces.append(values.reshape(*values.shape[:3], -1, values.shape[-1]))
    return np.concatenate(pieces, axis=3)


def block_sds(posterior, block, bambi, design) -> np.ndarray:
    """SDs of a block's columns per category, shape (chain, draw, q, K − 1)."""
    pieces = []
    for term in block.bambi_terms:
        values = _category_last(posterior[f"{term}_sigma"], bambi, design)
        pieces.append(values.reshape(*values.shape[:2], -1, values.shape[-1]))
    return np.concatenate(pieces, axis=2)


def summary_data(fit) -> dict[str, np.ndarray]:
    """The summary's rows as (chain, draw) arrays: ``x[c]`` and ``sd__<column>|<group>[c]``."""
    design, bambi, posterior = fit.design, fit.built.bambi, fit.posterior
    cats = categories(design)[1:]
    data = {}
    fixef = fixef_draws(posterior, bambi, design)
    for j, name in enumerate(design.x_names):
        for k, c in enumerate(cats):
            data[f"{name}[{c}]"] = fixef[:, :, j, k]
    groups = {t.name: t.group for t in design.reterms}
    for block in fit.built.blocks:
        sd = block_sds(posterior, block, bambi, design)
        for i, cnm in enumerate(block.cnms):
            for k, c in enumerate(cats):
                data[f"sd__{cnm}|{groups[block.name]}[{c}]"] = sd[:, :, i, k]
    return data


def eta_draws(fit, X: np.ndarray, terms: list[tuple], group_effects: bool = True) -> np.ndarray:
    """η of the non-reference categories per draw and row, shape (draws, rows, K − 1).

    ``terms``: (block, level codes (−1: a level the fit has not seen), the term's columns,
    new-level effects (draws, rows, K − 1) or None) per group-effect term.
    """
    fixef = fixef_draws(fit.posterior, fit.built.bambi, fit.design)
    fixef = fixef.reshape(-1, *fixef.shape[2:])                        # (S, p, K - 1)
    eta = np.einsum("np,spk->snk", X, fixef)
    if not group_effects:
        return eta
    for block, codes, Xt, new in terms:
        effects = block_effects(fit.posterior, block, fit.built.bambi, fit.design)
        effects = effects.reshape(-1, *effects.shape[2:])              # (S, levels, q, K - 1)
        seen = codes >= 0
        contribution = np.einsum("snqk,nq->snk", effects[:, np.maximum(codes, 0)], Xt)
        contribution[:, ~seen] = 0.0 if new is None else new[:, ~seen]
        eta = eta + contribution
    return eta


def new_level_effects(fit, block, data, codes, Xt, rng) -> np.ndarray:
    """A fresh N(0, sd²) effect per new level, column, category and draw (``new_groups="sample"``),
    times the rows' columns: shape (draws, rows, K − 1)."""
    from multilevel.formula.frame import group_labels

    term = next(t for t in fit.design.reterms if t.name == block.name)
    sd = block_sds(fit.posterior, block, fit.built.bambi, fit.design)
    sd = sd.reshape(-1, *sd.shape[2:])                                  # (S, q, K - 1)
    labels = np.array(group_labels(data, term.bar.group_vars))
    out = np.zeros((sd.shape[0], len(codes), sd.shape[2]))
    unseen = codes < 0
    if unseen.any():
        new_levels, inverse = np.unique(labels[unseen], return_inverse=True)
        z = rng.standard_normal((sd.shape[0], len(new_levels), *sd.shape[1:])) * sd[:, None]
        out[:, unseen] = np.einsum("snqk,nq->snk", z[:, inverse], Xt[unseen])
    return out


def log_probabilities(eta: np.ndarray) -> np.ndarray:
    """log P(y = k), shape (*eta.shape[:-1], K): the reference's η is 0."""
    full = np.concatenate([np.zeros((*eta.shape[:-1], 1)), eta], axis=-1)
    return full - special.logsumexp(full, axis=-1, keepdims=True)


def probabilities(eta: np.ndarray) -> np.ndarray:
    """P(y = k), shape (*eta.shape[:-1], K), each row summing to 1.

    Examples
    --------
    >>> probabilities(np.array([[0.0, np.log(2.0)]])).round(3).tolist()
    [[0.25, 0.25, 0.5]]
    """
    return np.exp(log_probabilities(eta))


def loglik(eta: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """log P(y_i = observed category) per draw and row, shape (draws, rows)."""
    logp = log_probabilities(eta)
    index = np.broadcast_to(np.asarray(codes, dtype=np.int64), eta.shape[:-1])
    return np.take_along_axis(logp, index[..., None], axis=-1)[..., 0]


def draw_codes(probs: np.ndarray, rng) -> np.ndarray:
    """One category code (0..K − 1) per draw and row, given P(y = k) (draws, rows, K)."""
    cumulative = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[:-1])
    return np.minimum((u[..., None] > cumulative).sum(axis=-1), cumulative.shape[-1] - 1)


def fitted_terms(fit) -> list[tuple]:
    """:func:`eta_draws`'s ``terms`` for the fitted rows."""
    reterms = {t.name: t for t in fit.design.reterms}
    return [(block, reterms[block.name].codes, reterms[block.name].X, None) for block in fit.built.blocks]


def pointwise(fit) -> np.ndarray:
    """log p(y_i | draw) of the fitted rows, shape (chain · draw, rows)."""
    eta = eta_draws(fit, fit.design.X, fitted_terms(fit))
    return loglik(eta, fit.design.y.astype(np.int64))
