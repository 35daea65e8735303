"""Priors for structured group-effect covariances (lme4 2.0's diag/cs/ar1, glmmTMB's toep).

A structured block is built like a correlated ``(x | g)`` block
(:mod:`multilevel.bayes.backend`: non-centred effects ``offset @ L'``), with the LKJ
prior replaced by the structure's own parameters, L = D chol(R):

* SDs: the block's default group-SD priors, HalfNormal with Bambi's auto-scaled
  scale per column (``hom = TRUE``: one SD, HalfNormal with the columns' mean scale);
* ``cs``: ρ ~ Uniform(−1/(q−1), 1), the positive-definite range;
* ``ar1``: ρ ~ Uniform(−1, 1), Rᵢⱼ = ρ^|i−j|;
* ``toep``: the q−1 partial autocorrelations ~ Uniform(−1, 1), mapped to the lag
  correlations by the Durbin–Levinson recursion (every draw positive definite);
* ``diag``: R = I.

Uniforms are drawn as scaled Beta(1, 1) variables, as :mod:`multilevel.bayes.residuals`
does, so the model stays digestible by the nutpie compile cache. Posterior variables:
``sd|<term>`` (the structure's SD or SDs), ``rho|<term>`` (cs and ar1: ρ; toep: the lag
correlations) and ``pacf|<term>`` (toep), besides the block's usual ``corr|<term>`` matrix
and per-column ``<bambi term>_sigma``.
"""

from __future__ import annotations

import numpy as np

from multilevel.formula.structures import cs_lower, toeplitz_from_pacf


def sd_name(block) -> str:
    return f"sd|{block.name}"


def rho_name(block) -> str:
    return f"rho|{block.name}"


def structured_cholesky(block, scales: np.ndarray, q: int):
    """``(L, R, sds)`` of a structured block in the active PyMC model: the Cholesky
    factor of its covariance, its correlation matrix and its q SDs."""
    import pymc as pm
    import pytensor.tensor as pt

    kind, hom = block.structure.kind, block.structure.hom
    model = pm.modelcontext(None)
    # named dimensions: Bambi drops posterior variables whose dimensions it does not know
    columns, lags = f"{sd_name(block)}__dim", f"{rho_name(block)}__lag"
    for dim, labels in ((columns, list(block.cnms)), (lags, [str(k) for k in range(1, q)])):
        if dim not in model.coords:
            model.add_coords({dim: labels})
    if hom:
        sd = pm.HalfNormal(sd_name(block), sigma=float(np.mean(scales)))
        sds = pt.ones(q) * sd
    else:
        sds = pm.HalfNormal(sd_name(block), sigma=scales, dims=columns)
    lag = np.abs(np.subtract.outer(np.arange(q), np.arange(q)))
    if kind == "diag":
        R = pt.eye(q)
        return pt.diag(sds), R, sds
    if kind == "cs":
        lower = cs_lower(q)
        rho = pm.Deterministic(rho_name(block),
                               lower + (1.0 - lower) * pm.Beta(f"{rho_name(block)}_unit", 1.0, 1.0))
        R = pt.where(lag == 0, 1.0, rho)
    elif kind == "ar1":
        rho = pm.Deterministic(rho_name(block), -1.0 + 2.0 * pm.Beta(f"{rho_name(block)}_unit", 1.0, 1.0))
        powers = [pt.ones(())]
        for _ in range(q - 1):        # ρ^k by products: no pow of a negative base
            powers.append(powers[-1] * rho)
        R = pt.stack(powers)[lag]
    else:   # toep
        unit = pm.Beta(f"pacf|{block.name}_unit", 1.0, 1.0, dims=lags)
        pacf = pm.Deterministic(f"pacf|{block.name}", -1.0 + 2.0 * unit, dims=lags)
        lags = toeplitz_from_pacf([pacf[k] for k in range(q - 1)], xp=pt)
        pm.Deterministic(rho_name(block), lags, dims=f"{rho_name(block)}__lag")
        R = pt.concatenate([pt.ones(1), lags])[lag]
    L = sds[:, None] * pt.linalg.cholesky(R)
    return L, R, sds


def summary_rows(posterior, blocks, groups: dict[str, str]) -> dict[str, np.ndarray]:
    """The structures' correlation parameters as summary rows: ``rho|<group>`` (cs, ar1),
    ``rho<lag>|<group>`` (toep), (chain, draw) arrays."""
    out = {}
    for block in blocks:
        structure = getattr(block, "structure", None)
        if structure is None or structure.kind not in ("cs", "ar1", "toep"):
            continue
        values = np.asarray(posterior[rho_name(block)].values, dtype=float)
        group = groups[block.name]
        if structure.kind == "toep":
            for k in range(values.shape[-1]):
                out[f"rho{k + 1}|{group}"] = values[..., k]
        else:
            out[f"rho|{group}"] = values
    return out


def free_parameter_names(block, group: str, sds: list[str]) -> dict[str, list[str]]:
    """``{free variable: [summary names]}`` of a structured block: its SD(s) and the
    unit-interval variable behind ρ (cs, ar1) or the partial autocorrelations (toep)."""
    out = {sd_name(block): sds}
    kind, q = block.structure.kind, len(block.cnms)
    if kind in ("cs", "ar1"):
        out[f"{rho_name(block)}_unit"] = [f"rho|{group}"]
    elif kind == "toep":
        out[f"pacf|{block.name}_unit"] = [f"rho{k}|{group}" for k in range(1, q)]
    return out


def prior_description(block) -> str:
    """The structure's prior in words, for the report's prior table."""
    q = len(block.cnms)
    sd = "one HalfNormal SD" if block.structure.hom else "HalfNormal SDs"
    corr = {"diag": "no correlations",
            "cs": f"rho ~ Uniform({cs_lower(q):.4g}, 1)",
            "ar1": "rho ~ Uniform(-1, 1), corr rho^|i-j|",
            "toep": "partial autocorrelations ~ Uniform(-1, 1)"}[block.structure.kind]
    return f"{block.structure.label}: {sd}; {corr}"
