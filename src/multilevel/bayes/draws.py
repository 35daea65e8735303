"""Posterior draws in lme4's vocabulary: fixed effects, SDs, correlations, group effects.

Bambi names things its way (``Intercept``, ``period`` with a ``period_dim``,
``1|Subject`` with levels sorted as strings); these functions return arrays of
shape ``(chain, draw, ...)`` labelled the way lme4 labels them, with group levels
in the design's (R's) order.
"""

from __future__ import annotations

import numpy as np

from multilevel.bayes.translate import Block
from multilevel.formula import Design


def fixef_draws(posterior, bambi_model, design: Design) -> np.ndarray:
    """Fixed effects, shape (chain, draw, p), columns in ``design.x_names`` order."""
    component = bambi_model.conditional_parameters[bambi_model.family.likelihood.parent]
    pieces = []
    if component.intercept_term is not None:
        pieces.append(_as_3d(posterior["Intercept"]))
    for name in component.common_terms:
        pieces.append(_as_3d(posterior[name]))
    if not pieces:
        return np.zeros((posterior["chain"].size, posterior["draw"].size, 0))
    out = np.concatenate(pieces, axis=2)
    if out.shape[2] != len(design.x_names):
        raise RuntimeError(
            f"Bambi has {out.shape[2]} fixed-effect columns, the design {len(design.x_names)}: "
            f"{design.x_names}."
        )
    return design.spec.in_design_order(out)   # formulae's order within interactions → R's


def block_effects(posterior, block: Block, design: Design) -> np.ndarray:
    """Group effects of one block, shape (chain, draw, levels, q), levels in lme4 order."""
    reterm = next(t for t in design.reterms if t.name == block.name)
    pieces = []
    for term in block.bambi_terms:
        da = posterior[term]
        factor_dim = next(d for d in da.dims if d.endswith("__factor_dim"))
        others = [d for d in da.dims if d not in ("chain", "draw", factor_dim)]
        da = da.transpose("chain", "draw", factor_dim, *others)
        values = da.values[:, :, level_order(da[factor_dim].values, reterm.levels)]
        pieces.append(values[..., None] if values.ndim == 3 else values)
    return np.concatenate(pieces, axis=3)


def level_order(bambi_levels, levels) -> list[int]:
    """Positions of the design's levels (lme4 order) among Bambi's labels of a factor."""
    labels = [str(v) for v in bambi_levels]
    index = {label: i for i, label in enumerate(labels)}
    for i, label in enumerate(labels):  # formulae spells a float level 1 "1.0", lme4 "1"
        index.setdefault(_integer_label(label), i)
    return [index[level] for level in levels]


def _integer_label(label: str) -> str:
    try:
        value = float(label)
    except ValueError:
        return label
    return str(int(value)) if value.is_integer() else label


def block_sds(posterior, block: Block) -> np.ndarray:
    """Standard deviations of a block's columns, shape (chain, draw, q)."""
    return np.concatenate([_as_3d(posterior[f"{term}_sigma"]) for term in block.bambi_terms], axis=2)


def block_corr(posterior, block: Block) -> np.ndarray:
    """Correlation matrices of a block, shape (chain, draw, q, q) (identity if uncorrelated)."""
    if block.correlated:
        return np.asarray(posterior[block.corr_name].values)
    chains, draws = posterior["chain"].size, posterior["draw"].size
    q = len(block.cnms)
    return np.broadcast_to(np.eye(q), (chains, draws, q, q)).copy()


def block_cov(posterior, block: Block) -> np.ndarray:
    """Covariance matrices of a block, shape (chain, draw, q, q)."""
    sd = block_sds(posterior, block)
    return block_corr(posterior, block) * sd[..., :, None] * sd[..., None, :]


def _as_3d(da) -> np.ndarray:
    values = np.asarray(da.values, dtype=float)
    return values[..., None] if values.ndim == 2 else values.reshape(*values.shape[:2], -1)


def group_contribution(effects: np.ndarray, codes: np.ndarray, Xt: np.ndarray) -> np.ndarray:
    """Σ_k b[s, code_i, k] X_ik for effects (S, levels, q): shape (S, rows)."""
    if Xt.shape[1] == 1:   # scalar terms: a gather (and a product unless it is an intercept)
        gathered = np.take(effects[:, :, 0], codes, axis=1)
        return gathered if np.all(Xt == 1.0) else gathered * Xt[:, 0]
    return np.einsum("snq,nq->sn", effects[:, codes, :], Xt)
